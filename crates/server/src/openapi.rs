//! The OpenAPI 3 document served at `/openapi.json`: data in `openapi.json` beside this file, the
//! crate's version filled in. A test keeps its paths and methods equal to
//! [`crate::routes::ROUTES`].

use serde_json::Value;

/// The document's text, with `${CARGO_PKG_VERSION}` where the version goes.
const TEMPLATE: &str = include_str!("openapi.json");

/// Builds the document.
pub fn document() -> Value {
    let text = TEMPLATE.replace("${CARGO_PKG_VERSION}", env!("CARGO_PKG_VERSION"));
    // the template is part of the binary and parsed by the test below: it cannot be malformed
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_template_is_json_and_carries_the_version() {
        let doc = super::document();
        assert_eq!(doc["openapi"], "3.0.3");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    }
}
