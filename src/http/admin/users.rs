//! `/admin/users…`: end users, for global management keys (users belong to no
//! account): list, show, disable, enable, delete. Disabling or deleting takes
//! effect at once in this process (the user-state cache entry is dropped) and in
//! others through their change pollers; deleting also deletes the user's vault keys.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::{Reach, list};
use crate::error::ApiError;
use crate::http::extract::PathId;
use crate::http::openapi::errors::AdminErrors;
use crate::http::openapi::users as doc;
use crate::state::AppState;

#[utoipa::path(get, path = "/admin/users", operation_id = "list_users", tag = "admin",
    responses((status = 200, description = "The users", body = doc::UserList), AdminErrors))]
pub async fn list_users(
    State(state): State<AppState>,
    reach: Reach,
) -> Result<Json<Value>, ApiError> {
    reach.global_only()?;
    let users = state.users().list().await?;
    Ok(list(users.iter().map(|u| u.public_view()).collect()))
}

#[utoipa::path(get, path = "/admin/users/{id}", operation_id = "get_user", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user", body = doc::User), AdminErrors))]
pub async fn get(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    reach.global_only()?;
    Ok(Json(state.users().show(&id).await?.public_view()))
}

#[utoipa::path(post, path = "/admin/users/{id}/disable", operation_id = "disable_user", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user, disabled: their tokens stop working", body = doc::User), AdminErrors))]
pub async fn disable(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    reach.global_only()?;
    Ok(Json(
        state.users().set_disabled(&id, true).await?.public_view(),
    ))
}

#[utoipa::path(post, path = "/admin/users/{id}/enable", operation_id = "enable_user", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user, enabled again", body = doc::User), AdminErrors))]
pub async fn enable(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    reach.global_only()?;
    Ok(Json(
        state.users().set_disabled(&id, false).await?.public_view(),
    ))
}

#[utoipa::path(delete, path = "/admin/users/{id}", operation_id = "delete_user", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "Deleted, with the user's vault keys", body = doc::Deleted), AdminErrors))]
pub async fn delete(
    State(state): State<AppState>,
    reach: Reach,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    reach.global_only()?;
    state.users().delete(&id).await?;
    Ok(Json(json!({"id": id, "deleted": true})))
}
