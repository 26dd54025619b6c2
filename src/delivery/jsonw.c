/*
 * jsonw.c
 *		Streaming JSON writer used by the platform payload builders; strings
 *		are escaped by PostgreSQL's own escape_json().
 */
#include "postgres.h"

#include "utils/json.h"

#include "delivery/jsonw.h"

void
JwInit(JsonWriter *w)
{
	initStringInfo(&w->buf);
	w->depth = 0;
	w->need_comma[0] = false;
}

/*
 * Before any value or key: the comma that separates it from the previous
 * member of the enclosing container.
 */
static void
JwSeparate(JsonWriter *w)
{
	if (w->need_comma[w->depth])
		appendStringInfoChar(&w->buf, ',');
	w->need_comma[w->depth] = true;
}

static void
JwOpen(JsonWriter *w, char c)
{
	JwSeparate(w);
	if (w->depth + 1 >= JW_MAX_DEPTH)
		elog(ERROR, "JSON payload nests deeper than %d levels", JW_MAX_DEPTH);
	appendStringInfoChar(&w->buf, c);
	w->depth++;
	w->need_comma[w->depth] = false;
}

static void
JwClose(JsonWriter *w, char c)
{
	Assert(w->depth > 0);
	appendStringInfoChar(&w->buf, c);
	w->depth--;
}

void
JwBeginObject(JsonWriter *w)
{
	JwOpen(w, '{');
}

void
JwEndObject(JsonWriter *w)
{
	JwClose(w, '}');
}

void
JwBeginArray(JsonWriter *w)
{
	JwOpen(w, '[');
}

void
JwEndArray(JsonWriter *w)
{
	JwClose(w, ']');
}

/*
 * The value that follows a key belongs to it: the key consumes the comma
 * slot, so the value must not add another one.
 */
void
JwKey(JsonWriter *w, const char *key)
{
	JwSeparate(w);
	escape_json(&w->buf, key);
	appendStringInfoChar(&w->buf, ':');
	w->need_comma[w->depth] = false;
}

void
JwString(JsonWriter *w, const char *s)
{
	JwSeparate(w);
	escape_json(&w->buf, s);
}

/*
 * A number already formatted as a JSON decimal (see FormatDecimal).
 */
void
JwNumber(JsonWriter *w, const char *decimal)
{
	JwSeparate(w);
	appendStringInfoString(&w->buf, decimal);
}

void
JwInt64(JsonWriter *w, int64 v)
{
	JwSeparate(w);
	appendStringInfo(&w->buf, INT64_FORMAT, v);
}

void
JwBool(JsonWriter *w, bool v)
{
	JwSeparate(w);
	appendStringInfoString(&w->buf, v ? "true" : "false");
}

void
JwNull(JsonWriter *w)
{
	JwSeparate(w);
	appendStringInfoString(&w->buf, "null");
}

void
JwFieldString(JsonWriter *w, const char *key, const char *s)
{
	if (s == NULL)
		return;
	JwKey(w, key);
	JwString(w, s);
}

void
JwFieldNumber(JsonWriter *w, const char *key, const char *decimal)
{
	if (decimal == NULL)
		return;
	JwKey(w, key);
	JwNumber(w, decimal);
}

/* key: [s], the one-element list form Meta and TikTok take hashes in */
void
JwFieldStringArray1(JsonWriter *w, const char *key, const char *s)
{
	if (s == NULL)
		return;
	JwKey(w, key);
	JwBeginArray(w);
	JwString(w, s);
	JwEndArray(w);
}
