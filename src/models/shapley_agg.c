/*
 * shapley_agg.c
 *		The attribution.shapley aggregate: conversions, nulls and value per
 *		distinct path, exact sums, with combine, serialize and deserialize
 *		functions for parallel query; and the canonical byte form of its
 *		result.
 *
 * Full paths are kept because fractribution needs them; the set-based
 * variants derive channel sets from them when they are computed.
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "models/markov_paths.h"
#include "models/shapley.h"

PG_FUNCTION_INFO_V1(shapley_transfn);
PG_FUNCTION_INFO_V1(shapley_combinefn);
PG_FUNCTION_INFO_V1(shapley_serialfn);
PG_FUNCTION_INFO_V1(shapley_deserialfn);
PG_FUNCTION_INFO_V1(shapley_finalfn);

#define SHAPLEY_MAGIC 0x53485031	/* "SHP1" */

typedef struct ShapleyAggState
{
	MemoryContext own;			/* set when made by deserialize: freed once merged */
	ChannelDict dict;
	SeqMap		paths;
	int			cap;
	FixedSum   *conv;
	FixedSum   *nulls;
	FixedSum   *value;
	int32	   *ids;
	int			idcap;
} ShapleyAggState;

static ShapleyAggState *
NewState(void)
{
	ShapleyAggState *st = palloc0(sizeof(ShapleyAggState));

	ChannelDictInit(&st->dict);
	SeqMapInit(&st->paths, 32);
	st->cap = 32;
	st->conv = palloc(sizeof(FixedSum) * st->cap);
	st->nulls = palloc(sizeof(FixedSum) * st->cap);
	st->value = palloc(sizeof(FixedSum) * st->cap);
	return st;
}

static void
AddPath(ShapleyAggState *st, const int32 *ids, int n, FixedSum c, FixedSum nl, FixedSum v)
{
	bool		found;
	int			p = SeqMapIntern(&st->paths, ids, n, &found);

	if (!found)
	{
		if (p >= st->cap)
		{
			st->cap *= 2;
			st->conv = repalloc_huge(st->conv, sizeof(FixedSum) * st->cap);
			st->nulls = repalloc_huge(st->nulls, sizeof(FixedSum) * st->cap);
			st->value = repalloc_huge(st->value, sizeof(FixedSum) * st->cap);
		}
		st->conv[p] = c;
		st->nulls[p] = nl;
		st->value[p] = v;
		return;
	}
	st->conv[p] = FixedAdd(st->conv[p], c);
	st->nulls[p] = FixedAdd(st->nulls[p], nl);
	st->value[p] = FixedAdd(st->value[p], v);
}

Datum
shapley_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	ShapleyAggState *st;
	const struct varlena *path;
	double		conv;
	double		nulls;
	double		value;
	int			n;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "shapley_transfn called in non-aggregate context");
	st = PG_ARGISNULL(0) ? NULL : (ShapleyAggState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	conv = ModelArgDouble(fcinfo, 2, "conversions", true);
	nulls = ModelArgDouble(fcinfo, 3, "nulls", true);
	value = ModelArgDouble(fcinfo, 4, "value", false);
	old = MemoryContextSwitchTo(aggcxt);
	if (st == NULL)
		st = NewState();
	MemoryContextSwitchTo(old);
	/* a detoasted copy, if any, belongs to this row's context */
	path = PathDatum(PG_GETARG_DATUM(1));
	old = MemoryContextSwitchTo(aggcxt);
	/*
	 * Rows that weigh nothing (no conversions, no nulls) add no path and no
	 * channel, whatever their value, as in the Markov model.
	 */
	if (conv != 0 || nulls != 0)
	{
		FixedSum	fc = FixedFromDouble(conv, "conversions");
		FixedSum	fn = FixedFromDouble(nulls, "nulls");
		FixedSum	fv = FixedFromDouble(value, "value");

		n = PathToIds(path, &st->dict, &st->ids, &st->idcap);
		if (n > 0)
			AddPath(st, st->ids, n, fc, fn, fv);
	}
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(st);
}

static void
MergeState(ShapleyAggState *dst, ShapleyAggState *src)
{
	int		   *cmap = palloc(sizeof(int) * Max(src->dict.count, 1));
	int32	   *key = NULL;
	int			keycap = 0;

	for (int i = 0; i < src->dict.count; i++)
		cmap[i] = ChannelDictIntern(&dst->dict, src->dict.names[i], src->dict.lens[i]);
	for (int p = 0; p < src->paths.count; p++)
	{
		int			len;
		const int32 *k = SeqMapKey(&src->paths, p, &len);

		if (len > keycap)
		{
			keycap = Max(len, keycap * 2);
			key = key ? repalloc(key, sizeof(int32) * keycap) : palloc(sizeof(int32) * keycap);
		}
		for (int i = 0; i < len; i++)
			key[i] = cmap[k[i]];
		AddPath(dst, key, len, src->conv[p], src->nulls[p], src->value[p]);
	}
	pfree(cmap);
	if (key)
		pfree(key);
}

Datum
shapley_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	ShapleyAggState *a;
	ShapleyAggState *b;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "shapley_combinefn called in non-aggregate context");
	a = PG_ARGISNULL(0) ? NULL : (ShapleyAggState *) PG_GETARG_POINTER(0);
	b = PG_ARGISNULL(1) ? NULL : (ShapleyAggState *) PG_GETARG_POINTER(1);
	if (b == NULL)
	{
		if (a == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(a);
	}
	/*
	 * A state rebuilt by deserialize already lives in its own context under
	 * the aggregate's: the first one is adopted as it is, later ones are
	 * merged and freed, so each partial state is hashed only once.
	 */
	if (a == NULL && b->own != NULL)
		PG_RETURN_POINTER(b);
	old = MemoryContextSwitchTo(aggcxt);
	if (a == NULL)
		a = NewState();
	MergeState(a, b);
	MemoryContextSwitchTo(old);
	if (b->own != NULL)
		MemoryContextDelete(b->own);
	PG_RETURN_POINTER(a);
}

/* Raw, same-server byte form of the state, for parallel workers. */
Datum
shapley_serialfn(PG_FUNCTION_ARGS)
{
	ShapleyAggState *st = (ShapleyAggState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	appendBinaryStringInfo(&buf, (char *) &st->dict.count, sizeof(int32));
	for (int i = 0; i < st->dict.count; i++)
	{
		appendBinaryStringInfo(&buf, (char *) &st->dict.lens[i], sizeof(int32));
		appendBinaryStringInfo(&buf, st->dict.names[i], st->dict.lens[i]);
	}
	appendBinaryStringInfo(&buf, (char *) &st->paths.count, sizeof(int32));
	for (int p = 0; p < st->paths.count; p++)
	{
		int			len;
		const int32 *k = SeqMapKey(&st->paths, p, &len);
		int32		l4 = len;

		appendBinaryStringInfo(&buf, (char *) &l4, sizeof(int32));
		appendBinaryStringInfo(&buf, (const char *) k, sizeof(int32) * len);
		appendBinaryStringInfo(&buf, (char *) &st->conv[p], sizeof(FixedSum));
		appendBinaryStringInfo(&buf, (char *) &st->nulls[p], sizeof(FixedSum));
		appendBinaryStringInfo(&buf, (char *) &st->value[p], sizeof(FixedSum));
	}
	SET_VARSIZE(buf.data, buf.len);
	PG_RETURN_BYTEA_P((bytea *) buf.data);
}

static const char *
ReadRaw(const char *p, const char *end, void *dst, size_t len)
{
	if (p + len > end)
		elog(ERROR, "truncated shapley aggregate state");
	memcpy(dst, p, len);
	return p + len;
}

Datum
shapley_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext own;
	MemoryContext old;
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(b);
	const char *end = p + VARSIZE_ANY_EXHDR(b);
	ShapleyAggState *st;
	int32		count;
	int32	   *key = NULL;
	int			keycap = 0;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "shapley_deserialfn called in non-aggregate context");
	own = AllocSetContextCreate(aggcxt, "attribution partial state", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(own);
	st = NewState();
	st->own = own;
	p = ReadRaw(p, end, &count, sizeof(int32));
	for (int i = 0; i < count; i++)
	{
		int32		len;

		p = ReadRaw(p, end, &len, sizeof(int32));
		if (len < 0 || p + len > end)
			elog(ERROR, "truncated shapley aggregate state");
		ChannelDictIntern(&st->dict, p, len);
		p += len;
	}
	p = ReadRaw(p, end, &count, sizeof(int32));
	for (int i = 0; i < count; i++)
	{
		int32		len;
		FixedSum	c;
		FixedSum	n;
		FixedSum	v;

		p = ReadRaw(p, end, &len, sizeof(int32));
		if (len < 1 || len > (end - p) / 4)
			elog(ERROR, "corrupt shapley aggregate state");
		if (len > keycap)
		{
			keycap = Max(len, keycap * 2);
			key = key ? repalloc(key, sizeof(int32) * keycap) : palloc(sizeof(int32) * keycap);
		}
		p = ReadRaw(p, end, key, sizeof(int32) * len);
		p = ReadRaw(p, end, &c, sizeof(FixedSum));
		p = ReadRaw(p, end, &n, sizeof(FixedSum));
		p = ReadRaw(p, end, &v, sizeof(FixedSum));
		AddPath(st, key, len, c, n, v);
	}
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(st);
}

Datum
shapley_finalfn(PG_FUNCTION_ARGS)
{
	ShapleyAggState *st;
	ShapleyData data;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (ShapleyAggState *) PG_GETARG_POINTER(0);
	data.nchannels = st->dict.count;
	data.channels = palloc(sizeof(char *) * Max(data.nchannels, 1));
	memcpy(data.channels, st->dict.names, sizeof(char *) * data.nchannels);
	data.npaths = st->paths.count;
	data.path_off = palloc(sizeof(int) * Max(data.npaths, 1));
	data.path_len = palloc(sizeof(int) * Max(data.npaths, 1));
	data.path_ch = palloc(sizeof(int32) * Max(st->paths.datalen, 1));
	data.conv = palloc(sizeof(double) * Max(data.npaths, 1));
	data.nulls = palloc(sizeof(double) * Max(data.npaths, 1));
	data.value = palloc(sizeof(double) * Max(data.npaths, 1));
	memcpy(data.path_ch, st->paths.data, sizeof(int32) * st->paths.datalen);
	for (int p = 0; p < data.npaths; p++)
	{
		data.path_off[p] = st->paths.offsets[p];
		data.path_len[p] = st->paths.lens[p];
		data.conv[p] = FixedToDouble(st->conv[p]);
		data.nulls[p] = FixedToDouble(st->nulls[p]);
		data.value[p] = FixedToDouble(st->value[p]);
	}
	ShapleyCanonicalize(&data);
	PG_RETURN_BYTEA_P(ShapleyDataToBytea(&data));
}

/* ---- canonical form ---- */

static const ShapleyData *sort_data;

static int
cmp_double(double a, double b)
{
	return (a > b) - (a < b);
}

static int
path_cmp(const void *a, const void *b)
{
	int			pa = *(const int *) a;
	int			pb = *(const int *) b;
	int			la = sort_data->path_len[pa];
	int			lb = sort_data->path_len[pb];
	const int32 *ca = sort_data->path_ch + sort_data->path_off[pa];
	const int32 *cb = sort_data->path_ch + sort_data->path_off[pb];

	for (int i = 0; i < Min(la, lb); i++)
		if (ca[i] != cb[i])
			return (ca[i] > cb[i]) - (ca[i] < cb[i]);
	if (la != lb)
		return (la > lb) - (la < lb);
	if (sort_data->conv[pa] != sort_data->conv[pb])
		return cmp_double(sort_data->conv[pa], sort_data->conv[pb]);
	if (sort_data->nulls[pa] != sort_data->nulls[pb])
		return cmp_double(sort_data->nulls[pa], sort_data->nulls[pb]);
	return cmp_double(sort_data->value[pa], sort_data->value[pb]);
}

/*
 * Sort entry: the first channels of the path packed into a 64-bit key
 * (rank + 1 per byte, 0 past the end, so a prefix sorts first) decides most
 * comparisons without touching the path arrays.
 */
typedef struct PathSortItem
{
	uint64		key;
	int			path;
} PathSortItem;

#define PATH_KEY_CHANNELS 8

static int
path_item_cmp(const void *a, const void *b)
{
	const PathSortItem *ia = a;
	const PathSortItem *ib = b;

	if (ia->key != ib->key)
		return (ia->key > ib->key) - (ia->key < ib->key);
	return path_cmp(&ia->path, &ib->path);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Sorts channels and paths and merges duplicate paths (duplicates summed in
 * sorted order, so the sums do not depend on the input order either).
 */
void
ShapleyCanonicalize(ShapleyData *data)
{
	int			nc = data->nchannels;
	int			np = data->npaths;
	char	  **sorted = palloc(sizeof(char *) * Max(nc, 1));
	int		   *rank = palloc(sizeof(int) * Max(nc, 1));
	int		   *order = palloc(sizeof(int) * Max(np, 1));
	int		   *off = palloc(sizeof(int) * Max(np, 1));
	int		   *len = palloc(sizeof(int) * Max(np, 1));
	double	   *conv = palloc(sizeof(double) * Max(np, 1));
	double	   *nulls = palloc(sizeof(double) * Max(np, 1));
	double	   *value = palloc(sizeof(double) * Max(np, 1));
	int32	   *ch;
	PathSortItem *items;
	int			total = 0;
	int			out = 0;
	int			pos = 0;

	memcpy(sorted, data->channels, sizeof(char *) * nc);
	qsort(sorted, nc, sizeof(char *), name_cmp);
	for (int i = 0; i < nc; i++)
		rank[i] = (char **) bsearch(&data->channels[i], sorted, nc, sizeof(char *), name_cmp) - sorted;
	items = palloc(sizeof(PathSortItem) * Max(np, 1));
	for (int p = 0; p < np; p++)
	{
		uint64		key = 0;

		total += data->path_len[p];
		for (int k = 0; k < data->path_len[p]; k++)
			data->path_ch[data->path_off[p] + k] = rank[data->path_ch[data->path_off[p] + k]];
		/* ranks fit a byte below 255 channels; beyond, the key stays 0 */
		if (nc < 255)
			for (int k = 0; k < PATH_KEY_CHANNELS; k++)
				key = (key << 8) |
					(k < data->path_len[p] ? (uint64) (data->path_ch[data->path_off[p] + k] + 1) : 0);
		items[p].key = key;
		items[p].path = p;
	}
	data->channels = sorted;
	sort_data = data;
	qsort(items, np, sizeof(PathSortItem), path_item_cmp);
	sort_data = NULL;
	for (int p = 0; p < np; p++)
		order[p] = items[p].path;
	pfree(items);

	ch = palloc(sizeof(int32) * Max(total, 1));
	for (int i = 0; i < np; i++)
	{
		int			p = order[i];
		const int32 *src = data->path_ch + data->path_off[p];
		int			l = data->path_len[p];

		if (out > 0 && len[out - 1] == l &&
			memcmp(ch + off[out - 1], src, sizeof(int32) * l) == 0)
		{
			conv[out - 1] += data->conv[p];
			nulls[out - 1] += data->nulls[p];
			value[out - 1] += data->value[p];
			continue;
		}
		off[out] = pos;
		len[out] = l;
		memcpy(ch + pos, src, sizeof(int32) * l);
		pos += l;
		conv[out] = data->conv[p];
		nulls[out] = data->nulls[p];
		value[out] = data->value[p];
		out++;
	}
	data->npaths = out;
	data->path_off = off;
	data->path_len = len;
	data->path_ch = ch;
	data->conv = conv;
	data->nulls = nulls;
	data->value = value;
	pfree(rank);
	pfree(order);
}

/* The bits pq_sendfloat8 would send, for writes into a presized buffer. */
static inline uint64
DoubleBits(double d)
{
	uint64		u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

bytea *
ShapleyDataToBytea(const ShapleyData *data)
{
	StringInfoData buf;

	int64		size = 12;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, SHAPLEY_MAGIC);
	pq_sendint32(&buf, data->nchannels);
	for (int i = 0; i < data->nchannels; i++)
	{
		int			len = strlen(data->channels[i]);

		pq_sendint32(&buf, len);
		pq_sendbytes(&buf, data->channels[i], len);
	}
	pq_sendint32(&buf, data->npaths);
	/* one allocation for the paths, written without per-value checks */
	for (int p = 0; p < data->npaths; p++)
		size += 28 + 4 * (int64) data->path_len[p];
	if (size >= (int64) MaxAllocSize - buf.len)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("shapley result of %d distinct paths is too large", data->npaths),
				 errhint("Group or transform paths (for example keep the first occurrence of each channel) before aggregating.")));
	enlargeStringInfo(&buf, (int) size);
	for (int p = 0; p < data->npaths; p++)
	{
		pq_writeint32(&buf, data->path_len[p]);
		for (int k = 0; k < data->path_len[p]; k++)
			pq_writeint32(&buf, data->path_ch[data->path_off[p] + k]);
		pq_writeint64(&buf, DoubleBits(data->conv[p]));
		pq_writeint64(&buf, DoubleBits(data->nulls[p]));
		pq_writeint64(&buf, DoubleBits(data->value[p]));
	}
	return pq_endtypsend(&buf);
}

static void
bad_result(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("bytea is not a result of attribution.shapley"),
			 errhint("Pass the value returned by the attribution.shapley aggregate.")));
}

static int
get_count(StringInfo msg, int limit)
{
	int			n;

	if (msg->len - msg->cursor < 4)
		bad_result();
	n = (int) pq_getmsgint(msg, 4);
	if (n < 0 || n > limit)
		bad_result();
	return n;
}

ShapleyData *
ShapleyDataFromBytea(bytea *b)
{
	StringInfoData msg;
	ShapleyData *data = palloc0(sizeof(ShapleyData));
	int			pos = 0;

	msg.data = VARDATA_ANY(b);
	msg.len = VARSIZE_ANY_EXHDR(b);
	msg.maxlen = msg.len;
	msg.cursor = 0;
	if (msg.len < 4 || (uint32) pq_getmsgint(&msg, 4) != SHAPLEY_MAGIC)
		bad_result();
	data->nchannels = get_count(&msg, msg.len / 4);
	data->channels = palloc(sizeof(char *) * Max(data->nchannels, 1));
	for (int i = 0; i < data->nchannels; i++)
	{
		int			len = get_count(&msg, msg.len - msg.cursor - 4);

		data->channels[i] = palloc(len + 1);
		pq_copymsgbytes(&msg, data->channels[i], len);
		data->channels[i][len] = '\0';
	}
	data->npaths = get_count(&msg, msg.len / 28);
	data->path_off = palloc(sizeof(int) * Max(data->npaths, 1));
	data->path_len = palloc(sizeof(int) * Max(data->npaths, 1));
	data->path_ch = palloc(sizeof(int32) * Max(msg.len / 4, 1));
	data->conv = palloc(sizeof(double) * Max(data->npaths, 1));
	data->nulls = palloc(sizeof(double) * Max(data->npaths, 1));
	data->value = palloc(sizeof(double) * Max(data->npaths, 1));
	for (int p = 0; p < data->npaths; p++)
	{
		int			len = get_count(&msg, (msg.len - msg.cursor) / 4);

		if (len == 0)
			bad_result();
		data->path_off[p] = pos;
		data->path_len[p] = len;
		for (int k = 0; k < len; k++)
			data->path_ch[pos++] = get_count(&msg, data->nchannels - 1);
		if (msg.len - msg.cursor < 24)
			bad_result();
		data->conv[p] = pq_getmsgfloat8(&msg);
		data->nulls[p] = pq_getmsgfloat8(&msg);
		data->value[p] = pq_getmsgfloat8(&msg);
	}
	if (msg.cursor != msg.len)
		bad_result();
	return data;
}
