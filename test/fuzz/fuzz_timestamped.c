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
#include <stdlib.h>
#include <string.h>

#include "ingest/signature.h"
#include "sig_build.h"

static const unsigned char secret_a[] = "whsec_test_secret_0123456789abcdef";
static const unsigned char secret_b[] = "pdl_ntfset_01testdestination_TESTSECRETKEY0123456789";

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW 1767225600

/*
 * Sign body as Stripe ("t=<ts>,v1=<hex>" over "<ts>.body") or Paddle
 * ("ts=<ts>;h1=<hex>" over "<ts>:body") would, age seconds ago; with flip
 * >= 0 one digest byte is changed.
 */
static void
sign(bool stripe, const SigSecret *secret, int age, int flip,
	 const unsigned char *body, size_t body_len, char *out)
{
	char		ts[32];
	unsigned char mac[32];
	char		hex[65];
	unsigned int n;

	snprintf(ts, sizeof(ts), "%lld%c", (long long) (FUZZ_NOW - age), stripe ? '.' : ':');
	n = fuzz_hmac2(0, secret->key, secret->len, (const unsigned char *) ts, strlen(ts),
				   body, body_len, mac);
	if (flip >= 0)
		mac[flip % n] ^= (unsigned char) (1 + flip / n % 255);
	fuzz_hex(mac, n, hex);
	ts[strlen(ts) - 1] = '\0';
	if (stripe)
		snprintf(out, 128, "t=%s,v1=%s", ts, hex);
	else
		snprintf(out, 128, "ts=%s;h1=%s", ts, hex);
}

/*
 * A body signed within the tolerance verifies with its timestamp; one
 * changed digest byte or body byte fails; one signed too long ago is stale.
 */
static void
check_signed(const SigConfig *cfg, bool stripe, const SigSecret *secrets, uint8_t pick,
			 const unsigned char *body, size_t body_len)
{
	const SigSecret *secret = &secrets[pick & 1];
	int			age = pick % 300;
	char		header[128];
	int64_t		ts = 0;
	unsigned char *changed;

	sign(stripe, secret, age, -1, body, body_len, header);
	assert(SigVerify(cfg, header, strlen(header), body, body_len, secrets, 2, FUZZ_NOW, &ts) == SIG_OK);
	assert(ts == FUZZ_NOW - age);

	sign(stripe, secret, age, pick, body, body_len, header);
	assert(SigVerify(cfg, header, strlen(header), body, body_len, secrets, 2, FUZZ_NOW, &ts) == SIG_MISMATCH);

	sign(stripe, secret, 301 + pick, -1, body, body_len, header);
	assert(SigVerify(cfg, header, strlen(header), body, body_len, secrets, 2, FUZZ_NOW, &ts) == SIG_STALE);

	if (body_len == 0)
		return;
	sign(stripe, secret, age, -1, body, body_len, header);
	changed = malloc(body_len);
	memcpy(changed, body, body_len);
	changed[pick % body_len] ^= 0x01;
	assert(SigVerify(cfg, header, strlen(header), changed, body_len, secrets, 2, FUZZ_NOW, &ts) == SIG_MISMATCH);
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
	r = SigVerify(&cfg, header, header_len, body, body_len, secrets, 2, FUZZ_NOW, &ts);
	assert(r != SIG_ERROR);

	check_signed(&cfg, stripe, secrets, data[0], body, body_len);
	return 0;
}
