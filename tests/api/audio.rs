//! Audio: `/v1/audio/transcriptions` (multipart) and `/v1/audio/speech` on OpenAI
//! and Deepgram models through the mock upstream, every response format, BYOK,
//! speech streamed before the upstream finishes, usage in seconds and
//! characters, and every bad input with its documented error.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tollgate::metering::UsageEvent;
use tollgate::mock_upstream::speech_wav;

use crate::common::*;

const DEEPGRAM_KEY: &str = "test-deepgram-key";
const CALLER_KEY: &str = "dg-caller-own-key";

/// A gateway whose Deepgram upstream is the mock (its root, like Anthropic's).
async fn gateway() -> Gateway {
    Gateway::start_with(|c| {
        c.providers.deepgram.base_url = c.providers.anthropic.base_url.clone();
        c.providers.deepgram.api_key = DEEPGRAM_KEY.into();
    })
    .await
}

/// A real PCM WAV of `seconds` (8 kHz, 16-bit mono) with varying samples.
fn wav(seconds: u32, seed: u8) -> Vec<u8> {
    speech_wav(&format!("{seed} ").repeat((seconds * 20) as usize))
}

/// A file part: name, content type, bytes.
type File<'a> = (&'a str, &'a str, &'a [u8]);

/// A multipart body: text fields, then `file` (when given) with its type.
fn multipart(fields: &[(&str, &str)], file: Option<File<'_>>) -> (String, Vec<u8>) {
    let b = "test-boundary-5d2c";
    let mut out = Vec::new();
    for (k, v) in fields {
        out.extend_from_slice(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, ct, data)) = file {
        out.extend_from_slice(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n").as_bytes(),
        );
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), out)
}

async fn transcribe(
    gw: &Gateway,
    key: &str,
    headers: &[(&str, &str)],
    fields: &[(&str, &str)],
    file: Option<File<'_>>,
) -> reqwest::Response {
    let (ct, body) = multipart(fields, file);
    let mut req = gw
        .client
        .post(gw.url("/v1/audio/transcriptions"))
        .bearer_auth(key)
        .header("content-type", ct)
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

async fn last_request(gw: &Gateway) -> Value {
    gw.mock
        .requests()
        .await
        .last()
        .cloned()
        .expect("a request upstream")
}

async fn usage(gw: &Gateway, res: &reqwest::Response) -> UsageEvent {
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    eventually(Duration::from_secs(10), "the usage row", || async {
        let rows = gw
            .state()
            .store()
            .usage_events_for_request(&rid)
            .await
            .unwrap();
        rows.into_iter().next()
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_response_format_on_both_providers_says_the_same() {
    let gw = gateway().await;
    let key = gw.key().await;
    let audio = wav(5, 7);
    let file = Some(("clip.wav", "audio/wav", audio.as_slice()));
    let mut seen: Vec<(String, String, String)> = Vec::new();
    for model in ["whisper-1", "nova-3"] {
        for format in ["json", "text", "srt", "vtt", "verbose_json"] {
            let res = transcribe(
                &gw,
                &key,
                &[],
                &[("model", model), ("response_format", format)],
                file,
            )
            .await;
            assert_eq!(res.status(), 200, "{model} {format}");
            let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
            let body = res.text().await.unwrap();
            seen.push((model.into(), format.into(), body.clone()));
            match format {
                "json" => {
                    assert!(ct.starts_with("application/json"), "{ct}");
                    let v: Value = serde_json::from_str(&body).unwrap();
                    let text = v["text"].as_str().unwrap();
                    assert_eq!(text.split(' ').count(), 10, "{model}: {text}");
                    assert_eq!(text.matches('.').count(), 2, "two sentences: {text}");
                }
                "text" => assert!(ct.starts_with("text/plain"), "{ct}"),
                "srt" => {
                    assert!(body.starts_with("1\n00:00:00,000 --> 00:00:0"), "{body}");
                    assert!(body.contains("\n\n2\n"), "two cues: {body}");
                }
                "vtt" => {
                    assert!(ct.starts_with("text/vtt"), "{ct}");
                    assert!(body.starts_with("WEBVTT\n\n00:00:00.000 --> "), "{body}");
                }
                _ => {
                    let v: Value = serde_json::from_str(&body).unwrap();
                    assert_eq!(v["duration"], 5.0, "{model}: {v}");
                    assert_eq!(v["segments"].as_array().unwrap().len(), 2, "{v}");
                    assert_eq!(v["words"].as_array().unwrap().len(), 10, "{v}");
                    assert_eq!(v["segments"][0]["start"], 0.0);
                    assert!(v["segments"][1]["end"].as_f64().unwrap() <= 5.0);
                }
            }
        }
        let sent = last_request(&gw).await;
        match model {
            "nova-3" => {
                assert_eq!(sent["path"], "/v1/listen");
                assert_eq!(sent["query_params"]["model"], "nova-3");
                assert_eq!(
                    sent["headers"]["authorization"],
                    format!("Token {DEEPGRAM_KEY}")
                );
                assert_eq!(sent["headers"]["content-type"], "audio/wav");
                assert_eq!(
                    sent["headers"]["content-length"],
                    audio.len().to_string(),
                    "the raw audio is the body"
                );
            }
            _ => {
                assert_eq!(sent["path"], "/v1/audio/transcriptions");
                assert_eq!(
                    sent["headers"]["authorization"],
                    format!("Bearer {UPSTREAM_KEY}")
                );
                assert!(
                    sent["headers"]["content-type"]
                        .as_str()
                        .unwrap()
                        .starts_with("multipart/form-data; boundary=")
                );
            }
        }
    }
    // The same file gives the same transcript whichever provider served it, in
    // every format but verbose_json's provider-specific extras.
    for format in ["json", "text", "srt", "vtt"] {
        let by = |m: &str| {
            seen.iter()
                .find(|(model, f, _)| model == m && f == format)
                .map(|(_, _, b)| b.clone())
                .unwrap()
        };
        let (openai, deepgram) = (by("whisper-1"), by("nova-3"));
        if format == "json" {
            let (o, d): (Value, Value) = (
                serde_json::from_str(&openai).unwrap(),
                serde_json::from_str(&deepgram).unwrap(),
            );
            assert_eq!(o["text"], d["text"]);
            assert_eq!(d["usage"], json!({"type": "duration", "seconds": 5}));
        } else {
            assert_eq!(openai, deepgram, "{format}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_prefixed_deepgram_models_and_language_reach_deepgram() {
    let gw = gateway().await;
    let key = gw.key().await;
    let audio = wav(2, 1);
    let res = transcribe(
        &gw,
        &key,
        &[],
        &[("model", "deepgram/nova-2"), ("language", "de")],
        Some(("a.wav", "application/octet-stream", &audio)),
    )
    .await;
    assert_eq!(res.status(), 200);
    let sent = last_request(&gw).await;
    assert_eq!(sent["query_params"]["model"], "nova-2");
    assert_eq!(sent["query_params"]["language"], "de");
    assert_eq!(
        sent["headers"]["content-type"], "audio/wav",
        "the type is read from the bytes when the part says octet-stream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn transcription_is_metered_in_audio_seconds_at_the_catalog_price() {
    let gw = gateway().await;
    let key = gw.key().await;
    let audio = wav(3, 2);
    for (model, micro_per_second) in [("nova-3", 0.0043 / 60.0), ("whisper-1", 0.006 / 60.0)] {
        let res = transcribe(
            &gw,
            &key,
            &[],
            &[("model", model)],
            Some(("a.wav", "audio/wav", &audio)),
        )
        .await;
        assert_eq!(res.status(), 200);
        let row = usage(&gw, &res).await;
        assert_eq!(row.input_tokens, 3, "{model}: 3 s of audio");
        assert_eq!(row.output_tokens, 0);
        assert_eq!(row.usage_source.as_str(), "reported");
        assert_eq!(row.endpoint, "/v1/audio/transcriptions");
        let expected = (3.0 * micro_per_second * 1e6_f64).round() as i64;
        assert!(
            (row.cost_micro_usd.unwrap() - expected).abs() <= 1,
            "{model}: {} vs {expected}",
            row.cost_micro_usd.unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn byok_deepgram_runs_on_the_callers_key_and_openai_byok_is_refused() {
    let gw = gateway().await;
    let key = gw.key().await;
    let audio = wav(1, 3);
    let byok = [
        ("x-byok-provider", "deepgram"),
        ("x-byok-api-key", CALLER_KEY),
    ];
    let res = transcribe(
        &gw,
        &key,
        &byok,
        &[("model", "nova-3")],
        Some(("a.wav", "audio/wav", &audio)),
    )
    .await;
    assert_eq!(res.status(), 200);
    let sent = last_request(&gw).await;
    assert_eq!(
        sent["headers"]["authorization"],
        format!("Token {CALLER_KEY}")
    );
    assert!(!sent.to_string().contains(DEEPGRAM_KEY));
    let row = usage(&gw, &res).await;
    assert!(row.byok);
    assert_eq!(row.charge_micro, 0);

    let res = gw
        .post(
            "/v1/audio/speech",
            &key,
            &byok,
            json!({"model": "aura-2-thalia-en", "input": "hello there", "voice": "x"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let _ = res.bytes().await.unwrap();
    let sent = last_request(&gw).await;
    assert_eq!(sent["path"], "/v1/speak");
    assert_eq!(
        sent["headers"]["authorization"],
        format!("Token {CALLER_KEY}")
    );

    let before = gw.mock.stats().await["requests"].clone();
    let openai = [
        ("x-byok-provider", "openai"),
        ("x-byok-api-key", CALLER_KEY),
    ];
    let res = transcribe(
        &gw,
        &key,
        &openai,
        &[("model", "whisper-1")],
        Some(("a.wav", "audio/wav", &audio)),
    )
    .await;
    expect_error(res, 400, "byok_not_supported").await;
    let res = gw
        .post(
            "/v1/audio/speech",
            &key,
            &openai,
            json!({"model": "tts-1", "input": "hi", "voice": "alloy"}),
        )
        .await;
    expect_error(res, 400, "byok_not_supported").await;
    assert_eq!(
        gw.mock.stats().await["requests"],
        before,
        "nothing went upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn speech_streams_before_the_upstream_finishes() {
    let gw = gateway().await;
    let key = gw.key().await;
    for (round, (model, format, ct, path)) in [
        ("tts-1", "wav", "audio/wav", "/v1/audio/speech"),
        ("aura-2-thalia-en", "wav", "audio/wav", "/v1/speak"),
        (
            "deepgram/aura-2-thalia-en",
            "mp3",
            "audio/mpeg",
            "/v1/speak",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let input = format!("round {round} one two three four five [[mock:hold]]");
        let res = gw
            .post(
                "/v1/audio/speech",
                &key,
                &[],
                json!({"model": model, "input": input, "voice": "alloy", "response_format": format}),
            )
            .await;
        assert_eq!(res.status(), 200, "{model}");
        assert_eq!(res.headers()["content-type"], ct, "{model} {format}");
        let mut stream = res.bytes_stream();
        let first = stream.next().await.unwrap().unwrap();
        assert!(first.starts_with(b"RIFF"), "the WAV's first bytes arrived");
        let stats = gw.mock.stats().await;
        assert_eq!(
            stats["streams_completed"], round,
            "the upstream has not finished while the caller holds the first bytes: {stats}"
        );
        assert_eq!(stats["streams_started"], round + 1, "{stats}");
        let released = gw
            .client
            .post(format!("{}/_mock/release", gw.mock.base))
            .send()
            .await
            .unwrap();
        assert_eq!(released.status(), 204);
        let mut all = first.to_vec();
        while let Some(chunk) = stream.next().await {
            all.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(
            all,
            speech_wav(&input),
            "the caller got exactly what the mock sent"
        );
        assert_eq!(gw.mock.stats().await["streams_completed"], round + 1);
        let sent = last_request(&gw).await;
        assert_eq!(sent["path"], path);
        if path == "/v1/speak" {
            assert_eq!(sent["query_params"]["model"], "aura-2-thalia-en");
            assert_eq!(sent["body"], json!({"text": input}));
            let encoding = if format == "wav" { "linear16" } else { "mp3" };
            assert_eq!(sent["query_params"]["encoding"], encoding);
        } else {
            assert_eq!(sent["body"]["input"], input.as_str());
            assert_eq!(sent["body"]["model"], "tts-1");
            assert_eq!(sent["body"]["response_format"], "wav");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn speech_formats_map_to_deepgram_and_usage_counts_characters() {
    let gw = gateway().await;
    let key = gw.key().await;
    for (format, ct, query) in [
        (
            "opus",
            "audio/opus",
            json!({"encoding": "opus", "container": "ogg"}),
        ),
        (
            "pcm",
            "audio/pcm",
            json!({"encoding": "linear16", "container": "none", "sample_rate": "24000"}),
        ),
        ("flac", "audio/flac", json!({"encoding": "flac"})),
        ("aac", "audio/aac", json!({"encoding": "aac"})),
    ] {
        let res = gw
            .post(
                "/v1/audio/speech",
                &key,
                &[],
                json!({"model": "aura-2-thalia-en", "input": "héllo wörld", "response_format": format}),
            )
            .await;
        assert_eq!(res.status(), 200, "{format}");
        assert_eq!(res.headers()["content-type"], ct);
        let row_res = res;
        let rid = row_res.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(row_res.bytes().await.unwrap(), speech_wav("héllo wörld"));
        let sent = last_request(&gw).await;
        for (k, v) in query.as_object().unwrap() {
            assert_eq!(&sent["query_params"][k], v, "{format} {k}");
        }
        let row = eventually(Duration::from_secs(10), "the usage row", || async {
            gw.state()
                .store()
                .usage_events_for_request(&rid)
                .await
                .unwrap()
                .into_iter()
                .next()
        })
        .await;
        assert_eq!(row.input_tokens, 11, "characters, not bytes");
        assert_eq!(
            row.cost_micro_usd,
            Some(330),
            "11 characters at $30 per million"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prepaid_account_without_balance_is_refused_before_the_upstream() {
    let gw = gateway().await;
    let res = gw
        .admin(
            Method::POST,
            "/admin/accounts",
            Some(json!({"name": "pp", "id": "pp"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = gw
        .admin(
            Method::PATCH,
            "/admin/accounts/pp",
            Some(json!({"currency": "USD", "billing_mode": "prepaid"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let key = gw.create_key(json!({"account_id": "pp"})).await;
    let audio = wav(2, 4);
    let res = transcribe(
        &gw,
        &key,
        &[],
        &[("model", "nova-3")],
        Some(("a.wav", "audio/wav", &audio)),
    )
    .await;
    expect_error(res, 402, "insufficient_balance").await;
    let res = gw
        .post(
            "/v1/audio/speech",
            &key,
            &[],
            json!({"model": "tts-1", "input": "hi", "voice": "alloy"}),
        )
        .await;
    expect_error(res, 402, "insufficient_balance").await;
    assert_eq!(gw.mock.stats().await["requests"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_uploads_get_documented_errors() {
    let gw = gateway().await;
    let key = gw.key().await;
    let audio = wav(1, 5);
    let ok = Some(("a.wav", "audio/wav", audio.as_slice()));
    type Case<'a> = (
        Vec<(&'a str, &'a str)>,
        Option<File<'a>>,
        u16,
        &'a str,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            vec![("model", "nova-3")],
            None,
            400,
            "missing_field",
            "file",
        ),
        (vec![], ok, 400, "missing_field", "model"),
        (
            vec![("model", "nova-3")],
            Some(("a.wav", "audio/wav", b"")),
            400,
            "invalid_field",
            "file",
        ),
        (
            vec![("model", "whisper-1")],
            Some(("a.txt", "text/plain", b"hello")),
            400,
            "invalid_field",
            "file",
        ),
        (
            vec![("model", "nova-3"), ("response_format", "diarized_json")],
            ok,
            400,
            "invalid_field",
            "response_format",
        ),
        (
            vec![("model", "nova-3"), ("temperature", "hot")],
            ok,
            400,
            "invalid_field",
            "temperature",
        ),
        (
            vec![("model", "no-such-model")],
            ok,
            400,
            "unknown_model",
            "",
        ),
    ];
    for (fields, file, status, code, param) in cases {
        let res = transcribe(&gw, &key, &[], &fields, file).await;
        let body = expect_error(res, status, code).await;
        if !param.is_empty() {
            assert_eq!(body["error"]["param"], param, "{body}");
        }
    }
    // Not multipart at all.
    let res = gw
        .post(
            "/v1/audio/transcriptions",
            &key,
            &[],
            json!({"model": "nova-3"}),
        )
        .await;
    let body = expect_error(res, 400, "invalid_field").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("multipart/form-data")
    );
    // Speech: empty input, missing input, unknown format, bad speed.
    for (body, code, param) in [
        (
            json!({"model": "tts-1", "input": "", "voice": "alloy"}),
            "invalid_field",
            "input",
        ),
        (
            json!({"model": "tts-1", "voice": "alloy"}),
            "missing_field",
            "input",
        ),
        (
            json!({"model": "tts-1", "input": "hi", "response_format": "ogg"}),
            "invalid_field",
            "response_format",
        ),
        (
            json!({"model": "tts-1", "input": "hi", "speed": 9}),
            "invalid_field",
            "speed",
        ),
    ] {
        let res = gw.post("/v1/audio/speech", &key, &[], body).await;
        let err = expect_error(res, 400, code).await;
        if code == "invalid_field" {
            assert_eq!(err["error"]["param"], param, "{err}");
        }
    }
    assert_eq!(
        gw.mock.stats().await["requests"],
        0,
        "no bad input went upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_over_the_limit_is_413_without_reading_it_all() {
    let gw = Gateway::start_with(|c| {
        c.server.max_body_bytes = 64 * 1024;
        c.providers.deepgram.base_url = c.providers.anthropic.base_url.clone();
        c.providers.deepgram.api_key = DEEPGRAM_KEY.into();
    })
    .await;
    let key = gw.key().await;
    // Declared too large: refused from the header alone.
    let big = vec![0u8; 100 * 1024];
    let res = transcribe(
        &gw,
        &key,
        &[],
        &[("model", "nova-3")],
        Some(("a.wav", "audio/wav", &big)),
    )
    .await;
    expect_error(res, 413, "body_too_large").await;
    // No length declared (chunked), and far more than the limit on offer: the
    // gateway answers 413 once the limit is passed; the caller's stream is not
    // drained to its end (it would never end).
    let (ct, head) = multipart(&[("model", "nova-3")], None);
    let head = head[..head.len() - "--test-boundary-5d2c--\r\n".len()].to_vec();
    let mut prefix = head;
    prefix.extend_from_slice(
        b"--test-boundary-5d2c\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n",
    );
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = sent.clone();
    let endless = futures_util::stream::iter(
        std::iter::once(prefix).chain(std::iter::repeat(vec![0u8; 8 * 1024])),
    )
    .map(move |chunk| {
        counter.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
        Ok::<_, std::io::Error>(chunk)
    });
    let res = gw
        .client
        .post(gw.url("/v1/audio/transcriptions"))
        .bearer_auth(&key)
        .header("content-type", ct)
        .body(reqwest::Body::wrap_stream(endless))
        .send()
        .await;
    match res {
        Ok(res) => {
            expect_error(res, 413, "body_too_large").await;
        }
        // The server may close the connection while the client still writes.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    assert!(
        sent.load(std::sync::atomic::Ordering::Relaxed) < 64 * 1024 * 1024,
        "the upload was cut off, not read to the end"
    );
    assert_eq!(gw.mock.stats().await["requests"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_that_stops_arriving_is_408_body_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = Gateway::start_with(|c| {
        c.server.body_read_timeout_ms = 500;
        c.providers.deepgram.base_url = c.providers.anthropic.base_url.clone();
        c.providers.deepgram.api_key = DEEPGRAM_KEY.into();
    })
    .await;
    let key = gw.key().await;
    let addr = gw.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (ct, part) = multipart(&[("model", "nova-3")], None);
    // The head promises more than is ever sent.
    let head = format!(
        "POST /v1/audio/transcriptions HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {key}\r\n\
         content-type: {ct}\r\ncontent-length: 100000\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&part[..part.len() / 2]).await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("body_timeout") {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "an answer before the connection closed");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"code\":\"body_timeout\""), "{text}");
    assert_eq!(gw.mock.stats().await["requests"], 0);
}
