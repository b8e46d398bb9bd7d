//! NextPanel servers: testing, registering, editing, disabling and removing them.
//! Credentials are sealed by the vault before they are stored and never shown again.

use chrono::{DateTime, Utc};
use std::sync::Arc;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::{nullable, Actor, ServiceError};
use crate::domain::server::{self, BaseUrl};
use crate::domain::{text, Invalid};
use crate::panel::{ConnectionTest, ControlPanel, NextPanelClient, PanelErrorKind, PanelTimeouts};
use crate::store::servers::ServerRow;
use crate::store::{self, Db, StoreError};
use crate::vault::Vault;

/// A server as the API shows it: never the secret, the key only masked.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Server {
    /// Server id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Base URL of the NextPanel API.
    pub base_url: String,
    /// The API key, masked.
    pub api_key: String,
    /// Location label.
    pub location: Option<String>,
    /// Group label.
    pub group: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Disabled servers get no new accounts.
    pub is_active: bool,
    /// Health as seen by the monitor.
    pub is_online: bool,
    /// Accounts the server may hold.
    pub capacity: i64,
    /// Live hosting accounts on it.
    pub current_accounts: i64,
    /// Share of capacity in use, 0–100.
    pub utilization_percent: i64,
    /// Accounts that still fit.
    pub available_slots: i64,
    /// Time of the last health check.
    pub last_checked_at: Option<DateTime<Utc>>,
    /// Latency of the last health check.
    pub last_latency_ms: Option<i64>,
    /// Why the last check failed.
    pub last_error: Option<String>,
    /// NextPanel version.
    pub version: Option<String>,
    /// Extensions the server advertises.
    pub extensions: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&ServerRow> for Server {
    fn from(r: &ServerRow) -> Self {
        Server {
            id: r.id,
            name: r.name.clone(),
            description: r.description.clone(),
            base_url: r.base_url.clone(),
            api_key: r.api_key_hint.clone(),
            location: r.location.clone(),
            group: r.server_group.clone(),
            tags: serde_json::from_str(&r.tags).unwrap_or_default(),
            is_active: r.is_active,
            is_online: r.is_online,
            capacity: r.capacity,
            current_accounts: r.current_accounts,
            utilization_percent: server::utilization_percent(r.current_accounts, r.capacity),
            available_slots: (r.capacity - r.current_accounts).max(0),
            last_checked_at: r.last_checked_at,
            last_latency_ms: r.last_latency_ms,
            last_error: r.last_error.clone(),
            version: r.version.clone(),
            extensions: serde_json::from_str(&r.extensions).unwrap_or_default(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Body of `POST /api/v1/nextpanel/servers/test`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestServer {
    /// Optional label, echoed in logs only.
    pub name: Option<String>,
    /// Base URL, e.g. `https://panel1.example.com`.
    pub base_url: String,
    /// `npk_...`
    pub api_key: String,
    /// `nps_...`
    #[schema(value_type = String)]
    pub api_secret: SecretString,
}

/// The outcome of a connection test, in words an admin can act on.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    /// Whether the server answered and accepted the credentials.
    pub success: bool,
    /// What works, or what to fix.
    pub message: String,
    /// Failure kind (`unreachable`, `tls`, `timeout`, `bad_credentials`, `no_permission`, `ip_not_allowed`, ...), or `ok`.
    pub kind: String,
    /// How long the test took.
    pub latency_ms: u64,
    /// NextPanel version, when it answered.
    pub version: Option<String>,
    /// Advertised extensions, when it answered.
    pub extensions: Vec<String>,
}

impl From<ConnectionTest> for TestResult {
    fn from(t: ConnectionTest) -> Self {
        TestResult {
            success: t.ok,
            message: t.message,
            kind: t.kind.map_or("ok", PanelErrorKind::as_str).to_owned(),
            latency_ms: t.latency_ms,
            version: t.version,
            extensions: t.extensions,
        }
    }
}

/// Body of `POST /api/v1/nextpanel/servers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServer {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Base URL, e.g. `https://panel1.example.com`.
    pub base_url: String,
    /// `npk_...`
    pub api_key: String,
    /// `nps_...`
    #[schema(value_type = String)]
    pub api_secret: SecretString,
    /// Accounts the server may hold (at least 1).
    pub capacity: i64,
    /// Location label, matched against plans.
    pub location: Option<String>,
    /// Group label, matched against plans.
    pub group: Option<String>,
    /// Free tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Register without testing the connection first.
    #[serde(default)]
    pub skip_test: bool,
}

/// Body of `PATCH /api/v1/nextpanel/servers/{id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerPatch {
    /// New name.
    pub name: Option<String>,
    /// New description (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// New base URL (tested with the credentials unless `skip_test`).
    pub base_url: Option<String>,
    /// New API key: give it with `api_secret` to rotate credentials.
    pub api_key: Option<String>,
    /// New API secret.
    #[schema(value_type = Option<String>)]
    pub api_secret: Option<SecretString>,
    /// New capacity.
    pub capacity: Option<i64>,
    /// New location (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub location: Option<Option<String>>,
    /// New group (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub group: Option<Option<String>>,
    /// Replaces the tags.
    pub tags: Option<Vec<String>>,
    /// Skip the connection test after a URL or credential change.
    #[serde(default)]
    pub skip_test: bool,
}

/// Builds a client for a server; configuration errors become a validation error on `base_url`.
pub fn client(
    base_url: &str,
    api_key: &str,
    api_secret: &SecretString,
    timeouts: PanelTimeouts,
) -> Result<NextPanelClient, ServiceError> {
    NextPanelClient::new(base_url, api_key, api_secret, timeouts)
        .map_err(|e| Invalid::new("base_url", e.to_string()).into())
}

/// Gives servers registered before look-up hashes existed their hash, so license
/// callbacks find them. Runs at start-up; a key that cannot be opened (another
/// master key) is left alone with a warning, and that server's callbacks get 401.
pub async fn fill_in_api_key_lookups(db: &Db, vault: &Vault) -> Result<usize, StoreError> {
    let mut conn = db.conn().await?;
    let mut filled = 0;
    for (id, sealed) in store::servers::without_lookup(&mut conn).await? {
        match vault.open(&sealed) {
            Ok(key) => {
                store::servers::set_lookup(&mut conn, id, &vault.lookup_hash(&key)).await?;
                filled += 1;
            }
            Err(e) => tracing::warn!(server_id = id, error = %e, "cannot open a server's API key"),
        }
    }
    Ok(filled)
}

/// A client for a stored server, with its credentials unsealed.
pub fn client_for(
    row: &ServerRow,
    vault: &Vault,
    timeouts: PanelTimeouts,
) -> Result<NextPanelClient, ServiceError> {
    let key = vault
        .open(&row.api_key_sealed)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let secret = SecretString::from(
        vault
            .open(&row.api_secret_sealed)
            .map_err(|e| ServiceError::Internal(e.to_string()))?,
    );
    let client = client(&row.base_url, &key, &secret, timeouts)?;
    // The monitor and the connection test keep the advertised extensions up to date;
    // starting from them saves a health call before every create (half the panel calls).
    if row.last_checked_at.is_some() {
        if let Ok(extensions) = serde_json::from_str::<Vec<String>>(&row.extensions) {
            return Ok(client.with_known_extensions(extensions));
        }
    }
    Ok(client)
}

/// Panel clients kept per server between jobs, so a job reuses the server's open
/// connections and TLS set-up instead of building a client (and unsealing the
/// credentials) for every attempt. A changed address, credential or extension list
/// builds a new one.
#[derive(Default)]
pub struct ClientCache {
    clients: std::sync::Mutex<std::collections::HashMap<i64, (String, Arc<NextPanelClient>)>>,
}

impl ClientCache {
    /// The client for `row`, built on first use or when the stored server changed.
    pub fn get(
        &self,
        row: &ServerRow,
        vault: &Vault,
        timeouts: PanelTimeouts,
    ) -> Result<Arc<NextPanelClient>, ServiceError> {
        // The sealed values change with every credential rotation, so they tell staleness
        // without unsealing anything.
        let fingerprint = format!(
            "{}|{}|{}|{}|{}",
            row.base_url,
            row.api_key_sealed,
            row.api_secret_sealed,
            row.extensions,
            row.last_checked_at.is_some()
        );
        if let Some((seen, client)) = self.lock().get(&row.id) {
            if *seen == fingerprint {
                return Ok(client.clone());
            }
        }
        let client = Arc::new(client_for(row, vault, timeouts)?);
        self.lock().insert(row.id, (fingerprint, client.clone()));
        Ok(client)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<i64, (String, Arc<NextPanelClient>)>>
    {
        // A panic while holding this lock cannot leave the map half-written.
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs the contract's connection test (admin only); a failed test is a result, not an error.
pub async fn test(
    actor: &Actor,
    body: TestServer,
    timeouts: PanelTimeouts,
) -> Result<TestResult, ServiceError> {
    actor.require_admin()?;
    let url = BaseUrl::parse(&body.base_url)?;
    let key = server::credential("api_key", &body.api_key)?;
    use secrecy::ExposeSecret;
    server::credential("api_secret", body.api_secret.expose_secret())?;
    let result = client(url.as_str(), &key, &body.api_secret, timeouts)?
        .test_connection()
        .await;
    tracing::info!(server = body.name.as_deref().unwrap_or(url.as_str()), ok = result.ok, kind = ?result.kind, "connection test");
    Ok(result.into())
}

/// Which input a failed connection test points at.
fn field_for(kind: Option<PanelErrorKind>) -> &'static str {
    match kind {
        Some(
            PanelErrorKind::BadCredentials
            | PanelErrorKind::NoPermission
            | PanelErrorKind::IpNotAllowed,
        ) => "api_key",
        _ => "base_url",
    }
}

/// Tests a connection and turns a failure into a 422 naming the input to fix.
async fn require_working(client: &NextPanelClient) -> Result<ConnectionTest, ServiceError> {
    let result = client.test_connection().await;
    if result.ok {
        Ok(result)
    } else {
        Err(Invalid::new(
            field_for(result.kind),
            format!(
                "connection test failed: {} (send \"skip_test\": true to save anyway)",
                result.message
            ),
        )
        .into())
    }
}

fn name_taken() -> ServiceError {
    ServiceError::Conflict {
        field: Some("name".to_owned()),
        message: "a server with this name already exists".to_owned(),
    }
}

/// Registers a server after a successful connection test (admin only).
pub async fn create(
    db: &Db,
    vault: &Vault,
    timeouts: PanelTimeouts,
    actor: &Actor,
    body: NewServer,
) -> Result<Server, ServiceError> {
    use secrecy::ExposeSecret;
    actor.require_admin()?;
    let name = server::name(&body.name)?;
    let url = BaseUrl::parse(&body.base_url)?;
    let key = server::credential("api_key", &body.api_key)?;
    let secret = server::credential("api_secret", body.api_secret.expose_secret())?;
    let capacity = server::capacity(body.capacity)?;
    let description = text::optional("description", body.description.as_deref(), 1000)?;
    let location = crate::domain::plan::placement("location", body.location.as_deref())?;
    let group = crate::domain::plan::placement("group", body.group.as_deref())?;
    let tags = server::tags(&body.tags)?;
    {
        let mut conn = db.conn().await?;
        if store::servers::name_taken(&mut conn, &name, None).await? {
            return Err(name_taken());
        }
    }
    let secret = SecretString::from(secret);
    let tested = if body.skip_test {
        None
    } else {
        Some(require_working(&client(url.as_str(), &key, &secret, timeouts)?).await?)
    };
    let now = store::now();
    let row = ServerRow {
        id: 0,
        name,
        description,
        base_url: url.as_str().to_owned(),
        api_key_sealed: vault
            .seal(&key)
            .map_err(|e| ServiceError::Internal(e.to_string()))?,
        api_secret_sealed: vault
            .seal(secret.expose_secret())
            .map_err(|e| ServiceError::Internal(e.to_string()))?,
        api_key_lookup: Some(vault.lookup_hash(&key)),
        api_key_hint: server::mask_key(&key),
        capacity,
        location,
        server_group: group,
        tags: serde_json::to_string(&tags).map_err(|e| ServiceError::Internal(e.to_string()))?,
        is_active: true,
        // A server that just passed the test is online; an untested one waits for the monitor.
        is_online: tested.is_some(),
        consecutive_failures: 0,
        consecutive_successes: 0,
        last_checked_at: tested.as_ref().map(|_| now),
        last_latency_ms: tested
            .as_ref()
            .map(|t| i64::try_from(t.latency_ms).unwrap_or(i64::MAX)),
        last_error: None,
        version: tested.as_ref().and_then(|t| t.version.clone()),
        extensions: serde_json::to_string(
            &tested
                .as_ref()
                .map(|t| t.extensions.clone())
                .unwrap_or_default(),
        )
        .map_err(|e| ServiceError::Internal(e.to_string()))?,
        created_at: now,
        updated_at: now,
        current_accounts: 0,
    };
    let mut tx = db.begin().await?;
    if store::servers::name_taken(&mut tx, &row.name, None).await? {
        return Err(name_taken());
    }
    let id = store::servers::insert(&mut tx, &row).await?;
    let saved = store::servers::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("server"))?;
    let view = Server::from(&saved);
    audit::record(
        &mut tx,
        actor,
        Change::<(), _> {
            action: "server.created",
            entity_type: "server",
            entity_id: Some(id),
            before: None,
            after: Some(&view),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

/// Lists every server (admin only).
pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<Server>, ServiceError> {
    actor.require_admin()?;
    let mut conn = db.conn().await?;
    Ok(store::servers::list(&mut conn)
        .await?
        .iter()
        .map(Server::from)
        .collect())
}

/// One server (admin only).
pub async fn get(db: &Db, actor: &Actor, id: i64) -> Result<Server, ServiceError> {
    actor.require_admin()?;
    let mut conn = db.conn().await?;
    let row = store::servers::find(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound("server"))?;
    Ok(Server::from(&row))
}

/// Edits a server; new URL or credentials are tested first unless `skip_test` (admin only).
pub async fn update(
    db: &Db,
    vault: &Vault,
    timeouts: PanelTimeouts,
    actor: &Actor,
    id: i64,
    patch: ServerPatch,
) -> Result<Server, ServiceError> {
    use secrecy::ExposeSecret;
    actor.require_admin()?;
    let mut conn = db.conn().await?;
    let before = store::servers::find(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound("server"))?;
    drop(conn);
    let mut row = before.clone();
    if let Some(name) = &patch.name {
        row.name = server::name(name)?;
    }
    if let Some(d) = &patch.description {
        row.description = text::optional("description", d.as_deref(), 1000)?;
    }
    if let Some(c) = patch.capacity {
        row.capacity = server::capacity(c)?;
    }
    if let Some(l) = &patch.location {
        row.location = crate::domain::plan::placement("location", l.as_deref())?;
    }
    if let Some(g) = &patch.group {
        row.server_group = crate::domain::plan::placement("group", g.as_deref())?;
    }
    if let Some(t) = &patch.tags {
        row.tags = serde_json::to_string(&server::tags(t)?)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
    }
    if let Some(u) = &patch.base_url {
        row.base_url = BaseUrl::parse(u)?.as_str().to_owned();
    }
    let rotated = match (&patch.api_key, &patch.api_secret) {
        (Some(k), Some(s)) => Some((
            server::credential("api_key", k)?,
            SecretString::from(server::credential("api_secret", s.expose_secret())?),
        )),
        (None, None) => None,
        (Some(_), None) => {
            return Err(Invalid::new("api_secret", "is required when rotating the API key").into())
        }
        (None, Some(_)) => {
            return Err(Invalid::new("api_key", "is required when rotating the API secret").into())
        }
    };
    let connection_changed = rotated.is_some() || row.base_url != before.base_url;
    if connection_changed && !patch.skip_test {
        let c = match &rotated {
            Some((k, s)) => client(&row.base_url, k, s, timeouts)?,
            None => client_for(&row, vault, timeouts)?,
        };
        require_working(&c).await?;
    }
    if let Some((k, s)) = &rotated {
        row.api_key_sealed = vault
            .seal(k)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        row.api_secret_sealed = vault
            .seal(s.expose_secret())
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        row.api_key_lookup = Some(vault.lookup_hash(k));
        row.api_key_hint = server::mask_key(k);
    }
    row.updated_at = store::now();
    save(
        db,
        actor,
        &before,
        &row,
        if rotated.is_some() {
            "server.credentials_rotated"
        } else {
            "server.updated"
        },
    )
    .await
}

/// Writes an edited row with its audit entry, refusing a taken name.
async fn save(
    db: &Db,
    actor: &Actor,
    before: &ServerRow,
    row: &ServerRow,
    action: &str,
) -> Result<Server, ServiceError> {
    let mut tx = db.begin().await?;
    if row.name != before.name
        && store::servers::name_taken(&mut tx, &row.name, Some(row.id)).await?
    {
        return Err(name_taken());
    }
    store::servers::update(&mut tx, row).await?;
    let saved = store::servers::find(&mut tx, row.id)
        .await?
        .ok_or(ServiceError::NotFound("server"))?;
    let (b, a) = (Server::from(before), Server::from(&saved));
    audit::record(
        &mut tx,
        actor,
        Change {
            action,
            entity_type: "server",
            entity_id: Some(row.id),
            before: Some(&b),
            after: Some(&a),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(a)
}

/// Enables or disables a server for new accounts (admin only).
pub async fn set_active(
    db: &Db,
    actor: &Actor,
    id: i64,
    active: bool,
) -> Result<Server, ServiceError> {
    actor.require_admin()?;
    let mut conn = db.conn().await?;
    let before = store::servers::find(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound("server"))?;
    drop(conn);
    if before.is_active == active {
        return Ok(Server::from(&before));
    }
    let mut row = before.clone();
    row.is_active = active;
    row.updated_at = store::now();
    save(
        db,
        actor,
        &before,
        &row,
        if active {
            "server.enabled"
        } else {
            "server.disabled"
        },
    )
    .await
}

/// Removes a server that holds no live accounts (admin only).
pub async fn delete(db: &Db, actor: &Actor, id: i64) -> Result<(), ServiceError> {
    actor.require_admin()?;
    let mut tx = db.begin().await?;
    let before = store::servers::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("server"))?;
    if before.current_accounts > 0 {
        return Err(ServiceError::Conflict {
            field: None,
            message: format!(
                "the server still holds {} live hosting account(s); terminate or move them first, or disable the server",
                before.current_accounts
            ),
        });
    }
    store::servers::delete(&mut tx, id).await?;
    let b = Server::from(&before);
    audit::record(
        &mut tx,
        actor,
        Change::<_, ()> {
            action: "server.deleted",
            entity_type: "server",
            entity_id: Some(id),
            before: Some(&b),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One line of the status list: the monitor's latest view of a server.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerStatus {
    /// Server id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Base URL.
    pub base_url: String,
    /// `online`, `offline`, `unknown` (never checked) or `disabled`.
    pub status: String,
    /// Health as seen by the monitor.
    pub is_online: bool,
    /// Whether it takes new accounts.
    pub is_active: bool,
    /// Live accounts.
    pub current_accounts: i64,
    /// Capacity.
    pub capacity: i64,
    /// Share in use.
    pub utilization_percent: i64,
    /// Last check time.
    pub last_checked_at: Option<DateTime<Utc>>,
    /// Last check latency.
    pub last_latency_ms: Option<i64>,
    /// Last failure.
    pub last_error: Option<String>,
    /// NextPanel version.
    pub version: Option<String>,
}

/// The status list, from the monitor's stored results: no probe per request (admin only).
pub async fn status(db: &Db, actor: &Actor) -> Result<Vec<ServerStatus>, ServiceError> {
    actor.require_admin()?;
    let mut conn = db.conn().await?;
    let rows = store::servers::list(&mut conn).await?;
    Ok(rows
        .iter()
        .map(|r| ServerStatus {
            id: r.id,
            name: r.name.clone(),
            base_url: r.base_url.clone(),
            status: if !r.is_active {
                "disabled"
            } else if r.last_checked_at.is_none() {
                "unknown"
            } else if r.is_online {
                "online"
            } else {
                "offline"
            }
            .to_owned(),
            is_online: r.is_online,
            is_active: r.is_active,
            current_accounts: r.current_accounts,
            capacity: r.capacity,
            utilization_percent: server::utilization_percent(r.current_accounts, r.capacity),
            last_checked_at: r.last_checked_at,
            last_latency_ms: r.last_latency_ms,
            last_error: r.last_error.clone(),
            version: r.version.clone(),
        })
        .collect())
}
