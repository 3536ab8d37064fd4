//! `/v1/audio/transcriptions` and `/v1/audio/speech` (scope `audio`; OpenAI's
//! contract, served by OpenAI or Deepgram models).

use serde::Serialize;
use utoipa::ToSchema;

use super::errors::GatewayErrors;

/// `POST /v1/audio/transcriptions`, multipart/form-data.
#[derive(Serialize, ToSchema)]
pub struct TranscriptionRequest {
    /// The audio: flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav or webm, within
    /// `[server] max_body_bytes` (the whole upload).
    #[schema(value_type = String, format = Binary)]
    pub file: String,
    /// `whisper-1`, `gpt-4o-transcribe`, `gpt-4o-mini-transcribe` (OpenAI) or
    /// `nova-3`, `nova-2`, `deepgram/…` (Deepgram).
    pub model: String,
    /// ISO-639-1, e.g. `en`.
    pub language: Option<String>,
    /// Passed to OpenAI; Deepgram has no prompt.
    pub prompt: Option<String>,
    pub temperature: Option<f64>,
    /// `json` (default), `text`, `srt`, `vtt` or `verbose_json`.
    pub response_format: Option<String>,
}

/// `POST /v1/audio/speech`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"model": "tts-1", "input": "Hello", "voice": "alloy"}))]
pub struct SpeechRequest {
    /// `tts-1`, `tts-1-hd`, `gpt-4o-mini-tts` (OpenAI) or an Aura voice model
    /// such as `aura-2-thalia-en` (Deepgram).
    pub model: String,
    /// The text to speak; not empty.
    pub input: String,
    /// OpenAI's voice; Deepgram's voice is the model.
    pub voice: Option<String>,
    /// `mp3` (default), `opus`, `aac`, `flac`, `wav` or `pcm`.
    pub response_format: Option<String>,
    /// 0.25 to 4.
    pub speed: Option<f64>,
}

#[utoipa::path(post, path = "/v1/audio/transcriptions", tag = "gateway",
    request_body(content = TranscriptionRequest, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The transcript: JSON (`json`, `verbose_json`) or text (`text`, `srt`, `vtt`)", content(
            (Object = "application/json"),
            (String = "text/plain"),
            (String = "text/vtt"),
        )),
        GatewayErrors,
    ))]
pub fn transcriptions() {}

#[utoipa::path(post, path = "/v1/audio/speech", tag = "gateway",
    request_body = SpeechRequest,
    responses(
        (status = 200, description = "The audio, streamed as it is made", content(
            (String = "audio/mpeg"),
            (String = "audio/wav"),
            (String = "audio/opus"),
            (String = "audio/aac"),
            (String = "audio/flac"),
            (String = "audio/pcm"),
        )),
        GatewayErrors,
    ))]
pub fn speech() {}
