/*
 * identifiers.c
 *		Normalise and hash e-mail addresses and phone numbers the way each ad
 *		platform matches them (API-CONTRACTS.md B4, C, D, E).
 *
 *	e-mail, every platform: trim, lower-case.  Google additionally drops the
 *	dots of the local part of gmail.com / googlemail.com addresses.
 *	phone: digits only; Google and TikTok want E.164 with its '+', Meta the
 *	same digits without it.
 * Identifiers are stored and sent only as SHA-256 lowercase hex.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "capture/identifiers.h"
#include "core/digest.h"

PG_FUNCTION_INFO_V1(attr_normalize_email);
PG_FUNCTION_INFO_V1(attr_hash_email);
PG_FUNCTION_INFO_V1(attr_hash_phone);

static IdPlatform
PlatformByName(const char *name)
{
	if (strcmp(name, "generic") == 0 || strcmp(name, "meta") == 0 ||
		strcmp(name, "tiktok") == 0 || strcmp(name, "linkedin") == 0 ||
		strcmp(name, "webhook") == 0)
		return strcmp(name, "meta") == 0 ? ID_META : ID_GENERIC;
	if (strcmp(name, "google_ads") == 0 || strcmp(name, "google") == 0)
		return ID_GOOGLE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown platform \"%s\" for identifier hashing", name),
			 errhint("Use one of generic, google_ads, meta, tiktok, linkedin.")));
	return ID_GENERIC;			/* keep compiler quiet */
}

/*
 * The normalised form of an e-mail address, or NULL when it has no '@'
 * with text on both sides.
 */
char *
NormalizeEmail(const char *email, IdPlatform platform)
{
	const char *start = email;
	const char *end;
	char	   *out;
	char	   *at;

	while (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r')
		start++;
	end = start + strlen(start);
	while (end > start && (end[-1] == ' ' || end[-1] == '\t' ||
						   end[-1] == '\n' || end[-1] == '\r'))
		end--;
	out = pnstrdup(start, end - start);
	for (char *p = out; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	at = strrchr(out, '@');
	if (at == NULL || at == out || at[1] == '\0')
		return NULL;
	if (platform == ID_GOOGLE &&
		(strcmp(at + 1, "gmail.com") == 0 || strcmp(at + 1, "googlemail.com") == 0))
	{
		char	   *w = out;

		for (char *r = out; r < at; r++)
			if (*r != '.')
				*w++ = *r;
		memmove(w, at, strlen(at) + 1);
	}
	return out;
}

/*
 * The normalised form of a phone number: digits, with a leading '+' except
 * for Meta.  NULL when there are fewer than 7 digits.
 */
char *
NormalizePhone(const char *phone, IdPlatform platform)
{
	char	   *out = palloc(strlen(phone) + 2);
	char	   *w = out;
	int			digits = 0;

	if (platform != ID_META)
		*w++ = '+';
	for (const char *r = phone; *r; r++)
	{
		if (*r < '0' || *r > '9')
			continue;
		if (digits == 0 && *r == '0')
			continue;			/* international prefix 00 / trunk zeros */
		*w++ = *r;
		digits++;
	}
	*w = '\0';
	return digits >= 7 ? out : NULL;
}

char *
HashEmail(const char *email, IdPlatform platform)
{
	char	   *norm = NormalizeEmail(email, platform);
	char	   *hex;

	if (norm == NULL)
		return NULL;
	hex = palloc(SHA256_HEX_LEN + 1);
	Sha256Hex(norm, strlen(norm), hex);
	return hex;
}

/* normalize_email(email text, platform text) RETURNS text */
Datum
attr_normalize_email(PG_FUNCTION_ARGS)
{
	char	   *norm = NormalizeEmail(text_to_cstring(PG_GETARG_TEXT_PP(0)),
									  PlatformByName(text_to_cstring(PG_GETARG_TEXT_PP(1))));

	if (norm == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(norm));
}

/* hash_email(email text, platform text) RETURNS text */
Datum
attr_hash_email(PG_FUNCTION_ARGS)
{
	char	   *hex = HashEmail(text_to_cstring(PG_GETARG_TEXT_PP(0)),
								PlatformByName(text_to_cstring(PG_GETARG_TEXT_PP(1))));

	if (hex == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(hex));
}

/* hash_phone(phone text, platform text) RETURNS text */
Datum
attr_hash_phone(PG_FUNCTION_ARGS)
{
	char	   *norm = NormalizePhone(text_to_cstring(PG_GETARG_TEXT_PP(0)),
									  PlatformByName(text_to_cstring(PG_GETARG_TEXT_PP(1))));
	char		hex[SHA256_HEX_LEN + 1];

	if (norm == NULL)
		PG_RETURN_NULL();
	Sha256Hex(norm, strlen(norm), hex);
	PG_RETURN_TEXT_P(cstring_to_text(hex));
}
