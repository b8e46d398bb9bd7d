-- Background rounds (health checks, reconciliation, usage polls, billing) are leased
-- here, so several instances on one database run each round once, not once each.
-- Kept in step with ../sqlite/0008_periodic_tasks.sql (a test compares them).

CREATE TABLE periodic_tasks (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL,
    last_started_at TIMESTAMPTZ NOT NULL
);
