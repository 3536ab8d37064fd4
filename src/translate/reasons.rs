//! Stop/finish reasons between dialects (wire-formats.md §5.2–5.4), in one place so
//! the non-streaming and streaming translators can never disagree.

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub fn anthropic_to_openai(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn (a guess: the turn ended) and anything new.
        _ => "stop",
    }
}

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
pub fn openai_to_anthropic(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// Gemini `finishReason` → OpenAI `finish_reason` (wire-formats.md §5.4). Gemini ends
/// a function-call turn with `STOP`, so `had_tool_call` (a `functionCall` part was
/// emitted) turns `STOP` into `tool_calls`, or agent loops would never run the tools.
pub fn gemini_to_openai(finish: &str, had_tool_call: bool) -> &'static str {
    match finish {
        "STOP" if had_tool_call => "tool_calls",
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" => "content_filter",
        // IMAGE_SAFETY, IMAGE_PROHIBITED_CONTENT, IMAGE_RECITATION, IMAGE_OTHER (not
        // NO_IMAGE, which is the model declining to draw, not a filter).
        image if image.starts_with("IMAGE_") => "content_filter",
        // STOP, LANGUAGE, OTHER, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL,
        // TOO_MANY_TOOL_CALLS, NO_IMAGE, FINISH_REASON_UNSPECIFIED and anything new.
        _ => "stop",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_reason_maps() {
        for (a, o) in [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("max_tokens", "length"),
            ("model_context_window_exceeded", "length"),
            ("tool_use", "tool_calls"),
            ("refusal", "content_filter"),
            ("pause_turn", "stop"),
        ] {
            assert_eq!(anthropic_to_openai(a), o, "{a}");
        }
        for (o, a) in [
            ("stop", "end_turn"),
            ("length", "max_tokens"),
            ("tool_calls", "tool_use"),
            ("function_call", "tool_use"),
            ("content_filter", "refusal"),
        ] {
            assert_eq!(openai_to_anthropic(o), a, "{o}");
        }
    }

    #[test]
    fn every_documented_gemini_reason_maps() {
        for (g, o) in [
            ("STOP", "stop"),
            ("MAX_TOKENS", "length"),
            ("SAFETY", "content_filter"),
            ("RECITATION", "content_filter"),
            ("LANGUAGE", "stop"),
            ("OTHER", "stop"),
            ("BLOCKLIST", "content_filter"),
            ("PROHIBITED_CONTENT", "content_filter"),
            ("SPII", "content_filter"),
            ("MALFORMED_FUNCTION_CALL", "stop"),
            ("IMAGE_SAFETY", "content_filter"),
            ("UNEXPECTED_TOOL_CALL", "stop"),
            ("TOO_MANY_TOOL_CALLS", "stop"),
            ("IMAGE_PROHIBITED_CONTENT", "content_filter"),
            ("NO_IMAGE", "stop"),
            ("IMAGE_RECITATION", "content_filter"),
            ("IMAGE_OTHER", "content_filter"),
            ("FINISH_REASON_UNSPECIFIED", "stop"),
        ] {
            assert_eq!(gemini_to_openai(g, false), o, "{g}");
        }
        assert_eq!(gemini_to_openai("STOP", true), "tool_calls");
        // Only STOP is a turn that ended by asking for tools.
        assert_eq!(gemini_to_openai("MAX_TOKENS", true), "length");
        assert_eq!(gemini_to_openai("SAFETY", true), "content_filter");
    }
}
