/*
 * breaker.c
 *		Circuit breaker per destination.
 *
 * A destination that keeps failing (server errors, timeouts, refused
 * connections) is not sent to for a cool-down, so that a platform outage
 * does not burn the retry budget of every queued event; after the cool-down
 * one probe request decides whether it closes again.  The functions return
 * the name of the transition they made (for the durable log) or NULL.
 */
#include "postgres.h"

#include "delivery/breaker.h"

const char *
BreakerStateName(BreakerState s)
{
	switch (s)
	{
		case BREAKER_CLOSED:
			return "closed";
		case BREAKER_OPEN:
			return "open";
		case BREAKER_HALF_OPEN:
			return "half_open";
	}
	return "closed";
}

bool
BreakerParseState(const char *name, BreakerState *s)
{
	if (strcmp(name, "closed") == 0)
		*s = BREAKER_CLOSED;
	else if (strcmp(name, "open") == 0)
		*s = BREAKER_OPEN;
	else if (strcmp(name, "half_open") == 0)
		*s = BREAKER_HALF_OPEN;
	else
		return false;
	return true;
}

/*
 * May a request go out now?  An open breaker whose cool-down has passed turns
 * half open and lets exactly one probe through.
 */
bool
BreakerAllows(Breaker *b, int64 cooldown_ms, TimestampTz now, const char **event)
{
	*event = NULL;
	if (b->state == BREAKER_CLOSED)
		return true;
	if (b->state == BREAKER_OPEN)
	{
		if (now < BreakerNextProbe(b, cooldown_ms))
			return false;
		b->state = BREAKER_HALF_OPEN;
		b->probe_in_flight = false;
		*event = "breaker_half_open";
	}
	return !b->probe_in_flight;
}

/* When an open breaker lets its probe through (0 when not open). */
TimestampTz
BreakerNextProbe(const Breaker *b, int64 cooldown_ms)
{
	if (b->state != BREAKER_OPEN)
		return 0;
	return b->opened_at + cooldown_ms * INT64CONST(1000);
}

const char *
BreakerSuccess(Breaker *b)
{
	BreakerState old = b->state;

	b->failures = 0;
	b->probe_in_flight = false;
	b->state = BREAKER_CLOSED;
	return old != BREAKER_CLOSED ? "breaker_closed" : NULL;
}

const char *
BreakerFailure(Breaker *b, int threshold, TimestampTz now)
{
	b->failures++;
	b->probe_in_flight = false;
	if (b->state == BREAKER_HALF_OPEN ||
		(b->state == BREAKER_CLOSED && b->failures >= threshold))
	{
		b->state = BREAKER_OPEN;
		b->opened_at = now;
		return "breaker_open";
	}
	return NULL;
}
