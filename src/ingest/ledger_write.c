/*
 * ledger_write.c
 *		The normalisers' only way to change anything: calls of the private
 *		ledger functions (ledger_record.sql) and of the capture API, each
 *		through a plan prepared once per backend and kept.
 *
 * The SQL functions hold the ledger's rules (idempotence, LTV, links) in
 * one place, so that the worker and attribution.process_inbox() cannot
 * differ in them.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "ingest/ingest.h"

typedef enum LedgerPlan
{
	PLAN_RECORD,
	PLAN_OBSERVE_REFUND,
	PLAN_UPSERT_SUBSCRIPTION,
	PLAN_LINK_CUSTOMER,
	PLAN_ORDER_KNOWN,
	PLAN_REFERRAL,
	PLAN_TRACK_TOUCH,
	PLAN_IDENTIFY,
	PLAN_COUNT
} LedgerPlan;

static SPIPlanPtr plans[PLAN_COUNT];

#define MAX_ARGS 13

/*
 * The kept plan for a statement, prepared on first use.  Plans survive
 * the transaction; the plan cache re-plans them if the functions change.
 */
static SPIPlanPtr
GetPlan(LedgerPlan which)
{
	static const char *const sql[PLAN_COUNT] = {
		"SELECT attribution._record_billing_event($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb)",
		"SELECT attribution._observe_refund($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb)",
		"SELECT attribution._upsert_subscription($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		"SELECT attribution._link_webhook_customer($1, $2, $3, $4)",
		"SELECT 1 FROM attribution.subscriptions WHERE provider = $1 AND order_id = $2",
		"SELECT attribution._record_referral($1, $2, $3, $4, $5, $6, $7, $8::numeric, $9, $10, $11, $12::jsonb)",
		"SELECT attribution.track_touch($1, $2, $3, $4, $5, NULL, $6::inet, $7)",
		"SELECT attribution.identify($1, $2)",
	};
	static const Oid types[PLAN_COUNT][MAX_ARGS] = {
		{TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID,
		TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID},
		{TEXTOID, TEXTOID, TEXTOID, INT8OID, BOOLOID, INT8OID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID},
		{TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID,
		BOOLOID, TIMESTAMPTZOID},
		{TEXTOID, TEXTOID, TEXTOID, TEXTOID},
		{TEXTOID, TEXTOID},
		{TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TIMESTAMPTZOID, INT8OID, TEXTOID},
		{TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID},
		{TEXTOID, TEXTOID},
	};
	static const int nargs[PLAN_COUNT] = {13, 13, 11, 4, 2, 12, 7, 2};

	if (plans[which] == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql[which], nargs[which], (Oid *) types[which]);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql[which],
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		plans[which] = plan;
	}
	return plans[which];
}

/* Argument builders: NULL C values become SQL NULLs. */
static void
ArgText(Datum *values, char *nulls, int i, const char *s)
{
	if (s == NULL)
	{
		values[i] = (Datum) 0;
		nulls[i] = 'n';
	}
	else
	{
		values[i] = CStringGetTextDatum(s);
		nulls[i] = ' ';
	}
}

static void
ArgInt64(Datum *values, char *nulls, int i, bool has, int64 v)
{
	values[i] = Int64GetDatum(v);
	nulls[i] = has ? ' ' : 'n';
}

static void
ArgTime(Datum *values, char *nulls, int i, TimestampTz t)
{
	values[i] = TimestampTzGetDatum(t);
	nulls[i] = ' ';
}

static void
Run(LedgerPlan which, Datum *values, char *nulls)
{
	int			rc = SPI_execute_plan(GetPlan(which), values, nulls, false, 0);

	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	/* Results are not needed; a batch makes thousands of these calls. */
	SPI_freetuptable(SPI_tuptable);
}

void
InitFact(BillingFact *fact, const char *provider, const char *kind)
{
	memset(fact, 0, sizeof(BillingFact));
	fact->provider = provider;
	fact->kind = kind;
}

static const char *
DetailsText(BillingFact *fact)
{
	if (fact->details == NULL)
		return NULL;
	appendStringInfoChar(fact->details, '}');
	return fact->details->data;
}

void
RecordFact(NormContext *ctx, BillingFact *fact)
{
	Datum		values[MAX_ARGS];
	char		nulls[MAX_ARGS];

	ArgText(values, nulls, 0, fact->provider);
	ArgText(values, nulls, 1, fact->kind);
	ArgText(values, nulls, 2, fact->fact_key);
	ArgInt64(values, nulls, 3, true, ctx->row->id);
	ArgText(values, nulls, 4, fact->customer_id);
	ArgText(values, nulls, 5, fact->subscription_id);
	ArgText(values, nulls, 6, fact->object_id);
	ArgText(values, nulls, 7, fact->parent_object_id);
	ArgInt64(values, nulls, 8, fact->has_amount, fact->amount_minor);
	ArgText(values, nulls, 9, fact->currency);
	ArgTime(values, nulls, 10, fact->occurred_at);
	ArgText(values, nulls, 11, fact->user_id);
	ArgText(values, nulls, 12, DetailsText(fact));
	Run(PLAN_RECORD, values, nulls);
}

void
ObserveRefund(NormContext *ctx, BillingFact *fact, const char *observation_key,
			  int64 amount, bool cumulative)
{
	Datum		values[MAX_ARGS];
	char		nulls[MAX_ARGS];

	if (fact->parent_object_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("refund event %s names no payment", ctx->row->event_id),
				 errdetail("A refund is recorded against the charge, transaction or order it refunds.")));
	ArgText(values, nulls, 0, fact->provider);
	ArgText(values, nulls, 1, fact->parent_object_id);
	ArgText(values, nulls, 2, observation_key);
	ArgInt64(values, nulls, 3, true, amount);
	values[4] = BoolGetDatum(cumulative);
	nulls[4] = ' ';
	ArgInt64(values, nulls, 5, true, ctx->row->id);
	ArgText(values, nulls, 6, fact->customer_id);
	ArgText(values, nulls, 7, fact->subscription_id);
	ArgText(values, nulls, 8, fact->object_id);
	ArgText(values, nulls, 9, fact->currency);
	ArgTime(values, nulls, 10, fact->occurred_at);
	ArgText(values, nulls, 11, fact->user_id);
	ArgText(values, nulls, 12, DetailsText(fact));
	Run(PLAN_OBSERVE_REFUND, values, nulls);
}

/* cancel_at_period_end: -1 unknown, 0 false, 1 true. */
void
UpsertSubscription(NormContext *ctx pg_attribute_unused(), const char *provider,
				   const char *subscription_id,
				   const char *customer_id, const char *user_id, const char *status,
				   const char *plan_id, bool has_amount, int64 amount_minor,
				   const char *currency, const char *order_id,
				   int cancel_at_period_end, TimestampTz provider_time)
{
	Datum		values[MAX_ARGS];
	char		nulls[MAX_ARGS];

	if (subscription_id == NULL)
		return;
	ArgText(values, nulls, 0, provider);
	ArgText(values, nulls, 1, subscription_id);
	ArgText(values, nulls, 2, customer_id);
	ArgText(values, nulls, 3, user_id);
	ArgText(values, nulls, 4, status);
	ArgText(values, nulls, 5, plan_id);
	ArgInt64(values, nulls, 6, has_amount, amount_minor);
	ArgText(values, nulls, 7, currency);
	ArgText(values, nulls, 8, order_id);
	values[9] = BoolGetDatum(cancel_at_period_end == 1);
	nulls[9] = cancel_at_period_end < 0 ? 'n' : ' ';
	ArgTime(values, nulls, 10, provider_time);
	Run(PLAN_UPSERT_SUBSCRIPTION, values, nulls);
}

void
LinkCustomer(const char *provider, const char *customer_id, const char *user_id,
			 const char *email)
{
	Datum		values[MAX_ARGS];
	char		nulls[MAX_ARGS];

	if (customer_id == NULL || user_id == NULL)
		return;
	ArgText(values, nulls, 0, provider);
	ArgText(values, nulls, 1, customer_id);
	ArgText(values, nulls, 2, user_id);
	ArgText(values, nulls, 3, email);
	Run(PLAN_LINK_CUSTOMER, values, nulls);
}

bool
SubscriptionOrderKnown(const char *provider, const char *order_id)
{
	Datum		values[MAX_ARGS];
	char		nulls[MAX_ARGS];

	ArgText(values, nulls, 0, provider);
	ArgText(values, nulls, 1, order_id);
	Run(PLAN_ORDER_KNOWN, values, nulls);
	return SPI_processed > 0;
}

void
RecordReferral(NormContext *ctx, const char *kind, const char *fact_key,
			   const char *user_id, const char *customer_ref, const char *email,
			   const char *reward_amount, const char *currency,
			   TimestampTz occurred_at, const char *details_json)
{
	Datum		values[MAX_ARGS];
	char		nulls[MAX_ARGS];

	ArgText(values, nulls, 0, ctx->row->source);
	ArgText(values, nulls, 1, ctx->row->event_id);
	ArgText(values, nulls, 2, fact_key);
	ArgText(values, nulls, 3, kind);
	ArgText(values, nulls, 4, user_id);
	ArgText(values, nulls, 5, customer_ref);
	ArgText(values, nulls, 6, email);
	ArgText(values, nulls, 7, reward_amount);
	ArgText(values, nulls, 8, currency);
	ArgTime(values, nulls, 9, occurred_at);
	ArgInt64(values, nulls, 10, true, ctx->row->id);
	ArgText(values, nulls, 11, details_json);
	Run(PLAN_REFERRAL, values, nulls);
}

void
CallTrackTouch(const char *visitor_id, const char *url, const char *referrer,
			   TimestampTz occurred_at, const char *user_id, const char *ip,
			   const char *user_agent)
{
	Datum		values[MAX_ARGS];
	char		nulls[MAX_ARGS];

	ArgText(values, nulls, 0, visitor_id);
	ArgText(values, nulls, 1, url);
	ArgText(values, nulls, 2, referrer);
	ArgTime(values, nulls, 3, occurred_at);
	ArgText(values, nulls, 4, user_id);
	ArgText(values, nulls, 5, ip);
	ArgText(values, nulls, 6, user_agent);
	Run(PLAN_TRACK_TOUCH, values, nulls);
}

void
CallIdentify(const char *visitor_id, const char *user_id)
{
	Datum		values[MAX_ARGS];
	char		nulls[MAX_ARGS];

	ArgText(values, nulls, 0, visitor_id);
	ArgText(values, nulls, 1, user_id);
	Run(PLAN_IDENTIFY, values, nulls);
}
