//! Background rounds are leased in the database: with several instances on one
//! database each round runs once per interval; a round is leased for seconds and
//! renewed while it runs, so when its instance dies another takes it over at once.

use chrono::{Duration, Utc};

use billing::service::periodic::Rounds;
use billing::store::periodic::{claim, finish, renew};

use crate::helpers::{engine, FreshDb};

#[tokio::test]
async fn a_round_runs_once_per_interval_and_is_taken_over_when_its_holder_dies() {
    let fresh = FreshDb::new(engine()).await;
    fresh.db.migrate().await.unwrap();
    let mut conn = fresh.db.conn().await.unwrap();
    let t0 = Utc::now();
    let lease = Duration::seconds(15);
    let spacing = Duration::seconds(27);
    let at = |s: i64| t0 + Duration::seconds(s);
    assert!(
        claim(&mut conn, "health", "a", t0, t0 + lease, t0 - spacing)
            .await
            .unwrap()
    );
    assert!(
        !claim(
            &mut conn,
            "health",
            "b",
            at(1),
            at(1) + lease,
            at(1) - spacing
        )
        .await
        .unwrap(),
        "b must not run a round a holds"
    );
    assert!(
        claim(&mut conn, "billing", "b", t0, t0 + lease, t0 - spacing)
            .await
            .unwrap(),
        "tasks are leased one by one"
    );
    // a's round ends early; the next is still not due until an interval after it started.
    assert!(finish(&mut conn, "health", "a", at(5)).await.unwrap());
    assert!(!claim(
        &mut conn,
        "health",
        "b",
        at(6),
        at(6) + lease,
        at(6) - spacing
    )
    .await
    .unwrap());
    assert!(claim(
        &mut conn,
        "health",
        "b",
        at(30),
        at(30) + lease,
        at(30) - spacing
    )
    .await
    .unwrap());
    // b renews while it runs; a cannot take the round meanwhile.
    assert!(renew(&mut conn, "health", "b", at(40) + lease)
        .await
        .unwrap());
    assert!(!claim(
        &mut conn,
        "health",
        "a",
        at(50),
        at(50) + lease,
        at(50) - spacing
    )
    .await
    .unwrap());
    // b dies: its lease lapses and, the round being unfinished, a takes it over at once
    // (not an interval later).
    assert!(claim(
        &mut conn,
        "health",
        "a",
        at(56),
        at(56) + lease,
        at(56) - spacing
    )
    .await
    .unwrap());
    // b, back from a pause, has lost it: it renews nothing and records nothing.
    assert!(!renew(&mut conn, "health", "b", at(57) + lease)
        .await
        .unwrap());
    assert!(!finish(&mut conn, "health", "b", at(57)).await.unwrap());
    assert!(finish(&mut conn, "health", "a", at(58)).await.unwrap());
}

#[tokio::test]
async fn an_instance_that_dies_mid_round_is_replaced_within_seconds() {
    let fresh = FreshDb::new(engine()).await;
    fresh.db.migrate().await.unwrap();
    let interval = std::time::Duration::from_secs(3600);
    let lease = std::time::Duration::from_millis(600);
    let wait = |d: u64| std::time::Duration::from_millis(d);

    let mut a = Rounds::with_lease(fresh.db.clone(), "billing", interval, lease);
    tokio::time::timeout(wait(2_000), a.next())
        .await
        .expect("the first round is due at once");
    // While a lives its heartbeat keeps the round, however long it runs.
    let mut b = Rounds::with_lease(fresh.db.clone(), "billing", interval, lease);
    assert!(
        tokio::time::timeout(wait(2_000), b.next()).await.is_err(),
        "b must wait while a runs the round"
    );
    // a dies mid-round (no finish; its heartbeat stops): b takes over within a lease or two.
    drop(a);
    tokio::time::timeout(wait(3_000), b.next())
        .await
        .expect("b takes the round over within seconds");
    // b finishes it (by asking for its next round): the next is an interval away, for
    // everyone.
    assert!(tokio::time::timeout(wait(1_500), b.next()).await.is_err());
    let mut c = Rounds::with_lease(fresh.db.clone(), "billing", interval, lease);
    assert!(tokio::time::timeout(wait(1_500), c.next()).await.is_err());
}

#[tokio::test]
async fn housekeeping_trims_what_has_served_and_keeps_the_audit_log_by_default() {
    let app = crate::helpers::TestApp::spawn().await;
    let admin = app.admin_token().await;
    let long_ago = "'2020-01-01T00:00:00Z'";
    app.exec(&format!(
        "INSERT INTO sessions (user_id, access_hash, refresh_hash, access_expires_at, refresh_expires_at, created_at) \
         VALUES (1, 'a-old', 'r-old', {long_ago}, {long_ago}, {long_ago})"
    ))
    .await;
    app.exec(&format!(
        "INSERT INTO stripe_events (event_id, event_type, outcome, received_at) VALUES ('evt_old', 'x', 'y', {long_ago})"
    ))
    .await;
    app.exec(&format!(
        "INSERT INTO audit_log (actor_kind, actor_label, action, entity_type, created_at) VALUES ('system', 'system', 'x', 'y', {long_ago})"
    ))
    .await;
    let audit_before = app.count("audit_log").await;
    let settings = std::sync::Arc::new(crate::helpers::test_settings(
        billing::config::Layer::default(),
    ));
    let keeper = billing::service::housekeeping::Housekeeper {
        db: app.db.clone(),
        settings,
    };
    let trimmed = keeper.run_once(Utc::now()).await.unwrap();
    assert_eq!(trimmed.sessions, 1);
    assert_eq!(trimmed.stripe_events, 1);
    assert_eq!(trimmed.audit_entries, 0, "kept whole unless configured");
    assert_eq!(app.count("audit_log").await, audit_before);
    // The live session still works.
    let (status, _) = app.get("/api/v1/auth/me", Some(&admin)).await;
    assert_eq!(status, reqwest::StatusCode::OK);

    let keeper = billing::service::housekeeping::Housekeeper {
        db: app.db.clone(),
        settings: std::sync::Arc::new(crate::helpers::test_settings(billing::config::Layer {
            audit_retention_days: Some(365),
            ..Default::default()
        })),
    };
    let trimmed = keeper.run_once(Utc::now()).await.unwrap();
    assert_eq!(trimmed.audit_entries, 1);
    assert_eq!(app.count("audit_log").await, audit_before - 1);
}
