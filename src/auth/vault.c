/*
 * vault.c
 *		Secrets at rest: AES-256-GCM under a key the server reads from a file.
 *
 * The key lives outside the database, in a file named by the superuser-only
 * setting pg_attribution.vault_key_file, so that a dump, a replica or a
 * stolen table file holds ciphertext only.  A blob is
 *
 *		version (1) | key id (4) | nonce (12) | ciphertext | tag (16)
 *
 * with a fresh random nonce per encryption; the version, the key id and the
 * caller's purpose string are authenticated as additional data.  The key id
 * (the head of an HMAC of a constant under the key) lets a blob stored under
 * another key be refused with a clear message instead of a failed tag.
 *
 * No message raised here contains a plaintext or key material.
 */
#include "postgres.h"

#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "access/htup_details.h"
#include "common/base64.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "auth/vault.h"

#define VAULT_VERSION 1
#define VAULT_KEY_LEN 32
#define VAULT_KEY_ID_LEN 4
#define VAULT_NONCE_LEN 12
#define VAULT_TAG_LEN 16
#define VAULT_HEADER_LEN (1 + VAULT_KEY_ID_LEN + VAULT_NONCE_LEN)
#define VAULT_MAX_KEY_FILE 1024

#define VAULT_KEY_HINT "Create a key with \"openssl rand -hex 32 > /etc/postgresql/pg_attribution.key\", " \
	"make it readable by the server's user only (chown postgres, chmod 600), and set " \
	"pg_attribution.vault_key_file to its path in postgresql.conf."

char	   *attr_vault_key_file = NULL;

/* The key of this backend, read on first use and again when the setting changes. */
static struct
{
	bool		loaded;
	char		path[MAXPGPATH];
	unsigned char key[VAULT_KEY_LEN];
	unsigned char id[VAULT_KEY_ID_LEN];
}			vault;

PG_FUNCTION_INFO_V1(attr_vault_status);

void
VaultInit(void)
{
	DefineCustomStringVariable("pg_attribution.vault_key_file",
							   "File holding the 256-bit key that encrypts stored secrets and tokens.",
							   "64 hex digits (or base64 of 32 bytes), readable by the server's user only; "
							   "create one with: openssl rand -hex 32.",
							   &attr_vault_key_file,
							   "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
}

static int
HexNibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
ToHex(const unsigned char *in, int len, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < len; i++)
	{
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/*
 * Read and check the key file.  Returns NULL and fills key on success, else
 * a message (and *sqlstate) to report; never raises, so that vault_status()
 * can describe a problem too.  The file's bytes are wiped before returning.
 *
 * A file others may write is refused (whoever can replace the key can make
 * the server store new secrets under a key they know).  One others may read
 * is used, but *exposed tells the caller to warn about it.
 */
static char *
ReadKeyFile(const char *path, unsigned char key[VAULT_KEY_LEN], int *sqlstate, bool *exposed)
{
	char		buf[VAULT_MAX_KEY_FILE + 1];
	char		decoded[VAULT_MAX_KEY_FILE];
	struct stat st;
	int			fd;
	ssize_t		n;
	char	   *s = buf;
	size_t		len;
	char	   *problem = NULL;

	*sqlstate = ERRCODE_CONFIG_FILE_ERROR;
	*exposed = false;
	if (path == NULL || path[0] == '\0')
	{
		*sqlstate = ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
		return pstrdup("no vault key is configured");
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
	{
		*sqlstate = errno == ENOENT ? ERRCODE_UNDEFINED_FILE : ERRCODE_CONFIG_FILE_ERROR;
		return psprintf("could not open vault key file \"%s\": %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0)
		problem = psprintf("could not stat vault key file \"%s\": %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		problem = psprintf("vault key file \"%s\" is not a regular file", path);
	else if (st.st_uid != geteuid() && st.st_uid != 0)
		problem = psprintf("vault key file \"%s\" is owned neither by the server's user nor by root", path);
	else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		problem = psprintf("vault key file \"%s\" is writable by other users", path);
	else if (st.st_size > VAULT_MAX_KEY_FILE)
		problem = psprintf("vault key file \"%s\" is too large to hold a key", path);
	if (problem != NULL)
	{
		close(fd);
		return problem;
	}
	/* Group-readable is fine for a root-owned file (as for ssl_key_file). */
	*exposed = (st.st_mode & S_IROTH) != 0 ||
		(st.st_uid != 0 && (st.st_mode & S_IRGRP) != 0);
	n = read(fd, buf, VAULT_MAX_KEY_FILE);
	if (n < 0)
	{
		int			save_errno = errno;

		close(fd);
		return psprintf("could not read vault key file \"%s\": %s", path, strerror(save_errno));
	}
	close(fd);

	len = (size_t) n;
	while (len > 0 && isspace((unsigned char) s[len - 1]))
		len--;
	while (len > 0 && isspace((unsigned char) *s))
		s++, len--;

	if (len == 2 * VAULT_KEY_LEN)
	{
		bool		ok = true;

		for (int i = 0; i < VAULT_KEY_LEN && ok; i++)
		{
			int			hi = HexNibble(s[2 * i]);
			int			lo = HexNibble(s[2 * i + 1]);

			ok = hi >= 0 && lo >= 0;
			key[i] = (unsigned char) ((hi << 4) | (lo & 0x0f));
		}
		if (!ok)
			problem = psprintf("vault key file \"%s\" does not hold 64 hex digits or base64 of 32 bytes", path);
	}
	else if (pg_b64_decode(s, (int) len, decoded, sizeof(decoded)) == VAULT_KEY_LEN)
		memcpy(key, decoded, VAULT_KEY_LEN);
	else
		problem = psprintf("vault key file \"%s\" does not hold 64 hex digits or base64 of 32 bytes", path);

	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(decoded, sizeof(decoded));
	if (problem != NULL)
		explicit_bzero(key, VAULT_KEY_LEN);
	return problem;
}

/* First bytes of HMAC-SHA256(key, label || data): key ids and fingerprints. */
static bool
KeyedDigest(const unsigned char *key, const char *label, const char *data, int len,
			unsigned char md[EVP_MAX_MD_SIZE])
{
	size_t		llen = strlen(label) + 1;	/* the NUL separates label and data */
	unsigned char *msg = palloc(llen + len);
	unsigned int mdlen = 0;
	bool		ok;

	memcpy(msg, label, llen);
	if (len > 0)
		memcpy(msg + llen, data, len);
	ok = HMAC(EVP_sha256(), key, VAULT_KEY_LEN, msg, llen + len, md, &mdlen) != NULL &&
		mdlen == 32;
	explicit_bzero(msg, llen + len);
	pfree(msg);
	return ok;
}

/*
 * The current key, read when first needed or when the setting names another
 * file; raises an error with a hint when there is none.
 */
static void
LoadKey(void)
{
	const char *path = attr_vault_key_file ? attr_vault_key_file : "";
	unsigned char key[VAULT_KEY_LEN];
	unsigned char md[EVP_MAX_MD_SIZE];
	char	   *problem;
	int			sqlstate;
	bool		exposed;

	if (vault.loaded && strcmp(vault.path, path) == 0)
		return;
	explicit_bzero(&vault, sizeof(vault));

	/*
	 * The failing statement is not logged: it may carry the plaintext the
	 * caller wanted to store.
	 */
	problem = ReadKeyFile(path, key, &sqlstate, &exposed);
	if (problem != NULL)
		ereport(ERROR,
				(errcode(sqlstate),
				 errhidestmt(true),
				 errmsg("%s", problem),
				 errdetail("Secrets are stored encrypted with the key named by pg_attribution.vault_key_file."),
				 errhint(VAULT_KEY_HINT)));
	if (strlen(path) >= MAXPGPATH ||
		!KeyedDigest(key, "pg_attribution vault key id", NULL, 0, md))
	{
		explicit_bzero(key, sizeof(key));
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("could not use vault key file \"%s\"", path)));
	}
	if (exposed)
		ereport(WARNING,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("vault key file \"%s\" is readable by other users", path),
				 errhint("Make it readable by the server's user only: chmod 600 \"%s\".", path)));
	memcpy(vault.key, key, VAULT_KEY_LEN);
	memcpy(vault.id, md, VAULT_KEY_ID_LEN);
	strlcpy(vault.path, path, MAXPGPATH);
	vault.loaded = true;
	explicit_bzero(key, sizeof(key));
	explicit_bzero(md, sizeof(md));
}

bytea *
VaultEncrypt(const char *plain, int len, const char *aad)
{
	bytea	   *blob;
	unsigned char *p;
	EVP_CIPHER_CTX *ctx;
	int			n = 0;
	int			fin = 0;
	bool		ok;

	if (len < 0)
		elog(ERROR, "negative plaintext length");
	if (aad == NULL)
		aad = "";
	LoadKey();

	blob = (bytea *) palloc(VARHDRSZ + VAULT_HEADER_LEN + len + VAULT_TAG_LEN);
	SET_VARSIZE(blob, VARHDRSZ + VAULT_HEADER_LEN + len + VAULT_TAG_LEN);
	p = (unsigned char *) VARDATA(blob);
	p[0] = VAULT_VERSION;
	memcpy(p + 1, vault.id, VAULT_KEY_ID_LEN);
	if (RAND_bytes(p + 1 + VAULT_KEY_ID_LEN, VAULT_NONCE_LEN) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random nonce")));

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a cipher context")));
	ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, VAULT_NONCE_LEN, NULL) == 1 &&
		EVP_EncryptInit_ex(ctx, NULL, NULL, vault.key, p + 1 + VAULT_KEY_ID_LEN) == 1 &&
		EVP_EncryptUpdate(ctx, NULL, &n, p, VAULT_HEADER_LEN) == 1 &&
		(aad[0] == '\0' ||
		 EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *) aad, (int) strlen(aad)) == 1) &&
		(len == 0 ||
		 EVP_EncryptUpdate(ctx, p + VAULT_HEADER_LEN, &n, (const unsigned char *) plain, len) == 1) &&
		EVP_EncryptFinal_ex(ctx, p + VAULT_HEADER_LEN + (len == 0 ? 0 : n), &fin) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, VAULT_TAG_LEN,
							p + VAULT_HEADER_LEN + len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not encrypt a secret for \"%s\"", aad)));
	return blob;
}

char *
VaultDecrypt(bytea *blob, const char *aad, int *len)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(blob);
	int			total = VARSIZE_ANY_EXHDR(blob);
	int			clen = total - VAULT_HEADER_LEN - VAULT_TAG_LEN;
	char	   *plain;
	EVP_CIPHER_CTX *ctx;
	int			n = 0;
	int			fin = 0;
	bool		ok;

	if (aad == NULL)
		aad = "";
	if (clen < 0 || p[0] != VAULT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored secret for \"%s\" is not a vault blob", aad)));
	LoadKey();
	if (CRYPTO_memcmp(p + 1, vault.id, VAULT_KEY_ID_LEN) != 0)
	{
		char		stored[2 * VAULT_KEY_ID_LEN + 1];
		char		current[2 * VAULT_KEY_ID_LEN + 1];

		ToHex(p + 1, VAULT_KEY_ID_LEN, stored);
		ToHex(vault.id, VAULT_KEY_ID_LEN, current);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("stored secret for \"%s\" was encrypted under another vault key", aad),
				 errdetail("The secret was stored under key id %s; the key in \"%s\" has id %s.",
						   stored, vault.path, current),
				 errhint("Restore the key file the secret was stored with, or store the secret again.")));
	}

	plain = palloc(clen + 1);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a cipher context")));
	ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, VAULT_NONCE_LEN, NULL) == 1 &&
		EVP_DecryptInit_ex(ctx, NULL, NULL, vault.key, p + 1 + VAULT_KEY_ID_LEN) == 1 &&
		EVP_DecryptUpdate(ctx, NULL, &n, p, VAULT_HEADER_LEN) == 1 &&
		(aad[0] == '\0' ||
		 EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *) aad, (int) strlen(aad)) == 1) &&
		(clen == 0 ||
		 EVP_DecryptUpdate(ctx, (unsigned char *) plain, &n, p + VAULT_HEADER_LEN, clen) == 1) &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, VAULT_TAG_LEN,
							(void *) (p + VAULT_HEADER_LEN + clen)) == 1 &&
		EVP_DecryptFinal_ex(ctx, (unsigned char *) plain + (clen == 0 ? 0 : n), &fin) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
	{
		explicit_bzero(plain, clen + 1);
		pfree(plain);
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored secret for \"%s\" does not authenticate under the vault key", aad),
				 errdetail("Its ciphertext was altered, or it was stored for another purpose.")));
	}
	plain[clen] = '\0';
	*len = clen;
	return plain;
}

char *
VaultFingerprint(const char *plain, int len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char	   *out = palloc(VAULT_FINGERPRINT_LEN + 1);

	LoadKey();
	if (!KeyedDigest(vault.key, "pg_attribution secret fingerprint", plain, len, md))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a secret fingerprint")));
	ToHex(md, VAULT_FINGERPRINT_LEN / 2, out);
	return out;
}

/*
 * vault_status() RETURNS (key_file text, key_id text, problem text)
 *
 * Whether the vault can be used, for an administrator: the configured file,
 * the id of the key in it (non-reversible) or what is wrong with it.
 */
Datum
attr_vault_status(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	unsigned char key[VAULT_KEY_LEN];
	unsigned char md[EVP_MAX_MD_SIZE];
	int			sqlstate;
	char	   *problem;
	bool		exposed;
	char		id[2 * VAULT_KEY_ID_LEN + 1];

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = BlessTupleDesc(desc);

	values[0] = CStringGetTextDatum(attr_vault_key_file ? attr_vault_key_file : "");
	problem = ReadKeyFile(attr_vault_key_file, key, &sqlstate, &exposed);
	if (problem == NULL && !KeyedDigest(key, "pg_attribution vault key id", NULL, 0, md))
		problem = pstrdup("could not derive the key id");
	explicit_bzero(key, sizeof(key));
	if (problem == NULL)
	{
		ToHex(md, VAULT_KEY_ID_LEN, id);
		values[1] = CStringGetTextDatum(id);
		if (exposed)
			values[2] = CStringGetTextDatum("key file is readable by other users: chmod 600 it");
		else
			nulls[2] = true;
	}
	else
	{
		nulls[1] = true;
		values[2] = CStringGetTextDatum(problem);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
