//! Finds the top-level `usage` object of a JSON answer as its bytes stream past,
//! without holding the answer: a small state machine that tracks nesting depth,
//! strings and escapes, and captures only the value of the key `usage` at depth 1.
//!
//! Why: whole answers can be large (a batch of 3072-dimension embeddings is many
//! MiB) and providers put `usage` last. Buffering up to a cap and parsing at the
//! end billed every answer past the cap at zero. This scanner costs one branch per
//! byte at most (runs of bytes that cannot matter are skipped with memchr) and keeps
//! at most `MAX_USAGE_BYTES` of the answer.
//!
//! It never fails: malformed JSON simply yields no usage (the caller then falls
//! back to an estimate).

/// A `usage` value longer than this is not usage: stop capturing.
const MAX_USAGE_BYTES: usize = 64 * 1024;
/// What a `usage` value usually takes (OpenAI's, with token details, ~300 bytes).
const USAGE_BYTES_TYPICAL: usize = 512;
/// Only short keys are compared with `usage`.
const MAX_KEY: usize = 16;

#[derive(Debug, Default)]
pub struct UsageScanner {
    /// The top-level key whose value is captured (`usage` unless told).
    target: &'static [u8],
    depth: u32,
    in_string: bool,
    escape: bool,
    /// At depth 1, the next string is a key.
    expect_key: bool,
    reading_key: bool,
    key: Vec<u8>,
    /// Capturing the value of `usage`; `capture_depth` is the depth it started at.
    capturing: bool,
    overflowed: bool,
    capture: Vec<u8>,
    found: Option<Vec<u8>>,
    /// The next value at depth 1 is the top-level `data`.
    data_next: bool,
    in_data: bool,
    /// Objects in the top-level `data` array (images, embeddings).
    data_items: u64,
}

impl UsageScanner {
    pub fn new() -> Self {
        Self::for_key(b"usage")
    }

    /// A scanner for another top-level key (Gemini's `usageMetadata`).
    pub fn for_key(target: &'static [u8]) -> Self {
        UsageScanner {
            target,
            ..Self::default()
        }
    }

    /// Sees the next bytes of the answer.
    ///
    /// Runs of bytes that cannot change the state are skipped in bulk: inside a
    /// string that is neither a key nor captured, everything up to the next `"` or
    /// `\` (memchr); outside strings below the top level, everything that is not
    /// a quote or a bracket (`,` and `:` matter only at depth 1). The rest goes
    /// through `Self::byte` one at a time, with the same result as feeding every
    /// byte there (tested below). Measured on the mock's 434-byte chat answer this
    /// saved little (11.6k to 11.1k instructions, most of it the two `reserve`s
    /// below): the bytes still walked one at a time (top-level keys, the captured
    /// `usage`) are most of the cost (bench/RESULTS.md, branch `meter`).
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while let Some(skip) = self.skippable(bytes) {
            let Some(&b) = bytes.get(skip) else { return };
            self.byte(b);
            bytes = &bytes[skip + 1..];
        }
    }

    /// How many leading bytes of `bytes` [`Self::byte`] would ignore, without
    /// looking at each one; `None` when `bytes` is empty.
    fn skippable(&self, bytes: &[u8]) -> Option<usize> {
        if bytes.is_empty() {
            return None;
        }
        if self.capturing || self.escape {
            return Some(0);
        }
        if self.in_string {
            if self.reading_key {
                return Some(0);
            }
            return Some(memchr::memchr2(b'"', b'\\', bytes).unwrap_or(bytes.len()));
        }
        if self.depth >= 2 {
            return Some(
                bytes
                    .iter()
                    .position(|b| matches!(b, b'"' | b'{' | b'[' | b'}' | b']'))
                    .unwrap_or(bytes.len()),
            );
        }
        Some(0)
    }

    fn byte(&mut self, b: u8) {
        if self.in_string {
            if self.capturing {
                self.keep(b);
            }
            if self.escape {
                self.escape = false;
            } else if b == b'\\' {
                self.escape = true;
            } else if b == b'"' {
                self.in_string = false;
                self.reading_key = false;
                return;
            }
            if self.reading_key && self.key.len() <= MAX_KEY {
                self.key.push(b);
            }
            return;
        }
        match b {
            b'"' => {
                self.in_string = true;
                if self.depth == 1 && self.expect_key && !self.capturing {
                    self.reading_key = true;
                    self.key.clear();
                    // One allocation for every key, not one per doubling.
                    self.key.reserve(MAX_KEY + 1);
                    self.expect_key = false;
                }
                if self.capturing {
                    self.keep(b);
                }
            }
            b'{' | b'[' => {
                self.depth += 1;
                if self.depth == 1 {
                    self.expect_key = b == b'{';
                }
                if self.depth == 2 && b == b'[' && self.data_next {
                    self.in_data = true;
                }
                if self.depth == 3 && b == b'{' && self.in_data {
                    self.data_items += 1;
                }
                if self.depth == 2 {
                    self.data_next = false;
                }
                if self.capturing {
                    self.keep(b);
                }
            }
            b'}' | b']' => {
                if self.depth == 1 && self.capturing {
                    self.end_capture();
                } else if self.capturing {
                    self.keep(b);
                }
                if self.depth == 2 {
                    self.in_data = false;
                }
                self.depth = self.depth.saturating_sub(1);
            }
            b',' if self.depth == 1 => {
                if self.capturing {
                    self.end_capture();
                }
                self.expect_key = true;
                self.data_next = false;
            }
            b':' if self.depth == 1 && !self.capturing => {
                self.data_next = self.key == b"data";
                if self.key == self.target {
                    self.capturing = true;
                    self.overflowed = false;
                    self.capture.clear();
                    // A usage object is a few hundred bytes: one allocation.
                    self.capture.reserve(USAGE_BYTES_TYPICAL);
                }
                self.key.clear();
            }
            _ => {
                if self.capturing {
                    self.keep(b);
                }
            }
        }
    }

    fn keep(&mut self, b: u8) {
        if self.capture.len() < MAX_USAGE_BYTES {
            self.capture.push(b);
        } else {
            self.overflowed = true;
        }
    }

    fn end_capture(&mut self) {
        self.capturing = false;
        if !self.overflowed {
            self.found = Some(std::mem::take(&mut self.capture));
        }
        self.capture.clear();
    }

    /// How many objects the top-level `data` array held.
    pub fn data_items(&self) -> u64 {
        self.data_items
    }

    /// The raw bytes of the `usage` value, once the answer has been seen, for a
    /// borrowed parse (`usage_wire`).
    pub fn usage_bytes(&self) -> Option<&[u8]> {
        self.found.as_deref()
    }

    /// The `usage` value as a `Value` (tests).
    #[cfg(test)]
    pub fn usage(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(self.found.as_deref()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn scan(chunks: &[&[u8]]) -> Option<serde_json::Value> {
        let mut s = UsageScanner::new();
        for c in chunks {
            s.feed(c);
        }
        s.usage()
    }

    #[test]
    fn finds_top_level_usage_only() {
        let body = br#"{"data":[{"usage":{"x":1}}],"note":"\"usage\": {","usage":{"prompt_tokens":3,"completion_tokens":4}}"#;
        assert_eq!(
            scan(&[body]),
            Some(json!({"prompt_tokens":3,"completion_tokens":4}))
        );
        assert_eq!(scan(&[br#"{"data":[1,2]}"#]), None);
        assert_eq!(scan(&[br#"{"usage":null,"a":1}"#]), Some(json!(null)));
        assert_eq!(scan(&[b"not json at all"]), None);
    }

    #[test]
    fn counts_the_objects_of_top_level_data() {
        let mut s = UsageScanner::new();
        s.feed(br#"{"created":1,"data":[{"url":"a","x":{"y":[{}]}},{"url":"b"}],"more":[{}]}"#);
        assert_eq!(s.data_items(), 2);
    }

    fn bytewise(bytes: &[u8]) -> UsageScanner {
        let mut s = UsageScanner::new();
        for &b in bytes {
            s.byte(b);
        }
        s
    }

    #[test]
    fn skipping_stops_at_escapes_and_keys_across_chunks() {
        let body =
            br#"{"id":"a\"usage\":{","choices":[{"m":{"c":"x\\"}},"]"],"usage":{"n":"\"}"}}"#;
        for cut in 0..body.len() {
            let mut s = UsageScanner::new();
            s.feed(&body[..cut]);
            s.feed(&body[cut..]);
            assert_eq!(
                format!("{s:?}"),
                format!("{:?}", bytewise(body)),
                "cut at {cut}"
            );
            assert_eq!(s.usage(), Some(json!({"n": "\"}"})));
        }
    }

    /// A scanner fed `bytes` cut at `cuts` (any positions, in order).
    fn fed_in_pieces(bytes: &[u8], cuts: &[prop::sample::Index]) -> UsageScanner {
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        at.sort_unstable();
        let mut s = UsageScanner::new();
        let mut prev = 0;
        for c in at {
            s.feed(&bytes[prev..c]);
            prev = c;
        }
        s.feed(&bytes[prev..]);
        s
    }

    proptest! {
        /// The bulk skips change nothing: any bytes, any chunking, the same state
        /// as one byte at a time.
        #[test]
        fn feeding_in_bulk_is_feeding_bytewise(
            bytes in proptest::collection::vec(
                prop::sample::select(b"{}[]\",:\\ usagedt0".to_vec()), 0..300),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let s = fed_in_pieces(&bytes, &cuts);
            prop_assert_eq!(format!("{s:?}"), format!("{:?}", bytewise(&bytes)));
        }

        #[test]
        fn usage_survives_any_chunking_and_position(
            pad in 0usize..20_000,
            first in any::<bool>(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
            input in 0u64..1_000_000,
            output in 0u64..1_000_000,
        ) {
            let usage = json!({"prompt_tokens": input, "completion_tokens": output, "d": {"s": "}\",{"}});
            let data = json!([{"embedding": vec![0.5f32; pad / 8], "text": "a \"b\" {c}"}]);
            let body = if first {
                json!({"usage": usage, "object": "list", "data": data})
            } else {
                json!({"object": "list", "data": data, "usage": usage})
            };
            let bytes = serde_json::to_vec(&body).unwrap();
            let s = fed_in_pieces(&bytes, &cuts);
            prop_assert_eq!(s.usage(), Some(usage));
        }
    }
}
