/*
 * progress.c
 *		Progress of long SQL commands, readable from other sessions.
 *
 * A transaction's own tables cannot show progress to others before it
 * commits, and the server's command-progress views know only built-in
 * commands, so each backend gets one slot in shared memory (indexed by its
 * backend id) holding the command, its phase, rows done and total, and the
 * start times.  A slot is emptied when its command ends and, whatever
 * happens, at the end of the transaction.  Without shared_preload_libraries
 * there is no shared memory: reporting is then a no-op and the view is empty.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "core/progress.h"

#define PROGRESS_TEXT 64

typedef struct ProgressSlot
{
	slock_t		mutex;
	int			pid;			/* 0 when the slot is empty */
	Oid			dbid;
	char		command[PROGRESS_TEXT];
	char		phase[PROGRESS_TEXT];
	int64		done;
	int64		total;			/* -1 when unknown */
	TimestampTz started;
	TimestampTz phase_started;
} ProgressSlot;

static ProgressSlot *slots = NULL;
static int	nslots = 0;
static bool callback_registered = false;
static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

PG_FUNCTION_INFO_V1(attr_progress_start);
PG_FUNCTION_INFO_V1(attr_progress_update);
PG_FUNCTION_INFO_V1(attr_progress_end);
PG_FUNCTION_INFO_V1(attr_progress_rows);

static Size
ProgressShmemSize(void)
{
	return mul_size(MaxBackends, sizeof(ProgressSlot));
}

static void
ProgressShmemRequest(void)
{
	if (prev_shmem_request)
		prev_shmem_request();
	RequestAddinShmemSpace(ProgressShmemSize());
}

static void
ProgressShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup)
		prev_shmem_startup();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	slots = ShmemInitStruct("pg_attribution progress", ProgressShmemSize(), &found);
	if (!found)
	{
		memset(slots, 0, ProgressShmemSize());
		for (int i = 0; i < MaxBackends; i++)
			SpinLockInit(&slots[i].mutex);
	}
	nslots = MaxBackends;
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Reserve the slots; only possible while the library is preloaded.
 */
void
ProgressInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = ProgressShmemRequest;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = ProgressShmemStartup;
}

static ProgressSlot *
MySlot(void)
{
	if (slots == NULL || MyBackendId == InvalidBackendId || MyBackendId > nslots)
		return NULL;
	return &slots[MyBackendId - 1];
}

/* The transaction ended: whatever it was doing is no longer in progress. */
static void
ProgressXactCallback(XactEvent event, void *arg)
{
	(void) arg;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		ProgressEnd();
}

void
ProgressStart(const char *command, const char *phase, int64 total)
{
	ProgressSlot *slot = MySlot();
	TimestampTz now = GetCurrentTimestamp();

	if (slot == NULL)
		return;
	if (!callback_registered)
	{
		RegisterXactCallback(ProgressXactCallback, NULL);
		callback_registered = true;
	}
	SpinLockAcquire(&slot->mutex);
	slot->pid = MyProcPid;
	slot->dbid = MyDatabaseId;
	strlcpy(slot->command, command, PROGRESS_TEXT);
	strlcpy(slot->phase, phase ? phase : "", PROGRESS_TEXT);
	slot->done = 0;
	slot->total = total;
	slot->started = now;
	slot->phase_started = now;
	SpinLockRelease(&slot->mutex);
}

/*
 * A new phase (phase not NULL and different) restarts the phase clock;
 * total < 0 keeps the known total.
 */
void
ProgressUpdate(const char *phase, int64 done, int64 total)
{
	ProgressSlot *slot = MySlot();

	if (slot == NULL || slot->pid != MyProcPid)
		return;
	SpinLockAcquire(&slot->mutex);
	if (phase != NULL && strncmp(slot->phase, phase, PROGRESS_TEXT - 1) != 0)
	{
		strlcpy(slot->phase, phase, PROGRESS_TEXT);
		slot->phase_started = GetCurrentTimestamp();
	}
	slot->done = done;
	if (total >= 0)
		slot->total = total;
	SpinLockRelease(&slot->mutex);
}

void
ProgressEnd(void)
{
	ProgressSlot *slot = MySlot();

	if (slot == NULL || slot->pid != MyProcPid)
		return;
	SpinLockAcquire(&slot->mutex);
	slot->pid = 0;
	SpinLockRelease(&slot->mutex);
}

/* _progress_start(command text, phase text, total bigint) */
Datum
attr_progress_start(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a progress report needs a command name")));
	ProgressStart(text_to_cstring(PG_GETARG_TEXT_PP(0)),
				  PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
				  PG_ARGISNULL(2) ? -1 : PG_GETARG_INT64(2));
	PG_RETURN_VOID();
}

/* _progress_update(phase text, done bigint, total bigint) */
Datum
attr_progress_update(PG_FUNCTION_ARGS)
{
	ProgressUpdate(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
				   PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1),
				   PG_ARGISNULL(2) ? -1 : PG_GETARG_INT64(2));
	PG_RETURN_VOID();
}

Datum
attr_progress_end(PG_FUNCTION_ARGS)
{
	ProgressEnd();
	PG_RETURN_VOID();
}

/*
 * Every command in progress on the server: pid, database, command, phase,
 * rows done and total, start of the command and of its phase.
 */
Datum
attr_progress_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < nslots && slots != NULL; i++)
	{
		ProgressSlot copy;
		Datum		values[8];
		bool		nulls[8] = {0};
		char	   *dbname;

		SpinLockAcquire(&slots[i].mutex);
		copy = slots[i];
		SpinLockRelease(&slots[i].mutex);
		if (copy.pid == 0)
			continue;
		dbname = get_database_name(copy.dbid);
		values[0] = Int32GetDatum(copy.pid);
		if (dbname)
			values[1] = CStringGetTextDatum(dbname);
		else
			nulls[1] = true;
		values[2] = CStringGetTextDatum(copy.command);
		values[3] = CStringGetTextDatum(copy.phase);
		values[4] = Int64GetDatum(copy.done);
		values[5] = Int64GetDatum(copy.total);
		nulls[5] = copy.total < 0;
		values[6] = TimestampTzGetDatum(copy.started);
		values[7] = TimestampTzGetDatum(copy.phase_started);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
