-- ingest/webhook: webhook sources, their signature schemes, the rejections
-- log and the synchronous entry point ingest_webhook().

CREATE TABLE attribution.webhook_sources (
    source              text PRIMARY KEY CHECK (source ~ '^[a-z][a-z0-9_]*$'),
    scheme              text NOT NULL CHECK (scheme IN ('stripe', 'paddle', 'hmac', 'shared_secret')),
    signature_header    text NOT NULL CHECK (signature_header ~ '^[A-Za-z0-9!#$%&''*+.^_`|~-]+$'),
    enabled             boolean NOT NULL DEFAULT true,
    tolerance_seconds   integer CHECK (tolerance_seconds >= 0),
    options             jsonb NOT NULL DEFAULT '{}',
    event_id_paths      text[] NOT NULL DEFAULT '{}',
    event_type_path     text CHECK (event_type_path ~ '^[^.?]+(\.[^.?]+)*$'),
    description         text,
    CONSTRAINT webhook_sources_tolerance_check
        CHECK (tolerance_seconds IS NULL OR scheme IN ('stripe', 'paddle')),
    CONSTRAINT webhook_sources_options_check CHECK (
        pg_catalog.jsonb_typeof(options) = 'object'
        AND (options - ARRAY['algorithm', 'encoding', 'prefix', 'allow_sha1_prefix']) = '{}'::jsonb
        AND coalesce(options->>'algorithm', 'sha256') IN ('sha256', 'sha1')
        AND coalesce(options->>'encoding', 'hex') IN ('hex', 'base64', 'auto')
        AND coalesce(pg_catalog.jsonb_typeof(options->'prefix'), 'string') = 'string'
        AND coalesce(pg_catalog.jsonb_typeof(options->'allow_sha1_prefix'), 'boolean') = 'boolean'),
    CONSTRAINT webhook_sources_event_id_paths_check CHECK (
        pg_catalog.cardinality(event_id_paths) <= 8
        AND pg_catalog.array_position(event_id_paths, NULL) IS NULL
        AND (pg_catalog.cardinality(event_id_paths) = 0
             OR pg_catalog.array_to_string(event_id_paths, E'\n') || E'\n'
                ~ '^([^.?\n]+(\.[^.?\n]+)*\??\n)+$'))
);
COMMENT ON TABLE attribution.webhook_sources IS 'Webhook senders ingest_webhook() accepts: signature scheme, timestamp tolerance and how to find the event id';
COMMENT ON COLUMN attribution.webhook_sources.scheme IS 'stripe (t=,v1= over "t.body"), paddle (ts=;h1= over "ts:body"), hmac (one digest of the body) or shared_secret (the secret itself: Bearer, Basic or bare)';
COMMENT ON COLUMN attribution.webhook_sources.signature_header IS 'Request header holding the signature or shared secret; matched case-insensitively';
COMMENT ON COLUMN attribution.webhook_sources.tolerance_seconds IS 'stripe and paddle: how many seconds the signed timestamp may lag the server clock; NULL checks no age';
COMMENT ON COLUMN attribution.webhook_sources.options IS 'hmac: algorithm (sha256|sha1), encoding (hex|base64|auto), prefix stripped when present (e.g. "sha256="), allow_sha1_prefix (accept "sha1=" + hex HMAC-SHA1)';
COMMENT ON COLUMN attribution.webhook_sources.event_id_paths IS 'Dotted JSON paths whose values, joined by ":", make the event id (a trailing "?" marks an optional one); empty, or a required value absent: the body''s SHA-256';
COMMENT ON COLUMN attribution.webhook_sources.event_type_path IS 'Dotted JSON path of the event type';

INSERT INTO attribution.webhook_sources
    (source, scheme, signature_header, tolerance_seconds, options, event_id_paths, event_type_path, description)
VALUES
    ('stripe', 'stripe', 'Stripe-Signature', 300, '{}', '{id}', 'type',
     'Stripe: HMAC-SHA256 of "t.body" under the whole endpoint secret (whsec_...), any v1 matching'),
    ('paddle', 'paddle', 'Paddle-Signature', 5, '{}', '{event_id}', 'event_type',
     'Paddle Billing: HMAC-SHA256 of "ts:body"; the SDKs allow 5 s, raise it if retried deliveries are rejected'),
    ('lemonsqueezy', 'hmac', 'X-Signature', NULL, '{"algorithm": "sha256", "encoding": "hex"}',
     '{meta.event_name,data.type,data.id,data.attributes.updated_at?}', 'meta.event_name',
     'Lemon Squeezy: hex HMAC-SHA256 of the body'),
    ('friendbuy', 'hmac', 'X-Friendbuy-Hmac-SHA256', NULL, '{"algorithm": "sha256", "encoding": "base64"}',
     '{id}', 'type', 'Friendbuy: base64 HMAC-SHA256 of the body'),
    ('mentionme', 'hmac', 'X-MentionMe-Signature', NULL,
     '{"algorithm": "sha256", "encoding": "hex", "prefix": "sha256="}', '{}', 'type',
     'Mention Me: sha256=<HMAC-SHA256 of the body>; hex assumed, set encoding to base64 or auto if needed'),
    ('extole', 'hmac', 'X-Extole-Signature', NULL,
     '{"algorithm": "sha256", "encoding": "hex", "allow_sha1_prefix": false}', '{event_id}', 'type',
     'Extole: hex HMAC-SHA256 of the body; allow_sha1_prefix accepts the sha1= variant'),
    ('segment', 'hmac', 'X-Signature', NULL, '{"algorithm": "sha1", "encoding": "hex"}',
     '{messageId}', 'type', 'Segment webhook destination: hex HMAC-SHA1 of the body under the shared secret'),
    ('rudderstack', 'shared_secret', 'Authorization', NULL, '{}', '{messageId}', 'type',
     'RudderStack webhook destination: a configured header carrying the shared secret (Bearer, Basic or bare)');

-- Backends keep the sources and their secrets' ciphertexts: any change
-- makes them read the tables again.
CREATE FUNCTION attribution._webhook_config_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'attr_webhook_config_changed'
LANGUAGE C;
CREATE TRIGGER webhook_sources_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON attribution.webhook_sources FOR EACH STATEMENT EXECUTE FUNCTION attribution._webhook_config_changed();

CREATE TABLE attribution.webhook_rejections (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at         timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    source              text NOT NULL,
    reason              text NOT NULL CHECK (reason IN (
                            'missing_signature', 'malformed_signature', 'bad_signature',
                            'stale_timestamp', 'body_too_large', 'malformed_json',
                            'source_disabled', 'no_active_secret')),
    detail              text,
    http_status         integer NOT NULL CHECK (http_status BETWEEN 400 AND 599),
    body_sha256         text NOT NULL CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
    body_length         integer NOT NULL CHECK (body_length >= 0),
    signature_timestamp timestamptz
);
CREATE INDEX webhook_rejections_received_idx ON attribution.webhook_rejections (received_at);
CREATE INDEX webhook_rejections_source_idx ON attribution.webhook_rejections (source, received_at);
COMMENT ON TABLE attribution.webhook_rejections IS 'Webhook calls ingest_webhook() refused: when, which source, why and a digest of the body; never the body or a secret';
COMMENT ON COLUMN attribution.webhook_rejections.body_sha256 IS 'SHA-256 of the raw body, to match a rejection with a provider''s delivery log';
COMMENT ON COLUMN attribution.webhook_rejections.signature_timestamp IS 'Timestamp the signature header claimed (stripe, paddle), when it had one';

CREATE TYPE attribution.ingest_result AS (
    status      text,
    event_id    text,
    detail      text,
    http_status integer
);
COMMENT ON TYPE attribution.ingest_result IS 'Answer of ingest_webhook(): status accepted, duplicate or rejected; the event id; why, in words an operator can act on; and the HTTP status to answer the sender with';

CREATE FUNCTION attribution.ingest_webhook(source text, headers jsonb, body text)
RETURNS attribution.ingest_result
AS 'MODULE_PATHNAME', 'attr_ingest_webhook'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION attribution.ingest_webhook(text, jsonb, text) IS 'Verify a webhook''s signature on its raw body, store it once per (source, event id) in webhook_inbox, record refusals in webhook_rejections; answer 200 for accepted and duplicate, http_status for rejected';

CREATE FUNCTION attribution._verify_signature(source text, headers jsonb, body text,
                                              secrets text[], now timestamptz DEFAULT NULL)
RETURNS attribution.ingest_result
AS 'MODULE_PATHNAME', 'attr_verify_signature'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION attribution._verify_signature(text, jsonb, text, text[], timestamptz) IS 'ingest_webhook''s verification with given secrets at a given time (NULL: now), storing nothing; for tests and for checking a secret by hand';

-- pg_dump keeps the sources an administrator added (their secrets refer to
-- them); the rows seeded here come back with the extension.
SELECT pg_catalog.pg_extension_config_dump('attribution.webhook_sources',
    $$WHERE source NOT IN ('stripe', 'paddle', 'lemonsqueezy', 'friendbuy', 'mentionme', 'extole', 'segment', 'rudderstack')$$);
SELECT pg_catalog.pg_extension_config_dump('attribution.webhook_rejections', '');

GRANT EXECUTE ON FUNCTION attribution.ingest_webhook(text, jsonb, text) TO attribution_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON attribution.webhook_sources TO attribution_admin;
GRANT SELECT, DELETE ON attribution.webhook_rejections TO attribution_admin;
