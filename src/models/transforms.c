/*
 * transforms.c
 *		Path transforms, as Google's fractribution and Snowplow's attribution
 *		package define them, on a path of channel names:
 *
 *	unique						the path as it is (identity)
 *	exposure					consecutive repeats collapsed to one
 *								(a>a>b>a -> a>b>a)
 *	first						first occurrence of each channel (a>b)
 *	frequency					first occurrence of each channel, with its
 *								number of touches in the whole path
 *								(a>a>b>a -> a(3)>b(1))
 *	trim_long_path(n)			the last n touches
 *	remove_if_not_all(c)		every c removed, unless the path is only c
 *	remove_if_last_and_not_all(c)
 *								the trailing run of c removed, unless the
 *								path is only c
 *
 * Every transform keeps a subsequence of the path, so each one is written
 * as "which indexes survive": callers build the output from keep[], and
 * counts[] (frequency) carries the touches each kept channel stands for.
 * Channels are compared byte for byte.  first and frequency find each
 * touch among the distinct channels seen so far through a hash table in
 * caller-provided slots, so they stay linear in the path whatever the
 * number of distinct channels.
 */
#include <string.h>

#include "models/transforms.h"

static const char *const transform_names[] = {
	"unique",
	"exposure",
	"first",
	"frequency",
	"trim_long_path",
	"remove_if_not_all",
	"remove_if_last_and_not_all"
};

#define NUM_TRANSFORMS ((int) (sizeof(transform_names) / sizeof(transform_names[0])))

bool
PathTransformFromName(const char *name, PathTransform *t)
{
	int			i;

	for (i = 0; i < NUM_TRANSFORMS; i++)
	{
		if (strcmp(name, transform_names[i]) == 0)
		{
			*t = (PathTransform) i;
			return true;
		}
	}
	return false;
}

const char *
PathTransformName(PathTransform t)
{
	return transform_names[t];
}

bool
PathTransformNeedsChannel(PathTransform t)
{
	return t == PT_REMOVE_IF_NOT_ALL || t == PT_REMOVE_IF_LAST_AND_NOT_ALL;
}

bool
PathTransformNeedsCount(PathTransform t)
{
	return t == PT_TRIM_LONG_PATH;
}

static inline bool
ItemEq(PathItem a, PathItem b)
{
	return a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
}

/*
 * Slots the first and frequency transforms need for a path of n touches:
 * a power of two at least twice n, so the table is at most half full.
 */
int
PathTransformSlots(int n)
{
	int			s = 16;

	while (s < 2 * n)
		s *= 2;
	return s;
}

/* FNV-1a over the name's bytes: names are short, any even hash serves. */
static inline unsigned int
ItemHash(PathItem a)
{
	unsigned int h = 2166136261u;

	for (int i = 0; i < a.len; i++)
		h = (h ^ (unsigned char) a.data[i]) * 16777619u;
	return h ^ (h >> 15);
}

/*
 * First occurrences of each channel, in path order, into keep; counts (may
 * be NULL) the touches of each.  slots holds PathTransformSlots(n) ints:
 * an open-addressing table of positions in keep.
 */
static int
KeepFirst(int n, const PathItem *path, int *keep, int *counts, int *slots)
{
	int			nslots = PathTransformSlots(n);
	int			mask = nslots - 1;
	int			k = 0;

	for (int i = 0; i < nslots; i++)
		slots[i] = -1;
	for (int i = 0; i < n; i++)
	{
		int			s = (int) (ItemHash(path[i]) & (unsigned int) mask);
		int			j;

		while ((j = slots[s]) >= 0 && !ItemEq(path[i], path[keep[j]]))
			s = (s + 1) & mask;
		if (j < 0)
		{
			j = k++;
			slots[s] = j;
			keep[j] = i;
			if (counts)
				counts[j] = 0;
		}
		if (counts)
			counts[j]++;
	}
	return k;
}

/*
 * Apply one transform.  keep (n ints) receives the surviving indexes in path
 * order; counts (n ints, frequency only, may be NULL otherwise) the touches
 * of each kept channel.  channel is the argument of the remove_* transforms,
 * limit that of trim_long_path (0: no trimming, as in fractribution).
 * slots (PathTransformSlots(n) ints) is scratch for first and frequency and
 * may be NULL for the others.  Returns how many survive.
 */
int
PathTransformKeep(PathTransform t, int n, const PathItem *path,
				  PathItem channel, int limit, int *keep, int *counts, int *slots)
{
	int			k = 0;
	int			i;

	switch (t)
	{
		case PT_UNIQUE:
			for (i = 0; i < n; i++)
				keep[k++] = i;
			break;

		case PT_EXPOSURE:
			for (i = 0; i < n; i++)
				if (i == 0 || !ItemEq(path[i], path[i - 1]))
					keep[k++] = i;
			break;

		case PT_FIRST:
		case PT_FREQUENCY:
			k = KeepFirst(n, path, keep, counts, slots);
			break;

		case PT_TRIM_LONG_PATH:
			for (i = (limit > 0 && n > limit ? n - limit : 0); i < n; i++)
				keep[k++] = i;
			break;

		case PT_REMOVE_IF_NOT_ALL:
			for (i = 0; i < n; i++)
				if (!ItemEq(path[i], channel))
					keep[k++] = i;
			if (k == 0)			/* only the channel: left as it is */
				for (i = 0; i < n; i++)
					keep[k++] = i;
			break;

		case PT_REMOVE_IF_LAST_AND_NOT_ALL:
			{
				int			end = n;

				while (end > 0 && ItemEq(path[end - 1], channel))
					end--;
				if (end == 0)	/* only the channel: left as it is */
					end = n;
				for (i = 0; i < end; i++)
					keep[k++] = i;
				break;
			}
	}
	return k;
}
