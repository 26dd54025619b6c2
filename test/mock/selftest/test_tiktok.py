"""Self-test of the mock: TikTok Events API (API-CONTRACTS.md D)."""

import json

from base import MockTestCase, call, ctl, tiktok, without
from examples import NOW, TIKTOK_REQUEST, TIKTOK_SUCCESS, TIKTOK_PARTIAL, TIKTOK_PATH


class TikTokTest(MockTestCase):
    def test_composed_success(self):
        r = tiktok(TIKTOK_REQUEST)
        self.assertEqual(r.status, 200)
        want = json.loads(TIKTOK_SUCCESS)
        self.assertEqual(without(r.json, 'request_id'), without(want, 'request_id'))
        self.assertTrue(r.json['request_id'])
        acc = ctl('GET', 'accepted', platform='tiktok')
        self.assertEqual(acc['counts'], {'in_test_001': 1})
        self.assertEqual(acc['items'][0]['event'], json.loads(TIKTOK_REQUEST)['data'][0])

    def test_stale_event_partial(self):
        body = self.tt_body([self.tt_event(0), self.tt_event(1, event_time=NOW - 29 * 86400)])
        r = tiktok(body)
        self.assertEqual(r.status, 200)
        want = json.loads(TIKTOK_PARTIAL)
        self.assertEqual(without(r.json, 'request_id'), without(want, 'request_id'))
        self.assertEqual(ctl('GET', 'accepted', platform='tiktok')['counts'], {'tt_0': 1})

    def test_partial_fault(self):
        ctl('POST', 'faults', {'platform': 'tiktok', 'mode': 'partial', 'indexes': [0, 2]})
        r = tiktok(self.tt_body([self.tt_event(i) for i in range(3)]))
        self.assertEqual(r.json['code'], 20001)
        self.assertEqual([f['index'] for f in r.json['data']['failed_events']], [0, 2])
        self.assertEqual(ctl('GET', 'accepted', platform='tiktok')['counts'], {'tt_1': 1})

    def test_violations(self):
        cases = [
            ({'event_source': 'server'}, None, 40002),
            ({'event_source_id': ''}, None, 40002),
            ({'data': []}, None, 40002),
            ({'bogus': 1}, None, 40002),
            (None, {'user': {'email': ['test@example.com']}}, 40062),
            (None, {'user': {'phone': ['+16505551212']}}, 40062),
            (None, {'user': {'external_id': ['u_42']}}, 40062),
            (None, {'event_time': '1767225600'}, 40002),
            (None, {'event_time': 1767225600000.5}, 40002),
            (None, {'event': ''}, 40002),
            (None, {'properties': {'value': '29'}}, 40002),
            (None, {'properties': {'value': 29, 'currency': 'usd'}}, 40002),
            (None, {'properties': {'contents': [{'content_id': 5}]}}, 40002),
            (None, {'properties': {'content_type': 'service'}}, 40002),
        ]
        for top, ev_change, code in cases:
            with self.subTest(top=top, ev=ev_change):
                body = self.tt_body([self.tt_event(0), self.tt_event(1, **(ev_change or {}))])
                body.update(top or {})
                r = tiktok(body)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.json['code'], code, r.raw)
                self.assertEqual(r.json['data'], {})
        r = tiktok(self.tt_body([self.tt_event(i) for i in range(1001)]))
        self.assertEqual(r.json['code'], 40061)
        r = call('POST', TIKTOK_PATH.rstrip('/'), TIKTOK_REQUEST,
                 {'Content-Type': 'application/json', 'Access-Token': 't'})
        self.assertEqual(r.status, 404)
        self.assertEqual(ctl('GET', 'accepted', platform='tiktok')['total'], 0)

    def test_auth_and_rate_limit(self):
        self.assertEqual(tiktok(TIKTOK_REQUEST, token=None).json['code'], 40104)
        ctl('POST', 'tokens', [{'platform': 'tiktok', 'token': 'old', 'state': 'expired'},
                               {'platform': 'tiktok', 'token': 'gone', 'state': 'revoked'}])
        r = tiktok(TIKTOK_REQUEST, token='old')
        self.assertEqual((r.status, r.json['code'], r.json['message']), (200, 40102, 'Access token has expired.'))
        self.assertEqual(tiktok(TIKTOK_REQUEST, token='gone').json['code'], 40105)
        ctl('POST', 'faults', {'platform': 'tiktok', 'mode': '429'})
        r = tiktok(TIKTOK_REQUEST)
        self.assertEqual((r.status, r.json['code'], r.json['message']),
                         (200, 40100, 'Too many requests. Please retry in some time.'))
