/*
 * landing.h
 *		What a landing tells: URL parameters, cookies, referrer and channel.
 */
#ifndef ATTR_LANDING_H
#define ATTR_LANDING_H

#include "datatype/timestamp.h"

/* UTM parameters, in the order of the landing_url composite. */
typedef enum UtmField
{
	UTM_SOURCE,
	UTM_MEDIUM,
	UTM_CAMPAIGN,
	UTM_TERM,
	UTM_CONTENT,
	UTM_ID,
	NUM_UTM_FIELDS
} UtmField;

/* Ad click identifiers carried in the landing URL, in composite order. */
typedef enum ClickField
{
	CLICK_GCLID,
	CLICK_GBRAID,
	CLICK_WBRAID,
	CLICK_DCLID,
	CLICK_FBCLID,
	CLICK_TTCLID,
	CLICK_LI_FAT_ID,
	CLICK_MSCLKID,
	CLICK_TWCLID,
	NUM_CLICK_FIELDS
} ClickField;

extern const char *const utm_param_names[NUM_UTM_FIELDS];
extern const char *const click_param_names[NUM_CLICK_FIELDS];

/*
 * A parsed landing URL.  Strings are palloc'd and percent-decoded; utm_raw
 * keeps the decoded values as received, utm the trimmed, lower-cased ones.
 * NULL means the parameter is absent or empty.
 */
typedef struct LandingUrl
{
	char	   *scheme;
	char	   *host;
	int			port;			/* 0 when the URL names none */
	char	   *path;
	char	   *utm_raw[NUM_UTM_FIELDS];
	char	   *utm[NUM_UTM_FIELDS];
	char	   *click[NUM_CLICK_FIELDS];
	char	   *referral_code;
} LandingUrl;

/* Click identifiers recovered from a Cookie header. */
typedef struct CookieClicks
{
	char	   *gclid;			/* _gcl_aw: GCL.<unix s>.<gclid> */
	TimestampTz gclid_at;
	char	   *gbraid;			/* _gcl_gb: GCL.<unix s>.<gbraid> */
	TimestampTz gbraid_at;
	char	   *fbc;			/* _fbc: fb.<idx>.<ms>.<fbclid> */
	TimestampTz fbc_at;
	char	   *fbp;			/* _fbp: fb.<idx>.<ms>.<random> */
	char	   *ttp;			/* _ttp */
	char	   *li_fat_id;		/* li_fat_id */
	char	   *msclkid;		/* _uetmsclkid: _uet<msclkid> */
} CookieClicks;

/* url_parse.c */
typedef enum UrlParseStatus
{
	URL_OK,
	URL_INVALID,
	URL_BAD_SCHEME
} UrlParseStatus;

extern UrlParseStatus ParseLandingUrl(const char *url, LandingUrl *out,
									  const char **reason);
extern char *ParseReferrerHost(const char *referrer);
extern char *NormalizeUtmValue(const char *raw);
extern bool HostMatchesDomain(const char *host, const char *domain);

/* cookies.c */
extern void ParseCookieClicks(const char *header, CookieClicks *out);
extern char *FbclidOfFbc(const char *fbc);

/* channel.c */
extern const char *ClassifyChannel(const LandingUrl *url, const char *referrer_host);
extern void ChannelCacheInit(void);

#endif							/* ATTR_LANDING_H */
