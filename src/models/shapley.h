/*
 * shapley.h
 *		Path counts for the Shapley models in canonical form, and the
 *		variants computed from them.
 */
#ifndef SHAPLEY_H
#define SHAPLEY_H

#include "fmgr.h"
#include "utils/jsonb.h"

/* Largest number of channels the exact (2^n subsets) variant accepts. */
#define SHAPLEY_EXACT_MAX_CHANNELS 20

/*
 * Distinct paths with their conversions, nulls and value.  Channels sorted
 * by bytes, paths sorted by their channel sequences, no duplicates: every
 * computation walks them in this order, so results are identical run to
 * run and with or without parallel workers.
 */
typedef struct ShapleyData
{
	int			nchannels;
	char	  **channels;
	int			npaths;
	int		   *path_off;
	int		   *path_len;
	int32	   *path_ch;
	double	   *conv;
	double	   *nulls;
	double	   *value;
} ShapleyData;

typedef enum ShapleyVariant
{
	SHAPLEY_ZHAO_SIMPLIFIED,
	SHAPLEY_ZHAO_ORDERED,
	SHAPLEY_EXACT_SUBSET_SUM,
	SHAPLEY_EXACT_CONVERSION_RATE,
	SHAPLEY_FRACTRIBUTION
} ShapleyVariant;

/* One credit row: position is 0 except for zhao_ordered (1-based). */
typedef struct ShapleyCredit
{
	int			channel;
	int			position;
	double		conversions;
	double		value;
} ShapleyCredit;

extern void ShapleyCanonicalize(ShapleyData *data);
extern bytea *ShapleyDataToBytea(const ShapleyData *data);
extern ShapleyData *ShapleyDataFromBytea(bytea *b);

extern ShapleyVariant ShapleyParseVariant(const char *variant, Jsonb *options);
extern ShapleyCredit *ShapleyCompute(const ShapleyData *data, ShapleyVariant variant,
									 int *ncredits);

#endif							/* SHAPLEY_H */
