//! Reading a transcription upload: OpenAI's multipart contract, parsed as it
//! streams in. The whole request is held to `[server] max_body_bytes`: a
//! `Content-Length` over it is refused before anything is read, and a body
//! without one is cut off (413) the moment it passes the limit, not after it
//! has been read. The file is kept (within that limit) because the model, which
//! decides where it goes, may come after it.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::{Bytes, BytesMut};

use crate::error::ApiError;
use crate::translate::deepgram::TranscriptFormat;

/// The most non-file fields an upload may carry, and their size each.
const MAX_FIELDS: usize = 32;
const MAX_FIELD_BYTES: u64 = 64 * 1024;

/// The audio types accepted, by the names they travel under upstream.
pub const AUDIO_TYPES: &[&str] = &[
    "audio/wav",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
    "audio/webm",
    "audio/flac",
    "audio/aac",
    "video/mp4",
    "video/webm",
    "video/mpeg",
];

/// A parsed `/v1/audio/transcriptions` request.
#[derive(Debug)]
pub struct Transcription {
    pub model: String,
    pub file: Bytes,
    pub filename: String,
    /// One of [`AUDIO_TYPES`].
    pub file_type: &'static str,
    pub format: TranscriptFormat,
    pub language: Option<String>,
    /// Every text field as sent (`model` and `response_format` included), for
    /// an OpenAI upstream, which takes them all.
    pub fields: Vec<(String, String)>,
}

/// Where the upload must fit, and how to tell a body that stopped arriving.
#[derive(Clone, Copy)]
pub struct Limits {
    /// `[server] max_body_bytes`, for the whole request.
    pub max_bytes: usize,
    /// `[server] body_read_timeout_ms`, reported when `timed_out` says so.
    pub timeout: std::time::Duration,
    /// Whether a body read error is the listener's body deadline (the http layer
    /// knows its error type).
    pub timed_out: fn(&(dyn std::error::Error + 'static)) -> bool,
}

/// Reads the multipart body of `headers` / `body` within `limits`.
pub async fn read(
    headers: &HeaderMap,
    body: Body,
    limits: Limits,
) -> Result<Transcription, ApiError> {
    let limit = limits.max_bytes;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        ApiError::invalid_field(
            "file",
            "send the upload as multipart/form-data with a boundary (a `file` part and a `model` field)",
        )
    })?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::BodyTooLarge(limit));
    }
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(limit as u64)
            .for_field("model", MAX_FIELD_BYTES)
            .for_field("language", MAX_FIELD_BYTES)
            .for_field("prompt", MAX_FIELD_BYTES)
            .for_field("response_format", MAX_FIELD_BYTES)
            .for_field("temperature", MAX_FIELD_BYTES),
    );
    let mut multipart =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut file: Option<(Bytes, String, Option<String>)> = None;
    while let Some(mut part) = multipart
        .next_field()
        .await
        .map_err(|e| read_error(e, limits))?
    {
        let name = part.name().unwrap_or_default().to_owned();
        if name == "file" {
            if file.is_some() {
                return Err(ApiError::invalid_field(
                    "file",
                    "send one `file` part, not several",
                ));
            }
            let filename = part.file_name().unwrap_or("audio").to_owned();
            let declared_type = part.content_type().map(|m| m.essence_str().to_owned());
            let mut data = BytesMut::new();
            while let Some(chunk) = part.chunk().await.map_err(|e| read_error(e, limits))? {
                data.extend_from_slice(&chunk);
            }
            file = Some((data.freeze(), filename, declared_type));
            continue;
        }
        if fields.len() == MAX_FIELDS {
            return Err(ApiError::invalid_field(
                "file",
                format!("an upload carries at most {MAX_FIELDS} fields besides `file`"),
            ));
        }
        let mut value = Vec::new();
        while let Some(chunk) = part.chunk().await.map_err(|e| read_error(e, limits))? {
            if value.len() as u64 + chunk.len() as u64 > MAX_FIELD_BYTES {
                return Err(ApiError::invalid_field(
                    "file",
                    format!("field `{name}` is over {MAX_FIELD_BYTES} bytes"),
                ));
            }
            value.extend_from_slice(&chunk);
        }
        let value = String::from_utf8(value).map_err(|_| {
            ApiError::invalid_field("file", format!("field `{name}` is not UTF-8 text"))
        })?;
        fields.push((name, value));
    }
    let field = |n: &str| {
        fields
            .iter()
            .rev()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.trim().to_owned())
    };
    let (file, filename, declared_type) = file.ok_or(ApiError::MissingField("file"))?;
    let model = field("model")
        .filter(|m| !m.is_empty())
        .ok_or(ApiError::MissingField("model"))?;
    if file.is_empty() {
        return Err(ApiError::invalid_field(
            "file",
            "the file is empty; send the audio's bytes",
        ));
    }
    let file_type = audio_type(declared_type.as_deref(), &filename, &file)?;
    let format = match field("response_format").filter(|f| !f.is_empty()) {
        None => TranscriptFormat::Json,
        Some(f) => TranscriptFormat::parse(&f).ok_or_else(|| {
            ApiError::invalid_field(
                "response_format",
                format!(
                    "`response_format` `{f}` is not supported; use {}",
                    TranscriptFormat::NAMES
                ),
            )
        })?,
    };
    if let Some(t) = field("temperature").filter(|t| !t.is_empty()) {
        let ok = t.parse::<f64>().is_ok_and(|v| (0.0..=1.0).contains(&v));
        if !ok {
            return Err(ApiError::invalid_field(
                "temperature",
                "`temperature` is a number from 0 to 1",
            ));
        }
    }
    let language = field("language").filter(|l| !l.is_empty());
    if let Some(l) = &language
        && crate::providers::Lang::new(l).is_none()
    {
        return Err(ApiError::invalid_field(
            "language",
            "`language` is an ISO-639-1 code such as `en` (letters, digits and dashes, at most 16)",
        ));
    }
    Ok(Transcription {
        model,
        file,
        filename,
        file_type,
        format,
        language,
        fields,
    })
}

fn read_error(e: multer::Error, limits: Limits) -> ApiError {
    match e {
        multer::Error::StreamSizeExceeded { .. } => ApiError::BodyTooLarge(limits.max_bytes),
        multer::Error::StreamReadFailed(cause) if chain_timed_out(&*cause, limits) => {
            ApiError::BodyTimeout(limits.timeout)
        }
        multer::Error::FieldSizeExceeded { field_name, .. } => ApiError::invalid_field(
            "file",
            format!(
                "field `{}` is over {MAX_FIELD_BYTES} bytes",
                field_name.unwrap_or_default()
            ),
        ),
        other => ApiError::invalid_field(
            "file",
            format!("the multipart body could not be read ({other}); send multipart/form-data"),
        ),
    }
}

fn chain_timed_out(e: &(dyn std::error::Error + Send + Sync + 'static), limits: Limits) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if (limits.timed_out)(c) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// The upload's audio type: the part's own `Content-Type` when it names audio,
/// else (no type, or `application/octet-stream`) what the bytes and the file
/// name say. Anything else is refused.
fn audio_type(
    declared: Option<&str>,
    filename: &str,
    data: &[u8],
) -> Result<&'static str, ApiError> {
    let refuse = |what: &str| {
        ApiError::invalid_field(
            "file",
            format!(
                "the file is {what}, not audio; send flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav or webm"
            ),
        )
    };
    match declared {
        Some(t) if t != "application/octet-stream" => {
            normalise(t).ok_or_else(|| refuse(&format!("`{t}`")))
        }
        _ => sniff(data)
            .or_else(|| by_extension(filename))
            .ok_or_else(|| refuse("of an unknown type")),
    }
}

fn normalise(t: &str) -> Option<&'static str> {
    let t = t.to_ascii_lowercase();
    Some(match t.as_str() {
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "audio/wav",
        "audio/mpeg" | "audio/mp3" | "audio/mpga" => "audio/mpeg",
        "audio/mp4" | "audio/m4a" | "audio/x-m4a" => "audio/mp4",
        "audio/ogg" | "audio/opus" => "audio/ogg",
        "audio/webm" => "audio/webm",
        "audio/flac" | "audio/x-flac" => "audio/flac",
        "audio/aac" => "audio/aac",
        "video/mp4" => "video/mp4",
        "video/webm" => "video/webm",
        "video/mpeg" => "video/mpeg",
        _ => return None,
    })
}

fn sniff(b: &[u8]) -> Option<&'static str> {
    if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WAVE" {
        Some("audio/wav")
    } else if b.starts_with(b"ID3") || (b.len() >= 2 && b[0] == 0xFF && b[1] & 0xE0 == 0xE0) {
        Some("audio/mpeg")
    } else if b.starts_with(b"OggS") {
        Some("audio/ogg")
    } else if b.starts_with(b"fLaC") {
        Some("audio/flac")
    } else if b.len() >= 8 && &b[4..8] == b"ftyp" {
        Some("audio/mp4")
    } else if b.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("audio/webm")
    } else {
        None
    }
}

fn by_extension(filename: &str) -> Option<&'static str> {
    let ext = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "wav" => "audio/wav",
        "mp3" | "mpga" | "mpeg" => "audio/mpeg",
        "m4a" | "mp4" => "audio/mp4",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "webm" => "audio/webm",
        "flac" => "audio/flac",
        _ => return None,
    })
}

/// Seconds of audio in a PCM WAV, from its header; `None` for anything else.
pub fn wav_seconds(b: &[u8]) -> Option<f64> {
    if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return None;
    }
    let u32_at =
        |i: usize| -> Option<u32> { Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?)) };
    let mut at = 12;
    let mut byte_rate = None;
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let size = u32_at(at + 4)? as usize;
        if id == b"fmt " {
            byte_rate = u32_at(at + 16);
        }
        if id == b"data" {
            let rate = byte_rate.filter(|r| *r > 0)?;
            let size = size.min(b.len() - (at + 8));
            return Some(size as f64 / f64::from(rate));
        }
        at = at.checked_add(8 + size + (size & 1))?;
    }
    None
}

/// Multipart boundaries for the body sent to OpenAI: the first that does not
/// occur in the upload is used.
const BOUNDARIES: [&str; 3] = [
    "tollgate-8f3a1c9e5b7d4206a1e3c5b7d9f0e2a4",
    "tollgate-c61e0f27a94d4b8e8d3f5a7c9e1b3d5f",
    "tollgate-2b9d7f4e6a1c4e3b9f8a7c6d5e4f3a2b",
];
const CONTENT_TYPES: [&str; 3] = [
    "multipart/form-data; boundary=tollgate-8f3a1c9e5b7d4206a1e3c5b7d9f0e2a4",
    "multipart/form-data; boundary=tollgate-c61e0f27a94d4b8e8d3f5a7c9e1b3d5f",
    "multipart/form-data; boundary=tollgate-2b9d7f4e6a1c4e3b9f8a7c6d5e4f3a2b",
];

/// The upload re-encoded for OpenAI with `model` as the upstream's name, and
/// the body's content type.
pub fn to_openai(
    t: &Transcription,
    upstream_model: &str,
) -> Result<(Bytes, &'static str), ApiError> {
    let contains =
        |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    let texts: Vec<(&str, &str)> = t
        .fields
        .iter()
        .map(|(k, v)| {
            if k == "model" {
                ("model", upstream_model)
            } else {
                (k.as_str(), v.as_str())
            }
        })
        .collect();
    let i = (0..BOUNDARIES.len())
        .find(|&i| {
            !contains(&t.file, BOUNDARIES[i])
                && !texts
                    .iter()
                    .any(|(_, v)| contains(v.as_bytes(), BOUNDARIES[i]))
        })
        .ok_or_else(|| {
            ApiError::invalid_field(
                "file",
                "the upload cannot be re-encoded; rename nothing, but send it again",
            )
        })?;
    let b = BOUNDARIES[i];
    let quote = |s: &str| s.replace(['"', '\r', '\n'], "_");
    let mut out = BytesMut::with_capacity(t.file.len() + 1024);
    for (k, v) in &texts {
        out.extend_from_slice(
            format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{v}\r\n",
                quote(k)
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(
        format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            quote(&t.filename),
            t.file_type
        )
        .as_bytes(),
    );
    out.extend_from_slice(&t.file);
    out.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    Ok((out.freeze(), CONTENT_TYPES[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_types_come_from_the_part_else_the_bytes_else_the_name() {
        assert_eq!(
            audio_type(Some("audio/x-wav"), "a", b"x").unwrap(),
            "audio/wav"
        );
        assert!(audio_type(Some("text/plain"), "a.wav", b"RIFF").is_err());
        assert_eq!(
            audio_type(
                Some("application/octet-stream"),
                "x",
                b"RIFF\0\0\0\0WAVEfmt "
            )
            .unwrap(),
            "audio/wav"
        );
        assert_eq!(audio_type(None, "song.MP3", b"????").unwrap(), "audio/mpeg");
        assert!(audio_type(None, "notes.txt", b"hello").is_err());
    }

    #[test]
    fn a_wav_header_gives_its_duration() {
        let mut wav = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        wav.extend_from_slice(&16u32.to_le_bytes());
        wav.extend_from_slice(&[1, 0, 1, 0]);
        wav.extend_from_slice(&8000u32.to_le_bytes());
        wav.extend_from_slice(&16000u32.to_le_bytes());
        wav.extend_from_slice(&[2, 0, 16, 0]);
        wav.extend_from_slice(b"data");
        wav.extend_from_slice(&32000u32.to_le_bytes());
        wav.extend_from_slice(&vec![0u8; 32000]);
        assert_eq!(wav_seconds(&wav), Some(2.0));
        assert_eq!(wav_seconds(b"ID3 not a wav"), None);
    }
}
