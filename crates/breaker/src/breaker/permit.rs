//! [`Permit`] and [`OwnedPermit`]: permission to make one call, recording its outcome.

use super::*;

/// Permission to make one call, borrowed from the breaker. Record the outcome with one of the
/// `record*` methods; dropping it unrecorded (cancellation, panic) records nothing and frees its
/// half-open slot.
#[must_use = "record the outcome, or drop the permit to release it"]
pub struct Permit<'a> {
    pub(super) inner: &'a Inner,
    pub(super) ticket: Ticket,
    pub(super) armed: bool,
}

/// Like [`Permit`], holding its own handle on the breaker (`'static`, `Send`).
#[must_use = "record the outcome, or drop the permit to release it"]
pub struct OwnedPermit {
    pub(super) inner: Arc<Inner>,
    pub(super) ticket: Ticket,
    pub(super) armed: bool,
}

macro_rules! permit_methods {
    () => {
        /// The state that admitted the call.
        pub fn state(&self) -> State {
            state_of(self.ticket.word)
        }

        /// Records `outcome`, timing the call from admission for slow-call detection.
        #[inline]
        pub fn record(mut self, outcome: Outcome) {
            self.armed = false;
            self.inner.record(self.ticket, outcome, None);
        }

        /// Records `outcome` with a duration measured by the caller.
        pub fn record_elapsed(mut self, outcome: Outcome, elapsed: Duration) {
            self.armed = false;
            self.inner
                .record(self.ticket, outcome, Some(duration_nanos(elapsed)));
        }

        /// Records a success.
        #[inline]
        pub fn success(self) {
            self.record(Outcome::Success)
        }

        /// Records a failure.
        pub fn failure(self) {
            self.record(Outcome::Failure)
        }

        /// Records the outcome `classifier` gives `result`, first honouring its
        /// [`open_for`](Classifier::open_for) hook when the call was admitted while closed.
        #[inline]
        pub fn record_result<T, E, C>(self, result: &Result<T, E>, classifier: &C)
        where
            C: Classifier<T, E> + ?Sized,
        {
            if state_of(self.ticket.word) == State::Closed {
                if let Some(d) = classifier.open_for(result) {
                    self.inner.hook_open(self.ticket.word, d);
                }
            }
            self.record(classifier.classify(result))
        }
    };
}

impl Permit<'_> {
    permit_methods!();
}

impl OwnedPermit {
    permit_methods!();
}

/// `Drop` (an unrecorded permit frees its half-open slot) and `Debug` for permit type `$permit`.
macro_rules! permit_traits {
    ($permit:ty, $name:literal) => {
        impl Drop for $permit {
            #[inline]
            fn drop(&mut self) {
                if self.armed {
                    self.inner.release(self.ticket);
                }
            }
        }

        impl fmt::Debug for $permit {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct($name)
                    .field("breaker", &self.inner.name)
                    .field("state", &self.state())
                    .finish()
            }
        }
    };
}

permit_traits!(Permit<'_>, "Permit");
permit_traits!(OwnedPermit, "OwnedPermit");
