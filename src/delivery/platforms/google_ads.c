/*
 * google_ads.c
 *		Google Ads through the Google Ads API (transport ads_api): click
 *		conversions and conversion adjustments (API-CONTRACTS.md B1, B2,
 *		B4).  Kept for developer tokens Google still allows to upload; new
 *		integrations go through the Data Manager API (google_dm.c, J1).
 *
 * A click conversion carries exactly one of gclid, gbraid, wbraid (routing
 * chose it), the conversion action as a resource name, the time in UTC with
 * its offset, the value in major units, the order id that later
 * adjustments refer to, the hashed e-mail and phone as first-party
 * identifiers and the user's consent when it is known.  An adjustment names
 * the original order id; only a RESTATEMENT carries a value, the new total.
 *
 * Requests: {"conversions":[...],"partialFailure":true} to
 * /{v}/customers/{cid}:uploadClickConversions, adjustments apart in
 * {"conversionAdjustments":[...],"partialFailure":true} to
 * :uploadConversionAdjustments, with a Bearer token, the developer-token
 * and login-customer-id headers.  Answers: 200 with partialFailureError
 * and an empty result for each failed row; RPC errors otherwise.
 */
#include "postgres.h"

#include "delivery/delivery.h"
#include "delivery/http_engine.h"
#include "delivery/judge.h"
#include "delivery/request_kit.h"
#include "delivery/platforms/google.h"
#include "delivery/platforms/platform.h"

/*
 * customers/{cid}/conversionActions/{id}; a target that is already a
 * resource name is taken as it is.
 */
static char *
conversion_action_name(const PayloadFacts *f)
{
	if (strncmp(f->target, "customers/", 10) == 0)
		return pstrdup(f->target);
	return psprintf("customers/%s/conversionActions/%s",
					f->account_id ? f->account_id : "", f->target);
}

static void
write_consent(JsonWriter *w, const PayloadFacts *f)
{
	if (f->ad_user_data == CONSENT_UNKNOWN && f->ad_personalization == CONSENT_UNKNOWN)
		return;
	JwKey(w, "consent");
	JwBeginObject(w);
	if (f->ad_user_data != CONSENT_UNKNOWN)
		JwFieldString(w, "adUserData",
					  f->ad_user_data == CONSENT_GRANTED ? "GRANTED" : "DENIED");
	if (f->ad_personalization != CONSENT_UNKNOWN)
		JwFieldString(w, "adPersonalization",
					  f->ad_personalization == CONSENT_GRANTED ? "GRANTED" : "DENIED");
	JwEndObject(w);
}

static void
build_click_conversion(JsonWriter *w, const PayloadFacts *f)
{
	char		when[32];

	FormatGoogleDateTime(f->event_time_us, when);
	JwBeginObject(w);
	/* one click id only: GBRAID_WBRAID_BOTH_SET otherwise */
	if (f->gclid)
		JwFieldString(w, "gclid", f->gclid);
	else if (f->gbraid)
		JwFieldString(w, "gbraid", f->gbraid);
	else if (f->wbraid)
		JwFieldString(w, "wbraid", f->wbraid);
	JwFieldString(w, "conversionAction", conversion_action_name(f));
	JwFieldString(w, "conversionDateTime", when);
	JwFieldNumber(w, "conversionValue", f->value);
	JwFieldString(w, "currencyCode", f->currency);
	JwFieldString(w, "orderId", f->order_id);
	if (f->email_sha256_google || f->phone_sha256)
	{
		JwKey(w, "userIdentifiers");
		JwBeginArray(w);
		if (f->email_sha256_google)
		{
			JwBeginObject(w);
			JwFieldString(w, "userIdentifierSource", "FIRST_PARTY");
			JwFieldString(w, "hashedEmail", f->email_sha256_google);
			JwEndObject(w);
		}
		if (f->phone_sha256)
		{
			JwBeginObject(w);
			JwFieldString(w, "userIdentifierSource", "FIRST_PARTY");
			JwFieldString(w, "hashedPhoneNumber", f->phone_sha256);
			JwEndObject(w);
		}
		JwEndArray(w);
	}
	write_consent(w, f);
	JwEndObject(w);
}

static void
build_adjustment(JsonWriter *w, const PayloadFacts *f)
{
	char		when[32];
	bool		restatement = f->adjustment_type != NULL &&
		strcmp(f->adjustment_type, "RESTATEMENT") == 0;

	FormatGoogleDateTime(f->event_time_us, when);
	JwBeginObject(w);
	JwFieldString(w, "conversionAction", conversion_action_name(f));
	JwFieldString(w, "adjustmentType", restatement ? "RESTATEMENT" : "RETRACTION");
	JwFieldString(w, "adjustmentDateTime", when);
	JwFieldString(w, "orderId", f->order_id);
	/* a RETRACTION must not carry restatementValue */
	if (restatement)
	{
		JwKey(w, "restatementValue");
		JwBeginObject(w);
		JwFieldNumber(w, "adjustedValue", f->value);
		JwFieldString(w, "currencyCode", f->currency);
		JwEndObject(w);
	}
	JwEndObject(w);
}

static void
build_payload(JsonWriter *w, const PayloadFacts *f)
{
	if (f->adjustment)
		build_adjustment(w, f);
	else
		build_click_conversion(w, f);
}

/* Google: outcome of one error code. */
static void
google_row(RowOutcome *r, const char *code, const char *msg)
{
	if (strstr(code, "_ALREADY_") != NULL || strncmp(code, "DUPLICATE_", 10) == 0 ||
		strstr(code, "ALREADY_EXISTS") != NULL)
		SetRow(r, ROW_DUPLICATE, code, msg, 0);
	else if (strcmp(code, "TOO_RECENT_CONVERSION") == 0)
		SetRow(r, ROW_RETRY, code, msg, 24 * 3600);	/* conversion < 24 h old */
	else if (strncmp(code, "TOO_RECENT_", 11) == 0)
		SetRow(r, ROW_RETRY, code, msg, 6 * 3600);	/* click or action < 6 h old */
	else if (strcmp(code, "INTERNAL_ERROR") == 0 || strcmp(code, "TRANSIENT_ERROR") == 0 ||
			 strcmp(code, "CONCURRENT_MODIFICATION") == 0 ||
			 strncmp(code, "RESOURCE_", 9) == 0)
		SetRow(r, ROW_RETRY, code, msg, 0);
	else
		SetRow(r, ROW_DEAD, code, msg, 0);
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
	JsonbContainer *details = JGetC(status, "details");
	int			cap = 8,
				n = 0;
	GoogleError *errs = palloc(cap * sizeof(GoogleError));

	for (int i = 0; i < JSize(details); i++)
	{
		JsonbContainer *errors = JGetC(JCont(JAt(details, i)), "errors");

		for (int j = 0; j < JSize(errors); j++)
		{
			JsonbContainer *e = JCont(JAt(errors, j));
			JsonbContainer *path = JGetC(JGetC(e, "location"), "fieldPathElements");
			JsonbContainer *q = JGetC(JGetC(e, "details"), "quotaErrorDetails");
			GoogleError *g;
			double		idx;

			if (n == cap)
			{
				cap *= 2;
				errs = repalloc(errs, cap * sizeof(GoogleError));
			}
			g = &errs[n++];
			g->code = JFirstString(JGetC(e, "errorCode"));
			if (g->code == NULL)
				g->code = "UNKNOWN";
			g->message = JStr(JGet(e, "message"));
			g->index = -1;
			g->retry_delay = 0;
			if (JSize(path) > 0 && JNum(JGet(JCont(JAt(path, 0)), "index"), &idx))
				g->index = (int) idx;
			if (q != NULL)
				JNum(JGet(q, "retryDelay"), &g->retry_delay);
		}
	}
	*out = errs;
	return n;
}

static char *
google_request_id(JsonbContainer *status)
{
	JsonbContainer *details = JGetC(status, "details");

	for (int i = 0; i < JSize(details); i++)
	{
		char	   *id = JStr(JGet(JCont(JAt(details, i)), "requestId"));

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
		JsonbContainer *results = JGetC(root, "results");

		status = JGetC(root, "partialFailureError");
		SetAll(v, n, ROW_DELIVERED, NULL, NULL, 0);
		v->breaker_success = true;
		if (status == NULL)
			return;
		if (v->request_id == NULL)
			v->request_id = google_request_id(status);

		/* A failed row's result is {}: without a located error, retry it. */
		for (int i = 0; i < n && i < JSize(results); i++)
		{
			JsonbContainer *r = JCont(JAt(results, i));

			if (r != NULL && JsonContainerIsObject(r) && JsonContainerSize(r) == 0)
				SetRow(&v->rows[i], ROW_RETRY, "UNEXPLAINED_PARTIAL_FAILURE",
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
		root = JCont(JAt(root, 0));
	status = JGetC(root, "error");
	if (status == NULL)
	{
		JudgeHttp(v, n, req, NULL, NULL);
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
			SetAll(v, n, ROW_RETRY, code, msg, Max(delay, 0));
			return;
		}
		if (req->http_status == 401 || strncmp(code, "OAUTH_TOKEN_", 12) == 0)
		{
			HoldForCredential(v, n, code, msg);
			return;
		}
		/* Errors located on rows: those rows fail, the others go again. */
		for (int k = 0; k < nerr; k++)
			if (errs[k].index >= 0 && errs[k].index < n)
				located = true;
		if (located && req->http_status == 400)
		{
			SetAll(v, n, ROW_RESEND, NULL, NULL, 0);
			for (int k = 0; k < nerr; k++)
				if (errs[k].index >= 0 && errs[k].index < n)
					google_row(&v->rows[errs[k].index], errs[k].code, errs[k].message);
			v->breaker_success = true;
			return;
		}
		JudgeHttp(v, n, req, code, msg);
		return;
	}
	JudgeHttp(v, n, req, JStr(JGet(status, "status")), JStr(JGet(status, "message")));
}


static void
judge(DeliveryBatch *batch, HttpRequest *req, JsonbContainer *root, Verdict *v)
{
	judge_google(v, batch->nrows, req, root);
}

static void
build_request(DeliveryBatch *batch, HttpRequest *req, StringInfo url, StringInfo body)
{
	Destination *d = batch->dest;
	char	   *cid = GoogleDigits(DestAccount(d, "customer_id"));
	char	   *login = GoogleDigits(DestAccount(d, "login_customer_id"));

	DeliveryAppendUrl(url, d->endpoint, "/");
	appendStringInfo(url, "%s/customers/%s:%s", d->api_version, cid ? cid : "",
					 batch->adjustment ? "uploadConversionAdjustments" : "uploadClickConversions");
	DeliveryAddBearer(req, d->token);
	if (d->developer_token && d->developer_token[0])
		HttpAddHeader(req, "developer-token", d->developer_token);
	if (login && login[0])
		HttpAddHeader(req, "login-customer-id", login);
	appendStringInfoString(body, batch->adjustment ? "{\"conversionAdjustments\":["
						   : "{\"conversions\":[");
	DeliveryAppendElements(body, batch);
	appendStringInfoString(body, "],\"partialFailure\":true}");
}

const PlatformModule google_ads_module = {
	.name = "google_ads",
	.transport = "ads_api",
	.default_transport = true,
	.default_endpoint = "https://googleads.googleapis.com",
	.default_version = "v26",
	.version_key = "api_version",
	.routing = GOOGLE_ROUTING(2000),
	.oauth = GOOGLE_OAUTH("https://www.googleapis.com/auth/adwords"),
	.build_payload = build_payload,
	.separate_adjustments = true,
	.build_request = build_request,
	.judge = judge,
};
