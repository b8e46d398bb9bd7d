//! Background rounds are leased in the database: with several instances on one
//! database each round runs once, and the instance that holds a task keeps it.

use chrono::{Duration, Utc};

use billing::store::periodic::claim;

use crate::helpers::{engine, FreshDb};

#[tokio::test]
async fn one_instance_holds_each_round_until_its_lease_ends() {
    let fresh = FreshDb::new(engine()).await;
    fresh.db.migrate().await.unwrap();
    let mut conn = fresh.db.conn().await.unwrap();
    let t0 = Utc::now();
    let lease = Duration::seconds(27);
    assert!(claim(&mut conn, "health", "a", t0, t0 + lease)
        .await
        .unwrap());
    assert!(
        !claim(
            &mut conn,
            "health",
            "b",
            t0 + Duration::seconds(1),
            t0 + lease
        )
        .await
        .unwrap(),
        "b must not run a round a holds"
    );
    assert!(
        claim(&mut conn, "billing", "b", t0, t0 + lease)
            .await
            .unwrap(),
        "tasks are leased one by one"
    );
    // a's next tick, 30 s later: its lease ran out, it takes the round again.
    let t1 = t0 + Duration::seconds(30);
    assert!(claim(&mut conn, "health", "a", t1, t1 + lease)
        .await
        .unwrap());
    assert!(!claim(
        &mut conn,
        "health",
        "b",
        t1 + Duration::seconds(10),
        t1 + lease
    )
    .await
    .unwrap());
    // a stops: once its lease is over, b takes the task.
    let t2 = t1 + Duration::seconds(28);
    assert!(claim(&mut conn, "health", "b", t2, t2 + lease)
        .await
        .unwrap());
    assert!(!claim(
        &mut conn,
        "health",
        "a",
        t2 + Duration::seconds(1),
        t2 + lease
    )
    .await
    .unwrap());
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
