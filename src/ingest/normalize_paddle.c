/*
 * normalize_paddle.c
 *		Paddle Billing events to ledger facts.
 *
 * Money comes from completed transactions (kind by origin, Paddle's
 * analogue of Stripe's billing_reason) and from approved adjustments
 * (refunds, chargebacks and their reversals).  Paddle creates refunds as
 * pending_approval: they count only once an event shows them approved, so
 * an approval that arrives before the creation still counts once.  Amounts
 * are strings in the lowest denomination.
 */
#include "postgres.h"

#include "ingest/ingest.h"

#define PROVIDER "paddle"

typedef struct PaddleEvent
{
	NormContext *ctx;
	char	   *id;
	char	   *type;
	TimestampTz occurred_at;
	JsonbContainer *data;
} PaddleEvent;

static void
PaddleFact(PaddleEvent *ev, BillingFact *fact, const char *kind, char *fact_key,
		   char *object_id)
{
	InitFact(fact, PROVIDER, kind);
	fact->fact_key = fact_key;
	fact->object_id = object_id;
	fact->customer_id = JsonString(ev->data, "customer_id");
	fact->subscription_id = JsonString(ev->data, "subscription_id");
	fact->user_id = JsonUserId(JsonObject(ev->data, "custom_data"));
	fact->occurred_at = ev->occurred_at;
	DetailString(fact, "event_type", ev->type);
}

static char *
Currency(JsonbContainer *c)
{
	char	   *cur = JsonString(c, "currency_code");

	return cur ? UpperCurrency(cur) : NULL;
}

static NormResult
TransactionCompleted(PaddleEvent *ev)
{
	JsonbContainer *txn = ev->data;
	static const char *const totals_path[] = {"details", "totals", NULL};
	JsonbContainer *totals = JsonPathObject(txn, totals_path);
	char	   *txn_id = JsonString(txn, "id");
	char	   *origin = JsonString(txn, "origin");
	char	   *subscription = JsonString(txn, "subscription_id");
	const char *kind;
	int64		total = 0;
	BillingFact fact;

	if (txn_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("paddle event %s has no transaction id", ev->id)));
	if (!JsonInt64(totals, "grand_total", &total) && !JsonInt64(totals, "total", &total))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("paddle transaction %s has no details.totals.grand_total", txn_id)));

	PaddleFact(ev, &fact, NULL, psprintf("transaction:%s", txn_id), txn_id);
	LinkCustomer(PROVIDER, fact.customer_id, fact.user_id, NULL);
	/* Renewals may not carry custom_data: remember the subscription's user. */
	UpsertSubscription(ev->ctx, PROVIDER, subscription, fact.customer_id, fact.user_id,
					   NULL, NULL, false, 0, NULL, NULL, -1, DT_NOBEGIN);

	if (origin == NULL || strcmp(origin, "web") == 0 || strcmp(origin, "api") == 0)
		kind = subscription ? "subscription_started" : "one_time_purchase";
	else if (strcmp(origin, "subscription_recurring") == 0)
		kind = "renewal";
	else if (strcmp(origin, "subscription_update") == 0)
	{
		if (total > 0)
			kind = "upgrade";
		else if (total < 0)
			kind = "downgrade";
		else
			return NORM_DONE;
	}
	else if (strcmp(origin, "subscription_charge") == 0)
		kind = "one_time_purchase";
	else
		return NORM_DONE;		/* payment method change: no money */

	fact.kind = kind;
	fact.has_amount = true;
	fact.amount_minor = total > 0 ? total : 0;
	fact.currency = Currency(txn);
	if (fact.currency == NULL)
		fact.currency = Currency(totals);
	(void) JsonTimestamp(txn, "billed_at", &fact.occurred_at);
	DetailString(&fact, "origin", origin);
	if (total < 0)
		DetailInt64(&fact, "credit_minor", total);
	RecordFact(ev->ctx, &fact);
	return NORM_DONE;
}

static NormResult
TransactionFailed(PaddleEvent *ev, bool past_due)
{
	char	   *txn_id = JsonString(ev->data, "id");
	JsonbContainer *payment = JsonArrayObject(JsonArray(ev->data, "payments"), 0);
	char	   *attempt = JsonString(payment, "payment_attempt_id");
	BillingFact fact;

	if (txn_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("paddle event %s has no transaction id", ev->id)));
	PaddleFact(ev, &fact, "payment_failed",
			   past_due ? psprintf("payment_failed:%s:past_due", txn_id)
			   : psprintf("payment_failed:%s:%s", txn_id, attempt ? attempt : ev->id),
			   txn_id);
	fact.currency = Currency(ev->data);
	DetailString(&fact, "error_code", JsonString(payment, "error_code"));
	RecordFact(ev->ctx, &fact);
	return NORM_DONE;
}

static NormResult
SubscriptionEvent(PaddleEvent *ev, const char *what)
{
	JsonbContainer *sub = ev->data;
	char	   *sub_id = JsonString(sub, "id");
	char	   *status = JsonString(sub, "status");
	JsonbContainer *item = JsonArrayObject(JsonArray(sub, "items"), 0);
	JsonbContainer *price = JsonObject(item, "price");
	JsonbContainer *unit = JsonObject(price, "unit_price");
	int64		amount = 0;
	int64		quantity = 1;
	bool		has_amount = JsonInt64(unit, "amount", &amount);
	BillingFact fact;
	const char *kind = NULL;
	char	   *key = NULL;

	if (sub_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("paddle event %s has no subscription id", ev->id)));
	if (!JsonInt64(item, "quantity", &quantity))
		quantity = 1;
	PaddleFact(ev, &fact, NULL, NULL, sub_id);
	fact.subscription_id = sub_id;
	LinkCustomer(PROVIDER, fact.customer_id, fact.user_id, NULL);
	UpsertSubscription(ev->ctx, PROVIDER, sub_id, fact.customer_id, fact.user_id, status,
					   JsonString(price, "id"), has_amount, amount * quantity,
					   Currency(sub), NULL, -1, ev->occurred_at);

	if ((strcmp(what, "created") == 0 || strcmp(what, "trialing") == 0) &&
		status != NULL && strcmp(status, "trialing") == 0)
	{
		kind = "trial_started";
		key = psprintf("trial:%s", sub_id);
		(void) JsonTimestamp(sub, "started_at", &fact.occurred_at);
	}
	else if (strcmp(what, "paused") == 0)
	{
		char	   *at = JsonString(sub, "paused_at");

		kind = "paused";
		key = psprintf("paused:%s:%s", sub_id, at ? at : ev->id);
	}
	else if (strcmp(what, "resumed") == 0)
	{
		kind = "resumed";
		key = psprintf("resumed:%s:%s", sub_id, ev->id);
	}
	else if (strcmp(what, "canceled") == 0)
	{
		char	   *at = JsonString(sub, "canceled_at");

		kind = "canceled";
		key = psprintf("canceled:%s:%s", sub_id, at ? at : ev->id);
	}
	if (kind == NULL)
		return NORM_DONE;
	fact.kind = kind;
	fact.fact_key = key;
	DetailString(&fact, "status", status);
	RecordFact(ev->ctx, &fact);
	return NORM_DONE;
}

static NormResult
Adjustment(PaddleEvent *ev)
{
	JsonbContainer *adj = ev->data;
	JsonbContainer *totals = JsonObject(adj, "totals");
	char	   *adj_id = JsonString(adj, "id");
	char	   *action = JsonString(adj, "action");
	char	   *status = JsonString(adj, "status");
	const char *kind;
	int64		total;
	BillingFact fact;

	if (adj_id == NULL || action == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("paddle event %s has no adjustment id or action", ev->id)));
	/* pending_approval, rejected: nothing has happened to the money yet. */
	if (status == NULL || strcmp(status, "approved") != 0)
		return NORM_DONE;
	if (strcmp(action, "refund") == 0)
		kind = "refund";
	else if (strcmp(action, "chargeback") == 0)
		kind = "chargeback";
	else if (strcmp(action, "chargeback_reverse") == 0)
		kind = "chargeback_reversed";
	else
		return NORM_DONE;		/* credits and warnings move no money */
	if (!JsonInt64(totals, "total", &total))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("paddle adjustment %s has no totals.total", adj_id)));

	PaddleFact(ev, &fact, kind, psprintf("adjustment:%s", adj_id), adj_id);
	fact.parent_object_id = JsonString(adj, "transaction_id");
	fact.has_amount = true;
	fact.amount_minor = strcmp(kind, "chargeback_reversed") == 0 ? total : -total;
	fact.currency = Currency(adj);
	if (fact.currency == NULL)
		fact.currency = Currency(totals);
	DetailString(&fact, "action", action);
	DetailString(&fact, "type", JsonString(adj, "type"));
	RecordFact(ev->ctx, &fact);
	return NORM_DONE;
}

NormResult
NormalizePaddle(NormContext *ctx)
{
	PaddleEvent ev;
	const char *t;

	ev.ctx = ctx;
	ev.id = JsonString(ctx->root, "event_id");
	ev.type = JsonString(ctx->root, "event_type");
	ev.data = JsonObject(ctx->root, "data");
	if (ev.id == NULL)
		ev.id = ctx->row->event_id;
	if (ev.type == NULL || ev.data == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("paddle event %s has no event_type or data", ev.id)));
	if (!JsonTimestamp(ctx->root, "occurred_at", &ev.occurred_at))
		ev.occurred_at = ctx->row->received_at;
	t = ev.type;

	if (strcmp(t, "transaction.completed") == 0)
		return TransactionCompleted(&ev);
	if (strcmp(t, "transaction.payment_failed") == 0)
		return TransactionFailed(&ev, false);
	if (strcmp(t, "transaction.past_due") == 0)
		return TransactionFailed(&ev, true);
	if (strncmp(t, "subscription.", 13) == 0)
		return SubscriptionEvent(&ev, t + 13);
	if (strcmp(t, "adjustment.created") == 0 || strcmp(t, "adjustment.updated") == 0)
		return Adjustment(&ev);
	return NORM_SKIPPED;
}
