//! The status page at `/_qcc/`: an HTML shell, a style sheet and a script, all embedded in
//! the binary (no CDN, no fonts, no libraries). The script polls `/_qcc/status` and
//! `/_qcc/usage` every 2 s and draws the figures and charts (plain SVG) itself; every value
//! goes into the DOM as text.
//!
//! The three files hold no data, so they are served without the access token (the Host
//! and Origin checks still apply); the JSON they read needs it. With a token the page asks
//! for it once, keeps it in `sessionStorage` and sends it as `Authorization: Bearer`
//! (`#token=…` in the address fills it in: a fragment never reaches a server or a log).

use http::{HeaderValue, Method, Response, StatusCode};

use crate::proxy::body::ProxyBody;
use crate::proxy::error::{error_response, full};

const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const APP_CSS: &str = include_str!("page/app.css");

/// Own origin only, no inline script or style, no frames, no forms sent anywhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                       connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
                       form-action 'none'; frame-ancestors 'none'";

/// The page's files: path → (content type, contents).
pub fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    Some(match path {
        "/_qcc/" | "/_qcc/index.html" => ("text/html; charset=utf-8", INDEX_HTML),
        "/_qcc/app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "/_qcc/app.css" => ("text/css; charset=utf-8", APP_CSS),
        _ => return None,
    })
}

/// The page weight: every file the browser loads, in bytes.
pub fn weight() -> usize {
    INDEX_HTML.len() + APP_JS.len() + APP_CSS.len()
}

/// Headers every answer of the page's paths carries (its JSON too).
pub fn no_store(h: &mut http::HeaderMap) {
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    h.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// Serve one of the page's files (GET or HEAD).
pub fn serve(
    method: &Method,
    content_type: &'static str,
    body: &'static str,
) -> Response<ProxyBody> {
    if method != Method::GET && method != Method::HEAD {
        let mut r = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            "qcc: the status page answers GET only",
        );
        r.headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let mut r = Response::new(full(bytes::Bytes::from_static(body.as_bytes())));
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    h.insert(
        http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        http::header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    );
    no_store(h);
    r
}

/// `/_qcc` → `/_qcc/`.
pub fn redirect() -> Response<ProxyBody> {
    let mut r = Response::new(full(bytes::Bytes::new()));
    *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
    r.headers_mut()
        .insert(http::header::LOCATION, HeaderValue::from_static("/_qcc/"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_small_and_has_no_inline_script_or_remote_asset() {
        assert!(weight() < 40 * 1024, "page weight {} bytes", weight());
        for (name, text) in [
            ("index.html", INDEX_HTML),
            ("app.js", APP_JS),
            ("app.css", APP_CSS),
        ] {
            // Nothing loaded from elsewhere (the SVG namespace is a name, not a load).
            let text = text.replace("http://www.w3.org/2000/svg", "");
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{name}"
            );
            assert!(!text.contains("innerHTML"), "{name}: DOM text only");
        }
        assert!(!INDEX_HTML.contains("<script>"), "no inline script");
        assert!(!INDEX_HTML.contains("style="), "no inline style");
    }

    #[test]
    fn assets_have_types_and_policies() {
        let (ct, body) = asset("/_qcc/").unwrap();
        let r = serve(&Method::GET, ct, body);
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert!(
            r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        assert_eq!(serve(&Method::POST, ct, body).status(), 405);
        assert!(asset("/_qcc/nope.js").is_none());
    }
}
