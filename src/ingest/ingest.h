/*
 * ingest.h
 *		Shared declarations of the inbox processor: the row being normalised,
 *		jsonb accessors, and the calls that write the ledger.
 */
#ifndef INGEST_INGEST_H
#define INGEST_INGEST_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* One inbox row, as the processor claimed it. */
typedef struct InboxRow
{
	int64		id;
	char	   *source;
	char	   *event_id;
	char	   *body;
	TimestampTz received_at;
	int			attempts;
} InboxRow;

/* What normalising a row came to. */
typedef enum NormResult
{
	NORM_DONE,					/* facts recorded (possibly none new) */
	NORM_SKIPPED,				/* an event type the ledger has no use for */
	NORM_DEFER					/* not yet: retry at *defer_until, no error */
} NormResult;

/* The context a normaliser works in. */
typedef struct NormContext
{
	InboxRow   *row;
	Jsonb	   *body;			/* the parsed body */
	JsonbContainer *root;		/* its top-level object */
	TimestampTz defer_until;	/* set with NORM_DEFER */
} NormContext;

/* A lifecycle fact for attribution.billing_events. */
typedef struct BillingFact
{
	const char *provider;
	const char *kind;
	char	   *fact_key;
	char	   *customer_id;
	char	   *subscription_id;
	char	   *object_id;
	char	   *parent_object_id;
	bool		has_amount;
	int64		amount_minor;
	char	   *currency;
	TimestampTz occurred_at;
	char	   *user_id;
	StringInfo	details;		/* JSON object text, or NULL */
} BillingFact;

/* json_access.c: reading fields of a jsonb object. */
extern JsonbContainer *JsonObject(JsonbContainer *c, const char *key);
extern JsonbContainer *JsonArray(JsonbContainer *c, const char *key);
extern JsonbContainer *JsonPathObject(JsonbContainer *c, const char *const *path);
extern int	JsonArrayLength(JsonbContainer *array);
extern JsonbContainer *JsonArrayObject(JsonbContainer *array, int i);
extern char *JsonString(JsonbContainer *c, const char *key);
extern char *JsonStringOrId(JsonbContainer *c, const char *key);
extern bool JsonInt64(JsonbContainer *c, const char *key, int64 *out);
extern bool JsonBool(JsonbContainer *c, const char *key, bool *out);
extern bool JsonHasKey(JsonbContainer *c, const char *key);
extern bool JsonIsNull(JsonbContainer *c, const char *key);
extern bool JsonUnixTime(JsonbContainer *c, const char *key, TimestampTz *out);
extern bool JsonTimestamp(JsonbContainer *c, const char *key, TimestampTz *out);
extern char *JsonUserId(JsonbContainer *c);
extern char *UpperCurrency(const char *currency);

/* Building the details object of a fact. */
extern void DetailString(BillingFact *fact, const char *key, const char *value);
extern void DetailInt64(BillingFact *fact, const char *key, int64 value);
extern void DetailBool(BillingFact *fact, const char *key, bool value);

/* ledger_write.c: the ledger functions, through plans kept per backend. */
extern void InitFact(BillingFact *fact, const char *provider, const char *kind);
extern void RecordFact(NormContext *ctx, BillingFact *fact);
extern void ObserveRefund(NormContext *ctx, BillingFact *fact,
						  const char *observation_key, int64 amount, bool cumulative);
extern void UpsertSubscription(NormContext *ctx, const char *provider,
							   const char *subscription_id, const char *customer_id,
							   const char *user_id, const char *status,
							   const char *plan_id, bool has_amount, int64 amount_minor,
							   const char *currency, const char *order_id,
							   int cancel_at_period_end, TimestampTz provider_time);
extern void LinkCustomer(const char *provider, const char *customer_id,
						 const char *user_id, const char *email);
extern bool SubscriptionOrderKnown(const char *provider, const char *order_id);
extern void RecordReferral(NormContext *ctx, const char *kind, const char *fact_key,
						   const char *user_id, const char *customer_ref,
						   const char *email, const char *reward_amount,
						   const char *currency, TimestampTz occurred_at,
						   const char *details_json);
extern void CallTrackTouch(const char *visitor_id, const char *url, const char *referrer,
						   TimestampTz occurred_at, const char *user_id,
						   const char *ip, const char *user_agent);
extern void CallIdentify(const char *visitor_id, const char *user_id);

/* Normalisers, one per provider family. */
extern NormResult NormalizeStripe(NormContext *ctx);
extern NormResult NormalizePaddle(NormContext *ctx);
extern NormResult NormalizeLemonSqueezy(NormContext *ctx);
extern NormResult NormalizeReferral(NormContext *ctx);
extern NormResult NormalizeSegment(NormContext *ctx);

/* processor.c */
extern int	ProcessInbox(int max_rows);
extern char *attr_user_id_keys;
extern int	attr_lemonsqueezy_order_delay;
extern int	attr_processor_batch_size;
extern int	attr_processor_max_backoff;

/* processor_worker.c */
extern void ProcessorInit(void);
extern void ProcessorNoteProgress(int64 processed, int64 failed, const char *last_error);

#endif							/* INGEST_INGEST_H */
