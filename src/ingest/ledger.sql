-- ingest/ledger: the subscription ledger (typed lifecycle events) and the
-- valued conversions later stages attribute and deliver.

CREATE TABLE attribution.billing_events (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider            text NOT NULL,
    kind                text NOT NULL CHECK (kind IN (
                            'trial_started', 'subscription_started', 'renewal', 'upgrade',
                            'downgrade', 'refund', 'chargeback', 'chargeback_reversed',
                            'paused', 'resumed', 'canceled', 'reactivated',
                            'one_time_purchase', 'payment_failed')),
    fact_key            text NOT NULL,
    inbox_id            bigint,
    customer_id         text,
    subscription_id     text,
    object_id           text,
    amount_minor        bigint,
    currency            text CHECK (currency ~ '^[A-Z]{3}$'),
    occurred_at         timestamptz NOT NULL,
    user_id             text,
    details             jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, fact_key)
);
CREATE INDEX billing_events_customer_idx ON attribution.billing_events (provider, customer_id, occurred_at);
CREATE INDEX billing_events_user_idx ON attribution.billing_events (user_id, occurred_at) WHERE user_id IS NOT NULL;
COMMENT ON TABLE attribution.billing_events IS 'One typed lifecycle event per provider fact; unique per (provider, fact_key) so re-processing never doubles it';
COMMENT ON COLUMN attribution.billing_events.fact_key IS 'Provider-scoped identity of the fact (for example the invoice id and kind), the idempotency key';
COMMENT ON COLUMN attribution.billing_events.object_id IS 'Provider id of the invoice, transaction, charge, refund or adjustment';
COMMENT ON COLUMN attribution.billing_events.amount_minor IS 'Revenue effect in minor units of currency: positive for payments, negative for refunds and chargebacks';

CREATE TABLE attribution.conversions (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    billing_event_id    bigint NOT NULL UNIQUE REFERENCES attribution.billing_events (id),
    provider            text NOT NULL,
    customer_id         text,
    user_id             text,
    kind                text NOT NULL,
    occurred_at         timestamptz NOT NULL,
    value_minor         bigint NOT NULL,
    currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    value               numeric NOT NULL,
    ltv_minor           bigint NOT NULL,
    is_first_payment    boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversions_user_idx ON attribution.conversions (user_id, occurred_at) WHERE user_id IS NOT NULL;
CREATE INDEX conversions_time_idx ON attribution.conversions (occurred_at);
CREATE INDEX conversions_customer_idx ON attribution.conversions (provider, customer_id, occurred_at);
COMMENT ON TABLE attribution.conversions IS 'Every money event as a conversion: signed value, the customer''s net revenue to date and whether it is the first payment';
COMMENT ON COLUMN attribution.conversions.value_minor IS 'Signed value in minor units: refunds and chargebacks negative';
COMMENT ON COLUMN attribution.conversions.value IS 'Signed value in major units of currency (zero-decimal currencies as they are)';
COMMENT ON COLUMN attribution.conversions.ltv_minor IS 'Customer''s net revenue to date, this event included, in minor units';

SELECT pg_catalog.pg_extension_config_dump('attribution.billing_events', '');
SELECT pg_catalog.pg_extension_config_dump('attribution.conversions', '');

GRANT SELECT ON attribution.billing_events, attribution.conversions TO attribution_admin;
