//! Hosting plans: billing cycles, prices, quotas and the kind of account they create.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::money::{Currency, Money};
use super::{text, Invalid};

/// How often a license is billed and how long one period lasts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum BillingCycle {
    /// One month.
    Monthly,
    /// Three months.
    Quarterly,
    /// Six months.
    Semiannual,
    /// Twelve months.
    Annual,
}

impl BillingCycle {
    /// Every cycle, in display order.
    pub const ALL: [BillingCycle; 4] = [
        BillingCycle::Monthly,
        BillingCycle::Quarterly,
        BillingCycle::Semiannual,
        BillingCycle::Annual,
    ];

    /// Length of one period in calendar months.
    pub fn months(self) -> u32 {
        match self {
            BillingCycle::Monthly => 1,
            BillingCycle::Quarterly => 3,
            BillingCycle::Semiannual => 6,
            BillingCycle::Annual => 12,
        }
    }

    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            BillingCycle::Monthly => "monthly",
            BillingCycle::Quarterly => "quarterly",
            BillingCycle::Semiannual => "semiannual",
            BillingCycle::Annual => "annual",
        }
    }

    /// Parses the stored name.
    pub fn parse(raw: &str) -> Option<BillingCycle> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// What kind of NextPanel account a plan creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum AccountType {
    /// An ordinary hosting account.
    #[serde(rename = "panel")]
    Panel,
    /// A reseller that can create panel accounts.
    #[serde(rename = "reseller")]
    Reseller,
    /// A reseller of resellers.
    #[serde(rename = "master-reseller")]
    MasterReseller,
}

impl AccountType {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Panel => "panel",
            AccountType::Reseller => "reseller",
            AccountType::MasterReseller => "master-reseller",
        }
    }

    /// Parses the stored name.
    pub fn parse(raw: &str) -> Option<AccountType> {
        [
            AccountType::Panel,
            AccountType::Reseller,
            AccountType::MasterReseller,
        ]
        .into_iter()
        .find(|t| t.as_str() == raw)
    }

    /// NextPanel's `is_admin` flag: resellers administer other accounts.
    pub fn is_admin(self) -> bool {
        self != AccountType::Panel
    }
}

/// Resource limits a plan grants; `-1` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Quotas {
    /// Hosting accounts the license may hold.
    pub max_accounts: i64,
    /// Domains across the license's accounts.
    pub max_domains: i64,
    /// Databases across the license's accounts.
    pub max_databases: i64,
    /// Email accounts across the license's accounts.
    pub max_emails: i64,
    /// Disk space in MiB.
    pub storage_mb: i64,
    /// Monthly transfer in MiB.
    pub bandwidth_mb: i64,
}

/// The value that stands for "no limit" in a quota.
pub const UNLIMITED: i64 = -1;

impl Quotas {
    /// Checks every quota is `-1` (unlimited) or a non-negative count.
    pub fn validate(self) -> Result<Quotas, Invalid> {
        let fields = [
            ("quotas.max_accounts", self.max_accounts),
            ("quotas.max_domains", self.max_domains),
            ("quotas.max_databases", self.max_databases),
            ("quotas.max_emails", self.max_emails),
            ("quotas.storage_mb", self.storage_mb),
            ("quotas.bandwidth_mb", self.bandwidth_mb),
        ];
        for (field, value) in fields {
            if value < UNLIMITED {
                return Err(Invalid::new(
                    field,
                    "must be -1 (unlimited) or a count of 0 or more",
                ));
            }
        }
        if self.max_accounts == 0 {
            return Err(Invalid::new(
                "quotas.max_accounts",
                "must allow at least one account",
            ));
        }
        Ok(self)
    }
}

/// Prices of a plan for the billing cycles it offers, all in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceList {
    currency: Currency,
    prices: Vec<(BillingCycle, Money)>,
    setup_fee: Money,
}

impl PriceList {
    /// Builds a price list; at least one cycle must be offered.
    pub fn new(
        currency: Currency,
        prices: &[(BillingCycle, i64)],
        setup_fee: i64,
    ) -> Result<PriceList, Invalid> {
        if prices.is_empty() {
            return Err(Invalid::new(
                "prices",
                "must offer at least one billing cycle",
            ));
        }
        let mut list = Vec::with_capacity(prices.len());
        for (cycle, minor) in prices {
            let field = match cycle {
                BillingCycle::Monthly => "prices.monthly",
                BillingCycle::Quarterly => "prices.quarterly",
                BillingCycle::Semiannual => "prices.semiannual",
                BillingCycle::Annual => "prices.annual",
            };
            list.push((*cycle, Money::price(field, *minor, currency)?));
        }
        let setup_fee = Money::price("setup_fee", setup_fee, currency)?;
        Ok(PriceList {
            currency,
            prices: list,
            setup_fee,
        })
    }

    /// The currency of every price.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The price of one period of `cycle`, if the plan offers it.
    pub fn price(&self, cycle: BillingCycle) -> Option<Money> {
        self.prices
            .iter()
            .find(|(c, _)| *c == cycle)
            .map(|(_, m)| *m)
    }

    /// The one-off setup fee.
    pub fn setup_fee(&self) -> Money {
        self.setup_fee
    }
}

/// Checks a plan name.
pub fn name(raw: &str) -> Result<String, Invalid> {
    text::bounded("name", raw, 1, 100)
}

/// Checks a plan description (may be empty).
pub fn description(raw: &str) -> Result<String, Invalid> {
    text::bounded("description", raw, 0, 2000)
}

/// Checks a NextPanel package id.
pub fn package_id(raw: Option<i64>) -> Result<Option<i64>, Invalid> {
    match raw {
        Some(id) if id < 1 => Err(Invalid::new(
            "package_id",
            "must be a positive NextPanel package id",
        )),
        other => Ok(other),
    }
}

/// Checks a server group or location label.
pub fn placement(field: &'static str, raw: Option<&str>) -> Result<Option<String>, Invalid> {
    text::optional(field, raw, 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quotas() -> Quotas {
        Quotas {
            max_accounts: 1,
            max_domains: 5,
            max_databases: 5,
            max_emails: 10,
            storage_mb: 1024,
            bandwidth_mb: -1,
        }
    }

    #[test]
    fn quotas_allow_unlimited_but_not_below() {
        assert!(quotas().validate().is_ok());
        let bad = Quotas {
            max_domains: -2,
            ..quotas()
        };
        assert_eq!(
            bad.validate().map_err(|e| e.field),
            Err("quotas.max_domains")
        );
        let none = Quotas {
            max_accounts: 0,
            ..quotas()
        };
        assert!(none.validate().is_err());
    }

    #[test]
    fn price_list_rules() -> Result<(), Invalid> {
        let usd = Currency::parse("USD")?;
        let list = PriceList::new(
            usd,
            &[(BillingCycle::Monthly, 999), (BillingCycle::Annual, 9990)],
            0,
        )?;
        assert_eq!(
            list.price(BillingCycle::Monthly).map(Money::minor),
            Some(999)
        );
        assert_eq!(list.price(BillingCycle::Quarterly), None);
        assert!(PriceList::new(usd, &[], 0).is_err());
        let neg = PriceList::new(usd, &[(BillingCycle::Annual, -1)], 0);
        assert_eq!(neg.map_err(|e| e.field), Err("prices.annual"));
        assert_eq!(
            PriceList::new(usd, &[(BillingCycle::Annual, 1)], -5).map_err(|e| e.field),
            Err("setup_fee")
        );
        Ok(())
    }

    #[test]
    fn names_round_trip() {
        for cycle in BillingCycle::ALL {
            assert_eq!(BillingCycle::parse(cycle.as_str()), Some(cycle));
        }
        assert_eq!(
            AccountType::parse("master-reseller"),
            Some(AccountType::MasterReseller)
        );
        assert!(AccountType::Reseller.is_admin());
        assert!(!AccountType::Panel.is_admin());
        assert!(package_id(Some(0)).is_err());
    }
}
