//! Generic HTTP with JSON-pointer conditions probe.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;

use super::shared::*;
use crate::{HealthProbe, ProbeResult, ProbeStatus, Secret};

/// A comparison in a [`Condition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal (JSON equality; numbers compared as numbers).
    Eq,
    /// Not equal.
    Ne,
    /// Less than (numbers).
    Lt,
    /// Less or equal (numbers).
    Le,
    /// Greater than (numbers).
    Gt,
    /// Greater or equal (numbers).
    Ge,
    /// The string or array contains the value.
    Contains,
    /// The pointer resolves.
    Exists,
    /// The pointer does not resolve.
    Missing,
}

/// A condition on the JSON body: an RFC 6901 pointer, an operator and a JSON value — the useful
/// core of Gatus' conditions (`[BODY].status == UP` is `/status == "UP"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The JSON pointer (`""` is the whole body).
    pub pointer: String,
    /// The comparison.
    pub op: Op,
    /// The value compared with (ignored by `Exists`/`Missing`).
    pub value: Value,
}

/// An error parsing a [`Condition`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid condition: {0}")]
pub struct ConditionError(String);

impl std::str::FromStr for Condition {
    type Err = ConditionError;
    /// Parses `"<pointer> <op> <json>"`, `"<pointer> exists"` or `"<pointer> missing"`; ops are
    /// `==`, `!=`, `<`, `<=`, `>`, `>=`, `contains`. A value that is not JSON is taken as a string.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (pointer, rest) = s
            .split_once(char::is_whitespace)
            .ok_or_else(|| ConditionError(s.into()))?;
        if !(pointer.is_empty() || pointer.starts_with('/')) {
            return Err(ConditionError("a pointer starts with '/'".into()));
        }
        let rest = rest.trim();
        let (op, value) = match rest.split_once(char::is_whitespace) {
            Some((op, v)) => (op, v.trim()),
            None => (rest, ""),
        };
        let op = match op {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "contains" => Op::Contains,
            "exists" => Op::Exists,
            "missing" => Op::Missing,
            other => return Err(ConditionError(format!("unknown operator {other:?}"))),
        };
        let value = if matches!(op, Op::Exists | Op::Missing) {
            Value::Null
        } else if value.is_empty() {
            return Err(ConditionError("missing value".into()));
        } else {
            serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()))
        };
        Ok(Condition {
            pointer: pointer.to_owned(),
            op,
            value,
        })
    }
}

impl Condition {
    /// Whether `body` satisfies the condition.
    pub fn holds(&self, body: &Value) -> bool {
        let got = body.pointer(&self.pointer);
        let num = |v: &Value| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        let cmp = |f: fn(f64, f64) -> bool| match (got.and_then(num), num(&self.value)) {
            (Some(a), Some(b)) => f(a, b),
            _ => false,
        };
        match self.op {
            Op::Exists => got.is_some(),
            Op::Missing => got.is_none(),
            Op::Eq => got.is_some_and(|g| g == &self.value || cmp_eq_num(g, &self.value)),
            Op::Ne => !got.is_some_and(|g| g == &self.value || cmp_eq_num(g, &self.value)),
            Op::Lt => cmp(|a, b| a < b),
            Op::Le => cmp(|a, b| a <= b),
            Op::Gt => cmp(|a, b| a > b),
            Op::Ge => cmp(|a, b| a >= b),
            Op::Contains => match (got, &self.value) {
                (Some(Value::String(h)), Value::String(n)) => h.contains(n.as_str()),
                (Some(Value::Array(a)), v) => a.contains(v),
                _ => false,
            },
        }
    }
}

fn cmp_eq_num(a: &Value, b: &Value) -> bool {
    matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x == y)
}

/// A generic HTTP check: method, headers (values are secrets), accepted status codes, maximum
/// latency (slower is `degraded`) and JSON-pointer [`Condition`]s on the body (a failed condition
/// is `unhealthy`). 401/403 are `auth_failed` and 429 `rate_limited` unless listed as accepted.
#[derive(Debug, Clone)]
pub struct HttpProbe {
    service: String,
    url: String,
    method: reqwest::Method,
    headers: Vec<(String, Secret)>,
    accepted: Vec<u16>,
    conditions: Vec<Condition>,
    http: HttpSettings,
}

impl HttpProbe {
    /// A `GET url` probe accepting any 2xx.
    pub fn new(service: impl Into<String>, url: impl Into<String>) -> Self {
        HttpProbe {
            service: service.into(),
            url: url.into(),
            method: reqwest::Method::GET,
            headers: Vec::new(),
            accepted: Vec::new(),
            conditions: Vec::new(),
            http: HttpSettings::default(),
        }
    }
    /// Sets the method.
    pub fn method(mut self, m: reqwest::Method) -> Self {
        self.method = m;
        self
    }
    /// Adds a request header (the value is treated as a secret).
    pub fn header(mut self, name: impl Into<String>, value: Secret) -> Self {
        // exact capacity: a probe lives as long as the monitor, 10,000 of them at once
        self.headers.reserve_exact(1);
        self.headers.push((name.into(), value));
        self
    }
    /// Accepts exactly these status codes (default: any 2xx).
    pub fn accept(mut self, statuses: impl IntoIterator<Item = u16>) -> Self {
        self.accepted = statuses.into_iter().collect();
        self
    }
    /// Adds a body condition.
    pub fn condition(mut self, c: Condition) -> Self {
        // exact capacity (a first `push` would make room for 4)
        self.conditions.reserve_exact(1);
        self.conditions.push(c);
        self
    }
    /// Answers slower than `d` are `degraded` (same as `slow_after`).
    pub fn max_latency(self, d: Duration) -> Self {
        self.slow_after(d)
    }
    /// Sets the URL.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }
    common_probe_methods!();
}

#[async_trait]
impl HealthProbe for HttpProbe {
    probe_identity!();
    async fn check(&self) -> ProbeResult {
        let start = Instant::now();
        let mut req = self.http.client.request(self.method.clone(), &self.url);
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.expose());
        }
        let f = or_return!(fetch_any(&self.service, fetch(req, self.http.timeout), start).await);
        let accepted = if self.accepted.is_empty() {
            (200..300).contains(&f.status)
        } else {
            self.accepted.contains(&f.status)
        };
        if !accepted {
            if let Some(r) = classify_common(&self.service, &f) {
                return r;
            }
            return unhealthy(&self.service, format!("HTTP {} not accepted", f.status), &f);
        }
        if !self.conditions.is_empty() {
            let body = or_return!(json_or_unhealthy(&self.service, &f, "body is not JSON"));
            if let Some(c) = self.conditions.iter().find(|c| !c.holds(&body)) {
                return unhealthy(
                    &self.service,
                    format!("condition failed: {} {:?} {}", c.pointer, c.op, c.value),
                    &f,
                );
            }
        }
        let r = finish(
            &self.service,
            ProbeStatus::Healthy,
            format!("HTTP {}", f.status),
            &f,
        );
        slow_check(r, self.http.slow_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_parse_and_evaluate() {
        let body =
            json!({"status":"UP","db":{"latency_ms":12,"ok":true},"tags":["a","b"],"v":"2.1"});
        let holds = |s: &str| s.parse::<Condition>().unwrap().holds(&body);
        assert!(holds("/status == \"UP\""));
        assert!(holds("/status == UP"), "bare strings are strings");
        assert!(!holds("/status != UP"));
        assert!(holds("/db/latency_ms < 100"));
        assert!(!holds("/db/latency_ms > 100"));
        assert!(holds("/db/latency_ms >= 12"));
        assert!(holds("/db/ok == true"));
        assert!(holds("/tags contains \"b\""));
        assert!(holds("/status contains U"));
        assert!(holds("/db exists"));
        assert!(holds("/nope missing"));
        assert!(!holds("/nope == 1"));
        assert!(holds("/v > 2"), "numeric strings compare as numbers");
        assert!("status == UP".parse::<Condition>().is_err());
        assert!("/a ~= 1".parse::<Condition>().is_err());
        assert!("/a ==".parse::<Condition>().is_err());
    }
}
