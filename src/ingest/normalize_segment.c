/*
 * normalize_segment.c
 *		Segment and RudderStack calls (their common JSON shape) to capture
 *		calls: a page becomes a touchpoint through track_touch, an identify
 *		links the anonymous visitor to the user.
 *
 * track calls (such as "Order Completed") are not revenue the ledger can
 * trust: revenue comes from the billing providers' own webhooks.  They are
 * marked skipped, so the inbox still shows they arrived.
 */
#include "postgres.h"

#include "ingest/ingest.h"

/* The event time: timestamp, else originalTimestamp, else receipt. */
static TimestampTz
EventTime(NormContext *ctx)
{
	TimestampTz t;

	if (JsonTimestamp(ctx->root, "timestamp", &t) ||
		JsonTimestamp(ctx->root, "originalTimestamp", &t))
		return t;
	return ctx->row->received_at;
}

static NormResult
Page(NormContext *ctx)
{
	JsonbContainer *props = JsonObject(ctx->root, "properties");
	JsonbContainer *context = JsonObject(ctx->root, "context");
	JsonbContainer *page = JsonObject(context, "page");
	char	   *anonymous = JsonString(ctx->root, "anonymousId");
	char	   *user = JsonString(ctx->root, "userId");
	char	   *url = JsonString(props, "url");
	char	   *referrer = JsonString(props, "referrer");

	if (url == NULL)
		url = JsonString(page, "url");
	if (referrer == NULL)
		referrer = JsonString(page, "referrer");
	if (anonymous == NULL)
		anonymous = user;
	if (anonymous == NULL || url == NULL)
		return NORM_SKIPPED;	/* nothing to attribute a landing to */
	CallTrackTouch(anonymous, url, referrer, EventTime(ctx), user,
				   JsonString(context, "ip"), JsonString(context, "userAgent"));
	return NORM_DONE;
}

static NormResult
Identify(NormContext *ctx)
{
	char	   *anonymous = JsonString(ctx->root, "anonymousId");
	char	   *user = JsonString(ctx->root, "userId");

	if (anonymous == NULL || user == NULL)
		return NORM_SKIPPED;
	CallIdentify(anonymous, user);
	return NORM_DONE;
}

NormResult
NormalizeSegment(NormContext *ctx)
{
	char	   *type = JsonString(ctx->root, "type");

	if (type == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s event %s has no type", ctx->row->source, ctx->row->event_id)));
	if (strcmp(type, "page") == 0)
		return Page(ctx);
	if (strcmp(type, "identify") == 0)
		return Identify(ctx);
	return NORM_SKIPPED;
}
