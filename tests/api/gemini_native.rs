//! Gemini's native routes (`/v1beta|v1/models/{m}:verb`): passed through to Gemini
//! models (path rewritten, key swapped), translated for GPT and Claude models
//! (streams and tool calls too), Gemini's error shape, scopes per verb, the
//! model list, and metering from `usageMetadata`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

const GEMINI: &str = "gemini-2.5-flash";
const GPT: &str = "gpt-4o-mini";
const CLAUDE: &str = "claude-haiku-4-5";

fn generate_body(text: &str) -> Value {
    json!({
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "contents": [{"role": "user", "parts": [{"text": text}]}],
        "generationConfig": {"maxOutputTokens": 40, "temperature": 0.2}
    })
}

async fn gpost(gw: &Gateway, path: &str, key: &str, body: &Value) -> reqwest::Response {
    gw.client
        .post(gw.url(path))
        .header("x-goog-api-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The `data:` JSON of each event of a Gemini stream (events end with `\r\n\r\n`).
async fn gemini_events(res: reqwest::Response) -> Vec<Value> {
    let text = res.text().await.unwrap().replace("\r\n", "\n");
    text.split("\n\n")
        .filter_map(|b| b.trim().strip_prefix("data: ").map(str::to_owned))
        .map(|d| serde_json::from_str(&d).unwrap())
        .collect()
}

fn answer_text(v: &Value) -> String {
    v["candidates"][0]["content"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["text"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_model_gets_the_callers_bytes_with_the_path_and_key_rewritten() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body = generate_body("Hello native");
    let res = gpost(
        &gw,
        &format!("/v1beta/models/{GEMINI}:generateContent"),
        &key,
        &body,
    )
    .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(answer_text(&v), "Mock reply to: Hello native");
    assert!(v["usageMetadata"]["promptTokenCount"].as_u64().unwrap() > 0);
    let reqs = gw.mock.requests().await;
    let sent = reqs.last().unwrap();
    assert_eq!(
        sent["path"],
        format!("/v1beta/models/{GEMINI}:generateContent")
    );
    assert_eq!(sent["headers"]["x-goog-api-key"], GEMINI_UPSTREAM_KEY);
    assert_eq!(sent["body"], body, "passed through unchanged");

    // `/v1` works the same; `models/` prefix in the model name too (SDK style).
    let res = gpost(
        &gw,
        &format!("/v1/models/{GEMINI}:generateContent"),
        &key,
        &body,
    )
    .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_stream_is_relayed_and_metered_from_usage_metadata() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let res = gpost(
        &gw,
        &format!("/v1beta/models/{GEMINI}:streamGenerateContent?alt=sse"),
        &key,
        &generate_body("one two three"),
    )
    .await;
    assert_eq!(res.status(), 200);
    let rid = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let chunks = gemini_events(res).await;
    let text: String = chunks.iter().map(answer_text).collect();
    assert_eq!(text, "Mock reply to: one two three");
    let reqs = gw.mock.requests().await;
    assert_eq!(
        reqs.last().unwrap()["path"],
        format!("/v1beta/models/{GEMINI}:streamGenerateContent")
    );
    let rows = eventually(Duration::from_secs(10), "usage row", || async {
        let rows = gw
            .state()
            .store()
            .usage_events_for_request(&rid)
            .await
            .unwrap();
        (!rows.is_empty()).then_some(rows)
    })
    .await;
    assert!(rows[0].input_tokens > 0 && rows[0].output_tokens > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn gpt_and_claude_models_are_translated_both_ways() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for (model, path) in [(GPT, "/v1/chat/completions"), (CLAUDE, "/v1/messages")] {
        let res = gpost(
            &gw,
            &format!("/v1beta/models/{model}:generateContent"),
            &key,
            &generate_body("Hi there"),
        )
        .await;
        assert_eq!(res.status(), 200, "{model}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(answer_text(&v), "Mock reply to: Hi there", "{model}: {v}");
        assert_eq!(v["candidates"][0]["finishReason"], "STOP");
        assert!(v["usageMetadata"]["totalTokenCount"].as_u64().unwrap() > 0);
        let reqs = gw.mock.requests().await;
        let sent = reqs.last().unwrap();
        assert_eq!(sent["path"], path, "{model}");
        let sent_body = &sent["body"];
        let has_system = sent_body["messages"][0]["role"] == "system"
            || sent_body["system"].to_string().contains("Be terse.");
        assert!(has_system, "{model}: system instruction kept: {sent_body}");
    }
    // The GPT body carries the generation config.
    let reqs = gw.mock.requests().await;
    let gpt = reqs
        .iter()
        .find(|r| r["path"] == "/v1/chat/completions")
        .unwrap();
    assert_eq!(gpt["body"]["max_tokens"], 40);
    assert_eq!(gpt["body"]["model"], GPT);
}

#[tokio::test(flavor = "multi_thread")]
async fn translated_streams_are_gemini_sse_for_gpt_and_claude() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    for model in [GPT, CLAUDE] {
        let res = gpost(
            &gw,
            &format!("/v1beta/models/{model}:streamGenerateContent?alt=sse"),
            &key,
            &generate_body("stream me please"),
        )
        .await;
        assert_eq!(res.status(), 200, "{model}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        let chunks = gemini_events(res).await;
        let text: String = chunks.iter().map(answer_text).collect();
        assert_eq!(text, "Mock reply to: stream me please", "{model}");
        let last = chunks.last().unwrap();
        assert_eq!(last["candidates"][0]["finishReason"], "STOP", "{model}");
        assert!(
            last["usageMetadata"]["promptTokenCount"].as_u64().unwrap() > 0,
            "{model}: {last}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_calls_round_trip_through_a_gpt_model() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let tools = json!([{"functionDeclarations": [{"name": "get_weather", "description": "Weather",
        "parameters": {"type": "OBJECT", "properties": {"location": {"type": "STRING"}}}}]}]);
    let body = json!({
        "contents": [{"role": "user", "parts": [{"text": "weather in Paris [[mock:tool_call]]"}]}],
        "tools": tools,
    });
    let res = gpost(
        &gw,
        &format!("/v1beta/models/{GPT}:generateContent"),
        &key,
        &body,
    )
    .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    let call = &v["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "get_weather", "{v}");
    assert!(call["args"].is_object());
    let reqs = gw.mock.requests().await;
    let sent = &reqs.last().unwrap()["body"];
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(
        sent["tools"][0]["function"]["parameters"]["properties"]["location"]["type"], "string",
        "Gemini's upper-case types become JSON Schema's"
    );

    // Second turn: the function response answers the call.
    let body = json!({
        "contents": [
            {"role": "user", "parts": [{"text": "weather in Paris"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": 21}}}]}
        ],
        "tools": tools,
    });
    let res = gpost(
        &gw,
        &format!("/v1beta/models/{GPT}:generateContent"),
        &key,
        &body,
    )
    .await;
    assert_eq!(res.status(), 200);
    let reqs = gw.mock.requests().await;
    let sent = &reqs.last().unwrap()["body"]["messages"];
    assert_eq!(sent[1]["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(sent[2]["role"], "tool");
    assert_eq!(sent[2]["tool_call_id"], sent[1]["tool_calls"][0]["id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_pass_through_to_gemini_and_translate_for_openai() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let one = json!({"content": {"parts": [{"text": "hello"}]}});
    let res = gpost(
        &gw,
        "/v1beta/models/gemini-embedding-001:embedContent",
        &key,
        &one,
    )
    .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert!(!v["embedding"]["values"].as_array().unwrap().is_empty());
    let reqs = gw.mock.requests().await;
    assert_eq!(
        reqs.last().unwrap()["path"],
        "/v1beta/models/gemini-embedding-001:embedContent"
    );

    let batch = json!({"requests": [
        {"model": "models/text-embedding-3-small", "content": {"parts": [{"text": "a"}]}},
        {"model": "models/text-embedding-3-small", "content": {"parts": [{"text": "b"}]}}
    ]});
    let res = gpost(
        &gw,
        "/v1beta/models/text-embedding-3-small:batchEmbedContents",
        &key,
        &batch,
    )
    .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["embeddings"].as_array().unwrap().len(), 2);
    assert!(!v["embeddings"][0]["values"].as_array().unwrap().is_empty());
    let reqs = gw.mock.requests().await;
    let sent = reqs.last().unwrap();
    assert_eq!(sent["path"], "/v1/embeddings");
    assert_eq!(sent["body"]["input"], json!(["a", "b"]));

    let res = gpost(
        &gw,
        "/v1beta/models/text-embedding-3-small:embedContent",
        &key,
        &one,
    )
    .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert!(!v["embedding"]["values"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn count_tokens_is_gemini_s_for_gemini_and_local_for_others() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    let body =
        json!({"contents": [{"role": "user", "parts": [{"text": "count these five words"}]}]});
    let res = gpost(
        &gw,
        &format!("/v1beta/models/{GEMINI}:countTokens"),
        &key,
        &body,
    )
    .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert!(v["totalTokens"].as_u64().unwrap() > 0);
    let reqs = gw.mock.requests().await;
    assert_eq!(
        reqs.last().unwrap()["path"],
        format!("/v1beta/models/{GEMINI}:countTokens")
    );
    let before = gw.mock.requests().await.len();
    let res = gpost(
        &gw,
        &format!("/v1beta/models/{GPT}:countTokens"),
        &key,
        &body,
    )
    .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    let n = v["totalTokens"].as_u64().unwrap();
    assert!((3..=10).contains(&n), "{n}");
    assert_eq!(gw.mock.requests().await.len(), before, "counted locally");
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_take_gemini_s_shape_and_scopes_follow_the_verb() {
    let gw = Gateway::start().await;
    let key = gw.key().await;
    // No key.
    let res = gw
        .client
        .post(gw.url(&format!("/v1beta/models/{GEMINI}:generateContent")))
        .json(&generate_body("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], 401);
    assert_eq!(v["error"]["status"], "UNAUTHENTICATED");
    // Unknown verb.
    let res = gpost(
        &gw,
        &format!("/v1beta/models/{GEMINI}:frobnicate"),
        &key,
        &json!({}),
    )
    .await;
    assert_eq!(res.status(), 404);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["status"], "NOT_FOUND");
    // No verb at all, under /v1: still Gemini's shape.
    let res = gpost(&gw, &format!("/v1/models/{GEMINI}"), &key, &json!({})).await;
    assert_eq!(res.status(), 404);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], 404);
    // Unknown model.
    let res = gpost(
        &gw,
        "/v1beta/models/no-such-model:generateContent",
        &key,
        &generate_body("x"),
    )
    .await;
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-model")
    );
    // Bad translation input for a GPT model: a 400 naming the field.
    let res = gpost(
        &gw,
        &format!("/v1beta/models/{GPT}:generateContent"),
        &key,
        &json!({"contents": []}),
    )
    .await;
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("contents"));

    // A chat-only key may generate but not embed; an embeddings key the reverse.
    let chat_only = gw.create_key(json!({"scopes": ["chat"]})).await;
    let res = gpost(
        &gw,
        "/v1beta/models/gemini-embedding-001:embedContent",
        &chat_only,
        &json!({"content": {"parts": [{"text": "x"}]}}),
    )
    .await;
    assert_eq!(res.status(), 403);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["status"], "PERMISSION_DENIED");
    let embed_only = gw.create_key(json!({"scopes": ["embeddings"]})).await;
    let res = gpost(
        &gw,
        &format!("/v1beta/models/{GEMINI}:generateContent"),
        &embed_only,
        &generate_body("x"),
    )
    .await;
    assert_eq!(res.status(), 403);
    let res = gpost(
        &gw,
        "/v1beta/models/gemini-embedding-001:embedContent",
        &embed_only,
        &json!({"content": {"parts": [{"text": "x"}]}}),
    )
    .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn model_list_and_model_get_use_gemini_s_shape() {
    let gw = Gateway::start().await;
    let res = gw
        .client
        .get(gw.url("/v1beta/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    let models = v["models"].as_array().unwrap();
    let flash = models
        .iter()
        .find(|m| m["name"] == format!("models/{GEMINI}"))
        .unwrap();
    assert!(
        flash["supportedGenerationMethods"]
            .as_array()
            .unwrap()
            .contains(&json!("generateContent"))
    );
    assert!(models.iter().any(|m| m["name"] == format!("models/{GPT}")));
    let res = gw
        .client
        .get(gw.url(&format!("/v1beta/models/{GEMINI}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["name"], format!("models/{GEMINI}"));
    let res = gw
        .client
        .get(gw.url("/v1beta/models/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["status"], "NOT_FOUND");
}
