//! Pure business types and rules: no I/O, no SQL, no HTTP.
//!
//! Input from outside becomes one of these types at the edge (`Email::parse`,
//! `Money::new`, ...), so everything after the edge can trust it.

pub mod autopay;
pub mod coupon;
pub mod customer;
pub mod document_number;
pub mod hosting;
pub mod invoice;
pub mod license;
pub mod license_check;
pub mod money;
pub mod plan;
pub mod plan_change;
pub mod quota;
pub mod reconcile;
pub mod role;
pub mod second_factor;
pub mod seed;
pub mod server;
pub mod tax;
pub mod text;

/// A rule an input broke: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// The name of the input field, as the client sent it.
    pub field: &'static str,
    /// A sentence a person can act on.
    pub message: String,
}

impl Invalid {
    /// Builds an `Invalid` for `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
