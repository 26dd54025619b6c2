/*
 * normalize_lemonsqueezy.c
 *		Lemon Squeezy events to ledger facts.
 *
 * Subscription money comes from subscription invoices (billing_reason
 * initial, renewal, updated).  Every new subscription also sends an
 * order_created for its first order, which must not count again: an order
 * is a one-time purchase only if no subscription names it.  The two events
 * come together in either order, so an order no subscription claims yet is
 * held back for pg_attribution.lemonsqueezy_order_delay seconds after it
 * was received.  Ids are scoped by JSON:API type ("orders/5001").
 */
#include "postgres.h"

#include "ingest/ingest.h"

#define PROVIDER "lemonsqueezy"

typedef struct LemonEvent
{
	NormContext *ctx;
	char	   *name;
	char	   *data_id;
	TimestampTz occurred_at;
	JsonbContainer *attrs;
	char	   *user;
} LemonEvent;

static void
LemonFact(LemonEvent *ev, BillingFact *fact, const char *kind, char *fact_key,
		  char *object_id)
{
	InitFact(fact, PROVIDER, kind);
	fact->fact_key = fact_key;
	fact->object_id = object_id;
	fact->customer_id = JsonString(ev->attrs, "customer_id");
	fact->user_id = ev->user;
	fact->occurred_at = ev->occurred_at;
	DetailString(fact, "event_name", ev->name);
}

static char *
Currency(JsonbContainer *attrs)
{
	char	   *cur = JsonString(attrs, "currency");

	return cur ? UpperCurrency(cur) : NULL;
}

/* Total refunded so far: refunded_amount where sent, else all if refunded. */
static bool
RefundedSoFar(JsonbContainer *attrs, int64 *amount)
{
	char	   *status = JsonString(attrs, "status");
	bool		refunded = false;

	if (JsonInt64(attrs, "refunded_amount", amount) && *amount > 0)
		return true;
	if ((JsonBool(attrs, "refunded", &refunded) && refunded) ||
		(status != NULL && strcmp(status, "refunded") == 0))
		return JsonInt64(attrs, "total", amount);
	return false;
}

static NormResult
OrderCreated(LemonEvent *ev)
{
	char	   *status = JsonString(ev->attrs, "status");
	char	   *order_ref = psprintf("orders/%s", ev->data_id);
	TimestampTz release;
	int64		total;
	BillingFact fact;

	LinkCustomer(PROVIDER, JsonString(ev->attrs, "customer_id"), ev->user,
				 JsonString(ev->attrs, "user_email"));
	if (status != NULL && strcmp(status, "paid") != 0 && strcmp(status, "refunded") != 0 &&
		strcmp(status, "partial_refund") != 0)
		return NORM_DONE;		/* pending or failed: no money */
	if (SubscriptionOrderKnown(PROVIDER, ev->data_id))
		return NORM_DONE;
	release = TimestampTzPlusMilliseconds(ev->ctx->row->received_at,
										  (int64) attr_lemonsqueezy_order_delay * 1000);
	if (release > GetCurrentTimestamp())
	{
		ev->ctx->defer_until = release;
		return NORM_DEFER;
	}
	if (!JsonInt64(ev->attrs, "total", &total))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lemon squeezy order %s has no total", ev->data_id)));
	LemonFact(ev, &fact, "one_time_purchase", psprintf("order:%s", ev->data_id), order_ref);
	fact.has_amount = true;
	fact.amount_minor = total;
	fact.currency = Currency(ev->attrs);
	(void) JsonTimestamp(ev->attrs, "created_at", &fact.occurred_at);
	DetailString(&fact, "order_number", JsonString(ev->attrs, "order_number"));
	RecordFact(ev->ctx, &fact);
	return NORM_DONE;
}

static NormResult
OrderRefunded(LemonEvent *ev)
{
	int64		refunded;
	BillingFact fact;

	if (SubscriptionOrderKnown(PROVIDER, ev->data_id))
		return NORM_DONE;		/* refunded through its subscription invoice */
	if (!RefundedSoFar(ev->attrs, &refunded))
		return NORM_DONE;
	LemonFact(ev, &fact, "refund", NULL, psprintf("orders/%s", ev->data_id));
	fact.parent_object_id = fact.object_id;
	fact.currency = Currency(ev->attrs);
	(void) JsonTimestamp(ev->attrs, "refunded_at", &fact.occurred_at);
	ObserveRefund(ev->ctx, &fact, psprintf("refunded_amount:" INT64_FORMAT, refunded),
				  refunded, true);
	return NORM_DONE;
}

static NormResult
SubscriptionEvent(LemonEvent *ev, const char *kind, const char *key_kind,
				  const char *time_field)
{
	char	   *sub_id = ev->data_id;
	char	   *status = JsonString(ev->attrs, "status");
	char	   *customer = JsonString(ev->attrs, "customer_id");
	char	   *at;
	TimestampTz updated;
	BillingFact fact;

	if (!JsonTimestamp(ev->attrs, "updated_at", &updated))
		updated = ev->occurred_at;
	LinkCustomer(PROVIDER, customer, ev->user, JsonString(ev->attrs, "user_email"));
	UpsertSubscription(ev->ctx, PROVIDER, sub_id, customer, ev->user, status,
					   JsonString(ev->attrs, "variant_id"), false, 0, NULL,
					   JsonString(ev->attrs, "order_id"), -1, updated);
	if (kind == NULL)
		return NORM_DONE;
	at = JsonString(ev->attrs, time_field);
	LemonFact(ev, &fact, kind,
			  psprintf("%s:%s:%s", key_kind, sub_id, at ? at : ev->ctx->row->event_id),
			  psprintf("subscriptions/%s", sub_id));
	fact.subscription_id = sub_id;
	fact.occurred_at = updated;
	DetailString(&fact, "status", status);
	RecordFact(ev->ctx, &fact);
	return NORM_DONE;
}

static NormResult
SubscriptionCreated(LemonEvent *ev)
{
	char	   *status = JsonString(ev->attrs, "status");
	BillingFact fact;

	(void) SubscriptionEvent(ev, NULL, NULL, NULL);
	if (status == NULL || strcmp(status, "on_trial") != 0)
		return NORM_DONE;
	LemonFact(ev, &fact, "trial_started", psprintf("trial:%s", ev->data_id),
			  psprintf("subscriptions/%s", ev->data_id));
	fact.subscription_id = ev->data_id;
	(void) JsonTimestamp(ev->attrs, "created_at", &fact.occurred_at);
	DetailString(&fact, "trial_ends_at", JsonString(ev->attrs, "trial_ends_at"));
	RecordFact(ev->ctx, &fact);
	return NORM_DONE;
}

static NormResult
InvoiceEvent(LemonEvent *ev)
{
	char	   *sub_id = JsonString(ev->attrs, "subscription_id");
	char	   *reason = JsonString(ev->attrs, "billing_reason");
	char	   *inv_ref = psprintf("subscription-invoices/%s", ev->data_id);
	char	   *customer = JsonString(ev->attrs, "customer_id");
	const char *kind;
	int64		total;
	BillingFact fact;

	LinkCustomer(PROVIDER, customer, ev->user, JsonString(ev->attrs, "user_email"));
	UpsertSubscription(ev->ctx, PROVIDER, sub_id, customer, ev->user, NULL, NULL, false, 0,
					   NULL, NULL, -1, DT_NOBEGIN);

	if (strcmp(ev->name, "subscription_payment_failed") == 0)
	{
		LemonFact(ev, &fact, "payment_failed", psprintf("payment_failed:%s", ev->data_id),
				  inv_ref);
		fact.subscription_id = sub_id;
		fact.currency = Currency(ev->attrs);
		RecordFact(ev->ctx, &fact);
		return NORM_DONE;
	}
	if (strcmp(ev->name, "subscription_payment_refunded") == 0)
	{
		int64		refunded;

		if (!RefundedSoFar(ev->attrs, &refunded))
			return NORM_DONE;
		LemonFact(ev, &fact, "refund", NULL, inv_ref);
		fact.subscription_id = sub_id;
		fact.parent_object_id = inv_ref;
		fact.currency = Currency(ev->attrs);
		(void) JsonTimestamp(ev->attrs, "refunded_at", &fact.occurred_at);
		ObserveRefund(ev->ctx, &fact, psprintf("refunded_amount:" INT64_FORMAT, refunded),
					  refunded, true);
		return NORM_DONE;
	}

	/* subscription_payment_success and _recovered: the same payment. */
	if (!JsonInt64(ev->attrs, "total", &total))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lemon squeezy subscription invoice %s has no total", ev->data_id)));
	if (reason != NULL && strcmp(reason, "initial") == 0)
		kind = "subscription_started";
	else if (reason != NULL && strcmp(reason, "updated") == 0)
	{
		if (total > 0)
			kind = "upgrade";
		else
			return NORM_DONE;
	}
	else
		kind = "renewal";
	LemonFact(ev, &fact, kind, psprintf("invoice:%s", ev->data_id), inv_ref);
	fact.subscription_id = sub_id;
	fact.has_amount = true;
	fact.amount_minor = total;
	fact.currency = Currency(ev->attrs);
	(void) JsonTimestamp(ev->attrs, "created_at", &fact.occurred_at);
	DetailString(&fact, "billing_reason", reason);
	RecordFact(ev->ctx, &fact);
	return NORM_DONE;
}

NormResult
NormalizeLemonSqueezy(NormContext *ctx)
{
	LemonEvent	ev;
	JsonbContainer *meta = JsonObject(ctx->root, "meta");
	JsonbContainer *data = JsonObject(ctx->root, "data");
	const char *n;

	ev.ctx = ctx;
	ev.name = JsonString(meta, "event_name");
	ev.data_id = JsonString(data, "id");
	ev.attrs = JsonObject(data, "attributes");
	ev.user = JsonUserId(JsonObject(meta, "custom_data"));
	if (ev.name == NULL || ev.data_id == NULL || ev.attrs == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lemon squeezy event %s has no meta.event_name, data.id or data.attributes",
						ctx->row->event_id)));
	if (!JsonTimestamp(ev.attrs, "updated_at", &ev.occurred_at) &&
		!JsonTimestamp(ev.attrs, "created_at", &ev.occurred_at))
		ev.occurred_at = ctx->row->received_at;
	n = ev.name;

	if (strcmp(n, "order_created") == 0)
		return OrderCreated(&ev);
	if (strcmp(n, "order_refunded") == 0)
		return OrderRefunded(&ev);
	if (strcmp(n, "subscription_created") == 0)
		return SubscriptionCreated(&ev);
	if (strcmp(n, "subscription_updated") == 0)
		return SubscriptionEvent(&ev, NULL, NULL, NULL);
	if (strcmp(n, "subscription_cancelled") == 0 || strcmp(n, "subscription_expired") == 0)
		return SubscriptionEvent(&ev, "canceled", "canceled", "ends_at");
	if (strcmp(n, "subscription_resumed") == 0)
		return SubscriptionEvent(&ev, "reactivated", "reactivated", "updated_at");
	if (strcmp(n, "subscription_paused") == 0)
		return SubscriptionEvent(&ev, "paused", "paused", "updated_at");
	if (strcmp(n, "subscription_unpaused") == 0)
		return SubscriptionEvent(&ev, "resumed", "resumed", "updated_at");
	if (strcmp(n, "subscription_payment_success") == 0 ||
		strcmp(n, "subscription_payment_recovered") == 0 ||
		strcmp(n, "subscription_payment_failed") == 0 ||
		strcmp(n, "subscription_payment_refunded") == 0)
		return InvoiceEvent(&ev);
	return NORM_SKIPPED;
}
