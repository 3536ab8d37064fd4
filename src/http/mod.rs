//! HTTP handlers, one file per endpoint family, plus the extractors and middleware
//! they share. Handlers stay thin: extract, then call `pipeline::run` with the
//! route's `RouteSpec` (model routes) or the service they front.

pub mod admin;
pub mod audio;
pub mod chat;
pub mod connections;
pub mod cors;
pub mod email;
pub mod embeddings;
pub mod extract;
pub mod gate;
pub mod gemini;
mod hold;
pub mod listener;
pub mod messages;
pub mod metering;
pub mod middleware;
pub mod openai_only;
pub mod openapi;
pub mod public;
pub mod responses;
pub mod router;
pub mod ui;
pub mod users;
