//! The page: the repository's `web/` folder (with `web/pkg/` and `web/pkg-scalar/` from `make wasm`)
//! embedded at build time.

use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "../web/"]
#[allow_missing = true]
struct Web;

/// Shown at `/` when the build had no `web/index.html`.
const NO_PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>bbchain</title></head>\
<body><h1>bbchain master</h1><p>This build has no web page (web/index.html was missing at build time). \
The API is at <a href=\"/api/status\">/api/status</a>.</p></body></html>";

/// Serves `web/<path>`, `index.html` for folders, with the right content type.
pub async fn static_file(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() || path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_string()
    };
    match Web::get(&path) {
        Some(file) => ([(header::CONTENT_TYPE, content_type(&path))], file.data).into_response(),
        None if path == "index.html" => Html(NO_PAGE).into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// What the page may load and run: only its own scripts (and their WebAssembly), styles, images
/// and connections to this master, no inline script, no framing by other sites. A data entry that
/// somehow ended up as markup could still run nothing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
connect-src 'self'; img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// Adds the page's [`CONTENT_SECURITY_POLICY`] and `X-Content-Type-Options: nosniff` to every
/// answer, so a browser never guesses a type (a data entry served as JSON is never run as script).
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    response
}

/// The content type for a file name; browsers only stream-compile wasm served as `application/wasm`.
fn content_type(path: &str) -> String {
    if path.ends_with(".wasm") {
        "application/wasm".to_string()
    } else {
        mime_guess::from_path(path)
            .first_or_octet_stream()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::content_type;

    #[test]
    fn content_types_fit_the_page_files() {
        assert_eq!(
            content_type("pkg/bbchain_miner_wasm_bg.wasm"),
            "application/wasm"
        );
        assert_eq!(content_type("index.html"), "text/html");
        assert_eq!(content_type("js/worker.js"), "text/javascript");
        assert_eq!(content_type("style.css"), "text/css");
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
    }
}
