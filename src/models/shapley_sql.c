/*
 * shapley_sql.c
 *		SQL entry points of the Shapley models besides the aggregate:
 *		shapley_credits (computes a variant from an aggregate result), and the
 *		two-step form for sharded servers, shapley_key (the GROUP BY key of a
 *		path for a variant) and shapley_solve.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "models/markov_paths.h"
#include "models/shapley.h"

PG_FUNCTION_INFO_V1(shapley_credits);
PG_FUNCTION_INFO_V1(shapley_solve);
PG_FUNCTION_INFO_V1(shapley_key);

static void
EmitCredits(FunctionCallInfo fcinfo, const ShapleyData *data, ShapleyVariant variant)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			n;
	ShapleyCredit *credits = ShapleyCompute(data, variant, &n);

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < n; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(data->channels[credits[i].channel]);
		values[1] = Float8GetDatum(credits[i].conversions);
		values[2] = Float8GetDatum(credits[i].value);
		values[3] = Int32GetDatum(credits[i].position);
		nulls[3] = credits[i].position == 0;
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
shapley_credits(PG_FUNCTION_ARGS)
{
	ShapleyData *data = ShapleyDataFromBytea(PG_GETARG_BYTEA_PP(0));
	ShapleyVariant variant = ShapleyParseVariant(text_to_cstring(PG_GETARG_TEXT_PP(1)),
												 OptionsArg(fcinfo, 2));

	EmitCredits(fcinfo, data, variant);
	return (Datum) 0;
}

/*
 * The key a path is grouped by in the two-step form: 'set' (distinct
 * channels sorted by bytes: enough for zhao_simplified and exact),
 * 'ordered' (channels in order of first occurrence: zhao_ordered) or 'path'
 * (the whole path: fractribution).  Variant names are accepted too.
 */
Datum
shapley_key(PG_FUNCTION_ARGS)
{
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ChannelDict dict;
	int32	   *ids = NULL;
	int			cap = 0;
	int			n;
	int			k = 0;
	StringInfoData buf;
	bool		sorted;
	bool		distinct;

	if (strcmp(kind, "set") == 0 || strcmp(kind, "zhao_simplified") == 0 ||
		strcmp(kind, "exact") == 0 || strcmp(kind, "exact_subset_sum") == 0 ||
		strcmp(kind, "exact_conversion_rate") == 0)
		sorted = distinct = true;
	else if (strcmp(kind, "ordered") == 0 || strcmp(kind, "zhao_ordered") == 0)
	{
		sorted = false;
		distinct = true;
	}
	else if (strcmp(kind, "path") == 0 || strcmp(kind, "fractribution") == 0)
		sorted = distinct = false;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown shapley key kind \"%s\"", kind),
				 errhint("Use set, ordered or path, or a variant name.")));

	ChannelDictInit(&dict);
	n = PathToIds(PathDatum(PG_GETARG_DATUM(0)), &dict, &ids, &cap);
	if (n == 0)
		PG_RETURN_NULL();
	if (distinct)
	{
		/* dictionary ids are first-occurrence order already */
		for (int i = 0; i < dict.count; i++)
			ids[i] = i;
		k = dict.count;
	}
	else
		k = n;
	if (sorted)
	{
		int		   *rank = ChannelDictSortedRanks(&dict);

		for (int i = 0; i < dict.count; i++)
			ids[rank[i]] = i;
	}
	initStringInfo(&buf);
	for (int i = 0; i < k; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, STATE_SEPARATOR);
		AppendEncodedChannel(&buf, dict.names[ids[i]], dict.lens[ids[i]]);
	}
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
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
				 errmsg("%s has %d elements, paths has %d",
						name, ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a)), n),
				 errhint("Pass arrays aggregated from the same rows, for example with array_agg.")));
}

static double
ElementDouble(ArrayType *a, Datum *d, bool *isnull, int i, const char *name, bool nonnegative)
{
	double		x;

	if (a == NULL || isnull[i])
		return 0.0;
	x = DatumGetFloat8(d[i]);
	if (isnan(x) || isinf(x) || (nonnegative && x < 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s element %d is invalid: %g", name, i + 1, x),
				 errdetail("Counts must be finite and non-negative, values finite.")));
	return x;
}

/*
 * Second step: computes a variant from encoded paths (channels joined by
 * '>', as shapley_key or markov_transitions write them) with their summed
 * conversions, nulls and value.  Same rows as shapley_credits.
 */
Datum
shapley_solve(PG_FUNCTION_ARGS)
{
	ArrayType  *apath;
	ArrayType  *aconv;
	ArrayType  *anull = NULL;
	ArrayType  *avalue = NULL;
	Datum	   *dpath, *dconv, *dnull = NULL, *dvalue = NULL;
	bool	   *npath, *nconv, *nnull = NULL, *nvalue = NULL;
	int			n;
	ShapleyVariant variant;
	ChannelDict dict;
	ShapleyData data;
	int			pos = 0;
	int			cap = 64;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("paths, conversions and variant must not be NULL")));
	variant = ShapleyParseVariant(text_to_cstring(PG_GETARG_TEXT_PP(4)), OptionsArg(fcinfo, 5));
	apath = PG_GETARG_ARRAYTYPE_P(0);
	aconv = PG_GETARG_ARRAYTYPE_P(1);
	if (!PG_ARGISNULL(2))
		anull = PG_GETARG_ARRAYTYPE_P(2);
	if (!PG_ARGISNULL(3))
		avalue = PG_GETARG_ARRAYTYPE_P(3);
	if (ARR_NDIM(apath) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("paths must be a one-dimensional array")));
	n = ArrayGetNItems(ARR_NDIM(apath), ARR_DIMS(apath));
	CheckArray(aconv, "conversions", n);
	if (anull)
		CheckArray(anull, "nulls", n);
	if (avalue)
		CheckArray(avalue, "value", n);
	deconstruct_array(apath, TEXTOID, -1, false, TYPALIGN_INT, &dpath, &npath, &n);
	deconstruct_array(aconv, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &dconv, &nconv, &n);
	if (anull)
		deconstruct_array(anull, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &dnull, &nnull, &n);
	if (avalue)
		deconstruct_array(avalue, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &dvalue, &nvalue, &n);

	ChannelDictInit(&dict);
	memset(&data, 0, sizeof(data));
	data.path_off = palloc(sizeof(int) * Max(n, 1));
	data.path_len = palloc(sizeof(int) * Max(n, 1));
	data.conv = palloc(sizeof(double) * Max(n, 1));
	data.nulls = palloc(sizeof(double) * Max(n, 1));
	data.value = palloc(sizeof(double) * Max(n, 1));
	data.path_ch = palloc(sizeof(int32) * cap);
	for (int i = 0; i < n; i++)
	{
		List	   *names;
		ListCell   *lc;
		text	   *t;
		int			len;

		if (npath[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("paths must not contain NULL")));
		t = DatumGetTextPP(dpath[i]);
		len = DecodeStateText(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &names);
		data.conv[data.npaths] = ElementDouble(aconv, dconv, nconv, i, "conversions", true);
		data.nulls[data.npaths] = ElementDouble(anull, dnull, nnull, i, "nulls", true);
		data.value[data.npaths] = ElementDouble(avalue, dvalue, nvalue, i, "value", false);
		/* paths without journeys are ignored, as by the aggregate */
		if (data.conv[data.npaths] == 0 && data.nulls[data.npaths] == 0)
		{
			list_free_deep(names);
			continue;
		}
		while (pos + len > cap)
		{
			cap *= 2;
			data.path_ch = repalloc_huge(data.path_ch, sizeof(int32) * cap);
		}
		data.path_off[data.npaths] = pos;
		data.path_len[data.npaths] = len;
		foreach(lc, names)
		{
			char	   *name = lfirst(lc);

			data.path_ch[pos++] = ChannelDictIntern(&dict, name, strlen(name));
		}
		data.npaths++;
		list_free_deep(names);
	}
	data.nchannels = dict.count;
	data.channels = dict.names;
	ShapleyCanonicalize(&data);
	EmitCredits(fcinfo, &data, variant);
	return (Datum) 0;
}
