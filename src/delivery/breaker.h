/*
 * breaker.h
 *		Circuit breaker per destination: closed, open after N consecutive
 *		failures, half open (one probe request) after a cool-down.
 */
#ifndef ATTR_BREAKER_H
#define ATTR_BREAKER_H

#include "datatype/timestamp.h"

typedef enum BreakerState
{
	BREAKER_CLOSED,
	BREAKER_OPEN,
	BREAKER_HALF_OPEN
} BreakerState;

typedef struct Breaker
{
	BreakerState state;
	int			failures;		/* consecutive failed requests */
	TimestampTz opened_at;
	bool		probe_in_flight;
} Breaker;

extern const char *BreakerStateName(BreakerState s);
extern bool BreakerParseState(const char *name, BreakerState *s);
extern bool BreakerAllows(Breaker *b, int64 cooldown_ms, TimestampTz now,
						  const char **event);
extern TimestampTz BreakerNextProbe(const Breaker *b, int64 cooldown_ms);
extern const char *BreakerSuccess(Breaker *b);
extern const char *BreakerFailure(Breaker *b, int threshold, TimestampTz now);

#endif							/* ATTR_BREAKER_H */
