/*
 * build_linkedin.c
 *		LinkedIn Conversions API: one element of elements[]
 *		(API-CONTRACTS.md E).
 *
 * The time is epoch milliseconds and the amount a string ("29.0").  The
 * user is identified by the hashed e-mail and, when the user came through
 * a LinkedIn ad, the first-party tracking id (li_fat_id).
 */
#include "postgres.h"

#include "delivery/payload.h"

static void
WriteUserId(JsonWriter *w, const char *type, const char *value)
{
	JwBeginObject(w);
	JwFieldString(w, "idType", type);
	JwFieldString(w, "idValue", value);
	JwEndObject(w);
}

void
BuildLinkedinPayload(JsonWriter *w, const PayloadFacts *f)
{
	char	   *urn;

	if (strncmp(f->target, "urn:", 4) == 0)
		urn = pstrdup(f->target);
	else
		urn = psprintf("urn:lla:llaPartnerConversion:%s", f->target);

	JwBeginObject(w);
	JwFieldString(w, "conversion", urn);
	JwKey(w, "conversionHappenedAt");
	JwInt64(w, UnixMillis(f->event_time_us));
	if (f->value)
	{
		JwKey(w, "conversionValue");
		JwBeginObject(w);
		JwFieldString(w, "currencyCode", f->currency);
		/* a string in LinkedIn's schema, written like the other values */
		JwFieldString(w, "amount", f->value);
		JwEndObject(w);
	}
	JwFieldString(w, "eventId", f->dedup_key);
	JwKey(w, "user");
	JwBeginObject(w);
	JwKey(w, "userIds");
	JwBeginArray(w);
	if (f->email_sha256)
		WriteUserId(w, "SHA256_EMAIL", f->email_sha256);
	if (f->li_fat_id)
		WriteUserId(w, "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", f->li_fat_id);
	JwEndArray(w);
	JwEndObject(w);
	JwEndObject(w);
}
