/*
 * registry.c
 *		The platform modules, and their registration into
 *		attribution.platforms.
 *
 * Adding a platform is one module file and one line in modules[] below.
 * At CREATE EXTENSION the install script fills attribution.platforms from
 * attribution._platform_registry(), so that routing (plpgsql) decides from
 * the same facts the modules declare here, and a destination's platform and
 * transport are checked by a foreign key.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "delivery/platforms/platform.h"

extern const PlatformModule google_ads_module;
extern const PlatformModule google_dm_module;
extern const PlatformModule meta_module;
extern const PlatformModule tiktok_module;
extern const PlatformModule linkedin_module;
extern const PlatformModule webhook_module;

static const PlatformModule *const modules[] = {
	&google_ads_module,
	&google_dm_module,
	&meta_module,
	&tiktok_module,
	&linkedin_module,
	&webhook_module,
};

/*
 * The module of a platform and transport; with transport NULL, the
 * platform's default one.  NULL when there is none.
 */
const PlatformModule *
PlatformLookup(const char *name, const char *transport)
{
	for (int i = 0; i < (int) lengthof(modules); i++)
	{
		const PlatformModule *m = modules[i];

		if (strcmp(m->name, name) != 0)
			continue;
		if (transport == NULL ? m->default_transport : strcmp(m->transport, transport) == 0)
			return m;
	}
	return NULL;
}

PG_FUNCTION_INFO_V1(attr_platform_registry);

/*
 * _platform_registry() RETURNS SETOF attribution.platforms: one row per
 * module, in the column order of the table (platforms.sql).
 */
Datum
attr_platform_registry(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < (int) lengthof(modules); i++)
	{
		const PlatformModule *m = modules[i];
		const PlatformRouting *r = &m->routing;
		const PlatformOAuth *o = &m->oauth;
		const char *vals[38];
		int			k = 0;
		HeapTuple	tup;
		AttInMetadata *meta = TupleDescGetAttInMetadata(rsinfo->setDesc);

		char		batch[16];

		snprintf(batch, sizeof(batch), "%d", r->max_batch);
		vals[k++] = m->name;
		vals[k++] = m->transport;
		vals[k++] = m->default_transport ? "t" : "f";
		vals[k++] = m->default_endpoint;
		vals[k++] = m->default_version;
		vals[k++] = r->click_ids;
		vals[k++] = r->user_match ? "t" : "f";
		vals[k++] = r->lead_option ? "t" : "f";
		vals[k++] = r->match_always ? "t" : "f";
		vals[k++] = r->consent_denied_blocks ? "t" : "f";
		vals[k++] = r->carries_consent ? "t" : "f";
		vals[k++] = r->adjustment_policies;
		vals[k++] = r->default_adjustment_policy;
		vals[k++] = r->adjustment_age_from_original ? "t" : "f";
		vals[k++] = r->adjustment_target;
		vals[k++] = r->target_account_key;
		vals[k++] = r->standard_events;
		vals[k++] = r->adjustment_events;
		vals[k++] = r->events_are_kinds ? "t" : "f";
		vals[k++] = r->predicted_ltv;
		vals[k++] = r->click_window;
		vals[k++] = r->max_event_age;
		vals[k++] = r->adjustment_max_age;
		vals[k++] = batch;
		vals[k++] = o->authorize_url;
		vals[k++] = o->authorize_params;
		vals[k++] = o->token_url;
		vals[k++] = o->refresh_url;
		vals[k++] = o->debug_url;
		vals[k++] = o->scopes;
		vals[k++] = o->scope_separator;
		vals[k++] = o->pkce ? "t" : "f";
		vals[k++] = o->token_body;
		vals[k++] = o->client_id_field;
		vals[k++] = o->client_secret_field;
		vals[k++] = o->code_param;
		vals[k++] = o->refresh_style;
		vals[k++] = o->token_header;
		Assert(k == lengthof(vals));
		tup = BuildTupleFromCStrings(meta, (char **) vals);
		tuplestore_puttuple(rsinfo->setResult, tup);
	}
	return (Datum) 0;
}
