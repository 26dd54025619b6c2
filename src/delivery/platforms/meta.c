/*
 * meta.c
 *		Meta Conversions API (API-CONTRACTS.md C, versions J3).
 *
 * One element of data[] per event: hashed identifiers (em, ph,
 * external_id) as one-element lists -- the phone in E.164 without the
 * "+" -- and fbc, fbp, IP and user agent as they are.  action_source is
 * system_generated unless the destination says otherwise; website also
 * sends the page URL.  Adjustments (policy negative_event or custom_event)
 * are ordinary events with their own event_id and the value routing
 * computed.  Requests: {"data":[...],"test_event_code":..} to
 * /{vNN.0}/{pixel}/events with access_token in the query string.  Answers:
 * Meta has no per-event result, so one bad event fails the batch, which
 * is split until it is alone; errors are classified on their code.
 */
#include "postgres.h"

#include "delivery/delivery.h"
#include "delivery/http_engine.h"
#include "delivery/judge.h"
#include "delivery/request_kit.h"
#include "delivery/platforms/platform.h"
#include "utils/json.h"

static void
build_payload(JsonWriter *w, const PayloadFacts *f)
{
	const char *source = f->action_source ? f->action_source : "system_generated";

	JwBeginObject(w);
	JwFieldString(w, "event_name", f->target);
	JwKey(w, "event_time");
	JwInt64(w, UnixSeconds(f->event_time_us));
	JwFieldString(w, "event_id", f->dedup_key);
	JwFieldString(w, "action_source", source);
	if (strcmp(source, "website") == 0)
		JwFieldString(w, "event_source_url", f->source_url);

	JwKey(w, "user_data");
	JwBeginObject(w);
	JwFieldStringArray1(w, "em", f->email_sha256);
	JwFieldStringArray1(w, "ph", f->phone_sha256_meta);
	JwFieldStringArray1(w, "external_id", f->external_id_sha256);
	JwFieldString(w, "fbc", f->fbc);
	JwFieldString(w, "fbp", f->fbp);
	JwFieldString(w, "client_ip_address", f->ip);
	JwFieldString(w, "client_user_agent", f->user_agent);
	JwEndObject(w);

	JwKey(w, "custom_data");
	JwBeginObject(w);
	JwFieldNumber(w, "value", f->value);
	JwFieldString(w, "currency", f->currency);
	JwFieldNumber(w, "predicted_ltv", f->predicted_ltv);
	JwEndObject(w);
	JwEndObject(w);
}

static void
judge_meta(Verdict *v, int n, HttpRequest *req, JsonbContainer *root)
{
	JsonbContainer *err = JGetC(root, "error");
	double		code = 0,
				sub = 0;
	char	   *codestr;
	char	   *msg;

	if (v->request_id == NULL)
		v->request_id = JStr(JGet(root, "fbtrace_id"));
	if (err == NULL)
	{
		JudgeHttp(v, n, req, NULL, NULL);
		return;
	}
	if (v->request_id == NULL)
		v->request_id = JStr(JGet(err, "fbtrace_id"));
	JNum(JGet(err, "code"), &code);
	JNum(JGet(err, "error_subcode"), &sub);
	codestr = sub != 0 ? psprintf("META_%d_%d", (int) code, (int) sub) : psprintf("META_%d", (int) code);
	msg = JStr(JGet(err, "error_user_title"));
	if (msg == NULL)
		msg = JStr(JGet(err, "message"));

	switch ((int) code)
	{
		case 190:				/* invalid or expired access token */
		case 102:
			HoldForCredential(v, n, codestr, msg);
			return;
		case 4:					/* throttled */
		case 17:
		case 32:
		case 613:
		case 80003:
			{
				double		after = Max(req->retry_after_s, 0);

				v->throttle_s = after > 0 ? after : 60;
				SetAll(v, n, ROW_RETRY, codestr, msg, Max(after, 0));
				return;
			}
		case 1:					/* transient */
		case 2:
		case 21009:
			v->breaker_failure = req->http_status >= 500;
			SetAll(v, n, ROW_RETRY, codestr, msg, 0);
			return;
		case 10:				/* permission */
		case 200:
			v->pause_reason = "forbidden";
			v->detail = psprintf("%s: %s", codestr, msg ? msg : "permission denied");
			SetAll(v, n, ROW_HOLD, codestr, msg, 0);
			return;
		default:
			if (JBool(JGet(err, "is_transient")) || req->http_status >= 500)
			{
				v->breaker_failure = req->http_status >= 500;
				SetAll(v, n, ROW_RETRY, codestr, msg, 0);
				return;
			}
			/* one bad event rejects the whole batch: isolate it */
			v->breaker_success = true;
			RejectBatch(v, n, codestr, msg);
			return;
	}
}


static void
judge(DeliveryBatch *batch, HttpRequest *req, JsonbContainer *root, Verdict *v)
{
	judge_meta(v, batch->nrows, req, root);
}

static void
build_request(DeliveryBatch *batch, HttpRequest *req pg_attribute_unused(), StringInfo url,
			  StringInfo body)
{
	Destination *d = batch->dest;
	char	   *pixel = DestAccount(d, "pixel_id");
	char	   *test_code = DestAccount(d, "test_event_code");
	char	   *tok = curl_easy_escape(NULL, d->token ? d->token : "", 0);

	DeliveryAppendUrl(url, d->endpoint, "/");
	appendStringInfo(url, "%s/%s/events?access_token=%s", d->api_version,
					 pixel ? pixel : "", tok ? tok : "");
	if (tok)
	{
		explicit_bzero(tok, strlen(tok));
		curl_free(tok);
	}
	appendStringInfoString(body, "{\"data\":[");
	DeliveryAppendElements(body, batch);
	appendStringInfoChar(body, ']');
	if (test_code && test_code[0])
	{
		appendStringInfoString(body, ",\"test_event_code\":");
		escape_json(body, test_code);
	}
	appendStringInfoChar(body, '}');
}

const PlatformModule meta_module = {
	.name = "meta",
	.transport = "conversions_api",
	.default_transport = true,
	.default_endpoint = "https://graph.facebook.com",
	.default_version = "v27.0",
	.version_key = "api_version",
	.routing = {
		.click_ids = "{fbc,fbp}",
		.user_match = true,
		.consent_denied_blocks = true,
		.adjustment_policies = "{none,negative_event,custom_event}",
		.default_adjustment_policy = "none",
		.adjustment_target = "event",
		.standard_events = "{\"trial_started\":\"StartTrial\",\"subscription_started\":\"Subscribe\",\"renewal\":\"Purchase\",\"upgrade\":\"Purchase\",\"downgrade\":\"Purchase\",\"reactivated\":\"Purchase\",\"one_time_purchase\":\"Purchase\"}",
		.adjustment_events = "{\"refund\":\"Refund\",\"chargeback\":\"Chargeback\",\"chargeback_reversed\":\"ChargebackReversed\",\"*\":\"Downgrade\"}",
		.predicted_ltv = "value_mode",
		.click_window = "28 days",
		.max_event_age = "7 days",
		.adjustment_max_age = "7 days",
		.max_batch = 1000,
	},

	/*
	 * J2, F: a Business Manager system-user token needs no consent flow and
	 * has no refresh grant; Facebook Login user tokens are exchanged for
	 * long-lived ones.  debug_token reports validity and expiry.
	 */
	.oauth = {
		.authorize_url = "https://www.facebook.com/v27.0/dialog/oauth",
		.authorize_params = "{\"response_type\":\"code\"}",
		.token_url = "https://graph.facebook.com/v27.0/oauth/access_token",
		.refresh_url = "https://graph.facebook.com/v27.0/oauth/access_token",
		.debug_url = "https://graph.facebook.com/debug_token",
		.scopes = "{ads_management,business_management}",
		.scope_separator = ",",
		.pkce = false,
		.token_body = "query",
		.client_id_field = "client_id",
		.client_secret_field = "client_secret",
		.code_param = "code",
		.refresh_style = "exchange",
		.token_header = "bearer",
	},
	.build_payload = build_payload,
	.build_request = build_request,
	.judge = judge,
};
