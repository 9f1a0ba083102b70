//! Sanitising a parsed `serde_json::Value` in place.

use serde_json::Value;

use crate::json::{rule_kind, write_json_str};
use crate::keys::Rule;
use crate::scan::{card_mask, is_card, is_placeholder, secret_replacement, Scratch};
use crate::{Engine, Kind, Report};

struct Walk<'a> {
    eng: &'a Engine,
    report: &'a mut Report,
    path: String,
    norm_path: Vec<String>,
    s: Scratch,
}

pub(crate) fn sanitize(eng: &Engine, v: &mut Value, report: &mut Report) {
    let mut w = Walk {
        eng,
        report,
        path: String::from("$"),
        norm_path: Vec::new(),
        s: Scratch::default(),
    };
    w.walk(v, Rule::None, 0, 0);
}

fn push_key(path: &mut String, k: &str) {
    if !k.is_empty() && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        path.push('.');
        path.push_str(k);
    } else {
        let mut b = Vec::new();
        write_json_str(&mut b, k);
        path.push('[');
        path.push_str(&String::from_utf8_lossy(&b));
        path.push(']');
    }
}

impl Walk<'_> {
    fn hit(&mut self, kind: Kind) {
        self.report.add(kind, 1);
        self.report.touch(self.path.clone());
    }

    fn walk(&mut self, v: &mut Value, rule: Rule, ctx: u8, depth: usize) {
        let container = matches!(v, Value::Object(_) | Value::Array(_));
        if container && (rule.secret_for(None) || depth >= self.eng.limits.max_depth) {
            *v = Value::String(String::from("[REDACTED]"));
            self.hit(Kind::Secret);
            return;
        }
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    let (r, c) = self
                        .eng
                        .key_rule(k, ctx, &mut self.s.words, &mut self.norm_path);
                    let len = self.path.len();
                    push_key(&mut self.path, k);
                    self.walk(child, r, c, depth + 1);
                    self.path.truncate(len);
                    if !self.eng.rules.is_empty() {
                        self.norm_path.pop();
                    }
                }
            }
            Value::Array(items) => {
                let elem = if rule_kind(rule).is_some() {
                    rule
                } else {
                    Rule::None
                };
                for (i, child) in items.iter_mut().enumerate() {
                    let len = self.path.len();
                    self.path.push('[');
                    self.path.push_str(&i.to_string());
                    self.path.push(']');
                    self.walk(child, elem, ctx, depth + 1);
                    self.path.truncate(len);
                }
            }
            Value::String(s) => {
                if let Some(new) = self.string(s, rule, ctx, depth) {
                    *s = new;
                }
            }
            Value::Number(n) => {
                let text = n.to_string();
                if rule.secret_for(None) {
                    *v = Value::String(String::from("[REDACTED]"));
                    self.hit(Kind::Secret);
                } else if let Some(kind) = rule_kind(rule) {
                    *v = Value::String(self.eng.scanner.placeholder(kind, &text));
                    self.hit(kind);
                } else if self.eng.scanner.det.card
                    && n.is_u64()
                    && (13..=19).contains(&text.len())
                    && is_card(text.as_bytes())
                {
                    let mut m = String::new();
                    card_mask(&text, &mut m);
                    *v = Value::String(m);
                    self.hit(Kind::Card);
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn string(&mut self, s: &str, rule: Rule, ctx: u8, depth: usize) -> Option<String> {
        if s.is_empty() {
            return None;
        }
        if rule.secret_for(Some(s)) {
            let r = secret_replacement(s);
            if r != s {
                self.hit(Kind::Secret);
                return Some(r);
            }
            return None;
        }
        if let Some(kind) = rule_kind(rule) {
            if is_placeholder(s) {
                return None;
            }
            self.hit(kind);
            return Some(self.eng.scanner.placeholder(kind, s));
        }
        let t = s.trim();
        if self.eng.scanner.det.embedded_json
            && ((t.starts_with('{') && t.ends_with('}'))
                || (t.starts_with('[') && t.ends_with(']')))
        {
            let mut sub = Report::default();
            match crate::json::rewrite(self.eng, s, depth, ctx, &self.path, &mut sub) {
                Ok(Some(out)) => {
                    self.report.merge_counts(&sub);
                    for l in sub.locations {
                        self.report.touch(l);
                    }
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
                Ok(None) => return None,
                Err(_) => {}
            }
        }
        let mut sub = Report::default();
        let new = self.eng.scanner.sanitize(s, &mut self.s, &mut sub)?;
        self.report.merge_counts(&sub);
        self.report.touch(self.path.clone());
        Some(new)
    }
}
