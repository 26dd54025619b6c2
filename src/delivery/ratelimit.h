/*
 * ratelimit.h
 *		Token bucket per destination, in requests per second.
 */
#ifndef ATTR_RATELIMIT_H
#define ATTR_RATELIMIT_H

#include "datatype/timestamp.h"

typedef struct TokenBucket
{
	double		tokens;
	TimestampTz last;
} TokenBucket;

extern bool BucketTake(TokenBucket *b, double rate, TimestampTz now);
extern double BucketAvailable(TokenBucket *b, double rate, TimestampTz now);
extern int64 BucketWaitMs(TokenBucket *b, double rate, TimestampTz now);

#endif							/* ATTR_RATELIMIT_H */
