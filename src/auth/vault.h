/*
 * vault.h
 *		Secrets at rest: AES-256-GCM under the server's vault key.
 *
 * Webhook secrets, OAuth tokens and API credentials are stored only as the
 * blobs VaultEncrypt makes.  The aad names what a blob is for (for example
 * "webhook:stripe" or "oauth:google_ads:refresh"): a blob decrypts only
 * under the same aad, so a ciphertext copied to another purpose is refused.
 * Both functions raise an ERROR (never naming the plaintext) when no usable
 * key is configured or a blob does not authenticate.
 */
#ifndef ATTR_VAULT_H
#define ATTR_VAULT_H

#include "postgres.h"

/* Length of VaultFingerprint's result, without the NUL. */
#define VAULT_FINGERPRINT_LEN 8

extern char *attr_vault_key_file;

extern void VaultInit(void);

/* Encrypt len bytes; the result is palloc'd in the current context. */
extern bytea *VaultEncrypt(const char *plain, int len, const char *aad);

/*
 * Decrypt a blob of VaultEncrypt: a palloc'd, NUL-terminated copy of the
 * plaintext, its length in *len.  Callers wipe it (explicit_bzero) when done.
 */
extern char *VaultDecrypt(bytea *blob, const char *aad, int *len);

/*
 * A short, non-reversible identifier of a secret under the current key:
 * hex of a keyed HMAC, so a low-entropy secret cannot be found from it by
 * hashing guesses.  palloc'd.
 */
extern char *VaultFingerprint(const char *plain, int len);

#endif							/* ATTR_VAULT_H */
