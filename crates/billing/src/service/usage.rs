//! Usage polling: reads every live account's figures from its panel, stores the totals
//! per license (correcting any drift of the usage the panels report), and queues the
//! quota messages: a warning at 80 % of a limit and a "reached" message at 100 %, each
//! once per license, resource and limit (a new plan's limit can warn again).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::servers::client_for;
use super::{Actor, ServiceError};
use crate::domain::quota::{self, QuotaAlert};
use crate::panel::{ControlPanel, PanelTimeouts};
use crate::store::hosting_accounts::AccountRow;
use crate::store::licenses::LicenseRow;
use crate::store::outbox::NewMessage;
use crate::store::users::UserRow;
use crate::store::{self, Db};
use crate::vault::Vault;

/// What one polling round did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct PollSummary {
    /// Accounts whose figures were read.
    pub accounts_polled: usize,
    /// Accounts whose panel did not answer (kept for the next round).
    pub failures: usize,
    /// Quota messages queued.
    pub alerts_queued: usize,
}

/// Totals of one license across its accounts.
#[derive(Default)]
struct Totals {
    domains: i64,
    databases: i64,
    emails: i64,
    storage_bytes: i64,
    username: String,
    /// The address of its first account, where its quota messages go.
    email: Option<String>,
    /// The id of the account that speaks for the license (the lowest).
    first_account: Option<i64>,
}

/// Licenses whose figures are stored in one transaction: few commits for a large
/// fleet, short enough that the write lock (SQLite) is never held for long.
const RECORD_BATCH: usize = 500;

/// Polls usage and queues quota alerts.
#[derive(Clone, Debug)]
pub struct UsagePoller {
    /// The database.
    pub db: Db,
    /// Opens server credentials.
    pub vault: Vault,
    /// Panel timeouts.
    pub timeouts: PanelTimeouts,
    /// Usage calls kept in flight to each server.
    pub concurrency: usize,
}

impl UsagePoller {
    /// One round over every account that exists on a panel.
    pub async fn poll(&self) -> Result<PollSummary, ServiceError> {
        let mut conn = self.db.conn().await?;
        let accounts = store::hosting_accounts::on_panels(&mut conn).await?;
        let servers = store::servers::list(&mut conn).await?;
        drop(conn);
        let mut by_server: BTreeMap<i64, Vec<AccountRow>> = BTreeMap::new();
        for account in accounts {
            if let (Some(server_id), Some(_)) = (account.server_id, &account.panel_account_id) {
                by_server.entry(server_id).or_default().push(account);
            }
        }
        // Each call waits on its panel far longer than it works, so the servers are asked
        // side by side, each with a few calls in flight (a panel is not flooded however
        // large the fleet): the round takes about the slowest server's share, not the sum.
        let per_server = self.concurrency.max(1);
        let mut rounds = Vec::new();
        for (server_id, owned) in by_server {
            let Some(server) = servers.iter().find(|s| s.id == server_id) else {
                continue;
            };
            // One client per server for the round: each build unseals the credentials
            // and sets up a TLS configuration.
            let client = Arc::new(client_for(server, &self.vault, self.timeouts)?);
            let name = Arc::new(server.name.clone());
            rounds.push(tokio::spawn(
                stream::iter(owned)
                    .map(move |account| {
                        let (client, name) = (client.clone(), name.clone());
                        async move {
                            let panel_id = account.panel_account_id.clone().unwrap_or_default();
                            let read = client.stats(&panel_id).await.map_err(|e| {
                                tracing::warn!(account = account.id, server = %name, error = %e.message, "usage not read");
                            });
                            (account, read)
                        }
                    })
                    .buffer_unordered(per_server)
                    .collect::<Vec<_>>(),
            ));
        }
        let mut summary = PollSummary::default();
        let mut totals: BTreeMap<i64, Totals> = BTreeMap::new();
        let mut answers = Vec::new();
        for round in join_all(rounds).await {
            answers.extend(round.map_err(|e| ServiceError::Internal(e.to_string()))?);
        }
        for (account, read) in answers {
            let Ok(stats) = read else {
                summary.failures += 1;
                continue;
            };
            summary.accounts_polled += 1;
            let t = totals.entry(account.license_id).or_default();
            let n = |v: Option<u64>| i64::try_from(v.unwrap_or(0)).unwrap_or(i64::MAX);
            t.domains += n(stats.total_domains);
            t.databases += n(stats.total_databases);
            t.emails += n(stats.total_email_accounts);
            t.storage_bytes += n(stats.storage_used_bytes);
            // The lowest account id speaks for the license, whatever order answers came in.
            if t.first_account.is_none_or(|first| account.id < first) {
                t.first_account = Some(account.id);
                t.username = account.username.clone();
                t.email = account.email.clone();
            }
        }
        let totals: Vec<(i64, Totals)> = totals.into_iter().collect();
        for batch in totals.chunks(RECORD_BATCH) {
            summary.alerts_queued += self.record(batch).await?;
        }
        Ok(summary)
    }

    /// Stores a batch of licenses' totals and queues their alerts in one transaction.
    async fn record(&self, batch: &[(i64, Totals)]) -> Result<usize, ServiceError> {
        let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
        let mut tx = self.db.begin().await?;
        let licenses: BTreeMap<i64, LicenseRow> = store::licenses::find_many(&mut tx, &ids)
            .await?
            .into_iter()
            .map(|l| (l.id, l))
            .collect();
        let mut customer_ids: Vec<i64> = licenses.values().map(|l| l.customer_id).collect();
        customer_ids.sort_unstable();
        customer_ids.dedup();
        let customers: BTreeMap<i64, UserRow> = store::users::find_many(&mut tx, &customer_ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let now = store::now();
        let mut figures = Vec::with_capacity(batch.len() * 3);
        let mut messages = Vec::new();
        for (license_id, t) in batch {
            // A license removed since the accounts were read has nothing to record.
            let Some(license) = licenses.get(license_id) else {
                continue;
            };
            figures.extend([
                (*license_id, "domains", t.domains),
                (*license_id, "databases", t.databases),
                (*license_id, "emails", t.emails),
            ]);
            let Some(customer) = customers.get(&license.customer_id) else {
                continue;
            };
            messages.extend(alerts(license, customer, t));
        }
        store::license_usage::set_many(&mut tx, &figures, now).await?;
        let queued = store::outbox::insert_many(&mut tx, &messages, now).await?;
        tx.commit().await?;
        Ok(usize::try_from(queued).unwrap_or(usize::MAX))
    }

    /// Polls every `interval` until the process ends.
    pub async fn run(self, interval: Duration) {
        let mut rounds = super::periodic::Rounds::new(self.db.clone(), "usage_poll", interval);
        loop {
            rounds.next().await;
            match self.poll().await {
                Ok(s) => tracing::info!(
                    polled = s.accounts_polled,
                    failures = s.failures,
                    alerts = s.alerts_queued,
                    "usage polled"
                ),
                Err(e) => tracing::error!(error = %e, "usage polling failed"),
            }
        }
    }

    /// One round at an admin's request.
    pub async fn poll_now(&self, actor: &Actor) -> Result<PollSummary, ServiceError> {
        actor.require_admin()?;
        self.poll().await
    }
}

/// The quota messages a license's totals call for (80 % warning, 100 % reached), each
/// keyed by license, resource, level and limit so that polling again stays quiet.
fn alerts(license: &LicenseRow, customer: &UserRow, t: &Totals) -> Vec<NewMessage> {
    let storage_mb = t.storage_bytes / (1024 * 1024);
    let checks = [
        ("domains", t.domains, license.max_domains),
        ("databases", t.databases, license.max_databases),
        ("email accounts", t.emails, license.max_emails),
        ("MiB of storage", storage_mb, license.storage_mb),
    ];
    let to = t.email.clone().unwrap_or_else(|| customer.email.clone());
    let mut messages = Vec::new();
    for (resource, used, limit) in checks {
        let template = match quota::alert(used, limit) {
            Some(QuotaAlert::Warning) => "quota_warning",
            Some(QuotaAlert::Reached) => "quota_reached",
            None => continue,
        };
        let data = json!({
            "name": customer.full_name,
            "username": t.username,
            "resource": resource,
            "used": used,
            "limit": limit,
            "percent": quota::percent(used, limit),
        });
        messages.push(NewMessage {
            event_key: format!("{template}:{}:{resource}:{limit}", license.id),
            recipient: to.clone(),
            template: template.to_owned(),
            data: data.to_string(),
            secret: None,
        });
    }
    messages
}
