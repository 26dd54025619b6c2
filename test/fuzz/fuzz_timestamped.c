/*
 * fuzz_timestamped.c
 *		libFuzzer target: Stripe and Paddle signature headers.
 *
 * The first input byte picks the scheme and a split point; the rest is
 * header, then body.  Checks that the parser's results point inside the
 * header and that verification never crashes, whatever the bytes.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "ingest/signature.h"

static const unsigned char secret_a[] = "whsec_test_secret_0123456789abcdef";
static const unsigned char secret_b[] = "pdl_ntfset_01testdestination_TESTSECRETKEY0123456789";

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	SigConfig	cfg;
	SigSecret	secrets[2] = {
		{secret_a, sizeof(secret_a) - 1},
		{secret_b, sizeof(secret_b) - 1}
	};
	SigTimestampedHeader h;
	const char *header;
	size_t		header_len;
	const unsigned char *body;
	size_t		body_len;
	bool		stripe;
	int64_t		ts;
	SigResult	r;

	if (size < 1)
		return 0;
	stripe = (data[0] & 1) != 0;
	header = (const char *) data + 1;
	header_len = size - 1;
	if (header_len > 0)
	{
		size_t		split = (size_t) (data[0] >> 1) % (header_len + 1);

		body = (const unsigned char *) header + split;
		body_len = header_len - split;
		header_len = split;
	}
	else
	{
		body = (const unsigned char *) "";
		body_len = 0;
	}

	r = stripe ? SigParseTimestamped(header, header_len, ',', "t", "v1", &h)
		: SigParseTimestamped(header, header_len, ';', "ts", "h1", &h);
	if (r == SIG_OK || r == SIG_NO_SIGNATURE)
	{
		assert(h.ts >= header && h.ts + h.ts_len <= header + header_len);
		assert(h.ts_len >= 1 && h.ts_len <= SIG_MAX_TIMESTAMP_DIGITS);
		assert(h.ts_value >= 0);
	}
	assert(h.nsigs >= 0 && h.nsigs <= SIG_MAX_SIGNATURES);
	for (int i = 0; i < h.nsigs; i++)
		assert(h.sigs[i] >= header && h.sigs[i] + h.sig_lens[i] <= header + header_len);

	memset(&cfg, 0, sizeof(cfg));
	cfg.scheme = stripe ? SIG_SCHEME_STRIPE : SIG_SCHEME_PADDLE;
	cfg.tolerance = 300;
	r = SigVerify(&cfg, header, header_len, body, body_len, secrets, 2, 1767225600, &ts);
	assert(r != SIG_ERROR);
	return 0;
}
