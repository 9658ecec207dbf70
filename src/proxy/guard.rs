//! Who may use the proxy (docs/behavior.md §5, "Proxy access"), checked before anything
//! else of a request is looked at:
//!
//! - On a loopback listener only loopback `Host` values are served — `127.0.0.1` (any
//!   127.x address), `localhost`, `[::1]`, with or without a port — plus the names in
//!   `proxy.allowed_hosts`. A page the user visits can make the browser send requests to
//!   the proxy under its own name (DNS rebinding: `Host: attacker.example`); those get a 421.
//! - A request carrying an `Origin` header comes from a web page. It is refused (403)
//!   unless the origin is the proxy itself (`http://` + the request's own `Host`) or is in
//!   `proxy.allowed_origins`; CLI tools and SDKs send no `Origin`. Only a configured origin
//!   gets CORS headers (and its preflight `OPTIONS` an answer); nothing else does.
//! - With an access token (required off loopback) the client must present it as its API
//!   key (`x-api-key` or `Authorization: Bearer`), compared in constant time.
//!
//! Refusals are Anthropic-shaped errors and never reach an upstream.

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use subtle::ConstantTimeEq;

use crate::proxy::body::ProxyBody;
use crate::proxy::error::{error_response, full};
use crate::state::model::ProxySettings;
use crate::state::secret::Secret;

/// How the proxy is exposed: set once at start.
#[derive(Clone, Debug)]
pub struct Access {
    /// Clients must present this (either auth header) when set.
    pub token: Option<Secret>,
    /// The listener is on a loopback address (only loopback `Host` values are served).
    pub loopback: bool,
    /// The address it listens on (none for a proxy that serves no socket: CLI replays).
    pub listen: Option<std::net::SocketAddr>,
}

impl Default for Access {
    fn default() -> Self {
        Self {
            token: None,
            loopback: true,
            listen: None,
        }
    }
}

/// What to do with a request.
pub enum Decision {
    /// Serve it; with the `Origin` to answer CORS for, when it is a configured one.
    Serve { cors: Option<HeaderValue> },
    /// Answer this instead (a refusal, or a configured origin's preflight).
    Answer(Response<ProxyBody>),
}

impl Access {
    /// Check `Host` and `Origin` (not the token: see [`Access::check_token`]).
    pub fn admit<B>(&self, req: &Request<B>, settings: &ProxySettings) -> Decision {
        let host = request_host(req);
        if self.loopback
            && let Some(host) = host
            && !host_allowed(host, &settings.allowed_hosts)
        {
            return Decision::Answer(error_response(
                StatusCode::MISDIRECTED_REQUEST,
                "permission_error",
                &format!(
                    "qcc: this proxy answers to localhost only, not to '{}' (add the name to \
                     proxy.allowed_hosts in config.json to serve it)",
                    printable(host)
                ),
            ));
        }
        let Some(origin) = req.headers().get(http::header::ORIGIN) else {
            return Decision::Serve { cors: None };
        };
        let own = host.is_some_and(|h| origin.as_bytes() == format!("http://{h}").as_bytes());
        if own {
            return Decision::Serve { cors: None };
        }
        let configured = origin.to_str().ok().is_some_and(|o| {
            settings
                .allowed_origins
                .iter()
                .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(o))
        });
        if !configured {
            return Decision::Answer(error_response(
                StatusCode::FORBIDDEN,
                "permission_error",
                &format!(
                    "qcc: requests from web pages are refused (Origin: {}); add the origin to \
                     proxy.allowed_origins in config.json to allow it",
                    printable(origin.to_str().unwrap_or("?"))
                ),
            ));
        }
        if req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return Decision::Answer(preflight(origin, req.headers()));
        }
        Decision::Serve {
            cors: Some(origin.clone()),
        }
    }

    /// With an access token configured, the client must present it. `None`: it may pass.
    pub fn check_token(&self, headers: &HeaderMap) -> Option<Response<ProxyBody>> {
        let token = self.token.as_ref()?;
        static X_API_KEY: http::HeaderName = http::HeaderName::from_static("x-api-key");
        let presented = headers.get(&X_API_KEY).map(|v| v.as_bytes()).or_else(|| {
            headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        });
        let ok = presented.is_some_and(|p| bool::from(p.ct_eq(token.expose().as_bytes())));
        (!ok).then(|| {
            error_response(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "qcc: this proxy requires its access token as the API key",
            )
        })
    }
}

/// Add the CORS headers a configured origin gets to a response.
pub fn add_cors(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(http::header::VARY, HeaderValue::from_static("origin"));
}

fn preflight(origin: &HeaderValue, headers: &HeaderMap) -> Response<ProxyBody> {
    let mut r = Response::new(full(bytes::Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    let h = r.headers_mut();
    add_cors(h, origin.clone());
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    if let Some(asked) = headers.get(http::header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(http::header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    h.insert(
        http::header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    r
}

/// The `Host` the request names: its header (HTTP/1.1), else its URI's authority.
fn request_host<B>(req: &Request<B>) -> Option<&str> {
    match req.headers().get(http::header::HOST) {
        Some(v) => Some(v.to_str().unwrap_or("\u{fffd}")),
        None => req.uri().authority().map(|a| a.as_str()),
    }
}

/// Whether `host` (as sent, maybe with a port) is a loopback name or a configured one.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = strip_port(host.trim()).trim_end_matches('.');
    // What clients send almost always: no parsing for it.
    if name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost") || name == "[::1]" {
        return true;
    }
    if let Some(v6) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|a| a.is_loopback());
    }
    if let Ok(v4) = name.parse::<std::net::Ipv4Addr>() {
        return v4.is_loopback();
    }
    allowed
        .iter()
        .any(|a| strip_port(a.trim()).eq_ignore_ascii_case(name))
}

/// `name:port` → `name` (a bracketed IPv6 address keeps its brackets).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// A client-sent value, cut short and stripped of control characters, for an error message.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(host: Option<&str>, origin: Option<&str>, method: Method) -> Request<()> {
        let mut b = Request::builder().method(method).uri("/v1/messages");
        if let Some(h) = host {
            b = b.header("host", h);
        }
        if let Some(o) = origin {
            b = b
                .header("origin", o)
                .header("access-control-request-method", "POST");
        }
        b.body(()).unwrap()
    }

    fn status(d: Decision) -> Option<u16> {
        match d {
            Decision::Serve { .. } => None,
            Decision::Answer(r) => Some(r.status().as_u16()),
        }
    }

    #[test]
    fn loopback_names_only_unless_configured() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:7860",
            "127.1.2.3:80",
            "localhost",
            "LOCALHOST:7860",
            "localhost.",
            "[::1]",
            "[::1]:7860",
        ] {
            assert!(host_allowed(ok, &[]), "{ok}");
        }
        for bad in [
            "attacker.example",
            "attacker.example:7860",
            "10.0.0.1:7860",
            "[::2]:7860",
            "localhost.attacker.example",
            "",
        ] {
            assert!(!host_allowed(bad, &[]), "{bad}");
        }
        let allowed = vec!["qcc.internal".to_owned()];
        assert!(host_allowed("QCC.internal:7860", &allowed));
    }

    #[test]
    fn origins_are_refused_unless_own_or_configured() {
        let a = Access::default();
        let s = ProxySettings::default();
        let get = Method::POST;
        assert_eq!(
            status(a.admit(&req(Some("127.0.0.1:7860"), None, get.clone()), &s)),
            None
        );
        assert_eq!(
            status(a.admit(&req(Some("attacker.example:7860"), None, get.clone()), &s)),
            Some(421)
        );
        assert_eq!(
            status(a.admit(
                &req(
                    Some("127.0.0.1:7860"),
                    Some("https://attacker.example.com"),
                    get.clone()
                ),
                &s
            )),
            Some(403)
        );
        assert_eq!(
            status(a.admit(&req(Some("127.0.0.1:7860"), Some("null"), get.clone()), &s)),
            Some(403)
        );
        assert_eq!(
            status(a.admit(
                &req(
                    Some("127.0.0.1:7860"),
                    Some("http://127.0.0.1:7860"),
                    get.clone()
                ),
                &s
            )),
            None,
            "the proxy's own page"
        );
        let s = ProxySettings {
            allowed_origins: vec!["https://app.example/".into()],
            ..ProxySettings::default()
        };
        match a.admit(
            &req(Some("localhost"), Some("https://app.example"), get),
            &s,
        ) {
            Decision::Serve { cors } => assert_eq!(cors.unwrap(), "https://app.example"),
            Decision::Answer(_) => panic!("configured origin refused"),
        }
        match a.admit(
            &req(
                Some("localhost"),
                Some("https://app.example"),
                Method::OPTIONS,
            ),
            &s,
        ) {
            Decision::Answer(r) => {
                assert_eq!(r.status(), 204);
                assert_eq!(
                    r.headers()["access-control-allow-origin"],
                    "https://app.example"
                );
            }
            Decision::Serve { .. } => panic!("preflight not answered"),
        }
        // Off loopback the Host is not checked (the token is required there).
        let open = Access {
            token: Some(Secret::new("t")),
            loopback: false,
            listen: None,
        };
        assert_eq!(
            status(open.admit(&req(Some("proxy.lan:7860"), None, Method::POST), &s)),
            None
        );
    }

    #[test]
    fn the_token_is_compared_in_either_header() {
        let a = Access {
            token: Some(Secret::new("tok")),
            loopback: true,
            listen: None,
        };
        let mut h = HeaderMap::new();
        assert!(a.check_token(&h).is_some());
        h.insert("x-api-key", "tok".parse().unwrap());
        assert!(a.check_token(&h).is_none());
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer tok".parse().unwrap());
        assert!(a.check_token(&h).is_none());
        h.insert("authorization", "Bearer nope".parse().unwrap());
        assert!(a.check_token(&h).is_some());
        assert!(Access::default().check_token(&HeaderMap::new()).is_none());
    }
}
