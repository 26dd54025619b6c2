/*
 * markov_chain.c
 *		Canonical form of an attribution Markov chain, its portable byte form
 *		(the result of the markov aggregate) and the solver options.
 */
#include "postgres.h"

#include "libpq/pqformat.h"
#include "utils/builtins.h"

#include "models/markov_chain.h"
#include "models/markov_paths.h"

#define MARKOV_MAGIC 0x4D4B5631	/* "MKV1" */

static const MarkovChain *sort_chain;

static int
state_cmp(const void *a, const void *b)
{
	int			sa = *(const int *) a;
	int			sb = *(const int *) b;
	int			la = sort_chain->state_len[sa];
	int			lb = sort_chain->state_len[sb];
	const int32 *ca = sort_chain->state_ch + sa * MARKOV_MAX_ORDER;
	const int32 *cb = sort_chain->state_ch + sb * MARKOV_MAX_ORDER;

	for (int i = 0; i < Min(la, lb); i++)
		if (ca[i] != cb[i])
			return (ca[i] > cb[i]) - (ca[i] < cb[i]);
	return (la > lb) - (la < lb);
}

static int
cmp_double(double a, double b)
{
	return (a > b) - (a < b);
}

static int
edge_cmp(const void *a, const void *b)
{
	const MarkovEdge *ea = a;
	const MarkovEdge *eb = b;

	if (ea->from != eb->from)
		return (ea->from > eb->from) - (ea->from < eb->from);
	if (ea->to != eb->to)
		return (ea->to > eb->to) - (ea->to < eb->to);
	/* full order, so that duplicates are summed in one order */
	if (ea->weight != eb->weight)
		return cmp_double(ea->weight, eb->weight);
	if (ea->convweight != eb->convweight)
		return cmp_double(ea->convweight, eb->convweight);
	return cmp_double(ea->value, eb->value);
}

static int
name_cmp(const void *a, const void *b)
{
	const char *na = *(char *const *) a;
	const char *nb = *(char *const *) b;

	return strcmp(na, nb);
}

/*
 * Puts a chain whose channels, states and edges are in any order into the
 * canonical order.  Channel names must be distinct; states must be distinct.
 */
void
MarkovChainCanonicalize(MarkovChain *chain)
{
	int			nc = chain->nchannels;
	int			ns = chain->nstates;
	char	  **sorted = palloc(sizeof(char *) * Max(nc, 1));
	int		   *chrank = palloc(sizeof(int) * Max(nc, 1));
	int		   *order = palloc(sizeof(int) * Max(ns, 1));
	int		   *srank = palloc(sizeof(int) * Max(ns, 1));
	int		   *newlen = palloc(sizeof(int) * Max(ns, 1));
	int32	   *newch = palloc(sizeof(int32) * Max(ns, 1) * MARKOV_MAX_ORDER);
	int			out;

	/* channels: names are NUL-free text, so strcmp is byte order */
	memcpy(sorted, chain->channels, sizeof(char *) * nc);
	qsort(sorted, nc, sizeof(char *), name_cmp);
	for (int i = 0; i < nc; i++)
	{
		char	  **hit = bsearch(&chain->channels[i], sorted, nc, sizeof(char *), name_cmp);

		chrank[i] = hit - sorted;
	}
	for (int s = 0; s < ns; s++)
		for (int k = 0; k < chain->state_len[s]; k++)
			chain->state_ch[s * MARKOV_MAX_ORDER + k] = chrank[chain->state_ch[s * MARKOV_MAX_ORDER + k]];
	chain->channels = sorted;

	/* states */
	for (int s = 0; s < ns; s++)
		order[s] = s;
	sort_chain = chain;
	qsort(order, ns, sizeof(int), state_cmp);
	sort_chain = NULL;
	for (int i = 0; i < ns; i++)
	{
		srank[order[i]] = i;
		newlen[i] = chain->state_len[order[i]];
		memcpy(newch + i * MARKOV_MAX_ORDER, chain->state_ch + order[i] * MARKOV_MAX_ORDER,
			   sizeof(int32) * MARKOV_MAX_ORDER);
	}
	chain->state_len = newlen;
	chain->state_ch = newch;

	/* edges: renumber, sort, merge duplicates */
	for (int e = 0; e < chain->nedges; e++)
	{
		MarkovEdge *edge = &chain->edges[e];

		if (edge->from >= 0)
			edge->from = srank[edge->from];
		if (edge->to >= 0)
			edge->to = srank[edge->to];
	}
	qsort(chain->edges, chain->nedges, sizeof(MarkovEdge), edge_cmp);
	out = 0;
	for (int e = 0; e < chain->nedges; e++)
	{
		MarkovEdge *edge = &chain->edges[e];

		if (out > 0 && chain->edges[out - 1].from == edge->from &&
			chain->edges[out - 1].to == edge->to)
		{
			chain->edges[out - 1].weight += edge->weight;
			chain->edges[out - 1].convweight += edge->convweight;
			chain->edges[out - 1].value += edge->value;
		}
		else
			chain->edges[out++] = *edge;
	}
	chain->nedges = out;
	pfree(chrank);
	pfree(order);
	pfree(srank);
}

bytea *
MarkovChainToBytea(const MarkovChain *chain)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, MARKOV_MAGIC);
	pq_sendint32(&buf, chain->order);
	pq_sendint32(&buf, chain->has_convweight ? 1 : 0);
	pq_sendint32(&buf, chain->nchannels);
	for (int i = 0; i < chain->nchannels; i++)
	{
		int			len = strlen(chain->channels[i]);

		pq_sendint32(&buf, len);
		pq_sendbytes(&buf, chain->channels[i], len);
	}
	pq_sendint32(&buf, chain->nstates);
	for (int s = 0; s < chain->nstates; s++)
	{
		pq_sendint32(&buf, chain->state_len[s]);
		for (int k = 0; k < chain->state_len[s]; k++)
			pq_sendint32(&buf, chain->state_ch[s * MARKOV_MAX_ORDER + k]);
	}
	pq_sendint32(&buf, chain->nedges);
	for (int e = 0; e < chain->nedges; e++)
	{
		pq_sendint32(&buf, chain->edges[e].from);
		pq_sendint32(&buf, chain->edges[e].to);
		pq_sendfloat8(&buf, chain->edges[e].weight);
		pq_sendfloat8(&buf, chain->edges[e].convweight);
		pq_sendfloat8(&buf, chain->edges[e].value);
	}
	return pq_endtypsend(&buf);
}

static void
bad_result(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("bytea is not a result of attribution.markov"),
			 errhint("Pass the value returned by the attribution.markov aggregate.")));
}

static int
get_count(StringInfo msg, int limit)
{
	int			n;

	if (msg->len - msg->cursor < 4)
		bad_result();
	n = pq_getmsgint(msg, 4);
	if (n < 0 || n > limit)
		bad_result();
	return n;
}

MarkovChain *
MarkovChainFromBytea(bytea *b)
{
	StringInfoData msg;
	MarkovChain *chain = palloc0(sizeof(MarkovChain));

	msg.data = VARDATA_ANY(b);
	msg.len = VARSIZE_ANY_EXHDR(b);
	msg.maxlen = msg.len;
	msg.cursor = 0;
	if (get_count(&msg, PG_INT32_MAX) != MARKOV_MAGIC)
		bad_result();
	chain->order = get_count(&msg, MARKOV_MAX_ORDER);
	chain->has_convweight = get_count(&msg, 1) == 1;
	chain->nchannels = get_count(&msg, msg.len / 4);
	chain->channels = palloc(sizeof(char *) * Max(chain->nchannels, 1));
	for (int i = 0; i < chain->nchannels; i++)
	{
		int			len = get_count(&msg, msg.len - msg.cursor - 4);

		chain->channels[i] = palloc(len + 1);
		pq_copymsgbytes(&msg, chain->channels[i], len);
		chain->channels[i][len] = '\0';
	}
	chain->nstates = get_count(&msg, msg.len / 4);
	chain->state_len = palloc(sizeof(int) * Max(chain->nstates, 1));
	chain->state_ch = palloc0(sizeof(int32) * Max(chain->nstates, 1) * MARKOV_MAX_ORDER);
	for (int s = 0; s < chain->nstates; s++)
	{
		int			len = get_count(&msg, MARKOV_MAX_ORDER);

		if (len == 0)
			bad_result();
		chain->state_len[s] = len;
		for (int k = 0; k < len; k++)
		{
			int			c = get_count(&msg, chain->nchannels - 1);

			chain->state_ch[s * MARKOV_MAX_ORDER + k] = c;
		}
	}
	chain->nedges = get_count(&msg, msg.len / 32);
	chain->edges = palloc(sizeof(MarkovEdge) * Max(chain->nedges, 1));
	for (int e = 0; e < chain->nedges; e++)
	{
		MarkovEdge *edge = &chain->edges[e];

		if (msg.len - msg.cursor < 32)
			bad_result();
		edge->from = pq_getmsgint(&msg, 4);
		edge->to = pq_getmsgint(&msg, 4);
		edge->weight = pq_getmsgfloat8(&msg);
		edge->convweight = pq_getmsgfloat8(&msg);
		edge->value = pq_getmsgfloat8(&msg);
		if (edge->from < MARKOV_START || edge->from >= chain->nstates ||
			edge->to < MARKOV_NULL || edge->to == MARKOV_START || edge->to >= chain->nstates)
			bad_result();
	}
	if (msg.cursor != msg.len)
		bad_result();
	return chain;
}

void
MarkovParseOptions(Jsonb *options, MarkovOptions *opts)
{
	static const char *const known[] = {"ignore_nulls", "collapse_self_loops"};
	JsonbValue	values[2];
	bool		present[2];

	ModelParseOptions(options, "markov", known, 2, values, present);
	opts->ignore_nulls = present[0] ? ModelOptionBool(&values[0], known[0]) : false;
	opts->collapse_self_loops = present[1] ? ModelOptionBool(&values[1], known[1]) : false;
}
