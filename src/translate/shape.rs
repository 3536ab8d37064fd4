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
