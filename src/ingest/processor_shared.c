/*
 * processor_shared.c
 *		What other backends do with the processor worker: wake it when a
 *		transaction that inserted into the inbox commits, read its state,
 *		and ask it to step aside before DROP DATABASE.
 *
 * The wake-up is a latch set from a commit callback (the pattern of
 * pg_net): the inbox's statement trigger only raises a flag, so nothing
 * happens for a transaction that rolls back, and the worker never polls.
 *
 * PostgreSQL 15 does not signal background workers on DROP DATABASE: it
 * waits five seconds for other sessions to leave and then fails.  A
 * utility hook in every backend (the library is preloaded) therefore asks
 * the processor to exit, and the launcher to stay away for a while, just
 * before DROP DATABASE, ALTER DATABASE RENAME or CREATE DATABASE ...
 * TEMPLATE runs against the processor's database.
 */
#include "postgres.h"

#include <signal.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/defrem.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/builtins.h"

#include "ingest/ingest.h"
#include "ingest/processor_shared.h"
#include "pg_attribution.h"

PG_FUNCTION_INFO_V1(attr_wake_processor);
PG_FUNCTION_INFO_V1(attr_processor_state);

/* How long the launcher stays away from a database being dropped. */
#define STEP_ASIDE_MS 10000

ProcessorShared *processor_shared = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;

static bool wake_callback_registered = false;
static bool wake_pending = false;

#if PG_VERSION_NUM >= 150000
static void
ProcessorShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(ProcessorShared)));
}
#endif

static void
ProcessorShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	processor_shared = ShmemInitStruct("pg_attribution processor",
									   sizeof(ProcessorShared), &found);
	if (!found)
	{
		memset(processor_shared, 0, sizeof(ProcessorShared));
		SpinLockInit(&processor_shared->mutex);
		strlcpy(processor_shared->state, "stopped", PROCESSOR_STATE_LEN);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
ProcessorSetState(const char *state)
{
	if (processor_shared == NULL)
		return;
	SpinLockAcquire(&processor_shared->mutex);
	strlcpy(processor_shared->state, state, PROCESSOR_STATE_LEN);
	SpinLockRelease(&processor_shared->mutex);
}

void
ProcessorWake(void)
{
	PGPROC	   *proc;

	if (processor_shared == NULL)
		return;
	SpinLockAcquire(&processor_shared->mutex);
	proc = processor_shared->proc;
	SpinLockRelease(&processor_shared->mutex);
	if (proc != NULL)
		SetLatch(&proc->procLatch);
}

void
ProcessorWakeLauncher(void)
{
	PGPROC	   *proc;

	if (processor_shared == NULL)
		return;
	SpinLockAcquire(&processor_shared->mutex);
	proc = processor_shared->launcher_proc;
	SpinLockRelease(&processor_shared->mutex);
	if (proc != NULL)
		SetLatch(&proc->procLatch);
}

/* Counters for worker_status; any processor (worker or process_inbox). */
void
ProcessorNoteProgress(int64 processed, int64 failed, const char *last_error)
{
	TimestampTz now;

	if (processor_shared == NULL || (processed == 0 && failed == 0))
		return;
	now = GetCurrentTimestamp();
	SpinLockAcquire(&processor_shared->mutex);
	processor_shared->rows_processed += processed;
	processor_shared->rows_failed += failed;
	processor_shared->last_processed_at = now;
	if (last_error != NULL)
	{
		strlcpy(processor_shared->last_error, last_error, PROCESSOR_ERROR_LEN);
		processor_shared->last_error_at = now;
	}
	SpinLockRelease(&processor_shared->mutex);
}

static void
WakeAtCommit(XactEvent event, void *arg pg_attribute_unused())
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_pending)
			{
				wake_pending = false;
				ProcessorWake();
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* A prepared insert is found by the safety-net timeout. */
			wake_pending = false;
			break;
		default:
			break;
	}
}

/* Ask for the processor to be woken when this transaction commits. */
static void
WakeAfterCommit(void)
{
	if (processor_shared == NULL)
		return;
	if (!wake_callback_registered)
	{
		RegisterXactCallback(WakeAtCommit, NULL);
		wake_callback_registered = true;
	}
	wake_pending = true;
}

/*
 * Trigger function, AFTER INSERT FOR EACH STATEMENT on webhook_inbox.
 */
Datum
attr_wake_processor(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("attribution._wake_processor() must be called as a trigger")));
	WakeAfterCommit();
	PG_RETURN_POINTER(NULL);
}

/*
 * attribution.processor_state(): the shared state as one row.  Without
 * the library preloaded there is no worker: state says so.
 */
Datum
attr_processor_state(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[9];
	bool		nulls[9];
	ProcessorShared copy;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	memset(values, 0, sizeof(values));
	memset(nulls, true, sizeof(nulls));
	if (processor_shared == NULL)
	{
		values[1] = CStringGetTextDatum("not preloaded");
		nulls[1] = false;
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
	}
	SpinLockAcquire(&processor_shared->mutex);
	memcpy(&copy, processor_shared, sizeof(ProcessorShared));
	SpinLockRelease(&processor_shared->mutex);

	if (copy.pid != 0)
	{
		values[0] = Int32GetDatum(copy.pid);
		nulls[0] = false;
	}
	values[1] = CStringGetTextDatum(copy.state);
	nulls[1] = false;
	if (copy.database[0] != '\0')
	{
		values[2] = CStringGetTextDatum(copy.database);
		nulls[2] = false;
	}
	if (copy.started_at != 0 && copy.pid != 0)
	{
		values[3] = TimestampTzGetDatum(copy.started_at);
		nulls[3] = false;
	}
	if (copy.last_processed_at != 0)
	{
		values[4] = TimestampTzGetDatum(copy.last_processed_at);
		nulls[4] = false;
	}
	values[5] = Int64GetDatum(copy.rows_processed);
	nulls[5] = false;
	values[6] = Int64GetDatum(copy.rows_failed);
	nulls[6] = false;
	if (copy.last_error[0] != '\0')
	{
		values[7] = CStringGetTextDatum(copy.last_error);
		nulls[7] = false;
		values[8] = TimestampTzGetDatum(copy.last_error_at);
		nulls[8] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * Before a command that needs the processor's database to itself: make
 * the processor exit (SIGTERM, as DROP DATABASE ... WITH (FORCE) would)
 * and keep the launcher from starting it again for a while.
 */
static void
StepAside(const char *dbname)
{
	pid_t		pid = 0;

	if (processor_shared == NULL || dbname == NULL)
		return;
	SpinLockAcquire(&processor_shared->mutex);
	if (strcmp(processor_shared->database, dbname) == 0)
	{
		processor_shared->step_aside_until =
			TimestampTzPlusMilliseconds(GetCurrentTimestamp(), STEP_ASIDE_MS);
		pid = processor_shared->pid;
	}
	SpinLockRelease(&processor_shared->mutex);
	if (pid != 0)
		(void) kill(pid, SIGTERM);
	/* The delivery worker is connected to the same database. */
	DeliveryStepAside(dbname);
}

static void
ProcessorUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				 ProcessUtilityContext context, ParamListInfo params,
				 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	const char *created_db = NULL;
	bool		created_extension = false;

	if (IsA(parsetree, DropdbStmt))
		StepAside(((DropdbStmt *) parsetree)->dbname);
	else if (IsA(parsetree, RenameStmt) &&
			 ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
		StepAside(((RenameStmt *) parsetree)->subname);
	else if (IsA(parsetree, CreatedbStmt))
	{
		ListCell   *lc;

		foreach(lc, ((CreatedbStmt *) parsetree)->options)
		{
			DefElem    *opt = (DefElem *) lfirst(lc);

			if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
				StepAside(defGetString(opt));
		}
		created_db = ((CreatedbStmt *) parsetree)->dbname;
	}
	else if (IsA(parsetree, CreateExtensionStmt) &&
			 strcmp(((CreateExtensionStmt *) parsetree)->extname, "pg_attribution") == 0)
		created_extension = true;

	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context, params,
								  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	/* The worker's database or extension appeared: no need to wait for a poll. */
	if (created_db != NULL && attr_database != NULL && strcmp(created_db, attr_database) == 0)
		ProcessorWakeLauncher();
	if (created_extension)
		WakeAfterCommit();
}

void
ProcessorSharedInit(void)
{
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = ProcessorShmemRequest;
#else
	RequestAddinShmemSpace(MAXALIGN(sizeof(ProcessorShared)));
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = ProcessorShmemStartup;
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = ProcessorUtility;
}
