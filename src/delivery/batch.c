/*
 * batch.c
 *		One HTTP request per batch: the engine's half.
 *
 * Each outbox row already holds one platform event element, built to the
 * platform's contract when the row was routed; the destination's platform
 * module (src/delivery/platforms/) wraps the elements of a batch in its
 * envelope and names the URL and headers.  Elements are joined by plain
 * concatenation of their JSON text, so nothing is parsed or re-serialised
 * on the hot path.  What every module's assembly shares is in
 * request_kit.c.
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "delivery/delivery.h"
#include "delivery/http_engine.h"
#include "delivery/platforms/platform.h"

/* How many rows one request of the destination carries. */
int
DeliveryRowsPerBatch(Destination *dest)
{
	return Min(dest->batch_size, dest->module->routing.max_batch);
}

/*
 * Fill req with the URL, headers and body of batch (or of the status
 * request of an accepted one).  Strings go through palloc in the caller's
 * (short-lived) context and are copied into the request's malloc'd memory;
 * the URL is wiped since a module may carry a token in it.
 */
void
DeliveryBuildRequest(DeliveryBatch *batch, HttpRequest *req)
{
	const PlatformModule *m = batch->dest->module;
	StringInfoData url;
	StringInfoData body;

	initStringInfo(&url);
	initStringInfo(&body);
	if (batch->status_of != NULL)
		m->build_status_request(batch->dest, batch->status_of, req, &url);
	else
	{
		HttpAddHeader(req, "Content-Type", "application/json");
		m->build_request(batch, req, &url, &body);
		HttpSetBody(req, body.data, body.len);
	}
	HttpSetUrl(req, url.data);
	explicit_bzero(url.data, url.len);
	pfree(url.data);
	pfree(body.data);
}
