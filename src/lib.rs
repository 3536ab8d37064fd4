//! Tollgate: a self-hosted AI gateway. One OpenAI-compatible endpoint in front of
//! OpenAI, Anthropic, Gemini and Deepgram, with our own API keys, policy and metering.
//!
//! A request flows one way: `http` (listener, extractors, gate) → `auth` (who) →
//! `policy` (may they) → `pipeline` (route, reserve, send, translate, respond) →
//! `providers` (one `Adapter` per dialect) → `metering` (usage, settlement).
//!
//! - `app`: `App::build(Config)`, the router and layer stack, graceful serving.
//! - `config`: defaults < TOML file < `TOLLGATE_…` env, validated once.
//! - `error`: `ApiError`, the one error type that renders the documented bodies.
//! - `http`: thin handlers (one `pipeline::run` call each), extractors, middleware, the gate.
//! - `pipeline`: the one request path for model routes and the translator table
//!   keyed by (caller format, upstream dialect).
//! - `auth`: presented key → `Principal`; cached key records.
//! - `policy`: `admit` (scope, IP, rate, concurrency behind a `Limits` seam) and the
//!   model rule; refusals are `PolicyError`s.
//! - `keys`: the key format (checksummed) and peppered hashing; `key_service` issues keys.
//! - `routing`: the model catalog and alias resolution.
//! - `outbound`: where caller-chosen URLs may lead (SSRF policy, filtering DNS resolver).
//! - `providers`: the `Adapter` trait and one impl per dialect, credentials resolved
//!   once, shared sending, stream relaying.
//! - `metering`: usage drafts, the response observer, billing holds, pricing, the writer.
//! - `translate`: pure functions over wire formats.
//! - `store`: persistence (SQLite; backend-dispatching `Store`).
//! - `openapi`: the OpenAPI 3.1 document at `GET /openapi.json`, from the code.
//! - `mock_upstream`: fake providers speaking the real wire formats (tests, demo, bench).
//! - `secret`: `Secret<T>`, redacted everywhere.
//! - `telemetry`: logging and metrics setup.
//! - `policy`: scopes, IP allowlists, rate and concurrency limits; pure, no I/O.
//! - `metering`: usage events, prices, balances and the batch writer.
//! - `telemetry`: logging setup.

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod key_service;
pub mod keys;
pub mod metering;
pub mod mock_upstream;
pub mod openapi;
pub mod outbound;
pub mod pipeline;
pub mod policy;
pub mod providers;
pub mod routing;
pub mod secret;
pub mod store;
pub mod telemetry;
pub mod translate;

pub use app::{App, AppState, StartError};
pub use config::Config;

/// Makes aws-lc-rs the process-wide rustls provider (DESIGN §5). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
