-- The migrations table. This file runs on every start-up before the others
-- (it is idempotent); each later file runs once and is recorded here.
-- Statements end with ';' at the end of a line: Go (analytics.SplitStatements)
-- and analytics/sqlcheck/check.py split them the same way.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    UInt32,
    name       String,
    applied_at DateTime
) ENGINE = ReplacingMergeTree
ORDER BY version;
