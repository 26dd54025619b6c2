/*
 * credential.c
 *		Encryption of platform tokens for attribution.credentials, through
 *		the vault (src/auth/vault.h).
 *
 * The token is checked and encrypted here and only the ciphertext goes back
 * to SQL.  It is bound, as additional authenticated data, to the
 * destination and the kind of credential ("destination:<id>:<kind>"), so a
 * ciphertext copied onto another destination's row does not decrypt.  No
 * message raised here contains the token.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "auth/vault.h"

/* Tokens seen in practice are < 2 kB; this bound only stops abuse. */
#define MAX_TOKEN_LENGTH 16384

PG_FUNCTION_INFO_V1(attr_encrypt_credential);

/*
 * _encrypt_credential(token text, destination_id int, kind text) RETURNS bytea
 *
 * A token goes into an HTTP header, so any control character (a CR or LF
 * would split the header) is refused.
 */
Datum
attr_encrypt_credential(PG_FUNCTION_ARGS)
{
	text	   *token = PG_GETARG_TEXT_PP(0);
	int32		destination_id = PG_GETARG_INT32(1);
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(2));
	const char *p = VARDATA_ANY(token);
	int			len = VARSIZE_ANY_EXHDR(token);
	char	   *aad;
	bytea	   *blob;

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

	aad = psprintf("destination:%d:%s", destination_id, kind);
	blob = VaultEncrypt(p, len, aad);
	PG_RETURN_BYTEA_P(blob);
}
