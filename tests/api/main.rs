//! Integration tests: one binary (one link), a module per capability.

mod common;

mod auth;
mod chat;
mod cli;
mod errors;
mod sdk;
mod streaming;
mod upstream_faults;
