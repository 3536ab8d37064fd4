//! Streaming: events pass through as they arrive, a client leaving stops the
//! upstream, and a broken upstream stream ends in an error event, not a fake finish.

use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;

use crate::common::*;

fn stream_body(text: &str) -> Value {
    json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": text}]})
}

/// Reads SSE `data:` payloads from a response until the stream ends.
async fn data_events(res: reqwest::Response) -> (Vec<String>, bool) {
    let mut buf = String::new();
    let mut events = Vec::new();
    let mut stream = res.bytes_stream();
    let mut clean = true;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => buf.push_str(std::str::from_utf8(&c).unwrap()),
            Err(_) => {
                clean = false;
                break;
            }
        }
    }
    for block in buf.split("\n\n") {
        if let Some(data) = block.strip_prefix("data: ") {
            events.push(data.to_owned());
        }
    }
    (events, clean)
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_passes_through_with_done() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = gw.chat(&key, stream_body("one two three")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert_eq!(res.headers()["cache-control"], "no-cache");
    let (events, clean) = data_events(res).await;
    assert!(clean);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let text: String = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "Mock reply to: one two three");
}

#[tokio::test(flavor = "multi_thread")]
async fn first_event_reaches_the_client_before_the_upstream_finishes() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    // 20 words, 150 ms apart: the upstream needs ~3 s to finish.
    let res = gw
        .chat(
            &key,
            stream_body("[[mock:words=20]] [[mock:chunk_delay_ms=150]]"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut stream = res.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "), "{first:?}");
    // If the gateway buffered, the upstream would be done before we saw a byte.
    let stats = gw.mock.stats().await;
    assert_eq!(stats["streams_started"], 1);
    assert_eq!(
        stats["streams_completed"], 0,
        "upstream already finished: the gateway buffered"
    );
    // Events keep arriving as separate reads while the upstream is still going.
    let second = stream.next().await.unwrap().unwrap();
    assert!(second.starts_with(b"data: "));
    assert_eq!(gw.mock.stats().await["streams_completed"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_disconnect_cancels_the_upstream_stream() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = gw
        .chat(
            &key,
            stream_body("[[mock:words=200]] [[mock:chunk_delay_ms=50]]"),
        )
        .await;
    let mut stream = res.bytes_stream();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    let stats = eventually(
        Duration::from_secs(10),
        "the mock to see the stream cancelled",
        || async {
            let s = gw.mock.stats().await;
            (s["streams_cancelled"] == 1).then_some(s)
        },
    )
    .await;
    assert_eq!(stats["streams_completed"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_drop_mid_stream_ends_with_an_error_event_and_no_done() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = gw
        .chat(&key, stream_body("[[mock:drop_after=3]] [[mock:words=10]]"))
        .await;
    assert_eq!(res.status(), 200);
    let (events, _) = data_events(res).await;
    assert!(events.len() >= 2, "{events:?}");
    assert!(
        !events.iter().any(|e| e == "[DONE]"),
        "a broken stream must not look finished"
    );
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_error", "{last}");
    // Everything before the error is intact JSON chunks.
    for e in &events[..events.len() - 1] {
        let v: Value = serde_json::from_str(e).unwrap();
        assert_eq!(v["object"], "chat.completion.chunk");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_upstream_mid_stream_hits_the_idle_timeout() {
    let gw = Gateway::start_with(|c| c.upstream.idle_timeout_ms = 300).await;
    let key = gw.key().await;
    let res = gw
        .chat(
            &key,
            stream_body("[[mock:words=5]] [[mock:chunk_delay_ms=2000]]"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (events, _) = data_events(res).await;
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_timeout", "{last}");
}
