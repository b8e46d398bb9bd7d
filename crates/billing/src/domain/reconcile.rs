//! Reconciliation: comparing our hosting accounts on one server with the
//! server's own account list. Pure: the caller reads both sides, this decides
//! what differs.
//!
//! Which of our accounts count:
//! - `active` and `suspended` are expected on the panel, in that status;
//! - `pending` and `provisioning` are in flight: a panel account matching one is
//!   left alone, and their absence is not drift;
//! - `terminated` and `failed` are not expected on the panel: a panel account
//!   matching one is an orphan (named with our account, so an admin sees why).
//!
//! A panel account matches one of ours by the panel's id first, then by username.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::hosting::AccountState;

/// One of our hosting accounts on the server, as the comparison needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OurAccount {
    /// Our account id.
    pub id: i64,
    /// Hosting login.
    pub username: String,
    /// The panel's id, once created.
    pub panel_account_id: Option<String>,
    /// Our state.
    pub state: AccountState,
}

/// Whether a panel account is in service, as the panel says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PanelStatus {
    /// In service.
    Active,
    /// Suspended.
    Suspended,
    /// Anything else, as sent.
    Other(String),
}

impl PanelStatus {
    /// The name shown in a report.
    pub fn as_str(&self) -> &str {
        match self {
            PanelStatus::Active => "active",
            PanelStatus::Suspended => "suspended",
            PanelStatus::Other(s) => s,
        }
    }
}

/// An account as the panel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TheirAccount {
    /// The panel's id.
    pub id: String,
    /// Hosting login.
    pub username: String,
    /// The `billing_id` the panel stored, if any.
    pub billing_id: Option<String>,
    /// The panel's status.
    pub status: PanelStatus,
}

/// On the panel but not one of our expected accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Orphan {
    /// The panel's id.
    pub panel_id: String,
    /// Hosting login.
    pub username: String,
    /// The `billing_id` on the panel (ours is the customer id).
    pub billing_id: Option<String>,
    /// Our terminated or failed account it matches, if any.
    pub our_account_id: Option<i64>,
}

/// Ours (active or suspended) but not on the panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Missing {
    /// Our account id.
    pub account_id: i64,
    /// Hosting login.
    pub username: String,
    /// The panel id we have for it.
    pub panel_account_id: Option<String>,
}

/// On both sides, suspended on one side only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Mismatch {
    /// Our account id.
    pub account_id: i64,
    /// Hosting login.
    pub username: String,
    /// The panel's id of the matched account (the one to fix).
    pub panel_account_id: String,
    /// Our state: `active` or `suspended`.
    pub ours: String,
    /// The panel's status.
    pub panel: String,
}

/// What differs between the two sides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Drift {
    /// On the panel, unknown to us (or ours but ended).
    pub orphans: Vec<Orphan>,
    /// Ours, absent on the panel.
    pub missing: Vec<Missing>,
    /// On both, in different states.
    pub mismatches: Vec<Mismatch>,
}

impl Drift {
    /// True when the two sides agree.
    pub fn is_empty(&self) -> bool {
        self.orphans.is_empty() && self.missing.is_empty() && self.mismatches.is_empty()
    }
}

/// Compares our accounts on a server with the panel's list of that server.
pub fn compare(ours: &[OurAccount], theirs: &[TheirAccount]) -> Drift {
    let by_id: HashMap<&str, usize> = theirs
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let by_username: HashMap<&str, usize> = theirs
        .iter()
        .enumerate()
        .map(|(i, t)| (t.username.as_str(), i))
        .collect();
    let find = |a: &OurAccount| {
        a.panel_account_id
            .as_deref()
            .and_then(|id| by_id.get(id))
            .or_else(|| by_username.get(a.username.as_str()))
            .copied()
    };
    let mut claimed = HashSet::new();
    let mut ended: HashMap<usize, i64> = HashMap::new();
    let mut drift = Drift::default();
    for a in ours {
        let found = find(a);
        match a.state {
            AccountState::Pending | AccountState::Provisioning => {
                claimed.extend(found);
            }
            AccountState::Terminated | AccountState::Failed => {
                if let Some(i) = found {
                    ended.insert(i, a.id);
                }
            }
            AccountState::Active | AccountState::Suspended => match found {
                None => drift.missing.push(Missing {
                    account_id: a.id,
                    username: a.username.clone(),
                    panel_account_id: a.panel_account_id.clone(),
                }),
                Some(i) => {
                    claimed.insert(i);
                    let t = &theirs[i];
                    let agrees = matches!(
                        (a.state, &t.status),
                        (AccountState::Active, PanelStatus::Active)
                            | (AccountState::Suspended, PanelStatus::Suspended)
                    );
                    if !agrees {
                        drift.mismatches.push(Mismatch {
                            account_id: a.id,
                            username: a.username.clone(),
                            panel_account_id: t.id.clone(),
                            ours: a.state.as_str().to_owned(),
                            panel: t.status.as_str().to_owned(),
                        });
                    }
                }
            },
        }
    }
    drift.orphans = theirs
        .iter()
        .enumerate()
        .filter(|(i, _)| !claimed.contains(i))
        .map(|(i, t)| Orphan {
            panel_id: t.id.clone(),
            username: t.username.clone(),
            billing_id: t.billing_id.clone(),
            our_account_id: ended.get(&i).copied(),
        })
        .collect();
    drift
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(id: i64, username: &str, panel: Option<&str>, state: AccountState) -> OurAccount {
        OurAccount {
            id,
            username: username.to_owned(),
            panel_account_id: panel.map(str::to_owned),
            state,
        }
    }

    fn theirs(id: &str, username: &str, status: PanelStatus) -> TheirAccount {
        TheirAccount {
            id: id.to_owned(),
            username: username.to_owned(),
            billing_id: Some("7".to_owned()),
            status,
        }
    }

    #[test]
    fn agreeing_sides_have_no_drift() {
        let drift = compare(
            &[
                ours(1, "alice", Some("10"), AccountState::Active),
                ours(2, "bob", Some("11"), AccountState::Suspended),
            ],
            &[
                theirs("10", "alice", PanelStatus::Active),
                theirs("11", "bob", PanelStatus::Suspended),
            ],
        );
        assert!(drift.is_empty(), "{drift:?}");
    }

    #[test]
    fn finds_orphans_missing_and_mismatches() {
        let drift = compare(
            &[
                ours(1, "alice", Some("10"), AccountState::Active),
                ours(2, "bob", Some("11"), AccountState::Active),
                ours(3, "carol", Some("12"), AccountState::Suspended),
            ],
            &[
                theirs("10", "alice", PanelStatus::Suspended),
                theirs("12", "carol", PanelStatus::Suspended),
                theirs("99", "mallory", PanelStatus::Active),
            ],
        );
        assert_eq!(drift.orphans.len(), 1);
        assert_eq!(drift.orphans[0].panel_id, "99");
        assert_eq!(drift.orphans[0].our_account_id, None);
        assert_eq!(drift.missing.len(), 1);
        assert_eq!(drift.missing[0].account_id, 2);
        assert_eq!(
            drift.mismatches,
            vec![Mismatch {
                account_id: 1,
                username: "alice".into(),
                panel_account_id: "10".into(),
                ours: "active".into(),
                panel: "suspended".into(),
            }]
        );
    }

    #[test]
    fn the_panel_id_wins_over_the_username() {
        // Our panel id points at "10" although the panel renamed the login;
        // another panel account now carries the old username.
        let drift = compare(
            &[ours(1, "alice", Some("10"), AccountState::Active)],
            &[
                theirs("10", "alice2", PanelStatus::Active),
                theirs("20", "alice", PanelStatus::Active),
            ],
        );
        assert!(drift.missing.is_empty() && drift.mismatches.is_empty());
        assert_eq!(drift.orphans.len(), 1);
        assert_eq!(drift.orphans[0].panel_id, "20");
    }

    #[test]
    fn the_username_matches_when_the_panel_id_is_unknown() {
        let drift = compare(
            &[
                ours(1, "alice", None, AccountState::Active),
                ours(2, "bob", Some("gone"), AccountState::Suspended),
            ],
            &[
                theirs("10", "alice", PanelStatus::Active),
                theirs("11", "bob", PanelStatus::Active),
            ],
        );
        assert!(drift.orphans.is_empty() && drift.missing.is_empty());
        assert_eq!(drift.mismatches.len(), 1);
        assert_eq!(drift.mismatches[0].panel_account_id, "11");
        assert_eq!(drift.mismatches[0].ours, "suspended");
    }

    #[test]
    fn accounts_in_flight_are_skipped() {
        let drift = compare(
            &[
                ours(1, "alice", None, AccountState::Provisioning),
                ours(2, "bob", None, AccountState::Pending),
            ],
            &[theirs("10", "alice", PanelStatus::Active)],
        );
        assert!(drift.is_empty(), "{drift:?}");
    }

    #[test]
    fn ended_accounts_still_on_the_panel_are_orphans() {
        let drift = compare(
            &[
                ours(1, "alice", Some("10"), AccountState::Terminated),
                ours(2, "bob", None, AccountState::Failed),
                ours(3, "carol", Some("12"), AccountState::Terminated),
            ],
            &[
                theirs("10", "alice", PanelStatus::Active),
                theirs("11", "bob", PanelStatus::Active),
            ],
        );
        assert!(drift.missing.is_empty() && drift.mismatches.is_empty());
        let orphans: Vec<_> = drift
            .orphans
            .iter()
            .map(|o| (o.panel_id.as_str(), o.our_account_id))
            .collect();
        assert_eq!(orphans, vec![("10", Some(1)), ("11", Some(2))]);
    }

    #[test]
    fn an_unknown_panel_status_is_a_mismatch() {
        let drift = compare(
            &[ours(1, "alice", Some("10"), AccountState::Active)],
            &[theirs("10", "alice", PanelStatus::Other("locked".into()))],
        );
        assert_eq!(drift.mismatches.len(), 1);
        assert_eq!(drift.mismatches[0].panel, "locked");
    }
}
