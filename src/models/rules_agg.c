/*
 * rules_agg.c
 *		attribution.rule_credits(): the seven rule-based models over touch
 *		rows, summed per model and channel, in one aggregate.
 *
 * Analysts with touches in long form (one row per conversion and touch)
 * want per-channel credit without building a path array per conversion and
 * expanding it again.  The rows of one conversion must come together, as
 * they do from a table clustered or ordered by conversion, from a GROUP BY
 * or from an ORDER BY inside the call; conversions may come in any order.
 * A conversion is complete when the next one starts: its models run at
 * once, on touches still in cache, and nothing but its key is kept.  A
 * conversion whose rows arrive again after another one started is an
 * error, never a silently wrong sum.  Keys finished while they ascend
 * are kept as runs of consecutive keys, so ids in order cost next to
 * nothing; keys finished after that go to a hash set.
 *
 * The final function returns, as jsonb, one element per model and channel:
 *		{"model": ..., "channel": ..., "conversions": ..., "value": ...}
 * conversions is the sum of weights, value the sum of value x weight; a
 * conversion with no touch in the window counts under "(unattributed)", so
 * each model's conversions add up to the number of conversions.
 * attribution.rule_credit_rows(jsonb) turns the result into rows.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "models/markov_paths.h"
#include "models/rules.h"
#include "models/rules_sql.h"

PG_FUNCTION_INFO_V1(attr_rule_credits_transfn);
PG_FUNCTION_INFO_V1(attr_rule_credits_finalfn);

#define UNATTRIBUTED "(unattributed)"

/* finished conversion keys, once they stop ascending */
typedef struct KeySlot
{
	int64		key;
	char		status;
} KeySlot;

static inline uint32
HashConversionKey(int64 key)
{
	uint64		h = (uint64) key;

	/* 64-bit finaliser of MurmurHash3: keys are often consecutive */
	h ^= h >> 33;
	h *= UINT64CONST(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64CONST(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return (uint32) h;
}

#define SH_PREFIX keyset
#define SH_ELEMENT_TYPE KeySlot
#define SH_KEY_TYPE int64
#define SH_KEY key
#define SH_HASH_KEY(tb, k) HashConversionKey(k)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* A run of consecutive keys, lo to hi: ids of a table usually come so. */
typedef struct KeyRange
{
	int64		lo;
	int64		hi;
} KeyRange;

/* Per model and channel: the sum of weights and of value x weight. */
typedef struct CreditSum
{
	double		conversions;
	double		value;
} CreditSum;

typedef struct AggState
{
	MemoryContext cxt;
	/* the conversion being read */
	bool		open;
	int64		key;
	TimestampTz converted_at;
	double		value;
	int32		n;				/* its touches so far */
	int32		cap;
	TimestampTz *at;
	int32	   *channel;
	/* scratch for the models, cap entries each */
	double	   *age;
	bool	   *is_direct;
	int		   *order;
	int		   *work;
	int		   *kept;
	double	   *weights;
	/* finished conversions: ascending keys need only the last one */
	int64		nfinished;
	bool		ascending;
	int64		last_finished;
	KeyRange   *ascended;		/* keys finished while ascending, as runs */
	int64		nascended;
	int64		ascended_cap;
	keyset_hash *finished;		/* keys finished after that */
	/* channels and sums */
	ChannelDict dict;
	int32		direct;
	int32		unattributed;
	CreditSum  *sums;			/* [channel * RULE_NUM_MODELS + model] */
	int32		sums_cap;		/* channels the sums have room for */
	/* scratch per channel, sums_cap entries, zero between conversions */
	int32	   *count;
	double	   *decay;
	RuleOptions opts;
	int64		window_us;		/* opts.lookback_days, see RuleWindowMicros */
	double		decay_scale;	/* 1 / half-life in microseconds */
} AggState;

static void
ReserveTouches(AggState *st, int32 n)
{
	if (n <= st->cap)
		return;
	st->cap = Max(n, st->cap * 2);
	st->at = repalloc_huge(st->at, sizeof(TimestampTz) * st->cap);
	st->channel = repalloc_huge(st->channel, sizeof(int32) * st->cap);
	st->age = repalloc_huge(st->age, sizeof(double) * st->cap);
	st->is_direct = repalloc_huge(st->is_direct, sizeof(bool) * st->cap);
	st->order = repalloc_huge(st->order, sizeof(int) * st->cap);
	st->work = repalloc_huge(st->work, sizeof(int) * st->cap);
	st->kept = repalloc_huge(st->kept, sizeof(int) * st->cap);
	st->weights = repalloc_huge(st->weights, sizeof(double) * st->cap);
}

/*
 * The channel number of a name; the sums grow with the channels.  Runs in
 * the aggregate's memory context, where the dictionary lives.
 */
static inline int32
Channel(AggState *st, const char *name, int len)
{
	int32		c = ChannelDictQuick(&st->dict, name, len);

	if (likely(c >= 0))
		return c;
	c = ChannelDictIntern(&st->dict, name, len);
	if (c >= st->sums_cap)
	{
		int32		cap = st->sums_cap * 2;

		st->sums = repalloc(st->sums, sizeof(CreditSum) * RULE_NUM_MODELS * cap);
		memset(st->sums + RULE_NUM_MODELS * st->sums_cap, 0,
			   sizeof(CreditSum) * RULE_NUM_MODELS * (cap - st->sums_cap));
		st->count = repalloc(st->count, sizeof(int32) * cap);
		memset(st->count + st->sums_cap, 0, sizeof(int32) * (cap - st->sums_cap));
		st->decay = repalloc(st->decay, sizeof(double) * cap);
		memset(st->decay + st->sums_cap, 0, sizeof(double) * (cap - st->sums_cap));
		st->sums_cap = cap;
	}
	return c;
}

static AggState *
CreateState(FunctionCallInfo fcinfo, MemoryContext aggcxt)
{
	AggState   *st = palloc0(sizeof(AggState));
	char	   *direct;

	st->cxt = aggcxt;
	st->cap = 64;
	st->at = palloc(sizeof(TimestampTz) * st->cap);
	st->channel = palloc(sizeof(int32) * st->cap);
	st->age = palloc(sizeof(double) * st->cap);
	st->is_direct = palloc(sizeof(bool) * st->cap);
	st->order = palloc(sizeof(int) * st->cap);
	st->work = palloc(sizeof(int) * st->cap);
	st->kept = palloc(sizeof(int) * st->cap);
	st->weights = palloc(sizeof(double) * st->cap);
	st->ascending = true;
	ChannelDictInit(&st->dict);
	st->sums_cap = 16;
	st->sums = palloc0(sizeof(CreditSum) * RULE_NUM_MODELS * st->sums_cap);
	st->count = palloc0(sizeof(int32) * st->sums_cap);
	st->decay = palloc0(sizeof(double) * st->sums_cap);

	if (PG_NARGS() > 6 && !PG_ARGISNULL(6))
		RuleOptionsFromJsonb(PG_GETARG_JSONB_P(6), &st->opts, &direct);
	else
	{
		RuleOptionsDefault(&st->opts);
		direct = pstrdup(RULE_DEFAULT_DIRECT_CHANNEL);
	}
	st->window_us = RuleWindowMicros(&st->opts);
	st->decay_scale = 1.0 / (st->opts.half_life_days * (double) USECS_PER_DAY);
	/* the names the models and the output need, interned like any other */
	st->direct = Channel(st, direct, strlen(direct));
	st->unattributed = Channel(st, UNATTRIBUTED, strlen(UNATTRIBUTED));
	return st;
}

/* Adds one touch's weight under one model. */
static inline void
AddCredit(CreditSum *sums, int32 channel, int m, double weight, double value)
{
	CreditSum  *s = &sums[channel * RULE_NUM_MODELS + m];

	s->conversions += weight;
	s->value += weight * value;
}

/*
 * Credit of a conversion with no eligible touch: "(unattributed)".
 */
static void
CreditUnattributed(AggState *st)
{
	for (int m = 0; m < RULE_NUM_MODELS; m++)
		AddCredit(st->sums, st->unattributed, m, 1.0, st->value);
}

/*
 * The models over the chronologically sorted path, for options that need
 * the order (last_n).
 */
static void
CreditSorted(AggState *st)
{
	int			k;

	RuleChronologicalOrder(st->n, st->age, st->order, st->work);
	k = RuleKeptTouches(&st->opts, st->n, st->age, st->order, st->kept);
	if (k == 0)
	{
		CreditUnattributed(st);
		return;
	}
	for (int m = 0; m < RULE_NUM_MODELS; m++)
	{
		RuleKeptWeights((RuleModel) m, &st->opts, k, st->kept, st->age, st->is_direct, st->weights);
		for (int i = 0; i < k; i++)
			if (st->weights[i] != 0)
				AddCredit(st->sums, st->channel[st->kept[i]], m, st->weights[i], st->value);
	}
}

/*
 * Runs the models on the open conversion and adds its credit to the sums.
 * With every eligible touch taking part (no last_n), no sort is needed:
 * one scan of the touch times gives the picks, and one more pass the
 * linear, position-based and time-decay credits.
 */
static void
CreditOpenConversion(AggState *st)
{
	int32		n = st->n;
	RulePicks	picks;
	bool	   *eligible = (bool *) st->work;
	int32	   *touched = st->kept;	/* the channels with eligible touches */
	int			ntouched = 0;
	double		decay_sum = 0.0;
	double		linear,
				first_w,
				last_w,
				middle_w,
				decay_norm;
	int32		first_c,
				last_c;
	CreditSum  *sums;
	double		value;
	const TimestampTz *at;
	const int32 *channel;
	int32	   *count;
	double	   *decay;
	int			i;

	if (st->opts.last_n > 0)
	{
		for (i = 0; i < n; i++)
		{
			st->age[i] = (double) (st->converted_at - st->at[i]) / (double) USECS_PER_DAY;
			st->is_direct[i] = st->channel[i] == st->direct;
		}
		CreditSorted(st);
		return;
	}
	RuleScanTimes(st->window_us, n, st->at, st->converted_at, st->channel, st->direct,
				  eligible, &picks);
	if (picks.k == 0)
	{
		CreditUnattributed(st);
		return;
	}

	/*
	 * Locals throughout: the build cannot assume that stores into the sums
	 * leave the state's fields alone, and would reload them per touch.
	 */
	sums = st->sums;
	value = st->value;
	at = st->at;
	channel = st->channel;
	count = st->count;
	decay = st->decay;
	for (int m = RULE_FIRST_TOUCH; m <= RULE_LAST_NON_DIRECT; m++)
		AddCredit(sums, channel[picks.pick[m]], m, 1.0, value);

	/* per channel: its eligible touches and their summed decay weight */
	for (i = 0; i < n; i++)
	{
		int32		c = channel[i];

		/*
		 * 2^(-(age - newest age) / half-life): the newest touch weighs 1.
		 * Computed before the test, which then predicts well; in doubles,
		 * which cannot overflow for touches outside the window.
		 */
		double		w = RuleExp2(((double) at[i] - (double) picks.newest) * st->decay_scale);

		if (!eligible[i])
			continue;
		if (count[c]++ == 0)
			touched[ntouched++] = c;
		decay[c] += w;
		decay_sum += w;
	}
	linear = 1.0 / picks.k;
	first_w = RulePositionWeight(&st->opts, 0, picks.k);
	last_w = RulePositionWeight(&st->opts, picks.k - 1, picks.k);
	middle_w = RulePositionWeight(&st->opts, 1, picks.k);
	decay_norm = 1.0 / decay_sum;
	first_c = channel[picks.pick[RULE_FIRST_TOUCH]];
	last_c = channel[picks.pick[RULE_LAST_TOUCH]];
	for (i = 0; i < ntouched; i++)
	{
		int32		c = touched[i];
		double		position;

		if (picks.k == 1)
			position = 1.0;		/* the first touch is the last */
		else
			position = (count[c] - (c == first_c) - (c == last_c)) * middle_w +
				(c == first_c ? first_w : 0.0) + (c == last_c ? last_w : 0.0);
		AddCredit(sums, c, RULE_LINEAR, count[c] * linear, value);
		AddCredit(sums, c, RULE_POSITION_BASED, position, value);
		AddCredit(sums, c, RULE_TIME_DECAY, decay[c] * decay_norm, value);
		count[c] = 0;
		decay[c] = 0.0;
	}
}

/*
 * Credits the open conversion and remembers its key, so that rows of it
 * arriving later are caught.
 */
static void
FinishConversion(AggState *st)
{
	CreditOpenConversion(st);
	st->open = false;
	st->nfinished++;
	if (st->ascending)
	{
		if (st->nascended > 0 && st->key == st->ascended[st->nascended - 1].hi + 1)
			st->ascended[st->nascended - 1].hi = st->key;
		else
		{
			if (st->nascended == st->ascended_cap)
			{
				st->ascended_cap = Max(256, st->ascended_cap * 2);
				st->ascended = st->ascended ?
					repalloc_huge(st->ascended, sizeof(KeyRange) * st->ascended_cap) :
					MemoryContextAllocHuge(st->cxt, sizeof(KeyRange) * st->ascended_cap);
			}
			st->ascended[st->nascended].lo = st->key;
			st->ascended[st->nascended].hi = st->key;
			st->nascended++;
		}
		st->last_finished = st->key;
	}
	else
	{
		bool		found;

		keyset_insert(st->finished, st->key, &found);
	}
}

/* Whether key lies in one of the ascending runs (binary search). */
static bool
InAscendedRuns(const AggState *st, int64 key)
{
	int64		lo = 0,
				hi = st->nascended - 1;

	while (lo <= hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (key < st->ascended[mid].lo)
			hi = mid - 1;
		else if (key > st->ascended[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static void
RowsApart(int64 key)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("rows of conversion " INT64_FORMAT " reached rule_credits apart from each other", key),
			 errdetail("Every row of a conversion must come before the rows of the next conversion."),
			 errhint("Order the rows inside the call: attribution.rule_credits(... ORDER BY conversion).")));
}

/*
 * A row starts a new conversion: make sure it was not finished before.
 */
static void
CheckNewConversion(AggState *st, int64 key)
{
	if (st->ascending)
	{
		if (st->nfinished == 0 || key > st->last_finished)
			return;
		/* keys stop ascending: from now on finished keys go to a hash set */
		st->ascending = false;
		st->finished = keyset_create(st->cxt, 1024, NULL);
	}
	if (InAscendedRuns(st, key))
		RowsApart(key);
	if (keyset_lookup(st->finished, key) != NULL)
		RowsApart(key);
}

/*
 * rule_credits(state, conversion, channel, touched_at, converted_at, value
 * [, options]): rows with a NULL conversion or converted_at are skipped; a
 * row with a NULL channel or touched_at counts its conversion but adds no
 * touch, so a conversion without touches (a LEFT JOIN's row) is credited
 * to "(unattributed)".  Options are read from the first row.
 */
Datum
attr_rule_credits_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	AggState   *st;
	int64		key;
	text	   *channel;

	/* the state is internal, so only an aggregate can pass one */
	if (PG_ARGISNULL(0))
	{
		if (!AggCheckCallContext(fcinfo, &aggcxt))
			elog(ERROR, "rule_credits transition function called outside an aggregate");
		old = MemoryContextSwitchTo(aggcxt);
		st = CreateState(fcinfo, aggcxt);
	}
	else
	{
		st = (AggState *) PG_GETARG_POINTER(0);
		old = MemoryContextSwitchTo(st->cxt);
	}
	if (PG_ARGISNULL(1) || PG_ARGISNULL(4))
	{
		MemoryContextSwitchTo(old);
		PG_RETURN_POINTER(st);
	}

	key = PG_GETARG_INT64(1);
	if (!st->open || st->key != key)
	{
		if (st->open)
			FinishConversion(st);
		CheckNewConversion(st, key);
		st->open = true;
		st->key = key;
		st->converted_at = PG_GETARG_TIMESTAMPTZ(4);
		if (TIMESTAMP_NOT_FINITE(st->converted_at))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("conversion " INT64_FORMAT " has a time that is not finite", key)));
		st->value = PG_ARGISNULL(5) ? 0.0 : PG_GETARG_FLOAT8(5);
		if (isnan(st->value) || isinf(st->value))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("conversion " INT64_FORMAT " has a value that is not a finite number", key)));
		st->n = 0;
	}
	if (unlikely(PG_ARGISNULL(2) || PG_ARGISNULL(3)))
	{
		/* the conversion is counted; the missing touch is not */
		MemoryContextSwitchTo(old);
		PG_RETURN_POINTER(st);
	}
	if (unlikely(st->n == st->cap))
		ReserveTouches(st, st->n + 1);
	/* a short or plain channel name is read in place, without a call */
	channel = (text *) PG_GETARG_POINTER(2);
	if (unlikely(VARATT_IS_COMPRESSED(channel) || VARATT_IS_EXTERNAL(channel)))
		channel = PG_GETARG_TEXT_PP(2);
	st->at[st->n] = PG_GETARG_TIMESTAMPTZ(3);
	if (unlikely(TIMESTAMP_NOT_FINITE(st->at[st->n])))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a touch of conversion " INT64_FORMAT " has a time that is not finite", key)));
	st->channel[st->n] = Channel(st, VARDATA_ANY(channel), VARSIZE_ANY_EXHDR(channel));
	st->n++;

	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(st);
}

/*
 * Credit the last conversion and return the sums as jsonb.
 */
Datum
attr_rule_credits_finalfn(PG_FUNCTION_ARGS)
{
	AggState   *st;
	StringInfoData out;
	bool		first = true;
	int			m,
				c;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (AggState *) PG_GETARG_POINTER(0);
	if (st->open)
	{
		MemoryContext old = MemoryContextSwitchTo(st->cxt);

		FinishConversion(st);
		MemoryContextSwitchTo(old);
	}

	initStringInfo(&out);
	appendStringInfoChar(&out, '[');
	for (m = 0; m < RULE_NUM_MODELS; m++)
	{
		for (c = 0; c < st->dict.count; c++)
		{
			CreditSum  *s = &st->sums[c * RULE_NUM_MODELS + m];

			if (s->conversions == 0 && s->value == 0)
				continue;
			if (!first)
				appendStringInfoChar(&out, ',');
			first = false;
			appendStringInfo(&out, "{\"model\":\"%s\",\"channel\":", RuleModelNames[m]);
			escape_json(&out, st->dict.names[c]);
			appendStringInfo(&out, ",\"conversions\":%.17g,\"value\":%.17g}",
							 s->conversions, s->value);
		}
	}
	appendStringInfoChar(&out, ']');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}
