//! Usage polling: reads every live account's figures from its panel, stores the totals
//! per license (correcting any drift of the usage the panels report), and queues the
//! quota messages: a warning at 80 % of a limit and a "reached" message at 100 %, each
//! once per license, resource and limit (a new plan's limit can warn again).

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::servers::client_for;
use super::{Actor, ServiceError};
use crate::domain::quota::{self, QuotaAlert};
use crate::panel::{ControlPanel, PanelTimeouts};
use crate::store::hosting_accounts::AccountRow;
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
}

/// Polls usage and queues quota alerts.
#[derive(Clone, Debug)]
pub struct UsagePoller {
    /// The database.
    pub db: Db,
    /// Opens server credentials.
    pub vault: Vault,
    /// Panel timeouts.
    pub timeouts: PanelTimeouts,
}

impl UsagePoller {
    /// One round over every account that exists on a panel.
    pub async fn poll(&self) -> Result<PollSummary, ServiceError> {
        let mut conn = self.db.conn().await?;
        let accounts = store::hosting_accounts::on_panels(&mut conn).await?;
        let servers = store::servers::list(&mut conn).await?;
        drop(conn);
        let mut summary = PollSummary::default();
        let mut totals: BTreeMap<i64, Totals> = BTreeMap::new();
        let mut clients = BTreeMap::new();
        for account in &accounts {
            let Some(server) = servers.iter().find(|s| Some(s.id) == account.server_id) else {
                continue;
            };
            let Some(panel_id) = account.panel_account_id.as_deref() else {
                continue;
            };
            // One client per server for the round: each build unseals the credentials
            // and sets up a TLS configuration.
            let client = match clients.entry(server.id) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(client_for(server, &self.vault, self.timeouts)?),
            };
            let stats = match client.stats(panel_id).await {
                Ok(stats) => stats,
                Err(e) => {
                    tracing::warn!(account = account.id, server = %server.name, error = %e.message, "usage not read");
                    summary.failures += 1;
                    continue;
                }
            };
            summary.accounts_polled += 1;
            let t = totals.entry(account.license_id).or_default();
            let n = |v: Option<u64>| i64::try_from(v.unwrap_or(0)).unwrap_or(i64::MAX);
            t.domains += n(stats.total_domains);
            t.databases += n(stats.total_databases);
            t.emails += n(stats.total_email_accounts);
            t.storage_bytes += n(stats.storage_used_bytes);
            if t.username.is_empty() {
                t.username = account.username.clone();
            }
        }
        for (license_id, t) in totals {
            summary.alerts_queued += self.record(license_id, &t, &accounts).await?;
        }
        Ok(summary)
    }

    /// Stores a license's totals and queues its alerts in one transaction.
    async fn record(
        &self,
        license_id: i64,
        t: &Totals,
        accounts: &[AccountRow],
    ) -> Result<usize, ServiceError> {
        let mut tx = self.db.begin().await?;
        let Some(license) = store::licenses::find(&mut tx, license_id).await? else {
            return Ok(0);
        };
        let now = store::now();
        for (resource, used) in [
            ("domains", t.domains),
            ("databases", t.databases),
            ("emails", t.emails),
        ] {
            store::license_usage::set(&mut tx, license_id, resource, used, now).await?;
        }
        let Some(customer) = store::users::find(&mut tx, license.customer_id).await? else {
            return Ok(0);
        };
        let storage_mb = t.storage_bytes / (1024 * 1024);
        let checks = [
            ("domains", t.domains, license.max_domains),
            ("databases", t.databases, license.max_databases),
            ("email accounts", t.emails, license.max_emails),
            ("MiB of storage", storage_mb, license.storage_mb),
        ];
        let to = accounts
            .iter()
            .find(|a| a.license_id == license_id)
            .and_then(|a| a.email.clone())
            .unwrap_or_else(|| customer.email.clone());
        let mut queued = 0;
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
            // One message per license, resource, level and limit: polling again stays quiet.
            let key = format!("{template}:{license_id}:{resource}:{limit}");
            if store::outbox::insert(&mut tx, &key, &to, template, &data.to_string(), None, now)
                .await?
            {
                queued += 1;
            }
        }
        tx.commit().await?;
        Ok(queued)
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
