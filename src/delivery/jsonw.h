/*
 * jsonw.h
 *		A small streaming JSON writer for the platform payload builders.
 *
 * The builders write each event element in one pass: keys in the order the
 * platform documents them, strings escaped by escape_json(), numbers passed as
 * already formatted decimal text.  Commas are placed by the writer, so a
 * builder that skips an absent field cannot leave a dangling one.
 */
#ifndef ATTR_JSONW_H
#define ATTR_JSONW_H

#include "lib/stringinfo.h"

#define JW_MAX_DEPTH 16

typedef struct JsonWriter
{
	StringInfoData buf;
	int			depth;
	bool		need_comma[JW_MAX_DEPTH];
} JsonWriter;

extern void JwInit(JsonWriter *w);
extern void JwBeginObject(JsonWriter *w);
extern void JwEndObject(JsonWriter *w);
extern void JwBeginArray(JsonWriter *w);
extern void JwEndArray(JsonWriter *w);
extern void JwKey(JsonWriter *w, const char *key);
extern void JwString(JsonWriter *w, const char *s);
extern void JwNumber(JsonWriter *w, const char *decimal);
extern void JwInt64(JsonWriter *w, int64 v);
extern void JwBool(JsonWriter *w, bool v);
extern void JwNull(JsonWriter *w);

/* key + value, skipped entirely when the value is NULL */
extern void JwFieldString(JsonWriter *w, const char *key, const char *s);
extern void JwFieldNumber(JsonWriter *w, const char *key, const char *decimal);
extern void JwFieldStringArray1(JsonWriter *w, const char *key, const char *s);

#endif							/* ATTR_JSONW_H */
