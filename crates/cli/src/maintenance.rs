//! `backup`, `restore` and `migrate --status`: keeping the database of a running shop.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use billing::config::{MasterKeySource, Settings};
use billing::store::{Db, Engine};
use billing::vault::Vault;
use clap::Args;
use secrecy::ExposeSecret;

use crate::local::SettingsArgs;

/// `nextpanel-bill backup`.
#[derive(Args)]
pub struct BackupArgs {
    /// Where to write the copy (must not exist).
    #[arg(long)]
    pub to: PathBuf,
    /// Also write the master key beside it (`FILE.key`, mode 0600). Without it the copy's
    /// server secrets open only with the key you keep elsewhere.
    #[arg(long)]
    pub include_key: bool,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// `nextpanel-bill restore`.
#[derive(Args)]
pub struct RestoreArgs {
    /// The copy made by `backup`.
    #[arg(long)]
    pub from: PathBuf,
    /// The master key file that goes with it (default: the configured key).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Replace an existing database file (stop `serve` first).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// `nextpanel-bill migrate`.
#[derive(Args)]
pub struct MigrateArgs {
    /// List applied and pending migrations instead of applying them.
    #[arg(long)]
    pub status: bool,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// Arguments of `check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// Runs the ledger check on the database and prints every violation; fails (exit 1)
/// when there is one.
pub async fn check(args: CheckArgs, json: bool) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let db = Db::connect(settings.database_url.expose_secret()).await?;
    let sweep = std::time::Duration::from_secs(settings.collection.sweep_interval_secs);
    let report = billing::service::ledger::check(&db, sweep).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for v in &report.violations {
            println!("VIOLATION  {}: {}", v.rule, v.detail);
        }
        println!(
            "{} rules checked, {} violation(s)",
            report.rules,
            report.violations.len()
        );
    }
    if !report.violations.is_empty() {
        anyhow::bail!(
            "the ledger check found {} violation(s)",
            report.violations.len()
        );
    }
    Ok(())
}

/// The master key as hex: from `key_file` when given, else as configured.
fn master_key_hex(settings: &Settings, key_file: Option<&Path>) -> anyhow::Result<String> {
    let path = match (key_file, &settings.master_key) {
        (Some(path), _) => path,
        (None, MasterKeySource::File(path)) => path.as_path(),
        (None, MasterKeySource::Key(key)) => return Ok(key.expose_secret().trim().to_owned()),
    };
    let hex = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the master key file {}", path.display()))?;
    Ok(hex.trim().to_owned())
}

fn vault_of(settings: &Settings, key_file: Option<&Path>) -> anyhow::Result<Vault> {
    Ok(Vault::from_hex(&master_key_hex(settings, key_file)?)?)
}

/// Runs `migrate` (or lists with `--status`).
pub async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let db = Db::connect(settings.database_url.expose_secret()).await?;
    if !args.status {
        db.migrate().await?;
        println!("migrations applied");
        return Ok(());
    }
    let status = db.migration_status().await?;
    for (version, name) in &status.applied {
        println!("applied  {version:04} {name}");
    }
    for (version, name) in &status.pending {
        println!("pending  {version:04} {name}");
    }
    for version in &status.unknown {
        println!("NEWER    {version:04} (applied by a newer nextpanel-bill)");
    }
    println!(
        "{} applied, {} pending{}",
        status.applied.len(),
        status.pending.len(),
        if status.unknown.is_empty() {
            ""
        } else {
            "; this database is newer than this binary"
        }
    );
    Ok(())
}

/// Runs `backup`.
pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let url = settings.database_url.expose_secret().to_owned();
    let db = Db::connect(&url).await?;
    if db.engine() == Engine::Postgres {
        bail!(
            "this shop runs on PostgreSQL: back it up with PostgreSQL's own tools, and keep the master key with it:\n  \
             pg_dump --format=custom --no-owner --file={} \"$DATABASE_URL\"\n  \
             restore into an empty database with: pg_restore --no-owner --dbname=\"$DATABASE_URL\" {}",
            args.to.display(),
            args.to.display()
        );
    }
    if args.to.exists() {
        bail!("{} exists already; give a new file", args.to.display());
    }
    db.sqlite_backup(&args.to).await?;
    billing::files::make_private(&args.to)?;
    let status = db.migration_status().await?;
    let newest = status.applied.last().map_or(0, |(v, _)| *v);
    println!(
        "backup written to {} (schema version {newest})",
        args.to.display()
    );
    if args.include_key {
        let key_path = PathBuf::from(format!("{}.key", args.to.display()));
        let hex = master_key_hex(&settings, None)?;
        billing::files::write_new_private(&key_path, hex.as_bytes())
            .with_context(|| format!("cannot write {}", key_path.display()))?;
        println!(
            "master key written to {} (mode 0600): keep it as safe as the database",
            key_path.display()
        );
    } else {
        println!(
            "the master key was not written: the copy's server secrets open only with it; keep it safe (or run again with --include-key)"
        );
    }
    Ok(())
}

/// Runs `restore`: checks the copy, then puts it in place of the configured database.
pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let url = settings.database_url.expose_secret().to_owned();
    let Some(target) = billing::files::sqlite_path(&url) else {
        bail!("restore is for SQLite files; on PostgreSQL use pg_restore (see `nextpanel-bill backup`)");
    };
    if !args.from.is_file() {
        bail!("{} is not a file", args.from.display());
    }
    if target.exists() && !args.force {
        bail!(
            "{} exists; stop `serve` and run again with --force to replace it",
            target.display()
        );
    }
    // The copy is checked as a staging file beside the target (what will be put in place,
    // opened as serve opens it), and only then moved over the database.
    let staging = target.with_extension("restoring");
    std::fs::copy(&args.from, &staging)
        .with_context(|| format!("cannot copy to {}", staging.display()))?;
    billing::files::make_private(&staging)?;
    let checked = check_copy(&settings, &args, &staging).await;
    let status = match checked {
        Ok(status) => status,
        Err(e) => {
            for file in billing::files::sqlite_files(&format!("sqlite://{}", staging.display())) {
                let _ = std::fs::remove_file(file);
            }
            return Err(e);
        }
    };
    // The old database's WAL and SHM files must not be replayed into the copy.
    for side in billing::files::sqlite_files(&url).iter().skip(1) {
        if side.exists() {
            std::fs::remove_file(side)
                .with_context(|| format!("cannot remove {}", side.display()))?;
        }
    }
    std::fs::rename(&staging, &target)
        .with_context(|| format!("cannot move the copy to {}", target.display()))?;
    if let Some(key_file) = &args.key_file {
        if let MasterKeySource::File(configured) = &settings.master_key {
            if configured != key_file {
                println!(
                    "note: the configured key file is {}; put the key from {} there (or set master_key_file)",
                    configured.display(),
                    key_file.display()
                );
            }
        }
    }
    println!(
        "restored {} from {} ({} migrations applied, {} pending: `serve` applies them)",
        target.display(),
        args.from.display(),
        status.applied.len(),
        status.pending.len()
    );
    Ok(())
}

/// Checks a staged copy: an SQLite nextpanel-bill database, undamaged, not from a newer
/// version, whose secrets the key opens.
async fn check_copy(
    settings: &Settings,
    args: &RestoreArgs,
    staging: &Path,
) -> anyhow::Result<billing::store::maintenance::MigrationStatus> {
    let copy = Db::connect(&format!("sqlite://{}", staging.display()))
        .await
        .with_context(|| format!("{} is not an SQLite database", args.from.display()))?;
    let result = async {
        if let Err(found) = copy
            .sqlite_integrity()
            .await
            .with_context(|| format!("{} is not an SQLite database", args.from.display()))?
        {
            bail!("the copy is damaged: {found}");
        }
        let status = copy.migration_status().await?;
        if let Some(newest) = status.unknown.iter().max() {
            bail!("the copy was made by a newer nextpanel-bill (migration {newest}); restore it with that version");
        }
        if status.applied.is_empty() {
            bail!("the copy holds no nextpanel-bill database");
        }
        let vault = vault_of(settings, args.key_file.as_deref())?;
        match copy.any_sealed_secret().await? {
            Some(sealed) => {
                vault.open(&sealed).map_err(|_| {
                    anyhow::anyhow!("the master key does not open the copy's secrets; give the key that was used with it (--key-file)")
                })?;
            }
            None => println!("(no server secrets in the copy to check the key against)"),
        }
        Ok(status)
    }
    .await;
    copy.close().await;
    result
}
