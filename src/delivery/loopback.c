/*
 * loopback.c
 *		The loopback test behind pg_attribution.allow_http_loopback.
 *
 * Plain http is allowed only to this machine.  A test of the host name by
 * prefix is not one: "127.0.0.1.nip.io" starts with "127." and resolves
 * wherever its owner likes.  So the name must be a loopback address literal
 * (127.0.0.0/8, ::1, ::ffff:127.x) or "localhost", and, because a name is
 * only a claim, the address libcurl actually connects to is checked again
 * when it opens the socket (LoopbackAddress from CURLOPT_OPENSOCKETFUNCTION):
 * a resolver, a hosts file or a proxy setting that leads elsewhere makes the
 * connection fail instead of carrying the request off the machine.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "delivery/loopback.h"

static bool
v4_loopback(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

static bool
v6_loopback(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_LOOPBACK(a))
		return true;
	if (IN6_IS_ADDR_V4MAPPED(a))
		return a->s6_addr[12] == 127;
	return false;
}

/*
 * A host as libcurl's URL parser returns it: a name, a dotted IPv4 literal
 * or a bracketed IPv6 literal (possibly with a zone id, which is refused).
 */
bool
LoopbackHostName(const char *host)
{
	char		buf[64];
	size_t		len;
	struct in_addr a4;
	struct in6_addr a6;

	if (host == NULL)
		return false;
	if (strcasecmp(host, "localhost") == 0)
		return true;
	len = strlen(host);
	if (len >= sizeof(buf))
		return false;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return v4_loopback(&a4);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
	{
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		host = buf;
	}
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return v6_loopback(&a6);
	return false;
}

/* The address a socket is about to connect to. */
bool
LoopbackAddress(const struct sockaddr *addr, socklen_t len)
{
	if (addr == NULL)
		return false;
	if (addr->sa_family == AF_INET && len >= (socklen_t) sizeof(struct sockaddr_in))
		return v4_loopback(&((const struct sockaddr_in *) addr)->sin_addr);
	if (addr->sa_family == AF_INET6 && len >= (socklen_t) sizeof(struct sockaddr_in6))
		return v6_loopback(&((const struct sockaddr_in6 *) addr)->sin6_addr);
	return false;
}
