/*
 * markov_paths.h
 *		Building blocks shared by the Markov and Shapley models: exact sums,
 *		channel dictionaries, integer-sequence maps, path arrays and the text
 *		encoding of states and paths used by the two-step (GROUP BY) forms.
 */
#ifndef MARKOV_PATHS_H
#define MARKOV_PATHS_H

#include <math.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/jsonb.h"

#ifndef HAVE_INT128
#error "pg_attribution models need a 128-bit integer type"
#endif

/*
 * Exact sums.  Weights and values are added as 128-bit fixed-point numbers
 * with 64 fractional bits: each input is rounded once, on its own, and the
 * additions are exact, so a sum does not depend on the order of its terms.
 * That is what makes a parallel aggregate (partial states combined in any
 * order) give bit-identical results to a serial one.
 */
typedef int128 FixedSum;

#define FIXED_FRACTION_BITS 64

extern FixedSum FixedFromDouble(double x, const char *what);
extern double FixedToDouble(FixedSum x);
extern void FixedOverflow(void) pg_attribute_noreturn();

/* a + b, raising an error on overflow; inline: run for every transition */
static inline FixedSum
FixedAdd(FixedSum a, FixedSum b)
{
	FixedSum	r;

	if (unlikely(__builtin_add_overflow(a, b, &r)))
		FixedOverflow();
	return r;
}

/* Raises the error for a float8 argument that is not finite or is negative. */
extern void ModelArgDoubleProblem(const char *what, double x) pg_attribute_noreturn();

/*
 * A float8 argument of a model function, 0 when null or absent; it must be
 * finite, and nonnegative when asked.  Inline: aggregates read three per
 * row.
 */
static inline double
ModelArgDouble(FunctionCallInfo fcinfo, int argno, const char *what, bool nonnegative)
{
	double		x;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return 0.0;
	x = PG_GETARG_FLOAT8(argno);
	if (unlikely(isnan(x) || isinf(x) || (nonnegative && x < 0)))
		ModelArgDoubleProblem(what, x);
	return x;
}

/*
 * Channel dictionary: interns channel names to dense ids in first-seen
 * order.  Ids are local to one aggregate state; results are always put in
 * the canonical order (names sorted by bytes) before anything is computed.
 */
/*
 * Unaligned loads of 8 and 4 bytes, compiled to single instructions.
 */
static inline uint64
Load8(const char *s)
{
	uint64		w;

	memcpy(&w, s, 8);
	return w;
}

static inline uint64
Load4(const char *s)
{
	uint32		w;

	memcpy(&w, s, 4);
	return w;
}

/*
 * The last word of a name of len > 0 bytes: the final 8 bytes (overlapping
 * earlier words) when there are that many, else every byte packed.  Shorter
 * names are never read past their end.
 */
static inline uint64
TailWord(const char *s, int len)
{
	if (len >= 8)
		return Load8(s + len - 8);
	if (len >= 4)
		return (Load4(s) << 32) | Load4(s + len - 4);
	return (uint64) (unsigned char) s[0] |
		((uint64) (unsigned char) s[len / 2] << 8) |
		((uint64) (unsigned char) s[len - 1] << 16);
}

/* Equality of two names of the same length, without a library call. */
static inline bool
ChannelNameEqual(const char *a, const char *b, int len)
{
	for (int i = 0; i + 8 < len; i += 8)
		if (Load8(a + i) != Load8(b + i))
			return false;
	return len == 0 || TailWord(a, len) == TailWord(b, len);
}

#define CHANNEL_QUICK_SLOTS 64

/*
 * The quick table remembers, per slot, the last name found there by its
 * length and its first and last 8 bytes, which identify any name of up to
 * 16 bytes.  Most lookups are then two loads and compares of words the
 * caller reads anyway, and no pointer chase.
 */
typedef struct ChannelQuick
{
	int32		id;
	int32		len;			/* -1: empty */
	uint64		head;			/* first 8 bytes, for names longer than 8 */
	uint64		tail;			/* TailWord() */
} ChannelQuick;

/*
 * The two slots a name may take in the quick table, from its tail word and
 * length: two choices keep a pair of names that share one slot from
 * evicting each other on every row.
 */
static inline uint64
ChannelQuickHash(uint64 tail, int len)
{
	return (tail ^ (uint64) len) * UINT64CONST(0x9E3779B97F4A7C15);
}

#define CHANNEL_QUICK_SLOT1(h) ((int) ((h) >> 58) & (CHANNEL_QUICK_SLOTS - 1))
#define CHANNEL_QUICK_SLOT2(h) ((int) ((h) >> 52) & (CHANNEL_QUICK_SLOTS - 1))

typedef struct ChannelDict
{
	int			count;
	int			capacity;
	char	  **names;			/* NUL-terminated copies */
	int		   *lens;
	uint32	   *hashes;
	int		   *slots;			/* open addressing, -1 = empty */
	int			nslots;
	ChannelQuick quick[CHANNEL_QUICK_SLOTS];
} ChannelDict;

static inline bool
ChannelQuickMatch(const ChannelDict *dict, const ChannelQuick *q, const char *name, int len,
				  uint64 tail)
{
	return q->len == len && q->tail == tail &&
		(len <= 8 || (q->head == Load8(name) &&
					  (len <= 16 || ChannelNameEqual(dict->names[q->id], name, len))));
}

/* The id of name when the quick table knows it, else -1. */
static inline int
ChannelDictQuick(const ChannelDict *dict, const char *name, int len)
{
	uint64		tail = len > 0 ? TailWord(name, len) : 0;
	uint64		h = ChannelQuickHash(tail, len);
	const ChannelQuick *q = &dict->quick[CHANNEL_QUICK_SLOT1(h)];

	if (likely(ChannelQuickMatch(dict, q, name, len, tail)))
		return q->id;
	q = &dict->quick[CHANNEL_QUICK_SLOT2(h)];
	if (ChannelQuickMatch(dict, q, name, len, tail))
		return q->id;
	return -1;
}

extern void ChannelDictInit(ChannelDict *dict);
extern int	ChannelDictIntern(ChannelDict *dict, const char *name, int len);
extern int	ChannelDictLookup(const ChannelDict *dict, const char *name, int len);
extern int *ChannelDictSortedRanks(const ChannelDict *dict);

/*
 * Map from a sequence of int32 to a dense id, for states (windows of
 * channels), paths and channel sets.
 */
typedef struct SeqMap
{
	int			count;
	int			capacity;
	int		   *offsets;		/* start of each key in data */
	int		   *lens;
	uint32	   *hashes;
	int32	   *data;
	int			datalen;
	int			datacap;
	int		   *slots;
	int			nslots;
} SeqMap;

extern void SeqMapInit(SeqMap *map, int capacity);
extern int	SeqMapIntern(SeqMap *map, const int32 *key, int len, bool *found);
extern int	SeqMapLookup(const SeqMap *map, const int32 *key, int len);

static inline const int32 *
SeqMapKey(const SeqMap *map, int id, int *len)
{
	*len = map->lens[id];
	return map->data + map->offsets[id];
}

/* Map from a pair of int32 (an edge) to a dense id. */
typedef struct PairMap
{
	int			count;
	int			capacity;
	uint64	   *keys;
	int		   *slots;
	int			nslots;
} PairMap;

extern void PairMapInit(PairMap *map, int capacity);
extern int	PairMapIntern(PairMap *map, int32 a, int32 b, bool *found);

/*
 * A path argument as PathToIds reads it: detoasted only when compressed or
 * stored out of line, so small arrays are read in place.  Any copy is made
 * in the current memory context.
 */
static inline const struct varlena *
PathDatum(Datum d)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);

	if (unlikely(VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v)))
		v = pg_detoast_datum(v);
	return v;
}

/*
 * Reads a text[] path (from PathDatum) into channel ids of dict.  Returns
 * the number of touches; *ids is (re)allocated in the current memory
 * context as needed.  NULL elements and empty channel names are rejected.
 */
extern int	PathToIds(const struct varlena *path, ChannelDict *dict, int32 **ids, int *cap);

/*
 * Text encoding of a state or path for the two-step forms: channel names
 * joined with '>', where a backslash escapes '\', '>' and a leading '(' so
 * that any channel name survives and never collides with the special states
 * '(start)', '(conversion)' and '(null)'.
 */
#define STATE_SEPARATOR '>'
#define STATE_START "(start)"
#define STATE_CONVERSION "(conversion)"
#define STATE_NULL "(null)"

extern void AppendEncodedChannel(StringInfo buf, const char *name, int len);
extern int	DecodeStateText(const char *text, int len, List **names);

/*
 * InitMaterializedSRF for functions called once per input row: the row
 * description is copied from the one the executor passes rather than
 * rebuilt from the catalogue on every call (whose scraps would stay in the
 * query's memory until it ends).
 */
extern void ModelRowsBegin(FunctionCallInfo fcinfo);

/*
 * Options objects (jsonb): the keys must all be among known[]; the scalar
 * value of known[i] is copied to values[i] and present[i] set.  Unknown keys
 * fail, so a misspelt option is never silently ignored.
 */
extern void ModelParseOptions(Jsonb *options, const char *function,
							  const char *const *known, int nknown,
							  JsonbValue *values, bool *present);
extern bool ModelOptionBool(const JsonbValue *v, const char *key);
extern char *ModelOptionText(const JsonbValue *v, const char *key);
extern double ModelOptionNumber(const JsonbValue *v, const char *key);

#endif							/* MARKOV_PATHS_H */
