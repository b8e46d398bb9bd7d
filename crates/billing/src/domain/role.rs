//! Who may do what: the three roles of nextpanel-bill.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The role of a billing user or API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Full control over everything.
    Admin,
    /// Reads admin data, changes nothing.
    Staff,
    /// A hosting customer: sees only their own data.
    Customer,
}

impl Role {
    /// The name stored in the database and shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Customer => "customer",
        }
    }

    /// Parses the stored name.
    pub fn parse(raw: &str) -> Option<Role> {
        match raw {
            "admin" => Some(Role::Admin),
            "staff" => Some(Role::Staff),
            "customer" => Some(Role::Customer),
            _ => None,
        }
    }

    /// Whether this role may read admin data (customers, licenses, audit log).
    pub fn can_read_admin_data(self) -> bool {
        matches!(self, Role::Admin | Role::Staff)
    }

    /// Whether this role may change admin data.
    pub fn can_write_admin_data(self) -> bool {
        self == Role::Admin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_permissions() {
        for role in [Role::Admin, Role::Staff, Role::Customer] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert!(Role::Staff.can_read_admin_data());
        assert!(!Role::Staff.can_write_admin_data());
        assert!(!Role::Customer.can_read_admin_data());
        assert_eq!(Role::parse("root"), None);
    }
}
