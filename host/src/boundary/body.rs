//! A response body that holds the component's concurrency permit until it
//! has been read to the end (or dropped): a request is "in flight" until
//! its body is finished, not only until its head arrives.

use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::OwnedSemaphorePermit;

/// `inner`, releasing `permit` at its end.
pub struct Permitted<B> {
    inner: B,
    permit: Option<OwnedSemaphorePermit>,
}

impl<B> Permitted<B> {
    /// Wrap `inner`; `permit` is released when it ends or is dropped.
    pub fn new(inner: B, permit: OwnedSemaphorePermit) -> Permitted<B> {
        Permitted { inner, permit: Some(permit) }
    }
}

impl<B: Body + Unpin> Body for Permitted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.permit = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
