/*
 * transforms_sql.c
 *		SQL entry points of the path transforms (transforms.c):
 *
 *	path_transform(path text[], transform text, arg text DEFAULT NULL)
 *		one transform; chain by nesting calls
 *	path_transforms(path text[], steps text[])
 *		several in order, each step 'name' or 'name(arg)'
 *	path_frequency(path text[]) -> TABLE(channel text, touches int)
 *		the frequency transform as rows
 *
 * In text[] form, frequency writes each channel with its count, 'a(3)', as
 * fractribution does; path_frequency gives the same as (channel, touches)
 * rows, in order of first occurrence.
 */
#include "postgres.h"

#include <limits.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "models/markov_paths.h"
#include "models/transforms.h"

PG_FUNCTION_INFO_V1(attr_path_transform);
PG_FUNCTION_INFO_V1(attr_path_transforms);
PG_FUNCTION_INFO_V1(attr_path_frequency);

/* A path read from a text[]: its Datums (kept for the output) and items. */
typedef struct SqlPath
{
	int			n;
	Datum	   *elems;
	PathItem   *items;
} SqlPath;

static void
PathFromArray(ArrayType *arr, SqlPath *p)
{
	bool	   *nulls;
	int			i;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("path must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &p->elems, &nulls, &p->n);
	p->items = palloc(sizeof(PathItem) * Max(p->n, 1));
	for (i = 0; i < p->n; i++)
	{
		text	   *t;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("path element %d is null", i + 1),
					 errdetail("Every touch of a path must name a channel.")));
		t = DatumGetTextPP(p->elems[i]);
		p->elems[i] = PointerGetDatum(t);
		p->items[i].data = VARDATA_ANY(t);
		p->items[i].len = VARSIZE_ANY_EXHDR(t);
	}
}

static ArrayType *
PathToArray(SqlPath *p)
{
	return construct_array(p->elems, p->n, TEXTOID, -1, false, TYPALIGN_INT);
}

/*
 * Apply transform name (with arg, or NULL) to p in place.
 */
static void
ApplyTransform(SqlPath *p, const char *name, const char *arg)
{
	PathTransform t;
	PathItem	channel = {NULL, 0};
	int			limit = 0;
	int		   *keep;
	int		   *counts = NULL;
	int			k,
				i;

	if (!PathTransformFromName(name, &t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown path transform \"%s\"", name),
				 errhint("Use one of unique, exposure, first, frequency, trim_long_path, remove_if_not_all, remove_if_last_and_not_all.")));

	if (PathTransformNeedsChannel(t))
	{
		if (arg == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("path transform \"%s\" needs a channel", name),
					 errhint("Pass the channel to remove, for example 'Direct'.")));
		channel.data = arg;
		channel.len = strlen(arg);
	}
	else if (PathTransformNeedsCount(t))
	{
		char	   *end;
		long		v;

		if (arg == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("path transform \"%s\" needs a number of touches", name)));
		errno = 0;
		v = strtol(arg, &end, 10);
		if (errno != 0 || end == arg || *end != '\0' || v < 0 || v > INT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("path transform \"%s\" needs a number of touches of at least 0, not \"%s\"", name, arg),
					 errdetail("0 keeps the whole path.")));
		limit = (int) v;
	}
	else if (arg != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("path transform \"%s\" takes no argument", name)));

	keep = palloc(sizeof(int) * Max(p->n, 1));
	if (t == PT_FREQUENCY)
		counts = palloc(sizeof(int) * Max(p->n, 1));
	k = PathTransformKeep(t, p->n, p->items, channel, limit, keep, counts,
						  t == PT_FIRST || t == PT_FREQUENCY ?
						  palloc(sizeof(int) * PathTransformSlots(p->n)) : NULL);

	for (i = 0; i < k; i++)
	{
		PathItem	it = p->items[keep[i]];

		if (t == PT_FREQUENCY)
		{
			char	   *s = psprintf("%.*s(%d)", it.len, it.data, counts[i]);
			text	   *tx = cstring_to_text(s);

			p->elems[i] = PointerGetDatum(tx);
			p->items[i].data = VARDATA_ANY(tx);
			p->items[i].len = VARSIZE_ANY_EXHDR(tx);
		}
		else
		{
			p->elems[i] = p->elems[keep[i]];
			p->items[i] = it;
		}
	}
	p->n = k;
}

/*
 * path_transform(path, transform, arg): NULL for a NULL path or transform.
 */
Datum
attr_path_transform(PG_FUNCTION_ARGS)
{
	SqlPath		p;
	char	   *name;
	char	   *arg = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	PathFromArray(PG_GETARG_ARRAYTYPE_P(0), &p);
	name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!PG_ARGISNULL(2))
		arg = text_to_cstring(PG_GETARG_TEXT_PP(2));
	ApplyTransform(&p, name, arg);
	PG_RETURN_ARRAYTYPE_P(PathToArray(&p));
}

/*
 * path_transforms(path, steps): each step is 'name' or 'name(arg)'; the
 * argument runs to the last ')' so channel names may hold parentheses.
 */
Datum
attr_path_transforms(PG_FUNCTION_ARGS)
{
	ArrayType  *steps = PG_GETARG_ARRAYTYPE_P(1);
	SqlPath		p;
	Datum	   *step_d;
	bool	   *step_null;
	int			nsteps,
				i;

	PathFromArray(PG_GETARG_ARRAYTYPE_P(0), &p);
	if (ARR_NDIM(steps) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("steps must be a one-dimensional array")));
	deconstruct_array(steps, TEXTOID, -1, false, TYPALIGN_INT, &step_d, &step_null, &nsteps);
	for (i = 0; i < nsteps; i++)
	{
		char	   *step;
		char	   *paren;
		char	   *arg = NULL;

		if (step_null[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("transform step %d is null", i + 1)));
		step = TextDatumGetCString(step_d[i]);
		paren = strchr(step, '(');
		if (paren != NULL)
		{
			size_t		len = strlen(step);

			if (step[len - 1] != ')')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("transform step \"%s\" is not name or name(argument)", step)));
			step[len - 1] = '\0';
			*paren = '\0';
			arg = paren + 1;
		}
		ApplyTransform(&p, step, arg);
	}
	PG_RETURN_ARRAYTYPE_P(PathToArray(&p));
}

/*
 * path_frequency(path): one row per distinct channel, in order of first
 * occurrence, with its number of touches.
 */
Datum
attr_path_frequency(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SqlPath		p;
	PathItem	none = {NULL, 0};
	int		   *keep;
	int		   *counts;
	int			k,
				i;

	ModelRowsBegin(fcinfo);
	PathFromArray(PG_GETARG_ARRAYTYPE_P(0), &p);
	keep = palloc(sizeof(int) * Max(p.n, 1));
	counts = palloc(sizeof(int) * Max(p.n, 1));
	k = PathTransformKeep(PT_FREQUENCY, p.n, p.items, none, 0, keep, counts,
						  palloc(sizeof(int) * PathTransformSlots(p.n)));
	for (i = 0; i < k; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = p.elems[keep[i]];
		values[1] = Int32GetDatum(counts[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
