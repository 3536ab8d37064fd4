//! The management API (scope `admin`, i.e. management keys): keys and accounts.
//! Changes made here are visible to this process at once (its key cache entry is
//! dropped) and to other processes through their change pollers.

pub mod accounts;
pub mod keys;
pub mod usage;

use axum::Json;
use serde_json::{Value, json};

fn list(data: Vec<Value>) -> Json<Value> {
    Json(json!({"object": "list", "data": data}))
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Like [`double_option`], for an RFC 3339 timestamp.
fn double_option_rfc3339<'de, D>(d: D) -> Result<Option<Option<time::OffsetDateTime>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    time::serde::rfc3339::option::deserialize(d).map(Some)
}
