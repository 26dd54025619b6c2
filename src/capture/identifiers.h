/*
 * identifiers.h
 *		Per-platform normalisation and hashing of e-mails and phones.
 */
#ifndef ATTR_IDENTIFIERS_H
#define ATTR_IDENTIFIERS_H

typedef enum IdPlatform
{
	ID_GENERIC,					/* trim + lower-case; TikTok, LinkedIn */
	ID_GOOGLE,					/* gmail dots dropped; phone with '+' */
	ID_META						/* phone without '+' */
} IdPlatform;

extern char *NormalizeEmail(const char *email, IdPlatform platform);
extern char *NormalizePhone(const char *phone, IdPlatform platform);
extern char *HashEmail(const char *email, IdPlatform platform);

#endif							/* ATTR_IDENTIFIERS_H */
