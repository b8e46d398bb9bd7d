//! The server health monitor: checks every active server, applies the
//! online/offline hysteresis, records each result, and audits and alerts on
//! every transition.

use std::time::Duration;

use serde::Serialize;

use super::audit::{self, Change};
use super::servers::{client_for, Server};
use super::{Actor, ServiceError};
use crate::domain::server::{HealthPolicy, HealthState};
use crate::panel::{ControlPanel, PanelTimeouts};
use crate::store::servers::{HealthRecord, ServerRow};
use crate::store::{self, Db};
use crate::vault::Vault;

/// What the monitor needs.
#[derive(Clone, Debug)]
pub struct Monitor {
    /// The database.
    pub db: Db,
    /// Unseals server credentials.
    pub vault: Vault,
    /// Hysteresis.
    pub policy: HealthPolicy,
    /// Client timeouts (the health timeout bounds each check).
    pub timeouts: PanelTimeouts,
}

#[derive(Serialize)]
struct Transition<'a> {
    name: &'a str,
    is_online: bool,
    reason: Option<&'a str>,
}

impl Monitor {
    /// Checks one server now and records the result; returns the server afterwards.
    pub async fn check(&self, row: &ServerRow) -> Result<Server, ServiceError> {
        let client = client_for(row, &self.vault, self.timeouts)?;
        // The client's own timeouts bound each call; this outer bound covers both calls of the test.
        let limit = self.timeouts.connect + self.timeouts.health + self.timeouts.other;
        let result = tokio::time::timeout(limit, client.test_connection()).await;
        let (ok, latency, error, version, extensions) = match result {
            Ok(t) => (
                t.ok,
                Some(t.latency_ms),
                (!t.ok).then_some(t.message),
                t.version,
                t.ok.then_some(t.extensions),
            ),
            Err(_) => (
                false,
                None,
                Some(format!(
                    "the health check did not finish within {} s",
                    limit.as_secs()
                )),
                None,
                None,
            ),
        };
        let extensions_json = extensions
            .map(|e| serde_json::to_string(&e))
            .transpose()
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        // Counters are read inside the transaction so concurrent checks do not lose a result.
        let current = store::servers::find(&mut tx, row.id)
            .await?
            .ok_or(ServiceError::NotFound("server"))?;
        let before = HealthState {
            online: current.is_online,
            failures: current.consecutive_failures,
            successes: current.consecutive_successes,
        };
        // A server never checked before starts from "offline"; its first success counts toward going online.
        let next = if current.last_checked_at.is_none() && ok {
            HealthState {
                online: true,
                failures: 0,
                successes: 1,
            }
        } else {
            self.policy.next(before, ok)
        };
        store::servers::record_health(
            &mut tx,
            row.id,
            &HealthRecord {
                is_online: next.online,
                consecutive_failures: next.failures,
                consecutive_successes: next.successes,
                checked_at: store::now(),
                latency_ms: latency.map(|l| i64::try_from(l).unwrap_or(i64::MAX)),
                error: error.as_deref(),
                version: version.as_deref(),
                extensions: extensions_json.as_deref(),
            },
        )
        .await?;
        if next.online != before.online {
            let b = Transition {
                name: &current.name,
                is_online: before.online,
                reason: None,
            };
            let a = Transition {
                name: &current.name,
                is_online: next.online,
                reason: error.as_deref(),
            };
            let action = if next.online {
                "server.online"
            } else {
                "server.offline"
            };
            audit::record(
                &mut tx,
                &Actor::system(),
                Change {
                    action,
                    entity_type: "server",
                    entity_id: Some(row.id),
                    before: Some(&b),
                    after: Some(&a),
                },
            )
            .await?;
            let template = if next.online {
                "server_up"
            } else {
                "server_down"
            };
            let data = serde_json::json!({"server": current.name, "base_url": current.base_url, "reason": error.clone().unwrap_or_default()});
            let key = format!("{template}:{}:{}", row.id, store::now().timestamp_micros());
            super::notifications::queue_to_admins(&mut tx, &key, template, data).await?;
            if next.online {
                tracing::info!(server = %current.name, id = row.id, "server is back online");
            } else {
                // Admins get the server_down message queued above, plus this log line and the audit entry.
                tracing::warn!(server = %current.name, id = row.id, reason = error.as_deref().unwrap_or(""), "ALERT: server went offline; new accounts will avoid it");
            }
        }
        let saved = store::servers::find(&mut tx, row.id)
            .await?
            .ok_or(ServiceError::NotFound("server"))?;
        tx.commit().await?;
        Ok(Server::from(&saved))
    }

    /// Checks every active server concurrently; returns how many were checked.
    pub async fn check_all(&self) -> Result<usize, ServiceError> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<ServerRow> = store::servers::list(&mut conn)
            .await?
            .into_iter()
            .filter(|r| r.is_active)
            .collect();
        drop(conn);
        let mut set = tokio::task::JoinSet::new();
        for row in rows {
            let monitor = self.clone();
            set.spawn(async move {
                if let Err(e) = monitor.check(&row).await {
                    tracing::error!(server = %row.name, error = %e, "health check could not be recorded");
                }
            });
        }
        let mut n = 0;
        while set.join_next().await.is_some() {
            n += 1;
        }
        Ok(n)
    }

    /// Runs [`Monitor::check_all`] every `interval` until the process ends.
    pub async fn run(self, interval: Duration) {
        let mut rounds = super::periodic::Rounds::new(self.db.clone(), "health", interval);
        loop {
            rounds.next().await;
            if let Err(e) = self.check_all().await {
                tracing::error!(error = %e, "health round failed");
            }
        }
    }

    /// Checks one server at an admin's request.
    pub async fn check_now(&self, actor: &Actor, id: i64) -> Result<Server, ServiceError> {
        actor.require_admin()?;
        let mut conn = self.db.conn().await?;
        let row = store::servers::find(&mut conn, id)
            .await?
            .ok_or(ServiceError::NotFound("server"))?;
        drop(conn);
        self.check(&row).await
    }
}

/// A server gauge: name, help text and how to read it from a row (`None`: no sample).
type Gauge = (&'static str, &'static str, fn(&ServerRow) -> Option<i64>);

const GAUGES: &[Gauge] = &[
    (
        "nextpanel_bill_server_online",
        "Whether the health monitor sees the server online (1) or offline (0).",
        |r| Some(i64::from(r.is_online)),
    ),
    (
        "nextpanel_bill_server_active",
        "Whether the server takes new accounts (1) or is disabled (0).",
        |r| Some(i64::from(r.is_active)),
    ),
    (
        "nextpanel_bill_server_accounts",
        "Live hosting accounts on the server.",
        |r| Some(r.current_accounts),
    ),
    (
        "nextpanel_bill_server_capacity",
        "Accounts the server may hold.",
        |r| Some(r.capacity),
    ),
    (
        "nextpanel_bill_server_check_latency_ms",
        "Latency of the last health check.",
        |r| r.last_latency_ms,
    ),
];

/// Prometheus text exposition of server gauges, from the stored monitor results.
pub async fn metrics(db: &Db, actor: &Actor) -> Result<String, ServiceError> {
    use std::fmt::Write;
    actor.require_staff()?;
    let mut conn = db.conn().await?;
    let rows = store::servers::list(&mut conn).await?;
    let escape = |v: &str| {
        v.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', " ")
    };
    let mut out = String::new();
    for (name, help, read) in GAUGES {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for r in &rows {
            if let Some(value) = read(r) {
                let _ = writeln!(
                    out,
                    "{name}{{id=\"{}\",name=\"{}\"}} {value}",
                    r.id,
                    escape(&r.name)
                );
            }
        }
    }
    let payments = super::settlement::health(db).await?;
    for (name, help, value) in [
        (
            "nextpanel_bill_oldest_unsettled_payment_seconds",
            "Age of the oldest automatic charge still waiting for its outcome (0: none).",
            payments.oldest_unsettled_payment_secs.unwrap_or(0),
        ),
        (
            "nextpanel_bill_seconds_since_last_stripe_webhook",
            "Seconds since the last Stripe webhook arrived (-1: none yet).",
            payments.last_webhook_secs.unwrap_or(-1),
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    Ok(out)
}
