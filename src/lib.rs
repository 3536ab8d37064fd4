//! Tollgate: a self-hosted AI gateway. One OpenAI-compatible endpoint in front of
//! OpenAI, Anthropic, Gemini and Deepgram, with our own API keys, policy and metering.
//!
//! A request flows one way: `http` (listener, extractors, gate) → `auth` (who) →
//! `policy` (may they) → `pipeline` (route, reserve, send, translate, respond) →
//! `providers` (one `Adapter` per dialect) → `metering` (usage, settlement).
//!
//! The modules, top to bottom; each uses only modules below it, which
//! `scripts/layers.py` checks in CI (its `LAYERS` table is the order):
//!
//! - `app`: the composition root: `App::build(Config)` and graceful serving.
//! - `mock_upstream`: fake providers speaking the real wire formats (tests, demo, bench).
//! - `http`: the listener, the router and layer stack, thin handlers (one
//!   `pipeline::run` call each), extractors, middleware, the gate, `/openapi.json`.
//! - `pipeline`: the one request path for model routes and the translator table
//!   keyed by (caller format, upstream dialect).
//! - `state`: `AppState`, the services handlers and the pipeline share.
//! - `error`: `ApiError`, the one error type that renders the documented bodies.
//! - `policy`: `admit` (scope, IP, rate, concurrency behind a `Limits` seam) and the
//!   model rule; refusals are `PolicyError`s.
//! - `routing`: the model catalog, alias resolution, BYOK headers and their matrix.
//! - `metering`: usage drafts, the response observer, billing holds, pricing, the
//!   ledger and the writer with its spill file.
//! - `key_service`: issuing, rotating and bootstrapping keys.
//! - `connections`: third-party base URLs with sealed credentials, and execute.
//! - `email`: `/v1/email/send` over SMTP (lettre).
//! - `users`: end users: registration, login (argon2id, JWT), the login brake,
//!   the end-user principal.
//! - `vault`: end users' provider keys, sealed; which one a call runs on.
//! - `key_service`: issuing, rotating and bootstrapping keys (and their lifecycle events).
//! - `webhooks`: signed webhooks: endpoints, the durable outbox, the delivery worker.
//! - `telemetry`: logging and metrics setup.
//! - `ui`: the dashboard's embedded assets and its session table (`/ui`).
//! - `alerts`: security alert evaluators fed by a bounded channel from the gate and
//!   the usage writer; alerts go to the webhook outbox, de-duplicated in the database.
//! - `auth`: presented key → `Principal`; cached key records; the failure brake.
//! - `providers`: the `Adapter` trait and one impl per dialect, credentials resolved
//!   once, shared sending, stream relaying.
//! - `store`: persistence behind one trait per concern (SQLite today).
//! - `cluster`: state shared by several instances in Redis (limits, leases,
//!   balances, key-change broadcasts).
//! - `translate`: pure functions over wire formats.
//! - `config`: defaults < TOML file < `TOLLGATE_…` env, validated once.
//! - `keys`: the key format (checksummed), peppered hashing, scopes, key policy.
//! - `outbound`: where caller-chosen URLs may lead (SSRF policy, filtering DNS resolver).
//! - `seal`: authenticated encryption of stored secrets under the master keys.
//! - `domain`: shared value types (providers, money, quotas, usage rows, allowlists).
//! - `secret`: `Secret<T>`, redacted everywhere.

// No unwrap or expect on anything from a request, a file or the network; the few
// invariants are annotated where they are (tests may unwrap).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod alerts;
pub mod app;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod connections;
pub mod domain;
pub mod email;
pub mod error;
pub mod http;
pub mod key_service;
pub mod keys;
pub mod metering;
pub mod mock_upstream;
pub mod outbound;
pub mod pipeline;
pub mod policy;
pub mod providers;
pub mod routing;
pub mod seal;
pub mod secret;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod translate;
pub mod ui;
pub mod users;
pub mod vault;
pub mod webhooks;

pub use app::{App, StartError};
pub use config::Config;
pub use state::AppState;

/// Makes aws-lc-rs the process-wide rustls provider (DESIGN §5). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
