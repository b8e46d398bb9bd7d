-- Kept in step with ../postgres/0027_customer_search_index.sql, which adds a trigram
-- index for customer search. SQLite has no trigram index (FTS5 matches words, not
-- substrings), and at the sizes SQLite serves a search reads every user in a few
-- milliseconds (6 ms at 10,000 customers), so there is nothing to add here.
SELECT 1;
