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
