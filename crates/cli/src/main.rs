//! `nextpanel-bill`: the command line of nextpanel-bill.
//!
//! Local commands (`serve`, `worker`, `config`, `migrate`, `admin create`) work on this
//! machine's configuration and database; the others (`login`, `servers`, `provision`, ...)
//! talk to a running server over its HTTP API.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod client;
mod commands;
mod credentials;
mod import;
mod local;
mod maintenance;
mod output;
mod provision;

use client::{ApiArgs, Client};
use commands::{accounts, auth, customers, invoices, jobs, plans, reports, servers};
use local::SettingsArgs;

/// Billing and hosting-account provisioning for NextPanel servers.
#[derive(Parser)]
#[command(name = "nextpanel-bill", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    api: ApiArgs,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (creates and migrates the database; seeds an admin on first start).
    #[command(
        after_help = "Examples:\n  nextpanel-bill serve\n  nextpanel-bill serve --listen 0.0.0.0:8001 --database postgres://bill@db/bill\n  NEXTPANEL_BILL_ADMIN_PASSWORD='long-secret-pass' nextpanel-bill serve"
    )]
    Serve(SettingsArgs),
    /// Run job workers only (no HTTP server), e.g. more workers beside `serve` on one PostgreSQL.
    #[command(
        after_help = "Example:\n  nextpanel-bill worker --workers 8 --database postgres://bill@db/bill"
    )]
    Worker(SettingsArgs),
    /// Print the effective configuration (flags > environment > file > defaults), secrets masked,
    /// each value with where it came from.
    #[command(
        after_help = "Every setting KEY can also be set as NEXTPANEL_BILL_<KEY> (nested keys with __), and a\nsecret read from a file with NEXTPANEL_BILL_<KEY>_FILE.\n\nExamples:\n  nextpanel-bill config --config /etc/nextpanel-bill/nextpanel-bill.toml\n  NEXTPANEL_BILL_SMTP_HOST=mail.example.com NEXTPANEL_BILL_SMTP_PASSWORD_FILE=/run/secrets/smtp nextpanel-bill config"
    )]
    Config(SettingsArgs),
    /// Apply pending database migrations and exit.
    #[command(
        after_help = "Example:\n  nextpanel-bill migrate --database postgres://bill@db/bill"
    )]
    Migrate(maintenance::MigrateArgs),
    /// Copy the SQLite database while `serve` runs (and with --include-key the master key);
    /// on PostgreSQL, print the pg_dump commands.
    #[command(
        after_help = "Example:\n  nextpanel-bill backup --to /var/backups/bill-$(date +%F).db --include-key"
    )]
    Backup(maintenance::BackupArgs),
    /// Check every invariant of money and state (credit balances, payments, refunds and
    /// credit notes, plan changes, usernames, document numbers) and print each violation
    /// with its ids; exits non-zero when one is found.
    #[command(after_help = "Example:\n  nextpanel-bill check --database postgres://bill@db/bill")]
    Check(maintenance::CheckArgs),
    /// Check a copy made by `backup` (integrity, schema version, the key opens its secrets)
    /// and put it in place of the database.
    #[command(
        after_help = "Example:\n  nextpanel-bill restore --from /var/backups/bill-2026-12-02.db --key-file /var/backups/bill-2026-12-02.db.key --force"
    )]
    Restore(maintenance::RestoreArgs),
    /// Move data over from the older billing system (a dry run unless --apply).
    Import {
        #[command(subcommand)]
        command: import::ImportCommand,
    },
    /// Manage admin users directly in the database.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Log in to a nextpanel-bill server and keep the token (mode 0600, in the config directory).
    #[command(
        after_help = "Examples:\n  nextpanel-bill login --url https://bill.example.com\n  printf '%s\\n' \"$PASS\" | nextpanel-bill login --url http://127.0.0.1:8001 --email admin@example.com --password-stdin"
    )]
    Login(auth::LoginArgs),
    /// End the session and remove the stored token.
    #[command(after_help = "Example:\n  nextpanel-bill logout")]
    Logout,
    /// Create a customer, license and hosting account in one go (asks for what is missing on a terminal).
    #[command(after_help = provision::EXAMPLES)]
    Provision(provision::ProvisionArgs),
    /// NextPanel servers: list, add, test, status, disable, enable.
    #[command(after_help = "Example:\n  nextpanel-bill servers list")]
    Servers {
        #[command(subcommand)]
        command: servers::ServersCommand,
    },
    /// Customers: list, create, show, deactivate, activate.
    #[command(after_help = "Example:\n  nextpanel-bill customers list --search acme")]
    Customers {
        #[command(subcommand)]
        command: customers::CustomersCommand,
    },
    /// Hosting plans and their prices.
    #[command(after_help = "Example:\n  nextpanel-bill plans list")]
    Plans {
        #[command(subcommand)]
        command: plans::PlansCommand,
    },
    /// Hosting accounts: list, show, suspend, unsuspend, terminate, change-plan, password, retry.
    #[command(after_help = "Example:\n  nextpanel-bill accounts list --state active")]
    Accounts {
        #[command(subcommand)]
        command: accounts::AccountsCommand,
    },
    /// Orders, invoices and payments: list, show, order, checkout, mark-paid, void, run.
    #[command(after_help = "Example:\n  nextpanel-bill invoices list --status open")]
    Invoices {
        #[command(subcommand)]
        command: invoices::InvoicesCommand,
    },
    /// The job queue: list, retry.
    #[command(after_help = "Example:\n  nextpanel-bill jobs list --state dead")]
    Jobs {
        #[command(subcommand)]
        command: jobs::JobsCommand,
    },
    /// Reports: MRR, revenue, new and cancelled services, overdue, server utilisation.
    #[command(
        after_help = "Examples:\n  nextpanel-bill report mrr\n  nextpanel-bill report revenue --months 24 --csv > revenue.csv"
    )]
    Report(reports::ReportArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  nextpanel-bill completions bash > /etc/bash_completion.d/nextpanel-bill\n  nextpanel-bill completions zsh > \"${fpath[1]}/_nextpanel-bill\"\n  nextpanel-bill completions fish > ~/.config/fish/completions/nextpanel-bill.fish"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin user (works without a running server).
    #[command(after_help = "Example:\n  nextpanel-bill admin create --email ops@example.com")]
    Create {
        /// Email of the new admin.
        #[arg(long)]
        email: String,
        /// Password (10+ characters); a random one is generated and printed when omitted.
        #[arg(
            long,
            env = "NEXTPANEL_BILL_NEW_ADMIN_PASSWORD",
            hide_env_values = true
        )]
        password: Option<String>,
        #[command(flatten)]
        settings: SettingsArgs,
    },
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let json = cli.json;
    let api = cli.api;
    match cli.command {
        Command::Serve(args) => local::serve(args).await,
        Command::Config(args) => {
            let (settings, sources) = args.load()?;
            print!("{}", settings.describe(&sources));
            Ok(())
        }
        Command::Migrate(args) => maintenance::migrate(args).await,
        Command::Backup(args) => maintenance::backup(args).await,
        Command::Check(args) => maintenance::check(args, json).await,
        Command::Restore(args) => maintenance::restore(args).await,
        Command::Import {
            command: import::ImportCommand::Seed(args),
        } => import::seed(args, json).await,
        Command::Worker(args) => local::worker(args).await,
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    password,
                    settings,
                },
        } => local::admin_create(email, password, settings).await,
        Command::Login(args) => auth::login(&api, args).await,
        Command::Logout => auth::logout(&api).await,
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "nextpanel-bill",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Provision(args) => provision::run(args, &mut Client::from_args(&api)?, json).await,
        Command::Servers { command } => {
            servers::run(command, &mut Client::from_args(&api)?, json).await
        }
        Command::Customers { command } => {
            customers::run(command, &mut Client::from_args(&api)?, json).await
        }
        Command::Plans { command } => {
            plans::run(command, &mut Client::from_args(&api)?, json).await
        }
        Command::Accounts { command } => {
            accounts::run(command, &mut Client::from_args(&api)?, json).await
        }
        Command::Jobs { command } => jobs::run(command, &mut Client::from_args(&api)?, json).await,
        Command::Report(args) => reports::run(args, &mut Client::from_args(&api)?, json).await,
        Command::Invoices { command } => {
            invoices::run(command, &mut Client::from_args(&api)?, json).await
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<commands::Cancelled>().is_some() => {
            eprintln!("{e}");
            ExitCode::from(130)
        }
        Err(e) => {
            // `{:#}` prints the causes too ("cannot reach ...: connection refused").
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
