//! Integration tests: one binary (one link), a module per capability.

mod common;

mod admin;
mod admin_reach;
mod agents;
mod anthropic;
mod auth;
mod auth_brake;
mod byok;
mod catalog;
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
mod responses;
mod schemathesis;
mod sdk;
mod secrets;
mod streaming;
mod ui;
mod upstream_faults;
