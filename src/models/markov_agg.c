/*
 * markov_agg.c
 *		The attribution.markov aggregate: transition counts of path rows,
 *		with combine, serialize and deserialize functions for parallel query.
 *
 * The state keeps, per transition, three exact sums (FixedSum): the weight
 * of converting journeys, the weight of non-converting journeys, and the
 * value of paths that ended there.  Keeping the two weights apart lets the
 * solver ignore non-converting journeys on request; exact sums make the
 * result independent of row order and of how parallel workers split rows.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "models/markov_agg.h"
#include "models/markov_chain.h"

PG_FUNCTION_INFO_V1(markov_transfn);
PG_FUNCTION_INFO_V1(markov_combinefn);
PG_FUNCTION_INFO_V1(markov_serialfn);
PG_FUNCTION_INFO_V1(markov_deserialfn);
PG_FUNCTION_INFO_V1(markov_finalfn);

/*
 * Edges between the first DENSE_STATES states are found through a direct
 * table instead of the hash: at order 1 that is every edge, and it saves a
 * hash probe per touch.  Row index from + 1 (start is -1), column to + 3
 * (null is -3, conversion -2).
 */
#define DENSE_STATES 128
#define DENSE_ROWS (DENSE_STATES + 1)
#define DENSE_COLS (DENSE_STATES + 3)
#define DENSE_AFTER 64

typedef struct MarkovAggState
{
	MemoryContext own;			/* set when made by deserialize: freed once merged */
	MemoryContext cxt;			/* where the state lives */
	int			order;
	int		   *dense;			/* DENSE_ROWS x DENSE_COLS edge ids, -1 = none;
								 * made once the state has DENSE_AFTER edges, so
								 * that many small groups stay small */
	ChannelDict dict;
	SeqMap		states;
	PairMap		edges;
	int			ecap;
	FixedSum   *wconv;
	FixedSum   *wnull;
	FixedSum   *value;
	int		   *chan_state;		/* order 1: channel id -> state id */
	int			chan_state_cap;
	int32	   *ids;			/* scratch: channel ids of one path */
	int			idcap;
	int32	   *sids;			/* scratch: state ids of one path */
	int			sidcap;

	/*
	 * Order 1 with whole-number weights, the usual input: transitions between
	 * the first DENSE_STATES states are counted in plain integers, indexed
	 * like dense, and folded into the exact sums before anything reads
	 * them (FoldCounts).  Weights below 2^31 and at most 2^31 rows between
	 * folds keep the counts from overflowing.
	 */
	int64	   *count_conv;
	int64	   *count_null;
	int64		counted_rows;
} MarkovAggState;

#define COUNT_WEIGHT_LIMIT 2147483648.0	/* 2^31 */
#define COUNT_ROWS_LIMIT INT64CONST(2147483647)

static MarkovAggState *
NewState(int order)
{
	MarkovAggState *st = palloc0(sizeof(MarkovAggState));

	st->order = order;
	st->cxt = CurrentMemoryContext;
	ChannelDictInit(&st->dict);
	SeqMapInit(&st->states, 64);
	PairMapInit(&st->edges, 32);
	st->ecap = 32;
	st->wconv = palloc0(sizeof(FixedSum) * st->ecap);
	st->wnull = palloc0(sizeof(FixedSum) * st->ecap);
	st->value = palloc0(sizeof(FixedSum) * st->ecap);
	return st;
}

static void
AddEdge(MarkovAggState *st, int from, int to, FixedSum c, FixedSum n, FixedSum v)
{
	bool		found;
	int			e;
	int		   *slot = NULL;

	if (st->dense == NULL && st->edges.count >= DENSE_AFTER)
	{
		st->dense = palloc(sizeof(int) * DENSE_ROWS * DENSE_COLS);
		memset(st->dense, -1, sizeof(int) * DENSE_ROWS * DENSE_COLS);
		for (int i = 0; i < st->edges.count; i++)
		{
			int32		f = (int32) (uint32) (st->edges.keys[i] >> 32);
			int32		t = (int32) (uint32) st->edges.keys[i];

			if (f < DENSE_STATES && t < DENSE_STATES)
				st->dense[(f + 1) * DENSE_COLS + (t + 3)] = i;
		}
	}
	if (st->dense != NULL && from < DENSE_STATES && to < DENSE_STATES)
	{
		slot = &st->dense[(from + 1) * DENSE_COLS + (to + 3)];
		e = *slot;
		found = e >= 0;
	}
	if (slot == NULL || !found)
	{
		e = PairMapIntern(&st->edges, from, to, &found);
		if (slot)
			*slot = e;
	}
	if (!found)
	{
		if (e >= st->ecap)
		{
			int			newcap = st->ecap * 2;

			st->wconv = repalloc_huge(st->wconv, sizeof(FixedSum) * newcap);
			st->wnull = repalloc_huge(st->wnull, sizeof(FixedSum) * newcap);
			st->value = repalloc_huge(st->value, sizeof(FixedSum) * newcap);
			st->ecap = newcap;
		}
		st->wconv[e] = c;
		st->wnull[e] = n;
		st->value[e] = v;
		return;
	}
	st->wconv[e] = FixedAdd(st->wconv[e], c);
	st->wnull[e] = FixedAdd(st->wnull[e], n);
	st->value[e] = FixedAdd(st->value[e], v);
}

/* Moves the integer counts of order 1 into the exact sums. */
static void
FoldCounts(MarkovAggState *st)
{
	MemoryContext old;

	if (st->count_conv == NULL || st->counted_rows == 0)
		return;
	/* new edges belong with the state, whoever calls */
	old = MemoryContextSwitchTo(GetMemoryChunkContext(st));
	for (int f = -1; f < DENSE_STATES; f++)
		for (int t = -3; t < DENSE_STATES; t++)
		{
			int			cell = (f + 1) * DENSE_COLS + (t + 3);
			int64		c = st->count_conv[cell];
			int64		n = st->count_null[cell];

			if (c == 0 && n == 0)
				continue;
			AddEdge(st, f, t, ((FixedSum) c) << FIXED_FRACTION_BITS,
					((FixedSum) n) << FIXED_FRACTION_BITS, 0);
			st->count_conv[cell] = 0;
			st->count_null[cell] = 0;
		}
	st->counted_rows = 0;
	MemoryContextSwitchTo(old);
}

static int
StateId(MarkovAggState *st, const int32 *key, int len)
{
	bool		found;

	if (st->order == 1)
	{
		int			c = key[0];

		if (c >= st->chan_state_cap)
		{
			int			newcap = Max(64, c * 2);

			st->chan_state = st->chan_state ?
				repalloc(st->chan_state, sizeof(int) * newcap) :
				palloc(sizeof(int) * newcap);
			for (int i = st->chan_state_cap; i < newcap; i++)
				st->chan_state[i] = -1;
			st->chan_state_cap = newcap;
		}
		if (st->chan_state[c] < 0)
			st->chan_state[c] = SeqMapIntern(&st->states, key, 1, &found);
		return st->chan_state[c];
	}
	return SeqMapIntern(&st->states, key, len, &found);
}

static void
ReserveSids(MarkovAggState *st, int nstates)
{
	if (nstates > st->sidcap)
	{
		st->sidcap = Max(nstates, st->sidcap * 2);
		st->sids = st->sids ? repalloc(st->sids, sizeof(int32) * st->sidcap) :
			palloc(sizeof(int32) * st->sidcap);
	}
}

/*
 * Adds one path (channel ids in st->ids[0..n)) with its weights; states are
 * those of MarkovPathStates, shared with markov_transitions.
 */
static void
AddPath(MarkovAggState *st, int n, FixedSum c, FixedSum nl, FixedSum v)
{
	int			nstates = MarkovPathStates(n, st->order);

	ReserveSids(st, nstates);
	for (int i = 0; i < nstates; i++)
		st->sids[i] = StateId(st, st->ids + i, Min(n, st->order));
	AddEdge(st, MARKOV_START, st->sids[0], c, nl, 0);
	for (int i = 1; i < nstates; i++)
		AddEdge(st, st->sids[i - 1], st->sids[i], c, nl, 0);
	if (c != 0 || v != 0)
		AddEdge(st, st->sids[nstates - 1], MARKOV_CONVERSION, c, 0, v);
	if (nl != 0)
		AddEdge(st, st->sids[nstates - 1], MARKOV_NULL, 0, nl, 0);
}

/*
 * The integer-count form of AddPath, for order 1: false when the row does
 * not qualify (fractional or large weights, no weight, a state beyond the
 * dense range), and then nothing has been counted.
 */
static bool
CountPath(MarkovAggState *st, int n, double conv, double nulls, FixedSum value)
{
	int64		c;
	int64		nl;
	int			prev;
	const int32 *ids = st->ids;
	int32	   *sids;
	int64	   *count_conv;
	int64	   *count_null;

	if (st->order != 1 || !(conv < COUNT_WEIGHT_LIMIT && nulls < COUNT_WEIGHT_LIMIT) ||
		(conv == 0 && nulls == 0) || st->counted_rows >= COUNT_ROWS_LIMIT)
		return false;
	/* weights are >= 0 and below 2^31 here, so the casts are exact tests */
	c = (int64) conv;
	nl = (int64) nulls;
	if ((double) c != conv || (double) nl != nulls)
		return false;
	ReserveSids(st, n);
	/* locals: the build cannot assume stores leave the state's fields alone */
	sids = st->sids;
	for (int i = 0; i < n; i++)
	{
		int32		ch = ids[i];
		int32		sid;

		/* at order 1 a state is its channel: known ones need no call */
		sid = ch < st->chan_state_cap && st->chan_state[ch] >= 0 ?
			st->chan_state[ch] : StateId(st, ids + i, 1);
		if (sid >= DENSE_STATES)
			return false;
		sids[i] = sid;
	}
	if (st->count_conv == NULL)
	{
		st->count_conv = palloc0(sizeof(int64) * DENSE_ROWS * DENSE_COLS);
		st->count_null = palloc0(sizeof(int64) * DENSE_ROWS * DENSE_COLS);
	}
	count_conv = st->count_conv;
	count_null = st->count_null;
	prev = MARKOV_START;
	for (int i = 0; i < n; i++)
	{
		int			cell = (prev + 1) * DENSE_COLS + (sids[i] + 3);

		count_conv[cell] += c;
		count_null[cell] += nl;
		prev = sids[i];
	}
	count_conv[(prev + 1) * DENSE_COLS + (MARKOV_CONVERSION + 3)] += c;
	count_null[(prev + 1) * DENSE_COLS + (MARKOV_NULL + 3)] += nl;
	if (value != 0)
		AddEdge(st, prev, MARKOV_CONVERSION, 0, 0, value);
	st->counted_rows++;
	return true;
}

Datum
markov_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	MarkovAggState *st = NULL;
	const struct varlena *path;
	int			order;
	double		conv;
	double		nulls;
	double		value;
	int			n;

	/* the state is internal, so only an aggregate can pass one */
	if (PG_ARGISNULL(0))
	{
		if (!AggCheckCallContext(fcinfo, &aggcxt))
			elog(ERROR, "markov_transfn called in non-aggregate context");
	}
	else
		st = (MarkovAggState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	order = MarkovCheckOrder(fcinfo, 5);
	conv = ModelArgDouble(fcinfo, 2, "conversions", true);
	nulls = ModelArgDouble(fcinfo, 3, "nulls", true);
	value = ModelArgDouble(fcinfo, 4, "value", false);

	if (st == NULL)
	{
		old = MemoryContextSwitchTo(aggcxt);
		st = NewState(order);
		MemoryContextSwitchTo(old);
	}
	else if (st->order != order)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("markov order changed from %d to %d between rows", st->order, order),
				 errhint("Pass one constant order to attribution.markov.")));
	/*
	 * Rows that weigh nothing (no conversions, no nulls) add no transition
	 * and no channel, whatever their value: a value without journeys has no
	 * path to follow.
	 */
	if (conv != 0 || nulls != 0)
	{
		FixedSum	fv = value == 0 ? 0 : FixedFromDouble(value, "value");

		/* a detoasted copy, if any, belongs to this row's context */
		path = PathDatum(PG_GETARG_DATUM(1));
		old = MemoryContextSwitchTo(st->cxt);
		n = PathToIds(path, &st->dict, &st->ids, &st->idcap);
		if (n > 0 && !CountPath(st, n, conv, nulls, fv))
			AddPath(st, n, FixedFromDouble(conv, "conversions"),
					FixedFromDouble(nulls, "nulls"), fv);
		MemoryContextSwitchTo(old);
	}
	PG_RETURN_POINTER(st);
}

/* Adds every transition of src to dst, mapping channel and state ids. */
static void
MergeState(MarkovAggState *dst, MarkovAggState *src)
{
	int		   *cmap = palloc(sizeof(int) * Max(src->dict.count, 1));
	int		   *smap = palloc(sizeof(int) * Max(src->states.count, 1));
	int32		key[MARKOV_MAX_ORDER];

	FoldCounts(src);
	if (dst->order != src->order)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("markov order changed from %d to %d between rows", dst->order, src->order)));
	for (int i = 0; i < src->dict.count; i++)
		cmap[i] = ChannelDictIntern(&dst->dict, src->dict.names[i], src->dict.lens[i]);
	for (int s = 0; s < src->states.count; s++)
	{
		int			len;
		const int32 *k = SeqMapKey(&src->states, s, &len);

		for (int i = 0; i < len; i++)
			key[i] = cmap[k[i]];
		smap[s] = StateId(dst, key, len);
	}
	for (int e = 0; e < src->edges.count; e++)
	{
		uint64		k = src->edges.keys[e];
		int32		from = (int32) (uint32) (k >> 32);
		int32		to = (int32) (uint32) k;

		AddEdge(dst, from >= 0 ? smap[from] : from, to >= 0 ? smap[to] : to,
				src->wconv[e], src->wnull[e], src->value[e]);
	}
	pfree(cmap);
	pfree(smap);
}

Datum
markov_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	MarkovAggState *a;
	MarkovAggState *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "markov_combinefn called in non-aggregate context");
	a = PG_ARGISNULL(0) ? NULL : (MarkovAggState *) PG_GETARG_POINTER(0);
	b = PG_ARGISNULL(1) ? NULL : (MarkovAggState *) PG_GETARG_POINTER(1);
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	/*
	 * A state rebuilt by deserialize already lives in its own context under
	 * the aggregate's: the first one is adopted as it is, later ones are
	 * merged and freed, so each partial state is hashed only once.
	 */
	if (a == NULL && b->own != NULL)
		PG_RETURN_POINTER(b);
	old = MemoryContextSwitchTo(aggcxt);
	if (a == NULL)
		a = NewState(b->order);
	MergeState(a, b);
	MemoryContextSwitchTo(old);
	if (b->own != NULL)
		MemoryContextDelete(b->own);
	PG_RETURN_POINTER(a);
}

/* Raw, same-server byte form of the state, for parallel workers. */
Datum
markov_serialfn(PG_FUNCTION_ARGS)
{
	MarkovAggState *st = (MarkovAggState *) PG_GETARG_POINTER(0);
	StringInfoData buf;
	int32		i4;

	FoldCounts(st);
	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	appendBinaryStringInfo(&buf, (char *) &st->order, sizeof(int32));
	appendBinaryStringInfo(&buf, (char *) &st->dict.count, sizeof(int32));
	for (int i = 0; i < st->dict.count; i++)
	{
		appendBinaryStringInfo(&buf, (char *) &st->dict.lens[i], sizeof(int32));
		appendBinaryStringInfo(&buf, st->dict.names[i], st->dict.lens[i]);
	}
	appendBinaryStringInfo(&buf, (char *) &st->states.count, sizeof(int32));
	for (int s = 0; s < st->states.count; s++)
	{
		int			len;
		const int32 *k = SeqMapKey(&st->states, s, &len);

		i4 = len;
		appendBinaryStringInfo(&buf, (char *) &i4, sizeof(int32));
		appendBinaryStringInfo(&buf, (const char *) k, sizeof(int32) * len);
	}
	appendBinaryStringInfo(&buf, (char *) &st->edges.count, sizeof(int32));
	for (int e = 0; e < st->edges.count; e++)
	{
		appendBinaryStringInfo(&buf, (char *) &st->edges.keys[e], sizeof(uint64));
		appendBinaryStringInfo(&buf, (char *) &st->wconv[e], sizeof(FixedSum));
		appendBinaryStringInfo(&buf, (char *) &st->wnull[e], sizeof(FixedSum));
		appendBinaryStringInfo(&buf, (char *) &st->value[e], sizeof(FixedSum));
	}
	SET_VARSIZE(buf.data, buf.len);
	PG_RETURN_BYTEA_P((bytea *) buf.data);
}

static const char *
ReadRaw(const char *p, const char *end, void *dst, size_t len)
{
	if (p + len > end)
		elog(ERROR, "truncated markov aggregate state");
	memcpy(dst, p, len);
	return p + len;
}

Datum
markov_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext own;
	MemoryContext old;
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(b);
	const char *end = p + VARSIZE_ANY_EXHDR(b);
	MarkovAggState *st;
	int32		order;
	int32		count;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "markov_deserialfn called in non-aggregate context");
	p = ReadRaw(p, end, &order, sizeof(int32));
	own = AllocSetContextCreate(aggcxt, "attribution partial state", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(own);
	st = NewState(order);
	st->own = own;
	p = ReadRaw(p, end, &count, sizeof(int32));
	for (int i = 0; i < count; i++)
	{
		int32		len;

		p = ReadRaw(p, end, &len, sizeof(int32));
		if (len < 0 || p + len > end)
			elog(ERROR, "truncated markov aggregate state");
		ChannelDictIntern(&st->dict, p, len);
		p += len;
	}
	p = ReadRaw(p, end, &count, sizeof(int32));
	for (int s = 0; s < count; s++)
	{
		int32		len;
		int32		key[MARKOV_MAX_ORDER];

		p = ReadRaw(p, end, &len, sizeof(int32));
		if (len < 1 || len > MARKOV_MAX_ORDER)
			elog(ERROR, "corrupt markov aggregate state");
		p = ReadRaw(p, end, key, sizeof(int32) * len);
		StateId(st, key, len);
	}
	p = ReadRaw(p, end, &count, sizeof(int32));
	for (int e = 0; e < count; e++)
	{
		uint64		k;
		FixedSum	c;
		FixedSum	n;
		FixedSum	v;

		p = ReadRaw(p, end, &k, sizeof(uint64));
		p = ReadRaw(p, end, &c, sizeof(FixedSum));
		p = ReadRaw(p, end, &n, sizeof(FixedSum));
		p = ReadRaw(p, end, &v, sizeof(FixedSum));
		AddEdge(st, (int32) (uint32) (k >> 32), (int32) (uint32) k, c, n, v);
	}
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(st);
}

/*
 * The result: the transition counts as a canonical chain in portable byte
 * form, for attribution.markov_credits and markov_summary to solve with
 * any options.
 */
Datum
markov_finalfn(PG_FUNCTION_ARGS)
{
	MarkovAggState *st;
	MarkovChain chain;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (MarkovAggState *) PG_GETARG_POINTER(0);
	FoldCounts(st);

	chain.order = st->order;
	chain.has_convweight = true;
	chain.nchannels = st->dict.count;
	chain.channels = palloc(sizeof(char *) * Max(st->dict.count, 1));
	memcpy(chain.channels, st->dict.names, sizeof(char *) * st->dict.count);
	chain.nstates = st->states.count;
	chain.state_len = palloc(sizeof(int) * Max(chain.nstates, 1));
	chain.state_ch = palloc0(sizeof(int32) * Max(chain.nstates, 1) * MARKOV_MAX_ORDER);
	for (int s = 0; s < chain.nstates; s++)
	{
		int			len;
		const int32 *k = SeqMapKey(&st->states, s, &len);

		chain.state_len[s] = len;
		memcpy(chain.state_ch + s * MARKOV_MAX_ORDER, k, sizeof(int32) * len);
	}
	chain.nedges = st->edges.count;
	chain.edges = palloc(sizeof(MarkovEdge) * Max(chain.nedges, 1));
	for (int e = 0; e < chain.nedges; e++)
	{
		uint64		k = st->edges.keys[e];
		MarkovEdge *edge = &chain.edges[e];

		edge->from = (int32) (uint32) (k >> 32);
		edge->to = (int32) (uint32) k;
		edge->weight = FixedToDouble(FixedAdd(st->wconv[e], st->wnull[e]));
		edge->convweight = FixedToDouble(st->wconv[e]);
		edge->value = FixedToDouble(st->value[e]);
	}
	MarkovChainCanonicalize(&chain);
	PG_RETURN_BYTEA_P(MarkovChainToBytea(&chain));
}
