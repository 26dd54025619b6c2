/*
 * shapley_solve.c
 *		The Shapley variants, computed from canonical path counts.
 *
 * zhao_simplified: phi_c = sum over channel sets S containing c of
 *	  conversions(S) / |S|, conversions(S) counting journeys whose set of
 *	  channels is exactly S.  It is the exact Shapley value of the game
 *	  v(T) = conversions of journeys whose set is a subset of T (Zhao et al.
 *	  2018), in linear time, for any number of channels.  Value the same way.
 * zhao_ordered: the same credit, kept per position: a journey's ordered set
 *	  is its channels in order of first occurrence (a repeated channel keeps
 *	  the position of its first touch and is counted once), and the channel
 *	  at position i of an ordered set of k channels gets conversions / k at
 *	  position i.  Summed over positions it equals zhao_simplified.
 * exact: the classic Shapley formula over 2^n coalitions (n <= 20), with
 *	  subset transforms in O(n 2^n).  Characteristic "subset_sum": v(T) as in
 *	  zhao_simplified, credits are the Shapley values of the grand coalition.
 *	  "conversion_rate": v(T) = conversion rate of the journeys whose set is
 *	  exactly T (0 when there are none); the conversions (and value) of each
 *	  set S are shared among its channels in proportion to their Shapley
 *	  values in the game restricted to the subsets of S, which sum to v(S).
 *	  Shapley values of this game can be negative, and so can credits.
 * fractribution: Google's fractribution.  For each path with conversions,
 *	  p(path) = conversions / (conversions + nulls); the touch at position i
 *	  contributes max(p(path) - p(path without that touch), 0), where an
 *	  unobserved path has p = 0; a one-touch path contributes p(path).
 *	  Contributions are normalised per path (all zero: the last touch gets
 *	  everything), summed per channel, and multiplied by the path's
 *	  conversions and value.  Paths without conversions get no credit; one
 *	  that carries value anyway (p = 0, all contributions 0) gives it to its
 *	  last touch, so credits always sum to the total value.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"

#include "models/markov_paths.h"
#include "models/shapley.h"

ShapleyVariant
ShapleyParseVariant(const char *variant, Jsonb *options)
{
	static const char *const known[] = {"characteristic"};
	JsonbValue	values[1];
	bool		present[1];
	char	   *characteristic = NULL;
	ShapleyVariant v;

	ModelParseOptions(options, "shapley", known, 1, values, present);
	if (present[0])
		characteristic = ModelOptionText(&values[0], known[0]);

	if (strcmp(variant, "zhao_simplified") == 0)
		v = SHAPLEY_ZHAO_SIMPLIFIED;
	else if (strcmp(variant, "zhao_ordered") == 0)
		v = SHAPLEY_ZHAO_ORDERED;
	else if (strcmp(variant, "fractribution") == 0)
		v = SHAPLEY_FRACTRIBUTION;
	else if (strcmp(variant, "exact_subset_sum") == 0)
		v = SHAPLEY_EXACT_SUBSET_SUM;
	else if (strcmp(variant, "exact_conversion_rate") == 0)
		v = SHAPLEY_EXACT_CONVERSION_RATE;
	else if (strcmp(variant, "exact") == 0)
	{
		if (characteristic == NULL || strcmp(characteristic, "subset_sum") == 0)
			v = SHAPLEY_EXACT_SUBSET_SUM;
		else if (strcmp(characteristic, "conversion_rate") == 0)
			v = SHAPLEY_EXACT_CONVERSION_RATE;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown characteristic function \"%s\"", characteristic),
					 errhint("Use \"subset_sum\" or \"conversion_rate\".")));
		return v;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown shapley variant \"%s\"", variant),
				 errhint("Use zhao_simplified, zhao_ordered, exact or fractribution.")));
	if (characteristic != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"characteristic\" applies only to the exact variant")));
	return v;
}

/*
 * Distinct channels of path p in order of first occurrence, into set[];
 * stamp[] (one per channel) marks channels seen, generation is the path's
 * mark.  Returns their number.
 */
static int
FirstOccurrences(const ShapleyData *d, int p, int32 *set, int *stamp, int generation)
{
	int			k = 0;

	for (int i = 0; i < d->path_len[p]; i++)
	{
		int32		c = d->path_ch[d->path_off[p] + i];

		if (stamp[c] != generation)
		{
			stamp[c] = generation;
			set[k++] = c;
		}
	}
	return k;
}

static ShapleyCredit *
PerChannel(const ShapleyData *d, const double *conv, const double *value, int *ncredits)
{
	ShapleyCredit *out = palloc(sizeof(ShapleyCredit) * Max(d->nchannels, 1));

	for (int c = 0; c < d->nchannels; c++)
	{
		out[c].channel = c;
		out[c].position = 0;
		out[c].conversions = conv[c];
		out[c].value = value[c];
	}
	*ncredits = d->nchannels;
	return out;
}

static int
MaxPathLen(const ShapleyData *d)
{
	int			m = 1;

	for (int p = 0; p < d->npaths; p++)
		m = Max(m, d->path_len[p]);
	return m;
}

static ShapleyCredit *
ZhaoSimplified(const ShapleyData *d, int *ncredits)
{
	double	   *conv = palloc0(sizeof(double) * Max(d->nchannels, 1));
	double	   *value = palloc0(sizeof(double) * Max(d->nchannels, 1));
	int		   *stamp = palloc(sizeof(int) * Max(d->nchannels, 1));
	int32	   *set = palloc(sizeof(int32) * MaxPathLen(d));

	for (int c = 0; c < d->nchannels; c++)
		stamp[c] = -1;
	for (int p = 0; p < d->npaths; p++)
	{
		int			k = FirstOccurrences(d, p, set, stamp, p);

		for (int i = 0; i < k; i++)
		{
			conv[set[i]] += d->conv[p] / k;
			value[set[i]] += d->value[p] / k;
		}
	}
	return PerChannel(d, conv, value, ncredits);
}

static int
credit_cmp(const void *a, const void *b)
{
	const ShapleyCredit *ca = a;
	const ShapleyCredit *cb = b;

	if (ca->channel != cb->channel)
		return (ca->channel > cb->channel) - (ca->channel < cb->channel);
	return (ca->position > cb->position) - (ca->position < cb->position);
}

static ShapleyCredit *
ZhaoOrdered(const ShapleyData *d, int *ncredits)
{
	PairMap		map;
	int			cap = 64;
	ShapleyCredit *out = palloc(sizeof(ShapleyCredit) * cap);
	int		   *stamp = palloc(sizeof(int) * Max(d->nchannels, 1));
	int32	   *set = palloc(sizeof(int32) * MaxPathLen(d));

	PairMapInit(&map, 64);
	for (int c = 0; c < d->nchannels; c++)
		stamp[c] = -1;
	for (int p = 0; p < d->npaths; p++)
	{
		int			k = FirstOccurrences(d, p, set, stamp, p);

		for (int i = 0; i < k; i++)
		{
			bool		found;
			int			id = PairMapIntern(&map, set[i], i + 1, &found);

			if (!found)
			{
				if (id >= cap)
				{
					cap *= 2;
					out = repalloc(out, sizeof(ShapleyCredit) * cap);
				}
				out[id].channel = set[i];
				out[id].position = i + 1;
				out[id].conversions = 0;
				out[id].value = 0;
			}
			out[id].conversions += d->conv[p] / k;
			out[id].value += d->value[p] / k;
		}
	}
	qsort(out, map.count, sizeof(ShapleyCredit), credit_cmp);
	*ncredits = map.count;
	return out;
}

static inline int
popcount32(uint32 x)
{
	return __builtin_popcount(x);
}

/*
 * The channels that can earn credit in the exact variants: those on a path
 * with conversions or value.  Every set that is credited is made of them,
 * and both games only look at subsets of credited sets, so a channel seen
 * only on paths without conversions changes no credit and does not count
 * toward the channel limit.  bit[c] is the channel's bit, -1 for the rest;
 * returns their number.
 */
static int
ExactChannels(const ShapleyData *d, int *bit)
{
	int			n = 0;

	for (int c = 0; c < d->nchannels; c++)
		bit[c] = -1;
	for (int p = 0; p < d->npaths; p++)
	{
		if (d->conv[p] == 0 && d->value[p] == 0)
			continue;
		for (int i = 0; i < d->path_len[p]; i++)
			bit[d->path_ch[d->path_off[p] + i]] = 0;
	}
	for (int c = 0; c < d->nchannels; c++)
		if (bit[c] == 0)
			bit[c] = n++;
	return n;
}

static ShapleyCredit *
Exact(const ShapleyData *d, bool rate, int *ncredits)
{
	int		   *bit = palloc(sizeof(int) * Max(d->nchannels, 1));
	int			n = ExactChannels(d, bit);
	size_t		nsets;
	double	   *conv;
	double	   *nulls;
	double	   *value;
	double	   *credc = palloc0(sizeof(double) * Max(n, 1));
	double	   *credv = palloc0(sizeof(double) * Max(n, 1));
	double	   *outc = palloc0(sizeof(double) * Max(d->nchannels, 1));
	double	   *outv = palloc0(sizeof(double) * Max(d->nchannels, 1));

	if (n > SHAPLEY_EXACT_MAX_CHANNELS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("exact shapley supports at most %d channels, the data has %d on converting paths",
						SHAPLEY_EXACT_MAX_CHANNELS, n),
				 errhint("Use zhao_simplified, which is exact for any number of channels, or group channels.")));
	nsets = (size_t) 1 << n;
	conv = palloc0(sizeof(double) * nsets);
	nulls = palloc0(sizeof(double) * nsets);
	value = palloc0(sizeof(double) * nsets);

	/*
	 * Counts per channel set, in canonical path order; a set with a channel
	 * that earns nothing is never a subset of a credited set.
	 */
	for (int p = 0; p < d->npaths; p++)
	{
		uint32		mask = 0;
		bool		inside = true;

		for (int i = 0; i < d->path_len[p]; i++)
		{
			int			b = bit[d->path_ch[d->path_off[p] + i]];

			if (b < 0)
				inside = false;
			else
				mask |= (uint32) 1 << b;
		}
		if (!inside)
			continue;
		conv[mask] += d->conv[p];
		nulls[mask] += d->nulls[p];
		value[mask] += d->value[p];
	}

	if (!rate)
	{
		/*
		 * v(T) = sum of conv(S) over S subset of T: its Moebius transform is
		 * conv itself, so phi_i = sum over S containing i of conv(S)/|S|,
		 * summed directly (no cancellation).
		 */
		for (size_t s = 1; s < nsets; s++)
		{
			int			k;

			if (conv[s] == 0 && value[s] == 0)
				continue;
			k = popcount32((uint32) s);
			for (int i = 0; i < n; i++)
				if (s & ((size_t) 1 << i))
				{
					credc[i] += conv[s] / k;
					credv[i] += value[s] / k;
				}
		}
	}
	else
	{
		/* v(T) = conversion rate of journeys whose set is exactly T */
		double	   *w = palloc0(sizeof(double) * nsets);

		for (size_t s = 1; s < nsets; s++)
			w[s] = (conv[s] + nulls[s]) > 0 ? conv[s] / (conv[s] + nulls[s]) : 0.0;
		/* Moebius transform: Harsanyi dividends m(T) */
		for (int i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			for (size_t s = 0; s < nsets; s++)
				if (s & ((size_t) 1 << i))
					w[s] -= w[s ^ ((size_t) 1 << i)];
		}
		/* each dividend shared equally by its members: m(T) / |T| */
		for (size_t s = 1; s < nsets; s++)
			w[s] /= popcount32((uint32) s);
		/* zeta transform: W(S) = sum over T subset of S of m(T)/|T| */
		for (int i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			for (size_t s = 0; s < nsets; s++)
				if (s & ((size_t) 1 << i))
					w[s] += w[s ^ ((size_t) 1 << i)];
		}

		/*
		 * Shapley value of i in the game restricted to S is W(S) - W(S\i);
		 * they sum to v(S), the share of i is phi_i / v(S).
		 */
		for (size_t s = 1; s < nsets; s++)
		{
			double		vs;
			int			k;

			if (conv[s] == 0 && value[s] == 0)
				continue;
			vs = (conv[s] + nulls[s]) > 0 ? conv[s] / (conv[s] + nulls[s]) : 0.0;
			k = popcount32((uint32) s);
			for (int i = 0; i < n; i++)
			{
				size_t		bit = (size_t) 1 << i;
				double		share;

				if (!(s & bit))
					continue;
				/* value without conversions: shared equally */
				share = vs > 0 ? (w[s] - w[s ^ bit]) / vs : 1.0 / k;
				credc[i] += conv[s] * share;
				credv[i] += value[s] * share;
			}
		}
		pfree(w);
	}
	pfree(conv);
	pfree(nulls);
	pfree(value);
	for (int c = 0; c < d->nchannels; c++)
		if (bit[c] >= 0)
		{
			outc[c] = credc[bit[c]];
			outv[c] = credv[bit[c]];
		}
	return PerChannel(d, outc, outv, ncredits);
}

static double
PathRate(const ShapleyData *d, int p)
{
	double		n = d->conv[p] + d->nulls[p];

	return n > 0 ? d->conv[p] / n : 0.0;
}

static ShapleyCredit *
Fractribution(const ShapleyData *d, int *ncredits)
{
	double	   *conv = palloc0(sizeof(double) * Max(d->nchannels, 1));
	double	   *value = palloc0(sizeof(double) * Max(d->nchannels, 1));
	int			maxlen = MaxPathLen(d);
	double	   *marg = palloc(sizeof(double) * maxlen);
	int32	   *cf = palloc(sizeof(int32) * maxlen);
	SeqMap		index;

	/* path -> index, to look counterfactual paths up */
	SeqMapInit(&index, d->npaths);
	for (int p = 0; p < d->npaths; p++)
	{
		bool		found;

		SeqMapIntern(&index, d->path_ch + d->path_off[p], d->path_len[p], &found);
	}
	for (int p = 0; p < d->npaths; p++)
	{
		int			len = d->path_len[p];
		const int32 *ch = d->path_ch + d->path_off[p];
		double		rate = PathRate(d, p);
		double		sum = 0.0;

		if (d->conv[p] == 0 && d->value[p] == 0)
			continue;
		if ((p & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		if (len == 1)
			marg[0] = rate;
		else
			for (int i = 0; i < len; i++)
			{
				int			q;
				double		cfrate;

				memcpy(cf, ch, sizeof(int32) * i);
				memcpy(cf + i, ch + i + 1, sizeof(int32) * (len - i - 1));
				q = SeqMapLookup(&index, cf, len - 1);
				cfrate = q >= 0 ? PathRate(d, q) : 0.0;
				marg[i] = Max(rate - cfrate, 0.0);
			}
		for (int i = 0; i < len; i++)
			sum += marg[i];
		if (sum > 0)
			for (int i = 0; i < len; i++)
				marg[i] /= sum;
		else
		{
			for (int i = 0; i < len; i++)
				marg[i] = 0.0;
			marg[len - 1] = 1.0;
		}
		for (int i = 0; i < len; i++)
		{
			conv[ch[i]] += marg[i] * d->conv[p];
			value[ch[i]] += marg[i] * d->value[p];
		}
	}
	return PerChannel(d, conv, value, ncredits);
}

ShapleyCredit *
ShapleyCompute(const ShapleyData *data, ShapleyVariant variant, int *ncredits)
{
	switch (variant)
	{
		case SHAPLEY_ZHAO_SIMPLIFIED:
			return ZhaoSimplified(data, ncredits);
		case SHAPLEY_ZHAO_ORDERED:
			return ZhaoOrdered(data, ncredits);
		case SHAPLEY_EXACT_SUBSET_SUM:
			return Exact(data, false, ncredits);
		case SHAPLEY_EXACT_CONVERSION_RATE:
			return Exact(data, true, ncredits);
		case SHAPLEY_FRACTRIBUTION:
			return Fractribution(data, ncredits);
	}
	pg_unreachable();
}
