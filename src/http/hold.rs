//! A response body that keeps a guard alive until the body has ended or been
//! dropped (the client left). The gate holds a key's concurrency permit this way,
//! the listener its count of requests in flight: a stream keeps both until its last
//! byte, not just until its headers.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use http_body::{Frame, SizeHint};

/// `body`, keeping `guard` until it is finished or dropped.
pub(crate) fn holding<G: Send + Unpin + 'static>(body: Body, guard: G) -> Body {
    Body::new(Holding {
        body,
        _guard: guard,
    })
}

struct Holding<G> {
    body: Body,
    _guard: G,
}

impl<G: Unpin> http_body::Body for Holding<G> {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
