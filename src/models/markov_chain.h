/*
 * markov_chain.h
 *		The absorbing Markov chain of attribution paths in canonical form, and
 *		its exact solver (removal effects).
 */
#ifndef MARKOV_CHAIN_H
#define MARKOV_CHAIN_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#define MARKOV_START (-1)
#define MARKOV_CONVERSION (-2)
#define MARKOV_NULL (-3)
#define MARKOV_MAX_ORDER 8

typedef struct MarkovEdge
{
	int			from;			/* MARKOV_START or a state index */
	int			to;				/* a state index, MARKOV_CONVERSION or MARKOV_NULL */
	double		weight;			/* journeys that took the transition */
	double		convweight;		/* the part of weight from converting journeys */
	double		value;			/* value of the paths that ended here */
} MarkovEdge;

/*
 * Channels sorted by bytes; states sorted by their channel sequences
 * (shorter prefix first); edges sorted by (from, to) without duplicates.
 * Every computation walks these arrays in order, so a result depends only
 * on the chain, never on how it was put together.
 */
typedef struct MarkovChain
{
	int			order;
	bool		has_convweight; /* false for two-step input without it */
	int			nchannels;
	char	  **channels;
	int			nstates;
	int		   *state_len;
	int32	   *state_ch;		/* nstates * MARKOV_MAX_ORDER channel indexes */
	int			nedges;
	MarkovEdge *edges;
} MarkovChain;

typedef struct MarkovOptions
{
	bool		ignore_nulls;
	bool		collapse_self_loops;
} MarkovOptions;

typedef struct MarkovChannelResult
{
	double		removal_effect;
	double		value_removal_effect;
	double		conversions;
	double		value;
} MarkovChannelResult;

typedef struct MarkovResult
{
	double		p_conversion;	/* probability of conversion from (start) */
	double		expected_value; /* expected value per journey from (start) */
	double		conversions;
	double		nulls;
	double		value;
	int			transitions;	/* transitions with positive weight used */
	MarkovChannelResult *channels;
} MarkovResult;

/* Sorts channels, states and edges and merges duplicate edges. */
extern void MarkovChainCanonicalize(MarkovChain *chain);

/* Portable byte form of a canonical chain: the aggregate's result. */
extern bytea *MarkovChainToBytea(const MarkovChain *chain);
extern MarkovChain *MarkovChainFromBytea(bytea *b);

extern void MarkovParseOptions(Jsonb *options, MarkovOptions *opts);
/*
 * Solves the chain; with removals, also once per channel for its removal
 * effect and credits (channels is NULL otherwise).
 */
extern MarkovResult *MarkovSolve(const MarkovChain *chain, const MarkovOptions *opts,
								 bool removals);

#endif							/* MARKOV_CHAIN_H */
