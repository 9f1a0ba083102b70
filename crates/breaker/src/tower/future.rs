use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::BoxError;
use crate::{Classifier, OwnedPermit, Rejected};

pin_project! {
    /// The response future of [`Breaker`](super::Breaker): fails at once with [`Rejected`], or
    /// runs the inner future and records its classified outcome. Dropping it early records
    /// nothing and frees a half-open slot.
    #[derive(Debug)]
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: Option<F>,
        rejected: Option<Rejected>,
        permit: Option<OwnedPermit>,
        classifier: Option<C>,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(super) fn rejected(r: Rejected) -> Self {
        Self {
            inner: None,
            rejected: Some(r),
            permit: None,
            classifier: None,
        }
    }

    pub(super) fn called(inner: F, permit: OwnedPermit, classifier: C) -> Self {
        Self {
            inner: Some(inner),
            rejected: None,
            permit: Some(permit),
            classifier: Some(classifier),
        }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    C: Classifier<T, E>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(r) = this.rejected.take() {
            return Poll::Ready(Err(Box::new(r)));
        }
        let Some(fut) = this.inner.as_pin_mut() else {
            return Poll::Ready(Err("response future polled after completion".into()));
        };
        let result = match fut.poll(cx) {
            Poll::Ready(r) => r,
            Poll::Pending => return Poll::Pending,
        };
        if let (Some(permit), Some(c)) = (this.permit.take(), this.classifier.as_ref()) {
            permit.record_result(&result, c);
        }
        Poll::Ready(result.map_err(Into::into))
    }
}
