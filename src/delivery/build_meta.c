/*
 * build_meta.c
 *		Meta Conversions API: one element of data[] (API-CONTRACTS.md C).
 *
 * Hashed identifiers (em, external_id) go as one-element lists; fbc, fbp,
 * IP and user agent go as they are.  action_source is system_generated
 * unless the destination says otherwise; website also sends the page URL.
 * Adjustments (policy negative_event or custom_event) are ordinary events
 * with their own event_id and the value routing computed.
 */
#include "postgres.h"

#include "delivery/payload.h"

void
BuildMetaPayload(JsonWriter *w, const PayloadFacts *f)
{
	const char *source = f->action_source ? f->action_source : "system_generated";

	JwBeginObject(w);
	JwFieldString(w, "event_name", f->target);
	JwKey(w, "event_time");
	JwInt64(w, UnixSeconds(f->event_time_us));
	JwFieldString(w, "event_id", f->dedup_key);
	JwFieldString(w, "action_source", source);
	if (strcmp(source, "website") == 0)
		JwFieldString(w, "event_source_url", f->source_url);

	JwKey(w, "user_data");
	JwBeginObject(w);
	JwFieldStringArray1(w, "em", f->email_sha256);
	JwFieldStringArray1(w, "external_id", f->external_id_sha256);
	JwFieldString(w, "fbc", f->fbc);
	JwFieldString(w, "fbp", f->fbp);
	JwFieldString(w, "client_ip_address", f->ip);
	JwFieldString(w, "client_user_agent", f->user_agent);
	JwEndObject(w);

	JwKey(w, "custom_data");
	JwBeginObject(w);
	JwFieldNumber(w, "value", f->value);
	JwFieldString(w, "currency", f->currency);
	JwFieldNumber(w, "predicted_ltv", f->predicted_ltv);
	JwEndObject(w);
	JwEndObject(w);
}
