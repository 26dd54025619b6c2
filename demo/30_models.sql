-- Demo, part 3: who deserves the credit.  Rule-based credits were computed
-- by the processor worker as each conversion arrived; fit_models() runs the
-- data-driven models (Markov removal effect, Shapley variants) over the
-- same journeys, the job pg_cron runs nightly.
\echo '== Model comparison: credited conversions per channel, rule-based models side by side =='
SELECT channel,
       round(first_touch::numeric, 1) AS first_touch, round(last_touch::numeric, 1) AS last_touch,
       round(last_non_direct::numeric, 1) AS last_non_direct, round(linear::numeric, 1) AS linear,
       round(position_based::numeric, 1) AS position_based, round(time_decay::numeric, 1) AS time_decay
  FROM attribution.model_comparison ORDER BY linear DESC;

\echo '== Data-driven models (fit_models: Markov, Shapley) =='
SELECT attribution.fit_models(now() - interval '200 days', now()) AS fit_models;
SELECT max(run_id) AS run_id FROM attribution.model_runs \gset

\echo '== Every model on one basis: new customers (first payments) credited per channel =='
WITH rule AS (
    SELECT cr.model, cr.channel, sum(cr.weight) AS credit
      FROM attribution.credits cr JOIN attribution.conversions c ON c.id = cr.conversion_id
     WHERE c.is_first_payment AND c.occurred_at >= now() - interval '200 days'
     GROUP BY 1, 2
), driven AS (
    SELECT model, channel, conversions AS credit FROM attribution.model_results WHERE run_id = :run_id
), every AS (SELECT * FROM rule UNION ALL SELECT * FROM driven)
SELECT channel,
       round(sum(credit) FILTER (WHERE model = 'first_touch')::numeric, 1) AS first_touch,
       round(sum(credit) FILTER (WHERE model = 'last_non_direct')::numeric, 1) AS last_non_direct,
       round(sum(credit) FILTER (WHERE model = 'linear')::numeric, 1) AS linear,
       round(sum(credit) FILTER (WHERE model = 'time_decay')::numeric, 1) AS time_decay,
       round(sum(credit) FILTER (WHERE model = 'markov')::numeric, 1) AS markov,
       round(sum(credit) FILTER (WHERE model = 'shapley_zhao_simplified')::numeric, 1) AS shapley,
       round(sum(credit) FILTER (WHERE model = 'shapley_fractribution')::numeric, 1) AS fractribution
  FROM every GROUP BY channel ORDER BY linear DESC NULLS LAST, channel;

\echo '== The referral program: credit by referral code (linear model) =='
SELECT referrer, round(conversions::numeric, 2) AS conversions,
       round(new_customers::numeric, 2) AS new_customers, round(revenue, 2) AS revenue
  FROM attribution.referral_credit
 WHERE model = 'linear' ORDER BY revenue DESC, referrer LIMIT 10;

\echo '== LTV by acquisition channel (first touch of the first payment) =='
SELECT channel, currency, customers, round(net_ltv, 2) AS net_ltv, round(avg_ltv, 2) AS avg_ltv
  FROM attribution.ltv_by_channel ORDER BY net_ltv DESC;
