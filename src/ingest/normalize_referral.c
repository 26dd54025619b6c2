/*
 * normalize_referral.c
 *		Friendbuy, Mention Me and Extole events to referral facts.
 *
 * Referral platforms report rewards and referrals, not money received, so
 * they go to attribution.referral_events and never become conversions.
 * The user ids they carry are the application's own (passed to the
 * platform's widget), kept as they are.
 */
#include "postgres.h"

#include "utils/json.h"

#include "ingest/ingest.h"

/*
 * A platform's event type as a fact kind: camelCase to snake_case, lower
 * case, anything but letters, digits, '_' and '.' as '_'.
 */
static char *
KindOf(const char *type)
{
	StringInfoData buf;
	const char *p;

	if (type == NULL || type[0] == '\0')
		return pstrdup("event");
	initStringInfo(&buf);
	if (!(type[0] >= 'a' && type[0] <= 'z') && !(type[0] >= 'A' && type[0] <= 'Z'))
		appendStringInfoString(&buf, "event_");
	for (p = type; *p != '\0'; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c >= 'A' && c <= 'Z')
		{
			if (p != type && buf.len > 0 && buf.data[buf.len - 1] != '_')
				appendStringInfoChar(&buf, '_');
			appendStringInfoChar(&buf, (char) (c - 'A' + 'a'));
		}
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')
			appendStringInfoChar(&buf, (char) c);
		else
			appendStringInfoChar(&buf, '_');
	}
	return buf.data;
}

static TimestampTz
TimeOr(JsonbContainer *c, const char *key, TimestampTz fallback)
{
	TimestampTz t;

	return JsonTimestamp(c, key, &t) ? t : fallback;
}

/* Friendbuy: one envelope, an array of reward items. */
static NormResult
Friendbuy(NormContext *ctx)
{
	char	   *type = JsonString(ctx->root, "type");
	char	   *kind = KindOf(type);
	JsonbContainer *items = JsonArray(ctx->root, "data");
	TimestampTz envelope_time = TimeOr(ctx->root, "createdOn", ctx->row->received_at);
	int			n = JsonArrayLength(items);
	int			i;

	if (items == NULL)
	{
		JsonbContainer *one = JsonObject(ctx->root, "data");

		if (one == NULL)
			return NORM_SKIPPED;
		RecordReferral(ctx, kind,
					   JsonString(one, "rewardId") ? psprintf("reward:%s", JsonString(one, "rewardId"))
					   : psprintf("event:%s", ctx->row->event_id),
					   JsonString(one, "customerId"), JsonString(one, "customerId"),
					   JsonString(one, "emailAddress"),
					   JsonString(one, "amount") ? JsonString(one, "amount") : JsonString(one, "rewardAmount"),
					   JsonString(one, "rewardUnit"), TimeOr(one, "createdOn", envelope_time), NULL);
		return NORM_DONE;
	}
	for (i = 0; i < n; i++)
	{
		JsonbContainer *item = JsonArrayObject(items, i);
		char	   *reward_id;
		char	   *amount;
		StringInfoData details;

		if (item == NULL)
			continue;
		reward_id = JsonString(item, "rewardId");
		amount = JsonString(item, "amount");
		if (amount == NULL)
			amount = JsonString(item, "rewardAmount");
		initStringInfo(&details);
		appendStringInfoString(&details, "{\"reward_type\":");
		escape_json(&details, JsonString(item, "rewardType") ? JsonString(item, "rewardType") : "");
		appendStringInfoString(&details, ",\"coupon_code\":");
		escape_json(&details, JsonString(item, "couponCode") ? JsonString(item, "couponCode") : "");
		appendStringInfoChar(&details, '}');
		RecordReferral(ctx, kind,
					   reward_id ? psprintf("reward:%s", reward_id)
					   : psprintf("event:%s:%d", ctx->row->event_id, i),
					   JsonString(item, "customerId"), JsonString(item, "customerId"),
					   JsonString(item, "emailAddress"), amount, JsonString(item, "rewardUnit"),
					   TimeOr(item, "createdOn", envelope_time), details.data);
	}
	return NORM_DONE;
}

/* Mention Me: the customer is named by its unique identifier. */
static NormResult
MentionMe(NormContext *ctx)
{
	JsonbContainer *customer = JsonObject(ctx->root, "customer");
	JsonbContainer *reward = JsonObject(ctx->root, "reward");
	char	   *id = JsonString(ctx->root, "id");

	RecordReferral(ctx, KindOf(JsonString(ctx->root, "type")),
				   psprintf("event:%s", id ? id : ctx->row->event_id),
				   JsonString(customer, "uniqueIdentifier"),
				   JsonString(customer, "uniqueIdentifier"),
				   JsonString(customer, "email"),
				   JsonString(reward, "amount"), JsonString(reward, "currency"),
				   TimeOr(ctx->root, "createdAt", ctx->row->received_at), NULL);
	return NORM_DONE;
}

/* Extole: flat body; partner_user_id is the application's user id. */
static NormResult
Extole(NormContext *ctx)
{
	char	   *reward_id = JsonString(ctx->root, "reward_id");
	char	   *event_id = JsonString(ctx->root, "event_id");

	RecordReferral(ctx, KindOf(JsonString(ctx->root, "type")),
				   reward_id ? psprintf("reward:%s", reward_id)
				   : psprintf("event:%s", event_id ? event_id : ctx->row->event_id),
				   JsonString(ctx->root, "partner_user_id"),
				   JsonString(ctx->root, "partner_user_id"),
				   JsonString(ctx->root, "email"),
				   JsonString(ctx->root, "face_value"),
				   JsonString(ctx->root, "face_value_type"),
				   TimeOr(ctx->root, "event_time", ctx->row->received_at), NULL);
	return NORM_DONE;
}

NormResult
NormalizeReferral(NormContext *ctx)
{
	if (strcmp(ctx->row->source, "friendbuy") == 0)
		return Friendbuy(ctx);
	if (strcmp(ctx->row->source, "mentionme") == 0)
		return MentionMe(ctx);
	return Extole(ctx);
}
