//! Integration tests: one binary (one link), a module per capability.

mod common;

mod admin;
mod anthropic;
mod auth;
mod auth_brake;
mod byok;
mod chat;
mod cli;
mod conformance;
mod edge;
mod errors;
mod gemini;
mod metering;
mod pipeline;
mod policy;
mod sdk;
mod secrets;
mod streaming;
mod upstream_faults;
