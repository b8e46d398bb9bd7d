//! Keyset pagination: `?after=<id>` on every list, `next_after` in every answer, the
//! total counted only with page numbers.

use billing::config::Layer;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp};

/// The ids of a list answer's items, in order.
fn ids(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {list}"))
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

/// `path` with one more query parameter.
fn with(path: &str, param: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}{param}")
}

/// Reads a whole list page by page through `next_after`, checking each page on the way:
/// the first page numbered (exact total, or none when `after` was given already), the
/// rest by cursor (total null), ids strictly descending across pages. Returns the ids
/// and the first page's total.
async fn walk(app: &TestApp, token: &str, path: &str, per_page: usize) -> (Vec<i64>, Value) {
    let first_path = with(path, &format!("per_page={per_page}"));
    let (status, first) = app.get(&first_path, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{first_path}: {first}");
    let total = first["total"].clone();
    let mut all = ids(&first);
    let mut page = first;
    let mut calls = 1;
    while let Some(after) = page["next_after"].as_i64() {
        assert_eq!(
            page["items"].as_array().map(Vec::len),
            Some(per_page),
            "{path}: a page with a next_after is full: {page}"
        );
        assert_eq!(
            Some(&after),
            all.last(),
            "{path}: next_after is the last id"
        );
        let next = with(path, &format!("per_page={per_page}&after={after}"));
        let (status, body) = app.get(&next, Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{next}: {body}");
        assert!(
            body["total"].is_null(),
            "{next}: no total by cursor: {body}"
        );
        assert_eq!(body["per_page"], per_page, "{next}");
        all.extend(ids(&body));
        page = body;
        calls += 1;
        assert!(calls < 1000, "{path}: the walk does not end");
    }
    assert!(
        page["next_after"].is_null(),
        "{path}: the last page has no next_after: {page}"
    );
    assert!(
        all.windows(2).all(|w| w[0] > w[1]),
        "{path}: ids must fall strictly (each once, newest first): {all:?}"
    );
    (all, total)
}

#[tokio::test]
async fn keyset_walks_every_license_once_newest_first_and_me_sees_only_its_own() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await;
    let (ada, ada_token) = app.customer(&admin, "ada@example.com").await;
    let (bob, bob_token) = app.customer(&admin, "bob@example.com").await;
    // 120 licenses, interleaved: every third is Bob's, so his pages skip Ada's ids.
    let mut created = Vec::new();
    let mut bobs = Vec::new();
    for i in 0..120 {
        let owner = if i % 3 == 2 { bob } else { ada };
        let id = app.license(&admin, owner, plan).await["id"]
            .as_i64()
            .unwrap();
        created.push(id);
        if owner == bob {
            bobs.push(id);
        }
    }
    created.reverse();
    bobs.reverse();

    // Numbered pages keep their exact total and also say where the next page starts.
    let (status, first) = app.get("/api/v1/licenses?per_page=50", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["total"], 120);
    assert_eq!(first["page"], 1);
    assert_eq!(first["next_after"], created[49]);
    let (_, third) = app
        .get("/api/v1/licenses?per_page=50&page=3", Some(&admin))
        .await;
    assert_eq!(third["total"], 120);
    assert_eq!(ids(&third), created[100..].to_vec());
    assert!(third["next_after"].is_null(), "{third}");

    // By cursor: 50, 50, 20, every license once, newest first.
    let (walked, total) = walk(&app, &admin, "/api/v1/licenses", 50).await;
    assert_eq!(walked, created);
    assert_eq!(total, 120);
    let (_, second) = app
        .get(
            &format!("/api/v1/licenses?per_page=50&after={}", created[49]),
            Some(&admin),
        )
        .await;
    assert_eq!(ids(&second), created[50..100].to_vec());
    assert!(second["total"].is_null());
    assert_eq!(second["page"], 1);
    // `page=1` beside `after` is the default spelled out, not a second start.
    let (status, same) = app
        .get(
            &format!("/api/v1/licenses?per_page=50&page=1&after={}", created[49]),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{same}");
    assert_eq!(ids(&same), ids(&second));

    // A last page that is exactly full still says it is the last.
    let (walked, _) = walk(&app, &admin, "/api/v1/licenses", 40).await;
    assert_eq!(walked, created);
    let (_, last) = app
        .get(
            &format!("/api/v1/licenses?per_page=40&after={}", created[79]),
            Some(&admin),
        )
        .await;
    assert_eq!(ids(&last), created[80..].to_vec());
    assert!(last["next_after"].is_null(), "{last}");
    // A cursor past the oldest item is an empty last page, not an error.
    let (status, empty) = app
        .get(
            &format!("/api/v1/licenses?after={}", created[119]),
            Some(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&empty), Vec::<i64>::new());
    assert!(empty["next_after"].is_null() && empty["total"].is_null());

    // Filters hold by cursor: one customer's, on the admin list and the customer page.
    let (walked, total) = walk(
        &app,
        &admin,
        &format!("/api/v1/licenses?customer_id={bob}"),
        7,
    )
    .await;
    assert_eq!((walked, total), (bobs.clone(), json!(40)));
    let (walked, _) = walk(
        &app,
        &admin,
        &format!("/api/v1/customers/{bob}/licenses"),
        15,
    )
    .await;
    assert_eq!(walked, bobs);
    // ... and by status.
    let suspended: Vec<i64> = created.iter().copied().step_by(9).collect();
    for id in &suspended {
        let (status, body) = app
            .patch(
                &format!("/api/v1/licenses/{id}"),
                Some(&admin),
                json!({"status": "suspended"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (walked, total) = walk(&app, &admin, "/api/v1/licenses?status=suspended", 4).await;
    assert_eq!(walked, suspended);
    assert_eq!(total, suspended.len());

    // A customer's own list by cursor holds only theirs, whatever cursor they send.
    let (walked, total) = walk(&app, &bob_token, "/api/v1/me/licenses", 15).await;
    assert_eq!((walked, total), (bobs.clone(), json!(40)));
    let (_, from_top) = app
        .get(
            &format!("/api/v1/me/licenses?after={}", created[0] + 1000),
            Some(&bob_token),
        )
        .await;
    assert_eq!(ids(&from_top), bobs);
    let adas: Vec<i64> = created
        .iter()
        .copied()
        .filter(|id| !bobs.contains(id))
        .collect();
    let (walked, _) = walk(&app, &ada_token, "/api/v1/me/licenses", 50).await;
    assert_eq!(walked, adas);
}

#[tokio::test]
async fn keyset_honours_invoice_status_customer_search_and_me_invoices() {
    let app = TestApp::spawn_with(Layer {
        accept_orders_when_full: Some(true),
        ..Layer::default()
    })
    .await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await;
    let (ada, ada_token) = app.customer(&admin, "ada@example.com").await;
    let (bob, _) = app.customer(&admin, "bob@example.com").await;
    let mut invoices = Vec::new();
    for i in 0..24 {
        let customer = if i % 2 == 0 { ada } else { bob };
        let (status, invoice) = app
            .post(
                &format!("/api/v1/customers/{customer}/orders"),
                Some(&admin),
                json!({"plan_id": plan, "username": format!("site{i}"), "billing_cycle": "monthly"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{invoice}");
        invoices.push((invoice["id"].as_i64().unwrap(), customer));
    }
    invoices.reverse();
    let mut void = Vec::new();
    for (n, (id, _)) in invoices.iter().enumerate() {
        if n % 3 == 0 {
            let (status, body) = app
                .post(
                    &format!("/api/v1/invoices/{id}/void"),
                    Some(&admin),
                    json!({"reason": "test"}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            void.push(*id);
        }
    }
    let open: Vec<i64> = invoices
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| !void.contains(id))
        .collect();

    let (walked, total) = walk(&app, &admin, "/api/v1/invoices", 5).await;
    assert_eq!(
        walked,
        invoices.iter().map(|(id, _)| *id).collect::<Vec<_>>()
    );
    assert_eq!(total, 24);
    let (walked, total) = walk(&app, &admin, "/api/v1/invoices?status=void", 3).await;
    assert_eq!((walked, total), (void.clone(), json!(void.len())));
    let (walked, _) = walk(&app, &admin, "/api/v1/invoices?status=open", 3).await;
    assert_eq!(walked, open);
    let adas: Vec<i64> = invoices
        .iter()
        .filter(|(_, c)| *c == ada)
        .map(|(id, _)| *id)
        .collect();
    let (walked, _) = walk(
        &app,
        &admin,
        &format!("/api/v1/invoices?customer_id={ada}"),
        5,
    )
    .await;
    assert_eq!(walked, adas);
    let (walked, total) = walk(&app, &ada_token, "/api/v1/me/invoices", 5).await;
    assert_eq!((walked, total), (adas.clone(), json!(12)));
    let adas_void: Vec<i64> = adas
        .iter()
        .copied()
        .filter(|id| void.contains(id))
        .collect();
    let (walked, _) = walk(&app, &ada_token, "/api/v1/me/invoices?status=void", 2).await;
    assert_eq!(walked, adas_void);

    // The customer search holds by cursor too.
    let mut matching = Vec::new();
    for i in 0..9 {
        let name = if i % 2 == 0 {
            "Keyset Kate"
        } else {
            "Other Olga"
        };
        let (status, body) = app
            .post(
                "/api/v1/customers",
                Some(&admin),
                json!({"email": format!("k{i}@example.com"), "full_name": name}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        if i % 2 == 0 {
            matching.push(body["id"].as_i64().unwrap());
        }
    }
    matching.reverse();
    let (walked, total) = walk(&app, &admin, "/api/v1/customers?search=keyset", 2).await;
    assert_eq!((walked, total), (matching, json!(5)));
    let (walked, total) = walk(&app, &admin, "/api/v1/customers", 4).await;
    assert_eq!(walked.len(), 11);
    assert_eq!(total, 11);
}

#[tokio::test]
async fn bad_cursors_are_refused_naming_the_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await;
    let (ada, ada_token) = app.customer(&admin, "ada@example.com").await;
    for _ in 0..3 {
        app.license(&admin, ada, plan).await;
    }
    let (_, before) = app.get("/api/v1/licenses", Some(&admin)).await;
    let (_, audit_before) = app.get("/api/v1/audit-log", Some(&admin)).await;
    for (path, token) in [
        ("/api/v1/licenses", admin.as_str()),
        ("/api/v1/invoices?status=open", admin.as_str()),
        ("/api/v1/customers?search=ada", admin.as_str()),
        ("/api/v1/audit-log", admin.as_str()),
        ("/api/v1/me/licenses", ada_token.as_str()),
        ("/api/v1/me/invoices", ada_token.as_str()),
    ] {
        for bad in ["after=0", "after=-1", "after=abc", "after=", "after=1.5"] {
            assert_error(
                app.get(&with(path, bad), Some(token)).await,
                StatusCode::BAD_REQUEST,
                "bad_request",
                Some("after"),
            );
        }
        assert_error(
            app.get(&with(path, "after=5&page=2"), Some(token)).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
            Some("page"),
        );
        assert_error(
            app.get(&with(path, "page=2&after=99999"), Some(token))
                .await,
            StatusCode::BAD_REQUEST,
            "bad_request",
            Some("page"),
        );
        assert_error(
            app.get(&with(path, "after=5&per_page=0"), Some(token))
                .await,
            StatusCode::BAD_REQUEST,
            "bad_request",
            Some("per_page"),
        );
    }
    let (_, after) = app.get("/api/v1/licenses", Some(&admin)).await;
    assert_eq!(before, after);
    let (_, audit_after) = app.get("/api/v1/audit-log", Some(&admin)).await;
    assert_eq!(audit_before, audit_after);
}

/// The schema of an operation's 200 answer, with a `$ref` followed.
fn ok_schema<'a>(doc: &'a Value, op: &'a Value) -> Option<&'a Value> {
    let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.rsplit('/').next()?;
            Some(&doc["components"]["schemas"][name])
        }
        None => (!schema.is_null()).then_some(schema),
    }
}

fn allows_null(schema: &Value) -> bool {
    schema["nullable"] == true
        || schema["type"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "null"))
        || schema["oneOf"]
            .as_array()
            .is_some_and(|v| v.iter().any(|s| s["type"] == "null"))
}

/// Every list in the OpenAPI document, found by its answer's shape: so a list added
/// later is covered without naming it here.
fn lists(doc: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("get") else {
            continue;
        };
        let Some(schema) = ok_schema(doc, op) else {
            continue;
        };
        let props = &schema["properties"];
        if props["items"].is_object() && props["per_page"].is_object() {
            out.push((path.clone(), schema.clone()));
        }
    }
    out
}

#[tokio::test]
async fn every_list_documents_after_and_next_after() {
    let app = TestApp::spawn().await;
    let (_, doc) = app.get("/api/openapi.json", None).await;
    let lists = lists(&doc);
    for known in [
        "/api/v1/nextpanel/accounts",
        "/api/v1/customers",
        "/api/v1/invoices",
        "/api/v1/licenses",
        "/api/v1/jobs",
        "/api/v1/emails",
        "/api/v1/audit-log",
        "/api/v1/credit-notes",
        "/api/v1/disputes",
        "/api/v1/nextpanel/reconciliations",
        "/api/v1/me/licenses",
        "/api/v1/me/accounts",
        "/api/v1/me/invoices",
        "/api/v1/me/credit-notes",
    ] {
        assert!(
            lists.iter().any(|(p, _)| p == known),
            "{known} is not found as a list in the document"
        );
    }
    for (path, schema) in &lists {
        let params = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} has no parameters"));
        let param = |name: &str| {
            params
                .iter()
                .find(|p| p["name"] == name && p["in"] == "query")
                .unwrap_or_else(|| panic!("{path} does not document ?{name}="))
        };
        param("page");
        param("per_page");
        let after = param("after");
        assert_eq!(after["schema"]["minimum"], 1, "{path}: {after}");
        assert!(
            after["description"]
                .as_str()
                .is_some_and(|d| d.contains("next_after")),
            "{path}: {after}"
        );
        let props = &schema["properties"];
        assert!(allows_null(&props["next_after"]), "{path}: {schema}");
        assert!(allows_null(&props["total"]), "{path}: {schema}");
        assert!(
            props["total"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("null when `after` is used")),
            "{path}: {schema}"
        );
    }
}

/// Every list of the document, walked one item at a time by cursor as the admin (or the
/// customer for `/me/...`): each answers 200 with falling ids and refuses `after=0`.
#[tokio::test]
async fn every_list_takes_a_cursor() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let plan = app.plan(&admin, "Starter").await;
    let (ada, ada_token) = app.customer(&admin, "ada@example.com").await;
    for _ in 0..3 {
        app.license(&admin, ada, plan).await;
    }
    let (_, doc) = app.get("/api/openapi.json", None).await;
    let lists = lists(&doc);
    assert!(lists.len() >= 14, "{lists:?}");
    let mut walked_any = false;
    for (path, _) in &lists {
        let concrete = path.replace("{id}", &ada.to_string());
        assert!(!concrete.contains('{'), "{path}: fill in its parameters");
        let token = if path.starts_with("/api/v1/me/") {
            &ada_token
        } else {
            &admin
        };
        let (all, _) = walk(&app, token, &concrete, 1).await;
        walked_any |= all.len() > 1;
        assert_error(
            app.get(&with(&concrete, "after=0"), Some(token)).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
            Some("after"),
        );
    }
    assert!(walked_any, "no list had two items to walk");
}

/// Past 10,000 matching rows a numbered page stops counting: `total` is null,
/// `total_more_than` says 10,000, and the pages still read (by number and by cursor). A
/// filter matching fewer keeps its exact total.
#[tokio::test]
async fn counts_stop_past_ten_thousand_rows() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let before = app.count("audit_log").await;
    let at = match app.db {
        billing::store::Db::Sqlite(_) => "'2026-01-01T00:00:00+00:00'",
        billing::store::Db::Postgres(..) => "TIMESTAMPTZ '2026-01-01 00:00:00+00'",
    };
    // 10,050 entries in one statement, one in a thousand about a rare kind of thing.
    app.exec(&format!(
        "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10050) \
         INSERT INTO audit_log (actor_kind, actor_id, actor_label, action, entity_type, entity_id, created_at) \
         SELECT 'system', NULL, 'test', 'bulk.write', CASE WHEN i % 1000 = 0 THEN 'rare' ELSE 'common' END, i, {at} FROM n"
    ))
    .await;
    assert_eq!(app.count("audit_log").await, before + 10_050);

    let (status, first) = app.get("/api/v1/audit-log?per_page=20", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(first["total"].is_null(), "{first}");
    assert_eq!(first["total_more_than"], 10_000);
    assert_eq!(ids(&first).len(), 20);
    let (_, deep) = app
        .get("/api/v1/audit-log?per_page=20&page=400", Some(&admin))
        .await;
    assert_eq!(
        ids(&deep).len(),
        20,
        "page numbers past the count still read"
    );
    assert_eq!(deep["total_more_than"], 10_000);
    let (_, next) = app
        .get(
            &format!(
                "/api/v1/audit-log?per_page=20&after={}",
                first["next_after"]
            ),
            Some(&admin),
        )
        .await;
    assert!(
        next["total"].is_null() && next["total_more_than"].is_null(),
        "{next}"
    );

    let (_, rare) = app
        .get("/api/v1/audit-log?entity_type=rare", Some(&admin))
        .await;
    assert_eq!(rare["total"], 10, "{rare}");
    assert!(rare["total_more_than"].is_null(), "{rare}");
}
