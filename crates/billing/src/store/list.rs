//! Lists: the page a client asks for, the filters of a list as SQL, and the one query
//! every list endpoint reads through (numbered pages with a total, or a keyset cursor).

use super::{on_conn, AsConn, Record, StoreError};

/// A page request: where the page starts and how long it is.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// 1-based page number (1 when `after` is given).
    pub page: i64,
    /// Items per page.
    pub per_page: i64,
    /// Keyset cursor: only rows with a smaller id. Set, the list reads no OFFSET and no
    /// COUNT, so a page deep in a large table costs what the first one does.
    pub after: Option<i64>,
}

impl Page {
    /// The first `per_page` rows, for callers inside the application.
    pub fn first(per_page: i64) -> Page {
        Page {
            page: 1,
            per_page,
            after: None,
        }
    }

    /// The SQL OFFSET of this page.
    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

/// Counting the rows of a list stops past this many: a count walks every matching row,
/// which at millions of rows costs more than the page itself (a tenth of a second and
/// more), and nobody pages through ten thousand rows by number.
pub const COUNT_LIMIT: i64 = 10_000;

/// One page of rows as a list query read them.
#[derive(Debug)]
pub struct Listed<T> {
    /// The rows, newest (highest id) first.
    pub rows: Vec<T>,
    /// Rows matching the filters across all pages, when [`COUNT_LIMIT`] or fewer; `None`
    /// when more match, and in keyset mode (`after`).
    pub total: Option<i64>,
    /// `Some(COUNT_LIMIT)` when more rows than that match (then `total` is `None`).
    pub total_more_than: Option<i64>,
    /// The id to pass as `after` for the next page; `None` when no row follows.
    pub next_after: Option<i64>,
}

/// A value a list filter binds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    /// An integer (ids).
    Int(i64),
    /// Text (states, numbers, search patterns).
    Text(&'a str),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}

/// The WHERE terms of a list query and the values they bind. A filter left out adds no
/// term, rather than `($n IS NULL OR col = $n)`: only SQL that names the column lets
/// either engine walk the `(col, id)` index in id order, which keeps a page cheap at any
/// depth.
#[derive(Debug, Default)]
pub(crate) struct Filters<'a> {
    terms: Vec<String>,
    args: Vec<Arg<'a>>,
    /// A term no `(col, id)` index serves (a substring search): see [`Filters::search`].
    searching: bool,
}

impl<'a> Filters<'a> {
    /// No filter: every row.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Binds `value` and returns its placeholder (`$n`), for a term written by hand.
    pub(crate) fn bind(&mut self, value: impl Into<Arg<'a>>) -> String {
        self.args.push(value.into());
        format!("${}", self.args.len())
    }

    /// Adds a term (trusted SQL: column names and placeholders from [`Filters::bind`]).
    pub(crate) fn term(mut self, sql: impl Into<String>) -> Self {
        self.terms.push(sql.into());
        self
    }

    /// Adds a search term (trusted SQL, like [`Filters::term`]) that no index walks in id
    /// order. PostgreSQL would still walk the primary key backwards for a first page,
    /// expecting matches spread evenly over the ids, and matches that sit together far
    /// down (customers 42000 to 42999 for "customer 42") cost a walk past most of the
    /// table (80 ms at 100,000 users). So a page of a search first counts its matches
    /// (through the search's own index), and when there are few, reads them whole and
    /// sorts them; when there are many, the walk finds a page of them soon.
    pub(crate) fn search(mut self, sql: impl Into<String>) -> Self {
        self.searching = true;
        self.term(sql)
    }

    /// `column = value` when a value is given.
    pub(crate) fn eq<V: Into<Arg<'a>>>(mut self, column: &str, value: Option<V>) -> Self {
        if let Some(value) = value {
            let p = self.bind(value);
            self = self.term(format!("{column} = {p}"));
        }
        self
    }

    fn where_clause(&self) -> String {
        if self.terms.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.terms.join(" AND "))
        }
    }
}

/// Binds `args` in order to a query of either engine (the one written per engine by
/// [`on_conn!`]), as a one-off statement. Kept prepared, PostgreSQL may settle on one
/// generic plan for every filter value, and a generic plan walks the primary key, which
/// for a rare `state` reads the whole table below the cursor (0.1 to 0.6 s at a million
/// rows); planned with the values, it walks the `(state, id)` index. The parse costs
/// little, and the many filter combinations would only crowd the statement cache.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query.persistent(false);
        for arg in $args {
            query = match *arg {
                Arg::Int(v) => query.bind(v),
                Arg::Text(v) => query.bind(v),
            };
        }
        query
    }};
}

/// Runs `sql` with `args` bound, reading each row with its `id`.
async fn read_keyed<T: Record>(
    conn: &mut impl AsConn,
    sql: &str,
    args: &[Arg<'_>],
) -> Result<Vec<(i64, T)>, StoreError> {
    use sqlx::Row;
    let rows = on_conn!(conn, |c| {
        bind_args!(sqlx::query(sql), args)
            .fetch_all(c)
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<i64, _>("id")?, T::from_row(r)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
    })?;
    Ok(rows)
}

/// Counts the rows of `table` matching `filters`, up to one past [`COUNT_LIMIT`].
async fn count(
    conn: &mut impl AsConn,
    table: &str,
    filters: &Filters<'_>,
) -> Result<i64, StoreError> {
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM {table}{} LIMIT {}) AS counted",
        filters.where_clause(),
        COUNT_LIMIT + 1
    );
    let total: i64 = on_conn!(conn, |c| bind_args!(
        sqlx::query_scalar(&sql),
        &filters.args
    )
    .fetch_one(c)
    .await)?;
    Ok(total)
}

/// One page of `table`'s rows matching `filters`, newest (highest id) first, read as
/// `columns` (which must include `id`): every list endpoint reads through here.
///
/// With `page.after` the page is the rows below that id (no OFFSET, no COUNT: the total
/// is `None`); without, the numbered page with the exact total up to [`COUNT_LIMIT`]. One
/// row past the page is read, so `next_after` is `None` exactly when nothing follows.
pub(crate) async fn list_page<T: Record>(
    conn: &mut impl AsConn,
    table: &str,
    columns: &str,
    filters: Filters<'_>,
    page: Page,
) -> Result<Listed<T>, StoreError> {
    let counted = if page.after.is_none() || filters.searching {
        Some(count(conn, table, &filters).await?)
    } else {
        None
    };
    let (total, total_more_than) = match (page.after, counted) {
        (Some(_), _) | (None, None) => (None, None),
        (None, Some(n)) if n > COUNT_LIMIT => (None, Some(COUNT_LIMIT)),
        (None, Some(n)) => (Some(n), None),
    };
    let read_whole = filters.searching && counted.is_some_and(|n| n <= COUNT_LIMIT);
    let mut filters = filters;
    if let Some(after) = page.after {
        let p = filters.bind(after);
        filters = filters.term(format!("id < {p}"));
    }
    let limit = filters.bind(page.per_page.saturating_add(1));
    let offset = match page.offset() {
        0 => String::new(),
        n => format!(" OFFSET {}", filters.bind(n)),
    };
    let sql = if read_whole {
        format!(
            "WITH matched AS MATERIALIZED (SELECT {columns} FROM {table}{}) \
             SELECT * FROM matched ORDER BY id DESC LIMIT {limit}{offset}",
            filters.where_clause()
        )
    } else {
        format!(
            "SELECT {columns} FROM {table}{} ORDER BY id DESC LIMIT {limit}{offset}",
            filters.where_clause()
        )
    };
    let mut rows = read_keyed::<T>(conn, &sql, &filters.args).await?;
    let per_page = usize::try_from(page.per_page).unwrap_or(usize::MAX);
    let next_after = if rows.len() > per_page {
        rows.truncate(per_page);
        rows.last().map(|(id, _)| *id)
    } else {
        None
    };
    Ok(Listed {
        rows: rows.into_iter().map(|(_, row)| row).collect(),
        total,
        total_more_than,
        next_after,
    })
}

/// Escapes `%`, `_` and `\` in a user's search text and wraps it for `LIKE ... ESCAPE '\'`.
pub fn like_pattern(search: &str) -> String {
    let mut out = String::with_capacity(search.len() + 2);
    out.push('%');
    for ch in search.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("Ad_a%"), "%ad\\_a\\%%");
    }

    #[test]
    fn page_offset() {
        assert_eq!(
            Page {
                page: 3,
                per_page: 20,
                after: None
            }
            .offset(),
            40
        );
        assert_eq!(Page::first(20).offset(), 0);
    }

    #[test]
    fn filters_name_only_the_columns_given() {
        let none: Option<i64> = None;
        let mut f = Filters::new()
            .eq("customer_id", none)
            .eq("status", Some("open"));
        assert_eq!(f.where_clause(), " WHERE status = $1");
        let p = f.bind(7);
        f = f.term(format!("id < {p}"));
        assert_eq!(f.where_clause(), " WHERE status = $1 AND id < $2");
        assert_eq!(Filters::new().where_clause(), "");
    }
}
