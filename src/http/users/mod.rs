//! End-user routes: `POST /auth/register|login|logout`, the vault (`GET|POST /keys`,
//! `DELETE /keys/{id}`) and `GET /usage`. Thin: each handler extracts, calls
//! `users` or `vault`, and shapes the answer.
//!
//! Register and login are public (the login brake guards them); the others need an
//! end user's login token ([`LoggedIn`]); an API key there is a 401 `invalid_token`.

pub mod auth;
pub mod keys;
pub mod usage;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::auth::{AuthError, EndUser, Principal, presented_key};
use crate::error::ApiError;
use crate::state::AppState;

/// The end user behind the request's login token.
pub struct LoggedIn {
    pub principal: Principal,
}

impl LoggedIn {
    pub fn user(&self) -> &EndUser {
        #[allow(clippy::expect_used, reason = "only built from a user principal")]
        self.principal
            .user()
            .expect("a LoggedIn principal is a user")
    }
}

impl FromRequestParts<AppState> for LoggedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented =
            presented_key(&parts.headers, state.alt_header())?.ok_or(AuthError::Missing)?;
        if !crate::users::looks_like_jwt(presented) {
            return Err(AuthError::InvalidToken.into());
        }
        let principal = state.users().authenticate(presented).await?;
        if principal.user().is_none() {
            return Err(AuthError::InvalidToken.into());
        }
        Ok(LoggedIn { principal })
    }
}
