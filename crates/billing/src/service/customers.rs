//! Customers: the admin's view (create, list, update, deactivate) and the customer's own profile.

use serde::Deserialize;
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::users::{email_taken, insert_user, User, UserDraft};
use super::{nullable, passwords, Actor, Paginated, ServiceError};
use crate::domain::customer::{self, Billing, Email, NewPassword};
use crate::domain::money::Currency;
use crate::domain::role::Role;
use crate::domain::Invalid;
use crate::store::users::{UserFilter, UserRow};
use crate::store::{self, AsConn, Db, Page};

/// Body of `POST /api/v1/customers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// Login and contact email.
    pub email: String,
    /// Full name.
    pub full_name: String,
    /// Company.
    pub company_name: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Password for the billing portal; without one the customer cannot log in yet.
    pub password: Option<String>,
    /// Billing address and tax id.
    #[serde(default)]
    pub billing: Option<Billing>,
    /// `false` creates the customer deactivated (cannot sign in until activated); default
    /// `true`. The older billing system's scripts send it.
    pub is_active: Option<bool>,
}

/// Body of `PATCH /api/v1/customers/{id}`: only the fields present change; `null` clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    /// New email.
    pub email: Option<String>,
    /// New full name.
    pub full_name: Option<String>,
    /// New company (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub company_name: Option<Option<String>>,
    /// New phone (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// New password (ends every session of the customer).
    pub password: Option<String>,
    /// New billing address and tax id, replacing the whole block.
    pub billing: Option<Billing>,
    /// The currency the customer is billed in from now on (ISO-4217).
    pub billing_currency: Option<String>,
}

/// Body of `PATCH /api/v1/me`: a customer's own changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// New full name.
    pub full_name: Option<String>,
    /// New company (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub company_name: Option<Option<String>>,
    /// New phone (`null` clears).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// New password; needs `current_password`.
    pub new_password: Option<String>,
    /// The current password, required to set a new one.
    pub current_password: Option<String>,
    /// New billing address and tax id, replacing the whole block.
    pub billing: Option<Billing>,
}

/// Creates a customer (admin only).
pub async fn create(db: &Db, actor: &Actor, body: NewCustomer) -> Result<User, ServiceError> {
    actor.require_admin()?;
    let draft = UserDraft {
        email: Email::parse(&body.email)?,
        role: Role::Customer,
        full_name: customer::full_name(&body.full_name)?,
        company_name: customer::company_name(body.company_name.as_deref())?,
        phone: customer::phone(body.phone.as_deref())?,
        password: body
            .password
            .as_deref()
            .map(|p| NewPassword::parse("password", p))
            .transpose()?,
        billing: body.billing.unwrap_or_default().checked()?,
        is_active: body.is_active.unwrap_or(true),
    };
    let row = insert_user(db, actor, draft, "customer.created").await?;
    Ok(User::from(&row))
}

/// Lists customers with an optional search over email, name and company (admin and staff).
pub async fn list(
    db: &Db,
    actor: &Actor,
    search: Option<&str>,
    include_inactive: bool,
    page: Page,
) -> Result<Paginated<User>, ServiceError> {
    actor.require_staff()?;
    if let Some(s) = search {
        crate::domain::text::bounded("search", s, 0, 200)?;
    }
    let mut conn = db.read().await?;
    let filter = UserFilter {
        roles: &["customer"],
        search: search.map(str::trim).filter(|s| !s.is_empty()),
        include_inactive,
    };
    let listed = store::users::list(&mut conn, &filter, page).await?;
    Ok(Paginated::of(page, listed, |r| User::from(&r)))
}

/// Loads a customer by id, or "customer not found".
pub async fn load(conn: &mut impl AsConn, id: i64) -> Result<UserRow, ServiceError> {
    store::users::find_with_role(conn, id, Role::Customer.as_str())
        .await?
        .ok_or(ServiceError::NotFound("customer"))
}

/// One customer (admin and staff).
pub async fn get(db: &Db, actor: &Actor, id: i64) -> Result<User, ServiceError> {
    actor.require_staff()?;
    let mut conn = db.conn().await?;
    Ok(User::from(&load(&mut conn, id).await?))
}

/// Applies an admin's changes to a customer.
pub async fn update(
    db: &Db,
    actor: &Actor,
    id: i64,
    patch: CustomerPatch,
) -> Result<User, ServiceError> {
    actor.require_admin()?;
    let email = patch.email.as_deref().map(Email::parse).transpose()?;
    let full_name = patch
        .full_name
        .as_deref()
        .map(customer::full_name)
        .transpose()?;
    let company = patch
        .company_name
        .map(|c| customer::company_name(c.as_deref()))
        .transpose()?;
    let phone = patch
        .phone
        .map(|p| customer::phone(p.as_deref()))
        .transpose()?;
    let password = patch
        .password
        .as_deref()
        .map(|p| NewPassword::parse("password", p))
        .transpose()?;
    let billing = patch.billing.map(Billing::checked).transpose()?;
    let billing_currency = patch
        .billing_currency
        .as_deref()
        .map(|c| {
            Currency::parse(c)
                .map(|c| c.code().to_owned())
                .map_err(|e| Invalid::new("billing_currency", e.message))
        })
        .transpose()?;
    let password_hash = match password {
        Some(p) => Some(passwords::hash(p.expose().to_owned()).await?),
        None => None,
    };
    let mut tx = db.begin().await?;
    let before = load(&mut tx, id).await?;
    let mut after = before.clone();
    if let Some(email) = email {
        if email.as_str() != before.email {
            if store::users::find_by_email(&mut tx, email.as_str())
                .await?
                .is_some()
            {
                return Err(email_taken());
            }
            after.email = email.into_string();
        }
    }
    if let Some(c) = billing_currency {
        after.billing_currency = Some(c);
    }
    let fields = ProfileFields {
        full_name,
        company,
        phone,
        password_hash,
        billing,
    };
    let view = save_profile(&mut tx, actor, &before, after, fields, "customer.updated").await?;
    tx.commit().await?;
    Ok(view)
}

/// Validated profile changes; `None` leaves a field as it is.
struct ProfileFields {
    full_name: Option<String>,
    company: Option<Option<String>>,
    phone: Option<Option<String>>,
    password_hash: Option<String>,
    billing: Option<Billing>,
}

/// Applies profile changes to `after` and writes it with its audit entry. A new password
/// ends every session of the user, the caller's too: whoever knew the old one is locked out.
async fn save_profile(
    tx: &mut store::Tx,
    actor: &Actor,
    before: &UserRow,
    mut after: UserRow,
    fields: ProfileFields,
    action: &str,
) -> Result<User, ServiceError> {
    if let Some(name) = fields.full_name {
        after.full_name = name;
    }
    if let Some(company) = fields.company {
        after.company_name = company;
    }
    if let Some(phone) = fields.phone {
        after.phone = phone;
    }
    if let Some(billing) = &fields.billing {
        after.billing = super::users::billing_row(billing);
    }
    let now = store::now();
    if let Some(hash) = fields.password_hash {
        after.password_hash = Some(hash);
        store::sessions::revoke_all_for_user(tx, before.id, now).await?;
    }
    after.updated_at = now;
    let saved = store::users::update(tx, &after).await?;
    let (before_view, after_view) = (User::from(before), User::from(&saved));
    audit::record(
        tx,
        actor,
        Change {
            action,
            entity_type: "user",
            entity_id: Some(before.id),
            before: Some(&before_view),
            after: Some(&after_view),
        },
    )
    .await?;
    Ok(after_view)
}

/// Deactivates or reactivates a customer; deactivation ends every session.
pub async fn set_active(
    db: &Db,
    actor: &Actor,
    id: i64,
    active: bool,
) -> Result<User, ServiceError> {
    actor.require_admin()?;
    let mut tx = db.begin().await?;
    let before = load(&mut tx, id).await?;
    if before.is_active == active {
        return Ok(User::from(&before));
    }
    let now = store::now();
    let mut after = before.clone();
    after.is_active = active;
    after.updated_at = now;
    let saved = store::users::update(&mut tx, &after).await?;
    if !active {
        store::sessions::revoke_all_for_user(&mut tx, id, now).await?;
    }
    let action = if active {
        "customer.activated"
    } else {
        "customer.deactivated"
    };
    let (before_view, after_view) = (User::from(&before), User::from(&saved));
    audit::record(
        &mut tx,
        actor,
        Change {
            action,
            entity_type: "user",
            entity_id: Some(id),
            before: Some(&before_view),
            after: Some(&after_view),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after_view)
}

/// The caller's own profile.
pub async fn me(db: &Db, actor: &Actor) -> Result<User, ServiceError> {
    let id = actor.user_id.ok_or(ServiceError::NotFound("user"))?;
    let mut conn = db.conn().await?;
    let row = store::users::find(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    Ok(User::from(&row))
}

/// Applies the caller's changes to their own profile.
pub async fn update_me(db: &Db, actor: &Actor, patch: ProfilePatch) -> Result<User, ServiceError> {
    let id = actor.user_id.ok_or(ServiceError::NotFound("user"))?;
    let full_name = patch
        .full_name
        .as_deref()
        .map(customer::full_name)
        .transpose()?;
    let company = patch
        .company_name
        .map(|c| customer::company_name(c.as_deref()))
        .transpose()?;
    let phone = patch
        .phone
        .map(|p| customer::phone(p.as_deref()))
        .transpose()?;
    let new_password = patch
        .new_password
        .as_deref()
        .map(|p| NewPassword::parse("new_password", p))
        .transpose()?;
    let billing = patch.billing.map(Billing::checked).transpose()?;
    let mut conn = db.conn().await?;
    let before = store::users::find(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    drop(conn);
    let new_hash = match new_password {
        Some(p) => {
            let current = patch.current_password.ok_or_else(|| {
                Invalid::new("current_password", "is required to set a new password")
            })?;
            if !passwords::verify(current, before.password_hash.clone()).await? {
                return Err(
                    Invalid::new("current_password", "is not your current password").into(),
                );
            }
            Some(passwords::hash(p.expose().to_owned()).await?)
        }
        None => None,
    };
    let mut tx = db.begin().await?;
    let current = store::users::find(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    let fields = ProfileFields {
        full_name,
        company,
        phone,
        password_hash: new_hash,
        billing,
    };
    let view = save_profile(&mut tx, actor, &before, current, fields, "profile.updated").await?;
    tx.commit().await?;
    Ok(view)
}

/// A customer with their hosting accounts.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct CustomerDetail {
    /// The customer.
    #[serde(flatten)]
    pub customer: User,
    /// Their hosting accounts, newest first (up to 200).
    pub accounts: Vec<super::accounts::HostingAccount>,
}

/// One customer with their hosting accounts (admin and staff).
pub async fn detail(db: &Db, actor: &Actor, id: i64) -> Result<CustomerDetail, ServiceError> {
    let customer = get(db, actor, id).await?;
    let accounts = super::accounts::list_for_customer(db, id, Page::first(200))
        .await?
        .items;
    Ok(CustomerDetail { customer, accounts })
}
