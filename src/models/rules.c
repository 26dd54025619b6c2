/*
 * rules.c
 *		Rule-based attribution models over one conversion path.
 *
 * A path is n touches, each known by its age (conversion time minus touch
 * time, in days) and whether it is a Direct visit.  Input order does not
 * matter: RuleChronologicalOrder sorts touches oldest first, ties kept in
 * input order, and every model reads the path in that order.
 *
 * Eligible touches are those at or before the conversion (age >= 0) and no
 * older than the lookback window; with last_n, only the last n of those.
 * Every model gives weights that sum to 1 over eligible touches and 0 to the
 * others, so weights stay aligned with the caller's arrays:
 *
 *	first_touch / last_touch	1 to the first / last eligible touch
 *	first_non_direct /			1 to the first / last touch that is not
 *	last_non_direct				Direct; on an all-Direct path, to the first /
 *								last Direct touch
 *	linear						1/k to each of k touches
 *	position_based				one touch: 1; two: 0.5 each; more: first_share
 *								to the first, last_share to the last, the rest
 *								split evenly between the middle touches
 *	time_decay					2^(-age/half_life), normalised to sum 1
 *
 * Nothing here allocates or raises errors: the caller passes buffers, and
 * RuleOptionsProblem reports bad options as a message.
 */
#include <math.h>
#include <string.h>

#include "models/rules.h"

const char *const RuleModelNames[RULE_NUM_MODELS] = {
	"first_touch",
	"last_touch",
	"first_non_direct",
	"last_non_direct",
	"linear",
	"position_based",
	"time_decay"
};

/*
 * Look a model up by its SQL name (exact, lower case).
 */
bool
RuleModelFromName(const char *name, RuleModel *model)
{
	int			i;

	for (i = 0; i < RULE_NUM_MODELS; i++)
	{
		if (strcmp(name, RuleModelNames[i]) == 0)
		{
			*model = (RuleModel) i;
			return true;
		}
	}
	return false;
}

void
RuleOptionsDefault(RuleOptions *opts)
{
	opts->lookback_days = RULE_DEFAULT_LOOKBACK_DAYS;
	opts->last_n = 0;
	opts->half_life_days = RULE_DEFAULT_HALF_LIFE_DAYS;
	opts->first_share = RULE_DEFAULT_FIRST_SHARE;
	opts->last_share = RULE_DEFAULT_LAST_SHARE;
}

/*
 * NULL when the options make sense, else a sentence naming the problem.
 */
const char *
RuleOptionsProblem(const RuleOptions *opts)
{
	if (isnan(opts->lookback_days))
		return "lookback_days must be a number of days.";
	if (opts->last_n < 0)
		return "last_n must be zero (all touches) or a positive number of touches.";
	if (!(opts->half_life_days > 0) || isinf(opts->half_life_days))
		return "half_life_days must be a positive number of days.";
	if (!(opts->first_share >= 0 && opts->first_share <= 1))
		return "first_share must be between 0 and 1.";
	if (!(opts->last_share >= 0 && opts->last_share <= 1))
		return "last_share must be between 0 and 1.";
	if (opts->first_share + opts->last_share > 1 + 1e-12)
		return "first_share and last_share add up to more than 1.";
	return NULL;
}

/*
 * Fill order[] with the indexes 0..n-1 sorted oldest first (largest age
 * first), ties in input order.  Paths usually arrive sorted, which is
 * checked in one pass; otherwise a stable bottom-up merge sort runs, using
 * tmp (n ints) as scratch.
 */
void
RuleChronologicalOrder(int n, const double *age_days, int *order, int *tmp)
{
	int			i;
	int			width;
	bool		sorted = true;

	for (i = 0; i < n; i++)
	{
		order[i] = i;
		if (i > 0 && age_days[i] > age_days[i - 1])
			sorted = false;
	}
	if (sorted)
		return;

	/* short paths: a stable insertion sort beats merging */
	if (n <= 24)
	{
		for (i = 1; i < n; i++)
		{
			int			idx = order[i];
			int			j = i;

			while (j > 0 && age_days[order[j - 1]] < age_days[idx])
			{
				order[j] = order[j - 1];
				j--;
			}
			order[j] = idx;
		}
		return;
	}

	for (width = 1; width < n; width *= 2)
	{
		int			lo;

		for (lo = 0; lo < n; lo += 2 * width)
		{
			int			mid = lo + width < n ? lo + width : n;
			int			hi = lo + 2 * width < n ? lo + 2 * width : n;
			int			a = lo,
						b = mid,
						k = lo;

			while (a < mid && b < hi)
			{
				/* take from the right run only when strictly older: stable */
				if (age_days[order[b]] > age_days[order[a]])
					tmp[k++] = order[b++];
				else
					tmp[k++] = order[a++];
			}
			while (a < mid)
				tmp[k++] = order[a++];
			while (b < hi)
				tmp[k++] = order[b++];
		}
		memcpy(order, tmp, sizeof(int) * n);
	}
}

/*
 * The touches that take part in the models, oldest first, into kept (n
 * ints); returns how many.  Eligible touches are at or before the
 * conversion and inside the window; with last_n, the last n of those.
 */
int
RuleKeptTouches(const RuleOptions *opts, int n, const double *age_days,
				const int *order, int *kept)
{
	int			k = 0;
	int			skip;
	int			i;
	bool		window = opts->lookback_days > 0 && !isinf(opts->lookback_days);

	for (i = 0; i < n; i++)
	{
		int			idx = order[i];
		double		age = age_days[idx];

		if (age < 0 || isnan(age))
			continue;
		if (window && age > opts->lookback_days)
			continue;
		kept[k++] = idx;
	}
	skip = (opts->last_n > 0 && k > opts->last_n) ? k - opts->last_n : 0;
	if (skip > 0)
		memmove(kept, kept + skip, sizeof(int) * (k - skip));
	return k - skip;
}

/*
 * The one kept touch (its position in kept) that a single-touch model
 * credits: first_touch, last_touch, first_non_direct or last_non_direct.
 */
int
RulePick(RuleModel model, int k, const int *kept, const bool *is_direct)
{
	int			pick;

	switch (model)
	{
		case RULE_FIRST_TOUCH:
			return 0;
		case RULE_FIRST_NON_DIRECT:
			/* an all-Direct path credits its first touch */
			for (pick = 0; pick < k && is_direct[kept[pick]]; pick++)
				;
			return pick == k ? 0 : pick;
		case RULE_LAST_NON_DIRECT:
			/* an all-Direct path credits its last touch */
			for (pick = k - 1; pick >= 0 && is_direct[kept[pick]]; pick--)
				;
			return pick < 0 ? k - 1 : pick;
		default:
			return k - 1;
	}
}

/* Microseconds in a day: ages in days are microsecond differences over this. */
#define RULE_USECS_PER_DAY 86400000000.0

/*
 * The window as a whole number of microseconds: the largest age in
 * microseconds whose age in days, computed as a double the way callers of
 * RuleKeptTouches compute it, is not above lookback_days.  Comparing integer
 * ages with it therefore admits exactly the touches RuleKeptTouches admits,
 * to the microsecond.  INT64_MAX when there is no window.
 */
int64_t
RuleWindowMicros(const RuleOptions *opts)
{
	double		days = opts->lookback_days;
	int64_t		us;

	if (!(days > 0) || isinf(days) || days * RULE_USECS_PER_DAY >= 9223372036854775807.0)
		return INT64_MAX;
	us = (int64_t) floor(days * RULE_USECS_PER_DAY);
	/* the product rounds; a few steps find the exact boundary */
	while (us < INT64_MAX && (double) (us + 1) / RULE_USECS_PER_DAY <= days)
		us++;
	while (us >= 0 && (double) us / RULE_USECS_PER_DAY > days)
		us--;
	return us;
}

/*
 * The seven models need no chronological sort when every eligible touch
 * takes part (no last_n): one pass over the touch times finds the eligible
 * touches, the newest one and the four single-touch picks, ties broken as
 * the sort would (oldest first, equal times in input order).  A touch is
 * eligible when 0 <= converted_at - at <= window_us (RuleWindowMicros);
 * times too far apart to subtract are not.  Eligible touches are marked in
 * eligible[]; picks->k is 0 when none is.
 */
void
RuleScanTimes(int64_t window_us, int n, const int64_t *at, int64_t converted_at,
			  const int32_t *channel, int32_t direct, bool *eligible, RulePicks *picks)
{
	int			first = -1,
				last = -1,
				first_nd = -1,
				last_nd = -1;
	int			k = 0;

	for (int i = 0; i < n; i++)
	{
		int64_t		t = at[i];
		int64_t		age;

		eligible[i] = !__builtin_sub_overflow(converted_at, t, &age) &&
			age >= 0 && age <= window_us;
		if (!eligible[i])
			continue;
		k++;
		/* first: the oldest, the earliest row among equals; last: the newest, the latest row */
		if (first < 0 || t < at[first])
			first = i;
		if (last < 0 || t >= at[last])
			last = i;
		if (channel[i] != direct)
		{
			if (first_nd < 0 || t < at[first_nd])
				first_nd = i;
			if (last_nd < 0 || t >= at[last_nd])
				last_nd = i;
		}
	}
	picks->k = k;
	picks->pick[RULE_FIRST_TOUCH] = first;
	picks->pick[RULE_LAST_TOUCH] = last;
	/* an all-Direct path credits its first / last touch */
	picks->pick[RULE_FIRST_NON_DIRECT] = first_nd >= 0 ? first_nd : first;
	picks->pick[RULE_LAST_NON_DIRECT] = last_nd >= 0 ? last_nd : last;
	picks->newest = last >= 0 ? at[last] : 0;
}

/*
 * time_decay weight of a touch before normalisation.  Ages are taken
 * relative to the most recent kept touch: the common factor cancels in the
 * normalisation, and this way the largest term is exactly 1, so old paths
 * never underflow to 0/0.
 */
double
RuleDecay(const RuleOptions *opts, double age_days, double newest_age_days)
{
	return RuleExp2(-(age_days - newest_age_days) / opts->half_life_days);
}

double		RuleExp2Table[RULE_EXP2_STEPS];
bool		RuleExp2Ready = false;

void
RuleExp2Prepare(void)
{
	for (int j = 0; j < RULE_EXP2_STEPS; j++)
		RuleExp2Table[j] = exp2((double) j / RULE_EXP2_STEPS);
	RuleExp2Ready = true;
}

/*
 * position_based weight of the touch at chronological position pos of k.
 */
double
RulePositionWeight(const RuleOptions *opts, int pos, int k)
{
	double		middle;

	if (k == 1)
		return 1.0;
	if (k == 2)
		return 0.5;
	if (pos == 0)
		return opts->first_share;
	if (pos == k - 1)
		return opts->last_share;
	middle = (1.0 - opts->first_share - opts->last_share) / (k - 2);
	return middle < 0 ? 0 : middle;
}

/*
 * Weights of one model over the k kept touches (k >= 1): out[i] is the
 * weight of touch kept[i].  Several models over one path share the kept
 * list, which is why this is separate from RuleWeights.
 */
void
RuleKeptWeights(RuleModel model, const RuleOptions *opts, int k, const int *kept,
				const double *age_days, const bool *is_direct, double *out)
{
	int			i;

	switch (model)
	{
		case RULE_FIRST_TOUCH:
		case RULE_LAST_TOUCH:
		case RULE_FIRST_NON_DIRECT:
		case RULE_LAST_NON_DIRECT:
			for (i = 0; i < k; i++)
				out[i] = 0.0;
			out[RulePick(model, k, kept, is_direct)] = 1.0;
			break;

		case RULE_LINEAR:
			for (i = 0; i < k; i++)
				out[i] = 1.0 / k;
			break;

		case RULE_POSITION_BASED:
			for (i = 0; i < k; i++)
				out[i] = RulePositionWeight(opts, i, k);
			break;

		case RULE_TIME_DECAY:
			{
				double		newest = age_days[kept[k - 1]];
				double		sum = 0.0;

				for (i = 0; i < k; i++)
				{
					out[i] = RuleDecay(opts, age_days[kept[i]], newest);
					sum += out[i];
				}
				for (i = 0; i < k; i++)
					out[i] /= sum;
				break;
			}
	}
}

/*
 * Weights of one model over a path; returns the number of touches that
 * received credit (0 when no touch is eligible, all weights then 0).
 *
 * order is the result of RuleChronologicalOrder; work is n ints and dense
 * n doubles of scratch; weights (n doubles) is written in input order.
 */
int
RuleWeights(RuleModel model, const RuleOptions *opts, int n,
			const double *age_days, const bool *is_direct,
			const int *order, int *work, double *dense, double *weights)
{
	int			k;
	int			i;

	for (i = 0; i < n; i++)
		weights[i] = 0.0;
	k = RuleKeptTouches(opts, n, age_days, order, work);
	if (k == 0)
		return 0;
	RuleKeptWeights(model, opts, k, work, age_days, is_direct, dense);
	for (i = 0; i < k; i++)
		weights[work[i]] = dense[i];
	return k;
}
