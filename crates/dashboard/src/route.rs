//! The dashboard's routes: the paths its pages link, post and connect to, and the label each
//! has in metrics. A server maps them to handlers; this crate's pages and script use exactly
//! these paths.

/// One route of the dashboard, the public status page or the badges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /dashboard` (and `/dashboard/`): the live page.
    Page,
    /// `GET` (the form) and `POST` (sign in) `/dashboard/login`.
    Login,
    /// `POST /dashboard/logout`.
    Logout,
    /// `GET /dashboard/events`: the Server-Sent Events stream.
    Events,
    /// `POST /dashboard/replay`: replay a delivery.
    Replay,
    /// `POST /dashboard/acknowledge`: acknowledge an incident.
    Acknowledge,
    /// `GET /dashboard/assets/app.js`.
    Script,
    /// `GET /dashboard/assets/app.css`.
    Stylesheet,
    /// `GET /status`: the public status page.
    StatusPage,
    /// `GET /badge/{service}/status.svg`.
    StatusBadge,
    /// `GET /badge/{service}/uptime.svg`.
    UptimeBadge,
}

impl Route {
    /// The route of `path`, or `None` when it is not one of the dashboard's.
    ///
    /// ```
    /// use wedsync_dashboard::Route;
    /// assert_eq!(Route::of("/dashboard/"), Some(Route::Page));
    /// assert_eq!(Route::of("/badge/stripe/uptime.svg"), Some(Route::UptimeBadge));
    /// assert_eq!(Route::of("/dashboardx"), None);
    /// ```
    pub fn of(path: &str) -> Option<Route> {
        Some(match path {
            "/dashboard" | "/dashboard/" => Route::Page,
            "/dashboard/login" => Route::Login,
            "/dashboard/logout" => Route::Logout,
            "/dashboard/events" => Route::Events,
            "/dashboard/replay" => Route::Replay,
            "/dashboard/acknowledge" => Route::Acknowledge,
            "/dashboard/assets/app.js" => Route::Script,
            "/dashboard/assets/app.css" => Route::Stylesheet,
            "/status" => Route::StatusPage,
            p if p.starts_with("/badge/") && p.ends_with("/status.svg") => Route::StatusBadge,
            p if p.starts_with("/badge/") && p.ends_with("/uptime.svg") => Route::UptimeBadge,
            _ => return None,
        })
    }

    /// The route's label in metrics: its path, with `{service}` for a badge's service.
    pub const fn label(self) -> &'static str {
        match self {
            Route::Page => "/dashboard",
            Route::Login => "/dashboard/login",
            Route::Logout => "/dashboard/logout",
            Route::Events => "/dashboard/events",
            Route::Replay => "/dashboard/replay",
            Route::Acknowledge => "/dashboard/acknowledge",
            Route::Script => "/dashboard/assets/app.js",
            Route::Stylesheet => "/dashboard/assets/app.css",
            Route::StatusPage => "/status",
            Route::StatusBadge => "/badge/{service}/status.svg",
            Route::UptimeBadge => "/badge/{service}/uptime.svg",
        }
    }

    /// For [`Route::Script`] and [`Route::Stylesheet`]: the asset's content type and body.
    ///
    /// ```
    /// use wedsync_dashboard::{Route, APP_CSS};
    /// assert_eq!(Route::Stylesheet.asset(), Some(("text/css; charset=utf-8", APP_CSS)));
    /// assert_eq!(Route::Page.asset(), None);
    /// ```
    pub const fn asset(self) -> Option<(&'static str, &'static str)> {
        match self {
            Route::Script => Some(("text/javascript; charset=utf-8", crate::APP_JS)),
            Route::Stylesheet => Some(("text/css; charset=utf-8", crate::APP_CSS)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Route; 11] = [
        Route::Page,
        Route::Login,
        Route::Logout,
        Route::Events,
        Route::Replay,
        Route::Acknowledge,
        Route::Script,
        Route::Stylesheet,
        Route::StatusPage,
        Route::StatusBadge,
        Route::UptimeBadge,
    ];

    #[test]
    fn every_route_is_found_by_its_label() {
        for r in ALL {
            let path = r.label().replace("{service}", "stripe");
            assert_eq!(Route::of(&path), Some(r), "{path}");
        }
        assert_eq!(Route::of("/api/admin/integrations/health"), None);
        assert_eq!(Route::of("/dashboard/assets/other.js"), None);
    }

    #[test]
    fn the_pages_use_these_paths() {
        assert_eq!(crate::page::CSS_HREF, Route::Stylesheet.label());
        assert_eq!(crate::page::JS_SRC, Route::Script.label());
        assert_eq!(crate::page::EVENTS, Route::Events.label());
        assert_eq!(ALL.iter().filter(|r| r.asset().is_some()).count(), 2);
    }
}
