//! A [`Classifier`] for `reqwest` calls to a provider (feature `reqwest`).
//!
//! | result | outcome |
//! |---|---|
//! | 2xx, 3xx, and 4xx other than 408/429 | success (the provider answered; a 4xx is our request's fault) |
//! | 5xx, 408, 429 | failure |
//! | timeout, connect error, error while sending or reading the body | failure |
//! | error building the request (our bug, nothing was sent) | ignored |
//!
//! A 429 or 503 with a `Retry-After` of delta-seconds opens a closed breaker for that long,
//! capped at [`ReqwestClassifier::max_retry_after`] (an HTTP-date `Retry-After` is not parsed,
//! the breaker then trips on rates only).

use std::time::Duration;

use crate::{Classifier, Outcome};

/// Classifies `reqwest::Result<reqwest::Response>`; see the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub struct ReqwestClassifier {
    /// Longest opening a `Retry-After` may ask for (default 10 minutes).
    pub max_retry_after: Duration,
}

impl Default for ReqwestClassifier {
    fn default() -> Self {
        Self {
            max_retry_after: Duration::from_secs(600),
        }
    }
}

/// The outcome for an HTTP status code, as [`ReqwestClassifier`] sees it.
pub fn classify_status(status: u16) -> Outcome {
    match status {
        408 | 429 | 500..=599 => Outcome::Failure,
        _ => Outcome::Success,
    }
}

/// Parses a delta-seconds `Retry-After` value.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl Classifier<reqwest::Response, reqwest::Error> for ReqwestClassifier {
    fn classify(&self, result: &Result<reqwest::Response, reqwest::Error>) -> Outcome {
        match result {
            Ok(resp) => classify_status(resp.status().as_u16()),
            Err(e) if e.is_builder() => Outcome::Ignored,
            Err(e) => match e.status() {
                Some(s) => classify_status(s.as_u16()),
                None => Outcome::Failure,
            },
        }
    }

    fn open_for(&self, result: &Result<reqwest::Response, reqwest::Error>) -> Option<Duration> {
        let resp = result.as_ref().ok()?;
        if !matches!(resp.status().as_u16(), 429 | 503) {
            return None;
        }
        let v = resp.headers().get(reqwest::header::RETRY_AFTER)?;
        let d = parse_retry_after(v.to_str().ok()?)?;
        Some(d.min(self.max_retry_after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_retry_after() {
        assert_eq!(classify_status(200), Outcome::Success);
        assert_eq!(classify_status(404), Outcome::Success);
        assert_eq!(classify_status(429), Outcome::Failure);
        assert_eq!(classify_status(408), Outcome::Failure);
        assert_eq!(classify_status(502), Outcome::Failure);
        assert_eq!(parse_retry_after(" 30 "), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
