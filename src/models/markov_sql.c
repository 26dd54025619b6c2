/*
 * markov_sql.c
 *		SQL entry points of the Markov model besides the aggregate:
 *		markov_credits and markov_summary (solve an aggregate result), and the
 *		two-step form for sharded servers, markov_transitions (path rows to
 *		transition rows, summed by a plain GROUP BY) and markov_solve.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "models/markov_agg.h"
#include "models/markov_chain.h"

PG_FUNCTION_INFO_V1(markov_credits);
PG_FUNCTION_INFO_V1(markov_summary);
PG_FUNCTION_INFO_V1(markov_transitions);
PG_FUNCTION_INFO_V1(markov_solve);

/* Rows of channel, removal effect, conversions, value in channel order. */
static void
EmitCredits(FunctionCallInfo fcinfo, const MarkovChain *chain, const MarkovResult *res)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int c = 0; c < chain->nchannels; c++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(chain->channels[c]);
		values[1] = Float8GetDatum(res->channels[c].removal_effect);
		values[2] = Float8GetDatum(res->channels[c].conversions);
		values[3] = Float8GetDatum(res->channels[c].value);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

static Jsonb *
OptionsArg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	return PG_GETARG_JSONB_P(argno);
}

Datum
markov_credits(PG_FUNCTION_ARGS)
{
	MarkovChain *chain = MarkovChainFromBytea(PG_GETARG_BYTEA_PP(0));
	MarkovOptions opts;

	MarkovParseOptions(OptionsArg(fcinfo, 1), &opts);
	EmitCredits(fcinfo, chain, MarkovSolve(chain, &opts, true));
	return (Datum) 0;
}

/*
 * One row describing the solved chain: P(conversion) from (start), which
 * equals conversions / (conversions + nulls) for any order, the expected
 * value per journey, the totals and the chain's size.
 */
Datum
markov_summary(PG_FUNCTION_ARGS)
{
	MarkovChain *chain = MarkovChainFromBytea(PG_GETARG_BYTEA_PP(0));
	MarkovOptions opts;
	MarkovResult *res;
	TupleDesc	tupdesc;
	Datum		values[9];
	bool		nulls[9] = {0};

	MarkovParseOptions(OptionsArg(fcinfo, 1), &opts);
	res = MarkovSolve(chain, &opts, false);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "markov_summary must return a composite type");
	values[0] = Float8GetDatum(res->p_conversion);
	values[1] = Float8GetDatum(res->expected_value);
	values[2] = Float8GetDatum(res->conversions);
	values[3] = Float8GetDatum(res->nulls);
	values[4] = Float8GetDatum(res->value);
	values[5] = Int32GetDatum(chain->order);
	values[6] = Int32GetDatum(chain->nchannels);
	values[7] = Int32GetDatum(chain->nstates);
	values[8] = Int32GetDatum(res->transitions);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/*
 * What markov_transitions keeps across the rows of one query (in fn_mcxt):
 * channel ids and the encoded text of every state seen so far, so a row
 * costs a dictionary lookup per touch rather than a re-encoding, and the
 * memory used grows with the number of distinct states, not rows.
 */
typedef struct TransitionsCache
{
	ChannelDict dict;
	SeqMap		states;
	text	  **texts;			/* by state id */
	int			ntexts;
	text	   *start;
	text	   *conversion;
	text	   *null;
	int32	   *ids;
	int			idcap;
	StringInfoData buf;
	MemoryContext mcxt;			/* where all of it lives */
} TransitionsCache;

static TransitionsCache *
TransitionsCacheGet(FunctionCallInfo fcinfo)
{
	TransitionsCache *c = fcinfo->flinfo->fn_extra;
	MemoryContext old;

	if (c)
		return c;
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	c = palloc0(sizeof(TransitionsCache));
	ChannelDictInit(&c->dict);
	SeqMapInit(&c->states, 64);
	c->ntexts = 64;
	c->texts = palloc0(sizeof(text *) * c->ntexts);
	c->start = cstring_to_text(STATE_START);
	c->conversion = cstring_to_text(STATE_CONVERSION);
	c->null = cstring_to_text(STATE_NULL);
	initStringInfo(&c->buf);
	c->mcxt = fcinfo->flinfo->fn_mcxt;
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = c;
	return c;
}

/* Encoded text of the state of channel ids[0..len-1], made once per query. */
static text *
StateText(TransitionsCache *c, const int32 *ids, int len)
{
	MemoryContext old = MemoryContextSwitchTo(c->mcxt);
	bool		found;
	int			id = SeqMapIntern(&c->states, ids, len, &found);

	if (id >= c->ntexts)
	{
		int			n = Max(id + 1, c->ntexts * 2);

		c->texts = repalloc(c->texts, sizeof(text *) * n);
		memset(c->texts + c->ntexts, 0, sizeof(text *) * (n - c->ntexts));
		c->ntexts = n;
	}
	if (!c->texts[id])
	{
		resetStringInfo(&c->buf);
		for (int k = 0; k < len; k++)
		{
			if (k > 0)
				appendStringInfoChar(&c->buf, STATE_SEPARATOR);
			AppendEncodedChannel(&c->buf, c->dict.names[ids[k]], c->dict.lens[ids[k]]);
		}
		c->texts[id] = cstring_to_text_with_len(c->buf.data, c->buf.len);
	}
	MemoryContextSwitchTo(old);
	return c->texts[id];
}

static void
PutTransition(ReturnSetInfo *rsinfo, text *from, text *to, double weight,
			  double convweight, double value)
{
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	values[0] = PointerGetDatum(from);
	values[1] = PointerGetDatum(to);
	values[2] = Float8GetDatum(weight);
	values[3] = Float8GetDatum(value);
	values[4] = Float8GetDatum(convweight);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * The transitions one path row contributes to the chain, exactly those the
 * markov aggregate counts: summed per (from_state, to_state) with GROUP BY
 * they are the input of markov_solve.
 */
Datum
markov_transitions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TransitionsCache *c;
	const struct varlena *path;
	MemoryContext old;
	double		conv;
	double		nl;
	double		value;
	int			order;
	int			n;
	int			nstates;
	int			len;
	text	   *prev;

	ModelRowsBegin(fcinfo);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	order = MarkovCheckOrder(fcinfo, 4);
	conv = ModelArgDouble(fcinfo, 1, "conversions", true);
	nl = ModelArgDouble(fcinfo, 2, "nulls", true);
	value = ModelArgDouble(fcinfo, 3, "value", false);
	c = TransitionsCacheGet(fcinfo);
	/* a detoasted copy belongs to this row; new channels to the query */
	path = PathDatum(PG_GETARG_DATUM(0));
	old = MemoryContextSwitchTo(c->mcxt);
	n = PathToIds(path, &c->dict, &c->ids, &c->idcap);
	MemoryContextSwitchTo(old);
	/* rows without journeys are ignored, as by the aggregate */
	if (n == 0 || (conv == 0 && nl == 0))
		return (Datum) 0;

	nstates = MarkovPathStates(n, order);
	len = Min(n, order);
	prev = c->start;
	for (int i = 0; i < nstates; i++)
	{
		text	   *cur = StateText(c, c->ids + i, len);

		PutTransition(rsinfo, prev, cur, conv + nl, conv, 0.0);
		prev = cur;
	}
	if (conv != 0 || value != 0)
		PutTransition(rsinfo, prev, c->conversion, conv, conv, value);
	if (nl != 0)
		PutTransition(rsinfo, prev, c->null, nl, 0.0, 0.0);
	return (Datum) 0;
}

static bool
TextIs(text *t, const char *s)
{
	int			len = strlen(s);

	return (int) VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
}

/* Maps an encoded state to a chain state index or a special state. */
static int
ParseState(text *t, bool is_from, ChannelDict *dict, SeqMap *states, int *order)
{
	List	   *names;
	ListCell   *lc;
	int32		key[MARKOV_MAX_ORDER];
	int			n;
	int			k = 0;
	bool		found;

	if (TextIs(t, STATE_START))
	{
		if (!is_from)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("to_state must not be %s", STATE_START)));
		return MARKOV_START;
	}
	if (TextIs(t, STATE_CONVERSION) || TextIs(t, STATE_NULL))
	{
		if (is_from)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("from_state must not be the absorbing state %s", text_to_cstring(t))));
		return TextIs(t, STATE_CONVERSION) ? MARKOV_CONVERSION : MARKOV_NULL;
	}
	n = DecodeStateText(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &names);
	if (n > MARKOV_MAX_ORDER)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("state \"%s\" has %d channels, more than the largest order %d",
						text_to_cstring(t), n, MARKOV_MAX_ORDER)));
	foreach(lc, names)
	{
		char	   *name = lfirst(lc);

		key[k++] = ChannelDictIntern(dict, name, strlen(name));
	}
	*order = Max(*order, n);
	return SeqMapIntern(states, key, n, &found);
}

static void
CheckArray(ArrayType *a, const char *name, int n)
{
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", name)));
	if (ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a)) != n)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s has %d elements, from_state has %d",
						name, ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a)), n),
				 errhint("Pass arrays aggregated from the same rows, for example with array_agg.")));
}

static void
CheckElement(bool isnull, const char *name)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not contain NULL", name)));
}

/*
 * Second step: solves the chain given as transition rows (arrays of equal
 * length, duplicates summed) and returns the same rows as markov_credits.
 * conversion_weight (the conversion_weight column of markov_transitions) is
 * needed only with "ignore_nulls".
 */
Datum
markov_solve(PG_FUNCTION_ARGS)
{
	ArrayType  *afrom;
	ArrayType  *ato;
	ArrayType  *aweight;
	ArrayType  *avalue;
	ArrayType  *aconv = NULL;
	Datum	   *dfrom, *dto, *dweight, *dvalue = NULL, *dconv = NULL;
	bool	   *nfrom, *nto, *nweight, *nvalue = NULL, *nconv = NULL;
	int			n;
	ChannelDict dict;
	SeqMap		states;
	MarkovChain chain;
	MarkovOptions opts;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("from_state, to_state and weight must not be NULL")));
	afrom = PG_GETARG_ARRAYTYPE_P(0);
	ato = PG_GETARG_ARRAYTYPE_P(1);
	aweight = PG_GETARG_ARRAYTYPE_P(2);
	avalue = PG_ARGISNULL(3) ? NULL : PG_GETARG_ARRAYTYPE_P(3);
	MarkovParseOptions(OptionsArg(fcinfo, 4), &opts);
	if (PG_NARGS() > 5 && !PG_ARGISNULL(5))
		aconv = PG_GETARG_ARRAYTYPE_P(5);

	if (ARR_NDIM(afrom) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("from_state must be a one-dimensional array")));
	n = ArrayGetNItems(ARR_NDIM(afrom), ARR_DIMS(afrom));
	CheckArray(ato, "to_state", n);
	CheckArray(aweight, "weight", n);
	if (avalue)
		CheckArray(avalue, "value", n);
	if (aconv)
		CheckArray(aconv, "conversion_weight", n);
	deconstruct_array(afrom, TEXTOID, -1, false, TYPALIGN_INT, &dfrom, &nfrom, &n);
	deconstruct_array(ato, TEXTOID, -1, false, TYPALIGN_INT, &dto, &nto, &n);
	deconstruct_array(aweight, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &dweight, &nweight, &n);
	if (avalue)
		deconstruct_array(avalue, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &dvalue, &nvalue, &n);
	if (aconv)
		deconstruct_array(aconv, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &dconv, &nconv, &n);

	ChannelDictInit(&dict);
	SeqMapInit(&states, 64);
	memset(&chain, 0, sizeof(chain));
	chain.has_convweight = aconv != NULL;
	chain.edges = palloc(sizeof(MarkovEdge) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		MarkovEdge *e = &chain.edges[i];

		CheckElement(nfrom[i], "from_state");
		CheckElement(nto[i], "to_state");
		CheckElement(nweight[i], "weight");
		e->from = ParseState(DatumGetTextPP(dfrom[i]), true, &dict, &states, &chain.order);
		e->to = ParseState(DatumGetTextPP(dto[i]), false, &dict, &states, &chain.order);
		e->weight = DatumGetFloat8(dweight[i]);
		e->value = (avalue && !nvalue[i]) ? DatumGetFloat8(dvalue[i]) : 0.0;
		if (aconv)
		{
			CheckElement(nconv[i], "conversion_weight");
			e->convweight = DatumGetFloat8(dconv[i]);
		}
		else
			e->convweight = e->to == MARKOV_NULL ? 0.0 : e->weight;
		if (isnan(e->weight) || isinf(e->weight) || e->weight < 0 ||
			isnan(e->convweight) || isinf(e->convweight) || e->convweight < 0 ||
			e->convweight > e->weight || isnan(e->value) || isinf(e->value))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("transition %d has an invalid weight %g, conversion weight %g or value %g",
							i + 1, e->weight, e->convweight, e->value),
					 errdetail("Weights must be finite and non-negative, the conversion weight at most the weight, and values finite.")));
	}
	chain.nedges = n;
	chain.order = Max(chain.order, 1);
	chain.nchannels = dict.count;
	chain.channels = dict.names;
	chain.nstates = states.count;
	chain.state_len = palloc(sizeof(int) * Max(states.count, 1));
	chain.state_ch = palloc0(sizeof(int32) * Max(states.count, 1) * MARKOV_MAX_ORDER);
	for (int s = 0; s < states.count; s++)
	{
		int			len;
		const int32 *k = SeqMapKey(&states, s, &len);

		chain.state_len[s] = len;
		memcpy(chain.state_ch + s * MARKOV_MAX_ORDER, k, sizeof(int32) * len);
	}
	MarkovChainCanonicalize(&chain);
	EmitCredits(fcinfo, &chain, MarkovSolve(&chain, &opts, true));
	return (Datum) 0;
}
