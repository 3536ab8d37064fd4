//! Integration tests: one binary (one link), a module per capability.

mod common;

mod admin;
mod admin_reach;
mod agents_claude;
mod anthropic;
mod auth;
mod auth_brake;
mod byok;
mod chat;
mod cli;
mod conformance;
mod count_tokens;
mod durability;
mod edge;
mod errors;
mod gemini;
mod gemini_native;
mod key_json;
mod limits;
mod metering;
mod models;
mod openapi;
mod pipeline;
mod policy;
mod schemathesis;
mod sdk;
mod secrets;
mod streaming;
mod translation_faithful;
mod upstream_faults;
