//! The meter around every gateway route: opens a usage draft before auth (so auth
//! failures are counted too), and closes it into a `UsageEvent` when the response
//! is an error, when the body ends, or when the client goes away mid-stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http_body::Frame;
use time::OffsetDateTime;

use crate::error::RenderedError;
use crate::http::gate::{ClientIp, request_ip};
use crate::http::middleware::{RequestId, RequestUuid};
use crate::metering::meter::{Draft, Meter};
use crate::metering::observe::{BodyFormat, Observer};
use crate::state::AppState;

fn header(req: &Request, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect())
        .unwrap_or_default()
}

pub async fn meter(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let client_ip = request_ip(&state, &req);
    req.extensions_mut().insert(ClientIp(client_ip));
    let draft = Draft {
        request_id: req
            .extensions()
            .get::<RequestId>()
            .and_then(|r| r.0.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        request_uuid: req.extensions().get::<RequestUuid>().map(|u| u.0),
        endpoint: req
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| req.uri().path().to_owned()),
        client_ip: client_ip.to_string(),
        user_id: header(&req, "x-user-id"),
        session_id: header(&req, "x-session-id"),
        app_version: header(&req, "x-app-version"),
        ..Draft::default()
    };
    let meter = Meter::new(draft, crate::store::records_ms(OffsetDateTime::now_utc()));
    req.extensions_mut().insert(meter.clone());
    let res = next.run(req).await;
    if let Some(p) = res.extensions().get::<crate::auth::Principal>() {
        meter.with(|d| {
            d.account_id = p.key.account_id.clone();
            d.kid = p.key.kid.as_str().to_owned();
            d.key_markup_bps = Some(p.key.policy.markup_bps());
            if let Some(user) = p.user() {
                d.user_id = user.id.clone();
            }
        });
    }
    let metering = state.metering();
    if let Some(err) = res.extensions().get::<RenderedError>() {
        metering.finish(&meter, res.status().as_u16(), &err.parts.code, None);
        return res;
    }
    let (format, strip) = meter.with(|d| {
        d.ttfb = Some(meter.started.elapsed());
        d.route.as_ref().map_or((BodyFormat::Opaque, false), |r| {
            (r.format, r.strip_usage_chunk)
        })
    });
    let status = res.status().as_u16();
    res.map(|body| {
        Body::new(MeteredBody {
            body,
            observer: Some(Observer::new(format, strip)),
            meter: Some(meter),
            status,
            state: state.clone(),
        })
    })
}

/// A response body that shows its bytes to an `Observer` and closes the meter
/// once: at the end of the body, or when dropped before it (client gone).
struct MeteredBody {
    body: Body,
    observer: Option<Observer>,
    meter: Option<Meter>,
    status: u16,
    state: AppState,
}

impl MeteredBody {
    fn close(&mut self) {
        if let Some(meter) = self.meter.take() {
            let mut observer = self.observer.take();
            self.state
                .metering()
                .finish(&meter, self.status, "", observer.as_mut());
        }
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        self.close();
    }
}

impl http_body::Body for MeteredBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    let data = match self.observer.as_mut() {
                        Some(o) => o.chunk(data),
                        None => data,
                    };
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            Poll::Ready(None) => {
                self.close();
                Poll::Ready(None)
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }
}
