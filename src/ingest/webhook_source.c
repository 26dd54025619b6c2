/*
 * webhook_source.c
 *		A webhook source's settings and secrets, and request header lookup.
 *
 * One prepared query reads a source's row of attribution.webhook_sources
 * together with the ciphertexts of its active secrets.  Backends keep what
 * it returned (ciphertexts only: secrets are decrypted per call and wiped),
 * and a statement trigger on both tables sends a relcache invalidation that
 * makes every backend read them again, so that a webhook normally costs no
 * query before its verification.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "ingest/webhook.h"
#include "pg_attribution.h"

/* Sources kept per backend; more are read on every call. */
#define MAX_CACHED_SOURCES 32

static SPIPlanPtr source_plan = NULL;

static struct
{
	bool		valid;
	MemoryContext cxt;
	Oid			relids[2];		/* webhook_sources, webhook_secrets */
	int			n;
	WebhookSource sources[MAX_CACHED_SOURCES];
}			cache;

PG_FUNCTION_INFO_V1(attr_webhook_config_changed);

static const char *const source_sql =
"SELECT s.scheme, s.signature_header, s.enabled, s.tolerance_seconds, "
"       s.options->>'algorithm', s.options->>'encoding', s.options->>'prefix', "
"       coalesce((s.options->>'allow_sha1_prefix')::boolean, false), "
"       s.event_id_paths, s.event_type_path, "
"       ARRAY(SELECT k.ciphertext FROM attribution.webhook_secrets k "
"              WHERE k.source = s.source AND k.revoked_at IS NULL "
"              ORDER BY k.id DESC LIMIT " CppAsString2(WEBHOOK_MAX_SECRETS) ") "
"  FROM attribution.webhook_sources s WHERE s.source = $1";

/*
 * _webhook_config_changed(): statement trigger on webhook_sources and
 * webhook_secrets; the invalidation makes every backend (this one at its
 * next command, others when this transaction commits) drop its cache.
 */
Datum
attr_webhook_config_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("_webhook_config_changed() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

static void
WebhookRelcacheCallback(Datum arg, Oid relid)
{
	(void) arg;
	if (cache.valid &&
		(!OidIsValid(relid) || relid == cache.relids[0] || relid == cache.relids[1]))
		cache.valid = false;
}

void
WebhookSourceCacheInit(void)
{
	CacheRegisterRelcacheCallback(WebhookRelcacheCallback, (Datum) 0);
}

static void
ResetCache(void)
{
	Oid			nsp = get_namespace_oid(ATTR_SCHEMA, false);

	if (cache.cxt == NULL)
		cache.cxt = AllocSetContextCreate(CacheMemoryContext, "pg_attribution webhook sources",
										  ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(cache.cxt);
	cache.n = 0;
	cache.relids[0] = get_relname_relid("webhook_sources", nsp);
	cache.relids[1] = get_relname_relid("webhook_secrets", nsp);
	cache.valid = true;
}

static char *
CopyString(const char *s, MemoryContext cxt)
{
	return s != NULL ? MemoryContextStrdup(cxt, s) : NULL;
}

/* A deep copy of a source in cxt, so that no cache reset can pull it away. */
static void
CopySource(WebhookSource *dst, const WebhookSource *src, MemoryContext cxt)
{
	*dst = *src;
	dst->name = CopyString(src->name, cxt);
	dst->scheme_name = CopyString(src->scheme_name, cxt);
	dst->signature_header = CopyString(src->signature_header, cxt);
	dst->sig.prefix = CopyString(src->sig.prefix, cxt);
	dst->type_path = CopyString(src->type_path, cxt);
	dst->id_paths = MemoryContextAllocZero(cxt, sizeof(char *) * Max(src->nid_paths, 1));
	for (int i = 0; i < src->nid_paths; i++)
		dst->id_paths[i] = CopyString(src->id_paths[i], cxt);
	dst->secrets = MemoryContextAllocZero(cxt, sizeof(bytea *) * Max(src->nsecrets, 1));
	for (int i = 0; i < src->nsecrets; i++)
	{
		Size		sz = VARSIZE_ANY(src->secrets[i]);

		dst->secrets[i] = MemoryContextAlloc(cxt, sz);
		memcpy(dst->secrets[i], src->secrets[i], sz);
	}
}

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

/* Read the source's row into src, allocated in cxt; false when there is none. */
static bool
ReadSource(const char *name, WebhookSource *src, MemoryContext cxt)
{
	Datum		args[1];
	Oid			types[1] = {TEXTOID};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	char	   *s;

	if (source_plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(source_sql, 1, types);

		if (plan == NULL)
			elog(ERROR, "could not prepare the webhook source query: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		source_plan = plan;
	}
	args[0] = CStringGetTextDatum(name);
	if (SPI_execute_plan(source_plan, args, NULL, true, 0) != SPI_OK_SELECT)
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
 * Fill src with the source's settings (and, with_secrets, the ciphertexts
 * of its active secrets), allocated in cxt; false when there is no such
 * source.  Must run between SPI_connect and SPI_finish.
 */
bool
WebhookLoadSource(const char *name, bool with_secrets, WebhookSource *src, MemoryContext cxt)
{
	WebhookSource *found = NULL;
	WebhookSource fresh;

	if (!cache.valid)
		ResetCache();
	for (int i = 0; i < cache.n && found == NULL; i++)
		if (strcmp(cache.sources[i].name, name) == 0)
			found = &cache.sources[i];
	if (found == NULL)
	{
		/* Unknown names are not kept: callers must not fill the cache. */
		if (!ReadSource(name, &fresh, cxt))
			return false;
		found = &fresh;
		if (cache.valid && cache.n < MAX_CACHED_SOURCES)
		{
			CopySource(&cache.sources[cache.n], &fresh, cache.cxt);
			cache.n++;
		}
	}
	CopySource(src, found, cxt);
	if (!with_secrets)
		src->nsecrets = 0;
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
