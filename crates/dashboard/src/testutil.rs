//! A strict little parser for the markup this crate writes (double-quoted attributes, escaped
//! text), so tests can check well-formedness and query elements without an HTML dependency.

/// One start tag.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_ascii_whitespace().any(|c| c == class))
    }
}

const VOID: &[&str] = &["meta", "link", "input", "br", "img", "hr", "source", "wbr"];

/// Parses `markup` and panics (with context) unless every tag is closed in order, every
/// attribute is double-quoted without `<`/`>` inside, and text holds no raw `<` or `>`.
pub(crate) fn parse(markup: &str) -> Vec<Element> {
    let b = markup.as_bytes();
    let mut stack: Vec<String> = Vec::new();
    let mut elements = Vec::new();
    let mut i = 0;
    let ctx = |at: usize| {
        let mut lo = at.saturating_sub(80);
        while !markup.is_char_boundary(lo) {
            lo -= 1;
        }
        let mut hi = (at + 80).min(markup.len());
        while !markup.is_char_boundary(hi) {
            hi += 1;
        }
        markup[lo..hi].to_owned()
    };
    while i < b.len() {
        if b[i] == b'>' {
            panic!("raw '>' in text at {i}: {}", ctx(i));
        }
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        if markup[i..].starts_with("<!--") {
            i += markup[i..].find("-->").expect("unclosed comment") + 3;
            continue;
        }
        if markup[i..].starts_with("<!") {
            i += markup[i..].find('>').expect("unclosed doctype") + 1;
            continue;
        }
        let closing = b.get(i + 1) == Some(&b'/');
        let mut j = i + 1 + usize::from(closing);
        let start = j;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-') {
            j += 1;
        }
        let name = markup[start..j].to_ascii_lowercase();
        assert!(!name.is_empty(), "raw '<' in text at {i}: {}", ctx(i));
        if closing {
            assert_eq!(b.get(j), Some(&b'>'), "bad end tag at {i}: {}", ctx(i));
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("stray </{name}>: {}", ctx(i)));
            assert_eq!(open, name, "mismatched </{name}> at {i}: {}", ctx(i));
            i = j + 1;
            continue;
        }
        let mut attrs = Vec::new();
        let self_closing;
        loop {
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            match b.get(j) {
                Some(b'>') => {
                    self_closing = false;
                    j += 1;
                    break;
                }
                Some(b'/') if b.get(j + 1) == Some(&b'>') => {
                    self_closing = true;
                    j += 2;
                    break;
                }
                None => panic!("unclosed tag at {i}: {}", ctx(i)),
                _ => {}
            }
            let an = j;
            while j < b.len() && !b[j].is_ascii_whitespace() && !matches!(b[j], b'=' | b'>' | b'/')
            {
                assert!(
                    b[j] != b'<' && b[j] != b'"',
                    "bad attribute name at {j}: {}",
                    ctx(j)
                );
                j += 1;
            }
            let aname = markup[an..j].to_ascii_lowercase();
            let mut value = String::new();
            if b.get(j) == Some(&b'=') {
                assert_eq!(
                    b.get(j + 1),
                    Some(&b'"'),
                    "unquoted attribute at {j}: {}",
                    ctx(j)
                );
                let vs = j + 2;
                let ve = vs + markup[vs..].find('"').expect("unclosed attribute value");
                value = markup[vs..ve].to_owned();
                assert!(
                    !value.contains(['<', '>']),
                    "raw < or > in attribute at {vs}: {}",
                    ctx(vs)
                );
                j = ve + 1;
            }
            attrs.push((aname, value));
        }
        if !self_closing && !VOID.contains(&name.as_str()) {
            stack.push(name.clone());
        }
        elements.push(Element { name, attrs });
        i = j;
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    elements
}

/// [`parse`], for its panics.
pub(crate) fn assert_well_formed(markup: &str) {
    let _ = parse(markup);
}

/// Checks the CSP and XSS rules: no inline script, no `on*=` handler, no `style`, ids unique.
pub(crate) fn assert_safe_markup(markup: &str) -> Vec<Element> {
    let els = parse(markup);
    let mut ids = std::collections::HashSet::new();
    for e in &els {
        assert_ne!(e.name, "style", "inline <style>");
        if e.name == "script" {
            assert!(
                e.attr("src").is_some_and(|s| !s.is_empty()),
                "inline <script>"
            );
        }
        for (n, _) in &e.attrs {
            assert!(
                !n.starts_with("on"),
                "event handler attribute {n} on <{}>",
                e.name
            );
            assert_ne!(n, "style", "style attribute on <{}>", e.name);
        }
        if let Some(id) = e.attr("id") {
            assert!(ids.insert(id.to_owned()), "duplicate id {id}");
        }
    }
    // The same rules as text patterns, as the browser test states them.
    let lower = markup.to_ascii_lowercase();
    for (at, _) in lower.match_indices("<script") {
        let tag_end = at + lower[at..].find('>').unwrap();
        assert!(lower[at..tag_end].contains(" src=\""), "script without src");
    }
    els
}
