/*
 * cookies.c
 *		Recover ad click identifiers from a raw Cookie header.
 *
 * Browsers keep the click IDs that ad tags stored on an earlier visit, so a
 * landing whose URL no longer carries them can still be tied to the click.
 * Formats (API-CONTRACTS.md, section G):
 *	_gcl_aw		GCL.<unix seconds>.<gclid>
 *	_gcl_gb		GCL.<unix seconds>.<gbraid>
 *	_fbc		fb.<subdomain index>.<unix ms>.<fbclid>
 *	_fbp		fb.<subdomain index>.<unix ms>.<random>
 *	_ttp		opaque
 *	li_fat_id	opaque
 *	_uetmsclkid	_uet<msclkid>
 * A cookie that does not have its format is ignored, never an error.
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "capture/landing.h"

/* Parse an unsigned decimal of at most maxdigits; -1 when it is not one. */
static int64
ParseDigits(const char *s, size_t len, size_t maxdigits)
{
	int64		v = 0;

	if (len == 0 || len > maxdigits)
		return -1;
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* A cookie value character that may appear in a click ID. */
static bool
ClickIdChars(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
			  (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/*
 * "GCL.<seconds>.<id>": the id, with its time in *at.
 */
static char *
ParseGclCookie(const char *v, TimestampTz *at)
{
	const char *ts;
	const char *dot;
	int64		secs;

	if (strncmp(v, "GCL.", 4) != 0)
		return NULL;
	ts = v + 4;
	dot = strchr(ts, '.');
	if (dot == NULL)
		return NULL;
	secs = ParseDigits(ts, dot - ts, 12);
	if (secs < 0 || !ClickIdChars(dot + 1))
		return NULL;
	*at = time_t_to_timestamptz((pg_time_t) secs);
	return pstrdup(dot + 1);
}

/*
 * "fb.<idx>.<ms>.<rest>": validates the shape and returns the time in *at.
 */
static bool
ParseFbCookie(const char *v, TimestampTz *at, const char **rest)
{
	const char *idx;
	const char *ms;
	const char *end;
	int64		millis;

	if (strncmp(v, "fb.", 3) != 0)
		return false;
	idx = v + 3;
	ms = strchr(idx, '.');
	if (ms == NULL || ParseDigits(idx, ms - idx, 2) < 0)
		return false;
	ms++;
	end = strchr(ms, '.');
	if (end == NULL)
		return false;
	millis = ParseDigits(ms, end - ms, 15);
	if (millis < 0 || !ClickIdChars(end + 1))
		return false;
	*at = time_t_to_timestamptz((pg_time_t) (millis / 1000)) +
		(millis % 1000) * INT64CONST(1000);
	*rest = end + 1;
	return true;
}

/*
 * The fbclid inside an fbc value, or NULL when it has not the fbc shape.
 */
char *
FbclidOfFbc(const char *fbc)
{
	TimestampTz at;
	const char *rest;

	if (fbc && ParseFbCookie(fbc, &at, &rest))
		return pstrdup(rest);
	return NULL;
}

/*
 * Strip surrounding whitespace and an optional pair of double quotes.
 */
static char *
CookieValue(const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= 2 && s[0] == '"' && s[len - 1] == '"')
		s++, len -= 2;
	return pnstrdup(s, len);
}

/*
 * Parse "name=value; name=value" and keep the click cookies.  The first
 * occurrence of a name wins, as browsers send the most specific path first.
 */
void
ParseCookieClicks(const char *header, CookieClicks *out)
{
	const char *p = header;

	memset(out, 0, sizeof(CookieClicks));
	if (header == NULL)
		return;

	while (*p)
	{
		const char *semi = strchr(p, ';');
		size_t		len = semi ? (size_t) (semi - p) : strlen(p);
		const char *eq = memchr(p, '=', len);

		if (eq != NULL)
		{
			char	   *name = CookieValue(p, eq - p);
			char	   *value = CookieValue(eq + 1, len - (eq - p) - 1);
			TimestampTz at;
			const char *rest;

			if (strcmp(name, "_gcl_aw") == 0 && out->gclid == NULL)
				out->gclid = ParseGclCookie(value, &out->gclid_at);
			else if (strcmp(name, "_gcl_gb") == 0 && out->gbraid == NULL)
				out->gbraid = ParseGclCookie(value, &out->gbraid_at);
			else if (strcmp(name, "_fbc") == 0 && out->fbc == NULL)
			{
				if (ParseFbCookie(value, &at, &rest))
				{
					out->fbc = value;
					out->fbc_at = at;
				}
			}
			else if (strcmp(name, "_fbp") == 0 && out->fbp == NULL)
			{
				if (ParseFbCookie(value, &at, &rest))
					out->fbp = value;
			}
			else if (strcmp(name, "_ttp") == 0 && out->ttp == NULL)
			{
				if (ClickIdChars(value))
					out->ttp = value;
			}
			else if (strcmp(name, "li_fat_id") == 0 && out->li_fat_id == NULL)
			{
				if (ClickIdChars(value))
					out->li_fat_id = value;
			}
			else if (strcmp(name, "_uetmsclkid") == 0 && out->msclkid == NULL)
			{
				if (strncmp(value, "_uet", 4) == 0 && ClickIdChars(value + 4))
					out->msclkid = pstrdup(value + 4);
			}
		}
		p += len;
		if (*p == ';')
			p++;
	}
}
