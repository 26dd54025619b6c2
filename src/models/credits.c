/*
 * credits.c
 *		attribution.credits: the rule-based credits of each conversion.
 *
 * CreditConversion computes, for one conversion, every model named by
 * pg_attribution.credit_models over the touches of the conversion's user in
 * the lookback window before it, and replaces the conversion's rows in
 * attribution.credits (so calling it again is harmless).  Triggers call it
 * when a conversion is inserted, when its user changes, and when identify()
 * or link_customer() give a user new touches (credits.sql).
 *
 * The user's touches are those attribution.journeys gives the user: touches
 * recorded with the user, and touches without a user whose visitor was
 * first linked to this user in attribution.identities.  The query is written
 * out here rather than read from the view so that both halves use indexes.
 *
 * When a re-computation changes the weights of a conversion, the models that
 * changed are recorded in attribution.credit_changes, for the delivery stage
 * that sends differences to the ad platforms.
 */
#include "postgres.h"

#include <math.h>
#include <stdlib.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "core/progress.h"
#include "models/rules.h"
#include "models/rules_sql.h"
#include "pg_attribution.h"

PG_FUNCTION_INFO_V1(attr_credit_conversion);
PG_FUNCTION_INFO_V1(attr_recompute_credits);

int			credit_model_mask = RULE_ALL_MODELS;
int			credit_lookback_days = 90;
static char *credit_models_string = NULL;

#define RECOMPUTE_BATCH 1000

/* One credit row as far as change detection cares. */
typedef struct CreditKey
{
	int			model;
	int64		touch_id;
	double		weight;
} CreditKey;

static SPIPlanPtr conversion_plan = NULL;
static SPIPlanPtr delete_plan = NULL;
static SPIPlanPtr touches_plan = NULL;
static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr change_plan = NULL;
static SPIPlanPtr batch_plan = NULL;

/*
 * pg_attribution.credit_models: a list of model names, checked here and
 * kept as a bit mask (extra) so that the crediting path never parses it.
 */
static bool
CheckCreditModels(char **newval, void **extra, GucSource source)
{
	char	   *raw = pstrdup(*newval);
	List	   *names;
	ListCell   *lc;
	int			mask = 0;
	int		   *result;

	(void) source;
	if (!SplitIdentifierString(raw, ',', &names))
	{
		GUC_check_errdetail("List syntax is invalid.");
		return false;
	}
	foreach(lc, names)
	{
		char	   *name = (char *) lfirst(lc);
		RuleModel	model;

		if (!RuleModelFromName(name, &model))
		{
			GUC_check_errdetail("\"%s\" is not a rule-based model.", name);
			GUC_check_errhint("Use first_touch, last_touch, first_non_direct, last_non_direct, linear, position_based and time_decay.");
			return false;
		}
		mask |= 1 << model;
	}
	list_free(names);
	pfree(raw);

	/* GUC extra data is malloc'd: the GUC machinery frees it */
	result = (int *) malloc(sizeof(int));
	if (result == NULL)
		return false;
	*result = mask;
	*extra = result;
	return true;
}

static void
AssignCreditModels(const char *newval, void *extra)
{
	(void) newval;
	credit_model_mask = *(int *) extra;
}

/*
 * Settings of the crediting; called from _PG_init.
 */
void
CreditsInit(void)
{
	DefineCustomStringVariable("pg_attribution.credit_models",
							   "Rule-based models computed into attribution.credits for each conversion.",
							   "A comma-separated list; empty turns automatic crediting off.",
							   &credit_models_string,
							   "first_touch,last_touch,first_non_direct,last_non_direct,linear,position_based,time_decay",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   CheckCreditModels, AssignCreditModels, NULL);

	DefineCustomIntVariable("pg_attribution.lookback_days",
							"Touches older than this many days before a conversion get no credit.",
							NULL,
							&credit_lookback_days,
							90, 1, 3650,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
}

/*
 * The queries here look rows up by key in tables that start empty and
 * grow: a plan cached while a table was small would scan it whole for
 * every conversion ever after, and one recompute_credits() over a fresh
 * install would take quadratic time before any ANALYZE could run.  So
 * sequential scans are off while they are planned and run (index lookups
 * are right at every size here); the caller restores the setting with
 * AtEOXact_GUC.
 */
static int
PreferIndexes(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

static SPIPlanPtr
KeepPlan(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "could not prepare query: %s", SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep query plan");
	return plan;
}

static void
PreparePlans(void)
{
	if (conversion_plan == NULL)
	{
		Oid			types[1] = {INT8OID};

		/* the lock serialises two computations of the same conversion */
		conversion_plan = KeepPlan(
								   "SELECT user_id, occurred_at, value FROM attribution.conversions "
								   "WHERE id = $1 FOR NO KEY UPDATE",
								   1, types);
	}
	if (delete_plan == NULL)
	{
		Oid			types[1] = {INT8OID};

		delete_plan = KeepPlan(
							   "DELETE FROM attribution.credits WHERE conversion_id = $1 "
							   "RETURNING model, touch_id, weight",
							   1, types);
	}
	if (touches_plan == NULL)
	{
		Oid			types[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};

		touches_plan = KeepPlan(
								"SELECT t.id, t.channel, t.occurred_at, "
								"       coalesce(t.referral_code, CASE WHEN t.channel = 'Referral Program' THEN t.utm_content END) "
								"  FROM attribution.touchpoints t "
								" WHERE t.user_id = $1 AND t.occurred_at >= $2 AND t.occurred_at <= $3 "
								"UNION ALL "
								"SELECT t.id, t.channel, t.occurred_at, "
								"       coalesce(t.referral_code, CASE WHEN t.channel = 'Referral Program' THEN t.utm_content END) "
								"  FROM attribution.identities i "
								"  JOIN attribution.touchpoints t ON t.visitor_id = i.visitor_id "
								" WHERE i.user_id = $1 AND t.user_id IS NULL "
								"   AND t.occurred_at >= $2 AND t.occurred_at <= $3 "
								"   AND NOT EXISTS (SELECT 1 FROM attribution.identities e "
								"                    WHERE e.visitor_id = i.visitor_id "
								"                      AND (e.linked_at, e.user_id) < (i.linked_at, i.user_id)) "
								"ORDER BY 3, 1",
								3, types);
	}
	if (insert_plan == NULL)
	{
		Oid			types[7] = {INT8OID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID,
		FLOAT8ARRAYOID, NUMERICARRAYOID, TEXTARRAYOID};

		insert_plan = KeepPlan(
							   "INSERT INTO attribution.credits "
							   "    (conversion_id, model, touch_id, channel, weight, value_credited, referral_code) "
							   "SELECT $1, u.* FROM unnest($2, $3, $4, $5, $6, $7) u",
							   7, types);
	}
	if (change_plan == NULL)
	{
		Oid			types[2] = {INT8OID, TEXTARRAYOID};

		change_plan = KeepPlan(
							   "INSERT INTO attribution.credit_changes (conversion_id, models) VALUES ($1, $2)",
							   2, types);
	}
}

static int
CompareCreditKeys(const void *a, const void *b)
{
	const CreditKey *x = (const CreditKey *) a;
	const CreditKey *y = (const CreditKey *) b;

	if (x->model != y->model)
		return x->model < y->model ? -1 : 1;
	if (x->touch_id != y->touch_id)
		return x->touch_id < y->touch_id ? -1 : 1;
	return 0;
}

/*
 * Bit mask of the models whose (touch, weight) rows differ between old and
 * new (both sorted by model, touch).
 */
static int
ChangedModels(CreditKey *old, int nold, CreditKey *new, int nnew)
{
	int			changed = 0;
	int			i = 0,
				j = 0;

	while (i < nold || j < nnew)
	{
		if (j >= nnew || (i < nold && CompareCreditKeys(&old[i], &new[j]) < 0))
			changed |= 1 << old[i++].model;
		else if (i >= nold || CompareCreditKeys(&old[i], &new[j]) > 0)
			changed |= 1 << new[j++].model;
		else
		{
			if (old[i].weight != new[j].weight)
				changed |= 1 << old[i].model;
			i++;
			j++;
		}
	}
	return changed;
}

/*
 * Compute and store the credits of one conversion; returns the number of
 * credit rows written.  record_change: note in credit_changes the models
 * whose credits differ from what was stored (not wanted for a conversion
 * just inserted, which the delivery stage sends whole anyway).
 */
int
CreditConversion(int64 conversion_id, bool record_change)
{
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	Datum		user_id;
	bool		user_null;
	TimestampTz converted_at;
	Datum		value;
	CreditKey  *old_keys;
	int			nold;
	CreditKey  *new_keys;
	int			nnew = 0;
	int			ntouches;
	int			cap;
	int64	   *touch_ids;
	Datum	   *channels;
	Datum	   *referrals;
	bool	   *referral_null;
	double	   *age;
	bool	   *is_direct;
	int		   *order;
	int		   *work;
	double	   *dense;
	double	   *weights;
	Datum	   *out_model,
			   *out_touch,
			   *out_channel,
			   *out_weight,
			   *out_value,
			   *out_referral;
	bool	   *out_referral_null;
	RuleOptions opts;
	int			m,
				i,
				changed;
	uint64		row;
	int			nestlevel;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	nestlevel = PreferIndexes();
	PreparePlans();

	args[0] = Int64GetDatum(conversion_id);
	if (SPI_execute_plan(conversion_plan, args, nulls, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read conversion " INT64_FORMAT, conversion_id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("conversion " INT64_FORMAT " does not exist", conversion_id)));
	user_id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &user_null);
	converted_at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);

	/* the credits stored so far */
	if (SPI_execute_plan(delete_plan, args, nulls, false, 0) != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "could not delete credits of conversion " INT64_FORMAT, conversion_id);
	nold = (int) SPI_processed;
	old_keys = palloc(sizeof(CreditKey) * Max(nold, 1));
	for (row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tup = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *model = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		RuleModel	rm;

		/* a model outside the rule set (none today) counts as its own bit */
		old_keys[row].model = RuleModelFromName(model, &rm) ? (int) rm : RULE_NUM_MODELS;
		old_keys[row].touch_id = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		old_keys[row].weight = DatumGetFloat8(SPI_getbinval(tup, desc, 3, &isnull));
	}
	qsort(old_keys, nold, sizeof(CreditKey), CompareCreditKeys);

	/*
	 * The user's touches in the window, oldest first.  Not read-only, so
	 * that in READ COMMITTED the query takes a fresh snapshot: after waiting
	 * for the conversion's lock it sees what the other transaction linked.
	 */
	ntouches = 0;
	if (!user_null && credit_model_mask != 0)
	{
		args[0] = user_id;
		args[1] = TimestampTzGetDatum(converted_at - (int64) credit_lookback_days * USECS_PER_DAY);
		args[2] = TimestampTzGetDatum(converted_at);
		if (SPI_execute_plan(touches_plan, args, nulls, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read touches of conversion " INT64_FORMAT, conversion_id);
		ntouches = (int) SPI_processed;
	}

	cap = Max(ntouches, 1);
	touch_ids = palloc(sizeof(int64) * cap);
	channels = palloc(sizeof(Datum) * cap);
	referrals = palloc(sizeof(Datum) * cap);
	referral_null = palloc(sizeof(bool) * cap);
	age = palloc(sizeof(double) * cap);
	is_direct = palloc(sizeof(bool) * cap);
	order = palloc(sizeof(int) * cap);
	work = palloc(sizeof(int) * cap);
	dense = palloc(sizeof(double) * cap);
	weights = palloc(sizeof(double) * cap);
	for (i = 0; i < ntouches; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		text	   *channel;

		touch_ids[i] = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		channels[i] = SPI_getbinval(tup, desc, 2, &isnull);
		age[i] = (double) (converted_at - DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull)))
			/ (double) USECS_PER_DAY;
		referrals[i] = SPI_getbinval(tup, desc, 4, &referral_null[i]);
		channel = DatumGetTextPP(channels[i]);
		is_direct[i] = VARSIZE_ANY_EXHDR(channel) == strlen(RULE_DEFAULT_DIRECT_CHANNEL) &&
			memcmp(VARDATA_ANY(channel), RULE_DEFAULT_DIRECT_CHANNEL,
				   strlen(RULE_DEFAULT_DIRECT_CHANNEL)) == 0;
	}

	RuleOptionsDefault(&opts);
	opts.lookback_days = credit_lookback_days;
	RuleChronologicalOrder(ntouches, age, order, work);

	cap = Max(ntouches * RULE_NUM_MODELS, 1);
	new_keys = palloc(sizeof(CreditKey) * cap);
	out_model = palloc(sizeof(Datum) * cap);
	out_touch = palloc(sizeof(Datum) * cap);
	out_channel = palloc(sizeof(Datum) * cap);
	out_weight = palloc(sizeof(Datum) * cap);
	out_value = palloc(sizeof(Datum) * cap);
	out_referral = palloc(sizeof(Datum) * cap);
	out_referral_null = palloc(sizeof(bool) * cap);

	for (m = 0; m < RULE_NUM_MODELS && ntouches > 0; m++)
	{
		Datum		model_name;
		Datum		credited = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
		int			last = -1;

		if ((credit_model_mask & (1 << m)) == 0)
			continue;
		if (RuleWeights((RuleModel) m, &opts, ntouches, age, is_direct, order, work, dense, weights) == 0)
			continue;
		model_name = CStringGetTextDatum(RuleModelNames[m]);

		/* chronological, so that the last credited touch takes the rest */
		for (i = 0; i < ntouches; i++)
		{
			int			t = order[i];

			if (weights[t] <= 0)
				continue;
			new_keys[nnew].model = m;
			new_keys[nnew].touch_id = touch_ids[t];
			new_keys[nnew].weight = weights[t];
			out_model[nnew] = model_name;
			out_touch[nnew] = Int64GetDatum(touch_ids[t]);
			out_channel[nnew] = channels[t];
			out_weight[nnew] = Float8GetDatum(weights[t]);
			out_value[nnew] = DirectFunctionCall2(numeric_mul, value,
												  DirectFunctionCall1(float8_numeric,
																	  Float8GetDatum(weights[t])));
			credited = DirectFunctionCall2(numeric_add, credited, out_value[nnew]);
			out_referral[nnew] = referrals[t];
			out_referral_null[nnew] = referral_null[t];
			last = nnew;
			nnew++;
		}

		/*
		 * The shares of a model add up to the value exactly: the most recent
		 * credited touch gets the value less the others' shares.
		 */
		if (last >= 0)
		{
			Datum		others = DirectFunctionCall2(numeric_sub, credited, out_value[last]);

			out_value[last] = DirectFunctionCall2(numeric_sub, value, others);
		}
	}

	if (nnew > 0)
	{
		int			dims[1] = {nnew};
		int			lbs[1] = {1};

		args[0] = Int64GetDatum(conversion_id);
		args[1] = PointerGetDatum(construct_array(out_model, nnew, TEXTOID, -1, false, TYPALIGN_INT));
		args[2] = PointerGetDatum(construct_array(out_touch, nnew, INT8OID, sizeof(int64),
												  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		args[3] = PointerGetDatum(construct_array(out_channel, nnew, TEXTOID, -1, false, TYPALIGN_INT));
		args[4] = PointerGetDatum(construct_array(out_weight, nnew, FLOAT8OID, sizeof(float8),
												  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		args[5] = PointerGetDatum(construct_array(out_value, nnew, NUMERICOID, -1, false, TYPALIGN_INT));
		args[6] = PointerGetDatum(construct_md_array(out_referral, out_referral_null, 1, dims, lbs,
													 TEXTOID, -1, false, TYPALIGN_INT));
		if (SPI_execute_plan(insert_plan, args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not store credits of conversion " INT64_FORMAT, conversion_id);
	}

	qsort(new_keys, nnew, sizeof(CreditKey), CompareCreditKeys);
	changed = ChangedModels(old_keys, nold, new_keys, nnew);
	if (record_change && changed != 0)
	{
		Datum		names[RULE_NUM_MODELS + 1];
		int			nnames = 0;

		for (m = 0; m <= RULE_NUM_MODELS; m++)
			if (changed & (1 << m))
				names[nnames++] = CStringGetTextDatum(m < RULE_NUM_MODELS ? RuleModelNames[m] : "other");
		args[0] = Int64GetDatum(conversion_id);
		args[1] = PointerGetDatum(construct_array(names, nnames, TEXTOID, -1, false, TYPALIGN_INT));
		if (SPI_execute_plan(change_plan, args, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not record the credit change of conversion " INT64_FORMAT, conversion_id);
	}

	AtEOXact_GUC(true, nestlevel);
	SPI_finish();
	return nnew;
}

/*
 * attribution._credit_conversion(conversion_id, record_change)
 */
Datum
attr_credit_conversion(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(CreditConversion(PG_GETARG_INT64(0), PG_GETARG_BOOL(1)));
}

/*
 * attribution.recompute_credits(from, to): every conversion that occurred in
 * [from, to), in id order and in batches, so that the id list never has to
 * fit in memory at once.  Returns the number of conversions.
 */
Datum
attr_recompute_credits(PG_FUNCTION_ARGS)
{
	TimestampTz from = PG_GETARG_TIMESTAMPTZ(0);
	TimestampTz to = PG_GETARG_TIMESTAMPTZ(1);
	int64		after = 0;
	int64		count = 0;
	int64	   *ids = palloc(sizeof(int64) * RECOMPUTE_BATCH);

	if (from > to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("range start %s is after its end %s",
						timestamptz_to_str(from), timestamptz_to_str(to))));

	for (;;)
	{
		Datum		args[3];
		int			n,
					i,
					nestlevel;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		nestlevel = PreferIndexes();
		if (batch_plan == NULL)
		{
			Oid			types[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID};

			batch_plan = KeepPlan(
								  "SELECT id FROM attribution.conversions "
								  "WHERE occurred_at >= $1 AND occurred_at < $2 AND id > $3 "
								  "ORDER BY id LIMIT " CppAsString2(RECOMPUTE_BATCH),
								  3, types);
		}
		args[0] = TimestampTzGetDatum(from);
		args[1] = TimestampTzGetDatum(to);
		args[2] = Int64GetDatum(after);
		if (SPI_execute_plan(batch_plan, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not list conversions");
		n = (int) SPI_processed;
		for (i = 0; i < n; i++)
		{
			bool		isnull;

			ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		}
		AtEOXact_GUC(true, nestlevel);
		SPI_finish();

		if (n == 0)
			break;
		for (i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			CreditConversion(ids[i], true);
			count++;
		}
		after = ids[n - 1];
		ProgressUpdate(NULL, count, -1);
	}
	PG_RETURN_INT64(count);
}
