/*
 * pg_attribution.h
 *		Settings and entry points shared by the extension's components.
 */
#ifndef PG_ATTRIBUTION_H
#define PG_ATTRIBUTION_H

/* The schema every object of the extension lives in (control file). */
#define ATTR_SCHEMA "attribution"

/* Settings (GUCs), defined in pg_attribution.c. */
extern char *attr_database;
extern int	attr_max_url_length;
extern char *attr_referral_params;

/* Per-component initialisation, called from _PG_init. */
extern void CaptureInit(void);
extern void DeliveryInit(void);
extern void DeliveryStepAside(const char *dbname);	/* delivery/delivery_launcher.c */
extern void ProcessorInit(void);
extern void VaultInit(void);	/* auth/vault.c */
extern void WebhookInit(void);	/* ingest/webhook.c */
extern void CreditsInit(void);		/* models/credits.c */

#endif							/* PG_ATTRIBUTION_H */
