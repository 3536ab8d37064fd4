//! Token estimates for when a provider reports none (a stream cut short, an
//! upstream that omits usage): tiktoken's `o200k_base`, loaded at first use.
//! Not on the hot path: only requests without reported usage count tokens, and
//! every caller counts on a blocking thread.
//!
//! Loaded lazily because the tables cost ~26 MB of RSS, most of an idle gateway's,
//! and many deployments never need an estimate; the first estimate waits for the
//! load instead.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

static BPE: OnceLock<Option<CoreBPE>> = OnceLock::new();

fn bpe() -> Option<&'static CoreBPE> {
    BPE.get_or_init(|| tiktoken_rs::o200k_base().ok()).as_ref()
}

/// Tokens in `text`; ~4 bytes a token if the tokenizer is unavailable.
pub fn count(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    match bpe() {
        Some(b) => b.encode_ordinary(text).len() as u64,
        None => text.len().div_ceil(4) as u64,
    }
}

/// The text a request sends a model: every string under `content`, `text`,
/// `system`, `input` or `prompt`, for an input estimate.
pub fn request_text(body: &[u8]) -> String {
    /// serde_json already stops parsing at 128 levels; the walk says so itself, so
    /// it stays bounded if the parse is ever configured otherwise.
    const MAX_DEPTH: usize = 128;
    fn walk(v: &serde_json::Value, key: Option<&str>, out: &mut String, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match v {
            serde_json::Value::String(s)
                if matches!(
                    key,
                    Some("content" | "text" | "system" | "input" | "prompt")
                ) =>
            {
                out.push_str(s);
                out.push('\n');
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, key, out, depth + 1)),
            serde_json::Value::Object(o) => {
                o.iter().for_each(|(k, x)| walk(x, Some(k), out, depth + 1))
            }
            _ => {}
        }
    }
    let mut out = String::new();
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        walk(&v, None, &mut out, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_tokens_and_extracts_request_text() {
        assert_eq!(count(""), 0);
        let n = count("Hello world, this is a test.");
        assert!((5..=10).contains(&n), "{n}");
        let text = request_text(br#"{"model":"m","messages":[{"role":"user","content":"hi there"},{"role":"user","content":[{"type":"text","text":"again"}]}]}"#);
        assert!(text.contains("hi there") && text.contains("again") && !text.contains("user"));
    }
}
