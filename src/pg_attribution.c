/*
 * pg_attribution.c
 *		Library entry point: settings, and the hooks each component needs.
 *
 * The library works both preloaded (shared_preload_libraries), which later
 * components need for their background workers, and loaded on first use by
 * CREATE EXTENSION, which is enough for the SQL-only parts.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "core/progress.h"
#include "pg_attribution.h"

PG_MODULE_MAGIC;

char	   *attr_database = NULL;
int			attr_max_url_length = 8192;
char	   *attr_referral_params = NULL;

void		_PG_init(void);

/*
 * Define the settings and initialise the components.
 */
void
_PG_init(void)
{
	DefineCustomStringVariable("pg_attribution.database",
							   "Database whose pg_attribution background workers this server runs.",
							   "The extension must be created in this database for its workers to do anything.",
							   &attr_database,
							   "postgres",
							   PGC_SIGHUP,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("pg_attribution.max_url_length",
							"Longest landing URL or referrer, in bytes, that track_touch accepts.",
							NULL,
							&attr_max_url_length,
							8192, 256, 1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomStringVariable("pg_attribution.referral_params",
							   "Comma-separated query parameter names that carry a referral code.",
							   "Names are matched case-insensitively; the first one present with a non-empty value wins.",
							   &attr_referral_params,
							   "ref,referral_code,via",
							   PGC_SUSET,
							   GUC_LIST_INPUT,
							   NULL, NULL, NULL);

	ProgressInit();
	CaptureInit();
	DeliveryInit();
	ProcessorInit();
	VaultInit();
	WebhookInit();
	CreditsInit();

	/* Last, so that components may define settings of their own first. */
	MarkGUCPrefixReserved("pg_attribution");
}
