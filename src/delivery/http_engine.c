/*
 * http_engine.c
 *		HTTP for the delivery worker: one long-lived libcurl multi handle.
 *
 * The worker never blocks in libcurl.  libcurl tells us, through its socket
 * and timer callbacks, which sockets it waits on and when it needs a
 * timeout; the worker adds those sockets to the WaitEventSet that also holds
 * its latch and the postmaster-death event, so SIGTERM, SIGHUP and a dying
 * postmaster are seen while requests are in flight.  One multi handle keeps
 * connections (and HTTP/2 streams) alive across requests.
 *
 * Security: https only, except plain http to a loopback address when the
 * superuser setting pg_attribution.allow_http_loopback is on; no redirects;
 * connect and total timeouts; verbose output is never turned on (it would
 * print the Authorization header).  URLs are not logged either: Meta's
 * carries the access token.
 */
#include "postgres.h"

#include <time.h>

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/timestamp.h"

#include "delivery/delivery.h"
#include "delivery/http_engine.h"
#include "delivery/loopback.h"

typedef struct HttpSocket
{
	curl_socket_t fd;
	int			what;			/* CURL_POLL_IN, _OUT or _INOUT */
} HttpSocket;

static CURLM *multi = NULL;
static HttpSocket *sockets = NULL;
static int	nsockets = 0;
static int	maxsockets = 0;
static int64 timer_deadline_us = -1;	/* -1: libcurl wants no timeout */
static int	in_flight = 0;

static int64
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* libcurl: start, change or stop watching a socket. */
static int
socket_cb(CURL *easy pg_attribute_unused(), curl_socket_t s, int what,
		  void *userp pg_attribute_unused(), void *socketp pg_attribute_unused())
{
	int			i;

	for (i = 0; i < nsockets; i++)
		if (sockets[i].fd == s)
			break;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < nsockets)
			sockets[i] = sockets[--nsockets];
		return 0;
	}
	if (i == nsockets)
	{
		if (nsockets == maxsockets)
		{
			int			newmax = maxsockets ? maxsockets * 2 : 16;
			HttpSocket *grown = realloc(sockets, newmax * sizeof(HttpSocket));

			if (grown == NULL)
				return -1;
			sockets = grown;
			maxsockets = newmax;
		}
		sockets[nsockets].fd = s;
		nsockets++;
	}
	sockets[i].what = what;
	return 0;
}

/* libcurl: when it next needs to be driven without socket activity. */
static int
timer_cb(CURLM *m pg_attribute_unused(), long timeout_ms, void *userp pg_attribute_unused())
{
	timer_deadline_us = timeout_ms < 0 ? -1 : now_us() + (int64) timeout_ms * 1000;
	return 0;
}

void
HttpEngineInit(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(FATAL,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize libcurl")));
	multi = curl_multi_init();
	if (multi == NULL)
		ereport(FATAL,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl multi handle")));
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(multi, CURLMOPT_PIPELINING, (long) CURLPIPE_MULTIPLEX);
	curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long) attr_total_in_flight);
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) Max(attr_total_in_flight, 8));
}

void
HttpEngineShutdown(void)
{
	if (multi != NULL)
		curl_multi_cleanup(multi);
	multi = NULL;
	free(sockets);
	sockets = NULL;
	nsockets = maxsockets = 0;
}

HttpRequest *
HttpRequestCreate(void *owner)
{
	HttpRequest *req = calloc(1, sizeof(HttpRequest));

	if (req == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	req->owner = owner;
	req->retry_after_s = -1;
	return req;
}

void
HttpRequestFree(HttpRequest *req)
{
	if (req == NULL)
		return;
	if (req->easy != NULL)
	{
		if (multi != NULL)
			curl_multi_remove_handle(multi, req->easy);
		curl_easy_cleanup(req->easy);
	}
	curl_slist_free_all(req->headers);
	free(req->url);
	free(req->body);
	free(req->resp);
	free(req);
}

/* Add "name: value"; the header list is malloc'd by libcurl. */
void
HttpAddHeader(HttpRequest *req, const char *name, const char *value)
{
	size_t		len = strlen(name) + strlen(value) + 3;
	char	   *line = malloc(len);
	struct curl_slist *l;

	if (line == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	snprintf(line, len, "%s: %s", name, value);
	l = curl_slist_append(req->headers, line);
	explicit_bzero(line, len);
	free(line);
	if (l == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	req->headers = l;
}

void
HttpSetUrl(HttpRequest *req, const char *url)
{
	free(req->url);
	req->url = strdup(url);
	if (req->url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
}

void
HttpSetBody(HttpRequest *req, const char *data, size_t len)
{
	free(req->body);
	req->body = malloc(len + 1);
	if (req->body == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	memcpy(req->body, data, len);
	req->body[len] = '\0';
	req->body_len = len;
}

/*
 * libcurl: open the socket of a plain-http request only when the address
 * it resolved to is on loopback (see loopback.c).
 */
static curl_socket_t
loopback_socket_cb(void *clientp pg_attribute_unused(), curlsocktype purpose pg_attribute_unused(),
				   struct curl_sockaddr *address)
{
	if (!LoopbackAddress(&address->addr, address->addrlen))
		return CURL_SOCKET_BAD;
	return socket(address->family, address->socktype, address->protocol);
}

/*
 * Is the URL one the worker may call?  https anywhere; http only to loopback
 * and only when the superuser allowed it.  why gets a reason without the URL
 * (its query string may carry a token).
 */
bool
HttpUrlAllowed(const char *url, char *why, size_t whylen)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	bool		ok = false;

	if (u == NULL)
	{
		snprintf(why, whylen, "out of memory");
		return false;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		snprintf(why, whylen, "endpoint is not a valid URL");
	else if (pg_strcasecmp(scheme, "https") == 0)
		ok = true;
	else if (pg_strcasecmp(scheme, "http") != 0)
		snprintf(why, whylen, "endpoint scheme \"%s\" is not https", scheme);
	else if (!LoopbackHostName(host))
		snprintf(why, whylen, "plain http is only allowed to a loopback address");
	else if (!attr_allow_http_loopback)
		snprintf(why, whylen, "plain http to loopback needs pg_attribution.allow_http_loopback");
	else
		ok = true;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	HttpRequest *req = userdata;
	size_t		n = size * nmemb;
	size_t		keep = n;

	/* Bodies past the cap are read and dropped: outcomes need the start. */
	if (req->resp_len + keep > HTTP_MAX_RESPONSE)
		keep = HTTP_MAX_RESPONSE - req->resp_len;
	if (keep > 0)
	{
		if (req->resp_len + keep + 1 > req->resp_cap)
		{
			size_t		cap = Max(req->resp_cap * 2, req->resp_len + keep + 1);
			char	   *grown = realloc(req->resp, Max(cap, 1024));

			if (grown == NULL)
				return 0;		/* libcurl fails the transfer */
			req->resp = grown;
			req->resp_cap = Max(cap, 1024);
		}
		memcpy(req->resp + req->resp_len, ptr, keep);
		req->resp_len += keep;
		req->resp[req->resp_len] = '\0';
	}
	return n;
}

/*
 * Keep Retry-After and the platform's request id from the last response's
 * headers (after a 100 Continue, the final one's), read through libcurl:
 * CURLINFO_RETRY_AFTER takes both the seconds and the HTTP-date form.
 */
static void
read_headers(HttpRequest *req)
{
	static const char *const id_headers[] = {
		"request-id", "x-request-id", "x-fb-trace-id", "x-li-uuid", "x-tt-logid"
	};
	curl_off_t	after = 0;

	req->retry_after_s = -1;
	if (curl_easy_getinfo(req->easy, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
		req->retry_after_s = Min((double) after, 86400.0);
	req->request_id[0] = '\0';
	for (int i = 0; i < (int) lengthof(id_headers); i++)
	{
		struct curl_header *h;

		if (curl_easy_header(req->easy, id_headers[i], 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		{
			strlcpy(req->request_id, h->value, sizeof(req->request_id));
			break;
		}
	}
}

/*
 * Hand a prepared request to the multi handle.  Returns false, with a reason
 * in why, when the URL is not allowed or libcurl refuses it.
 */
bool
HttpStart(HttpRequest *req, char *why, size_t whylen)
{
	bool		plain_http;

	if (req->url == NULL || !HttpUrlAllowed(req->url, why, whylen))
		return false;
	plain_http = pg_strncasecmp(req->url, "http:", 5) == 0;

	req->easy = curl_easy_init();
	if (req->easy == NULL)
	{
		snprintf(why, whylen, "could not create a libcurl handle");
		return false;
	}
	/* No Expect: 100-continue round trip before large bodies. */
	req->headers = curl_slist_append(req->headers, "Expect:");
	if (req->headers == NULL)
	{
		snprintf(why, whylen, "out of memory");
		return false;
	}

	curl_easy_setopt(req->easy, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(req->easy, CURLOPT_URL, req->url);
	if (req->body != NULL)
	{
		curl_easy_setopt(req->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(req->easy, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
	}
	else
		curl_easy_setopt(req->easy, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, req->headers);
	curl_easy_setopt(req->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(req->easy, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(req->easy, CURLOPT_PRIVATE, req);
	curl_easy_setopt(req->easy, CURLOPT_ERRORBUFFER, req->errbuf);
	curl_easy_setopt(req->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(req->easy, CURLOPT_FOLLOWLOCATION, 0L);
	if (plain_http)
		curl_easy_setopt(req->easy, CURLOPT_OPENSOCKETFUNCTION, loopback_socket_cb);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(req->easy, CURLOPT_PROTOCOLS_STR, plain_http ? "http" : "https");
#else
	curl_easy_setopt(req->easy, CURLOPT_PROTOCOLS, plain_http ? CURLPROTO_HTTP : CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(req->easy, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(req->easy, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(req->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(req->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) attr_connect_timeout_ms);
	curl_easy_setopt(req->easy, CURLOPT_TIMEOUT_MS, (long) attr_request_timeout_ms);
	curl_easy_setopt(req->easy, CURLOPT_USERAGENT, "pg_attribution/" "0.1.0");
	if (attr_ca_file != NULL && attr_ca_file[0] != '\0')
		curl_easy_setopt(req->easy, CURLOPT_CAINFO, attr_ca_file);

	req->started_us = now_us();
	if (curl_multi_add_handle(multi, req->easy) != CURLM_OK)
	{
		snprintf(why, whylen, "could not add the request to the libcurl multi handle");
		return false;
	}
	in_flight++;
	return true;
}

int
HttpInFlight(void)
{
	return in_flight;
}

int
HttpSocketCount(void)
{
	return nsockets;
}

/* Add the sockets libcurl waits on to a WaitEventSet. */
void
HttpAddWaitEvents(WaitEventSet *set)
{
	for (int i = 0; i < nsockets; i++)
	{
		uint32		events = 0;

		if (sockets[i].what & CURL_POLL_IN)
			events |= WL_SOCKET_READABLE;
		if (sockets[i].what & CURL_POLL_OUT)
			events |= WL_SOCKET_WRITEABLE;
		if (events != 0)
			AddWaitEventToSet(set, events, sockets[i].fd, NULL, NULL);
	}
}

/* How long the worker may sleep as far as libcurl is concerned (-1: no limit). */
long
HttpTimeoutMs(void)
{
	int64		left;

	if (timer_deadline_us < 0)
		return -1;
	left = timer_deadline_us - now_us();
	if (left <= 0)
		return 0;
	return (long) ((left + 999) / 1000);
}

/* A socket libcurl waits on is ready. */
void
HttpSocketEvent(pgsocket fd, uint32 events)
{
	int			mask = 0;
	int			running;

	if (events & WL_SOCKET_READABLE)
		mask |= CURL_CSELECT_IN;
	if (events & WL_SOCKET_WRITEABLE)
		mask |= CURL_CSELECT_OUT;
	curl_multi_socket_action(multi, fd, mask, &running);
}

/* Run libcurl's timeout processing when its timer is due. */
void
HttpDrive(void)
{
	int			running;

	if (timer_deadline_us >= 0 && now_us() >= timer_deadline_us)
	{
		timer_deadline_us = -1;
		curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
}

/* The next finished request, detached from the multi handle, or NULL. */
HttpRequest *
HttpNextDone(void)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
	{
		HttpRequest *req = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &req);
		req->result = msg->data.result;
		curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &req->http_status);
		read_headers(req);
		req->latency_ms = (now_us() - req->started_us) / 1000.0;
		curl_multi_remove_handle(multi, req->easy);
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
		in_flight--;
		return req;
	}
	return NULL;
}
