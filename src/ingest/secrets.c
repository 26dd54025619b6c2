/*
 * secrets.c
 *		set_webhook_secret: store a webhook signing secret in the vault.
 *
 * Written in C rather than PL/pgSQL because the secret is a parameter: an
 * error inside a PL/pgSQL or SQL function prints a CONTEXT line that can
 * quote it, and the server logs the text of a failing statement, which
 * holds the secret when the caller passed it as a literal.  Every error
 * raised while this function runs is re-thrown without its statement and
 * context, so neither reaches the log or the client.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "auth/vault.h"
#include "ingest/webhook.h"

PG_FUNCTION_INFO_V1(attr_set_webhook_secret);

static SPIPlanPtr exists_plan = NULL;
static SPIPlanPtr active_plan = NULL;
static SPIPlanPtr insert_plan = NULL;

static SPIPlanPtr
PrepareKept(SPIPlanPtr *cache, const char *sql, int nargs, Oid *types)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

		if (plan == NULL)
			elog(ERROR, "could not prepare a webhook secret query: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		*cache = plan;
	}
	return *cache;
}

/*
 * Store the secret; returns the id of its row.  A secret already active for
 * the source is not stored twice: its id is returned.
 */
static int64
StoreSecret(text *source_text, text *secret_text)
{
	Oid			types[4] = {TEXTOID, BYTEAOID, TEXTOID, TEXTOID};
	Datum		args[3];
	char	   *source = text_to_cstring(source_text);
	const char *secret = VARDATA_ANY(secret_text);
	int			len = VARSIZE_ANY_EXHDR(secret_text);
	char	   *aad;
	bytea	   *blob;
	char	   *fingerprint;
	bool		isnull;
	int64		id = 0;

	if (len < WEBHOOK_MIN_SECRET_LEN || len > WEBHOOK_MAX_SECRET_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("webhook secret must be between %d and %d bytes long",
						WEBHOOK_MIN_SECRET_LEN, WEBHOOK_MAX_SECRET_LEN),
				 errhint("Copy the signing secret from the provider's webhook settings; where you choose it, use at least 16 random characters.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = PointerGetDatum(source_text);
	if (SPI_execute_plan(PrepareKept(&exists_plan,
									 "SELECT 1 FROM attribution.webhook_sources WHERE source = $1 FOR KEY SHARE",
									 1, types),
						 args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the webhook sources");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown webhook source \"%s\"", source),
				 errhint("Sources are the rows of attribution.webhook_sources, such as stripe, paddle or lemonsqueezy.")));

	aad = psprintf("webhook:%s", source);
	if (SPI_execute_plan(PrepareKept(&active_plan,
									 "SELECT id, ciphertext FROM attribution.webhook_secrets "
									 "WHERE source = $1 AND revoked_at IS NULL ORDER BY id",
									 1, types),
						 args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the webhook secrets");
	for (uint64 i = 0; i < SPI_processed && id == 0; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		int			plen;
		char	   *plain = VaultDecrypt(DatumGetByteaPP(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull)),
										 aad, &plen);

		if (SigSecretEquals((const unsigned char *) plain, plen,
							(const unsigned char *) secret, len))
			id = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		explicit_bzero(plain, plen);
		pfree(plain);
	}

	if (id == 0)
	{
		blob = VaultEncrypt(secret, len, aad);
		fingerprint = VaultFingerprint(secret, len);
		args[1] = PointerGetDatum(blob);
		args[2] = CStringGetTextDatum(fingerprint);
		if (SPI_execute_plan(PrepareKept(&insert_plan,
										 "INSERT INTO attribution.webhook_secrets (source, ciphertext, fingerprint) "
										 "VALUES ($1, $2, $3) RETURNING id",
										 3, types),
							 args, NULL, false, 0) != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
			elog(ERROR, "could not store the webhook secret");
		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	return id;
}

/*
 * set_webhook_secret(source text, secret text) RETURNS bigint
 *
 * Adds an active secret for the source (rotation: several may be active at
 * once; revoke the old one when the provider no longer signs with it).
 */
Datum
attr_set_webhook_secret(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	int64		id = 0;

	PG_TRY();
	{
		if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("webhook source and secret must not be null")));
		id = StoreSecret(PG_GETARG_TEXT_PP(0), PG_GETARG_TEXT_PP(1));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* Re-throw without the statement (it may quote the secret) or context. */
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		edata->hide_stmt = true;
		edata->hide_ctx = true;
		if (edata->context != NULL)
		{
			pfree(edata->context);
			edata->context = NULL;
		}
		ReThrowError(edata);
	}
	PG_END_TRY();

	PG_RETURN_INT64(id);
}
