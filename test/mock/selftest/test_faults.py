"""Self-test of the mock: Fault injection."""

import http.client
import socket
import ssl
import time

from base import MockTestCase, call, ctl, google, linkedin, meta, tiktok
from examples import (GOOGLE_REQUEST, GOOGLE_ADJUST, META_REQUEST, TIKTOK_REQUEST, LINKEDIN_REQUEST,
                      GOOGLE_ADJ_PATH)


class FaultTest(MockTestCase):
    def test_status_count(self):
        ctl('POST', 'faults', {'platform': 'meta', 'mode': 'status', 'status': 503, 'count': 2})
        got = [meta(META_REQUEST).status for _ in range(3)]
        self.assertEqual(got, [503, 503, 200])
        r = ctl('GET', 'requests', platform='meta')['requests']
        self.assertEqual([x['fault'] for x in r], ['status', 'status', None])
        self.assertEqual(ctl('GET', 'accepted', platform='meta')['received'], {'in_test_001': 3})
        self.assertEqual(ctl('GET', 'accepted', platform='meta')['counts'], {'in_test_001': 1})

    def test_5xx_shapes(self):
        ctl('POST', 'faults', [{'platform': p, 'mode': '5xx', 'status': 500} for p in ('google', 'meta', 'tiktok', 'linkedin')])
        r = google(GOOGLE_REQUEST)
        self.assertEqual((r.status, r.json['error']['status']), (500, 'INTERNAL'))
        r = meta(META_REQUEST)
        self.assertEqual((r.status, r.json['error']['code'], r.json['error']['is_transient']), (500, 2, True))
        r = tiktok(TIKTOK_REQUEST)
        self.assertEqual((r.status, r.json['code']), (500, 50000))
        r = linkedin(LINKEDIN_REQUEST)
        self.assertEqual((r.status, r.json['status']), (500, 500))

    def test_match_endpoint(self):
        ctl('POST', 'faults', {'platform': 'google', 'match': 'uploadConversionAdjustments', 'mode': '5xx'})
        self.assertEqual(google(GOOGLE_REQUEST).status, 200)
        self.assertEqual(google(GOOGLE_ADJUST, path=GOOGLE_ADJ_PATH).status, 503)

    def test_timeout(self):
        ctl('POST', 'faults', {'platform': 'meta', 'mode': 'timeout', 'seconds': 2})
        t = time.time()
        with self.assertRaises(socket.timeout):
            meta(META_REQUEST, timeout=0.5)
        self.assertLess(time.time() - t, 1.5)
        ctl('POST', 'faults', {'platform': 'meta', 'mode': 'timeout', 'seconds': 0.3})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            meta(META_REQUEST, timeout=5)
        time.sleep(2)
        recs = ctl('GET', 'requests', platform='meta')['requests']
        self.assertEqual([(x['fault'], x['status']) for x in recs], [('timeout', None)] * 2)
        self.assertEqual(meta(META_REQUEST).status, 200)

    def test_drop(self):
        ctl('POST', 'faults', {'platform': 'tiktok', 'mode': 'drop'})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            tiktok(TIKTOK_REQUEST)
        self.assertEqual(tiktok(TIKTOK_REQUEST).json['code'], 0)
        # Over HTTPS too.
        ctl('POST', 'faults', {'platform': 'tiktok', 'mode': 'drop'})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError)):
            tiktok(TIKTOK_REQUEST, https=True)

    def test_slow(self):
        ctl('POST', 'faults', {'platform': 'linkedin', 'mode': 'slow', 'delay_ms': 800})
        t = time.time()
        self.assertEqual(linkedin(LINKEDIN_REQUEST).status, 200)
        self.assertGreaterEqual(time.time() - t, 0.8)
        t = time.time()
        linkedin(LINKEDIN_REQUEST)
        self.assertLess(time.time() - t, 0.7)

    def test_expire_token(self):
        ctl('POST', 'faults', {'platform': 'tiktok', 'mode': 'expire_token'})
        self.assertEqual(tiktok(TIKTOK_REQUEST).json['code'], 40102)
        self.assertEqual(tiktok(TIKTOK_REQUEST).json['code'], 40102)     # stays expired
        self.assertEqual(tiktok(TIKTOK_REQUEST, token='new-token').json['code'], 0)
        ctl('POST', 'tokens', {'platform': 'tiktok', 'token': 'tt-mock-token', 'state': 'valid'})
        self.assertEqual(tiktok(TIKTOK_REQUEST).json['code'], 0)
        ctl('POST', 'faults', {'platform': 'google', 'mode': 'expire_token'})
        r = google(GOOGLE_REQUEST)
        self.assertEqual((r.status, r.json['error']['details'][0]['errors'][0]['errorCode']),
                         (401, {'authenticationError': 'OAUTH_TOKEN_EXPIRED'}))
        ctl('POST', 'faults', {'platform': 'meta', 'mode': 'revoke_token'})
        self.assertEqual(meta(META_REQUEST).json['error']['code'], 190)
        toks = {(t['platform'], t['state']) for t in ctl('GET', 'tokens')['tokens']}
        self.assertIn(('google', 'expired'), toks)
        self.assertIn(('meta', 'revoked'), toks)

    def test_partial_by_key_meta(self):
        ctl('POST', 'faults', {'platform': 'meta', 'mode': 'partial', 'keys': ['ev_1'], 'count': -1})
        r = meta({'data': [self.meta_event(0), self.meta_event(1), self.meta_event(2)]})
        self.assertEqual((r.status, r.json['error']['code']), (400, 100))
        self.assertIn('data[1]', r.json['error']['error_user_msg'])
        self.assertEqual(meta({'data': [self.meta_event(0)]}).status, 200)
        self.assertEqual(meta({'data': [self.meta_event(1)]}).status, 400)
        self.assertEqual(meta({'data': [self.meta_event(2)]}).status, 200)
        self.assertEqual(ctl('GET', 'accepted', platform='meta')['counts'], {'ev_0': 1, 'ev_2': 1})

    def test_random_is_seeded(self):
        def run():
            ctl('POST', 'reset')
            ctl('POST', 'faults', {'platform': 'webhook', 'rate_5xx': 0.2, 'rate_429': 0.1, 'seed': 42,
                                   'retry_after': 1})
            return [call('POST', '/webhook/r', {'id': 'k%d' % i}).status for i in range(60)]
        a = run()
        rule = ctl('GET', 'faults')['faults'][0]
        b = run()
        self.assertEqual(a, b)
        self.assertEqual(rule['drawn'].get('5xx', 0), a.count(503))
        self.assertEqual(rule['drawn'].get('429', 0), a.count(429))
        self.assertGreater(a.count(503), 3)
        self.assertGreater(a.count(429), 0)
        self.assertEqual(a.count(200) + a.count(503) + a.count(429), 60)
        self.assertEqual(ctl('GET', 'accepted', platform='webhook')['total'], a.count(200))

    def test_random_timeouts_and_drops(self):
        ctl('POST', 'faults', {'platform': 'webhook', 'rate_timeout': 0.5, 'rate_drop': 0.5, 'seed': 1,
                               'seconds': 0.2})
        for i in range(6):
            with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
                call('POST', '/webhook/r', {'id': 'k%d' % i})
        rule = ctl('GET', 'faults')['faults'][0]
        self.assertEqual(sum(rule['drawn'].values()), 6)

    def test_fault_management(self):
        f = ctl('POST', 'faults', {'platform': 'meta', 'mode': '5xx', 'count': -1})['faults'][0]
        self.assertEqual(meta(META_REQUEST).status, 503)
        self.assertEqual(call('DELETE', '/_mock/faults/%d' % f['id']).status, 200)
        self.assertEqual(meta(META_REQUEST).status, 200)
        self.assertEqual(call('POST', '/_mock/faults', {'mode': 'explode'}).status, 400)
        self.assertEqual(call('POST', '/_mock/faults', {'mode': 'partial'}).status, 400)
        self.assertEqual(call('POST', '/_mock/config', {'no_such_setting': 1}).status, 400)
