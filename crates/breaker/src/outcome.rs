//! Outcomes of calls and the classifiers that turn results into outcomes.

use std::time::Duration;

/// What a call's result means to the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Counted as a success.
    Success,
    /// Counted as a failure.
    Failure,
    /// Not counted at all (a cancelled request, a caller's own bug, a 404). In half-open it frees
    /// the probe slot it held.
    Ignored,
}

impl Outcome {
    /// The snake_case name (`"success"`, `"failure"`, `"ignored"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Ignored => "ignored",
        }
    }
}

/// Decides the [`Outcome`] of a `Result`, and optionally asks the breaker to open for a while.
///
/// Closures `Fn(&Result<T, E>) -> Outcome` are classifiers. Implement the trait yourself to use
/// [`open_for`](Classifier::open_for), e.g. to honour an HTTP 429 `Retry-After`.
///
/// ```
/// use std::time::Duration;
/// use wedsync_breaker::{Classifier, Outcome};
///
/// struct Http;
/// impl Classifier<u16, ()> for Http {
///     fn classify(&self, r: &Result<u16, ()>) -> Outcome {
///         match r {
///             Ok(s) if *s >= 500 || *s == 429 => Outcome::Failure,
///             Ok(_) => Outcome::Success,
///             Err(()) => Outcome::Failure,
///         }
///     }
///     fn open_for(&self, r: &Result<u16, ()>) -> Option<Duration> {
///         matches!(r, Ok(429)).then(|| Duration::from_secs(30))
///     }
/// }
/// assert_eq!(Http.classify(&Ok(503)), Outcome::Failure);
/// assert_eq!(Http.open_for(&Ok(429)), Some(Duration::from_secs(30)));
/// ```
pub trait Classifier<T, E> {
    /// The outcome to record for `result`.
    fn classify(&self, result: &Result<T, E>) -> Outcome;

    /// When `Some(d)` and the breaker was closed when the call was admitted, the breaker opens
    /// for `d` (e.g. the `Retry-After` of a 429). Ignored in other states. Default: `None`.
    fn open_for(&self, result: &Result<T, E>) -> Option<Duration> {
        let _ = result;
        None
    }
}

/// The classifier used by `call`: `Ok` is a success, `Err` a failure.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultClassifier;

impl<T, E> Classifier<T, E> for DefaultClassifier {
    #[inline]
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

impl<T, E, F> Classifier<T, E> for F
where
    F: Fn(&Result<T, E>) -> Outcome,
{
    #[inline]
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        self(result)
    }
}
