/*
 * webhook_event.c
 *		Event id and type of a verified webhook body.
 *
 * The body is read once by the server's own JSON parser with callbacks that
 * pick the few scalars a source's rules name, instead of building a whole
 * jsonb value only to read two fields of it.  The same pass checks what
 * would make the later cast to jsonb fail (a root that is not an object,
 * \u0000, numbers outside numeric's range), so that a body the inbox
 * accepts is one the processor can read.
 */
#include "postgres.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

#include "core/digest.h"
#include "ingest/json_scan.h"
#include "ingest/webhook.h"

/* Most levels of a path in a source's rules, and most paths per source. */
#define MAX_PATH_DEPTH 8
#define MAX_PATHS 9
/* numeric_in refuses exponents beyond this; longer numbers are not data. */
#define MAX_NUMBER_EXPONENT 1000
#define MAX_NUMBER_LENGTH 1000

#if PG_VERSION_NUM >= 160000
#define JSON_CB_TYPE JsonParseErrorType
#define JSON_CB_DONE return JSON_SUCCESS
#else
#define JSON_CB_TYPE void
#define JSON_CB_DONE return
#endif

typedef struct WantedPath
{
	int			depth;
	char	   *keys[MAX_PATH_DEPTH];
	bool		optional;
	char	   *value;			/* last scalar seen at the path (jsonb keeps the last) */
} WantedPath;

typedef struct ScanState
{
	int			depth;			/* containers open */
	bool		root_is_object;
	bool		saw_root;
	const char *path[MAX_PATH_DEPTH];	/* key per open level; NULL inside arrays */
	int			npaths;
	WantedPath	paths[MAX_PATHS];
	const char *bad_number;
} ScanState;

/* Split "a.b.c" (trailing '?' = optional) into a wanted path. */
static void
ParsePath(const char *dotted, WantedPath *w)
{
	char	   *copy = pstrdup(dotted);
	size_t		len = strlen(copy);
	char	   *tok;
	char	   *save = NULL;

	memset(w, 0, sizeof(*w));
	if (len > 0 && copy[len - 1] == '?')
	{
		w->optional = true;
		copy[len - 1] = '\0';
	}
	for (tok = strtok_r(copy, ".", &save); tok != NULL && w->depth < MAX_PATH_DEPTH;
		 tok = strtok_r(NULL, ".", &save))
		w->keys[w->depth++] = tok;
}

static void
EnterContainer(ScanState *st, bool is_object)
{
	if (!st->saw_root)
	{
		st->saw_root = true;
		st->root_is_object = is_object;
	}
	if (st->depth < MAX_PATH_DEPTH)
		st->path[st->depth] = NULL;
	st->depth++;
}

static JSON_CB_TYPE
OnArrayStart(void *arg)
{
	EnterContainer((ScanState *) arg, false);
	JSON_CB_DONE;
}

static JSON_CB_TYPE
OnObjectStart(void *arg)
{
	EnterContainer((ScanState *) arg, true);
	JSON_CB_DONE;
}

static JSON_CB_TYPE
OnContainerEnd(void *arg)
{
	ScanState  *st = (ScanState *) arg;

	st->depth--;
	JSON_CB_DONE;
}

static JSON_CB_TYPE
OnField(void *arg, char *fname, bool isnull)
{
	ScanState  *st = (ScanState *) arg;

	(void) isnull;
	if (st->depth >= 1 && st->depth <= MAX_PATH_DEPTH)
		st->path[st->depth - 1] = fname;
	JSON_CB_DONE;
}

static JSON_CB_TYPE
OnArrayElement(void *arg, bool isnull)
{
	ScanState  *st = (ScanState *) arg;

	(void) isnull;
	if (st->depth >= 1 && st->depth <= MAX_PATH_DEPTH)
		st->path[st->depth - 1] = NULL;
	JSON_CB_DONE;
}

/* Would numeric_in take this JSON number? */
static bool
NumberFits(const char *token)
{
	const char *e;

	if (strlen(token) > MAX_NUMBER_LENGTH)
		return false;
	e = strpbrk(token, "eE");
	if (e != NULL)
	{
		long		exp = strtol(e + 1, NULL, 10);

		if (exp > MAX_NUMBER_EXPONENT || exp < -MAX_NUMBER_EXPONENT)
			return false;
	}
	return true;
}

static JSON_CB_TYPE
OnScalar(void *arg, char *token, JsonTokenType type)
{
	ScanState  *st = (ScanState *) arg;

	if (!st->saw_root)
		st->saw_root = true;
	if (type == JSON_TOKEN_NUMBER && st->bad_number == NULL && !NumberFits(token))
		st->bad_number = token;
	if (type == JSON_TOKEN_NULL || st->depth > MAX_PATH_DEPTH)
		JSON_CB_DONE;
	for (int i = 0; i < st->npaths; i++)
	{
		WantedPath *w = &st->paths[i];
		bool		match = w->depth == st->depth;

		for (int d = 0; match && d < w->depth; d++)
			match = st->path[d] != NULL && strcmp(st->path[d], w->keys[d]) == 0;
		if (match)
			w->value = token;
	}
	JSON_CB_DONE;
}

/*
 * What is wrong with a JSON text, in words that quote none of it: the
 * server's own messages quote the offending token, and rejections must not
 * hold pieces of a body.
 */
static const char *
JsonErrorWords(JsonParseErrorType err)
{
	switch (err)
	{
		case JSON_ESCAPING_INVALID:
			return "an invalid escape sequence";
		case JSON_ESCAPING_REQUIRED:
			return "a control character that must be escaped";
		case JSON_EXPECTED_MORE:
			return "an unexpected end of input";
		case JSON_INVALID_TOKEN:
			return "an invalid token";
		case JSON_UNICODE_CODE_POINT_ZERO:
			return "\\u0000, which text cannot hold,";
		case JSON_UNICODE_ESCAPE_FORMAT:
		case JSON_UNICODE_HIGH_ESCAPE:
		case JSON_UNICODE_HIGH_SURROGATE:
		case JSON_UNICODE_LOW_SURROGATE:
			return "an invalid Unicode escape";
		default:
			return "an unexpected token";
	}
}

/*
 * Parse the body, collect the scalars the source's rules name, and build the
 * event id: the named values joined by ':' (optional ones left out when
 * absent), or the body's digest when the source names none or a required
 * one is absent.  Ids too long for an index key are replaced by their digest.
 */
char *
WebhookExtractEvent(char *body, int len, const WebhookSource *src,
					const char *body_sha256, char **event_id, char **event_type)
{
	ScanState	st;
	JsonSemAction sem;
	JsonLexContext *lex;
	JsonParseErrorType err;
	StringInfoData id;
	bool		complete = src->nid_paths > 0;
	int			nid;
	int			type_index = -1;

	*event_id = NULL;
	*event_type = NULL;
	if (!JsonDepthWithin(body, len, JSON_SCAN_MAX_DEPTH))
		return psprintf("body nests objects and arrays deeper than %d levels", JSON_SCAN_MAX_DEPTH);

	memset(&st, 0, sizeof(st));
	for (int i = 0; i < src->nid_paths && st.npaths < MAX_PATHS - 1; i++)
		ParsePath(src->id_paths[i], &st.paths[st.npaths++]);
	nid = st.npaths;
	if (src->type_path != NULL)
	{
		type_index = st.npaths;
		ParsePath(src->type_path, &st.paths[st.npaths++]);
	}

	memset(&sem, 0, sizeof(sem));
	sem.semstate = &st;
	sem.object_start = OnObjectStart;
	sem.object_end = OnContainerEnd;
	sem.array_start = OnArrayStart;
	sem.array_end = OnContainerEnd;
	sem.object_field_start = OnField;
	sem.array_element_start = OnArrayElement;
	sem.scalar = OnScalar;

#if PG_VERSION_NUM >= 170000
	lex = makeJsonLexContextCstringLen(NULL, body, len, GetDatabaseEncoding(), true);
#else
	lex = makeJsonLexContextCstringLen(body, len, GetDatabaseEncoding(), true);
#endif
	err = pg_parse_json(lex, &sem);
	if (err != JSON_SUCCESS)
	{
		size_t		at = lex->token_start != NULL ? (size_t) (lex->token_start - lex->input)
			: (size_t) len;

		return psprintf("body is not valid JSON: %s at byte %zu", JsonErrorWords(err), at);
	}
	if (!st.root_is_object)
		return pstrdup("body is not a JSON object");
	if (st.bad_number != NULL)
		return pstrdup("body holds a number outside the range PostgreSQL can store");

	initStringInfo(&id);
	for (int i = 0; i < nid; i++)
	{
		WantedPath *w = &st.paths[i];

		if (w->value == NULL || w->value[0] == '\0')
		{
			if (!w->optional)
				complete = false;
			continue;
		}
		if (id.len > 0)
			appendStringInfoChar(&id, ':');
		appendStringInfoString(&id, w->value);
	}
	if (!complete || id.len == 0)
		*event_id = pstrdup(body_sha256);
	else if (id.len > WEBHOOK_MAX_EVENT_ID)
	{
		char		hex[SHA256_HEX_LEN + 1];

		Sha256Hex(id.data, id.len, hex);
		*event_id = psprintf("sha256:%s", hex);
	}
	else
		*event_id = id.data;

	if (type_index >= 0 && st.paths[type_index].value != NULL)
	{
		char	   *t = st.paths[type_index].value;
		int			tlen = strlen(t);

		if (tlen > WEBHOOK_MAX_EVENT_TYPE)
			t[pg_mbcliplen(t, tlen, WEBHOOK_MAX_EVENT_TYPE)] = '\0';
		*event_type = t;
	}
	return NULL;
}
