/*
 * platform.h
 *		What the delivery engine asks of an ad platform, in one place.
 *
 * Each platform is one module under src/delivery/platforms/ that fills one
 * PlatformModule: what it claims and why not (the routing facts it
 * declares, registered into attribution.platforms), how a payload is built
 * from a conversion's facts, how a batch request is assembled, how the
 * answer is judged per row, and its default API version.  The engine
 * (batch.c, response.c, payload.c, the worker) only calls through this
 * struct and never names a platform; adding one is a file, a line in
 * registry.c and its tests.
 */
#ifndef ATTR_PLATFORM_H
#define ATTR_PLATFORM_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "delivery/payload_format.h"

struct DeliveryBatch;
struct Destination;
struct HttpRequest;
struct Verdict;

/*
 * What routing may decide from data: registered into attribution.platforms
 * at CREATE EXTENSION (see registry.c), read by routing.sql.  Text arrays
 * and JSON objects are written as SQL literals.
 */
typedef struct PlatformRouting
{
	const char *click_ids;		/* click ids that match: '{gclid,gbraid,wbraid}' */
	bool		user_match;		/* hashed e-mail or phone matches without a click */
	bool		match_always;	/* every conversion matches (the company's own endpoint) */
	bool		lead_option;	/* matches by e-mail or phone only with leads_without_click */
	bool		consent_denied_blocks;	/* no consent field: a denial means not sent */
	bool		carries_consent;	/* its payload states consent (rebuilt on a change) */
	const char *adjustment_policies;	/* '{none,retract,restate}' */
	const char *default_adjustment_policy;
	bool		adjustment_age_from_original;	/* age limit counts from the original */
	const char *adjustment_target;	/* original | own_or_original | event */
	const char *target_account_key; /* account key of the default target, or NULL */
	const char *standard_events;	/* JSON kind -> event name, or NULL */
	const char *adjustment_events;	/* JSON kind -> event name ("*": others), or NULL */
	bool		events_are_kinds;	/* the lifecycle kind is the event name */
	const char *predicted_ltv;	/* never | value_mode | always: a field of its own */
	const char *click_window;	/* interval literals */
	const char *max_event_age;
	const char *adjustment_max_age;
	int			max_batch;		/* events per request */
} PlatformRouting;

/*
 * How a customer's account is connected and its token kept fresh
 * (API-CONTRACTS.md F and J2), registered into attribution.platforms for
 * the credentials code (src/auth, attribution.credentials): the real
 * endpoints are defaults a destination may override.  NULL fields: the
 * platform has no such step.
 */
typedef struct PlatformOAuth
{
	const char *authorize_url;	/* consent page of the authorization-code flow */
	const char *authorize_params;	/* JSON of fixed extra consent parameters */
	const char *token_url;		/* code exchange */
	const char *refresh_url;	/* refresh grant (or long-lived exchange) */
	const char *debug_url;		/* token inspection */
	const char *scopes;			/* text[] literal; '{}' when fixed on the app */
	const char *scope_separator;	/* how scopes are joined in the consent URL */
	bool		pkce;			/* accepts an S256 code_challenge */
	const char *token_body;		/* form | json | query: how the token endpoint takes its fields */
	const char *client_id_field;	/* the field naming the app at the token endpoint */
	const char *client_secret_field;
	const char *code_param;		/* the callback's code parameter */

	/*
	 * refresh_token: a refresh grant renews the access token, no new
	 * refresh token comes back (Google); rotating: the answer may carry a
	 * new refresh token that replaces the old one (TikTok); fixed_expiry: a
	 * refresh does not extend the refresh token's own expiry (LinkedIn);
	 * exchange: no refresh grant, tokens are checked with debug_url and
	 * long-lived ones exchanged (Meta); none: no OAuth (webhook)
	 */
	const char *refresh_style;
	const char *token_header;	/* how delivery sends the token: bearer | access_token */
} PlatformOAuth;

typedef struct PlatformModule
{
	const char *name;			/* attribution.destinations.platform */
	const char *transport;		/* NULL, or the transport among a platform's modules */
	bool		default_transport;	/* the transport new destinations get */
	const char *default_endpoint;
	const char *default_version;	/* API version when the account names none */
	const char *version_key;	/* account key holding the version */
	PlatformRouting routing;
	PlatformOAuth oauth;

	/* one event element from the facts routing gathered */
	void		(*build_payload) (JsonWriter *w, const PayloadFacts *f);

	/*
	 * true when adjustments need a request of their own (another URL or
	 * envelope) rather than sharing a batch with conversions
	 */
	bool		separate_adjustments;
	/* URL, headers and body of a batch (helpers in batch.c) */
	void		(*build_request) (struct DeliveryBatch *batch, struct HttpRequest *req,
								  StringInfo url, StringInfo body);
	/* one outcome per row from the answer; root is NULL when not JSON */
	void		(*judge) (struct DeliveryBatch *batch, struct HttpRequest *req,
						  JsonbContainer *root, struct Verdict *v);

	/*
	 * Platforms that accept a request before processing it: the status
	 * request of an accepted one, and its judging.  NULL otherwise.
	 */
	void		(*build_status_request) (struct Destination *dest, const char *request_id,
										 struct HttpRequest *req, StringInfo url);
	void		(*judge_status) (struct HttpRequest *req, JsonbContainer *root,
								 struct Verdict *v);
} PlatformModule;

/* registry.c */
extern const PlatformModule *PlatformLookup(const char *name, const char *transport);

#endif							/* ATTR_PLATFORM_H */
