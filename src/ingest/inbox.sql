CREATE TABLE attribution.webhook_inbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source text NOT NULL,           -- 'stripe','paddle','lemonsqueezy','friendbuy','mentionme','extole','segment','rudderstack'
  event_id text NOT NULL,
  event_type text,
  body text NOT NULL,             -- raw JSON body as received
  body_sha256 text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','done','error','skipped')),
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  processed_at timestamptz,
  UNIQUE (source, event_id)
);
CREATE INDEX webhook_inbox_due_idx ON attribution.webhook_inbox (next_attempt_at, id) WHERE status IN ('pending','error');
