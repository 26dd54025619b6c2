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
 * ISO 4217 codes in use (December 2026) with the decimal places of their
 * minor unit, sorted for a binary search.  A code not listed is refused: a
 * guessed exponent would value an amount 100 times too high or too low
 * without a word.
 */
typedef struct CurrencyInfo
{
	char		code[4];
	int8		exponent;
} CurrencyInfo;

static const CurrencyInfo currencies[] = {
	{"AED", 2}, {"AFN", 2}, {"ALL", 2}, {"AMD", 2}, {"ANG", 2}, {"AOA", 2}, {"ARS", 2},
	{"AUD", 2}, {"AWG", 2}, {"AZN", 2}, {"BAM", 2}, {"BBD", 2}, {"BDT", 2}, {"BGN", 2},
	{"BHD", 3}, {"BIF", 0}, {"BMD", 2}, {"BND", 2}, {"BOB", 2}, {"BOV", 2}, {"BRL", 2},
	{"BSD", 2}, {"BTN", 2}, {"BWP", 2}, {"BYN", 2}, {"BZD", 2}, {"CAD", 2}, {"CDF", 2},
	{"CHE", 2}, {"CHF", 2}, {"CHW", 2}, {"CLF", 4}, {"CLP", 0}, {"CNY", 2}, {"COP", 2},
	{"COU", 2}, {"CRC", 2}, {"CUC", 2}, {"CUP", 2}, {"CVE", 2}, {"CZK", 2}, {"DJF", 0},
	{"DKK", 2}, {"DOP", 2}, {"DZD", 2}, {"EGP", 2}, {"ERN", 2}, {"ETB", 2}, {"EUR", 2},
	{"FJD", 2}, {"FKP", 2}, {"GBP", 2}, {"GEL", 2}, {"GHS", 2}, {"GIP", 2}, {"GMD", 2},
	{"GNF", 0}, {"GTQ", 2}, {"GYD", 2}, {"HKD", 2}, {"HNL", 2}, {"HTG", 2}, {"HUF", 2},
	{"IDR", 2}, {"ILS", 2}, {"INR", 2}, {"IQD", 3}, {"IRR", 2}, {"ISK", 0}, {"JMD", 2},
	{"JOD", 3}, {"JPY", 0}, {"KES", 2}, {"KGS", 2}, {"KHR", 2}, {"KMF", 0}, {"KPW", 2},
	{"KRW", 0}, {"KWD", 3}, {"KYD", 2}, {"KZT", 2}, {"LAK", 2}, {"LBP", 2}, {"LKR", 2},
	{"LRD", 2}, {"LSL", 2}, {"LYD", 3}, {"MAD", 2}, {"MDL", 2}, {"MGA", 0}, {"MKD", 2},
	{"MMK", 2}, {"MNT", 2}, {"MOP", 2}, {"MRU", 2}, {"MUR", 2}, {"MVR", 2}, {"MWK", 2},
	{"MXN", 2}, {"MXV", 2}, {"MYR", 2}, {"MZN", 2}, {"NAD", 2}, {"NGN", 2}, {"NIO", 2},
	{"NOK", 2}, {"NPR", 2}, {"NZD", 2}, {"OMR", 3}, {"PAB", 2}, {"PEN", 2}, {"PGK", 2},
	{"PHP", 2}, {"PKR", 2}, {"PLN", 2}, {"PYG", 0}, {"QAR", 2}, {"RON", 2}, {"RSD", 2},
	{"RUB", 2}, {"RWF", 0}, {"SAR", 2}, {"SBD", 2}, {"SCR", 2}, {"SDG", 2}, {"SEK", 2},
	{"SGD", 2}, {"SHP", 2}, {"SLE", 2}, {"SLL", 2}, {"SOS", 2}, {"SRD", 2}, {"SSP", 2},
	{"STN", 2}, {"SVC", 2}, {"SYP", 2}, {"SZL", 2}, {"THB", 2}, {"TJS", 2}, {"TMT", 2},
	{"TND", 3}, {"TOP", 2}, {"TRY", 2}, {"TTD", 2}, {"TWD", 2}, {"TZS", 2}, {"UAH", 2},
	{"UGX", 0}, {"USD", 2}, {"USN", 2}, {"UYI", 0}, {"UYU", 2}, {"UYW", 4}, {"UZS", 2},
	{"VED", 2}, {"VES", 2}, {"VND", 0}, {"VUV", 0}, {"WST", 2}, {"XAF", 0}, {"XCD", 2},
	{"XCG", 2}, {"XOF", 0}, {"XPF", 0}, {"YER", 2}, {"ZAR", 2}, {"ZMW", 2}, {"ZWG", 2},
	{"ZWL", 2}
};

/*
 * Decimal places of the minor unit of a currency code, compared without
 * regard to case; -1 for a code that is not a known ISO 4217 currency.
 */
static int
CurrencyExponent(const char *code, int len)
{
	char		up[4];
	int			lo = 0;
	int			hi = lengthof(currencies) - 1;

	if (len != 3)
		return -1;
	for (int i = 0; i < 3; i++)
		up[i] = pg_ascii_toupper((unsigned char) code[i]);
	up[3] = '\0';
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(up, currencies[mid].code);

		if (c == 0)
			return currencies[mid].exponent;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

/* The exponent of a currency argument, or an error naming it. */
static int
CurrencyExponentOrError(text *currency)
{
	int			len = VARSIZE_ANY_EXHDR(currency);
	int			exponent = CurrencyExponent(VARDATA_ANY(currency), len);

	if (exponent < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown currency \"%s\"",
						text_to_cstring(DatumGetTextPP(DirectFunctionCall3(text_substr,
																		   PointerGetDatum(currency),
																		   Int32GetDatum(1),
																		   Int32GetDatum(16))))),
				 errhint("Use a three-letter ISO 4217 code such as USD, EUR or JPY.")));
	return exponent;
}

/* attribution.currency_exponent(currency text) */
Datum
attr_currency_exponent(PG_FUNCTION_ARGS)
{
	text	   *currency = PG_GETARG_TEXT_PP(0);

	PG_RETURN_INT32(CurrencyExponentOrError(currency));
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
	int			exponent = CurrencyExponentOrError(currency);
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
