//! The route table: every method and path the server answers, in one place.
//!
//! The router matches against this table and `/openapi.json` is checked against it by a test, so
//! the document cannot drift from what is served.

use http::Method;

/// What a matched route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    /// `GET /healthz`.
    Healthz,
    /// `GET /readyz`.
    Readyz,
    /// `GET /metrics`.
    Metrics,
    /// `GET /openapi.json`.
    OpenApi,
    /// `GET /api/admin/integrations/health`.
    IntegrationsHealth,
    /// `POST /api/admin/integrations/health`.
    RunProbe,
    /// `DELETE /api/admin/integrations/health`.
    ResetBreaker,
    /// `GET /api/admin/webhooks/health`.
    WebhooksHealth,
    /// `POST /api/admin/webhooks/health`.
    Replay,
    /// `GET /api/admin/webhooks/health/failures`.
    WebhookFailures,
    /// `GET /api/admin/webhooks/replays/{job_id}`.
    ReplayJob,
    /// `POST /webhooks/{provider}`.
    IngestWebhook,
}

/// One entry of the route table.
#[derive(Debug, Clone)]
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// Path template; `{name}` matches one path segment.
    pub path: &'static str,
    /// The handler.
    pub id: RouteId,
}

const fn route(method: Method, path: &'static str, id: RouteId) -> Route {
    Route { method, path, id }
}

/// Every route the server answers.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    route(Method::GET, "/healthz", RouteId::Healthz),
    route(Method::GET, "/readyz", RouteId::Readyz),
    route(Method::GET, "/metrics", RouteId::Metrics),
    route(Method::GET, "/openapi.json", RouteId::OpenApi),
    route(Method::GET, "/api/admin/integrations/health", RouteId::IntegrationsHealth),
    route(Method::POST, "/api/admin/integrations/health", RouteId::RunProbe),
    route(Method::DELETE, "/api/admin/integrations/health", RouteId::ResetBreaker),
    route(Method::GET, "/api/admin/webhooks/health", RouteId::WebhooksHealth),
    route(Method::POST, "/api/admin/webhooks/health", RouteId::Replay),
    route(Method::GET, "/api/admin/webhooks/health/failures", RouteId::WebhookFailures),
    route(Method::GET, "/api/admin/webhooks/replays/{job_id}", RouteId::ReplayJob),
    route(Method::POST, "/webhooks/{provider}", RouteId::IngestWebhook),
];

/// The result of matching a request against [`ROUTES`].
#[derive(Debug)]
pub enum Match<'a> {
    /// A route matched; `param` is the value of its `{…}` segment, if any.
    Found {
        /// The matched route.
        route: &'static Route,
        /// The path parameter.
        param: Option<&'a str>,
    },
    /// The path exists but not with this method; the allowed methods.
    MethodNotAllowed(Vec<Method>),
    /// No such path.
    NotFound,
}

fn path_matches<'a>(template: &str, path: &'a str) -> Option<Option<&'a str>> {
    let mut param = None;
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(param),
            (Some(ts), Some(ps)) => {
                if ts.starts_with('{') && ts.ends_with('}') {
                    if ps.is_empty() {
                        return None;
                    }
                    param = Some(ps);
                } else if ts != ps {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Matches `method` and `path` against the table.
pub fn find<'a>(method: &Method, path: &'a str) -> Match<'a> {
    let mut allowed = Vec::new();
    for route in ROUTES {
        if let Some(param) = path_matches(route.path, path) {
            if route.method == method {
                return Match::Found { route, param };
            }
            allowed.push(route.method.clone());
        }
    }
    if allowed.is_empty() {
        Match::NotFound
    } else {
        Match::MethodNotAllowed(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        match find(&Method::POST, "/webhooks/stripe") {
            Match::Found { route, param } => {
                assert_eq!(route.id, RouteId::IngestWebhook);
                assert_eq!(param, Some("stripe"));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(find(&Method::GET, "/webhooks/stripe"), Match::MethodNotAllowed(m) if m == vec![Method::POST])
        );
        assert!(matches!(find(&Method::POST, "/webhooks/"), Match::NotFound));
        assert!(matches!(
            find(&Method::GET, "/webhooks/a/b"),
            Match::NotFound
        ));
        assert!(matches!(find(&Method::GET, "/nope"), Match::NotFound));
        assert!(matches!(
            find(&Method::DELETE, "/api/admin/integrations/health"),
            Match::Found { route, .. } if route.id == RouteId::ResetBreaker
        ));
    }
}
