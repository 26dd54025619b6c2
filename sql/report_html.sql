-- report_html(): one self-contained HTML document; charts drawn from the
-- data, values escaped.  The data lives in 2034 under provider 'reporttest'.
SET TIME ZONE 'UTC';

CREATE FUNCTION rep_conversion(fact text, uid text, at timestamptz, amount numeric,
                               customer text, first boolean)
RETURNS void LANGUAGE sql AS $$
    WITH be AS (
        INSERT INTO attribution.billing_events (provider, kind, fact_key, customer_id, amount_minor,
                                                currency, occurred_at, user_id)
        VALUES ('reporttest', CASE WHEN amount < 0 THEN 'refund' WHEN first THEN 'subscription_started' ELSE 'renewal' END,
                fact, customer, (amount * 100)::bigint, 'XTS', at, uid)
        RETURNING id
    )
    INSERT INTO attribution.conversions (billing_event_id, provider, customer_id, user_id, kind, occurred_at,
                                         value_minor, currency, value, ltv_minor, is_first_payment)
    SELECT be.id, 'reporttest', customer, uid,
           CASE WHEN amount < 0 THEN 'refund' WHEN first THEN 'subscription_started' ELSE 'renewal' END,
           at, (amount * 100)::bigint, 'XTS', amount, 0, first
      FROM be;
$$;

CREATE FUNCTION rep_touch(uid text, at timestamptz, channel text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, channel)
    VALUES ('visitor-' || uid, uid, at, 'https://report.test/', channel);
$$;

-- Three customers; one channel name carries every HTML special character.
SELECT rep_touch('r1', '2034-01-02', 'Paid Search');
SELECT rep_touch('r1', '2034-01-04', 'Email');
SELECT rep_conversion('R1', 'r1', '2034-01-10', 100, 'cus_r1', true);
SELECT rep_conversion('R2', 'r1', '2034-02-10', 100, 'cus_r1', false);
SELECT rep_touch('r2', '2034-01-03', '<b>&"x''');
SELECT rep_conversion('R3', 'r2', '2034-01-12', 50, 'cus_r2', true);
SELECT rep_conversion('R4', 'r2', '2034-01-20', -50, 'cus_r2', false);
SELECT rep_touch('r3', '2034-01-05', 'Email');
SELECT rep_conversion('R5', 'r3', '2034-02-01', 30, 'cus_r3', true);
SELECT rep_touch('r4', '2034-01-06', 'Email');  -- never converts

CREATE TEMP TABLE rep AS SELECT attribution.report_html('2034-01-01', '2034-03-01') AS h;

-- A whole HTML5 document, no script, no external asset.
SELECT h LIKE '<!DOCTYPE html><html lang="en">%</html>' AS is_document,
       h !~* '<script' AS no_script,
       h !~* '(src|href)=' AS no_external_asset,
       h LIKE '%<meta name="viewport"%' AS phone_viewport,
       h LIKE '%@media print%' AS printable
  FROM rep;

-- Values are escaped: the hostile channel name appears only escaped.
SELECT position('&lt;b&gt;&amp;&quot;x&#39;' IN h) > 0 AS escaped,
       position('<b>&' IN h) = 0 AS no_raw_markup
  FROM rep;

-- Every section is there.
SELECT s, position('<section id="' || s || '">' IN h) > 0 AS present
  FROM rep, unnest(ARRAY['summary', 'channel-credit', 'ltv', 'timeline', 'referrals', 'delivery', 'utm']) s;

-- Channel credit without a fit: the 7 rule-based models over the 4 paying
-- conversions, one bar per model and channel with credit.
CREATE FUNCTION chart_count(html text, chart text, element text)
RETURNS int LANGUAGE sql AS $$
    SELECT count(*)::int
      FROM regexp_matches(substring(html FROM '<svg class="chart" data-chart="' || chart || '"[^>]*?>.*?</svg>'),
                          '<' || element || ' class="(bar|point)"', 'g')
$$;
SELECT chart_count(h, 'channel-credit', 'rect') AS rule_bars,
       (SELECT count(*) FROM (SELECT DISTINCT cr.model, cr.channel
                                FROM attribution.credits cr JOIN attribution.conversions c ON c.id = cr.conversion_id
                               WHERE c.provider = 'reporttest' AND c.value_minor > 0 AND cr.weight > 0) x) AS expected
  FROM rep;

-- Weekly timeline over 59 days from a Sunday: 10 Monday-based weeks, two series.
SELECT chart_count(h, 'timeline', 'circle') AS points FROM rep;
-- LTV: one bar per acquisition channel with a positive average: Paid Search
-- (200) and Email (30); the refunded customer's channel (0) is only in the table.
SELECT chart_count(h, 'ltv', 'rect') AS ltv_bars FROM rep;
-- The partial customer's net value (50 - 50 = 0) and the summary's revenue.
SELECT position('<span class="v">230</span>' IN h) > 0 AS revenue_shown FROM rep;

-- With a fit over the same window the data-driven models join on one basis.
SET client_min_messages = warning;
SELECT attribution.fit_models('2034-01-01', '2034-03-01', '{"models": ["markov", "shapley_zhao_simplified"]}') LIKE 'fit_models run %' AS fitted;
SELECT chart_count(attribution.report_html('2034-01-01', '2034-03-01'), 'channel-credit', 'rect') > 0 AS bars,
       attribution.report_html('2034-01-01', '2034-03-01') LIKE '%data-series="markov"%' AS markov_drawn,
       attribution.report_html('2034-01-01', '2034-03-01') LIKE '%data-series="shapley_zhao_simplified"%' AS shapley_drawn;
RESET client_min_messages;

-- An empty or unbounded window is refused.
DO $$ BEGIN PERFORM attribution.report_html('2034-03-01', '2034-01-01');
EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM; END $$;
DO $$ BEGIN PERFORM attribution.report_html('-infinity', '2034-01-01');
EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM; END $$;

-- Analysts may run it.
SET ROLE attribution_analyst;
SELECT length(attribution.report_html('2034-01-01', '2034-03-01')) > 1000 AS analyst_can_read;
RESET ROLE;

-- Clean up the test's rows.
DELETE FROM attribution.model_results WHERE run_id IN (SELECT run_id FROM attribution.model_runs WHERE "from" = '2034-01-01');
DELETE FROM attribution.model_runs WHERE "from" = '2034-01-01';
DELETE FROM attribution.credits WHERE conversion_id IN (SELECT id FROM attribution.conversions WHERE provider = 'reporttest');
DELETE FROM attribution.conversions WHERE provider = 'reporttest';
DELETE FROM attribution.billing_events WHERE provider = 'reporttest';
DELETE FROM attribution.touchpoints WHERE url = 'https://report.test/';
DROP FUNCTION rep_conversion, rep_touch, chart_count;
