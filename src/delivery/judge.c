/*
 * judge.c
 *		What the platform modules share when they judge an answer: jsonb
 *		accessors that accept NULL at every step, and the outcomes that mean
 *		the same on every platform (see judge.h).
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "delivery/judge.h"

/* Small accessors over jsonb containers; all accept NULL. */
JsonbValue *
JGet(JsonbContainer *c, const char *key)
{
	if (c == NULL || !JsonContainerIsObject(c))
		return NULL;
	return getKeyJsonValueFromContainer(c, key, strlen(key), NULL);
}

JsonbContainer *
JCont(JsonbValue *v)
{
	if (v == NULL || v->type != jbvBinary)
		return NULL;
	return v->val.binary.data;
}

JsonbContainer *
JGetC(JsonbContainer *c, const char *key)
{
	return JCont(JGet(c, key));
}

int
JSize(JsonbContainer *c)
{
	if (c == NULL || !JsonContainerIsArray(c))
		return 0;
	return JsonContainerSize(c);
}

JsonbValue *
JAt(JsonbContainer *c, int i)
{
	if (c == NULL || !JsonContainerIsArray(c))
		return NULL;
	return getIthJsonbValueFromContainer(c, i);
}

char *
JStr(JsonbValue *v)
{
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, Min(v->val.string.len, MAX_MESSAGE));
}

/* The whole string, for texts that are parsed rather than kept. */
char *
JStrFull(JsonbValue *v)
{
	if (v == NULL || v->type != jbvString)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

bool
JNum(JsonbValue *v, double *out)
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
		char	   *s = JStr(v);
		char	   *end;

		*out = strtod(s, &end);
		return end != s;
	}
	return false;
}

bool
JBool(JsonbValue *v)
{
	return v != NULL && v->type == jbvBool && v->val.boolean;
}

/* The first string value of an object: Google's {"<family>Error": "ENUM"}. */
char *
JFirstString(JsonbContainer *c)
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

void
SetRow(RowOutcome *r, char kind, const char *code, const char *msg, double delay)
{
	r->kind = kind;
	r->code = code;
	r->message = msg;
	r->min_delay_s = delay;
}

void
SetAll(Verdict *v, int n, char kind, const char *code, const char *msg, double delay)
{
	for (int i = 0; i < n; i++)
		SetRow(&v->rows[i], kind, code, msg, delay);
}

/* A whole-batch rejection of the batch's content: isolate the bad event. */
void
RejectBatch(Verdict *v, int n, const char *code, const char *msg)
{
	if (n > 1)
	{
		v->split = true;
		SetAll(v, n, ROW_RESEND, code, msg, 0);
	}
	else
		SetAll(v, n, ROW_DEAD, code, msg, 0);
}

void
HoldForCredential(Verdict *v, int n, const char *code, const char *msg)
{
	v->credential_invalid = true;
	v->detail = psprintf("%s: %s", code, msg ? msg : "credential rejected");
	SetAll(v, n, ROW_HOLD, code, msg, 0);
}

/* A pause other than for the credential: permission, version retired. */
void
PauseFor(Verdict *v, int n, const char *reason, const char *code, const char *msg)
{
	v->pause_reason = reason;
	v->detail = psprintf("%s: %s", code, msg ? msg : reason);
	SetAll(v, n, ROW_HOLD, code, msg, 0);
}

/*
 * Rate limited: hold the destination for delay_s (default_s when the
 * platform named no delay) and retry every row no sooner.
 */
void
Throttle(Verdict *v, int n, const char *code, const char *msg, double delay_s, double default_s)
{
	v->throttle_s = delay_s > 0 ? delay_s : default_s;
	SetAll(v, n, ROW_RETRY, code, msg ? msg : "rate limited", Max(delay_s, 0));
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
void
JudgeHttp(Verdict *v, int n, HttpRequest *req, const char *code, const char *msg)
{
	long		st = req->http_status;
	double		after = req->retry_after_s > 0 ? req->retry_after_s : 0;

	if (code == NULL)
		code = http_code(st);
	if (st >= 200 && st < 300)
	{
		SetAll(v, n, ROW_DELIVERED, NULL, NULL, 0);
		v->breaker_success = true;
	}
	else if (st == 401)
		HoldForCredential(v, n, code, msg);
	else if (st == 403)
		PauseFor(v, n, "forbidden", code, msg ? msg : "permission denied");
	else if (st == 429)
		Throttle(v, n, code, msg, after, 1);
	else if (st == 408 || st == 425 || st >= 500)
	{
		v->breaker_failure = st >= 500;
		SetAll(v, n, ROW_RETRY, code, msg ? msg : "server error", after);
	}
	else
	{
		v->breaker_success = true;
		RejectBatch(v, n, code, msg ? msg : "request rejected");
	}
}

