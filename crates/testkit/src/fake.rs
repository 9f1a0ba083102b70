//! What every fake's public face shares: the accessors over its server and scripting handle, the
//! record of what it accepted, and the panicking `start` wrappers.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::server::{Reply, Server};
use crate::{FakeHandle, Scenario};

/// State a fake shares with its responder (what it accepted, its settings), behind one lock that
/// a panicking test thread cannot poison.
#[derive(Debug, Default)]
pub(crate) struct Shared<T>(Arc<Mutex<T>>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Shared<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(Arc::new(Mutex::new(value)))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a receiver accepted, oldest first.
pub(crate) type Recorder<T> = Shared<Vec<T>>;

impl<T: Clone> Shared<Vec<T>> {
    /// Record `item`; its position (0-based).
    pub(crate) fn push(&self, item: T) -> usize {
        let mut items = self.lock();
        items.push(item);
        items.len() - 1
    }

    /// A copy of everything recorded, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<T> {
        self.lock().clone()
    }
}

impl FakeHandle {
    /// Wait until `len()` (what the fake accepted so far) reaches `count`, at most `timeout`;
    /// whether it did.
    pub(crate) async fn wait_for_len(
        &self,
        count: usize,
        timeout: Duration,
        len: impl Fn() -> usize,
    ) -> bool {
        self.wait_until(timeout, || len() >= count).await
    }
}

/// The fake `what` started by `try_start`, or a panic saying why it could not start.
pub(crate) fn started<T>(what: &str, result: io::Result<T>) -> T {
    match result {
        Ok(fake) => fake,
        Err(err) => panic!("cannot start {what} on 127.0.0.1: {err}"),
    }
}

/// A fake's `Debug`: its name, `base_url`, then `fields` in order (secrets already masked by the
/// caller, e.g. `("api_key", &"re_***")`), closed as non-exhaustive.
pub(crate) fn fmt_fake(
    f: &mut std::fmt::Formatter<'_>,
    name: &str,
    server: &Server,
    fields: &[(&str, &dyn std::fmt::Debug)],
) -> std::fmt::Result {
    let mut out = f.debug_struct(name);
    out.field("base_url", &server.base_url());
    for (field, value) in fields {
        out.field(field, value);
    }
    out.finish_non_exhaustive()
}

/// The answer to the generic error scenarios every provider answers in its own error shape
/// (`status_error(code)`): `Unauthorized` → 401, `RateLimited` → 429 with `Retry-After`,
/// `ServerError` → 500, `Status(code)` → `code`; `None` for every other scenario.
pub(crate) fn generic_error(
    scenario: &Scenario,
    status_error: impl Fn(u16) -> Reply,
) -> Option<Reply> {
    match scenario {
        Scenario::Unauthorized => Some(status_error(401)),
        Scenario::RateLimited { retry_after } => Some(status_error(429).with(
            "retry-after",
            Scenario::retry_after_secs(*retry_after).to_string(),
        )),
        Scenario::ServerError => Some(status_error(500)),
        Scenario::Status(code) => Some(status_error(*code)),
        _ => None,
    }
}

/// The first value of header `name` (case-insensitive) in recorded `(name, value)` pairs.
pub(crate) fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The public accessors of a fake with fields `server: Server` and, with `requests`,
/// `handle: FakeHandle`. Used inside the fake's `impl` block; the strings are the docs of
/// `base_url` and `requests`, which say what is particular to each fake.
macro_rules! fake_accessors {
    (base_url: $base_url_doc:literal) => {
        #[doc = $base_url_doc]
        #[must_use]
        pub fn base_url(&self) -> String {
            self.server.base_url()
        }

        /// The bound address.
        #[must_use]
        pub fn addr(&self) -> std::net::SocketAddr {
            self.server.addr()
        }
    };
    (base_url: $base_url_doc:literal, requests: $requests_doc:literal) => {
        $crate::fake::fake_accessors!(base_url: $base_url_doc);

        /// The shared scripting handle (cloneable, usable from other tasks).
        #[must_use]
        pub fn handle(&self) -> $crate::FakeHandle {
            self.handle.clone()
        }

        /// Set how the next requests are answered.
        pub fn set_scenario(&self, scenario: $crate::Scenario) {
            self.handle.set_scenario(scenario);
        }

        #[doc = $requests_doc]
        #[must_use]
        pub fn requests(&self) -> Vec<$crate::RecordedRequest> {
            self.handle.requests()
        }

        /// How many requests were received.
        #[must_use]
        pub fn request_count(&self) -> u64 {
            self.handle.request_count()
        }
    };
}

pub(crate) use fake_accessors;

/// The panicking `start()` of a fake whose `try_start()` takes no arguments; `$what` names the
/// fake in the panic message (e.g. `"fake Slack"`). Used inside the fake's `impl` block.
macro_rules! fake_start {
    ($what:literal) => {
        /// Start the fake.
        ///
        /// # Panics
        /// If no loopback port can be bound (see [`try_start`](Self::try_start)).
        pub async fn start() -> Self {
            $crate::fake::started($what, Self::try_start().await)
        }
    };
}

pub(crate) use fake_start;

/// The `Debug` impl of fake `$fake` (with a `server: Server` field): its `base_url`, then each
/// `"name": value` in order, where `$this` stands for the fake (mask secrets, e.g.
/// `"api_key": &"re_***"`). See [`fmt_fake`].
macro_rules! fake_debug {
    ($fake:ident, $this:ident => { $($name:literal: $value:expr),* $(,)? }) => {
        impl std::fmt::Debug for $fake {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let $this = self;
                $crate::fake::fmt_fake(f, stringify!($fake), &$this.server, &[$(($name, $value)),*])
            }
        }
    };
}

pub(crate) use fake_debug;
