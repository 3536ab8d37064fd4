//! Typed reads of JSON fields that fail with a [`TranslateError`] naming the field's
//! path (`messages[2].content`), shared by every provider's translators.
//!
//! Bodies are arbitrary JSON, so every read here checks the type and never indexes
//! unchecked. A field that is absent and one that is `null` read alike (`None`), as the
//! SDKs send `null` for unset optionals. Nothing here knows a dialect: what a field
//! means belongs to the provider modules.

use serde_json::{Map, Value};

use crate::translate::anthropic::TranslateError;

pub(super) type Object = Map<String, Value>;

/// `prefix.key`, or `key` at the top level.
pub(super) fn field(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// `prefix[index]`.
pub(super) fn item(prefix: &str, index: usize) -> String {
    format!("{prefix}[{index}]")
}

/// "`path` must be …".
pub(super) fn expected(path: &str, what: &str) -> TranslateError {
    TranslateError::new(path, format!("`{path}` must be {what}"))
}

/// The whole body as an object.
pub(super) fn body(v: &Value) -> Result<&Object, TranslateError> {
    v.as_object()
        .ok_or_else(|| TranslateError::new("body", "the body must be a JSON object"))
}

pub(super) fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Object, TranslateError> {
    v.as_object().ok_or_else(|| expected(path, "an object"))
}

/// The value at `key`, `None` when absent or `null`.
pub(super) fn present<'a>(obj: &'a Object, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// Reads `obj[key]` with `read`, naming the field in the error as `what`.
fn typed<'a, T>(
    obj: &'a Object,
    key: &str,
    prefix: &str,
    what: &str,
    read: impl FnOnce(&'a Value) -> Option<T>,
) -> Result<Option<T>, TranslateError> {
    present(obj, key)
        .map(|v| read(v).ok_or_else(|| expected(&field(prefix, key), what)))
        .transpose()
}

pub(super) fn opt_object<'a>(
    obj: &'a Object,
    key: &str,
    prefix: &str,
) -> Result<Option<&'a Object>, TranslateError> {
    typed(obj, key, prefix, "an object", Value::as_object)
}

pub(super) fn req_object<'a>(
    obj: &'a Object,
    key: &str,
    prefix: &str,
) -> Result<&'a Object, TranslateError> {
    opt_object(obj, key, prefix)?.ok_or_else(|| expected(&field(prefix, key), "an object"))
}

pub(super) fn opt_array<'a>(
    obj: &'a Object,
    key: &str,
    prefix: &str,
) -> Result<Option<&'a [Value]>, TranslateError> {
    typed(obj, key, prefix, "an array", |v| {
        v.as_array().map(Vec::as_slice)
    })
}

pub(super) fn opt_str<'a>(
    obj: &'a Object,
    key: &str,
    prefix: &str,
) -> Result<Option<&'a str>, TranslateError> {
    typed(obj, key, prefix, "a string", Value::as_str)
}

pub(super) fn req_str<'a>(
    obj: &'a Object,
    key: &str,
    prefix: &str,
) -> Result<&'a str, TranslateError> {
    opt_str(obj, key, prefix)?.ok_or_else(|| expected(&field(prefix, key), "a string"))
}

/// A required string that must not be empty (ids, names).
pub(super) fn req_nonempty_str<'a>(
    obj: &'a Object,
    key: &str,
    prefix: &str,
) -> Result<&'a str, TranslateError> {
    match opt_str(obj, key, prefix)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(expected(&field(prefix, key), "a non-empty string")),
    }
}

pub(super) fn opt_u64(
    obj: &Object,
    key: &str,
    prefix: &str,
) -> Result<Option<u64>, TranslateError> {
    typed(obj, key, prefix, "a non-negative integer", Value::as_u64)
}

pub(super) fn opt_i64(
    obj: &Object,
    key: &str,
    prefix: &str,
) -> Result<Option<i64>, TranslateError> {
    typed(obj, key, prefix, "an integer", Value::as_i64)
}

pub(super) fn opt_f64(
    obj: &Object,
    key: &str,
    prefix: &str,
) -> Result<Option<f64>, TranslateError> {
    typed(obj, key, prefix, "a number", Value::as_f64)
}

/// A number, kept as the caller wrote it (`1` stays `1`, not `1.0`).
pub(super) fn opt_number<'a>(
    obj: &'a Object,
    key: &str,
    prefix: &str,
) -> Result<Option<&'a Value>, TranslateError> {
    typed(obj, key, prefix, "a number", |v| v.is_number().then_some(v))
}

pub(super) fn opt_bool(
    obj: &Object,
    key: &str,
    prefix: &str,
) -> Result<Option<bool>, TranslateError> {
    typed(obj, key, prefix, "a boolean", Value::as_bool)
}

/// Text that carries something: Anthropic rejects empty and whitespace-only text
/// blocks, Gemini empty text parts, and blank ones say nothing.
pub(super) fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// `{"type":"text","text":…}`: an OpenAI text part and an Anthropic text block alike.
pub(super) fn text_block(text: &str) -> Value {
    serde_json::json!({ "type": "text", "text": text })
}

/// An `f64` as JSON. Every `f64` read from JSON is finite, so `null` is unreachable.
pub(super) fn number(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// Runs `part` over an OpenAI message's `content`: a string becomes `text(s)`,
/// `null` or absent nothing, an array each `{"type": …}` part; `None` from either
/// closure drops it. Shared by every translator that reads OpenAI messages.
pub(super) fn map_content(
    obj: &Object,
    path: &str,
    text: impl Fn(&str) -> Option<Value>,
    part: impl Fn(&Object, &str, &str) -> Result<Option<Value>, TranslateError>,
) -> Result<Vec<Value>, TranslateError> {
    let content_path = field(path, "content");
    match present(obj, "content") {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(text(s).into_iter().collect()),
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, p) in parts.iter().enumerate() {
                let part_path = item(&content_path, j);
                let p = object(p, &part_path)?;
                let kind = req_str(p, "type", &part_path)?;
                out.extend(part(p, kind, &part_path)?);
            }
            Ok(out)
        }
        Some(_) => Err(expected(
            &content_path,
            "a string or an array of content parts",
        )),
    }
}

/// An OpenAI `tool_choice`, read once for every translator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ToolChoice<'a> {
    Auto,
    None,
    Required,
    Function(&'a str),
}

/// Reads `tool_choice` (`auto|required|none|{"type":"function","function":{"name"}}`);
/// `target` names the model family in the error for other object types.
pub(super) fn tool_choice<'a>(
    req: &'a Object,
    target: &str,
) -> Result<Option<ToolChoice<'a>>, TranslateError> {
    Ok(Some(match present(req, "tool_choice") {
        None => return Ok(None),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => ToolChoice::Auto,
            "required" => ToolChoice::Required,
            "none" => ToolChoice::None,
            _ => {
                return Err(expected(
                    "tool_choice",
                    "`auto`, `required`, `none` or {\"type\":\"function\",\"function\":{\"name\":…}}",
                ));
            }
        },
        Some(Value::Object(choice)) => {
            let kind = req_str(choice, "type", "tool_choice")?;
            if kind != "function" {
                return Err(TranslateError::new(
                    "tool_choice.type",
                    format!("tool choice `{kind}` cannot be sent to {target}; use `function`"),
                ));
            }
            let function = req_object(choice, "function", "tool_choice")?;
            ToolChoice::Function(req_nonempty_str(function, "name", "tool_choice.function")?)
        }
        Some(_) => return Err(expected("tool_choice", "a string or an object")),
    }))
}
