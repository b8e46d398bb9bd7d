//! Billing users of the operator (admins and staff), and the user view shared with customers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::{passwords, Actor, Paginated, ServiceError};
use crate::domain::customer::{self, Billing, Email, NewPassword};
use crate::domain::role::Role;
use crate::domain::Invalid;
use crate::store::users::{BillingRow, NewUser, UserFilter, UserRow};
use crate::store::{self, Db, Page};

/// A billing user as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// User id (for customers, the customer id).
    pub id: i64,
    /// Email, lower-cased.
    pub email: String,
    /// `admin`, `staff` or `customer`.
    pub role: Role,
    /// Full name.
    pub full_name: String,
    /// Company.
    pub company_name: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Deactivated users cannot log in.
    pub is_active: bool,
    /// Whether a password is set (customers created by an admin may have none yet).
    pub has_password: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Billing address and tax id (what invoices are addressed to).
    pub billing: Billing,
    /// The currency the customer is billed in (fixed by the first order).
    pub billing_currency: Option<String>,
}

/// The stored form of a checked billing address.
pub fn billing_row(b: &Billing) -> BillingRow {
    BillingRow {
        billing_address: b.address.clone(),
        billing_postal_code: b.postal_code.clone(),
        billing_region: b.region.clone(),
        billing_country: b.country.clone(),
        tax_id: b.tax_id.clone(),
    }
}

/// A stored billing address as the API shows it.
pub fn billing_view(b: &BillingRow) -> Billing {
    Billing {
        address: b.billing_address.clone(),
        postal_code: b.billing_postal_code.clone(),
        region: b.billing_region.clone(),
        country: b.billing_country.clone(),
        tax_id: b.tax_id.clone(),
    }
}

impl From<&UserRow> for User {
    fn from(row: &UserRow) -> Self {
        User {
            id: row.id,
            email: row.email.clone(),
            role: Role::parse(&row.role).unwrap_or(Role::Customer),
            full_name: row.full_name.clone(),
            company_name: row.company_name.clone(),
            phone: row.phone.clone(),
            is_active: row.is_active,
            has_password: row.password_hash.is_some(),
            created_at: row.created_at,
            updated_at: row.updated_at,
            billing: billing_view(&row.billing),
            billing_currency: row.billing_currency.clone(),
        }
    }
}

/// Body of `POST /api/v1/users`: a new admin or staff member.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaffUser {
    /// Login email.
    pub email: String,
    /// Full name.
    pub full_name: String,
    /// Password (10 to 128 characters).
    pub password: String,
    /// `admin` or `staff`.
    pub role: Role,
}

/// The validated fields of a user about to be created.
pub struct UserDraft {
    /// Email.
    pub email: Email,
    /// Role.
    pub role: Role,
    /// Full name.
    pub full_name: String,
    /// Company.
    pub company_name: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Password, if one is set now.
    pub password: Option<NewPassword>,
    /// Billing address and tax id (checked).
    pub billing: Billing,
    /// Whether the user may sign in (`false`: created deactivated).
    pub is_active: bool,
}

/// Inserts a user with its audit entry in one transaction; refuses a taken email with 409.
pub async fn insert_user(
    db: &Db,
    actor: &Actor,
    draft: UserDraft,
    action: &str,
) -> Result<UserRow, ServiceError> {
    let password_hash = match &draft.password {
        Some(p) => Some(passwords::hash(p.expose().to_owned()).await?),
        None => None,
    };
    let mut tx = db.begin().await?;
    if store::users::find_by_email(&mut tx, draft.email.as_str())
        .await?
        .is_some()
    {
        return Err(email_taken());
    }
    let now = store::now();
    let row = store::users::insert(
        &mut tx,
        &NewUser {
            email: draft.email.as_str(),
            password_hash: password_hash.as_deref(),
            role: draft.role.as_str(),
            full_name: &draft.full_name,
            company_name: draft.company_name.as_deref(),
            phone: draft.phone.as_deref(),
            billing: &billing_row(&draft.billing),
            is_active: draft.is_active,
            now,
        },
    )
    .await?;
    let view = User::from(&row);
    audit::record(
        &mut tx,
        actor,
        Change::<(), _> {
            action,
            entity_type: "user",
            entity_id: Some(row.id),
            before: None,
            after: Some(&view),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// The 409 for an email that belongs to someone else.
pub fn email_taken() -> ServiceError {
    ServiceError::Conflict {
        field: Some("email".to_owned()),
        message: "a user with this email already exists".to_owned(),
    }
}

/// Creates an admin or staff user (admin only).
pub async fn create_staff(
    db: &Db,
    actor: &Actor,
    body: NewStaffUser,
) -> Result<User, ServiceError> {
    actor.require_admin()?;
    if body.role == Role::Customer {
        return Err(Invalid::new(
            "role",
            "must be admin or staff; create customers with POST /api/v1/customers",
        )
        .into());
    }
    let draft = UserDraft {
        email: Email::parse(&body.email)?,
        role: body.role,
        full_name: customer::full_name(&body.full_name)?,
        company_name: None,
        phone: None,
        password: Some(NewPassword::parse("password", &body.password)?),
        billing: Billing::default(),
        is_active: true,
    };
    let row = insert_user(db, actor, draft, "user.created").await?;
    Ok(User::from(&row))
}

/// Lists admins and staff (admin only).
pub async fn list_staff(
    db: &Db,
    actor: &Actor,
    page: Page,
) -> Result<Paginated<User>, ServiceError> {
    actor.require_admin()?;
    let mut conn = db.read().await?;
    let filter = UserFilter {
        roles: &["admin", "staff"],
        search: None,
        include_inactive: true,
    };
    let listed = store::users::list(&mut conn, &filter, page).await?;
    Ok(Paginated::of(page, listed, |r| User::from(&r)))
}

/// Creates the first admin when the database has none. Returns the generated password
/// when none was given, so the caller can show it once.
pub async fn ensure_admin(
    db: &Db,
    email: &str,
    password: Option<&str>,
) -> Result<Option<SeededAdmin>, ServiceError> {
    let mut conn = db.conn().await?;
    if store::users::admin_exists(&mut conn).await? {
        return Ok(None);
    }
    drop(conn);
    create_admin(db, email, password).await.map(Some)
}

/// Creates an admin directly (first start, `nextpanel-bill admin create`); a random
/// password is generated when none is given.
pub async fn create_admin(
    db: &Db,
    email: &str,
    password: Option<&str>,
) -> Result<SeededAdmin, ServiceError> {
    let (password, generated) = match password {
        Some(p) => (p.to_owned(), false),
        None => (generate_password()?, true),
    };
    let draft = UserDraft {
        email: Email::parse(email).map_err(|e| Invalid::new("admin_email", e.message))?,
        role: Role::Admin,
        full_name: "Administrator".to_owned(),
        company_name: None,
        phone: None,
        password: Some(NewPassword::parse("admin_password", &password)?),
        billing: Billing::default(),
        is_active: true,
    };
    let row = insert_user(db, &Actor::system(), draft, "user.seeded").await?;
    Ok(SeededAdmin {
        email: row.email,
        generated_password: generated.then_some(password),
    })
}

/// The admin created on first start.
#[derive(Debug)]
pub struct SeededAdmin {
    /// Its email.
    pub email: String,
    /// The random password, when it was generated (shown once, never stored in clear).
    pub generated_password: Option<String>,
}

/// A random 20-character password from an unambiguous alphabet (about 115 bits).
pub fn generate_password() -> Result<String, ServiceError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        let bytes: [u8; 32] = super::random_bytes()?;
        for b in bytes {
            // Rejection sampling keeps every character equally likely.
            let limit = 256 - (256 % ALPHABET.len());
            if usize::from(b) < limit && out.len() < 20 {
                out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}
