/*
 * linkedin.c
 *		LinkedIn Conversions API (API-CONTRACTS.md E, versions J3).
 *
 * One element of elements[] per event: the time in epoch milliseconds and
 * the amount a string ("29.0").  The user is identified by the hashed
 * e-mail, the first-party tracking id (li_fat_id) when the user came
 * through a LinkedIn ad, and the hashed IP address of the touch
 * (SHA256_IP_ADDRESS, from LinkedIn-Version 202607); userIds is always
 * sent, empty when nothing matched.  Requests: {"elements":[...]} to
 * /rest/conversionEvents with LinkedIn-Version, X-Restli-Protocol-Version
 * 2.0.0 and X-RestLi-Method BATCH_CREATE.  Answers: 422 lists the failing
 * indexes; 426 means the version was retired, which pauses the destination
 * (api_version_retired) instead of retrying.
 */
#include "postgres.h"

#include "delivery/delivery.h"
#include "delivery/http_engine.h"
#include "delivery/judge.h"
#include "delivery/request_kit.h"
#include "delivery/platforms/platform.h"

static void
write_user_id(JsonWriter *w, const char *type, const char *value)
{
	JwBeginObject(w);
	JwFieldString(w, "idType", type);
	JwFieldString(w, "idValue", value);
	JwEndObject(w);
}

static void
build_payload(JsonWriter *w, const PayloadFacts *f)
{
	char	   *urn;

	if (strncmp(f->target, "urn:", 4) == 0)
		urn = pstrdup(f->target);
	else
		urn = psprintf("urn:lla:llaPartnerConversion:%s", f->target);

	JwBeginObject(w);
	JwFieldString(w, "conversion", urn);
	JwKey(w, "conversionHappenedAt");
	JwInt64(w, UnixMillis(f->event_time_us));
	if (f->value)
	{
		JwKey(w, "conversionValue");
		JwBeginObject(w);
		JwFieldString(w, "currencyCode", f->currency);
		/* a string in LinkedIn's schema, written like the other values */
		JwFieldString(w, "amount", f->value);
		JwEndObject(w);
	}
	JwFieldString(w, "eventId", f->dedup_key);
	JwKey(w, "user");
	JwBeginObject(w);
	JwKey(w, "userIds");
	JwBeginArray(w);
	if (f->email_sha256)
		write_user_id(w, "SHA256_EMAIL", f->email_sha256);
	if (f->li_fat_id)
		write_user_id(w, "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", f->li_fat_id);
	if (f->ip_sha256)
		write_user_id(w, "SHA256_IP_ADDRESS", f->ip_sha256);
	JwEndArray(w);
	JwEndObject(w);
	JwEndObject(w);
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
		SetRow(&v->rows[idx], ROW_DEAD, "LINKEDIN_422",
				pnstrdup(text, Min(eol ? (size_t) (eol - text) : strlen(text), MAX_MESSAGE)), 0);
		found++;
	}
	return found;
}

static void
judge_linkedin(Verdict *v, int n, HttpRequest *req, JsonbContainer *root)
{
	double		svc = 0;
	char	   *msg = JStr(JGet(root, "message"));

	if (req->http_status == 200 || req->http_status == 201)
	{
		JsonbContainer *els = JGetC(root, "elements");

		SetAll(v, n, ROW_DELIVERED, NULL, NULL, 0);
		v->breaker_success = true;
		for (int i = 0; i < n && i < JSize(els); i++)
		{
			double		st;

			if (JNum(JGet(JCont(JAt(els, i)), "status"), &st) && st >= 400)
				SetRow(&v->rows[i], st >= 500 || st == 429 ? ROW_RETRY : ROW_DEAD,
						psprintf("LINKEDIN_%d", (int) st), "element rejected", 0);
		}
		return;
	}
	if (req->http_status == 422 && root != NULL)
	{
		/* full message text: the jsonb string, not the truncated copy */
		JsonbValue *m = JGet(root, "message");
		char	   *full = (m && m->type == jbvString)
			? pnstrdup(m->val.string.val, m->val.string.len) : NULL;

		SetAll(v, n, ROW_RESEND, NULL, NULL, 0);
		v->breaker_success = true;
		if (full != NULL && linkedin_failed_indexes(v, n, full) > 0)
			return;
		RejectBatch(v, n, "LINKEDIN_422", msg);
		return;
	}
	if (req->http_status == 401 || JNum(JGet(root, "serviceErrorCode"), &svc))
	{
		if (req->http_status == 401 || svc == 65600 || svc == 65601 || svc == 65602)
		{
			char	   *code = JStr(JGet(root, "code"));

			HoldForCredential(v, n, code ? code : psprintf("LINKEDIN_%d", (int) svc), msg);
			return;
		}
	}
	if (req->http_status == 400)
	{
		/* rule or method problems: the same for every event of the rule */
		v->breaker_success = true;
		SetAll(v, n, ROW_DEAD, "LINKEDIN_400", msg, 0);
		return;
	}
	JudgeHttp(v, n, req, JStr(JGet(root, "code")), msg);
}


static void
judge(DeliveryBatch *batch, HttpRequest *req, JsonbContainer *root, Verdict *v)
{
	if (req->http_status == 426)
	{
		/* NONEXISTENT_VERSION: every request fails until the version moves */
		PauseFor(v, batch->nrows, "api_version_retired",
				 psprintf("LINKEDIN_426 %s", batch->dest->api_version),
				 JStr(JGet(root, "message")));
		return;
	}
	judge_linkedin(v, batch->nrows, req, root);
}

static void
build_request(DeliveryBatch *batch, HttpRequest *req, StringInfo url, StringInfo body)
{
	Destination *d = batch->dest;

	DeliveryAppendUrl(url, d->endpoint, "/rest/conversionEvents");
	DeliveryAddBearer(req, d->token);
	HttpAddHeader(req, "LinkedIn-Version", d->api_version);
	HttpAddHeader(req, "X-Restli-Protocol-Version", "2.0.0");
	HttpAddHeader(req, "X-RestLi-Method", "BATCH_CREATE");
	appendStringInfoString(body, "{\"elements\":[");
	DeliveryAppendElements(body, batch);
	appendStringInfoString(body, "]}");
}

const PlatformModule linkedin_module = {
	.name = "linkedin",
	.transport = "conversions_api",
	.default_transport = true,
	.default_endpoint = "https://api.linkedin.com",
	.default_version = "202607",
	.version_key = "linkedin_version",
	.routing = {
		.click_ids = "{li_fat_id}",
		.user_match = true,
		.consent_denied_blocks = true,
		.adjustment_policies = "{none,negative_event,custom_event}",
		.default_adjustment_policy = "none",
		.adjustment_target = "own_or_original",
		.target_account_key = "conversion_rule",
		.predicted_ltv = "never",
		.click_window = "90 days",
		.max_event_age = "90 days",
		.adjustment_max_age = "90 days",
		.max_batch = 5000,
	},
	/* J2, F: 60-day access tokens; refresh tokens (MDP partners) keep their expiry */
	.oauth = {
		.authorize_url = "https://www.linkedin.com/oauth/v2/authorization",
		.authorize_params = "{\"response_type\":\"code\"}",
		.token_url = "https://www.linkedin.com/oauth/v2/accessToken",
		.refresh_url = "https://www.linkedin.com/oauth/v2/accessToken",
		.debug_url = "https://www.linkedin.com/oauth/v2/introspectToken",
		.scopes = "{rw_conversions,r_ads}",
		.scope_separator = " ",
		.pkce = false,
		.token_body = "form",
		.client_id_field = "client_id",
		.client_secret_field = "client_secret",
		.code_param = "code",
		.refresh_style = "fixed_expiry",
		.token_header = "bearer",
	},
	.build_payload = build_payload,
	.build_request = build_request,
	.judge = judge,
};
