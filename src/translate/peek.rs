//! Reading only what routing needs (`model`, `stream`) from a request body, borrowed,
//! and validating the shape of `messages` without copying it.
//!
//! The body is forwarded as bytes; when the upstream knows the model by another name
//! (`openai/gpt-4o-mini`, an alias) only the model string is spliced, at the offset
//! serde found it, so the rest of the body is never re-serialized.
//!
//! The same scan reads the fields the [`super::limits`] judge (tools, schemas,
//! message counts), so an oversized request is refused before it is routed, and
//! `stream_options` ([`StreamUsage`]), so asking a stream for its usage chunk is a
//! splice, not another parse of the body.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::anthropic::TranslateError;
use super::limits;

/// Why a body cannot be routed. Rendered by the caller as 400s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeekError {
    Json(String),
    Missing(&'static str),
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Over one of the [`super::limits`], at this JSON path.
    Limit(TranslateError),
}

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(borrow, default)]
    messages: Option<&'a RawValue>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
    #[serde(borrow, default)]
    prompt: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stream: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tools: Option<&'a RawValue>,
    #[serde(borrow, default)]
    functions: Option<&'a RawValue>,
    #[serde(borrow, default)]
    response_format: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stream_options: Option<&'a RawValue>,
    #[serde(borrow, default)]
    max_completion_tokens: Option<&'a RawValue>,
    #[serde(borrow, default)]
    max_tokens: Option<&'a RawValue>,
    #[serde(borrow, default)]
    max_output_tokens: Option<&'a RawValue>,
}

/// The output limit a body asks for, from its `max_completion_tokens`, else
/// `max_tokens`, else `max_output_tokens` (Responses), in that order. `None`
/// when it names none, or when one of them is not a whole number (the model's
/// default then applies; the provider judges the field).
fn output_limit(fields: [Option<&RawValue>; 3]) -> Option<u64> {
    let mut read = [None; 3];
    for (out, raw) in read.iter_mut().zip(fields) {
        match raw.map(RawValue::get) {
            None | Some("null") => {}
            Some(text) => *out = Some(text.parse::<u64>().ok()?),
        }
    }
    read.into_iter().flatten().next()
}

impl Fields<'_> {
    fn facts(&self) -> BodyFacts {
        BodyFacts {
            stream_usage: StreamUsage::from_raw(self.stream_options),
            max_output: output_limit([
                self.max_completion_tokens,
                self.max_tokens,
                self.max_output_tokens,
            ]),
        }
    }
}

/// What a body's `stream_options` says about OpenAI's stream usage chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamUsage {
    /// No `stream_options` at all (the usual case).
    #[default]
    Absent,
    /// `stream_options.include_usage` is `true`.
    Asked,
    /// `stream_options` is there without asking for usage.
    NotAsked,
}

impl StreamUsage {
    /// Whether the caller asked for the usage chunk itself.
    pub fn asked(self) -> bool {
        self == StreamUsage::Asked
    }

    /// Reads a whole body (one pass); for bodies no [`ChatPeek`] has seen.
    pub fn of(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Body<'a> {
            #[serde(borrow, default)]
            stream_options: Option<&'a RawValue>,
        }
        serde_json::from_slice::<Body>(body)
            .map(|b| Self::from_raw(b.stream_options))
            .unwrap_or_default()
    }

    fn from_raw(raw: Option<&RawValue>) -> Self {
        #[derive(Deserialize)]
        struct Opts {
            #[serde(default)]
            include_usage: Option<bool>,
        }
        match raw {
            None => StreamUsage::Absent,
            Some(r) => match serde_json::from_str::<Opts>(r.get()) {
                Ok(Opts {
                    include_usage: Some(true),
                }) => StreamUsage::Asked,
                _ => StreamUsage::NotAsked,
            },
        }
    }
}

/// Checks that a body whose model is named elsewhere (Gemini's path) is a JSON
/// object, reading its `stream_options` and output limit in the same pass (the
/// peek's own fields, all optional).
pub fn named_body(body: &[u8]) -> Result<BodyFacts, PeekError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(PeekError::Json("the body must be a JSON object".into()));
    }
    serde_json::from_slice::<Fields>(body)
        .map(|f| f.facts())
        .map_err(|_| PeekError::Json("the body must be a JSON object".into()))
}

/// What one pass over a body read for metering and streaming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BodyFacts {
    pub stream_usage: StreamUsage,
    /// The output limit the body asks for: `max_completion_tokens`, else
    /// `max_tokens`, else `max_output_tokens` (`output_limit`).
    pub max_output: Option<u64>,
}

/// What a body must carry besides `model`, per endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Chat completions and Anthropic messages: a non-empty `messages` array.
    Messages,
    /// Embeddings: `input`, a string or a non-empty array.
    Input,
    /// Legacy completions: `prompt`, a string or a non-empty array.
    Prompt,
    /// Image generation: a `prompt` string; `model` may be absent (OpenAI's default).
    ImagePrompt,
}

/// The model OpenAI uses for image generation when none is named.
pub const DEFAULT_IMAGE_MODEL: &str = "dall-e-2";

/// The routing view of a request body.
#[derive(Debug)]
pub struct ChatPeek<'a> {
    pub model: Cow<'a, str>,
    pub stream: bool,
    /// `stream_options` and the output limit, read in the same pass.
    pub facts: BodyFacts,
    /// Byte range of the `model` JSON value (quotes included) within the body, if
    /// the body names one.
    model_span: Option<(usize, usize)>,
}

impl<'a> ChatPeek<'a> {
    /// Peeks a chat-style body (`Shape::Messages`).
    pub fn parse(body: &'a [u8]) -> Result<Self, PeekError> {
        Self::parse_as(body, Shape::Messages)
    }

    pub fn parse_as(body: &'a [u8], shape: Shape) -> Result<Self, PeekError> {
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            None => {
                return Err(PeekError::Json(
                    "the body is empty; send a JSON object".into(),
                ));
            }
            Some(b'{') => {}
            Some(_) => return Err(PeekError::Json("the body must be a JSON object".into())),
        }
        let fields: Fields<'a> =
            serde_json::from_slice(body).map_err(|e| PeekError::Json(e.to_string()))?;

        let (model, model_span) = match fields.model {
            Some(raw_model) => {
                let model: Cow<'a, str> =
                    serde_json::from_str(raw_model.get()).map_err(|_| PeekError::Invalid {
                        field: "model",
                        message: "`model` must be a string, e.g. \"gpt-4o-mini\"".into(),
                    })?;
                if model.trim().is_empty() {
                    return Err(PeekError::Invalid {
                        field: "model",
                        message: "`model` must not be empty".into(),
                    });
                }
                // RawValue borrows from `body`, so its pointer lies inside it.
                let start = raw_model.get().as_ptr() as usize - body.as_ptr() as usize;
                (model, Some((start, start + raw_model.get().len())))
            }
            None if shape == Shape::ImagePrompt => (Cow::Borrowed(DEFAULT_IMAGE_MODEL), None),
            None => return Err(PeekError::Missing("model")),
        };

        match shape {
            Shape::Messages => {
                non_empty_array(fields.messages, "messages", "an array of message objects")?
            }
            Shape::Input => string_or_array(fields.input, "input")?,
            Shape::Prompt => string_or_array(fields.prompt, "prompt")?,
            Shape::ImagePrompt => {
                let prompt = fields.prompt.ok_or(PeekError::Missing("prompt"))?;
                if !prompt.get().starts_with('"') || prompt.get() == "\"\"" {
                    return Err(PeekError::Invalid {
                        field: "prompt",
                        message: "`prompt` must be a non-empty string".into(),
                    });
                }
            }
        }

        limits::check_fields(&limits::Bounded {
            messages: fields.messages,
            tools: fields.tools,
            functions: fields.functions,
            response_format: fields.response_format,
            input: fields.input,
        })
        .map_err(PeekError::Limit)?;

        let stream = match fields.stream.map(RawValue::get) {
            None | Some("null") => false,
            Some("true") => true,
            Some("false") => false,
            Some(_) => {
                return Err(PeekError::Invalid {
                    field: "stream",
                    message: "`stream` must be a boolean".into(),
                });
            }
        };

        Ok(ChatPeek {
            model,
            stream,
            facts: fields.facts(),
            model_span,
        })
    }

    /// `body` with the model replaced by `upstream_model`; the same bytes when equal.
    #[allow(
        clippy::expect_used,
        reason = "serializing a &str to a String cannot fail"
    )]
    pub fn with_model(&self, body: &Bytes, upstream_model: &str) -> Bytes {
        let Some((start, end)) = self.model_span.filter(|_| self.model != upstream_model) else {
            return body.clone();
        };
        let quoted = serde_json::to_string(upstream_model).expect("a string always serializes");
        let mut out = BytesMut::with_capacity(body.len() + quoted.len());
        out.extend_from_slice(&body[..start]);
        out.extend_from_slice(quoted.as_bytes());
        out.extend_from_slice(&body[end..]);
        out.freeze()
    }
}

fn non_empty_array(
    raw: Option<&RawValue>,
    field: &'static str,
    what: &str,
) -> Result<(), PeekError> {
    let text = raw.ok_or(PeekError::Missing(field))?.get();
    if !text.starts_with('[') {
        return Err(PeekError::Invalid {
            field,
            message: format!("`{field}` must be {what}"),
        });
    }
    if text[1..].trim_start().starts_with(']') {
        return Err(PeekError::Invalid {
            field,
            message: format!("`{field}` must not be empty"),
        });
    }
    Ok(())
}

fn string_or_array(raw: Option<&RawValue>, field: &'static str) -> Result<(), PeekError> {
    let text = raw.ok_or(PeekError::Missing(field))?.get();
    if text.starts_with('"') {
        return Ok(());
    }
    non_empty_array(raw, field, "a string or an array")
}

/// `body` asking for OpenAI's final usage chunk (`stream_options.include_usage`),
/// so streams can be metered from what the provider reports. `known` is what the
/// peek read of the caller's body (the model splice does not change it). Without
/// `stream_options` this is a splice after the opening brace; a `stream_options`
/// that does not ask (rare) has the body re-serialized.
pub fn with_stream_usage(body: &Bytes, known: StreamUsage) -> Bytes {
    match known {
        StreamUsage::Asked => body.clone(),
        StreamUsage::Absent => match body.iter().position(|b| *b == b'{') {
            Some(open) => {
                let mut out = BytesMut::with_capacity(body.len() + 40);
                out.extend_from_slice(&body[..=open]);
                out.extend_from_slice(br#""stream_options":{"include_usage":true}"#);
                let rest = &body[open + 1..];
                if rest.iter().any(|b| !b.is_ascii_whitespace() && *b != b'}') {
                    out.extend_from_slice(b",");
                }
                out.extend_from_slice(rest);
                out.freeze()
            }
            None => body.clone(),
        },
        StreamUsage::NotAsked => {
            let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(body) else {
                return body.clone();
            };
            let Some(obj) = v.as_object_mut() else {
                return body.clone();
            };
            let opts = obj
                .entry("stream_options")
                .or_insert_with(|| serde_json::json!({}));
            if !opts.is_object() {
                *opts = serde_json::json!({});
            }
            opts["include_usage"] = serde_json::Value::Bool(true);
            Bytes::from(serde_json::to_vec(&v).unwrap_or_else(|_| body.to_vec()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_model_and_stream() {
        let body =
            br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true}"#;
        let p = ChatPeek::parse(body).unwrap();
        assert_eq!(p.model, "gpt-4o-mini");
        assert!(p.stream);
    }

    #[test]
    fn the_output_limit_is_read_in_the_same_pass() {
        let limit = |fields: &str| {
            let body =
                format!(r#"{{"model":"m","messages":[{{"role":"user","content":"hi"}}]{fields}}}"#);
            let peeked = ChatPeek::parse(body.as_bytes()).unwrap().facts.max_output;
            let named = named_body(body.as_bytes()).unwrap().max_output;
            assert_eq!(peeked, named, "{body}");
            peeked
        };
        assert_eq!(limit(""), None);
        assert_eq!(limit(r#","max_tokens":7"#), Some(7));
        // OpenAI's newer name wins over the older one, whatever the order.
        assert_eq!(
            limit(r#","max_tokens":7,"max_completion_tokens":9"#),
            Some(9)
        );
        assert_eq!(limit(r#","max_output_tokens":11"#), Some(11));
        assert_eq!(
            limit(r#","max_tokens":null,"max_output_tokens":11"#),
            Some(11)
        );
        // Not a whole number: no limit is read at all (the model's default applies).
        assert_eq!(limit(r#","max_tokens":7.5"#), None);
        assert_eq!(limit(r#","max_tokens":"7""#), None);
        assert_eq!(limit(r#","max_tokens":-1,"max_completion_tokens":9"#), None);
    }

    #[test]
    fn each_bad_shape_has_its_error() {
        let cases: &[(&[u8], PeekError)] = &[
            (b"{not json", PeekError::Json(String::new())),
            (b"[1,2]", PeekError::Json(String::new())),
            (b"", PeekError::Json(String::new())),
            (br#"{"messages":[{}]}"#, PeekError::Missing("model")),
            (br#"{"model":"m"}"#, PeekError::Missing("messages")),
        ];
        for (body, want) in cases {
            let got = ChatPeek::parse(body).unwrap_err();
            assert_eq!(
                std::mem::discriminant(&got),
                std::mem::discriminant(want),
                "{:?}",
                String::from_utf8_lossy(body)
            );
            if let (PeekError::Missing(a), PeekError::Missing(b)) = (&got, want) {
                assert_eq!(a, b);
            }
        }
        for (body, field) in [
            (&br#"{"model":7,"messages":[{}]}"#[..], "model"),
            (br#"{"model":"","messages":[{}]}"#, "model"),
            (br#"{"model":"m","messages":"hi"}"#, "messages"),
            (br#"{"model":"m","messages":[ ]}"#, "messages"),
            (br#"{"model":"m","messages":[{}],"stream":"yes"}"#, "stream"),
        ] {
            match ChatPeek::parse(body) {
                Err(PeekError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{other:?} for {}", String::from_utf8_lossy(body)),
            }
        }
    }

    #[test]
    fn model_swap_touches_only_the_model() {
        let body = Bytes::from_static(
            br#"{"messages":[{"role":"user","content":"model"}], "model" : "openai/gpt-4o-mini" ,"n":1}"#,
        );
        let p = ChatPeek::parse(&body).unwrap();
        let out = p.with_model(&body, "gpt-4o-mini");
        assert_eq!(
            &out[..],
            br#"{"messages":[{"role":"user","content":"model"}], "model" : "gpt-4o-mini" ,"n":1}"#
        );
        assert_eq!(p.with_model(&body, "openai/gpt-4o-mini"), body);
    }

    #[test]
    fn escaped_model_names_are_unescaped() {
        let body = br#"{"model":"gpt\u002d4o","messages":[{}]}"#;
        assert_eq!(ChatPeek::parse(body).unwrap().model, "gpt-4o");
    }

    #[test]
    fn stream_usage_is_requested_without_disturbing_the_rest() {
        let body = Bytes::from_static(
            br#"{"model":"m","stream":true,"messages":[{"role":"user","content":"{"}]}"#,
        );
        let peek = ChatPeek::parse(&body).unwrap();
        assert_eq!(peek.facts.stream_usage, StreamUsage::Absent);
        let out = with_stream_usage(&body, peek.facts.stream_usage);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], true);
        assert_eq!(v["messages"][0]["content"], "{");
        let with_opts = Bytes::from_static(
            br#"{"model":"m","messages":[{}],"stream_options":{"include_obfuscation":false}}"#,
        );
        let known = ChatPeek::parse(&with_opts).unwrap().facts.stream_usage;
        assert_eq!(known, StreamUsage::NotAsked);
        let v: serde_json::Value =
            serde_json::from_slice(&with_stream_usage(&with_opts, known)).unwrap();
        assert_eq!(
            v["stream_options"],
            serde_json::json!({"include_obfuscation": false, "include_usage": true})
        );
        let asked = Bytes::from_static(
            br#"{"model":"m","messages":[{}],"stream_options":{"include_usage":true}}"#,
        );
        let known = ChatPeek::parse(&asked).unwrap().facts.stream_usage;
        assert!(known.asked());
        assert_eq!(with_stream_usage(&asked, known), asked);
        assert_eq!(StreamUsage::of(&asked), StreamUsage::Asked);
        assert_eq!(StreamUsage::of(&body), StreamUsage::Absent);
        assert_eq!(
            named_body(&asked),
            Ok(BodyFacts {
                stream_usage: StreamUsage::Asked,
                max_output: None
            })
        );
        assert!(named_body(b"[1]").is_err() && named_body(b"{").is_err());
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ChatPeek::parse(&body);
        }

        #[test]
        fn swapped_body_is_still_the_same_json(model in "[a-z0-9/._-]{1,30}", new in "[a-z0-9\"\\\\ ._-]{1,30}") {
            let v = serde_json::json!({"model": model, "messages": [{"role":"user","content":"x"}], "temperature": 0.5});
            let body = Bytes::from(serde_json::to_vec(&v).unwrap());
            let p = ChatPeek::parse(&body).unwrap();
            let out: serde_json::Value = serde_json::from_slice(&p.with_model(&body, &new)).unwrap();
            let mut want = v.clone();
            want["model"] = serde_json::Value::String(new.clone());
            prop_assert_eq!(out, want);
        }
    }
}
