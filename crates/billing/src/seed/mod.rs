//! The older billing system's database, read-only (`nextpanel-bill import seed`): its
//! tables as `../shared/seed-schema.md` describes them, on SQLite or PostgreSQL.
//!
//! Every column is read as text (`CAST(... AS TEXT)`), so one reader serves both engines
//! and every SQLAlchemy type (floats, enums stored by name, JSON, booleans, times); the
//! domain rules in `domain::seed` give them meaning. A column this copy of the old
//! schema lacks reads as NULL, and a missing table as no rows.

use std::collections::BTreeMap;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::Row as _;

/// Why the old database cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The URL is neither `sqlite://` nor `postgres://`.
    #[error("--from must be a sqlite:// or postgres:// URL of the older system's database")]
    Url,
    /// Connecting or querying failed.
    #[error("cannot read the older system's database: {0}")]
    Db(#[from] sqlx::Error),
}

/// One row: column → its value as text (`None`: NULL or no such column).
pub type SeedRow = BTreeMap<String, Option<String>>;

/// A text column of a row.
pub fn text<'r>(row: &'r SeedRow, column: &str) -> Option<&'r str> {
    row.get(column)
        .and_then(|v| v.as_deref())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A connection to the older system's database.
pub enum SeedDb {
    /// An SQLite file, opened read-only.
    Sqlite(sqlx::SqlitePool),
    /// A PostgreSQL database (only read).
    Postgres(sqlx::PgPool),
}

impl SeedDb {
    /// Opens `url` without writing to it.
    pub async fn open(url: &str) -> Result<SeedDb, SeedError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .read_only(true)
                .create_if_missing(false);
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            Ok(SeedDb::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            Ok(SeedDb::Postgres(pool))
        } else {
            Err(SeedError::Url)
        }
    }

    /// The columns `table` has, of those asked for (none: no such table).
    async fn columns(&self, table: &str, wanted: &[&str]) -> Result<Vec<String>, SeedError> {
        let present: Vec<String> = match self {
            SeedDb::Sqlite(pool) => {
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                    .bind(table)
                    .fetch_all(pool)
                    .await?
            }
            SeedDb::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1",
                )
                .bind(table)
                .fetch_all(pool)
                .await?
            }
        };
        Ok(wanted
            .iter()
            .filter(|w| present.iter().any(|p| p == *w))
            .map(|w| (*w).to_owned())
            .collect())
    }

    /// Every row of `table` with `columns` as text, ordered by `order` (a column).
    pub async fn rows(
        &self,
        table: &'static str,
        columns: &[&'static str],
        order: &'static str,
    ) -> Result<Vec<SeedRow>, SeedError> {
        let present = self.columns(table, columns).await?;
        if present.is_empty() {
            return Ok(Vec::new());
        }
        // Names come from our own constant lists, never from input.
        let select = present
            .iter()
            .map(|c| format!("CAST({c} AS TEXT) AS {c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let order = if present.iter().any(|c| c == order) {
            format!(" ORDER BY {order}")
        } else {
            String::new()
        };
        let sql = format!("SELECT {select} FROM {table}{order}");
        let read = |values: Vec<Option<String>>| -> SeedRow {
            let mut row: SeedRow = columns.iter().map(|c| ((*c).to_owned(), None)).collect();
            for (name, value) in present.iter().zip(values) {
                row.insert(name.clone(), value);
            }
            row
        };
        let mut out = Vec::new();
        match self {
            SeedDb::Sqlite(pool) => {
                for r in sqlx::query(&sql).fetch_all(pool).await? {
                    let values = (0..present.len())
                        .map(|i| r.try_get::<Option<String>, _>(i))
                        .collect::<Result<Vec<_>, _>>()?;
                    out.push(read(values));
                }
            }
            SeedDb::Postgres(pool) => {
                for r in sqlx::query(&sql).fetch_all(pool).await? {
                    let values = (0..present.len())
                        .map(|i| r.try_get::<Option<String>, _>(i))
                        .collect::<Result<Vec<_>, _>>()?;
                    out.push(read(values));
                }
            }
        }
        Ok(out)
    }
}

/// The columns the importer reads, per table.
pub mod columns {
    /// The list for `table`.
    pub fn of(table: &str) -> &'static [&'static str] {
        match table {
            "users" => USERS,
            "plans" => PLANS,
            "nextpanel_servers" => SERVERS,
            "licenses" => LICENSES,
            "subscriptions" => SUBSCRIPTIONS,
            "nextpanel_accounts" => ACCOUNTS,
            "invoices" => INVOICES,
            _ => PAYMENTS,
        }
    }

    /// `users`.
    pub const USERS: &[&str] = &[
        "id",
        "email",
        "password_hash",
        "full_name",
        "company_name",
        "company",
        "phone",
        "account_balance",
        "is_active",
        "is_admin",
        "created_at",
    ];
    /// `plans`.
    pub const PLANS: &[&str] = &[
        "id",
        "name",
        "description",
        "price_monthly",
        "price_yearly",
        "max_accounts",
        "max_domains",
        "max_databases",
        "max_emails",
        "is_active",
        "sort_order",
        "created_at",
    ];
    /// `nextpanel_servers`.
    pub const SERVERS: &[&str] = &[
        "id",
        "name",
        "description",
        "base_url",
        "api_key",
        "api_secret",
        "is_active",
        "capacity",
        "location",
        "tags",
        "created_at",
    ];
    /// `licenses`.
    pub const LICENSES: &[&str] = &[
        "id",
        "user_id",
        "plan_id",
        "license_key",
        "status",
        "max_accounts",
        "max_domains",
        "max_databases",
        "max_emails",
        "nextpanel_user_id",
        "activation_date",
        "expiry_date",
        "auto_renew",
        "created_at",
        "updated_at",
    ];
    /// `subscriptions`.
    pub const SUBSCRIPTIONS: &[&str] = &["id", "license_id", "status", "cancel_at_period_end"];
    /// `nextpanel_accounts`.
    pub const ACCOUNTS: &[&str] = &[
        "id",
        "customer_id",
        "server_id",
        "nextpanel_user_id",
        "username",
        "email",
        "status",
        "suspension_reason",
        "created_at",
        "deleted_at",
    ];
    /// `invoices`.
    pub const INVOICES: &[&str] = &[
        "id",
        "user_id",
        "invoice_number",
        "status",
        "subtotal",
        "tax",
        "total",
        "amount_paid",
        "amount_due",
        "currency",
        "invoice_date",
        "due_date",
        "paid_at",
        "items",
        "notes",
        "created_at",
    ];
    /// `payments`.
    pub const PAYMENTS: &[&str] = &[
        "id",
        "user_id",
        "stripe_payment_intent_id",
        "gateway_transaction_id",
        "amount",
        "currency",
        "status",
        "payment_method",
        "gateway_type",
        "description",
        "failure_reason",
        "created_at",
        "processed_at",
    ];
}
