//! Redacting key material from upstream text we pass on to a caller.
//!
//! Providers echo credentials: whole (`Incorrect API key provided: sk-…`), cut
//! (`sk-proj-abc…wxyz`), or as any piece a proxy or a buggy upstream chooses. So an
//! exact-copy search is not enough. We redact every run of at least
//! [`MIN_FRAGMENT`] characters that also occurs somewhere in a known key, compared
//! ASCII-case-insensitively: a long prefix, a long suffix or a long middle piece.
//!
//! # Why 8 characters
//!
//! Provider keys are long and random: OpenAI's `sk-proj-…` run past 150 characters,
//! Anthropic's `sk-ant-api03-…` about 100, Gemini's `AIza…` 39 (35 random), each
//! character worth about 6 bits. A piece shorter than 8 characters gives away at most
//! 7 × 6 = 42 bits, and even two such pieces leave a Gemini key with over 120 bits
//! unknown: nothing anyone can search. Going lower buys little and starts eating
//! ordinary words that happen to occur in a key's fixed prefix; going higher would
//! let through pieces like `sk-proj-AbCdEfGh` that are worth hiding. The forms
//! providers print on purpose (the last 4 characters) stay readable.
//!
//! Cost: building the window set is O(key length), the scan O(text length) hash
//! probes; text is at most 64 KiB (the bounded error body) and usually under 1 KiB.

use std::collections::HashSet;

/// The shortest piece of a key we redact; shorter keys are redacted whole.
pub(crate) const MIN_FRAGMENT: usize = 8;

const MARK: &str = "[redacted]";

/// `text` with every long enough piece of any of `keys` replaced by `[redacted]`.
pub(crate) fn redact(text: &str, keys: &[&str]) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut hidden = vec![false; bytes.len()];
    for key in keys.iter().filter(|k| !k.is_empty()) {
        let key = key.to_ascii_lowercase();
        let width = MIN_FRAGMENT.min(key.len());
        let windows: HashSet<&[u8]> = key.as_bytes().windows(width).collect();
        for (i, window) in bytes.windows(width).enumerate() {
            if windows.contains(window) {
                hidden[i..i + width].iter_mut().for_each(|h| *h = true);
            }
        }
    }
    if !hidden.contains(&true) {
        return text.to_owned();
    }
    // Rebuild from the original text, a char at a time, so a redacted run never
    // splits a multi-byte character (it widens to whole characters instead).
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for (i, c) in text.char_indices() {
        if hidden[i..i + c.len_utf8()].contains(&true) {
            if !in_run {
                out.push_str(MARK);
                in_run = true;
            }
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-proj-Q3vX9aLmZ2pR7tYw1bNc8dKe";

    fn leaks(text: &str) -> bool {
        let lower = text.to_ascii_lowercase();
        KEY.to_ascii_lowercase()
            .as_bytes()
            .windows(MIN_FRAGMENT)
            .any(|w| lower.contains(std::str::from_utf8(w).unwrap()))
    }

    #[test]
    fn whole_prefix_suffix_and_middle_pieces_are_redacted() {
        for piece in [
            KEY,
            &KEY[..MIN_FRAGMENT],
            &KEY[..20],
            &KEY[KEY.len() - MIN_FRAGMENT..],
            &KEY[KEY.len() - 15..],
            &KEY[9..21],
        ] {
            let text = format!("Incorrect API key provided: {piece}. See docs.");
            let out = redact(&text, &[KEY]);
            assert!(!leaks(&out), "{piece}: {out}");
            assert!(out.contains("[redacted]"), "{out}");
            assert!(out.starts_with("Incorrect API key provided: "), "{out}");
            assert!(out.ends_with(". See docs."), "{out}");
        }
    }

    #[test]
    fn case_changes_do_not_hide_a_piece() {
        let text = format!("key {}", KEY.to_ascii_uppercase());
        assert_eq!(redact(&text, &[KEY]), "key [redacted]");
    }

    #[test]
    fn short_pieces_and_unrelated_text_stay() {
        let text = format!("key ending in {} was refused", &KEY[KEY.len() - 4..]);
        assert_eq!(redact(&text, &[KEY]), text);
        let text = format!("two halves {} … {}", &KEY[..7], &KEY[KEY.len() - 7..]);
        assert_eq!(redact(&text, &[KEY]), text);
        assert_eq!(redact("quota exceeded", &[KEY, ""]), "quota exceeded");
    }

    #[test]
    fn a_short_key_is_redacted_whole_and_every_key_counts() {
        assert_eq!(redact("bad key abc12", &["abc12"]), "bad key [redacted]");
        let other = "AIzaNOTAREALKEY0123456789abcdefghijklmn";
        let text = format!("{} and {}", &KEY[3..15], &other[10..30]);
        assert_eq!(redact(&text, &[KEY, other]), "[redacted] and [redacted]");
    }

    #[test]
    fn multibyte_text_around_a_piece_survives() {
        let text = format!("clé ✓{}✓ fin", &KEY[2..14]);
        assert_eq!(redact(&text, &[KEY]), "clé ✓[redacted]✓ fin");
    }
}
