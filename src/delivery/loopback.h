/*
 * loopback.h
 *		Is a host, or an address a socket is about to connect to, on the
 *		loopback interface?  Pure C (no server headers): fuzzed on its own.
 */
#ifndef ATTR_LOOPBACK_H
#define ATTR_LOOPBACK_H

#include <stdbool.h>
#include <sys/socket.h>

extern bool LoopbackHostName(const char *host);
extern bool LoopbackAddress(const struct sockaddr *addr, socklen_t len);

#endif							/* ATTR_LOOPBACK_H */
