-- ingest/inbox: every accepted webhook, raw, once per (source, event id),
-- until the processor worker has normalised it.  Logged: a crash must not
-- lose an event the sender was told was received.

CREATE TABLE attribution.webhook_inbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source          text NOT NULL,
    event_id        text NOT NULL,
    event_type      text,
    body            text NOT NULL,
    body_sha256     text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'error', 'skipped')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    processed_at    timestamptz,
    UNIQUE (source, event_id)
);
CREATE INDEX webhook_inbox_due_idx ON attribution.webhook_inbox (next_attempt_at, id)
    WHERE status IN ('pending', 'error');
COMMENT ON TABLE attribution.webhook_inbox IS 'Accepted webhooks, raw, unique per (source, event id); the processor worker normalises them in order of receipt';
COMMENT ON COLUMN attribution.webhook_inbox.event_id IS 'Provider event id, or a key derived under webhook_sources.event_id_paths, or the body''s SHA-256 for senders without one';
COMMENT ON COLUMN attribution.webhook_inbox.body IS 'Request body exactly as received and verified';
COMMENT ON COLUMN attribution.webhook_inbox.body_sha256 IS 'SHA-256 of the body: tells a re-delivery from a different body under the same event id';
COMMENT ON COLUMN attribution.webhook_inbox.status IS 'pending (not yet processed), done, error (retried at next_attempt_at) or skipped (nothing to record)';

-- Bodies of a few KB cross the compression threshold: lz4, where the server
-- has it, compresses them several times faster than the default pglz.
DO $lz4$
BEGIN
    ALTER TABLE attribution.webhook_inbox ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$lz4$;

SELECT pg_catalog.pg_extension_config_dump('attribution.webhook_inbox', '');

GRANT SELECT ON attribution.webhook_inbox TO attribution_admin;
