/*
 * payload_format.h
 *		The facts one outbox payload is built from, and the formats the
 *		platform builders share.
 *
 * The SQL side (routing.sql) gathers the facts: it resolves the conversion,
 * the user's touches, hashed identifiers, consent and the destination's
 * settings into one attribution._payload_facts row.  The builders (one per
 * platform module, src/delivery/platforms/) only format: they read no
 * table and make no decision beyond which fields to use or leave out.
 */
#ifndef ATTR_PAYLOAD_FORMAT_H
#define ATTR_PAYLOAD_FORMAT_H

#include "delivery/jsonw.h"

/* consent states (attribution.consents) */
#define CONSENT_UNKNOWN (-1)
#define CONSENT_DENIED 0
#define CONSENT_GRANTED 1

typedef struct PayloadFacts
{
	const char *platform;		/* attribution.platforms */
	const char *transport;
	bool		adjustment;		/* outbox kind 'adjustment' */
	const char *lifecycle;		/* billing kind: renewal, refund, ... */
	const char *target;			/* event name, conversion action or rule id */
	const char *account_id;		/* Google Ads customer id, digits */
	const char *dedup_key;		/* event_id / eventId / orderId */
	const char *order_id;		/* order the event is about (adjustments: the original) */
	int64		event_time_us;	/* microseconds since the Unix epoch */
	int64		original_time_us;	/* adjustments: the original's time, else 0 */
	const char *value;			/* decimal text, see FormatDecimal */
	const char *currency;		/* ISO 4217, upper case */
	const char *predicted_ltv;	/* decimal text or NULL */
	const char *ltv;			/* decimal text or NULL */
	const char *adjustment_type;	/* Google: RETRACTION or RESTATEMENT */
	const char *email_sha256;	/* trimmed, lower case */
	const char *email_sha256_google;	/* Google's normalisation (B4) */
	const char *phone_sha256;	/* E.164 with "+": Google, TikTok */
	const char *phone_sha256_meta;	/* E.164 without "+": Meta */
	const char *ip_sha256;		/* LinkedIn SHA256_IP_ADDRESS */
	const char *external_id_sha256;
	const char *gclid;
	const char *gbraid;
	const char *wbraid;
	const char *fbc;
	const char *fbp;
	const char *ttclid;
	const char *ttp;
	const char *li_fat_id;
	const char *ip;
	const char *user_agent;
	int			ad_user_data;	/* CONSENT_* */
	int			ad_personalization;
	const char *action_source;	/* Meta */
	const char *source_url;		/* Meta event_source_url, TikTok page.url */
	const char *user_id;		/* webhook only */
	const char *provider;		/* billing provider */
	int64		conversion_id;	/* webhook only */
} PayloadFacts;

/* formatting shared by the builders (payload_format.c) */
extern char *FormatDecimal(const char *numeric_text);
extern void FormatGoogleDateTime(int64 unix_us, char out[32]);
extern void FormatIsoUtc(int64 unix_us, char out[32]);
extern int64 UnixSeconds(int64 unix_us);
extern int64 UnixMillis(int64 unix_us);

#endif							/* ATTR_PAYLOAD_FORMAT_H */
