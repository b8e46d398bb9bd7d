-- A background round is leased for a short time and renewed while it runs, like jobs
-- and messages, instead of for most of its interval: when the instance running it
-- dies, another takes the round over within one lease (seconds) rather than at the
-- next interval. finished_at tells a round that ended (the next is due an interval
-- after it started) from one whose holder died (due again as soon as its lease lapses).
-- Kept in step with ../postgres/0025_periodic_round_leases.sql (a test compares them).

ALTER TABLE periodic_tasks ADD COLUMN finished_at TEXT;
