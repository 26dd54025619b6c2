-- audit/checks: the traces of one sampled conversion, one function per
-- check.  Each returns rows of _audit_result: the check, what it was about
-- (a platform, a destination, a referral code, or ''), pass, fail or
-- not_applicable, and a reason a person can act on.  They only read.

CREATE TYPE attribution._audit_result AS (
    check_name  text,
    subject     text,
    outcome     text,
    reason      text,
    details     jsonb
);

-- A duration in days, as the audit's reasons state them (one decimal).
CREATE FUNCTION attribution._audit_days(d interval)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT trim_scale(round(extract(epoch FROM d) / 86400, 1))::text
$fn$;

-- The touches the audit traces a conversion back through: the user's
-- touches (capture owns that rule) within the crediting lookback before it.
CREATE FUNCTION attribution._audit_touches(c attribution.conversions)
RETURNS SETOF attribution.touchpoints
LANGUAGE sql STABLE
AS $fn$
    SELECT t.*
      FROM attribution._user_touches(c.user_id) t
     WHERE c.user_id IS NOT NULL
       AND t.occurred_at <= c.occurred_at
       AND t.occurred_at >= c.occurred_at
           - pg_catalog.make_interval(days => coalesce(nullif(pg_catalog.current_setting('pg_attribution.lookback_days', true), ''), '90')::int)
$fn$;

-- A touch was captured before the conversion, and no touch that carried
-- campaign tags or a click id was left Unassigned by the channel rules.
CREATE FUNCTION attribution._audit_touch(c attribution.conversions)
RETURNS SETOF attribution._audit_result
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n int;
    last_channel text;
    unknown jsonb;
BEGIN
    IF c.user_id IS NULL THEN
        RETURN NEXT ROW('touch_captured', '', 'not_applicable',
                        'the conversion has no user, so no touch can be traced (see identity_chain)', NULL)::attribution._audit_result;
        RETURN;
    END IF;
    SELECT count(*), (array_agg(t.channel ORDER BY t.occurred_at DESC, t.id DESC))[1],
           jsonb_agg(t.id ORDER BY t.id) FILTER (
               WHERE t.channel = 'Unassigned'
                 AND (t.utm_source IS NOT NULL OR t.utm_medium IS NOT NULL OR t.utm_campaign IS NOT NULL
                      OR coalesce(t.gclid, t.gbraid, t.wbraid, t.dclid, t.fbclid, t.fbc, t.ttclid,
                                  t.li_fat_id, t.msclkid, t.twclid) IS NOT NULL))
      INTO n, last_channel, unknown
      FROM attribution._audit_touches(c) t;
    IF n = 0 THEN
        RETURN NEXT ROW('touch_captured', '', 'fail',
                        format('no touch of user %s was captured in the lookback window before the conversion', c.user_id),
                        NULL)::attribution._audit_result;
    ELSIF unknown IS NOT NULL THEN
        RETURN NEXT ROW('touch_captured', '', 'fail',
                        format('%s touch(es) carried campaign tags or a click id but were classified Unassigned', jsonb_array_length(unknown)),
                        jsonb_build_object('touch_ids', unknown))::attribution._audit_result;
    ELSE
        RETURN NEXT ROW('touch_captured', '', 'pass',
                        format('%s touch(es) before the conversion; the last one is %s', n, last_channel),
                        NULL)::attribution._audit_result;
    END IF;
END
$fn$;

-- The journey's UTM tags follow the convention (utm_violations rules) and
-- are those of the landing URL (nothing lost or altered on the way).
CREATE FUNCTION attribution._audit_utm(c attribution.conversions)
RETURNS SETOF attribution._audit_result
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tagged int;
    broken jsonb;
    lost jsonb;
BEGIN
    SELECT count(*) FILTER (WHERE t.utm_raw IS NOT NULL OR p.utm_source IS NOT NULL OR p.utm_medium IS NOT NULL
                                  OR p.utm_campaign IS NOT NULL),
           jsonb_agg(jsonb_build_object('touch_id', t.id, 'utm_source', p.utm_source, 'utm_medium', p.utm_medium,
                                        'utm_campaign', p.utm_campaign, 'utm_term', p.utm_term,
                                        'utm_content', p.utm_content) ORDER BY t.id)
               FILTER (WHERE (p.utm_source, p.utm_medium, p.utm_campaign, p.utm_term, p.utm_content)
                             IS DISTINCT FROM (t.utm_source, t.utm_medium, t.utm_campaign, t.utm_term, t.utm_content))
      INTO tagged, lost
      FROM attribution._audit_touches(c) t
      CROSS JOIN LATERAL attribution.parse_landing_url(t.url) p;
    IF coalesce(tagged, 0) = 0 THEN
        RETURN NEXT ROW('utm_convention', '', 'not_applicable', 'no touch of the journey carried UTM tags', NULL)::attribution._audit_result;
        RETURN NEXT ROW('utm_preserved', '', 'not_applicable', 'no touch of the journey carried UTM tags', NULL)::attribution._audit_result;
        RETURN;
    END IF;
    SELECT jsonb_agg(jsonb_build_object('touch_id', t.id, 'rule', v.rule, 'message', v.message) ORDER BY t.id, v.rule)
      INTO broken
      FROM attribution._audit_touches(c) t
      CROSS JOIN LATERAL attribution._utm_violations(t.utm_source, t.utm_medium, t.utm_campaign,
                                                     t.utm_content, t.utm_term, t.utm_raw) v
     WHERE t.utm_raw IS NOT NULL;
    IF broken IS NULL THEN
        RETURN NEXT ROW('utm_convention', '', 'pass', format('%s tagged touch(es) follow the convention', tagged), NULL)::attribution._audit_result;
    ELSE
        RETURN NEXT ROW('utm_convention', '', 'fail',
                        format('campaign %s breaks the UTM convention: %s',
                               coalesce((SELECT t.utm_campaign FROM attribution.touchpoints t
                                          WHERE t.id = (broken->0->>'touch_id')::bigint), '(none)'),
                               broken->0->>'message'),
                        jsonb_build_object('violations', broken))::attribution._audit_result;
    END IF;
    IF lost IS NULL THEN
        RETURN NEXT ROW('utm_preserved', '', 'pass', 'the stored UTM values are those of the landing URLs', NULL)::attribution._audit_result;
    ELSE
        RETURN NEXT ROW('utm_preserved', '', 'fail',
                        format('%s touch(es) hold UTM values that differ from their landing URL', jsonb_array_length(lost)),
                        jsonb_build_object('from_url', lost))::attribution._audit_result;
    END IF;
END
$fn$;

-- Visitor -> user -> billing customer: the paying customer is linked to a
-- user, the conversion carries that user, and the user has a visitor.
CREATE FUNCTION attribution._audit_identity(c attribution.conversions)
RETURNS SETOF attribution._audit_result
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    linked_user text;
    reason text;
BEGIN
    IF c.customer_id IS NOT NULL THEN
        SELECT k.user_id INTO linked_user FROM attribution.customers k
         WHERE k.provider = c.provider AND k.customer_id = c.customer_id;
    END IF;
    reason := CASE
        WHEN c.customer_id IS NULL AND c.user_id IS NULL THEN
            'the billing event names no customer and no user'
        WHEN c.customer_id IS NOT NULL AND linked_user IS NULL AND c.user_id IS NULL THEN
            format('billing customer %s/%s is not linked to a user', c.provider, c.customer_id)
        WHEN linked_user IS NOT NULL AND c.user_id IS DISTINCT FROM linked_user THEN
            format('the conversion names user %s but customer %s/%s is linked to user %s',
                   coalesce(c.user_id, '(none)'), c.provider, c.customer_id, linked_user)
        WHEN NOT EXISTS (SELECT 1 FROM attribution.identities i WHERE i.user_id = c.user_id)
             AND NOT EXISTS (SELECT 1 FROM attribution.touchpoints t WHERE t.user_id = c.user_id) THEN
            format('user %s has no visitor: no touch and no identify() link', c.user_id)
    END;
    IF reason IS NOT NULL THEN
        RETURN NEXT ROW('identity_chain', '', 'fail', reason,
                        jsonb_build_object('provider', c.provider, 'customer_id', c.customer_id, 'user_id', c.user_id))::attribution._audit_result;
    ELSE
        RETURN NEXT ROW('identity_chain', '', 'pass',
                        format('visitor -> user %s -> customer %s', c.user_id, coalesce(c.provider || '/' || c.customer_id, '(none)')),
                        NULL)::attribution._audit_result;
    END IF;
END
$fn$;

-- For each ad platform that claims the conversion (a paid touch of its
-- campaigns, or one of its clicks, in the journey), a click id of its own
-- lies inside its click window (the widest of its enabled destinations,
-- else 90 days).
CREATE FUNCTION attribution._audit_clicks(c attribution.conversions)
RETURNS SETOF attribution._audit_result
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    p record;
    claimed int := 0;
    latest timestamptz;
    tagged boolean;
    win interval;
BEGIN
    FOR p IN
        SELECT v.platform, v.sources, v.ids
          FROM (VALUES ('google_ads', '^(google|youtube|adwords)$', 'gclid, gbraid or wbraid'),
                       ('meta', '^(facebook|instagram|fb|ig|meta|messenger)$', 'fbclid (fbc)'),
                       ('tiktok', '^tiktok$', 'ttclid'),
                       ('linkedin', '^linkedin$', 'li_fat_id')) AS v (platform, sources, ids)
    LOOP
        -- latest click of the platform's own kind, and whether its campaigns touched the journey
        SELECT max(CASE p.platform
                       WHEN 'google_ads' THEN CASE WHEN t.gclid IS NOT NULL THEN coalesce(t.gclid_at, t.occurred_at)
                                                   WHEN t.gbraid IS NOT NULL THEN coalesce(t.gbraid_at, t.occurred_at)
                                                   WHEN t.wbraid IS NOT NULL THEN t.occurred_at END
                       WHEN 'meta' THEN CASE WHEN t.fbc IS NOT NULL OR t.fbclid IS NOT NULL THEN coalesce(t.fbc_at, t.occurred_at) END
                       WHEN 'tiktok' THEN CASE WHEN t.ttclid IS NOT NULL THEN coalesce(t.clicked_at, t.occurred_at) END
                       WHEN 'linkedin' THEN CASE WHEN t.li_fat_id IS NOT NULL THEN t.occurred_at END
                   END),
               bool_or(t.utm_source ~ p.sources AND t.utm_medium ~ '^(cpc|ppc|paid.*|display|video|retargeting|cpm)$')
          INTO latest, tagged
          FROM (SELECT * FROM attribution._user_touches(c.user_id) u
                 WHERE c.user_id IS NOT NULL AND u.occurred_at <= c.occurred_at) t;
        CONTINUE WHEN latest IS NULL AND NOT coalesce(tagged, false);
        claimed := claimed + 1;
        SELECT max(d.click_window) INTO win FROM attribution.destinations d
         WHERE d.platform = p.platform AND d.enabled;
        win := coalesce(win, interval '90 days');
        IF latest IS NULL THEN
            RETURN NEXT ROW('click_id', p.platform, 'fail',
                            format('%s claims the conversion but the journey has no %s', p.platform, p.ids),
                            NULL)::attribution._audit_result;
        ELSIF latest < c.occurred_at - win THEN
            RETURN NEXT ROW('click_id', p.platform, 'fail',
                            format('the latest %s click was %s days before the conversion, outside the %s-day click window',
                                   p.platform, attribution._audit_days(c.occurred_at - latest), attribution._audit_days(win)),
                            jsonb_build_object('clicked_at', latest, 'click_window', win))::attribution._audit_result;
        ELSE
            RETURN NEXT ROW('click_id', p.platform, 'pass',
                            format('%s click %s days before the conversion, inside the %s-day click window',
                                   p.platform, attribution._audit_days(c.occurred_at - latest), attribution._audit_days(win)),
                            jsonb_build_object('clicked_at', latest))::attribution._audit_result;
        END IF;
    END LOOP;
    IF claimed = 0 THEN
        RETURN NEXT ROW('click_id', '', 'not_applicable', 'no ad platform claims the conversion', NULL)::attribution._audit_result;
    END IF;
END
$fn$;

-- When the journey carries a referral code, the referral platform reported
-- the conversion (an event naming the user, the customer or the code), and
-- a reward it reports states its amount.
CREATE FUNCTION attribution._audit_referral(c attribution.conversions)
RETURNS SETOF attribution._audit_result
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    code text;
    ev record;
BEGIN
    FOR code IN
        SELECT DISTINCT coalesce(t.referral_code,
                                 CASE WHEN t.channel = 'Referral Program' THEN t.utm_content END) AS code
          FROM attribution._audit_touches(c) t
         WHERE t.referral_code IS NOT NULL OR (t.channel = 'Referral Program' AND t.utm_content IS NOT NULL)
         ORDER BY 1
    LOOP
        SELECT count(*) AS n,
               string_agg(DISTINCT e.source, ', ') AS sources,
               sum(e.reward_amount) AS reward,
               count(*) FILTER (WHERE e.kind LIKE '%reward%' AND e.reward_amount IS NULL) AS rewards_without_amount
          INTO ev
          FROM attribution.referral_events e
         WHERE e.user_id = c.user_id
            OR e.customer_ref IN (c.user_id, c.customer_id)
            OR e.details @> jsonb_build_object('referral_code', code)
            OR e.details @> jsonb_build_object('couponCode', code);
        IF ev.n = 0 THEN
            RETURN NEXT ROW('referral_match', code, 'fail',
                            format('referral code %s: no referral platform reported this conversion (no event for user %s)',
                                   code, coalesce(c.user_id, '(none)')),
                            NULL)::attribution._audit_result;
        ELSIF ev.rewards_without_amount > 0 THEN
            RETURN NEXT ROW('referral_match', code, 'fail',
                            format('referral code %s: %s reported a reward without an amount', code, ev.sources),
                            NULL)::attribution._audit_result;
        ELSE
            RETURN NEXT ROW('referral_match', code, 'pass',
                            format('referral code %s: reported by %s (%s event(s)), reward %s', code, ev.sources, ev.n,
                                   coalesce(ev.reward::text, 'none')),
                            jsonb_build_object('events', ev.n, 'reward', ev.reward))::attribution._audit_result;
        END IF;
    END LOOP;
    IF NOT FOUND THEN
        RETURN NEXT ROW('referral_match', '', 'not_applicable', 'the journey carries no referral code', NULL)::attribution._audit_result;
    END IF;
END
$fn$;

-- Under every model computed (pg_attribution.credit_models), the credits
-- sum to the conversion's value.
CREATE FUNCTION attribution._audit_credits(c attribution.conversions)
RETURNS SETOF attribution._audit_result
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    models text[];
    off jsonb;
    credited int;
BEGIN
    models := ARRAY(SELECT btrim(m) FROM unnest(string_to_array(
                        coalesce(current_setting('pg_attribution.credit_models', true), ''), ',')) m
                     WHERE btrim(m) <> '');
    SELECT count(*) INTO credited FROM attribution.credits cr WHERE cr.conversion_id = c.id;
    IF cardinality(models) = 0 THEN
        RETURN NEXT ROW('credits_sum', '', 'not_applicable', 'pg_attribution.credit_models is empty', NULL)::attribution._audit_result;
        RETURN;
    END IF;
    IF credited = 0 AND NOT EXISTS (SELECT 1 FROM attribution._audit_touches(c)) THEN
        RETURN NEXT ROW('credits_sum', '', 'not_applicable', 'no touch in the lookback window: the conversion is unattributed',
                        NULL)::attribution._audit_result;
        RETURN;
    END IF;
    SELECT jsonb_object_agg(m.model, coalesce(s.total, 0)) INTO off
      FROM unnest(models) m (model)
      LEFT JOIN (SELECT cr.model, sum(cr.value_credited) AS total FROM attribution.credits cr
                  WHERE cr.conversion_id = c.id GROUP BY cr.model) s ON s.model = m.model
     WHERE s.total IS DISTINCT FROM c.value;
    IF off IS NULL THEN
        RETURN NEXT ROW('credits_sum', '', 'pass', format('credits sum to %s under %s model(s)', trim_scale(c.value), cardinality(models)),
                        NULL)::attribution._audit_result;
    ELSE
        RETURN NEXT ROW('credits_sum', '', 'fail',
                        format('credits do not sum to the value %s under: %s', trim_scale(c.value),
                               (SELECT string_agg(k || ' = ' || v, ', ' ORDER BY k) FROM jsonb_each_text(off) x (k, v))),
                        off)::attribution._audit_result;
    END IF;
END
$fn$;

-- The value a payload element carries, whatever the platform's format.
CREATE FUNCTION attribution._audit_payload_value(payload jsonb)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT coalesce(CASE WHEN jsonb_typeof(payload->'conversionValue') = 'number' THEN (payload->>'conversionValue')::numeric END,
                    (payload->'conversionValue'->>'amount')::numeric,
                    (payload->'restatementValue'->>'adjustedValue')::numeric,
                    (payload->'custom_data'->>'value')::numeric,
                    (payload->'properties'->>'value')::numeric,
                    CASE WHEN jsonb_typeof(payload->'value') = 'number' THEN (payload->>'value')::numeric END)
$fn$;
