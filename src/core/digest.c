/*
 * digest.c
 *		SHA-256 through OpenSSL, as lowercase hex.
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "core/digest.h"

/*
 * SHA-256 of data as 64 lowercase hex digits and a terminating NUL.
 */
void
Sha256Hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a SHA-256 digest")));
	for (unsigned int i = 0; i < mdlen; i++)
	{
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[SHA256_HEX_LEN] = '\0';
}
