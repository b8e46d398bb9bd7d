//! The old (seed) billing system's database as a fixture for `nextpanel-bill import seed`:
//! the tables of /work/shared/seed-schema.md created exactly as SQLAlchemy would have
//! created them on SQLite or PostgreSQL, filled with a small but realistic data set full of
//! the oddities a real one has (float money, a lower-case enum, a key outside our alphabet,
//! a broken user, a panel that is down, a deleted account).
//!
//! Two hosting accounts really exist on the simulator the first server points at; their
//! panel ids are in [`SeedFacts`].

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use nextpanel_sim::SimHandle;
use serde_json::{json, Value};

use super::FreshPg;

/// Which engine the old system ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedEngine {
    Sqlite,
    Postgres,
}

/// `NPB_TEST_ENGINE=postgres` → [`SeedEngine::Postgres`] (then `DATABASE_URL` names the
/// server's admin database); anything else → [`SeedEngine::Sqlite`].
pub fn engine_from_env() -> SeedEngine {
    match std::env::var("NPB_TEST_ENGINE").as_deref() {
        Ok("postgres") => SeedEngine::Postgres,
        _ => SeedEngine::Sqlite,
    }
}

/// The built database: `url` is what `import seed --from` takes. The database (a file in a
/// temporary directory, or a fresh PostgreSQL database) lives as long as this value.
pub struct SeedDb {
    pub url: String,
    pub engine: SeedEngine,
    _keep: Box<dyn std::any::Any + Send>,
}

pub const ADMIN_ID: &str = "0d9a3f1e-6b2c-4e8a-9f10-1a2b3c4d5e6f";
pub const ADA_ID: &str = "a7d1c2e3-4f56-4789-8abc-def012345601";
pub const BOB_ID: &str = "b0b1c2e3-4f56-4789-8abc-def012345602";
pub const CY_ID: &str = "c7c1c2e3-4f56-4789-8abc-def012345603";
pub const BROKEN_USER_ID: &str = "e1e1c2e3-4f56-4789-8abc-def012345604";

pub const ADMIN_EMAIL: &str = "owner@oldhost.example";
pub const ADA_EMAIL: &str = "ada@oldhost.example";
pub const BOB_EMAIL: &str = "bob@oldhost.example";
pub const CY_EMAIL: &str = "cy@oldhost.example";
pub const BROKEN_EMAIL: &str = "not-an-email";

pub const ADMIN_PASSWORD: &str = "old-admin-pass-1";
pub const ADA_PASSWORD: &str = "ada-old-password";
pub const BOB_PASSWORD: &str = "bob-old-password";
pub const CY_PASSWORD: &str = "cy-old-password";
/// The broken user's `password_hash` (not a valid bcrypt hash).
pub const BROKEN_PASSWORD_HASH: &str = "$2b$04$invalid";

pub const PLAN_BASIC_ID: &str = "9b1a7c00-0000-4000-8000-000000000001";
pub const PLAN_PRO_ID: &str = "9b1a7c00-0000-4000-8000-000000000002";
pub const PLAN_LEGACY_ID: &str = "9b1a7c00-0000-4000-8000-000000000003";

pub const LICENSE_ADA_BASIC_ID: &str = "1ce00000-0000-4000-8000-00000000a001";
pub const LICENSE_ADA_PRO_ID: &str = "1ce00000-0000-4000-8000-00000000a002";
pub const LICENSE_CY_PRO_ID: &str = "1ce00000-0000-4000-8000-00000000c001";
pub const LICENSE_ADA_BASIC_KEY: &str = "NP-ABCD-EFGH-JKLM-NPQR";
/// Contains 0, O, I and 1: outside our alphabet, kept as is.
pub const LICENSE_ADA_PRO_KEY: &str = "NP-0OI1-WXYZ-2345-6789";
pub const LICENSE_CY_PRO_KEY: &str = "NP-CYCY-CYCY-CYCY-CYCY";

pub const SUBSCRIPTION_ID: &str = "5ab00000-0000-4000-8000-000000000001";
pub const ORDER_ID: &str = "0bd00000-0000-4000-8000-000000000001";
pub const PAYMENT_ADA_ID: &str = "9a900000-0000-4000-8000-000000000001";
pub const PAYMENT_CY_ID: &str = "9a900000-0000-4000-8000-000000000002";
pub const INVOICE_ADA_PAID_ID: &str = "1a700000-0000-4000-8000-000000000001";
pub const INVOICE_ADA_OPEN_ID: &str = "1a700000-0000-4000-8000-000000000002";
pub const INVOICE_CY_VOID_ID: &str = "1a700000-0000-4000-8000-000000000003";

/// What the fixture holds, for assertions.
#[derive(Debug, Clone)]
pub struct SeedFacts {
    // Rows per table.
    pub users: i64,
    pub plans: i64,
    pub licenses: i64,
    pub subscriptions: i64,
    pub orders: i64,
    pub payments: i64,
    pub invoices: i64,
    pub servers: i64,
    pub accounts: i64,
    // User ids (String(36) UUIDs).
    pub admin_id: &'static str,
    pub ada_id: &'static str,
    pub bob_id: &'static str,
    pub cy_id: &'static str,
    pub broken_user_id: &'static str,
    // Plan ids.
    pub plan_basic_id: &'static str,
    pub plan_pro_id: &'static str,
    pub plan_legacy_id: &'static str,
    // License ids and the unusual keys.
    pub license_ada_basic_id: &'static str,
    pub license_ada_pro_id: &'static str,
    pub license_cy_pro_id: &'static str,
    /// `NP-ABCD-EFGH-JKLM-NPQR`, ACTIVE.
    pub license_ada_basic_key: &'static str,
    /// `NP-0OI1-WXYZ-2345-6789`: outside our alphabet; status stored `suspended` in lower
    /// case on SQLite (`SUSPENDED` on PostgreSQL).
    pub license_ada_pro_key: &'static str,
    /// `NP-CYCY-CYCY-CYCY-CYCY`, EXPIRED.
    pub license_cy_pro_key: &'static str,
    /// Panel ids on the simulator (server 1) of the two real accounts.
    pub adahost_panel_id: i64,
    pub adablog_panel_id: i64,
    /// Server 2's base URL: a loopback port nothing listens on.
    pub down_server_url: String,
    // Passwords.
    pub admin_password: &'static str,
    pub ada_password: &'static str,
    pub bob_password: &'static str,
    pub cy_password: &'static str,
}

/// Builds the old system's database on `engine`. Server 1 (`old-node-1`) points at `sim`,
/// where the accounts `adahost` (active) and `adablog` (suspended) are created for real.
pub async fn build(engine: SeedEngine, sim: &SimHandle) -> (SeedDb, SeedFacts) {
    let (db, conn) = match engine {
        SeedEngine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("seed.db");
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true);
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .unwrap();
            let db = SeedDb {
                url: format!("sqlite://{}", path.display()),
                engine,
                _keep: Box::new(dir),
            };
            (db, Conn::Sqlite(pool))
        }
        SeedEngine::Postgres => {
            let admin_url = std::env::var("DATABASE_URL")
                .ok()
                .filter(|u| u.starts_with("postgres"))
                .expect("NPB_TEST_ENGINE=postgres needs DATABASE_URL=postgres://...");
            let pg = FreshPg::create(&admin_url).await;
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&pg.url)
                .await
                .unwrap();
            let db = SeedDb {
                url: pg.url.clone(),
                engine,
                _keep: Box::new(pg),
            };
            (db, Conn::Pg(pool))
        }
    };

    for statement in schema(engine) {
        conn.execute(&statement).await;
    }

    // Real accounts on the running panel, as the old system created them.
    let adahost_panel_id = create_panel_account(sim, "adahost", 1).await;
    let adablog_panel_id = create_panel_account(sim, "adablog", 2).await;
    suspend_panel_account(sim, adablog_panel_id, "unpaid").await;
    let down_server_url = format!("http://127.0.0.1:{}", unused_port());

    insert_users(&conn).await;
    insert_plans(&conn).await;
    insert_licenses(&conn, engine, adahost_panel_id).await;
    insert_billing(&conn).await;
    insert_servers(&conn, sim, &down_server_url).await;
    insert_accounts(&conn, adahost_panel_id, adablog_panel_id).await;
    if engine == SeedEngine::Postgres {
        // Rows inserted with explicit ids: move the SERIAL sequences past them, as the
        // ORM's own inserts would have.
        for table in ["nextpanel_servers", "nextpanel_accounts"] {
            conn.execute(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 (SELECT MAX(id) FROM {table}))"
            ))
            .await;
        }
    }
    conn.close().await;

    let facts = SeedFacts {
        users: 5,
        plans: 3,
        licenses: 3,
        subscriptions: 1,
        orders: 1,
        payments: 2,
        invoices: 3,
        servers: 2,
        accounts: 4,
        admin_id: ADMIN_ID,
        ada_id: ADA_ID,
        bob_id: BOB_ID,
        cy_id: CY_ID,
        broken_user_id: BROKEN_USER_ID,
        plan_basic_id: PLAN_BASIC_ID,
        plan_pro_id: PLAN_PRO_ID,
        plan_legacy_id: PLAN_LEGACY_ID,
        license_ada_basic_id: LICENSE_ADA_BASIC_ID,
        license_ada_pro_id: LICENSE_ADA_PRO_ID,
        license_cy_pro_id: LICENSE_CY_PRO_ID,
        license_ada_basic_key: LICENSE_ADA_BASIC_KEY,
        license_ada_pro_key: LICENSE_ADA_PRO_KEY,
        license_cy_pro_key: LICENSE_CY_PRO_KEY,
        adahost_panel_id,
        adablog_panel_id,
        down_server_url,
        admin_password: ADMIN_PASSWORD,
        ada_password: ADA_PASSWORD,
        bob_password: BOB_PASSWORD,
        cy_password: CY_PASSWORD,
    };
    (db, facts)
}

// ---------------------------------------------------------------------------------------
// Schema

/// A column type of the SQLAlchemy models.
#[derive(Clone, Copy)]
enum Ty {
    Str(u32),
    Text,
    Float,
    Int,
    Bool,
    /// `DateTime(timezone=True)`.
    Tz,
    /// `DateTime`.
    Naive,
    Json,
    Enum(&'static EnumDef),
    /// `Integer, primary_key=True` (SERIAL on PostgreSQL).
    Serial,
}

/// A SQLAlchemy `Enum(X)`: a PG type named after the class, storing the NAMES.
struct EnumDef {
    pg_name: &'static str,
    names: &'static [&'static str],
}

const LICENSE_STATUS: EnumDef = EnumDef {
    pg_name: "licensestatus",
    names: &["ACTIVE", "SUSPENDED", "EXPIRED", "CANCELLED"],
};
const SUBSCRIPTION_STATUS: EnumDef = EnumDef {
    pg_name: "subscriptionstatus",
    names: &["ACTIVE", "PAST_DUE", "CANCELLED", "TRIALING"],
};
const PAYMENT_STATUS: EnumDef = EnumDef {
    pg_name: "paymentstatus",
    names: &["SUCCEEDED", "PENDING", "FAILED", "REFUNDED"],
};
const PAYMENT_GATEWAY_TYPE: EnumDef = EnumDef {
    pg_name: "paymentgatewaytype",
    names: &[
        "STRIPE",
        "PAYPAL",
        "RAZORPAY",
        "SQUARE",
        "BRAINTREE",
        "AUTHORIZE_NET",
        "PAYU",
        "MOLLIE",
    ],
};
const ORDER_STATUS: EnumDef = EnumDef {
    pg_name: "orderstatus",
    names: &["PENDING", "PROCESSING", "COMPLETED", "CANCELLED", "FAILED"],
};
const INVOICE_STATUS: EnumDef = EnumDef {
    pg_name: "invoicestatus",
    names: &[
        "DRAFT",
        "OPEN",
        "PAID",
        "PARTIALLY_PAID",
        "OVERDUE",
        "VOID",
        "UNCOLLECTIBLE",
    ],
};
const RECURRING_INTERVAL: EnumDef = EnumDef {
    pg_name: "recurringinterval",
    names: &["MONTHLY", "QUARTERLY", "YEARLY"],
};

const ENUMS: [&EnumDef; 7] = [
    &LICENSE_STATUS,
    &SUBSCRIPTION_STATUS,
    &PAYMENT_STATUS,
    &PAYMENT_GATEWAY_TYPE,
    &ORDER_STATUS,
    &INVOICE_STATUS,
    &RECURRING_INTERVAL,
];

/// One column: name, type, NOT NULL, `server_default=func.now()`.
struct Col(&'static str, Ty, bool, bool);

fn col(name: &'static str, ty: Ty) -> Col {
    Col(name, ty, false, false)
}

fn req(name: &'static str, ty: Ty) -> Col {
    Col(name, ty, true, false)
}

/// `DateTime, server_default=func.now(), nullable=False`.
fn created_now(name: &'static str) -> Col {
    Col(name, Ty::Naive, true, true)
}

struct Table {
    name: &'static str,
    cols: Vec<Col>,
    uniques: &'static [&'static str],
    /// (column, referenced table)
    fks: &'static [(&'static str, &'static str)],
}

fn tables() -> Vec<Table> {
    use Ty::*;
    let id = || req("id", Str(36));
    vec![
        Table {
            name: "users",
            cols: vec![
                id(),
                req("email", Str(255)),
                req("password_hash", Str(255)),
                col("full_name", Str(255)),
                col("company_name", Str(255)),
                col("phone", Str(50)),
                col("company", Str(255)),
                col("stripe_customer_id", Str(255)),
                col("account_balance", Float),
                col("is_active", Bool),
                col("is_admin", Bool),
                col("created_at", Tz),
                col("updated_at", Tz),
            ],
            uniques: &["email", "stripe_customer_id"],
            fks: &[],
        },
        Table {
            name: "plans",
            cols: vec![
                id(),
                req("name", Str(100)),
                col("description", Text),
                req("price_monthly", Float),
                req("price_yearly", Float),
                col("features", Json),
                col("max_accounts", Int),
                col("max_domains", Int),
                col("max_databases", Int),
                col("max_emails", Int),
                col("stripe_price_id_monthly", Str(255)),
                col("stripe_price_id_yearly", Str(255)),
                col("is_active", Bool),
                col("is_featured", Bool),
                col("sort_order", Int),
                col("discount_first_day", Float),
                col("discount_first_month", Float),
                col("discount_first_year", Float),
                col("discount_lifetime", Float),
                col("created_at", Tz),
                col("updated_at", Tz),
            ],
            uniques: &[],
            fks: &[],
        },
        Table {
            name: "licenses",
            cols: vec![
                id(),
                req("user_id", Str(36)),
                req("plan_id", Str(36)),
                req("license_key", Str(100)),
                col("encrypted_secret", Text),
                col("status", Enum(&LICENSE_STATUS)),
                col("features", Json),
                col("max_accounts", Int),
                col("max_domains", Int),
                col("max_databases", Int),
                col("max_emails", Int),
                col("current_accounts", Int),
                col("current_domains", Int),
                col("current_databases", Int),
                col("current_emails", Int),
                col("nextpanel_user_id", Str(36)),
                col("activation_date", Tz),
                col("expiry_date", Tz),
                col("auto_renew", Bool),
                col("hardware_fingerprint", Str(64)),
                col("allowed_fingerprints", Json),
                col("last_validation_at", Tz),
                col("validation_count", Int),
                col("failed_validation_count", Int),
                col("last_validation_ip", Str(45)),
                col("is_suspicious", Bool),
                col("suspicious_reason", Text),
                col("created_at", Tz),
                col("updated_at", Tz),
            ],
            uniques: &["license_key"],
            fks: &[("user_id", "users"), ("plan_id", "plans")],
        },
        Table {
            name: "subscriptions",
            cols: vec![
                id(),
                req("license_id", Str(36)),
                col("stripe_subscription_id", Str(255)),
                col("status", Enum(&SUBSCRIPTION_STATUS)),
                col("current_period_start", Tz),
                col("current_period_end", Tz),
                col("cancel_at_period_end", Bool),
                col("created_at", Tz),
                col("updated_at", Tz),
            ],
            uniques: &["stripe_subscription_id"],
            fks: &[("license_id", "licenses")],
        },
        Table {
            name: "orders",
            cols: vec![
                id(),
                req("customer_id", Str(36)),
                col("status", Enum(&ORDER_STATUS)),
                col("invoice_number", Str(50)),
                col("order_number", Str(50)),
                col("items", Json),
                req("subtotal", Float),
                col("tax", Float),
                req("total", Float),
                col("payment_method", Str(50)),
                col("billing_info", Json),
                col("billing_period", Str(20)),
                col("due_date", Tz),
                col("paid_at", Tz),
                col("auto_charge_config", Json),
                col("created_at", Tz),
                col("updated_at", Tz),
            ],
            uniques: &["invoice_number", "order_number"],
            fks: &[("customer_id", "users")],
        },
        Table {
            name: "payments",
            cols: vec![
                id(),
                req("user_id", Str(36)),
                col("license_id", Str(36)),
                col("order_id", Str(36)),
                // FK to payment_gateways, a table the fixture leaves out.
                col("gateway_id", Str(36)),
                col("stripe_payment_intent_id", Str(255)),
                col("gateway_transaction_id", Str(255)),
                req("amount", Float),
                col("currency", Str(3)),
                col("status", Enum(&PAYMENT_STATUS)),
                col("payment_method", Str(50)),
                col("payment_method_id", Str(255)),
                col("gateway_type", Enum(&PAYMENT_GATEWAY_TYPE)),
                col("description", Text),
                col("payment_metadata", Json),
                col("gateway_response", Json),
                col("failure_reason", Text),
                col("created_at", Tz),
                col("processed_at", Tz),
            ],
            uniques: &["stripe_payment_intent_id"],
            fks: &[
                ("user_id", "users"),
                ("license_id", "licenses"),
                ("order_id", "orders"),
            ],
        },
        Table {
            name: "invoices",
            cols: vec![
                id(),
                req("user_id", Str(36)),
                col("order_id", Str(36)),
                col("payment_id", Str(36)),
                col("subscription_id", Str(36)),
                col("license_id", Str(36)),
                req("invoice_number", Str(50)),
                col("status", Enum(&INVOICE_STATUS)),
                req("subtotal", Float),
                col("discount_amount", Float),
                col("discount_percent", Float),
                col("tax", Float),
                col("tax_rate", Float),
                req("total", Float),
                col("amount_paid", Float),
                col("amount_due", Float),
                col("currency", Str(3)),
                col("invoice_date", Tz),
                col("due_date", Tz),
                col("paid_at", Tz),
                col("last_reminder_sent", Tz),
                col("items", Json),
                col("notes", Text),
                col("terms", Text),
                col("is_recurring", Bool),
                col("recurring_interval", Enum(&RECURRING_INTERVAL)),
                col("recurring_next_date", Tz),
                col("recurring_parent_id", Str(36)),
                col("payment_method", Str(50)),
                col("payment_instructions", Text),
                col("customer_po_number", Str(100)),
                col("billing_address", Json),
                col("sent_to_customer", Bool),
                col("reminder_count", Int),
                col("created_at", Tz),
                col("updated_at", Tz),
            ],
            uniques: &["invoice_number"],
            fks: &[
                ("user_id", "users"),
                ("order_id", "orders"),
                ("payment_id", "payments"),
                ("subscription_id", "subscriptions"),
                ("license_id", "licenses"),
                ("recurring_parent_id", "invoices"),
            ],
        },
        Table {
            name: "nextpanel_servers",
            cols: vec![
                req("id", Serial),
                req("name", Str(100)),
                col("description", Text),
                req("base_url", Str(255)),
                req("api_key", Str(255)),
                req("api_secret", Str(255)),
                col("is_active", Bool),
                col("is_online", Bool),
                col("last_checked", Naive),
                req("capacity", Int),
                req("current_accounts", Int),
                col("server_ip", Str(45)),
                col("location", Str(100)),
                col("tags", Json),
                created_now("created_at"),
                col("updated_at", Naive),
            ],
            uniques: &["name"],
            fks: &[],
        },
        Table {
            name: "nextpanel_accounts",
            cols: vec![
                req("id", Serial),
                req("customer_id", Str(255)),
                col("order_id", Int),
                req("server_id", Int),
                req("nextpanel_user_id", Int),
                req("username", Str(50)),
                req("email", Str(255)),
                col("status", Str(20)),
                col("suspension_reason", Text),
                created_now("created_at"),
                col("suspended_at", Naive),
                col("deleted_at", Naive),
                col("last_synced_at", Naive),
                col("meta_data", Json),
            ],
            uniques: &[],
            fks: &[],
        },
    ]
}

/// The DDL SQLAlchemy's `metadata.create_all()` emits on `engine`.
fn schema(engine: SeedEngine) -> Vec<String> {
    let pg = engine == SeedEngine::Postgres;
    let mut out = Vec::new();
    if pg {
        for e in ENUMS {
            let names: Vec<String> = e.names.iter().map(|n| format!("'{n}'")).collect();
            out.push(format!(
                "CREATE TYPE {} AS ENUM ({})",
                e.pg_name,
                names.join(", ")
            ));
        }
    }
    for table in tables() {
        let mut lines = Vec::new();
        for Col(name, ty, not_null, default_now) in &table.cols {
            let ty = match (*ty, pg) {
                (Ty::Str(n), _) => format!("VARCHAR({n})"),
                (Ty::Text, _) => "TEXT".to_owned(),
                (Ty::Float, _) => "FLOAT".to_owned(),
                (Ty::Int, _) => "INTEGER".to_owned(),
                (Ty::Bool, _) => "BOOLEAN".to_owned(),
                (Ty::Tz, true) => "TIMESTAMP WITH TIME ZONE".to_owned(),
                (Ty::Naive, true) => "TIMESTAMP WITHOUT TIME ZONE".to_owned(),
                (Ty::Tz | Ty::Naive, false) => "DATETIME".to_owned(),
                (Ty::Json, _) => "JSON".to_owned(),
                (Ty::Enum(e), true) => e.pg_name.to_owned(),
                (Ty::Enum(e), false) => {
                    let len = e.names.iter().map(|n| n.len()).max().unwrap_or(1);
                    format!("VARCHAR({len})")
                }
                (Ty::Serial, true) => "SERIAL".to_owned(),
                (Ty::Serial, false) => "INTEGER".to_owned(),
            };
            let default = match (*default_now, pg) {
                (false, _) => "",
                (true, true) => " DEFAULT now()",
                (true, false) => " DEFAULT (CURRENT_TIMESTAMP)",
            };
            let null = if *not_null { " NOT NULL" } else { "" };
            lines.push(format!("\t{name} {ty}{default}{null}"));
        }
        lines.push("\tPRIMARY KEY (id)".to_owned());
        for unique in table.uniques {
            lines.push(format!("\tUNIQUE ({unique})"));
        }
        for (column, target) in table.fks {
            lines.push(format!("\tFOREIGN KEY({column}) REFERENCES {target} (id)"));
        }
        out.push(format!(
            "\nCREATE TABLE {} (\n{}\n)\n",
            table.name,
            lines.join(", \n")
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------
// Values and inserts

/// A bound value; `None` is SQL NULL. Columns left out of a row are NULL too.
enum V {
    Str(Option<String>),
    Int(Option<i32>),
    Float(Option<f64>),
    Bool(Option<bool>),
    /// `DateTime(timezone=True)`: `timestamptz` on PG.
    Tz(Option<DateTime<Utc>>),
    /// `DateTime`: `timestamp` on PG.
    Naive(Option<NaiveDateTime>),
    Json(Option<Value>),
    /// (PG type name, stored name)
    Enum(&'static str, Option<String>),
}

fn s(v: &str) -> V {
    V::Str(Some(v.to_owned()))
}

fn i(v: i32) -> V {
    V::Int(Some(v))
}

fn f(v: f64) -> V {
    V::Float(Some(v))
}

fn b(v: bool) -> V {
    V::Bool(Some(v))
}

fn j(v: Value) -> V {
    V::Json(Some(v))
}

fn e(def: &EnumDef, name: &str) -> V {
    V::Enum(def.pg_name, Some(name.to_owned()))
}

fn at(y: i32, m: u32, d: u32, h: u32, min: u32, sec: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, sec)
        .unwrap()
}

/// A `DateTime(timezone=True)` value (UTC).
fn tz(y: i32, m: u32, d: u32, h: u32, min: u32, sec: u32) -> V {
    V::Tz(Some(at(y, m, d, h, min, sec).and_utc()))
}

/// A naive `DateTime` value.
fn naive(y: i32, m: u32, d: u32, h: u32, min: u32, sec: u32) -> V {
    V::Naive(Some(at(y, m, d, h, min, sec)))
}

/// How SQLAlchemy's SQLite dialect stores a datetime (no zone, microseconds).
fn sqlite_datetime(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

enum Conn {
    Sqlite(sqlx::SqlitePool),
    Pg(sqlx::PgPool),
}

impl Conn {
    async fn execute(&self, sql: &str) {
        let done = match self {
            Conn::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            Conn::Pg(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        };
        if let Err(err) = done {
            panic!("seed fixture: {sql}: {err}");
        }
    }

    async fn insert(&self, table: &str, row: Vec<(&str, V)>) {
        let columns: Vec<&str> = row.iter().map(|(c, _)| *c).collect();
        let placeholders: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(n, (_, v))| match (self, v) {
                (Conn::Sqlite(_), _) => "?".to_owned(),
                (Conn::Pg(_), V::Enum(ty, _)) => format!("${}::{ty}", n + 1),
                (Conn::Pg(_), V::Json(_)) => format!("${}::json", n + 1),
                (Conn::Pg(_), _) => format!("${}", n + 1),
            })
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            columns.join(", "),
            placeholders.join(", ")
        );
        let done = match self {
            Conn::Sqlite(pool) => {
                let mut q = sqlx::query(&sql);
                for (_, v) in row {
                    q = match v {
                        V::Str(x) | V::Enum(_, x) => q.bind(x),
                        V::Int(x) => q.bind(x),
                        V::Float(x) => q.bind(x),
                        V::Bool(x) => q.bind(x),
                        V::Tz(x) => q.bind(x.map(|t| sqlite_datetime(&t.naive_utc()))),
                        V::Naive(x) => q.bind(x.map(|t| sqlite_datetime(&t))),
                        V::Json(x) => q.bind(x.map(|x| x.to_string())),
                    };
                }
                q.execute(pool).await.map(|_| ())
            }
            Conn::Pg(pool) => {
                let mut q = sqlx::query(&sql);
                for (_, v) in row {
                    q = match v {
                        V::Str(x) | V::Enum(_, x) => q.bind(x),
                        V::Int(x) => q.bind(x),
                        V::Float(x) => q.bind(x),
                        V::Bool(x) => q.bind(x),
                        V::Tz(x) => q.bind(x),
                        V::Naive(x) => q.bind(x),
                        V::Json(x) => q.bind(x.map(|x| x.to_string())),
                    };
                }
                q.execute(pool).await.map(|_| ())
            }
        };
        if let Err(err) = done {
            panic!("seed fixture: {sql}: {err}");
        }
    }

    async fn close(&self) {
        match self {
            Conn::Sqlite(pool) => pool.close().await,
            Conn::Pg(pool) => pool.close().await,
        }
    }
}

/// A passlib-style bcrypt hash (`$2b$04$...`; cost 4 to keep tests fast).
fn bcrypt_hash(password: &str) -> String {
    let hash = bcrypt::hash(password, 4).unwrap();
    assert!(hash.starts_with("$2b$04$"), "{hash}");
    hash
}

// ---------------------------------------------------------------------------------------
// The data

async fn insert_users(conn: &Conn) {
    conn.insert(
        "users",
        vec![
            ("id", s(ADMIN_ID)),
            ("email", s(ADMIN_EMAIL)),
            ("password_hash", s(&bcrypt_hash(ADMIN_PASSWORD))),
            ("full_name", s("Old Owner")),
            ("account_balance", f(0.0)),
            ("is_active", b(true)),
            ("is_admin", b(true)),
            ("created_at", tz(2023, 11, 2, 9, 0, 0)),
            ("updated_at", tz(2025, 1, 3, 12, 0, 0)),
        ],
    )
    .await;
    conn.insert(
        "users",
        vec![
            ("id", s(ADA_ID)),
            ("email", s(ADA_EMAIL)),
            ("password_hash", s(&bcrypt_hash(ADA_PASSWORD))),
            ("full_name", s("Ada Lovelace")),
            ("company_name", s("Analytical Ltd")),
            ("phone", s("+44 20 7946 0000")),
            ("stripe_customer_id", s("cus_old_ada")),
            ("account_balance", f(12.5)),
            ("is_active", b(true)),
            ("is_admin", b(false)),
            ("created_at", tz(2024, 3, 10, 14, 30, 12)),
            ("updated_at", tz(2025, 2, 1, 8, 0, 0)),
        ],
    )
    .await;
    conn.insert(
        "users",
        vec![
            ("id", s(BOB_ID)),
            ("email", s(BOB_EMAIL)),
            ("password_hash", s(&bcrypt_hash(BOB_PASSWORD))),
            ("account_balance", f(0.0)),
            ("is_active", b(false)),
            ("is_admin", b(false)),
            ("created_at", tz(2024, 5, 1, 10, 0, 0)),
        ],
    )
    .await;
    conn.insert(
        "users",
        vec![
            ("id", s(CY_ID)),
            ("email", s(CY_EMAIL)),
            ("password_hash", s(&bcrypt_hash(CY_PASSWORD))),
            ("full_name", s("Cy Young")),
            ("account_balance", f(0.0)),
            ("is_active", b(true)),
            ("is_admin", b(false)),
            ("created_at", tz(2024, 6, 1, 16, 45, 0)),
            ("updated_at", tz(2025, 6, 30, 0, 5, 0)),
        ],
    )
    .await;
    conn.insert(
        "users",
        vec![
            ("id", s(BROKEN_USER_ID)),
            ("email", s(BROKEN_EMAIL)),
            ("password_hash", s(BROKEN_PASSWORD_HASH)),
            ("full_name", s("Broken")),
            ("is_active", b(true)),
            ("is_admin", b(false)),
            ("created_at", tz(2024, 7, 1, 0, 0, 0)),
        ],
    )
    .await;
}

async fn insert_plans(conn: &Conn) {
    conn.insert(
        "plans",
        vec![
            ("id", s(PLAN_BASIC_ID)),
            ("name", s("Basic")),
            ("description", s("Starter hosting")),
            ("price_monthly", f(9.990000001)),
            ("price_yearly", f(99.9)),
            ("features", j(json!(["1 website", "Free SSL"]))),
            ("max_accounts", i(1)),
            ("max_domains", i(5)),
            ("max_databases", i(5)),
            ("max_emails", i(10)),
            ("stripe_price_id_monthly", s("price_old_basic_m")),
            ("stripe_price_id_yearly", s("price_old_basic_y")),
            ("is_active", b(true)),
            ("is_featured", b(false)),
            ("sort_order", i(1)),
            ("discount_first_day", f(0.0)),
            ("discount_first_month", f(0.0)),
            ("discount_first_year", f(0.0)),
            ("discount_lifetime", f(0.0)),
            ("created_at", tz(2023, 11, 2, 9, 30, 0)),
        ],
    )
    .await;
    conn.insert(
        "plans",
        vec![
            ("id", s(PLAN_PRO_ID)),
            ("name", s("Pro")),
            ("price_monthly", f(19.99)),
            ("price_yearly", f(199.0)),
            ("features", j(json!({"ssl": true, "backups": "daily"}))),
            ("max_accounts", i(3)),
            ("max_databases", i(20)),
            ("max_emails", i(50)),
            ("is_active", b(true)),
            ("is_featured", b(true)),
            ("sort_order", i(2)),
            ("created_at", tz(2023, 11, 2, 9, 31, 0)),
            ("updated_at", tz(2024, 8, 1, 0, 0, 0)),
        ],
    )
    .await;
    conn.insert(
        "plans",
        vec![
            ("id", s(PLAN_LEGACY_ID)),
            ("name", s("Legacy")),
            ("price_monthly", f(4.5)),
            ("price_yearly", f(45.0)),
            ("max_accounts", i(1)),
            ("max_domains", i(1)),
            ("max_databases", i(1)),
            ("max_emails", i(1)),
            ("is_active", b(false)),
            ("is_featured", b(false)),
            ("sort_order", i(3)),
            ("created_at", tz(2022, 1, 1, 0, 0, 0)),
        ],
    )
    .await;
}

async fn insert_licenses(conn: &Conn, engine: SeedEngine, adahost_panel_id: i64) {
    conn.insert(
        "licenses",
        vec![
            ("id", s(LICENSE_ADA_BASIC_ID)),
            ("user_id", s(ADA_ID)),
            ("plan_id", s(PLAN_BASIC_ID)),
            ("license_key", s(LICENSE_ADA_BASIC_KEY)),
            ("status", e(&LICENSE_STATUS, "ACTIVE")),
            ("features", j(json!(["1 website", "Free SSL"]))),
            ("max_accounts", i(1)),
            ("max_domains", i(5)),
            ("max_databases", i(5)),
            ("max_emails", i(10)),
            ("current_accounts", i(1)),
            ("current_domains", i(2)),
            ("current_databases", i(1)),
            ("current_emails", i(3)),
            ("nextpanel_user_id", s(&adahost_panel_id.to_string())),
            ("activation_date", tz(2025, 1, 15, 10, 15, 0)),
            ("expiry_date", tz(2026, 12, 20, 0, 0, 0)),
            ("auto_renew", b(true)),
            ("allowed_fingerprints", j(json!([]))),
            ("last_validation_at", tz(2025, 11, 2, 3, 4, 5)),
            ("validation_count", i(412)),
            ("failed_validation_count", i(0)),
            ("last_validation_ip", s("203.0.113.10")),
            ("is_suspicious", b(false)),
            ("created_at", tz(2025, 1, 15, 10, 15, 0)),
            ("updated_at", tz(2025, 11, 20, 0, 0, 0)),
        ],
    )
    .await;
    // Stored lower case on SQLite (an old row from before the enum stored names); a PG enum
    // cannot hold that, so there it is the usual upper-case name.
    let suspended = match engine {
        SeedEngine::Sqlite => "suspended",
        SeedEngine::Postgres => "SUSPENDED",
    };
    conn.insert(
        "licenses",
        vec![
            ("id", s(LICENSE_ADA_PRO_ID)),
            ("user_id", s(ADA_ID)),
            ("plan_id", s(PLAN_PRO_ID)),
            ("license_key", s(LICENSE_ADA_PRO_KEY)),
            ("status", e(&LICENSE_STATUS, suspended)),
            ("features", j(json!({"ssl": true, "backups": "daily"}))),
            ("max_accounts", i(3)),
            ("max_databases", i(20)),
            ("max_emails", i(50)),
            ("current_accounts", i(1)),
            ("current_domains", i(0)),
            ("current_databases", i(0)),
            ("current_emails", i(0)),
            ("activation_date", tz(2025, 2, 1, 9, 0, 0)),
            ("expiry_date", tz(2027, 2, 1, 0, 0, 0)),
            ("auto_renew", b(false)),
            ("validation_count", i(3)),
            ("failed_validation_count", i(1)),
            ("is_suspicious", b(false)),
            ("created_at", tz(2025, 2, 1, 9, 0, 0)),
        ],
    )
    .await;
    conn.insert(
        "licenses",
        vec![
            ("id", s(LICENSE_CY_PRO_ID)),
            ("user_id", s(CY_ID)),
            ("plan_id", s(PLAN_PRO_ID)),
            ("license_key", s(LICENSE_CY_PRO_KEY)),
            ("status", e(&LICENSE_STATUS, "EXPIRED")),
            ("max_accounts", i(3)),
            ("max_databases", i(20)),
            ("max_emails", i(50)),
            ("current_accounts", i(1)),
            ("nextpanel_user_id", s("77")),
            ("activation_date", tz(2024, 6, 30, 12, 0, 0)),
            ("expiry_date", tz(2025, 6, 30, 0, 0, 0)),
            ("auto_renew", b(true)),
            ("hardware_fingerprint", s(&"ab".repeat(32))),
            ("validation_count", i(90)),
            ("failed_validation_count", i(7)),
            ("is_suspicious", b(true)),
            ("suspicious_reason", s("validations from 3 IPs in an hour")),
            ("created_at", tz(2024, 6, 30, 12, 0, 0)),
        ],
    )
    .await;
}

/// Subscription, order, payments and invoices.
async fn insert_billing(conn: &Conn) {
    conn.insert(
        "subscriptions",
        vec![
            ("id", s(SUBSCRIPTION_ID)),
            ("license_id", s(LICENSE_ADA_BASIC_ID)),
            ("stripe_subscription_id", s("sub_old_1")),
            ("status", e(&SUBSCRIPTION_STATUS, "ACTIVE")),
            ("current_period_start", tz(2026, 11, 20, 0, 0, 0)),
            ("current_period_end", tz(2026, 12, 20, 0, 0, 0)),
            ("cancel_at_period_end", b(false)),
            ("created_at", tz(2025, 1, 15, 10, 15, 0)),
        ],
    )
    .await;
    conn.insert(
        "orders",
        vec![
            ("id", s(ORDER_ID)),
            ("customer_id", s(ADA_ID)),
            ("status", e(&ORDER_STATUS, "COMPLETED")),
            ("invoice_number", s("INV-2025-0001")),
            ("order_number", s("ORD-2025-0001")),
            (
                "items",
                j(json!([{"plan_id": PLAN_BASIC_ID, "description": "Basic hosting", "amount": 9.99}])),
            ),
            ("subtotal", f(9.99)),
            ("tax", f(0.0)),
            ("total", f(9.99)),
            ("payment_method", s("card")),
            ("billing_period", s("monthly")),
            ("paid_at", tz(2025, 1, 15, 10, 14, 0)),
            ("created_at", tz(2025, 1, 15, 10, 12, 0)),
        ],
    )
    .await;
    conn.insert(
        "payments",
        vec![
            ("id", s(PAYMENT_ADA_ID)),
            ("user_id", s(ADA_ID)),
            ("license_id", s(LICENSE_ADA_BASIC_ID)),
            ("order_id", s(ORDER_ID)),
            ("stripe_payment_intent_id", s("pi_old_1")),
            ("amount", f(9.99)),
            ("currency", s("USD")),
            ("status", e(&PAYMENT_STATUS, "SUCCEEDED")),
            ("payment_method", s("card")),
            ("gateway_type", e(&PAYMENT_GATEWAY_TYPE, "STRIPE")),
            ("description", s("Basic hosting")),
            (
                "payment_metadata",
                j(json!({"order_number": "ORD-2025-0001"})),
            ),
            ("created_at", tz(2025, 1, 15, 10, 13, 0)),
            ("processed_at", tz(2025, 1, 15, 10, 14, 0)),
        ],
    )
    .await;
    conn.insert(
        "payments",
        vec![
            ("id", s(PAYMENT_CY_ID)),
            ("user_id", s(CY_ID)),
            ("license_id", s(LICENSE_CY_PRO_ID)),
            ("stripe_payment_intent_id", s("pi_old_2")),
            ("amount", f(19.99)),
            ("currency", s("USD")),
            ("status", e(&PAYMENT_STATUS, "FAILED")),
            ("payment_method", s("card")),
            ("gateway_type", e(&PAYMENT_GATEWAY_TYPE, "STRIPE")),
            ("description", s("Pro hosting renewal")),
            ("failure_reason", s("card_declined")),
            ("created_at", tz(2025, 6, 30, 0, 1, 0)),
            ("processed_at", tz(2025, 6, 30, 0, 1, 5)),
        ],
    )
    .await;
    conn.insert(
        "invoices",
        vec![
            ("id", s(INVOICE_ADA_PAID_ID)),
            ("user_id", s(ADA_ID)),
            ("order_id", s(ORDER_ID)),
            ("payment_id", s(PAYMENT_ADA_ID)),
            ("subscription_id", s(SUBSCRIPTION_ID)),
            ("license_id", s(LICENSE_ADA_BASIC_ID)),
            ("invoice_number", s("INV-2025-0001")),
            ("status", e(&INVOICE_STATUS, "PAID")),
            ("subtotal", f(9.99)),
            ("discount_amount", f(0.0)),
            ("discount_percent", f(0.0)),
            ("tax", f(0.0)),
            ("tax_rate", f(0.0)),
            ("total", f(9.99)),
            ("amount_paid", f(9.99)),
            ("amount_due", f(0.0)),
            ("currency", s("USD")),
            ("invoice_date", tz(2025, 1, 15, 10, 12, 0)),
            ("due_date", tz(2025, 1, 15, 10, 12, 0)),
            ("paid_at", tz(2025, 1, 15, 10, 14, 0)),
            (
                "items",
                j(json!([{"description": "Basic hosting", "amount": 9.99}])),
            ),
            ("is_recurring", b(true)),
            ("recurring_interval", e(&RECURRING_INTERVAL, "MONTHLY")),
            ("payment_method", s("card")),
            (
                "billing_address",
                j(json!({"country": "GB", "city": "London"})),
            ),
            ("sent_to_customer", b(true)),
            ("reminder_count", i(0)),
            ("created_at", tz(2025, 1, 15, 10, 12, 0)),
        ],
    )
    .await;
    conn.insert(
        "invoices",
        vec![
            ("id", s(INVOICE_ADA_OPEN_ID)),
            ("user_id", s(ADA_ID)),
            ("license_id", s(LICENSE_ADA_PRO_ID)),
            ("invoice_number", s("INV-2025-0002")),
            ("status", e(&INVOICE_STATUS, "OPEN")),
            ("subtotal", f(19.990000000000002)),
            ("tax", f(0.0)),
            ("total", f(19.990000000000002)),
            ("amount_paid", f(0.0)),
            ("amount_due", f(19.990000000000002)),
            ("currency", s("USD")),
            ("invoice_date", tz(2025, 11, 1, 0, 0, 0)),
            ("due_date", tz(2026, 12, 1, 0, 0, 0)),
            ("last_reminder_sent", tz(2025, 11, 15, 9, 0, 0)),
            (
                "items",
                j(json!([{"description": "Pro hosting", "amount": 19.990000000000002}])),
            ),
            ("notes", s("Pro upgrade")),
            ("is_recurring", b(false)),
            ("sent_to_customer", b(true)),
            ("reminder_count", i(2)),
            ("created_at", tz(2025, 11, 1, 0, 0, 0)),
        ],
    )
    .await;
    conn.insert(
        "invoices",
        vec![
            ("id", s(INVOICE_CY_VOID_ID)),
            ("user_id", s(CY_ID)),
            ("license_id", s(LICENSE_CY_PRO_ID)),
            ("invoice_number", s("INV-2025-0003")),
            ("status", e(&INVOICE_STATUS, "VOID")),
            ("subtotal", f(19.99)),
            ("total", f(19.99)),
            ("amount_paid", f(0.0)),
            ("amount_due", f(0.0)),
            ("currency", s("USD")),
            ("invoice_date", tz(2025, 6, 30, 0, 0, 0)),
            ("due_date", tz(2025, 7, 7, 0, 0, 0)),
            (
                "items",
                j(json!([{"description": "Pro hosting", "amount": 19.99}])),
            ),
            ("is_recurring", b(false)),
            ("sent_to_customer", b(false)),
            ("reminder_count", i(0)),
            ("created_at", tz(2025, 6, 30, 0, 0, 0)),
        ],
    )
    .await;
}

async fn insert_servers(conn: &Conn, sim: &SimHandle, down_server_url: &str) {
    conn.insert(
        "nextpanel_servers",
        vec![
            ("id", i(1)),
            ("name", s("old-node-1")),
            ("description", s("Primary node")),
            ("base_url", s(&sim.base_url())),
            ("api_key", s(sim.api_key())),
            ("api_secret", s(sim.api_secret())),
            ("is_active", b(true)),
            ("is_online", b(true)),
            ("last_checked", naive(2025, 11, 30, 23, 55, 0)),
            ("capacity", i(100)),
            ("current_accounts", i(2)),
            ("server_ip", s("127.0.0.1")),
            ("location", s("eu")),
            ("tags", j(json!(["ssd"]))),
            ("created_at", naive(2023, 11, 2, 9, 45, 0)),
            ("updated_at", naive(2025, 11, 30, 23, 55, 0)),
        ],
    )
    .await;
    conn.insert(
        "nextpanel_servers",
        vec![
            ("id", i(2)),
            ("name", s("old-node-down")),
            ("base_url", s(down_server_url)),
            ("api_key", s("np_key_down_0000000000000001")),
            ("api_secret", s("np_secret_down_00000000000000000001")),
            ("is_active", b(true)),
            ("is_online", b(false)),
            ("last_checked", naive(2025, 11, 30, 23, 55, 0)),
            ("capacity", i(50)),
            ("current_accounts", i(1)),
            ("location", s("us")),
            ("created_at", naive(2024, 6, 1, 0, 0, 0)),
        ],
    )
    .await;
}

async fn insert_accounts(conn: &Conn, adahost_panel_id: i64, adablog_panel_id: i64) {
    let panel_id = |id: i64| i(i32::try_from(id).unwrap());
    conn.insert(
        "nextpanel_accounts",
        vec![
            ("id", i(1)),
            ("customer_id", s(ADA_ID)),
            ("server_id", i(1)),
            ("nextpanel_user_id", panel_id(adahost_panel_id)),
            ("username", s("adahost")),
            ("email", s(ADA_EMAIL)),
            ("status", s("active")),
            ("created_at", naive(2025, 1, 15, 10, 16, 0)),
            ("last_synced_at", naive(2025, 11, 30, 23, 55, 0)),
            (
                "meta_data",
                j(json!({"license_key": LICENSE_ADA_BASIC_KEY})),
            ),
        ],
    )
    .await;
    conn.insert(
        "nextpanel_accounts",
        vec![
            ("id", i(2)),
            ("customer_id", s(ADA_ID)),
            ("server_id", i(1)),
            ("nextpanel_user_id", panel_id(adablog_panel_id)),
            ("username", s("adablog")),
            ("email", s(ADA_EMAIL)),
            ("status", s("suspended")),
            ("suspension_reason", s("unpaid")),
            ("created_at", naive(2025, 2, 1, 9, 1, 0)),
            ("suspended_at", naive(2025, 11, 16, 0, 0, 0)),
        ],
    )
    .await;
    conn.insert(
        "nextpanel_accounts",
        vec![
            ("id", i(3)),
            ("customer_id", s(CY_ID)),
            ("server_id", i(2)),
            ("nextpanel_user_id", i(77)),
            ("username", s("cyhost")),
            ("email", s(CY_EMAIL)),
            ("status", s("active")),
            ("created_at", naive(2024, 6, 30, 12, 1, 0)),
        ],
    )
    .await;
    conn.insert(
        "nextpanel_accounts",
        vec![
            ("id", i(4)),
            ("customer_id", s(ADA_ID)),
            ("server_id", i(1)),
            ("nextpanel_user_id", i(999)),
            ("username", s("gone")),
            ("email", s(ADA_EMAIL)),
            ("status", s("deleted")),
            ("created_at", naive(2024, 4, 1, 8, 0, 0)),
            ("deleted_at", naive(2024, 10, 1, 8, 0, 0)),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// The panel

/// Creates Ada's account `username` on the simulator through the NextPanel billing API
/// (`POST /api/v1/billing/accounts` with `X-API-Key`/`X-API-Secret`), as the old system
/// did, and returns the panel's id for it.
async fn create_panel_account(sim: &SimHandle, username: &str, old_account_id: i64) -> i64 {
    let body = json!({
        "username": username,
        "email": ADA_EMAIL,
        "password": format!("{username}-Panel-Pass-1"),
        "full_name": "Ada Lovelace",
        "phone": "+44 20 7946 0000",
        "company": "Analytical Ltd",
        "package_id": null,
        "is_admin": false,
        "billing_id": ADA_ID,
        "metadata": {
            "created_from": "billing_system",
            "billing_customer_id": ADA_ID,
            "account_type": "panel",
            "is_admin": false,
            "created_at": "2025-01-15T10:16:00Z",
            "hosting_account_id": old_account_id,
        },
    });
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/billing/accounts", sim.base_url()))
        .header("X-API-Key", sim.api_key())
        .header("X-API-Secret", sim.api_secret())
        .json(&body)
        .send()
        .await
        .expect("seed fixture: create the panel account");
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert!(
        status.is_success(),
        "seed fixture: creating {username} on the simulator: {status} {answer}"
    );
    answer["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("seed fixture: no integer id in {answer}"))
}

/// Suspends a panel account, as the old system did for `adablog`.
async fn suspend_panel_account(sim: &SimHandle, panel_id: i64, reason: &str) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/billing/accounts/{panel_id}/suspend",
            sim.base_url()
        ))
        .header("X-API-Key", sim.api_key())
        .header("X-API-Secret", sim.api_secret())
        .json(&json!({ "reason": reason }))
        .send()
        .await
        .expect("seed fixture: suspend the panel account");
    assert!(
        response.status().is_success(),
        "seed fixture: suspending {panel_id}: {}",
        response.status()
    );
}

/// A loopback port that nothing listens on (bound, read, released).
fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
