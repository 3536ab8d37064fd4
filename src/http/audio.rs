//! `POST /v1/audio/transcriptions` (multipart) and `POST /v1/audio/speech`
//! (JSON), scope `audio`: OpenAI's contract, served by OpenAI or Deepgram
//! (`pipeline::audio`).

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::extract::RawBody;
use crate::metering::meter::Meter;
use crate::pipeline::audio;
use crate::state::AppState;

pub async fn transcriptions(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    audio::transcribe(&state, &principal, &meter, &headers, body, |e| {
        e.is::<crate::http::middleware::BodyReadTimeout>()
    })
    .await
}

pub async fn speech(
    State(state): State<AppState>,
    principal: Principal,
    meter: Meter,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    audio::speech(&state, &principal, &meter, &headers, body).await
}
