//! Integration tests: one binary (one link), a module per capability.

mod common;

mod admin;
mod admin_reach;
mod alerts;
mod anthropic;
mod auth;
mod auth_brake;
mod byok;
mod chat;
mod cli;
mod conformance;
mod durability;
mod edge;
mod errors;
mod gemini;
mod key_json;
mod limits;
mod metering;
mod openapi;
mod pipeline;
mod policy;
mod schemathesis;
mod sdk;
mod secrets;
mod streaming;
mod upstream_faults;
mod webhooks;
