/*
 * delivery_launcher.c
 *		Settings, shared state and the launcher of the delivery worker, and
 *		the commit-time wake-up.
 *
 * The launcher is a static background worker connected to no database.  It
 * waits quietly until the database named by pg_attribution.database exists
 * (and is not being dropped), then starts the delivery worker there as a
 * dynamic worker, and starts it again a moment after it exits (a crash, a
 * DROP DATABASE, a changed setting).  A worker pointed straight at a missing
 * database would fail at every restart and fill the log instead.
 *
 * The wake-up: an AFTER INSERT statement trigger on the outbox (and the
 * requeue functions) call RequestDeliveryWake, which sets the worker's latch
 * when the transaction commits; nothing happens on abort, so the worker never
 * looks for rows that do not exist, and no polling is needed.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pg_attribution.h"
#include "delivery/delivery.h"

PGDLLEXPORT void DeliveryLauncherMain(Datum main_arg);

PG_FUNCTION_INFO_V1(attr_wake_delivery);
PG_FUNCTION_INFO_V1(attr_outbox_wake);

bool		attr_allow_http_loopback = false;
char	   *attr_ca_file = NULL;
int			attr_connect_timeout_ms = 10000;
int			attr_request_timeout_ms = 30000;
int			attr_total_in_flight = 32;
int			attr_lease_s = 300;

typedef struct DeliveryShared
{
	slock_t		mutex;
	Latch	   *latch;			/* the running delivery worker's, or NULL */
	pid_t		pid;			/* its pid, 0 when none runs */
} DeliveryShared;

static DeliveryShared *delivery_shared = NULL;
#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static bool wake_at_commit = false;
static bool xact_callback_registered = false;

#if PG_VERSION_NUM >= 150000
static void
delivery_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(DeliveryShared)));
}
#endif

static void
delivery_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	delivery_shared = ShmemInitStruct("pg_attribution delivery", sizeof(DeliveryShared), &found);
	if (!found)
	{
		SpinLockInit(&delivery_shared->mutex);
		delivery_shared->latch = NULL;
		delivery_shared->pid = 0;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* The delivery worker announces (or withdraws) its latch. */
void
DeliveryPublishLatch(Latch *latch)
{
	if (delivery_shared == NULL)
		return;
	SpinLockAcquire(&delivery_shared->mutex);
	delivery_shared->latch = latch;
	delivery_shared->pid = latch ? MyProcPid : 0;
	SpinLockRelease(&delivery_shared->mutex);
}

/*
 * Before DROP DATABASE (or a rename, or its use as a template) of the
 * worker's database: make the worker exit at once, as DROP DATABASE ...
 * WITH (FORCE) would, instead of letting the command time out waiting for
 * it.  The launcher does not start it again while the database is locked.
 */
void
DeliveryStepAside(const char *dbname)
{
	pid_t		pid;

	if (delivery_shared == NULL || dbname == NULL || attr_database == NULL ||
		strcmp(dbname, attr_database) != 0)
		return;
	SpinLockAcquire(&delivery_shared->mutex);
	pid = delivery_shared->pid;
	SpinLockRelease(&delivery_shared->mutex);
	if (pid != 0)
		(void) kill(pid, SIGTERM);
}

static void
wake_worker(void)
{
	Latch	   *latch;

	if (delivery_shared == NULL)
		return;
	SpinLockAcquire(&delivery_shared->mutex);
	latch = delivery_shared->latch;
	SpinLockRelease(&delivery_shared->mutex);
	/* A latch of an exited worker is unowned; setting it is harmless. */
	if (latch != NULL)
		SetLatch(latch);
}

static void
wake_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit)
				wake_worker();
			wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

/* Wake the delivery worker when the current transaction commits. */
void
RequestDeliveryWake(void)
{
	if (delivery_shared == NULL)
		return;					/* not preloaded: there is no worker */
	if (!xact_callback_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		xact_callback_registered = true;
	}
	wake_at_commit = true;
}

/* attribution._wake_delivery() */
Datum
attr_wake_delivery(PG_FUNCTION_ARGS pg_attribute_unused())
{
	RequestDeliveryWake();
	PG_RETURN_VOID();
}

/* AFTER INSERT statement trigger on attribution.outbox. */
Datum
attr_outbox_wake(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("attribution._outbox_wake() must be called as a trigger")));
	RequestDeliveryWake();
	return PointerGetDatum(NULL);
}

/*
 * Is someone dropping (or otherwise exclusively locking) the database?
 * DROP DATABASE holds an exclusive lock on the database object while it
 * waits for the database's sessions to leave.
 */
bool
DeliveryDatabaseLocked(Oid dboid)
{
	LOCKTAG		tag;

	SET_LOCKTAG_OBJECT(tag, InvalidOid, DatabaseRelationId, dboid, 0);
	if (LockAcquire(&tag, AccessShareLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, AccessShareLock, true);
	return false;
}

/*
 * The database's OID, or InvalidOid when it does not exist or does not allow
 * connections.  A heap scan of pg_database: the launcher is connected to no
 * database, so catalog indexes cannot be used.
 */
static Oid
database_oid(const char *name)
{
	Oid			dboid = InvalidOid;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), name) == 0 && db->datallowconn)
		{
			dboid = db->oid;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return dboid;
}

static Oid
ready_database(const char *name)
{
	Oid			dboid = database_oid(name);

	if (OidIsValid(dboid) && DeliveryDatabaseLocked(dboid))
		return InvalidOid;
	return dboid;
}

static BackgroundWorkerHandle *
start_worker(Oid dboid)
{
	BackgroundWorker w;
	BackgroundWorkerHandle *handle;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "pg_attribution");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "DeliveryWorkerMain");
	snprintf(w.bgw_name, BGW_MAXLEN, "pg_attribution delivery");
	snprintf(w.bgw_type, BGW_MAXLEN, "pg_attribution delivery");
	w.bgw_main_arg = ObjectIdGetDatum(dboid);
	w.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&w, &handle))
		return NULL;
	return handle;
}

/*
 * The launcher's loop: keep one delivery worker running in the configured
 * database while it exists.
 */
void
DeliveryLauncherMain(Datum main_arg pg_attribute_unused())
{
	BackgroundWorkerHandle *handle = NULL;
	Oid			running_db = InvalidOid;
	TimestampTz next_start = 0;
	bool		warned_slots = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("pg_attribution delivery launcher");

	for (;;)
	{
		long		timeout = 5000;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			proc_exit(1);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			/* a new database: stop the worker; it starts again below */
			if (handle != NULL)
			{
				if (database_oid(attr_database) != running_db)
					TerminateBackgroundWorker(handle);
			}
		}

		if (handle != NULL)
		{
			pid_t		pid;

			if (GetBackgroundWorkerPid(handle, &pid) == BGWH_STOPPED)
			{
				pfree(handle);
				handle = NULL;
				next_start = GetCurrentTimestamp() + USECS_PER_SEC;
			}
		}

		now = GetCurrentTimestamp();
		if (handle == NULL && now >= next_start)
		{
			Oid			dboid = ready_database(attr_database);

			if (OidIsValid(dboid))
			{
				handle = start_worker(dboid);
				running_db = dboid;
				if (handle == NULL && !warned_slots)
				{
					ereport(LOG,
							(errmsg("pg_attribution delivery: no background worker slot free for the delivery worker"),
							 errhint("Raise max_worker_processes.")));
					warned_slots = true;
				}
			}
		}
		else if (handle == NULL)
			timeout = Max(1, (next_start - now) / 1000);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Settings, and (when preloaded) the launcher and the shared latch slot.
 */
void
DeliveryInit(void)
{
	BackgroundWorker w;

	DefineCustomBoolVariable("pg_attribution.allow_http_loopback",
							 "Allows the delivery worker to use plain http to loopback addresses.",
							 "For tests against a local mock server; https is required otherwise.",
							 &attr_allow_http_loopback,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("pg_attribution.ca_file",
							   "File of CA certificates the delivery worker trusts, instead of the system's.",
							   "For private CAs; empty uses the system trust store.",
							   &attr_ca_file,
							   "",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("pg_attribution.delivery_connect_timeout",
							"Longest time the delivery worker waits to connect to a platform.",
							NULL,
							&attr_connect_timeout_ms,
							10000, 100, 600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_attribution.delivery_timeout",
							"Longest time one delivery request may take, connection included.",
							NULL,
							&attr_request_timeout_ms,
							30000, 100, 3600000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_attribution.delivery_max_in_flight",
							"Most delivery requests in flight at once, over all destinations.",
							"Each destination also has its own cap (destinations.max_in_flight).",
							&attr_total_in_flight,
							32, 1, 1024,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_attribution.delivery_lease",
							"How long a claimed outbox row stays reserved for the worker that claimed it.",
							"A row whose lease lapsed (its worker crashed) is claimed again.",
							&attr_lease_s,
							300, 10, 86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = delivery_shmem_request;
#else
	RequestAddinShmemSpace(MAXALIGN(sizeof(DeliveryShared)));
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = delivery_shmem_startup;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = 5;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "pg_attribution");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "DeliveryLauncherMain");
	snprintf(w.bgw_name, BGW_MAXLEN, "pg_attribution delivery launcher");
	snprintf(w.bgw_type, BGW_MAXLEN, "pg_attribution delivery launcher");
	RegisterBackgroundWorker(&w);
}
