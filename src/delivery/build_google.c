/*
 * build_google.c
 *		Google Ads elements: a ClickConversion for uploadClickConversions, or
 *		a ConversionAdjustment for uploadConversionAdjustments
 *		(API-CONTRACTS.md B1, B2, B4).
 *
 * A click conversion carries exactly one of gclid, gbraid, wbraid (routing
 * chose it), the conversion action as a resource name, the time in UTC with
 * its offset, the value in major units, the order id that later
 * adjustments refer to, the hashed e-mail as a first-party identifier and
 * the user's consent when it is known.  An adjustment names the original
 * order id; only a RESTATEMENT carries a value, the new total.
 */
#include "postgres.h"

#include "delivery/payload.h"

/*
 * customers/{cid}/conversionActions/{id}; a target that is already a
 * resource name is taken as it is.
 */
static char *
ConversionActionName(const PayloadFacts *f)
{
	if (strncmp(f->target, "customers/", 10) == 0)
		return pstrdup(f->target);
	return psprintf("customers/%s/conversionActions/%s",
					f->account_id ? f->account_id : "", f->target);
}

static void
WriteConsent(JsonWriter *w, const PayloadFacts *f)
{
	if (f->ad_user_data == CONSENT_UNKNOWN && f->ad_personalization == CONSENT_UNKNOWN)
		return;
	JwKey(w, "consent");
	JwBeginObject(w);
	if (f->ad_user_data != CONSENT_UNKNOWN)
		JwFieldString(w, "adUserData",
					  f->ad_user_data == CONSENT_GRANTED ? "GRANTED" : "DENIED");
	if (f->ad_personalization != CONSENT_UNKNOWN)
		JwFieldString(w, "adPersonalization",
					  f->ad_personalization == CONSENT_GRANTED ? "GRANTED" : "DENIED");
	JwEndObject(w);
}

static void
BuildClickConversion(JsonWriter *w, const PayloadFacts *f)
{
	char		when[32];

	FormatGoogleDateTime(f->event_time_us, when);
	JwBeginObject(w);
	/* one click id only: GBRAID_WBRAID_BOTH_SET otherwise */
	if (f->gclid)
		JwFieldString(w, "gclid", f->gclid);
	else if (f->gbraid)
		JwFieldString(w, "gbraid", f->gbraid);
	else if (f->wbraid)
		JwFieldString(w, "wbraid", f->wbraid);
	JwFieldString(w, "conversionAction", ConversionActionName(f));
	JwFieldString(w, "conversionDateTime", when);
	JwFieldNumber(w, "conversionValue", f->value);
	JwFieldString(w, "currencyCode", f->currency);
	JwFieldString(w, "orderId", f->order_id);
	if (f->email_sha256)
	{
		JwKey(w, "userIdentifiers");
		JwBeginArray(w);
		JwBeginObject(w);
		JwFieldString(w, "userIdentifierSource", "FIRST_PARTY");
		JwFieldString(w, "hashedEmail", f->email_sha256);
		JwEndObject(w);
		JwEndArray(w);
	}
	WriteConsent(w, f);
	JwEndObject(w);
}

static void
BuildAdjustment(JsonWriter *w, const PayloadFacts *f)
{
	char		when[32];
	bool		restatement = f->adjustment_type != NULL &&
		strcmp(f->adjustment_type, "RESTATEMENT") == 0;

	FormatGoogleDateTime(f->event_time_us, when);
	JwBeginObject(w);
	JwFieldString(w, "conversionAction", ConversionActionName(f));
	JwFieldString(w, "adjustmentType", restatement ? "RESTATEMENT" : "RETRACTION");
	JwFieldString(w, "adjustmentDateTime", when);
	JwFieldString(w, "orderId", f->order_id);
	/* a RETRACTION must not carry restatementValue */
	if (restatement)
	{
		JwKey(w, "restatementValue");
		JwBeginObject(w);
		JwFieldNumber(w, "adjustedValue", f->value);
		JwFieldString(w, "currencyCode", f->currency);
		JwEndObject(w);
	}
	JwEndObject(w);
}

void
BuildGooglePayload(JsonWriter *w, const PayloadFacts *f)
{
	if (f->adjustment)
		BuildAdjustment(w, f);
	else
		BuildClickConversion(w, f);
}
