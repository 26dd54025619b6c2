/*
 * processor_worker.c
 *		The background workers that drain the webhook inbox.
 *
 * Two processes, because a worker connected to a database cannot wait for
 * that database to exist (connecting to a missing one is FATAL, and the
 * postmaster would restart it forever), nor leave it for DROP DATABASE:
 *
 *	 - "pg_attribution launcher", a static worker connected to no database,
 *	   checks every 10 s (or at once on SIGHUP or CREATE DATABASE) that
 *	   pg_attribution.database exists, and starts the processor;
 *	 - "pg_attribution processor", a dynamic worker connected to that
 *	   database, sleeps on its latch until a commit that inserted into the
 *	   inbox wakes it (or the next failed row is due, or a 60 s safety net),
 *	   and normalises due rows in batches, one transaction per batch.
 *
 * SIGTERM makes the processor exit with status 1 (die); the launcher
 * starts it again after a short delay.  A crash restarts both through the
 * postmaster (the launcher has a restart time).  Rows are marked in the
 * transaction that records their facts, so a crash at any point loses
 * nothing and doubles nothing: the next run takes the rows again.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "ingest/ingest.h"
#include "ingest/processor_shared.h"
#include "pg_attribution.h"

PGDLLEXPORT void AttrLauncherMain(Datum arg);
PGDLLEXPORT void AttrProcessorMain(Datum arg);

#define DATABASE_POLL_MS 10000	/* launcher: database not there yet */
#define EXTENSION_POLL_MS 10000	/* processor: extension not created yet */
#define SAFETY_NET_MS 60000		/* processor: longest sleep */
#define RELAUNCH_DELAY_MS 1000	/* launcher: between two processor starts */
#define ERROR_PAUSE_MS 10000	/* processor: after an unexpected error */

static void
RegisterProcessor(BackgroundWorkerHandle **handle)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pg_attribution", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "AttrProcessorMain", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "pg_attribution processor", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "pg_attribution processor", BGW_MAXLEN);
	strlcpy(worker.bgw_extra, attr_database, BGW_EXTRALEN);
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, handle))
	{
		*handle = NULL;
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the pg_attribution processor"),
				 errhint("Raise max_worker_processes; webhooks wait in attribution.webhook_inbox until a worker slot is free.")));
	}
}

/*
 * Does the configured database exist?  A worker connected to no database
 * may read only nailed shared catalogs, so pg_database is scanned without
 * its index (as the autovacuum launcher does).
 */
static bool
DatabaseExists(const char *name)
{
	bool		exists = false;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (!exists && HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		exists = strcmp(NameStr(db->datname), name) == 0;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return exists;
}

static long
MillisecondsUntil(TimestampTz t)
{
	long		secs;
	int			usecs;

	TimestampDifference(GetCurrentTimestamp(), t, &secs, &usecs);
	return secs * 1000L + usecs / 1000;
}

static void
LauncherDetach(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	SpinLockAcquire(&processor_shared->mutex);
	processor_shared->launcher_pid = 0;
	processor_shared->launcher_proc = NULL;
	SpinLockRelease(&processor_shared->mutex);
}

/*
 * The launcher: keeps one processor running for pg_attribution.database.
 */
void
AttrLauncherMain(Datum arg pg_attribute_unused())
{
	BackgroundWorkerHandle *handle = NULL;
	TimestampTz next_launch = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	SpinLockAcquire(&processor_shared->mutex);
	processor_shared->launcher_pid = MyProcPid;
	processor_shared->launcher_proc = MyProc;
	SpinLockRelease(&processor_shared->mutex);
	before_shmem_exit(LauncherDetach, (Datum) 0);

	for (;;)
	{
		long		timeout = SAFETY_NET_MS;
		pid_t		pid;
		bool		running = false;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			/* The processor notices a new database name itself and exits. */
		}

		if (handle != NULL)
		{
			BgwHandleStatus status = GetBackgroundWorkerPid(handle, &pid);

			running = (status == BGWH_STARTED || status == BGWH_NOT_YET_STARTED);
			if (!running)
			{
				pfree(handle);
				handle = NULL;
				next_launch = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														  RELAUNCH_DELAY_MS);
			}
		}

		if (!running)
		{
			TimestampTz now = GetCurrentTimestamp();
			TimestampTz aside;

			SpinLockAcquire(&processor_shared->mutex);
			aside = strcmp(processor_shared->database, attr_database) == 0
				? processor_shared->step_aside_until : 0;
			SpinLockRelease(&processor_shared->mutex);

			if (next_launch > now || aside > now)
				timeout = MillisecondsUntil(Max(next_launch, aside));
			else if (attr_database == NULL || attr_database[0] == '\0' ||
					 !DatabaseExists(attr_database))
			{
				ProcessorSetState("waiting for database");
				timeout = DATABASE_POLL_MS;
			}
			else
			{
				SpinLockAcquire(&processor_shared->mutex);
				strlcpy(processor_shared->database, attr_database, NAMEDATALEN);
				SpinLockRelease(&processor_shared->mutex);
				ProcessorSetState("starting");
				RegisterProcessor(&handle);
				if (handle == NULL)
					timeout = DATABASE_POLL_MS;
			}
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(timeout, 1), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

static void
ProcessorDetach(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	SpinLockAcquire(&processor_shared->mutex);
	if (processor_shared->pid == MyProcPid)
	{
		processor_shared->pid = 0;
		processor_shared->proc = NULL;
		strlcpy(processor_shared->state, "stopped", PROCESSOR_STATE_LEN);
	}
	SpinLockRelease(&processor_shared->mutex);
}

/* Time of the next row to retry, or 0 when nothing waits. */
static TimestampTz
NextDue(void)
{
	TimestampTz due = 0;
	bool		isnull;
	int			rc;

	rc = SPI_execute("SELECT pg_catalog.min(next_attempt_at) FROM attribution.webhook_inbox"
					 " WHERE status IN ('pending', 'error')", true, 1);
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			due = DatumGetTimestampTz(d);
	}
	return due;
}

/*
 * One round: a transaction that normalises a batch.  Returns how long to
 * sleep afterwards (0: more rows are waiting).
 */
static long
ProcessorRound(void)
{
	int			n = 0;
	bool		ready;
	TimestampTz due = 0;
	long		timeout;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	ready = OidIsValid(get_extension_oid("pg_attribution", true));
	if (ready)
	{
		ProcessorSetState("processing");
		pgstat_report_activity(STATE_RUNNING, "normalising webhook inbox");
		n = ProcessInbox(attr_processor_batch_size);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		due = NextDue();
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);

	if (!ready)
	{
		ProcessorSetState("waiting for extension");
		return EXTENSION_POLL_MS;
	}
	ProcessorSetState("idle");
	if (n >= attr_processor_batch_size)
		return 0;
	if (due == 0)
		return SAFETY_NET_MS;
	timeout = MillisecondsUntil(due);
	/* Due rows that another session holds locked: look again shortly. */
	if (timeout <= 0)
		timeout = 1000;
	return Min(timeout + 1, (long) SAFETY_NET_MS);
}

/*
 * The processor: normalise due rows whenever woken.
 */
void
AttrProcessorMain(Datum arg pg_attribute_unused())
{
	char		dbname[NAMEDATALEN];

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	strlcpy(dbname, MyBgworkerEntry->bgw_extra, NAMEDATALEN);
	BackgroundWorkerInitializeConnection(dbname, NULL, 0);
	pgstat_report_appname("pg_attribution processor");

	SpinLockAcquire(&processor_shared->mutex);
	processor_shared->pid = MyProcPid;
	processor_shared->proc = MyProc;
	processor_shared->started_at = GetCurrentTimestamp();
	strlcpy(processor_shared->database, dbname, NAMEDATALEN);
	SpinLockRelease(&processor_shared->mutex);
	before_shmem_exit(ProcessorDetach, (Datum) 0);
	ereport(LOG,
			(errmsg("pg_attribution processor started for database \"%s\"", dbname)));

	for (;;)
	{
		volatile long timeout = 0;
		MemoryContext cxt = CurrentMemoryContext;

		CHECK_FOR_INTERRUPTS();
		/* A long backlog never sleeps on the latch: check here too. */
		if (!PostmasterIsAlive())
			proc_exit(1);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (strcmp(attr_database, dbname) != 0)
			{
				ereport(LOG,
						(errmsg("pg_attribution processor for database \"%s\" exits: pg_attribution.database is now \"%s\"",
								dbname, attr_database)));
				proc_exit(0);
			}
		}

		PG_TRY();
		{
			timeout = ProcessorRound();
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			/* Report, clean up, and try again later rather than exit. */
			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
			ProcessorNoteProgress(0, 1, edata->message);
			FreeErrorData(edata);
			pgstat_report_activity(STATE_IDLE, NULL);
			ProcessorSetState("idle after error");
			timeout = ERROR_PAUSE_MS;
		}
		PG_END_TRY();

		if (timeout > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 timeout, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}

/*
 * Settings of the processor, and with the library preloaded, the launcher
 * and the shared state.
 */
void
ProcessorInit(void)
{
	BackgroundWorker worker;

	DefineCustomStringVariable("pg_attribution.user_id_keys",
							   "Comma-separated metadata keys that carry the application's user id in billing webhooks.",
							   "Read in Stripe client_reference_id and metadata, Paddle custom_data and Lemon Squeezy meta.custom_data; the first key present wins.",
							   &attr_user_id_keys,
							   "user_id,app_user_id",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("pg_attribution.lemonsqueezy_order_delay",
							"Seconds an unclaimed Lemon Squeezy order waits for the subscription that may own it.",
							"Lemon Squeezy sends order_created for a new subscription's first order too; an order no subscription names by then is a one-time purchase.",
							&attr_lemonsqueezy_order_delay,
							300, 0, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_attribution.processor_batch_size",
							"Inbox rows the processor normalises per transaction.",
							NULL,
							&attr_processor_batch_size,
							500, 1, 100000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_attribution.processor_max_backoff",
							"Longest wait, in seconds, before a failed inbox row is tried again.",
							"Failed rows are retried after 1, 2, 4, ... seconds, up to this.",
							&attr_processor_max_backoff,
							3600, 1, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	ProcessorSharedInit();

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	strlcpy(worker.bgw_library_name, "pg_attribution", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "AttrLauncherMain", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "pg_attribution launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "pg_attribution launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}
