/*
 * json_access.c
 *		Reading provider payloads with Postgres's own jsonb: typed getters
 *		that answer "absent" for missing keys, JSON nulls and wrong types,
 *		so the normalisers read like the provider documentation.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "ingest/ingest.h"

/* Look a key up in an object container; NULL unless found and not null. */
static JsonbValue *
GetValue(JsonbContainer *c, const char *key, JsonbValue *res)
{
	JsonbValue *v;

	if (c == NULL || !JsonContainerIsObject(c))
		return NULL;
	v = getKeyJsonValueFromContainer(c, key, strlen(key), res);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	return v;
}

bool
JsonHasKey(JsonbContainer *c, const char *key)
{
	JsonbValue	res;

	if (c == NULL || !JsonContainerIsObject(c))
		return false;
	return getKeyJsonValueFromContainer(c, key, strlen(key), &res) != NULL;
}

/* True when the key is present with the JSON value null. */
bool
JsonIsNull(JsonbContainer *c, const char *key)
{
	JsonbValue	res;
	JsonbValue *v;

	if (c == NULL || !JsonContainerIsObject(c))
		return false;
	v = getKeyJsonValueFromContainer(c, key, strlen(key), &res);
	return v != NULL && v->type == jbvNull;
}

JsonbContainer *
JsonObject(JsonbContainer *c, const char *key)
{
	JsonbValue	res;
	JsonbValue *v = GetValue(c, key, &res);

	if (v == NULL || v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		return NULL;
	return v->val.binary.data;
}

JsonbContainer *
JsonArray(JsonbContainer *c, const char *key)
{
	JsonbValue	res;
	JsonbValue *v = GetValue(c, key, &res);

	if (v == NULL || v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		return NULL;
	return v->val.binary.data;
}

/* Follow a NULL-terminated list of keys through nested objects. */
JsonbContainer *
JsonPathObject(JsonbContainer *c, const char *const *path)
{
	for (; c != NULL && *path != NULL; path++)
		c = JsonObject(c, *path);
	return c;
}

int
JsonArrayLength(JsonbContainer *array)
{
	if (array == NULL || !JsonContainerIsArray(array))
		return 0;
	return JsonContainerSize(array);
}

JsonbContainer *
JsonArrayObject(JsonbContainer *array, int i)
{
	JsonbValue *v;

	if (array == NULL || !JsonContainerIsArray(array))
		return NULL;
	v = getIthJsonbValueFromContainer(array, i);
	if (v == NULL || v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		return NULL;
	return v->val.binary.data;
}

/*
 * A scalar as text: strings as they are, numbers and booleans in their
 * JSON spelling (Lemon Squeezy ids are numbers, Paddle amounts strings).
 * Empty strings count as absent.
 */
char *
JsonString(JsonbContainer *c, const char *key)
{
	JsonbValue	res;
	JsonbValue *v = GetValue(c, key, &res);

	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvString:
			if (v->val.string.len == 0)
				return NULL;
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			return NULL;
	}
}

/* A reference that is an id string, or an expanded object with an "id". */
char *
JsonStringOrId(JsonbContainer *c, const char *key)
{
	JsonbContainer *obj = JsonObject(c, key);

	if (obj != NULL)
		return JsonString(obj, "id");
	return JsonString(c, key);
}

/* An integer given as a JSON number or as a string of digits. */
bool
JsonInt64(JsonbContainer *c, const char *key, int64 *out)
{
	JsonbValue	res;
	JsonbValue *v = GetValue(c, key, &res);

	if (v == NULL)
		return false;
	if (v->type == jbvNumeric)
	{
		*out = DatumGetInt64(DirectFunctionCall1(numeric_int8,
												 NumericGetDatum(v->val.numeric)));
		return true;
	}
	if (v->type == jbvString && v->val.string.len > 0)
	{
		char	   *s = pnstrdup(v->val.string.val, v->val.string.len);
		char	   *end;
		long long	n;

		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno != 0 || *end != '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("field \"%s\" is \"%s\", not an integer amount", key, s),
					 errdetail("Amounts are expected in the lowest denomination of the currency.")));
		*out = (int64) n;
		return true;
	}
	return false;
}

bool
JsonBool(JsonbContainer *c, const char *key, bool *out)
{
	JsonbValue	res;
	JsonbValue *v = GetValue(c, key, &res);

	if (v == NULL || v->type != jbvBool)
		return false;
	*out = v->val.boolean;
	return true;
}

/* Unix seconds (Stripe's timestamps). */
bool
JsonUnixTime(JsonbContainer *c, const char *key, TimestampTz *out)
{
	int64		secs;

	if (!JsonInt64(c, key, &secs))
		return false;
	*out = time_t_to_timestamptz((pg_time_t) secs);
	return true;
}

/* RFC 3339 text (Paddle, Lemon Squeezy, Segment). */
bool
JsonTimestamp(JsonbContainer *c, const char *key, TimestampTz *out)
{
	char	   *s = JsonString(c, key);

	if (s == NULL)
		return false;
	*out = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												   CStringGetDatum(s),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
	return true;
}

/*
 * The application's user id in a metadata or custom-data object: the first
 * of the keys named by pg_attribution.user_id_keys that has a value.
 */
char *
JsonUserId(JsonbContainer *c)
{
	const char *p;

	if (c == NULL || attr_user_id_keys == NULL)
		return NULL;
	p = attr_user_id_keys;
	while (*p != '\0')
	{
		const char *start;
		const char *end;

		while (*p == ' ' || *p == ',')
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && end[-1] == ' ')
			end--;
		if (end > start)
		{
			char	   *key = pnstrdup(start, end - start);
			char	   *value = JsonString(c, key);

			if (value != NULL)
				return value;
		}
	}
	return NULL;
}

/* ISO 4217 code in upper case; providers send "usd" or "USD". */
char *
UpperCurrency(const char *currency)
{
	char	   *up;
	int			i;

	if (currency == NULL)
		return NULL;
	up = pstrdup(currency);
	for (i = 0; up[i] != '\0'; i++)
		up[i] = pg_ascii_toupper((unsigned char) up[i]);
	if (i != 3 || up[0] < 'A' || up[0] > 'Z' || up[1] < 'A' || up[1] > 'Z' ||
		up[2] < 'A' || up[2] > 'Z')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("currency \"%s\" is not an ISO 4217 code", currency)));
	return up;
}

static void
DetailKey(BillingFact *fact, const char *key)
{
	if (fact->details == NULL)
	{
		fact->details = makeStringInfo();
		appendStringInfoChar(fact->details, '{');
	}
	else
		appendStringInfoChar(fact->details, ',');
	escape_json(fact->details, key);
	appendStringInfoChar(fact->details, ':');
}

void
DetailString(BillingFact *fact, const char *key, const char *value)
{
	if (value == NULL)
		return;
	DetailKey(fact, key);
	escape_json(fact->details, value);
}

void
DetailInt64(BillingFact *fact, const char *key, int64 value)
{
	DetailKey(fact, key);
	appendStringInfo(fact->details, INT64_FORMAT, value);
}

void
DetailBool(BillingFact *fact, const char *key, bool value)
{
	DetailKey(fact, key);
	appendStringInfoString(fact->details, value ? "true" : "false");
}
