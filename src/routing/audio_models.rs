//! Built-in audio models. Their prices are per million *units*, not tokens: a
//! transcription model's `input` price is per million seconds of audio, a
//! speech model's per million input characters (`pipeline::audio` meters
//! them so). List prices as published (USD): OpenAI whisper-1 and
//! gpt-4o-transcribe $0.006/min, gpt-4o-mini-transcribe $0.003/min, tts-1
//! $15 and tts-1-hd $30 per 1M characters; gpt-4o-mini-tts is billed in tokens
//! by OpenAI (≈ $0.015 per minute of speech), here approximated as $15 per 1M
//! characters. Deepgram pre-recorded nova-3 and nova-2 $0.0043/min, Aura-2
//! $0.030 and Aura $0.015 per 1k characters. Override any of them in `[[models]]`.
//!
//! Re-checked on 2026-12-01 against OpenAI's model pages
//! (`https://developers.openai.com/api/docs/models/<id>`): whisper-1 ($0.006 per
//! minute), tts-1 ($15) and tts-1-hd ($30 per 1M characters). The other rows are
//! carried over: OpenAI prices the gpt-4o transcription and speech models in audio
//! tokens, not per minute, and no copy of Deepgram's pricing page was at hand
//! (README, "Catalog prices and their sources").

use super::ProviderKind;

/// USD per minute of audio as USD per million seconds.
const fn per_min(usd: f64) -> f64 {
    usd / 60.0 * 1_000_000.0
}

/// (id, provider, USD per million units)
#[rustfmt::skip]
pub(super) const AUDIO_MODELS: &[(&str, ProviderKind, f64)] = &[
    ("whisper-1",              ProviderKind::OpenAi,   per_min(0.006)),
    ("gpt-4o-transcribe",      ProviderKind::OpenAi,   per_min(0.006)),
    ("gpt-4o-mini-transcribe", ProviderKind::OpenAi,   per_min(0.003)),
    ("tts-1",                  ProviderKind::OpenAi,   15.00),
    ("tts-1-hd",               ProviderKind::OpenAi,   30.00),
    ("gpt-4o-mini-tts",        ProviderKind::OpenAi,   15.00),
    ("nova-3",                 ProviderKind::Deepgram, per_min(0.0043)),
    ("nova-2",                 ProviderKind::Deepgram, per_min(0.0043)),
    ("aura-2-thalia-en",       ProviderKind::Deepgram, 30.00),
    ("aura-2-andromeda-en",    ProviderKind::Deepgram, 30.00),
    ("aura-2-apollo-en",       ProviderKind::Deepgram, 30.00),
    ("aura-2-arcas-en",        ProviderKind::Deepgram, 30.00),
    ("aura-2-asteria-en",      ProviderKind::Deepgram, 30.00),
    ("aura-2-athena-en",       ProviderKind::Deepgram, 30.00),
    ("aura-2-helena-en",       ProviderKind::Deepgram, 30.00),
    ("aura-2-luna-en",         ProviderKind::Deepgram, 30.00),
    ("aura-2-orion-en",        ProviderKind::Deepgram, 30.00),
    ("aura-2-zeus-en",         ProviderKind::Deepgram, 30.00),
    ("aura-asteria-en",        ProviderKind::Deepgram, 15.00),
];
