-- models/credits: the rule-based credits of every conversion, kept up to
-- date by triggers as conversions arrive and identities are linked.

CREATE TABLE attribution.credits (
    conversion_id   bigint NOT NULL REFERENCES attribution.conversions (id) ON DELETE CASCADE,
    model           text NOT NULL CHECK (model IN ('first_touch', 'last_touch', 'first_non_direct',
                                                   'last_non_direct', 'linear', 'position_based',
                                                   'time_decay')),
    touch_id        bigint NOT NULL REFERENCES attribution.touchpoints (id) ON DELETE CASCADE,
    channel         text NOT NULL,
    weight          float8 NOT NULL CHECK (weight > 0 AND weight <= 1),
    value_credited  numeric NOT NULL,
    referral_code   text,
    PRIMARY KEY (conversion_id, model, touch_id)
);
CREATE INDEX credits_touch_idx ON attribution.credits (touch_id);
CREATE INDEX credits_referral_idx ON attribution.credits (referral_code) WHERE referral_code IS NOT NULL;
COMMENT ON TABLE attribution.credits IS
'Rule-based credit of each conversion: one row per conversion, model and credited touch.  A conversion
with no user, or no touch of its user in the lookback window (pg_attribution.lookback_days) before it,
has no rows: the views count it as (unattributed).  Filled by triggers on conversions, identities,
customers and touchpoints; recompute_credits() redoes a range';
COMMENT ON COLUMN attribution.credits.model IS 'Rule-based model (pg_attribution.credit_models lists those computed)';
COMMENT ON COLUMN attribution.credits.channel IS 'Channel of the touch when credited';
COMMENT ON COLUMN attribution.credits.weight IS 'Share of the conversion given to the touch; a conversion''s weights sum to 1 per model';
COMMENT ON COLUMN attribution.credits.value_credited IS 'Share of conversions.value (signed: refunds negative); sums to the value exactly per model';
COMMENT ON COLUMN attribution.credits.referral_code IS 'Referral code the touch carried, or for a Referral Program touch without one its utm_content (the referrer id)';

-- A touch deleted later takes its credit rows with it (ON DELETE CASCADE):
-- run recompute_credits() over the period to spread the credit again.

CREATE TABLE attribution.credit_changes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversion_id   bigint NOT NULL REFERENCES attribution.conversions (id) ON DELETE CASCADE,
    models          text[] NOT NULL CHECK (cardinality(models) > 0),
    changed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_changes_conversion_idx ON attribution.credit_changes (conversion_id);
CREATE INDEX credit_changes_time_idx ON attribution.credit_changes (changed_at);
COMMENT ON TABLE attribution.credit_changes IS
'Append-only log of re-attributions: a row each time the stored credits of an already credited conversion
change (identify() or link_customer() attached touches, its user or value changed, recompute_credits()).
The first crediting of a new conversion is not logged.  Readers keep the last id they handled and read
credits for the current state';
COMMENT ON COLUMN attribution.credit_changes.models IS 'Models whose credited touches or weights changed';

CREATE FUNCTION attribution._credit_conversion(conversion_id bigint, record_change boolean DEFAULT true)
RETURNS int
AS 'MODULE_PATHNAME', 'attr_credit_conversion'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION attribution._credit_conversion(bigint, boolean) IS
'Replace the credits of one conversion with the models of pg_attribution.credit_models; returns the
number of credit rows.  record_change: log a difference in credit_changes';

CREATE FUNCTION attribution._recompute_credits("from" timestamptz, "to" timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'attr_recompute_credits'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION attribution._recompute_credits(timestamptz, timestamptz) IS
'Recompute the credits of every conversion that occurred in [from, to), reporting progress; returns the
number of conversions';

-- The user-facing form: progress in attribution.progress while it runs and
-- a one-line summary as its result, which is what pg_cron keeps of a job.
CREATE FUNCTION attribution.recompute_credits("from" timestamptz, "to" timestamptz)
RETURNS text
LANGUAGE plpgsql VOLATILE STRICT
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    total   bigint;
    changes bigint;
    n       bigint;
BEGIN
    SELECT count(*) INTO total FROM attribution.conversions c
     WHERE c.occurred_at >= "from" AND c.occurred_at < "to";
    SELECT coalesce(max(id), 0) INTO changes FROM attribution.credit_changes;
    PERFORM attribution._progress_start('recompute_credits', 'crediting conversions', total);
    n := attribution._recompute_credits("from", "to");
    PERFORM attribution._progress_end();
    RETURN format('recompute_credits: %s conversions credited, %s with changed credits',
                  n, (SELECT count(*) FROM attribution.credit_changes WHERE id > changes));
END
$fn$;
COMMENT ON FUNCTION attribution.recompute_credits(timestamptz, timestamptz) IS
'Recompute the credits of every conversion that occurred in [from, to); progress shows in
attribution.progress; returns a one-line summary (conversions credited, how many changed).  Differences
are logged in credit_changes';

-- Re-credit the conversions of a user that may see a touch at or after since.
CREATE FUNCTION attribution._recredit_user(user_id text, since timestamptz)
RETURNS int
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c bigint;
    n int := 0;
BEGIN
    FOR c IN SELECT cv.id FROM attribution.conversions cv
              WHERE cv.user_id = _recredit_user.user_id AND cv.occurred_at >= since
              ORDER BY cv.id
    LOOP
        PERFORM attribution._credit_conversion(c, true);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION attribution._recredit_user(text, timestamptz) IS 'Re-credit the conversions of a user from a time on';

-- New conversions are credited in the transaction that records them; a
-- changed user, time or value re-credits them.
CREATE FUNCTION attribution._conversions_credit()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM attribution._credit_conversion(NEW.id, TG_OP = 'UPDATE');
    RETURN NULL;
END
$fn$;
CREATE TRIGGER conversions_credit AFTER INSERT ON attribution.conversions
    FOR EACH ROW EXECUTE FUNCTION attribution._conversions_credit();
CREATE TRIGGER conversions_recredit AFTER UPDATE OF user_id, occurred_at, value ON attribution.conversions
    FOR EACH ROW
    WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id
          OR OLD.occurred_at IS DISTINCT FROM NEW.occurred_at
          OR OLD.value IS DISTINCT FROM NEW.value)
    EXECUTE FUNCTION attribution._conversions_credit();

-- identify(): a visitor newly linked to a user brings its touches (those
-- recorded without a user) to the user's conversions.
CREATE FUNCTION attribution._identities_recredit()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT n.user_id, min(t.occurred_at) AS since
               FROM new_links n
               JOIN attribution.touchpoints t ON t.visitor_id = n.visitor_id
              GROUP BY n.user_id
              ORDER BY n.user_id
    LOOP
        PERFORM attribution._recredit_user(r.user_id, r.since);
    END LOOP;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER identities_recredit AFTER INSERT ON attribution.identities
    REFERENCING NEW TABLE AS new_links
    FOR EACH STATEMENT EXECUTE FUNCTION attribution._identities_recredit();

-- Touches re-assigned (identify() sets user_id on a visitor's earlier
-- touches) or re-classified: the users before and after are re-credited.
CREATE FUNCTION attribution._touchpoints_recredit()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT x.user_id, min(x.occurred_at) AS since
               FROM (SELECT o.user_id, least(o.occurred_at, n.occurred_at) AS occurred_at
                       FROM old_touches o JOIN new_touches n ON n.id = o.id
                      WHERE (o.user_id, o.occurred_at, o.channel, o.referral_code, o.utm_content)
                            IS DISTINCT FROM (n.user_id, n.occurred_at, n.channel, n.referral_code, n.utm_content)
                     UNION ALL
                     SELECT n.user_id, least(o.occurred_at, n.occurred_at)
                       FROM old_touches o JOIN new_touches n ON n.id = o.id
                      WHERE (o.user_id, o.occurred_at, o.channel, o.referral_code, o.utm_content)
                            IS DISTINCT FROM (n.user_id, n.occurred_at, n.channel, n.referral_code, n.utm_content)
                    ) x
              WHERE x.user_id IS NOT NULL
              GROUP BY x.user_id
              ORDER BY x.user_id
    LOOP
        PERFORM attribution._recredit_user(r.user_id, r.since);
    END LOOP;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER touchpoints_recredit AFTER UPDATE ON attribution.touchpoints
    REFERENCING OLD TABLE AS old_touches NEW TABLE AS new_touches
    FOR EACH STATEMENT EXECUTE FUNCTION attribution._touchpoints_recredit();

-- link_customer(): the customer's conversions take the user (which fires
-- conversions_recredit for each one that changes).
CREATE FUNCTION attribution._customers_link_conversions()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE attribution.conversions c
       SET user_id = NEW.user_id
     WHERE c.provider = NEW.provider
       AND c.customer_id = NEW.customer_id
       AND c.user_id IS DISTINCT FROM NEW.user_id;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER customers_link_conversions AFTER INSERT OR UPDATE OF user_id ON attribution.customers
    FOR EACH ROW EXECUTE FUNCTION attribution._customers_link_conversions();

SELECT pg_catalog.pg_extension_config_dump('attribution.credits', '');
SELECT pg_catalog.pg_extension_config_dump('attribution.credit_changes', '');

GRANT SELECT ON attribution.credits, attribution.credit_changes TO attribution_analyst, attribution_admin;
GRANT EXECUTE ON FUNCTION attribution.recompute_credits(timestamptz, timestamptz) TO attribution_admin;
