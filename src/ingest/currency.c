/*
 * currency.c
 *		Minor units of ISO 4217 currencies: the exponent of a currency and
 *		an amount in minor units as a major-unit numeric.
 *
 * In C rather than SQL because the ledger values every conversion with
 * them: a STRICT SQL function over a CASE is never inlined, and the SQL
 * function executor re-plans its body on every call from a cached plan.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(attr_currency_exponent);
PG_FUNCTION_INFO_V1(attr_minor_to_major);

/*
 * Decimal places of the minor unit, as ISO 4217 and the payment providers
 * count them: zero-decimal currencies whole units, a few Gulf and North
 * African currencies thousandths, all others hundredths.  The code is
 * compared without regard to case.
 */
static int
CurrencyExponent(const char *code, int len)
{
	static const char *const zero[] = {
		"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "MGA", "PYG",
		"RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"
	};
	static const char *const three[] = {
		"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"
	};
	char		up[3];
	size_t		i;

	if (len != 3)
		return 2;
	for (i = 0; i < 3; i++)
		up[i] = pg_ascii_toupper((unsigned char) code[i]);
	for (i = 0; i < lengthof(zero); i++)
		if (memcmp(up, zero[i], 3) == 0)
			return 0;
	for (i = 0; i < lengthof(three); i++)
		if (memcmp(up, three[i], 3) == 0)
			return 3;
	return 2;
}

/* attribution.currency_exponent(currency text) */
Datum
attr_currency_exponent(PG_FUNCTION_ARGS)
{
	text	   *currency = PG_GETARG_TEXT_PP(0);

	PG_RETURN_INT32(CurrencyExponent(VARDATA_ANY(currency), VARSIZE_ANY_EXHDR(currency)));
}

/*
 * attribution.minor_to_major(amount_minor bigint, currency text): the
 * amount with the decimal point placed by the exponent, so the result has
 * exactly that scale (1900 USD -> 19.00, 5 USD -> 0.05, 1999 JPY -> 1999).
 */
Datum
attr_minor_to_major(PG_FUNCTION_ARGS)
{
	int64		amount = PG_GETARG_INT64(0);
	text	   *currency = PG_GETARG_TEXT_PP(1);
	int			exponent = CurrencyExponent(VARDATA_ANY(currency),
											VARSIZE_ANY_EXHDR(currency));
	uint64		magnitude;
	char		digits[32];
	char		out[40];
	int			n;
	int			len;
	char	   *p = out;

	if (exponent == 0)
		PG_RETURN_NUMERIC(int64_to_numeric(amount));
	magnitude = amount < 0 ? (uint64) 0 - (uint64) amount : (uint64) amount;
	n = snprintf(digits, sizeof(digits), UINT64_FORMAT, magnitude);
	if (amount < 0)
		*p++ = '-';
	if (n <= exponent)
	{
		/* 0.0ddd: leading zeros up to the exponent */
		*p++ = '0';
		*p++ = '.';
		for (len = n; len < exponent; len++)
			*p++ = '0';
		memcpy(p, digits, n);
		p += n;
	}
	else
	{
		memcpy(p, digits, n - exponent);
		p += n - exponent;
		*p++ = '.';
		memcpy(p, digits + n - exponent, exponent);
		p += exponent;
	}
	*p = '\0';
	PG_RETURN_DATUM(DirectFunctionCall3(numeric_in, CStringGetDatum(out),
										ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}
