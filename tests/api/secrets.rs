//! Provider keys never reach the caller through upstream error text: a 401/403
//! body is replaced by a fixed message, and any other message has every piece of
//! 8+ characters of the key that was sent redacted, whole or cut, for each
//! provider and for the gateway's keys as well as a caller's BYOK key. The mock
//! echoes what it received (`[[mock:echo_key=…]]`), so these test the real bytes.

use serde_json::{Value, json};

use crate::common::*;

const OPENAI_KEY: &str = "sk-proj-T4kq9ZvB2xWmL7cR0pYd5sHnE8uJ3fGa6iKoQ1wX";
const ANTHROPIC_KEY: &str = "sk-ant-api03-Rm3Xc8Lq2Vw9Zp5Tn0Yb7Hd4Kf6Js1Ga";
const GEMINI_KEY: &str = "AIzaNOTREAL7bQ2xLm9Vc4Tz8Rp1Wn6Ys3Kd0Hf5Jg";
const CALLER_KEY: &str = "byok-caller-Hq7Zm2Xv9Lc4Tp8Rw1Ny6Ks3Bd0Gf5Ja";

/// Whether `text` holds any 8-character piece of `key` (case-insensitive).
fn leaks(text: &str, key: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let key = key.to_ascii_lowercase();
    (0..=key.len() - 8)
        .map(|i| &key[i..i + 8])
        .find(|piece| lower.contains(piece))
        .map(str::to_owned)
}

async fn gateway() -> Gateway {
    Gateway::start_with(|c| {
        c.providers.openai.api_key = OPENAI_KEY.into();
        c.providers.anthropic.api_key = ANTHROPIC_KEY.into();
        c.providers.gemini.api_key = GEMINI_KEY.into();
        // Only for the Azure-style case, which needs a base on the mock.
        c.byok.allow_http_base = true;
        c.byok.allow_private_base = true;
    })
    .await
}

/// One way to reach a provider: route, model, extra headers, the key that goes upstream.
struct Path {
    what: &'static str,
    route: &'static str,
    model: &'static str,
    headers: Vec<(&'static str, String)>,
    key: &'static str,
}

fn paths(mock_base: &str) -> Vec<Path> {
    let byok = |p: &'static str| {
        vec![
            ("x-byok-provider", p.to_owned()),
            ("x-byok-api-key", CALLER_KEY.to_owned()),
        ]
    };
    let mut azure = byok("openai");
    azure.push(("x-byok-api-base", mock_base.to_owned()));
    azure.push(("x-byok-api-version", "2024-06-01".to_owned()));
    vec![
        Path {
            what: "openai",
            route: "/v1/chat/completions",
            model: "gpt-4o-mini",
            headers: vec![],
            key: OPENAI_KEY,
        },
        Path {
            what: "anthropic",
            route: "/v1/messages",
            model: "claude-haiku-4-5",
            headers: vec![],
            key: ANTHROPIC_KEY,
        },
        Path {
            what: "anthropic translated",
            route: "/v1/chat/completions",
            model: "claude-haiku-4-5",
            headers: vec![],
            key: ANTHROPIC_KEY,
        },
        Path {
            what: "gemini translated",
            route: "/v1/chat/completions",
            model: "gemini-2.5-flash",
            headers: vec![],
            key: GEMINI_KEY,
        },
        Path {
            what: "byok openai",
            route: "/v1/chat/completions",
            model: "gpt-4o-mini",
            headers: byok("openai"),
            key: CALLER_KEY,
        },
        Path {
            what: "byok anthropic",
            route: "/v1/messages",
            model: "claude-haiku-4-5",
            headers: byok("anthropic"),
            key: CALLER_KEY,
        },
        Path {
            what: "byok gemini",
            route: "/v1/chat/completions",
            model: "gemini-2.5-flash",
            headers: byok("gemini"),
            key: CALLER_KEY,
        },
        Path {
            what: "byok azure",
            route: "/v1/chat/completions",
            model: "my-deployment",
            headers: azure,
            key: CALLER_KEY,
        },
    ]
}

async fn call(gw: &Gateway, key: &str, path: &Path, text: &str) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = path.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = json!({"model": path.model, "max_tokens": 16,
        "messages": [{"role": "user", "content": text}]});
    let res = gw.post(path.route, key, &headers, body).await;
    let status = res.status().as_u16();
    (status, res.json().await.expect("error body is JSON"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_key_echoed_in_an_error_is_redacted_for_every_provider() {
    let gw = gateway().await;
    let key = gw.key().await;
    for path in paths(&gw.mock.base) {
        for echo in ["full", "head:8", "head:20", "tail:8", "tail:16", "mid:12"] {
            let text = format!("hi [[mock:status=400]] [[mock:echo_key={echo}]]");
            let (status, body) = call(&gw, &key, &path, &text).await;
            let what = format!("{} echo_key={echo}: {body}", path.what);
            assert_eq!(status, 400, "{what}");
            let message = body["error"]["message"].as_str().expect("a message");
            assert!(message.contains("[redacted]"), "the echo came back: {what}");
            assert!(
                message.contains("the key you sent"),
                "the rest of the text is kept: {what}"
            );
            assert_eq!(leaks(&body.to_string(), path.key), None, "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_error_text_from_a_provider_is_never_passed_on() {
    let gw = gateway().await;
    let key = gw.key().await;
    for path in paths(&gw.mock.base) {
        for status in [401, 403] {
            let text = format!("hi [[mock:status={status}]] [[mock:echo_key=full]]");
            let (got, body) = call(&gw, &key, &path, &text).await;
            let what = format!("{} {status}: {body}", path.what);
            let message = body["error"]["message"].as_str().expect("a message");
            assert!(
                !message.contains("injected status"),
                "provider text passed on: {what}"
            );
            assert!(
                !message.contains("the key you sent"),
                "provider text passed on: {what}"
            );
            assert!(message.contains("refused"), "{what}");
            assert_eq!(leaks(&body.to_string(), path.key), None, "{what}");
            // Whose key it was decides the status: the caller's own key is the
            // caller's problem (passed on), the gateway's is a 502.
            let expected = if path.key == CALLER_KEY { status } else { 502 };
            assert_eq!(got, expected, "{what}");
        }
    }
}
