//! `nextpanel-bill import seed`: moves the older billing system's data over.
//!
//! Rows are read from the old database ([`crate::seed`]), converted by the rules in
//! [`crate::domain::seed`] and written with an `import_map` row each, in the same
//! transaction, so a second run finds every row already imported and a run stopped half
//! way carries on where it stopped. A dry run (the default) does all of it in one
//! transaction and rolls it back: its report is exactly what `--apply` would do.
//!
//! Order matters: users, plans and servers first, then licenses (a customer and a plan),
//! hosting accounts (a customer, a server and a license), and the invoice and payment
//! history (a customer).

mod rows;

use serde::Serialize;

use super::ServiceError;
use crate::domain::money::Currency;
use crate::domain::seed;
use crate::seed::{columns, text, SeedDb, SeedError, SeedRow};
use crate::store::{self, Db, Tx};
use crate::vault::Vault;

/// The `import_map` source name of the older billing system.
pub const SOURCE: &str = "seed";

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The old database cannot be read.
    #[error(transparent)]
    Source(#[from] SeedError),
    /// Writing ours failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<store::StoreError> for ImportError {
    fn from(e: store::StoreError) -> Self {
        ImportError::Service(e.into())
    }
}

/// How to import.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// Write (`false`: a dry run that changes nothing).
    pub apply: bool,
    /// The currency of the old system's plans and balances (it had none per plan).
    pub currency: Currency,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    /// Whether it was written.
    pub applied: bool,
    /// Per kind of row: counts in the old database and what became of them.
    pub tables: Vec<TableReport>,
    /// Rows not imported, and why.
    pub skipped: Vec<RowNote>,
    /// Values that had to be changed on the way (inexact money, missing names...).
    pub converted: Vec<RowNote>,
    /// Rows found already here (imported before, or the same email/name/key): linked.
    pub linked: Vec<RowNote>,
}

/// One kind of row.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TableReport {
    /// Our name for it (`users`, `plans`, `servers`, `licenses`, `accounts`, `invoices`, `payments`).
    pub entity: &'static str,
    /// The old table.
    pub source_table: &'static str,
    /// Rows in the old table.
    pub in_source: i64,
    /// Rows created now.
    pub created: i64,
    /// Rows matched to one already here (same email, name, key or username).
    pub linked: i64,
    /// Rows imported by an earlier run.
    pub already: i64,
    /// Rows left out (see `skipped`).
    pub skipped: i64,
    /// Rows of the old table that are mapped to ours after this run.
    pub mapped_after: i64,
}

/// A remark about one row.
#[derive(Debug, Clone, Serialize)]
pub struct RowNote {
    /// The kind of row.
    pub entity: &'static str,
    /// Its id in the old database.
    pub source_id: String,
    /// What happened, in words.
    pub message: String,
}

/// What became of one row.
enum Outcome {
    Created(i64),
    Linked(i64, String),
    Skipped(String),
}

/// The work of one run: the open transaction, the report, and the notes of the row at hand.
struct Run<'a> {
    db: &'a Db,
    vault: &'a Vault,
    options: ImportOptions,
    tx: Option<Tx>,
    report: ImportReport,
    /// Old license ids whose subscription ends at the period's end (they do not renew).
    ending: Vec<String>,
    /// The old licenses, which accounts are matched against.
    licenses: Vec<SeedRow>,
}

impl Run<'_> {
    async fn tx(&mut self) -> Result<&mut Tx, ImportError> {
        if self.tx.is_none() {
            self.tx = Some(self.db.begin().await?);
        }
        self.tx
            .as_mut()
            .ok_or_else(|| ImportError::Service(ServiceError::Internal("no transaction".into())))
    }

    /// After each row: committed when applying (so a stopped run resumes after it); a dry
    /// run keeps one transaction to the end and rolls it back.
    async fn checkpoint(&mut self) -> Result<(), ImportError> {
        if self.options.apply {
            if let Some(tx) = self.tx.take() {
                tx.commit().await?;
            }
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<ImportReport, ImportError> {
        if let Some(tx) = self.tx.take() {
            if self.options.apply {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
        }
        self.report.applied = self.options.apply;
        Ok(self.report)
    }

    fn converted(&mut self, entity: &'static str, source_id: &str, message: String) {
        self.report.converted.push(RowNote {
            entity,
            source_id: source_id.to_owned(),
            message,
        });
    }

    /// Our id of an imported row of `entity`.
    async fn mapped(&mut self, entity: &str, source_id: &str) -> Result<Option<i64>, ImportError> {
        let tx = self.tx().await?;
        Ok(store::import_map::find(tx, SOURCE, entity, source_id).await?)
    }

    /// Imports every row of one table, counting what became of each.
    async fn table(
        &mut self,
        entity: &'static str,
        source_table: &'static str,
        rows: &[SeedRow],
    ) -> Result<(), ImportError> {
        let mut t = TableReport {
            entity,
            source_table,
            in_source: i64::try_from(rows.len()).unwrap_or(i64::MAX),
            ..TableReport::default()
        };
        for row in rows {
            let Some(id) = crate::seed::text(row, "id").map(str::to_owned) else {
                t.skipped += 1;
                continue;
            };
            if self.mapped(entity, &id).await?.is_some() {
                t.already += 1;
                continue;
            }
            let outcome = match entity {
                "users" => self.user(row).await?,
                "plans" => self.plan(row).await?,
                "servers" => self.server(row).await?,
                "licenses" => self.license(row).await?,
                "accounts" => self.account(row).await?,
                "invoices" => self.invoice(row).await?,
                "payments" => self.payment(row).await?,
                other => {
                    return Err(ImportError::Service(ServiceError::Internal(format!(
                        "no import for {other}"
                    ))))
                }
            };
            match outcome {
                Outcome::Created(target) => {
                    self.map(entity, &id, target).await?;
                    t.created += 1;
                }
                Outcome::Linked(target, why) => {
                    self.map(entity, &id, target).await?;
                    self.report.linked.push(RowNote {
                        entity,
                        source_id: id.clone(),
                        message: why,
                    });
                    t.linked += 1;
                }
                Outcome::Skipped(why) => {
                    self.report.skipped.push(RowNote {
                        entity,
                        source_id: id.clone(),
                        message: why,
                    });
                    t.skipped += 1;
                }
            }
            self.checkpoint().await?;
        }
        let tx = self.tx().await?;
        t.mapped_after = store::import_map::count(tx, SOURCE, entity).await?;
        self.report.tables.push(t);
        Ok(())
    }

    async fn map(&mut self, entity: &str, source_id: &str, target: i64) -> Result<(), ImportError> {
        let now = store::now();
        let tx = self.tx().await?;
        store::import_map::insert(tx, SOURCE, entity, source_id, target, now).await?;
        Ok(())
    }
}

/// Imports (or with `apply: false`, tries) everything from the old database.
pub async fn import(
    source: &SeedDb,
    db: &Db,
    vault: &Vault,
    options: ImportOptions,
) -> Result<ImportReport, ImportError> {
    let licenses = source
        .rows("licenses", columns::LICENSES, "created_at")
        .await?;
    // A license whose subscription is set to end at the period's end does not renew.
    let ending = source
        .rows("subscriptions", columns::SUBSCRIPTIONS, "id")
        .await?
        .iter()
        .filter(|s| text(s, "cancel_at_period_end").and_then(seed::flag) == Some(true))
        .filter_map(|s| text(s, "license_id").map(str::to_owned))
        .collect();
    let mut run = Run {
        db,
        vault,
        options,
        tx: None,
        report: ImportReport::default(),
        ending,
        licenses,
    };
    for (entity, table, order) in [
        ("users", "users", "created_at"),
        ("plans", "plans", "sort_order"),
        ("servers", "nextpanel_servers", "id"),
        ("licenses", "licenses", "created_at"),
        ("accounts", "nextpanel_accounts", "id"),
        ("invoices", "invoices", "created_at"),
        ("payments", "payments", "created_at"),
    ] {
        // The licenses were read once above (accounts are matched against them).
        let rows = if entity == "licenses" {
            std::mem::take(&mut run.licenses)
        } else {
            source.rows(table, columns::of(table), order).await?
        };
        run.table(entity, table, &rows).await?;
        if entity == "licenses" {
            run.licenses = rows;
        }
    }
    run.finish().await
}

/// Our ids of the servers imported from the older system.
pub async fn imported_servers(db: &Db) -> Result<Vec<i64>, ImportError> {
    let mut conn = db.conn().await?;
    Ok(store::import_map::targets(&mut conn, SOURCE, "servers").await?)
}
