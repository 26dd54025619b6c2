/*
 * response.c
 *		What an answer means for each row of a batch: the engine's half.
 *
 * The answer is parsed once with Postgres's own jsonb, inside the worker's
 * recording transaction, and handed to the destination's platform module
 * (src/delivery/platforms/), which knows where its platform reports
 * failures.  What means the same on every platform -- transport errors,
 * HTTP statuses a module does not explain further, throttling, a
 * credential refused -- is here, shared through judge.h.  Messages kept are
 * short platform error texts; response bodies are never logged.
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/resowner.h"

#include "delivery/judge.h"
#include "delivery/platforms/platform.h"

/*
 * Parse a response body as jsonb; NULL when it is not JSON.  jsonb_in runs in
 * a subtransaction because a syntactically valid body can still be refused
 * (a \u0000 escape), and that must not abort the recording transaction.
 */
static Jsonb *
parse_json(const char *body, size_t len)
{
	JsonLexContext *lex;
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Jsonb	   *volatile result = NULL;

	if (body == NULL || len == 0)
		return NULL;
#if PG_VERSION_NUM >= 170000
	lex = makeJsonLexContextCstringLen(NULL, (char *) body, (int) len, GetDatabaseEncoding(), false);
#else
	lex = makeJsonLexContextCstringLen((char *) body, (int) len, GetDatabaseEncoding(), false);
#endif
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
		return NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(body)));
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		result = NULL;
	}
	PG_END_TRY();
	return result;
}

static const char *
curl_code_name(CURLcode rc)
{
	switch (rc)
	{
		case CURLE_OPERATION_TIMEDOUT:
			return "TIMEOUT";
		case CURLE_COULDNT_CONNECT:
			return "CONNECT_FAILED";
		case CURLE_COULDNT_RESOLVE_HOST:
			return "DNS_FAILED";
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
			return "TLS_FAILED";
		case CURLE_GOT_NOTHING:
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
		case CURLE_PARTIAL_FILE:
			return "CONNECTION_DROPPED";
		default:
			return "TRANSPORT_ERROR";
	}
}

/*
 * Judge a finished request.  Fills v (allocated in the current memory
 * context) with one outcome per row of the batch; a status request (a batch
 * without rows) is judged by the module's judge_status.
 */
void
DeliveryJudge(DeliveryBatch *batch, HttpRequest *req, Verdict *v)
{
	int			n = batch->nrows;
	const PlatformModule *m = batch->dest->module;
	Jsonb	   *jb;

	memset(v, 0, sizeof(Verdict));
	v->rows = palloc0(Max(n, 1) * sizeof(RowOutcome));
	if (req->request_id[0] != '\0')
		v->request_id = pstrdup(req->request_id);

	if (req->result != CURLE_OK)
	{
		v->breaker_failure = true;
		SetAll(v, n, ROW_RETRY, curl_code_name(req->result), curl_easy_strerror(req->result), 0);
		v->status = "retry";
		v->status_detail = psprintf("%s: %s", curl_code_name(req->result),
									curl_easy_strerror(req->result));
		return;
	}

	jb = parse_json(req->resp, req->resp_len);
	if (batch->status_of != NULL)
		m->judge_status(req, jb ? &jb->root : NULL, v);
	else
		m->judge(batch, req, jb ? &jb->root : NULL, v);
}
