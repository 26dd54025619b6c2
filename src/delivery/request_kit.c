/*
 * request_kit.c
 *		What the platform modules share when they assemble a request: the
 *		URL from the destination's endpoint, the batch's elements, the
 *		Bearer header, and the destination's account fields (see judge.h
 *		for what they share when judging the answer).
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "delivery/delivery.h"
#include "delivery/http_engine.h"
#include "delivery/request_kit.h"

/* The endpoint without trailing slashes, followed by path. */
void
DeliveryAppendUrl(StringInfo url, const char *endpoint, const char *path)
{
	int			len = strlen(endpoint);

	while (len > 0 && endpoint[len - 1] == '/')
		len--;
	appendBinaryStringInfo(url, endpoint, len);
	appendStringInfoString(url, path);
}

/* The batch's elements, comma-separated. */
void
DeliveryAppendElements(StringInfo body, DeliveryBatch *batch)
{
	for (int i = 0; i < batch->nrows; i++)
	{
		if (i > 0)
			appendStringInfoChar(body, ',');
		appendBinaryStringInfo(body, batch->rows[i].payload, batch->rows[i].payload_len);
	}
}

/* Authorization: Bearer, wiped from palloc'd memory after the copy. */
void
DeliveryAddBearer(HttpRequest *req, const char *token)
{
	StringInfoData v;

	if (token == NULL || token[0] == '\0')
		return;
	initStringInfo(&v);
	appendStringInfo(&v, "Bearer %s", token);
	HttpAddHeader(req, "Authorization", v.data);
	explicit_bzero(v.data, v.len);
	pfree(v.data);
}

/*
 * A platform account field of a destination as text (a number as its
 * text), palloc'd in the current context; NULL when absent or not a
 * scalar.
 */
char *
DestAccount(Destination *dest, const char *key)
{
	JsonbValue *v;

	if (dest->account == NULL || !JB_ROOT_IS_OBJECT(dest->account))
		return NULL;
	v = getKeyJsonValueFromContainer(&dest->account->root, key, strlen(key), NULL);
	if (v == NULL)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	return NULL;
}

