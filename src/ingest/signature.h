/*
 * signature.h
 *		Webhook signature schemes: header parsers and HMAC verification.
 *
 * Plain C over OpenSSL, free of the server's memory and error machinery, so
 * that the parsers can be fuzzed on their own (test/fuzz).  Inputs are
 * (pointer, length) pairs that need not be NUL-terminated; nothing here
 * allocates.
 */
#ifndef ATTR_SIGNATURE_H
#define ATTR_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most signatures of one header that are looked at (several during rotation). */
#define SIG_MAX_SIGNATURES 16

/* Longest timestamp text accepted, in digits (year 5138 fits in 11). */
#define SIG_MAX_TIMESTAMP_DIGITS 12

typedef enum SigScheme
{
	SIG_SCHEME_STRIPE,			/* t=<unix>,v1=<hex>[,v1=...]: HMAC-SHA256 of "t.body" */
	SIG_SCHEME_PADDLE,			/* ts=<unix>;h1=<hex>[;h1=...]: HMAC-SHA256 of "ts:body" */
	SIG_SCHEME_HMAC,			/* one digest of the body, hex or base64, optional prefix */
	SIG_SCHEME_SHARED_SECRET	/* the secret itself: Bearer, Basic or the bare value */
} SigScheme;

typedef enum SigAlgorithm
{
	SIG_ALG_SHA256,
	SIG_ALG_SHA1
} SigAlgorithm;

typedef enum SigEncoding
{
	SIG_ENC_HEX,
	SIG_ENC_BASE64,
	SIG_ENC_AUTO				/* hex or base64, told apart by length */
} SigEncoding;

typedef struct SigConfig
{
	SigScheme	scheme;
	SigAlgorithm algorithm;		/* SIG_SCHEME_HMAC only */
	SigEncoding encoding;		/* SIG_SCHEME_HMAC only */
	const char *prefix;			/* e.g. "sha256=", stripped when present; or NULL */
	bool		allow_sha1_prefix;	/* also accept "sha1=" + hex HMAC-SHA1 */
	int64_t		tolerance;		/* seconds a timestamp may lag now; < 0: unchecked */
} SigConfig;

typedef struct SigSecret
{
	const unsigned char *key;
	size_t		len;
} SigSecret;

/* Outcomes, from best to worst news for the sender. */
typedef enum SigResult
{
	SIG_OK = 0,
	SIG_STALE,					/* signature good, timestamp older than the tolerance */
	SIG_MISMATCH,				/* well-formed, but no secret produces it */
	SIG_BAD_ENCODING,			/* digest is not in the expected encoding or length */
	SIG_NO_SIGNATURE,			/* header parsed but holds no signature of the scheme */
	SIG_MALFORMED,				/* header cannot be parsed (e.g. no timestamp) */
	SIG_MISSING,				/* header absent or empty */
	SIG_ERROR					/* the crypto library failed */
} SigResult;

/* A parsed timestamped header (Stripe, Paddle). */
typedef struct SigTimestampedHeader
{
	const char *ts;				/* timestamp digits as sent: they are signed as text */
	size_t		ts_len;
	int64_t		ts_value;
	int			nsigs;
	const char *sigs[SIG_MAX_SIGNATURES];
	size_t		sig_lens[SIG_MAX_SIGNATURES];
} SigTimestampedHeader;

extern SigResult SigParseTimestamped(const char *header, size_t len, char item_sep,
									 const char *ts_key, const char *sig_key,
									 SigTimestampedHeader *out);
extern SigResult SigVerify(const SigConfig *cfg, const char *header, size_t header_len,
						   const unsigned char *body, size_t body_len,
						   const SigSecret *secrets, int nsecrets, int64_t now,
						   int64_t *timestamp);
extern const char *SigResultName(SigResult r);

/* Decoders: return the number of bytes written, or -1 on bad input. */
extern int	SigHexDecode(const char *in, size_t len, unsigned char *out, size_t outcap);
extern int	SigBase64Decode(const char *in, size_t len, unsigned char *out, size_t outcap);

/* Constant-time equality of two strings of any lengths. */
extern bool SigSecretEquals(const unsigned char *a, size_t alen,
							const unsigned char *b, size_t blen);

#endif							/* ATTR_SIGNATURE_H */
