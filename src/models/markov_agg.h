/*
 * markov_agg.h
 *		Definitions shared by the markov aggregate and markov_transitions.
 */
#ifndef MARKOV_AGG_H
#define MARKOV_AGG_H

#include "fmgr.h"

#include "models/markov_chain.h"
#include "models/markov_paths.h"

/*
 * States of a path of n touches at a given order: the sliding windows of
 * `order` channels (n - order + 1 of them); a path shorter than the order is
 * one state made of the whole path.  State i starts at touch i and has
 * Min(n, order) channels.
 */
static inline int
MarkovPathStates(int n, int order)
{
	return n < order ? 1 : n - order + 1;
}

/*
 * Reads and checks the order argument: absent means 1; NULL is refused, as
 * a NULL order is a caller's mistake that no default should hide.
 */
static inline int
MarkovCheckOrder(FunctionCallInfo fcinfo, int argno)
{
	int			order = 1;

	if (PG_NARGS() > argno)
	{
		if (unlikely(PG_ARGISNULL(argno)))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("markov order must not be NULL"),
					 errhint("Pass an order between 1 and %d, or leave the argument out for order 1.",
							 MARKOV_MAX_ORDER)));
		order = PG_GETARG_INT32(argno);
	}
	if (unlikely(order < 1 || order > MARKOV_MAX_ORDER))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("markov order %d is out of range", order),
				 errdetail("The order must be between 1 and %d.", MARKOV_MAX_ORDER)));
	return order;
}

#endif							/* MARKOV_AGG_H */
