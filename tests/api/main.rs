//! Integration tests: one binary (one link), a module per capability.

mod common;

mod admin;
mod admin_reach;
mod anthropic;
mod auth;
mod byok;
mod chat;
mod cli;
mod errors;
mod gemini;
mod key_json;
mod metering;
mod openapi;
mod policy;
mod schemathesis;
mod sdk;
mod streaming;
mod upstream_faults;
