//! DNS rebinding: a page on `evil.example` whose name is re-pointed at 127.0.0.1 becomes, to the
//! browser, the same origin as a visitor's local master. Its requests then carry
//! `Origin: http://evil.example:8000` and `Host: evil.example:8000`, which match each other, so the
//! same-origin and JSON-only rules let them through.
//!
//! A name can be rebound, an address cannot: a request that comes from a page (it carries
//! `Origin`) must name the master by an IP address, by `localhost` (browsers resolve `*.localhost`
//! to loopback themselves, without asking DNS), or by a name the operator allowed with
//! `--allow-host`. Requests without `Origin` (the CLI, miners, peers, a page's own plain `GET`s)
//! are not affected: no page can send a write or open a WebSocket without one.

use crate::api::AppError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Refuses, with a `403`, a page's request that names the master by a host it does not trust.
pub async fn refuse_rebound_names(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = &app.node.limits().allow_host;
    match untrusted_host(request.headers(), allowed) {
        None => next.run(request).await,
        Some(host) => AppError::new(
            StatusCode::FORBIDDEN,
            format!(
                "a page may reach this master by an IP address or localhost, not by the name \
                 '{host}'; to serve the page under that name, start the master with \
                 --allow-host {host}"
            ),
        )
        .into_response(),
    }
}

/// The host a page's request names, when it is not one the master trusts.
fn untrusted_host(headers: &HeaderMap, allowed: &[String]) -> Option<String> {
    if !headers.contains_key(header::ORIGIN) {
        return None;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let name = strip_port(host);
    let trusted = name.parse::<std::net::IpAddr>().is_ok()
        || is_localhost(name)
        || allowed
            .iter()
            .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(name));
    (!trusted).then(|| name.to_string())
}

/// `name:port` → `name`; `[v6]:port` and `[v6]` → `v6`.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

fn is_localhost(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(origin: Option<&str>, host: Option<&str>, allowed: &[&str]) -> Option<String> {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().unwrap());
        }
        if let Some(host) = host {
            headers.insert(header::HOST, host.parse().unwrap());
        }
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        untrusted_host(&headers, &allowed)
    }

    #[test]
    fn addresses_and_localhost_are_trusted() {
        let page = Some("http://x");
        for host in [
            "127.0.0.1:8000",
            "192.0.2.7",
            "[::1]:8000",
            "[2001:db8::1]",
            "localhost:8000",
            "LocalHost",
            "node.localhost:8000",
            "localhost.",
        ] {
            assert_eq!(check(page, Some(host), &[]), None, "{host}");
        }
    }

    #[test]
    fn a_page_naming_another_host_is_refused_unless_allowed() {
        let page = Some("http://evil.example:8000");
        assert_eq!(
            check(page, Some("evil.example:8000"), &[]),
            Some("evil.example".into())
        );
        assert_eq!(
            check(page, Some("localhost.evil.example"), &[]),
            Some("localhost.evil.example".into())
        );
        assert_eq!(check(page, None, &[]), Some(String::new()));
        assert_eq!(
            check(page, Some("Node.Example:8000"), &["node.example"]),
            None
        );
        assert_eq!(check(page, Some("any.example"), &["*"]), None);
    }

    #[test]
    fn requests_without_origin_are_not_checked() {
        assert_eq!(check(None, Some("evil.example:8000"), &[]), None);
    }
}
