"""Self-test of the mock: The generic webhook endpoint and the OAuth token endpoints (API-CONTRACTS.md F)."""

import hashlib
import hmac
import json
from urllib.parse import urlencode

from base import MockTestCase, call, ctl, google, linkedin, meta, tiktok, without
from examples import NOW, GOOGLE_REQUEST, META_REQUEST, TIKTOK_REQUEST, LINKEDIN_REQUEST


class WebhookTest(MockTestCase):
    def test_unsigned_and_batch(self):
        r = call('POST', '/webhook/plain', {'id': 'w1', 'type': 'conversion', 'value': 29.0})
        self.assertEqual((r.status, r.json), (200, {'received': 1}))
        r = call('POST', '/webhook/plain', {'events': [{'id': 'w2'}, {'id': 'w3'}]})
        self.assertEqual(r.json, {'received': 2})
        acc = ctl('GET', 'accepted', platform='webhook')
        self.assertEqual(acc['counts'], {'w1': 1, 'w2': 1, 'w3': 1})
        self.assertEqual(acc['items'][0]['event'], {'id': 'w1', 'type': 'conversion', 'value': 29.0})
        self.assertEqual(call('POST', '/webhook/plain', {'events': [{'type': 'x'}]}).status, 400)
        self.assertEqual(call('POST', '/webhook/plain', {'type': 'x'}).status, 400)
        r = call('POST', '/webhook/plain', {'type': 'x'}, {'Idempotency-Key': 'idem-1'})
        self.assertEqual(r.status, 200)
        self.assertEqual(ctl('GET', 'accepted', platform='webhook')['counts']['idem-1'], 1)
        self.assertEqual(call('POST', '/webhook/plain', 'id=1',
                              {'Content-Type': 'application/x-www-form-urlencoded'}).status, 415)

    def test_signature(self):
        ctl('POST', 'webhooks', {'name': 'signed', 'secret': 'whsec_mock'})
        body = json.dumps({'id': 's1', 'type': 'conversion'}, separators=(',', ':')).encode()
        sig = 'sha256=' + hmac.new(b'whsec_mock', body, hashlib.sha256).hexdigest()
        h = {'Content-Type': 'application/json'}
        self.assertEqual(call('POST', '/webhook/signed', body, dict(h, **{'X-Attribution-Signature': sig})).status, 200)
        self.assertEqual(call('POST', '/webhook/signed', body, h).status, 401)
        bad = 'sha256=' + hmac.new(b'other', body, hashlib.sha256).hexdigest()
        r = call('POST', '/webhook/signed', body, dict(h, **{'X-Attribution-Signature': bad}))
        self.assertEqual((r.status, r.json['error']), (401, 'invalid_signature'))
        # Re-serialised body (spaces added) does not verify.
        r = call('POST', '/webhook/signed', body.replace(b',', b', '), dict(h, **{'X-Attribution-Signature': sig}))
        self.assertEqual(r.status, 401)
        self.assertEqual(ctl('GET', 'accepted', platform='webhook')['counts'], {'s1': 1})


# ----- OAuth --------------------------------------------------------------------------

def form_post(path, fields):
    return call('POST', path, urlencode(fields), {'Content-Type': 'application/x-www-form-urlencoded'})


class OAuthTest(MockTestCase):
    def test_google_refresh(self):
        ctl('POST', 'config', {'token_policy': 'registered'})
        f = {'grant_type': 'refresh_token', 'refresh_token': '1//rt', 'client_id': 'cid', 'client_secret': 'cs'}
        r = form_post('/token', f)
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(without(r.json, 'access_token'),
                         {'expires_in': 3599, 'scope': 'https://www.googleapis.com/auth/adwords', 'token_type': 'Bearer'})
        self.assertNotIn('refresh_token', r.json)
        tok = r.json['access_token']
        self.assertEqual(google(GOOGLE_REQUEST, token=tok).status, 200)
        self.assertEqual(google(GOOGLE_REQUEST, token='ya29.unknown').status, 401)
        ctl('POST', 'clock', {'advance': 3600})
        r = google(GOOGLE_REQUEST, token=tok)
        self.assertEqual(r.json['error']['details'][0]['errors'][0]['errorCode'],
                         {'authenticationError': 'OAUTH_TOKEN_EXPIRED'})
        ctl('POST', 'tokens', {'platform': 'google', 'kind': 'refresh', 'token': '1//rt', 'state': 'revoked'})
        r = form_post('/token', f)
        self.assertEqual((r.status, r.json), (400, {'error': 'invalid_grant',
                                                   'error_description': 'Token has been expired or revoked.'}))
        r = form_post('/token', dict(f, client_secret=''))
        self.assertEqual((r.status, r.json['error']), (401, 'invalid_client'))
        r = form_post('/token', dict(f, grant_type='password'))
        self.assertEqual((r.status, r.json['error']), (400, 'unsupported_grant_type'))
        req = ctl('GET', 'requests', platform='oauth')['requests'][0]
        self.assertEqual(req['body']['refresh_token'], '<redacted>')
        self.assertEqual(req['body']['client_secret'], '<redacted>')

    def test_tiktok_refresh_and_access(self):
        body = {'client_id': 'c', 'client_secret': 's', 'grant_type': 'refresh_token', 'refresh_token': 'rt1'}
        r = call('POST', '/open_api/v1.3/tt_user/oauth2/refresh_token/', body)
        self.assertEqual(r.json['code'], 0, r.raw)
        d = r.json['data']
        self.assertEqual(d['expires_in'], 86400)
        self.assertEqual(d['refresh_token'], 'rt1')
        self.assertEqual(d['refresh_token_expires_in'], 365 * 86400)
        ctl('POST', 'config', {'token_policy': 'registered'})
        self.assertEqual(tiktok(TIKTOK_REQUEST, token=d['access_token']).json['code'], 0)
        ctl('POST', 'clock', {'advance': 86400})
        self.assertEqual(tiktok(TIKTOK_REQUEST, token=d['access_token']).json['code'], 40102)
        ctl('POST', 'tokens', {'platform': 'tiktok', 'kind': 'refresh', 'token': 'rt1', 'state': 'revoked'})
        r = call('POST', '/open_api/v1.3/tt_user/oauth2/refresh_token/', body)
        self.assertEqual(r.json['code'], 40107)
        ctl('POST', 'tokens', {'platform': 'tiktok', 'kind': 'refresh', 'token': 'rt1', 'state': 'expired'})
        self.assertEqual(call('POST', '/open_api/v1.3/tt_user/oauth2/refresh_token/', body).json['code'], 40103)
        ab = {'app_id': 'a', 'secret': 's', 'auth_code': 'code1'}
        r = call('POST', '/open_api/v1.3/oauth2/access_token/', ab)
        self.assertEqual(r.json['code'], 0)
        self.assertTrue(r.json['data']['refresh_token'])
        self.assertEqual(tiktok(TIKTOK_REQUEST, token=r.json['data']['access_token']).json['code'], 0)
        self.assertEqual(call('POST', '/open_api/v1.3/oauth2/access_token/', ab).json['code'], 40002)

    def test_linkedin_refresh_does_not_extend(self):
        f = {'grant_type': 'refresh_token', 'refresh_token': 'AQrt', 'client_id': 'c', 'client_secret': 's'}
        r = form_post('/oauth/v2/accessToken', f)
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.json['expires_in'], 5184000)
        self.assertEqual(r.json['refresh_token_expires_in'], 365 * 86400)
        ctl('POST', 'clock', {'advance': 59 * 86400})
        r = form_post('/oauth/v2/accessToken', f)
        self.assertEqual(r.json['refresh_token_expires_in'], 306 * 86400)
        ctl('POST', 'config', {'token_policy': 'registered'})
        self.assertEqual(linkedin(LINKEDIN_REQUEST, token='AQVunknown').status, 401)
        ctl('POST', 'clock', {'now': NOW})
        self.assertEqual(linkedin(LINKEDIN_REQUEST, token=r.json['access_token']).status, 200)
        ctl('POST', 'tokens', {'platform': 'linkedin', 'kind': 'refresh', 'token': 'AQrt', 'state': 'revoked'})
        r = form_post('/oauth/v2/accessToken', f)
        self.assertEqual((r.status, r.json['error']), (400, 'invalid_grant'))

    def test_meta_exchange_and_debug(self):
        q = {'grant_type': 'fb_exchange_token', 'client_id': 'app', 'client_secret': 's', 'fb_exchange_token': 'EAAshort'}
        r = call('GET', '/v25.0/oauth/access_token?' + urlencode(q))
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(without(r.json, 'access_token'), {'token_type': 'bearer', 'expires_in': 5183944})
        long_tok = r.json['access_token']
        r = call('GET', '/debug_token?' + urlencode({'input_token': long_tok, 'access_token': 'app|s'}))
        d = r.json['data']
        self.assertTrue(d['is_valid'])
        self.assertLess(abs(d['expires_at'] - (NOW + 5183944)), 5)
        self.assertEqual(d['type'], 'USER')
        ctl('POST', 'tokens', {'platform': 'meta', 'token': 'EAAshort', 'state': 'expired'})
        r = call('GET', '/v25.0/oauth/access_token?' + urlencode(q))
        self.assertEqual((r.status, r.json['error']['code'], r.json['error']['error_subcode']), (400, 190, 463))
        r = call('GET', '/v25.0/debug_token?' + urlencode({'input_token': 'EAAshort', 'access_token': 'app|s'}))
        self.assertFalse(r.json['data']['is_valid'])
        self.assertEqual(r.json['data']['error']['code'], 190)
        self.assertEqual(meta(META_REQUEST, token=long_tok).status, 200)
