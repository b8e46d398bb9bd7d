//! One old row into ours, per kind: what is kept, what is converted (and reported), and
//! why a row is left out.

use chrono::{DateTime, Utc};

use super::{ImportError, Outcome, Run};
use crate::domain::customer::{self, Email};
use crate::domain::license;
use crate::domain::money::Currency;
use crate::domain::plan::BillingCycle;
use crate::domain::plan::UNLIMITED;
use crate::domain::seed;
use crate::domain::server::{self, BaseUrl};
use crate::seed::{text, SeedRow};
use crate::store::{self, users::NewUser};

fn id_of(row: &SeedRow) -> String {
    text(row, "id").unwrap_or_default().to_owned()
}

impl Run<'_> {
    /// Money in major units as the old system stored it (a float), to minor units.
    fn money(
        &mut self,
        entity: &'static str,
        row: &SeedRow,
        column: &str,
        currency: Currency,
    ) -> Option<i64> {
        let raw = text(row, column)?;
        match seed::money(raw, currency.exponent()) {
            Some(c) => {
                if !c.exact {
                    self.converted(
                        entity,
                        &id_of(row),
                        format!(
                            "{column} {raw} is not a whole number of {} minor units: rounded to {} minor units",
                            currency.code(),
                            c.minor
                        ),
                    );
                }
                Some(c.minor)
            }
            None => {
                self.converted(
                    entity,
                    &id_of(row),
                    format!("{column} '{raw}' is not a number: left empty"),
                );
                None
            }
        }
    }

    /// A quota: an empty one is unlimited, as it was there.
    fn quota(&mut self, entity: &'static str, row: &SeedRow, column: &str) -> Option<i64> {
        let raw = text(row, column)?;
        match raw.parse::<i64>() {
            Ok(n) if n >= UNLIMITED => Some(n),
            _ => {
                self.converted(
                    entity,
                    &id_of(row),
                    format!("{column} '{raw}' is not a quota: unlimited"),
                );
                Some(UNLIMITED)
            }
        }
    }

    fn time(&mut self, entity: &'static str, row: &SeedRow, column: &str) -> Option<DateTime<Utc>> {
        let raw = text(row, column)?;
        let parsed = seed::time(raw);
        if parsed.is_none() {
            self.converted(
                entity,
                &id_of(row),
                format!("{column} '{raw}' is not a time: left empty"),
            );
        }
        parsed
    }

    pub(super) async fn user(&mut self, row: &SeedRow) -> Result<Outcome, ImportError> {
        let id = id_of(row);
        let raw_email = text(row, "email").unwrap_or_default();
        let Ok(email) = Email::parse(raw_email) else {
            return Ok(Outcome::Skipped(format!(
                "email '{raw_email}' is not an email address"
            )));
        };
        let tx = self.tx().await?;
        if let Some(existing) = store::users::find_by_email(tx, email.as_str()).await? {
            return Ok(Outcome::Linked(
                existing.id,
                format!(
                    "{} is already a user here: linked, not changed",
                    email.as_str()
                ),
            ));
        }
        let full_name = match text(row, "full_name").map(customer::full_name) {
            Some(Ok(name)) => name,
            _ => {
                let local = email
                    .as_str()
                    .split('@')
                    .next()
                    .unwrap_or("customer")
                    .to_owned();
                self.converted(
                    "users",
                    &id,
                    format!("no usable full_name: named '{local}' after the email"),
                );
                local
            }
        };
        let company = text(row, "company_name").or_else(|| text(row, "company"));
        let company = match customer::company_name(company) {
            Ok(c) => c,
            Err(e) => {
                self.converted("users", &id, format!("company left out: {}", e.message));
                None
            }
        };
        let phone = match customer::phone(text(row, "phone")) {
            Ok(p) => p,
            Err(e) => {
                self.converted("users", &id, format!("phone left out: {}", e.message));
                None
            }
        };
        let hash = text(row, "password_hash").filter(|h| crate::service::passwords::is_legacy(h));
        if hash.is_none() {
            self.converted(
                "users",
                &id,
                "no bcrypt password hash: the user must reset the password to sign in".into(),
            );
        }
        let is_admin = text(row, "is_admin").and_then(seed::flag) == Some(true);
        let is_active = text(row, "is_active").and_then(seed::flag).unwrap_or(true);
        let now = store::now();
        let created = self.time("users", row, "created_at").unwrap_or(now);
        let balance = if is_admin {
            None
        } else {
            self.money("users", row, "account_balance", self.options.currency)
        };
        let billing = store::users::BillingRow::default();
        let tx = self.tx().await?;
        let saved = store::users::insert(
            tx,
            &NewUser {
                email: email.as_str(),
                password_hash: hash,
                role: if is_admin { "admin" } else { "customer" },
                full_name: &full_name,
                company_name: company.as_deref(),
                phone: phone.as_deref(),
                billing: &billing,
                is_active,
                now: created,
            },
        )
        .await?;
        match balance {
            Some(amount) if amount > 0 => {
                let currency = self.options.currency.code();
                let tx = self.tx().await?;
                store::credits::insert(
                    tx,
                    &store::credits::CreditEntryRow {
                        id: 0,
                        customer_id: saved.id,
                        currency: currency.to_owned(),
                        amount_minor: amount,
                        reason: "account balance carried over from the older billing system".into(),
                        invoice_id: None,
                        plan_change_id: None,
                        created_by: "import".into(),
                        created_at: now,
                    },
                )
                .await?;
            }
            Some(amount) if amount < 0 => self.converted(
                "users",
                &id,
                format!("a negative account balance ({amount} minor units) is not carried over: invoice it if it is owed"),
            ),
            _ => {}
        }
        Ok(Outcome::Created(saved.id))
    }

    pub(super) async fn plan(&mut self, row: &SeedRow) -> Result<Outcome, ImportError> {
        let id = id_of(row);
        let Some(name) = text(row, "name").map(str::to_owned) else {
            return Ok(Outcome::Skipped("the plan has no name".into()));
        };
        let tx = self.tx().await?;
        if let Some(existing) = store::plans::id_by_name(tx, &name).await? {
            return Ok(Outcome::Linked(
                existing,
                format!("a plan called '{name}' is already here: linked, not changed"),
            ));
        }
        let currency = self.options.currency;
        let monthly = self.money("plans", row, "price_monthly", currency);
        let annual = self.money("plans", row, "price_yearly", currency);
        // A zero price beside a real one meant "not offered this way" there.
        let (monthly, annual) = match (monthly, annual) {
            (Some(0), Some(a)) if a > 0 => {
                self.converted("plans", &id, "price_monthly 0: not offered monthly".into());
                (None, Some(a))
            }
            (Some(m), Some(0)) if m > 0 => {
                self.converted("plans", &id, "price_yearly 0: not offered yearly".into());
                (Some(m), None)
            }
            other => other,
        };
        if monthly.is_none() && annual.is_none() {
            return Ok(Outcome::Skipped("the plan has no usable price".into()));
        }
        let now = store::now();
        let row_out = store::plans::PlanRow {
            id: 0,
            name,
            description: text(row, "description").unwrap_or_default().to_owned(),
            currency: currency.code().to_owned(),
            price_monthly: monthly,
            price_quarterly: None,
            price_semiannual: None,
            price_annual: annual,
            setup_fee: 0,
            max_accounts: self
                .quota("plans", row, "max_accounts")
                .unwrap_or(UNLIMITED),
            max_domains: self.quota("plans", row, "max_domains").unwrap_or(UNLIMITED),
            max_databases: self
                .quota("plans", row, "max_databases")
                .unwrap_or(UNLIMITED),
            max_emails: self.quota("plans", row, "max_emails").unwrap_or(UNLIMITED),
            storage_mb: UNLIMITED,
            bandwidth_mb: UNLIMITED,
            account_type: "panel".into(),
            package_id: None,
            server_group: None,
            location: None,
            is_active: text(row, "is_active").and_then(seed::flag).unwrap_or(true),
            sort_order: text(row, "sort_order")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            created_at: self.time("plans", row, "created_at").unwrap_or(now),
            updated_at: now,
        };
        let tx = self.tx().await?;
        let saved = store::plans::insert(tx, &row_out).await?;
        Ok(Outcome::Created(saved.id))
    }

    pub(super) async fn server(&mut self, row: &SeedRow) -> Result<Outcome, ImportError> {
        let id = id_of(row);
        let raw_name = text(row, "name").unwrap_or_default();
        let Ok(name) = server::name(raw_name) else {
            return Ok(Outcome::Skipped(format!(
                "'{raw_name}' is not a usable server name"
            )));
        };
        let tx = self.tx().await?;
        if let Some(existing) = store::servers::id_by_name(tx, &name).await? {
            return Ok(Outcome::Linked(
                existing,
                format!("a server called '{name}' is already here: linked, not changed"),
            ));
        }
        let raw_url = text(row, "base_url").unwrap_or_default();
        let Ok(url) = BaseUrl::parse(raw_url) else {
            return Ok(Outcome::Skipped(format!(
                "base_url '{raw_url}' is not an http(s) URL"
            )));
        };
        let (Some(key), Some(secret)) = (text(row, "api_key"), text(row, "api_secret")) else {
            return Ok(Outcome::Skipped(
                "the server has no API key or secret".into(),
            ));
        };
        let capacity = match text(row, "capacity").and_then(|c| c.parse::<i64>().ok()) {
            Some(c) if c >= 1 => c,
            _ => {
                self.converted(
                    "servers",
                    &id,
                    "capacity missing or below 1: set to 1".into(),
                );
                1
            }
        };
        let tags: Vec<String> = text(row, "tags")
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        let seal = |v: &str| {
            self.vault.seal(v).map_err(|e| {
                ImportError::Service(crate::service::ServiceError::Internal(e.to_string()))
            })
        };
        let now = store::now();
        let row_out = store::servers::ServerRow {
            id: 0,
            name,
            description: text(row, "description").map(str::to_owned),
            base_url: url.as_str().to_owned(),
            api_key_sealed: seal(key)?,
            api_secret_sealed: seal(secret)?,
            api_key_lookup: Some(self.vault.lookup_hash(key)),
            api_key_hint: server::mask_key(key),
            capacity,
            location: crate::domain::plan::placement("location", text(row, "location"))
                .ok()
                .flatten(),
            server_group: None,
            tags: serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()),
            is_active: text(row, "is_active").and_then(seed::flag).unwrap_or(true),
            // Not tested on the way in: the health monitor checks it within a minute.
            is_online: false,
            consecutive_failures: 0,
            consecutive_successes: 0,
            last_checked_at: None,
            last_latency_ms: None,
            last_error: None,
            version: None,
            extensions: "[]".into(),
            created_at: self.time("servers", row, "created_at").unwrap_or(now),
            updated_at: now,
            current_accounts: 0,
        };
        let tx = self.tx().await?;
        let saved = store::servers::insert(tx, &row_out).await?;
        Ok(Outcome::Created(saved))
    }

    pub(super) async fn license(&mut self, row: &SeedRow) -> Result<Outcome, ImportError> {
        let id = id_of(row);
        let Some(key) = text(row, "license_key").map(str::to_owned) else {
            return Ok(Outcome::Skipped("the license has no key".into()));
        };
        let user = text(row, "user_id").unwrap_or_default().to_owned();
        let Some(customer_id) = self.mapped("users", &user).await? else {
            return Ok(Outcome::Skipped(format!(
                "its user {user} was not imported"
            )));
        };
        let tx = self.tx().await?;
        let owner = store::users::find(tx, customer_id).await?;
        if owner.as_ref().is_none_or(|u| u.role != "customer") {
            return Ok(Outcome::Skipped(format!(
                "its user {user} is not a customer here"
            )));
        }
        if let Some(existing) = store::licenses::find_by_key(tx, &key).await? {
            return Ok(if existing.customer_id == customer_id {
                Outcome::Linked(
                    existing.id,
                    format!("license {key} is already here: linked, not changed"),
                )
            } else {
                Outcome::Skipped(format!(
                    "license key {key} belongs to another customer here"
                ))
            });
        }
        let plan_source = text(row, "plan_id").unwrap_or_default().to_owned();
        let Some(plan_id) = self.mapped("plans", &plan_source).await? else {
            return Ok(Outcome::Skipped(format!(
                "its plan {plan_source} was not imported"
            )));
        };
        let tx = self.tx().await?;
        let Some(plan) = store::plans::find(tx, plan_id).await? else {
            return Ok(Outcome::Skipped("its plan is gone".into()));
        };
        let raw_status = text(row, "status").unwrap_or("active");
        let status = match license::LicenseStatus::parse(&seed::status(raw_status)) {
            Some(s) => s,
            None => {
                self.converted(
                    "licenses",
                    &id,
                    format!("status '{raw_status}' is unknown: suspended"),
                );
                license::LicenseStatus::Suspended
            }
        };
        if key != key.trim() || license::LicenseKey::parse(&key).is_err() {
            self.converted(
                "licenses",
                &id,
                format!("key {key} is not in our format: kept exactly as it is (servers and customers use it)"),
            );
        }
        // The old system kept no cycle per license: monthly where the plan sells monthly.
        let cycle = if plan.price_monthly.is_some() {
            BillingCycle::Monthly
        } else {
            BillingCycle::Annual
        };
        let now = store::now();
        let created = self.time("licenses", row, "created_at").unwrap_or(now);
        let activated = self
            .time("licenses", row, "activation_date")
            .unwrap_or(created);
        let expires = match self.time("licenses", row, "expiry_date") {
            Some(t) => t,
            None => {
                let end = license::period_end(activated, cycle, 1)
                    .map_err(|e| ImportError::Service(e.into()))?;
                self.converted(
                    "licenses",
                    &id,
                    format!(
                        "no expiry date: one {} period from activation",
                        cycle.as_str()
                    ),
                );
                end
            }
        };
        let mut auto_renew = text(row, "auto_renew").and_then(seed::flag).unwrap_or(true);
        if self.ending.contains(&id) {
            auto_renew = false;
        }
        let quota = |run: &mut Self, column: &str, plan_value: i64| {
            run.quota("licenses", row, column).unwrap_or(plan_value)
        };
        let row_out = store::licenses::LicenseRow {
            id: 0,
            license_key: key,
            customer_id,
            plan_id,
            billing_cycle: cycle.as_str().to_owned(),
            status: status.as_str().to_owned(),
            max_accounts: quota(self, "max_accounts", plan.max_accounts),
            max_domains: quota(self, "max_domains", plan.max_domains),
            max_databases: quota(self, "max_databases", plan.max_databases),
            max_emails: quota(self, "max_emails", plan.max_emails),
            storage_mb: plan.storage_mb,
            bandwidth_mb: plan.bandwidth_mb,
            activated_at: activated,
            expires_at: expires,
            cancelled_at: (status == license::LicenseStatus::Cancelled)
                .then(|| self.time("licenses", row, "updated_at").unwrap_or(now)),
            auto_renew,
            created_at: created,
            updated_at: now,
        };
        let tx = self.tx().await?;
        let saved = store::licenses::insert(tx, &row_out).await?;
        Ok(Outcome::Created(saved.id))
    }

    pub(super) async fn account(&mut self, row: &SeedRow) -> Result<Outcome, ImportError> {
        let id = id_of(row);
        let user = text(row, "customer_id").unwrap_or_default().to_owned();
        let Some(customer_id) = self.mapped("users", &user).await? else {
            return Ok(Outcome::Skipped(format!(
                "its customer {user} was not imported"
            )));
        };
        let server_source = text(row, "server_id").unwrap_or_default().to_owned();
        let Some(server_id) = self.mapped("servers", &server_source).await? else {
            return Ok(Outcome::Skipped(format!(
                "its server {server_source} was not imported"
            )));
        };
        let username = text(row, "username").unwrap_or_default().to_owned();
        if username.is_empty() {
            return Ok(Outcome::Skipped("the account has no username".into()));
        }
        let panel_id = text(row, "nextpanel_user_id").map(str::to_owned);
        let tx = self.tx().await?;
        if let Some(existing) = store::hosting_accounts::find_by_username(tx, &username).await? {
            return Ok(if existing.server_id == Some(server_id) {
                Outcome::Linked(
                    existing.id,
                    format!("account {username} is already here: linked, not changed"),
                )
            } else {
                Outcome::Skipped(format!(
                    "username {username} is taken here by an account on another server"
                ))
            });
        }
        // The license naming this panel user, else the customer's newest active one, else
        // their newest of any status.
        let mine: Vec<&SeedRow> = self
            .licenses
            .iter()
            .rev()
            .filter(|l| text(l, "user_id") == Some(user.as_str()))
            .collect();
        let named = mine
            .iter()
            .filter(|l| panel_id.is_some() && text(l, "nextpanel_user_id") == panel_id.as_deref());
        let active = mine
            .iter()
            .filter(|l| seed::status(text(l, "status").unwrap_or("active")) == "active");
        let candidates: Vec<String> = named
            .chain(active)
            .chain(mine.iter())
            .filter_map(|l| text(l, "id").map(str::to_owned))
            .collect();
        let mut license_id = None;
        for candidate in candidates {
            if let Some(found) = self.mapped("licenses", &candidate).await? {
                license_id = Some(found);
                break;
            }
        }
        let Some(license_id) = license_id else {
            return Ok(Outcome::Skipped(format!(
                "no imported license of its customer to count it against (account {username})"
            )));
        };
        let deleted = text(row, "deleted_at").is_some();
        let raw_status = text(row, "status");
        let Some(state) = seed::account_state(raw_status, deleted) else {
            return Ok(Outcome::Skipped(format!(
                "status '{}' is unknown",
                raw_status.unwrap_or_default()
            )));
        };
        let now = store::now();
        let created = self.time("accounts", row, "created_at").unwrap_or(now);
        let row_out = store::hosting_accounts::AccountRow {
            id: 0,
            customer_id,
            license_id,
            server_id: Some(server_id),
            username,
            panel_account_id: panel_id,
            account_type: "panel".into(),
            state: state.to_owned(),
            failure_reason: None,
            created_at: created,
            updated_at: now,
            email: text(row, "email").map(str::to_owned),
            package_id: None,
            pinned_server: true,
            tried_servers: "[]".into(),
            idempotency_key: Some(format!("import:seed:account:{id}")),
            suspend_reason: (state == "suspended").then(|| {
                text(row, "suspension_reason")
                    .unwrap_or("imported as suspended")
                    .to_owned()
            }),
        };
        let tx = self.tx().await?;
        let saved = store::hosting_accounts::insert(tx, &row_out).await?;
        Ok(Outcome::Created(saved.id))
    }

    fn currency_of(&mut self, entity: &'static str, row: &SeedRow) -> Currency {
        match text(row, "currency").map(Currency::parse) {
            Some(Ok(c)) => c,
            Some(Err(_)) => {
                self.converted(
                    entity,
                    &id_of(row),
                    format!(
                        "currency '{}' is unknown: {}",
                        text(row, "currency").unwrap_or_default(),
                        self.options.currency.code()
                    ),
                );
                self.options.currency
            }
            None => self.options.currency,
        }
    }

    pub(super) async fn invoice(&mut self, row: &SeedRow) -> Result<Outcome, ImportError> {
        let user = text(row, "user_id").unwrap_or_default().to_owned();
        let Some(customer_id) = self.mapped("users", &user).await? else {
            return Ok(Outcome::Skipped(format!(
                "its customer {user} was not imported"
            )));
        };
        let Some(number) = text(row, "invoice_number").map(str::to_owned) else {
            return Ok(Outcome::Skipped("the invoice has no number".into()));
        };
        let currency = self.currency_of("invoices", row);
        let total = self.money("invoices", row, "total", currency).unwrap_or(0);
        let paid = self
            .money("invoices", row, "amount_paid", currency)
            .unwrap_or(0);
        let now = store::now();
        let row_out = store::imported_history::ImportedInvoiceRow {
            id: 0,
            customer_id,
            number,
            status: seed::status(text(row, "status").unwrap_or("open")),
            currency: currency.code().to_owned(),
            subtotal_minor: self
                .money("invoices", row, "subtotal", currency)
                .unwrap_or(total),
            tax_minor: self.money("invoices", row, "tax", currency).unwrap_or(0),
            total_minor: total,
            paid_minor: paid,
            due_minor: self
                .money("invoices", row, "amount_due", currency)
                .unwrap_or(total - paid),
            issued_at: self
                .time("invoices", row, "invoice_date")
                .or_else(|| seed::time(text(row, "created_at").unwrap_or_default())),
            due_at: self.time("invoices", row, "due_date"),
            paid_at: self.time("invoices", row, "paid_at"),
            items: text(row, "items").unwrap_or("[]").to_owned(),
            notes: text(row, "notes").map(str::to_owned),
            imported_at: now,
        };
        let tx = self.tx().await?;
        let saved = store::imported_history::insert_invoice(tx, &row_out).await?;
        Ok(Outcome::Created(saved))
    }

    pub(super) async fn payment(&mut self, row: &SeedRow) -> Result<Outcome, ImportError> {
        let user = text(row, "user_id").unwrap_or_default().to_owned();
        let Some(customer_id) = self.mapped("users", &user).await? else {
            return Ok(Outcome::Skipped(format!(
                "its customer {user} was not imported"
            )));
        };
        let currency = self.currency_of("payments", row);
        let Some(amount) = self.money("payments", row, "amount", currency) else {
            return Ok(Outcome::Skipped("the payment has no amount".into()));
        };
        let now = store::now();
        let row_out = store::imported_history::ImportedPaymentRow {
            id: 0,
            customer_id,
            amount_minor: amount,
            currency: currency.code().to_owned(),
            status: seed::status(text(row, "status").unwrap_or("pending")),
            method: text(row, "payment_method")
                .or_else(|| text(row, "gateway_type"))
                .map(seed::status),
            reference: text(row, "stripe_payment_intent_id")
                .or_else(|| text(row, "gateway_transaction_id"))
                .map(str::to_owned),
            description: text(row, "description").map(str::to_owned),
            failure_reason: text(row, "failure_reason").map(str::to_owned),
            created_at: self.time("payments", row, "created_at"),
            processed_at: self.time("payments", row, "processed_at"),
            imported_at: now,
        };
        let tx = self.tx().await?;
        let saved = store::imported_history::insert_payment(tx, &row_out).await?;
        Ok(Outcome::Created(saved))
    }
}
