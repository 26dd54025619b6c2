/*
 * sig_build.h
 *		For the signature harnesses: sign a body the way a provider does,
 *		independently of src/ingest/signature.c (OpenSSL's one-shot HMAC and
 *		EVP_EncodeBlock), so that a valid signature can be required to verify
 *		and a changed one to fail.
 */
#ifndef FUZZ_SIG_BUILD_H
#define FUZZ_SIG_BUILD_H

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* HMAC of the concatenation a || b; returns the digest length. */
static unsigned int
fuzz_hmac2(int sha1, const unsigned char *key, size_t keylen,
		   const unsigned char *a, size_t alen, const unsigned char *b, size_t blen,
		   unsigned char *out)
{
	unsigned char *msg = malloc(alen + blen + 1);
	unsigned int len = 0;

	memcpy(msg, a, alen);
	if (blen > 0)
		memcpy(msg + alen, b, blen);
	HMAC(sha1 ? EVP_sha1() : EVP_sha256(), key, (int) keylen, msg, alen + blen, out, &len);
	free(msg);
	return len;
}

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
static void
fuzz_hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
	out[2 * n] = '\0';
}

/* Standard base64 with padding into out (4 * ((n + 2) / 3) + 1 bytes). */
static void
fuzz_base64(const unsigned char *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *) out, in, (int) n);
}

#endif							/* FUZZ_SIG_BUILD_H */
