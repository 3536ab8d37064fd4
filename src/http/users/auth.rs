//! `POST /auth/register`, `/auth/login`, `/auth/logout`.

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::LoggedIn;
use crate::error::ApiError;
use crate::http::extract::ApiJson;
use crate::http::gate::request_ip;
use crate::http::openapi::users as doc;
use crate::state::AppState;
use crate::users::Session;

/// Register or log in.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Credentials {
    /// Case-insensitive; stored lower-cased.
    pub email: String,
    /// At least 10 characters (register).
    pub password: String,
}

fn session_body(s: &Session) -> Value {
    json!({
        "user": {"id": s.user_id, "email": s.email},
        "token": s.token.expose(),
        "expires_in": s.expires_in,
    })
}

#[utoipa::path(post, path = "/auth/register", operation_id = "register", tag = "users",
    security(()), request_body = Credentials,
    responses((status = 201, description = "The new user and a login token", body = doc::Session),
        doc::AuthErrors))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let session = state.users().register(&body.email, body.password).await?;
    Ok((StatusCode::CREATED, Json(session_body(&session))))
}

#[utoipa::path(post, path = "/auth/login", operation_id = "login", tag = "users",
    security(()), request_body = Credentials,
    responses((status = 200, description = "The user and a login token", body = doc::Session),
        doc::AuthErrors))]
pub async fn login(State(state): State<AppState>, req: Request) -> Result<Json<Value>, ApiError> {
    let client = request_ip(&state, &req);
    let ApiJson(body) = ApiJson::<Credentials>::from_request(req, &state).await?;
    let session = state
        .users()
        .login(&body.email, body.password, client)
        .await?;
    Ok(Json(session_body(&session)))
}

#[utoipa::path(post, path = "/auth/logout", operation_id = "logout", tag = "users",
    responses((status = 200, description = "The token is revoked", body = doc::LoggedOut),
        doc::UserErrors))]
pub async fn logout(State(state): State<AppState>, who: LoggedIn) -> Result<Json<Value>, ApiError> {
    state.users().logout(who.user()).await?;
    Ok(Json(json!({"object": "logout", "revoked": true})))
}
