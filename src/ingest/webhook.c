/*
 * webhook.c
 *		ingest_webhook: verify, de-duplicate and store a provider's webhook.
 *
 * The synchronous part of webhook intake does the least that makes the
 * answer to the provider true: the signature is checked on the raw bytes,
 * the body is checked to be a JSON object, and the raw body is stored in
 * attribution.webhook_inbox under its (source, event id), once.  Everything
 * else (normalisation into the ledger) happens in the processor worker after
 * commit.  Calls that fail verification are recorded in
 * attribution.webhook_rejections with a digest of the body, never the body
 * or a secret, and are not events.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "auth/vault.h"
#include "core/digest.h"
#include "ingest/webhook.h"

int			attr_max_webhook_body = 1024 * 1024;

PG_FUNCTION_INFO_V1(attr_ingest_webhook);
PG_FUNCTION_INFO_V1(attr_verify_signature);

/* What became of one webhook call. */
typedef struct Outcome
{
	const char *status;			/* accepted, duplicate, rejected */
	const char *reason;			/* rejections: webhook_rejections.reason */
	char	   *detail;
	int			http_status;
	char	   *event_id;
	char	   *event_type;
	int64		signed_at;		/* timestamp of the signature header, or -1 */
} Outcome;

void
WebhookInit(void)
{
	DefineCustomIntVariable("pg_attribution.max_webhook_body",
							"Largest webhook body, in bytes, that ingest_webhook accepts.",
							"Larger bodies are rejected and recorded in attribution.webhook_rejections.",
							&attr_max_webhook_body,
							1024 * 1024, 1, 64 * 1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	WebhookSourceCacheInit();
}

static void
Reject(Outcome *out, const char *reason, int http_status, char *detail)
{
	out->status = "rejected";
	out->reason = reason;
	out->http_status = http_status;
	out->detail = detail;
}

/* An operator's sentence for a failed verification. */
static char *
SignatureProblem(const WebhookSource *src, SigResult r, int64 signed_at, int64 now)
{
	const char *h = src->signature_header;

	switch (r)
	{
		case SIG_OK:
			return NULL;
		case SIG_STALE:
			return psprintf("signature timestamp " INT64_FORMAT " is " INT64_FORMAT
							" seconds old, over the tolerance of " INT64_FORMAT " seconds of source \"%s\"",
							signed_at, now - signed_at, src->sig.tolerance, src->name);
		case SIG_MISMATCH:
			return psprintf("%s does not match any active secret of source \"%s\"", h, src->name);
		case SIG_BAD_ENCODING:
			if (src->sig.scheme == SIG_SCHEME_SHARED_SECRET)
				return psprintf("%s holds Basic credentials that are not base64", h);
			if (src->sig.scheme == SIG_SCHEME_HMAC)
				return psprintf("%s is not a %s digest in %s (set options.encoding of source \"%s\" if the sender uses another)",
								h, src->sig.algorithm == SIG_ALG_SHA1 ? "SHA-1" : "SHA-256",
								src->sig.encoding == SIG_ENC_HEX ? "hex"
								: src->sig.encoding == SIG_ENC_BASE64 ? "base64" : "hex or base64",
								src->name);
			return psprintf("%s holds no signature of 64 hex digits", h);
		case SIG_NO_SIGNATURE:
			return psprintf("%s holds no %s signature", h,
							src->sig.scheme == SIG_SCHEME_STRIPE ? "v1" : "h1");
		case SIG_MALFORMED:
			return psprintf("%s has no valid %s timestamp", h,
							src->sig.scheme == SIG_SCHEME_STRIPE ? "t=" : "ts=");
		case SIG_MISSING:
			return psprintf("%s header is missing or empty", h);
		case SIG_ERROR:
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("could not compute the signature of a webhook of source \"%s\"", src->name)));
	return NULL;
}

/*
 * Verify and examine one webhook against its source and secrets: the common
 * part of ingest_webhook and _verify_signature, which touches no table.
 * The signature is checked before the body is parsed.
 */
static void
Examine(const WebhookSource *src, const SigSecret *secrets, int nsecrets,
		Jsonb *headers, text *body, const char *body_sha256, int64 now, Outcome *out)
{
	char	   *values[WEBHOOK_MAX_HEADER_VALUES];
	int			nvalues;
	SigResult	best = SIG_MISSING;
	int64		signed_at = -1;
	int			len = VARSIZE_ANY_EXHDR(body);
	char	   *problem;

	memset(out, 0, sizeof(*out));
	out->signed_at = -1;
	if (!src->enabled)
	{
		Reject(out, "source_disabled", 503,
			   psprintf("source \"%s\" is disabled in attribution.webhook_sources", src->name));
		return;
	}
	if (len > attr_max_webhook_body)
	{
		Reject(out, "body_too_large", 400,
			   psprintf("body is %d bytes long, over pg_attribution.max_webhook_body (%d bytes)",
						len, attr_max_webhook_body));
		return;
	}
	if (nsecrets == 0)
	{
		Reject(out, "no_active_secret", 503,
			   psprintf("source \"%s\" has no active secret; store one with attribution.set_webhook_secret",
						src->name));
		return;
	}

	nvalues = WebhookHeaderValues(headers, src->signature_header, values, WEBHOOK_MAX_HEADER_VALUES);
	for (int i = 0; i < nvalues && best != SIG_OK; i++)
	{
		int64_t		ts = -1;
		SigResult	r = SigVerify(&src->sig, values[i], strlen(values[i]),
								  (const unsigned char *) VARDATA_ANY(body), len,
								  secrets, nsecrets, now, &ts);

		if (r == SIG_ERROR)
			(void) SignatureProblem(src, r, ts, now);
		if (r < best)
		{
			best = r;
			signed_at = ts;
		}
	}
	out->signed_at = signed_at;
	if (best != SIG_OK)
	{
		Reject(out, SigResultName(best), 401, SignatureProblem(src, best, signed_at, now));
		return;
	}

	problem = WebhookExtractEvent(VARDATA_ANY(body), len, src, body_sha256,
								  &out->event_id, &out->event_type);
	if (problem != NULL)
	{
		Reject(out, "malformed_json", 400, problem);
		return;
	}
	out->status = "accepted";
	out->http_status = 200;
}

/* The result row: (status, event_id, detail, http_status). */
static Datum
ResultDatum(FunctionCallInfo fcinfo, const Outcome *out)
{
	TupleDesc	desc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	values[0] = CStringGetTextDatum(out->status);
	if (out->event_id != NULL)
		values[1] = CStringGetTextDatum(out->event_id);
	else
		nulls[1] = true;
	if (out->detail != NULL)
		values[2] = CStringGetTextDatum(out->detail);
	else
		nulls[2] = true;
	values[3] = Int32GetDatum(out->http_status);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* The arguments every entry point shares, checked. */
static void
CheckArguments(FunctionCallInfo fcinfo, char **source, Jsonb **headers, text **body)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("webhook source must not be null")));
	*source = text_to_cstring(PG_GETARG_TEXT_PP(0));
	*headers = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	if (*headers != NULL && !JB_ROOT_IS_OBJECT(*headers))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("webhook headers must be a JSON object"),
				 errhint("Pass the request headers as an object of names to values, such as {\"Stripe-Signature\": \"t=...,v1=...\"}.")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("webhook body must not be null"),
				 errhint("Pass the raw request body exactly as received.")));
	*body = PG_GETARG_TEXT_PP(2);
}

static void
LoadSourceOrError(const char *source, bool with_secrets, WebhookSource *src, MemoryContext cxt)
{
	if (!WebhookLoadSource(source, with_secrets, src, cxt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown webhook source \"%s\"", source),
				 errhint("Sources are the rows of attribution.webhook_sources, such as stripe, paddle or lemonsqueezy.")));
}

static SPIPlanPtr inbox_plan = NULL;
static SPIPlanPtr duplicate_plan = NULL;
static SPIPlanPtr rejection_plan = NULL;

static SPIPlanPtr
PreparePlan(SPIPlanPtr *cache, const char *sql, int nargs, Oid *types)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

		if (plan == NULL)
			elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		*cache = plan;
	}
	return *cache;
}

static void
RecordRejection(const char *source, const Outcome *out, const char *body_sha256, int body_len)
{
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID, INT4OID, TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	SPIPlanPtr	plan = PreparePlan(&rejection_plan,
							   "INSERT INTO attribution.webhook_rejections (source, reason, detail, "
							   "http_status, body_sha256, body_length, signature_timestamp) "
							   "VALUES ($1, $2, $3, $4, $5, $6, $7)", 7, types);

	values[0] = CStringGetTextDatum(source);
	values[1] = CStringGetTextDatum(out->reason);
	values[2] = CStringGetTextDatum(out->detail ? out->detail : "");
	values[3] = Int32GetDatum(out->http_status);
	values[4] = CStringGetTextDatum(body_sha256);
	values[5] = Int32GetDatum(body_len);
	if (out->signed_at >= 0)
		values[6] = TimestampTzGetDatum(time_t_to_timestamptz((pg_time_t) out->signed_at));
	else
		nulls[6] = 'n';
	if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record the webhook rejection");
}

/*
 * Store the body under (source, event id) unless it is there already; a
 * concurrent call with the same event waits for the first and then sees it.
 * The insert runs to completion (no row limit): a limited run would stop
 * before the table's statement triggers fire.
 */
static void
StoreInInbox(const char *source, text *body, const char *body_sha256, Outcome *out,
			 MemoryContext cxt)
{
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	SPIPlanPtr	plan = PreparePlan(&inbox_plan,
							   "INSERT INTO attribution.webhook_inbox (source, event_id, event_type, "
							   "body, body_sha256) VALUES ($1, $2, $3, $4, $5) "
							   "ON CONFLICT (source, event_id) DO NOTHING RETURNING id", 5, types);

	values[0] = CStringGetTextDatum(source);
	values[1] = CStringGetTextDatum(out->event_id);
	if (out->event_type != NULL)
		values[2] = CStringGetTextDatum(out->event_type);
	else
		nulls[2] = 'n';
	values[3] = PointerGetDatum(body);
	values[4] = CStringGetTextDatum(body_sha256);
	if (SPI_execute_plan(plan, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not store the webhook in the inbox");
	if (SPI_processed == 1)
		return;

	/* Already received: say whether it was the same body. */
	out->status = "duplicate";
	plan = PreparePlan(&duplicate_plan,
				   "SELECT body_sha256 FROM attribution.webhook_inbox "
				   "WHERE source = $1 AND event_id = $2", 2, types);
	if (SPI_execute_plan(plan, values, nulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the inbox");
	if (SPI_processed == 1)
	{
		char	   *seen = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (seen != NULL && strcmp(seen, body_sha256) != 0)
		{
			out->detail = MemoryContextStrdup(cxt,
											  "event id already received with a different body; the first body is kept");
			return;
		}
	}
	out->detail = MemoryContextStrdup(cxt, "event already received");
}

/*
 * ingest_webhook(source text, headers jsonb, body text)
 *		RETURNS attribution.ingest_result
 */
Datum
attr_ingest_webhook(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *source;
	Jsonb	   *headers;
	text	   *body;
	char		body_sha256[SHA256_HEX_LEN + 1];
	WebhookSource src;
	SigSecret	secrets[WEBHOOK_MAX_SECRETS];
	char	   *plains[WEBHOOK_MAX_SECRETS];
	int			plain_lens[WEBHOOK_MAX_SECRETS];
	volatile int ndecrypted = 0;
	int			nsecrets;
	Outcome		out;

	CheckArguments(fcinfo, &source, &headers, &body);
	Sha256Hex(VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body), body_sha256);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	LoadSourceOrError(source, true, &src, cxt);

	/* Secrets stay decrypted only for the verification, then are wiped. */
	nsecrets = src.enabled ? Min(src.nsecrets, WEBHOOK_MAX_SECRETS) : 0;
	PG_TRY();
	{
		char	   *aad = psprintf("webhook:%s", source);
		MemoryContext old;

		for (int i = 0; i < nsecrets; i++)
		{
			plains[i] = VaultDecrypt(src.secrets[i], aad, &plain_lens[i]);
			ndecrypted = i + 1;
			secrets[i].key = (const unsigned char *) plains[i];
			secrets[i].len = plain_lens[i];
		}
		/* The outcome outlives SPI_finish. */
		old = MemoryContextSwitchTo(cxt);
		Examine(&src, secrets, nsecrets, headers, body, body_sha256,
				(int64) timestamptz_to_time_t(GetCurrentTimestamp()), &out);
		MemoryContextSwitchTo(old);
	}
	PG_FINALLY();
	{
		for (int i = 0; i < ndecrypted; i++)
			explicit_bzero(plains[i], plain_lens[i]);
	}
	PG_END_TRY();

	if (strcmp(out.status, "rejected") == 0)
		RecordRejection(source, &out, body_sha256, VARSIZE_ANY_EXHDR(body));
	else
		StoreInInbox(source, body, body_sha256, &out, cxt);
	SPI_finish();

	PG_RETURN_DATUM(ResultDatum(fcinfo, &out));
}

/*
 * _verify_signature(source text, headers jsonb, body text, secrets text[],
 *					 now timestamptz) RETURNS attribution.ingest_result
 *
 * The verification of ingest_webhook with given secrets and a given "now",
 * storing nothing: for tests of the signature schemes and for checking a
 * secret by hand.  Not granted to any role.
 */
Datum
attr_verify_signature(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *source;
	Jsonb	   *headers;
	text	   *body;
	char		body_sha256[SHA256_HEX_LEN + 1];
	WebhookSource src;
	SigSecret	secrets[WEBHOOK_MAX_SECRETS];
	int			nsecrets = 0;
	int64		now;
	Outcome		out;

	CheckArguments(fcinfo, &source, &headers, &body);
	now = PG_ARGISNULL(4) ? (int64) timestamptz_to_time_t(GetCurrentTimestamp())
		: (int64) timestamptz_to_time_t(PG_GETARG_TIMESTAMPTZ(4));
	if (!PG_ARGISNULL(3))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(3);
		Datum	   *elems;
		bool	   *enulls;
		int			n;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &n);
		for (int i = 0; i < n && nsecrets < WEBHOOK_MAX_SECRETS; i++)
		{
			text	   *t;

			if (enulls[i])
				continue;
			t = DatumGetTextPP(elems[i]);
			secrets[nsecrets].key = (const unsigned char *) VARDATA_ANY(t);
			secrets[nsecrets].len = VARSIZE_ANY_EXHDR(t);
			nsecrets++;
		}
	}
	Sha256Hex(VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body), body_sha256);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	LoadSourceOrError(source, false, &src, cxt);
	SPI_finish();

	Examine(&src, secrets, nsecrets, headers, body, body_sha256, now, &out);
	if (out.status == NULL)
		out.status = "rejected";
	PG_RETURN_DATUM(ResultDatum(fcinfo, &out));
}
