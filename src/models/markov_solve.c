/*
 * markov_solve.c
 *		Exact removal effects of an absorbing attribution Markov chain.
 *
 * For a set R of removed states (those containing one channel; empty for
 * the full chain), x(s) = P(reach (conversion) from s) satisfies
 *		x(s) = sum_t P(s,t) x(t) + P(s,conversion),		x = 0 on R,
 * and y(s), the expected value collected from s, the same system with the
 * reward r(s) = value(s) / outflow(s) in place of P(s,conversion).  The
 * system is solved strongly connected component by component, in reverse
 * topological order (Tarjan's order), so each component only needs the
 * already final values of the components it leads to: single states
 * directly, components up to MARKOV_DENSE_MAX states by Gaussian elimination
 * with partial pivoting, larger ones by Gauss-Seidel iteration run until
 * successive iterates differ by less than 1e-15 relative.  No sampling: the answer
 * is the exact one up to floating-point rounding, and every loop runs over
 * the canonical (sorted) order, so it is identical run to run.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "models/markov_chain.h"

#define MARKOV_DENSE_MAX 600
#define MARKOV_GS_MAX_ITERATIONS 100000

typedef struct SolveCtx
{
	int			n;				/* transient states */
	/* transient-to-transient transitions, CSR, self-loops kept apart */
	int		   *row;			/* n + 1 */
	int		   *col;
	double	   *prob;
	double	   *pself;
	double	   *bconv;			/* P(s -> conversion) */
	double	   *reward;			/* value(s) / outflow(s) */
	bool	   *dead;			/* no outflow: behaves as null */
	/* from (start) */
	int			nstart;
	int		   *start_to;
	double	   *start_prob;
	/* work space */
	bool	   *removed;
	double	   *xc;
	double	   *xv;
	double	   *basec;			/* full-chain solution: Gauss-Seidel's start */
	double	   *basev;
	int		   *index;
	int		   *low;
	bool	   *onstack;
	int		   *stack;
	int		   *cstack;			/* Tarjan call stack: state */
	int		   *cpos;			/* Tarjan call stack: next edge */
	int		   *local;			/* position within the current component */
	int		   *members;
} SolveCtx;

static void
SolveComponent(SolveCtx *cx, int *m, int k)
{
	double	   *rc = palloc(sizeof(double) * k);
	double	   *rv = palloc(sizeof(double) * k);

	for (int j = 0; j < k; j++)
		cx->local[m[j]] = j;

	/* right-hand sides: own exits plus already solved successors */
	for (int j = 0; j < k; j++)
	{
		int			s = m[j];

		rc[j] = cx->bconv[s];
		rv[j] = cx->reward[s];
		for (int e = cx->row[s]; e < cx->row[s + 1]; e++)
		{
			int			t = cx->col[e];

			if (cx->local[t] >= 0 || cx->removed[t] || cx->dead[t])
				continue;
			rc[j] += cx->prob[e] * cx->xc[t];
			rv[j] += cx->prob[e] * cx->xv[t];
		}
	}

	if (k == 1)
	{
		double		d = 1.0 - cx->pself[m[0]];

		cx->xc[m[0]] = d > 0 ? rc[0] / d : 0.0;
		cx->xv[m[0]] = d > 0 ? rv[0] / d : 0.0;
	}
	else if (k <= MARKOV_DENSE_MAX)
	{
		/* (I - Q) x = r, two right-hand sides, partial pivoting */
		int			w = k + 2;
		double	   *a = palloc0(sizeof(double) * k * w);

		for (int j = 0; j < k; j++)
		{
			int			s = m[j];

			a[j * w + j] = 1.0 - cx->pself[s];
			for (int e = cx->row[s]; e < cx->row[s + 1]; e++)
			{
				int			l = cx->local[cx->col[e]];

				if (l >= 0)
					a[j * w + l] -= cx->prob[e];
			}
			a[j * w + k] = rc[j];
			a[j * w + k + 1] = rv[j];
		}
		for (int p = 0; p < k; p++)
		{
			int			best = p;

			CHECK_FOR_INTERRUPTS();
			for (int i = p + 1; i < k; i++)
				if (fabs(a[i * w + p]) > fabs(a[best * w + p]))
					best = i;
			if (best != p)
				for (int c = p; c < w; c++)
				{
					double		tmp = a[p * w + c];

					a[p * w + c] = a[best * w + c];
					a[best * w + c] = tmp;
				}
			if (a[p * w + p] == 0.0)
				continue;
			for (int i = p + 1; i < k; i++)
			{
				double		f = a[i * w + p] / a[p * w + p];

				if (f == 0.0)
					continue;
				for (int c = p; c < w; c++)
					a[i * w + c] -= f * a[p * w + c];
			}
		}
		for (int p = k - 1; p >= 0; p--)
		{
			double		sc = a[p * w + k];
			double		sv = a[p * w + k + 1];

			for (int c = p + 1; c < k; c++)
			{
				sc -= a[p * w + c] * cx->xc[m[c]];
				sv -= a[p * w + c] * cx->xv[m[c]];
			}
			cx->xc[m[p]] = a[p * w + p] != 0.0 ? sc / a[p * w + p] : 0.0;
			cx->xv[m[p]] = a[p * w + p] != 0.0 ? sv / a[p * w + p] : 0.0;
		}
		pfree(a);
	}
	else
	{
		int			it;
		double		lastrel = 1.0;

		/*
		 * Start from the full chain's solution: removing one channel moves
		 * most states' values little, so fewer sweeps are needed.
		 */
		for (int j = 0; j < k; j++)
		{
			cx->xc[m[j]] = cx->basec ? cx->basec[m[j]] : 0.0;
			cx->xv[m[j]] = cx->basev ? cx->basev[m[j]] : 0.0;
		}
		for (it = 0; it < MARKOV_GS_MAX_ITERATIONS; it++)
		{
			double		maxdelta = 0.0;
			double		maxabs = 0.0;

			CHECK_FOR_INTERRUPTS();
			for (int j = 0; j < k; j++)
			{
				int			s = m[j];
				double		sc = rc[j];
				double		sv = rv[j];
				double		d = 1.0 - cx->pself[s];
				double		nc;
				double		nv;

				for (int e = cx->row[s]; e < cx->row[s + 1]; e++)
				{
					int			t = cx->col[e];

					if (cx->local[t] < 0)
						continue;
					sc += cx->prob[e] * cx->xc[t];
					sv += cx->prob[e] * cx->xv[t];
				}
				nc = d > 0 ? sc / d : 0.0;
				nv = d > 0 ? sv / d : 0.0;
				maxdelta = Max(maxdelta, Max(fabs(nc - cx->xc[s]), fabs(nv - cx->xv[s])));
				maxabs = Max(maxabs, Max(fabs(nc), fabs(nv)));
				cx->xc[s] = nc;
				cx->xv[s] = nv;
			}
			/* a few ulps: below that, iterates only trade rounding */
			if (maxdelta <= maxabs * 1e-15)
				break;
			lastrel = maxabs > 0 ? maxdelta / maxabs : 0.0;
		}
		/* rounding noise can keep the last digits moving: accept 1e-12 */
		if (it == MARKOV_GS_MAX_ITERATIONS && lastrel > 1e-12)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("markov chain of %d states did not converge", k),
					 errhint("Collapse self-loops or use a lower order.")));
	}

	for (int j = 0; j < k; j++)
		cx->local[m[j]] = -1;
	pfree(rc);
	pfree(rv);
}

static inline bool
Active(const SolveCtx *cx, int s)
{
	return !cx->removed[s] && !cx->dead[s];
}

/*
 * Solves the chain with cx->removed set; returns P(conversion) and the
 * expected value from (start).  Iterative Tarjan: states in index order.
 */
static void
SolveRemoved(SolveCtx *cx, double *pconv, double *evalue)
{
	int			counter = 0;
	int			sp = 0;
	double		pc = 0.0;
	double		pv = 0.0;

	for (int s = 0; s < cx->n; s++)
	{
		cx->index[s] = -1;
		cx->onstack[s] = false;
		cx->xc[s] = cx->xv[s] = 0.0;
	}
	for (int root = 0; root < cx->n; root++)
	{
		int			depth = 0;

		if (!Active(cx, root) || cx->index[root] >= 0)
			continue;
		cx->cstack[0] = root;
		cx->cpos[0] = cx->row[root];
		cx->index[root] = cx->low[root] = counter++;
		cx->stack[sp++] = root;
		cx->onstack[root] = true;
		while (depth >= 0)
		{
			int			v = cx->cstack[depth];

			if (cx->cpos[depth] < cx->row[v + 1])
			{
				int			t = cx->col[cx->cpos[depth]++];

				if (!Active(cx, t))
					continue;
				if (cx->index[t] < 0)
				{
					cx->index[t] = cx->low[t] = counter++;
					cx->stack[sp++] = t;
					cx->onstack[t] = true;
					depth++;
					cx->cstack[depth] = t;
					cx->cpos[depth] = cx->row[t];
				}
				else if (cx->onstack[t])
					cx->low[v] = Min(cx->low[v], cx->index[t]);
				continue;
			}
			if (cx->low[v] == cx->index[v])
			{
				int			k = 0;
				int			w;

				do
				{
					w = cx->stack[--sp];
					cx->onstack[w] = false;
					cx->members[k++] = w;
				} while (w != v);
				/* ascending state order inside the component */
				for (int i = 1; i < k; i++)
				{
					int			x = cx->members[i];
					int			j = i - 1;

					while (j >= 0 && cx->members[j] > x)
					{
						cx->members[j + 1] = cx->members[j];
						j--;
					}
					cx->members[j + 1] = x;
				}
				SolveComponent(cx, cx->members, k);
			}
			depth--;
			if (depth >= 0)
			{
				int			u = cx->cstack[depth];

				cx->low[u] = Min(cx->low[u], cx->low[v]);
			}
		}
	}
	for (int i = 0; i < cx->nstart; i++)
	{
		int			t = cx->start_to[i];

		if (!Active(cx, t))
			continue;
		pc += cx->start_prob[i] * cx->xc[t];
		pv += cx->start_prob[i] * cx->xv[t];
	}
	*pconv = pc;
	*evalue = pv;
}

static double
EdgeWeight(const MarkovEdge *e, const MarkovOptions *opts)
{
	double		w = opts->ignore_nulls ? e->convweight : e->weight;

	if (opts->collapse_self_loops && e->from >= 0 && e->from == e->to)
		return 0.0;
	if (opts->ignore_nulls && e->to == MARKOV_NULL)
		return 0.0;
	return w;
}

MarkovResult *
MarkovSolve(const MarkovChain *chain, const MarkovOptions *opts, bool removals)
{
	int			n = chain->nstates;
	SolveCtx	cx;
	MarkovResult *res = palloc0(sizeof(MarkovResult));
	double	   *outflow = palloc0(sizeof(double) * Max(n, 1));
	double	   *valueout = palloc0(sizeof(double) * Max(n, 1));
	double	   *convout = palloc0(sizeof(double) * Max(n, 1));
	double		startout = 0.0;
	double		p0;
	double		e0;
	double		sum_re = 0.0;
	double		sum_vre = 0.0;
	int			ne = 0;

	if (opts->ignore_nulls && !chain->has_convweight)
	{
		for (int i = 0; i < chain->nedges; i++)
			if (chain->edges[i].to == MARKOV_NULL && chain->edges[i].weight > 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"ignore_nulls\" needs the conversion weight of each transition"),
						 errhint("Pass the conversion_weight column of attribution.markov_transitions to attribution.markov_solve.")));
	}

	memset(&cx, 0, sizeof(cx));
	cx.n = n;
	cx.row = palloc0(sizeof(int) * (n + 1));
	cx.col = palloc(sizeof(int) * Max(chain->nedges, 1));
	cx.prob = palloc(sizeof(double) * Max(chain->nedges, 1));
	cx.pself = palloc0(sizeof(double) * Max(n, 1));
	cx.bconv = palloc0(sizeof(double) * Max(n, 1));
	cx.reward = palloc0(sizeof(double) * Max(n, 1));
	cx.dead = palloc0(sizeof(bool) * Max(n, 1));
	cx.start_to = palloc(sizeof(int) * Max(chain->nedges, 1));
	cx.start_prob = palloc(sizeof(double) * Max(chain->nedges, 1));

	/* totals and outflows, in edge order */
	for (int i = 0; i < chain->nedges; i++)
	{
		const MarkovEdge *e = &chain->edges[i];
		double		w = EdgeWeight(e, opts);

		if (e->to == MARKOV_CONVERSION)
			res->conversions += opts->ignore_nulls ? e->convweight :
				(chain->has_convweight ? e->convweight : e->weight);
		else if (e->to == MARKOV_NULL)
			res->nulls += e->weight;
		res->value += e->value;
		if (e->from == MARKOV_START)
			startout += w;
		else
		{
			outflow[e->from] += w;
			valueout[e->from] += e->value;
			if (e->to == MARKOV_CONVERSION)
				convout[e->from] += w;
		}
		if (w > 0)
			res->transitions++;
	}

	/* transition probabilities */
	for (int s = 0; s < n; s++)
	{
		cx.dead[s] = !(outflow[s] > 0);
		if (!cx.dead[s])
		{
			cx.bconv[s] = convout[s] / outflow[s];
			cx.reward[s] = valueout[s] / outflow[s];
		}
	}
	for (int i = 0; i < chain->nedges; i++)
	{
		const MarkovEdge *e = &chain->edges[i];
		double		w = EdgeWeight(e, opts);

		if (!(w > 0) || e->to < 0)
			continue;
		if (e->from == MARKOV_START)
		{
			cx.start_to[cx.nstart] = e->to;
			cx.start_prob[cx.nstart++] = w / startout;
		}
		else if (e->from == e->to)
			cx.pself[e->from] = w / outflow[e->from];
		else
		{
			cx.col[ne] = e->to;
			cx.prob[ne++] = w / outflow[e->from];
			cx.row[e->from + 1]++;
		}
	}
	/* edges are sorted by from, so row counts become offsets in place */
	for (int s = 0; s < n; s++)
		cx.row[s + 1] += cx.row[s];

	cx.removed = palloc0(sizeof(bool) * Max(n, 1));
	cx.xc = palloc(sizeof(double) * Max(n, 1));
	cx.xv = palloc(sizeof(double) * Max(n, 1));
	cx.index = palloc(sizeof(int) * Max(n, 1));
	cx.low = palloc(sizeof(int) * Max(n, 1));
	cx.onstack = palloc(sizeof(bool) * Max(n, 1));
	cx.stack = palloc(sizeof(int) * Max(n, 1));
	cx.cstack = palloc(sizeof(int) * Max(n, 1));
	cx.cpos = palloc(sizeof(int) * Max(n, 1));
	cx.members = palloc(sizeof(int) * Max(n, 1));
	cx.local = palloc(sizeof(int) * Max(n, 1));
	for (int s = 0; s < n; s++)
		cx.local[s] = -1;

	SolveRemoved(&cx, &p0, &e0);
	res->p_conversion = p0;
	res->expected_value = e0;
	if (!removals)
		return res;
	cx.basec = palloc(sizeof(double) * Max(n, 1));
	cx.basev = palloc(sizeof(double) * Max(n, 1));
	memcpy(cx.basec, cx.xc, sizeof(double) * n);
	memcpy(cx.basev, cx.xv, sizeof(double) * n);

	res->channels = palloc0(sizeof(MarkovChannelResult) * Max(chain->nchannels, 1));
	for (int c = 0; c < chain->nchannels; c++)
	{
		double		pc;
		double		ev;

		for (int s = 0; s < n; s++)
		{
			cx.removed[s] = false;
			for (int k = 0; k < chain->state_len[s]; k++)
				if (chain->state_ch[s * MARKOV_MAX_ORDER + k] == c)
					cx.removed[s] = true;
		}
		SolveRemoved(&cx, &pc, &ev);
		res->channels[c].removal_effect = p0 > 0 ? 1.0 - pc / p0 : 0.0;
		res->channels[c].value_removal_effect = e0 != 0 ? 1.0 - ev / e0 : 0.0;
		sum_re += res->channels[c].removal_effect;
		sum_vre += res->channels[c].value_removal_effect;
	}
	for (int c = 0; c < chain->nchannels; c++)
	{
		MarkovChannelResult *r = &res->channels[c];

		r->conversions = sum_re != 0 ? r->removal_effect / sum_re * res->conversions : 0.0;
		r->value = sum_vre != 0 ? r->value_removal_effect / sum_vre * res->value : 0.0;
	}
	return res;
}
