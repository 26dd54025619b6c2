/*
 * digest.h
 *		SHA-256 and HMAC-SHA256 through OpenSSL, as lowercase hex.
 */
#ifndef ATTR_DIGEST_H
#define ATTR_DIGEST_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

extern void Sha256Hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);

#endif							/* ATTR_DIGEST_H */
