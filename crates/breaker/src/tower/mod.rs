//! A `tower` middleware that puts a [`CircuitBreaker`] in front of a service (feature `tower`).
//!
//! [`BreakerLayer`] wraps a service in [`Breaker`]. It honours tower's `poll_ready` contract the
//! way `tower::load_shed` does: `poll_ready` asks the breaker first; when the breaker rejects,
//! `poll_ready` still returns `Ready(Ok(()))` (it never parks a caller behind an open breaker, and
//! never returns a terminal error), and the next `call` returns a future that fails at once with
//! [`Rejected`] — the inner service is neither polled nor called. When the breaker admits, the
//! permit is held until the inner service is ready and `call` is made; a permit held across a
//! `Pending` inner `poll_ready` keeps its half-open slot. If the service is dropped, or the
//! response future is dropped before completion, the permit is released and nothing is recorded.
//!
//! Errors are boxed (`tower::BoxError`, like tower's own middleware); downcast to [`Rejected`] to
//! tell a rejection from an inner error.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use tower_service::Service;
//! use tower_layer::Layer;
//! use wedsync_breaker::{tower::BreakerLayer, BreakerConfig, CircuitBreaker, Rejected};
//!
//! let cb = CircuitBreaker::new("resend", BreakerConfig::default());
//! let layer = BreakerLayer::new(cb.clone());
//! let mut svc = layer.layer(tower_service_fn(|n: u32| async move { Ok::<_, std::io::Error>(n + 1) }));
//! std::future::poll_fn(|cx| svc.poll_ready(cx)).await?;
//! assert_eq!(svc.call(1).await?, 2);
//!
//! cb.force_open();
//! std::future::poll_fn(|cx| svc.poll_ready(cx)).await?;
//! let err = svc.call(1).await.unwrap_err();
//! assert!(err.downcast_ref::<Rejected>().is_some());
//! # Ok(()) }
//! # fn tower_service_fn<F, Fut>(f: F) -> impl tower_service::Service<u32, Response = u32, Error = std::io::Error, Future = Fut>
//! # where F: FnMut(u32) -> Fut, Fut: std::future::Future<Output = Result<u32, std::io::Error>> {
//! #     struct S<F>(F);
//! #     impl<F, Fut> tower_service::Service<u32> for S<F> where F: FnMut(u32) -> Fut, Fut: std::future::Future<Output = Result<u32, std::io::Error>> {
//! #         type Response = u32; type Error = std::io::Error; type Future = Fut;
//! #         fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), std::io::Error>> { std::task::Poll::Ready(Ok(())) }
//! #         fn call(&mut self, r: u32) -> Fut { (self.0)(r) }
//! #     }
//! #     S(f)
//! # }
//! ```

mod future;
mod layer;

pub use future::ResponseFuture;
pub use layer::BreakerLayer;

use std::task::{Context, Poll};

use tower_service::Service;

use crate::{CircuitBreaker, Classifier, DefaultClassifier, OwnedPermit, Rejected};

/// The boxed error of [`Breaker`]: an inner error or a [`Rejected`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A service guarded by a circuit breaker; see the [module docs](self).
#[derive(Debug)]
pub struct Breaker<S, C = DefaultClassifier> {
    inner: S,
    breaker: CircuitBreaker,
    classifier: C,
    permit: Option<OwnedPermit>,
    rejected: Option<Rejected>,
}

impl<S: Clone, C: Clone> Clone for Breaker<S, C> {
    /// A clone shares the breaker but holds no permit of its own.
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            breaker: self.breaker.clone(),
            classifier: self.classifier.clone(),
            permit: None,
            rejected: None,
        }
    }
}

impl<S, C> Breaker<S, C> {
    /// Wraps `inner`; outcomes are classified by `classifier`.
    pub fn new(inner: S, breaker: CircuitBreaker, classifier: C) -> Self {
        Self {
            inner,
            breaker,
            classifier,
            permit: None,
            rejected: None,
        }
    }

    /// The breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, C, Req> Service<Req> for Breaker<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classifier<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.rejected.is_some() {
            return Poll::Ready(Ok(()));
        }
        if self.permit.is_none() {
            match self.breaker.try_acquire_owned() {
                Ok(p) => self.permit = Some(p),
                Err(r) => {
                    // Shed: ready now, and the call fails fast.
                    self.rejected = Some(r);
                    return Poll::Ready(Ok(()));
                }
            }
        }
        match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => {
                self.permit = None; // released, nothing recorded
                Poll::Ready(Err(e.into()))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn call(&mut self, req: Req) -> Self::Future {
        if let Some(r) = self.rejected.take() {
            return ResponseFuture::rejected(r);
        }
        let permit = match self.permit.take() {
            Some(p) => p,
            // `call` without a successful `poll_ready` breaks tower's contract; stay safe anyway.
            None => match self.breaker.try_acquire_owned() {
                Ok(p) => p,
                Err(r) => return ResponseFuture::rejected(r),
            },
        };
        ResponseFuture::called(self.inner.call(req), permit, self.classifier.clone())
    }
}
