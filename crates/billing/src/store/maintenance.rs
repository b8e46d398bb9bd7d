//! Keeping the database: which migrations are applied, refusing a database from a newer
//! version, consistent copies of SQLite files and their integrity.

use std::path::Path;

use super::{on_conn, Db, Engine, StoreError, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

/// Applied and pending migrations, and applied ones this version does not know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationStatus {
    /// `(version, description)` of the applied ones this version knows.
    pub applied: Vec<(i64, String)>,
    /// `(version, description)` of the ones still to apply.
    pub pending: Vec<(i64, String)>,
    /// Versions applied by a newer nextpanel-bill.
    pub unknown: Vec<i64>,
}

impl Db {
    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.engine() {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Which migrations are applied and which are pending.
    pub async fn migration_status(&self) -> Result<MigrationStatus, StoreError> {
        let mut conn = self.conn().await?;
        // A database nobody migrated yet has no bookkeeping table.
        let exists: bool = match self.engine() {
            Engine::Sqlite => on_conn!(&mut conn, |c| {
                sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            )
            .fetch_one(c)
            .await
            .map(|n| n > 0)
            })?,
            Engine::Postgres => on_conn!(&mut conn, |c| sqlx::query_scalar::<_, bool>(
                "SELECT to_regclass('_sqlx_migrations') IS NOT NULL"
            )
            .fetch_one(c)
            .await)?,
        };
        let done: Vec<i64> = if exists {
            on_conn!(&mut conn, |c| sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version"
            )
            .fetch_all(c)
            .await)?
        } else {
            Vec::new()
        };
        let known = self
            .migrator()
            .iter()
            .filter(|m| m.migration_type.is_up_migration());
        let mut status = MigrationStatus::default();
        for m in known {
            let entry = (m.version, m.description.to_string());
            if done.contains(&m.version) {
                status.applied.push(entry);
            } else {
                status.pending.push(entry);
            }
        }
        status.unknown = done
            .into_iter()
            .filter(|v| !status.applied.iter().any(|(a, _)| a == v))
            .collect();
        Ok(status)
    }

    /// Refuses a database that a newer nextpanel-bill migrated: this version would not
    /// know its tables.
    pub async fn refuse_newer(&self) -> Result<(), StoreError> {
        let status = self.migration_status().await?;
        match status.unknown.iter().max() {
            Some(newest) => Err(StoreError::NewerDatabase { version: *newest }),
            None => Ok(()),
        }
    }

    /// A consistent copy of an SQLite database in `to`, taken while others read and write
    /// (SQLite's `VACUUM INTO`: one read transaction, a compact file).
    pub async fn sqlite_backup(&self, to: &Path) -> Result<(), StoreError> {
        let Db::Sqlite(pool) = self else {
            return Err(StoreError::BadUrl(
                "a file copy is only for SQLite; back up PostgreSQL with pg_dump".into(),
            ));
        };
        let target = to.to_string_lossy().into_owned();
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(pool)
            .await?;
        Ok(())
    }

    /// SQLite's own check of every page and index: `Ok` when it answers `ok`, else what it found.
    pub async fn sqlite_integrity(&self) -> Result<Result<(), String>, StoreError> {
        let Db::Sqlite(pool) = self else {
            return Ok(Ok(()));
        };
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(pool)
            .await?;
        Ok(if rows.len() == 1 && rows[0] == "ok" {
            Ok(())
        } else {
            Err(rows.join("; "))
        })
    }

    /// One sealed server secret, to check that a master key opens this database's secrets.
    pub async fn any_sealed_secret(&self) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn().await?;
        let found: Option<String> = on_conn!(&mut conn, |c| sqlx::query_scalar(
            "SELECT api_key_sealed FROM servers ORDER BY id LIMIT 1"
        )
        .fetch_optional(c)
        .await)?;
        Ok(found)
    }
}
