/*
 * fuzz_rules.c
 *		libFuzzer harness for the rule-based models (src/models/rules.c) and
 *		the path transforms (src/models/transforms.c), which are pure C.
 *
 * The input is read as options, then touches of three bytes (channel,
 * age in hours, minutes).  The harness checks the invariants the SQL
 * functions promise and aborts when one fails:
 *	- every model's weights are >= 0, 0 outside the window, and sum to 1
 *	  when a touch is eligible (0 otherwise);
 *	- the fast path of rule_credits (RuleScanTimes over integer microsecond
 *	  times, RuleWindowMicros) marks exactly the touches RuleKeptTouches
 *	  keeps and picks the same first, last and non-Direct touches;
 *	- every transform keeps an increasing subsequence of the path; exposure
 *	  has no two equal neighbours; first and frequency have no repeats and
 *	  frequency's counts add up to the path length; remove_if_not_all leaves
 *	  the channel only on a path made of it.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *		test/fuzz/fuzz_rules.c src/models/rules.c src/models/transforms.c -lm
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/rules.h"
#include "models/transforms.h"

#define MAX_TOUCHES 64

static const char *const channels[] = {"Direct", "Email", "Paid Search", "Referral", "a", "b"};

static void
check(int ok)
{
	if (!ok)
		abort();
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	RuleOptions opts;
	double		age[MAX_TOUCHES];
	bool		is_direct[MAX_TOUCHES];
	int			order[MAX_TOUCHES];
	int			work[MAX_TOUCHES];
	double		dense[MAX_TOUCHES];
	double		weights[MAX_TOUCHES];
	PathItem	path[MAX_TOUCHES];
	int			keep[MAX_TOUCHES];
	int			counts[MAX_TOUCHES];
	int			slots[2 * MAX_TOUCHES];	/* PathTransformSlots(MAX_TOUCHES) */
	int			n = 0;
	int64_t		age_us[MAX_TOUCHES];
	int64_t		at[MAX_TOUCHES];
	int32_t		channel_id[MAX_TOUCHES];
	bool		eligible[MAX_TOUCHES];
	int			kept[MAX_TOUCHES];
	const int64_t converted_at = INT64_C(820000000000000);	/* 2025-12-26 in Postgres microseconds */
	int			m,
				i,
				t;

	if (size < 5)
		return 0;
	RuleOptionsDefault(&opts);
	/* 0: no window; else whole or fractional days, to reach the window's edge */
	opts.lookback_days = data[0] % 4 == 0 ? 0 : data[0] + (data[0] % 3) / 24.0;
	opts.last_n = data[1] % 8;
	opts.half_life_days = 0.01 + data[2] / 8.0;
	opts.first_share = (data[3] % 11) / 20.0;
	opts.last_share = (data[4] % 11) / 20.0;
	check(RuleOptionsProblem(&opts) == NULL);
	{
		/* the decay's own exp2 against libm, over [-1100, 0] */
		double		x = -(double) ((data[1] << 16) | (data[2] << 8) | data[3]) / 15250.0;

		check(fabs(RuleExp2(x) - exp2(x)) <= 1e-15 * exp2(x));
	}
	data += 5;
	size -= 5;

	for (; size >= 3 && n < MAX_TOUCHES; data += 3, size -= 3, n++)
	{
		int			c = data[0] % 6;

		path[n].data = channels[c];
		path[n].len = (int) strlen(channels[c]);
		is_direct[n] = c == 0;
		/*
		 * hours before the conversion, some after it (negative), and a few
		 * microseconds either side of the hour; ages in days computed from
		 * microseconds as rule_credits computes them
		 */
		age_us[n] = ((int64_t) data[1] * 24 + data[2] % 60 - 480) * INT64_C(3600000000) +
			(data[2] / 60) - 2;
		at[n] = converted_at - age_us[n];
		channel_id[n] = c;
		age[n] = (double) age_us[n] / 86400000000.0;
	}

	RuleChronologicalOrder(n, age, order, work);
	for (i = 1; i < n; i++)
		check(age[order[i - 1]] >= age[order[i]]);

	{
		/* the fast path against the sorting one, without last_n as it is used */
		RuleOptions all = opts;
		RulePicks	picks;
		int			k;

		all.last_n = 0;
		k = RuleKeptTouches(&all, n, age, order, kept);
		RuleScanTimes(RuleWindowMicros(&all), n, at, converted_at, channel_id, 0, eligible, &picks);
		check(picks.k == k);
		for (i = 0; i < n; i++)
		{
			bool		in = false;

			for (int j = 0; j < k; j++)
				in |= kept[j] == i;
			check(eligible[i] == in);
		}
		if (k > 0)
		{
			for (m = RULE_FIRST_TOUCH; m <= RULE_LAST_NON_DIRECT; m++)
				check(picks.pick[m] == kept[RulePick((RuleModel) m, k, kept, is_direct)]);
			check(picks.newest == at[kept[k - 1]]);
		}
	}

	for (m = 0; m < RULE_NUM_MODELS; m++)
	{
		double		sum = 0;
		int			k = RuleWeights((RuleModel) m, &opts, n, age, is_direct, order, work, dense, weights);
		int			eligible = 0;

		for (i = 0; i < n; i++)
		{
			bool		in = age[i] >= 0 &&
				(opts.lookback_days <= 0 || age[i] <= opts.lookback_days);

			eligible += in;
			check(weights[i] >= 0 && !isnan(weights[i]));
			check(in || weights[i] == 0);
			sum += weights[i];
		}
		check((k > 0) == (eligible > 0));
		check(opts.last_n == 0 || k <= opts.last_n);
		check(k == 0 ? sum == 0 : fabs(sum - 1) < 1e-9);
	}

	for (t = PT_UNIQUE; t <= PT_REMOVE_IF_LAST_AND_NOT_ALL; t++)
	{
		PathItem	direct = {channels[0], (int) strlen(channels[0])};
		int			k = PathTransformKeep((PathTransform) t, n, path, direct, opts.last_n,
										  keep, counts, slots);
		int			total = 0;
		int			direct_left = 0;
		int			all_direct = 1;

		check(k >= 0 && k <= n);
		for (i = 0; i < n; i++)
			all_direct &= is_direct[i];
		for (i = 0; i < k; i++)
		{
			check(keep[i] >= 0 && keep[i] < n);
			check(i == 0 || keep[i] > keep[i - 1]);
			if (t == PT_EXPOSURE && i > 0)
				check(strcmp(path[keep[i]].data, path[keep[i - 1]].data) != 0);
			if (t == PT_FIRST || t == PT_FREQUENCY)
			{
				int			j;

				for (j = 0; j < i; j++)
					check(strcmp(path[keep[i]].data, path[keep[j]].data) != 0);
			}
			if (t == PT_FREQUENCY)
				total += counts[i];
			direct_left += is_direct[keep[i]];
		}
		if (t == PT_FREQUENCY)
			check(total == n);
		if (t == PT_UNIQUE)
			check(k == n);
		if (t == PT_REMOVE_IF_NOT_ALL)
			check(direct_left == 0 || all_direct);
		if (t == PT_REMOVE_IF_LAST_AND_NOT_ALL && k > 0)
			check(!is_direct[keep[k - 1]] || all_direct);
	}
	return 0;
}
