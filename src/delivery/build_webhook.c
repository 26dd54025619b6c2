/*
 * build_webhook.c
 *		The generic HTTPS endpoint's event: one JSON object per conversion or
 *		adjustment, in a shape of our own (documented on the column
 *		attribution.outbox.payload).
 *
 * The endpoint belongs to the company itself, so it gets what the ad
 * platforms get plus the user id, the lifetime value and every click id;
 * absent values are left out rather than sent as null, except consent,
 * where null means "not known".
 */
#include "postgres.h"

#include "delivery/payload.h"

static void
WriteConsent(JsonWriter *w, const char *key, int state)
{
	JwKey(w, key);
	if (state == CONSENT_UNKNOWN)
		JwNull(w);
	else
		JwBool(w, state == CONSENT_GRANTED);
}

void
BuildWebhookPayload(JsonWriter *w, const PayloadFacts *f)
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
	WriteConsent(w, "ad_user_data", f->ad_user_data);
	WriteConsent(w, "ad_personalization", f->ad_personalization);
	JwEndObject(w);
	JwEndObject(w);
}
