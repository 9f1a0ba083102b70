//! The OpenAPI 3 document served at `/openapi.json` (kept equal to [`crate::routes::ROUTES`] by a
//! test).

use serde_json::{json, Value};

fn err_resp(desc: &str) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn admin_responses(ok: &str) -> Value {
    json!({
        "200": {"description": ok, "content": {"application/json": {"schema": {"type": "object"}}}},
        "400": err_resp("malformed request"),
        "401": err_resp("missing, unknown or revoked API key (WWW-Authenticate: Bearer)"),
        "403": err_resp("the key lacks the required scope"),
        "404": err_resp("unknown service, delivery or job"),
        "429": err_resp("rate limited (Retry-After)"),
        "500": {"description": "internal error (plain text; detail only in the log)"}
    })
}

fn scope(s: &str) -> Value {
    json!([{"apiKey": [s]}])
}

fn param(name: &str, location: &str, required: bool, schema: Value, desc: &str) -> Value {
    json!({"name": name, "in": location, "required": required, "schema": schema, "description": desc})
}

/// Builds the document.
pub fn document() -> Value {
    let timeframe = param(
        "timeframe",
        "query",
        false,
        json!({"type": "string", "enum": ["1h", "24h", "7d", "30d"], "default": "24h"}),
        "window the statistics cover",
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "wedsync-monitor",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Health of WedSync's external services (Stripe, Twilio, Resend, Supabase), circuit breakers, and reliable webhook ingress."
        },
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "an API key from `wedsync-monitor api-key create`"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}
            }
        },
        "paths": {
            "/healthz": {"get": {"summary": "the process is alive (never depends on providers)", "responses": {"200": {"description": "alive"}}}},
            "/readyz": {"get": {"summary": "the store is reachable", "responses": {"200": {"description": "ready"}, "503": err_resp("the store is unreachable")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "this document", "responses": {"200": {"description": "OpenAPI 3"}}}},
            "/api/admin/integrations/health": {
                "get": {
                    "summary": "overall and per-service health, breakers and incidents",
                    "security": scope("monitoring:read"),
                    "parameters": [
                        param("service", "query", false, json!({"type": "string"}), "only this service"),
                        param("include_history", "query", false, json!({"type": "boolean"}), "add the last 24 h from rollups")
                    ],
                    "responses": admin_responses("health report")
                },
                "post": {
                    "summary": "run one service's probe now (strict rate limit; audited)",
                    "security": scope("monitoring:admin"),
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["service"], "properties": {"service": {"type": "string"}}}}}},
                    "responses": admin_responses("the probe result")
                },
                "delete": {
                    "summary": "reset a service's breaker in every instance (audited)",
                    "security": scope("monitoring:admin"),
                    "parameters": [param("service", "query", true, json!({"type": "string"}), "the service whose breaker to reset")],
                    "responses": admin_responses("reset")
                }
            },
            "/api/admin/webhooks/health": {
                "get": {
                    "summary": "webhook reliability statistics",
                    "security": scope("monitoring:read"),
                    "parameters": [timeframe.clone()],
                    "responses": admin_responses("statistics")
                },
                "post": {
                    "summary": "replay one delivery, or start a bulk replay job by filter (strict rate limit; audited)",
                    "security": scope("monitoring:admin"),
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "webhook_id": {"type": "string"},
                        "force": {"type": "boolean", "default": false},
                        "filter": {"type": "object", "properties": {"provider": {"type": "string"}, "event_type": {"type": "string"}, "status": {"type": "string"}, "since": {"type": "string", "format": "date-time"}, "until": {"type": "string", "format": "date-time"}}}
                    }}}}},
                    "responses": admin_responses("replayed, or the job that was started")
                }
            },
            "/api/admin/webhooks/health/failures": {
                "get": {
                    "summary": "failure groups and the deliveries that need attention",
                    "security": scope("monitoring:read"),
                    "parameters": [timeframe],
                    "responses": admin_responses("failures")
                }
            },
            "/api/admin/webhooks/replays/{job_id}": {
                "get": {
                    "summary": "progress of a bulk replay job",
                    "security": scope("monitoring:read"),
                    "parameters": [param("job_id", "path", true, json!({"type": "string"}), "the job id returned when it started")],
                    "responses": admin_responses("job progress")
                }
            },
            "/webhooks/{provider}": {
                "post": {
                    "summary": "webhook ingress: verify the signature, record durably, then acknowledge",
                    "parameters": [param("provider", "path", true, json!({"type": "string", "enum": ["stripe", "resend", "twilio", "supabase_auth", "supabase_db"]}), "the sending provider")],
                    "requestBody": {"required": true, "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
                    "responses": {
                        "200": {"description": "recorded (or a recorded duplicate)"},
                        "400": err_resp("malformed input"),
                        "401": err_resp("signature verification failed (reason given, never a secret)"),
                        "404": err_resp("provider not configured"),
                        "413": err_resp("body above the size limit"),
                        "503": err_resp("the store cannot commit; retry after Retry-After")
                    }
                }
            }
        }
    })
}
