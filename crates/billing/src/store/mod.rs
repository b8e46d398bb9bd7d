//! Persistence with sqlx on SQLite or PostgreSQL: the only place with SQL.
//!
//! Every statement is written once, in SQL both engines accept (`$n` parameters,
//! `RETURNING`, no engine-specific functions), and run through [`on_conn!`], which
//! expands it once per engine. Reads take any [`AsConn`]; writes that must be atomic
//! with others (an audit row, a job) take a [`Tx`]. Reads that tolerate replication lag
//! (admin lists, reports) may take [`Db::read`], which is the PostgreSQL read replica
//! when one is configured ([`replica`]).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};

pub mod api_keys;
pub mod audit;
pub mod authorizations;
pub mod autopay;
pub mod coupons;
pub mod credential_links;
pub mod credits;
pub mod disputes;
pub mod hosting_accounts;
pub mod housekeeping;
pub mod import_map;
pub mod imported_history;
pub mod invoices;
pub mod jobs;
pub mod ledger;
pub mod license_callbacks;
pub mod license_usage;
pub mod licenses;
pub mod list;
pub mod login_attempts;
pub mod maintenance;
pub mod outbox;
pub mod password_resets;
pub mod payments;
pub mod periodic;
pub mod plan_changes;
pub mod plan_prices;
pub mod plans;
pub mod reconciliations;
pub mod refunds;
pub mod replica;
pub mod reports;
pub mod servers;
pub mod sessions;
pub mod settings;
pub mod tax_rates;
pub mod two_factor;
pub mod users;

pub use list::{like_pattern, Listed, Page};
pub(crate) use list::{list_page, Filters};
pub use replica::Replica;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; `field` names the column when known.
    #[error("a record with this {} already exists", field.as_deref().unwrap_or("value"))]
    Duplicate {
        /// The column that must be unique.
        field: Option<String>,
    },
    /// The database URL could not be understood.
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    /// Migrations failed to apply.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A newer nextpanel-bill migrated this database.
    #[error("this database was migrated by a newer nextpanel-bill (migration {version}); run that version, or restore a backup taken before the upgrade")]
    NewerDatabase {
        /// The newest migration applied.
        version: i64,
    },
    /// A check constraint refused the write: a rule that must never break (a balance
    /// below zero) would have broken. Locks keep this from happening; the constraint is
    /// the last line when one was missed.
    #[error("the change would break a rule of the books ({constraint}); nothing was changed")]
    Invariant {
        /// The constraint (PostgreSQL) or its message (SQLite).
        constraint: String,
    },
    /// PostgreSQL gave up one of two transactions waiting on each other (a deadlock or a
    /// serialization failure); nothing of it was written and it may be sent again.
    #[error("the change met a concurrent one and was not made; try again")]
    Contention,
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return StoreError::Duplicate {
                    field: unique_field(db.as_ref()),
                };
            }
            if db.is_check_violation() {
                return StoreError::Invariant {
                    constraint: db
                        .constraint()
                        .map_or_else(|| db.message().to_owned(), str::to_owned),
                };
            }
            // 40001 serialization_failure, 40P01 deadlock_detected.
            if matches!(db.code().as_deref(), Some("40001" | "40P01")) {
                return StoreError::Contention;
            }
        }
        StoreError::Database(err)
    }
}

/// Finds the column of a unique violation: PostgreSQL names the constraint
/// (`users_email_key`), SQLite names the column in its message (`users.email`).
fn unique_field(err: &dyn sqlx::error::DatabaseError) -> Option<String> {
    if let Some(constraint) = err.constraint() {
        let trimmed = constraint.strip_suffix("_key").unwrap_or(constraint);
        return trimmed.split_once('_').map(|(_, column)| column.to_owned());
    }
    let message = err.message();
    let columns = message.strip_prefix("UNIQUE constraint failed: ")?;
    let first = columns.split(',').next()?.trim();
    first.split_once('.').map(|(_, column)| column.to_owned())
}

/// The database engine behind a [`Db`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL or a compatible server.
    Postgres,
}

/// A connection pool to one of the two engines.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite pool.
    Sqlite(SqlitePool),
    /// PostgreSQL pool of the primary, and the read replica [`Db::read`] may use.
    Postgres(PgPool, Option<Replica>),
}

/// A connection borrowed from a pool, in autocommit mode.
pub enum Conn {
    /// SQLite connection.
    Sqlite(PoolConnection<Sqlite>),
    /// PostgreSQL connection.
    Postgres(PoolConnection<Postgres>),
}

/// An open transaction; dropped without [`Tx::commit`] it rolls back.
pub enum Tx {
    /// SQLite transaction (begun IMMEDIATE, so it holds the write lock), with its turn
    /// in this process's queue of writers (`None` when the turn timed out).
    Sqlite(
        Transaction<'static, Sqlite>,
        Option<tokio::sync::OwnedMutexGuard<()>>,
    ),
    /// PostgreSQL transaction.
    Postgres(Transaction<'static, Postgres>),
}

/// A mutable borrow of a raw connection of either engine.
pub enum RawConn<'c> {
    /// SQLite.
    Sqlite(&'c mut SqliteConnection),
    /// PostgreSQL.
    Postgres(&'c mut PgConnection),
}

/// Anything store functions can run statements on: a [`Conn`] or a [`Tx`].
pub trait AsConn: Send {
    /// Borrows the underlying connection.
    fn raw(&mut self) -> RawConn<'_>;
}

impl AsConn for Conn {
    fn raw(&mut self) -> RawConn<'_> {
        match self {
            Conn::Sqlite(c) => RawConn::Sqlite(c),
            Conn::Postgres(c) => RawConn::Postgres(c),
        }
    }
}

impl AsConn for Tx {
    fn raw(&mut self) -> RawConn<'_> {
        match self {
            Tx::Sqlite(c, _) => RawConn::Sqlite(c),
            Tx::Postgres(c) => RawConn::Postgres(c),
        }
    }
}

/// Runs `$body` with `$c` bound to the raw connection of either engine.
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $crate::store::AsConn::raw($conn) {
            $crate::store::RawConn::Sqlite($c) => $body,
            $crate::store::RawConn::Postgres($c) => $body,
        }
    };
}
pub(crate) use on_conn;

/// How long a SQLite writer waits for the lock before failing with "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request waits for a PostgreSQL connection from a pool.
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request waits for a SQLite connection from a pool.
const SQLITE_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A pooled connection idle at least this long is pinged before it is handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Pool options shared by the primary's pools: at most `connections`, each waited for at
/// most `acquire_timeout`, and a connection is checked (pinged; replaced when that fails)
/// only after it has been idle a second. sqlx pings on every acquire by default, one more
/// round trip per request that a busy pool does not need; a database restart takes
/// longer than a second, so a connection that sat through it is still checked before
/// it is used.
fn pool_options<DB: sqlx::Database>(
    connections: u32,
    acquire_timeout: Duration,
) -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(connections)
        .acquire_timeout(acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for < PING_AFTER_IDLE {
                    return Ok(true);
                }
                sqlx::Connection::ping(conn).await.map(|()| true)
            })
        })
}

tokio::task_local! {
    /// Set on the job workers' tasks (see [`first_in_line`]).
    static FIRST_IN_LINE: ();
}

/// Runs `work` with its SQLite transactions ahead of other tasks' in the queue of
/// writers: the job workers', so that a burst of requests (each a short write) cannot
/// keep provisioning waiting behind it; requests wait a little longer instead.
pub async fn first_in_line<F: std::future::Future>(work: F) -> F::Output {
    FIRST_IN_LINE.scope((), work).await
}

/// This process's writers to one SQLite file, taking turns.
#[derive(Default)]
struct Writers {
    /// Held for the whole of a write transaction.
    turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Writers [`first_in_line`] waiting for a turn: others let them go first.
    first_waiting: std::sync::atomic::AtomicUsize,
    /// Signalled when one of those got its turn (or gave up waiting).
    first_served: tokio::sync::Notify,
}

/// Counts a first-in-line writer as waiting until dropped, however its wait ends.
struct Waiting<'a>(&'a Writers);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0
            .first_waiting
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.0.first_served.notify_waiters();
    }
}

impl Writers {
    /// Waits for this task's turn to write.
    async fn turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        use std::sync::atomic::Ordering::SeqCst;
        if FIRST_IN_LINE.try_with(|_| ()).is_ok() {
            self.first_waiting.fetch_add(1, SeqCst);
            let _waiting = Waiting(self);
            return self.turn.clone().lock_owned().await;
        }
        loop {
            // Listening before looking, so a release between the two is not missed.
            let served = self.first_served.notified();
            tokio::pin!(served);
            served.as_mut().enable();
            if self.first_waiting.load(SeqCst) > 0 {
                served.await;
                continue;
            }
            let turn = self.turn.clone().lock_owned().await;
            if self.first_waiting.load(SeqCst) == 0 {
                return turn;
            }
            // One came while this one queued: let it through.
            drop(turn);
        }
    }
}

/// The queue of this process's writers to the SQLite file behind `pool` (one per file,
/// so pools opened on the same file share it).
fn sqlite_writers(pool: &SqlitePool) -> std::sync::Arc<Writers> {
    type Queues = std::collections::HashMap<std::path::PathBuf, std::sync::Arc<Writers>>;
    static QUEUES: std::sync::LazyLock<std::sync::Mutex<Queues>> =
        std::sync::LazyLock::new(Default::default);
    let file = pool.connect_options().get_filename().to_owned();
    // A poisoned map still holds valid queues: a panic elsewhere cannot corrupt an Arc.
    let mut queues = QUEUES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    queues.entry(file).or_default().clone()
}

/// Current time at the precision both engines keep (microseconds), so values round-trip exactly.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl Db {
    /// Connects to `url` (`sqlite://path`, `sqlite::memory:` or `postgres://...`),
    /// creating a missing SQLite file.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options =
                PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl(e.to_string()))?;
            Self::connect_postgres(options).await
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::BadUrl(e.to_string()))?;
            Self::connect_sqlite(options).await
        } else {
            Err(StoreError::BadUrl(
                "expected sqlite://PATH or postgres://USER@HOST/DB".to_owned(),
            ))
        }
    }

    /// Connects to PostgreSQL with explicit options (tests use this to pin a schema).
    pub async fn connect_postgres(options: PgConnectOptions) -> Result<Db, StoreError> {
        let pool = pool_options::<Postgres>(16, PG_ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(Db::Postgres(pool, None))
    }

    /// Connects to SQLite with WAL and a busy timeout, so readers never block the writer.
    pub async fn connect_sqlite(options: SqliteConnectOptions) -> Result<Db, StoreError> {
        // Created here (mode 0600) rather than by SQLite (0644 under the usual umask);
        // SQLite gives the WAL and SHM files the database file's mode.
        let file = options.get_filename();
        if file != Path::new(":memory:") && !file.as_os_str().is_empty() {
            crate::files::create_private(file).map_err(|e| {
                StoreError::BadUrl(format!("cannot create {}: {e}", file.display()))
            })?;
        }
        // FULL: a commit is on disk before it returns, so a payment, refund, credit or
        // invoice survives a power loss or kernel crash too, not only a crash of the
        // process (NORMAL in WAL mode may undo the last commits then). Writes whose loss
        // does no harm take `relaxed_pool` instead.
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = pool_options::<Sqlite>(8, SQLITE_ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(Db::Sqlite(pool))
    }

    /// Which engine this is.
    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(..) => Engine::Postgres,
        }
    }

    /// Applies the pending migrations of this engine.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.refuse_newer().await?;
        match self {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Db::Postgres(pool, _) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        on_conn!(&mut conn, |c| sqlx::query("SELECT 1")
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Borrows a connection in autocommit mode.
    pub async fn conn(&self) -> Result<Conn, StoreError> {
        Ok(match self {
            Db::Sqlite(pool) => Conn::Sqlite(pool.acquire().await?),
            Db::Postgres(pool, _) => Conn::Postgres(pool.acquire().await?),
        })
    }

    /// Borrows a connection for a read that tolerates replication lag (admin lists,
    /// reports): from the read replica when one is set and reachable, else from the
    /// primary. Never for a read that decides a write, authenticates, or must see this
    /// request's own writes: those take [`Db::conn`] or [`Db::begin`].
    pub async fn read(&self) -> Result<Conn, StoreError> {
        if let Db::Postgres(_, Some(replica)) = self {
            if let Some(conn) = replica.acquire().await {
                return Ok(Conn::Postgres(conn));
            }
        }
        self.conn().await
    }

    /// This database with `url` as its read replica (PostgreSQL only; connected on first
    /// use).
    pub fn with_replica(self, url: &str) -> Result<Db, StoreError> {
        match self {
            Db::Postgres(pool, _) => Ok(Db::Postgres(pool, Some(Replica::new(url)?))),
            Db::Sqlite(_) => Err(StoreError::BadUrl(
                "database_replica_url needs a PostgreSQL database_url".to_owned(),
            )),
        }
    }

    /// The read replica, when one is set.
    pub fn replica(&self) -> Option<&Replica> {
        match self {
            Db::Postgres(_, replica) => replica.as_ref(),
            Db::Sqlite(_) => None,
        }
    }

    /// Begins a transaction. On SQLite it takes the write lock at once, which avoids
    /// the lock-upgrade failures of deferred transactions under concurrency, and first
    /// waits for its turn among this process's writers: SQLite's own busy handler makes
    /// a writer that finds the lock taken sleep 1, 2, 5, 10... up to 100 ms before it
    /// looks again, so busy workers lost most of their time asleep while the lock was free.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(pool) => {
                let queue = sqlite_writers(pool);
                // Past the busy timeout, go on without a turn (the busy handler decides
                // then, as before), so a transaction begun while another of the same task
                // is open fails as it always did instead of waiting forever.
                let turn = tokio::time::timeout(SQLITE_BUSY_TIMEOUT, queue.turn())
                    .await
                    .ok();
                Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?, turn)
            }
            Db::Postgres(pool, _) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Begins a read-only transaction that sees one snapshot of the whole database
    /// (REPEATABLE READ on PostgreSQL; a deferred transaction in SQLite's WAL mode), for
    /// reads that compare tables with each other (the ledger check). It takes no write
    /// lock: roll it back when done.
    pub async fn snapshot(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin().await?, None),
            Db::Postgres(pool, _) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                Tx::Postgres(tx)
            }
        })
    }

    /// Another pool of at most `connections` on the same database (and replica), for
    /// work that must not wait behind the HTTP handlers for a connection: a burst of
    /// requests waiting on a lock inside their transactions can hold every connection of
    /// the shared pool. SQLite writers still take turns with the other pool's (the queue
    /// is per file); an in-memory SQLite database is not shared between pools, so it
    /// keeps this one.
    pub async fn separate_pool(&self, connections: u32) -> Result<Db, StoreError> {
        Ok(match self {
            Db::Sqlite(pool) => {
                let options = pool.connect_options();
                let file = options.get_filename();
                if file == Path::new(":memory:") || file.as_os_str().is_empty() {
                    return Ok(self.clone());
                }
                Db::Sqlite(
                    pool_options::<Sqlite>(connections, SQLITE_ACQUIRE_TIMEOUT)
                        .connect_with((*options).clone())
                        .await?,
                )
            }
            Db::Postgres(pool, replica) => Db::Postgres(
                pool_options::<Postgres>(connections, PG_ACQUIRE_TIMEOUT)
                    .connect_with((*pool.connect_options()).clone())
                    .await?,
                replica.clone(),
            ),
        })
    }

    /// A pool of at most `connections` whose commits on PostgreSQL return before they
    /// reach the disk (`synchronous_commit = off`): still atomic and at once visible to
    /// every other session, but a crash of the database server itself may lose the last
    /// few hundred milliseconds of them. Only for writes whose loss does no harm and that
    /// would otherwise wait a disk flush each (remembered validation answers). On SQLite a
    /// pool with `synchronous = NORMAL` (the others are FULL): its commits survive a crash
    /// of the process, and a power loss may undo the last of them.
    /// An engine that refuses the setting (some Postgres-compatible ones) gets a pool of
    /// ordinary commits instead, with a warning.
    pub async fn relaxed_pool(&self, connections: u32) -> Result<Db, StoreError> {
        let (pool, replica) = match self {
            Db::Postgres(pool, replica) => (pool, replica),
            Db::Sqlite(pool) => {
                let options = pool.connect_options();
                let file = options.get_filename();
                if file == Path::new(":memory:") || file.as_os_str().is_empty() {
                    return Ok(self.clone());
                }
                return Ok(Db::Sqlite(
                    pool_options::<Sqlite>(connections, SQLITE_ACQUIRE_TIMEOUT)
                        .connect_with((*options).clone().synchronous(SqliteSynchronous::Normal))
                        .await?,
                ));
            }
        };
        let relaxed = pool_options::<Postgres>(connections, PG_ACQUIRE_TIMEOUT)
            .connect_with(
                (*pool.connect_options())
                    .clone()
                    .options([("synchronous_commit", "off")]),
            )
            .await;
        match relaxed {
            Ok(relaxed) => Ok(Db::Postgres(relaxed, replica.clone())),
            Err(e) => {
                tracing::warn!(error = %e, "the database refuses synchronous_commit = off; those writes wait for the disk");
                self.separate_pool(connections).await
            }
        }
    }

    /// Closes every connection of the pool.
    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool, replica) => {
                pool.close().await;
                if let Some(replica) = replica {
                    replica.close().await;
                }
            }
        }
    }
}

impl Tx {
    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx, _turn) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Rolls the transaction back now (rather than when it is dropped), so its
    /// locks are released before the caller goes on.
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx, _turn) => tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// Locks the row of `table` with this id until the transaction ends (`FOR UPDATE` on
/// PostgreSQL; a SQLite transaction holds the write lock already). The aggregate a use
/// case decides on is locked before it is read, so the decision holds until the commit.
pub(crate) async fn lock_row(tx: &mut Tx, table: &str, id: i64) -> Result<(), StoreError> {
    if let RawConn::Postgres(c) = tx.raw() {
        sqlx::query(&format!("SELECT id FROM {table} WHERE id = $1 FOR UPDATE"))
            .bind(id)
            .fetch_optional(c)
            .await?;
    }
    Ok(())
}

/// A row type both engines can read (what `find_row` and `claim_next` return).
pub(crate) trait Record:
    Send
    + Unpin
    + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
    + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
{
}

impl<T> Record for T where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
{
}

/// The row of `table` with this id, read as `columns`; with `owner`, only if its
/// `customer_id` is that (a customer reading their own, anything else is absent).
pub(crate) async fn find_row<T: Record>(
    conn: &mut impl AsConn,
    table: &str,
    columns: &str,
    id: i64,
    owner: Option<i64>,
) -> Result<Option<T>, StoreError> {
    let owned = if owner.is_some() {
        " AND customer_id = $2"
    } else {
        ""
    };
    let sql = format!("SELECT {columns} FROM {table} WHERE id = $1{owned}");
    let row = on_conn!(conn, |c| {
        let query = sqlx::query_as::<_, T>(&sql).bind(id);
        match owner {
            Some(owner) => query.bind(owner),
            None => query,
        }
        .fetch_optional(c)
        .await
    })?;
    Ok(row)
}

/// The rows of `table` whose `column` is one of `ids` (and that meet `and`, SQL without
/// parameters), read as `columns`: one statement for a batch instead of one per id.
pub(crate) async fn rows_in<T: Record>(
    conn: &mut impl AsConn,
    table: &str,
    columns: &str,
    column: &str,
    ids: &[i64],
    and: &str,
) -> Result<Vec<T>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {columns} FROM {table} WHERE {column} IN ({}){and}",
        placeholders(ids.len())
    );
    let rows = on_conn!(conn, |c| {
        let mut q = sqlx::query_as::<_, T>(&sql);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(c).await
    })?;
    Ok(rows)
}

/// `($1, ... $f), ($f+1, ... $2f), ...`: the VALUES of a multi-row INSERT of `rows`
/// rows of `fields` columns.
pub(crate) fn values_lists(rows: usize, fields: usize) -> String {
    (0..rows)
        .map(|r| {
            let row = (1..=fields)
                .map(|f| format!("${}", r * fields + f))
                .collect::<Vec<_>>()
                .join(", ");
            format!("({row})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$1, $2, ... $n`: the placeholders of an `IN (...)` list of `n` values.
pub(crate) fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `columns` (`"a, b"`) qualified by a table alias (`"s.a, s.b"`), for queries that join.
pub(crate) fn qualified(alias: &str, columns: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Claims the next row of a leased queue (jobs, email outbox): `update` is the
/// `UPDATE <table> SET ...` that marks it taken (binding `$1` now, `$2` the lease end,
/// `$3` the claim token) and `pick` the `SELECT id ...` of the next due row (binding `$1`).
pub(crate) async fn claim_next<T: Record>(
    conn: &mut impl AsConn,
    update: &str,
    pick: &str,
    columns: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    token: &str,
) -> Result<Option<T>, StoreError> {
    let locking = match conn.raw() {
        // One UPDATE is atomic in SQLite, and SQLite has a single writer. An UPDATE takes
        // the write lock even when it matches nothing, so idle workers polling several
        // times a second would keep taking it from the writers that have work (a billing
        // run, checkouts): look first with a read, which never blocks in WAL mode.
        RawConn::Sqlite(c) => {
            let any: bool = sqlx::query_scalar(&format!("SELECT EXISTS ({pick})"))
                .bind(now)
                .fetch_one(&mut *c)
                .await?;
            if !any {
                return Ok(None);
            }
            ""
        }
        // SKIP LOCKED lets many workers in many processes claim different rows at once.
        RawConn::Postgres(_) => " FOR UPDATE SKIP LOCKED",
    };
    let sql = format!("{update} WHERE id = ({pick}{locking}) RETURNING {columns}");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, T>(&sql)
        .bind(now)
        .bind(lease_until)
        .bind(token)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// A table whose rows are claimed with a lease (`locked_until`, `locked_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeasedTable {
    /// `jobs`, running rows.
    Jobs,
    /// `email_outbox`, rows being sent.
    Outbox,
}

/// Extends the lease of a row the caller still holds (`token`) to `until`; `false` when
/// the lease was lost to another holder (or the row settled).
pub async fn renew_lease(
    conn: &mut impl AsConn,
    table: LeasedTable,
    id: i64,
    token: &str,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let sql = match table {
        LeasedTable::Jobs => {
            "UPDATE jobs SET locked_until = $3 WHERE id = $1 AND locked_by = $2 AND state = 'running'"
        }
        LeasedTable::Outbox => {
            "UPDATE email_outbox SET locked_until = $3 WHERE id = $1 AND locked_by = $2 AND state = 'sending'"
        }
    };
    let n = on_conn!(conn, |c| sqlx::query(sql)
        .bind(id)
        .bind(token)
        .bind(until)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
