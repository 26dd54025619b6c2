/*
 * response.c
 *		What a platform's answer means for each row of a batch.
 *
 * Platforms report failures in very different places: Google answers 200
 * with partialFailureError and an empty result for each failed row; TikTok
 * answers 200 with a non-zero code (20001 lists the failed indexes);
 * LinkedIn answers 422 with a message listing failing indexes; Meta rejects
 * a whole batch for one bad event, so the batch is split until the bad
 * event is alone.  Responses are parsed with Postgres's own jsonb, inside the
 * worker's recording transaction.  Messages kept are short platform error
 * texts; response bodies are never logged.
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/resowner.h"

#include "delivery/delivery.h"
#include "delivery/http_engine.h"

#define MAX_MESSAGE 200

/*
 * Parse a response body as jsonb; NULL when it is not JSON.  jsonb_in runs in
 * a subtransaction because a syntactically valid body can still be refused
 * (a \u0000 escape), and that must not abort the recording transaction.
 */
static Jsonb *
parse_json(const char *body, size_t len)
{
	JsonLexContext *lex;
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Jsonb	   *volatile result = NULL;

	if (body == NULL || len == 0)
		return NULL;
#if PG_VERSION_NUM >= 170000
	lex = makeJsonLexContextCstringLen(NULL, (char *) body, (int) len, GetDatabaseEncoding(), false);
#else
	lex = makeJsonLexContextCstringLen((char *) body, (int) len, GetDatabaseEncoding(), false);
#endif
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
		return NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(body)));
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		result = NULL;
	}
	PG_END_TRY();
	return result;
}

/* Small accessors over jsonb containers; all accept NULL. */
static JsonbValue *
jget(JsonbContainer *c, const char *key)
{
	if (c == NULL || !JsonContainerIsObject(c))
		return NULL;
	return getKeyJsonValueFromContainer(c, key, strlen(key), NULL);
}

static JsonbContainer *
jcont(JsonbValue *v)
{
	if (v == NULL || v->type != jbvBinary)
		return NULL;
	return v->val.binary.data;
}

static JsonbContainer *
jgetc(JsonbContainer *c, const char *key)
{
	return jcont(jget(c, key));
}

static int
jsize(JsonbContainer *c)
{
	if (c == NULL || !JsonContainerIsArray(c))
		return 0;
	return JsonContainerSize(c);
}

static JsonbValue *
jat(JsonbContainer *c, int i)
{
	if (c == NULL || !JsonContainerIsArray(c))
		return NULL;
	return getIthJsonbValueFromContainer(c, i);
}

static char *
jstr(JsonbValue *v)
{
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, Min(v->val.string.len, MAX_MESSAGE));
}

static bool
jnum(JsonbValue *v, double *out)
{
	if (v == NULL)
		return false;
	if (v->type == jbvNumeric)
	{
		*out = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
		return true;
	}
	if (v->type == jbvString)
	{
		char	   *s = jstr(v);
		char	   *end;

		*out = strtod(s, &end);
		return end != s;
	}
	return false;
}

static bool
jbool(JsonbValue *v)
{
	return v != NULL && v->type == jbvBool && v->val.boolean;
}

/* The first string value of an object: Google's {"<family>Error": "ENUM"}. */
static char *
first_string(JsonbContainer *c)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (c == NULL || !JsonContainerIsObject(c))
		return NULL;
	it = JsonbIteratorInit(c);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_VALUE && v.type == jbvString)
			return pnstrdup(v.val.string.val, Min(v.val.string.len, MAX_MESSAGE));
	}
	return NULL;
}

static void
set_row(RowOutcome *r, char kind, const char *code, const char *msg, double delay)
{
	r->kind = kind;
	r->code = code;
	r->message = msg;
	r->min_delay_s = delay;
}

static void
set_all(Verdict *v, int n, char kind, const char *code, const char *msg, double delay)
{
	for (int i = 0; i < n; i++)
		set_row(&v->rows[i], kind, code, msg, delay);
}

/* A whole-batch rejection of the batch's content: isolate the bad event. */
static void
reject_batch(Verdict *v, int n, const char *code, const char *msg)
{
	if (n > 1)
	{
		v->split = true;
		set_all(v, n, ROW_RESEND, code, msg, 0);
	}
	else
		set_all(v, n, ROW_DEAD, code, msg, 0);
}

static void
hold_for_credential(Verdict *v, int n, const char *code, const char *msg)
{
	v->credential_invalid = true;
	v->detail = psprintf("%s: %s", code, msg ? msg : "credential rejected");
	set_all(v, n, ROW_HOLD, code, msg, 0);
}

static char *
http_code(long status)
{
	return psprintf("HTTP_%ld", status);
}

/*
 * Outcome by HTTP status alone, for answers a platform handler does not
 * explain further.
 */
static void
judge_http(Verdict *v, int n, HttpRequest *req, const char *code, const char *msg)
{
	long		st = req->http_status;
	double		after = req->retry_after_s > 0 ? req->retry_after_s : 0;

	if (code == NULL)
		code = http_code(st);
	if (st >= 200 && st < 300)
	{
		set_all(v, n, ROW_DELIVERED, NULL, NULL, 0);
		v->breaker_success = true;
	}
	else if (st == 401)
		hold_for_credential(v, n, code, msg);
	else if (st == 403)
	{
		v->pause_reason = "forbidden";
		v->detail = psprintf("%s: %s", code, msg ? msg : "permission denied");
		set_all(v, n, ROW_HOLD, code, msg, 0);
	}
	else if (st == 429)
	{
		v->throttle_s = after > 0 ? after : 1;
		set_all(v, n, ROW_RETRY, code, msg ? msg : "rate limited", after);
	}
	else if (st == 408 || st == 425 || st >= 500)
	{
		v->breaker_failure = st >= 500;
		set_all(v, n, ROW_RETRY, code, msg ? msg : "server error", after);
	}
	else
	{
		v->breaker_success = true;
		reject_batch(v, n, code, msg ? msg : "request rejected");
	}
}

/* Google: outcome of one error code. */
static void
google_row(RowOutcome *r, const char *code, const char *msg)
{
	if (strstr(code, "_ALREADY_") != NULL || strncmp(code, "DUPLICATE_", 10) == 0 ||
		strstr(code, "ALREADY_EXISTS") != NULL)
		set_row(r, ROW_DUPLICATE, code, msg, 0);
	else if (strcmp(code, "TOO_RECENT_CONVERSION") == 0)
		set_row(r, ROW_RETRY, code, msg, 24 * 3600);	/* conversion < 24 h old */
	else if (strncmp(code, "TOO_RECENT_", 11) == 0)
		set_row(r, ROW_RETRY, code, msg, 6 * 3600);	/* click or action < 6 h old */
	else if (strcmp(code, "INTERNAL_ERROR") == 0 || strcmp(code, "TRANSIENT_ERROR") == 0 ||
			 strcmp(code, "CONCURRENT_MODIFICATION") == 0 ||
			 strncmp(code, "RESOURCE_", 9) == 0)
		set_row(r, ROW_RETRY, code, msg, 0);
	else
		set_row(r, ROW_DEAD, code, msg, 0);
}

/* Google's GoogleAdsFailure errors[] of a status's details[]. */
typedef struct GoogleError
{
	char	   *code;
	char	   *message;
	int			index;			/* row, -1 when request-level */
	double		retry_delay;
} GoogleError;

static int
google_errors(JsonbContainer *status, GoogleError **out)
{
	JsonbContainer *details = jgetc(status, "details");
	int			cap = 8,
				n = 0;
	GoogleError *errs = palloc(cap * sizeof(GoogleError));

	for (int i = 0; i < jsize(details); i++)
	{
		JsonbContainer *errors = jgetc(jcont(jat(details, i)), "errors");

		for (int j = 0; j < jsize(errors); j++)
		{
			JsonbContainer *e = jcont(jat(errors, j));
			JsonbContainer *path = jgetc(jgetc(e, "location"), "fieldPathElements");
			JsonbContainer *q = jgetc(jgetc(e, "details"), "quotaErrorDetails");
			GoogleError *g;
			double		idx;

			if (n == cap)
			{
				cap *= 2;
				errs = repalloc(errs, cap * sizeof(GoogleError));
			}
			g = &errs[n++];
			g->code = first_string(jgetc(e, "errorCode"));
			if (g->code == NULL)
				g->code = "UNKNOWN";
			g->message = jstr(jget(e, "message"));
			g->index = -1;
			g->retry_delay = 0;
			if (jsize(path) > 0 && jnum(jget(jcont(jat(path, 0)), "index"), &idx))
				g->index = (int) idx;
			if (q != NULL)
				jnum(jget(q, "retryDelay"), &g->retry_delay);
		}
	}
	*out = errs;
	return n;
}

static char *
google_request_id(JsonbContainer *status)
{
	JsonbContainer *details = jgetc(status, "details");

	for (int i = 0; i < jsize(details); i++)
	{
		char	   *id = jstr(jget(jcont(jat(details, i)), "requestId"));

		if (id != NULL)
			return id;
	}
	return NULL;
}

static void
judge_google(Verdict *v, int n, HttpRequest *req, JsonbContainer *root)
{
	JsonbContainer *status;
	GoogleError *errs;
	int			nerr;

	if (req->http_status == 200)
	{
		JsonbContainer *results = jgetc(root, "results");

		status = jgetc(root, "partialFailureError");
		set_all(v, n, ROW_DELIVERED, NULL, NULL, 0);
		v->breaker_success = true;
		if (status == NULL)
			return;
		if (v->request_id == NULL)
			v->request_id = google_request_id(status);

		/* A failed row's result is {}: without a located error, retry it. */
		for (int i = 0; i < n && i < jsize(results); i++)
		{
			JsonbContainer *r = jcont(jat(results, i));

			if (r != NULL && JsonContainerIsObject(r) && JsonContainerSize(r) == 0)
				set_row(&v->rows[i], ROW_RETRY, "UNEXPLAINED_PARTIAL_FAILURE",
						"empty result without an error", 0);
		}
		nerr = google_errors(status, &errs);
		for (int k = 0; k < nerr; k++)
		{
			if (errs[k].index >= 0 && errs[k].index < n)
				google_row(&v->rows[errs[k].index], errs[k].code, errs[k].message);
		}
		return;
	}

	/* RPC-level error: {"error": {...}}, sometimes wrapped in an array. */
	if (root != NULL && JsonContainerIsArray(root))
		root = jcont(jat(root, 0));
	status = jgetc(root, "error");
	if (status == NULL)
	{
		judge_http(v, n, req, NULL, NULL);
		return;
	}
	if (v->request_id == NULL)
		v->request_id = google_request_id(status);
	nerr = google_errors(status, &errs);
	if (nerr > 0)
	{
		const char *code = errs[0].code;
		const char *msg = errs[0].message;
		bool		located = false;

		if (req->http_status == 429 || strncmp(code, "RESOURCE_", 9) == 0)
		{
			double		delay = Max(errs[0].retry_delay, req->retry_after_s);

			v->throttle_s = delay > 0 ? delay : 1;
			set_all(v, n, ROW_RETRY, code, msg, Max(delay, 0));
			return;
		}
		if (req->http_status == 401 || strncmp(code, "OAUTH_TOKEN_", 12) == 0)
		{
			hold_for_credential(v, n, code, msg);
			return;
		}
		/* Errors located on rows: those rows fail, the others go again. */
		for (int k = 0; k < nerr; k++)
			if (errs[k].index >= 0 && errs[k].index < n)
				located = true;
		if (located && req->http_status == 400)
		{
			set_all(v, n, ROW_RESEND, NULL, NULL, 0);
			for (int k = 0; k < nerr; k++)
				if (errs[k].index >= 0 && errs[k].index < n)
					google_row(&v->rows[errs[k].index], errs[k].code, errs[k].message);
			v->breaker_success = true;
			return;
		}
		judge_http(v, n, req, code, msg);
		return;
	}
	judge_http(v, n, req, jstr(jget(status, "status")), jstr(jget(status, "message")));
}

static void
judge_meta(Verdict *v, int n, HttpRequest *req, JsonbContainer *root)
{
	JsonbContainer *err = jgetc(root, "error");
	double		code = 0,
				sub = 0;
	char	   *codestr;
	char	   *msg;

	if (v->request_id == NULL)
		v->request_id = jstr(jget(root, "fbtrace_id"));
	if (err == NULL)
	{
		judge_http(v, n, req, NULL, NULL);
		return;
	}
	if (v->request_id == NULL)
		v->request_id = jstr(jget(err, "fbtrace_id"));
	jnum(jget(err, "code"), &code);
	jnum(jget(err, "error_subcode"), &sub);
	codestr = sub != 0 ? psprintf("META_%d_%d", (int) code, (int) sub) : psprintf("META_%d", (int) code);
	msg = jstr(jget(err, "error_user_title"));
	if (msg == NULL)
		msg = jstr(jget(err, "message"));

	switch ((int) code)
	{
		case 190:				/* invalid or expired access token */
		case 102:
			hold_for_credential(v, n, codestr, msg);
			return;
		case 4:					/* throttled */
		case 17:
		case 32:
		case 613:
		case 80003:
			{
				double		after = Max(req->retry_after_s, 0);

				v->throttle_s = after > 0 ? after : 60;
				set_all(v, n, ROW_RETRY, codestr, msg, Max(after, 0));
				return;
			}
		case 1:					/* transient */
		case 2:
		case 21009:
			v->breaker_failure = req->http_status >= 500;
			set_all(v, n, ROW_RETRY, codestr, msg, 0);
			return;
		case 10:				/* permission */
		case 200:
			v->pause_reason = "forbidden";
			v->detail = psprintf("%s: %s", codestr, msg ? msg : "permission denied");
			set_all(v, n, ROW_HOLD, codestr, msg, 0);
			return;
		default:
			if (jbool(jget(err, "is_transient")) || req->http_status >= 500)
			{
				v->breaker_failure = req->http_status >= 500;
				set_all(v, n, ROW_RETRY, codestr, msg, 0);
				return;
			}
			/* one bad event rejects the whole batch: isolate it */
			v->breaker_success = true;
			reject_batch(v, n, codestr, msg);
			return;
	}
}

/* TikTok: outcome of one result code. */
static void
tiktok_row(RowOutcome *r, int code, const char *codestr, const char *msg)
{
	if (code == 40100 || code == 50000 || code == 50002)
		set_row(r, ROW_RETRY, codestr, msg, 0);
	else
		set_row(r, ROW_DEAD, codestr, msg, 0);
}

static void
judge_tiktok(Verdict *v, int n, HttpRequest *req, JsonbContainer *root)
{
	double		code;
	char	   *codestr;
	char	   *msg;

	if (v->request_id == NULL)
		v->request_id = jstr(jget(root, "request_id"));
	if (req->http_status != 200 || !jnum(jget(root, "code"), &code))
	{
		judge_http(v, n, req, NULL, jstr(jget(root, "message")));
		return;
	}
	codestr = psprintf("TIKTOK_%d", (int) code);
	msg = jstr(jget(root, "message"));
	v->breaker_success = true;
	switch ((int) code)
	{
		case 0:
			set_all(v, n, ROW_DELIVERED, NULL, NULL, 0);
			return;
		case 20001:				/* partial: data.failed_events[{index, code, message}] */
			{
				JsonbContainer *failed = jgetc(jgetc(root, "data"), "failed_events");

				set_all(v, n, ROW_DELIVERED, NULL, NULL, 0);
				for (int i = 0; i < jsize(failed); i++)
				{
					JsonbContainer *f = jcont(jat(failed, i));
					double		idx,
								fcode = 0;

					if (!jnum(jget(f, "index"), &idx) || idx < 0 || idx >= n)
						continue;
					jnum(jget(f, "code"), &fcode);
					tiktok_row(&v->rows[(int) idx], (int) fcode,
							   psprintf("TIKTOK_%d", (int) fcode), jstr(jget(f, "message")));
				}
				return;
			}
		case 40100:				/* too many requests */
			v->breaker_success = false;
			v->throttle_s = req->retry_after_s > 0 ? req->retry_after_s : 1;
			set_all(v, n, ROW_RETRY, codestr, msg, Max(req->retry_after_s, 0));
			return;
		case 40102:				/* access token expired */
		case 40104:				/* empty access token */
		case 40105:				/* invalid or revoked access token */
			hold_for_credential(v, n, codestr, msg);
			return;
		case 40001:				/* no permission */
			v->pause_reason = "forbidden";
			v->detail = psprintf("%s: %s", codestr, msg ? msg : "permission denied");
			set_all(v, n, ROW_HOLD, codestr, msg, 0);
			return;
		case 50000:
		case 50002:
			v->breaker_success = false;
			v->breaker_failure = true;
			set_all(v, n, ROW_RETRY, codestr, msg, 0);
			return;
		default:
			reject_batch(v, n, codestr, msg);
			return;
	}
}

/*
 * LinkedIn 422 message: lines "Index: <i>, ERROR :: <pointer> :: <text>".
 * Marks those rows dead; returns how many it found.
 */
static int
linkedin_failed_indexes(Verdict *v, int n, const char *message)
{
	const char *p = message;
	int			found = 0;

	while ((p = strstr(p, "Index: ")) != NULL)
	{
		const char *num = p + 7;
		char	   *end;
		long		idx = strtol(num, &end, 10);
		const char *eol;
		const char *text;

		p = num;
		if (end == num || idx < 0 || idx >= n)
			continue;
		text = strstr(end, "ERROR :: ");
		eol = strchr(end, '\n');
		if (text != NULL && (eol == NULL || text < eol))
			text += 9;
		else
			text = end;
		set_row(&v->rows[idx], ROW_DEAD, "LINKEDIN_422",
				pnstrdup(text, Min(eol ? (size_t) (eol - text) : strlen(text), MAX_MESSAGE)), 0);
		found++;
	}
	return found;
}

static void
judge_linkedin(Verdict *v, int n, HttpRequest *req, JsonbContainer *root)
{
	double		svc = 0;
	char	   *msg = jstr(jget(root, "message"));

	if (req->http_status == 200 || req->http_status == 201)
	{
		JsonbContainer *els = jgetc(root, "elements");

		set_all(v, n, ROW_DELIVERED, NULL, NULL, 0);
		v->breaker_success = true;
		for (int i = 0; i < n && i < jsize(els); i++)
		{
			double		st;

			if (jnum(jget(jcont(jat(els, i)), "status"), &st) && st >= 400)
				set_row(&v->rows[i], st >= 500 || st == 429 ? ROW_RETRY : ROW_DEAD,
						psprintf("LINKEDIN_%d", (int) st), "element rejected", 0);
		}
		return;
	}
	if (req->http_status == 422 && root != NULL)
	{
		/* full message text: the jsonb string, not the truncated copy */
		JsonbValue *m = jget(root, "message");
		char	   *full = (m && m->type == jbvString)
			? pnstrdup(m->val.string.val, m->val.string.len) : NULL;

		set_all(v, n, ROW_RESEND, NULL, NULL, 0);
		v->breaker_success = true;
		if (full != NULL && linkedin_failed_indexes(v, n, full) > 0)
			return;
		reject_batch(v, n, "LINKEDIN_422", msg);
		return;
	}
	if (req->http_status == 401 || jnum(jget(root, "serviceErrorCode"), &svc))
	{
		if (req->http_status == 401 || svc == 65600 || svc == 65601 || svc == 65602)
		{
			char	   *code = jstr(jget(root, "code"));

			hold_for_credential(v, n, code ? code : psprintf("LINKEDIN_%d", (int) svc), msg);
			return;
		}
	}
	if (req->http_status == 400)
	{
		/* rule or method problems: the same for every event of the rule */
		v->breaker_success = true;
		set_all(v, n, ROW_DEAD, "LINKEDIN_400", msg, 0);
		return;
	}
	judge_http(v, n, req, jstr(jget(root, "code")), msg);
}

static void
judge_webhook(Verdict *v, int n, HttpRequest *req)
{
	if (req->http_status == 409)
	{
		v->breaker_success = true;
		set_all(v, n, ROW_DUPLICATE, "HTTP_409", "already received", 0);
		return;
	}
	judge_http(v, n, req, NULL, NULL);
}

static const char *
curl_code_name(CURLcode rc)
{
	switch (rc)
	{
		case CURLE_OPERATION_TIMEDOUT:
			return "TIMEOUT";
		case CURLE_COULDNT_CONNECT:
			return "CONNECT_FAILED";
		case CURLE_COULDNT_RESOLVE_HOST:
			return "DNS_FAILED";
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
			return "TLS_FAILED";
		case CURLE_GOT_NOTHING:
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
		case CURLE_PARTIAL_FILE:
			return "CONNECTION_DROPPED";
		default:
			return "TRANSPORT_ERROR";
	}
}

/*
 * Judge a finished request.  Fills v (allocated in the current memory
 * context) with one outcome per row of the batch.
 */
void
DeliveryJudge(DeliveryBatch *batch, HttpRequest *req, Verdict *v)
{
	int			n = batch->nrows;
	Jsonb	   *jb;
	JsonbContainer *root;

	memset(v, 0, sizeof(Verdict));
	v->rows = palloc0(n * sizeof(RowOutcome));
	if (req->request_id[0] != '\0')
		v->request_id = pstrdup(req->request_id);

	if (req->result != CURLE_OK)
	{
		v->breaker_failure = true;
		set_all(v, n, ROW_RETRY, curl_code_name(req->result), curl_easy_strerror(req->result), 0);
		return;
	}

	jb = parse_json(req->resp, req->resp_len);
	root = jb ? &jb->root : NULL;
	switch (batch->dest->platform)
	{
		case PLATFORM_GOOGLE_ADS:
			judge_google(v, n, req, root);
			break;
		case PLATFORM_META:
			judge_meta(v, n, req, root);
			break;
		case PLATFORM_TIKTOK:
			judge_tiktok(v, n, req, root);
			break;
		case PLATFORM_LINKEDIN:
			judge_linkedin(v, n, req, root);
			break;
		case PLATFORM_WEBHOOK:
			judge_webhook(v, n, req);
			break;
	}
}
