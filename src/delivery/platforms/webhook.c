/*
 * webhook.c
 *		The generic HTTPS endpoint: one JSON object per conversion or
 *		adjustment, in a shape of our own (documented on the column
 *		attribution.outbox.payload).
 *
 * The endpoint belongs to the company itself, so it gets what the ad
 * platforms get plus the user id, the lifetime value and every click id;
 * absent values are left out rather than sent as null, except consent,
 * where null means "not known".  Requests: the event object itself to the
 * endpoint, with Idempotency-Key; a 409 means already received.  The
 * request holds one event (max_batch 1): the body is assembled from the
 * batch's elements, so a JSON-array batch body is a change of envelope and
 * of the key header only.
 */
#include "postgres.h"

#include "delivery/delivery.h"
#include "delivery/http_engine.h"
#include "delivery/judge.h"
#include "delivery/request_kit.h"
#include "delivery/platforms/platform.h"

static void
write_consent(JsonWriter *w, const char *key, int state)
{
	JwKey(w, key);
	if (state == CONSENT_UNKNOWN)
		JwNull(w);
	else
		JwBool(w, state == CONSENT_GRANTED);
}

static void
build_payload(JsonWriter *w, const PayloadFacts *f)
{
	char		when[32];

	FormatIsoUtc(f->event_time_us, when);
	JwBeginObject(w);
	JwFieldString(w, "id", f->dedup_key);
	JwFieldString(w, "type", f->adjustment ? "adjustment" : "conversion");
	JwFieldString(w, "kind", f->lifecycle);
	JwFieldString(w, "event", f->target);
	JwFieldString(w, "occurred_at", when);
	JwKey(w, "conversion_id");
	JwInt64(w, f->conversion_id);
	JwFieldString(w, "provider", f->provider);
	JwFieldString(w, "order_id", f->order_id);
	JwFieldNumber(w, "value", f->value);
	JwFieldString(w, "currency", f->currency);
	JwFieldNumber(w, "ltv", f->ltv);
	JwFieldNumber(w, "predicted_ltv", f->predicted_ltv);

	JwKey(w, "user");
	JwBeginObject(w);
	JwFieldString(w, "id", f->user_id);
	JwFieldString(w, "external_id_sha256", f->external_id_sha256);
	JwFieldString(w, "email_sha256", f->email_sha256);
	JwFieldString(w, "phone_sha256", f->phone_sha256);
	JwFieldString(w, "ip", f->ip);
	JwFieldString(w, "user_agent", f->user_agent);
	JwEndObject(w);

	JwKey(w, "click_ids");
	JwBeginObject(w);
	JwFieldString(w, "gclid", f->gclid);
	JwFieldString(w, "gbraid", f->gbraid);
	JwFieldString(w, "wbraid", f->wbraid);
	JwFieldString(w, "fbc", f->fbc);
	JwFieldString(w, "fbp", f->fbp);
	JwFieldString(w, "ttclid", f->ttclid);
	JwFieldString(w, "ttp", f->ttp);
	JwFieldString(w, "li_fat_id", f->li_fat_id);
	JwEndObject(w);

	JwKey(w, "consent");
	JwBeginObject(w);
	write_consent(w, "ad_user_data", f->ad_user_data);
	write_consent(w, "ad_personalization", f->ad_personalization);
	JwEndObject(w);
	JwEndObject(w);
}

static void
judge_webhook(Verdict *v, int n, HttpRequest *req)
{
	if (req->http_status == 409)
	{
		v->breaker_success = true;
		SetAll(v, n, ROW_DUPLICATE, "HTTP_409", "already received", 0);
		return;
	}
	JudgeHttp(v, n, req, NULL, NULL);
}


static void
judge(DeliveryBatch *batch, HttpRequest *req, JsonbContainer *root pg_attribute_unused(),
	  Verdict *v)
{
	judge_webhook(v, batch->nrows, req);
}

static void
build_request(DeliveryBatch *batch, HttpRequest *req, StringInfo url, StringInfo body)
{
	Destination *d = batch->dest;

	DeliveryAppendUrl(url, d->endpoint, "");
	DeliveryAddBearer(req, d->token);
	HttpAddHeader(req, "Idempotency-Key", batch->rows[0].dedup_key);
	DeliveryAppendElements(body, batch);
}

const PlatformModule webhook_module = {
	.name = "webhook",
	.transport = "https",
	.default_transport = true,
	.routing = {
		.click_ids = "{gclid,gbraid,wbraid,fbc,fbp,ttclid,ttp,li_fat_id}",
		.user_match = true,
		.match_always = true,
		.carries_consent = true,
		.adjustment_policies = "{none,negative_event,custom_event}",
		.default_adjustment_policy = "negative_event",
		.adjustment_target = "event",
		.events_are_kinds = true,
		.predicted_ltv = "always",
		.click_window = "90 days",
		.max_event_age = "90 days",
		.adjustment_max_age = "90 days",
		.max_batch = 1,
	},
	/* the company's own endpoint: a bearer token it issues, no OAuth */
	.oauth = {
		.scopes = "{}",
		.refresh_style = "none",
		.token_header = "bearer",
	},
	.build_payload = build_payload,
	.build_request = build_request,
	.judge = judge,
};
