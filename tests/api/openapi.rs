//! `GET /openapi.json`: public, OpenAPI 3.1, and complete: every route the router
//! serves (by path and method) is documented, and every documented operation is
//! served. The paths come from `src/http/router.rs` itself and the methods from asking
//! the running router, so a route added without documentation fails here.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::common::*;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Every path literal routed in `src/http/router.rs` (`.route("/…"` and `gateway("/…"`).
fn declared_paths() -> BTreeSet<String> {
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/router.rs"))
            .unwrap();
    let mut paths = BTreeSet::new();
    for marker in [".route(", "gateway("] {
        for chunk in source.split(marker).skip(1) {
            let rest = chunk.trim_start();
            if let Some(lit) = rest.strip_prefix('"').and_then(|r| r.split('"').next())
                && lit.starts_with('/')
            {
                // axum's catch-all `{*rest}` is OpenAPI's `{rest}`.
                paths.insert(lit.replace("{*", "{"));
            }
        }
    }
    paths
}

/// `{id}` → a placeholder segment the router matches.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "x" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether the router serves `method` on `path`: anything but its 405 (and its
/// fallback 404 for unknown paths) means a route answered.
async fn served(gw: &Gateway, method: &str, path: &str) -> bool {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let res = gw
        .client
        .request(method, gw.url(&concrete(path)))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let fallback = status == 404
        && body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no such route"));
    status != 405 && !fallback
}

#[tokio::test(flavor = "multi_thread")]
async fn the_document_is_openapi_3_1_and_lists_every_route() {
    let gw = Gateway::start().await;
    let res = gw.client.get(gw.url("/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200, "public: no key needed");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = res.json().await.unwrap();

    // The 3.1 document shape.
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["x-api-key"]["name"], "x-api-key");
    assert_eq!(schemes["x-goog-api-key"]["name"], "x-goog-api-key");
    assert_eq!(
        schemes["alt-header"]["name"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        gw.config.keys.alt_header.as_str()
    );
    // Every $ref points at a schema that exists.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for chunk in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = chunk.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling $ref to {name}");
    }

    // Documented == served.
    let paths = doc["paths"].as_object().unwrap();
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(p, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(move |m| (p.clone(), (*m).to_owned()))
        })
        .collect();
    let declared = declared_paths();
    assert!(
        declared.len() >= 20,
        "read the routes of src/http/router.rs: {declared:?}"
    );
    let mut routed = BTreeSet::new();
    for path in &declared {
        for m in METHODS {
            if served(&gw, m, path).await {
                routed.insert((path.clone(), m.to_owned()));
            }
        }
    }
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes without documentation: {undocumented:?}"
    );
    let unserved: Vec<_> = documented.difference(&routed).collect();
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );

    // Each operation documents its errors in the documented shapes, under a
    // unique operationId.
    let mut operation_ids = BTreeSet::new();
    for (path, method) in &documented {
        let op = &paths[path][method];
        let id = op["operationId"].as_str().unwrap_or_default().to_owned();
        assert!(
            operation_ids.insert(id.clone()),
            "{method} {path}: operationId {id:?} twice"
        );
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path}: no success"
        );
        let public = ["/health", "/metrics", "/openapi.json"].contains(&path.as_str());
        if public {
            continue;
        }
        let expected: &[&str] = if path.starts_with("/admin") {
            &["400", "401", "403", "404", "413", "429", "500"]
        } else if path == "/v1/models" {
            &["401", "500"]
        } else if method == "get" && path.contains("/models/") || path == "/v1beta/models" {
            &["404", "500"]
        } else if path.starts_with("/v1/connections")
            || path.starts_with("/v1/execute")
            || path == "/v1/email/send"
        {
            // Not charged: no 402.
            &[
                "400", "401", "403", "404", "413", "429", "500", "502", "503", "504",
            ]
        } else if ["/auth/", "/keys", "/usage"]
            .iter()
            .any(|p| path.starts_with(p))
        {
            // End-user routes: no model, no balance, no upstream.
            &["400", "401", "500"]
        } else {
            &[
                "400", "401", "402", "403", "404", "413", "429", "500", "502", "503", "504",
            ]
        };
        let error_schema = if path.starts_with("/v1/messages") {
            "AnthropicError"
        } else if path.starts_with("/v1beta/") || (path == "/v1/models/{rest}" && method == "post")
        {
            "GeminiError"
        } else {
            "Error"
        };
        for status in expected {
            let schema = &responses
                .get(*status)
                .unwrap_or_else(|| panic!("{method} {path}: no {status}"))["content"]["application/json"]
                ["schema"]["$ref"];
            assert_eq!(
                schema.as_str(),
                Some(format!("#/components/schemas/{error_schema}").as_str()),
                "{method} {path} {status}"
            );
        }
    }
    // The key-taking operations require one of the four ways to present a key.
    let security = doc["security"].as_array().unwrap();
    assert_eq!(security.len(), 4);
    assert_eq!(paths["/health"]["get"]["security"], serde_json::json!([{}]));
    // Admin request bodies are the handlers' own types.
    let create = &schemas["CreateKey"]["properties"];
    for field in [
        "name",
        "scopes",
        "permissions",
        "excludePermissions",
        "ipWhitelist",
        "rateLimit",
        "environment",
    ] {
        assert!(create.get(field).is_some(), "CreateKey.{field}");
    }
}
