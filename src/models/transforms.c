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
 * Channels are compared byte for byte.  first and frequency compare each
 * touch with the distinct channels seen so far, linear in the path for the
 * dozen or so channels real paths have.
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
 * Apply one transform.  keep (n ints) receives the surviving indexes in path
 * order; counts (n ints, frequency only, may be NULL otherwise) the touches
 * of each kept channel.  channel is the argument of the remove_* transforms,
 * limit that of trim_long_path (at least 1).  Returns how many survive.
 */
int
PathTransformKeep(PathTransform t, int n, const PathItem *path,
				  PathItem channel, int limit, int *keep, int *counts)
{
	int			k = 0;
	int			i,
				j;

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
			for (i = 0; i < n; i++)
			{
				for (j = 0; j < k; j++)
					if (ItemEq(path[i], path[keep[j]]))
						break;
				if (j == k)
				{
					keep[k] = i;
					if (counts)
						counts[k] = 0;
					k++;
				}
				if (counts)
					counts[j]++;
			}
			break;

		case PT_TRIM_LONG_PATH:
			for (i = (n > limit ? n - limit : 0); i < n; i++)
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
