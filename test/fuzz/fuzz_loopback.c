/*
 * fuzz_loopback.c
 *		libFuzzer harness for the plain-http loopback test
 *		(src/delivery/loopback.c).
 *
 * Host names: whatever the bytes, a host is loopback only if it is
 * "localhost" or an address literal that inet_pton reads as 127.0.0.0/8,
 * ::1 or ::ffff:127.x; in particular no name that merely starts with
 * "127." (127.0.0.1.nip.io) passes.  Addresses: a socket address built from
 * the bytes is loopback exactly when its first octet is 127 (IPv4) or it is
 * ::1 or v4-mapped 127.x (IPv6).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delivery/loopback.h"

static void
check(int ok)
{
	if (!ok)
		abort();
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		host[128];
	size_t		len = size < sizeof(host) - 1 ? size : sizeof(host) - 1;
	struct in_addr a4;
	struct in6_addr a6;
	bool		yes;

	memcpy(host, data, len);
	host[len] = '\0';
	yes = LoopbackHostName(host);
	if (yes && strcasecmp(host, "localhost") != 0)
	{
		const char *lit = host;
		char		inner[128];
		size_t		l = strlen(host);

		if (l >= 2 && host[0] == '[' && host[l - 1] == ']')
		{
			memcpy(inner, host + 1, l - 2);
			inner[l - 2] = '\0';
			lit = inner;
		}
		if (inet_pton(AF_INET, lit, &a4) == 1)
			check((ntohl(a4.s_addr) >> 24) == 127);
		else
			check(inet_pton(AF_INET6, lit, &a6) == 1 &&
				  (IN6_IS_ADDR_LOOPBACK(&a6) ||
				   (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127)));
	}
	/* a name under a loopback-looking prefix is never loopback */
	if (len + 8 < sizeof(host))
	{
		char		name[136];

		memcpy(name, "127.0.0.1.", 10);
		memcpy(name + 10, host, len + 1);
		if (strchr(host, '.') != NULL || len > 0)
			check(!LoopbackHostName(name) || inet_pton(AF_INET, name, &a4) == 1);
	}

	if (size >= 1 + sizeof(struct in6_addr))
	{
		struct sockaddr_in s4;
		struct sockaddr_in6 s6;

		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		memcpy(&s4.sin_addr, data + 1, 4);
		check(LoopbackAddress((struct sockaddr *) &s4, sizeof(s4)) == (data[1] == 127));
		check(!LoopbackAddress((struct sockaddr *) &s4, sizeof(s4) - 1));

		memset(&s6, 0, sizeof(s6));
		s6.sin6_family = (data[0] & 1) ? AF_INET6 : AF_UNIX;
		memcpy(&s6.sin6_addr, data + 1, sizeof(struct in6_addr));
		check(LoopbackAddress((struct sockaddr *) &s6, sizeof(s6)) ==
			  ((data[0] & 1) && (IN6_IS_ADDR_LOOPBACK(&s6.sin6_addr) ||
								 (IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr) && data[13] == 127))));
	}
	return 0;
}
