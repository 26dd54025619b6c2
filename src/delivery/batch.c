/*
 * batch.c
 *		One HTTP request per batch: URL, headers and envelope per platform.
 *
 * Each outbox row already holds one platform event element, built to the
 * platform's contract when the row was routed; a request wraps the elements
 * of a batch in the platform's envelope by plain concatenation of their JSON
 * text, so nothing is parsed or re-serialised on the hot path:
 *
 *   Google    {"conversions":[...],"partialFailure":true} to
 *             /{v}/customers/{cid}:uploadClickConversions, or
 *             {"conversionAdjustments":[...],"partialFailure":true} to
 *             :uploadConversionAdjustments (Bearer token, developer-token,
 *             login-customer-id)
 *   Meta      {"data":[...],"test_event_code":..} to /{vNN.0}/{pixel}/events
 *             with access_token in the query string
 *   TikTok    {"event_source","event_source_id","data":[...]} to
 *             /open_api/v1.3/event/track/ with Access-Token
 *   LinkedIn  {"elements":[...]} to /rest/conversionEvents with
 *             LinkedIn-Version, X-Restli-Protocol-Version 2.0.0 and
 *             X-RestLi-Method BATCH_CREATE
 *   webhook   the event object itself (one per request) to the endpoint,
 *             with Idempotency-Key
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/json.h"

#include "delivery/delivery.h"
#include "delivery/http_engine.h"

static const char *const platform_names[] = {
	"google_ads", "meta", "tiktok", "linkedin", "webhook"
};

const char *
DeliveryPlatformName(DeliveryPlatform p)
{
	return platform_names[p];
}

bool
DeliveryParsePlatform(const char *name, DeliveryPlatform *p)
{
	for (int i = 0; i < (int) lengthof(platform_names); i++)
	{
		if (strcmp(name, platform_names[i]) == 0)
		{
			*p = (DeliveryPlatform) i;
			return true;
		}
	}
	return false;
}

/* The endpoint without trailing slashes, followed by path. */
static void
append_url(StringInfo url, const char *endpoint, const char *path)
{
	int			len = strlen(endpoint);

	while (len > 0 && endpoint[len - 1] == '/')
		len--;
	appendBinaryStringInfo(url, endpoint, len);
	appendStringInfoString(url, path);
}

/* The batch's elements, comma-separated. */
static void
append_elements(StringInfo body, DeliveryBatch *batch)
{
	for (int i = 0; i < batch->nrows; i++)
	{
		if (i > 0)
			appendStringInfoChar(body, ',');
		appendBinaryStringInfo(body, batch->rows[i].payload, batch->rows[i].payload_len);
	}
}

static void
add_bearer(HttpRequest *req, const char *token)
{
	StringInfoData v;

	if (token == NULL || token[0] == '\0')
		return;
	initStringInfo(&v);
	appendStringInfo(&v, "Bearer %s", token);
	HttpAddHeader(req, "Authorization", v.data);
	explicit_bzero(v.data, v.len);
	pfree(v.data);
}

/*
 * Fill req with the URL, headers and body of batch.  Strings go through
 * palloc in the caller's (short-lived) context and are copied into the
 * request's malloc'd memory.
 */
void
DeliveryBuildRequest(DeliveryBatch *batch, HttpRequest *req)
{
	Destination *d = batch->dest;
	StringInfoData url;
	StringInfoData body;

	initStringInfo(&url);
	initStringInfo(&body);
	HttpAddHeader(req, "Content-Type", "application/json");

	switch (d->platform)
	{
		case PLATFORM_GOOGLE_ADS:
			append_url(&url, d->endpoint, "/");
			appendStringInfo(&url, "%s/customers/%s:%s",
							 d->api_version ? d->api_version : "v24",
							 d->customer_id ? d->customer_id : "",
							 batch->adjustment ? "uploadConversionAdjustments"
							 : "uploadClickConversions");
			add_bearer(req, d->token);
			if (d->developer_token && d->developer_token[0])
				HttpAddHeader(req, "developer-token", d->developer_token);
			if (d->login_customer_id && d->login_customer_id[0])
				HttpAddHeader(req, "login-customer-id", d->login_customer_id);
			appendStringInfoString(&body, batch->adjustment ? "{\"conversionAdjustments\":["
								   : "{\"conversions\":[");
			append_elements(&body, batch);
			appendStringInfoString(&body, "],\"partialFailure\":true}");
			break;

		case PLATFORM_META:
			{
				char	   *tok = curl_easy_escape(NULL, d->token ? d->token : "", 0);

				append_url(&url, d->endpoint, "/");
				appendStringInfo(&url, "%s/%s/events?access_token=%s",
								 d->api_version ? d->api_version : "v25.0",
								 d->pixel_id ? d->pixel_id : "",
								 tok ? tok : "");
				if (tok)
				{
					explicit_bzero(tok, strlen(tok));
					curl_free(tok);
				}
				appendStringInfoString(&body, "{\"data\":[");
				append_elements(&body, batch);
				appendStringInfoChar(&body, ']');
				if (d->test_event_code && d->test_event_code[0])
				{
					appendStringInfoString(&body, ",\"test_event_code\":");
					escape_json(&body, d->test_event_code);
				}
				appendStringInfoChar(&body, '}');
			}
			break;

		case PLATFORM_TIKTOK:
			append_url(&url, d->endpoint, "/open_api/v1.3/event/track/");
			if (d->token && d->token[0])
				HttpAddHeader(req, "Access-Token", d->token);
			appendStringInfoString(&body, "{\"event_source\":");
			escape_json(&body, d->event_source ? d->event_source : "web");
			appendStringInfoString(&body, ",\"event_source_id\":");
			escape_json(&body, d->event_source_id ? d->event_source_id : "");
			if (d->test_event_code && d->test_event_code[0])
			{
				appendStringInfoString(&body, ",\"test_event_code\":");
				escape_json(&body, d->test_event_code);
			}
			appendStringInfoString(&body, ",\"data\":[");
			append_elements(&body, batch);
			appendStringInfoString(&body, "]}");
			break;

		case PLATFORM_LINKEDIN:
			append_url(&url, d->endpoint, "/rest/conversionEvents");
			add_bearer(req, d->token);
			HttpAddHeader(req, "LinkedIn-Version",
						  d->linkedin_version ? d->linkedin_version : "202603");
			HttpAddHeader(req, "X-Restli-Protocol-Version", "2.0.0");
			HttpAddHeader(req, "X-RestLi-Method", "BATCH_CREATE");
			appendStringInfoString(&body, "{\"elements\":[");
			append_elements(&body, batch);
			appendStringInfoString(&body, "]}");
			break;

		case PLATFORM_WEBHOOK:
			append_url(&url, d->endpoint, "");
			add_bearer(req, d->token);
			HttpAddHeader(req, "Idempotency-Key", batch->rows[0].dedup_key);
			append_elements(&body, batch);
			break;
	}

	HttpSetUrl(req, url.data);
	HttpSetBody(req, body.data, body.len);
	explicit_bzero(url.data, url.len);
	pfree(url.data);
	pfree(body.data);
}
