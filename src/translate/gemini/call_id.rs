//! OpenAI tool-call ids for Gemini function calls, carrying the call's thought
//! signature (wire-formats.md §3, §5.6).
//!
//! Gemini 3 models reject a replayed `functionCall` part without the
//! `thoughtSignature` it came with (400 "Function call is missing a
//! thought_signature"). OpenAI clients replay only `id`, `name` and `arguments`, and
//! these translators keep no state between requests, so the signature rides in the
//! id, as litellm does (litellm#25561): `<id>__thought__<signature>`. The signature is
//! base64; it is stored in the URL-safe alphabet without padding so the id stays
//! within `[A-Za-z0-9_-]` (the Anthropic translator rewrites other characters) and
//! restored to standard base64 when the call is sent back. Decoded, the bytes are
//! the ones Gemini sent. In a parallel batch only the first call carries one
//! (pipecat-ai/pipecat#3420); the others get plain ids.

/// Between the call id and the packed signature.
const SEPARATOR: &str = "__thought__";

/// The OpenAI id for a Gemini `functionCall`: Gemini's `id` if it sent one, else
/// `call_<uuid>`, plus the part's `thoughtSignature` if it had one.
pub(super) fn for_call(gemini_id: Option<&str>, signature: Option<&str>) -> String {
    let mut id = match gemini_id.filter(|id| !id.is_empty()) {
        Some(id) => id.to_owned(),
        None => format!("call_{}", uuid::Uuid::new_v4().simple()),
    };
    if let Some(signature) = signature.filter(|s| !s.is_empty()) {
        id.push_str(SEPARATOR);
        id.extend(signature.chars().filter_map(|c| match c {
            '+' => Some('-'),
            '/' => Some('_'),
            '=' => None,
            c => Some(c),
        }));
    }
    id
}

/// The `thoughtSignature` packed into an OpenAI tool-call id, in standard base64;
/// `None` for ids without one (other upstreams' ids, or calls Gemini did not sign).
pub(super) fn signature(id: &str) -> Option<String> {
    let (_, packed) = id.split_once(SEPARATOR)?;
    if packed.is_empty() {
        return None;
    }
    let mut signature: String = packed
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !signature.len().is_multiple_of(4) {
        signature.push('=');
    }
    Some(signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_survives_the_round_trip_in_a_safe_id() {
        for sig in ["CiQB0e2Kb+/x", "Cg==", "AbC/d+e", "Ab_-"] {
            let id = for_call(Some("fc_1"), Some(sig));
            assert!(id.starts_with("fc_1__thought__"), "{id}");
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{id}"
            );
            let back = signature(&id).unwrap();
            // URL-safe input comes back standard: the same bytes.
            let want = sig.replace('-', "+").replace('_', "/");
            assert_eq!(back.trim_end_matches('='), want.trim_end_matches('='));
            assert_eq!(back.len() % 4, 0, "{back}");
        }
    }

    #[test]
    fn unsigned_calls_get_plain_ids() {
        assert_eq!(for_call(Some("abc"), None), "abc");
        assert_eq!(for_call(Some("abc"), Some("")), "abc");
        let fresh = for_call(None, None);
        assert!(fresh.starts_with("call_") && fresh.len() == 37, "{fresh}");
        assert!(for_call(Some(""), None).starts_with("call_"));
        assert_eq!(signature("call_123"), None);
        assert_eq!(signature("call_1__thought__"), None);
    }
}
