/*
 * delivery.h
 *		Types shared by the delivery worker's files: destinations as the
 *		worker caches them, claimed batches, and per-row outcomes.
 */
#ifndef ATTR_DELIVERY_H
#define ATTR_DELIVERY_H

#include "lib/ilist.h"
#include "lib/stringinfo.h"
#include "storage/latch.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "delivery/breaker.h"
#include "delivery/ratelimit.h"

struct HttpRequest;
struct PlatformModule;

/*
 * A destination as the worker sees it: its configuration, re-read at every
 * claim cycle into cxt, and its runtime state (breaker, rate limiter,
 * requests in flight, queued batches), which lives as long as the worker.
 */
typedef struct Destination
{
	int			id;
	MemoryContext cxt;			/* configuration strings; reset on reload */
	const struct PlatformModule *module;	/* platform and transport */
	char	   *endpoint;
	char	   *token;			/* never logged */
	char	   *developer_token;	/* a second credential, when the platform has one */
	char	   *api_version;	/* the account's, else the module's default */
	Jsonb	   *account;		/* platform account fields (DestAccount) */
	int			batch_size;
	int			max_in_flight;
	double		rate_limit;		/* requests per second */
	int			breaker_threshold;
	int64		breaker_cooldown_ms;
	bool		enabled;
	bool		paused;
	TimestampTz paused_until;	/* finite pause end, 0 when none */
	bool		seen;			/* present in the last reload */

	/* runtime state */
	Breaker		breaker;
	TokenBucket bucket;
	int			in_flight;
	TimestampTz throttled_until;	/* after a 429: send nothing before */
	TimestampTz next_poll;		/* accepted requests' status: look again then */
	bool		more_due;		/* the last claim was full: claim again */
	bool		need_due;		/* look up when its next row falls due */
	dlist_head	queue;			/* claimed batches waiting to be sent */
} Destination;

typedef struct DeliveryRow
{
	int64		id;
	int32		claim;			/* attempts at claim time: the claim token */
	char	   *dedup_key;
	char	   *payload;		/* the platform event element, JSON text */
	int			payload_len;
} DeliveryRow;

/* One request's worth of claimed rows of one destination and kind. */
typedef struct DeliveryBatch
{
	dlist_node	node;
	MemoryContext cxt;			/* the batch and its rows */
	Destination *dest;
	bool		adjustment;		/* adjustments, when the module sends them apart */
	char	   *status_of;		/* a status request: the accepted request's id */
	int			nrows;
	DeliveryRow *rows;
	int			depth;			/* times split to isolate a bad event */
	struct HttpRequest *req;
	TimestampTz sent_at;
} DeliveryBatch;

/* Outcome of one row, from a response. */
typedef enum RowOutcomeKind
{
	ROW_DELIVERED = 'D',
	ROW_DUPLICATE = 'U',
	ROW_RETRY = 'R',
	ROW_DEAD = 'X',
	ROW_HOLD = 'H',				/* credential invalid: back to the queue */
	ROW_RESEND = 'S',			/* send again at once in a new batch */
	ROW_SUBMITTED = 'A'			/* accepted, not yet processed: poll its status */
} RowOutcomeKind;

typedef struct RowOutcome
{
	char		kind;
	const char *code;
	const char *message;
	double		min_delay_s;	/* retry no sooner than this */
} RowOutcome;

/* What a response means for a batch and its destination. */
typedef struct Verdict
{
	RowOutcome *rows;			/* one per batch row */
	bool		split;			/* resend rows split in halves */
	bool		credential_invalid; /* pause the destination, hold its rows */
	const char *pause_reason;	/* other pauses (forbidden, endpoint) */
	const char *detail;			/* code and short message for the log */
	bool		breaker_failure;
	bool		breaker_success;
	double		throttle_s;		/* destination-wide hold after a 429 */
	char	   *request_id;
	/* a status request: delivered, dead, processing or retry, and why */
	const char *status;
	char	   *status_detail;
} Verdict;

/* batch.c */
extern void DeliveryBuildRequest(DeliveryBatch *batch, struct HttpRequest *req);
extern int	DeliveryRowsPerBatch(Destination *dest);

/* response.c */
extern void DeliveryJudge(DeliveryBatch *batch, struct HttpRequest *req, Verdict *v);

/* delivery_store.c */
extern void DeliveryLoadDestinations(void);
extern int	DeliveryClaim(Destination *dest, int limit, int lease_s);
extern TimestampTz DeliveryNextDue(void);
extern void DeliveryRecord(DeliveryBatch *batch, Verdict *v, int http_status, double latency_ms);
extern void DeliveryHoldBatch(DeliveryBatch *batch, const char *code, const char *message);
extern void DeliveryPersistBreaker(Destination *dest, const char *event, const char *detail);
extern void DeliveryPause(Destination *dest, const char *reason, const char *detail);
extern char *DeliveryFetchToken(int destination_id, const char *kind, const char *fallback,
								bytea *ciphertext);
extern void DeliveryMaintainPartitions(void);
extern int	DeliveryClaimStatusPolls(Destination *dest, int limit);
extern void DeliveryRecordStatus(DeliveryBatch *batch, Verdict *v, int http_status);

/* delivery_launcher.c */
extern void DeliveryPublishLatch(Latch *latch);
extern void RequestDeliveryWake(void);
extern bool DeliveryDatabaseLocked(Oid dboid);

extern Destination **delivery_dests;
extern int	delivery_ndests;
extern MemoryContext DeliveryContext;

/* Settings (delivery_worker.c). */
extern bool attr_allow_http_loopback;
extern char *attr_ca_file;
extern int	attr_connect_timeout_ms;
extern int	attr_request_timeout_ms;
extern int	attr_total_in_flight;
extern int	attr_lease_s;

#endif							/* ATTR_DELIVERY_H */
