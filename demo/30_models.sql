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

\echo '== Data-driven models over the same journeys (fit_models) =='
SELECT attribution.fit_models(now() - interval '200 days', now()) AS fit_models;
SELECT max(run_id) AS run_id FROM attribution.model_runs \gset
SELECT r.channel,
       round(max(r.conversions) FILTER (WHERE r.model = 'markov')::numeric, 2) AS markov,
       round(max(r.removal_effect) FILTER (WHERE r.model = 'markov')::numeric, 3) AS markov_removal_effect,
       round(max(r.conversions) FILTER (WHERE r.model = 'shapley_zhao_simplified')::numeric, 2) AS shapley,
       round(max(r.conversions) FILTER (WHERE r.model = 'shapley_fractribution')::numeric, 2) AS fractribution
  FROM attribution.model_results r WHERE r.run_id = :run_id
 GROUP BY r.channel ORDER BY markov DESC NULLS LAST;

\echo '== The referral program: credit by referral code (linear model) =='
SELECT referrer, round(conversions::numeric, 2) AS conversions,
       round(new_customers::numeric, 2) AS new_customers, round(revenue, 2) AS revenue
  FROM attribution.referral_credit
 WHERE model = 'linear' ORDER BY revenue DESC, referrer LIMIT 10;

\echo '== LTV by acquisition channel (first touch of the first payment) =='
SELECT channel, currency, customers, round(net_ltv, 2) AS net_ltv, round(avg_ltv, 2) AS avg_ltv
  FROM attribution.ltv_by_channel ORDER BY net_ltv DESC;
