//! [`FakeResend`]: `GET /domains` with Resend's bearer keys, `ratelimit-*` headers and errors.

use std::io;
use std::time::Instant;

use serde_json::json;

use crate::fake::{fake_accessors, fake_debug, fake_start, Shared};
use crate::server::{random_token, Incoming, Reply, Responder, Server};
use crate::{FakeHandle, Scenario};

/// The sending domain the fake lists (the fixtures send from it).
pub const SENDING_DOMAIN: &str = "mail.example-weddings.com";
/// Resend's default per-team limit, reported in `ratelimit-limit`.
pub const RATE_LIMIT: u32 = 2;

/// A fake Resend API on `127.0.0.1:0`.
///
/// Route: `GET /domains` → `{"object":"list","has_more":false,"data":[{"id","name","status",
/// "created_at","region",…}]}` listing [`SENDING_DOMAIN`] and a second, verified domain;
/// `created_at` uses Resend's non-RFC 3339 format (`"2023-04-26 20:21:26.347412+00"`).
/// Credentials: `Authorization: Bearer re_…` with [`api_key`](Self::api_key) (full access); the
/// [`sending_key`](Self::sending_key) gets 401 `restricted_api_key`; a missing key 401
/// `missing_api_key`; a wrong key 401 `invalid_api_key`. Every answer carries `ratelimit-limit`,
/// `ratelimit-remaining`, `ratelimit-reset` (and `retry-after` on 429). With
/// [`set_enforce_rate_limit`](Self::set_enforce_rate_limit) the fake also enforces Resend's limit
/// of [`RATE_LIMIT`] requests per second for real: `ratelimit-remaining` counts down and the
/// request over the limit gets 429.
///
/// Scenarios: all generic ones; [`Scenario::DomainNotVerified`] (`pending`),
/// [`Scenario::DomainPartiallyVerified`] and [`Scenario::DomainFailed`] set the sending domain's
/// status.
pub struct FakeResend {
    server: Server,
    handle: FakeHandle,
    api_key: String,
    sending_key: String,
    limiter: Shared<Limiter>,
}

fake_debug!(FakeResend, fake => {
    "api_key": &"re_***",
    "sending_key": &"re_***",
    "handle": &fake.handle,
});

/// Fixed one-second windows, like Resend's per-second team limit.
#[derive(Debug)]
struct Limiter {
    enabled: bool,
    window_start: Option<Instant>,
    used: u32,
}

impl Limiter {
    /// Count a request: `Ok(remaining)` or `Err(seconds until the window resets)`.
    fn hit(&mut self) -> Result<u32, u64> {
        let now = Instant::now();
        let fresh = self
            .window_start
            .is_none_or(|start| now.duration_since(start).as_secs() >= 1);
        if fresh {
            self.window_start = Some(now);
            self.used = 0;
        }
        if self.used >= RATE_LIMIT {
            return Err(1);
        }
        self.used += 1;
        Ok(RATE_LIMIT - self.used)
    }
}

impl FakeResend {
    fake_start!("fake Resend");

    /// Start the fake.
    ///
    /// # Errors
    /// When binding `127.0.0.1:0` fails.
    pub async fn try_start() -> io::Result<Self> {
        let api_key = format!("{}{}", "re_", random_token(32));
        let sending_key = format!("{}{}", "re_", random_token(32));
        let limiter = Shared::new(Limiter {
            enabled: false,
            window_start: None,
            used: 0,
        });
        let responder = ResendResponder {
            api_key: api_key.clone(),
            sending_key: sending_key.clone(),
            limiter: limiter.clone(),
        };
        let (server, handle) = Server::start_single(responder, "resend").await?;
        Ok(Self {
            server,
            handle,
            api_key,
            sending_key,
            limiter,
        })
    }

    /// Enforce Resend's real limit of [`RATE_LIMIT`] requests per second (off by default, so
    /// tests that call quickly are not throttled).
    pub fn set_enforce_rate_limit(&self, enforce: bool) {
        let mut limiter = self.limiter.lock();
        limiter.enabled = enforce;
        limiter.window_start = None;
        limiter.used = 0;
    }

    fake_accessors!(
        base_url: "`http://127.0.0.1:PORT` (no trailing slash); routes sit at the root (`/domains`).",
        requests: "The requests received (secrets masked), oldest first."
    );

    /// A full-access key (`re_…`) that may list domains.
    #[must_use]
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// A send-only key (`re_…`): listing domains with it gets 401 `restricted_api_key`.
    #[must_use]
    pub fn sending_key(&self) -> &str {
        &self.sending_key
    }

    /// The sending domain whose status the domain scenarios change.
    #[must_use]
    pub fn domain(&self) -> &'static str {
        SENDING_DOMAIN
    }
}

struct ResendResponder {
    api_key: String,
    sending_key: String,
    limiter: Shared<Limiter>,
}

fn error(status: u16, name: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({ "statusCode": status, "message": message, "name": name }),
    )
}

fn status_error(status: u16) -> Reply {
    match status {
        400 => error(400, "validation_error", "Invalid request."),
        401 => error(401, "invalid_api_key", "API key is invalid"),
        403 => error(403, "invalid_access", "Access denied."),
        404 => error(404, "not_found", "Route not found"),
        422 => error(422, "validation_error", "Invalid parameters."),
        429 => rate_limited(1),
        500..=599 => error(
            status,
            "internal_server_error",
            "An unexpected error occurred.",
        ),
        _ => error(status, "application_error", "Something went wrong."),
    }
}

fn rate_limited(retry_after: u64) -> Reply {
    error(
        429,
        "rate_limit_exceeded",
        "Too many requests. You can only make 2 requests per second. See rate limit response \
         headers for more information. Or contact support to increase rate limit.",
    )
    .with("ratelimit-remaining", "0")
    .with("ratelimit-reset", retry_after.to_string())
    .with("retry-after", retry_after.to_string())
}

impl ResendResponder {
    fn domains(status: &str) -> Reply {
        Reply::json(
            200,
            &json!({
                "object": "list",
                "has_more": false,
                "data": [
                    {
                        "id": "4dd369bc-aa82-4ff3-97de-514ae3000ee0",
                        "name": SENDING_DOMAIN,
                        "status": status,
                        "created_at": "2023-04-26 20:21:26.347412+00",
                        "region": "eu-west-1",
                        "capabilities": { "sending": "enabled", "receiving": "disabled" }
                    },
                    {
                        "id": "d91cd9bd-1176-453e-8fc1-35364d380206",
                        "name": "example.org",
                        "status": "verified",
                        "created_at": "2024-01-08 11:02:13.102913+00",
                        "region": "us-east-1",
                        "capabilities": { "sending": "enabled", "receiving": "disabled" }
                    }
                ]
            }),
        )
    }

    fn route(&self, req: &Incoming, scenario: &Scenario) -> Reply {
        match scenario {
            Scenario::Unauthorized => return status_error(401),
            Scenario::RateLimited { retry_after } => {
                return rate_limited(Scenario::retry_after_secs(*retry_after));
            }
            Scenario::ServerError => return status_error(500),
            Scenario::Status(code) => return status_error(*code),
            _ => {}
        }
        if req.path != "/domains" || req.method != http::Method::GET {
            return status_error(404);
        }
        match req.bearer() {
            None => error(
                401,
                "missing_api_key",
                "Missing API key in the authorization header. Include the following header in \
                 the request: Authorization: Bearer YOUR_API_KEY",
            ),
            Some(key) if key == self.api_key => Self::domains(match scenario {
                Scenario::DomainNotVerified => "pending",
                Scenario::DomainPartiallyVerified => "partially_verified",
                Scenario::DomainFailed => "failed",
                _ => "verified",
            }),
            Some(key) if key == self.sending_key => error(
                401,
                "restricted_api_key",
                "This API key is restricted to only send emails",
            ),
            Some(_) => status_error(401),
        }
    }
}

impl Responder for ResendResponder {
    fn respond(&self, req: &Incoming, scenario: &Scenario) -> Reply {
        let limited = {
            let mut limiter = self.limiter.lock();
            if limiter.enabled {
                Some(limiter.hit())
            } else {
                None
            }
        };
        let (mut reply, remaining) = match limited {
            Some(Err(reset)) => (rate_limited(reset), 0),
            Some(Ok(remaining)) => (self.route(req, scenario), remaining),
            None => (self.route(req, scenario), RATE_LIMIT - 1),
        };
        if !reply
            .headers
            .iter()
            .any(|(n, _)| *n == "ratelimit-remaining")
        {
            reply = reply
                .with("ratelimit-remaining", remaining.to_string())
                .with("ratelimit-reset", "1");
        }
        reply
            .with("ratelimit-limit", RATE_LIMIT.to_string())
            .with("ratelimit-policy", format!("{RATE_LIMIT};w=1"))
    }
}
