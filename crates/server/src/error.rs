//! HTTP errors: JSON `{"error":{"code","message"}}` for the client's mistakes, a bare 500 for ours.

use std::panic::Location;

use http::{Response, StatusCode};
use wedsync_dashboard::http::{refusal, with_retry_after, BodyError};

/// The response body type every handler returns: a whole body, or a stream (Server-Sent Events).
pub use wedsync_dashboard::http::Body;

/// An error a handler returns; converted to a response by [`ApiError::into_response`].
#[derive(Debug)]
pub enum ApiError {
    /// A client-facing error with a stable code.
    Client {
        /// HTTP status.
        status: StatusCode,
        /// Stable machine-readable code, e.g. `unauthorized`.
        code: &'static str,
        /// Human-readable message (never a secret).
        message: String,
        /// Seconds for a `Retry-After` header.
        retry_after: Option<u64>,
    },
    /// An internal failure: the client sees a plain 500, the detail goes only to the log.
    Internal {
        /// The detail, logged.
        detail: String,
        /// Where the error was raised, logged.
        location: &'static Location<'static>,
    },
}

impl ApiError {
    /// A client error.
    pub fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Client {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Adds a `Retry-After` (seconds) to a client error.
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        if let ApiError::Client { retry_after, .. } = &mut self {
            *retry_after = Some(secs.max(1));
        }
        self
    }

    /// An internal error; records the caller's location for the log.
    #[track_caller]
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ApiError::Internal {
            detail: detail.to_string(),
            location: Location::caller(),
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::client(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 401 `unauthorized` (the response carries `WWW-Authenticate: Bearer`).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::client(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 503 `unavailable` with a `Retry-After`.
    pub fn unavailable(message: impl Into<String>, retry_after: u64) -> Self {
        Self::client(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            .with_retry_after(retry_after)
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Client { status, .. } => *status,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told: the message of a client error, a fixed text for ours.
    pub fn client_message(&self) -> &str {
        match self {
            ApiError::Client { message, .. } => message,
            ApiError::Internal { .. } => "internal error",
        }
    }

    /// The response for this error (an internal error's detail is logged).
    pub fn into_response(self) -> Response<Body> {
        match self {
            ApiError::Client {
                status,
                code,
                message,
                retry_after,
            } => match retry_after {
                Some(secs) => with_retry_after(refusal(status, code, &message), secs),
                None => refusal(status, code, &message),
            },
            ApiError::Internal { detail, location } => {
                tracing::error!(
                    error = %detail,
                    at = %format_args!("{}:{}", location.file(), location.line()),
                    "internal error"
                );
                let status = StatusCode::INTERNAL_SERVER_ERROR;
                text_response(status, "text/plain; charset=utf-8", "Internal Server Error")
            }
        }
    }
}

/// A body that could not be read under the limit: 413 `payload_too_large` or 400 `bad_request`.
impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        ApiError::client(e.status(), e.code(), e.to_string())
    }
}

/// A JSON response with the given status (a `serde_json::Value` or any typed view), and a
/// whole body of a content type: the dashboard library's response builders.
pub use wedsync_dashboard::http::{json as json_response, text as text_response};

#[cfg(test)]
mod tests {
    use super::*;
    use http::header;
    use http_body_util::BodyExt;

    async fn body_of(resp: Response<Body>) -> String {
        let b = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn client_errors_are_json_with_code_and_message() {
        let resp = ApiError::not_found("no such service").into_response();
        assert_eq!(resp.status(), 404);
        let v: serde_json::Value = serde_json::from_str(&body_of(resp).await).unwrap();
        assert_eq!(v["error"]["code"], "not_found");
        assert_eq!(v["error"]["message"], "no such service");
    }

    #[tokio::test]
    async fn internal_errors_hide_their_detail() {
        let resp = ApiError::internal("db password=hunter2 refused").into_response();
        assert_eq!(resp.status(), 500);
        let body = body_of(resp).await;
        assert_eq!(body, "Internal Server Error");
    }

    #[test]
    fn unauthorized_carries_www_authenticate_and_429_retry_after() {
        let resp = ApiError::unauthorized("missing key").into_response();
        assert_eq!(resp.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let resp = ApiError::client(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "slow down")
            .with_retry_after(7)
            .into_response();
        assert_eq!(resp.headers()[header::RETRY_AFTER], "7");
    }
}
