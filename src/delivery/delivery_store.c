/*
 * delivery_store.c
 *		The delivery worker's SQL side: destinations, claim, record.
 *
 * Every function here runs inside a short transaction the worker opened
 * (SPI connected, snapshot pushed); none is ever called while an HTTP request
 * is being waited on inside a transaction.  Plans are prepared once and kept.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/resowner.h"

#include "auth/vault.h"
#include "delivery/delivery.h"
#include "delivery/platforms/platform.h"
#include "delivery/request_kit.h"


/* Tokens come only from the credential vault, decrypted when loaded. */
#define CREDENTIAL_COLUMNS \
	", (SELECT c.ciphertext FROM attribution.credentials c" \
	"   WHERE c.destination_id = d.id AND c.kind = 'access_token')" \
	", (SELECT c.ciphertext FROM attribution.credentials c" \
	"   WHERE c.destination_id = d.id AND c.kind = 'developer_token')"

Destination **delivery_dests = NULL;
int			delivery_ndests = 0;

static SPIPlanPtr load_plan = NULL;
static SPIPlanPtr claim_plan = NULL;
static SPIPlanPtr due_plan = NULL;
static SPIPlanPtr record_plan = NULL;
static SPIPlanPtr breaker_plan = NULL;
static SPIPlanPtr pause_plan = NULL;
static SPIPlanPtr poll_plan = NULL;
static SPIPlanPtr status_plan = NULL;

static SPIPlanPtr
prepare(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "pg_attribution delivery: SPI_prepare failed: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

static char *
get_text(HeapTuple tup, TupleDesc desc, int col, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		return NULL;
	return MemoryContextStrdup(cxt, TextDatumGetCString(d));
}

static Destination *
find_destination(int id)
{
	for (int i = 0; i < delivery_ndests; i++)
		if (delivery_dests[i]->id == id)
			return delivery_dests[i];
	return NULL;
}

static Destination *
add_destination(int id)
{
	MemoryContext old = MemoryContextSwitchTo(DeliveryContext);
	Destination *d = palloc0(sizeof(Destination));

	d->id = id;
	d->cxt = AllocSetContextCreate(DeliveryContext, "delivery destination",
								   ALLOCSET_SMALL_SIZES);
	dlist_init(&d->queue);
	if (delivery_dests == NULL)
		delivery_dests = palloc(sizeof(Destination *));
	else
		delivery_dests = repalloc(delivery_dests, (delivery_ndests + 1) * sizeof(Destination *));
	delivery_dests[delivery_ndests++] = d;
	MemoryContextSwitchTo(old);
	return d;
}

/*
 * A token of a destination: the vault's credential of that kind when one is
 * stored (decrypted with the additional data "destination:<id>:<kind>"),
 * else the fallback (for the developer token, the account field).  A blob that does not decrypt (no
 * vault key, a key changed) is reported once per load and treated as no
 * token: the platform then refuses the request and the destination pauses.
 */
char *
DeliveryFetchToken(int destination_id, const char *kind, const char *fallback, bytea *ciphertext)
{
	if (ciphertext != NULL)
	{
		MemoryContext oldcxt = CurrentMemoryContext;
		ResourceOwner oldowner = CurrentResourceOwner;
		char	   *volatile token = NULL;
		char		aad[64];
		int			len;

		snprintf(aad, sizeof(aad), "destination:%d:%s", destination_id, kind);
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(oldcxt);
		PG_TRY();
		{
			token = VaultDecrypt(ciphertext, aad, &len);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(oldcxt);
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(oldcxt);
			CurrentResourceOwner = oldowner;
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PASSWORD),
					 errmsg("pg_attribution delivery: the %s of destination %d cannot be decrypted",
							kind, destination_id),
					 errhint("Check pg_attribution.vault_key_file, or store the token again with attribution.set_credential().")));
			token = NULL;
		}
		PG_END_TRY();
		return token;
	}
	return fallback ? pstrdup(fallback) : NULL;
}

/*
 * Re-read every destination's configuration; keep runtime state.  A
 * destination seen for the first time takes its breaker state from the
 * table, so an open breaker survives a restart.
 */
void
DeliveryLoadDestinations(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (load_plan == NULL)
		load_plan = prepare(
							"SELECT d.id, d.platform, d.enabled, d.endpoint, d.batch_size, d.max_in_flight,"
							" d.rate_limit_per_sec::float8, d.breaker_threshold,"
							" (extract(epoch FROM d.breaker_cooldown) * 1000)::int8,"
							" d.breaker_state, d.breaker_failures, d.breaker_opened_at, d.paused_until,"
							" d.transport, d.account, d.account->>'developer_token'"
							CREDENTIAL_COLUMNS
							" FROM attribution.destinations d ORDER BY d.id",
							0, NULL);
	if (SPI_execute_plan(load_plan, NULL, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_attribution delivery: could not read destinations");

	for (int i = 0; i < delivery_ndests; i++)
		delivery_dests[i]->seen = false;

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int			id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		Destination *d = find_destination(id);
		bool		fresh = (d == NULL);
		char	   *platform;
		char	   *transport;
		MemoryContext old;
		Datum		v;

		if (fresh)
			d = add_destination(id);
		MemoryContextReset(d->cxt);
		d->seen = true;
		platform = get_text(tup, desc, 2, d->cxt);
		transport = get_text(tup, desc, 14, d->cxt);
		d->module = PlatformLookup(platform, transport);
		d->enabled = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		if (d->module == NULL)
		{
			/* a platform this build does not know: never claimed for */
			d->enabled = false;
			continue;
		}
		d->endpoint = get_text(tup, desc, 4, d->cxt);
		d->batch_size = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
		d->max_in_flight = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
		d->rate_limit = DatumGetFloat8(SPI_getbinval(tup, desc, 7, &isnull));
		d->breaker_threshold = DatumGetInt32(SPI_getbinval(tup, desc, 8, &isnull));
		d->breaker_cooldown_ms = DatumGetInt64(SPI_getbinval(tup, desc, 9, &isnull));
		if (fresh)
		{
			char	   *state = get_text(tup, desc, 10, d->cxt);

			if (!BreakerParseState(state, &d->breaker.state))
				d->breaker.state = BREAKER_CLOSED;
			d->breaker.failures = DatumGetInt32(SPI_getbinval(tup, desc, 11, &isnull));
			v = SPI_getbinval(tup, desc, 12, &isnull);
			d->breaker.opened_at = isnull ? now : DatumGetTimestampTz(v);
		}
		v = SPI_getbinval(tup, desc, 13, &isnull);
		d->paused = !isnull && DatumGetTimestampTz(v) > now;
		d->paused_until = (d->paused && !TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(v)))
			? DatumGetTimestampTz(v) : 0;

		old = MemoryContextSwitchTo(d->cxt);
		v = SPI_getbinval(tup, desc, 15, &isnull);
		d->account = isnull ? NULL : DatumGetJsonbPCopy(v);
		v = SPI_getbinval(tup, desc, 17, &isnull);
		d->token = DeliveryFetchToken(id, "access_token", NULL, isnull ? NULL : DatumGetByteaPP(v));
		d->developer_token = get_text(tup, desc, 16, d->cxt);
		v = SPI_getbinval(tup, desc, 18, &isnull);
		if (!isnull)
			d->developer_token = DeliveryFetchToken(id, "developer_token", d->developer_token,
													DatumGetByteaPP(v));
		d->api_version = d->module->version_key ? DestAccount(d, d->module->version_key) : NULL;
		if (d->api_version == NULL || d->api_version[0] == '\0')
			d->api_version = pstrdup(d->module->default_version ? d->module->default_version : "");
		MemoryContextSwitchTo(old);
	}

	/* Dropped destinations stop being claimed for; batches in flight finish. */
	for (int i = 0; i < delivery_ndests; i++)
		if (!delivery_dests[i]->seen)
			delivery_dests[i]->enabled = false;
}

static DeliveryBatch *
new_batch(Destination *dest, bool adjustment, int capacity)
{
	MemoryContext cxt = AllocSetContextCreate(DeliveryContext, "delivery batch",
											  ALLOCSET_DEFAULT_SIZES);
	DeliveryBatch *b = MemoryContextAllocZero(cxt, sizeof(DeliveryBatch));

	b->cxt = cxt;
	b->dest = dest;
	b->adjustment = adjustment;
	b->rows = MemoryContextAlloc(cxt, capacity * sizeof(DeliveryRow));
	return b;
}

/*
 * Claim up to limit due rows of dest and queue them as batches: at most
 * batch_size rows each, Google conversions and adjustments apart, one row
 * per webhook request.  Returns the number of rows claimed.
 */
int
DeliveryClaim(Destination *dest, int limit, int lease_s)
{
	Oid			types[3] = {INT4OID, INT4OID, FLOAT8OID};
	Datum		args[3];
	int			per_batch = DeliveryRowsPerBatch(dest);
	DeliveryBatch *cur[2] = {NULL, NULL};
	uint64		n;

	if (claim_plan == NULL)
		claim_plan = prepare("SELECT id, claim, kind, dedup_key, payload::text"
							 " FROM attribution._claim_batch($1, $2, make_interval(secs => $3))",
							 3, types);
	args[0] = Int32GetDatum(dest->id);
	args[1] = Int32GetDatum(limit);
	args[2] = Float8GetDatum((double) lease_s);
	if (SPI_execute_plan(claim_plan, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_attribution delivery: could not claim outbox rows");
	n = SPI_processed;

	for (uint64 r = 0; r < n; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *kind = SPI_getvalue(tup, desc, 3);
		bool		adj = dest->module->separate_adjustments && strcmp(kind, "adjustment") == 0;
		DeliveryBatch *b = cur[adj ? 1 : 0];
		DeliveryRow *row;
		char	   *payload;

		if (b == NULL || b->nrows == per_batch)
		{
			b = new_batch(dest, adj, Min(per_batch, (int) (n - r)));
			dlist_push_tail(&dest->queue, &b->node);
			cur[adj ? 1 : 0] = b;
		}
		row = &b->rows[b->nrows++];
		row->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		row->claim = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		row->dedup_key = MemoryContextStrdup(b->cxt, SPI_getvalue(tup, desc, 4));
		payload = SPI_getvalue(tup, desc, 5);
		row->payload = MemoryContextStrdup(b->cxt, payload);
		row->payload_len = strlen(payload);
	}
	dest->more_due = (int) n == limit;
	return (int) n;
}

/*
 * The earliest time a destination whose last claim found nothing more due
 * will have work: a row due, or a lease lapsing.  0 when there is none.
 */
TimestampTz
DeliveryNextDue(void)
{
	Oid			types[1] = {INT4OID};
	TimestampTz next = 0;

	if (due_plan == NULL)
		due_plan = prepare("SELECT least("
						   " (SELECT o.next_attempt_at FROM attribution.outbox o"
						   "   WHERE o.destination_id = $1 AND o.status IN ('pending', 'retry')"
						   "   ORDER BY o.destination_id, o.next_attempt_at LIMIT 1),"
						   " (SELECT o.lease_until FROM attribution.outbox o"
						   "   WHERE o.status = 'in_flight' AND o.destination_id = $1"
						   "   ORDER BY o.lease_until LIMIT 1),"
						   " (SELECT r.next_poll_at FROM attribution.submitted_requests r"
						   "   WHERE r.destination_id = $1 AND r.finished_at IS NULL"
						   "   ORDER BY r.next_poll_at LIMIT 1))",
						   1, types);
	for (int i = 0; i < delivery_ndests; i++)
	{
		Destination *d = delivery_dests[i];
		Datum		arg = Int32GetDatum(d->id);
		bool		isnull;
		Datum		v;

		if (!d->need_due)
			continue;
		if (SPI_execute_plan(due_plan, &arg, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "pg_attribution delivery: could not read the next due time");
		v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
		{
			TimestampTz t = DatumGetTimestampTz(v);

			if (d->paused && d->paused_until > t)
				t = d->paused_until;
			if (next == 0 || t < next)
				next = t;
		}
	}
	return next;
}

static Datum
text_array(const char **vals, int n)
{
	Datum	   *d = palloc(n * sizeof(Datum));
	bool	   *nulls = palloc(n * sizeof(bool));
	int			dims[1] = {n};
	int			lbs[1] = {1};

	for (int i = 0; i < n; i++)
	{
		nulls[i] = vals[i] == NULL;
		d[i] = nulls[i] ? (Datum) 0 : CStringGetTextDatum(vals[i]);
	}
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Record the outcome of every row of batch that is not sent again (ROW_RESEND
 * rows stay in flight under the same claim).  Rows whose claim lapsed are
 * left alone by _record_outcomes.
 */
void
DeliveryRecord(DeliveryBatch *batch, Verdict *v, int http_status, double latency_ms)
{
	Oid			types[10] = {INT4OID, INT8ARRAYOID, INT4ARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, FLOAT8ARRAYOID, INT4OID, TEXTOID, FLOAT8OID};
	Datum		args[10];
	char		nulls[10] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	int			n = 0;
	Datum	   *ids = palloc(batch->nrows * sizeof(Datum));
	Datum	   *claims = palloc(batch->nrows * sizeof(Datum));
	Datum	   *delays = palloc(batch->nrows * sizeof(Datum));
	const char **outcomes = palloc(batch->nrows * sizeof(char *));
	const char **codes = palloc(batch->nrows * sizeof(char *));
	const char **errors = palloc(batch->nrows * sizeof(char *));

	for (int i = 0; i < batch->nrows; i++)
	{
		RowOutcome *r = &v->rows[i];

		if (r->kind == ROW_RESEND)
			continue;
		ids[n] = Int64GetDatum(batch->rows[i].id);
		claims[n] = Int32GetDatum(batch->rows[i].claim);
		delays[n] = Float8GetDatum(r->min_delay_s);
		switch (r->kind)
		{
			case ROW_DELIVERED:
				outcomes[n] = "delivered";
				break;
			case ROW_DUPLICATE:
				outcomes[n] = "duplicate";
				break;
			case ROW_RETRY:
				outcomes[n] = "retry";
				break;
			case ROW_HOLD:
				outcomes[n] = "hold";
				break;
			case ROW_SUBMITTED:
				outcomes[n] = "submitted";
				break;
			default:
				outcomes[n] = "dead";
				break;
		}
		codes[n] = r->code;
		errors[n] = r->message;
		n++;
	}
	if (n == 0)
		return;

	if (record_plan == NULL)
		record_plan = prepare("SELECT attribution._record_outcomes($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
							  10, types);
	args[0] = Int32GetDatum(batch->dest->id);
	args[1] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[2] = PointerGetDatum(construct_array(claims, n, INT4OID, 4, true, TYPALIGN_INT));
	args[3] = text_array(outcomes, n);
	args[4] = text_array(codes, n);
	args[5] = text_array(errors, n);
	args[6] = PointerGetDatum(construct_array(delays, n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[7] = Int32GetDatum(http_status);
	if (http_status == 0)
		nulls[7] = 'n';
	args[8] = v->request_id ? CStringGetTextDatum(v->request_id) : (Datum) 0;
	if (v->request_id == NULL)
		nulls[8] = 'n';
	args[9] = Float8GetDatum(latency_ms);
	if (latency_ms < 0)
		nulls[9] = 'n';
	if (SPI_execute_plan(record_plan, args, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_attribution delivery: could not record outcomes");
}

/* Give every row of a batch back to the queue without counting an attempt. */
void
DeliveryHoldBatch(DeliveryBatch *batch, const char *code, const char *message)
{
	Verdict		v;

	memset(&v, 0, sizeof(v));
	v.rows = palloc0(batch->nrows * sizeof(RowOutcome));
	for (int i = 0; i < batch->nrows; i++)
	{
		v.rows[i].kind = ROW_HOLD;
		v.rows[i].code = code;
		v.rows[i].message = message;
	}
	DeliveryRecord(batch, &v, 0, -1);
}

/* Write the breaker's state, and the transition when there is one. */
void
DeliveryPersistBreaker(Destination *dest, const char *event, const char *detail)
{
	Oid			types[5] = {INT4OID, TEXTOID, INT4OID, TEXTOID, TEXTOID};
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	if (breaker_plan == NULL)
		breaker_plan = prepare("SELECT attribution._set_breaker($1, $2, $3, $4, $5)", 5, types);
	args[0] = Int32GetDatum(dest->id);
	args[1] = CStringGetTextDatum(BreakerStateName(dest->breaker.state));
	args[2] = Int32GetDatum(dest->breaker.failures);
	args[3] = event ? CStringGetTextDatum(event) : (Datum) 0;
	nulls[3] = event ? ' ' : 'n';
	args[4] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
	nulls[4] = detail ? ' ' : 'n';
	if (SPI_execute_plan(breaker_plan, args, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_attribution delivery: could not record the breaker state");
	if (event != NULL)
		ereport(LOG,
				(errmsg("pg_attribution delivery: destination %d: %s", dest->id, event),
				 detail ? errdetail_internal("%s", detail) : 0));
}

/* Pause a destination (credential invalid, permission, endpoint refused). */
void
DeliveryPause(Destination *dest, const char *reason, const char *detail)
{
	Oid			types[3] = {INT4OID, TEXTOID, TEXTOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};

	if (pause_plan == NULL)
		pause_plan = prepare("SELECT attribution._pause_destination($1, $2, $3)", 3, types);
	args[0] = Int32GetDatum(dest->id);
	args[1] = CStringGetTextDatum(reason);
	args[2] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
	nulls[2] = detail ? ' ' : 'n';
	if (SPI_execute_plan(pause_plan, args, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_attribution delivery: could not pause destination %d", dest->id);
	dest->paused = true;
	dest->paused_until = 0;
	ereport(LOG,
			(errmsg("pg_attribution delivery: destination %d paused: %s", dest->id, reason),
			 detail ? errdetail_internal("%s", detail) : 0));
}

/* Monthly delivery_log partitions ahead of time. */
void
DeliveryMaintainPartitions(void)
{
	if (SPI_execute("SELECT attribution.ensure_delivery_log_partitions()", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_attribution delivery: could not create delivery_log partitions");
}

/*
 * Queue the status requests of dest's accepted requests whose poll is due
 * (at most limit), ahead of its batches: an answer frees the rows waiting
 * on it.  Returns how many were queued.
 */
int
DeliveryClaimStatusPolls(Destination *dest, int limit)
{
	Oid			types[3] = {INT4OID, INT4OID, FLOAT8OID};
	Datum		args[3];
	uint64		n;

	if (poll_plan == NULL)
		poll_plan = prepare("SELECT request_id FROM attribution._claim_status_polls($1, $2,"
							" make_interval(secs => $3))", 3, types);
	args[0] = Int32GetDatum(dest->id);
	args[1] = Int32GetDatum(limit);
	args[2] = Float8GetDatum((double) attr_lease_s);
	if (SPI_execute_plan(poll_plan, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pg_attribution delivery: could not claim status polls");
	n = SPI_processed;
	for (uint64 r = 0; r < n; r++)
	{
		DeliveryBatch *b = new_batch(dest, false, 1);

		b->status_of = MemoryContextStrdup(b->cxt,
										   SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1));
		dlist_push_head(&dest->queue, &b->node);
	}
	return (int) n;
}

/* Record the answer to a status request (see _record_request_status). */
void
DeliveryRecordStatus(DeliveryBatch *batch, Verdict *v, int http_status)
{
	Oid			types[5] = {INT4OID, TEXTOID, TEXTOID, TEXTOID, INT4OID};
	Datum		args[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	if (status_plan == NULL)
		status_plan = prepare("SELECT attribution._record_request_status($1, $2, $3, $4, $5)",
							  5, types);
	args[0] = Int32GetDatum(batch->dest->id);
	args[1] = CStringGetTextDatum(batch->status_of);
	args[2] = CStringGetTextDatum(v->status ? v->status : "retry");
	args[3] = v->status_detail ? CStringGetTextDatum(v->status_detail) : (Datum) 0;
	nulls[3] = v->status_detail ? ' ' : 'n';
	args[4] = Int32GetDatum(http_status);
	nulls[4] = http_status == 0 ? 'n' : ' ';
	if (SPI_execute_plan(status_plan, args, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "pg_attribution delivery: could not record a request status");
}
