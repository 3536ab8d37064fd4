//! Deepgram ⇄ OpenAI audio (`wire-formats.md` §4): a `/v1/listen` result in
//! each of OpenAI's transcription formats, and OpenAI's speech formats as
//! Deepgram's `encoding` / `container` / `sample_rate` query.
//!
//! Segments (for `verbose_json`, `srt` and `vtt`) are built from word timings:
//! a segment ends at a word whose punctuated form ends a sentence (`.`, `?`,
//! `!`), before a pause of more than a second, or after [`MAX_SEGMENT_WORDS`].

use serde_json::{Value, json};

/// The most words one segment (one subtitle cue) holds.
pub const MAX_SEGMENT_WORDS: usize = 16;

/// OpenAI's transcription `response_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptFormat {
    Json,
    Text,
    Srt,
    Vtt,
    VerboseJson,
}

impl TranscriptFormat {
    pub const NAMES: &'static str = "json, text, srt, vtt or verbose_json";

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "json" => TranscriptFormat::Json,
            "text" => TranscriptFormat::Text,
            "srt" => TranscriptFormat::Srt,
            "vtt" => TranscriptFormat::Vtt,
            "verbose_json" => TranscriptFormat::VerboseJson,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TranscriptFormat::Json => "json",
            TranscriptFormat::Text => "text",
            TranscriptFormat::Srt => "srt",
            TranscriptFormat::Vtt => "vtt",
            TranscriptFormat::VerboseJson => "verbose_json",
        }
    }

    /// The `Content-Type` OpenAI answers this format with.
    pub fn content_type(self) -> &'static str {
        match self {
            TranscriptFormat::Json | TranscriptFormat::VerboseJson => "application/json",
            TranscriptFormat::Text | TranscriptFormat::Srt => "text/plain; charset=utf-8",
            TranscriptFormat::Vtt => "text/vtt; charset=utf-8",
        }
    }
}

/// One word with its timing in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub word: String,
    /// The punctuated form when Deepgram gave one, else `word`.
    pub punctuated: String,
    pub start: f64,
    pub end: f64,
}

/// What a `/v1/listen` result says, as the OpenAI formats need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listen {
    pub transcript: String,
    /// Seconds of audio (`metadata.duration`).
    pub duration: f64,
    pub words: Vec<Word>,
    pub language: Option<String>,
}

/// Reads a `/v1/listen` result (first channel, first alternative).
pub fn parse_listen(v: &Value) -> Result<Listen, String> {
    let alt = v
        .pointer("/results/channels/0/alternatives/0")
        .ok_or("no results.channels[0].alternatives[0]")?;
    let transcript = alt["transcript"]
        .as_str()
        .ok_or("the alternative has no transcript")?
        .to_owned();
    let words = alt["words"]
        .as_array()
        .map(|ws| {
            ws.iter()
                .filter_map(|w| {
                    let word = w["word"].as_str()?.to_owned();
                    Some(Word {
                        punctuated: w["punctuated_word"]
                            .as_str()
                            .map_or_else(|| word.clone(), str::to_owned),
                        word,
                        start: w["start"].as_f64()?,
                        end: w["end"].as_f64()?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let duration = v
        .pointer("/metadata/duration")
        .and_then(Value::as_f64)
        .filter(|d| d.is_finite() && *d >= 0.0)
        .ok_or("no metadata.duration")?;
    let language = v
        .pointer("/results/channels/0/detected_language")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Listen {
        transcript,
        duration,
        words,
        language,
    })
}

/// A run of words shown together.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

/// Groups words into segments (see the module docs).
pub fn segments(words: &[Word]) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut current: Vec<&Word> = Vec::new();
    let flush = |current: &mut Vec<&Word>, out: &mut Vec<Segment>| {
        if let (Some(first), Some(last)) = (current.first(), current.last()) {
            out.push(Segment {
                start: first.start,
                end: last.end,
                text: current
                    .iter()
                    .map(|w| w.punctuated.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            });
        }
        current.clear();
    };
    for (i, w) in words.iter().enumerate() {
        current.push(w);
        let sentence_end = w.punctuated.ends_with(['.', '?', '!']);
        let pause = words.get(i + 1).is_some_and(|n| n.start - w.end > 1.0);
        if sentence_end || pause || current.len() >= MAX_SEGMENT_WORDS {
            flush(&mut current, &mut out);
        }
    }
    flush(&mut current, &mut out);
    out
}

/// `HH:MM:SS,mmm` (SRT) or `HH:MM:SS.mmm` (WebVTT).
fn timestamp(seconds: f64, separator: char) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}{separator}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

pub fn srt(segments: &[Segment]) -> String {
    let mut out = String::new();
    for (i, s) in segments.iter().enumerate() {
        out.push_str(&format!(
            "{}\n{} --> {}\n{}\n\n",
            i + 1,
            timestamp(s.start, ','),
            timestamp(s.end, ','),
            s.text
        ));
    }
    out
}

pub fn vtt(segments: &[Segment]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for s in segments {
        out.push_str(&format!(
            "{} --> {}\n{}\n\n",
            timestamp(s.start, '.'),
            timestamp(s.end, '.'),
            s.text
        ));
    }
    out
}

/// Whole seconds billed for `duration` (rounded up, at least 1 for any audio).
pub fn billed_seconds(duration: f64) -> u64 {
    if duration.is_finite() && duration > 0.0 {
        duration.ceil() as u64
    } else {
        0
    }
}

/// The caller's body for `format`. `language` is the caller's `language` field.
pub fn render(l: &Listen, format: TranscriptFormat, language: Option<&str>) -> Vec<u8> {
    let text = if l.transcript.is_empty() || l.words.iter().any(|w| w.punctuated != w.word) {
        // Deepgram's `transcript` is unpunctuated unless smart_format was on;
        // the punctuated words read better and say the same.
        if l.words.is_empty() {
            l.transcript.clone()
        } else {
            l.words
                .iter()
                .map(|w| w.punctuated.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        }
    } else {
        l.transcript.clone()
    };
    let usage = json!({"type": "duration", "seconds": billed_seconds(l.duration)});
    match format {
        TranscriptFormat::Json => json!({"text": text, "usage": usage})
            .to_string()
            .into_bytes(),
        TranscriptFormat::Text => format!("{text}\n").into_bytes(),
        TranscriptFormat::Srt => srt(&segments(&l.words)).into_bytes(),
        TranscriptFormat::Vtt => vtt(&segments(&l.words)).into_bytes(),
        TranscriptFormat::VerboseJson => {
            let segs: Vec<Value> = segments(&l.words)
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    json!({
                        "id": i, "seek": 0, "start": s.start, "end": s.end, "text": s.text,
                        "tokens": [], "temperature": 0.0, "avg_logprob": 0.0,
                        "compression_ratio": 0.0, "no_speech_prob": 0.0,
                    })
                })
                .collect();
            let words: Vec<Value> = l
                .words
                .iter()
                .map(|w| json!({"word": w.word, "start": w.start, "end": w.end}))
                .collect();
            json!({
                "task": "transcribe",
                "language": language.or(l.language.as_deref()).unwrap_or("en"),
                "duration": l.duration,
                "text": text,
                "segments": segs,
                "words": words,
                "usage": usage,
            })
            .to_string()
            .into_bytes()
        }
    }
}

/// OpenAI's speech `response_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechFormat {
    Mp3,
    Opus,
    Aac,
    Flac,
    Wav,
    Pcm,
}

impl SpeechFormat {
    pub const NAMES: &'static str = "mp3, opus, aac, flac, wav or pcm";

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "mp3" => SpeechFormat::Mp3,
            "opus" => SpeechFormat::Opus,
            "aac" => SpeechFormat::Aac,
            "flac" => SpeechFormat::Flac,
            "wav" => SpeechFormat::Wav,
            "pcm" => SpeechFormat::Pcm,
            _ => return None,
        })
    }

    /// Deepgram's `/v1/speak` query for this format.
    pub fn deepgram_query(self) -> &'static str {
        match self {
            SpeechFormat::Mp3 => "encoding=mp3",
            SpeechFormat::Opus => "encoding=opus&container=ogg",
            SpeechFormat::Aac => "encoding=aac",
            SpeechFormat::Flac => "encoding=flac",
            SpeechFormat::Wav => "encoding=linear16&container=wav",
            SpeechFormat::Pcm => "encoding=linear16&container=none&sample_rate=24000",
        }
    }

    /// The `Content-Type` the caller gets, as OpenAI labels the format.
    pub fn content_type(self) -> &'static str {
        match self {
            SpeechFormat::Mp3 => "audio/mpeg",
            SpeechFormat::Opus => "audio/opus",
            SpeechFormat::Aac => "audio/aac",
            SpeechFormat::Flac => "audio/flac",
            SpeechFormat::Wav => "audio/wav",
            SpeechFormat::Pcm => "audio/pcm",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listen() -> Value {
        json!({
            "metadata": {"request_id": "r", "duration": 3.5, "channels": 1},
            "results": {"channels": [{"alternatives": [{
                "transcript": "hello world how are you",
                "confidence": 0.9,
                "words": [
                    {"word": "hello", "start": 0.0, "end": 0.4, "punctuated_word": "Hello"},
                    {"word": "world", "start": 0.5, "end": 0.9, "punctuated_word": "world."},
                    {"word": "how", "start": 2.5, "end": 2.7, "punctuated_word": "How"},
                    {"word": "are", "start": 2.8, "end": 3.0, "punctuated_word": "are"},
                    {"word": "you", "start": 3.1, "end": 3.4, "punctuated_word": "you?"},
                ],
            }]}]},
        })
    }

    fn render_str(f: TranscriptFormat) -> String {
        let l = parse_listen(&listen()).unwrap();
        String::from_utf8(render(&l, f, None)).unwrap()
    }

    #[test]
    fn json_and_text_carry_the_punctuated_transcript_and_billed_seconds() {
        let v: Value = serde_json::from_str(&render_str(TranscriptFormat::Json)).unwrap();
        assert_eq!(
            v,
            json!({"text": "Hello world. How are you?", "usage": {"type": "duration", "seconds": 4}})
        );
        assert_eq!(
            render_str(TranscriptFormat::Text),
            "Hello world. How are you?\n"
        );
    }

    #[test]
    fn srt_and_vtt_cues_come_from_word_timings() {
        assert_eq!(
            render_str(TranscriptFormat::Srt),
            "1\n00:00:00,000 --> 00:00:00,900\nHello world.\n\n\
             2\n00:00:02,500 --> 00:00:03,400\nHow are you?\n\n"
        );
        assert_eq!(
            render_str(TranscriptFormat::Vtt),
            "WEBVTT\n\n00:00:00.000 --> 00:00:00.900\nHello world.\n\n\
             00:00:02.500 --> 00:00:03.400\nHow are you?\n\n"
        );
    }

    #[test]
    fn verbose_json_has_duration_segments_and_words() {
        let v: Value = serde_json::from_str(&render_str(TranscriptFormat::VerboseJson)).unwrap();
        assert_eq!(v["duration"], 3.5);
        assert_eq!(v["task"], "transcribe");
        assert_eq!(v["segments"].as_array().unwrap().len(), 2);
        assert_eq!(v["segments"][1]["start"], 2.5);
        assert_eq!(v["segments"][1]["end"], 3.4);
        assert_eq!(v["segments"][1]["text"], "How are you?");
        assert_eq!(
            v["words"][4],
            json!({"word": "you", "start": 3.1, "end": 3.4})
        );
    }

    #[test]
    fn long_runs_and_pauses_split_segments() {
        let words: Vec<Word> = (0..40)
            .map(|i| Word {
                word: format!("w{i}"),
                punctuated: format!("w{i}"),
                start: f64::from(i),
                end: f64::from(i) + 0.5,
            })
            .collect();
        let s = segments(&words);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].text.split(' ').count(), MAX_SEGMENT_WORDS);
        let paused = vec![
            Word {
                word: "a".into(),
                punctuated: "a".into(),
                start: 0.0,
                end: 0.5,
            },
            Word {
                word: "b".into(),
                punctuated: "b".into(),
                start: 2.0,
                end: 2.5,
            },
        ];
        assert_eq!(segments(&paused).len(), 2);
        assert_eq!(timestamp(3725.25, ','), "01:02:05,250");
    }

    #[test]
    fn a_result_without_duration_is_refused() {
        assert!(
            parse_listen(
                &json!({"results": {"channels": [{"alternatives": [{"transcript": ""}]}]}})
            )
            .is_err()
        );
        assert!(parse_listen(&json!({"metadata": {"duration": 1.0}})).is_err());
    }

    #[test]
    fn speech_formats_map_to_deepgram_encodings() {
        assert_eq!(
            SpeechFormat::parse("wav").unwrap().deepgram_query(),
            "encoding=linear16&container=wav"
        );
        assert_eq!(
            SpeechFormat::Pcm.deepgram_query(),
            "encoding=linear16&container=none&sample_rate=24000"
        );
        assert_eq!(
            SpeechFormat::Opus.deepgram_query(),
            "encoding=opus&container=ogg"
        );
        assert!(SpeechFormat::parse("ogg").is_none());
        assert!(TranscriptFormat::parse("diarized_json").is_none());
        assert_eq!(billed_seconds(0.0), 0);
        assert_eq!(billed_seconds(0.01), 1);
    }
}
