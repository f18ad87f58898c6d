-- The verification API's audit (topic audit.lookups, CONTRACT.md section 6):
-- every call, allowed or refused, as the analytics sink lands it. One row per
-- (call, document asked about), doc_index its position in the request; a
-- call that named no document (refused before its body was read, or a body
-- without a usable document list) has one row with doc_index 0 and empty
-- doc_type and doc_token. doc_type is empty for a type the contract does not
-- know and doc_token for a number that is not valid: the API never records
-- what a caller typed, only types and keyed tokens. documents is the number
-- of documents the call named.
--
-- Ordered by token first, so that `idlink audit` (who asked about one
-- document) reads one key range. A replayed record inserts identical rows,
-- which the ReplacingMergeTree key folds; readers group by audit_id.
-- Partitioned by month, so that old audit can be dropped a month at a time.
CREATE TABLE IF NOT EXISTS audit_lookups (
    audit_id        String,
    requested_at    DateTime,
    requested_at_us UInt64,
    relying_party   String,
    key_id          String,
    endpoint        String,
    status          UInt16,
    outcome         String,
    reason          String,
    latency_us      UInt64,
    documents       UInt8,
    doc_index       UInt8,
    doc_type        String,
    doc_token       String,
    inserted_at     DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(requested_at)
ORDER BY (doc_token, requested_at_us, audit_id, doc_index);
