//! An incremental server-sent-events parser for the streaming hot path
//! (wire-formats.md §0, the WHATWG event-stream rules).
//!
//! Bytes are fed as the network hands them over, split anywhere (mid-line,
//! mid-CRLF, mid-UTF-8 character); each byte is scanned once, and only the
//! unfinished last line is kept between calls. `eventsource-stream` re-parses
//! whole lines per chunk, which is why this exists (DESIGN, pitfalls).
//!
//! Rules: a line ends with `\n`, `\r\n` or `\r`; `:` lines are comments; the
//! field name runs to the first `:` and one space after it is stripped; `data`
//! lines join with `\n`; `event` names the event (an empty name means none);
//! `id`, `retry` and unknown fields are ignored; a blank line dispatches the
//! event, unless it had no `data` line. A UTF-8 BOM opening the stream is skipped
//! and invalid UTF-8 becomes U+FFFD, as the spec says.
//!
//! Bounds: a line longer than [`MAX_LINE_BYTES`] is not buffered (its bytes are
//! skipped up to the next line end, so memory stays bounded), and the event it
//! belongs to is dropped, as is an event whose data grows past the same size;
//! parsing goes on with the next event. Both are logged. The spec has no limit;
//! no provider sends anything near it.
//!
//! Events come out two ways: [`SseParser::feed`] returns owned [`SseEvent`]s,
//! and [`SseParser::feed_with`] lends each one ([`SseEventRef`]) to a callback
//! from buffers the parser reuses, so a reader that only looks at events (the
//! metering observer) allocates nothing per event.
//!
//! Deviation: the spec discards an event cut off by the end of the stream;
//! [`SseParser::finish`] returns it instead, because some upstreams (Gemini's
//! `alt=sse`) end without the final blank line. Callers decide what it means.

/// The longest line, and the largest event data, kept (16 MiB).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Above this, the line buffer is freed once its line is done, and the event
/// buffers once their event is.
const KEEP_LINE_CAPACITY: usize = 64 << 10;

const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name; `None` when absent or empty.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// An event lent to the [`SseParser::feed_with`] callback: borrowed from the
/// parser's buffers, valid until the callback returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEventRef<'a> {
    /// The `event:` name; `None` when absent or empty.
    pub event: Option<&'a str>,
    /// The `data:` lines, joined with `\n`.
    pub data: &'a str,
}

impl SseEventRef<'_> {
    pub fn to_event(self) -> SseEvent {
        SseEvent {
            event: self.event.map(str::to_owned),
            data: self.data.to_owned(),
        }
    }
}

#[derive(Debug, Default)]
pub struct SseParser {
    /// The unfinished last line.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a leading `\n` in this one ends nothing.
    after_cr: bool,
    /// The current line is over the limit: skip to its end.
    skipping_line: bool,
    /// A line has been completed (so the BOM check is done).
    seen_line: bool,
    /// The current event's name (empty: none). Reused from event to event, as
    /// is `data`: cleared at dispatch, not reallocated.
    event: String,
    data: String,
    has_data: bool,
    /// A line of the current event was dropped, or its data is over the limit:
    /// drop the event when it dispatches.
    oversized_event: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes as they arrive (any split, even mid-line or mid-UTF-8); returns
    /// the events completed by them.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        self.feed_with(chunk, |e| events.push(e.to_event()));
        events
    }

    /// [`feed`](Self::feed), lending each completed event to `on_event` instead
    /// of allocating it.
    pub fn feed_with(&mut self, chunk: &[u8], mut on_event: impl FnMut(SseEventRef<'_>)) {
        let mut rest = chunk;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if let Some(tail) = rest.strip_prefix(b"\n") {
                rest = tail;
            }
        }
        // memchr2 scans a word at a time: the byte-by-byte search was half of
        // this parser's cost per event (bench/RESULTS.md, branch `hot`).
        while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
            let (head, tail) = rest.split_at(end);
            if !self.skipping_line && self.line.len() + head.len() > MAX_LINE_BYTES {
                self.start_skipping();
            }
            if self.skipping_line {
                self.skipping_line = false;
                self.seen_line = true;
            } else if self.line.is_empty() {
                // The common case: the whole line is in this chunk, no copy.
                self.take_line(head, &mut on_event);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(head);
                self.take_line(&line, &mut on_event);
                // Keep the buffer for the next split line, unless a rare long line
                // grew it: a stream should not hold megabytes for its lifetime.
                if line.capacity() <= KEEP_LINE_CAPACITY {
                    line.clear();
                    self.line = line;
                }
            }
            rest = match tail {
                [b'\r', b'\n', more @ ..] => more,
                [b'\r'] => {
                    self.after_cr = true;
                    &[]
                }
                [_, more @ ..] => more,
                [] => &[],
            };
        }
        if !self.skipping_line {
            if self.line.len() + rest.len() > MAX_LINE_BYTES {
                self.start_skipping();
            } else {
                self.line.extend_from_slice(rest);
            }
        }
    }

    /// At the end of the stream: the last event if it lacked its closing blank
    /// line (see the module doc), and a reset parser.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let mut last = None;
        self.finish_with(|e| last = Some(e.to_event()));
        last
    }

    /// [`finish`](Self::finish), lending the last event to `on_event`.
    pub fn finish_with(&mut self, mut on_event: impl FnMut(SseEventRef<'_>)) {
        if !self.skipping_line && !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.take_line(&line, &mut on_event);
        }
        self.take_line(b"", &mut on_event);
        *self = Self::default();
    }

    fn start_skipping(&mut self) {
        tracing::warn!(
            limit = MAX_LINE_BYTES,
            "dropping an event-stream line over the size limit"
        );
        self.skipping_line = true;
        // Never hand out an event with one of its lines missing.
        self.oversized_event = true;
        // Give the memory back: this buffer may be near the limit.
        self.line = Vec::new();
    }

    /// Interprets one complete line (without its terminator).
    fn take_line(&mut self, mut line: &[u8], events: &mut impl FnMut(SseEventRef<'_>)) {
        if !self.seen_line {
            self.seen_line = true;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.oversized_event || self.data.len() + value.len() > MAX_LINE_BYTES {
                    if !self.oversized_event {
                        tracing::warn!(
                            limit = MAX_LINE_BYTES,
                            "dropping an event-stream event over the size limit"
                        );
                    }
                    self.oversized_event = true;
                    self.data = String::new();
                } else {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    push_text(&mut self.data, value);
                }
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                push_text(&mut self.event, value);
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, events: &mut impl FnMut(SseEventRef<'_>)) {
        let complete = self.has_data && !self.oversized_event;
        self.has_data = false;
        self.oversized_event = false;
        if complete {
            events(SseEventRef {
                event: (!self.event.is_empty()).then_some(self.event.as_str()),
                data: &self.data,
            });
        }
        // Reused for the next event, unless a rare large one grew them.
        for buf in [&mut self.event, &mut self.data] {
            if buf.capacity() > KEEP_LINE_CAPACITY {
                *buf = String::new();
            } else {
                buf.clear();
            }
        }
    }
}

/// Appends `bytes` as text, invalid UTF-8 replaced by U+FFFD. Valid text (nearly
/// always) is checked by `str::from_utf8`, which skips ASCII a word at a time;
/// `String::from_utf8_lossy` walks it byte by byte (16.6k instructions per
/// 9-event stream under callgrind, bench/RESULTS.md).
fn push_text(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(input: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut events = p.feed(input);
        events.extend(p.finish());
        events
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: data.to_owned(),
        }
    }

    const SAMPLE: &[u8] = b": keepalive\r\n\
        event: message_start\r\ndata: {\"type\":\"message_start\"}\r\n\r\n\
        data: line one\ndata:line two\ndata:  two spaces\n\n\
        id: 7\nretry: 100\nfoo: bar\ndata\n\n\
        event: only-a-name\n\n\
        data: caf\xC3\xA9 \xE2\x82\xAC\r\rdata: [DONE]\n\n";

    #[test]
    fn invalid_utf8_becomes_the_replacement_character() {
        assert_eq!(
            parse_all(b"event: n\xFFm\ndata: a\xC3b\ndata: ok\n\n"),
            vec![ev(Some("n\u{FFFD}m"), "a\u{FFFD}b\nok")]
        );
    }

    fn sample_events() -> Vec<SseEvent> {
        vec![
            ev(Some("message_start"), "{\"type\":\"message_start\"}"),
            ev(None, "line one\nline two\n two spaces"),
            ev(None, ""),
            ev(None, "café €"),
            ev(None, "[DONE]"),
        ]
    }

    #[test]
    fn parses_every_line_ending_comment_and_field() {
        assert_eq!(parse_all(SAMPLE), sample_events());
    }

    #[test]
    fn an_event_name_does_not_leak_into_the_next_event() {
        // `event: only-a-name` had no data: not dispatched, and its name is reset.
        let events = parse_all(b"event: a\n\ndata: x\n\n");
        assert_eq!(events, vec![ev(None, "x")]);
    }

    #[test]
    fn finish_returns_an_unterminated_last_event_once() {
        let mut p = SseParser::new();
        assert_eq!(p.feed(b"data: a\n\ndata: b"), vec![ev(None, "a")]);
        assert_eq!(p.finish(), Some(ev(None, "b")));
        assert_eq!(p.finish(), None);
        let mut p = SseParser::new();
        assert!(p.feed(b"event: e\ndata: c\n").is_empty());
        assert_eq!(p.finish(), Some(ev(Some("e"), "c")));
    }

    #[test]
    fn a_leading_bom_is_skipped_even_when_split() {
        let mut p = SseParser::new();
        assert!(p.feed(b"\xEF\xBB").is_empty());
        assert_eq!(p.feed(b"\xBFdata: x\n\n"), vec![ev(None, "x")]);
        // Only at the very start.
        assert_eq!(
            parse_all(b"data: y\n\n\xEF\xBB\xBFdata: z\n\n"),
            vec![ev(None, "y")]
        );
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_end() {
        let mut p = SseParser::new();
        let mut events = p.feed(b"data: a\r");
        events.extend(p.feed(b""));
        events.extend(p.feed(b"\n"));
        events.extend(p.feed(b"\r"));
        events.extend(p.feed(b"\ndata: b\r\n\r\n"));
        assert_eq!(events, vec![ev(None, "a"), ev(None, "b")]);
    }

    #[test]
    fn an_oversized_line_is_dropped_and_parsing_goes_on() {
        let mut p = SseParser::new();
        let big = vec![b'x'; 1 << 20];
        let mut events = p.feed(b"data: ok\n\ndata: ");
        for _ in 0..17 {
            events.extend(p.feed(&big));
        }
        assert!(p.line.capacity() <= MAX_LINE_BYTES);
        events.extend(p.feed(b"\ndata: rest of the dropped event\n\ndata: after\n\n"));
        assert_eq!(events, vec![ev(None, "ok"), ev(None, "after")]);
    }

    #[test]
    fn events_are_lent_from_reused_buffers_that_a_large_event_does_not_pin() {
        let mut p = SseParser::new();
        let mut seen = Vec::new();
        p.feed_with(b"event: a\ndata: 1\n\ndata: 2\n\n", |e| {
            seen.push((e.event.map(str::to_owned), e.data.to_owned()))
        });
        assert_eq!(
            seen,
            [
                (Some("a".to_owned()), "1".to_owned()),
                (None, "2".to_owned())
            ]
        );
        let big = format!(
            "event: {}\ndata: {}\n\n",
            "e".repeat(1 << 17),
            "d".repeat(1 << 17)
        );
        let mut sizes = Vec::new();
        p.feed_with(big.as_bytes(), |e| {
            sizes.push((e.event.map_or(0, str::len), e.data.len()))
        });
        assert_eq!(sizes, [(1 << 17, 1 << 17)]);
        assert!(p.data.capacity() <= KEEP_LINE_CAPACITY);
        assert!(p.event.capacity() <= KEEP_LINE_CAPACITY);
        let mut last = None;
        p.feed_with(b"data: x", |_| unreachable!());
        p.finish_with(|e| last = Some(e.to_event()));
        assert_eq!(last, Some(ev(None, "x")));
    }

    #[test]
    fn an_oversized_event_is_dropped_and_parsing_goes_on() {
        let line = format!("data: {}\n", "y".repeat(1 << 20));
        let mut p = SseParser::new();
        let mut events = Vec::new();
        for _ in 0..17 {
            events.extend(p.feed(line.as_bytes()));
        }
        events.extend(p.feed(b"\ndata: after\n\n"));
        assert_eq!(events, vec![ev(None, "after")]);
    }

    proptest! {
        #[test]
        fn every_split_gives_the_same_events(cuts in proptest::collection::vec(0..SAMPLE.len(), 0..8)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let mut p = SseParser::new();
            let mut events = Vec::new();
            let mut from = 0;
            for cut in cuts {
                events.extend(p.feed(&SAMPLE[from..cut]));
                from = cut;
            }
            events.extend(p.feed(&SAMPLE[from..]));
            events.extend(p.finish());
            prop_assert_eq!(events, sample_events());
        }

        #[test]
        fn byte_by_byte_equals_all_at_once(input in proptest::collection::vec(
            prop_oneof![Just(b'\n'), Just(b'\r'), Just(b':'), Just(b' '), Just(b'd'), Just(b'a'), Just(b't'), any::<u8>()],
            0..200,
        )) {
            let mut p = SseParser::new();
            let mut events = Vec::new();
            for b in &input {
                events.extend(p.feed(std::slice::from_ref(b)));
            }
            events.extend(p.finish());
            prop_assert_eq!(events, parse_all(&input));
        }
    }

    #[test]
    fn every_single_split_point_of_the_sample() {
        for cut in 0..=SAMPLE.len() {
            let mut p = SseParser::new();
            let mut events = p.feed(&SAMPLE[..cut]);
            events.extend(p.feed(&SAMPLE[cut..]));
            events.extend(p.finish());
            assert_eq!(events, sample_events(), "cut at {cut}");
        }
    }
}
