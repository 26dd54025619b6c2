/*
 * payload.c
 *		SQL glue of the payload builders: attribution._render_payload(facts)
 *		reads one attribution._payload_facts row, calls the builder of the
 *		platform module it names and returns the element as jsonb.
 *
 * The builders write JSON text; it goes through jsonb_in, so a builder
 * fault becomes an error here instead of a malformed request later.
 */
#include "postgres.h"

#include "datatype/timestamp.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "delivery/payload_format.h"
#include "delivery/platforms/platform.h"

PG_FUNCTION_INFO_V1(attr_render_payload);

/* microseconds between the Unix epoch and the PostgreSQL epoch */
#define UNIX_TO_PG_EPOCH_US \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

static const char *
FactText(HeapTupleHeader row, const char *name)
{
	bool		isnull;
	Datum		d = GetAttributeByName(row, name, &isnull);

	if (isnull)
		return NULL;
	return TextDatumGetCString(d);
}

static const char *
FactDecimal(HeapTupleHeader row, const char *name)
{
	bool		isnull;
	Datum		d = GetAttributeByName(row, name, &isnull);

	if (isnull)
		return NULL;
	if (numeric_is_nan(DatumGetNumeric(d)) || numeric_is_inf(DatumGetNumeric(d)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payload %s is not a finite number", name)));
	return FormatDecimal(DatumGetCString(DirectFunctionCall1(numeric_out, d)));
}

static int
FactConsent(HeapTupleHeader row, const char *name)
{
	bool		isnull;
	Datum		d = GetAttributeByName(row, name, &isnull);

	if (isnull)
		return CONSENT_UNKNOWN;
	return DatumGetBool(d) ? CONSENT_GRANTED : CONSENT_DENIED;
}

/*
 * The facts row as the builders' struct.  Fields a platform needs and that
 * routing always supplies (platform, target, event time) are checked here,
 * once for all builders.
 */
static void
ReadFacts(HeapTupleHeader row, PayloadFacts *f)
{
	bool		isnull;
	Datum		d;
	const char *kind;

	memset(f, 0, sizeof(*f));
	f->platform = FactText(row, "platform");
	f->transport = FactText(row, "transport");
	kind = FactText(row, "kind");
	f->lifecycle = FactText(row, "lifecycle");
	f->target = FactText(row, "target");
	if (f->platform == NULL || kind == NULL || f->target == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("payload facts lack the platform, kind or target")));
	if (strcmp(kind, "conversion") == 0)
		f->adjustment = false;
	else if (strcmp(kind, "adjustment") == 0)
		f->adjustment = true;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payload kind \"%s\" is not conversion or adjustment", kind)));

	d = GetAttributeByName(row, "event_time", &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("payload facts lack the event time")));
	if (TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(d)))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("payload event time must be finite")));
	f->event_time_us = DatumGetTimestampTz(d) + UNIX_TO_PG_EPOCH_US;

	d = GetAttributeByName(row, "original_time", &isnull);
	if (!isnull && !TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(d)))
		f->original_time_us = DatumGetTimestampTz(d) + UNIX_TO_PG_EPOCH_US;
	f->account_id = FactText(row, "account_id");
	f->dedup_key = FactText(row, "dedup_key");
	f->order_id = FactText(row, "order_id");
	f->value = FactDecimal(row, "value");
	f->currency = FactText(row, "currency");
	f->predicted_ltv = FactDecimal(row, "predicted_ltv");
	f->ltv = FactDecimal(row, "ltv");
	f->adjustment_type = FactText(row, "adjustment_type");
	f->email_sha256 = FactText(row, "email_sha256");
	f->email_sha256_google = FactText(row, "email_sha256_google");
	f->phone_sha256 = FactText(row, "phone_sha256");
	f->phone_sha256_meta = FactText(row, "phone_sha256_meta");
	f->ip_sha256 = FactText(row, "ip_sha256");
	f->external_id_sha256 = FactText(row, "external_id_sha256");
	f->gclid = FactText(row, "gclid");
	f->gbraid = FactText(row, "gbraid");
	f->wbraid = FactText(row, "wbraid");
	f->fbc = FactText(row, "fbc");
	f->fbp = FactText(row, "fbp");
	f->ttclid = FactText(row, "ttclid");
	f->ttp = FactText(row, "ttp");
	f->li_fat_id = FactText(row, "li_fat_id");
	f->ip = FactText(row, "ip");
	f->user_agent = FactText(row, "user_agent");
	f->ad_user_data = FactConsent(row, "ad_user_data");
	f->ad_personalization = FactConsent(row, "ad_personalization");
	f->action_source = FactText(row, "action_source");
	f->source_url = FactText(row, "source_url");
	f->user_id = FactText(row, "user_id");
	f->provider = FactText(row, "provider");
	d = GetAttributeByName(row, "conversion_id", &isnull);
	f->conversion_id = isnull ? 0 : DatumGetInt64(d);
}

/* _render_payload(facts attribution._payload_facts) RETURNS jsonb */
Datum
attr_render_payload(PG_FUNCTION_ARGS)
{
	HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(0);
	PayloadFacts f;
	JsonWriter	w;
	const PlatformModule *m;

	ReadFacts(row, &f);
	m = PlatformLookup(f.platform, f.transport);
	if (m == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown platform \"%s\" with transport \"%s\"", f.platform,
						f.transport ? f.transport : "(default)"),
				 errhint("The platforms and transports are the rows of attribution.platforms.")));
	JwInit(&w);
	m->build_payload(&w, &f);
	Assert(w.depth == 0);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(w.buf.data)));
}
