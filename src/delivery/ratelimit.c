/*
 * ratelimit.c
 *		Token bucket per destination.
 *
 * The bucket holds up to one second of requests (at least one), refills
 * continuously at the destination's rate, and a request takes one token.
 * Platforms meter requests rather than events, and a batch of a thousand
 * events is one request, so the unit is the request.
 */
#include "postgres.h"

#include "delivery/ratelimit.h"

static void
refill(TokenBucket *b, double rate, TimestampTz now)
{
	double		burst = Max(rate, 1.0);

	if (b->last == 0)
		b->tokens = burst;
	else if (now > b->last)
		b->tokens = Min(burst, b->tokens + (now - b->last) * rate / 1000000.0);
	b->last = now;
}

/* Take a token if there is one. */
bool
BucketTake(TokenBucket *b, double rate, TimestampTz now)
{
	refill(b, rate, now);
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

/* Whole requests that may go out now. */
double
BucketAvailable(TokenBucket *b, double rate, TimestampTz now)
{
	refill(b, rate, now);
	return b->tokens;
}

/* Milliseconds until the next token (0 when one is there). */
int64
BucketWaitMs(TokenBucket *b, double rate, TimestampTz now)
{
	refill(b, rate, now);
	if (b->tokens >= 1.0)
		return 0;
	return (int64) ((1.0 - b->tokens) * 1000.0 / rate) + 1;
}
