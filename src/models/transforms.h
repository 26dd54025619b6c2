/*
 * transforms.h
 *		Path transforms (fractribution / Snowplow semantics) on arrays of
 *		channel names; pure C, no Postgres memory or error machinery.
 */
#ifndef ATTR_TRANSFORMS_H
#define ATTR_TRANSFORMS_H

#include <stdbool.h>

typedef enum PathTransform
{
	PT_UNIQUE,
	PT_EXPOSURE,
	PT_FIRST,
	PT_FREQUENCY,
	PT_TRIM_LONG_PATH,
	PT_REMOVE_IF_NOT_ALL,
	PT_REMOVE_IF_LAST_AND_NOT_ALL
} PathTransform;

/* One channel name: bytes and length, not NUL-terminated. */
typedef struct PathItem
{
	const char *data;
	int			len;
} PathItem;

extern bool PathTransformFromName(const char *name, PathTransform *t);
extern const char *PathTransformName(PathTransform t);
extern bool PathTransformNeedsChannel(PathTransform t);
extern bool PathTransformNeedsCount(PathTransform t);
extern int	PathTransformSlots(int n);
extern int	PathTransformKeep(PathTransform t, int n, const PathItem *path,
							  PathItem channel, int limit, int *keep, int *counts,
							  int *slots);

#endif							/* ATTR_TRANSFORMS_H */
