/*
 * markov_paths.c
 *		Exact sums, channel dictionaries, sequence maps, path arrays and the
 *		state text encoding shared by the Markov and Shapley models.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/pg_list.h"
#include "utils/arrayaccess.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

#include "models/markov_paths.h"

/* Largest magnitude one input may have: sums then cannot overflow in practice. */
#define FIXED_INPUT_LIMIT 4611686018427387904.0	/* 2^62 */

/*
 * Rounds x to a multiple of 2^-64, a deterministic function of x alone:
 * exact for integers, for positive doubles of at least 2^-11 and negative
 * ones of magnitude at least 1/2; otherwise off by less than 2^-52.
 */
FixedSum
FixedFromDouble(double x, const char *what)
{
	double		hi;
	double		frac;

	if (x == 0)
		return 0;
	/* whole numbers, the usual weights: no rounding to do */
	if (fabs(x) < FIXED_INPUT_LIMIT && (double) (int64) x == x)
		return ((FixedSum) (int64) x) * ((FixedSum) 1 << FIXED_FRACTION_BITS);
	if (isnan(x) || isinf(x) || fabs(x) >= FIXED_INPUT_LIMIT)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s %g is out of range for attribution models", what, x),
				 errdetail("Weights and values must be finite and smaller than 2^62 in magnitude.")));

	/*
	 * floor(x * 2^64) without a 128-bit float conversion: the integer part
	 * and the fraction of a double are both exact, and so is scaling the
	 * fraction by 2^64.
	 */
	hi = floor(x);
	frac = x - hi;
	if (frac >= 1.0)
	{
		/* a tiny negative x: x + 1 rounded up to 1 */
		hi += 1.0;
		frac = 0.0;
	}
	frac *= 18446744073709551616.0;
	return ((FixedSum) (int64) hi) * ((FixedSum) 1 << FIXED_FRACTION_BITS) + (FixedSum) (uint64) frac;
}

double
FixedToDouble(FixedSum x)
{
	return ldexp((double) x, -FIXED_FRACTION_BITS);
}

void
FixedOverflow(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("sum of attribution weights is out of range")));
}

void
ModelArgDoubleProblem(const char *what, double x)
{
	if (isnan(x) || isinf(x))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be finite, not %g", what, x)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must not be negative, not %g", what, x)));
}

/* ---- channel dictionary ---- */

/*
 * Hash of a channel name: names are short, so a multiply-xor over 8-byte
 * words is cheaper than the general-purpose hash_bytes, and it is run once
 * per touch of every path row.
 */
static inline uint32
NameHash(const char *s, int len)
{
	uint64		h = UINT64CONST(0x9E3779B97F4A7C15) ^ (uint64) len;

	for (int i = 0; i + 8 < len; i += 8)
	{
		h = (h ^ Load8(s + i)) * UINT64CONST(0xff51afd7ed558ccd);
		h ^= h >> 32;
	}
	if (len > 0)
		h ^= TailWord(s, len);
	/* the 64-bit finaliser of MurmurHash3: every input bit reaches the low bits */
	h ^= h >> 33;
	h *= UINT64CONST(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64CONST(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return (uint32) h;
}

void
ChannelDictInit(ChannelDict *dict)
{
	dict->count = 0;
	dict->capacity = 16;
	dict->names = palloc(sizeof(char *) * dict->capacity);
	dict->lens = palloc(sizeof(int) * dict->capacity);
	dict->hashes = palloc(sizeof(uint32) * dict->capacity);
	dict->nslots = 64;
	dict->slots = palloc(sizeof(int) * dict->nslots);
	memset(dict->slots, -1, sizeof(int) * dict->nslots);
	for (int i = 0; i < CHANNEL_QUICK_SLOTS; i++)
		dict->quick[i].len = -1;
}

static void
ChannelDictRehash(ChannelDict *dict)
{
	int			mask;

	dict->nslots *= 2;
	dict->slots = repalloc(dict->slots, sizeof(int) * dict->nslots);
	memset(dict->slots, -1, sizeof(int) * dict->nslots);
	mask = dict->nslots - 1;
	for (int i = 0; i < dict->count; i++)
	{
		int			s = dict->hashes[i] & mask;

		while (dict->slots[s] >= 0)
			s = (s + 1) & mask;
		dict->slots[s] = i;
	}
}

/*
 * Hash-table search for a name of hash h: its id, or -1 with *slot set to
 * the empty slot where it would go.
 */
static int
ChannelDictProbe(const ChannelDict *dict, const char *name, int len, uint32 h, int *slot)
{
	int			mask = dict->nslots - 1;
	int			s = h & mask;

	while (dict->slots[s] >= 0)
	{
		int			id = dict->slots[s];

		if (dict->hashes[id] == h && dict->lens[id] == len &&
			ChannelNameEqual(dict->names[id], name, len))
			return id;
		s = (s + 1) & mask;
	}
	*slot = s;
	return -1;
}

int
ChannelDictLookup(const ChannelDict *dict, const char *name, int len)
{
	int			s;
	int			id = ChannelDictQuick(dict, name, len);

	if (id >= 0)
		return id;
	return ChannelDictProbe(dict, name, len, NameHash(name, len), &s);
}

/*
 * Puts a known name in the quick table: in its first slot when that is
 * free, else in its second when that is, else over the first one's name.
 */
static void
ChannelQuickRemember(ChannelDict *dict, int id)
{
	const char *name = dict->names[id];
	int			len = dict->lens[id];
	uint64		tail = len > 0 ? TailWord(name, len) : 0;
	uint64		h = ChannelQuickHash(tail, len);
	ChannelQuick *q = &dict->quick[CHANNEL_QUICK_SLOT1(h)];

	if (q->len >= 0 && dict->quick[CHANNEL_QUICK_SLOT2(h)].len < 0)
		q = &dict->quick[CHANNEL_QUICK_SLOT2(h)];
	q->id = id;
	q->len = len;
	q->tail = tail;
	q->head = len > 8 ? Load8(name) : 0;
}

/*
 * Returns the id of name, adding it if new.  Allocates in the current
 * memory context, which must be the one the dictionary lives in.
 */
int
ChannelDictIntern(ChannelDict *dict, const char *name, int len)
{
	uint32		h;
	int			s;
	int			id = ChannelDictQuick(dict, name, len);

	if (id >= 0)
		return id;
	h = NameHash(name, len);
	id = ChannelDictProbe(dict, name, len, h, &s);
	if (id >= 0)
	{
		ChannelQuickRemember(dict, id);
		return id;
	}
	if (dict->count == dict->capacity)
	{
		dict->capacity *= 2;
		dict->names = repalloc(dict->names, sizeof(char *) * dict->capacity);
		dict->lens = repalloc(dict->lens, sizeof(int) * dict->capacity);
		dict->hashes = repalloc(dict->hashes, sizeof(uint32) * dict->capacity);
	}
	id = dict->count++;
	dict->names[id] = pnstrdup(name, len);
	dict->lens[id] = len;
	dict->hashes[id] = h;
	dict->slots[s] = id;
	ChannelQuickRemember(dict, id);
	/* at most a quarter full: probes rarely go past the first slot */
	if (dict->count * 4 > dict->nslots)
		ChannelDictRehash(dict);
	return id;
}

static const ChannelDict *sort_dict;

static int
channel_id_cmp(const void *a, const void *b)
{
	int			ia = *(const int *) a;
	int			ib = *(const int *) b;
	int			la = sort_dict->lens[ia];
	int			lb = sort_dict->lens[ib];
	int			c = memcmp(sort_dict->names[ia], sort_dict->names[ib], Min(la, lb));

	if (c != 0)
		return c;
	return (la > lb) - (la < lb);
}

/*
 * rank[id] = position of the channel when names are sorted by bytes: the
 * canonical channel order, independent of the order rows arrived in.
 */
int *
ChannelDictSortedRanks(const ChannelDict *dict)
{
	int		   *order = palloc(sizeof(int) * Max(dict->count, 1));
	int		   *rank = palloc(sizeof(int) * Max(dict->count, 1));

	for (int i = 0; i < dict->count; i++)
		order[i] = i;
	sort_dict = dict;
	qsort(order, dict->count, sizeof(int), channel_id_cmp);
	sort_dict = NULL;
	for (int i = 0; i < dict->count; i++)
		rank[order[i]] = i;
	pfree(order);
	return rank;
}

/* ---- sequence map ---- */

void
SeqMapInit(SeqMap *map, int capacity)
{
	map->count = 0;
	map->capacity = Max(capacity, 16);
	map->offsets = palloc(sizeof(int) * map->capacity);
	map->lens = palloc(sizeof(int) * map->capacity);
	map->hashes = palloc(sizeof(uint32) * map->capacity);
	map->datacap = map->capacity * 4;
	map->data = palloc(sizeof(int32) * map->datacap);
	map->datalen = 0;
	map->nslots = 64;
	while (map->nslots < map->capacity * 2)
		map->nslots *= 2;
	map->slots = palloc(sizeof(int) * map->nslots);
	memset(map->slots, -1, sizeof(int) * map->nslots);
}

static inline uint32
SeqHash(const int32 *key, int len)
{
	return hash_bytes((const unsigned char *) key, len * sizeof(int32)) ^ (uint32) len;
}

int
SeqMapLookup(const SeqMap *map, const int32 *key, int len)
{
	uint32		h = SeqHash(key, len);
	int			mask = map->nslots - 1;
	int			s = h & mask;

	while (map->slots[s] >= 0)
	{
		int			id = map->slots[s];

		if (map->hashes[id] == h && map->lens[id] == len &&
			memcmp(map->data + map->offsets[id], key, len * sizeof(int32)) == 0)
			return id;
		s = (s + 1) & mask;
	}
	return -1;
}

int
SeqMapIntern(SeqMap *map, const int32 *key, int len, bool *found)
{
	uint32		h = SeqHash(key, len);
	int			mask = map->nslots - 1;
	int			s = h & mask;
	int			id;

	while (map->slots[s] >= 0)
	{
		id = map->slots[s];
		if (map->hashes[id] == h && map->lens[id] == len &&
			memcmp(map->data + map->offsets[id], key, len * sizeof(int32)) == 0)
		{
			*found = true;
			return id;
		}
		s = (s + 1) & mask;
	}
	*found = false;
	if (map->count == map->capacity)
	{
		map->capacity *= 2;
		map->offsets = repalloc_huge(map->offsets, sizeof(int) * map->capacity);
		map->lens = repalloc_huge(map->lens, sizeof(int) * map->capacity);
		map->hashes = repalloc_huge(map->hashes, sizeof(uint32) * map->capacity);
	}
	while (map->datalen + len > map->datacap)
	{
		map->datacap *= 2;
		map->data = repalloc_huge(map->data, sizeof(int32) * map->datacap);
	}
	id = map->count++;
	map->offsets[id] = map->datalen;
	map->lens[id] = len;
	map->hashes[id] = h;
	memcpy(map->data + map->datalen, key, len * sizeof(int32));
	map->datalen += len;
	map->slots[s] = id;
	if (map->count * 2 > map->nslots)
	{
		map->nslots *= 2;
		map->slots = repalloc_huge(map->slots, sizeof(int) * map->nslots);
		memset(map->slots, -1, sizeof(int) * map->nslots);
		mask = map->nslots - 1;
		for (int i = 0; i < map->count; i++)
		{
			int			t = map->hashes[i] & mask;

			while (map->slots[t] >= 0)
				t = (t + 1) & mask;
			map->slots[t] = i;
		}
	}
	return id;
}

/* ---- pair map ---- */

void
PairMapInit(PairMap *map, int capacity)
{
	map->count = 0;
	map->capacity = Max(capacity, 16);
	map->keys = palloc(sizeof(uint64) * map->capacity);
	map->nslots = 64;
	while (map->nslots < map->capacity * 2)
		map->nslots *= 2;
	map->slots = palloc(sizeof(int) * map->nslots);
	memset(map->slots, -1, sizeof(int) * map->nslots);
}

static inline uint32
PairHash(uint64 k)
{
	k ^= k >> 33;
	k *= UINT64CONST(0xff51afd7ed558ccd);
	k ^= k >> 33;
	return (uint32) k;
}

int
PairMapIntern(PairMap *map, int32 a, int32 b, bool *found)
{
	uint64		k = ((uint64) (uint32) a << 32) | (uint32) b;
	int			mask = map->nslots - 1;
	int			s = PairHash(k) & mask;
	int			id;

	while (map->slots[s] >= 0)
	{
		id = map->slots[s];
		if (map->keys[id] == k)
		{
			*found = true;
			return id;
		}
		s = (s + 1) & mask;
	}
	*found = false;
	if (map->count == map->capacity)
	{
		map->capacity *= 2;
		map->keys = repalloc_huge(map->keys, sizeof(uint64) * map->capacity);
	}
	id = map->count++;
	map->keys[id] = k;
	map->slots[s] = id;
	if (map->count * 2 > map->nslots)
	{
		map->nslots *= 2;
		map->slots = repalloc_huge(map->slots, sizeof(int) * map->nslots);
		memset(map->slots, -1, sizeof(int) * map->nslots);
		mask = map->nslots - 1;
		for (int i = 0; i < map->count; i++)
		{
			int			t = PairHash(map->keys[i]) & mask;

			while (map->slots[t] >= 0)
				t = (t + 1) & mask;
			map->slots[t] = i;
		}
	}
	return id;
}

/* ---- paths ---- */

static void
PathNullProblem(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("path must not contain NULL channels"),
			 errhint("Remove NULL elements with array_remove(path, NULL).")));
}

static inline int32
ReadInt32(const char *p)
{
	int32		v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * The channel ids of a path array, interned in dict, into *ids (grown to
 * *cap as needed); returns the number of touches.
 *
 * path is a plain varlena (PathDatum gives one): a small array stored with
 * a one-byte header is read where it lies.  Its fields and elements keep
 * their offsets from the start of the array as built with a four-byte
 * header, so everything is addressed by offset: text elements start at
 * int-aligned offsets.
 */
int
PathToIds(const struct varlena *path, ChannelDict *dict, int32 **ids, int *cap)
{
	/* body: the array after its header, at offset VARHDRSZ of ArrayType */
	const char *body = VARATT_IS_SHORT(path) ? VARDATA_SHORT(path) : VARDATA(path);
	int			ndim = ReadInt32(body + offsetof(ArrayType, ndim) - VARHDRSZ);
	int32		dataoffset = ReadInt32(body + offsetof(ArrayType, dataoffset) - VARHDRSZ);
	Oid			elemtype = (Oid) ReadInt32(body + offsetof(ArrayType, elemtype) - VARHDRSZ);
	const char *dims = body + sizeof(ArrayType) - VARHDRSZ;
	const bits8 *nulls = dataoffset != 0 ? (const bits8 *) (dims + 2 * sizeof(int) * ndim) : NULL;
	int			n;
	int			off;
	int32	   *out;

	if (ndim > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("path must be a one-dimensional array of channel names")));
	if (elemtype != TEXTOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("path must be an array of text")));
	n = ndim == 0 ? 0 : ReadInt32(dims);
	if (n > *cap)
	{
		*cap = Max(n, *cap * 2);
		*ids = *ids ? repalloc(*ids, sizeof(int32) * *cap) : palloc(sizeof(int32) * *cap);
	}
	off = dataoffset != 0 ? dataoffset : (int) ARR_OVERHEAD_NONULLS(ndim);
	/* a local: the build cannot assume stores leave *ids alone */
	out = *ids;
	for (int i = 0; i < n; i++)
	{
		const char *elem = body + off - VARHDRSZ;
		uint32		size;
		const char *name;
		int			len;
		int			id;

		if (nulls && !(nulls[i / 8] & (1 << (i % 8))))
			PathNullProblem();
		/* elements are never toasted; the header is read unaligned */
		if (VARATT_IS_1B(elem))
		{
			size = VARSIZE_1B(elem);
			name = elem + VARHDRSZ_SHORT;
			len = size - VARHDRSZ_SHORT;
		}
		else
		{
			uint32		hdr;

			memcpy(&hdr, elem, sizeof(hdr));
			size = VARSIZE_4B(&hdr);
			name = elem + VARHDRSZ;
			len = size - VARHDRSZ;
		}
		if (len == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("path must not contain empty channel names")));
		id = ChannelDictQuick(dict, name, len);
		out[i] = id >= 0 ? id : ChannelDictIntern(dict, name, len);
		off = INTALIGN(off + size);
	}
	return n;
}

/* ---- state text encoding ---- */

/*
 * A leading '(' is escaped only in channels named exactly like a special
 * state, so that the common "(direct)" or "(none)" stay readable.
 */
static bool
IsSpecialName(const char *name, int len)
{
	return ((size_t) len == strlen(STATE_START) && memcmp(name, STATE_START, len) == 0) ||
		((size_t) len == strlen(STATE_CONVERSION) && memcmp(name, STATE_CONVERSION, len) == 0) ||
		((size_t) len == strlen(STATE_NULL) && memcmp(name, STATE_NULL, len) == 0);
}

void
AppendEncodedChannel(StringInfo buf, const char *name, int len)
{
	bool		special = IsSpecialName(name, len);

	for (int i = 0; i < len; i++)
	{
		char		c = name[i];

		if (c == '\\' || c == STATE_SEPARATOR || (i == 0 && special))
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, c);
	}
}

/*
 * Splits an encoded state or path into palloc'd channel names (a List of
 * char *).  Returns the number of channels.  The caller recognises the
 * special states (exact, unescaped text) before decoding.
 */
int
DecodeStateText(const char *text, int len, List **names)
{
	StringInfoData cur;
	int			n = 0;

	*names = NIL;
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("state or path text must not be empty")));
	initStringInfo(&cur);
	for (int i = 0; i <= len; i++)
	{
		if (i == len || text[i] == STATE_SEPARATOR)
		{
			if (cur.len == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("state or path \"%.*s\" has an empty channel name", len, text)));
			*names = lappend(*names, pstrdup(cur.data));
			n++;
			resetStringInfo(&cur);
			continue;
		}
		if (text[i] == '\\')
		{
			if (i + 1 == len)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("state or path \"%.*s\" ends with an escape character", len, text)));
			i++;
		}
		appendStringInfoChar(&cur, text[i]);
	}
	pfree(cur.data);
	return n;
}

/* ---- options ---- */

void
ModelParseOptions(Jsonb *options, const char *function,
				  const char *const *known, int nknown,
				  JsonbValue *values, bool *present)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	for (int i = 0; i < nknown; i++)
		present[i] = false;
	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options) || JB_ROOT_IS_SCALAR(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options of %s must be a JSON object", function)));
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		int			i;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		for (i = 0; i < nknown; i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (i == nknown)
		{
			StringInfoData list;

			initStringInfo(&list);
			for (int j = 0; j < nknown; j++)
				appendStringInfo(&list, "%s%s", j ? ", " : "", known[j]);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\" for %s", key, function),
					 errhint("Valid options are: %s.", list.data)));
		}
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		values[i] = v;
		present[i] = true;
	}
}

bool
ModelOptionBool(const JsonbValue *v, const char *key)
{
	if (v->type != jbvBool)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be true or false", key)));
	return v->val.boolean;
}

char *
ModelOptionText(const JsonbValue *v, const char *key)
{
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a string", key)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

double
ModelOptionNumber(const JsonbValue *v, const char *key)
{
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" must be a number", key)));
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

void
ModelRowsBegin(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (rsinfo && IsA(rsinfo, ReturnSetInfo) && rsinfo->expectedDesc)
		InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	else
		InitMaterializedSRF(fcinfo, 0);
}
