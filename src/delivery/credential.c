/*
 * credential.c
 *		Storing platform tokens in attribution.credentials, encrypted by the
 *		vault (src/auth/vault.h).
 *
 * The token is checked, encrypted and written here, so no SQL function
 * ever returns its ciphertext.  It is bound, as additional authenticated
 * data, to the destination and the kind of credential
 * ("destination:<id>:<kind>"), so a ciphertext copied onto another row
 * does not decrypt.  No message raised here contains the token.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "auth/vault.h"

/* Tokens seen in practice are < 2 kB; this bound only stops abuse. */
#define MAX_TOKEN_LENGTH 16384

PG_FUNCTION_INFO_V1(attr_store_credential);

static SPIPlanPtr store_plan = NULL;

/*
 * A token goes into an HTTP header, so any control character (a CR or LF
 * would split the header) is refused.
 */
static void
CheckToken(const char *p, int len)
{
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token must not be empty")));
	if (len > MAX_TOKEN_LENGTH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token is %d bytes long, over the limit of %d bytes", len, MAX_TOKEN_LENGTH)));
	for (int i = 0; i < len; i++)
	{
		if ((unsigned char) p[i] < 0x20 || p[i] == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("token contains a control character at byte %d", i + 1),
					 errdetail("Tokens are sent in HTTP headers, where control characters are not allowed."),
					 errhint("Check that the token was copied without a trailing newline.")));
	}
}

/*
 * _store_credential(destination_id int, kind text, token text,
 *                   expires_at timestamptz) RETURNS bigint
 *
 * Insert or replace the destination's credential of that kind, valid from
 * now; returns its id.
 */
Datum
attr_store_credential(PG_FUNCTION_ARGS)
{
	int32		destination_id;
	text	   *kind;
	text	   *token;
	char	   *aad;
	bytea	   *blob;
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		isnull;
	int64		id;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("destination, kind and token must be given")));
	destination_id = PG_GETARG_INT32(0);
	kind = PG_GETARG_TEXT_PP(1);
	token = PG_GETARG_TEXT_PP(2);

	CheckToken(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token));
	aad = psprintf("destination:%d:%s", destination_id, text_to_cstring(kind));
	blob = VaultEncrypt(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token), aad);

	args[0] = Int32GetDatum(destination_id);
	args[1] = PointerGetDatum(kind);
	args[2] = PointerGetDatum(blob);
	if (PG_ARGISNULL(3))
	{
		args[3] = (Datum) 0;
		nulls[3] = 'n';
	}
	else
		args[3] = PG_GETARG_DATUM(3);

	SPI_connect();
	if (store_plan == NULL)
	{
		Oid			types[4] = {INT4OID, TEXTOID, BYTEAOID, TIMESTAMPTZOID};
		SPIPlanPtr	plan;

		plan = SPI_prepare("INSERT INTO attribution.credentials AS c"
						   " (destination_id, kind, ciphertext, status, expires_at, refreshed_at)"
						   " VALUES ($1, $2, $3, 'valid', $4, pg_catalog.now())"
						   " ON CONFLICT ON CONSTRAINT credentials_destination_id_kind_key DO UPDATE"
						   " SET ciphertext = EXCLUDED.ciphertext, status = 'valid',"
						   " expires_at = EXCLUDED.expires_at, refreshed_at = EXCLUDED.refreshed_at,"
						   " last_error = NULL, updated_at = pg_catalog.now()"
						   " RETURNING c.id",
						   4, types);
		if (plan == NULL)
			elog(ERROR, "could not prepare the credential insert: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		store_plan = plan;
	}
	if (SPI_execute_plan(store_plan, args, nulls, false, 1) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "credential insert returned no row");
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PG_RETURN_INT64(id);
}
