//! OpenAI embeddings ⇄ Gemini `embedContent` / `batchEmbedContents`.

use serde_json::json;

use crate::translate::gemini::{
    GeminiEmbedRequest, embeddings_request_to_gemini, gemini_embeddings,
};

const MODEL_PATH: &str = "models/gemini-embedding-001";

#[test]
fn one_string_is_a_single_embed_content() {
    let req = json!({"model": "emb", "input": "hello", "encoding_format": "float", "user": "u"});
    assert_eq!(
        embeddings_request_to_gemini(&req, MODEL_PATH).unwrap(),
        GeminiEmbedRequest::Single(json!({"content": {"parts": [{"text": "hello"}]}}))
    );
}

#[test]
fn an_array_is_a_batch_naming_the_model_in_each_request() {
    let req = json!({"model": "emb", "input": ["a", "b"], "dimensions": 256});
    assert_eq!(
        embeddings_request_to_gemini(&req, MODEL_PATH).unwrap(),
        GeminiEmbedRequest::Batch(json!({"requests": [
            {"model": MODEL_PATH, "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 256},
            {"model": MODEL_PATH, "content": {"parts": [{"text": "b"}]}, "outputDimensionality": 256},
        ]}))
    );
    // One element is still a batch: the caller asked for a list.
    let req = json!({"input": ["a"]});
    assert!(matches!(
        embeddings_request_to_gemini(&req, MODEL_PATH).unwrap(),
        GeminiEmbedRequest::Batch(_)
    ));
    let req = json!({"input": "a", "dimensions": 8});
    assert_eq!(
        embeddings_request_to_gemini(&req, MODEL_PATH).unwrap(),
        GeminiEmbedRequest::Single(
            json!({"content": {"parts": [{"text": "a"}]}, "outputDimensionality": 8})
        )
    );
}

#[test]
fn token_ids_and_bad_inputs_are_refused() {
    for (input, field) in [
        (json!([1, 2, 3]), "input"),
        (json!([[1, 2], [3]]), "input"),
        (json!(["a", [1]]), "input"),
        (json!(5), "input"),
        (json!([]), "input"),
        (json!(""), "input"),
        (json!(["a", ""]), "input[1]"),
        (json!(["a", {"text": "b"}]), "input[1]"),
        (json!(null), "input"),
    ] {
        let err = embeddings_request_to_gemini(&json!({ "input": input }), MODEL_PATH).unwrap_err();
        assert_eq!(err.field, field, "{input}");
    }
    let err = embeddings_request_to_gemini(&json!([1, 2]), MODEL_PATH).unwrap_err();
    assert_eq!(err.field, "body");
    let token_err = embeddings_request_to_gemini(&json!({"input": [1]}), MODEL_PATH).unwrap_err();
    assert!(
        token_err.message.contains("token ids"),
        "{}",
        token_err.message
    );
    for dimensions in [json!(0), json!(-1), json!("8")] {
        let req = json!({"input": "a", "dimensions": dimensions});
        let err = embeddings_request_to_gemini(&req, MODEL_PATH).unwrap_err();
        assert_eq!(err.field, "dimensions");
    }
}

#[test]
fn responses_give_the_vectors_in_order() {
    let single = json!({"embedding": {"values": [0.25, -1, 0.5]}});
    assert_eq!(
        gemini_embeddings(&single).unwrap(),
        vec![vec![0.25, -1.0, 0.5]]
    );
    let batch = json!({"embeddings": [{"values": [1.0]}, {"values": [2.0, 3.0]}]});
    assert_eq!(
        gemini_embeddings(&batch).unwrap(),
        vec![vec![1.0], vec![2.0, 3.0]]
    );
    assert_eq!(
        gemini_embeddings(&json!({"embeddings": []})).unwrap(),
        Vec::<Vec<f32>>::new()
    );
}

#[test]
fn malformed_embed_responses_name_their_field() {
    for (resp, field) in [
        (json!([]), "body"),
        (json!({}), "body"),
        (json!({"embedding": []}), "embedding"),
        (json!({"embedding": {}}), "embedding.values"),
        (
            json!({"embedding": {"values": [1, "x"]}}),
            "embedding.values[1]",
        ),
        (json!({"embeddings": [{"values": [1]}, 2]}), "embeddings[1]"),
        (json!({"embeddings": "x"}), "embeddings"),
    ] {
        assert_eq!(gemini_embeddings(&resp).unwrap_err().field, field, "{resp}");
    }
}
