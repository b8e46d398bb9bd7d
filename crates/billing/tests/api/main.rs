//! Integration tests of the JSON API: the real server on a random loopback port,
//! a fresh database per test, HTTP all the way.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

mod helpers;

mod auth;
mod autopay;
mod billing_run;
mod bounds;
mod browser;
mod coupons;
mod currencies;
mod customers;
mod documents;
mod health;
mod legacy_api;
mod license_validation;
mod licenses;
mod notifications;
mod pagination;
mod payments;
mod periodic;
mod plan_changes;
mod plans;
mod provisioning;
mod races;
mod reconciliation;
mod refunds;
mod replica;
mod reports;
mod reports_exact;
mod roles;
mod schema;
mod servers;
mod smtp_tls;
mod stripe_fake;
mod tax;
mod two_factor;
mod usage;
mod web_ui;
