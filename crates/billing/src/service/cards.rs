//! Saved cards: a customer's Stripe Customer, the one card renewals are charged to,
//! adding or replacing it (setup-mode Checkout), removing it, and turning automatic
//! payment off and on. We store Stripe's ids and what identifies the card to a person
//! (brand, last four digits, expiry), never the card itself.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::audit::{self, Change};
use super::{Actor, ServiceError};
use crate::config::Settings;
use crate::payments::stripe_client::{self, SetupRequest, StripeClient};
use crate::store::autopay::SavedCardRow;
use crate::store::users::UserRow;
use crate::store::{self, Db, Tx};

/// A saved card as customers and admins see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Card {
    /// `visa`, `mastercard`, ...
    pub brand: String,
    /// The last four digits.
    pub last4: String,
    /// Expiry month, 1 to 12.
    pub exp_month: i64,
    /// Expiry year.
    pub exp_year: i64,
    /// When it was saved.
    pub saved_at: chrono::DateTime<chrono::Utc>,
}

/// How a customer pays renewals.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentSetup {
    /// The customer.
    pub customer_id: i64,
    /// The saved card, if any.
    pub card: Option<Card>,
    /// Whether renewals are charged to the card by themselves.
    pub autopay: bool,
    /// Something the customer should know, e.g. that the next renewal needs a click.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Where to save a card.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardCheckout {
    /// Stripe's page to enter the card on: send the customer there.
    pub url: String,
    /// The Checkout Session id.
    pub session_id: String,
}

/// Body of `PUT /api/v1/me/autopay`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutopaySwitch {
    /// `true`: charge renewals to the saved card on their due date.
    pub enabled: bool,
}

impl From<&SavedCardRow> for Card {
    fn from(c: &SavedCardRow) -> Self {
        Card {
            brand: c.brand.clone(),
            last4: c.last4.clone(),
            exp_month: c.exp_month,
            exp_year: c.exp_year,
            saved_at: c.saved_at,
        }
    }
}

/// A Stripe client, or 503 when card payments are not configured here.
pub(crate) fn stripe(settings: &Settings) -> Result<StripeClient, ServiceError> {
    let Some(secret_key) = settings.stripe.secret_key.clone() else {
        return Err(ServiceError::Unavailable(
            "card payments are not configured here (stripe_secret_key); ask the provider how to pay",
        ));
    };
    StripeClient::new(&settings.stripe.api_base, secret_key)
        .map_err(|e| ServiceError::PaymentProvider(e.to_string()))
}

/// The customer's Stripe Customer, created on first use (with an idempotency key, so
/// racing requests end up with one).
pub(crate) async fn stripe_customer(
    db: &Db,
    client: &StripeClient,
    customer: &UserRow,
) -> Result<String, ServiceError> {
    let mut conn = db.conn().await?;
    if let Some((Some(id), _)) = store::autopay::billing_profile(&mut conn, customer.id).await? {
        return Ok(id);
    }
    drop(conn);
    let created = client
        .create_customer(customer.id, &customer.email, &customer.full_name)
        .await
        .map_err(provider)?;
    let mut conn = db.conn().await?;
    store::autopay::set_stripe_customer(&mut conn, customer.id, &created)
        .await?
        .ok_or(ServiceError::NotFound("customer"))
}

pub(crate) fn provider(e: stripe_client::StripeError) -> ServiceError {
    ServiceError::PaymentProvider(e.to_string())
}

/// How `customer_id` pays (the customer themself, or staff and admins).
pub async fn setup_of(
    db: &Db,
    actor: &Actor,
    customer_id: i64,
) -> Result<PaymentSetup, ServiceError> {
    if actor.user_id != Some(customer_id) {
        actor.require_staff()?;
    }
    let mut conn = db.conn().await?;
    super::customers::load(&mut conn, customer_id).await?;
    setup_view(&mut conn, customer_id, None).await
}

async fn setup_view(
    conn: &mut impl store::AsConn,
    customer_id: i64,
    warning: Option<String>,
) -> Result<PaymentSetup, ServiceError> {
    let (_, autopay) = store::autopay::billing_profile(conn, customer_id)
        .await?
        .ok_or(ServiceError::NotFound("customer"))?;
    let card = store::autopay::card(conn, customer_id).await?;
    Ok(PaymentSetup {
        customer_id,
        card: card.as_ref().map(Card::from),
        autopay,
        warning,
    })
}

fn me(actor: &Actor) -> Result<i64, ServiceError> {
    actor.user_id.ok_or(ServiceError::NotFound("customer"))
}

/// A setup-mode Checkout page where the caller adds or replaces their card.
pub async fn checkout(
    db: &Db,
    settings: &Settings,
    actor: &Actor,
) -> Result<CardCheckout, ServiceError> {
    let id = me(actor)?;
    let client = stripe(settings)?;
    let mut conn = db.conn().await?;
    let customer = super::customers::load(&mut conn, id).await?;
    let currency = store::autopay::usual_currency(&mut conn, id)
        .await?
        .unwrap_or_else(|| "USD".to_owned());
    drop(conn);
    let stripe_customer = stripe_customer(db, &client, &customer).await?;
    let back = format!("{}/ui/#/my/payment", settings.public_url);
    let now = store::now();
    let session = client
        .create_setup_session(&SetupRequest {
            customer_id: id,
            stripe_customer,
            currency,
            success_url: format!("{back}?saved=1"),
            cancel_url: back,
            // Clicks racing each other within the hour get one session.
            idempotency_key: format!("nextpanel-bill-card-{id}-{}", now.timestamp() / 3_600),
        })
        .await
        .map_err(provider)?;
    Ok(CardCheckout {
        url: session.url,
        session_id: session.id,
    })
}

/// Removes the caller's card (detached at Stripe first, so it can no longer be charged).
pub async fn remove(
    db: &Db,
    settings: &Settings,
    actor: &Actor,
) -> Result<PaymentSetup, ServiceError> {
    let id = me(actor)?;
    let mut conn = db.conn().await?;
    super::customers::load(&mut conn, id).await?;
    let Some(card) = store::autopay::card(&mut conn, id).await? else {
        return Err(ServiceError::NotFound("saved card"));
    };
    drop(conn);
    stripe(settings)?
        .detach_payment_method(&card.payment_method_id)
        .await
        .map_err(provider)?;
    let mut tx = db.begin().await?;
    store::autopay::remove_card(&mut tx, id).await?;
    record(
        &mut tx,
        actor,
        id,
        "card.removed",
        Some(&Card::from(&card)),
        None,
    )
    .await?;
    let (_, autopay) = store::autopay::billing_profile(&mut tx, id)
        .await?
        .ok_or(ServiceError::NotFound("customer"))?;
    let warning = autopay.then(|| {
        "automatic payment is on but no card is saved: the next renewal will need you to pay it by hand \
         (or save a new card)"
            .to_owned()
    });
    let view = setup_view(&mut tx, id, warning).await?;
    tx.commit().await?;
    Ok(view)
}

/// Turns automatic payment of renewals on or off for the caller.
pub async fn set_autopay(
    db: &Db,
    actor: &Actor,
    body: AutopaySwitch,
) -> Result<PaymentSetup, ServiceError> {
    let id = me(actor)?;
    let mut tx = db.begin().await?;
    super::customers::load(&mut tx, id).await?;
    store::autopay::set_autopay(&mut tx, id, body.enabled).await?;
    audit::record(
        &mut tx,
        actor,
        Change::<(), _> {
            action: if body.enabled {
                "autopay.on"
            } else {
                "autopay.off"
            },
            entity_type: "customer",
            entity_id: Some(id),
            before: None,
            after: Some(&json!({ "autopay": body.enabled })),
        },
    )
    .await?;
    let warning = (body.enabled && store::autopay::card(&mut tx, id).await?.is_none())
        .then(|| "no card is saved yet: save one so renewals can be charged to it".to_owned());
    let view = setup_view(&mut tx, id, warning).await?;
    tx.commit().await?;
    Ok(view)
}

/// Saves `pm` as the card of `customer_id` if Stripe has it attached to their Stripe
/// Customer (so nobody can make us charge someone else's card), and starts the
/// automatic-charge schedule of their open renewals over. `false` when it is not a card
/// of theirs.
pub(crate) async fn store_card(
    tx: &mut Tx,
    actor: &Actor,
    customer_id: i64,
    pm: &stripe_client::PaymentMethod,
) -> Result<bool, ServiceError> {
    let Some((Some(stripe_customer), _)) = store::autopay::billing_profile(tx, customer_id).await?
    else {
        return Ok(false);
    };
    let (Some(card), Some(owner)) = (&pm.card, &pm.customer) else {
        return Ok(false);
    };
    if *owner != stripe_customer {
        tracing::warn!(
            customer = customer_id,
            "a payment method of another Stripe customer was not saved"
        );
        return Ok(false);
    }
    let before = store::autopay::card(tx, customer_id).await?;
    if before
        .as_ref()
        .is_some_and(|b| b.payment_method_id == pm.id)
    {
        return Ok(true);
    }
    let row = SavedCardRow {
        customer_id,
        payment_method_id: pm.id.clone(),
        brand: card.brand.clone(),
        last4: card.last4.clone(),
        exp_month: card.exp_month,
        exp_year: card.exp_year,
        saved_at: store::now(),
        expiry_reminded_for: None,
    };
    store::autopay::save_card(tx, &row).await?;
    store::autopay::restart_schedules(tx, customer_id).await?;
    record(
        tx,
        actor,
        customer_id,
        "card.saved",
        before.as_ref().map(Card::from).as_ref(),
        Some(&Card::from(&row)),
    )
    .await?;
    Ok(true)
}

async fn record(
    tx: &mut Tx,
    actor: &Actor,
    customer_id: i64,
    action: &str,
    before: Option<&Card>,
    after: Option<&Card>,
) -> Result<(), ServiceError> {
    audit::record(
        tx,
        actor,
        Change {
            action,
            entity_type: "customer",
            entity_id: Some(customer_id),
            before,
            after,
        },
    )
    .await
}
