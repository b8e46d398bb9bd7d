//! `nextpanel-bill import seed`: moves the older billing system's database over, a dry
//! run unless `--apply`, then checks the result (counts, and the imported accounts
//! against their panels).

use anyhow::Context;
use billing::config::mask_url_password;
use billing::service::seed_import::{self, ImportOptions, ImportReport};
use billing::service::Actor;
use clap::{Args, Subcommand};
use secrecy::ExposeSecret;

use crate::local::SettingsArgs;

/// What to import.
#[derive(Subcommand)]
pub enum ImportCommand {
    /// From the older Python billing system's database (PostgreSQL or SQLite).
    #[command(
        after_help = "A dry run unless --apply: it prints what it would create, skip and convert, and writes nothing.\nA second run changes nothing; a stopped run carries on where it stopped.\n\nExamples:\n  nextpanel-bill import seed --from postgres://billing@old-db/billing\n  nextpanel-bill import seed --from sqlite:///srv/old/billing.db --apply"
    )]
    Seed(SeedArgs),
}

/// `import seed`.
#[derive(Args)]
pub struct SeedArgs {
    /// The older system's database URL (postgres://... or sqlite://...); only read.
    #[arg(long, value_name = "URL")]
    from: String,
    /// Write the import (without it, a dry run that changes nothing).
    #[arg(long)]
    apply: bool,
    /// Currency of the older system's prices and balances (it kept none per plan).
    #[arg(long, default_value = "USD")]
    currency: String,
    /// Skip the check of the imported accounts against their panels after --apply.
    #[arg(long)]
    no_reconcile: bool,
    #[command(flatten)]
    settings: SettingsArgs,
}

/// Runs `import seed`.
pub async fn seed(args: SeedArgs, json: bool) -> anyhow::Result<()> {
    let settings = args.settings.resolve()?;
    let currency = billing::domain::money::Currency::parse(&args.currency)
        .map_err(|e| anyhow::anyhow!("--currency: {}", e.message))?;
    let source = billing::seed::SeedDb::open(&args.from)
        .await
        .with_context(|| format!("cannot open {}", mask_url_password(&args.from)))?;
    let db = billing::store::Db::connect(settings.database_url.expose_secret()).await?;
    db.migrate().await?;
    let vault = billing::app::open_vault(&settings)?;
    let report = seed_import::import(
        &source,
        &db,
        &vault,
        ImportOptions {
            apply: args.apply,
            currency,
        },
    )
    .await?;
    let checks = if args.apply && !args.no_reconcile {
        reconcile(&db, &vault, &settings).await?
    } else {
        Vec::new()
    };
    if json {
        let out = serde_json::json!({"report": report, "reconciliation": checks});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_report(&report);
        print_checks(&checks);
    }
    Ok(())
}

/// The imported servers' panels against our records (report only, nothing fixed).
async fn reconcile(
    db: &billing::store::Db,
    vault: &billing::vault::Vault,
    settings: &billing::config::Settings,
) -> anyhow::Result<Vec<billing::service::reconciliation::Reconciliation>> {
    let reconciler = billing::service::reconciliation::Reconciler {
        db: db.clone(),
        vault: vault.clone(),
        timeouts: settings.panel_timeouts,
    };
    let actor = Actor::system_as("import seed");
    let mut out = Vec::new();
    for server_id in seed_import::imported_servers(db).await? {
        let mut conn = db.conn().await?;
        let Some(server) = billing::store::servers::find(&mut conn, server_id).await? else {
            continue;
        };
        drop(conn);
        out.push(reconciler.reconcile(&server, &actor, false).await?);
    }
    Ok(out)
}

fn print_report(report: &ImportReport) {
    if report.applied {
        println!("Imported from the older billing system.");
    } else {
        println!("Dry run: nothing was written. Run again with --apply to import.");
    }
    println!();
    println!(
        "{:<30} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "old table -> ours", "old rows", "create", "linked", "already", "skipped", "mapped"
    );
    for t in &report.tables {
        println!(
            "{:<30} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            format!("{} -> {}", t.source_table, t.entity),
            t.in_source,
            t.created,
            t.linked,
            t.already,
            t.skipped,
            t.mapped_after
        );
    }
    for (title, notes) in [
        ("Skipped", &report.skipped),
        ("Converted", &report.converted),
        ("Linked to what is already here", &report.linked),
    ] {
        if notes.is_empty() {
            continue;
        }
        println!();
        println!("{title}:");
        for n in notes {
            println!("  {} {}: {}", n.entity, n.source_id, n.message);
        }
    }
    if !report.applied {
        println!();
        println!("(\"mapped\" counts what an --apply run would leave mapped.)");
    }
}

fn print_checks(checks: &[billing::service::reconciliation::Reconciliation]) {
    if checks.is_empty() {
        return;
    }
    println!();
    println!("Imported accounts against their panels (report only, nothing changed):");
    for c in checks {
        match &c.error {
            Some(error) => println!("  server {}: could not compare: {error}", c.server_name),
            None => println!(
                "  server {}: {} — {} orphan(s) on the panel, {} missing there, {} state mismatch(es)",
                c.server_name, c.status, c.orphans, c.missing, c.mismatches
            ),
        }
    }
}
