//! Integration tests: one binary (one link), a module per capability.

mod common;

mod admin;
mod anthropic;
mod auth;
mod chat;
mod cli;
mod errors;
mod policy;
mod sdk;
mod streaming;
mod upstream_faults;
