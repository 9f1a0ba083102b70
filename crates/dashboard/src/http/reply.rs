//! Responses (pages, redirects, public assets, JSON refusals) and what is read from requests
//! (cookies, forms, the cross-site marker).

use bytes::Bytes;
use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};

use super::Body;
use crate::session;
use crate::Route;

/// The content type of every page.
pub(super) const HTML: &str = "text/html; charset=utf-8";

/// A body of `bytes`, all at once.
pub(super) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A response: `status`, static `headers`, `Set-Cookie` values and `body`.
pub(super) fn respond(
    status: StatusCode,
    headers: &[(HeaderName, &'static str)],
    cookies: &[String],
    body: Body,
) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    for (name, value) in headers {
        h.insert(name, HeaderValue::from_static(value));
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    r
}

/// An HTML page.
pub(super) fn html(status: StatusCode, cookies: &[String], page: String) -> Response<Body> {
    respond(status, &[(header::CONTENT_TYPE, HTML)], cookies, full(page))
}

/// A 303 to `to`.
pub(super) fn redirect(to: Route, cookies: &[String]) -> Response<Body> {
    let location = [(header::LOCATION, to.label())];
    respond(
        StatusCode::SEE_OTHER,
        &location,
        cookies,
        full(Bytes::new()),
    )
}

/// A public, cacheable `body` of `content_type`, cached `cache` (a `Cache-Control` value).
pub(super) fn public(
    content_type: &'static str,
    cache: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, cache),
    ];
    respond(StatusCode::OK, &headers, &[], full(body))
}

/// Adds [`SECURITY_HEADERS`](crate::SECURITY_HEADERS), and `Cache-Control: no-store` unless
/// the response has its own.
pub(super) fn with_security_headers(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    for (name, value) in crate::SECURITY_HEADERS {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

/// A refusal: `{"error":{"code","message"}}` with `status` (a 401 `unauthorized` also carries
/// `WWW-Authenticate: Bearer`). Every JSON refusal of the dashboard and of its embedder's API is
/// built here.
///
/// ```
/// use http::StatusCode;
/// let r = wedsync_dashboard::http::refusal(StatusCode::UNAUTHORIZED, "unauthorized", "no key");
/// assert_eq!(r.headers()["www-authenticate"], "Bearer");
/// assert_eq!(r.headers()["content-type"], "application/json");
/// ```
pub fn refusal(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({"error": {"code": code, "message": message}});
    let mut r = json(status, &body);
    if status == StatusCode::UNAUTHORIZED && code == "unauthorized" {
        let bearer = HeaderValue::from_static("Bearer");
        r.headers_mut().insert(header::WWW_AUTHENTICATE, bearer);
    }
    r
}

/// A JSON response with `status`: `value` serialised (`{}` when it cannot be).
pub fn json<T: serde::Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Body> {
    let mut bytes = Vec::with_capacity(1024);
    if serde_json::to_writer(&mut bytes, value).is_err() {
        bytes = b"{}".to_vec();
    }
    text(status, "application/json", bytes)
}

/// A whole `body` of `content_type` with `status`.
pub fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    respond(
        status,
        &[(header::CONTENT_TYPE, content_type)],
        &[],
        full(body),
    )
}

/// Adds `Retry-After: secs`.
pub fn with_retry_after(mut r: Response<Body>, secs: u64) -> Response<Body> {
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// 404 `not_found`.
pub(super) fn not_found() -> Response<Body> {
    refusal(StatusCode::NOT_FOUND, "not_found", "no such page")
}

/// 403 with `code`.
pub(super) fn forbidden(code: &'static str, message: String) -> Response<Body> {
    refusal(StatusCode::FORBIDDEN, code, &message)
}

/// The fields of an `application/x-www-form-urlencoded` body.
pub(super) fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Field `name` of a form (empty when missing).
pub(super) fn field<'a>(f: &'a [(String, String)], name: &str) -> &'a str {
    f.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let values = headers.get_all(header::COOKIE).into_iter();
    session::cookie(values.filter_map(|v| v.to_str().ok()), name)
}

/// Whether another site started the request (browsers send `Sec-Fetch-Site`; the
/// SameSite=Strict cookie and the CSRF token are the main defences).
pub(super) fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
}
