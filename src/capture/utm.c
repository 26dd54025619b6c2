/*
 * utm.c
 *		Build tagged campaign URLs with libcurl's URL API, which encodes each
 *		appended parameter correctly (spaces as '+', reserved bytes as %XX).
 *
 * The convention (allowed sources, medium vocabulary, campaign pattern) is
 * checked in SQL by build_utm_url before it calls this.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "capture/landing.h"
#include "pg_attribution.h"

PG_FUNCTION_INFO_V1(attr_append_query);

/*
 * _append_query(base_url text, names text[], vals text[]) RETURNS text
 *
 * Appends name=value pairs (NULL values skipped) to base_url.  The base must
 * be an http(s) URL; one without a scheme is read as https.  A base that
 * already carries one of the names is refused, since a link with two
 * utm_source values is attributed by whichever one a tool reads first.
 */
Datum
attr_append_query(PG_FUNCTION_ARGS)
{
	char	   *base = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ArrayType  *names = PG_GETARG_ARRAYTYPE_P(1);
	ArrayType  *vals = PG_GETARG_ARRAYTYPE_P(2);
	Datum	   *nd,
			   *vd;
	bool	   *nn,
			   *vn;
	int			nnames,
				nvals;
	LandingUrl	parsed;
	const char *reason = NULL;
	CURLU	   *h;
	CURLUcode	rc;
	char	   *out = NULL;
	text	   *result;

	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &nd, &nn, &nnames);
	deconstruct_array(vals, TEXTOID, -1, false, TYPALIGN_INT, &vd, &vn, &nvals);
	if (nnames != nvals)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("names and values must have the same length")));

	if (ParseLandingUrl(base, &parsed, &reason) != URL_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("base url is not a valid http or https URL%s%s",
						reason ? ": " : "", reason ? reason : "")));
	for (int i = 0; i < NUM_UTM_FIELDS; i++)
		if (parsed.utm_raw[i] != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("base url already carries %s", utm_param_names[i]),
					 errhint("Pass the page address without campaign parameters.")));

	h = curl_url();
	if (h == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	rc = curl_url_set(h, CURLUPART_URL, base, CURLU_DEFAULT_SCHEME);
	for (int i = 0; rc == CURLUE_OK && i < nnames; i++)
	{
		StringInfoData pair;

		if (nn[i] || vn[i])
			continue;
		initStringInfo(&pair);
		appendStringInfo(&pair, "%s=%s", TextDatumGetCString(nd[i]),
						 TextDatumGetCString(vd[i]));
		rc = curl_url_set(h, CURLUPART_QUERY, pair.data,
						  CURLU_APPENDQUERY | CURLU_URLENCODE);
		pfree(pair.data);
	}
	if (rc == CURLUE_OK)
		rc = curl_url_get(h, CURLUPART_URL, &out, 0);
	if (rc != CURLUE_OK)
	{
		const char *msg = curl_url_strerror(rc);

		curl_url_cleanup(h);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not build the campaign url: %s", msg)));
	}
	result = cstring_to_text(out);
	curl_free(out);
	curl_url_cleanup(h);
	PG_RETURN_TEXT_P(result);
}
