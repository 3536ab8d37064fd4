//! Integration tests: one binary (one link), a module per capability.

mod common;

mod admin;
mod anthropic;
mod auth;
mod byok;
mod chat;
mod cli;
mod durability;
mod errors;
mod gemini;
mod metering;
mod policy;
mod sdk;
mod streaming;
mod upstream_faults;
