//! The `users` table: admins, staff and customers.

use chrono::{DateTime, Utc};

use super::{on_conn, AsConn, Filters, Listed, Page, StoreError, Tx};

/// A row of `users`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    /// Primary key.
    pub id: i64,
    /// Lower-cased email, unique.
    pub email: String,
    /// Argon2id PHC string; `None` when no password was set.
    pub password_hash: Option<String>,
    /// `admin`, `staff` or `customer`.
    pub role: String,
    /// Full name.
    pub full_name: String,
    /// Company, if any.
    pub company_name: Option<String>,
    /// Phone, if any.
    pub phone: Option<String>,
    /// Deactivated users cannot log in.
    pub is_active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Where invoices are addressed.
    #[sqlx(flatten)]
    pub billing: BillingRow,
    /// The currency the customer is billed in, once fixed.
    pub billing_currency: Option<String>,
}

/// A customer's billing address and tax id, as invoices print them.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct BillingRow {
    /// Street, city: the lines above the postal code.
    pub billing_address: Option<String>,
    /// Postal code.
    pub billing_postal_code: Option<String>,
    /// State, province or region.
    pub billing_region: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub billing_country: Option<String>,
    /// VAT number or other tax id, normalised.
    pub tax_id: Option<String>,
}

/// Fields of a new user.
pub struct NewUser<'a> {
    /// Lower-cased email.
    pub email: &'a str,
    /// Argon2id hash, if a password was given.
    pub password_hash: Option<&'a str>,
    /// Role name.
    pub role: &'a str,
    /// Full name.
    pub full_name: &'a str,
    /// Company.
    pub company_name: Option<&'a str>,
    /// Phone.
    pub phone: Option<&'a str>,
    /// Billing address and tax id.
    pub billing: &'a BillingRow,
    /// Whether the user may sign in.
    pub is_active: bool,
    /// Creation time.
    pub now: DateTime<Utc>,
}

const COLUMNS: &str = "id, email, password_hash, role, full_name, company_name, phone, is_active, created_at, updated_at, \
    billing_address, billing_postal_code, billing_region, billing_country, tax_id, billing_currency";

/// Inserts a user and returns the row.
pub async fn insert(tx: &mut Tx, user: &NewUser<'_>) -> Result<UserRow, StoreError> {
    let sql = format!(
        "INSERT INTO users (email, password_hash, role, full_name, company_name, phone, is_active, created_at, updated_at, \
         billing_address, billing_postal_code, billing_region, billing_country, tax_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $13, $7, $7, $8, $9, $10, $11, $12) RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, UserRow>(&sql)
        .bind(user.email)
        .bind(user.password_hash)
        .bind(user.role)
        .bind(user.full_name)
        .bind(user.company_name)
        .bind(user.phone)
        .bind(user.now)
        .bind(&user.billing.billing_address)
        .bind(&user.billing.billing_postal_code)
        .bind(&user.billing.billing_region)
        .bind(&user.billing.billing_country)
        .bind(&user.billing.tax_id)
        .bind(user.is_active)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// Writes every editable field of `user` back.
pub async fn update(tx: &mut Tx, user: &UserRow) -> Result<UserRow, StoreError> {
    let sql = format!(
        "UPDATE users SET email = $2, password_hash = $3, full_name = $4, company_name = $5, phone = $6, \
         is_active = $7, updated_at = $8, billing_address = $9, billing_postal_code = $10, billing_region = $11, \
         billing_country = $12, tax_id = $13, billing_currency = $14 WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row = on_conn!(tx, |c| sqlx::query_as::<_, UserRow>(&sql)
        .bind(user.id)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(&user.full_name)
        .bind(&user.company_name)
        .bind(&user.phone)
        .bind(user.is_active)
        .bind(user.updated_at)
        .bind(&user.billing.billing_address)
        .bind(&user.billing.billing_postal_code)
        .bind(&user.billing.billing_region)
        .bind(&user.billing.billing_country)
        .bind(&user.billing.tax_id)
        .bind(&user.billing_currency)
        .fetch_one(c)
        .await)?;
    Ok(row)
}

/// Finds a user by id.
pub async fn find(conn: &mut impl AsConn, id: i64) -> Result<Option<UserRow>, StoreError> {
    super::find_row(conn, "users", COLUMNS, id, None).await
}

/// Finds a user with `role` by id: the owner-scoped lookup that makes "not a customer" look like "missing".
pub async fn find_with_role(
    conn: &mut impl AsConn,
    id: i64,
    role: &str,
) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1 AND role = $2");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, UserRow>(&sql)
        .bind(id)
        .bind(role)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// Finds a user by (lower-cased) email.
pub async fn find_by_email(
    conn: &mut impl AsConn,
    email: &str,
) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    let row = on_conn!(conn, |c| sqlx::query_as::<_, UserRow>(&sql)
        .bind(email)
        .fetch_optional(c)
        .await)?;
    Ok(row)
}

/// Whether at least one active admin exists.
pub async fn admin_exists(conn: &mut impl AsConn) -> Result<bool, StoreError> {
    let found: Option<i64> = on_conn!(conn, |c| sqlx::query_scalar(
        "SELECT id FROM users WHERE role = 'admin' AND is_active = TRUE LIMIT 1"
    )
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}

/// Filters for listing users.
pub struct UserFilter<'a> {
    /// Only users of these roles.
    pub roles: &'a [&'a str],
    /// Case-insensitive substring of email, name or company.
    pub search: Option<&'a str>,
    /// Include deactivated users.
    pub include_inactive: bool,
}

/// Lists users matching `filter`, newest first.
pub async fn list(
    conn: &mut impl AsConn,
    filter: &UserFilter<'_>,
    page: Page,
) -> Result<Listed<UserRow>, StoreError> {
    let pattern = filter.search.map(super::like_pattern);
    // Roles are a closed set from our own code, so they go into the SQL as literals.
    let roles = filter
        .roles
        .iter()
        .map(|r| format!("'{}'", r.replace('\'', "")))
        .collect::<Vec<_>>()
        .join(", ");
    let mut filters = Filters::new().term(format!("role IN ({roles})"));
    if !filter.include_inactive {
        filters = filters.term("is_active = TRUE");
    }
    if let Some(pattern) = pattern.as_deref() {
        let p = filters.bind(pattern);
        filters = filters.search(format!(
            "(LOWER(email) LIKE {p} ESCAPE '\\' OR LOWER(full_name) LIKE {p} ESCAPE '\\' \
             OR LOWER(COALESCE(company_name, '')) LIKE {p} ESCAPE '\\')"
        ));
    }
    super::list_page(conn, "users", COLUMNS, filters, page).await
}

/// The users with these ids, in no particular order (absent ids are left out).
pub async fn find_many(conn: &mut impl AsConn, ids: &[i64]) -> Result<Vec<UserRow>, StoreError> {
    super::rows_in(conn, "users", COLUMNS, "id", ids, "").await
}

/// Names and emails of the users with these ids (for lists that show who, not only an id).
pub async fn labels(
    conn: &mut impl AsConn,
    ids: &[i64],
) -> Result<Vec<(i64, String, String)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, full_name, email FROM users WHERE id IN ({})",
        super::placeholders(ids.len())
    );
    let rows = on_conn!(conn, |c| {
        let mut q = sqlx::query_as::<_, (i64, String, String)>(&sql);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(c).await
    })?;
    Ok(rows)
}

/// Fixes the currency a customer is billed in, unless it is fixed already.
pub async fn fix_billing_currency(tx: &mut Tx, id: i64, currency: &str) -> Result<(), StoreError> {
    on_conn!(tx, |c| sqlx::query(
        "UPDATE users SET billing_currency = $2 WHERE id = $1 AND billing_currency IS NULL"
    )
    .bind(id)
    .bind(currency)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Replaces a password hash that is still `expected` (an imported bcrypt hash upgraded at
/// sign-in); `false` when it changed meanwhile (a password change won the race).
pub async fn upgrade_password_hash(
    conn: &mut impl AsConn,
    id: i64,
    expected: &str,
    new_hash: &str,
) -> Result<bool, StoreError> {
    let n = on_conn!(conn, |c| {
        sqlx::query("UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2")
            .bind(id)
            .bind(expected)
            .bind(new_hash)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}
