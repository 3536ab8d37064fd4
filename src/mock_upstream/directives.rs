//! Fault-injection directives: `[[mock:KEY=VALUE]]` and `[[mock:KEY]]` tags
//! found in the text of the last user message.
//!
//! They live in the prompt, not in headers or query strings, because the
//! prompt is the one thing every gateway path forwards, whatever translation
//! it does between wire formats. Parsing is lenient on purpose: unknown keys
//! and malformed values are skipped, so a typo makes the mock behave normally
//! rather than fail in a way that looks like a gateway bug. When a key repeats,
//! the last occurrence wins.

use std::time::Duration;

use http::StatusCode;

const OPEN: &str = "[[mock:";
const CLOSE: &str = "]]";

/// Upper bound for `words=N`: the reply is built in memory (and, for streams,
/// pre-rendered as events), so an unbounded N could exhaust the test
/// machine's memory instead of exercising the gateway.
pub(crate) const MAX_WORDS: usize = 100_000;

/// What the test asked the mock to do for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Directives {
    /// `status=NNN` (400..=599 only): answer with this error status.
    pub status: Option<StatusCode>,
    /// `delay_ms=N`: wait before sending response headers.
    pub delay: Duration,
    /// `chunk_delay_ms=N`: wait between stream events.
    pub chunk_delay: Duration,
    /// `drop_after=N`: send N stream events, then abort the connection.
    pub drop_after: Option<usize>,
    /// `words=N`: reply with `w1 w2 … wN` instead of the echo.
    pub words: Option<usize>,
    /// `tool_call`: answer with a call to the request's first tool.
    pub tool_call: bool,
    /// `stream_error`: fail a stream after its first text delta with an
    /// in-stream error event (Anthropic; other dialects ignore it).
    pub stream_error: bool,
    /// `thoughts=N`: report N thought tokens and lead with a thought part
    /// (Gemini; other dialects ignore it).
    pub thoughts: Option<u64>,
    /// `blocked`: refuse the prompt the way Gemini's safety filter does, a
    /// 200 with no candidates (Gemini; other dialects ignore it).
    pub blocked: bool,
    /// `echo_key=full|head:N|tail:N|mid:N`: an error answer's message quotes the
    /// credential the request carried, whole or cut, as providers do (every route;
    /// only with `status=NNN` or another error). For testing secret redaction.
    pub echo_key: Option<KeyEcho>,
}

/// Which part of the presented credential `echo_key` quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyEcho {
    Full,
    /// The first N characters.
    Head(usize),
    /// The last N characters.
    Tail(usize),
    /// N characters from the middle.
    Middle(usize),
}

impl KeyEcho {
    fn parse(value: &str) -> Option<Self> {
        if value == "full" {
            return Some(KeyEcho::Full);
        }
        let (kind, n) = value.split_once(':')?;
        let n = n.trim().parse().ok()?;
        match kind.trim() {
            "head" => Some(KeyEcho::Head(n)),
            "tail" => Some(KeyEcho::Tail(n)),
            "mid" => Some(KeyEcho::Middle(n)),
            _ => None,
        }
    }

    /// The part of `key` to quote (all of it when N is longer than the key).
    pub(crate) fn cut(self, key: &str) -> String {
        let chars: Vec<char> = key.chars().collect();
        let len = chars.len();
        let (from, to) = match self {
            KeyEcho::Full => (0, len),
            KeyEcho::Head(n) => (0, n.min(len)),
            KeyEcho::Tail(n) => (len.saturating_sub(n), len),
            KeyEcho::Middle(n) => {
                let n = n.min(len);
                let from = (len - n) / 2;
                (from, from + n)
            }
        };
        chars[from..to].iter().collect()
    }
}

impl Directives {
    /// Collects every directive in `text`.
    pub(crate) fn parse(text: &str) -> Self {
        let mut directives = Self::default();
        let mut rest = text;
        while let Some(start) = rest.find(OPEN) {
            let after_open = &rest[start + OPEN.len()..];
            let Some(end) = after_open.find(CLOSE) else {
                break;
            };
            directives.apply(&after_open[..end]);
            rest = &after_open[end + CLOSE.len()..];
        }
        directives
    }

    fn apply(&mut self, tag: &str) {
        let (key, value) = match tag.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim())),
            None => (tag.trim(), None),
        };
        match (key, value) {
            ("status", Some(v)) => {
                if let Some(status) = error_status(v) {
                    self.status = Some(status);
                }
            }
            ("delay_ms", Some(v)) => {
                if let Ok(ms) = v.parse() {
                    self.delay = Duration::from_millis(ms);
                }
            }
            ("chunk_delay_ms", Some(v)) => {
                if let Ok(ms) = v.parse() {
                    self.chunk_delay = Duration::from_millis(ms);
                }
            }
            ("drop_after", Some(v)) => {
                if let Ok(n) = v.parse() {
                    self.drop_after = Some(n);
                }
            }
            ("words", Some(v)) => {
                if let Ok(n) = v.parse::<usize>() {
                    self.words = Some(n.min(MAX_WORDS));
                }
            }
            ("thoughts", Some(v)) => {
                if let Ok(n) = v.parse() {
                    self.thoughts = Some(n);
                }
            }
            ("echo_key", Some(v)) => {
                if let Some(echo) = KeyEcho::parse(v) {
                    self.echo_key = Some(echo);
                }
            }
            ("tool_call", None) => self.tool_call = true,
            ("stream_error", None) => self.stream_error = true,
            ("blocked", None) => self.blocked = true,
            _ => {}
        }
    }

    /// What every route does first: wait `delay_ms`, then report the status
    /// `status=NNN` asks for, if any, for the route to render in its dialect.
    pub(crate) async fn delay_then_status(&self) -> Option<StatusCode> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.status
    }
}

/// Only error statuses make sense to inject: a 2xx with an error body, or a
/// 1xx/3xx the client would act on, would test nothing useful.
fn error_status(value: &str) -> Option<StatusCode> {
    let code: u16 = value.parse().ok()?;
    if !(400..=599).contains(&code) {
        return None;
    }
    StatusCode::from_u16(code).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_directives_means_defaults() {
        assert_eq!(
            Directives::parse("hello [mock:status=500]"),
            Directives::default()
        );
    }

    #[test]
    fn parses_every_known_directive() {
        let d = Directives::parse(
            "hi [[mock:status=503]] [[mock:delay_ms=250]][[mock:chunk_delay_ms=5]] \
             [[mock:drop_after=3]] [[mock:words=12]] [[mock:tool_call]] \
             [[mock:stream_error]] [[mock:thoughts=7]] [[mock:blocked]] \
             [[mock:echo_key=tail:9]] bye",
        );
        assert_eq!(
            d,
            Directives {
                status: Some(StatusCode::SERVICE_UNAVAILABLE),
                delay: Duration::from_millis(250),
                chunk_delay: Duration::from_millis(5),
                drop_after: Some(3),
                words: Some(12),
                tool_call: true,
                stream_error: true,
                thoughts: Some(7),
                blocked: true,
                echo_key: Some(KeyEcho::Tail(9)),
            }
        );
    }

    #[test]
    fn echo_key_cuts_the_credential() {
        let key = "abcdefghij";
        for (tag, want) in [
            ("full", "abcdefghij"),
            ("head:3", "abc"),
            ("tail:4", "ghij"),
            ("mid:4", "defg"),
            ("head:99", "abcdefghij"),
        ] {
            let d = Directives::parse(&format!("[[mock:echo_key={tag}]]"));
            assert_eq!(
                d.echo_key.map(|e| e.cut(key)).as_deref(),
                Some(want),
                "{tag}"
            );
        }
        for bad in [
            "[[mock:echo_key]]",
            "[[mock:echo_key=side:3]]",
            "[[mock:echo_key=head:x]]",
        ] {
            assert_eq!(Directives::parse(bad).echo_key, None, "{bad}");
        }
    }

    #[test]
    fn unknown_and_malformed_directives_are_ignored() {
        let d = Directives::parse(
            "[[mock:colour=blue]] [[mock:status=abc]] [[mock:status=200]] \
             [[mock:status=600]] [[mock:delay_ms=-1]] [[mock:words]] \
             [[mock:tool_call=yes]] [[mock:stream_error=1]] [[mock:thoughts=-2]] \
             [[mock:thoughts]] [[mock:blocked=1]] [[mock:drop_after=3",
        );
        assert_eq!(d, Directives::default());
    }

    #[test]
    fn last_occurrence_wins_and_spaces_are_tolerated() {
        let d = Directives::parse("[[mock:status=500]] [[mock: status = 429 ]]");
        assert_eq!(d.status, Some(StatusCode::TOO_MANY_REQUESTS));
    }

    #[test]
    fn words_is_capped() {
        let d = Directives::parse("[[mock:words=999999999999]]");
        assert_eq!(d.words, Some(MAX_WORDS));
    }

    #[test]
    fn directives_inside_multibyte_text_are_found() {
        let d = Directives::parse("héllo ✓ [[mock:drop_after=0]] ünïcode");
        assert_eq!(d.drop_after, Some(0));
    }
}
