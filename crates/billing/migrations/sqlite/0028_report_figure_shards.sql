-- Kept in step with ../postgres/0028_report_figure_shards.sql, which spreads each report
-- figure over 16 rows so that concurrent orders and payments do not queue on one row.
-- SQLite has one writer at a time, so nothing queues on a row here: the column is
-- added for the reports' queries (which sum over it) and stays 0, and the triggers of
-- 0024 go on writing one row per figure.
ALTER TABLE license_month_figures ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;
ALTER TABLE revenue_month_figures ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;
