/*
 * channel.c
 *		Channel classification: an ordered rule table evaluated in C.
 *
 * The rules, host lists, click-ID defaults and self-referral domains are
 * rows in attribution tables, so operators change them with plain SQL.
 * Every landing is classified, so the tables are read once per backend into
 * a cache (regular expressions compiled once) and re-read only after a
 * statement trigger on those tables sends a relcache invalidation.
 *
 * How a landing becomes (source, medium, campaign):
 *	1. utm_* values when present;
 *	2. else the first ad click ID of the URL listed in channel_click_ids
 *	   gives a default source and medium (gclid -> google / cpc);
 *	3. else the referrer: its host is the source, the medium is "organic"
 *	   for search engines and "referral" otherwise;
 *	4. else "(direct)" / "(none)".
 * A referrer on the self-referral list, or on the landing's own host, counts
 * as no referrer.  Rules are then tried by ascending priority; the first
 * rule whose every non-NULL condition holds names the channel.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation_d.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "regex/regex.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "capture/landing.h"
#include "pg_attribution.h"

#define MAX_CATEGORIES 32

typedef struct ChannelRule
{
	char	   *channel;
	int			category;		/* index into categories, -1 for any */
	regex_t    *source_re;
	regex_t    *medium_re;
	regex_t    *campaign_re;
	regex_t    *content_re;
	int			referral;		/* -1 any, 0 must be absent, 1 required */
} ChannelRule;

typedef struct HostEntry
{
	char	   *host;
	int			category;
	bool		dotted;			/* a domain (suffix match), else a label */
} HostEntry;

typedef struct ClickDefault
{
	int			field;			/* ClickField */
	char	   *source;
	char	   *medium;
} ClickDefault;

typedef struct ChannelCache
{
	MemoryContext cxt;
	int			nrules;
	ChannelRule *rules;
	int			nhosts;
	HostEntry  *hosts;
	int			nclicks;
	ClickDefault *clicks;
	int			nself;
	char	  **self_domains;
	int			ncategories;
	char	   *categories[MAX_CATEGORIES];
	Oid			relids[4];
} ChannelCache;

static ChannelCache cache;
static bool cache_valid = false;

static const char *const cache_tables[4] = {
	"channel_rules", "channel_hosts", "channel_click_ids", "self_referral_domains"
};

PG_FUNCTION_INFO_V1(attr_channel_config_changed);

/*
 * Statement trigger on the classification tables: tell every backend
 * (this one at the next command, others at commit) to reload its cache.
 */
Datum
attr_channel_config_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("_channel_config_changed() must be called as a trigger")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

static void
ChannelRelcacheCallback(Datum arg pg_attribute_unused(), Oid relid)
{
	if (!cache_valid)
		return;
	if (!OidIsValid(relid))
		cache_valid = false;
	else
		for (int i = 0; i < 4; i++)
			if (cache.relids[i] == relid)
				cache_valid = false;
}

void
ChannelCacheInit(void)
{
	CacheRegisterRelcacheCallback(ChannelRelcacheCallback, (Datum) 0);
}

static void
FreeRegex(regex_t *re)
{
	if (re)
		pg_regfree(re);
}

static void
ResetCache(void)
{
	for (int i = 0; i < cache.nrules; i++)
	{
		FreeRegex(cache.rules[i].source_re);
		FreeRegex(cache.rules[i].medium_re);
		FreeRegex(cache.rules[i].campaign_re);
		FreeRegex(cache.rules[i].content_re);
	}
	if (cache.cxt)
		MemoryContextDelete(cache.cxt);
	memset(&cache, 0, sizeof(cache));
}

/* Compile a rule pattern, case-insensitively; NULL pattern means "any". */
static regex_t *
CompileRule(const char *pattern, int rule_id)
{
	regex_t    *re;
	pg_wchar   *wide;
	int			wlen;
	int			rc;

	if (pattern == NULL)
		return NULL;
	re = MemoryContextAlloc(cache.cxt, sizeof(regex_t));
	wide = palloc((strlen(pattern) + 1) * sizeof(pg_wchar));
	wlen = pg_mb2wchar_with_len(pattern, wide, strlen(pattern));
	rc = pg_regcomp(re, wide, wlen, REG_ADVANCED | REG_ICASE | REG_NOSUB,
					DEFAULT_COLLATION_OID);
	pfree(wide);
	if (rc != REG_OKAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
				 errmsg("invalid regular expression in attribution.channel_rules rule %d",
						rule_id)));
	return re;
}

static int
CategoryIndex(const char *name)
{
	for (int i = 0; i < cache.ncategories; i++)
		if (strcmp(cache.categories[i], name) == 0)
			return i;
	if (cache.ncategories == MAX_CATEGORIES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many source categories in attribution.channel_hosts"),
				 errdetail("At most %d distinct categories are supported.", MAX_CATEGORIES)));
	cache.categories[cache.ncategories] = MemoryContextStrdup(cache.cxt, name);
	return cache.ncategories++;
}

static char *
GetText(HeapTuple tup, TupleDesc desc, int col)
{
	char	   *v = SPI_getvalue(tup, desc, col);

	return v ? MemoryContextStrdup(cache.cxt, v) : NULL;
}

/*
 * Read the four tables into the cache.
 */
static void
LoadCache(void)
{
	Oid			nsp;
	uint64		n;

	ResetCache();
	cache.cxt = AllocSetContextCreate(CacheMemoryContext, "pg_attribution channel rules",
									  ALLOCSET_SMALL_SIZES);
	nsp = get_namespace_oid(ATTR_SCHEMA, false);
	for (int i = 0; i < 4; i++)
		cache.relids[i] = get_relname_relid(cache_tables[i], nsp);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* Host lists first, so rules can refer to their categories. */
	if (SPI_execute("SELECT host, category FROM attribution.channel_hosts "
					"ORDER BY host, category", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read attribution.channel_hosts");
	n = SPI_processed;
	cache.hosts = MemoryContextAllocZero(cache.cxt, sizeof(HostEntry) * (n + 1));
	for (uint64 i = 0; i < n; i++)
	{
		HostEntry  *h = &cache.hosts[cache.nhosts++];
		char	   *cat = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);

		h->host = GetText(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		h->dotted = strchr(h->host, '.') != NULL;
		h->category = CategoryIndex(cat);
	}

	if (SPI_execute("SELECT rule_id, channel, source_category, source_regex, medium_regex, "
					"campaign_regex, content_regex, referral_code "
					"FROM attribution.channel_rules WHERE enabled "
					"ORDER BY priority, rule_id", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read attribution.channel_rules");
	n = SPI_processed;
	cache.rules = MemoryContextAllocZero(cache.cxt, sizeof(ChannelRule) * (n + 1));
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		ChannelRule *r = &cache.rules[cache.nrules++];
		int			rule_id = atoi(SPI_getvalue(tup, desc, 1));
		char	   *cat = SPI_getvalue(tup, desc, 3);
		char	   *ref = SPI_getvalue(tup, desc, 8);

		r->channel = GetText(tup, desc, 2);
		r->category = cat ? CategoryIndex(cat) : -1;
		r->source_re = CompileRule(SPI_getvalue(tup, desc, 4), rule_id);
		r->medium_re = CompileRule(SPI_getvalue(tup, desc, 5), rule_id);
		r->campaign_re = CompileRule(SPI_getvalue(tup, desc, 6), rule_id);
		r->content_re = CompileRule(SPI_getvalue(tup, desc, 7), rule_id);
		r->referral = ref == NULL ? -1 : (ref[0] == 't' ? 1 : 0);
	}

	if (SPI_execute("SELECT click_id, source, medium FROM attribution.channel_click_ids "
					"ORDER BY priority, click_id", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read attribution.channel_click_ids");
	n = SPI_processed;
	cache.clicks = MemoryContextAllocZero(cache.cxt, sizeof(ClickDefault) * (n + 1));
	for (uint64 i = 0; i < n; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		for (int f = 0; f < NUM_CLICK_FIELDS; f++)
		{
			if (strcmp(name, click_param_names[f]) == 0)
			{
				ClickDefault *c = &cache.clicks[cache.nclicks++];

				c->field = f;
				c->source = GetText(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
				c->medium = GetText(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
			}
		}
	}

	if (SPI_execute("SELECT domain FROM attribution.self_referral_domains ORDER BY domain",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read attribution.self_referral_domains");
	n = SPI_processed;
	cache.self_domains = MemoryContextAllocZero(cache.cxt, sizeof(char *) * (n + 1));
	for (uint64 i = 0; i < n; i++)
		cache.self_domains[cache.nself++] =
			GetText(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

	SPI_finish();
	cache_valid = true;
}

static bool
RegexMatches(regex_t *re, const char *value)
{
	pg_wchar   *wide;
	int			wlen;
	int			rc;

	if (re == NULL)
		return true;
	if (value == NULL)
		value = "";
	wide = palloc((strlen(value) + 1) * sizeof(pg_wchar));
	wlen = pg_mb2wchar_with_len(value, wide, strlen(value));
	rc = pg_regexec(re, wide, wlen, 0, NULL, 0, NULL, 0);
	pfree(wide);
	if (rc != REG_OKAY && rc != REG_NOMATCH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
				 errmsg("regular expression failed in channel classification")));
	return rc == REG_OKAY;
}

/*
 * Categories (search, social, ...) of a source: the longest domain entry
 * the source equals or lies under decides alone (mail.google.com is email,
 * not search); failing that, brand labels match any label of the source
 * ("google" matches www.google.co.uk and the utm_source "google").
 */
static void
SourceCategories(const char *source, bool *in)
{
	size_t		best = 0;

	memset(in, 0, sizeof(bool) * MAX_CATEGORIES);
	for (int i = 0; i < cache.nhosts; i++)
	{
		HostEntry  *h = &cache.hosts[i];
		size_t		len = strlen(h->host);

		if (h->dotted && len >= best && HostMatchesDomain(source, h->host))
		{
			if (len > best)
				memset(in, 0, sizeof(bool) * MAX_CATEGORIES);
			best = len;
			in[h->category] = true;
		}
	}
	if (best > 0)
		return;
	for (int i = 0; i < cache.nhosts; i++)
	{
		HostEntry  *h = &cache.hosts[i];
		const char *p = source;
		size_t		len = strlen(h->host);

		if (h->dotted)
			continue;
		while (p)
		{
			if (strncmp(p, h->host, len) == 0 && (p[len] == '.' || p[len] == '\0'))
			{
				in[h->category] = true;
				break;
			}
			p = strchr(p, '.');
			if (p)
				p++;
		}
	}
}

static bool
IsSelfReferral(const char *referrer_host, const char *landing_host)
{
	if (landing_host && strcmp(referrer_host, landing_host) == 0)
		return true;
	for (int i = 0; i < cache.nself; i++)
		if (HostMatchesDomain(referrer_host, cache.self_domains[i]))
			return true;
	return false;
}

/*
 * Name the channel of a landing; see the file header for the steps.
 */
const char *
ClassifyChannel(const LandingUrl *url, const char *referrer_host)
{
	const char *source = url->utm[UTM_SOURCE];
	const char *medium = url->utm[UTM_MEDIUM];
	bool		categories[MAX_CATEGORIES];

	if (!cache_valid)
		LoadCache();

	if (referrer_host && IsSelfReferral(referrer_host, url->host))
		referrer_host = NULL;

	if (source == NULL || medium == NULL)
	{
		for (int i = 0; i < cache.nclicks; i++)
		{
			if (url->click[cache.clicks[i].field] != NULL)
			{
				if (source == NULL)
					source = cache.clicks[i].source;
				if (medium == NULL)
					medium = cache.clicks[i].medium;
				break;
			}
		}
	}
	if (source == NULL && referrer_host != NULL)
		source = referrer_host;
	if (source == NULL)
		source = "(direct)";

	SourceCategories(source, categories);

	if (medium == NULL)
	{
		if (referrer_host != NULL)
		{
			int			search = -1;

			for (int i = 0; i < cache.ncategories; i++)
				if (strcmp(cache.categories[i], "search") == 0)
					search = i;
			medium = (search >= 0 && categories[search]) ? "organic" : "referral";
		}
		else if (url->utm[UTM_SOURCE] != NULL)
			medium = "(not set)";
		else
			medium = "(none)";
	}

	for (int i = 0; i < cache.nrules; i++)
	{
		ChannelRule *r = &cache.rules[i];

		if (r->category >= 0 && !categories[r->category])
			continue;
		if (r->referral >= 0 && (url->referral_code != NULL) != (r->referral == 1))
			continue;
		if (RegexMatches(r->source_re, source) &&
			RegexMatches(r->medium_re, medium) &&
			RegexMatches(r->campaign_re, url->utm[UTM_CAMPAIGN]) &&
			RegexMatches(r->content_re, url->utm[UTM_CONTENT]))
			return r->channel;
	}
	return "Unassigned";
}
