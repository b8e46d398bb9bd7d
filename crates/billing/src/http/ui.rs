//! The web console (admin console and customer portal): static files compiled into
//! the binary, so a deployment is still one file. The console is a client of the same
//! JSON API as everything else; these handlers only serve its files.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// One file of `ui/`, compiled in: path under `/ui/`, content type, contents.
macro_rules! asset {
    ($path:literal, $kind:expr) => {
        ($path, $kind, include_str!(concat!("../../ui/", $path)))
    };
}

/// Every file of `ui/` (a unit test checks the list against the directory).
const ASSETS: &[(&str, &str, &str)] = &[
    asset!("index.html", HTML),
    asset!("app.css", CSS),
    asset!("icon.svg", SVG),
    asset!("js/admin/accounts.js", JS),
    asset!("js/admin/audit.js", JS),
    asset!("js/admin/customers.js", JS),
    asset!("js/admin/dashboard.js", JS),
    asset!("js/admin/index.js", JS),
    asset!("js/admin/invoices.js", JS),
    asset!("js/admin/license.js", JS),
    asset!("js/admin/plans.js", JS),
    asset!("js/admin/provision.js", JS),
    asset!("js/admin/queues.js", JS),
    asset!("js/admin/servers.js", JS),
    asset!("js/admin/tax.js", JS),
    asset!("js/admin/team.js", JS),
    asset!("js/api.js", JS),
    asset!("js/app.js", JS),
    asset!("js/auth.js", JS),
    asset!("js/billing-address.js", JS),
    asset!("js/charts.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/invoice-body.js", JS),
    asset!("js/plan-text.js", JS),
    asset!("js/portal/credentials.js", JS),
    asset!("js/portal/home.js", JS),
    asset!("js/portal/index.js", JS),
    asset!("js/portal/invoices.js", JS),
    asset!("js/portal/license.js", JS),
    asset!("js/portal/order.js", JS),
    asset!("js/portal/payment.js", JS),
    asset!("js/portal/profile.js", JS),
    asset!("js/security.js", JS),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// Only our own files run; nothing may frame the console (clickjacking) and the
/// API is the only place it talks to.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// `GET /`: the console.
pub async fn root() -> Redirect {
    Redirect::to("/ui/")
}

/// `GET /ui/`: the console's page.
pub async fn index(headers: HeaderMap) -> Response {
    asset("index.html", &headers)
}

/// `GET /favicon.ico`: browsers ask for it on every page, ours and the return pages.
pub async fn favicon(headers: HeaderMap) -> Response {
    asset("icon.svg", &headers)
}

/// `GET /ui/{*path}`: one of its files.
pub async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    asset(&path, &headers)
}

/// A strong validator per file (a hash of its contents), computed once.
fn etag(index: usize) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(_, _, body)| {
                format!(
                    "\"{}\"",
                    hex::encode(&Sha256::digest(body.as_bytes())[..12])
                )
            })
            .collect()
    });
    &tags[index]
}

fn asset(path: &str, request: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|(p, _, _)| *p == path) else {
        return ApiError::not_found("file").into_response();
    };
    let (_, kind, body) = ASSETS[index];
    let tag = etag(index);
    // The browser revalidates every time (an upgrade must not mix old and new files);
    // an unchanged file costs a 304 without a body.
    let unchanged = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, body).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(tag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_under_ui_is_served() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let mut on_disk = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("ui/ is readable") {
                let path = entry.expect("ui/ entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Ok(rel) = path.strip_prefix(&root) {
                    on_disk.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let mut served: Vec<String> = ASSETS.iter().map(|(p, _, _)| (*p).to_owned()).collect();
        served.sort();
        assert_eq!(on_disk, served, "ASSETS must list exactly the files of ui/");
    }

    #[test]
    fn the_page_preloads_every_module() {
        let index = ASSETS[0].2;
        for (path, kind, _) in ASSETS {
            if *kind == JS && *path != "js/app.js" {
                let link = format!("<link rel=\"modulepreload\" href=\"{path}\">");
                assert!(index.contains(&link), "index.html lacks {link}");
            }
        }
    }

    #[test]
    fn unknown_files_are_json_404s() {
        let response = asset("../Cargo.toml", &HeaderMap::new());
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn an_unchanged_file_is_a_304_and_a_changed_one_is_sent() {
        let first = asset("js/app.js", &HeaderMap::new());
        assert_eq!(first.status(), StatusCode::OK);
        let tag = first.headers()[header::ETAG].clone();
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, tag);
        let second = asset("js/app.js", &again);
        assert_eq!(second.status(), StatusCode::NOT_MODIFIED);
        assert!(second
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY));
        let mut stale = HeaderMap::new();
        stale.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"old\""));
        assert_eq!(asset("js/app.js", &stale).status(), StatusCode::OK);
    }
}
