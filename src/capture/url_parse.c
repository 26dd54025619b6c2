/*
 * url_parse.c
 *		Landing URL and referrer parsing on top of libcurl's URL API.
 *
 * libcurl splits and validates the URL (scheme, host, port, path, query,
 * fragment); this file only walks the query string it hands back, decodes
 * each name and value, and keeps the parameters attribution cares about.
 * Rules, documented in the README:
 *	- parameter names match case-insensitively;
 *	- '+' in the query is a space, then %XX is decoded;
 *	- when a parameter repeats, the first non-empty value wins;
 *	- the fragment is ignored;
 *	- a URL without a scheme is read as https;
 *	- a value that does not decode to valid text in the database encoding is
 *	  kept in its encoded form rather than dropped.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "catalog/pg_collation_d.h"
#include "mb/pg_wchar.h"
#include "utils/formatting.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "capture/landing.h"
#include "pg_attribution.h"

const char *const utm_param_names[NUM_UTM_FIELDS] = {
	"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id"
};

const char *const click_param_names[NUM_CLICK_FIELDS] = {
	"gclid", "gbraid", "wbraid", "dclid", "fbclid", "ttclid", "li_fat_id",
	"msclkid", "twclid"
};

/* Referral parameter names, split from the GUC and cached per backend. */
static char *referral_params_source = NULL;
static List *referral_params = NIL;

static List *
ReferralParamNames(void)
{
	if (referral_params_source == NULL ||
		strcmp(referral_params_source, attr_referral_params) != 0)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		char	   *copy = pstrdup(attr_referral_params);
		List	   *names = NIL;

		/* The check hook-free GUC may hold anything; bad lists mean none. */
		if (!SplitIdentifierString(copy, ',', &names))
			names = NIL;
		list_free(referral_params);
		if (referral_params_source)
			pfree(referral_params_source);
		referral_params = names;
		referral_params_source = pstrdup(attr_referral_params);
		MemoryContextSwitchTo(old);
	}
	return referral_params;
}

/*
 * Percent-decode a URL component; in a query, '+' is a space first.  A
 * result that is not valid text (embedded NUL, bad encoding) is returned
 * still encoded, so nothing the visitor brought is silently lost.
 */
static char *
DecodeUrlPart(const char *s, int len, bool plus_is_space)
{
	char	   *copy = pnstrdup(s, len);
	char	   *decoded;
	int			outlen = 0;
	char	   *result;

	if (plus_is_space)
		for (char *p = copy; *p; p++)
			if (*p == '+')
				*p = ' ';

	decoded = curl_easy_unescape(NULL, copy, len, &outlen);
	if (decoded == NULL)
		return copy;
	if ((int) strlen(decoded) != outlen ||
		!pg_verifymbstr(decoded, outlen, true))
		result = copy;
	else
	{
		result = pnstrdup(decoded, outlen);
		pfree(copy);
	}
	curl_free(decoded);
	return result;
}

#define DecodeQueryPart(s, len) DecodeUrlPart((s), (len), true)

/*
 * Trim ASCII whitespace and lower-case a UTM value; NULL if nothing is left.
 */
char *
NormalizeUtmValue(const char *raw)
{
	const char *start = raw;
	const char *end;

	if (raw == NULL)
		return NULL;
	while (*start == ' ' || *start == '\t' || *start == '\n' || *start == '\r')
		start++;
	end = start + strlen(start);
	while (end > start && (end[-1] == ' ' || end[-1] == '\t' ||
						   end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (end == start)
		return NULL;
	return str_tolower(start, end - start, DEFAULT_COLLATION_OID);
}

/* Store value into *slot unless an earlier non-empty value is there. */
static inline void
KeepFirst(char **slot, char *value)
{
	if (*slot == NULL && value != NULL && value[0] != '\0')
		*slot = value;
}

/*
 * Walk the raw query string and pick out the parameters we know.
 */
static void
ScanQuery(const char *query, LandingUrl *out)
{
	List	   *refnames = ReferralParamNames();
	const char *p = query;

	while (*p)
	{
		const char *amp = strchr(p, '&');
		int			len = amp ? amp - p : (int) strlen(p);
		const char *eq = memchr(p, '=', len);
		int			keylen = eq ? eq - p : len;
		char	   *key;
		char	   *value = NULL;
		bool		matched = false;

		if (keylen > 0 && keylen < 64)
		{
			key = DecodeQueryPart(p, keylen);
			if (key != NULL)
			{
				for (int i = 0; i < NUM_UTM_FIELDS && !matched; i++)
				{
					if (pg_strcasecmp(key, utm_param_names[i]) == 0)
					{
						matched = true;
						if (eq)
							value = DecodeQueryPart(eq + 1, len - keylen - 1);
						if (value && NormalizeUtmValue(value) != NULL)
							KeepFirst(&out->utm_raw[i], value);
					}
				}
				for (int i = 0; i < NUM_CLICK_FIELDS && !matched; i++)
				{
					if (pg_strcasecmp(key, click_param_names[i]) == 0)
					{
						matched = true;
						if (eq)
							KeepFirst(&out->click[i],
									  DecodeQueryPart(eq + 1, len - keylen - 1));
					}
				}
				if (!matched)
				{
					ListCell   *lc;

					foreach(lc, refnames)
					{
						if (pg_strcasecmp(key, (char *) lfirst(lc)) == 0)
						{
							if (eq)
								KeepFirst(&out->referral_code,
										  DecodeQueryPart(eq + 1, len - keylen - 1));
							break;
						}
					}
				}
				pfree(key);
			}
		}
		p += len;
		if (*p == '&')
			p++;
	}
}

/* Lower-case the ASCII letters of a host name in place. */
static void
LowerHost(char *host)
{
	for (char *p = host; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
}

/* Copy a libcurl string into palloc'd memory and release it. */
static char *
TakeCurlString(char *s)
{
	char	   *copy;

	if (s == NULL)
		return NULL;
	copy = pstrdup(s);
	curl_free(s);
	return copy;
}

/*
 * Does the URL open with a scheme other than http(s), written without "//"
 * ("mailto:a@b.c", "javascript:...")?  libcurl, told to default to https,
 * would read such a scheme as a user name; "host:8080/path" is a port.
 */
static bool
HasForeignOpaqueScheme(const char *url, char **scheme)
{
	const char *p = url;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		   (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.')
		p++;
	if (*p != ':' || (p[1] >= '0' && p[1] <= '9') || strncmp(p + 1, "//", 2) == 0)
		return false;
	*scheme = pnstrdup(url, p - url);
	for (char *c = *scheme; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c += 'a' - 'A';
	return strcmp(*scheme, "http") != 0 && strcmp(*scheme, "https") != 0;
}

/*
 * Parse a landing URL.  On URL_INVALID, *reason says why in libcurl's words.
 */
UrlParseStatus
ParseLandingUrl(const char *url, LandingUrl *out, const char **reason)
{
	CURLU	   *h;
	CURLUcode	rc;
	char	   *part = NULL;
	UrlParseStatus status = URL_OK;

	memset(out, 0, sizeof(LandingUrl));
	if (HasForeignOpaqueScheme(url, &out->scheme))
		return URL_BAD_SCHEME;
	out->scheme = NULL;
	h = curl_url();
	if (h == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));

	rc = curl_url_set(h, CURLUPART_URL, url,
					  CURLU_DEFAULT_SCHEME | CURLU_NON_SUPPORT_SCHEME);
	if (rc != CURLUE_OK)
	{
		*reason = curl_url_strerror(rc);
		curl_url_cleanup(h);
		return URL_INVALID;
	}

	if (curl_url_get(h, CURLUPART_SCHEME, &part, 0) == CURLUE_OK)
	{
		out->scheme = TakeCurlString(part);
		if (strcmp(out->scheme, "http") != 0 && strcmp(out->scheme, "https") != 0)
			status = URL_BAD_SCHEME;
	}
	part = NULL;
	if (status == URL_OK &&
		curl_url_get(h, CURLUPART_HOST, &part, CURLU_URLDECODE) == CURLUE_OK)
	{
		out->host = TakeCurlString(part);
		if (!pg_verifymbstr(out->host, strlen(out->host), true))
			status = URL_INVALID;
		else
			LowerHost(out->host);
	}
	else if (status == URL_OK)
		status = URL_INVALID;
	if (status == URL_INVALID)
		*reason = "the host name is not valid text";

	if (status == URL_OK)
	{
		part = NULL;
		if (curl_url_get(h, CURLUPART_PORT, &part, 0) == CURLUE_OK)
		{
			out->port = atoi(part);
			curl_free(part);
		}
		part = NULL;
		if (curl_url_get(h, CURLUPART_PATH, &part, 0) == CURLUE_OK)
		{
			char	   *raw = TakeCurlString(part);

			out->path = DecodeUrlPart(raw, strlen(raw), false);
			if (out->path == NULL)
				out->path = pstrdup("/");
		}
		part = NULL;
		if (curl_url_get(h, CURLUPART_QUERY, &part, 0) == CURLUE_OK)
		{
			ScanQuery(part, out);
			curl_free(part);
		}
		for (int i = 0; i < NUM_UTM_FIELDS; i++)
			out->utm[i] = NormalizeUtmValue(out->utm_raw[i]);
	}

	curl_url_cleanup(h);
	return status;
}

/*
 * The lower-cased host of a referrer, or NULL when it has none we can read.
 * Referrers are taken as they come (app referrers such as android-app://
 * included) and never make a landing fail.
 */
char *
ParseReferrerHost(const char *referrer)
{
	CURLU	   *h;
	char	   *part = NULL;
	char	   *host = NULL;

	if (referrer == NULL || referrer[0] == '\0')
		return NULL;
	h = curl_url();
	if (h == NULL)
		return NULL;
	if (curl_url_set(h, CURLUPART_URL, referrer,
					 CURLU_DEFAULT_SCHEME | CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
		curl_url_get(h, CURLUPART_HOST, &part, CURLU_URLDECODE) == CURLUE_OK)
	{
		host = TakeCurlString(part);
		if (!pg_verifymbstr(host, strlen(host), true) || host[0] == '\0')
			host = NULL;
		else
			LowerHost(host);
	}
	curl_url_cleanup(h);
	return host;
}

/*
 * Does host equal domain or lie under it (www.google.com under google.com)?
 */
bool
HostMatchesDomain(const char *host, const char *domain)
{
	size_t		hl = strlen(host);
	size_t		dl = strlen(domain);

	if (hl == dl)
		return strcmp(host, domain) == 0;
	return hl > dl && host[hl - dl - 1] == '.' && strcmp(host + hl - dl, domain) == 0;
}
