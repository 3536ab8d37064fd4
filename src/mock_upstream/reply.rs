//! What the mock says, independent of any provider's wire format: the
//! deterministic reply text, how it is cut into stream pieces, how words are
//! counted as tokens, and the canned tool call.
//!
//! Everything here is a pure function of the request so tests can predict
//! the exact bytes and token counts the gateway should relay and meter.

use super::directives::Directives;

/// Echoed user text is cut to this many characters (not bytes, so a
/// multi-byte character is never split).
pub(crate) const ECHO_LIMIT_CHARS: usize = 200;

/// Arguments of the canned tool call, as the JSON string providers send.
pub(crate) const TOOL_ARGUMENTS: &str = r#"{"location":"Paris"}"#;

/// [`TOOL_ARGUMENTS`] cut into the fragments a stream sends after the
/// opening tool-call delta; more than one so gateways must concatenate.
pub(crate) const TOOL_ARGUMENT_FRAGMENTS: [&str; 3] = [r#"{"location""#, r#":"Paris"#, r#""}"#];

/// The reply to a request whose last user message reads `last_user_text`.
pub(crate) fn reply_text(last_user_text: &str, directives: &Directives) -> String {
    echo("Mock reply to: ", last_user_text, directives)
}

/// The reply to a message that answers a tool call with `result_text`.
/// It names the result, so a test can see the tool output made the round
/// trip through the gateway.
pub(crate) fn tool_result_reply_text(result_text: &str, directives: &Directives) -> String {
    echo("Mock reply to tool result: ", result_text, directives)
}

/// The reply to a Gemini turn answering a function call; `response_json`
/// is the JSON of its first `functionResponse.response` object.
pub(crate) fn function_response_reply_text(response_json: &str, directives: &Directives) -> String {
    echo(
        "Mock reply to function response: ",
        response_json,
        directives,
    )
}

fn echo(prefix: &str, text: &str, directives: &Directives) -> String {
    match directives.words {
        Some(n) => numbered_words(n),
        None => {
            let echoed: String = text.chars().take(ECHO_LIMIT_CHARS).collect();
            format!("{prefix}{echoed}")
        }
    }
}

/// `"w1 w2 … wN"`; empty for zero.
fn numbered_words(n: usize) -> String {
    let mut text = String::with_capacity(n * 7);
    for i in 1..=n {
        if i > 1 {
            text.push(' ');
        }
        text.push('w');
        text.push_str(&i.to_string());
    }
    text
}

/// Cuts `text` into one piece per word, each word keeping the whitespace that
/// follows it (leading whitespace stays with the first word), so the pieces
/// concatenate back to `text` exactly and, for any text with a word in it,
/// their number equals [`count_words`]. Streams send one piece per event.
pub(crate) fn stream_pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut seen_word = false;
    let mut prev_is_space = false;
    for (i, c) in text.char_indices() {
        let is_space = c.is_whitespace();
        // A word starts here: cut before it, unless it is the first word.
        if !is_space && prev_is_space && seen_word {
            pieces.push(&text[start..i]);
            start = i;
        }
        seen_word |= !is_space;
        prev_is_space = is_space;
    }
    // Whitespace-only text still becomes one piece, so nothing is lost.
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// The mock's "tokenizer": whitespace-separated words. Crude, but exact and
/// predictable, which is what metering tests need.
pub(crate) fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_reply_truncates_by_characters() {
        let long = "é".repeat(ECHO_LIMIT_CHARS + 50);
        let reply = reply_text(&long, &Directives::default());
        assert_eq!(
            reply,
            format!("Mock reply to: {}", "é".repeat(ECHO_LIMIT_CHARS))
        );
    }

    #[test]
    fn tool_result_reply_names_the_result() {
        assert_eq!(
            tool_result_reply_text("sunny, 21 °C", &Directives::default()),
            "Mock reply to tool result: sunny, 21 °C"
        );
    }

    #[test]
    fn words_directive_replaces_the_echo() {
        let directives = Directives {
            words: Some(4),
            ..Directives::default()
        };
        assert_eq!(reply_text("ignored", &directives), "w1 w2 w3 w4");
        let zero = Directives {
            words: Some(0),
            ..Directives::default()
        };
        assert_eq!(reply_text("ignored", &zero), "");
    }

    #[test]
    fn pieces_keep_trailing_whitespace_and_concatenate_back() {
        assert_eq!(
            stream_pieces("Mock reply to: hi"),
            ["Mock ", "reply ", "to: ", "hi"]
        );
        assert_eq!(stream_pieces(""), Vec::<&str>::new());
        assert_eq!(stream_pieces("   "), ["   "]);
        for text in [
            "one",
            "  lead and trail  ",
            "tabs\tand\nnew  lines",
            "ünï cödé ✓",
        ] {
            let pieces = stream_pieces(text);
            assert_eq!(pieces.concat(), text, "{text:?}");
            assert_eq!(pieces.len() as u64, count_words(text), "{text:?}");
        }
    }

    #[test]
    fn leading_whitespace_stays_with_the_first_word() {
        assert_eq!(stream_pieces("  a b"), ["  a ", "b"]);
    }

    #[test]
    fn counts_whitespace_separated_words() {
        assert_eq!(count_words(""), 0);
        assert_eq!(count_words("  "), 0);
        assert_eq!(count_words("one two\tthree\nfour"), 4);
    }

    #[test]
    fn tool_fragments_make_the_arguments() {
        assert_eq!(TOOL_ARGUMENT_FRAGMENTS.concat(), TOOL_ARGUMENTS);
    }
}
