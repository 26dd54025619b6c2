/*
 * fuzz_body_hmac.c
 *		libFuzzer target: digest-of-body headers ("sha256=<hex>", base64,
 *		"sha1=" variant) and shared-secret headers (Bearer, Basic, bare).
 *
 * The first input byte picks the configuration and a split point between
 * header and body.  Also checks the decoders: hex and base64 never write
 * past their buffer and decode what they accept to the expected length.
 * Then the body is signed as the provider would (sig_build.h): that header
 * must verify, and the same header with one digest byte changed, or the
 * body with one byte changed, must not.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/signature.h"
#include "sig_build.h"

static const unsigned char secret_a[] = "mm_test_secret";
static const unsigned char secret_b[] = "fb_test_secret_key";

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The header a provider would send for body under cfg, into out. */
static void
sign(const SigConfig *cfg, const SigSecret *secret, int base64, int flip,
	 const unsigned char *body, size_t body_len, char *out)
{
	unsigned char mac[64];
	unsigned int n;
	char		enc[130];

	if (cfg->scheme == SIG_SCHEME_SHARED_SECRET)
	{
		snprintf(out, 200, "Bearer %.*s", (int) secret->len, secret->key);
		if (flip >= 0)
			out[7 + flip % secret->len] ^= 0x01;
		return;
	}
	n = fuzz_hmac2(cfg->algorithm == SIG_ALG_SHA1, secret->key, secret->len,
				   body, body_len, NULL, 0, mac);
	if (flip >= 0)
		mac[flip % n] ^= (unsigned char) (1 + flip / n % 255);
	if (base64)
		fuzz_base64(mac, n, enc);
	else
		fuzz_hex(mac, n, enc);
	snprintf(out, 200, "%s%s", cfg->prefix ? cfg->prefix : "", enc);
}

/*
 * A correctly signed body verifies (with either secret); a changed digest
 * byte or a changed body byte does not.
 */
static void
check_signed(const SigConfig *cfg, const SigSecret *secrets, uint8_t mode, uint8_t pick,
			 const unsigned char *body, size_t body_len)
{
	const SigSecret *secret = &secrets[(mode >> 7) & 1];
	int			base64 = cfg->encoding == SIG_ENC_BASE64 ||
		(cfg->encoding == SIG_ENC_AUTO && (pick & 1));
	char		header[200];
	unsigned char *changed;

	sign(cfg, secret, base64, -1, body, body_len, header);
	assert(SigVerify(cfg, header, strlen(header), body, body_len, secrets, 2, 0, NULL) == SIG_OK);

	sign(cfg, secret, base64, pick, body, body_len, header);
	assert(SigVerify(cfg, header, strlen(header), body, body_len, secrets, 2, 0, NULL) != SIG_OK);

	if (body_len == 0 || cfg->scheme == SIG_SCHEME_SHARED_SECRET)
		return;
	sign(cfg, secret, base64, -1, body, body_len, header);
	changed = malloc(body_len);
	memcpy(changed, body, body_len);
	changed[pick % body_len] ^= 0x01;
	assert(SigVerify(cfg, header, strlen(header), changed, body_len, secrets, 2, 0, NULL) != SIG_OK);
	free(changed);
}

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

	check_signed(&cfg, secrets, mode, data[1], body, body_len);
	return 0;
}
