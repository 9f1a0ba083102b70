//! [`FakeSupabase`]: the auth health endpoint and the PostgREST data API of one project.

use std::io;

use base64::Engine as _;
use serde_json::json;

use crate::fake::{fake_accessors, fake_debug, fake_start};
use crate::server::{random_token, Incoming, Reply, Responder, Server};
use crate::{FakeHandle, RecordedRequest, Scenario};

/// The GoTrue version a healthy `/auth/v1/health` reports.
pub const GOTRUE_VERSION: &str = "v2.177.0";

/// A fake Supabase project on `127.0.0.1:0` (its base URL is the project URL).
///
/// Routes:
/// - `GET /auth/v1/health` → `{"version":"v2…","name":"GoTrue","description":"…"}`;
/// - `GET /rest/v1/{table}` (e.g. `?select=id&limit=1`) → `[{"id":1}]` for any table name;
/// - `GET /rest/v1/` needs the secret key (the publishable one gets 401), as on the real gateway.
///
/// Credentials: header `apikey` (or the `apikey` query parameter) with the
/// [`publishable_key`](Self::publishable_key), the [`secret_key`](Self::secret_key), or the
/// [`legacy_anon_key`](Self::legacy_anon_key) (a JWT, which on `/rest/v1` also needs
/// `Authorization: Bearer <same key>`). A missing key gets 401 with
/// `sb-error-code: UNAUTHORIZED_MISSING_API_KEY` and `{"message","hint"}`; a wrong one 401 with
/// `sb-error-code: UNAUTHORIZED_INVALID_API_KEY` *(the latter code unverified)*. Every answer carries
/// `sb-project-ref`.
///
/// Auth and REST are scripted separately ([`auth_handle`](Self::auth_handle),
/// [`rest_handle`](Self::rest_handle)); [`set_scenario`](Self::set_scenario) sets both. On REST,
/// [`Scenario::ServerError`] is the `503 PGRST002` schema-cache error with
/// `proxy-status: PostgREST; error=PGRST002` (database path down while the gateway is up).
pub struct FakeSupabase {
    server: Server,
    auth: FakeHandle,
    rest: FakeHandle,
    project_ref: String,
    publishable_key: String,
    secret_key: String,
    legacy_anon_key: String,
}

fake_debug!(FakeSupabase, fake => {
    "project_ref": &fake.project_ref,
    "keys": &"***",
    "auth": &fake.auth,
    "rest": &fake.rest,
});

impl FakeSupabase {
    fake_start!("fake Supabase");

    /// Start the fake.
    ///
    /// # Errors
    /// When binding `127.0.0.1:0` fails.
    pub async fn try_start() -> io::Result<Self> {
        let project_ref: String = random_token(40)
            .bytes()
            .filter(u8::is_ascii_lowercase)
            .chain(std::iter::repeat(b'q'))
            .take(20)
            .map(char::from)
            .collect();
        let publishable_key = format!("{}{}", "sb_publishable_", random_token(31));
        let secret_key = format!("{}{}", "sb_secret_", random_token(31));
        let legacy_anon_key = legacy_jwt(&project_ref);
        let auth = FakeHandle::new("supabase-auth");
        let rest = FakeHandle::new("supabase-rest");
        let responder = SupabaseResponder {
            project_ref: project_ref.clone(),
            publishable_key: publishable_key.clone(),
            secret_key: secret_key.clone(),
            legacy_anon_key: legacy_anon_key.clone(),
        };
        let server = Server::start(responder, vec![auth.clone(), rest.clone()]).await?;
        Ok(Self {
            server,
            auth,
            rest,
            project_ref,
            publishable_key,
            secret_key,
            legacy_anon_key,
        })
    }

    fake_accessors!(base_url: "The project URL, `http://127.0.0.1:PORT` (no trailing slash).");

    /// The project ref reported in `sb-project-ref` (20 lowercase letters).
    #[must_use]
    pub fn project_ref(&self) -> &str {
        &self.project_ref
    }

    /// The publishable key (`sb_publishable_…`), what a probe should use.
    #[must_use]
    pub fn publishable_key(&self) -> &str {
        &self.publishable_key
    }

    /// The secret key (`sb_secret_…`).
    #[must_use]
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// A legacy anon key (a JWT); on `/rest/v1` it must also be sent as `Authorization: Bearer`.
    #[must_use]
    pub fn legacy_anon_key(&self) -> &str {
        &self.legacy_anon_key
    }

    /// The scripting handle of `/auth/v1/*`.
    #[must_use]
    pub fn auth_handle(&self) -> FakeHandle {
        self.auth.clone()
    }

    /// The scripting handle of `/rest/v1/*` (and every other path).
    #[must_use]
    pub fn rest_handle(&self) -> FakeHandle {
        self.rest.clone()
    }

    /// Set the scenario of both auth and REST.
    pub fn set_scenario(&self, scenario: Scenario) {
        self.auth.set_scenario(scenario.clone());
        self.rest.set_scenario(scenario);
    }

    /// Set the scenario of `/auth/v1/*` only.
    pub fn set_auth_scenario(&self, scenario: Scenario) {
        self.auth.set_scenario(scenario);
    }

    /// Set the scenario of `/rest/v1/*` only.
    pub fn set_rest_scenario(&self, scenario: Scenario) {
        self.rest.set_scenario(scenario);
    }

    /// The requests received by auth and REST (secrets masked), oldest first.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        let mut all = self.auth.requests();
        all.extend(self.rest.requests());
        all.sort_by_key(|r| r.received_at);
        all
    }

    /// How many requests were received (auth and REST).
    #[must_use]
    pub fn request_count(&self) -> u64 {
        self.auth.request_count() + self.rest.request_count()
    }
}

fn legacy_jwt(project_ref: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = b64.encode(
        json!({ "iss": "supabase", "ref": project_ref, "role": "anon",
                "iat": 1_700_000_000_u64, "exp": 2_015_576_000_u64 })
        .to_string(),
    );
    format!("{header}.{claims}.{}", random_token(43))
}

struct SupabaseResponder {
    project_ref: String,
    publishable_key: String,
    secret_key: String,
    legacy_anon_key: String,
}

#[derive(PartialEq, Eq)]
enum Key {
    Publishable,
    Secret,
    Legacy,
}

fn gateway_error(status: u16, message: &str, hint: &str) -> Reply {
    Reply::json(status, &json!({ "message": message, "hint": hint }))
}

fn postgrest_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({ "code": code, "details": null, "hint": null, "message": message }),
    )
}

impl SupabaseResponder {
    fn api_key(req: &Incoming) -> Option<&str> {
        req.header("apikey").or_else(|| req.query_param("apikey"))
    }

    fn authenticate(&self, req: &Incoming) -> Result<Key, Reply> {
        match Self::api_key(req) {
            None => Err(gateway_error(
                401,
                "No API key found in request",
                "No `apikey` request header or url param was found.",
            )
            .with("sb-error-code", "UNAUTHORIZED_MISSING_API_KEY")),
            Some(key) if key == self.publishable_key => Ok(Key::Publishable),
            Some(key) if key == self.secret_key => Ok(Key::Secret),
            Some(key) if key == self.legacy_anon_key => Ok(Key::Legacy),
            Some(_) => Err(invalid_key()),
        }
    }

    fn error_scenario(is_rest: bool, scenario: &Scenario) -> Option<Reply> {
        match scenario {
            Scenario::Unauthorized => Some(invalid_key()),
            Scenario::RateLimited { retry_after } => Some(
                gateway_error(429, "API rate limit exceeded", "Slow down and retry later.").with(
                    "retry-after",
                    Scenario::retry_after_secs(*retry_after).to_string(),
                ),
            ),
            Scenario::ServerError if is_rest => Some(schema_cache_down()),
            Scenario::ServerError => Some(Reply::json(
                500,
                &json!({ "code": 500, "error_code": "unexpected_failure",
                         "msg": "Unexpected failure, please check server logs for more information" }),
            )),
            Scenario::Status(503) if is_rest => Some(schema_cache_down()),
            Scenario::Status(code) => Some(gateway_error(
                *code,
                "An invalid response was received from the upstream server",
                "",
            )),
            _ => None,
        }
    }

    fn route(&self, req: &Incoming, scenario: &Scenario) -> Reply {
        let is_rest = !req.path.starts_with("/auth/v1/");
        if let Some(reply) = Self::error_scenario(is_rest, scenario) {
            return reply;
        }
        if req.path == "/auth/v1/health" {
            if let Err(reply) = self.authenticate(req) {
                return reply;
            }
            return Reply::json(
                200,
                &json!({
                    "version": GOTRUE_VERSION,
                    "name": "GoTrue",
                    "description": "GoTrue is a user registration and authentication API"
                }),
            );
        }
        let Some(table) = req.path.strip_prefix("/rest/v1/") else {
            return gateway_error(404, "no Route matched with those values", "");
        };
        let key = match self.authenticate(req) {
            Ok(key) => key,
            Err(reply) => return reply,
        };
        if key == Key::Legacy && req.bearer() != Some(self.legacy_anon_key.as_str()) {
            return postgrest_error(401, "PGRST301", "No suitable key or wrong key type");
        }
        if table.is_empty() {
            if key != Key::Secret {
                return gateway_error(
                    401,
                    "Secret API key required",
                    "Only secret API keys may read the OpenAPI description.",
                );
            }
            return Reply::json(200, &json!({ "swagger": "2.0", "paths": {} }));
        }
        if req.method != http::Method::GET || table.contains('/') {
            return postgrest_error(405, "PGRST117", "Unsupported HTTP method");
        }
        Reply::json(200, &json!([{ "id": 1 }])).with("content-range", "0-0/*")
    }
}

fn invalid_key() -> Reply {
    gateway_error(
        401,
        "Invalid API key",
        "Double check your Supabase `anon` or `service_role` API key.",
    )
    .with("sb-error-code", "UNAUTHORIZED_INVALID_API_KEY")
}

fn schema_cache_down() -> Reply {
    postgrest_error(
        503,
        "PGRST002",
        "Could not query the database for the schema cache. Retrying.",
    )
    .with("proxy-status", "PostgREST; error=PGRST002")
}

impl Responder for SupabaseResponder {
    fn slot(&self, req: &Incoming) -> usize {
        usize::from(!req.path.starts_with("/auth/v1/"))
    }

    fn respond(&self, req: &Incoming, scenario: &Scenario) -> Reply {
        self.route(req, scenario)
            .with("sb-project-ref", self.project_ref.clone())
            .with("sb-gateway-version", "1")
    }
}
