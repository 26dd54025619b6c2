/*
 * google.h
 *		What Google's two transports share: the routing facts (both upload
 *		to the same conversion actions, with the same click ids, windows and
 *		adjustment policies) and account ids written digits only.
 */
#ifndef ATTR_PLATFORMS_GOOGLE_H
#define ATTR_PLATFORMS_GOOGLE_H

#include "delivery/platforms/platform.h"

#define GOOGLE_ROUTING(max) { \
	.click_ids = "{gclid,gbraid,wbraid}", \
	.user_match = false, \
	.lead_option = true, \
	.consent_denied_blocks = false, \
	.carries_consent = true, \
	.adjustment_policies = "{none,retract,restate}", \
	.default_adjustment_policy = "restate", \
	.adjustment_age_from_original = true, \
	.adjustment_target = "original", \
	.target_account_key = "conversion_action", \
	.predicted_ltv = "never", \
	.click_window = "90 days", \
	.max_event_age = "90 days", \
	.adjustment_max_age = "54 days", \
	.max_batch = (max) \
}

/*
 * Google's OAuth (J2): one consent page and token endpoint for both
 * transports, with PKCE; access_type=offline or no refresh token comes
 * back, prompt=consent for a new one when the user consented before.  A
 * refresh renews only the access token.  The scope is the transport's:
 * Data Manager needs auth/datamanager, tokens for auth/adwords alone do
 * not carry it.
 */
#define GOOGLE_OAUTH(scope) { \
	.authorize_url = "https://accounts.google.com/o/oauth2/v2/auth", \
	.authorize_params = "{\"access_type\":\"offline\",\"prompt\":\"consent\",\"include_granted_scopes\":\"true\",\"response_type\":\"code\"}", \
	.token_url = "https://oauth2.googleapis.com/token", \
	.refresh_url = "https://oauth2.googleapis.com/token", \
	.debug_url = "https://oauth2.googleapis.com/tokeninfo", \
	.scopes = "{" scope "}", \
	.scope_separator = " ", \
	.pkce = true, \
	.token_body = "form", \
	.client_id_field = "client_id", \
	.client_secret_field = "client_secret", \
	.code_param = "code", \
	.refresh_style = "refresh_token", \
	.token_header = "bearer" \
}

/* Digits only: Google account ids are written with dashes in the UI. */
static inline char *
GoogleDigits(char *s)
{
	char	   *w = s;

	if (s == NULL)
		return NULL;
	for (char *r = s; *r; r++)
		if (*r >= '0' && *r <= '9')
			*w++ = *r;
	*w = '\0';
	return s;
}

#endif							/* ATTR_PLATFORMS_GOOGLE_H */
