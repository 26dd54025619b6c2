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
#include <math.h>
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

/* 2^(j/256) for j in 0..255, filled by RuleExp2Prepare */
#define RULE_EXP2_STEPS 256
extern double RuleExp2Table[RULE_EXP2_STEPS];
extern bool RuleExp2Ready;
extern void RuleExp2Prepare(void);

/*
 * 2^x for the decay exponents, x <= 0, to within a few units in the last
 * place: the table gives 2^(j/256), a Taylor polynomial of degree 5 the
 * remaining fraction (its error below 1e-18), the exponent bits the whole
 * powers.  A third of libm's cost, which matters at one call per touch.
 */
static inline double
RuleExp2(double x)
{
	double		scaled = x * RULE_EXP2_STEPS;
	int64_t		k;
	int			j;
	double		y,
				p;
	union
	{
		uint64_t	bits;
		double		d;
	}			whole;

	/* outside the fast range (underflow near, or positive): libm */
	if (!(x <= 0.0 && x > -1000.0))
		return exp2(x);
	if (__builtin_expect(!RuleExp2Ready, 0))
		RuleExp2Prepare();
	k = (int64_t) scaled;		/* toward zero, */
	k -= (double) k > scaled;	/* then down */
	j = (int) (k & (RULE_EXP2_STEPS - 1));
	y = (scaled - (double) k) * (0.69314718055994530942 / RULE_EXP2_STEPS);
	p = 1.0 + y * (1.0 + y * (1.0 / 2 + y * (1.0 / 6 + y * (1.0 / 24 + y * (1.0 / 120)))));
	whole.bits = (uint64_t) ((k - j) / RULE_EXP2_STEPS + 1023) << 52;
	return RuleExp2Table[j] * p * whole.d;
}
extern double RulePositionWeight(const RuleOptions *opts, int pos, int k);
extern void RuleKeptWeights(RuleModel model, const RuleOptions *opts, int k, const int *kept,
							const double *age_days, const bool *is_direct, double *out);
extern int	RuleWeights(RuleModel model, const RuleOptions *opts, int n,
						const double *age_days, const bool *is_direct,
						const int *order, int *work, double *dense, double *weights);

#endif							/* ATTR_RULES_H */
