/*
 * webhook.h
 *		Webhook sources, their settings and the event keys of their bodies.
 */
#ifndef ATTR_WEBHOOK_H
#define ATTR_WEBHOOK_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "ingest/signature.h"

/* Longest event id stored as sent; longer ones are stored as a digest. */
#define WEBHOOK_MAX_EVENT_ID 255
#define WEBHOOK_MAX_EVENT_TYPE 255
/* Most values of one header looked at, and most secrets active per source. */
#define WEBHOOK_MAX_HEADER_VALUES 8
#define WEBHOOK_MAX_SECRETS 16
/*
 * Shortest and longest webhook secret accepted by set_webhook_secret, in
 * bytes: a secret of a few bytes is guessed by anyone who can post to the
 * webhook (Lemon Squeezy, whose secret the user chooses, asks for 6 to 40).
 */
#define WEBHOOK_MIN_SECRET_LEN 8
#define WEBHOOK_MAX_SECRET_LEN 512

extern int	attr_max_webhook_body;

/* One row of attribution.webhook_sources, with its active secrets. */
typedef struct WebhookSource
{
	char	   *name;
	char	   *scheme_name;
	SigConfig	sig;
	char	   *signature_header;
	bool		enabled;
	int			nid_paths;
	char	  **id_paths;		/* dotted paths, a trailing '?' when optional */
	char	   *type_path;		/* dotted path, or NULL */
	int			nsecrets;
	bytea	  **secrets;		/* vault blobs, newest first */
} WebhookSource;

extern void WebhookInit(void);
extern void WebhookSourceCacheInit(void);

/* Within SPI: the source's row (and ciphertexts), false when unknown. */
extern bool WebhookLoadSource(const char *name, bool with_secrets, WebhookSource *src,
							  MemoryContext cxt);

/* Values of a header (names compared case-insensitively); returns the count. */
extern int	WebhookHeaderValues(Jsonb *headers, const char *name, char **values, int max);

/*
 * The event id and type of a JSON body under the source's rules.  Returns
 * NULL when the body is a JSON object the server can store as jsonb, else
 * a sentence saying what is wrong with it.
 */
extern char *WebhookExtractEvent(char *body, int len, const WebhookSource *src,
								 const char *body_sha256, char **event_id, char **event_type);

#endif							/* ATTR_WEBHOOK_H */
