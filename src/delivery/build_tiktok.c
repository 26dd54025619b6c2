/*
 * build_tiktok.c
 *		TikTok Events API 2.0: one element of data[] (API-CONTRACTS.md D).
 *
 * E-mail and external id are SHA-256 lists; ttclid, ttp, IP and user agent
 * go as they are.  The page URL is the destination's configured page, since
 * a server-side event has no page of its own.
 */
#include "postgres.h"

#include "delivery/payload.h"

void
BuildTiktokPayload(JsonWriter *w, const PayloadFacts *f)
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
