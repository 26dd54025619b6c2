-- ingest/ledger_record: how a normalised fact enters the ledger.  The C
-- normalisers decide what a provider event means; these functions keep the
-- ledger's invariants: one row per fact, conversions with a running LTV
-- that stays right when facts arrive out of order, users filled in as soon
-- as a link is known.  They are private (no grants): the processor calls
-- them as the extension owner.

-- Value one money event as a conversion.  Conversions are inserted with
-- their final LTV so that triggers on conversions see it; conversions of
-- the same customer dated later (an earlier fact that arrived late) are
-- shifted by this event's value.
CREATE FUNCTION attribution._value_conversion(p_billing_event_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    b           attribution.billing_events%ROWTYPE;
    v_prior     bigint := 0;
    v_earlier   boolean := false;
    v_payment   boolean;
    v_first     boolean;
    v_id        bigint;
BEGIN
    SELECT * INTO STRICT b FROM attribution.billing_events WHERE id = p_billing_event_id;
    v_payment := b.kind IN ('subscription_started', 'renewal', 'upgrade', 'downgrade', 'one_time_purchase')
                 AND b.amount_minor > 0;
    IF b.customer_id IS NOT NULL THEN
        -- The LTV is a running sum: the customer's latest conversion at or
        -- before this one holds the sum of all up to it.  Existing
        -- conversions all have smaller ids, so at equal times they come
        -- first in (occurred_at, id) order.
        SELECT c.ltv_minor INTO v_prior
          FROM attribution.conversions c
         WHERE c.provider = b.provider AND c.customer_id = b.customer_id
           AND c.currency = b.currency AND c.occurred_at <= b.occurred_at
         ORDER BY c.occurred_at DESC, c.id DESC
         LIMIT 1;
        v_prior := coalesce(v_prior, 0);
        v_earlier := EXISTS (
            SELECT 1 FROM attribution.conversions c
             WHERE c.provider = b.provider AND c.customer_id = b.customer_id
               AND c.currency = b.currency AND c.occurred_at <= b.occurred_at
               AND c.kind IN ('subscription_started', 'renewal', 'upgrade', 'downgrade', 'one_time_purchase')
               AND c.value_minor > 0);
    END IF;
    v_first := v_payment AND NOT v_earlier;

    INSERT INTO attribution.conversions
        (billing_event_id, provider, customer_id, user_id, kind, occurred_at,
         value_minor, currency, value, ltv_minor, is_first_payment)
    VALUES (b.id, b.provider, b.customer_id, b.user_id, b.kind, b.occurred_at,
            b.amount_minor, b.currency, attribution.minor_to_major(b.amount_minor, b.currency),
            v_prior + b.amount_minor, v_first)
    RETURNING id INTO v_id;

    IF b.customer_id IS NOT NULL THEN
        UPDATE attribution.conversions c
           SET ltv_minor = c.ltv_minor + b.amount_minor,
               is_first_payment = c.is_first_payment AND NOT v_first
         WHERE c.provider = b.provider AND c.customer_id = b.customer_id
           AND c.currency = b.currency AND c.occurred_at > b.occurred_at;
    END IF;
    RETURN v_id;
END
$fn$;
COMMENT ON FUNCTION attribution._value_conversion(bigint) IS 'Insert the conversion of a money event with the customer''s LTV to date and shift the LTV of the customer''s later conversions';

-- Record one lifecycle fact.  Returns the new billing event id, or NULL
-- when the fact is already in the ledger (re-processing, duplicates across
-- event types).
CREATE FUNCTION attribution._record_billing_event(
    p_provider text, p_kind text, p_fact_key text, p_inbox_id bigint,
    p_customer_id text, p_subscription_id text, p_object_id text, p_parent_object_id text,
    p_amount_minor bigint, p_currency text, p_occurred_at timestamptz, p_user_id text,
    p_details jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_customer  text := nullif(p_customer_id, '');
    v_user      text;
    v_currency  text := upper(nullif(p_currency, ''));
    v_id        bigint;
BEGIN
    -- Charges, refunds and disputes may not name the customer: take it from
    -- the subscription or from the payment they refer to.
    IF v_customer IS NULL AND p_subscription_id IS NOT NULL THEN
        SELECT s.customer_id INTO v_customer
          FROM attribution.subscriptions s
         WHERE s.provider = p_provider AND s.subscription_id = p_subscription_id;
    END IF;
    IF v_customer IS NULL AND p_parent_object_id IS NOT NULL THEN
        SELECT b.customer_id INTO v_customer
          FROM attribution.billing_events b
         WHERE b.provider = p_provider AND b.customer_id IS NOT NULL
           AND (b.object_id = p_parent_object_id OR b.parent_object_id = p_parent_object_id)
         ORDER BY b.id LIMIT 1;
    END IF;
    IF v_customer IS NOT NULL THEN
        SELECT c.user_id INTO v_user
          FROM attribution.customers c
         WHERE c.provider = p_provider AND c.customer_id = v_customer;
    END IF;
    IF v_user IS NULL AND p_subscription_id IS NOT NULL THEN
        SELECT s.user_id INTO v_user
          FROM attribution.subscriptions s
         WHERE s.provider = p_provider AND s.subscription_id = p_subscription_id;
    END IF;
    v_user := coalesce(v_user, nullif(p_user_id, ''));

    INSERT INTO attribution.billing_events
        (provider, kind, fact_key, inbox_id, customer_id, subscription_id, object_id,
         parent_object_id, amount_minor, currency, occurred_at, user_id, details)
    VALUES (p_provider, p_kind, p_fact_key, p_inbox_id, v_customer, p_subscription_id, p_object_id,
            p_parent_object_id, p_amount_minor, v_currency, p_occurred_at, v_user, p_details)
    ON CONFLICT (provider, fact_key) DO NOTHING
    RETURNING id INTO v_id;

    IF v_id IS NOT NULL AND v_currency IS NOT NULL AND coalesce(p_amount_minor, 0) <> 0
       AND p_kind IN ('subscription_started', 'renewal', 'upgrade', 'downgrade', 'one_time_purchase',
                      'refund', 'chargeback', 'chargeback_reversed') THEN
        PERFORM attribution._value_conversion(v_id);
    END IF;
    RETURN v_id;
END
$fn$;
COMMENT ON FUNCTION attribution._record_billing_event(text, text, text, bigint, text, text, text, text, bigint, text, timestamptz, text, jsonb) IS 'Record one lifecycle fact once (by provider and fact key) and value it as a conversion when it moves money';

-- Take note of a refund report and record what it adds to the refunds of
-- the payment.  The target total is the larger of the biggest cumulative
-- report and the sum of the single refunds seen; only the part not yet in
-- the ledger is recorded, keyed by the total it reaches.
CREATE FUNCTION attribution._observe_refund(
    p_provider text, p_parent_object_id text, p_observation_key text, p_amount_minor bigint,
    p_cumulative boolean, p_inbox_id bigint, p_customer_id text, p_subscription_id text,
    p_object_id text, p_currency text, p_occurred_at timestamptz, p_user_id text,
    p_details jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_target    bigint;
    v_recorded  bigint;
BEGIN
    IF p_amount_minor IS NULL OR p_amount_minor <= 0 THEN
        RETURN NULL;
    END IF;
    INSERT INTO attribution.refund_observations
        (provider, parent_object_id, observation_key, amount_minor, is_cumulative, inbox_id)
    VALUES (p_provider, p_parent_object_id, p_observation_key, p_amount_minor, p_cumulative, p_inbox_id)
    ON CONFLICT DO NOTHING;

    SELECT greatest(coalesce(max(o.amount_minor) FILTER (WHERE o.is_cumulative), 0),
                    coalesce(sum(o.amount_minor) FILTER (WHERE NOT o.is_cumulative), 0))
      INTO v_target
      FROM attribution.refund_observations o
     WHERE o.provider = p_provider AND o.parent_object_id = p_parent_object_id;
    SELECT coalesce(-sum(b.amount_minor), 0) INTO v_recorded
      FROM attribution.billing_events b
     WHERE b.provider = p_provider AND b.parent_object_id = p_parent_object_id AND b.kind = 'refund';

    IF v_target <= v_recorded THEN
        RETURN NULL;
    END IF;
    RETURN attribution._record_billing_event(
        p_provider, 'refund', 'refund:' || p_parent_object_id || ':' || v_target, p_inbox_id,
        p_customer_id, p_subscription_id, p_object_id, p_parent_object_id,
        -(v_target - v_recorded), p_currency, p_occurred_at, p_user_id,
        coalesce(p_details, '{}'::jsonb) || jsonb_build_object('refunded_total_minor', v_target));
END
$fn$;
COMMENT ON FUNCTION attribution._observe_refund(text, text, text, bigint, boolean, bigint, text, text, text, text, timestamptz, text, jsonb) IS 'Note a refund report (single or cumulative) for a payment and record the refund amount not yet in the ledger';

-- Keep the latest state of a subscription.  Fields of an older event only
-- fill in what is still unknown.
CREATE FUNCTION attribution._upsert_subscription(
    p_provider text, p_subscription_id text, p_customer_id text, p_user_id text,
    p_status text, p_plan_id text, p_amount_minor bigint, p_currency text, p_order_id text,
    p_cancel_at_period_end boolean, p_provider_updated_at timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_user text := nullif(p_user_id, '');
BEGIN
    IF v_user IS NULL AND p_customer_id IS NOT NULL THEN
        SELECT c.user_id INTO v_user FROM attribution.customers c
         WHERE c.provider = p_provider AND c.customer_id = p_customer_id;
    END IF;
    INSERT INTO attribution.subscriptions AS s
        (provider, subscription_id, customer_id, user_id, status, plan_id, amount_minor,
         currency, order_id, cancel_at_period_end, provider_updated_at)
    VALUES (p_provider, p_subscription_id, nullif(p_customer_id, ''), v_user, p_status, p_plan_id,
            p_amount_minor, upper(p_currency), p_order_id, p_cancel_at_period_end, p_provider_updated_at)
    ON CONFLICT (provider, subscription_id) DO UPDATE SET
        customer_id = coalesce(s.customer_id, EXCLUDED.customer_id),
        user_id = coalesce(s.user_id, EXCLUDED.user_id),
        order_id = coalesce(s.order_id, EXCLUDED.order_id),
        status = CASE WHEN EXCLUDED.provider_updated_at >= s.provider_updated_at
                      THEN coalesce(EXCLUDED.status, s.status) ELSE coalesce(s.status, EXCLUDED.status) END,
        plan_id = CASE WHEN EXCLUDED.provider_updated_at >= s.provider_updated_at
                       THEN coalesce(EXCLUDED.plan_id, s.plan_id) ELSE coalesce(s.plan_id, EXCLUDED.plan_id) END,
        amount_minor = CASE WHEN EXCLUDED.provider_updated_at >= s.provider_updated_at
                            THEN coalesce(EXCLUDED.amount_minor, s.amount_minor) ELSE coalesce(s.amount_minor, EXCLUDED.amount_minor) END,
        currency = CASE WHEN EXCLUDED.provider_updated_at >= s.provider_updated_at
                        THEN coalesce(EXCLUDED.currency, s.currency) ELSE coalesce(s.currency, EXCLUDED.currency) END,
        cancel_at_period_end = CASE WHEN EXCLUDED.provider_updated_at >= s.provider_updated_at
                                    THEN coalesce(EXCLUDED.cancel_at_period_end, s.cancel_at_period_end)
                                    ELSE coalesce(s.cancel_at_period_end, EXCLUDED.cancel_at_period_end) END,
        provider_updated_at = greatest(s.provider_updated_at, EXCLUDED.provider_updated_at),
        updated_at = now();
END
$fn$;
COMMENT ON FUNCTION attribution._upsert_subscription(text, text, text, text, text, text, bigint, text, text, boolean, timestamptz) IS 'Merge a provider''s view of a subscription; an older event never overwrites a newer one';

-- A customer first seen in a webhook that carries the application's user id
-- is linked at once.  A link the application made itself (link_customer)
-- wins: it is never overwritten from a webhook.
CREATE FUNCTION attribution._link_webhook_customer(p_provider text, p_customer_id text,
                                                   p_user_id text, p_email text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF nullif(p_provider, '') IS NULL OR nullif(p_customer_id, '') IS NULL
       OR nullif(p_user_id, '') IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO attribution.customers (provider, customer_id, user_id, email_sha256, email_sha256_google)
    VALUES (p_provider, p_customer_id, p_user_id,
            CASE WHEN attribution.normalize_email(p_email) IS NOT NULL THEN attribution.hash_email(p_email, 'generic') END,
            CASE WHEN attribution.normalize_email(p_email) IS NOT NULL THEN attribution.hash_email(p_email, 'google_ads') END)
    ON CONFLICT ON CONSTRAINT customers_pkey DO NOTHING;
END
$fn$;
COMMENT ON FUNCTION attribution._link_webhook_customer(text, text, text, text) IS 'Link a billing customer to the user id a webhook carried, unless the customer is already linked';

-- When a customer gets (or changes) its user, ledger rows recorded before
-- the link that still have no user become the user's.
CREATE FUNCTION attribution._customer_linked()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE attribution.billing_events b SET user_id = NEW.user_id
     WHERE b.provider = NEW.provider AND b.customer_id = NEW.customer_id AND b.user_id IS NULL;
    UPDATE attribution.conversions c SET user_id = NEW.user_id
     WHERE c.provider = NEW.provider AND c.customer_id = NEW.customer_id AND c.user_id IS NULL;
    UPDATE attribution.subscriptions s SET user_id = NEW.user_id
     WHERE s.provider = NEW.provider AND s.customer_id = NEW.customer_id AND s.user_id IS NULL;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION attribution._customer_linked() IS 'Trigger: give a newly linked customer''s earlier billing events, conversions and subscriptions their user';

CREATE TRIGGER customers_fill_ledger_users
    AFTER INSERT OR UPDATE OF user_id ON attribution.customers
    FOR EACH ROW EXECUTE FUNCTION attribution._customer_linked();

-- Referral facts: one row per reward or referral, by the platform's own id.
CREATE FUNCTION attribution._record_referral(
    p_source text, p_event_id text, p_fact_key text, p_kind text, p_user_id text,
    p_customer_ref text, p_email text, p_reward_amount numeric, p_currency text,
    p_occurred_at timestamptz, p_inbox_id bigint, p_details jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_id bigint;
BEGIN
    INSERT INTO attribution.referral_events
        (source, event_id, fact_key, kind, user_id, customer_ref, email_sha256,
         reward_amount, currency, occurred_at, inbox_id, details)
    VALUES (p_source, p_event_id, p_fact_key, p_kind, nullif(p_user_id, ''), nullif(p_customer_ref, ''),
            CASE WHEN attribution.normalize_email(p_email) IS NOT NULL THEN attribution.hash_email(p_email, 'generic') END,
            p_reward_amount, upper(nullif(p_currency, '')), p_occurred_at, p_inbox_id, p_details)
    ON CONFLICT (source, fact_key) DO NOTHING
    RETURNING id INTO v_id;
    RETURN v_id;
END
$fn$;
COMMENT ON FUNCTION attribution._record_referral(text, text, text, text, text, text, text, numeric, text, timestamptz, bigint, jsonb) IS 'Record one referral platform fact once (by source and fact key)';
