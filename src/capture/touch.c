/*
 * touch.c
 *		SQL entry points of landing capture: track_touch, parse_landing_url,
 *		classify_channel.
 *
 * track_touch runs on every landing of the application, so it parses and
 * classifies in C and inserts through one prepared plan kept for the life
 * of the backend.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "capture/landing.h"
#include "pg_attribution.h"

#define MAX_VISITOR_ID_LENGTH 256
#define MAX_USER_AGENT_LENGTH 1024

PG_FUNCTION_INFO_V1(attr_track_touch);
PG_FUNCTION_INFO_V1(attr_parse_landing_url);
PG_FUNCTION_INFO_V1(attr_classify_channel);

void
CaptureInit(void)
{
	ChannelCacheInit();
}

/*
 * Parse a landing URL or raise the error the SQL API documents.
 */
static void
ParseLandingUrlOrError(text *url_text, LandingUrl *url)
{
	const char *reason = NULL;
	int			len = VARSIZE_ANY_EXHDR(url_text);
	char	   *url_str;

	if (len > attr_max_url_length)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("landing url is %d bytes long, over the limit of %d bytes", len,
						attr_max_url_length),
				 errhint("Raise pg_attribution.max_url_length if such URLs are legitimate.")));
	url_str = text_to_cstring(url_text);
	if (url_str[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("landing url is empty")));

	switch (ParseLandingUrl(url_str, url, &reason))
	{
		case URL_OK:
			break;
		case URL_INVALID:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("landing url is not a valid URL: %s", reason),
					 errhint("Pass the full address of the page, such as https://example.com/pricing?utm_source=google.")));
			break;
		case URL_BAD_SCHEME:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("landing url has scheme \"%s\", only http and https are landings",
							url->scheme)));
			break;
	}
}

/* Referrers never fail a landing: over-long ones are cut, bad ones ignored. */
static char *
ClipText(text *t, int limit)
{
	char	   *s = text_to_cstring(t);
	int			len = strlen(s);

	if (len > limit)
		s[pg_mbcliplen(s, len, limit)] = '\0';
	return s;
}

static int64
UnixMillis(TimestampTz ts)
{
	return (ts - SetEpochTimestamp()) / 1000;
}

/*
 * A landing time must be finite and plausible: from 2000 to a day past the
 * transaction's start (clock skew).  Infinity would overflow the Unix
 * milliseconds of Meta's fbc, and a year 9999 touch would outlive every
 * attribution window.
 */
static void
CheckLandingTime(TimestampTz t)
{
	TimestampTz earliest = SetEpochTimestamp() + INT64CONST(946684800) * USECS_PER_SEC;
	TimestampTz latest = GetCurrentTransactionStartTimestamp() + USECS_PER_DAY;

	if (TIMESTAMP_NOT_FINITE(t) || t < earliest || t > latest)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("occurred_at %s is out of range for a landing", timestamptz_to_str(t)),
				 errdetail("A landing time lies between 2000-01-01 and one day after now."),
				 errhint("Pass the time of the visit, or NULL for now.")));
}

/* Raw UTM values as a jsonb object, for audit; NULL when there are none. */
static Datum
UtmRawJsonb(const LandingUrl *url, bool *isnull)
{
	StringInfoData buf;
	bool		any = false;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < NUM_UTM_FIELDS; i++)
	{
		if (url->utm_raw[i] == NULL)
			continue;
		if (any)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, utm_param_names[i]);
		appendStringInfoChar(&buf, ':');
		escape_json(&buf, url->utm_raw[i]);
		any = true;
	}
	appendStringInfoChar(&buf, '}');
	*isnull = !any;
	return any ? DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)) : (Datum) 0;
}

#define TOUCH_NARGS 35

static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr identify_plan = NULL;

static const char *const insert_sql =
"INSERT INTO attribution.touchpoints (visitor_id, user_id, occurred_at, url, referrer, "
"host, path, referrer_host, channel, utm_source, utm_medium, utm_campaign, utm_term, "
"utm_content, utm_id, utm_raw, referral_code, gclid, gclid_at, gbraid, gbraid_at, wbraid, "
"dclid, fbclid, fbc, fbc_at, fbp, ttclid, ttp, li_fat_id, msclkid, twclid, clicked_at, ip, "
"user_agent) VALUES ($1, coalesce($2, (SELECT i.user_id FROM attribution.identities i "
"WHERE i.visitor_id = $1 ORDER BY i.linked_at, i.user_id LIMIT 1)), $3, $4, $5, $6, $7, $8, $9, "
"$10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, "
"$28, $29, $30, $31, $32, $33, $34, $35) RETURNING id";

static const Oid insert_types[TOUCH_NARGS] = {
	TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TIMESTAMPTZOID, INETOID, TEXTOID
};

/* Helpers to fill the parameter arrays. */
#define SET_TEXT(i, s) \
	do { if ((s) != NULL) { values[i] = CStringGetTextDatum(s); nulls[i] = ' '; } \
		 else nulls[i] = 'n'; } while (0)
#define SET_TS(i, t, known) \
	do { if (known) { values[i] = TimestampTzGetDatum(t); nulls[i] = ' '; } \
		 else nulls[i] = 'n'; } while (0)

/*
 * track_touch(visitor_id, url, referrer, occurred_at, user_id, cookies, ip,
 *			   user_agent) RETURNS bigint
 */
Datum
attr_track_touch(PG_FUNCTION_ARGS)
{
	LandingUrl	url;
	CookieClicks ck;
	char	   *visitor;
	char	   *user_id = NULL;
	char	   *referrer = NULL;
	char	   *referrer_host = NULL;
	const char *channel;
	TimestampTz occurred_at;
	Datum		values[TOUCH_NARGS];
	char		nulls[TOUCH_NARGS];
	bool		utm_raw_null;
	char	   *gclid, *gbraid, *fbc = NULL;
	TimestampTz gclid_at = 0, gbraid_at = 0, fbc_at = 0, clicked_at = 0;
	bool		gclid_known = false, gbraid_known = false, fbc_known = false;
	bool		clicked_known = false;
	bool		url_click = false;
	int64		id;
	bool		isnull;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("visitor_id must not be null"),
				 errhint("Pass the anonymous id the application keeps for the browser, such as its first-party cookie value.")));
	visitor = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (visitor[0] == '\0' || strlen(visitor) > MAX_VISITOR_ID_LENGTH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("visitor_id must be between 1 and %d bytes long", MAX_VISITOR_ID_LENGTH)));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("landing url must not be null")));
	ParseLandingUrlOrError(PG_GETARG_TEXT_PP(1), &url);

	if (!PG_ARGISNULL(2))
	{
		referrer = ClipText(PG_GETARG_TEXT_PP(2), attr_max_url_length);
		referrer_host = ParseReferrerHost(referrer);
	}
	occurred_at = PG_ARGISNULL(3) ? GetCurrentTransactionStartTimestamp()
		: PG_GETARG_TIMESTAMPTZ(3);
	CheckLandingTime(occurred_at);
	if (!PG_ARGISNULL(4))
	{
		user_id = text_to_cstring(PG_GETARG_TEXT_PP(4));
		if (user_id[0] == '\0')
			user_id = NULL;
		else if (strlen(user_id) > MAX_VISITOR_ID_LENGTH)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("user_id must be at most %d bytes long", MAX_VISITOR_ID_LENGTH),
					 errhint("Pass the application's id or a digest of it, not a document.")));
	}
	ParseCookieClicks(PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5)), &ck);

	channel = ClassifyChannel(&url, referrer_host);

	/* A click in the URL is this landing's; cookies recall earlier clicks. */
	for (int i = 0; i < NUM_CLICK_FIELDS; i++)
		if (url.click[i] != NULL)
			url_click = true;

	gclid = url.click[CLICK_GCLID];
	if (gclid)
		gclid_at = occurred_at, gclid_known = true;
	else if (ck.gclid)
		gclid = ck.gclid, gclid_at = ck.gclid_at, gclid_known = true;
	gbraid = url.click[CLICK_GBRAID];
	if (gbraid)
		gbraid_at = occurred_at, gbraid_known = true;
	else if (ck.gbraid)
		gbraid = ck.gbraid, gbraid_at = ck.gbraid_at, gbraid_known = true;

	/*
	 * Meta's fbc: the _fbc cookie when it is about the same click (or the URL
	 * has none), else built from the URL's fbclid at the landing time.
	 */
	if (url.click[CLICK_FBCLID] != NULL)
	{
		char	   *cookie_fbclid = FbclidOfFbc(ck.fbc);

		if (cookie_fbclid && strcmp(cookie_fbclid, url.click[CLICK_FBCLID]) == 0)
			fbc = ck.fbc, fbc_at = ck.fbc_at;
		else
		{
			fbc = psprintf("fb.1." INT64_FORMAT ".%s", UnixMillis(occurred_at),
						   url.click[CLICK_FBCLID]);
			fbc_at = occurred_at;
		}
		fbc_known = true;
	}
	else if (ck.fbc)
		fbc = ck.fbc, fbc_at = ck.fbc_at, fbc_known = true;

	if (url_click)
		clicked_at = occurred_at, clicked_known = true;
	else
	{
		if (gclid_known)
			clicked_at = gclid_at, clicked_known = true;
		if (gbraid_known && (!clicked_known || gbraid_at > clicked_at))
			clicked_at = gbraid_at, clicked_known = true;
		if (fbc_known && (!clicked_known || fbc_at > clicked_at))
			clicked_at = fbc_at, clicked_known = true;
	}

	SET_TEXT(0, visitor);
	SET_TEXT(1, user_id);
	SET_TS(2, occurred_at, true);
	values[3] = PointerGetDatum(PG_GETARG_TEXT_PP(1));
	nulls[3] = ' ';
	SET_TEXT(4, referrer);
	SET_TEXT(5, url.host);
	SET_TEXT(6, url.path);
	SET_TEXT(7, referrer_host);
	SET_TEXT(8, channel);
	for (int i = 0; i < NUM_UTM_FIELDS; i++)
		SET_TEXT(9 + i, url.utm[i]);
	values[15] = UtmRawJsonb(&url, &utm_raw_null);
	nulls[15] = utm_raw_null ? 'n' : ' ';
	SET_TEXT(16, url.referral_code);
	SET_TEXT(17, gclid);
	SET_TS(18, gclid_at, gclid_known);
	SET_TEXT(19, gbraid);
	SET_TS(20, gbraid_at, gbraid_known);
	SET_TEXT(21, url.click[CLICK_WBRAID]);
	SET_TEXT(22, url.click[CLICK_DCLID]);
	SET_TEXT(23, url.click[CLICK_FBCLID] ? url.click[CLICK_FBCLID] : FbclidOfFbc(fbc));
	SET_TEXT(24, fbc);
	SET_TS(25, fbc_at, fbc_known);
	SET_TEXT(26, ck.fbp);
	SET_TEXT(27, url.click[CLICK_TTCLID]);
	SET_TEXT(28, ck.ttp);
	SET_TEXT(29, url.click[CLICK_LI_FAT_ID] ? url.click[CLICK_LI_FAT_ID] : ck.li_fat_id);
	SET_TEXT(30, url.click[CLICK_MSCLKID] ? url.click[CLICK_MSCLKID] : ck.msclkid);
	SET_TEXT(31, url.click[CLICK_TWCLID]);
	SET_TS(32, clicked_at, clicked_known);
	if (PG_ARGISNULL(6))
		nulls[33] = 'n';
	else
		values[33] = PG_GETARG_DATUM(6), nulls[33] = ' ';
	SET_TEXT(34, PG_ARGISNULL(7) ? NULL :
			 ClipText(PG_GETARG_TEXT_PP(7), MAX_USER_AGENT_LENGTH));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (insert_plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(insert_sql, TOUCH_NARGS, (Oid *) insert_types);

		if (plan == NULL)
			elog(ERROR, "could not prepare the touchpoint insert: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		insert_plan = plan;
	}
	if (SPI_execute_plan(insert_plan, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "could not insert the touchpoint");
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	/* A touch made while signed in also tells who the visitor is. */
	if (user_id != NULL)
	{
		Oid			types[2] = {TEXTOID, TEXTOID};

		if (identify_plan == NULL)
		{
			SPIPlanPtr	plan = SPI_prepare("SELECT attribution.identify($1, $2)", 2, types);

			if (plan == NULL)
				elog(ERROR, "could not prepare the identify call");
			SPI_keepplan(plan);
			identify_plan = plan;
		}
		if (SPI_execute_plan(identify_plan, values, nulls, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not link the visitor to its user");
	}
	SPI_finish();

	PG_RETURN_INT64(id);
}

/*
 * parse_landing_url(url text) RETURNS attribution.landing_url
 */
Datum
attr_parse_landing_url(PG_FUNCTION_ARGS)
{
	LandingUrl	url;
	TupleDesc	desc;
	Datum	   *values;
	bool	   *nulls;
	int			col = 0;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);
	ParseLandingUrlOrError(PG_GETARG_TEXT_PP(0), &url);

	values = palloc0(sizeof(Datum) * desc->natts);
	nulls = palloc0(sizeof(bool) * desc->natts);
#define PUT(s) \
	do { if ((s) != NULL) values[col] = CStringGetTextDatum(s); else nulls[col] = true; \
		 col++; } while (0)
	for (int i = 0; i < NUM_UTM_FIELDS; i++)
		PUT(url.utm[i]);
	for (int i = 0; i < NUM_CLICK_FIELDS; i++)
		PUT(url.click[i]);
	PUT(url.referral_code);
	PUT(url.scheme);
	PUT(url.host);
	if (url.port > 0)
		values[col] = Int32GetDatum(url.port);
	else
		nulls[col] = true;
	col++;
	PUT(url.path);
	for (int i = 0; i < NUM_UTM_FIELDS; i++)
		PUT(url.utm_raw[i]);
#undef PUT
	Assert(col == desc->natts);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/*
 * classify_channel(url text, referrer text) RETURNS text
 */
Datum
attr_classify_channel(PG_FUNCTION_ARGS)
{
	LandingUrl	url;
	char	   *referrer_host = NULL;

	if (PG_ARGISNULL(0))
		memset(&url, 0, sizeof(url));
	else
		ParseLandingUrlOrError(PG_GETARG_TEXT_PP(0), &url);
	if (!PG_ARGISNULL(1))
		referrer_host = ParseReferrerHost(ClipText(PG_GETARG_TEXT_PP(1),
												   attr_max_url_length));
	PG_RETURN_TEXT_P(cstring_to_text(ClassifyChannel(&url, referrer_host)));
}
