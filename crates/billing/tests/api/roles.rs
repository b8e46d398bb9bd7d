//! Every route, checked for who may call it. The table below must list exactly the
//! routes of the OpenAPI document (which is generated from the router), so a new
//! route without an entry — and so without a decided access level — fails here.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone, no token.
    Public,
    /// Any logged-in user, their own data only.
    User,
    /// Admin and staff (read-only admin data).
    Staff,
    /// Admin only.
    Admin,
}

const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/health", Access::Public),
    ("GET", "/ready", Access::Public),
    ("POST", "/api/v1/auth/login", Access::Public),
    ("POST", "/api/v1/auth/refresh", Access::Public),
    ("POST", "/api/v1/auth/register", Access::Public),
    ("POST", "/api/v1/auth/login/second-factor", Access::Public),
    ("GET", "/api/v1/auth/two-factor", Access::User),
    ("POST", "/api/v1/auth/two-factor/setup", Access::User),
    ("POST", "/api/v1/auth/two-factor/enable", Access::User),
    ("POST", "/api/v1/auth/two-factor/disable", Access::User),
    (
        "POST",
        "/api/v1/auth/two-factor/recovery-codes",
        Access::User,
    ),
    ("GET", "/api/v1/auth/sessions", Access::User),
    ("DELETE", "/api/v1/auth/sessions/{id}", Access::User),
    ("DELETE", "/api/v1/users/{id}/two-factor", Access::Admin),
    ("GET", "/api/v1/users/{id}/sessions", Access::Admin),
    ("DELETE", "/api/v1/users/{id}/sessions", Access::Admin),
    (
        "DELETE",
        "/api/v1/users/{id}/sessions/{session_id}",
        Access::Admin,
    ),
    ("GET", "/api/v1/settings/security", Access::Admin),
    ("GET", "/api/v1/tax-rates", Access::Staff),
    ("GET", "/api/v1/coupons", Access::Staff),
    ("POST", "/api/v1/coupons", Access::Admin),
    ("PATCH", "/api/v1/coupons/{id}", Access::Admin),
    ("GET", "/api/v1/reports/{report}", Access::Staff),
    ("POST", "/api/v1/me/licenses/{id}/plan-change", Access::User),
    (
        "DELETE",
        "/api/v1/me/licenses/{id}/plan-change",
        Access::User,
    ),
    ("GET", "/api/v1/me/licenses/{id}/plan-changes", Access::User),
    ("POST", "/api/v1/licenses/{id}/plan-change", Access::Admin),
    ("DELETE", "/api/v1/licenses/{id}/plan-change", Access::Admin),
    ("GET", "/api/v1/licenses/{id}/plan-changes", Access::Staff),
    ("GET", "/api/v1/me/credit", Access::User),
    ("GET", "/api/v1/me/imported-history", Access::User),
    (
        "GET",
        "/api/v1/customers/{id}/imported-history",
        Access::Staff,
    ),
    ("GET", "/api/v1/customers/{id}/credit", Access::Staff),
    ("POST", "/api/v1/customers/{id}/credit", Access::Admin),
    ("GET", "/api/v1/invoices/{id}/pdf", Access::Staff),
    ("GET", "/api/v1/invoices/{id}/html", Access::Staff),
    ("GET", "/api/v1/credit-notes/{id}/pdf", Access::Staff),
    ("GET", "/api/v1/me/invoices/{id}/pdf", Access::User),
    ("GET", "/api/v1/me/invoices/{id}/html", Access::User),
    ("GET", "/api/v1/me/credit-notes/{id}/pdf", Access::User),
    ("POST", "/api/v1/tax-rates", Access::Admin),
    ("PATCH", "/api/v1/tax-rates/{id}", Access::Admin),
    ("DELETE", "/api/v1/tax-rates/{id}", Access::Admin),
    ("GET", "/api/v1/settings/tax", Access::Staff),
    ("PUT", "/api/v1/settings/tax", Access::Admin),
    ("GET", "/api/v1/reports/tax", Access::Staff),
    ("GET", "/api/v1/reports/tax.csv", Access::Staff),
    ("PUT", "/api/v1/settings/security", Access::Admin),
    ("GET", "/api/v1/plans", Access::Public),
    ("GET", "/api/v1/plans/{id}", Access::Public),
    ("POST", "/api/v1/licenses/validate", Access::Public),
    ("POST", "/api/v1/licenses/usage", Access::Public),
    ("POST", "/api/v1/auth/logout", Access::User),
    ("GET", "/api/v1/auth/me", Access::User),
    ("GET", "/api/v1/me", Access::User),
    ("PATCH", "/api/v1/me", Access::User),
    ("GET", "/api/v1/me/licenses", Access::User),
    ("GET", "/api/v1/me/licenses/{id}", Access::User),
    ("GET", "/api/v1/customers", Access::Staff),
    ("GET", "/api/v1/customers/{id}", Access::Staff),
    ("GET", "/api/v1/customers/{id}/licenses", Access::Staff),
    ("GET", "/api/v1/licenses", Access::Staff),
    ("GET", "/api/v1/licenses/{id}", Access::Staff),
    ("GET", "/api/v1/audit-log", Access::Staff),
    ("POST", "/api/v1/customers", Access::Admin),
    ("PATCH", "/api/v1/customers/{id}", Access::Admin),
    ("POST", "/api/v1/customers/{id}/deactivate", Access::Admin),
    ("POST", "/api/v1/customers/{id}/activate", Access::Admin),
    ("POST", "/api/v1/customers/{id}/licenses", Access::Admin),
    ("POST", "/api/v1/plans", Access::Admin),
    ("PATCH", "/api/v1/plans/{id}", Access::Admin),
    ("PATCH", "/api/v1/licenses/{id}", Access::Admin),
    ("POST", "/api/v1/licenses/{id}/cancel", Access::Admin),
    ("POST", "/api/v1/api-keys", Access::Admin),
    ("GET", "/api/v1/api-keys", Access::Admin),
    ("DELETE", "/api/v1/api-keys/{id}", Access::Admin),
    ("POST", "/api/v1/users", Access::Admin),
    ("GET", "/api/v1/users", Access::Admin),
    ("GET", "/metrics", Access::Staff),
    ("POST", "/api/v1/nextpanel/servers/test", Access::Admin),
    ("POST", "/api/v1/nextpanel/servers", Access::Admin),
    ("GET", "/api/v1/nextpanel/servers", Access::Admin),
    ("GET", "/api/v1/nextpanel/servers/status", Access::Admin),
    ("GET", "/api/v1/nextpanel/servers/{id}", Access::Admin),
    ("PATCH", "/api/v1/nextpanel/servers/{id}", Access::Admin),
    ("DELETE", "/api/v1/nextpanel/servers/{id}", Access::Admin),
    (
        "POST",
        "/api/v1/nextpanel/servers/{id}/disable",
        Access::Admin,
    ),
    (
        "POST",
        "/api/v1/nextpanel/servers/{id}/enable",
        Access::Admin,
    ),
    (
        "POST",
        "/api/v1/nextpanel/servers/{id}/check",
        Access::Admin,
    ),
    (
        "POST",
        "/api/v1/nextpanel/servers/{id}/reconcile",
        Access::Admin,
    ),
    ("GET", "/api/v1/nextpanel/reconciliations", Access::Admin),
    (
        "GET",
        "/api/v1/nextpanel/reconciliations/{id}",
        Access::Admin,
    ),
    ("POST", "/api/v1/nextpanel/provision", Access::Admin),
    ("GET", "/api/v1/nextpanel/accounts", Access::Staff),
    (
        "GET",
        "/api/v1/nextpanel/accounts/counts/by-role",
        Access::Staff,
    ),
    ("GET", "/api/v1/nextpanel/accounts/{id}", Access::Staff),
    ("DELETE", "/api/v1/nextpanel/accounts/{id}", Access::Admin),
    (
        "POST",
        "/api/v1/nextpanel/accounts/{id}/suspend",
        Access::Admin,
    ),
    (
        "POST",
        "/api/v1/nextpanel/accounts/{id}/unsuspend",
        Access::Admin,
    ),
    (
        "POST",
        "/api/v1/nextpanel/accounts/{id}/change-plan",
        Access::Admin,
    ),
    (
        "POST",
        "/api/v1/nextpanel/accounts/{id}/password",
        Access::Admin,
    ),
    (
        "POST",
        "/api/v1/nextpanel/accounts/{id}/retry",
        Access::Admin,
    ),
    (
        "GET",
        "/api/v1/nextpanel/accounts/{id}/stats",
        Access::Staff,
    ),
    ("GET", "/api/v1/me/accounts", Access::User),
    ("GET", "/api/v1/me/accounts/{id}", Access::User),
    ("GET", "/api/v1/jobs", Access::Staff),
    ("GET", "/api/v1/jobs/{id}", Access::Staff),
    ("POST", "/api/v1/jobs/{id}/retry", Access::Admin),
    ("GET", "/api/v1/emails", Access::Staff),
    ("POST", "/api/v1/emails/{id}/resend", Access::Admin),
    ("POST", "/api/v1/auth/password-reset", Access::Public),
    (
        "POST",
        "/api/v1/auth/password-reset/confirm",
        Access::Public,
    ),
    ("POST", "/api/v1/nextpanel/usage/poll", Access::Admin),
    ("GET", "/api/v1/invoices", Access::Staff),
    ("GET", "/api/v1/invoices/{id}", Access::Staff),
    ("POST", "/api/v1/invoices/{id}/void", Access::Admin),
    ("POST", "/api/v1/invoices/{id}/mark-paid", Access::Admin),
    ("POST", "/api/v1/invoices/{id}/checkout", Access::Admin),
    ("POST", "/api/v1/customers/{id}/orders", Access::Admin),
    ("POST", "/api/v1/billing/run", Access::Admin),
    ("POST", "/api/v1/me/orders", Access::User),
    ("GET", "/api/v1/me/invoices", Access::User),
    ("GET", "/api/v1/me/invoices/{id}", Access::User),
    ("POST", "/api/v1/me/invoices/{id}/checkout", Access::User),
    ("GET", "/api/v1/me/payment-method", Access::User),
    ("DELETE", "/api/v1/me/payment-method", Access::User),
    ("POST", "/api/v1/me/payment-method/checkout", Access::User),
    ("PUT", "/api/v1/me/autopay", Access::User),
    ("POST", "/api/v1/me/credentials/reveal", Access::User),
    ("POST", "/api/v1/payments/{id}/refund", Access::Admin),
    ("GET", "/api/v1/credit-notes", Access::Staff),
    ("GET", "/api/v1/me/credit-notes", Access::User),
    ("GET", "/api/v1/disputes", Access::Staff),
    (
        "GET",
        "/api/v1/customers/{id}/payment-method",
        Access::Staff,
    ),
    // Authenticated by Stripe's signature, not a token.
    ("POST", "/webhooks/stripe", Access::Public),
];

/// User id of a bystander whose sessions the session-ending routes may end: ending the
/// sessions of user 1 (the admin) would sign out the token the test goes on with.
const BYSTANDER: &str = "4";

fn concrete(path: &str) -> String {
    if path.starts_with("/api/v1/users/{id}/") {
        return path
            .replace("{id}", BYSTANDER)
            .replace("{session_id}", "999999");
    }
    if path.starts_with("/api/v1/auth/sessions/") {
        return path.replace("{id}", "999999");
    }
    path.replace("{id}", "1").replace("{report}", "mrr")
}

async fn call(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> StatusCode {
    let body = (method != "GET" && method != "DELETE").then(|| json!({}));
    app.call(method, &concrete(path), token, body).await.0
}

#[tokio::test]
async fn the_table_covers_exactly_the_routed_api() {
    let app = TestApp::spawn().await;
    let (_, doc) = app.get("/api/openapi.json", None).await;
    let mut routed = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_uppercase();
            routed.insert((method.clone(), path.clone()));
            // The document must tell clients which routes need a token.
            let public = ROUTES
                .iter()
                .any(|(m, p, a)| *m == method && p == path && *a == Access::Public);
            let secured = op
                .get("security")
                .is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty()));
            assert!(
                public || secured,
                "{method} {path} needs auth but its OpenAPI entry has no security"
            );
        }
    }
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let unlisted: Vec<_> = routed.difference(&table).collect();
    let stale: Vec<_> = table.difference(&routed).collect();
    assert!(
        unlisted.is_empty(),
        "routes without an access level in ROUTES: {unlisted:?}"
    );
    assert!(
        stale.is_empty(),
        "ROUTES lists routes that do not exist: {stale:?}"
    );
}

#[tokio::test]
async fn every_route_enforces_its_access_level() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let staff = app.staff(&admin).await;
    let (_, customer) = app.customer(&admin, "customer@example.com").await;
    let (bystander, _) = app.customer(&admin, "bystander@example.com").await;
    assert_eq!(bystander.to_string(), BYSTANDER);
    let denied = [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN];
    for &(method, path, access) in ROUTES {
        let anonymous = call(&app, method, path, None).await;
        if access == Access::Public {
            assert!(
                !denied.contains(&anonymous),
                "{method} {path} is public but answered {anonymous}"
            );
            continue;
        }
        assert_eq!(
            anonymous,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token"
        );
        let forged = call(&app, method, path, Some("npb_at_0000")).await;
        assert_eq!(
            forged,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a forged token"
        );

        // Logout ends the session it is called with, so it gets throw-away sessions.
        let is_logout = path == "/api/v1/auth/logout";
        let (customer, staff, admin) = if is_logout {
            (
                app.login("customer@example.com", "customer-password-1")
                    .await,
                app.login("staff@example.com", "staff-password-1").await,
                app.admin_token().await,
            )
        } else {
            (customer.clone(), staff.clone(), admin.clone())
        };
        let as_customer = call(&app, method, path, Some(&customer)).await;
        let as_staff = call(&app, method, path, Some(&staff)).await;
        match access {
            Access::Public => unreachable!(),
            Access::User => {
                assert!(
                    !denied.contains(&as_customer),
                    "{method} {path}: customer got {as_customer}"
                );
                assert!(
                    !denied.contains(&as_staff),
                    "{method} {path}: staff got {as_staff}"
                );
            }
            Access::Staff => {
                assert_eq!(
                    as_customer,
                    StatusCode::FORBIDDEN,
                    "{method} {path}: customer"
                );
                assert!(
                    !denied.contains(&as_staff),
                    "{method} {path}: staff got {as_staff}"
                );
            }
            Access::Admin => {
                assert_eq!(
                    as_customer,
                    StatusCode::FORBIDDEN,
                    "{method} {path}: customer"
                );
                assert_eq!(as_staff, StatusCode::FORBIDDEN, "{method} {path}: staff");
            }
        }
        let as_admin = call(&app, method, path, Some(&admin)).await;
        assert!(
            !denied.contains(&as_admin),
            "{method} {path}: admin got {as_admin}"
        );
    }
}
