//! Reads token usage out of the response the caller receives, whatever produced
//! it (a provider's own bytes or a translator's), and keeps the text delivered so
//! a stream cut short can still be billed for what was sent.
//!
//! Streams are parsed as they pass, but only the events that carry usage or end
//! the stream are read into the borrowed shape of their format (`usage_wire`; no
//! `Value` tree). Which those are is told without parsing: OpenAI chat chunks by
//! a `"usage"` key whose value is an object (every other chunk says
//! `"usage":null` or nothing) and `[DONE]`; Anthropic and Responses events by
//! their `event:` name, which the SDKs route on too. Events that only carry text
//! are copied, compactly, into one buffer (`Pending`): their text matters only
//! for an estimate when no usage is reported, so it is read at the end if then
//! needed, and the copy is dropped as soon as usage is reported. Gemini chunks
//! all carry text and cumulative `usageMetadata`: all are kept and only the last
//! with usage is read at the end. Past `MAX_PENDING` bytes the kept events are
//! read at once, as every event used to be, so memory stays bounded; the result
//! is the same either way (tests compare it with reading every event).
//!
//! Measured with `REQUESTS=2000 CASES=streamed bench/callgrind.sh` (bench/RESULTS.md,
//! branch `observer`): `Observer::chunk` went from 75.4k to 40.6k instructions per
//! streamed request (inclusive), and the request from 339.5k to 308.7k.
//!
//! The bytes are forwarded untouched (except that an OpenAI usage chunk the
//! caller did not ask for is removed: see [`UsagePlan`], the one place that both
//! asks upstream for the chunk and decides to strip it). Whole JSON answers go
//! through a `UsageScanner`, which finds the top-level `usage` whatever the
//! answer's size; it is read at the end into the provider's usage struct. Only
//! answers that report no usage are kept (up to `MAX_JSON` bytes) to estimate
//! from their text.

use std::sync::LazyLock;

use bytes::{Bytes, BytesMut};
use memchr::memmem::Finder;
use serde_json::Value;

use super::meter::TokenCounts;
use super::usage_scan::UsageScanner;
use super::usage_wire as wire;
use crate::translate::sse::{SseEventRef, SseParser};

/// The most of a whole answer kept for a text estimate when it reports no usage.
const MAX_JSON: usize = 4 * 1024 * 1024;

/// The most of a stream's text-bearing events kept unread. An OpenAI chunk is
/// ~150-250 bytes for a few characters of text, so this holds some 4-6k tokens
/// of output; longer streams read their events a mebibyte at a time, as every
/// event used to be read, instead of holding more per stream.
const MAX_PENDING: usize = 1024 * 1024;

static USAGE_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"usage\""));
static USAGE_METADATA_KEY: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(b"\"usageMetadata\""));

/// Whether to ask an OpenAI-dialect upstream for the stream usage chunk, and
/// whether to remove it before the caller sees it. Decided once, from whether the
/// request is metered and whether the caller asked for the chunk itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsagePlan {
    /// The stream carries the usage chunk: ask the upstream for it
    /// (`stream_options.include_usage`), or have the translator write it.
    pub include: bool,
    /// Remove the usage chunk from the caller's stream.
    pub strip: bool,
}

impl UsagePlan {
    /// `metered`: usage is recorded for this request; `caller_asked`: the caller's
    /// own `stream_options.include_usage`; `openai_stream`: the caller-facing body
    /// is an OpenAI event stream. Metering adds the chunk and removes it again;
    /// with metering off the caller gets exactly what it asked for.
    pub fn new(metered: bool, caller_asked: bool, openai_stream: bool) -> Self {
        UsagePlan {
            include: openai_stream && (caller_asked || metered),
            strip: openai_stream && metered && !caller_asked,
        }
    }
}

/// The shape of the caller-facing body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    OpenAiJson,
    OpenAiSse,
    AnthropicJson,
    AnthropicSse,
    /// Gemini's native `GenerateContentResponse`: usage in `usageMetadata`.
    GeminiJson,
    /// Gemini's `alt=sse` stream: each chunk may carry `usageMetadata` (cumulative).
    GeminiSse,
    /// `/v1/images/generations`: counted per image; usage read if reported.
    OpenAiImages,
    /// `/v1/responses`, whole: `usage.input_tokens` / `output_tokens`.
    ResponsesJson,
    /// `/v1/responses`, streamed: usage in `response.completed` (or
    /// `response.incomplete` / `response.failed`).
    ResponsesSse,
    /// No tokens (errors).
    Opaque,
}

impl BodyFormat {
    /// An event stream (the caller's response is SSE), whatever its dialect.
    pub fn is_stream(self) -> bool {
        matches!(
            self,
            BodyFormat::OpenAiSse
                | BodyFormat::AnthropicSse
                | BodyFormat::GeminiSse
                | BodyFormat::ResponsesSse
        )
    }
}

pub struct Observer {
    strip_usage_chunk: bool,
    parser: SseParser,
    reading: Reading,
    scanner: UsageScanner,
    json: BytesMut,
    /// The answer did not fit in `json`: no text estimate from it.
    json_cut: bool,
}

impl Observer {
    pub fn new(format: BodyFormat, strip_usage_chunk: bool) -> Self {
        Observer {
            strip_usage_chunk,
            parser: SseParser::new(),
            reading: Reading {
                format,
                reported: None,
                completed: false,
                text: String::new(),
                pending: Pending::default(),
            },
            scanner: if format == BodyFormat::GeminiJson {
                UsageScanner::for_key(b"usageMetadata")
            } else {
                UsageScanner::new()
            },
            json: BytesMut::new(),
            json_cut: false,
        }
    }

    /// Sees a chunk on its way to the caller; returns what to send instead.
    pub fn chunk(&mut self, chunk: Bytes) -> Bytes {
        match self.reading.format {
            BodyFormat::OpenAiJson
            | BodyFormat::AnthropicJson
            | BodyFormat::OpenAiImages
            | BodyFormat::ResponsesJson
            | BodyFormat::GeminiJson => {
                self.scanner.feed(&chunk);
                if !self.json_cut && self.json.len() + chunk.len() <= MAX_JSON {
                    self.json.extend_from_slice(&chunk);
                } else {
                    self.json_cut = true;
                    self.json = BytesMut::new();
                }
                chunk
            }
            BodyFormat::Opaque => chunk,
            BodyFormat::OpenAiSse
            | BodyFormat::AnthropicSse
            | BodyFormat::ResponsesSse
            | BodyFormat::GeminiSse => {
                let mut drop_usage = false;
                let reading = &mut self.reading;
                self.parser
                    .feed_with(&chunk, |ev| drop_usage |= reading.see(ev));
                if drop_usage && self.strip_usage_chunk {
                    strip_usage_events(&chunk)
                } else {
                    chunk
                }
            }
        }
    }

    /// Usage the provider reported, once the body has ended. When it returns
    /// `None`, [`completed`](Self::completed) and
    /// [`take_delivered_text`](Self::take_delivered_text) are exact.
    pub fn reported(&mut self) -> Option<TokenCounts> {
        let format = self.reading.format;
        if format.is_stream() {
            self.reading.end();
            return self.reading.reported;
        }
        if !matches!(
            format,
            BodyFormat::OpenAiJson
                | BodyFormat::AnthropicJson
                | BodyFormat::OpenAiImages
                | BodyFormat::ResponsesJson
                | BodyFormat::GeminiJson
        ) || self.reading.reported.is_some()
        {
            return self.reading.reported;
        }
        let found = self
            .scanner
            .usage_bytes()
            .filter(|b| b.trim_ascii_start().starts_with(b"{"));
        match found {
            Some(b) => {
                self.reading.completed = true;
                self.reading.reported = match format {
                    BodyFormat::OpenAiJson => {
                        wire::parse_usage::<wire::OpenAiUsage>(b).map(|u| u.counts())
                    }
                    BodyFormat::OpenAiImages => wire::parse_usage::<wire::InputOutputUsage>(b)
                        .and_then(|u| u.image_counts()),
                    BodyFormat::ResponsesJson => {
                        wire::parse_usage::<wire::InputOutputUsage>(b).map(|u| u.counts())
                    }
                    BodyFormat::GeminiJson => {
                        wire::parse_usage::<wire::GeminiUsage>(b).map(|u| u.counts())
                    }
                    _ => wire::parse_usage::<wire::AnthropicUsage>(b).map(|u| u.counts()),
                };
            }
            // Rare: no usage reported. Read the answer's text for an estimate.
            None if !self.json_cut => self.estimate_text(),
            None => {}
        }
        self.reading.reported
    }

    /// The body reached its own clean end (`[DONE]`, `message_stop`, a Gemini
    /// finish reason, a whole answer). Exact once [`reported`](Self::reported)
    /// has returned `None`, the only case it is needed for.
    pub fn completed(&self) -> bool {
        self.reading.completed
    }

    /// The text and tool-call arguments delivered, for an estimate. Complete
    /// once [`reported`](Self::reported) has returned `None`; not kept once the
    /// provider has reported usage (no estimate is made then).
    pub fn take_delivered_text(&mut self) -> String {
        std::mem::take(&mut self.reading.text)
    }

    /// The text of a whole answer that reported no usage, for an estimate.
    fn estimate_text(&mut self) {
        let Ok(v) = serde_json::from_slice::<Value>(&self.json) else {
            return;
        };
        self.reading.completed = true;
        let out = &mut self.reading.text;
        push_str(out, &v["choices"][0]["message"]["content"]);
        for block in v["content"].as_array().into_iter().flatten() {
            push_str(out, &block["text"]);
        }
        for item in v["output"].as_array().into_iter().flatten() {
            push_str(out, &item["arguments"]);
            for part in item["content"].as_array().into_iter().flatten() {
                push_str(out, &part["text"]);
            }
        }
        for part in v
            .pointer("/candidates/0/content/parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            push_str(out, &part["text"]);
        }
    }

    /// Images delivered (`/v1/images/generations`), 0 for other formats.
    pub fn images(&self) -> u64 {
        match self.reading.format {
            BodyFormat::OpenAiImages => self.scanner.data_items(),
            _ => 0,
        }
    }
}

/// What the observer has learnt from the body, and the stream events it has
/// kept unread.
#[derive(Debug)]
struct Reading {
    format: BodyFormat,
    reported: Option<TokenCounts>,
    completed: bool,
    /// Text and tool-argument characters delivered, for estimates.
    text: String,
    /// Invariant: outside Gemini, events are kept only while `reported` is
    /// `None` (once it is `Some` it stays so, and no estimate is made).
    pending: Pending,
}

impl Reading {
    /// One stream event as the parser lends it; true if it is an OpenAI
    /// usage-only chunk. Reads it now only if it may carry usage or end the
    /// stream; keeps it if it only carries text; skips it if it carries neither.
    fn see(&mut self, ev: SseEventRef<'_>) -> bool {
        match self.format {
            BodyFormat::OpenAiSse => {
                if ev.data == "[DONE]" {
                    self.completed = true;
                    false
                } else if has_object_value(&USAGE_KEY, ev.data) {
                    self.read_now(ev.data)
                } else {
                    // `"usage":null` or none: text, tool arguments, a finish reason.
                    self.keep(ev.data);
                    false
                }
            }
            BodyFormat::AnthropicSse => match ev.event {
                Some("content_block_delta") => {
                    self.keep(ev.data);
                    false
                }
                Some("ping" | "content_block_start" | "content_block_stop") => false,
                // message_start, message_delta, message_stop; unnamed or unknown
                // events are read as before, whatever their `type`.
                _ => self.read_now(ev.data),
            },
            BodyFormat::ResponsesSse => match ev.event {
                Some("response.output_text.delta" | "response.function_call_arguments.delta") => {
                    self.keep(ev.data);
                    false
                }
                Some("response.completed" | "response.incomplete" | "response.failed") => {
                    self.read_now(ev.data)
                }
                // Named events that neither carry usage nor count text
                // (`response.created`, `response.output_item.done`, …: the large ones).
                Some(name) if name.starts_with("response.") => false,
                _ => self.read_now(ev.data),
            },
            BodyFormat::GeminiSse => {
                // Every chunk may carry both text and (cumulative) usage: keep
                // them all, remember the last with usage, read it at the end.
                let usage = has_object_value(&USAGE_METADATA_KEY, ev.data);
                if usage || self.reported.is_none() {
                    let at = self.keep_in_order(ev.data);
                    if usage {
                        self.pending.last_usage = at;
                    }
                }
                false
            }
            _ => false,
        }
    }

    /// An event that may carry usage or end the stream: read now.
    fn read_now(&mut self, data: &str) -> bool {
        let before = self.text.len();
        let usage_only = self.read(data);
        if self.reported.is_some() {
            self.pending = Pending::default();
        } else if self.text.len() > before && !self.pending.is_empty() {
            // Rare (a chunk with a nested `usage` object and text): the kept
            // events' text comes first.
            let tail = self.text.split_off(before);
            self.read_pending();
            self.text.push_str(&tail);
        }
        usage_only
    }

    /// A text-only event: kept unread while an estimate may need its text.
    fn keep(&mut self, data: &str) {
        if self.reported.is_none() {
            self.keep_in_order(data);
        }
    }

    /// Keeps `data` after the events already kept, reading them first if it
    /// would not fit; returns where it was kept (`None`: too large, read now).
    fn keep_in_order(&mut self, data: &str) -> Option<usize> {
        if !self.pending.fits(data) {
            self.read_pending();
            if !self.pending.fits(data) {
                self.read(data);
                return None;
            }
        }
        Some(self.pending.push(data))
    }

    /// Reads the kept events, in order, exactly as on arrival.
    fn read_pending(&mut self) {
        let kept = std::mem::take(&mut self.pending.bytes);
        for data in records(&kept) {
            self.read(data);
        }
        self.pending.bytes = kept;
        self.pending.bytes.clear();
        self.pending.last_usage = None;
    }

    /// At the end of the stream: the last Gemini usage if it reads, else every
    /// kept event (only kept while no usage is known, outside Gemini).
    fn end(&mut self) {
        if !self.read_last_gemini_usage() {
            self.read_pending();
        }
        self.pending = Pending::default();
    }

    /// Gemini's last kept chunk with `usageMetadata`, read: later chunks have
    /// none, so this is the usage that reading every chunk would end with.
    fn read_last_gemini_usage(&mut self) -> bool {
        let Some(at) = self.pending.last_usage else {
            return false;
        };
        let Some(chunk) = self
            .pending
            .record(at)
            .and_then(|d| serde_json::from_str::<wire::GeminiChunk>(d).ok())
        else {
            return false;
        };
        let Some(usage) = &chunk.usage_metadata else {
            return false;
        };
        self.reported = Some(usage.counts());
        // Best effort: `completed` only matters when no usage is reported.
        if chunk
            .candidates
            .iter()
            .flatten()
            .any(|c| c.finish_reason.as_str().is_some_and(|r| !r.is_empty()))
        {
            self.completed = true;
        }
        true
    }

    /// Reads one event into the borrowed shape of its format (`usage_wire`),
    /// never a `Value`; true if it is an OpenAI usage-only chunk.
    fn read(&mut self, data: &str) -> bool {
        let out = &mut self.text;
        match self.format {
            BodyFormat::OpenAiSse => {
                let Ok(c) = serde_json::from_str::<wire::ChatChunk>(data) else {
                    return false;
                };
                for choice in c.choices.iter().flatten() {
                    if let Some(delta) = &choice.delta {
                        delta.content.push_to(out);
                        for tc in delta.tool_calls.iter().flatten() {
                            if let Some(f) = &tc.function {
                                f.arguments.push_to(out);
                            }
                        }
                    }
                }
                if let Some(u) = &c.usage {
                    self.reported = Some(u.counts());
                    return c.is_usage_only();
                }
                false
            }
            BodyFormat::AnthropicSse => {
                let Ok(e) = serde_json::from_str::<wire::AnthropicEvent>(data) else {
                    return false;
                };
                match e.kind.as_str() {
                    Some("message_start") => {
                        if let Some(u) = e.message.as_ref().and_then(|m| m.usage.as_ref()) {
                            self.reported = Some(u.counts());
                        }
                    }
                    Some("content_block_delta") => {
                        if let Some(d) = &e.delta {
                            d.text.push_to(out);
                            d.partial_json.push_to(out);
                        }
                    }
                    Some("message_delta") => {
                        let mut u = self.reported.unwrap_or_default();
                        if let Some(usage) = &e.usage {
                            if let Some(output) = usage.output() {
                                // Cumulative: take the last, never sum.
                                u.output = output;
                            }
                            let more = usage.counts();
                            if more.input > 0 {
                                u.input = more.input;
                                u.cached = more.cached;
                            }
                        }
                        self.reported = Some(u);
                    }
                    Some("message_stop") => self.completed = true,
                    _ => {}
                }
                false
            }
            BodyFormat::ResponsesSse => {
                let Ok(e) = serde_json::from_str::<wire::ResponsesEvent>(data) else {
                    return false;
                };
                match e.kind.as_str() {
                    Some(
                        "response.output_text.delta" | "response.function_call_arguments.delta",
                    ) => e.delta.push_to(out),
                    Some(
                        kind @ ("response.completed" | "response.incomplete" | "response.failed"),
                    ) => {
                        if let Some(u) = e.response.as_ref().and_then(|r| r.usage.as_ref()) {
                            self.reported = Some(u.counts());
                        }
                        self.completed = kind != "response.failed";
                    }
                    _ => {}
                }
                false
            }
            BodyFormat::GeminiSse => {
                let Ok(c) = serde_json::from_str::<wire::GeminiChunk>(data) else {
                    return false;
                };
                for cand in c.candidates.iter().flatten() {
                    let parts = cand.content.as_ref().and_then(|c| c.parts.as_ref());
                    for part in parts.into_iter().flatten() {
                        part.text.push_to(out);
                    }
                    // Gemini streams just end: a finish reason is their clean end.
                    if cand.finish_reason.as_str().is_some_and(|r| !r.is_empty()) {
                        self.completed = true;
                    }
                }
                if let Some(u) = &c.usage_metadata {
                    // Cumulative: the last wins.
                    self.reported = Some(u.counts());
                }
                false
            }
            _ => false,
        }
    }
}

/// Stream events kept unread, in arrival order: each a 4-byte little-endian
/// length and the event's data. One buffer, not the chunks themselves: holding
/// a chunk would pin the whole read buffer it was cut from.
#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Gemini: where the last kept chunk with `usageMetadata` starts.
    last_usage: Option<usize>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn fits(&self, data: &str) -> bool {
        self.bytes.len() + 4 + data.len() <= MAX_PENDING
    }

    /// Appends an event that [`fits`](Self::fits); returns where it starts.
    fn push(&mut self, data: &str) -> usize {
        let at = self.bytes.len();
        let need = 4 + data.len();
        if self.bytes.capacity() - at < need {
            // Double as a Vec does, but never past the cap.
            let want = (self.bytes.capacity() * 2)
                .clamp(4096, MAX_PENDING)
                .max(at + need);
            self.bytes.reserve_exact(want - at);
        }
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(data.as_bytes());
        at
    }

    /// The event kept at `at`.
    fn record(&self, at: usize) -> Option<&str> {
        records(self.bytes.get(at..)?).next()
    }
}

/// The events of a [`Pending`] buffer, in order.
fn records(mut bytes: &[u8]) -> impl Iterator<Item = &str> {
    std::iter::from_fn(move || {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let (data, rest) = rest.split_at_checked(u32::from_le_bytes(*len) as usize)?;
        bytes = rest;
        // Kept from a `&str`: always UTF-8.
        Some(std::str::from_utf8(data).unwrap_or_default())
    })
}

/// Whether `data` holds the key `finder` looks for (quoted) with an object as
/// its value (or an array, which serde also reads a struct from). In JSON a
/// quote inside a string is escaped, so a match is a key (or a string value,
/// not followed by `:`): every event whose top level has that key with such a
/// value matches, at any depth too, which only means it is read as before.
fn has_object_value(finder: &Finder<'_>, data: &str) -> bool {
    let data = data.as_bytes();
    let key = finder.needle().len();
    finder.find_iter(data).any(|at| {
        data[at + key..]
            .trim_ascii_start()
            .strip_prefix(b":")
            .is_some_and(|v| matches!(v.trim_ascii_start().first(), Some(b'{' | b'[')))
    })
}

fn push_str(out: &mut String, v: &Value) {
    if let Some(s) = v.as_str() {
        out.push_str(s);
    }
}

/// `chunk` without its `"choices":[]` usage events (rarely more than one event).
fn strip_usage_events(chunk: &Bytes) -> Bytes {
    let text = String::from_utf8_lossy(chunk);
    let mut out = String::with_capacity(text.len());
    for block in text.split_inclusive("\n\n") {
        let is_usage = block
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .any(|d| {
                serde_json::from_str::<wire::ChatChunk>(d.trim()).is_ok_and(|c| c.is_usage_only())
            });
        if !is_usage {
            out.push_str(block);
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests;
