//! [`FakeStripe`]: `GET /v1/balance` and `GET /v1/account` with Stripe's auth, errors and headers.

use std::io;

use serde_json::json;

use crate::fake::{fake_accessors, fake_debug, started};
use crate::server::{random_token, Incoming, Reply, Responder, Server};
use crate::{FakeHandle, Scenario};

const API_VERSION: &str = "2024-06-20";

/// A fake Stripe API on `127.0.0.1:0`.
///
/// Routes: `GET /v1/balance` (`{"object":"balance","livemode":…,…}`) and `GET /v1/account`
/// (`charges_enabled`, …). Credentials: `Authorization: Bearer <key>` (or HTTP Basic with the key as
/// user name) with [`secret_key`](Self::secret_key) or [`restricted_key`](Self::restricted_key);
/// the restricted key may read the balance but gets Stripe's 403 on `/v1/account`. A missing or
/// wrong key gets Stripe's 401 (`invalid_request_error`, the key masked as Stripe does). Every
/// answer carries a `Request-Id: req_…` and a `Stripe-Version` header.
///
/// Scenarios: all generic ones; [`Scenario::LivemodeMismatch`] flips `livemode` on the balance,
/// [`Scenario::ChargesDisabled`] sets `charges_enabled: false` on the account.
pub struct FakeStripe {
    server: Server,
    handle: FakeHandle,
    secret_key: String,
    restricted_key: String,
    account_id: String,
    live: bool,
}

fake_debug!(FakeStripe, fake => {
    "secret_key": &"sk_***",
    "restricted_key": &"rk_***",
    "livemode": &fake.live,
    "handle": &fake.handle,
});

impl FakeStripe {
    /// Start a test-mode fake (`sk_test_…` keys, `livemode: false`).
    ///
    /// # Panics
    /// If no loopback port can be bound (see [`try_start`](Self::try_start)).
    pub async fn start() -> Self {
        started("fake Stripe", Self::try_start(false).await)
    }

    /// Start a live-mode fake (`sk_live_…` keys, `livemode: true`).
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start_live() -> Self {
        started("fake Stripe", Self::try_start(true).await)
    }

    /// Start a fake in live (`true`) or test mode.
    ///
    /// # Errors
    /// When binding `127.0.0.1:0` fails.
    pub async fn try_start(live: bool) -> io::Result<Self> {
        let mode = if live { "live" } else { "test" };
        // assembled at run time: no key-shaped literal in the repository
        let secret_key = format!("{}{}_51{}", "sk_", mode, random_token(32));
        let restricted_key = format!("{}{}_51{}", "rk_", mode, random_token(32));
        let account_id = format!("acct_1{}", random_token(15));
        let responder = StripeResponder {
            secret_key: secret_key.clone(),
            restricted_key: restricted_key.clone(),
            account_id: account_id.clone(),
            live,
        };
        let (server, handle) = Server::start_single(responder, "stripe").await?;
        Ok(Self {
            server,
            handle,
            secret_key,
            restricted_key,
            account_id,
            live,
        })
    }

    fake_accessors!(
        base_url: "`http://127.0.0.1:PORT` (no trailing slash); the API lives under `/v1`.",
        requests: "The requests received (secrets masked), oldest first."
    );

    /// The secret key this fake accepts (`sk_test_…` or `sk_live_…`).
    #[must_use]
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// A restricted key (`rk_…`) allowed to read the balance only.
    #[must_use]
    pub fn restricted_key(&self) -> &str {
        &self.restricted_key
    }

    /// The account id `/v1/account` reports.
    #[must_use]
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// Whether this fake is in live mode (what a healthy `/v1/balance` reports as `livemode`).
    #[must_use]
    pub fn livemode(&self) -> bool {
        self.live
    }
}

struct StripeResponder {
    secret_key: String,
    restricted_key: String,
    account_id: String,
    live: bool,
}

enum Key {
    Secret,
    Restricted,
}

/// Stripe's way of showing a key in an error: prefix, stars, the last four characters.
fn mask_key(key: &str) -> String {
    let prefix_len = key
        .match_indices('_')
        .nth(1)
        .map_or(0, |(i, _)| i + 1)
        .min(key.len());
    if key.len() < prefix_len + 8 || !key.is_ascii() {
        return "***".to_owned();
    }
    let tail = &key[key.len() - 4..];
    format!(
        "{}{}{}",
        &key[..prefix_len],
        "*".repeat(key.len() - prefix_len - 4),
        tail
    )
}

fn error(status: u16, kind: &str, code: Option<&str>, message: &str) -> Reply {
    let mut error = json!({ "message": message, "type": kind });
    if let Some(code) = code {
        error["code"] = json!(code);
        error["doc_url"] = json!(format!(
            "https://stripe.com/docs/error-codes/{}",
            code.replace('_', "-")
        ));
    }
    Reply::json(status, &json!({ "error": error }))
}

impl StripeResponder {
    fn presented_key(req: &Incoming) -> Option<String> {
        req.bearer()
            .map(str::to_owned)
            .or_else(|| req.basic().map(|(user, _)| user))
    }

    fn authenticate(&self, req: &Incoming) -> Result<Key, Reply> {
        match Self::presented_key(req) {
            None => Err(error(
                401,
                "invalid_request_error",
                None,
                "You did not provide an API key. You need to provide your API key in the \
                 Authorization header, using Bearer auth (e.g. 'Authorization: Bearer \
                 YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, \
                 or we can help at https://support.stripe.com/.",
            )),
            Some(key) if key == self.secret_key => Ok(Key::Secret),
            Some(key) if key == self.restricted_key => Ok(Key::Restricted),
            Some(key) => Err(error(
                401,
                "invalid_request_error",
                None,
                &format!("Invalid API Key provided: {}", mask_key(&key)),
            )),
        }
    }

    fn balance(&self, livemode: bool) -> Reply {
        Reply::json(
            200,
            &json!({
                "object": "balance",
                "available": [{ "amount": 1_254_000, "currency": "gbp",
                                "source_types": { "card": 1_254_000 } }],
                "connect_reserved": [{ "amount": 0, "currency": "gbp" }],
                "livemode": livemode,
                "pending": [{ "amount": 87_500, "currency": "gbp",
                              "source_types": { "card": 87_500 } }]
            }),
        )
    }

    fn account(&self, charges_enabled: bool) -> Reply {
        Reply::json(
            200,
            &json!({
                "id": self.account_id,
                "object": "account",
                "business_profile": { "name": "WedSync Fake Ltd", "url": "https://example.com" },
                "business_type": "company",
                "charges_enabled": charges_enabled,
                "country": "GB",
                "default_currency": "gbp",
                "details_submitted": true,
                "email": "payments@example.com",
                "payouts_enabled": charges_enabled,
                "requirements": {
                    "currently_due": if charges_enabled { json!([]) } else { json!(["external_account"]) },
                    "disabled_reason": if charges_enabled { json!(null) } else { json!("requirements.past_due") }
                },
                "type": "standard"
            }),
        )
    }

    fn route(&self, req: &Incoming, scenario: &Scenario) -> Reply {
        match scenario {
            Scenario::Unauthorized => {
                let shown =
                    Self::presented_key(req).map_or_else(|| "***".to_owned(), |k| mask_key(&k));
                return error(
                    401,
                    "invalid_request_error",
                    Some("api_key_expired"),
                    &format!("Expired API Key provided: {shown}"),
                );
            }
            Scenario::RateLimited { retry_after } => {
                return error(
                    429,
                    "invalid_request_error",
                    Some("rate_limit"),
                    "Too many requests hit the API too quickly. We recommend an exponential \
                     backoff of your requests.",
                )
                .with(
                    "retry-after",
                    Scenario::retry_after_secs(*retry_after).to_string(),
                );
            }
            Scenario::ServerError => {
                return error(
                    500,
                    "api_error",
                    None,
                    "An unknown error occurred while processing your request. Please try again.",
                );
            }
            Scenario::Status(code) => return status_error(*code),
            _ => {}
        }
        let known = matches!(req.path.as_str(), "/v1/balance" | "/v1/account");
        if req.method != http::Method::GET || !known {
            return error(
                404,
                "invalid_request_error",
                None,
                &format!(
                    "Unrecognized request URL ({}: {}). Please see https://stripe.com/docs or \
                     we can help at https://support.stripe.com/.",
                    req.method, req.path
                ),
            );
        }
        let key = match self.authenticate(req) {
            Ok(key) => key,
            Err(reply) => return reply,
        };
        match req.path.as_str() {
            "/v1/balance" => {
                let livemode = self.live != matches!(scenario, Scenario::LivemodeMismatch);
                self.balance(livemode)
            }
            _ => match key {
                Key::Restricted => error(
                    403,
                    "invalid_request_error",
                    None,
                    &format!(
                        "The provided key '{}' does not have the required permissions for this \
                         endpoint on account '{}'. Having the 'rak_accounts_kyc_basic_read' \
                         permission would allow this request to continue.",
                        mask_key(&self.restricted_key),
                        self.account_id
                    ),
                ),
                Key::Secret => self.account(!matches!(scenario, Scenario::ChargesDisabled)),
            },
        }
    }
}

fn status_error(code: u16) -> Reply {
    match code {
        400 => error(400, "invalid_request_error", Some("parameter_invalid"), "Invalid request."),
        401 => error(401, "invalid_request_error", None, "Invalid API Key provided: ***"),
        402 => error(402, "card_error", Some("card_declined"), "Your card was declined."),
        403 => error(403, "invalid_request_error", None, "The provided key does not have the required permissions for this endpoint."),
        404 => error(404, "invalid_request_error", Some("resource_missing"), "No such resource."),
        409 => error(409, "idempotency_error", None, "Keys for idempotent requests can only be used with the same parameters they were first used with."),
        429 => error(429, "invalid_request_error", Some("rate_limit"), "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests."),
        500..=599 => error(code, "api_error", None, "An unknown error occurred while processing your request. Please try again."),
        _ => error(code, "invalid_request_error", None, "The request could not be processed."),
    }
}

impl Responder for StripeResponder {
    fn respond(&self, req: &Incoming, scenario: &Scenario) -> Reply {
        self.route(req, scenario)
            .basic_challenge("Stripe")
            .with("request-id", format!("req_{}", random_token(14)))
            .with("stripe-version", API_VERSION)
            .with("server", "nginx")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_key_shows_prefix_and_last_four() {
        let key = format!("{}{}", "sk_test_", "abcdefghijklmnop1234");
        let masked = mask_key(&key);
        assert!(masked.starts_with("sk_test_****"));
        assert!(masked.ends_with("1234"));
        assert!(!masked.contains("abcdef"));
        assert_eq!(masked.len(), key.len());
        assert_eq!(mask_key("short"), "***");
        assert_eq!(mask_key("sk_x"), "***");
    }

    proptest::proptest! {
        /// Stripe-style masking shows at most the prefix and the last four characters.
        #[test]
        fn mask_key_hides_the_middle(mode in "(test|live)", body in "[A-Za-z0-9]{4,60}") {
            let key = format!("sk_{mode}_{body}");
            let masked = mask_key(&key);
            if masked != "***" {
                let prefix = format!("sk_{mode}_");
                proptest::prop_assert!(masked.starts_with(&prefix));
                let middle = &masked[prefix.len()..masked.len() - 4];
                proptest::prop_assert!(middle.chars().all(|c| c == '*'));
                proptest::prop_assert_eq!(&masked[masked.len() - 4..], &key[key.len() - 4..]);
            }
        }
    }
}
