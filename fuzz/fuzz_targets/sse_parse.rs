//! `SseParser` on any bytes, split anywhere: never panics, and the events do not
//! depend on where the network split the stream (the parser's promise).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_fuzz::translate::sse::{SseEvent, SseParser};

fn parse(chunks: &[&[u8]]) -> Vec<SseEvent> {
    let mut parser = SseParser::new();
    let mut events: Vec<SseEvent> = chunks.iter().flat_map(|c| parser.feed(c)).collect();
    events.extend(parser.finish());
    events
}

fuzz_target!(|data: &[u8]| {
    // The first byte seeds the chunk sizes (1..=16), the rest is the stream.
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let whole = parse(&[stream]);
    let mut chunks = Vec::new();
    let mut rest = stream;
    let mut step = seed;
    while !rest.is_empty() {
        let n = usize::from(step % 16 + 1).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        chunks.push(chunk);
        rest = tail;
        step = step.wrapping_mul(31).wrapping_add(7);
    }
    assert_eq!(parse(&chunks), whole, "the split changed the events");
    let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(parse(&bytewise), whole, "byte-by-byte changed the events");
});
