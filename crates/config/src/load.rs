//! The layered loader: a TOML text, overlaid by `PREFIX…__…` environment variables, deserialised
//! into any `T: DeserializeOwned` with every error naming its dotted key.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::ConfigError;

/// Why a configuration could not be loaded. Never echoes a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The path that was tried.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text (or an environment overlay) is not valid TOML, or has the wrong shape where no key
    /// can be named.
    #[error("invalid configuration: {0}")]
    Parse(String),
    /// A key holds a value of the wrong shape (or fails a check made while reading).
    #[error("invalid configuration: {0}")]
    Invalid(#[from] ConfigError),
}

/// Reads the file at `path` (an empty document when `None`), overlays the variables among `env`
/// whose names start with `prefix` (see [`from_toml_with_env`]) and deserialises the result.
pub fn load<T: DeserializeOwned>(
    path: Option<&Path>,
    prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, LoadError> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p).map_err(|source| LoadError::Read {
            path: p.display().to_string(),
            source,
        })?,
        None => String::new(),
    };
    from_toml_with_env(&text, prefix, env)
}

/// Parses `text` as TOML, overlays the variables among `env` named `PREFIX` + a path, and
/// deserialises the result into `T`.
///
/// A variable's path segments are separated by `__` and lower-cased: `WEDSYNC_STORE__URL` sets
/// `store.url`, `WEDSYNC_SERVICES__0__INTERVAL` sets `services[0].interval` (an index must exist).
/// Names without `__` are not overlays. The value is read as a TOML value when it parses as one
/// (`true`, `42`, `["saturday"]`) and as a string otherwise. Overlays apply in name order.
///
/// Errors name the key (`` `services[1].interval`: … ``); a message that already names its key
/// (`` `services[1].domain`: missing … ``, as [`ConfigError`] displays) keeps that key. Values are
/// never echoed.
pub fn from_toml_with_env<T: DeserializeOwned>(
    text: &str,
    prefix: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, LoadError> {
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| LoadError::Parse(e.to_string()))?;
    let mut overlays: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(prefix) && k.contains("__"))
        .collect();
    overlays.sort();
    for (name, value) in overlays {
        apply_overlay(&mut table, &name[prefix.len()..], &name, &value)?;
    }
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(
        |e: serde_path_to_error::Error<toml::de::Error>| {
            let key = e.path().to_string();
            let message = e.into_inner().message().to_string();
            // a message that already names its key: "`services[1].domain`: missing …"
            let keyed = message
                .strip_prefix('`')
                .and_then(|m| m.split_once("`: "))
                .map(|(k, m)| ConfigError::new(k, m));
            match (keyed, key.as_str()) {
                (Some(e), _) => e.into(),
                (None, "." | "") => LoadError::Parse(message),
                (None, _) => ConfigError::new(key, message).into(),
            }
        },
    )
}

/// Sets the value of the variable `name` (its path `path`, the prefix removed) in `table`.
fn apply_overlay(
    table: &mut toml::Table,
    path: &str,
    name: &str,
    value: &str,
) -> Result<(), LoadError> {
    let path: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
    let Some((first, rest)) = path
        .split_first()
        .filter(|_| path.iter().all(|s| !s.is_empty()))
    else {
        return Err(LoadError::Parse(format!(
            "environment variable {name}: empty path segment"
        )));
    };
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    if rest.is_empty() {
        table.insert(first.clone(), parsed);
        return Ok(());
    }
    let node = table
        .entry(first.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    set_path(node, rest, parsed, name)
}

fn set_path(
    node: &mut toml::Value,
    path: &[String],
    value: toml::Value,
    name: &str,
) -> Result<(), LoadError> {
    let Some((seg, rest)) = path.split_first() else {
        *node = value;
        return Ok(());
    };
    let parse = |what: String| LoadError::Parse(format!("environment variable {name}: {what}"));
    let child = match node {
        toml::Value::Table(t) => t
            .entry(seg.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new())),
        toml::Value::Array(a) => {
            let len = a.len();
            let idx: usize = seg
                .parse()
                .map_err(|_| parse(format!("`{seg}` must be an array index")))?;
            a.get_mut(idx)
                .ok_or_else(|| parse(format!("index {idx} is out of range ({len} entries)")))?
        }
        _ => return Err(parse(format!("`{seg}` is not inside a table"))),
    };
    set_path(child, rest, value, name)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        store: Store,
        #[serde(default)]
        services: Vec<Service>,
    }

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Store {
        #[serde(default)]
        url: String,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Service {
        name: String,
        #[serde(with = "crate::duration")]
        interval: Duration,
    }

    const TEXT: &str = "[[services]]\nname = \"a\"\ninterval = \"30s\"\n";

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn read(text: &str, pairs: &[(&str, &str)]) -> Result<File, LoadError> {
        from_toml_with_env(text, "APP_", env(pairs))
    }

    #[test]
    fn overlays_set_tables_array_entries_and_typed_values() {
        let f = read(
            TEXT,
            &[
                ("APP_STORE__URL", "postgres://u@h/db"),
                ("APP_STORE__TAGS", "[\"a\", \"b\"]"),
                ("APP_SERVICES__0__INTERVAL", "10s"),
                ("APP_IGNORED", "x"),
                ("OTHER_STORE__URL", "y"),
            ],
        )
        .unwrap();
        assert_eq!(f.store.url, "postgres://u@h/db");
        assert_eq!(f.store.tags, ["a", "b"]);
        assert_eq!(f.services[0].name, "a");
        assert_eq!(f.services[0].interval, Duration::from_secs(10));
    }

    #[test]
    fn a_bad_overlay_names_its_variable() {
        for (name, needle) in [
            (
                "APP_SERVICES__3__NAME",
                "index 3 is out of range (1 entries)",
            ),
            ("APP_SERVICES__X__NAME", "`x` must be an array index"),
            ("APP_STORE____URL", "empty path segment"),
            ("APP_SERVICES__0__NAME__X", "`x` is not inside a table"),
        ] {
            let e = read(TEXT, &[(name, "v")]).unwrap_err();
            assert!(matches!(e, LoadError::Parse(_)), "{e}");
            let e = e.to_string();
            assert!(e.contains(name) && e.contains(needle), "{e}");
        }
    }

    #[test]
    fn errors_name_the_key_and_never_the_value() {
        let secret = concat!("sk_", "live_", "abcdefghijklmnop");
        let e = read(&format!("{TEXT}[store]\nurl = 3\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("`store.url`"), "{e}");
        let e = read(TEXT, &[("APP_SERVICES__0__INTERVAL", secret)]).unwrap_err();
        let LoadError::Invalid(inner) = &e else {
            panic!("{e}")
        };
        assert_eq!(inner.key(), "services[0].interval");
        assert!(!e.to_string().contains(secret), "{e}");
        assert!(matches!(read("x = ", &[]), Err(LoadError::Parse(_))));
        let e = read("password = 1", &[]).unwrap_err().to_string();
        assert!(e.contains("password"), "{e}");
    }

    #[derive(Debug, serde::Deserialize)]
    struct Keyed {
        #[serde(deserialize_with = "keyed")]
        _a: u8,
    }

    fn keyed<'de, D: serde::Deserializer<'de>>(_: D) -> Result<u8, D::Error> {
        Err(serde::de::Error::custom("`list[1].domain`: missing"))
    }

    #[test]
    fn a_message_that_names_its_key_keeps_it() {
        let e = from_toml_with_env::<Keyed>("_a = 1", "APP_", env(&[])).unwrap_err();
        let LoadError::Invalid(inner) = e else {
            panic!("{e}")
        };
        assert_eq!(
            (inner.key(), inner.message()),
            ("list[1].domain", "missing")
        );
    }

    #[test]
    fn a_missing_file_is_a_read_error_and_none_is_empty() {
        let missing = Path::new("/nonexistent/wedsync-config-test.toml");
        let e = load::<File>(Some(missing), "APP_", env(&[])).unwrap_err();
        assert!(matches!(e, LoadError::Read { .. }), "{e}");
        let f: File = load(None, "APP_", env(&[("APP_STORE__URL", "x")])).unwrap();
        assert_eq!(f.store.url, "x");
    }
}
