-- report: report_html() renders what a person looks at, from the tables and
-- views of every stage, as one self-contained HTML document (inline CSS and
-- SVG, no script, no external asset).  Each section is its own function so a
-- section can be read, tested and replaced alone; report_html() only joins
-- them.  The report reads aggregates only and runs as the extension's owner,
-- so analysts see delivery counts without a grant on the outbox.

-- The currency most of the window's revenue is in: money charts use it and
-- say so; other currencies are listed beside, never summed with it.
CREATE FUNCTION attribution._report_currency("from" timestamptz, "to" timestamptz)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT c.currency FROM attribution.conversions c
                      WHERE c.occurred_at >= $1 AND c.occurred_at < $2
                      GROUP BY c.currency
                      ORDER BY sum(abs(c.value_minor)) DESC, c.currency LIMIT 1), 'USD')
$$;

CREATE FUNCTION attribution._report_summary("from" timestamptz, "to" timestamptz, cur text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('<section id="summary"><h2>Summary</h2><div class="kpis">'
                  '<div class="kpi"><span class="k">Revenue (net, %1$s)</span><span class="v">%2$s</span></div>'
                  '<div class="kpi"><span class="k">Paying conversions</span><span class="v">%3$s</span></div>'
                  '<div class="kpi"><span class="k">New customers</span><span class="v">%4$s</span></div>'
                  '<div class="kpi"><span class="k">Landings</span><span class="v">%5$s</span></div>'
                  '</div>%6$s</section>',
                  attribution._html(cur),
                  attribution._num(coalesce(sum(c.value) FILTER (WHERE c.currency = cur), 0), 2),
                  attribution._num(count(*) FILTER (WHERE c.value_minor > 0)),
                  attribution._num(count(*) FILTER (WHERE c.is_first_payment)),
                  attribution._num((SELECT count(*) FROM attribution.touchpoints t
                                     WHERE t.occurred_at >= $1 AND t.occurred_at < $2)),
                  CASE WHEN count(DISTINCT c.currency) > 1
                       THEN '<p class="note">Other currencies in the window (not summed with '
                            || attribution._html(cur) || '): '
                            || attribution._html(string_agg(DISTINCT c.currency, ', ') FILTER (WHERE c.currency <> cur))
                            || '.</p>' ELSE '' END)
      FROM attribution.conversions c
     WHERE c.occurred_at >= $1 AND c.occurred_at < $2
$$;

-- Channel credit under every model on one basis.  The data-driven models come
-- from the newest finished fit_models() run whose window overlaps the
-- report's; the rule-based models are then taken over the same conversions
-- (the run's window, conversion kind and currency, attributed ones only, as
-- fit_models uses only conversions with a journey).  Every model is shown as
-- its share of those conversions, so bars compare across models.
CREATE FUNCTION attribution._report_channel_credit("from" timestamptz, "to" timestamptz)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    run     attribution.model_runs;
    kinds   text;
    cur     text;
    lo      timestamptz := "from";
    hi      timestamptz := "to";
    data    jsonb;
    basis   text;
    total   float8;
BEGIN
    SELECT * INTO run FROM attribution.model_runs r
     WHERE r.finished_at IS NOT NULL AND r."from" < hi AND r."to" > lo
     ORDER BY r.finished_at DESC, r.run_id DESC LIMIT 1;
    IF run.run_id IS NOT NULL THEN
        lo := run."from";
        hi := run."to";
        kinds := run.parameters->>'conversions';
        cur := run.parameters->>'currency';
    END IF;

    WITH basis_conv AS (
        SELECT c.id
          FROM attribution.conversions c
         WHERE c.occurred_at >= lo AND c.occurred_at < hi
           AND (CASE WHEN kinds = 'first_payment' THEN c.is_first_payment ELSE c.value_minor > 0 END)
           AND (cur IS NULL OR c.currency = cur)
           AND (run.run_id IS NULL OR EXISTS (SELECT 1 FROM attribution.credits x WHERE x.conversion_id = c.id))
    ), rule AS (
        SELECT r.model, r.channel, sum(r.weight) AS credit
          FROM attribution._rule_credit r JOIN basis_conv b ON b.id = r.conversion_id
         GROUP BY 1, 2
    ), driven AS (
        SELECT m.model, m.channel, m.conversions AS credit
          FROM attribution.model_results m WHERE m.run_id = run.run_id
    ), allm AS (
        SELECT * FROM rule UNION ALL SELECT * FROM driven
    ), share AS (
        SELECT model, channel, 100 * credit / nullif(sum(credit) OVER (PARTITION BY model), 0) AS pct
          FROM allm
    ), models AS (
        SELECT DISTINCT model,
               array_position(ARRAY['first_touch', 'last_touch', 'first_non_direct', 'last_non_direct',
                                    'linear', 'position_based', 'time_decay', 'markov',
                                    'shapley_zhao_simplified', 'shapley_zhao_ordered',
                                    'shapley_exact_subset_sum', 'shapley_exact_conversion_rate',
                                    'shapley_fractribution'], model) AS pos
          FROM share
    ), channels AS (
        SELECT channel, max(pct) AS top FROM share GROUP BY channel
    )
    SELECT jsonb_build_object(
               'labels', (SELECT jsonb_agg(channel ORDER BY top DESC, channel) FROM channels),
               'series', (SELECT jsonb_agg(model ORDER BY pos, model) FROM models),
               'unit', '%',
               'values', (SELECT jsonb_agg(v ORDER BY m.pos, m.model)
                            FROM models m
                           CROSS JOIN LATERAL (
                                SELECT jsonb_agg(round(s.pct::numeric, 2) ORDER BY ch.top DESC, ch.channel) AS v
                                  FROM channels ch
                                  LEFT JOIN share s ON s.channel = ch.channel AND s.model = m.model) x)),
           (SELECT count(*) FROM basis_conv)
      INTO data, total;

    basis := CASE WHEN run.run_id IS NULL
                  THEN format('Rule-based models over the %s paying conversions of the window. '
                              'Run <code>fit_models</code> to add the data-driven models.', attribution._num(total::numeric))
                  ELSE format('All models over the same %s conversions: fit_models run %s (%s to %s, %s conversions%s). '
                              'Rule-based models over those of them with credits.',
                              attribution._num(total::numeric), run.run_id,
                              attribution._html(to_char(run."from" AT TIME ZONE 'UTC', 'YYYY-MM-DD')),
                              attribution._html(to_char(run."to" AT TIME ZONE 'UTC', 'YYYY-MM-DD')),
                              attribution._html(kinds),
                              CASE WHEN cur IS NULL THEN '' ELSE ', ' || attribution._html(cur) END) END;
    RETURN '<section id="channel-credit"><h2>Channel credit by model</h2><p class="note">' || basis
           || ' Each bar is the channel''s share of the credited conversions.</p>'
           || CASE WHEN data->'labels' IS NULL OR data->'labels' = 'null'
                   THEN '<p class="empty">No conversions in the window.</p>'
                   ELSE attribution._svg_bars('channel-credit', 'Share of conversions by channel and model', data) END
           || '</section>';
END
$$;

-- Customers acquired in the window by the channel that brought them (the
-- first-touch credit of their first payment): how many, what they are worth
-- to date, how many renewed and how many still have a live subscription.
CREATE FUNCTION attribution._report_ltv("from" timestamptz, "to" timestamptz, cur text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH acquired AS (
        SELECT c.id, c.provider, c.customer_id, coalesce(cr.channel, '(unattributed)') AS channel
          FROM attribution.conversions c
          LEFT JOIN attribution.credits cr ON cr.conversion_id = c.id AND cr.model = 'first_touch'
         WHERE c.is_first_payment AND c.currency = cur
           AND c.occurred_at >= $1 AND c.occurred_at < $2
    ), per_customer AS (
        SELECT a.channel,
               (SELECT coalesce(sum(x.value), 0) FROM attribution.conversions x
                 WHERE x.provider = a.provider AND x.customer_id = a.customer_id AND x.currency = cur) AS ltv,
               (SELECT count(*) > 1 FROM attribution.conversions x
                 WHERE x.provider = a.provider AND x.customer_id = a.customer_id
                   AND x.currency = cur AND x.value_minor > 0) AS renewed,
               EXISTS (SELECT 1 FROM attribution.subscriptions s
                        WHERE s.provider = a.provider AND s.customer_id = a.customer_id
                          AND s.status IN ('active', 'trialing', 'past_due', 'on_trial')) AS active
          FROM acquired a
    ), by_channel AS (
        SELECT channel, count(*) AS customers, sum(ltv) AS net_ltv, avg(ltv) AS avg_ltv,
               100.0 * count(*) FILTER (WHERE renewed) / count(*) AS renewed_pct,
               100.0 * count(*) FILTER (WHERE active) / count(*) AS active_pct
          FROM per_customer GROUP BY channel
    )
    SELECT '<section id="ltv"><h2>Lifetime value and retention by first channel</h2>'
           || '<p class="note">Customers whose first payment fell in the window, by the first-touch channel of that payment; '
           || 'value net of refunds to date, in ' || attribution._html(cur) || '.</p>'
           || CASE WHEN count(*) = 0 THEN '<p class="empty">No new customers in the window.</p>'
                   ELSE attribution._svg_bars('ltv', 'Average net LTV per customer (' || cur || ')',
                            jsonb_build_object('labels', jsonb_agg(channel ORDER BY avg_ltv DESC, channel),
                                               'series', jsonb_build_array('average LTV'),
                                               'values', jsonb_build_array(jsonb_agg(round(avg_ltv, 2) ORDER BY avg_ltv DESC, channel))))
                        || attribution._html_table(
                            jsonb_agg(jsonb_build_object('channel', channel, 'customers', customers,
                                      'net_ltv', round(net_ltv, 2), 'avg_ltv', round(avg_ltv, 2),
                                      'renewed', round(renewed_pct, 1), 'active', round(active_pct, 1))
                                      ORDER BY avg_ltv DESC, channel),
                            ARRAY['channel', 'customers', 'net_ltv', 'avg_ltv', 'renewed', 'active'],
                            ARRAY['Channel', 'Customers', 'Net LTV', 'Average LTV', 'Renewed %', 'Subscribed now %']) END
           || '</section>'
      FROM by_channel
$$;

-- Revenue and paying conversions per day (windows up to 31 days) or week.
CREATE FUNCTION attribution._report_timeline("from" timestamptz, "to" timestamptz, cur text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH unit AS (
        SELECT CASE WHEN $2 - $1 <= interval '31 days' THEN 'day' ELSE 'week' END AS u
    ), buckets AS (
        SELECT generate_series(date_trunc(u, $1 AT TIME ZONE 'UTC'),
                               date_trunc(u, ($2 AT TIME ZONE 'UTC') - interval '1 microsecond'),
                               ('1 ' || u)::interval) AS b
          FROM unit
    ), agg AS (
        SELECT date_trunc(u, c.occurred_at AT TIME ZONE 'UTC') AS b,
               sum(c.value) FILTER (WHERE c.currency = cur) AS revenue,
               count(*) FILTER (WHERE c.value_minor > 0) AS conversions
          FROM attribution.conversions c, unit
         WHERE c.occurred_at >= $1 AND c.occurred_at < $2
         GROUP BY 1
    )
    SELECT '<section id="timeline"><h2>Revenue and conversions over time</h2>'
           || '<p class="note">Per ' || (SELECT u FROM unit) || ' (UTC); revenue net of refunds in '
           || attribution._html(cur) || '.</p>'
           || attribution._svg_lines('timeline', 'Revenue and paying conversions',
                  jsonb_build_object(
                      'labels', jsonb_agg(to_char(bk.b, 'YYYY-MM-DD') ORDER BY bk.b),
                      'series', jsonb_build_array('revenue (' || cur || ')', 'paying conversions'),
                      'values', jsonb_build_array(jsonb_agg(round(coalesce(a.revenue, 0), 2) ORDER BY bk.b),
                                                  jsonb_agg(coalesce(a.conversions, 0) ORDER BY bk.b))))
           || '</section>'
      FROM buckets bk LEFT JOIN agg a USING (b)
$$;

-- Referral codes: credited conversions and revenue (last-touch model) in the
-- window, and what the referral platforms reported over the same window.
CREATE FUNCTION attribution._report_referrals("from" timestamptz, "to" timestamptz, cur text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT '<section id="referrals"><h2>Referral program</h2>'
           || attribution._html_table(
                (SELECT jsonb_agg(r ORDER BY r.revenue DESC NULLS LAST, r.code)
                   FROM (SELECT cr.referral_code AS code,
                                round(sum(cr.weight) FILTER (WHERE c.value_minor > 0)::numeric, 2) AS conversions,
                                round(sum(cr.weight) FILTER (WHERE c.is_first_payment)::numeric, 2) AS customers,
                                round(sum(cr.value_credited) FILTER (WHERE c.currency = cur), 2) AS revenue
                           FROM attribution.credits cr
                           JOIN attribution.conversions c ON c.id = cr.conversion_id
                          WHERE cr.referral_code IS NOT NULL AND cr.model = 'last_touch'
                            AND c.occurred_at >= $1 AND c.occurred_at < $2
                          GROUP BY cr.referral_code) r),
                ARRAY['code', 'conversions', 'customers', 'revenue'],
                ARRAY['Code or referrer', 'Conversions (last touch)', 'New customers', 'Revenue (' || cur || ')'])
           || '<h3>What the referral platforms reported</h3>'
           || attribution._html_table(
                (SELECT jsonb_agg(p ORDER BY p.source, p.kind)
                   FROM (SELECT e.source, e.kind, count(*) AS events,
                                count(DISTINCT e.user_id) AS users,
                                round(sum(e.reward_amount), 2) AS rewards
                           FROM attribution.referral_events e
                          WHERE e.occurred_at >= $1 AND e.occurred_at < $2
                          GROUP BY e.source, e.kind) p),
                ARRAY['source', 'kind', 'events', 'users', 'rewards'],
                ARRAY['Platform', 'Event', 'Events', 'Users', 'Rewards (platform units)'])
           || '</section>'
$$;

-- Delivery health per destination: outbox rows by state (delivered,
-- submitted and waiting for the platform's verdict, expired, dead) and the
-- age of the oldest row still to send.
CREATE FUNCTION attribution._report_delivery()
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT '<section id="delivery"><h2>Delivery health</h2>'
           || attribution._html_table(
                (SELECT jsonb_agg(x ORDER BY x.destination)
                   FROM (SELECT d.name AS destination, d.platform,
                                CASE WHEN NOT d.enabled THEN 'disabled'
                                     WHEN d.paused_until > now() THEN 'paused: ' || coalesce(d.pause_reason, '')
                                     ELSE 'breaker ' || d.breaker_state END AS state,
                                count(o.id) FILTER (WHERE o.status = 'delivered') AS delivered,
                                count(o.id) FILTER (WHERE o.status = 'submitted') AS submitted,
                                count(o.id) FILTER (WHERE o.status IN ('pending', 'retry', 'in_flight')) AS backlog,
                                count(o.id) FILTER (WHERE o.status = 'expired') AS expired,
                                count(o.id) FILTER (WHERE o.status = 'dead') AS dead,
                                coalesce(to_char(justify_interval(date_trunc('second',
                                         now() - min(o.queued_at) FILTER (WHERE o.status IN ('pending', 'retry', 'in_flight')))),
                                         'DD"d "HH24"h "MI"m"'), '') AS oldest_backlog
                           FROM attribution.destinations d
                           LEFT JOIN attribution.outbox o ON o.destination_id = d.id
                          GROUP BY d.id) x),
                ARRAY['destination', 'platform', 'state', 'delivered', 'submitted', 'backlog', 'expired', 'dead', 'oldest_backlog'],
                ARRAY['Destination', 'Platform', 'State', 'Delivered', 'Submitted', 'Backlog', 'Expired', 'Dead', 'Oldest backlog'])
           || '</section>'
$$;

-- Alerts and the last audit, when those components are installed: read
-- through EXECUTE so the report does not depend on them being present.
CREATE FUNCTION attribution._report_operations()
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rows jsonb;
    out  text := '';
BEGIN
    IF to_regclass('attribution.open_alerts') IS NOT NULL THEN
        EXECUTE 'SELECT jsonb_agg(jsonb_build_object(''severity'', a.severity, ''kind'', a.kind,
                         ''subject'', a.subject, ''since'', to_char(a.first_seen AT TIME ZONE ''UTC'', ''YYYY-MM-DD HH24:MI''))
                         ORDER BY a.first_seen)
                   FROM attribution.open_alerts a' INTO rows;
        out := out || '<section id="alerts"><h2>Open alerts</h2>'
               || attribution._html_table(rows, ARRAY['severity', 'kind', 'subject', 'since'],
                                          ARRAY['Severity', 'Kind', 'Subject', 'Since (UTC)'])
               || '</section>';
    END IF;
    IF to_regclass('attribution.audit_findings') IS NOT NULL AND to_regclass('attribution.audit_runs') IS NOT NULL THEN
        EXECUTE 'SELECT jsonb_agg(to_jsonb(f) - ''run_id'' ORDER BY f)
                   FROM (SELECT f.* FROM attribution.audit_findings f
                          WHERE f.run_id = (SELECT max(r.run_id) FROM attribution.audit_runs r)
                            AND f.outcome = ''fail''
                          LIMIT 50) f' INTO rows;
        out := out || '<section id="audit"><h2>Last audit: failed checks</h2>'
               || CASE WHEN rows IS NULL THEN '<p class="empty">No failed checks in the last audit run (or no run yet).</p>'
                       ELSE attribution._html_table(rows, ARRAY(SELECT jsonb_object_keys(rows->0))) END
               || '</section>';
    END IF;
    RETURN out;
END
$$;

CREATE FUNCTION attribution._report_utm("from" timestamptz, "to" timestamptz)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT '<section id="utm"><h2>UTM convention violations</h2>'
           || attribution._html_table(
                (SELECT jsonb_agg(v ORDER BY v.touches DESC, v.source, v.rule)
                   FROM (SELECT t.utm_source AS source, t.utm_medium AS medium, t.utm_campaign AS campaign,
                                x.rule, x.message, count(*) AS touches
                           FROM attribution.touchpoints t
                          CROSS JOIN LATERAL attribution._utm_violations(t.utm_source, t.utm_medium, t.utm_campaign,
                                                                         t.utm_content, t.utm_term, t.utm_raw) x
                          WHERE t.utm_raw IS NOT NULL AND t.occurred_at >= $1 AND t.occurred_at < $2
                          GROUP BY 1, 2, 3, 4, 5
                          ORDER BY count(*) DESC LIMIT 25) v),
                ARRAY['source', 'medium', 'campaign', 'rule', 'message', 'touches'],
                ARRAY['Source', 'Medium', 'Campaign', 'Rule', 'Problem', 'Touches'])
           || '</section>'
$$;

CREATE FUNCTION attribution.report_html("from" timestamptz DEFAULT now() - interval '90 days',
                                        "to" timestamptz DEFAULT now())
RETURNS text
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cur text;
BEGIN
    IF "from" IS NULL OR "to" IS NULL OR NOT isfinite("from") OR NOT isfinite("to") OR "from" >= "to" THEN
        RAISE EXCEPTION 'report window [%, %) is empty or unbounded', "from", "to"
            USING ERRCODE = '22023', HINT = 'Pass a finite start before the end.';
    END IF;
    cur := attribution._report_currency("from", "to");
    RETURN '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        || '<meta name="viewport" content="width=device-width, initial-scale=1">'
        || '<title>Attribution report</title><style>'
        || 'body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;margin:0 auto;max-width:960px;padding:12px}'
        || 'h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.2em;border-bottom:1px solid #ccd;padding-bottom:.2em;margin-top:1.6em}'
        || 'h3{font-size:1em}.note{color:#556;font-size:.9em}.empty{color:#889;font-style:italic}'
        || '.kpis{display:flex;flex-wrap:wrap;gap:8px}.kpi{flex:1 1 140px;border:1px solid #dde;border-radius:6px;padding:8px}'
        || '.kpi .k{display:block;font-size:.8em;color:#556}.kpi .v{display:block;font-size:1.4em;font-weight:600}'
        || 'figure{margin:0}figcaption{font-weight:600;font-size:.9em}svg.chart{width:100%;height:auto;display:block}'
        || 'svg text{font-size:11px;fill:#1d2330}svg .axis{stroke:#99a}.scroll{overflow-x:auto}'
        || 'table{border-collapse:collapse;width:100%;font-size:.9em}th,td{padding:4px 6px;border-bottom:1px solid #e4e4ee;text-align:left}'
        || 'td.n{text-align:right;font-variant-numeric:tabular-nums}'
        || '@media print{body{max-width:none;font-size:11pt}section{break-inside:avoid}}'
        || '</style></head><body><header><h1>Attribution report</h1><p class="note">'
        || attribution._html(to_char("from" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')) || ' to '
        || attribution._html(to_char("to" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')) || ' UTC, generated '
        || attribution._html(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')) || ' UTC by pg_attribution.</p></header><main>'
        || attribution._report_summary("from", "to", cur)
        || attribution._report_channel_credit("from", "to")
        || attribution._report_ltv("from", "to", cur)
        || attribution._report_timeline("from", "to", cur)
        || attribution._report_referrals("from", "to", cur)
        || attribution._report_delivery()
        || attribution._report_operations()
        || attribution._report_utm("from", "to")
        || '</main></body></html>';
END
$$;
COMMENT ON FUNCTION attribution.report_html(timestamptz, timestamptz) IS
'One self-contained HTML5 document (inline CSS and SVG, no script) for [from, to): summary, channel credit under every model on one basis, LTV and retention by first channel, revenue over time, referrals, delivery health, open alerts, the last audit and UTM violations.  psql -XAtc "select attribution.report_html()" > report.html';

GRANT EXECUTE ON FUNCTION attribution.report_html(timestamptz, timestamptz) TO attribution_analyst, attribution_admin;
