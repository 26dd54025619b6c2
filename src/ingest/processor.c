/*
 * processor.c
 *		Normalising inbox rows: claim due rows in order of receipt, run each
 *		through its provider's normaliser in a subtransaction of its own,
 *		and mark it done, skipped, deferred or failed.
 *
 * The background worker and attribution.process_inbox() both come here.
 * Processors serialise on one transaction-level advisory lock: the LTV of
 * a customer is a running sum over the customer's conversions, and one
 * processor at a time keeps it exact without per-customer locks that two
 * batches could take in opposite orders.  Rows are still claimed with
 * FOR UPDATE SKIP LOCKED, so a row is never handled twice even by a
 * processor that does not take the lock.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "ingest/ingest.h"
#include "pg_attribution.h"

PG_FUNCTION_INFO_V1(attr_process_inbox);

/* Settings (defined in ProcessorInit). */
char	   *attr_user_id_keys = NULL;
int			attr_lemonsqueezy_order_delay = 300;
int			attr_processor_batch_size = 500;
int			attr_processor_max_backoff = 3600;

/* Longest error text kept in webhook_inbox.last_error. */
#define MAX_ERROR_LENGTH 1000

typedef enum InboxPlan
{
	PLAN_LOCK,
	PLAN_CLAIM,
	PLAN_MARK,
	PLAN_DEFER,
	PLAN_FAIL,
	INBOX_PLAN_COUNT
} InboxPlan;

static SPIPlanPtr inbox_plans[INBOX_PLAN_COUNT];

static SPIPlanPtr
InboxPlanGet(InboxPlan which)
{
	static const char *const sql[INBOX_PLAN_COUNT] = {
		/* "patt", 1: the processors' lock (see the file header). */
		"SELECT pg_catalog.pg_advisory_xact_lock(1885434996, 1)",
		"SELECT id, source, event_id, body, received_at, attempts"
		"  FROM attribution.webhook_inbox"
		" WHERE status IN ('pending', 'error') AND next_attempt_at <= pg_catalog.clock_timestamp()"
		" ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
		"UPDATE attribution.webhook_inbox"
		"   SET status = $2, attempts = attempts + 1, last_error = NULL,"
		"       processed_at = pg_catalog.clock_timestamp()"
		" WHERE id = $1",
		"UPDATE attribution.webhook_inbox SET next_attempt_at = $2 WHERE id = $1",
		"UPDATE attribution.webhook_inbox"
		"   SET status = 'error', attempts = attempts + 1, last_error = $2,"
		"       next_attempt_at = pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => $3)"
		" WHERE id = $1",
	};
	static const Oid types[INBOX_PLAN_COUNT][3] = {
		{0},
		{INT4OID},
		{INT8OID, TEXTOID},
		{INT8OID, TIMESTAMPTZOID},
		{INT8OID, TEXTOID, FLOAT8OID},
	};
	static const int nargs[INBOX_PLAN_COUNT] = {0, 1, 2, 2, 3};

	if (inbox_plans[which] == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql[which], nargs[which], (Oid *) types[which]);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql[which],
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		inbox_plans[which] = plan;
	}
	return inbox_plans[which];
}

static void
InboxRun(InboxPlan which, Datum *values, const char *nulls)
{
	int			rc = SPI_execute_plan(InboxPlanGet(which), values, nulls, false,
									  which == PLAN_CLAIM ? 0 : 1);

	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (which != PLAN_CLAIM)
		SPI_freetuptable(SPI_tuptable);
}

/*
 * Tables the ledger functions and their triggers read by key.  A plan made
 * while they were small (a seq scan of one page beats an index scan) stays
 * cached in this backend until something invalidates it, and turns each
 * lookup into a scan of the whole table as the ledger grows: the drain
 * slows with the size of the ledger.
 */
static const char *const watched_tables[] = {
	"billing_events", "conversions", "credits", "outbox", "subscriptions",
	"customers", "refund_observations", "touchpoints", "identities",
};

/* Their total size in blocks when this backend's plans were last reset. */
static BlockNumber planned_at_blocks = 0;

/*
 * Let the plan cache re-plan every statement when the watched tables have
 * doubled in size since plans were last made (and at the first batch of
 * the backend): plans follow the ledger's growth at a cost of a few
 * re-plans over its life.
 */
static void
ReplanOnGrowth(void)
{
	Oid			nsp = get_namespace_oid("attribution", true);
	BlockNumber total = 0;
	size_t		i;

	if (!OidIsValid(nsp))
		return;
	for (i = 0; i < lengthof(watched_tables); i++)
	{
		Oid			relid = get_relname_relid(watched_tables[i], nsp);
		Relation	rel;

		if (!OidIsValid(relid))
			continue;
		rel = relation_open(relid, AccessShareLock);
		if (RELKIND_HAS_STORAGE(rel->rd_rel->relkind))
			total += RelationGetNumberOfBlocks(rel);
		relation_close(rel, AccessShareLock);
	}
	if (total >= 2 * Max(planned_at_blocks, 8))
	{
		ResetPlanCache();
		planned_at_blocks = total;
	}
}

/* Seconds before the next try: 1, 2, 4, ... up to the configured cap. */
static double
BackoffSeconds(int attempts)
{
	double		delay = 1.0;
	int			i;

	for (i = 1; i < attempts && delay < attr_processor_max_backoff; i++)
		delay *= 2.0;
	return Min(delay, (double) attr_processor_max_backoff);
}

/* Parse the body and hand it to the normaliser of its source. */
static NormResult
NormalizeRow(InboxRow *row, TimestampTz *defer_until)
{
	NormContext ctx;
	NormResult	result;
	const char *src = row->source;

	memset(&ctx, 0, sizeof(ctx));
	ctx.row = row;
	ctx.body = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(row->body)));
	if (!JB_ROOT_IS_OBJECT(ctx.body))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s event %s is not a JSON object", src, row->event_id)));
	ctx.root = &ctx.body->root;

	if (strcmp(src, "stripe") == 0)
		result = NormalizeStripe(&ctx);
	else if (strcmp(src, "paddle") == 0)
		result = NormalizePaddle(&ctx);
	else if (strcmp(src, "lemonsqueezy") == 0)
		result = NormalizeLemonSqueezy(&ctx);
	else if (strcmp(src, "friendbuy") == 0 || strcmp(src, "mentionme") == 0 ||
			 strcmp(src, "extole") == 0)
		result = NormalizeReferral(&ctx);
	else if (strcmp(src, "segment") == 0 || strcmp(src, "rudderstack") == 0)
		result = NormalizeSegment(&ctx);
	else
		result = NORM_SKIPPED;
	*defer_until = ctx.defer_until;
	return result;
}

/* Normalise one row and mark it done, skipped or deferred. */
static void
NormalizeAndMark(InboxRow *row)
{
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	TimestampTz defer_until = 0;
	NormResult	result = NormalizeRow(row, &defer_until);

	values[0] = Int64GetDatum(row->id);
	if (result == NORM_DEFER)
	{
		values[1] = TimestampTzGetDatum(defer_until);
		InboxRun(PLAN_DEFER, values, nulls);
	}
	else
	{
		values[1] = CStringGetTextDatum(result == NORM_SKIPPED ? "skipped" : "done");
		InboxRun(PLAN_MARK, values, nulls);
	}
}

/*
 * Normalise one row in a subtransaction.  On error everything the row did
 * is rolled back and the row is marked failed with a retry time; the batch
 * goes on.  Returns false if the row failed.
 */
static bool
ProcessRow(InboxRow *row, MemoryContext rowcxt, char **last_error)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(rowcxt);
	PG_TRY();
	{
		NormalizeAndMark(row);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		char	   *message;

		MemoryContextSwitchTo(rowcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		message = psprintf("%s: %s", unpack_sql_state(edata->sqlerrcode),
						   edata->message ? edata->message : "unknown error");
		if (strlen(message) > MAX_ERROR_LENGTH)
			message[pg_mbcliplen(message, strlen(message), MAX_ERROR_LENGTH)] = '\0';
		values[0] = Int64GetDatum(row->id);
		values[1] = CStringGetTextDatum(message);
		values[2] = Float8GetDatum(BackoffSeconds(row->attempts + 1));
		InboxRun(PLAN_FAIL, values, nulls);
		if (*last_error != NULL)
			pfree(*last_error);
		*last_error = MemoryContextStrdup(TopMemoryContext, message);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * Normalise the whole batch in one subtransaction.  Returns false, with
 * everything the batch did rolled back, if any row raised an error: the
 * caller then runs the rows one subtransaction each, so that the bad row
 * alone fails.  A batch without errors (the usual case) thus pays for one
 * subtransaction instead of one per row, and the SQL functions the ledger
 * calls keep their parsed plans from row to row (a SQL function re-plans
 * its body when the subtransaction it was planned in has ended).
 * A cancel or shutdown request is not a bad row: it is raised again.
 */
static bool
ProcessBatch(InboxRow *rows, uint64 n, MemoryContext rowcxt)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(rowcxt);
	PG_TRY();
	{
		uint64		i;

		for (i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			NormalizeAndMark(&rows[i]);
			MemoryContextReset(rowcxt);
		}
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			ReThrowError(edata);
		FreeErrorData(edata);
		MemoryContextReset(rowcxt);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* Copy the claimed rows out of SPI's memory, which the subtransactions touch. */
static InboxRow *
CopyClaimed(MemoryContext cxt, uint64 *n)
{
	SPITupleTable *tt = SPI_tuptable;
	TupleDesc	desc = tt->tupdesc;
	MemoryContext old = MemoryContextSwitchTo(cxt);
	InboxRow   *rows = palloc0(sizeof(InboxRow) * Max(SPI_processed, 1));
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = tt->vals[i];
		bool		isnull;

		rows[i].id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		rows[i].source = SPI_getvalue(tup, desc, 2);
		rows[i].event_id = SPI_getvalue(tup, desc, 3);
		rows[i].body = SPI_getvalue(tup, desc, 4);
		rows[i].received_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 5, &isnull));
		rows[i].attempts = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
	}
	*n = SPI_processed;
	MemoryContextSwitchTo(old);
	SPI_freetuptable(tt);
	return rows;
}

/*
 * Claim and normalise up to max_rows due rows in the current transaction.
 * Returns the number of rows handled (failed ones included).
 */
int
ProcessInbox(int max_rows)
{
	MemoryContext batchcxt;
	MemoryContext rowcxt;
	Datum		arg;
	InboxRow   *rows;
	uint64		n;
	uint64		i;
	int64		failed = 0;
	char	   *last_error = NULL;

	if (max_rows <= 0)
		return 0;
	batchcxt = AllocSetContextCreate(CurrentMemoryContext, "pg_attribution inbox batch",
									 ALLOCSET_DEFAULT_SIZES);
	rowcxt = AllocSetContextCreate(batchcxt, "pg_attribution inbox row",
								   ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	InboxRun(PLAN_LOCK, NULL, NULL);
	ReplanOnGrowth();
	arg = Int32GetDatum(max_rows);
	InboxRun(PLAN_CLAIM, &arg, NULL);
	rows = CopyClaimed(batchcxt, &n);

	if (n <= 1 || !ProcessBatch(rows, n, rowcxt))
	{
		for (i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			if (!ProcessRow(&rows[i], rowcxt, &last_error))
				failed++;
			MemoryContextReset(rowcxt);
		}
	}

	SPI_finish();
	ProcessorNoteProgress((int64) n - failed, failed, last_error);
	if (last_error != NULL)
		pfree(last_error);
	MemoryContextDelete(batchcxt);
	return (int) n;
}

/*
 * attribution.process_inbox(max_rows): the worker's code path, callable
 * for tests and for operators who want the backlog drained now.
 */
Datum
attr_process_inbox(PG_FUNCTION_ARGS)
{
	int32		max_rows = PG_GETARG_INT32(0);

	if (max_rows < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rows must not be negative: %d", max_rows)));
	PG_RETURN_INT32(ProcessInbox(max_rows));
}
