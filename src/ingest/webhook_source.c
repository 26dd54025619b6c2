/*
 * webhook_source.c
 *		A webhook source's settings and secrets, and request header lookup.
 *
 * One prepared query reads a source's row of attribution.webhook_sources
 * together with the ciphertexts of its active secrets, so that a webhook
 * costs one catalog round trip before its verification.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "ingest/webhook.h"

static SPIPlanPtr source_plan = NULL;

static const char *const source_sql =
"SELECT s.scheme, s.signature_header, s.enabled, s.tolerance_seconds, "
"       s.options->>'algorithm', s.options->>'encoding', s.options->>'prefix', "
"       coalesce((s.options->>'allow_sha1_prefix')::boolean, false), "
"       s.event_id_paths, s.event_type_path, "
"       CASE WHEN $2 THEN ARRAY(SELECT k.ciphertext FROM attribution.webhook_secrets k "
"                               WHERE k.source = s.source AND k.revoked_at IS NULL "
"                               ORDER BY k.id DESC LIMIT " CppAsString2(WEBHOOK_MAX_SECRETS) ") END "
"  FROM attribution.webhook_sources s WHERE s.source = $1";

/* Text of column col of the current SPI row, palloc'd in the caller's context, or NULL. */
static char *
ColumnText(HeapTuple tup, TupleDesc desc, int col, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		return NULL;
	return MemoryContextStrdup(cxt, TextDatumGetCString(d));
}

/*
 * Fill src from the source's row; false when there is no such source.
 * Must run between SPI_connect and SPI_finish; what it returns lives in cxt
 * (the caller's context from before SPI_connect).
 */
bool
WebhookLoadSource(const char *name, bool with_secrets, WebhookSource *src, MemoryContext cxt)
{
	Datum		args[2];
	Oid			types[2] = {TEXTOID, BOOLOID};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	char	   *s;

	if (source_plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(source_sql, 2, types);

		if (plan == NULL)
			elog(ERROR, "could not prepare the webhook source query: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		source_plan = plan;
	}
	args[0] = CStringGetTextDatum(name);
	args[1] = BoolGetDatum(with_secrets);
	if (SPI_execute_plan(source_plan, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read webhook source \"%s\"", name);
	if (SPI_processed == 0)
		return false;

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	memset(src, 0, sizeof(*src));
	src->name = MemoryContextStrdup(cxt, name);
	src->scheme_name = ColumnText(tup, desc, 1, cxt);
	src->signature_header = ColumnText(tup, desc, 2, cxt);
	src->enabled = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));

	if (strcmp(src->scheme_name, "stripe") == 0)
		src->sig.scheme = SIG_SCHEME_STRIPE;
	else if (strcmp(src->scheme_name, "paddle") == 0)
		src->sig.scheme = SIG_SCHEME_PADDLE;
	else if (strcmp(src->scheme_name, "shared_secret") == 0)
		src->sig.scheme = SIG_SCHEME_SHARED_SECRET;
	else
		src->sig.scheme = SIG_SCHEME_HMAC;

	d = SPI_getbinval(tup, desc, 4, &isnull);
	src->sig.tolerance = isnull ? -1 : DatumGetInt32(d);
	s = ColumnText(tup, desc, 5, cxt);
	src->sig.algorithm = (s != NULL && strcmp(s, "sha1") == 0) ? SIG_ALG_SHA1 : SIG_ALG_SHA256;
	s = ColumnText(tup, desc, 6, cxt);
	src->sig.encoding = s == NULL || strcmp(s, "hex") == 0 ? SIG_ENC_HEX
		: strcmp(s, "base64") == 0 ? SIG_ENC_BASE64 : SIG_ENC_AUTO;
	src->sig.prefix = ColumnText(tup, desc, 7, cxt);
	src->sig.allow_sha1_prefix = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));

	d = SPI_getbinval(tup, desc, 9, &isnull);
	if (!isnull)
	{
		Datum	   *elems;
		bool	   *enulls;
		MemoryContext old = MemoryContextSwitchTo(cxt);

		deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &enulls, &src->nid_paths);
		src->id_paths = palloc0(sizeof(char *) * Max(src->nid_paths, 1));
		for (int i = 0; i < src->nid_paths; i++)
			src->id_paths[i] = enulls[i] ? pstrdup("") : TextDatumGetCString(elems[i]);
		MemoryContextSwitchTo(old);
	}
	src->type_path = ColumnText(tup, desc, 10, cxt);

	d = SPI_getbinval(tup, desc, 11, &isnull);
	if (!isnull)
	{
		Datum	   *elems;
		bool	   *enulls;
		MemoryContext old = MemoryContextSwitchTo(cxt);

		deconstruct_array(DatumGetArrayTypeP(d), BYTEAOID, -1, false, TYPALIGN_INT,
						  &elems, &enulls, &src->nsecrets);
		src->secrets = palloc0(sizeof(bytea *) * Max(src->nsecrets, 1));
		for (int i = 0; i < src->nsecrets; i++)
			src->secrets[i] = DatumGetByteaPCopy(elems[i]);
		MemoryContextSwitchTo(old);
	}
	return true;
}

/*
 * Collect the string values of header name from a JSON object of request
 * headers.  Names compare case-insensitively (HTTP field names do); a value
 * may be a string or an array of strings, and a name may occur in several
 * spellings.  Returns how many values were stored in values[].
 */
int
WebhookHeaderValues(Jsonb *headers, const char *name, char **values, int max)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = 0;
	int			depth = 0;
	bool		wanted = false;
	size_t		namelen = strlen(name);

	if (headers == NULL || !JB_ROOT_IS_OBJECT(headers))
		return 0;
	it = JsonbIteratorInit(&headers->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_OBJECT:
			case WJB_BEGIN_ARRAY:
				depth++;
				break;
			case WJB_END_OBJECT:
			case WJB_END_ARRAY:
				depth--;
				break;
			case WJB_KEY:
				if (depth == 1)
					wanted = v.val.string.len == (int) namelen &&
						pg_strncasecmp(v.val.string.val, name, namelen) == 0;
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (wanted && depth == (tok == WJB_VALUE ? 1 : 2) &&
					v.type == jbvString && n < max)
					values[n++] = pnstrdup(v.val.string.val, v.val.string.len);
				break;
			default:
				break;
		}
	}
	return n;
}
