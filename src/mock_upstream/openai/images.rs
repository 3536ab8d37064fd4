//! `POST /v1/images/generations` in OpenAI's wire format
//! (`wire-formats.md` §1): `prompt` (required), `n` (1–10, default 1),
//! `size` (`WIDTHxHEIGHT` or `auto`; any numbers are accepted, the image is
//! always 1×1), `response_format` `url` (default) or `b64_json`.
//!
//! URLs point at `https://mock.invalid/img/<response n>-<index>.png`, a
//! reserved domain that never resolves, so a gateway that fetches them
//! fails loudly. `b64_json` carries [`PNG`], a valid 1×1 image, with
//! `revised_prompt` echoing the prompt. Directives are read from the prompt.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::directives::Directives;
use super::super::error_body::OpenAiError;
use super::super::event_stream;
use super::super::reply::ECHO_LIMIT_CHARS;
use super::{CREATED, invalid, parse_body};
use base64::Engine;

/// OpenAI's limit on `n` (dall-e-2; dall-e-3 only takes 1).
const MAX_IMAGES: u64 = 10;

/// A 1×1 RGBA PNG: signature, `IHDR`, one `IDAT`, `IEND`, CRCs included.
pub(super) const PNG: [u8; 70] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf0, 0xcf, 0xdb, 0xf4,
    0x1f, 0x00, 0x04, 0xee, 0x02, 0x6f, 0x50, 0x6c, 0x3c, 0xdf, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

#[derive(Deserialize)]
struct ImagesRequest {
    prompt: Option<String>,
    n: Option<Value>,
    size: Option<String>,
    response_format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Url,
    B64Json,
}

/// The answer to an image request that passed the Bearer check.
pub(super) async fn answer(n: u64, body: &[u8]) -> Result<Response, OpenAiError> {
    let request: ImagesRequest = parse_body(body)?;
    let prompt = request
        .prompt
        .filter(|p| !p.is_empty())
        .ok_or_else(|| invalid("prompt", "Missing required parameter: 'prompt'."))?;
    let count = match &request.n {
        None | Some(Value::Null) => 1,
        Some(value) => value
            .as_u64()
            .filter(|n| (1..=MAX_IMAGES).contains(n))
            .ok_or_else(|| {
                invalid(
                    "n",
                    format!("Invalid value for 'n' = {value}. Must be between 1 and {MAX_IMAGES}."),
                )
            })?,
    };
    if let Some(size) = request.size.as_deref().filter(|s| !is_size(s)) {
        return Err(invalid(
            "size",
            format!(
                "'{size}' is not a valid size; use WIDTHxHEIGHT, such as '1024x1024', or 'auto'"
            ),
        ));
    }
    let format = match request.response_format.as_deref() {
        None | Some("url") => Format::Url,
        Some("b64_json") => Format::B64Json,
        Some(other) => {
            return Err(invalid(
                "response_format",
                format!("'{other}' is not one of ['url', 'b64_json'] - 'response_format'"),
            ));
        }
    };

    let directives = Directives::parse(&prompt);
    if let Some(status) = directives.delay_then_status().await {
        return Err(OpenAiError::injected(status));
    }
    if directives.drop_after.is_some() {
        return Ok(Response::new(event_stream::broken_body()));
    }

    let revised: String = prompt.chars().take(ECHO_LIMIT_CHARS).collect();
    let png = base64::engine::general_purpose::STANDARD.encode(PNG);
    let data: Vec<Value> = (0..count)
        .map(|index| match format {
            Format::Url => json!({"url": format!("https://mock.invalid/img/{n}-{index}.png")}),
            Format::B64Json => json!({"b64_json": png, "revised_prompt": revised}),
        })
        .collect();
    Ok(Json(json!({"created": CREATED, "data": data})).into_response())
}

/// `WIDTHxHEIGHT` in digits, or `auto`.
fn is_size(size: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    size == "auto"
        || size
            .split_once('x')
            .is_some_and(|(w, h)| digits(w) && digits(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_is_well_formed() {
        assert_eq!(&PNG[..8], b"\x89PNG\r\n\x1a\n");
        // Each chunk: length, type, data, CRC-32 of type and data.
        let mut rest = &PNG[8..];
        let mut types = Vec::new();
        while rest.len() >= 12 {
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let (typed, tail) = rest[4..].split_at(4 + len);
            let crc = u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]);
            assert_eq!(crc32fast::hash(typed), crc);
            types.push(String::from_utf8_lossy(&typed[..4]).into_owned());
            rest = &tail[4..];
        }
        assert!(rest.is_empty());
        assert_eq!(types, ["IHDR", "IDAT", "IEND"]);
    }

    #[test]
    fn sizes() {
        for ok in ["1024x1024", "256x256", "auto"] {
            assert!(is_size(ok), "{ok}");
        }
        for bad in ["", "1024", "x1024", "1024x", "big", "10x10x10"] {
            assert!(!is_size(bad), "{bad}");
        }
    }
}
