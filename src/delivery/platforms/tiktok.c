/*
 * tiktok.c
 *		TikTok Events API 2.0 (API-CONTRACTS.md D, J4).
 *
 * One element of data[] per event: e-mail, phone (E.164 with "+") and
 * external id as SHA-256 lists; ttclid, ttp, IP and user agent as they are.
 * The page URL is the destination's configured page, since a server-side
 * event has no page of its own.  Requests: {"event_source",
 * "event_source_id","data":[...]} to /open_api/v1.3/event/track/ with
 * Access-Token.  Answers are HTTP 200 with a code; 20001 lists the failed
 * indexes.
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
	JwBeginObject(w);
	JwFieldString(w, "event", f->target);
	JwKey(w, "event_time");
	JwInt64(w, UnixSeconds(f->event_time_us));
	JwFieldString(w, "event_id", f->dedup_key);

	JwKey(w, "user");
	JwBeginObject(w);
	JwFieldString(w, "ttclid", f->ttclid);
	JwFieldString(w, "ttp", f->ttp);
	JwFieldStringArray1(w, "email", f->email_sha256);
	JwFieldStringArray1(w, "phone", f->phone_sha256);
	JwFieldStringArray1(w, "external_id", f->external_id_sha256);
	JwFieldString(w, "ip", f->ip);
	JwFieldString(w, "user_agent", f->user_agent);
	JwEndObject(w);

	JwKey(w, "properties");
	JwBeginObject(w);
	JwFieldNumber(w, "value", f->value);
	JwFieldString(w, "currency", f->currency);
	JwFieldString(w, "order_id", f->order_id);
	JwFieldString(w, "content_type", "product");
	JwEndObject(w);

	if (f->source_url)
	{
		JwKey(w, "page");
		JwBeginObject(w);
		JwFieldString(w, "url", f->source_url);
		JwEndObject(w);
	}
	JwEndObject(w);
}

/* TikTok: outcome of one result code. */
static void
tiktok_row(RowOutcome *r, int code, const char *codestr, const char *msg)
{
	if (code == 40100 || code == 50000 || code == 50002)
		SetRow(r, ROW_RETRY, codestr, msg, 0);
	else
		SetRow(r, ROW_DEAD, codestr, msg, 0);
}

static void
judge_tiktok(Verdict *v, int n, HttpRequest *req, JsonbContainer *root)
{
	double		code;
	char	   *codestr;
	char	   *msg;

	if (v->request_id == NULL)
		v->request_id = JStr(JGet(root, "request_id"));
	if (req->http_status != 200 || !JNum(JGet(root, "code"), &code))
	{
		JudgeHttp(v, n, req, NULL, JStr(JGet(root, "message")));
		return;
	}
	codestr = psprintf("TIKTOK_%d", (int) code);
	msg = JStr(JGet(root, "message"));
	v->breaker_success = true;
	switch ((int) code)
	{
		case 0:
			SetAll(v, n, ROW_DELIVERED, NULL, NULL, 0);
			return;
		case 20001:				/* partial: data.failed_events[{index, code, message}] */
			{
				JsonbContainer *failed = JGetC(JGetC(root, "data"), "failed_events");

				SetAll(v, n, ROW_DELIVERED, NULL, NULL, 0);
				for (int i = 0; i < JSize(failed); i++)
				{
					JsonbContainer *f = JCont(JAt(failed, i));
					double		idx,
								fcode = 0;

					if (!JNum(JGet(f, "index"), &idx) || idx < 0 || idx >= n)
						continue;
					JNum(JGet(f, "code"), &fcode);
					tiktok_row(&v->rows[(int) idx], (int) fcode,
							   psprintf("TIKTOK_%d", (int) fcode), JStr(JGet(f, "message")));
				}
				return;
			}
		case 40100:				/* too many requests */
			v->breaker_success = false;
			v->throttle_s = req->retry_after_s > 0 ? req->retry_after_s : 1;
			SetAll(v, n, ROW_RETRY, codestr, msg, Max(req->retry_after_s, 0));
			return;
		case 40102:				/* access token expired */
		case 40104:				/* empty access token */
		case 40105:				/* invalid or revoked access token */
			HoldForCredential(v, n, codestr, msg);
			return;
		case 40001:				/* no permission */
			v->pause_reason = "forbidden";
			v->detail = psprintf("%s: %s", codestr, msg ? msg : "permission denied");
			SetAll(v, n, ROW_HOLD, codestr, msg, 0);
			return;
		case 50000:
		case 50002:
			v->breaker_success = false;
			v->breaker_failure = true;
			SetAll(v, n, ROW_RETRY, codestr, msg, 0);
			return;
		default:
			RejectBatch(v, n, codestr, msg);
			return;
	}
}


static void
judge(DeliveryBatch *batch, HttpRequest *req, JsonbContainer *root, Verdict *v)
{
	judge_tiktok(v, batch->nrows, req, root);
}

static void
build_request(DeliveryBatch *batch, HttpRequest *req, StringInfo url, StringInfo body)
{
	Destination *d = batch->dest;
	char	   *source = DestAccount(d, "event_source");
	char	   *source_id = DestAccount(d, "event_source_id");
	char	   *test_code = DestAccount(d, "test_event_code");

	DeliveryAppendUrl(url, d->endpoint, "/open_api/v1.3/event/track/");
	if (d->token && d->token[0])
		HttpAddHeader(req, "Access-Token", d->token);
	appendStringInfoString(body, "{\"event_source\":");
	escape_json(body, source ? source : "web");
	appendStringInfoString(body, ",\"event_source_id\":");
	escape_json(body, source_id ? source_id : "");
	if (test_code && test_code[0])
	{
		appendStringInfoString(body, ",\"test_event_code\":");
		escape_json(body, test_code);
	}
	appendStringInfoString(body, ",\"data\":[");
	DeliveryAppendElements(body, batch);
	appendStringInfoString(body, "]}");
}

const PlatformModule tiktok_module = {
	.name = "tiktok",
	.transport = "events_api",
	.default_transport = true,
	.default_endpoint = "https://business-api.tiktok.com",
	.default_version = "v1.3",
	.routing = {
		.click_ids = "{ttclid,ttp}",
		.user_match = true,
		.consent_denied_blocks = true,
		.adjustment_policies = "{none,negative_event,custom_event}",
		.default_adjustment_policy = "none",
		.adjustment_target = "event",
		.standard_events = "{\"trial_started\":\"StartTrial\",\"subscription_started\":\"Subscribe\",\"renewal\":\"CompletePayment\",\"upgrade\":\"CompletePayment\",\"downgrade\":\"CompletePayment\",\"reactivated\":\"CompletePayment\",\"one_time_purchase\":\"CompletePayment\"}",
		.adjustment_events = "{\"refund\":\"Refund\",\"chargeback\":\"Chargeback\",\"chargeback_reversed\":\"ChargebackReversed\",\"*\":\"Downgrade\"}",
		.predicted_ltv = "never",
		.click_window = "28 days",
		.max_event_age = "28 days",
		.adjustment_max_age = "28 days",
		.max_batch = 1000,
	},
	/* J2, J4: advertiser authorization; scopes are fixed on the app */
	.oauth = {
		.authorize_url = "https://business-api.tiktok.com/portal/auth",
		.authorize_params = "{}",
		.token_url = "https://business-api.tiktok.com/open_api/v1.3/oauth2/access_token/",
		.refresh_url = "https://business-api.tiktok.com/open_api/v1.3/tt_user/oauth2/refresh_token/",
		.scopes = "{}",
		.scope_separator = ",",
		.pkce = false,
		.token_body = "json",
		.client_id_field = "app_id",
		.client_secret_field = "secret",
		.code_param = "auth_code",
		.refresh_style = "rotating",
		.token_header = "access_token",
	},
	.build_payload = build_payload,
	.build_request = build_request,
	.judge = judge,
};
