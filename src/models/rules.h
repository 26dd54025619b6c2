/*
 * rules.h
 *		Rule-based attribution models over one conversion path.
 *
 * The math here uses no Postgres memory or error machinery: callers pass
 * every buffer, and problems come back as return values, so the functions
 * can be unit-tested and fuzzed on their own.  rules.c implements them;
 * path_weights.c and credits.c bind them to SQL.
 */
#ifndef ATTR_RULES_H
#define ATTR_RULES_H

#include <stdbool.h>
#include <stdint.h>

typedef enum RuleModel
{
	RULE_FIRST_TOUCH = 0,
	RULE_LAST_TOUCH,
	RULE_FIRST_NON_DIRECT,
	RULE_LAST_NON_DIRECT,
	RULE_LINEAR,
	RULE_POSITION_BASED,
	RULE_TIME_DECAY
} RuleModel;

#define RULE_NUM_MODELS 7
#define RULE_ALL_MODELS ((1 << RULE_NUM_MODELS) - 1)

/* Model names as SQL sees them, indexed by RuleModel. */
extern const char *const RuleModelNames[RULE_NUM_MODELS];

typedef struct RuleOptions
{
	double		lookback_days;	/* touches older than this are out; <= 0: none */
	int			last_n;			/* keep only the last n touches; 0: all */
	double		half_life_days; /* time_decay */
	double		first_share;	/* position_based */
	double		last_share;		/* position_based */
} RuleOptions;

#define RULE_DEFAULT_LOOKBACK_DAYS 90.0
#define RULE_DEFAULT_HALF_LIFE_DAYS 7.0
#define RULE_DEFAULT_FIRST_SHARE 0.4
#define RULE_DEFAULT_LAST_SHARE 0.4

/* The single-touch picks of a path, as RuleScanTimes finds them. */
typedef struct RulePicks
{
	int			k;				/* eligible touches */
	int			pick[4];		/* by RuleModel, first four models */
	int64_t		newest;			/* time of the newest eligible touch */
} RulePicks;

extern bool RuleModelFromName(const char *name, RuleModel *model);
extern void RuleOptionsDefault(RuleOptions *opts);
extern const char *RuleOptionsProblem(const RuleOptions *opts);
extern void RuleChronologicalOrder(int n, const double *age_days, int *order, int *tmp);
extern int	RuleKeptTouches(const RuleOptions *opts, int n, const double *age_days,
							const int *order, int *kept);
extern int	RulePick(RuleModel model, int k, const int *kept, const bool *is_direct);
extern int64_t RuleWindowMicros(const RuleOptions *opts);
extern void RuleScanTimes(int64_t window_us, int n, const int64_t *at, int64_t converted_at,
						  const int32_t *channel, int32_t direct, bool *eligible, RulePicks *picks);
extern double RuleDecay(const RuleOptions *opts, double age_days, double newest_age_days);
extern double RulePositionWeight(const RuleOptions *opts, int pos, int k);
extern void RuleKeptWeights(RuleModel model, const RuleOptions *opts, int k, const int *kept,
							const double *age_days, const bool *is_direct, double *out);
extern int	RuleWeights(RuleModel model, const RuleOptions *opts, int n,
						const double *age_days, const bool *is_direct,
						const int *order, int *work, double *dense, double *weights);

#endif							/* ATTR_RULES_H */
