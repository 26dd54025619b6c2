"""Self-test of the mock: LinkedIn Conversions API (API-CONTRACTS.md E)."""

import json

from base import MockTestCase, ctl, linkedin
from examples import (NOW, EMAIL_HASH, LINKEDIN_REQUEST, LINKEDIN_SUCCESS, LINKEDIN_422, LINKEDIN_RATE,
                      LINKEDIN_401)


class LinkedInTest(MockTestCase):
    def test_composed_success(self):
        r = linkedin(LINKEDIN_REQUEST)
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.json, json.loads(LINKEDIN_SUCCESS))
        acc = ctl('GET', 'accepted', platform='linkedin')
        self.assertEqual(acc['counts'], {'in_test_001': 1})
        self.assertEqual(acc['items'][0]['event'], json.loads(LINKEDIN_REQUEST)['elements'][0])

    def test_composed_422(self):
        body = json.loads(LINKEDIN_REQUEST)
        del body['elements'][0]['conversionValue']['amount']
        r = linkedin(body)
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json, json.loads(LINKEDIN_422))

    def test_element_violations(self):
        cases = [
            ({'conversionValue': {'currencyCode': 'USD', 'amount': 29.0}}, '/conversionValue/amount'),
            ({'conversionValue': {'currencyCode': 'usd', 'amount': '29.0'}}, '/conversionValue/currencyCode'),
            ({'conversionValue': {'currencyCode': 'USD', 'amount': 'abc'}}, '/conversionValue/amount'),
            ({'conversion': 'urn:li:conversion:1'}, '/conversion'),
            ({'conversion': None}, '/conversion'),
            ({'conversionHappenedAt': (NOW - 91 * 86400) * 1000}, '/conversionHappenedAt'),
            ({'conversionHappenedAt': str(NOW * 1000)}, '/conversionHappenedAt'),
            ({'user': {'userIds': [{'idType': 'EMAIL', 'idValue': 'a@b.c'}]}}, '/user/userIds/0/idType'),
            ({'user': {'userIds': [{'idType': 'SHA256_EMAIL', 'idValue': 'a@b.c'}]}}, '/user/userIds/0/idValue'),
            ({'user': {'userIds': []}}, '/user/userIds'),
            ({'user': {'userIds': [{'idType': 'SHA256_EMAIL', 'idValue': EMAIL_HASH}],
                       'userInfo': {'firstName': 'ada'}}}, '/user/userInfo/lastName'),
            ({'user': None}, '/user'),
            ({'bogus': 1}, '/bogus'),
        ]
        for change, pointer in cases:
            with self.subTest(change=change):
                el = self.li_element(1)
                for k, v in change.items():
                    if v is None:
                        el.pop(k, None)
                    else:
                        el[k] = v
                r = linkedin({'elements': [self.li_element(0), el]})
                self.assertEqual(r.status, 422, r.raw)
                lines = r.json['message'].splitlines(True)
                self.assertTrue(lines)
                for line in lines:
                    self.assertRegex(line, r'^Index: 1, ERROR :: \S+ :: .+\n$')
                self.assertIn('Index: 1, ERROR :: %s :: ' % pointer, r.json['message'])
        self.assertEqual(ctl('GET', 'accepted', platform='linkedin')['total'], 0)

    def test_header_violations(self):
        r = linkedin(LINKEDIN_REQUEST, version=None)
        self.assertEqual((r.status, r.json['code']), (400, 'VERSION_MISSING'))
        r = linkedin(LINKEDIN_REQUEST, version='202301')
        self.assertEqual((r.status, r.json['code']), (426, 'NONEXISTENT_VERSION'))
        r = linkedin(LINKEDIN_REQUEST, version='203001')
        self.assertEqual(r.status, 426)
        r = linkedin(LINKEDIN_REQUEST, version='2025-11')
        self.assertEqual(r.status, 400)
        r = linkedin(LINKEDIN_REQUEST, extra={'X-Restli-Protocol-Version': '1.0.0'})
        self.assertEqual(r.status, 400)
        r = linkedin(LINKEDIN_REQUEST, method=None)
        self.assertEqual(r.status, 400)
        ctl('POST', 'config', {'linkedin_versions': ['202511']})
        self.assertEqual(linkedin(LINKEDIN_REQUEST, version='202512').status, 426)
        self.assertEqual(linkedin(LINKEDIN_REQUEST, version='202511').status, 200)

    def test_single_create(self):
        el = json.loads(LINKEDIN_REQUEST)['elements'][0]
        r = linkedin(el, method=None)
        self.assertEqual((r.status, r.raw), (201, b''))
        self.assertEqual(ctl('GET', 'accepted', platform='linkedin')['counts'], {'in_test_001': 1})

    def test_auth_rate_limit_partial(self):
        ctl('POST', 'config', {'token_policy': 'prefix', 'token_prefix': 'AQV'})
        r = linkedin(LINKEDIN_REQUEST, token='nope')
        self.assertEqual((r.status, r.json), (401, json.loads(LINKEDIN_401)))
        ctl('POST', 'tokens', {'platform': 'linkedin', 'token': 'AQVgone', 'state': 'revoked'})
        r = linkedin(LINKEDIN_REQUEST, token='AQVgone')
        self.assertEqual((r.status, r.json['serviceErrorCode'], r.json['code']), (401, 65601, 'REVOKED_ACCESS_TOKEN'))
        self.assertEqual(linkedin(LINKEDIN_REQUEST, token='AQVgood').status, 200)
        ctl('POST', 'faults', {'platform': 'linkedin', 'mode': '429', 'retry_after': 3})
        r = linkedin(LINKEDIN_REQUEST, token='AQVgood')
        self.assertEqual((r.status, r.json, r.header('Retry-After')), (429, json.loads(LINKEDIN_RATE), '3'))
        ctl('POST', 'faults', {'platform': 'linkedin', 'mode': 'partial', 'indexes': [1]})
        r = linkedin({'elements': [self.li_element(i) for i in range(3)]}, token='AQVgood')
        self.assertEqual(r.status, 422)
        self.assertEqual(r.json['message'], 'Index: 1, ERROR :: /conversion :: rejected (mock fault)\n')
