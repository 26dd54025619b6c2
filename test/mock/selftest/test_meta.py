"""Self-test of the mock: Meta Conversions API (API-CONTRACTS.md C)."""

import hashlib
import json
from urllib.parse import urlencode

from base import MockTestCase, call, ctl, meta, without
from examples import NOW, EMAIL_HASH, META_REQUEST, META_STALE, META_RATE, META_EXPIRED, META_PATH


class MetaTest(MockTestCase):
    def test_composed_success_json(self):
        r = meta(META_REQUEST)
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(without(r.json, 'fbtrace_id'), {'events_received': 1, 'messages': []})
        self.assertTrue(r.json['fbtrace_id'])
        acc = ctl('GET', 'accepted', platform='meta')
        self.assertEqual(acc['counts'], {'in_test_001': 1})
        self.assertEqual(acc['items'][0]['event'], json.loads(META_REQUEST)['data'][0])
        req = ctl('GET', 'requests', platform='meta')['requests'][0]
        self.assertEqual(req['query']['access_token'], '<redacted>')
        self.assertEqual(req['token_fp'], hashlib.sha256(b'EAABtest').hexdigest()[:12])

    def test_form_encoded_success(self):
        events = json.loads(META_REQUEST)['data']
        form = urlencode({'data': json.dumps(events), 'access_token': 'EAABform',
                          'test_event_code': 'TEST12345'})
        r = call('POST', META_PATH, form, {'Content-Type': 'application/x-www-form-urlencoded'})
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.json['events_received'], 1)
        req = ctl('GET', 'requests', platform='meta')['requests'][0]
        self.assertEqual(req['body']['access_token'], '<redacted>')
        self.assertEqual(req['body']['data'], events)
        self.assertEqual(ctl('GET', 'accepted', platform='meta')['items'][0]['event'], events[0])

    def test_duplicates_are_accepted_and_counted(self):
        meta(META_REQUEST)
        meta(META_REQUEST)
        acc = ctl('GET', 'accepted', platform='meta')
        self.assertEqual(acc['counts'], {'in_test_001': 2})
        self.assertEqual(acc['unique'], 1)

    def test_stale_event_rejects_whole_batch(self):
        events = [self.meta_event(0), self.meta_event(1, event_time=NOW - 8 * 86400)]
        r = meta({'data': events})
        self.assertEqual(r.status, 400)
        want = json.loads(META_STALE)
        want['error']['fbtrace_id'] = r.json['error']['fbtrace_id']
        self.assertEqual(r.json, want)
        self.assertEqual(ctl('GET', 'accepted', platform='meta')['total'], 0)
        # physical_store events may be 62 days late.
        ev = self.meta_event(2, event_time=NOW - 30 * 86400, action_source='physical_store')
        self.assertEqual(meta({'data': [ev]}).status, 200)

    def test_violations(self):
        cases = [
            ({'user_data': {'em': ['test@example.com']}}, 'hash'),
            ({'user_data': {'em': EMAIL_HASH.upper()}}, 'hash'),
            ({'user_data': {'ph': ['16505551212']}}, 'hash'),
            ({'user_data': {'external_id': ['u_42']}}, 'hash'),
            ({'user_data': {'fbc': 'IwAR2F4-test'}}, 'fbc'),
            ({'user_data': {'fbc': 'fb.1.1767000000.IwAR'}}, 'fbc'),
            ({'user_data': {}}, 'at least one'),
            ({'user_data': None}, 'user_data'),
            ({'action_source': 'server'}, 'action_source'),
            ({'action_source': 'website', 'event_source_url': None}, 'event_source_url'),
            ({'event_time': str(NOW)}, 'event_time'),
            ({'event_time': NOW - 0.5}, 'event_time'),
            ({'event_name': ''}, 'event_name'),
            ({'custom_data': {'value': '29.0', 'currency': 'USD'}}, 'value'),
            ({'custom_data': {'value': 29.0}}, 'currency'),
            ({'custom_data': {'value': 29.0, 'currency': 'US'}}, 'currency'),
            ({'custom_data': None}, 'Purchase'),
        ]
        for change, word in cases:
            with self.subTest(change=change):
                ev = self.meta_event(0)
                for k, v in change.items():
                    if v is None:
                        ev.pop(k, None)
                    else:
                        ev[k] = v
                r = meta({'data': [self.meta_event(1), ev]})
                self.assertEqual(r.status, 400, r.raw)
                self.assertEqual(r.json['error']['code'], 100)
                self.assertEqual(r.json['error']['type'], 'OAuthException')
                self.assertIn(word, r.json['error']['error_user_msg'] + r.json['error'].get('error_user_title', ''))
        self.assertEqual(meta({'data': [self.meta_event(i) for i in range(1001)]}).json['error']['code'], 100)
        self.assertEqual(meta({'data': []}).json['error']['code'], 100)
        self.assertEqual(meta({'events': []}).json['error']['code'], 100)
        self.assertEqual(ctl('GET', 'accepted', platform='meta')['total'], 0)
        # 1000 events is fine; lowercase currency as in Meta's sample is fine.
        ev = self.meta_event(0, custom_data={'value': 1, 'currency': 'usd'})
        self.assertEqual(meta({'data': [ev] + [self.meta_event(i) for i in range(1, 1000)]}).status, 200)

    def test_auth_errors(self):
        r = meta(META_REQUEST, token=None)
        self.assertEqual(r.json['error']['code'], 104)
        ctl('POST', 'tokens', {'platform': 'meta', 'token': 'EAAold', 'state': 'expired'})
        r = meta(META_REQUEST, token='EAAold')
        self.assertEqual(r.status, 400)
        want = json.loads(META_EXPIRED)
        want['error']['fbtrace_id'] = r.json['error']['fbtrace_id']
        want['error']['is_transient'] = False
        self.assertEqual(r.json, want)
        ctl('POST', 'tokens', {'platform': 'meta', 'token': 'EAAold', 'state': 'revoked'})
        r = meta(META_REQUEST, token='EAAold')
        self.assertEqual((r.json['error']['code'], r.json['error']['error_subcode']), (190, 460))

    def test_rate_limit_shape(self):
        ctl('POST', 'faults', {'platform': 'meta', 'mode': '429', 'retry_after': 5})
        r = meta(META_REQUEST)
        self.assertEqual(r.header('Retry-After'), '5')
        want = json.loads(META_RATE)
        want['error']['fbtrace_id'] = r.json['error']['fbtrace_id']
        self.assertEqual(without(r.json['error'], 'is_transient'), want['error'])
