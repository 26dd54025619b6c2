/*
 * delivery_worker.c
 *		The delivery worker: drains attribution.outbox to the platforms.
 *
 * The loop follows one rule: no transaction is open while a request is on
 * the wire.  A short transaction claims due rows (FOR UPDATE SKIP LOCKED,
 * with a lease) and commits; the batches go out through one long-lived
 * libcurl multi handle; each completion is recorded in its own short
 * transaction as it arrives.  The worker sleeps in one WaitEventSet holding
 * its latch, postmaster death and libcurl's sockets, and wakes at the
 * earliest of: a commit that queued rows (latch), the next retry time, a
 * lease lapsing, a breaker's half-open time, a rate-limit token, libcurl's
 * own timer.  About once a second it also checks that nobody waits to drop
 * its database, since DROP DATABASE does not stop background workers itself.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pg_attribution.h"
#include "delivery/delivery.h"
#include "delivery/http_engine.h"
#include "delivery/platforms/platform.h"

PGDLLEXPORT void DeliveryWorkerMain(Datum main_arg);

#define MAX_SPLIT_DEPTH		16
#define SAFETY_SWEEP_MS		10000
#define PARTITION_CHECK_US	(INT64CONST(6) * 3600 * USECS_PER_SEC)

MemoryContext DeliveryContext = NULL;
static MemoryContext loop_cxt = NULL;	/* reset at every turn of the loop */

static bool claim_needed = true;
static TimestampTz wake_claim_at = 0;	/* claim again at this time */
static TimestampTz last_claim = 0;
static TimestampTz last_partitions = 0;
static TimestampTz last_load = 0;
static bool reload_needed = true;	/* re-read destinations at the next claim */
static bool extension_ready = false;

static void
begin_txn(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pg_attribution delivery: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

static void
commit_txn(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	/* commit leaves TopMemoryContext current: back to the loop's context */
	MemoryContextSwitchTo(loop_cxt);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

static void
unpublish_latch(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	DeliveryPublishLatch(NULL);
}

static void
earliest(TimestampTz *at, TimestampTz t)
{
	if (t != 0 && (*at == 0 || t < *at))
		*at = t;
}

/* Free a batch and its request. */
static void
drop_batch(DeliveryBatch *b)
{
	if (b->req != NULL)
		HttpRequestFree(b->req);
	MemoryContextDelete(b->cxt);
}

/*
 * A new batch of the given rows of src (by index), for sending again at
 * once: a bad event isolated by splitting, or the rows LinkedIn did not
 * refuse.
 */
static DeliveryBatch *
rebatch(DeliveryBatch *src, int *idx, int n)
{
	MemoryContext cxt = AllocSetContextCreate(DeliveryContext, "delivery batch",
											  ALLOCSET_DEFAULT_SIZES);
	DeliveryBatch *b = MemoryContextAllocZero(cxt, sizeof(DeliveryBatch));

	b->cxt = cxt;
	b->dest = src->dest;
	b->adjustment = src->adjustment;
	b->depth = src->depth + 1;
	b->nrows = n;
	b->rows = MemoryContextAlloc(cxt, n * sizeof(DeliveryRow));
	for (int i = 0; i < n; i++)
	{
		DeliveryRow *from = &src->rows[idx[i]];
		DeliveryRow *to = &b->rows[i];

		to->id = from->id;
		to->claim = from->claim;
		to->dedup_key = MemoryContextStrdup(cxt, from->dedup_key);
		to->payload = MemoryContextAlloc(cxt, from->payload_len + 1);
		memcpy(to->payload, from->payload, from->payload_len + 1);
		to->payload_len = from->payload_len;
	}
	return b;
}

/* Queue the rows marked ROW_RESEND again, split in halves when asked. */
static void
requeue_resends(DeliveryBatch *batch, Verdict *v)
{
	int		   *idx = palloc(batch->nrows * sizeof(int));
	int			n = 0;

	for (int i = 0; i < batch->nrows; i++)
		if (v->rows[i].kind == ROW_RESEND)
			idx[n++] = i;
	if (n == 0)
		return;
	if (batch->depth >= MAX_SPLIT_DEPTH)
	{
		for (int i = 0; i < n; i++)
		{
			v->rows[idx[i]].kind = ROW_DEAD;
			if (v->rows[idx[i]].code == NULL)
				v->rows[idx[i]].code = "ISOLATION_FAILED";
		}
		return;
	}
	if (v->split && n > 1)
	{
		int			half = n / 2;

		dlist_push_head(&batch->dest->queue, &rebatch(batch, idx + half, n - half)->node);
		dlist_push_head(&batch->dest->queue, &rebatch(batch, idx, half)->node);
	}
	else
		dlist_push_head(&batch->dest->queue, &rebatch(batch, idx, n)->node);
}

/* Give back every queued (unsent) batch of a paused destination. */
static void
hold_queue(Destination *dest, const char *code)
{
	while (!dlist_is_empty(&dest->queue))
	{
		DeliveryBatch *b = dlist_container(DeliveryBatch, node, dlist_pop_head_node(&dest->queue));

		/* a status poll not sent stays due: it is claimed again */
		if (b->status_of == NULL)
			DeliveryHoldBatch(b, code, "destination paused");
		drop_batch(b);
	}
}

/* Record one finished request, in its own transaction. */
static void
complete(HttpRequest *req)
{
	DeliveryBatch *batch = req->owner;
	Destination *dest = batch->dest;
	TimestampTz now = GetCurrentTimestamp();
	Verdict		v;
	const char *event = NULL;

	dest->in_flight--;
	begin_txn("recording a delivery");
	DeliveryJudge(batch, req, &v);

	if (v.breaker_failure)
	{
		event = BreakerFailure(&dest->breaker, dest->breaker_threshold, now);
		DeliveryPersistBreaker(dest, event, v.rows[0].code ?
							   psprintf("%s: %s", v.rows[0].code,
										v.rows[0].message ? v.rows[0].message : "") : NULL);
	}
	else if (v.breaker_success &&
			 (dest->breaker.state != BREAKER_CLOSED || dest->breaker.failures > 0))
	{
		event = BreakerSuccess(&dest->breaker);
		DeliveryPersistBreaker(dest, event, event ? "request succeeded" : NULL);
	}
	else
		dest->breaker.probe_in_flight = false;

	if (v.throttle_s > 0)
		dest->throttled_until = now + (int64) (v.throttle_s * USECS_PER_SEC);

	if (v.credential_invalid || v.pause_reason != NULL)
	{
		if (!dest->paused)
			DeliveryPause(dest, v.credential_invalid ? "credential_invalid" : v.pause_reason, v.detail);
		hold_queue(dest, v.rows[0].code);
	}

	if (batch->status_of != NULL)
		DeliveryRecordStatus(batch, &v, (int) req->http_status);
	else
	{
		requeue_resends(batch, &v);
		DeliveryRecord(batch, &v, (int) req->http_status, req->latency_ms);
	}
	commit_txn();

	drop_batch(batch);
	claim_needed = true;
}

/* Send the queued batches that the caps, breaker and rate limit allow. */
static void
dispatch(void)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < delivery_ndests; i++)
	{
		Destination *dest = delivery_dests[i];

		while (!dlist_is_empty(&dest->queue))
		{
			DeliveryBatch *b;
			const char *event;
			char		why[256];

			if (dest->paused || dest->in_flight >= dest->max_in_flight ||
				HttpInFlight() >= attr_total_in_flight || dest->throttled_until > now)
				break;
			if (!BreakerAllows(&dest->breaker, dest->breaker_cooldown_ms, now, &event))
				break;
			if (event != NULL)
			{
				begin_txn("recording a breaker transition");
				DeliveryPersistBreaker(dest, event, "cool-down over: one probe request");
				commit_txn();
			}
			if (!BucketTake(&dest->bucket, dest->rate_limit, now))
				break;

			b = dlist_container(DeliveryBatch, node, dlist_pop_head_node(&dest->queue));
			b->req = HttpRequestCreate(b);
			DeliveryBuildRequest(b, b->req);
			if (!HttpStart(b->req, why, sizeof(why)))
			{
				/* configuration problem: pause, keep the events */
				begin_txn("pausing a destination");
				if (b->status_of == NULL)
					DeliveryHoldBatch(b, "ENDPOINT_REJECTED", why);
				DeliveryPause(dest, "endpoint_rejected", why);
				hold_queue(dest, "ENDPOINT_REJECTED");
				commit_txn();
				drop_batch(b);
				break;
			}
			if (dest->breaker.state == BREAKER_HALF_OPEN)
				dest->breaker.probe_in_flight = true;
			b->sent_at = now;
			dest->in_flight++;
		}
	}
}

/*
 * Claim for every destination that may send and has nothing queued, then
 * find the next time there will be work.
 */
static void
claim_cycle(void)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next = 0;

	claim_needed = false;
	last_claim = now;
	begin_txn("claiming outbox rows");
	extension_ready = OidIsValid(get_extension_oid("pg_attribution", true));
	if (extension_ready)
	{
		if (now - last_partitions > PARTITION_CHECK_US)
		{
			DeliveryMaintainPartitions();
			last_partitions = now;
		}
		/* configuration changes are seen within a second, or at once on a wake */
		if (reload_needed || now - last_load >= USECS_PER_SEC)
		{
			DeliveryLoadDestinations();
			reload_needed = false;
			last_load = now;
		}
		for (int i = 0; i < delivery_ndests; i++)
		{
			Destination *d = delivery_dests[i];
			int			slots;
			int			per_batch = DeliveryRowsPerBatch(d);

			d->need_due = false;
			if (!d->enabled || d->module == NULL)
				continue;
			if (d->paused)
			{
				earliest(&next, d->paused_until);
				continue;
			}
			if (!dlist_is_empty(&d->queue))
				continue;
			if (d->throttled_until > now)
			{
				earliest(&next, d->throttled_until);
				continue;
			}
			if (d->breaker.state == BREAKER_OPEN &&
				now < BreakerNextProbe(&d->breaker, d->breaker_cooldown_ms))
			{
				earliest(&next, BreakerNextProbe(&d->breaker, d->breaker_cooldown_ms));
				continue;
			}
			slots = Min(d->max_in_flight - d->in_flight, attr_total_in_flight - HttpInFlight());
			if (d->breaker.state != BREAKER_CLOSED)
				slots = Min(slots, 1);
			slots = Min(slots, Max(1, (int) BucketAvailable(&d->bucket, d->rate_limit, now)));
			/* without capacity, the next completion brings the next claim */
			if (slots <= 0)
				continue;
			/* accepted requests' status first: it frees rows waiting on it */
			if (d->module->build_status_request != NULL)
				slots -= DeliveryClaimStatusPolls(d, slots);
			/* a full claim means more is due now: no need to look ahead */
			d->need_due = true;
			if (slots > 0)
				d->need_due = DeliveryClaim(d, slots * per_batch, attr_lease_s) < slots * per_batch;
		}
		earliest(&next, DeliveryNextDue());
	}
	commit_txn();

	/* Rows already due wait for capacity: a completion triggers the claim. */
	wake_claim_at = next > now ? next : 0;
}

/* How long to sleep, in ms. */
static long
sleep_ms(void)
{
	TimestampTz now = GetCurrentTimestamp();
	long		timeout = extension_ready ? 1000 : 5000;
	long		t = HttpTimeoutMs();
	TimestampTz at = wake_claim_at;

	if (t >= 0 && t < timeout)
		timeout = t;
	for (int i = 0; i < delivery_ndests; i++)
	{
		Destination *d = delivery_dests[i];

		if (dlist_is_empty(&d->queue) || d->paused)
			continue;
		if (d->throttled_until > now)
			earliest(&at, d->throttled_until);
		else if (d->breaker.state == BREAKER_OPEN)
			earliest(&at, BreakerNextProbe(&d->breaker, d->breaker_cooldown_ms));
		else if (d->in_flight < d->max_in_flight)
			earliest(&at, now + BucketWaitMs(&d->bucket, d->rate_limit, now) * 1000);
	}
	if (at != 0)
		timeout = Min(timeout, Max(0, (at - now + 999) / 1000));
	return timeout;
}

static void
wait_for_events(void)
{
	int			nevents = 2 + HttpSocketCount();
	WaitEventSet *set;
	WaitEvent  *occurred;
	int			n;

#if PG_VERSION_NUM >= 170000
	set = CreateWaitEventSet(NULL, nevents);
#else
	set = CreateWaitEventSet(CurrentMemoryContext, nevents);
#endif
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	HttpAddWaitEvents(set);
	occurred = palloc(nevents * sizeof(WaitEvent));

	n = WaitEventSetWait(set, sleep_ms(), occurred, nevents, PG_WAIT_EXTENSION);
	for (int i = 0; i < n; i++)
	{
		if (occurred[i].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			claim_needed = true;
			reload_needed = true;
		}
		else if (occurred[i].events & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE))
			HttpSocketEvent(occurred[i].fd, occurred[i].events);
	}
	FreeWaitEventSet(set);
	HttpDrive();
}

void
DeliveryWorkerMain(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	TimestampTz last_probe = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("pg_attribution delivery");

	DeliveryContext = AllocSetContextCreate(TopMemoryContext, "pg_attribution delivery",
											ALLOCSET_DEFAULT_SIZES);
	loop_cxt = AllocSetContextCreate(TopMemoryContext, "pg_attribution delivery loop",
									 ALLOCSET_DEFAULT_SIZES);
	/*
	 * The worker's own commits need not wait for the WAL flush: a claim or an
	 * outcome lost in a crash only means a lease that lapses and an event
	 * sent again, which the platforms' de-duplication keys absorb.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	DeliveryPublishLatch(MyLatch);
	on_shmem_exit(unpublish_latch, (Datum) 0);
	HttpEngineInit();
	ereport(LOG,
			(errmsg("pg_attribution delivery worker started in database \"%s\"", attr_database)));

	for (;;)
	{
		TimestampTz now;
		HttpRequest *req;

		MemoryContextSwitchTo(loop_cxt);
		MemoryContextReset(loop_cxt);
		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
		{
			/* rows in flight keep their lease and are claimed again later */
			HttpEngineShutdown();
			proc_exit(1);
		}
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			claim_needed = true;
		}

		now = GetCurrentTimestamp();
		if (now - last_probe >= USECS_PER_SEC)
		{
			last_probe = now;
			if (DeliveryDatabaseLocked(dboid))
			{
				ereport(LOG,
						(errmsg("pg_attribution delivery worker exiting: its database is being dropped or locked")));
				HttpEngineShutdown();
				proc_exit(1);
			}
		}

		while ((req = HttpNextDone()) != NULL)
			complete(req);

		if (claim_needed ||
			(wake_claim_at != 0 && now >= wake_claim_at) ||
			now - last_claim >= SAFETY_SWEEP_MS * INT64CONST(1000))
			claim_cycle();

		dispatch();
		wait_for_events();
	}
}
