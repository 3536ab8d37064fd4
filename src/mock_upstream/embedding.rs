//! Deterministic embedding vectors, shared by OpenAI's `/v1/embeddings`, the
//! Azure deployment route and Gemini's `:embedContent` /
//! `:batchEmbedContents`, so a test can send the same text to two providers
//! through the gateway and compare the vectors it gets back.
//!
//! [`vector`] is the whole model: FNV-1a (64 bit) of the text's UTF-8 bytes
//! seeds a SplitMix64 sequence, and each output's top 24 bits become a value
//! `k / 2^23 - 1` in `[-1, 1)`. Those values are exact in `f32`, so they
//! survive JSON and base64 unchanged, and a shorter vector is a prefix of a
//! longer one for the same text (like Matryoshka embeddings). Vectors are not
//! normalised; nothing in the gateway should depend on their length.

use base64::Engine;

/// Length when the request does not ask for one. Real models answer with
/// 768–3072 values; 8 keeps test bodies readable.
pub(crate) const DEFAULT_DIMENSIONS: usize = 8;

/// Longest vector the mock produces, the largest real models' size; longer
/// requests are refused like the real APIs refuse them.
pub(crate) const MAX_DIMENSIONS: usize = 3072;

/// The embedding of `text`, `dimensions` values long.
pub(crate) fn vector(text: &str, dimensions: usize) -> Vec<f32> {
    let mut state = fnv1a(text.as_bytes());
    (0..dimensions)
        .map(|_| {
            // 24 bits: exact in an f32, as is the arithmetic below.
            let top = (splitmix64(&mut state) >> 40) as f32;
            top / 8_388_608.0 - 1.0
        })
        .collect()
}

/// `values` as little-endian `f32` bytes in base64: what openai-python
/// decodes when it asked for `encoding_format: "base64"`.
pub(crate) fn to_base64(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(&bytes)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_vector_and_shorter_is_a_prefix() {
        let long = vector("hello world", 16);
        assert_eq!(long, vector("hello world", 16));
        assert_eq!(vector("hello world", 4), long[..4]);
        assert_ne!(vector("hello world!", 16), long);
        assert!(vector("", 0).is_empty());
    }

    #[test]
    fn values_lie_in_minus_one_to_one_and_vary() {
        let values = vector("spread", 1000);
        assert!(values.iter().all(|v| (-1.0..1.0).contains(v)));
        assert!(values.iter().any(|v| *v < -0.5) && values.iter().any(|v| *v > 0.5));
    }

    #[test]
    fn base64_is_little_endian_f32() {
        assert_eq!(to_base64(&[1.0]), "AACAPw==");
        assert_eq!(to_base64(&[]), "");
    }
}
