/*
 * rules_agg.c
 *		attribution.rule_credits(): the seven rule-based models over touch
 *		rows, summed per model and channel, in one aggregate.
 *
 * Analysts with touches in long form (one row per conversion and touch)
 * want per-channel credit without building a path array per conversion and
 * expanding it again.  The aggregate takes the rows in any order: it keeps
 * each conversion's touches in a list (rows of one conversion usually
 * arrive together, so the last conversion is remembered to skip the hash
 * lookup) and interns channel names to small numbers.  The final function
 * runs every model on every conversion (rules.c) and returns, as jsonb, one
 * element per model and channel:
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

#include "models/rules.h"
#include "models/rules_sql.h"

PG_FUNCTION_INFO_V1(attr_rule_credits_transfn);
PG_FUNCTION_INFO_V1(attr_rule_credits_finalfn);

#define UNATTRIBUTED "(unattributed)"

typedef struct AggTouch
{
	TimestampTz at;
	int32		channel;
	int32		next;			/* previous touch of the conversion, or -1 */
} AggTouch;

typedef struct AggConversion
{
	int64		key;
	TimestampTz converted_at;
	double		value;
	int32		last;			/* most recently added touch, or -1 */
	int32		ntouches;
} AggConversion;

/* conversion key -> index into AggState.conversions */
typedef struct ConvSlot
{
	int64		key;
	int32		index;
	char		status;
} ConvSlot;

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

#define SH_PREFIX convhash
#define SH_ELEMENT_TYPE ConvSlot
#define SH_KEY_TYPE int64
#define SH_KEY key
#define SH_HASH_KEY(tb, k) HashConversionKey(k)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

typedef struct AggState
{
	MemoryContext cxt;
	convhash_hash *index;
	AggConversion *conversions;
	int32		nconversions;
	int32		conversion_cap;
	int32		current;		/* conversion of the previous row, or -1 */
	AggTouch   *touches;
	int32		ntouches;
	int32		touch_cap;
	/* channel names, interned in an open-addressing table */
	char	  **names;
	int		   *lens;
	int32		nchannels;
	int32		channel_cap;
	int32	   *slots;			/* channel number + 1, 0 for empty */
	int32		nslots;
	int32		last_channel;
	RuleOptions opts;
	char	   *direct;
} AggState;

/*
 * Hash of a channel name from its length and first and last eight bytes:
 * cheap on the short names channels have; collisions only cost a probe.
 */
static inline uint32
HashChannel(const char *s, int len)
{
	uint64		head = 0;
	uint64		tail = 0;

	memcpy(&head, s, Min(len, 8));
	if (len > 8)
		memcpy(&tail, s + len - Min(len - 8, 8), Min(len - 8, 8));
	head = head * UINT64CONST(0x9e3779b97f4a7c15) ^ (tail + (uint64) len) * UINT64CONST(0xc2b2ae3d27d4eb4f);
	return (uint32) (head >> 32) ^ (uint32) head;
}

static int32
InternChannel(AggState *st, const char *s, int len)
{
	uint32		h;
	int32		i;

	if (st->last_channel >= 0 && st->lens[st->last_channel] == len &&
		memcmp(st->names[st->last_channel], s, len) == 0)
		return st->last_channel;

	/* keep the table at most half full */
	if ((st->nchannels + 1) * 2 > st->nslots)
	{
		int32		nslots = st->nslots * 2;
		int32	   *slots = MemoryContextAllocZero(st->cxt, sizeof(int32) * nslots);
		int32		c;

		for (c = 0; c < st->nchannels; c++)
		{
			i = HashChannel(st->names[c], st->lens[c]) & (nslots - 1);
			while (slots[i] != 0)
				i = (i + 1) & (nslots - 1);
			slots[i] = c + 1;
		}
		pfree(st->slots);
		st->slots = slots;
		st->nslots = nslots;
	}

	h = HashChannel(s, len);
	for (i = h & (st->nslots - 1); st->slots[i] != 0; i = (i + 1) & (st->nslots - 1))
	{
		int32		c = st->slots[i] - 1;

		if (st->lens[c] == len && memcmp(st->names[c], s, len) == 0)
			return st->last_channel = c;
	}

	if (st->nchannels == st->channel_cap)
	{
		st->channel_cap *= 2;
		st->names = repalloc(st->names, sizeof(char *) * st->channel_cap);
		st->lens = repalloc(st->lens, sizeof(int) * st->channel_cap);
	}
	st->names[st->nchannels] = MemoryContextAlloc(st->cxt, len + 1);
	memcpy(st->names[st->nchannels], s, len);
	st->names[st->nchannels][len] = '\0';
	st->lens[st->nchannels] = len;
	st->slots[i] = st->nchannels + 1;
	return st->last_channel = st->nchannels++;
}

static AggState *
CreateState(FunctionCallInfo fcinfo, MemoryContext aggcxt)
{
	MemoryContext old = MemoryContextSwitchTo(aggcxt);
	AggState   *st = palloc0(sizeof(AggState));

	st->cxt = aggcxt;
	st->index = convhash_create(aggcxt, 1024, NULL);
	st->conversion_cap = 1024;
	st->conversions = palloc(sizeof(AggConversion) * st->conversion_cap);
	st->current = -1;
	st->touch_cap = 1024;
	st->touches = palloc(sizeof(AggTouch) * st->touch_cap);
	st->channel_cap = 16;
	st->names = palloc(sizeof(char *) * st->channel_cap);
	st->lens = palloc(sizeof(int) * st->channel_cap);
	st->nslots = 32;
	st->slots = palloc0(sizeof(int32) * st->nslots);
	st->last_channel = -1;

	if (PG_NARGS() > 6 && !PG_ARGISNULL(6))
		RuleOptionsFromJsonb(PG_GETARG_JSONB_P(6), &st->opts, &st->direct);
	else
	{
		RuleOptionsDefault(&st->opts);
		st->direct = pstrdup(RULE_DEFAULT_DIRECT_CHANNEL);
	}
	MemoryContextSwitchTo(old);
	return st;
}

/*
 * rule_credits(state, conversion, channel, touched_at, converted_at, value
 * [, options]): rows with a NULL conversion, channel or time are skipped;
 * options are read from the first row.
 */
Datum
attr_rule_credits_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	AggState   *st;
	int64		key;
	text	   *channel;
	AggConversion *conv;
	AggTouch   *touch;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "rule_credits transition function called outside an aggregate");

	st = PG_ARGISNULL(0) ? CreateState(fcinfo, aggcxt) : (AggState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		PG_RETURN_POINTER(st);

	key = PG_GETARG_INT64(1);
	if (st->current < 0 || st->conversions[st->current].key != key)
	{
		bool		found;
		ConvSlot   *slot = convhash_insert(st->index, key, &found);

		if (!found)
		{
			if (st->nconversions == st->conversion_cap)
			{
				st->conversion_cap *= 2;
				st->conversions = repalloc_huge(st->conversions,
												sizeof(AggConversion) * (Size) st->conversion_cap);
			}
			slot->index = st->nconversions++;
			conv = &st->conversions[slot->index];
			conv->key = key;
			conv->converted_at = PG_GETARG_TIMESTAMPTZ(4);
			conv->value = PG_ARGISNULL(5) ? 0.0 : PG_GETARG_FLOAT8(5);
			if (isnan(conv->value) || isinf(conv->value))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("conversion " INT64_FORMAT " has a value that is not a finite number", key)));
			conv->last = -1;
			conv->ntouches = 0;
		}
		st->current = slot->index;
	}
	conv = &st->conversions[st->current];

	if (st->ntouches == st->touch_cap)
	{
		st->touch_cap *= 2;
		st->touches = repalloc_huge(st->touches, sizeof(AggTouch) * (Size) st->touch_cap);
	}
	channel = PG_GETARG_TEXT_PP(2);
	touch = &st->touches[st->ntouches];
	touch->at = PG_GETARG_TIMESTAMPTZ(3);
	touch->channel = InternChannel(st, VARDATA_ANY(channel), VARSIZE_ANY_EXHDR(channel));
	touch->next = conv->last;
	conv->last = st->ntouches++;
	conv->ntouches++;

	PG_RETURN_POINTER(st);
}

/*
 * Run the models on every conversion and return the sums as jsonb.
 */
Datum
attr_rule_credits_finalfn(PG_FUNCTION_ARGS)
{
	AggState   *st;
	int32		ci;
	int32		nch;
	int32		unattributed;
	int32		direct;
	double	   *conv_sum;
	double	   *value_sum;
	int32		cap = 16;
	double	   *age;
	bool	   *is_direct;
	int32	   *channel;
	int		   *order;
	int		   *work;
	int		   *kept;
	double	   *weights;
	StringInfoData out;
	bool		first = true;
	int			m,
				c;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (AggState *) PG_GETARG_POINTER(0);

	/* the names the output needs, interned like any other */
	unattributed = InternChannel(st, UNATTRIBUTED, strlen(UNATTRIBUTED));
	direct = InternChannel(st, st->direct, strlen(st->direct));
	nch = st->nchannels;
	conv_sum = palloc0(sizeof(double) * RULE_NUM_MODELS * nch);
	value_sum = palloc0(sizeof(double) * RULE_NUM_MODELS * nch);

	age = palloc(sizeof(double) * cap);
	is_direct = palloc(sizeof(bool) * cap);
	channel = palloc(sizeof(int32) * cap);
	order = palloc(sizeof(int) * cap);
	work = palloc(sizeof(int) * cap);
	kept = palloc(sizeof(int) * cap);
	weights = palloc(sizeof(double) * cap);

	for (ci = 0; ci < st->nconversions; ci++)
	{
		AggConversion *conv = &st->conversions[ci];
		int32		n = conv->ntouches;
		int32		t,
					i,
					k;

		if (n > cap)
		{
			cap = Max(n, cap * 2);
			age = repalloc(age, sizeof(double) * cap);
			is_direct = repalloc(is_direct, sizeof(bool) * cap);
			channel = repalloc(channel, sizeof(int32) * cap);
			order = repalloc(order, sizeof(int) * cap);
			work = repalloc(work, sizeof(int) * cap);
			kept = repalloc(kept, sizeof(int) * cap);
			weights = repalloc(weights, sizeof(double) * cap);
		}
		/* the list runs newest row first: fill from the end, input order */
		for (t = conv->last, i = n - 1; t >= 0; t = st->touches[t].next, i--)
		{
			age[i] = (double) (conv->converted_at - st->touches[t].at) / (double) USECS_PER_DAY;
			channel[i] = st->touches[t].channel;
			is_direct[i] = channel[i] == direct;
		}
		RuleChronologicalOrder(n, age, order, work);
		k = RuleKeptTouches(&st->opts, n, age, order, kept);

		for (m = 0; m < RULE_NUM_MODELS; m++)
		{
			double	   *cs = conv_sum + m * nch;
			double	   *vs = value_sum + m * nch;

			if (k == 0)
			{
				cs[unattributed] += 1.0;
				vs[unattributed] += conv->value;
				continue;
			}
			RuleKeptWeights((RuleModel) m, &st->opts, k, kept, age, is_direct, weights);
			for (i = 0; i < k; i++)
			{
				int32		ch = channel[kept[i]];

				cs[ch] += weights[i];
				vs[ch] += weights[i] * conv->value;
			}
		}
	}

	initStringInfo(&out);
	appendStringInfoChar(&out, '[');
	for (m = 0; m < RULE_NUM_MODELS; m++)
	{
		for (c = 0; c < nch; c++)
		{
			if (conv_sum[m * nch + c] == 0 && value_sum[m * nch + c] == 0)
				continue;
			if (!first)
				appendStringInfoChar(&out, ',');
			first = false;
			appendStringInfo(&out, "{\"model\":\"%s\",\"channel\":", RuleModelNames[m]);
			escape_json(&out, st->names[c]);
			appendStringInfo(&out, ",\"conversions\":%.17g,\"value\":%.17g}",
							 conv_sum[m * nch + c], value_sum[m * nch + c]);
		}
	}
	appendStringInfoChar(&out, ']');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}
