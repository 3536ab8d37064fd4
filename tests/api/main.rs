//! Integration tests: one binary (one link), a module per capability.

mod common;

mod admin;
mod anthropic;
mod auth;
mod byok;
mod chat;
mod cli;
mod errors;
mod gemini;
mod limits;
mod metering;
mod policy;
mod sdk;
mod streaming;
mod upstream_faults;
