//! Adapter conformance: the same cases against every `providers::Adapter` (OpenAI-
//! compatible, Anthropic, Gemini), straight at the mock upstream: a plain answer,
//! a stream, upstream error statuses mapped the same way, the caller's BYOK key
//! reaching the provider instead of the gateway's, and the first-byte timeout.
//! A new adapter gets a row in `DIALECTS` and must pass every case.

use serde_json::{Value, json};
use tollgate::config::Config;
use tollgate::providers::{Account, AnthropicHeaders, Call, Operation, UpstreamError, Upstreams};
use tollgate::routing::ProviderKind;
use tollgate::routing::byok::Byok;
use tollgate::secret::Secret;

use crate::common::*;

const CALLER_KEY: &str = "sk-conformance-caller-key";

/// (provider, model, the header that carries the key, how the gateway key looks in it)
const DIALECTS: &[(ProviderKind, &str, &str, &str)] = &[
    (
        ProviderKind::OpenAi,
        "gpt-4o-mini",
        "authorization",
        UPSTREAM_KEY,
    ),
    (
        ProviderKind::Anthropic,
        "claude-haiku-4-5",
        "x-api-key",
        ANTHROPIC_UPSTREAM_KEY,
    ),
    (
        ProviderKind::Gemini,
        "gemini-2.5-flash",
        "x-goog-api-key",
        GEMINI_UPSTREAM_KEY,
    ),
];

/// A chat request in `provider`'s own dialect.
fn body(provider: ProviderKind, model: &str, text: &str, stream: bool) -> bytes::Bytes {
    let v = match provider {
        ProviderKind::Anthropic => json!({"model": model, "max_tokens": 32, "stream": stream,
            "messages": [{"role": "user", "content": text}]}),
        ProviderKind::Gemini => json!({"contents": [{"role": "user", "parts": [{"text": text}]}]}),
        _ => json!({"model": model, "stream": stream,
            "messages": [{"role": "user", "content": text}]}),
    };
    bytes::Bytes::from(v.to_string())
}

async fn send(
    upstreams: &Upstreams,
    provider: ProviderKind,
    model: &str,
    text: &str,
    stream: bool,
    account: Account<'_>,
) -> Result<tollgate::providers::UpstreamResponse, UpstreamError> {
    upstreams
        .adapter(provider)
        .expect("an adapter for every chat provider")
        .send(Call {
            operation: Operation::Chat { stream },
            model,
            body: body(provider, model, text, stream),
            account,
            headers: &AnthropicHeaders::default(),
        })
        .await
}

fn upstreams(config: &Config) -> Upstreams {
    Upstreams::new(config).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_adapter_answers_plain_and_streamed() {
    let gw = Gateway::start().await;
    let up = upstreams(&gw.config);
    for &(provider, model, _, _) in DIALECTS {
        let res = send(&up, provider, model, "say hi", false, Account::Gateway)
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert_eq!(res.status, 200, "{provider}");
        assert!(!res.is_event_stream(), "{provider}");
        let v: Value = res.json(1 << 20).await.unwrap();
        assert!(v.to_string().contains("say hi"), "{provider} echoes: {v}");

        let res = send(&up, provider, model, "say hi", true, Account::Gateway)
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert!(res.is_event_stream(), "{provider} streams");
        let text = String::from_utf8(res.read_whole(1 << 20).await.unwrap()).unwrap();
        assert!(text.contains("data:"), "{provider}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_adapter_maps_upstream_error_statuses_alike() {
    let gw = Gateway::start().await;
    let up = upstreams(&gw.config);
    for &(provider, model, _, _) in DIALECTS {
        // The provider's status is kept, except that a refusal of the gateway's own
        // key is the operator's problem (502), never the caller's 401.
        for (injected, status) in [(429, 429), (400, 400), (500, 500), (503, 503), (401, 502)] {
            let text = format!("[[mock:status={injected}]]");
            let Err(e) = send(&up, provider, model, &text, false, Account::Gateway).await else {
                panic!("{provider}: {injected} must be an error");
            };
            assert_eq!(e.status().as_u16(), status, "{provider} {injected}: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_adapter_sends_the_callers_byok_key_not_the_gateways() {
    let gw = Gateway::start().await;
    let up = upstreams(&gw.config);
    for &(provider, model, header, gateway_key) in DIALECTS {
        let byok = Byok {
            provider,
            api_key: Secret::new(CALLER_KEY.to_owned()),
            api_base: None,
            api_version: None,
        };
        send(&up, provider, model, "hi", false, Account::Caller(&byok))
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        let sent = gw.mock.requests().await;
        let headers = &sent.last().unwrap()["headers"];
        let value = headers[header].as_str().unwrap_or_default();
        assert!(value.contains(CALLER_KEY), "{provider}: {headers}");
        assert!(
            !headers.to_string().contains(gateway_key),
            "{provider}: the gateway key went upstream: {headers}"
        );

        send(&up, provider, model, "hi", false, Account::Gateway)
            .await
            .unwrap();
        let sent = gw.mock.requests().await;
        let value = sent.last().unwrap()["headers"][header].clone();
        assert!(
            value.as_str().unwrap_or_default().contains(gateway_key),
            "{provider}: {value}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_adapter_times_out_waiting_for_the_first_byte() {
    let gw = Gateway::start_with(|c| c.upstream.first_byte_timeout_ms = 150).await;
    let up = upstreams(&gw.config);
    for &(provider, model, _, _) in DIALECTS {
        let Err(e) = send(
            &up,
            provider,
            model,
            "[[mock:delay_ms=3000]]",
            false,
            Account::Gateway,
        )
        .await
        else {
            panic!("{provider}: a slow upstream must time out");
        };
        assert!(
            matches!(e, UpstreamError::Timeout { .. }),
            "{provider}: {e}"
        );
        assert_eq!(e.status().as_u16(), 504, "{provider}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_provider_has_an_adapter_and_deepgram_serves_audio_only() {
    let gw = Gateway::start().await;
    let up = upstreams(&gw.config);
    let deepgram = up
        .adapter(ProviderKind::Deepgram)
        .expect("Deepgram has an adapter");
    assert_eq!(deepgram.dialect(), tollgate::routing::Dialect::Deepgram);
    let chat = send(
        &up,
        ProviderKind::Deepgram,
        "nova-3",
        "hi",
        false,
        Account::Gateway,
    )
    .await;
    assert!(
        matches!(chat, Err(UpstreamError::Unsupported { .. })),
        "Deepgram has no chat"
    );
    for p in [
        ProviderKind::DeepSeek,
        ProviderKind::Qwen,
        ProviderKind::Moonshot,
        ProviderKind::MiniMax,
    ] {
        assert!(up.adapter(p).is_ok(), "{p} is OpenAI-compatible data");
    }
}
