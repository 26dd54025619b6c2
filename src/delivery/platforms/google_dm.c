/*
 * google_dm.c
 *		Google Ads through the Data Manager API (transport data_manager,
 *		the default for new google_ads destinations): API-CONTRACTS.md J1.
 *
 * Since 2026-06-15 a new developer token cannot upload click conversions
 * through the Google Ads API; Data Manager takes them instead, with three
 * differences the engine sees:
 *   - the request is all or nothing: a 400 names the bad events in
 *     fieldViolations ("events[3]..."), so exactly those rows die and the
 *     others are sent again at once, never split or held back;
 *   - a 200 only says the request was valid: its rows become "submitted"
 *     with the requestId, and the worker later asks requestStatus:retrieve
 *     for the outcome of each destination (judge_status);
 *   - an adjustment is the same event again: same transactionId, the new
 *     value (a full refund sends 0.0, unless the destination's full_refund
 *     option is skip; J1 marks the retraction as unverified).
 * Each event names its conversion action in destinationReferences; the
 * request lists each distinct action once in destinations[] (at most 10),
 * with the operating account and, for a manager, the login account.
 */
#include "postgres.h"

#include "utils/json.h"

#include "delivery/delivery.h"
#include "delivery/http_engine.h"
#include "delivery/judge.h"
#include "delivery/request_kit.h"
#include "delivery/platforms/google.h"
#include "delivery/platforms/platform.h"

#define DM_MAX_DESTINATIONS 10

/*
 * The transaction id: the order id, prefixed with the provider when it is
 * only digits (Data Manager refuses a numeric transactionId with a 400
 * that validateOnly does not catch, J1).
 */
static char *
transaction_id(const PayloadFacts *f)
{
	const char *p = f->order_id;

	if (p == NULL)
		return NULL;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return pstrdup(f->order_id);
	return psprintf("%s-%s", f->provider ? f->provider : "order", f->order_id);
}

/* The conversion action id: the last path element of a resource name. */
static const char *
action_id(const PayloadFacts *f)
{
	const char *slash = strrchr(f->target, '/');

	return slash ? slash + 1 : f->target;
}

static const char *
consent_value(int state)
{
	return state == CONSENT_GRANTED ? "CONSENT_GRANTED" : "CONSENT_DENIED";
}

/*
 * One Event of events[].  An adjustment repeats the original's
 * transaction id, time and identifiers with the new value.
 */
static void
build_payload(JsonWriter *w, const PayloadFacts *f)
{
	char		when[32];
	bool		retraction = f->adjustment && f->adjustment_type != NULL &&
		strcmp(f->adjustment_type, "RETRACTION") == 0;

	FormatIsoUtc(f->adjustment && f->original_time_us != 0 ? f->original_time_us
				 : f->event_time_us, when);
	JwBeginObject(w);
	JwKey(w, "destinationReferences");
	JwBeginArray(w);
	JwString(w, action_id(f));
	JwEndArray(w);
	JwFieldString(w, "transactionId", transaction_id(f));
	JwFieldString(w, "eventTimestamp", when);
	if (f->gclid || f->gbraid || f->wbraid)
	{
		/* one click id only: gclid, else the braid routing chose */
		JwKey(w, "adIdentifiers");
		JwBeginObject(w);
		if (f->gclid)
			JwFieldString(w, "gclid", f->gclid);
		else if (f->gbraid)
			JwFieldString(w, "gbraid", f->gbraid);
		else
			JwFieldString(w, "wbraid", f->wbraid);
		JwEndObject(w);
	}
	JwFieldNumber(w, "conversionValue", retraction ? "0.0" : f->value);
	JwFieldString(w, "currency", f->currency);
	if (f->email_sha256_google || f->phone_sha256)
	{
		JwKey(w, "userData");
		JwBeginObject(w);
		JwKey(w, "userIdentifiers");
		JwBeginArray(w);
		if (f->email_sha256_google)
		{
			JwBeginObject(w);
			JwFieldString(w, "emailAddress", f->email_sha256_google);
			JwEndObject(w);
		}
		if (f->phone_sha256)
		{
			JwBeginObject(w);
			JwFieldString(w, "phoneNumber", f->phone_sha256);
			JwEndObject(w);
		}
		JwEndArray(w);
		JwEndObject(w);
	}
	if (f->ad_user_data != CONSENT_UNKNOWN || f->ad_personalization != CONSENT_UNKNOWN)
	{
		JwKey(w, "consent");
		JwBeginObject(w);
		if (f->ad_user_data != CONSENT_UNKNOWN)
			JwFieldString(w, "adUserData", consent_value(f->ad_user_data));
		if (f->ad_personalization != CONSENT_UNKNOWN)
			JwFieldString(w, "adPersonalization", consent_value(f->ad_personalization));
		JwEndObject(w);
	}
	JwFieldString(w, "eventSource", "WEB");
	JwEndObject(w);
}

/*
 * The conversion action an element names.  Elements come back from the
 * outbox as jsonb text, whose layout jsonb_out fixes ("key": ["value"]).
 */
static char *
element_reference(const DeliveryRow *row)
{
	static const char key[] = "\"destinationReferences\": [\"";
	const char *p = strstr(row->payload, key);
	const char *end;

	if (p == NULL)
		return NULL;
	p += sizeof(key) - 1;
	end = strchr(p, '"');
	return end ? pnstrdup(p, end - p) : NULL;
}

static void
write_account(StringInfo body, const char *key, const char *id)
{
	appendStringInfo(body, "\"%s\":{\"accountType\":\"GOOGLE_ADS\",\"accountId\":", key);
	escape_json(body, id);
	appendStringInfoChar(body, '}');
}

/* POST /v1/events:ingest: destinations[], encoding, events[]. */
static void
build_request(DeliveryBatch *batch, HttpRequest *req, StringInfo url, StringInfo body)
{
	Destination *d = batch->dest;
	char	   *cid = GoogleDigits(DestAccount(d, "customer_id"));
	char	   *login = GoogleDigits(DestAccount(d, "login_customer_id"));
	char	   *refs[DM_MAX_DESTINATIONS];
	int			nrefs = 0;

	for (int i = 0; i < batch->nrows; i++)
	{
		char	   *ref = element_reference(&batch->rows[i]);
		bool		seen = false;

		if (ref == NULL)
			continue;
		for (int k = 0; k < nrefs && !seen; k++)
			seen = strcmp(refs[k], ref) == 0;
		if (!seen && nrefs < DM_MAX_DESTINATIONS)
			refs[nrefs++] = ref;
	}

	DeliveryAppendUrl(url, d->endpoint, "/");
	appendStringInfo(url, "%s/events:ingest", d->api_version);
	DeliveryAddBearer(req, d->token);

	appendStringInfoString(body, "{\"destinations\":[");
	for (int k = 0; k < nrefs; k++)
	{
		if (k > 0)
			appendStringInfoChar(body, ',');
		appendStringInfoString(body, "{\"reference\":");
		escape_json(body, refs[k]);
		appendStringInfoChar(body, ',');
		write_account(body, "operatingAccount", cid ? cid : "");
		if (login && login[0])
		{
			appendStringInfoChar(body, ',');
			write_account(body, "loginAccount", login);
		}
		appendStringInfoString(body, ",\"productDestinationId\":");
		escape_json(body, refs[k]);
		appendStringInfoChar(body, '}');
	}
	appendStringInfoString(body, "],\"encoding\":\"HEX\",\"events\":[");
	DeliveryAppendElements(body, batch);
	appendStringInfoString(body, "]}");
}

/*
 * The event index a fieldViolation names ("events[3].transaction_id"), or
 * -1.  Only the leading index is parsed: the spelling of the rest differs
 * between the proto and the JSON names (J1).
 */
static int
violation_index(const char *field)
{
	char	   *end;
	long		idx;

	if (field == NULL || strncmp(field, "events[", 7) != 0)
		return -1;
	idx = strtol(field + 7, &end, 10);
	if (end == field + 7 || *end != ']' || idx < 0 || idx > INT_MAX)
		return -1;
	return (int) idx;
}

/* A "30s" Duration (RetryInfo.retryDelay), or 0. */
static double
duration_s(JsonbValue *v)
{
	double		s = 0;

	return JNum(v, &s) ? s : 0;
}

/*
 * The standard Google error {"error":{code,status,message,details[]}}:
 * BadRequest.fieldViolations locate bad events; ErrorInfo.reason names
 * the cause; RetryInfo.retryDelay the wait after a 429.
 */
static void
judge(DeliveryBatch *batch, HttpRequest *req, JsonbContainer *root, Verdict *v)
{
	int			n = batch->nrows;
	JsonbContainer *err = JGetC(root, "error");
	JsonbContainer *details = JGetC(err, "details");
	char	   *reason = NULL;
	char	   *status = JStr(JGet(err, "status"));
	char	   *msg = JStr(JGet(err, "message"));
	double		retry = 0;
	bool		located = false;

	if (req->http_status == 200)
	{
		char	   *id = JStr(JGet(root, "requestId"));

		v->breaker_success = true;
		if (id != NULL)
			v->request_id = id;
		if (v->request_id == NULL)
		{
			/* accepted without an id to ask about: nothing to poll */
			SetAll(v, n, ROW_DELIVERED, "NO_REQUEST_ID", "accepted without a requestId", 0);
			return;
		}
		SetAll(v, n, ROW_SUBMITTED, NULL, NULL, 0);
		return;
	}

	for (int i = 0; i < JSize(details); i++)
	{
		JsonbContainer *d = JCont(JAt(details, i));

		if (reason == NULL)
			reason = JStr(JGet(d, "reason"));
		if (JGet(d, "retryDelay") != NULL)
			retry = duration_s(JGet(d, "retryDelay"));
	}
	if (reason == NULL)
		reason = status ? status : psprintf("HTTP_%ld", req->http_status);

	if (req->http_status == 429 || (status && strcmp(status, "RESOURCE_EXHAUSTED") == 0))
	{
		/* 300 requests a minute per project: without a delay, wait a minute */
		Throttle(v, n, "RESOURCE_EXHAUSTED", msg, Max(retry, req->retry_after_s), 60);
		return;
	}
	if (req->http_status == 401)
	{
		HoldForCredential(v, n, reason, msg);
		return;
	}
	if (req->http_status == 403)
	{
		PauseFor(v, n, "forbidden", reason, msg);
		return;
	}
	if (req->http_status == 400)
	{
		/* all or nothing: the located events die, the others go again */
		SetAll(v, n, ROW_RESEND, NULL, NULL, 0);
		for (int i = 0; i < JSize(details); i++)
		{
			JsonbContainer *fv = JGetC(JCont(JAt(details, i)), "fieldViolations");

			for (int k = 0; k < JSize(fv); k++)
			{
				JsonbContainer *one = JCont(JAt(fv, k));
				char	   *field = JStrFull(JGet(one, "field"));
				int			idx = violation_index(field);
				char	   *desc = JStr(JGet(one, "description"));

				if (idx < 0 || idx >= n)
					continue;
				SetRow(&v->rows[idx], ROW_DEAD, reason,
					   pnstrdup(psprintf("%s: %s", field, desc ? desc : "invalid"), MAX_MESSAGE), 0);
				located = true;
			}
		}
		v->breaker_success = true;
		if (located)
			return;
		RejectBatch(v, n, reason, msg);
		return;
	}
	JudgeHttp(v, n, req, reason, msg);
}

/* GET /v1/requestStatus:retrieve?requestId=... */
static void
build_status_request(Destination *dest, const char *request_id, HttpRequest *req, StringInfo url)
{
	char	   *id = curl_easy_escape(NULL, request_id, 0);

	DeliveryAppendUrl(url, dest->endpoint, "/");
	appendStringInfo(url, "%s/requestStatus:retrieve?requestId=%s", dest->api_version,
					 id ? id : "");
	curl_free(id);
	DeliveryAddBearer(req, dest->token);
}

/* "2 x PROCESSING_ERROR_REASON_CLICK_NOT_FOUND, ..." of an errorInfo. */
static void
append_counts(StringInfo s, JsonbContainer *info)
{
	JsonbContainer *counts = JGetC(info, "errorCounts");

	for (int i = 0; i < JSize(counts); i++)
	{
		JsonbContainer *c = JCont(JAt(counts, i));
		char	   *num = JStr(JGet(c, "recordCount"));
		char	   *why = JStr(JGet(c, "reason"));
		double		d;

		if (num == NULL && JNum(JGet(c, "recordCount"), &d))
			num = psprintf("%.0f", d);
		appendStringInfo(s, "%s%s x %s", s->len > 0 ? ", " : "", num ? num : "?",
						 why ? why : "UNKNOWN");
	}
}

/*
 * The status of an accepted request, per destination in the order they
 * were sent.  v->status: processing (ask again later), delivered, dead (the
 * destination FAILED: every record failed) or retry (the answer was no
 * answer).  Counts are per reason, not per event, so a PARTIAL_SUCCESS is
 * delivered with its reasons kept.  v->status_detail holds one JSON array
 * of {reference, outcome, detail} for the recording step.
 */
static void
judge_status(HttpRequest *req, JsonbContainer *root, Verdict *v)
{
	JsonbContainer *per = JGetC(root, "requestStatusPerDestination");
	StringInfoData out;
	bool		processing = false;

	if (req->http_status != 200)
	{
		JsonbContainer *err = JGetC(root, "error");
		char	   *status = JStr(JGet(err, "status"));
		char	   *msg = JStr(JGet(err, "message"));
		bool		unknown_id = false;
		JsonbContainer *details = JGetC(err, "details");

		for (int i = 0; i < JSize(details); i++)
		{
			char	   *reason = JStr(JGet(JCont(JAt(details, i)), "reason"));

			if (reason && strcmp(reason, "INVALID_REQUEST_ID") == 0)
				unknown_id = true;
		}
		if (req->http_status == 401)
		{
			v->credential_invalid = true;
			v->detail = psprintf("%s: %s", status ? status : "UNAUTHENTICATED",
								 msg ? msg : "credential rejected");
			v->status = "retry";
		}
		else if (req->http_status == 429)
		{
			v->throttle_s = Max(req->retry_after_s, 60);
			v->status = "retry";
		}
		else if (unknown_id)
			v->status = "unknown";
		else
		{
			v->breaker_failure = req->http_status >= 500;
			v->status = "retry";
		}
		v->status_detail = psprintf("%s: %s", status ? status : psprintf("HTTP_%ld", req->http_status),
									msg ? msg : "no status");
		return;
	}

	v->breaker_success = true;
	initStringInfo(&out);
	appendStringInfoChar(&out, '[');
	for (int i = 0; i < JSize(per); i++)
	{
		JsonbContainer *one = JCont(JAt(per, i));
		char	   *st = JStr(JGet(one, "requestStatus"));
		char	   *ref = JStr(JGet(JGetC(one, "destination"), "reference"));
		const char *outcome;
		StringInfoData why;

		if (ref == NULL)
			ref = JStr(JGet(JGetC(one, "destination"), "productDestinationId"));
		initStringInfo(&why);
		if (st == NULL || strcmp(st, "PROCESSING") == 0 || strcmp(st, "REQUEST_STATUS_UNKNOWN") == 0)
		{
			processing = true;
			outcome = "processing";
		}
		else if (strcmp(st, "FAILED") == 0)
			outcome = "dead";
		else if (strcmp(st, "SUCCESS") == 0 || strcmp(st, "PARTIAL_SUCCESS") == 0)
			outcome = "delivered";
		else
			outcome = "dead";	/* a status this module does not know */
		appendStringInfoString(&why, st ? st : "PROCESSING");
		if (JGetC(one, "errorInfo") != NULL)
		{
			StringInfoData c;

			initStringInfo(&c);
			append_counts(&c, JGetC(one, "errorInfo"));
			if (c.len > 0)
				appendStringInfo(&why, ": %s", c.data);
		}
		if (i > 0)
			appendStringInfoChar(&out, ',');
		appendStringInfoString(&out, "{\"reference\":");
		if (ref)
			escape_json(&out, ref);
		else
			appendStringInfoString(&out, "null");
		appendStringInfo(&out, ",\"outcome\":\"%s\",\"detail\":", outcome);
		escape_json(&out, why.data);
		appendStringInfoChar(&out, '}');
	}
	appendStringInfoChar(&out, ']');
	v->status = processing ? "processing" : (JSize(per) == 0 ? "processing" : "done");
	v->status_detail = out.data;
}

const PlatformModule google_dm_module = {
	.name = "google_ads",
	.transport = "data_manager",
	.default_endpoint = "https://datamanager.googleapis.com",
	.default_version = "v1",
	.version_key = "dm_version",
	.routing = GOOGLE_ROUTING(2000),
	.oauth = GOOGLE_OAUTH("https://www.googleapis.com/auth/datamanager"),
	.build_payload = build_payload,
	.build_request = build_request,
	.judge = judge,
	.build_status_request = build_status_request,
	.judge_status = judge_status,
};
