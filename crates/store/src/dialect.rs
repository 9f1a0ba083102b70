//! What the two backends' SQL differs in, named once: the [`Dialect`].
//!
//! Every domain (`admin`, `probe`, `webhooks`) writes each statement once, as a function of a
//! `D: Dialect`, and each backend instantiates it with [`PgDialect`] or [`SqliteDialect`]. Where
//! the databases genuinely differ (placeholders, casts, `FOR UPDATE SKIP LOCKED`, `LATERAL`, the
//! row key, arrays) the difference is a method or constant here, not a second copy of the
//! statement.
//!
//! Rows read the same on both backends except timestamps: PostgreSQL returns `timestamptz`,
//! SQLite INTEGER microseconds since the Unix epoch. So each row type is declared once, in a macro
//! that expects the backend's `Ts` (timestamp SQL type) and `TsRs` (its Rust type, a
//! [`RowTime`]) in scope.
// with one backend compiled in, part of what they share is unused
#![cfg_attr(
    not(all(feature = "postgres", feature = "sqlite")),
    allow(dead_code, unused_imports, unused_macros)
)]

use time::OffsetDateTime;

/// A timestamp as a backend reads it.
pub(crate) trait RowTime: Copy {
    /// As a UTC date-time.
    fn into_time(self) -> OffsetDateTime;
    /// As milliseconds since the Unix epoch.
    #[cfg_attr(not(feature = "probe"), allow(dead_code))]
    fn into_ms(self) -> i64 {
        i64::try_from(self.into_time().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }
}

#[cfg(feature = "postgres")]
impl RowTime for OffsetDateTime {
    fn into_time(self) -> OffsetDateTime {
        self
    }
}

#[cfg(feature = "sqlite")]
impl RowTime for i64 {
    fn into_time(self) -> OffsetDateTime {
        crate::sqlite::from_us(self)
    }
    fn into_ms(self) -> i64 {
        self / 1000
    }
}

/// A date-time from milliseconds since the Unix epoch (the probe crate's clock).
#[cfg_attr(not(feature = "probe"), allow(dead_code))]
pub(crate) fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// How the two databases spell what they spell differently.
// some spellings only the probe domain needs
#[cfg_attr(not(feature = "probe"), allow(dead_code))]
pub(crate) trait Dialect {
    /// Appended to a `SELECT` that picks rows to change in a batch: on PostgreSQL
    /// ` FOR UPDATE SKIP LOCKED` (rows another worker holds are skipped, never waited for);
    /// nothing on SQLite (one writer at a time).
    const SKIP_LOCKED: &'static str;
    /// Placeholder `n` (1-based).
    fn p(n: usize) -> String;
    /// Placeholder `n` compared with (or stored into) a UUID column.
    fn uuid(n: usize) -> String;
    /// A fresh random UUID per row (a claim's lease token): `gen_random_uuid()` on PostgreSQL, a
    /// version-4 UUID's text built from `randomblob` on SQLite.
    const NEW_UUID: &'static str;
    /// Placeholder `n` stored into a JSON column.
    fn json(n: usize) -> String {
        Self::json_of(&Self::p(n))
    }
    /// The text expression `expr` stored into a JSON column.
    fn json_of(expr: &str) -> String;
    /// Placeholder `n` holding a timestamp, where nothing around it implies its type
    /// (`CASE WHEN $n IS NULL`).
    fn ts(n: usize) -> String;
    /// The column that names one row of a table whose key is `key`: `key` itself on PostgreSQL
    /// (`ctid` for tables keyed by several columns), `rowid` on SQLite.
    fn row_key(key: &'static str) -> &'static str;
    /// Placeholder `n` (space-separated words) stored into a word-list column: a `text[]` on
    /// PostgreSQL, the text itself on SQLite.
    fn words_in(n: usize) -> String;
    /// A word-list column read back as space-separated text, named `column`.
    fn words_out(column: &str) -> String;
    /// A join of the first row of `SELECT … FROM {table} m {rest} LIMIT 1` (`rest` may refer to
    /// the outer query) as `alias`: a `LATERAL` subquery on PostgreSQL; SQLite, which has no
    /// `LATERAL`, joins the row whose `id` that subquery picks.
    fn join_first(table: &str, alias: &str, rest: &str) -> String;
    /// A row source `alias(columns)` from placeholders `1..=columns.len()` (`(name, PostgreSQL
    /// element type)`): on PostgreSQL `unnest` over arrays, so one statement handles every row
    /// bound; on SQLite (no arrays) a single row of scalars, one statement per row.
    fn rows_of(alias: &str, columns: &[(&str, &str)]) -> String {
        Self::rows_from(alias, 1, columns)
    }
    /// [`Dialect::rows_of`] with the placeholders numbered from `first`.
    fn rows_from(alias: &str, first: usize, columns: &[(&str, &str)]) -> String;
}

/// PostgreSQL.
#[cfg(feature = "postgres")]
pub(crate) struct PgDialect;

#[cfg(feature = "postgres")]
impl Dialect for PgDialect {
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    fn p(n: usize) -> String {
        format!("${n}")
    }
    fn uuid(n: usize) -> String {
        format!("CAST(${n} AS UUID)")
    }
    const NEW_UUID: &'static str = "gen_random_uuid()";
    fn json_of(expr: &str) -> String {
        format!("CAST({expr} AS JSONB)")
    }
    fn ts(n: usize) -> String {
        format!("CAST(${n} AS TIMESTAMPTZ)")
    }
    fn row_key(key: &'static str) -> &'static str {
        key
    }
    fn words_in(n: usize) -> String {
        format!("string_to_array(${n}, ' ')")
    }
    fn words_out(column: &str) -> String {
        format!("array_to_string({column}, ' ') AS {column}")
    }
    fn join_first(table: &str, alias: &str, rest: &str) -> String {
        format!("CROSS JOIN LATERAL (SELECT * FROM {table} m {rest} LIMIT 1) {alias}")
    }
    fn rows_from(alias: &str, first: usize, columns: &[(&str, &str)]) -> String {
        let arrays: Vec<String> = (first..)
            .zip(columns)
            .map(|(n, (_, ty))| format!("${n}::{ty}[]"))
            .collect();
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        format!(
            "unnest({}) AS {alias}({})",
            arrays.join(", "),
            names.join(", ")
        )
    }
}

/// SQLite: `?N` placeholders; UUIDs, JSON and word lists are stored as text.
#[cfg(feature = "sqlite")]
pub(crate) struct SqliteDialect;

#[cfg(feature = "sqlite")]
impl Dialect for SqliteDialect {
    const SKIP_LOCKED: &'static str = "";
    fn p(n: usize) -> String {
        format!("?{n}")
    }
    fn uuid(n: usize) -> String {
        Self::p(n)
    }
    const NEW_UUID: &'static str = "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' \
        || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) \
        || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";
    fn json_of(expr: &str) -> String {
        expr.to_owned()
    }
    fn ts(n: usize) -> String {
        Self::p(n)
    }
    fn row_key(_key: &'static str) -> &'static str {
        "rowid"
    }
    fn words_in(n: usize) -> String {
        Self::p(n)
    }
    fn words_out(column: &str) -> String {
        column.to_owned()
    }
    fn join_first(table: &str, alias: &str, rest: &str) -> String {
        format!("JOIN {table} {alias} ON {alias}.id = (SELECT m.id FROM {table} m {rest} LIMIT 1)")
    }
    fn rows_from(alias: &str, first: usize, columns: &[(&str, &str)]) -> String {
        let values: Vec<String> = (first..)
            .zip(columns)
            .map(|(n, (name, _))| format!("?{n} AS {name}"))
            .collect();
        format!("(SELECT {}) AS {alias}", values.join(", "))
    }
}

/// Placeholders `from..=to`, comma-separated (the values of an `INSERT`).
pub(crate) fn placeholders<D: Dialect>(from: usize, to: usize) -> String {
    (from..=to).map(D::p).collect::<Vec<_>>().join(", ")
}

/// `DELETE`/`UPDATE` of at most a batch of rows: `{action} WHERE {key} IN (SELECT {key} FROM
/// {table} WHERE {cond} LIMIT {limit}{SKIP_LOCKED})`, `key` being [`Dialect::row_key`].
pub(crate) fn batch_sql<D: Dialect>(
    action: &str,
    table: &str,
    key: &'static str,
    cond: &str,
    limit: &str,
) -> String {
    let key = D::row_key(key);
    format!(
        "{action} WHERE {key} IN (SELECT {key} FROM {table} WHERE {cond} LIMIT {limit}{lock})",
        lock = D::SKIP_LOCKED
    )
}

/// A generated statement kept for the life of the process (each call site builds its text once,
/// in a `static`), as the PostgreSQL statement cache needs `'static` texts.
#[cfg(feature = "postgres")]
pub(crate) fn leak(sql: String) -> &'static str {
    Box::leak(sql.into_boxed_str())
}
