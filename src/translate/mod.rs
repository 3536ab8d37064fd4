//! Pure functions over wire formats: no I/O, no shared state.
//!
//! `peek` reads the few fields routing needs from an OpenAI-style body without
//! parsing the rest, and swaps the model name in place when routing renames it.

pub mod peek;
