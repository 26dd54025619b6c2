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
    parent_object_id    text,
    amount_minor        bigint,
    currency            text CHECK (currency ~ '^[A-Z]{3}$'),
    occurred_at         timestamptz NOT NULL,
    user_id             text,
    details             jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, fact_key),
    CHECK (kind NOT IN ('refund', 'chargeback') OR amount_minor <= 0),
    CHECK (kind <> 'chargeback_reversed' OR amount_minor >= 0)
);
CREATE INDEX billing_events_customer_idx ON attribution.billing_events (provider, customer_id, occurred_at);
CREATE INDEX billing_events_user_idx ON attribution.billing_events (user_id, occurred_at) WHERE user_id IS NOT NULL;
CREATE INDEX billing_events_parent_idx ON attribution.billing_events (provider, parent_object_id)
    WHERE parent_object_id IS NOT NULL;
CREATE INDEX billing_events_subscription_idx ON attribution.billing_events (provider, subscription_id)
    WHERE subscription_id IS NOT NULL;
COMMENT ON TABLE attribution.billing_events IS 'One typed lifecycle event per provider fact; unique per (provider, fact_key) so re-processing never doubles it';
COMMENT ON COLUMN attribution.billing_events.fact_key IS 'Provider-scoped identity of the fact (for example the invoice id and kind), the idempotency key';
COMMENT ON COLUMN attribution.billing_events.inbox_id IS 'webhook_inbox row the fact was first derived from';
COMMENT ON COLUMN attribution.billing_events.object_id IS 'Provider id of the invoice, transaction, charge, refund or adjustment';
COMMENT ON COLUMN attribution.billing_events.parent_object_id IS 'For refunds and chargebacks: the provider id of the payment they take money back from (charge, transaction, order, invoice)';
COMMENT ON COLUMN attribution.billing_events.amount_minor IS 'Revenue effect in minor units of currency: positive for payments, negative for refunds and chargebacks, NULL when the event moves no money';
COMMENT ON COLUMN attribution.billing_events.user_id IS 'Application user the customer is linked to; filled in later when the link arrives after the event';

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
-- Serves the running LTV: a customer's latest conversion in a currency at
-- or before a time, by (occurred_at, id).
CREATE INDEX conversions_customer_idx ON attribution.conversions (provider, customer_id, currency, occurred_at, id);
COMMENT ON TABLE attribution.conversions IS 'Every money event as a conversion: signed value, the customer''s net revenue to date and whether it is the first payment';
COMMENT ON COLUMN attribution.conversions.value_minor IS 'Signed value in minor units: refunds and chargebacks negative';
COMMENT ON COLUMN attribution.conversions.value IS 'Signed value in major units of currency (zero-decimal currencies as they are)';
COMMENT ON COLUMN attribution.conversions.ltv_minor IS 'Customer''s net revenue to date, this event included, in minor units';
COMMENT ON COLUMN attribution.conversions.is_first_payment IS 'True for the customer''s earliest positive payment in this currency';

-- Subscription state as the providers last described it.  Out-of-order
-- deliveries never roll it back: an update older than the stored one only
-- fills in fields that are still unknown.
CREATE TABLE attribution.subscriptions (
    provider                text NOT NULL,
    subscription_id         text NOT NULL CHECK (subscription_id <> ''),
    customer_id             text,
    user_id                 text,
    status                  text,
    plan_id                 text,
    amount_minor            bigint,
    currency                text CHECK (currency ~ '^[A-Z]{3}$'),
    order_id                text,
    cancel_at_period_end    boolean,
    provider_updated_at     timestamptz NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, subscription_id)
);
CREATE INDEX subscriptions_customer_idx ON attribution.subscriptions (provider, customer_id);
CREATE INDEX subscriptions_order_idx ON attribution.subscriptions (provider, order_id) WHERE order_id IS NOT NULL;
COMMENT ON TABLE attribution.subscriptions IS 'Latest known state of each provider subscription; an older update never overwrites a newer one';
COMMENT ON COLUMN attribution.subscriptions.provider_updated_at IS 'Provider time of the newest event the row reflects (event creation or occurrence time)';
COMMENT ON COLUMN attribution.subscriptions.amount_minor IS 'Recurring price per period in minor units, as last reported';
COMMENT ON COLUMN attribution.subscriptions.order_id IS 'Lemon Squeezy order that created the subscription, which tells its order_created event apart from a one-time purchase';

-- What the providers said about refunds of one payment.  Providers report
-- the same refund twice (Stripe: refund.created with the refund amount and
-- charge.refunded with the charge's cumulative amount_refunded), in either
-- order; the ledger records the difference between the largest total
-- observed and the refunds already recorded, so it converges without doubling.
CREATE TABLE attribution.refund_observations (
    provider            text NOT NULL,
    parent_object_id    text NOT NULL,
    observation_key     text NOT NULL,
    amount_minor        bigint NOT NULL CHECK (amount_minor >= 0),
    is_cumulative       boolean NOT NULL,
    inbox_id            bigint,
    observed_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, parent_object_id, observation_key)
);
COMMENT ON TABLE attribution.refund_observations IS 'Refund amounts reported per payment: single refunds (by refund id) and cumulative totals (amount refunded so far)';
COMMENT ON COLUMN attribution.refund_observations.is_cumulative IS 'True when amount_minor is the total refunded so far for the payment, false for one refund';

-- Referral platforms report rewards and referrals, not money the company
-- received: they are kept as facts next to the ledger, never as conversions.
CREATE TABLE attribution.referral_events (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source              text NOT NULL CHECK (source IN ('friendbuy', 'mentionme', 'extole')),
    event_id            text NOT NULL,
    fact_key            text NOT NULL,
    kind                text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]*$'),
    user_id             text,
    customer_ref        text,
    email_sha256        text CHECK (email_sha256 ~ '^[0-9a-f]{64}$'),
    reward_amount       numeric,
    currency            text,
    occurred_at         timestamptz NOT NULL,
    inbox_id            bigint,
    details             jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, fact_key)
);
CREATE INDEX referral_events_user_idx ON attribution.referral_events (user_id, occurred_at) WHERE user_id IS NOT NULL;
COMMENT ON TABLE attribution.referral_events IS 'Referral platform facts (rewards earned, referrals created) with the application user they name; never conversions';
COMMENT ON COLUMN attribution.referral_events.user_id IS 'Application user id the platform carries back (Friendbuy customerId, Extole partner_user_id, Mention Me uniqueIdentifier)';
COMMENT ON COLUMN attribution.referral_events.reward_amount IS 'Reward value as the platform states it, in its own unit (currency or points)';
COMMENT ON COLUMN attribution.referral_events.email_sha256 IS 'SHA-256 of the normalised e-mail the platform sent; the address itself is not kept';

SELECT pg_catalog.pg_extension_config_dump('attribution.billing_events', '');
SELECT pg_catalog.pg_extension_config_dump('attribution.conversions', '');
SELECT pg_catalog.pg_extension_config_dump('attribution.subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('attribution.refund_observations', '');
SELECT pg_catalog.pg_extension_config_dump('attribution.referral_events', '');

-- Minor units per major unit, as ISO 4217 and the payment providers count
-- them: zero-decimal currencies are charged in whole units, a few Gulf and
-- North African currencies in thousandths (src/ingest/currency.c; in C
-- because every conversion is valued with them).
CREATE FUNCTION attribution.currency_exponent(currency text)
RETURNS int
AS 'MODULE_PATHNAME', 'attr_currency_exponent'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION attribution.currency_exponent(text) IS 'Decimal places of a currency''s minor unit: 0 for JPY, KRW, VND, CLP and the other zero-decimal currencies, 3 for BHD, KWD, JOD, OMR, TND, 2 for most; a code that is not an ISO 4217 currency is refused (22023)';

-- An amount in minor units as a major-unit value.
CREATE FUNCTION attribution.minor_to_major(amount_minor bigint, currency text)
RETURNS numeric
AS 'MODULE_PATHNAME', 'attr_minor_to_major'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION attribution.minor_to_major(bigint, text) IS 'Amount in minor units as major units of the currency (1999 USD -> 19.99, 1999 JPY -> 1999, 1999 KWD -> 1.999)';

GRANT SELECT ON attribution.billing_events, attribution.conversions, attribution.subscriptions,
                attribution.referral_events, attribution.refund_observations
   TO attribution_admin;
GRANT EXECUTE ON FUNCTION attribution.currency_exponent(text),
                          attribution.minor_to_major(bigint, text)
   TO attribution_app, attribution_analyst, attribution_admin;
