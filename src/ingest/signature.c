/*
 * signature.c
 *		Webhook signature schemes: header parsers and HMAC verification.
 *
 * Signatures are checked on the raw body bytes before anything parses the
 * body.  Every comparison of a digest or a secret goes through
 * CRYPTO_memcmp over fixed-length values, so timing tells an attacker
 * nothing about how much of a forged signature was right.  Digests in hex
 * are decoded to bytes first, which makes the comparison case-insensitive.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>
#include <openssl/params.h>
#else
#include <openssl/hmac.h>
#endif

#include "ingest/signature.h"

#define SIG_MAX_DIGEST 32		/* SHA-256 */

static bool
IsSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
Trim(const char **s, size_t *len)
{
	while (*len > 0 && IsSpace(**s))
		(*s)++, (*len)--;
	while (*len > 0 && IsSpace((*s)[*len - 1]))
		(*len)--;
}

static int
HexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode hex digits (either case) into out; -1 unless the input is an even
 * number of hex digits that fits.
 */
int
SigHexDecode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
	if (len % 2 != 0 || len / 2 > outcap)
		return -1;
	for (size_t i = 0; i < len; i += 2)
	{
		int			hi = HexValue(in[i]);
		int			lo = HexValue(in[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char) ((hi << 4) | lo);
	}
	return (int) (len / 2);
}

static int
Base64Value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/*
 * Decode standard or URL-safe base64, padding optional; -1 on any stray
 * character, misplaced padding, non-zero trailing bits or overflow.
 */
int
SigBase64Decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
	uint32_t	acc = 0;
	int			bits = 0;
	size_t		n = 0;
	size_t		pad = 0;

	while (pad < len && pad < 2 && in[len - 1 - pad] == '=')
		pad++;
	if (pad > 0 && (len % 4) != 0)
		return -1;
	len -= pad;
	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++)
	{
		int			v = Base64Value(in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			if (n >= outcap)
				return -1;
			out[n++] = (unsigned char) (acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero, or two encodings would mean one digest. */
	if (acc != 0)
		return -1;
	if (pad > 0 && (len + pad) % 4 != 0)
		return -1;
	return (int) n;
}

/*
 * HMAC of the concatenation of nparts byte strings.  Returns the digest
 * length, or 0 if OpenSSL failed.
 */
static unsigned int
Hmac(SigAlgorithm alg, const SigSecret *key, const void *const *parts,
	 const size_t *lens, int nparts, unsigned char *out)
{
	unsigned int result = 0;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	static EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx;
	OSSL_PARAM	params[2];
	size_t		outlen = 0;

	if (mac == NULL && (mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return 0;
	if ((ctx = EVP_MAC_CTX_new(mac)) == NULL)
		return 0;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
												 alg == SIG_ALG_SHA1 ? "SHA1" : "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	/* An empty key is legal HMAC, but OpenSSL wants a non-NULL pointer. */
	if (EVP_MAC_init(ctx, key->len > 0 ? key->key : (const unsigned char *) "", key->len, params))
	{
		bool		ok = true;

		for (int i = 0; i < nparts && ok; i++)
			ok = EVP_MAC_update(ctx, parts[i], lens[i]) == 1;
		if (ok && EVP_MAC_final(ctx, out, &outlen, SIG_MAX_DIGEST) == 1)
			result = (unsigned int) outlen;
	}
	EVP_MAC_CTX_free(ctx);
#else
	HMAC_CTX   *ctx = HMAC_CTX_new();

	if (ctx == NULL)
		return 0;
	if (HMAC_Init_ex(ctx, key->key, (int) key->len,
					 alg == SIG_ALG_SHA1 ? EVP_sha1() : EVP_sha256(), NULL))
	{
		bool		ok = true;

		for (int i = 0; i < nparts && ok; i++)
			ok = HMAC_Update(ctx, parts[i], lens[i]) == 1;
		if (ok && HMAC_Final(ctx, out, &result) != 1)
			result = 0;
	}
	HMAC_CTX_free(ctx);
#endif
	return result;
}

/*
 * Equality of two byte strings of any lengths in time independent of their
 * contents: compares their SHA-256 digests, so that even the length of a
 * shared secret is not revealed by an early exit.
 */
bool
SigSecretEquals(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	unsigned char da[SIG_MAX_DIGEST];
	unsigned char db[SIG_MAX_DIGEST];
	unsigned int la = 0;
	unsigned int lb = 0;

	if (!EVP_Digest(a, alen, da, &la, EVP_sha256(), NULL) ||
		!EVP_Digest(b, blen, db, &lb, EVP_sha256(), NULL) || la != lb)
		return false;
	return CRYPTO_memcmp(da, db, la) == 0 && alen == blen;
}

/* Case-insensitive match of a key of an item against an ASCII literal. */
static bool
KeyIs(const char *s, size_t len, const char *lit)
{
	size_t		n = strlen(lit);

	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		char		c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char) (c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

/*
 * Parse "<ts_key>=<digits><sep><sig_key>=<sig>..." (Stripe's "t=..,v1=..",
 * Paddle's "ts=..;h1=..").  Items split on sep, then on the first '='; blanks
 * around items are ignored, unknown keys (Stripe's v0) skipped.  The first
 * timestamp wins; up to SIG_MAX_SIGNATURES signatures are kept.
 */
SigResult
SigParseTimestamped(const char *header, size_t len, char item_sep,
					const char *ts_key, const char *sig_key,
					SigTimestampedHeader *out)
{
	size_t		pos = 0;

	memset(out, 0, sizeof(*out));
	Trim(&header, &len);
	if (len == 0)
		return SIG_MISSING;

	while (pos <= len)
	{
		const char *item = header + pos;
		const char *end = memchr(item, item_sep, len - pos);
		size_t		ilen = end ? (size_t) (end - item) : len - pos;
		const char *eq;
		const char *val;
		size_t		klen;
		size_t		vlen;

		pos += ilen + 1;
		Trim(&item, &ilen);
		eq = memchr(item, '=', ilen);
		if (eq == NULL)
			continue;
		klen = (size_t) (eq - item);
		val = eq + 1;
		vlen = ilen - klen - 1;
		Trim(&item, &klen);
		Trim(&val, &vlen);

		if (KeyIs(item, klen, ts_key))
		{
			int64_t		v = 0;

			if (out->ts != NULL)
				continue;
			if (vlen == 0 || vlen > SIG_MAX_TIMESTAMP_DIGITS)
				return SIG_MALFORMED;
			for (size_t i = 0; i < vlen; i++)
			{
				if (val[i] < '0' || val[i] > '9')
					return SIG_MALFORMED;
				v = v * 10 + (val[i] - '0');
			}
			out->ts = val;
			out->ts_len = vlen;
			out->ts_value = v;
		}
		else if (KeyIs(item, klen, sig_key) && out->nsigs < SIG_MAX_SIGNATURES)
		{
			out->sigs[out->nsigs] = val;
			out->sig_lens[out->nsigs] = vlen;
			out->nsigs++;
		}
	}
	if (out->ts == NULL)
		return SIG_MALFORMED;
	if (out->nsigs == 0)
		return SIG_NO_SIGNATURE;
	return SIG_OK;
}

/* Stripe and Paddle: HMAC-SHA256 of "<ts><sep><body>", hex, any signature. */
static SigResult
VerifyTimestamped(const SigConfig *cfg, const char *header, size_t header_len,
				  const unsigned char *body, size_t body_len,
				  const SigSecret *secrets, int nsecrets, int64_t now, int64_t *timestamp)
{
	SigTimestampedHeader h;
	SigResult	r;
	unsigned char sigs[SIG_MAX_SIGNATURES][SIG_MAX_DIGEST];
	bool		usable[SIG_MAX_SIGNATURES];
	bool		any_usable = false;
	bool		matched = false;
	const char *sep = cfg->scheme == SIG_SCHEME_STRIPE ? "." : ":";

	if (cfg->scheme == SIG_SCHEME_STRIPE)
		r = SigParseTimestamped(header, header_len, ',', "t", "v1", &h);
	else
		r = SigParseTimestamped(header, header_len, ';', "ts", "h1", &h);
	if (r != SIG_OK)
		return r;
	*timestamp = h.ts_value;

	for (int i = 0; i < h.nsigs; i++)
	{
		usable[i] = SigHexDecode(h.sigs[i], h.sig_lens[i], sigs[i], SIG_MAX_DIGEST) == 32;
		any_usable |= usable[i];
	}
	if (!any_usable)
		return SIG_BAD_ENCODING;

	for (int k = 0; k < nsecrets; k++)
	{
		const void *parts[3] = {h.ts, sep, body};
		size_t		lens[3] = {h.ts_len, 1, body_len};
		unsigned char mac[SIG_MAX_DIGEST];

		if (Hmac(SIG_ALG_SHA256, &secrets[k], parts, lens, 3, mac) != 32)
			return SIG_ERROR;
		/* Look at every signature, so timing does not tell which matched. */
		for (int i = 0; i < h.nsigs; i++)
			if (usable[i] && CRYPTO_memcmp(mac, sigs[i], 32) == 0)
				matched = true;
	}
	if (!matched)
		return SIG_MISMATCH;
	/* Old timestamps are replays; future ones are clock skew (as the SDKs). */
	if (cfg->tolerance >= 0 && now - h.ts_value > cfg->tolerance)
		return SIG_STALE;
	return SIG_OK;
}

/* One digest of the body in hex or base64, possibly behind a prefix. */
static SigResult
VerifyBodyHmac(const SigConfig *cfg, const char *header, size_t header_len,
			   const unsigned char *body, size_t body_len,
			   const SigSecret *secrets, int nsecrets)
{
	SigAlgorithm alg = cfg->algorithm;
	SigEncoding enc = cfg->encoding;
	unsigned char sig[SIG_MAX_DIGEST];
	size_t		want = cfg->algorithm == SIG_ALG_SHA1 ? 20 : 32;
	int			got = -1;
	bool		matched = false;

	Trim(&header, &header_len);
	if (header_len == 0)
		return SIG_MISSING;
	if (cfg->allow_sha1_prefix && header_len > 5 && KeyIs(header, 5, "sha1="))
	{
		alg = SIG_ALG_SHA1;
		enc = SIG_ENC_HEX;
		want = 20;
		header += 5, header_len -= 5;
	}
	else if (cfg->prefix != NULL && cfg->prefix[0] != '\0' &&
			 header_len >= strlen(cfg->prefix) &&
			 KeyIs(header, strlen(cfg->prefix), cfg->prefix))
	{
		header += strlen(cfg->prefix);
		header_len -= strlen(cfg->prefix);
	}

	if (enc == SIG_ENC_HEX || (enc == SIG_ENC_AUTO && header_len == 2 * want))
		got = SigHexDecode(header, header_len, sig, sizeof(sig));
	else
		got = SigBase64Decode(header, header_len, sig, sizeof(sig));
	if (got != (int) want)
		return SIG_BAD_ENCODING;

	for (int k = 0; k < nsecrets; k++)
	{
		const void *parts[1] = {body};
		size_t		lens[1] = {body_len};
		unsigned char mac[SIG_MAX_DIGEST];

		if (Hmac(alg, &secrets[k], parts, lens, 1, mac) != want)
			return SIG_ERROR;
		if (CRYPTO_memcmp(mac, sig, want) == 0)
			matched = true;
	}
	return matched ? SIG_OK : SIG_MISMATCH;
}

/*
 * The secret itself in a header: "Bearer <secret>", "Basic base64(<secret>:)"
 * (the secret as user name, as password or alone), or the bare secret in a
 * custom header.  An empty user or password never matches: secrets are not
 * empty.
 */
static SigResult
VerifySharedSecret(const char *header, size_t header_len,
				   const SigSecret *secrets, int nsecrets)
{
	const unsigned char *token;
	size_t		token_len;
	unsigned char decoded[1024];
	bool		basic = false;
	bool		matched = false;

	Trim(&header, &header_len);
	if (header_len == 0)
		return SIG_MISSING;
	token = (const unsigned char *) header;
	token_len = header_len;
	if (header_len > 7 && KeyIs(header, 7, "bearer "))
	{
		const char *t = header + 7;
		size_t		tl = header_len - 7;

		Trim(&t, &tl);
		token = (const unsigned char *) t;
		token_len = tl;
	}
	else if (header_len > 6 && KeyIs(header, 6, "basic "))
	{
		const char *t = header + 6;
		size_t		tl = header_len - 6;
		int			n;

		Trim(&t, &tl);
		n = SigBase64Decode(t, tl, decoded, sizeof(decoded));
		if (n < 0)
			return SIG_BAD_ENCODING;
		token = decoded;
		token_len = (size_t) n;
		basic = true;
	}

	for (int k = 0; k < nsecrets; k++)
	{
		if (SigSecretEquals(token, token_len, secrets[k].key, secrets[k].len))
			matched = true;
		if (basic)
		{
			const unsigned char *colon = memchr(token, ':', token_len);

			/* Basic "<user>:<password>": the secret as user or as password. */
			if (colon != NULL &&
				(SigSecretEquals(token, (size_t) (colon - token), secrets[k].key, secrets[k].len) ||
				 SigSecretEquals(colon + 1, token_len - (size_t) (colon - token) - 1,
								 secrets[k].key, secrets[k].len)))
				matched = true;
		}
	}
	return matched ? SIG_OK : SIG_MISMATCH;
}

/*
 * Verify one header value of a webhook against the active secrets of its
 * source; any secret matching is enough.  now and *timestamp are Unix
 * seconds; *timestamp is set when the header carries one.
 */
SigResult
SigVerify(const SigConfig *cfg, const char *header, size_t header_len,
		  const unsigned char *body, size_t body_len,
		  const SigSecret *secrets, int nsecrets, int64_t now, int64_t *timestamp)
{
	int64_t		ts_unused;

	if (timestamp == NULL)
		timestamp = &ts_unused;
	*timestamp = -1;
	if (header == NULL)
		return SIG_MISSING;
	switch (cfg->scheme)
	{
		case SIG_SCHEME_STRIPE:
		case SIG_SCHEME_PADDLE:
			return VerifyTimestamped(cfg, header, header_len, body, body_len,
									 secrets, nsecrets, now, timestamp);
		case SIG_SCHEME_HMAC:
			return VerifyBodyHmac(cfg, header, header_len, body, body_len, secrets, nsecrets);
		case SIG_SCHEME_SHARED_SECRET:
			return VerifySharedSecret(header, header_len, secrets, nsecrets);
	}
	return SIG_ERROR;
}

const char *
SigResultName(SigResult r)
{
	switch (r)
	{
		case SIG_OK:
			return "ok";
		case SIG_STALE:
			return "stale_timestamp";
		case SIG_MISMATCH:
			return "bad_signature";
		case SIG_BAD_ENCODING:
		case SIG_MALFORMED:
			return "malformed_signature";
		case SIG_NO_SIGNATURE:
		case SIG_MISSING:
			return "missing_signature";
		case SIG_ERROR:
			return "internal_error";
	}
	return "internal_error";
}
