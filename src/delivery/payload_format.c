/*
 * payload_format.c
 *		Number and time formats the platform contracts ask for.
 *
 * Values go out in major units written the way the contracts' examples
 * write them: the shortest decimal with at least one fractional digit
 * (29 -> 29.0, 14.50 -> 14.5, 29.99 -> 29.99).  One rule for every platform
 * keeps the JSON of a payload a function of its inputs, and it is also the
 * text LinkedIn takes in its string-typed amount.
 */
#include "postgres.h"

#include <time.h>

#include "delivery/payload_format.h"

/*
 * Rewrite the text of a numeric (as numeric_out prints it: optional '-',
 * digits, optional '.' and digits, never an exponent) in the payload form.
 */
char *
FormatDecimal(const char *numeric_text)
{
	const char *dot = strchr(numeric_text, '.');
	size_t		len = strlen(numeric_text);
	char	   *out;

	if (dot == NULL)
	{
		out = palloc(len + 3);
		memcpy(out, numeric_text, len);
		memcpy(out + len, ".0", 3);
		return out;
	}
	out = pstrdup(numeric_text);
	len = strlen(out);
	/* drop trailing zeros, keeping one digit after the point */
	while (len > (size_t) (dot - numeric_text) + 2 && out[len - 1] == '0')
		out[--len] = '\0';
	return out;
}

/* floor division, so that times before 1970 still format correctly */
static int64
FloorDiv(int64 a, int64 b)
{
	int64		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int64
UnixSeconds(int64 unix_us)
{
	return FloorDiv(unix_us, 1000000);
}

int64
UnixMillis(int64 unix_us)
{
	return FloorDiv(unix_us, 1000);
}

static void
UtcParts(int64 unix_us, struct tm *tm)
{
	time_t		secs = (time_t) UnixSeconds(unix_us);

	if (gmtime_r(&secs, tm) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("event time is out of range for a platform payload")));
}

/*
 * Google Ads: "yyyy-mm-dd hh:mm:ss+00:00".  Always UTC with an explicit
 * offset, since Google reads a time without one as the account's zone.
 */
void
FormatGoogleDateTime(int64 unix_us, char out[32])
{
	struct tm	tm;

	UtcParts(unix_us, &tm);
	snprintf(out, 32, "%04d-%02d-%02d %02d:%02d:%02d+00:00",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* RFC 3339 in UTC with a Z, second precision: webhook payloads */
void
FormatIsoUtc(int64 unix_us, char out[32])
{
	struct tm	tm;

	UtcParts(unix_us, &tm);
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
}
