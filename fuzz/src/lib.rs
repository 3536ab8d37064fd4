//! Tollgate's pure modules — the key format, the SSE parser, the translators and the
//! request limits — compiled on their own for the fuzz targets in `fuzz_targets/`.
//!
//! Why not depend on the `tollgate` crate: an instrumented build of it would build
//! axum, sqlx and aws-lc-rs with coverage too, minutes on a 2-core machine, for code
//! no target reaches. These modules name nothing outside themselves but `secret`
//! (so this crate also checks that `translate/` stays free of I/O and of the rest of
//! the gateway: an import from elsewhere fails this build). The files are the
//! gateway's own, included by path, never copies.
#![allow(dead_code)]

#[path = "../../src/secret.rs"]
pub mod secret;

/// `keys::format`, under its own name: a `#[path]` inside an inline `mod keys {}`
/// would resolve against a `src/keys/` directory this crate does not have.
#[path = "../../src/keys/format.rs"]
pub mod key_format;

#[path = "../../src/translate/mod.rs"]
pub mod translate;
