//! Fixed-text statements that diesel-async prepares once per connection.
//!
//! `diesel::sql_query` marks every query unsafe to cache (its text can be anything), so each
//! execution is a `Parse`/`Describe` round trip and a fresh parse and plan on the server before
//! the `Bind`/`Execute`. A [`Statement`] is a `&'static` SQL text split once at its `$n`
//! placeholders; a [`Cached`] query built from it says it is safe to cache and has no static
//! query id, so diesel-async keys its per-connection statement cache by the SQL text and the
//! bind types: the statement is prepared on the first use on a connection and reused after that.
//! Only `'static` texts are accepted, so the cache stays bounded by the statements in this
//! crate — dynamically built SQL (listings with optional filters) keeps using `sql_query`.
//!
//! Placeholders are pushed with diesel's `push_bind_param`, which numbers them in the order they
//! appear: a placeholder used twice (`$2 … $2`) is bound twice, as two parameters of one value.

use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::QueryResult;

/// A [`Cached`] query of a `&'static str` constant or literal (a `static` [`Statement`] per call
/// site): `fixed!("SELECT … WHERE id = $1").bind::<Text, _>(id)`.
macro_rules! fixed {
    ($sql:expr $(,)?) => {{
        static STATEMENT: ::std::sync::LazyLock<$crate::pg::cached::Statement> =
            ::std::sync::LazyLock::new(|| $crate::pg::cached::Statement::new($sql));
        STATEMENT.query()
    }};
}
pub(crate) use fixed;

/// A [`Cached`] query of a statement generated from a [`Dialect`](crate::dialect::Dialect)
/// (a `String`): the text is built once per call site and kept, like [`fixed!`]'s.
macro_rules! stmt {
    ($sql:expr $(,)?) => {
        $crate::pg::cached::fixed!($crate::dialect::leak($sql))
    };
}
pub(crate) use stmt;

/// One piece of a statement: SQL text, or the 1-based number of a placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Sql(&'static str),
    Param(usize),
}

/// A fixed SQL text with `$n` placeholders, split once (keep it in a `static`).
#[derive(Debug)]
pub(crate) struct Statement {
    parts: Vec<Part>,
    params: usize,
}

impl Statement {
    /// Splits `sql` at its `$n` placeholders (outside single-quoted literals and quoted
    /// identifiers).
    pub(crate) fn new(sql: &'static str) -> Self {
        let bytes = sql.as_bytes();
        let (mut parts, mut params) = (Vec::new(), 0);
        let (mut start, mut i) = (0, 0);
        let mut quote: Option<u8> = None;
        while i < bytes.len() {
            let b = bytes[i];
            match quote {
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None if b == b'\'' || b == b'"' => quote = Some(b),
                None if b == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                    let digits = bytes[i + 1..]
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .count();
                    // at most a few digits: the parse cannot overflow
                    let n: usize = sql[i + 1..i + 1 + digits].parse().unwrap_or(usize::MAX);
                    if start < i {
                        parts.push(Part::Sql(&sql[start..i]));
                    }
                    parts.push(Part::Param(n));
                    params = params.max(n);
                    i += 1 + digits;
                    start = i;
                    continue;
                }
                None => {}
            }
            i += 1;
        }
        if start < bytes.len() {
            parts.push(Part::Sql(&sql[start..]));
        }
        Self { parts, params }
    }

    /// A query of this statement, to be bound in placeholder order (`$1`, `$2`, …).
    pub(crate) fn query<'f>(&'static self) -> Cached<'f> {
        Cached {
            statement: self,
            binds: Vec::with_capacity(self.params),
        }
    }
}

/// A bind value of a [`Cached`] query.
struct Bind<ST, V> {
    value: V,
    sql_type: PhantomData<ST>,
}

impl<ST, V> QueryFragment<Pg> for Bind<ST, V>
where
    Pg: HasSqlType<ST>,
    V: ToSql<ST, Pg>,
{
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        pass.push_bind_param::<ST, V>(&self.value)
    }
}

/// A [`Statement`] with its bind values; runs through `diesel_async::RunQueryDsl`, loading
/// `QueryableByName` rows, and is prepared once per connection.
#[must_use = "queries are only executed when loaded or executed"]
pub(crate) struct Cached<'f> {
    statement: &'static Statement,
    binds: Vec<Box<dyn QueryFragment<Pg> + Send + 'f>>,
}

impl<'f> Cached<'f> {
    /// Binds the next placeholder.
    pub(crate) fn bind<ST, V>(mut self, value: V) -> Self
    where
        Pg: HasSqlType<ST>,
        V: ToSql<ST, Pg> + Send + 'f,
        ST: Send + 'f,
    {
        self.binds.push(Box::new(Bind {
            value,
            sql_type: PhantomData,
        }));
        self
    }
}

impl QueryFragment<Pg> for Cached<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        if self.binds.len() != self.statement.params {
            return Err(diesel::result::Error::QueryBuilderError(
                format!(
                    "statement has {} placeholders, {} values bound",
                    self.statement.params,
                    self.binds.len()
                )
                .into(),
            ));
        }
        for part in &self.statement.parts {
            match *part {
                Part::Sql(s) => out.push_sql(s),
                Part::Param(n) => match n.checked_sub(1).and_then(|i| self.binds.get(i)) {
                    Some(b) => b.walk_ast(out.reborrow())?,
                    None => {
                        return Err(diesel::result::Error::QueryBuilderError(
                            format!("placeholder ${n} has no value").into(),
                        ))
                    }
                },
            }
        }
        Ok(())
    }
}

// No static id: the cache key is the SQL text and the bind types.
impl QueryId for Cached<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Cached<'_> {
    type SqlType = Untyped;
}

/// A UUID bound or loaded as PostgreSQL's binary `uuid` (16 bytes each way), not as text that
/// both sides format and parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(not(feature = "webhooks"), allow(dead_code))]
pub(crate) struct PgUuid(pub(crate) uuid::Uuid);

impl ToSql<diesel::sql_types::Uuid, Pg> for PgUuid {
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, Pg>,
    ) -> diesel::serialize::Result {
        use std::io::Write as _;
        out.write_all(self.0.as_bytes())?;
        Ok(diesel::serialize::IsNull::No)
    }
}

impl diesel::deserialize::FromSql<diesel::sql_types::Uuid, Pg> for PgUuid {
    fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        Ok(Self(uuid::Uuid::from_slice(value.as_bytes())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_placeholders_outside_quotes() {
        let s = Statement::new("SELECT $1, '$2', \"a$3\", $10::int FROM t WHERE x = $1");
        assert_eq!(
            s.parts,
            vec![
                Part::Sql("SELECT "),
                Part::Param(1),
                Part::Sql(", '$2', \"a$3\", "),
                Part::Param(10),
                Part::Sql("::int FROM t WHERE x = "),
                Part::Param(1),
            ]
        );
        assert_eq!(s.params, 10);
    }

    #[test]
    fn renders_in_order_and_checks_the_bind_count() {
        static S: std::sync::LazyLock<Statement> =
            std::sync::LazyLock::new(|| Statement::new("SELECT $2, $1, $2"));
        let q = S
            .query()
            .bind::<diesel::sql_types::Text, _>("a")
            .bind::<diesel::sql_types::Integer, _>(7);
        let sql = diesel::debug_query::<Pg, _>(&q).to_string();
        assert!(sql.starts_with("SELECT $1, $2, $3"), "{sql}");
        let short = S.query().bind::<diesel::sql_types::Text, _>("a");
        let mut qb = diesel::pg::PgQueryBuilder::default();
        assert!(short.to_sql(&mut qb, &Pg).is_err());
    }
}
