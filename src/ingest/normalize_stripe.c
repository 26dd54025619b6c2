/*
 * normalize_stripe.c
 *		Stripe events to ledger facts.
 *
 * Money comes from invoices (subscription payments, by billing_reason),
 * Checkout sessions in payment mode (one-time purchases), refunds and
 * disputes; subscription events give the lifecycle without money.  Fact
 * keys name the provider object, so the two events Stripe sends for one
 * payment (invoice.paid and invoice.payment_succeeded) are one fact.
 * Both invoice shapes are read: parent.subscription_details (current API)
 * and the top-level subscription and charge of older API versions.
 */
#include "postgres.h"

#include "ingest/ingest.h"

#define PROVIDER "stripe"

/* Upserts that only carry ids must not move the subscription's clock. */
#define LINK_ONLY_TIME DT_NOBEGIN

typedef struct StripeEvent
{
	NormContext *ctx;
	char	   *id;
	char	   *type;
	TimestampTz created;
	JsonbContainer *object;
	JsonbContainer *previous;
} StripeEvent;

static char *
Concat(const char *a, const char *b)
{
	return psprintf("%s%s", a, b);
}

/* The subscription an invoice belongs to, in either API shape. */
static char *
InvoiceSubscription(JsonbContainer *inv)
{
	static const char *const path[] = {"parent", "subscription_details", NULL};
	JsonbContainer *details = JsonPathObject(inv, path);
	char	   *sub = JsonStringOrId(details, "subscription");

	if (sub == NULL)
		sub = JsonStringOrId(inv, "subscription");
	return sub;
}

/* The user id an invoice carries: subscription metadata snapshot first. */
static char *
InvoiceUserId(JsonbContainer *inv)
{
	static const char *const path[] = {"parent", "subscription_details", "metadata", NULL};
	static const char *const legacy[] = {"subscription_details", "metadata", NULL};
	char	   *user = JsonUserId(JsonPathObject(inv, path));

	if (user == NULL)
		user = JsonUserId(JsonPathObject(inv, legacy));
	if (user == NULL)
		user = JsonUserId(JsonObject(inv, "metadata"));
	return user;
}

/* The charge and payment intent that paid an invoice, where named. */
static void
InvoicePayment(JsonbContainer *inv, char **charge, char **payment_intent)
{
	JsonbContainer *payments = JsonObject(inv, "payments");
	JsonbContainer *first = JsonArrayObject(JsonArray(payments, "data"), 0);
	JsonbContainer *payment = JsonObject(first, "payment");

	*charge = JsonStringOrId(inv, "charge");
	*payment_intent = JsonStringOrId(inv, "payment_intent");
	if (*charge == NULL)
		*charge = JsonStringOrId(payment, "charge");
	if (*payment_intent == NULL)
		*payment_intent = JsonStringOrId(payment, "payment_intent");
}

/* Recurring amount and plan of a subscription object. */
static bool
SubscriptionPrice(JsonbContainer *sub, char **plan_id, int64 *amount, char **currency)
{
	JsonbContainer *items = JsonObject(sub, "items");
	JsonbContainer *item = JsonArrayObject(JsonArray(items, "data"), 0);
	JsonbContainer *price = JsonObject(item, "price");
	JsonbContainer *plan = JsonObject(sub, "plan");
	int64		unit = 0;
	int64		quantity = 1;
	bool		found = false;

	*plan_id = NULL;
	*currency = NULL;
	if (price != NULL && JsonInt64(price, "unit_amount", &unit))
	{
		*plan_id = JsonString(price, "id");
		*currency = JsonString(price, "currency");
		if (!JsonInt64(item, "quantity", &quantity))
			quantity = 1;
		found = true;
	}
	else if (plan != NULL && JsonInt64(plan, "amount", &unit))
	{
		*plan_id = JsonString(plan, "id");
		*currency = JsonString(plan, "currency");
		if (!JsonInt64(sub, "quantity", &quantity))
			quantity = 1;
		found = true;
	}
	if (*currency == NULL)
		*currency = JsonString(sub, "currency");
	*amount = unit * quantity;
	return found;
}

static void
StripeFact(StripeEvent *ev, BillingFact *fact, const char *kind, char *fact_key,
		   char *customer, char *subscription, char *object_id, char *user)
{
	InitFact(fact, PROVIDER, kind);
	fact->fact_key = fact_key;
	fact->customer_id = customer;
	fact->subscription_id = subscription;
	fact->object_id = object_id;
	fact->user_id = user;
	fact->occurred_at = ev->created;
	DetailString(fact, "event_type", ev->type);
}

static NormResult
InvoicePaid(StripeEvent *ev)
{
	JsonbContainer *inv = ev->object;
	char	   *invoice_id = JsonString(inv, "id");
	char	   *reason = JsonString(inv, "billing_reason");
	char	   *customer = JsonStringOrId(inv, "customer");
	char	   *subscription = InvoiceSubscription(inv);
	char	   *user = InvoiceUserId(inv);
	char	   *charge;
	char	   *payment_intent;
	const char *kind;
	int64		paid = 0;
	int64		total = 0;
	BillingFact fact;
	JsonbContainer *transitions = JsonObject(inv, "status_transitions");

	if (invoice_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stripe event %s has no invoice id", ev->id)));
	LinkCustomer(PROVIDER, customer, user, JsonString(inv, "customer_email"));
	UpsertSubscription(ev->ctx, PROVIDER, subscription, customer, user, NULL, NULL,
					   false, 0, NULL, NULL, -1, LINK_ONLY_TIME);

	if (!JsonInt64(inv, "amount_paid", &paid))
		paid = 0;
	if (!JsonInt64(inv, "total", &total))
		total = paid;

	if (reason != NULL && strcmp(reason, "subscription_create") == 0)
	{
		/* A zero first invoice opens a trial; the trial is its own fact. */
		if (paid == 0)
			return NORM_DONE;
		kind = "subscription_started";
	}
	else if (reason != NULL && (strcmp(reason, "subscription_cycle") == 0 ||
								strcmp(reason, "subscription_threshold") == 0 ||
								strcmp(reason, "subscription") == 0))
		kind = "renewal";
	else if (reason != NULL && strcmp(reason, "subscription_update") == 0)
	{
		/*
		 * A proration invoice.  A credit (negative total) goes to the
		 * customer's balance and lowers later invoices, which record what
		 * was really paid; counting it now would count it twice.
		 */
		if (paid > 0 || total > 0)
			kind = "upgrade";
		else if (total < 0)
			kind = "downgrade";
		else
			return NORM_DONE;
	}
	else
		kind = "one_time_purchase";

	StripeFact(ev, &fact, kind, Concat("invoice:", invoice_id), customer, subscription,
			   invoice_id, user);
	fact.has_amount = true;
	fact.amount_minor = paid;
	fact.currency = UpperCurrency(JsonString(inv, "currency"));
	(void) JsonUnixTime(transitions, "paid_at", &fact.occurred_at);
	InvoicePayment(inv, &charge, &payment_intent);
	fact.parent_object_id = charge;
	DetailString(&fact, "billing_reason", reason);
	DetailString(&fact, "payment_intent", payment_intent);
	if (total < 0)
		DetailInt64(&fact, "credit_minor", total);
	RecordFact(ev->ctx, &fact);
	return NORM_DONE;
}

static NormResult
InvoiceFailed(StripeEvent *ev)
{
	JsonbContainer *inv = ev->object;
	char	   *invoice_id = JsonString(inv, "id");
	char	   *attempt = JsonString(inv, "attempt_count");
	int64		due;
	BillingFact fact;

	if (invoice_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stripe event %s has no invoice id", ev->id)));
	StripeFact(ev, &fact, "payment_failed",
			   psprintf("payment_failed:%s:%s", invoice_id, attempt ? attempt : ev->id),
			   JsonStringOrId(inv, "customer"), InvoiceSubscription(inv), invoice_id,
			   InvoiceUserId(inv));
	fact.currency = UpperCurrency(JsonString(inv, "currency"));
	if (JsonInt64(inv, "amount_due", &due))
		DetailInt64(&fact, "amount_due_minor", due);
	DetailString(&fact, "attempt_count", attempt);
	RecordFact(ev->ctx, &fact);
	return NORM_DONE;
}

static NormResult
CheckoutCompleted(StripeEvent *ev)
{
	JsonbContainer *cs = ev->object;
	char	   *session_id = JsonString(cs, "id");
	char	   *mode = JsonString(cs, "mode");
	char	   *status = JsonString(cs, "payment_status");
	char	   *customer = JsonStringOrId(cs, "customer");
	char	   *user = JsonString(cs, "client_reference_id");
	char	   *email = JsonString(JsonObject(cs, "customer_details"), "email");
	int64		amount;
	BillingFact fact;

	if (user == NULL)
		user = JsonUserId(JsonObject(cs, "metadata"));
	if (email == NULL)
		email = JsonString(cs, "customer_email");
	LinkCustomer(PROVIDER, customer, user, email);

	if (mode != NULL && strcmp(mode, "subscription") == 0)
	{
		UpsertSubscription(ev->ctx, PROVIDER, JsonStringOrId(cs, "subscription"), customer,
						   user, NULL, NULL, false, 0, NULL, NULL, -1, LINK_ONLY_TIME);
		return NORM_DONE;
	}
	/* Payment mode: money only once paid (delayed methods pay later). */
	if (mode == NULL || strcmp(mode, "payment") != 0 || session_id == NULL ||
		status == NULL || strcmp(status, "paid") != 0 ||
		!JsonInt64(cs, "amount_total", &amount))
		return NORM_DONE;

	StripeFact(ev, &fact, "one_time_purchase", Concat("checkout:", session_id), customer,
			   NULL, session_id, user);
	fact.has_amount = true;
	fact.amount_minor = amount;
	fact.currency = UpperCurrency(JsonString(cs, "currency"));
	fact.parent_object_id = JsonStringOrId(cs, "payment_intent");
	RecordFact(ev->ctx, &fact);
	return NORM_DONE;
}

/* Keep the subscription's state and link its customer. */
static void
SubscriptionState(StripeEvent *ev, const char *status_override)
{
	JsonbContainer *sub = ev->object;
	char	   *plan_id;
	char	   *currency;
	int64		amount;
	bool		has_amount = SubscriptionPrice(sub, &plan_id, &amount, &currency);
	bool		cancel = false;
	char	   *customer = JsonStringOrId(sub, "customer");
	char	   *user = JsonUserId(JsonObject(sub, "metadata"));

	LinkCustomer(PROVIDER, customer, user, NULL);
	UpsertSubscription(ev->ctx, PROVIDER, JsonString(sub, "id"), customer, user,
					   status_override ? status_override : JsonString(sub, "status"),
					   plan_id, has_amount, amount, currency ? UpperCurrency(currency) : NULL,
					   NULL, JsonBool(sub, "cancel_at_period_end", &cancel) ? (cancel ? 1 : 0) : -1,
					   ev->created);
}

/* A lifecycle fact of a subscription event, without money. */
static void
SubscriptionFact(StripeEvent *ev, const char *kind, char *fact_key)
{
	JsonbContainer *sub = ev->object;
	BillingFact fact;

	StripeFact(ev, &fact, kind, fact_key, JsonStringOrId(sub, "customer"),
			   JsonString(sub, "id"), JsonString(sub, "id"),
			   JsonUserId(JsonObject(sub, "metadata")));
	DetailString(&fact, "status", JsonString(sub, "status"));
	RecordFact(ev->ctx, &fact);
}

static NormResult
SubscriptionCreated(StripeEvent *ev)
{
	char	   *sub_id = JsonString(ev->object, "id");
	char	   *status = JsonString(ev->object, "status");

	SubscriptionState(ev, NULL);
	if (sub_id != NULL && status != NULL && strcmp(status, "trialing") == 0)
	{
		BillingFact fact;

		StripeFact(ev, &fact, "trial_started", Concat("trial:", sub_id),
				   JsonStringOrId(ev->object, "customer"), sub_id, sub_id,
				   JsonUserId(JsonObject(ev->object, "metadata")));
		(void) JsonUnixTime(ev->object, "trial_start", &fact.occurred_at);
		DetailString(&fact, "trial_end", JsonString(ev->object, "trial_end"));
		RecordFact(ev->ctx, &fact);
	}
	return NORM_DONE;
}

/* Canceled facts are keyed by the cancellation request time, which the
 * scheduled cancellation (.updated) and the ending (.deleted) share. */
static char *
CancelKey(StripeEvent *ev)
{
	char	   *at = JsonString(ev->object, "canceled_at");

	return psprintf("canceled:%s:%s", JsonString(ev->object, "id"), at ? at : ev->id);
}

static NormResult
SubscriptionUpdated(StripeEvent *ev)
{
	JsonbContainer *prev = ev->previous;
	char	   *sub_id = JsonString(ev->object, "id");
	bool		now_cancel = false;

	SubscriptionState(ev, NULL);
	if (prev == NULL || sub_id == NULL)
		return NORM_DONE;

	if (JsonHasKey(prev, "cancel_at_period_end") &&
		JsonBool(ev->object, "cancel_at_period_end", &now_cancel))
	{
		if (now_cancel)
			SubscriptionFact(ev, "canceled", CancelKey(ev));
		else
			SubscriptionFact(ev, "reactivated", Concat("reactivated:", ev->id));
	}
	if (JsonHasKey(prev, "pause_collection"))
	{
		if (JsonObject(ev->object, "pause_collection") != NULL)
			SubscriptionFact(ev, "paused", Concat("paused:", ev->id));
		else
			SubscriptionFact(ev, "resumed", Concat("resumed:", ev->id));
	}
	if (JsonHasKey(prev, "items") || JsonHasKey(prev, "plan"))
	{
		char	   *old_plan;
		char	   *new_plan;
		char	   *currency;
		int64		old_amount;
		int64		new_amount;
		JsonbContainer *old = prev;

		/* previous_attributes holds the old items/plan (and quantity). */
		if (SubscriptionPrice(old, &old_plan, &old_amount, &currency) &&
			SubscriptionPrice(ev->object, &new_plan, &new_amount, &currency) &&
			old_amount != new_amount)
		{
			BillingFact fact;

			StripeFact(ev, &fact, new_amount > old_amount ? "upgrade" : "downgrade",
					   Concat("plan_change:", ev->id), JsonStringOrId(ev->object, "customer"),
					   sub_id, sub_id, JsonUserId(JsonObject(ev->object, "metadata")));
			DetailString(&fact, "from_plan", old_plan);
			DetailString(&fact, "to_plan", new_plan);
			DetailInt64(&fact, "from_amount_minor", old_amount);
			DetailInt64(&fact, "to_amount_minor", new_amount);
			RecordFact(ev->ctx, &fact);
		}
	}
	return NORM_DONE;
}

static NormResult
ChargeRefunded(StripeEvent *ev)
{
	JsonbContainer *ch = ev->object;
	char	   *charge_id = JsonString(ch, "id");
	int64		refunded;
	BillingFact fact;

	if (charge_id == NULL || !JsonInt64(ch, "amount_refunded", &refunded))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stripe event %s has no charge id or amount_refunded", ev->id)));
	StripeFact(ev, &fact, "refund", NULL, JsonStringOrId(ch, "customer"), NULL, charge_id,
			   JsonUserId(JsonObject(ch, "metadata")));
	fact.parent_object_id = charge_id;
	fact.currency = UpperCurrency(JsonString(ch, "currency"));
	DetailString(&fact, "payment_intent", JsonStringOrId(ch, "payment_intent"));
	ObserveRefund(ev->ctx, &fact, psprintf("amount_refunded:" INT64_FORMAT, refunded),
				  refunded, true);
	return NORM_DONE;
}

static NormResult
RefundCreated(StripeEvent *ev)
{
	JsonbContainer *re = ev->object;
	char	   *refund_id = JsonString(re, "id");
	char	   *status = JsonString(re, "status");
	int64		amount;
	BillingFact fact;

	if (status != NULL && (strcmp(status, "failed") == 0 || strcmp(status, "canceled") == 0))
		return NORM_DONE;
	if (refund_id == NULL || !JsonInt64(re, "amount", &amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stripe event %s has no refund id or amount", ev->id)));
	StripeFact(ev, &fact, "refund", NULL, NULL, NULL, refund_id,
			   JsonUserId(JsonObject(re, "metadata")));
	fact.parent_object_id = JsonStringOrId(re, "charge");
	fact.currency = UpperCurrency(JsonString(re, "currency"));
	DetailString(&fact, "payment_intent", JsonStringOrId(re, "payment_intent"));
	DetailString(&fact, "reason", JsonString(re, "reason"));
	ObserveRefund(ev->ctx, &fact, Concat("refund:", refund_id), amount, false);
	return NORM_DONE;
}

static NormResult
Dispute(StripeEvent *ev, bool closed)
{
	JsonbContainer *dp = ev->object;
	char	   *dispute_id = JsonString(dp, "id");
	char	   *status = JsonString(dp, "status");
	int64		amount;
	BillingFact fact;

	if (dispute_id == NULL || !JsonInt64(dp, "amount", &amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stripe event %s has no dispute id or amount", ev->id)));
	/* A lost dispute changes nothing: the chargeback was counted when opened. */
	if (closed && (status == NULL || strcmp(status, "won") != 0))
		return NORM_DONE;
	StripeFact(ev, &fact, closed ? "chargeback_reversed" : "chargeback",
			   Concat(closed ? "dispute_won:" : "dispute:", dispute_id),
			   NULL, NULL, dispute_id, NULL);
	fact.has_amount = true;
	fact.amount_minor = closed ? amount : -amount;
	fact.parent_object_id = JsonStringOrId(dp, "charge");
	fact.currency = UpperCurrency(JsonString(dp, "currency"));
	DetailString(&fact, "reason", JsonString(dp, "reason"));
	DetailString(&fact, "payment_intent", JsonStringOrId(dp, "payment_intent"));
	RecordFact(ev->ctx, &fact);
	return NORM_DONE;
}

NormResult
NormalizeStripe(NormContext *ctx)
{
	StripeEvent ev;
	JsonbContainer *data = JsonObject(ctx->root, "data");
	const char *t;

	ev.ctx = ctx;
	ev.id = JsonString(ctx->root, "id");
	ev.type = JsonString(ctx->root, "type");
	ev.object = JsonObject(data, "object");
	ev.previous = JsonObject(data, "previous_attributes");
	if (ev.id == NULL)
		ev.id = ctx->row->event_id;
	if (ev.type == NULL || ev.object == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stripe event %s has no type or data.object", ev.id)));
	if (!JsonUnixTime(ctx->root, "created", &ev.created))
		ev.created = ctx->row->received_at;
	t = ev.type;

	if (strcmp(t, "invoice.paid") == 0 || strcmp(t, "invoice.payment_succeeded") == 0)
		return InvoicePaid(&ev);
	if (strcmp(t, "invoice.payment_failed") == 0)
		return InvoiceFailed(&ev);
	if (strcmp(t, "checkout.session.completed") == 0 ||
		strcmp(t, "checkout.session.async_payment_succeeded") == 0)
		return CheckoutCompleted(&ev);
	if (strcmp(t, "customer.subscription.created") == 0)
		return SubscriptionCreated(&ev);
	if (strcmp(t, "customer.subscription.updated") == 0)
		return SubscriptionUpdated(&ev);
	if (strcmp(t, "customer.subscription.deleted") == 0)
	{
		SubscriptionState(&ev, "canceled");
		SubscriptionFact(&ev, "canceled", CancelKey(&ev));
		return NORM_DONE;
	}
	if (strcmp(t, "customer.subscription.paused") == 0)
	{
		SubscriptionState(&ev, "paused");
		SubscriptionFact(&ev, "paused", Concat("paused:", ev.id));
		return NORM_DONE;
	}
	if (strcmp(t, "customer.subscription.resumed") == 0)
	{
		SubscriptionState(&ev, "active");
		SubscriptionFact(&ev, "resumed", Concat("resumed:", ev.id));
		return NORM_DONE;
	}
	if (strcmp(t, "customer.created") == 0 || strcmp(t, "customer.updated") == 0)
	{
		LinkCustomer(PROVIDER, JsonString(ev.object, "id"),
					 JsonUserId(JsonObject(ev.object, "metadata")),
					 JsonString(ev.object, "email"));
		return NORM_DONE;
	}
	if (strcmp(t, "charge.refunded") == 0)
		return ChargeRefunded(&ev);
	if (strcmp(t, "refund.created") == 0 || strcmp(t, "refund.updated") == 0 ||
		strcmp(t, "charge.refund.updated") == 0)
		return RefundCreated(&ev);
	if (strcmp(t, "charge.dispute.created") == 0)
		return Dispute(&ev, false);
	if (strcmp(t, "charge.dispute.closed") == 0)
		return Dispute(&ev, true);
	return NORM_SKIPPED;
}
