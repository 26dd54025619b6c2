/*
 * path_weights.c
 *		attribution.path_weights(): the rule models on a path an analyst
 *		passes as arrays, for data kept outside the extension's tables.
 *
 * Options come as jsonb so that one signature serves every model:
 *	lookback_days	number > 0, or null for no window (default 90)
 *	last_n			integer >= 0, or null; 0 or null keeps every touch
 *	half_life_days	number > 0 (default 7), time_decay
 *	first_share		number in [0, 1] (default 0.4), position_based
 *	last_share		number in [0, 1] (default 0.4), position_based
 *	direct_channel	string (default 'Direct'), the non-direct models
 * Unknown keys are errors, so that a misspelt option is never ignored.
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "models/rules.h"
#include "models/rules_sql.h"

PG_FUNCTION_INFO_V1(attr_path_weights);

/*
 * Model by name, or an error that lists the names.
 */
RuleModel
RuleModelByNameOrError(const char *name)
{
	RuleModel	model;

	if (!RuleModelFromName(name, &model))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown attribution model \"%s\"", name),
				 errhint("Use one of first_touch, last_touch, first_non_direct, last_non_direct, linear, position_based, time_decay.")));
	return model;
}

static double
OptionNumber(const char *key, JsonbValue *v)
{
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a number", key)));
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											  NumericGetDatum(v->val.numeric)));
}

/*
 * Read the options object into opts and *direct (palloc'd), defaults first.
 */
void
RuleOptionsFromJsonb(Jsonb *jb, RuleOptions *opts, char **direct)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	const char *problem;

	RuleOptionsDefault(opts);
	*direct = pstrdup(RULE_DEFAULT_DIRECT_CHANNEL);

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a JSON object"),
				 errdetail("Pass for example '{\"lookback_days\": 30, \"half_life_days\": 7}'.")));

	it = JsonbIteratorInit(&jb->root);
	tok = JsonbIteratorNext(&it, &v, false);	/* WJB_BEGIN_OBJECT */
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);

		if (strcmp(key, "lookback_days") == 0)
			opts->lookback_days = v.type == jbvNull ? INFINITY : OptionNumber(key, &v);
		else if (strcmp(key, "last_n") == 0)
		{
			double		d = v.type == jbvNull ? 0 : OptionNumber(key, &v);

			if (d != floor(d) || d < 0 || d > INT_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"last_n\" must be a whole number of touches, not %g", d)));
			opts->last_n = (int) d;
		}
		else if (strcmp(key, "half_life_days") == 0)
			opts->half_life_days = OptionNumber(key, &v);
		else if (strcmp(key, "first_share") == 0)
			opts->first_share = OptionNumber(key, &v);
		else if (strcmp(key, "last_share") == 0)
			opts->last_share = OptionNumber(key, &v);
		else if (strcmp(key, "direct_channel") == 0)
		{
			if (v.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"direct_channel\" must be a string")));
			*direct = pnstrdup(v.val.string.val, v.val.string.len);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", key),
					 errhint("Options are lookback_days, last_n, half_life_days, first_share, last_share and direct_channel.")));
	}

	if (!(opts->lookback_days > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"lookback_days\" must be a positive number of days, not %g", opts->lookback_days),
				 errhint("Use null for no window.")));
	if (!(opts->half_life_days > 0) || isinf(opts->half_life_days))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"half_life_days\" must be a positive number of days, not %g",
						opts->half_life_days)));
	if (!(opts->first_share >= 0 && opts->first_share <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"first_share\" must be between 0 and 1, not %g", opts->first_share)));
	if (!(opts->last_share >= 0 && opts->last_share <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"last_share\" must be between 0 and 1, not %g", opts->last_share)));
	/* what is left once the messages above passed */
	problem = RuleOptionsProblem(opts);
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid options for the attribution models"),
				 errdetail("%s", problem)));
}

/*
 * path_weights(model, channels, touched_at, converted_at, options)
 *
 * One weight per array element, in input order; touches after the
 * conversion or outside the window get 0.
 */
Datum
attr_path_weights(PG_FUNCTION_ARGS)
{
	char	   *model_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ArrayType  *channels = PG_GETARG_ARRAYTYPE_P(1);
	ArrayType  *times = PG_GETARG_ARRAYTYPE_P(2);
	TimestampTz converted_at = PG_GETARG_TIMESTAMPTZ(3);
	Jsonb	   *jb = PG_GETARG_JSONB_P(4);
	RuleModel	model;
	RuleOptions opts;
	char	   *direct;
	Size		direct_len;
	Datum	   *chan_d;
	bool	   *chan_null;
	Datum	   *time_d;
	bool	   *time_null;
	int			n,
				nt,
				i;
	double	   *age;
	bool	   *is_direct;
	int		   *order;
	int		   *work;
	double	   *dense;
	double	   *weights;
	Datum	   *out;

	model = RuleModelByNameOrError(model_name);
	RuleOptionsFromJsonb(jb, &opts, &direct);
	direct_len = strlen(direct);

	if (ARR_NDIM(channels) > 1 || ARR_NDIM(times) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("channels and touched_at must be one-dimensional arrays")));
	if (TIMESTAMP_NOT_FINITE(converted_at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("converted_at must be a finite timestamp")));

	deconstruct_array(channels, TEXTOID, -1, false, TYPALIGN_INT, &chan_d, &chan_null, &n);
	deconstruct_array(times, TIMESTAMPTZOID, sizeof(TimestampTz), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &time_d, &time_null, &nt);
	if (n != nt)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("channels has %d elements but touched_at has %d", n, nt),
				 errdetail("Both arrays describe the same touches, one element each.")));

	age = palloc(sizeof(double) * Max(n, 1));
	is_direct = palloc(sizeof(bool) * Max(n, 1));
	order = palloc(sizeof(int) * Max(n, 1));
	work = palloc(sizeof(int) * Max(n, 1));
	dense = palloc(sizeof(double) * Max(n, 1));
	weights = palloc(sizeof(double) * Max(n, 1));
	out = palloc(sizeof(Datum) * Max(n, 1));

	for (i = 0; i < n; i++)
	{
		TimestampTz t;
		text	   *c;

		if (chan_null[i] || time_null[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("touch %d has a null channel or time", i + 1),
					 errdetail("Every element of channels and touched_at must be given.")));
		t = DatumGetTimestampTz(time_d[i]);
		if (TIMESTAMP_NOT_FINITE(t))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("touch %d has a time that is not finite", i + 1)));
		age[i] = (double) (converted_at - t) / (double) USECS_PER_DAY;
		c = DatumGetTextPP(chan_d[i]);
		is_direct[i] = VARSIZE_ANY_EXHDR(c) == direct_len &&
			memcmp(VARDATA_ANY(c), direct, direct_len) == 0;
	}

	RuleChronologicalOrder(n, age, order, work);
	RuleWeights(model, &opts, n, age, is_direct, order, work, dense, weights);

	for (i = 0; i < n; i++)
		out[i] = Float8GetDatum(weights[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, n, FLOAT8OID, sizeof(float8),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
