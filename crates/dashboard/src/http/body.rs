//! Request bodies read under a byte limit ([`read_limited`]), for the dashboard's forms and for
//! an embedder's own routes alike.

use bytes::Bytes;
use http::{header, HeaderMap, Response, StatusCode};
use http_body_util::BodyExt as _;

use super::reply::refusal;
use super::Body;

/// A body above the limit is drained up to this many times the limit before the refusal is sent.
const DRAIN_FACTOR: u64 = 8;
/// ... and for at most this long.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Why [`read_limited`] returned no body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The body (declared by `Content-Length` or as read) exceeds the limit, in bytes.
    #[error("the body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The body could not be read (the connection failed while sending it).
    #[error("could not read the request body")]
    Unreadable,
}

impl BodyError {
    /// The status it answers with: 413 or 400.
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Unreadable => StatusCode::BAD_REQUEST,
        }
    }

    /// Its stable code: `payload_too_large` or `bad_request`.
    pub fn code(&self) -> &'static str {
        match self {
            BodyError::TooLarge { .. } => "payload_too_large",
            BodyError::Unreadable => "bad_request",
        }
    }

    /// The refusal (`{"error":{"code","message"}}`, see [`refusal`](super::refusal)).
    pub fn into_response(self) -> Response<Body> {
        refusal(self.status(), self.code(), &self.to_string())
    }
}

/// Reads `body` whole when it is at most `limit` bytes. A larger one (its `Content-Length` says
/// so, or more arrives) is [`BodyError::TooLarge`], returned after reading and discarding a
/// bounded amount more (at most 8 times the limit, for at most 2 s): closing a connection with
/// unread bytes makes the kernel reset it, and the client would see a broken connection instead
/// of the 413.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use http_body_util::Full;
/// use wedsync_dashboard::http::{read_limited, BodyError};
///
/// let headers = http::HeaderMap::new();
/// let small = Full::new(bytes::Bytes::from_static(b"api_key=wsk_1"));
/// assert_eq!(read_limited(&headers, small, 64).await.unwrap(), "api_key=wsk_1");
/// let large = Full::new(bytes::Bytes::from(vec![b'x'; 65]));
/// let e = read_limited(&headers, large, 64).await.unwrap_err();
/// assert_eq!((e.status().as_u16(), e.code()), (413, "payload_too_large"));
/// # }
/// ```
pub async fn read_limited<B>(headers: &HeaderMap, body: B, limit: u64) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body<Data = Bytes>,
{
    let max = usize::try_from(limit).unwrap_or(usize::MAX);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = std::pin::pin!(body);
    let mut seen = 0usize;
    if declared.is_none_or(|len| len <= limit) {
        let mut buf = Vec::with_capacity(declared.map_or(0, |n| n as usize).min(max));
        loop {
            match body.frame().await {
                None => return Ok(Bytes::from(buf)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        seen += data.len();
                        if seen > max {
                            break;
                        }
                        buf.extend_from_slice(&data);
                    }
                }
                Some(Err(_)) => return Err(BodyError::Unreadable),
            }
        }
    }
    let cap = max.saturating_mul(DRAIN_FACTOR as usize);
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while seen <= cap {
            match body.frame().await {
                Some(Ok(frame)) => seen += frame.data_ref().map_or(0, Bytes::len),
                _ => break,
            }
        }
    })
    .await;
    Err(BodyError::TooLarge { limit })
}

#[cfg(test)]
mod tests {
    use http_body_util::Full;

    use super::*;

    fn declared(len: u64) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, len.into());
        h
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_whole() {
        let b = Full::new(Bytes::from_static(b"0123456789"));
        let read = read_limited(&declared(10), b, 10).await.unwrap();
        assert_eq!(read, "0123456789");
    }

    #[tokio::test]
    async fn a_declared_or_streamed_body_above_the_limit_is_refused_with_413() {
        let b = Full::new(Bytes::from_static(b"0123456789"));
        let e = read_limited(&declared(10), b, 9).await.unwrap_err();
        assert_eq!(e, BodyError::TooLarge { limit: 9 });
        let b = Full::new(Bytes::from_static(b"0123456789"));
        let e = read_limited(&HeaderMap::new(), b, 9).await.unwrap_err();
        assert_eq!(e.to_string(), "the body exceeds the limit of 9 bytes");
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "payload_too_large");
    }

    /// A body whose connection fails at once.
    struct Failing;

    impl hyper::body::Body for Failing {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
            std::task::Poll::Ready(Some(Err(std::io::Error::other("reset"))))
        }
    }

    #[tokio::test]
    async fn a_failing_body_is_unreadable() {
        let e = read_limited(&HeaderMap::new(), Failing, 9)
            .await
            .unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e, BodyError::Unreadable);
    }
}
