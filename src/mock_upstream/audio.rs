//! Audio in two dialects: OpenAI's `POST /v1/audio/transcriptions` (multipart)
//! and `POST /v1/audio/speech` (JSON), and Deepgram's `POST /v1/listen` (the raw
//! audio as the body, `?model=`) and `POST /v1/speak?model=` (JSON `{"text"}`),
//! `wire-formats.md` §1 and §4.
//!
//! Transcripts are derived from the uploaded bytes alone, so both dialects agree
//! for one file: the duration is the WAV header's (data bytes / byte rate), or
//! one second per 16 000 bytes for anything else; there are two words a second
//! (at least one, at most 60), each picked from [`VOCABULARY`] by a SHA-256 of
//! the bytes, evenly spaced over the duration, and every sixth word and the
//! last ends a sentence (`punctuated_word` with a full stop).
//!
//! Speech is always [`speech_wav`] of the input text: a valid 8 kHz 16-bit mono
//! WAV, 400 samples per input word, sent in [`SPEECH_CHUNKS`] body frames. With
//! `[[mock:hold]]` in the text, the mock sends the first frame and then waits
//! until `POST /_mock/release` (at most 30 s): a test reads the first bytes
//! through the gateway while the mock has provably not finished
//! (`streams_completed` is still 0). `[[mock:status=NNN]]` in the text (speech)
//! or a `prompt` field (OpenAI transcription) answers with that error.
//!
//! Auth: OpenAI routes take `Authorization: Bearer <key>`, Deepgram's
//! `Authorization: Token <key>` (401 `INVALID_AUTH` otherwise, Deepgram's
//! `{"err_code","err_msg","request_id"}` shape).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::MockState;
use super::directives::Directives;
use super::error_body::OpenAiError;
use super::stats::StreamGuard;

/// The words transcripts are made of.
pub(crate) const VOCABULARY: [&str; 16] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa",
];

/// Body frames a speech answer is sent in.
pub(crate) const SPEECH_CHUNKS: usize = 4;

/// How long `[[mock:hold]]` waits for `POST /_mock/release` at most.
const HOLD_LIMIT: Duration = Duration::from_secs(30);

/// One transcribed word with its timing in seconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MockWord {
    pub word: &'static str,
    pub start: f64,
    pub end: f64,
    /// Ends a sentence.
    pub stop: bool,
}

/// Seconds of audio in `bytes`: a WAV's own length, else 16 000 bytes a second.
pub(crate) fn duration_of(bytes: &[u8]) -> f64 {
    wav_duration(bytes).unwrap_or(bytes.len() as f64 / 16_000.0)
}

fn wav_duration(b: &[u8]) -> Option<f64> {
    if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return None;
    }
    let mut at = 12;
    let mut byte_rate = None;
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let size = u32::from_le_bytes([b[at + 4], b[at + 5], b[at + 6], b[at + 7]]) as usize;
        let body = at + 8;
        if id == b"fmt " && body + 12 <= b.len() {
            byte_rate = Some(u32::from_le_bytes([
                b[body + 8],
                b[body + 9],
                b[body + 10],
                b[body + 11],
            ]));
        }
        if id == b"data" {
            let rate = byte_rate.filter(|r| *r > 0)?;
            let size = size.min(b.len() - body);
            return Some(size as f64 / f64::from(rate));
        }
        at = body + size + (size & 1);
    }
    None
}

/// The words of the transcript of `bytes`.
pub(crate) fn transcribe(bytes: &[u8]) -> (f64, Vec<MockWord>) {
    let duration = duration_of(bytes);
    let n = ((duration * 2.0).round() as usize).clamp(1, 60);
    let mut hash = Sha256::digest(bytes).to_vec();
    while hash.len() < n {
        let more = Sha256::digest(&hash);
        hash.extend_from_slice(&more);
    }
    let step = duration / n as f64;
    let words = (0..n)
        .map(|i| MockWord {
            word: VOCABULARY[usize::from(hash[i]) % VOCABULARY.len()],
            start: round3(step * i as f64),
            end: round3(step * (i as f64 + 0.8)),
            stop: i % 6 == 5 || i == n - 1,
        })
        .collect();
    (round3(duration), words)
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn transcript(words: &[MockWord]) -> String {
    let mut out = String::new();
    for w in words {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w.word);
        if w.stop {
            out.push('.');
        }
    }
    out
}

/// A valid 8 kHz 16-bit mono PCM WAV for `text`: 400 samples a word (at least
/// one word), the samples derived from the text.
pub fn speech_wav(text: &str) -> Vec<u8> {
    let words = text.split_whitespace().count().max(1);
    let samples = words * 400;
    let seed = Sha256::digest(text.as_bytes());
    let data_len = samples * 2;
    let mut out = Vec::with_capacity(44 + data_len);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((36 + data_len) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&8_000u32.to_le_bytes());
    out.extend_from_slice(&16_000u32.to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data_len as u32).to_le_bytes());
    for i in 0..samples {
        let s = i16::from(seed[i % seed.len()]) * 64 - 8192;
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

// ---- OpenAI ----

/// `POST /v1/audio/transcriptions`: multipart `file`, `model`, optional
/// `response_format` (`json` default, `text`, `srt`, `vtt`, `verbose_json`),
/// `language`, `prompt`.
pub(crate) async fn openai_transcriptions(headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = bearer(&headers) {
        return e.into_response();
    }
    let Some(boundary) = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("multipart/form-data"))
        .and_then(|v| v.split("boundary=").nth(1))
        .map(|b| b.trim_matches('"').to_owned())
    else {
        return invalid("file", "Expected a multipart/form-data body.").into_response();
    };
    let parts = multipart(&body, &boundary);
    let field = |name: &str| {
        parts
            .iter()
            .find(|p| p.name == name)
            .map(|p| String::from_utf8_lossy(&p.data).into_owned())
    };
    let Some(file) = parts.iter().find(|p| p.name == "file" && p.filename) else {
        return invalid("file", "Missing required parameter: 'file'.").into_response();
    };
    if field("model").filter(|m| !m.is_empty()).is_none() {
        return invalid("model", "Missing required parameter: 'model'.").into_response();
    }
    if let Some(status) = Directives::parse(&field("prompt").unwrap_or_default()).status {
        return OpenAiError::injected(status).into_response();
    }
    let (duration, words) = transcribe(&file.data);
    let text = transcript(&words);
    let format = field("response_format").unwrap_or_else(|| "json".into());
    let plain = |ct: &'static str, body: String| {
        ([(CONTENT_TYPE, HeaderValue::from_static(ct))], body).into_response()
    };
    match format.as_str() {
        "json" => axum::Json(json!({
            "text": text,
            "usage": {"type": "duration", "seconds": duration.ceil() as u64},
        }))
        .into_response(),
        "text" => plain("text/plain; charset=utf-8", format!("{text}\n")),
        "srt" => plain("text/plain; charset=utf-8", cues(&words, false)),
        "vtt" => plain("text/vtt; charset=utf-8", cues(&words, true)),
        "verbose_json" => axum::Json(json!({
            "task": "transcribe",
            "language": field("language").unwrap_or_else(|| "english".into()),
            "duration": duration,
            "text": text,
            "words": words.iter().map(|w| json!({"word": w.word, "start": w.start, "end": w.end})).collect::<Vec<_>>(),
            "segments": sentences(&words).iter().enumerate().map(|(i, s)| json!({
                "id": i, "seek": 0, "start": s[0].start, "end": s[s.len() - 1].end,
                "text": transcript(s), "tokens": [], "temperature": 0.0,
                "avg_logprob": -0.1, "compression_ratio": 1.0, "no_speech_prob": 0.0,
            })).collect::<Vec<_>>(),
            "usage": {"type": "duration", "seconds": duration.ceil() as u64},
        }))
        .into_response(),
        other => invalid(
            "response_format",
            format!("Invalid value: '{other}'. Supported values are: 'json', 'text', 'srt', 'verbose_json', and 'vtt'."),
        )
        .into_response(),
    }
}

fn sentences(words: &[MockWord]) -> Vec<&[MockWord]> {
    let mut out = Vec::new();
    let mut from = 0;
    for (i, w) in words.iter().enumerate() {
        if w.stop {
            out.push(&words[from..=i]);
            from = i + 1;
        }
    }
    out
}

fn cues(words: &[MockWord], vtt: bool) -> String {
    let stamp = |t: f64| {
        let ms = (t * 1000.0).round() as u64;
        let sep = if vtt { '.' } else { ',' };
        format!(
            "{:02}:{:02}:{:02}{sep}{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    };
    let mut out = String::from(if vtt { "WEBVTT\n\n" } else { "" });
    for (i, s) in sentences(words).iter().enumerate() {
        if !vtt {
            out.push_str(&format!("{}\n", i + 1));
        }
        out.push_str(&format!(
            "{} --> {}\n{}\n\n",
            stamp(s[0].start),
            stamp(s[s.len() - 1].end),
            transcript(s)
        ));
    }
    out
}

/// `POST /v1/audio/speech`: JSON `model`, `input`, `voice`, `response_format`.
pub(crate) async fn openai_speech(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = bearer(&headers) {
        return e.into_response();
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return invalid("input", "We could not parse the JSON body of your request.")
            .into_response();
    };
    let Some(input) = req["input"].as_str().filter(|s| !s.is_empty()) else {
        return invalid("input", "Missing required parameter: 'input'.").into_response();
    };
    if req["voice"].is_null() {
        return invalid("voice", "Missing required parameter: 'voice'.").into_response();
    }
    if let Some(status) = Directives::parse(input).status {
        return OpenAiError::injected(status).into_response();
    }
    let content_type = match req["response_format"].as_str().unwrap_or("mp3") {
        "mp3" => "audio/mpeg",
        "opus" => "audio/opus",
        "aac" => "audio/aac",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        "pcm" => "audio/pcm",
        _ => {
            return invalid("response_format", "Invalid value for 'response_format'.")
                .into_response();
        }
    };
    speech(&state, input, content_type)
}

fn bearer(headers: &HeaderMap) -> Result<(), OpenAiError> {
    let ok = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|k| !k.trim().is_empty());
    if ok {
        Ok(())
    } else {
        Err(OpenAiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "You didn't provide an API key.",
        )
        .code("invalid_api_key"))
    }
}

fn invalid(param: &'static str, message: impl Into<String>) -> OpenAiError {
    OpenAiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        message.into(),
    )
    .param(param)
}

// ---- Deepgram ----

fn deepgram_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"err_code": code, "err_msg": message, "request_id": "mock-dg-request"})),
    )
        .into_response()
}

/// Deepgram's 401 unless `Authorization: Token <non-empty key>`.
fn token(headers: &HeaderMap) -> Option<Response> {
    let ok = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Token "))
        .is_some_and(|k| !k.trim().is_empty());
    (!ok).then(|| {
        deepgram_error(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTH",
            "Invalid credentials.",
        )
    })
}

/// `POST /v1/listen?model=…`: the raw audio as the body, with its content type.
pub(crate) async fn deepgram_listen(
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = token(&headers) {
        return refused;
    }
    let audio = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("audio/") || v.starts_with("video/"));
    if body.is_empty() || !audio {
        return deepgram_error(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "Bad Request: failed to process audio: corrupt or unsupported data",
        );
    }
    let model = q.get("model").cloned().unwrap_or_else(|| "base".into());
    let (duration, words) = transcribe(&body);
    let confidence = 0.98;
    let mut alternative = json!({
        "transcript": words.iter().map(|w| w.word).collect::<Vec<_>>().join(" "),
        "confidence": confidence,
        "words": words.iter().map(|w| json!({
            "word": w.word, "start": w.start, "end": w.end, "confidence": confidence,
            "punctuated_word": if w.stop { format!("{}.", w.word) } else { w.word.to_owned() },
        })).collect::<Vec<_>>(),
    });
    if q.get("smart_format")
        .or(q.get("punctuate"))
        .is_some_and(|v| v == "true")
    {
        alternative["transcript"] = Value::String(transcript(&words));
    }
    let mut channel = json!({"alternatives": [alternative]});
    if let Some(lang) = q.get("language") {
        channel["detected_language"] = Value::String(lang.clone());
    }
    axum::Json(json!({
        "metadata": {
            "request_id": "mock-dg-request",
            "sha256": hex(&Sha256::digest(&body)),
            "created": "2023-11-14T22:13:20.000Z",
            "duration": duration,
            "channels": 1,
            "models": [model],
        },
        "results": {"channels": [channel]},
    }))
    .into_response()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `POST /v1/speak?model=…&encoding=…&container=…`: JSON `{"text"}`.
pub(crate) async fn deepgram_speak(
    State(state): State<Arc<MockState>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = token(&headers) {
        return refused;
    }
    let text = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["text"].as_str().map(str::to_owned))
        .filter(|t| !t.is_empty());
    let Some(text) = text else {
        return deepgram_error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_PARAMETER",
            "Expected a JSON body with a non-empty `text`.",
        );
    };
    if let Some(status) = Directives::parse(&text).status {
        return deepgram_error(status, "MOCK", "mock upstream: injected status");
    }
    let content_type = match (
        q.get("encoding").map_or("mp3", String::as_str),
        q.get("container").map_or("", String::as_str),
    ) {
        ("linear16", "wav") => "audio/wav",
        ("linear16", _) => "audio/l16",
        ("opus", _) => "audio/ogg",
        ("mp3", _) => "audio/mpeg",
        ("aac", _) => "audio/aac",
        ("flac", _) => "audio/flac",
        _ => {
            return deepgram_error(
                StatusCode::BAD_REQUEST,
                "UNSUPPORTED_AUDIO_FORMAT",
                "Unsupported audio format.",
            );
        }
    };
    speech(&state, &text, content_type)
}

/// A speech answer: [`speech_wav`] in [`SPEECH_CHUNKS`] frames, held after the
/// first one when the text says `[[mock:hold]]`.
fn speech(state: &Arc<MockState>, text: &str, content_type: &'static str) -> Response {
    let wav = Bytes::from(speech_wav(text));
    let size = wav.len().div_ceil(SPEECH_CHUNKS);
    let chunks: Vec<Bytes> = (0..SPEECH_CHUNKS)
        .map(|i| wav.slice((i * size).min(wav.len())..((i + 1) * size).min(wav.len())))
        .collect();
    let hold = text.contains("[[mock:hold]]");
    let guard = StreamGuard::start(Arc::clone(&state.stats));
    let release = Arc::clone(&state.release);
    let feed = (chunks.into_iter().enumerate(), guard, release);
    let body = Body::from_stream(stream::unfold(
        feed,
        move |(mut chunks, mut guard, release)| async move {
            let (i, chunk) = chunks.next()?;
            if i == 1 && hold {
                let _ = tokio::time::timeout(HOLD_LIMIT, release.notified()).await;
            }
            if i == SPEECH_CHUNKS - 1 {
                guard.completed();
            }
            Some((Ok::<_, std::io::Error>(chunk), (chunks, guard, release)))
        },
    ));
    let mut res = Response::new(body);
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut()
        .insert("dg-request-id", HeaderValue::from_static("mock-dg-request"));
    res
}

// ---- multipart, just enough for the mock ----

struct Part {
    name: String,
    filename: bool,
    data: Vec<u8>,
}

fn multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delim = format!("--{boundary}");
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(at) = find(rest, delim.as_bytes()) {
        rest = &rest[at + delim.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let Some(head_end) = find(rest, b"\r\n\r\n") else {
            break;
        };
        let head = String::from_utf8_lossy(&rest[..head_end]).to_ascii_lowercase();
        let data_start = head_end + 4;
        let next = find(&rest[data_start..], format!("\r\n{delim}").as_bytes())
            .map_or(rest.len(), |n| data_start + n);
        let name = head
            .split("name=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default()
            .to_owned();
        out.push(Part {
            filename: head.contains("filename="),
            name: name.trim_end_matches("[]").to_owned(),
            data: rest[data_start..next].to_vec(),
        });
        rest = &rest[next..];
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wav_is_timed_by_its_header_and_transcribed_the_same_every_time() {
        let wav = speech_wav("one two three four five");
        // 5 words × 400 samples at 8 kHz = 0.25 s.
        assert_eq!(duration_of(&wav), 0.25);
        let (d, words) = transcribe(&wav);
        assert_eq!(d, 0.25);
        assert_eq!(words.len(), 1);
        assert_eq!(transcribe(&wav).1, words);
        let long = speech_wav(&"w ".repeat(100)); // 5 s
        let (d, words) = transcribe(&long);
        assert_eq!((d, words.len()), (5.0, 10));
        assert!(words[5].stop && words[9].stop && !words[0].stop);
        assert!(words.windows(2).all(|w| w[0].end <= w[1].start));
    }

    #[test]
    fn multipart_fields_are_read() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n--b--\r\n";
        let parts = multipart(body, "b");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "model");
        assert_eq!(parts[0].data, b"whisper-1");
        assert!(parts[1].filename);
        assert_eq!(parts[1].data, b"RIFF");
    }
}
