/*
 * rules_sql.h
 *		SQL-side helpers shared by the rule-model glue files.
 */
#ifndef ATTR_RULES_SQL_H
#define ATTR_RULES_SQL_H

#include "models/rules.h"
#include "utils/jsonb.h"

#define RULE_DEFAULT_DIRECT_CHANNEL "Direct"

/* path_weights.c */
extern RuleModel RuleModelByNameOrError(const char *name);
extern void RuleOptionsFromJsonb(Jsonb *jb, RuleOptions *opts, char **direct);

/* credits.c */
extern int	credit_model_mask;
extern int	credit_lookback_days;
extern int	CreditConversion(int64 conversion_id, bool record_change);

#endif							/* ATTR_RULES_SQL_H */
