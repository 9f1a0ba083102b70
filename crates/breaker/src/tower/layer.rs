use tower_layer::Layer;

use super::Breaker;
use crate::{CircuitBreaker, DefaultClassifier};

/// Wraps services in a [`Breaker`] sharing one [`CircuitBreaker`].
#[derive(Debug, Clone)]
pub struct BreakerLayer<C = DefaultClassifier> {
    breaker: CircuitBreaker,
    classifier: C,
}

impl BreakerLayer {
    /// A layer where `Ok` is a success and `Err` a failure.
    pub fn new(breaker: CircuitBreaker) -> Self {
        Self {
            breaker,
            classifier: DefaultClassifier,
        }
    }
}

impl<C> BreakerLayer<C> {
    /// A layer with a custom [`Classifier`](crate::Classifier) (e.g. to count HTTP 5xx as
    /// failures, or honour `Retry-After`).
    pub fn with_classifier(breaker: CircuitBreaker, classifier: C) -> Self {
        Self {
            breaker,
            classifier,
        }
    }
}

impl<S, C: Clone> Layer<S> for BreakerLayer<C> {
    type Service = Breaker<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Breaker::new(inner, self.breaker.clone(), self.classifier.clone())
    }
}
