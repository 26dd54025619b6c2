-- Demo, last part: the report people look at, and a short summary.
-- report_html() returns one self-contained HTML document; psql writes it
-- to demo-output/report.html (scripts/demo.sh adds a screenshot of it).
\echo '== The report (report_html) =='
\pset format unaligned
\pset tuples_only on
\o demo-output/report.html
SELECT attribution.report_html(now() - interval '200 days', now());
\o
\pset format aligned
\pset tuples_only off
SELECT pg_size_pretty(length(attribution.report_html(now() - interval '200 days', now()))::bigint) AS report_size;

\echo
\echo '== Summary =='
\pset format unaligned
\pset tuples_only on
\pset fieldsep ': '
SELECT * FROM (VALUES
    ('landings recorded', (SELECT to_char(count(*), 'FM999,999') FROM attribution.touchpoints)),
    ('visitors', (SELECT to_char(count(DISTINCT visitor_id), 'FM999,999') FROM attribution.touchpoints)),
    ('users signed in', (SELECT to_char(count(DISTINCT user_id), 'FM999,999') FROM attribution.identities)),
    ('paying customers', (SELECT to_char(count(DISTINCT (provider, customer_id)), 'FM999,999')
                            FROM attribution.conversions WHERE value_minor > 0)),
    ('payments', (SELECT to_char(count(*), 'FM999,999') FROM attribution.conversions WHERE value_minor > 0)),
    ('refunds and chargebacks', (SELECT to_char(count(*), 'FM999,999') FROM attribution.conversions WHERE value_minor < 0)),
    ('net revenue (USD)', (SELECT to_char(sum(value), 'FM999,999,990.00') FROM attribution.conversions WHERE currency = 'USD')),
    ('best first channel by LTV', (SELECT channel || ' (' || to_char(avg_ltv, 'FM999,990.00') || ' USD per customer)'
                                     FROM attribution.ltv_by_channel WHERE currency = 'USD' AND customers >= 50
                                    ORDER BY avg_ltv DESC LIMIT 1)),
    ('models fitted', (SELECT to_char(count(DISTINCT model), 'FM99') || ' data-driven, 7 rule-based'
                         FROM attribution.model_results WHERE run_id = (SELECT max(run_id) FROM attribution.model_runs)))
) AS s (figure, value);
\pset fieldsep '|'
\pset format aligned
\pset tuples_only off
