//! [`FakeTwilio`]: the account and balance resources with Twilio's Basic auth and error shapes.

use std::io;

use serde_json::json;

use crate::fake::{fake_accessors, fake_debug, fake_start, generic_error};
use crate::server::{random_hex, Incoming, Reply, Responder, Server};
use crate::{FakeHandle, Scenario};

/// The balance a healthy fake reports.
pub const HEALTHY_BALANCE: &str = "125.40";
/// The balance [`Scenario::LowBalance`] reports.
pub const LOW_BALANCE: &str = "0.42";

/// A fake Twilio REST API on `127.0.0.1:0`.
///
/// Routes: `GET /2010-04-01/Accounts/{AccountSid}.json` (the account resource — including its
/// `auth_token`, as the real one does, so probes must never store bodies) and
/// `GET /2010-04-01/Accounts/{AccountSid}/Balance.json` (`{"balance":"125.40","currency":"GBP",…}`,
/// the balance a string). Credentials: HTTP Basic `AccountSid:AuthToken` or `SK…:secret`
/// ([`api_key_sid`](Self::api_key_sid), [`api_key_secret`](Self::api_key_secret)). A missing or
/// wrong credential gets `401 {"code":20003,"message":"Authenticate",…}`; another account's SID in
/// the path gets 404 code 20404. Every answer carries `Twilio-Request-Id: RQ…`.
///
/// Scenarios: all generic ones (429 is code 20429, [`Scenario::ServerError`] 500 code 20500);
/// [`Scenario::LowBalance`] reports [`LOW_BALANCE`], [`Scenario::AccountSuspended`] /
/// [`Scenario::AccountClosed`] set the account's `status`.
pub struct FakeTwilio {
    server: Server,
    handle: FakeHandle,
    account_sid: String,
    auth_token: String,
    api_key_sid: String,
    api_key_secret: String,
}

fake_debug!(FakeTwilio, fake => {
    "account_sid": &fake.account_sid,
    "auth_token": &"***",
    "api_key_secret": &"***",
    "handle": &fake.handle,
});

impl FakeTwilio {
    fake_start!("fake Twilio");

    /// Start the fake.
    ///
    /// # Errors
    /// When binding `127.0.0.1:0` fails.
    pub async fn try_start() -> io::Result<Self> {
        let account_sid = format!("AC{}", random_hex(32));
        let auth_token = random_hex(32);
        let api_key_sid = format!("SK{}", random_hex(32));
        let api_key_secret = random_hex(32);
        let responder = TwilioResponder {
            account_sid: account_sid.clone(),
            auth_token: auth_token.clone(),
            api_key_sid: api_key_sid.clone(),
            api_key_secret: api_key_secret.clone(),
        };
        let (server, handle) = Server::start_single(responder, "twilio").await?;
        Ok(Self {
            server,
            handle,
            account_sid,
            auth_token,
            api_key_sid,
            api_key_secret,
        })
    }

    fake_accessors!(
        base_url: "`http://127.0.0.1:PORT` (no trailing slash); the API lives under `/2010-04-01`.",
        requests: "The requests received (secrets masked), oldest first."
    );

    /// The account SID (`AC` + 32 hex).
    #[must_use]
    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// The account's auth token (Basic auth password with the account SID).
    #[must_use]
    pub fn auth_token(&self) -> &str {
        &self.auth_token
    }

    /// An API key SID (`SK` + 32 hex), usable as Basic auth user name instead of the account SID.
    #[must_use]
    pub fn api_key_sid(&self) -> &str {
        &self.api_key_sid
    }

    /// The API key's secret.
    #[must_use]
    pub fn api_key_secret(&self) -> &str {
        &self.api_key_secret
    }
}

struct TwilioResponder {
    account_sid: String,
    auth_token: String,
    api_key_sid: String,
    api_key_secret: String,
}

fn error(status: u16, code: u32, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status
        }),
    )
}

fn status_error(status: u16) -> Reply {
    match status {
        400 => error(400, 20001, "Bad Request"),
        401 => error(401, 20003, "Authenticate"),
        403 => error(403, 20403, "Forbidden"),
        404 => error(404, 20404, "The requested resource was not found"),
        429 => error(429, 20429, "Too Many Requests"),
        503 => error(503, 20503, "Service Unavailable"),
        500..=599 => error(status, 20500, "Internal Server Error"),
        _ => error(status, 20001, "Bad Request"),
    }
}

impl TwilioResponder {
    fn authenticated(&self, req: &Incoming) -> bool {
        match req.basic() {
            Some((user, pass)) => {
                (user == self.account_sid && pass == self.auth_token)
                    || (user == self.api_key_sid && pass == self.api_key_secret)
            }
            None => false,
        }
    }

    fn account(&self, status: &str) -> Reply {
        let sid = &self.account_sid;
        Reply::json(
            200,
            &json!({
                "auth_token": self.auth_token,
                "date_created": "Thu, 30 Jul 2015 20:00:00 +0000",
                "date_updated": "Fri, 27 Nov 2026 09:12:44 +0000",
                "friendly_name": "WedSync Fake",
                "owner_account_sid": sid,
                "sid": sid,
                "status": status,
                "subresource_uris": {
                    "balance": format!("/2010-04-01/Accounts/{sid}/Balance.json"),
                    "messages": format!("/2010-04-01/Accounts/{sid}/Messages.json")
                },
                "type": "Full",
                "uri": format!("/2010-04-01/Accounts/{sid}.json")
            }),
        )
    }

    fn balance(&self, balance: &str) -> Reply {
        Reply::json(
            200,
            &json!({
                "currency": "GBP",
                "balance": balance,
                "account_sid": self.account_sid
            }),
        )
    }

    fn route(&self, req: &Incoming, scenario: &Scenario) -> Reply {
        if let Some(reply) = generic_error(scenario, status_error) {
            return reply;
        }
        let not_found = || {
            error(
                404,
                20404,
                &format!("The requested resource {} was not found", req.path),
            )
        };
        let Some(rest) = req.path.strip_prefix("/2010-04-01/Accounts/") else {
            return not_found();
        };
        if !self.authenticated(req) {
            return status_error(401);
        }
        let (sid, resource) = if let Some(sid) = rest.strip_suffix("/Balance.json") {
            (sid, "balance")
        } else if let Some(sid) = rest.strip_suffix(".json") {
            (sid, "account")
        } else {
            return not_found();
        };
        if sid != self.account_sid || req.method != http::Method::GET {
            return not_found();
        }
        match resource {
            "balance" => self.balance(if matches!(scenario, Scenario::LowBalance) {
                LOW_BALANCE
            } else {
                HEALTHY_BALANCE
            }),
            _ => self.account(match scenario {
                Scenario::AccountSuspended => "suspended",
                Scenario::AccountClosed => "closed",
                _ => "active",
            }),
        }
    }
}

impl Responder for TwilioResponder {
    fn respond(&self, req: &Incoming, scenario: &Scenario) -> Reply {
        self.route(req, scenario)
            .basic_challenge("Twilio API")
            .with("twilio-request-id", format!("RQ{}", random_hex(32)))
            .with("twilio-concurrent-requests", "1")
    }
}
