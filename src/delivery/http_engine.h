/*
 * http_engine.h
 *		One long-lived libcurl multi handle, driven from the worker's
 *		WaitEventSet.
 */
#ifndef ATTR_HTTP_ENGINE_H
#define ATTR_HTTP_ENGINE_H

#include <curl/curl.h>

#include "storage/latch.h"

#define HTTP_MAX_RESPONSE	(1024 * 1024)

/*
 * One request.  libcurl owns malloc'd memory, so the request and everything
 * it points to are malloc'd too and freed by HttpRequestFree on every path.
 */
typedef struct HttpRequest
{
	CURL	   *easy;
	struct curl_slist *headers;
	char	   *url;
	char	   *body;
	size_t		body_len;
	char	   *resp;
	size_t		resp_len;
	size_t		resp_cap;
	long		http_status;
	CURLcode	result;
	char		errbuf[CURL_ERROR_SIZE];
	double		retry_after_s;	/* Retry-After header, -1 when absent */
	char		request_id[128];	/* platform request id header */
	int64		started_us;
	double		latency_ms;
	void	   *owner;
} HttpRequest;

extern void HttpEngineInit(void);
extern void HttpEngineShutdown(void);
extern HttpRequest *HttpRequestCreate(void *owner);
extern void HttpRequestFree(HttpRequest *req);
extern void HttpAddHeader(HttpRequest *req, const char *name, const char *value);
extern void HttpSetUrl(HttpRequest *req, const char *url);
extern void HttpSetBody(HttpRequest *req, const char *data, size_t len);
extern bool HttpStart(HttpRequest *req, char *why, size_t whylen);
extern bool HttpUrlAllowed(const char *url, char *why, size_t whylen);
extern int	HttpInFlight(void);
extern int	HttpSocketCount(void);
extern void HttpAddWaitEvents(WaitEventSet *set);
extern long HttpTimeoutMs(void);
extern void HttpSocketEvent(pgsocket fd, uint32 events);
extern void HttpDrive(void);
extern HttpRequest *HttpNextDone(void);

#endif							/* ATTR_HTTP_ENGINE_H */
