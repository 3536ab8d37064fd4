//! The meter around every gateway route: opens a usage draft before auth (so auth
//! failures are counted too), and closes it into a `UsageEvent` when the response
//! is an error, when the body ends, or when the client goes away mid-stream.

use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderName;
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

/// Made at compile time: a `&str` name is parsed again on every lookup.
const X_USER_ID: HeaderName = HeaderName::from_static("x-user-id");
const X_SESSION_ID: HeaderName = HeaderName::from_static("x-session-id");
const X_APP_VERSION: HeaderName = HeaderName::from_static("x-app-version");

fn header(req: &Request, name: &HeaderName) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(256).collect())
        .unwrap_or_default()
}

/// The address as text, as `IpAddr`'s `Display` writes it. An IPv4 address is
/// written by hand: `to_string` goes through the formatting machinery
/// (`Ipv4Addr::fmt` alone was 1.3k instructions per request under callgrind,
/// gone with this; bench/RESULTS.md, branch `meter`).
fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut s = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        if octet >= 100 {
            s.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            s.push(char::from(b'0' + octet / 10 % 10));
        }
        s.push(char::from(b'0' + octet % 10));
    }
    s
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
        client_ip: ip_text(client_ip),
        user_id: header(&req, &X_USER_ID),
        session_id: header(&req, &X_SESSION_ID),
        app_version: header(&req, &X_APP_VERSION),
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ip_text_is_display(bits in any::<u32>(), v6 in any::<u128>()) {
            let v4 = IpAddr::from(std::net::Ipv4Addr::from(bits));
            prop_assert_eq!(ip_text(v4), v4.to_string());
            let v6 = IpAddr::from(std::net::Ipv6Addr::from(v6));
            prop_assert_eq!(ip_text(v6), v6.to_string());
        }
    }

    #[test]
    fn ip_text_edges() {
        for ip in [
            "0.0.0.0",
            "10.0.0.1",
            "127.0.0.1",
            "255.255.255.255",
            "100.9.10.99",
            "::1",
        ] {
            let addr: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_text(addr), ip);
        }
    }
}
