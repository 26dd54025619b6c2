/*
 * processor_shared.h
 *		The processor worker's shared-memory state, shared by the launcher,
 *		the processor and every backend that wakes it or reads its status.
 */
#ifndef INGEST_PROCESSOR_SHARED_H
#define INGEST_PROCESSOR_SHARED_H

#include "storage/proc.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#define PROCESSOR_STATE_LEN 32
#define PROCESSOR_ERROR_LEN 256

typedef struct ProcessorShared
{
	slock_t		mutex;
	/* the launcher (static worker, not connected to a database) */
	pid_t		launcher_pid;
	PGPROC	   *launcher_proc;
	/* the processor (dynamic worker connected to the database) */
	pid_t		pid;
	PGPROC	   *proc;
	char		database[NAMEDATALEN];
	char		state[PROCESSOR_STATE_LEN];
	TimestampTz started_at;
	TimestampTz last_processed_at;
	TimestampTz last_error_at;
	int64		rows_processed;
	int64		rows_failed;
	char		last_error[PROCESSOR_ERROR_LEN];
	/* no processor for this database before this time (DROP DATABASE) */
	TimestampTz step_aside_until;
} ProcessorShared;

extern ProcessorShared *processor_shared;

extern void ProcessorSharedInit(void);
extern void ProcessorSetState(const char *state);
extern void ProcessorWake(void);
extern void ProcessorWakeLauncher(void);

#endif							/* INGEST_PROCESSOR_SHARED_H */
