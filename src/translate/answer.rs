//! Whole (non-streamed) upstream answers as bytes in, the caller's bytes out: the
//! signature every whole-answer translator in the pipeline's table has, so a
//! translator can read the answer typed and borrowed instead of as a `Value` tree.

use serde_json::Value;

use crate::translate::anthropic::TranslateError;

/// Why an upstream's whole answer could not be translated; either way the upstream
/// broke the protocol (the caller renders a bad gateway).
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("the response is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("cannot translate the answer: {0}")]
    Untranslatable(TranslateError),
}

/// Runs a `Value` translator on a whole answer: parse, translate, serialize.
pub fn via_value(
    answer: &[u8],
    model: &str,
    translate: fn(&Value, &str) -> Result<Value, TranslateError>,
) -> Result<Vec<u8>, AnswerError> {
    let value: Value = serde_json::from_slice(answer).map_err(AnswerError::NotJson)?;
    let out = translate(&value, model).map_err(AnswerError::Untranslatable)?;
    to_vec(&out)
}

/// A translated answer's bytes. Serializing a `Value` or one of the translators'
/// typed answers does not fail (string keys only); were it to, the error says so.
pub(super) fn to_vec<T: serde::Serialize>(out: &T) -> Result<Vec<u8>, AnswerError> {
    serde_json::to_vec(out)
        .map_err(|e| AnswerError::Untranslatable(TranslateError::new("body", e.to_string())))
}
