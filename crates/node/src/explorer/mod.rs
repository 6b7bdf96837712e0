//! The block explorer: one static page, its script and its style sheet, compiled into the node
//! and served at `/` on the API port. The script renders every view in the browser from the
//! public `/v1` routes and the block stream, so the explorer shows nothing the API does not.
//!
//! Nothing is fetched from elsewhere: the Content-Security-Policy allows this origin only (no
//! inline script, no CDN), so an address or job output the page shows cannot run as code even
//! if it slipped past the script's escaping.

use axum::{
    Router,
    http::{HeaderValue, header},
    response::IntoResponse,
    routing::get,
};

/// The page: the layout, the navigation and the search box; `app.js` fills the main element.
const INDEX_HTML: &str = include_str!("index.html");
/// Every view, the live updates from `/v1/stream/blocks` and the SVG plots.
const APP_JS: &str = include_str!("app.js");
const STYLE_CSS: &str = include_str!("style.css");

/// Same origin only, for scripts, styles, images and requests; no frames, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The explorer's three routes, `/`, `/explorer/app.js` and `/explorer/style.css`; every other
/// path stays the API's.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| serve("text/html; charset=utf-8", INDEX_HTML)))
        .route(
            "/explorer/app.js",
            get(|| serve("text/javascript; charset=utf-8", APP_JS)),
        )
        .route(
            "/explorer/style.css",
            get(|| serve("text/css; charset=utf-8", STYLE_CSS)),
        )
}

async fn serve(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            // The files change only with the binary; a short cache keeps a reload after an
            // upgrade correct.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=60"),
            ),
        ],
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{body::Body, http::Request};
    use tower::ServiceExt as _;

    async fn get_path(path: &str) -> (u16, String, String, String) {
        let app: Router = router().fallback(crate::http::not_found);
        let response = app
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &HeaderValue| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        let (content_type, csp) = (
            header(header::CONTENT_TYPE),
            header(header::CONTENT_SECURITY_POLICY),
        );
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        (
            status,
            content_type,
            csp,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn the_page_its_script_and_style_are_served_same_origin_only() {
        let (status, content_type, csp, page) = get_path("/").await;
        assert_eq!(status, 200);
        assert!(content_type.starts_with("text/html"));
        assert_eq!(csp, CONTENT_SECURITY_POLICY);
        // The page loads only these two files, from this origin, and has no inline script.
        assert!(page.contains(r#"<script src="/explorer/app.js" defer></script>"#));
        assert!(page.contains(r#"href="/explorer/style.css""#));
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert_eq!(page.matches("<script").count(), 1);

        let (status, content_type, csp, script) = get_path("/explorer/app.js").await;
        assert_eq!(status, 200);
        assert!(content_type.starts_with("text/javascript"));
        assert_eq!(csp, CONTENT_SECURITY_POLICY);
        // Every request the script makes is to this node's API.
        assert!(!script.contains("http://") && !script.contains("https://"));

        let (status, content_type, _, _) = get_path("/explorer/style.css").await;
        assert_eq!(status, 200);
        assert!(content_type.starts_with("text/css"));
    }

    #[tokio::test]
    async fn other_paths_stay_the_apis() {
        let (status, content_type, _, body) = get_path("/explorer/nothing.js").await;
        assert_eq!(status, 404);
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        assert!(body.contains("not_found"));
    }
}
