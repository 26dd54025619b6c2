/*
 * fuzz_body_hmac.c
 *		libFuzzer target: digest-of-body headers ("sha256=<hex>", base64,
 *		"sha1=" variant) and shared-secret headers (Bearer, Basic, bare).
 *
 * The first input byte picks the configuration and a split point between
 * header and body.  Also checks the decoders: hex and base64 never write
 * past their buffer and decode what they accept to the expected length.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "ingest/signature.h"

static const unsigned char secret_a[] = "mm_test_secret";
static const unsigned char secret_b[] = "fb_test_secret_key";

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	SigConfig	cfg;
	SigSecret	secrets[2] = {
		{secret_a, sizeof(secret_a) - 1},
		{secret_b, sizeof(secret_b) - 1}
	};
	unsigned char buf[40];
	const char *header;
	size_t		header_len;
	const unsigned char *body;
	size_t		body_len;
	uint8_t		mode;
	int			n;
	SigResult	r;

	if (size < 2)
		return 0;
	mode = data[0];
	header = (const char *) data + 2;
	header_len = size - 2;
	{
		size_t		split = (size_t) data[1] % (header_len + 1);

		body = (const unsigned char *) header + split;
		body_len = header_len - split;
		header_len = split;
	}

	n = SigHexDecode(header, header_len, buf, sizeof(buf));
	assert(n == -1 || (size_t) n * 2 == header_len);
	n = SigBase64Decode(header, header_len, buf, sizeof(buf));
	assert(n >= -1 && n <= (int) sizeof(buf));

	memset(&cfg, 0, sizeof(cfg));
	cfg.scheme = (mode & 3) == 3 ? SIG_SCHEME_SHARED_SECRET : SIG_SCHEME_HMAC;
	cfg.algorithm = (mode & 4) ? SIG_ALG_SHA1 : SIG_ALG_SHA256;
	cfg.encoding = (SigEncoding) ((mode >> 3) % 3);
	cfg.prefix = (mode & 32) ? "sha256=" : NULL;
	cfg.allow_sha1_prefix = (mode & 64) != 0;
	cfg.tolerance = -1;
	r = SigVerify(&cfg, header, header_len, body, body_len, secrets, 2, 0, NULL);
	assert(r != SIG_ERROR && r != SIG_STALE);
	(void) SigSecretEquals((const unsigned char *) header, header_len, body, body_len);
	return 0;
}
