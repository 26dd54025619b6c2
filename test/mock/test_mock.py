#!/usr/bin/env python3
"""Self-test of the contract mock: starts mock_server.py on free ports and
checks every platform's success path with the composed examples of
API-CONTRACTS.md (verbatim), the documented violations, each fault mode,
the OAuth endpoints, HTTPS with the throwaway CA and keep-alive reuse.

    python3 test/mock/test_mock.py [-v]
"""

import hashlib
import hmac
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))

# 2026-01-01T00:00:00Z, the time of the composed examples; the mock clock is
# set one hour later so that they are fresh for every platform.
T0 = 1767225600
NOW = T0 + 3600
EMAIL_HASH = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b'

# ----- composed examples of API-CONTRACTS.md, verbatim ---------------------------------

GOOGLE_REQUEST = '''{"conversions":[
  {"gclid":"Cj0KCQiAtest_BwE","conversionAction":"customers/1234567890/conversionActions/555",
   "conversionDateTime":"2026-01-01 00:00:00+00:00","conversionValue":29.0,"currencyCode":"USD",
   "orderId":"in_test_001","consent":{"adUserData":"GRANTED"}},
  {"conversionAction":"customers/1234567890/conversionActions/555",
   "conversionDateTime":"2026-01-01 00:05:00+00:00","conversionValue":29.0,"currencyCode":"USD",
   "orderId":"in_test_002","userIdentifiers":[{"userIdentifierSource":"FIRST_PARTY",
   "hashedEmail":"973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"}]}],
 "partialFailure":true}'''
GOOGLE_SUCCESS = '''{"results":[{"gclid":"Cj0KCQiAtest_BwE","conversionAction":"customers/1234567890/conversionActions/555",
  "conversionDateTime":"2026-01-01 00:00:00+00:00"},
 {"conversionAction":"customers/1234567890/conversionActions/555",
  "conversionDateTime":"2026-01-01 00:05:00+00:00"}],"jobId":"2147483650"}'''
GOOGLE_PARTIAL = '''{"partialFailureError":{"code":3,"message":"The imported event could not be attributed to a click..., at conversions[0].gclid",
  "details":[{"@type":"type.googleapis.com/google.ads.googleads.v24.errors.GoogleAdsFailure",
   "errors":[{"errorCode":{"conversionUploadError":"EVENT_NOT_FOUND"},
     "message":"The imported event could not be attributed to a click.",
     "location":{"fieldPathElements":[{"fieldName":"conversions","index":0},{"fieldName":"gclid"}]}}],
   "requestId":"req-mock-1"}]},
 "results":[{},{"conversionAction":"customers/1234567890/conversionActions/555",
  "conversionDateTime":"2026-01-01 00:05:00+00:00"}],"jobId":"2147483651"}'''
GOOGLE_RATE_LIMIT = '''{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED",
 "details":[{"@type":"type.googleapis.com/google.ads.googleads.v24.errors.GoogleAdsFailure",
  "errors":[{"errorCode":{"quotaError":"RESOURCE_TEMPORARILY_EXHAUSTED"},"message":"Too many requests.",
   "details":{"quotaErrorDetails":{"rateScope":"ACCOUNT","rateName":"Requests per account","retryDelay":"30s"}}}],
  "requestId":"req-mock-2"}]}}'''
GOOGLE_AUTH_EXPIRED = '''{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED",
 "details":[{"@type":"type.googleapis.com/google.ads.googleads.v24.errors.GoogleAdsFailure",
  "errors":[{"errorCode":{"authenticationError":"OAUTH_TOKEN_EXPIRED"},"message":"OAuth token in the header has expired."}],
  "requestId":"req-mock-3"}]}}'''
GOOGLE_ADJUST = '''{"conversionAdjustments":[
  {"conversionAction":"customers/1234567890/conversionActions/555","adjustmentType":"RETRACTION",
   "adjustmentDateTime":"2026-01-10 12:00:00+00:00","orderId":"in_test_001"},
  {"conversionAction":"customers/1234567890/conversionActions/555","adjustmentType":"RESTATEMENT",
   "adjustmentDateTime":"2026-01-10 12:00:00+00:00","orderId":"in_test_002",
   "restatementValue":{"adjustedValue":14.5,"currencyCode":"USD"}}],
 "partialFailure":true}'''
GOOGLE_ADJUST_OK = '''{"results":[{"orderId":"in_test_001","conversionAction":"customers/1234567890/conversionActions/555",
   "adjustmentDateTime":"2026-01-10 12:00:00+00:00","adjustmentType":"RETRACTION"},
  {"orderId":"in_test_002","conversionAction":"customers/1234567890/conversionActions/555",
   "adjustmentDateTime":"2026-01-10 12:00:00+00:00","adjustmentType":"RESTATEMENT"}],"jobId":"2147483652"}'''

META_REQUEST = '''{"data":[{"event_name":"Purchase","event_time":1767225600,"event_id":"in_test_001",
  "action_source":"system_generated",
  "user_data":{"em":["973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"],
   "ph":["e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"],
   "external_id":["afc2d29f5ba19d741c1f777eb30989cb450e9b7ad5bab15ab72a12d62b6cc40b"],
   "fbc":"fb.1.1767000000000.IwAR2F4-test","fbp":"fb.1.1766990000000.1116446470",
   "client_ip_address":"203.0.113.7","client_user_agent":"Mozilla/5.0"},
  "custom_data":{"value":29.0,"currency":"USD","predicted_ltv":348.0}}],
 "test_event_code":"TEST12345"}'''
META_STALE = '''{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":2804003,
 "is_transient":false,"error_user_title":"Event Timestamp Too Old",
 "error_user_msg":"The timestamp for this event is too far in the past. Events need to be sent from your server within 7 days of when they occurred.",
 "fbtrace_id":"AmockTrace2"}}'''
META_RATE = '''{"error":{"message":"User request limit reached","type":"OAuthException","code":17,"fbtrace_id":"AmockTrace3"}}'''
META_EXPIRED = '''{"error":{"message":"Error validating access token: Session has expired.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AmockTrace4"}}'''

TIKTOK_REQUEST = '''{"event_source":"web","event_source_id":"CMOCKPIXEL123","test_event_code":"TEST123",
 "data":[{"event":"CompletePayment","event_time":1767225600,"event_id":"in_test_001",
  "user":{"ttclid":"E.C.P.mockclick","ttp":"2mockttpcookie",
   "email":["973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"],
   "phone":["1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8"],
   "external_id":["afc2d29f5ba19d741c1f777eb30989cb450e9b7ad5bab15ab72a12d62b6cc40b"],
   "ip":"203.0.113.7","user_agent":"Mozilla/5.0"},
  "properties":{"value":29.0,"currency":"USD","content_type":"product",
   "contents":[{"content_id":"plan_pro_monthly","price":29.0}],"order_id":"in_test_001"},
  "page":{"url":"https://app.example.com/billing/success"}}]}'''
TIKTOK_SUCCESS = '{"code":0,"message":"OK","request_id":"2026010100000001","data":{}}'
TIKTOK_PARTIAL = ('{"code":20001,"message":"Partial success","request_id":"2026010100000002","data":'
                  '{"failed_events":[{"index":1,"code":40002,"message":"data.1.event_time: invalid"}]}}')

LINKEDIN_REQUEST = '''{"elements":[{"conversion":"urn:lla:llaPartnerConversion:123456","conversionHappenedAt":1767225600000,
  "conversionValue":{"currencyCode":"USD","amount":"29.0"},"eventId":"in_test_001",
  "user":{"userIds":[{"idType":"SHA256_EMAIL","idValue":"973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"},
   {"idType":"LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID","idValue":"df5gf5-gh6t7-ph4j7h-fgf6n1"}],
   "userInfo":{"firstName":"ada","lastName":"lovelace","countryCode":"GB"}}}]}'''
LINKEDIN_SUCCESS = '{"elements":[{"status":201}]}'
LINKEDIN_422 = ('{"status":422,"message":"Index: 0, ERROR :: /conversionValue/amount :: field is required '
                'but not found and has no default value\\n"}')
LINKEDIN_RATE = '{"status":429,"code":"TOO_MANY_REQUESTS","message":"Resource level throttle limit reached"}'
LINKEDIN_401 = '{"status":401,"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN","message":"Invalid access token"}'

GOOGLE_PATH = '/v24/customers/1234567890:uploadClickConversions'
GOOGLE_ADJ_PATH = '/v24/customers/1234567890:uploadConversionAdjustments'
META_PATH = '/v25.0/1234567890123456/events'
TIKTOK_PATH = '/open_api/v1.3/event/track/'
LINKEDIN_PATH = '/rest/conversionEvents'


def without(d, *keys):
    return {k: v for k, v in d.items() if k not in keys}


class Mock:
    """A mock_server.py process on free ports."""

    def __init__(self, extra=()):
        self.dir = tempfile.mkdtemp(prefix='pg_attribution_mock_')
        self.certdir = os.path.join(self.dir, 'certs')
        ready = os.path.join(self.dir, 'ready.json')
        self.state_file = os.path.join(self.dir, 'state.json')
        self.stderr = open(os.path.join(self.dir, 'stderr.log'), 'w')
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, 'mock_server.py'), '--http-port', '0', '--https-port', '0',
             '--certdir', self.certdir, '--ready-file', ready, '--state-file', self.state_file] + list(extra),
            stdout=subprocess.DEVNULL, stderr=self.stderr)
        deadline = time.time() + 30
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError('mock did not start: ' + open(self.stderr.name).read())
            time.sleep(0.05)
        with open(ready) as f:
            self.ready = json.load(f)
        self.http_port = self.ready['http_port']
        self.https_port = self.ready['https_port']
        self.ca_file = self.ready['ca_file']

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


MOCK = None


def setUpModule():
    global MOCK
    MOCK = Mock()


def tearDownModule():
    with open(MOCK.stderr.name) as f:
        err = f.read()
    MOCK.cleanup()
    if err.strip():
        sys.stderr.write('--- mock stderr ---\n' + err)


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.json = json.loads(raw) if raw else None
        except ValueError:
            self.json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def connect(https=False, timeout=20):
    if https:
        ctx = ssl.create_default_context(cafile=MOCK.ca_file)
        return http.client.HTTPSConnection('127.0.0.1', MOCK.https_port, timeout=timeout, context=ctx)
    return http.client.HTTPConnection('127.0.0.1', MOCK.http_port, timeout=timeout)


def call(method, path, body=None, headers=None, conn=None, https=False, timeout=20):
    own = conn is None
    if own:
        conn = connect(https, timeout)
    h = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        h.setdefault('Content-Type', 'application/json')
    if isinstance(body, str):
        body = body.encode('utf-8')
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        raw = r.read()
        return Response(r.status, r.getheaders(), raw)
    finally:
        if own:
            conn.close()


def ctl(method, name, body=None, **query):
    path = '/_mock/' + name
    if query:
        path += '?' + urlencode(query)
    r = call(method, path, body if body is not None else ({} if method == 'POST' else None))
    if r.status != 200:
        raise AssertionError('control %s %s: %d %s' % (method, name, r.status, r.raw))
    return r.json


def google(body, path=GOOGLE_PATH, token='ya29.test', extra=None, **kw):
    h = {'Content-Type': 'application/json', 'developer-token': 'devtok'}
    if token is not None:
        h['Authorization'] = 'Bearer ' + token
    h.update(extra or {})
    return call('POST', path, body, h, **kw)


def meta(body, token='EAABtest', path=META_PATH, **kw):
    if token is not None:
        path += '?' + urlencode({'access_token': token})
    return call('POST', path, body, {'Content-Type': 'application/json'}, **kw)


def tiktok(body, token='tt-mock-token', **kw):
    h = {'Content-Type': 'application/json'}
    if token is not None:
        h['Access-Token'] = token
    return call('POST', TIKTOK_PATH, body, h, **kw)


def linkedin(body, token='li-token', version='202511', method='BATCH_CREATE', extra=None, **kw):
    h = {'Content-Type': 'application/json', 'X-Restli-Protocol-Version': '2.0.0'}
    if token is not None:
        h['Authorization'] = 'Bearer ' + token
    if version is not None:
        h['LinkedIn-Version'] = version
    if method is not None:
        h['X-RestLi-Method'] = method
    h.update(extra or {})
    return call('POST', LINKEDIN_PATH, body, h, **kw)


class MockTestCase(unittest.TestCase):
    maxDiff = None

    def setUp(self):
        ctl('POST', 'reset', {'all': True})
        ctl('POST', 'clock', {'now': NOW})

    def g_rows(self, n, prefix='o'):
        return [{'gclid': 'Cj0KCQiAtest_%d' % i, 'conversionAction': 'customers/1234567890/conversionActions/555',
                 'conversionDateTime': '2026-01-01 00:00:00+00:00', 'conversionValue': 29.0,
                 'currencyCode': 'USD', 'orderId': '%s_%d' % (prefix, i)} for i in range(n)]

    def g_error(self, r, index=0):
        """The errorCode of the partial failure for row index."""
        self.assertEqual(r.status, 200, r.raw)
        pfe = r.json['partialFailureError']
        self.assertEqual(pfe['code'], 3)
        self.assertEqual(r.json['results'][index], {})
        for e in pfe['details'][0]['errors']:
            if e['location']['fieldPathElements'][0]['index'] == index:
                return e['errorCode']
        self.fail('no error for row %d: %s' % (index, r.raw))

    def meta_event(self, i=0, **over):
        ev = {'event_name': 'Purchase', 'event_time': NOW - 60, 'event_id': 'ev_%d' % i,
              'action_source': 'website', 'event_source_url': 'https://app.example.com/',
              'user_data': {'em': [EMAIL_HASH], 'client_ip_address': '203.0.113.7',
                            'client_user_agent': 'Mozilla/5.0'},
              'custom_data': {'value': 29.0, 'currency': 'USD'}}
        ev.update(over)
        return ev

    def tt_body(self, events):
        return {'event_source': 'web', 'event_source_id': 'CMOCKPIXEL123', 'data': events}

    def tt_event(self, i=0, **over):
        ev = {'event': 'CompletePayment', 'event_time': NOW - 60, 'event_id': 'tt_%d' % i,
              'user': {'email': [EMAIL_HASH], 'ttclid': 'E.C.P.x'},
              'properties': {'value': 29.0, 'currency': 'USD'}}
        ev.update(over)
        return ev

    def li_element(self, i=0, **over):
        el = json.loads(LINKEDIN_REQUEST)['elements'][0]
        el['eventId'] = 'li_%d' % i
        el['conversionHappenedAt'] = (NOW - 60) * 1000
        el.update(over)
        return el


# ----- Google Ads ---------------------------------------------------------------------

class GoogleTest(MockTestCase):
    def test_composed_success(self):
        r = google(GOOGLE_REQUEST)
        self.assertEqual(r.status, 200, r.raw)
        want = json.loads(GOOGLE_SUCCESS)
        self.assertEqual(r.json['results'], want['results'])
        self.assertIsInstance(r.json['jobId'], str)
        self.assertNotIn('partialFailureError', r.json)
        acc = ctl('GET', 'accepted', platform='google')
        self.assertEqual(acc['counts'], {'in_test_001': 1, 'in_test_002': 1})
        self.assertEqual(acc['items'][0]['event'], json.loads(GOOGLE_REQUEST)['conversions'][0])

    def test_composed_partial_failure_shape(self):
        ctl('POST', 'faults', {'platform': 'google', 'mode': 'partial', 'indexes': [0], 'error': 'EVENT_NOT_FOUND'})
        r = google(GOOGLE_REQUEST)
        want = json.loads(GOOGLE_PARTIAL)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json['results'], want['results'])
        got_pfe = r.json['partialFailureError']
        want_pfe = want['partialFailureError']
        self.assertEqual(got_pfe['code'], 3)
        self.assertTrue(got_pfe['message'].endswith(', at conversions[0].gclid'))
        d, wd = got_pfe['details'][0], want_pfe['details'][0]
        self.assertEqual(d['@type'], wd['@type'])
        self.assertEqual(d['errors'], wd['errors'])
        self.assertTrue(d['requestId'])
        self.assertEqual(ctl('GET', 'accepted', platform='google')['counts'], {'in_test_002': 1})

    def test_composed_rate_limit_and_auth_shapes(self):
        ctl('POST', 'faults', {'platform': 'google', 'mode': '429', 'retry_after': 30})
        r = google(GOOGLE_REQUEST)
        self.assertEqual(r.status, 429)
        self.assertEqual(r.header('Retry-After'), '30')
        want = json.loads(GOOGLE_RATE_LIMIT)
        want['error']['details'][0]['requestId'] = r.json['error']['details'][0]['requestId']
        self.assertEqual(r.json, want)
        ctl('POST', 'tokens', {'platform': 'google', 'token': 'ya29.old', 'state': 'expired'})
        r = google(GOOGLE_REQUEST, token='ya29.old')
        self.assertEqual(r.status, 401)
        want = json.loads(GOOGLE_AUTH_EXPIRED)
        want['error']['details'][0]['requestId'] = r.json['error']['details'][0]['requestId']
        self.assertEqual(r.json, want)
        self.assertEqual(ctl('GET', 'accepted', platform='google')['total'], 0)

    def test_order_id_already_in_use_on_repeat(self):
        self.assertEqual(google(GOOGLE_REQUEST).status, 200)
        r = google(GOOGLE_REQUEST)
        self.assertEqual(self.g_error(r, 0), {'conversionUploadError': 'ORDER_ID_ALREADY_IN_USE'})
        self.assertEqual(self.g_error(r, 1), {'conversionUploadError': 'ORDER_ID_ALREADY_IN_USE'})
        acc = ctl('GET', 'accepted', platform='google')
        self.assertEqual(acc['counts'], {'in_test_001': 1, 'in_test_002': 1})
        self.assertEqual(acc['received'], {'in_test_001': 2, 'in_test_002': 2})

    def test_duplicate_order_id_in_request(self):
        rows = self.g_rows(2)
        rows[1]['orderId'] = rows[0]['orderId']
        r = google({'conversions': rows, 'partialFailure': True})
        self.assertEqual(r.json['results'][0]['gclid'], 'Cj0KCQiAtest_0')
        self.assertEqual(self.g_error(r, 1), {'conversionUploadError': 'DUPLICATE_ORDER_ID'})

    def test_click_conversion_already_exists(self):
        rows = self.g_rows(1)
        del rows[0]['orderId']
        google({'conversions': rows, 'partialFailure': True})
        r = google({'conversions': rows, 'partialFailure': True})
        self.assertEqual(self.g_error(r), {'conversionUploadError': 'CLICK_CONVERSION_ALREADY_EXISTS'})

    def test_row_violations(self):
        cases = [
            ({'gbraid': 'abc', 'wbraid': 'def'}, {'conversionUploadError': 'GBRAID_WBRAID_BOTH_SET'}),
            ({'gclid': 'bad gclid!'}, {'conversionUploadError': 'UNPARSEABLE_GCLID'}),
            ({'conversionDateTime': '2026-01-01 00:00:00'}, {'dateError': 'INVALID_FIELD_VALUES_IN_DATE_TIME'}),
            ({'conversionDateTime': '2026-01-01T00:00:00+00:00'}, {'dateError': 'INVALID_FIELD_VALUES_IN_DATE_TIME'}),
            ({'conversionDateTime': '2026-02-30 00:00:00+00:00'}, {'dateError': 'INVALID_FIELD_VALUES_IN_DATE_TIME'}),
            ({'currencyCode': 'usd'}, {'currencyCodeError': 'UNSUPPORTED'}),
            ({'conversionAction': 'conversionActions/555'}, {'conversionUploadError': 'NO_CONVERSION_ACTION_FOUND'}),
            ({'conversionAction': None}, {'fieldError': 'REQUIRED'}),
            ({'orderId': 'someone@example.com'}, {'conversionUploadError': 'ORDER_ID_CONTAINS_PII'}),
            ({'gclid': None, 'userIdentifiers': [{'hashedEmail': 'Test@Example.com'}]},
             {'conversionUploadError': 'INVALID_USER_IDENTIFIER'}),
            ({'gclid': None, 'userIdentifiers': [{'hashedEmail': EMAIL_HASH.upper()}]},
             {'conversionUploadError': 'INVALID_USER_IDENTIFIER'}),
            ({'gclid': None, 'userIdentifiers': [{'hashedEmail': EMAIL_HASH}] * 6},
             {'collectionSizeError': 'TOO_MANY'}),
            ({'gclid': None, 'userIdentifiers': [{'thirdPartyUserId': 'x'}]},
             {'conversionUploadError': 'UNSUPPORTED_USER_IDENTIFIER'}),
            ({'gclid': None}, {'fieldError': 'REQUIRED'}),
        ]
        for change, code in cases:
            with self.subTest(change=change):
                row = self.g_rows(1, prefix='v%d' % len(str(change)))[0]
                for k, v in change.items():
                    if v is None:
                        row.pop(k, None)
                    else:
                        row[k] = v
                n = cases.index((change, code))
                good = self.g_rows(1, prefix='good%d' % n)[0]
                good['gclid'] = 'Cj0KCQiAgood%d' % n
                r = google({'conversions': [row, good], 'partialFailure': True})
                self.assertEqual(self.g_error(r, 0), code)
                self.assertEqual(r.json['results'][1]['gclid'], good['gclid'])
                self.assertEqual(len(r.json['partialFailureError']['details'][0]['errors']), 1)

    def test_gclid_with_user_identifiers_is_accepted(self):
        row = self.g_rows(1)[0]
        row['userIdentifiers'] = [{'hashedEmail': EMAIL_HASH}, {'hashedPhoneNumber': EMAIL_HASH}]
        r = google({'conversions': [row], 'partialFailure': True})
        self.assertNotIn('partialFailureError', r.json)

    def test_request_level_violations(self):
        rows = self.g_rows(1)
        cases = [
            ({'conversions': rows, 'partialFailure': False}, 400, {'fieldError': 'REQUIRED'}),
            ({'conversions': rows}, 400, {'fieldError': 'REQUIRED'}),
            ({'conversions': [], 'partialFailure': True}, 400, {'fieldError': 'REQUIRED'}),
            ({'conversions': self.g_rows(2001), 'partialFailure': True}, 400,
             {'conversionUploadError': 'TOO_MANY_CONVERSIONS_IN_REQUEST'}),
        ]
        for body, status, code in cases:
            with self.subTest(body=str(body)[:80]):
                r = google(body)
                self.assertEqual(r.status, status, r.raw)
                self.assertEqual(r.json['error']['status'], 'INVALID_ARGUMENT')
                self.assertEqual(r.json['error']['details'][0]['errors'][0]['errorCode'], code)
        bad_json = [
            {'conversions': rows, 'partialFailure': True, 'debugEnabled': True},
            {'conversions': [dict(rows[0], conversionValue='29.0')], 'partialFailure': True},
            {'conversions': [dict(rows[0], consent={'adUserData': 'YES'})], 'partialFailure': True},
            {'conversions': [dict(rows[0], bogus=1)], 'partialFailure': True},
        ]
        for body in bad_json:
            with self.subTest(body=str(body)[:80]):
                r = google(body)
                self.assertEqual(r.status, 400, r.raw)
                self.assertEqual(r.json['error']['details'][0]['@type'], 'type.googleapis.com/google.rpc.BadRequest')
        self.assertEqual(ctl('GET', 'accepted', platform='google')['total'], 0)

    def test_path_and_header_violations(self):
        r = google(GOOGLE_REQUEST, path='/v24/customers/123-456-7890:uploadClickConversions')
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json['error']['details'][0]['errors'][0]['errorCode'], {'requestError': 'INVALID_CUSTOMER_ID'})
        r = google(GOOGLE_REQUEST, path='/v20/customers/1234567890:uploadClickConversions')
        self.assertEqual(r.status, 404)
        self.assertEqual(google(GOOGLE_REQUEST, path='/v21/customers/1234567890:uploadClickConversions').status, 200)
        r = google(GOOGLE_REQUEST, token=None)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json['error']['details'][0]['errors'][0]['errorCode'],
                         {'authenticationError': 'OAUTH_TOKEN_HEADER_INVALID'})
        r = google(GOOGLE_REQUEST, extra={'login-customer-id': '123-456'})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json['error']['details'][0]['errors'][0]['errorCode'],
                         {'headerError': 'INVALID_LOGIN_CUSTOMER_ID'})
        r = google(GOOGLE_REQUEST, extra={'Content-Type': 'text/plain'})
        self.assertEqual(r.status, 400)
        # developer-token and login-customer-id are optional.
        r = call('POST', GOOGLE_PATH, json.loads(GOOGLE_REQUEST),
                 {'Authorization': 'Bearer t2', 'login-customer-id': '9876543210'})
        self.assertEqual(r.status, 200, r.raw)

    def test_validate_only(self):
        body = json.loads(GOOGLE_REQUEST)
        body['validateOnly'] = True
        r = google(body)
        self.assertEqual(r.status, 200)
        self.assertNotIn('results', r.json)
        self.assertEqual(ctl('GET', 'accepted', platform='google')['total'], 0)
        self.assertEqual(google(GOOGLE_REQUEST).json['results'], json.loads(GOOGLE_SUCCESS)['results'])

    def test_composed_adjustments(self):
        google(GOOGLE_REQUEST)
        r = google(GOOGLE_ADJUST, path=GOOGLE_ADJ_PATH)
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.json['results'], json.loads(GOOGLE_ADJUST_OK)['results'])
        self.assertNotIn('partialFailureError', r.json)
        acc = ctl('GET', 'accepted', platform='google', kind='adjustment')
        self.assertEqual(acc['counts'], {'in_test_001#RETRACTION': 1, 'in_test_002#RESTATEMENT': 1})
        # Repeats: retraction -> already retracted, same restatement time -> exists.
        r = google(GOOGLE_ADJUST, path=GOOGLE_ADJ_PATH)
        self.assertEqual(self.g_error(r, 0), {'conversionAdjustmentUploadError': 'CONVERSION_ALREADY_RETRACTED'})
        self.assertEqual(self.g_error(r, 1), {'conversionAdjustmentUploadError': 'RESTATEMENT_ALREADY_EXISTS'})
        # An earlier restatement than the stored one.
        body = json.loads(GOOGLE_ADJUST)
        body['conversionAdjustments'] = [body['conversionAdjustments'][1]]
        body['conversionAdjustments'][0]['adjustmentDateTime'] = '2026-01-09 12:00:00+00:00'
        r = google(body, path=GOOGLE_ADJ_PATH)
        self.assertEqual(self.g_error(r, 0), {'conversionAdjustmentUploadError': 'MORE_RECENT_RESTATEMENT_FOUND'})
        body['conversionAdjustments'][0]['adjustmentDateTime'] = '2026-01-11 12:00:00+00:00'
        self.assertNotIn('partialFailureError', google(body, path=GOOGLE_ADJ_PATH).json)

    def test_adjustment_violations(self):
        google(GOOGLE_REQUEST)
        base = json.loads(GOOGLE_ADJUST)['conversionAdjustments']
        retract, restate = base
        cases = [
            (dict(retract, restatementValue={'adjustedValue': 1.0, 'currencyCode': 'USD'}),
             {'fieldError': 'VALUE_MUST_BE_UNSET'}),
            (without(restate, 'restatementValue'), {'fieldError': 'REQUIRED'}),
            (dict(restate, restatementValue={'adjustedValue': 1.0}), {'fieldError': 'REQUIRED'}),
            (dict(restate, restatementValue={'adjustedValue': 1.0, 'currencyCode': 'usd'}),
             {'currencyCodeError': 'UNSUPPORTED'}),
            (dict(retract, gclidDateTimePair={'gclid': 'Cj0KCQiAtest_BwE',
                                              'conversionDateTime': '2026-01-01 00:00:00+00:00'}),
             {'conversionAdjustmentUploadError': 'GCLID_DATE_TIME_PAIR_AND_ORDER_ID_BOTH_SET'}),
            (without(retract, 'orderId'), {'fieldError': 'REQUIRED'}),
            (dict(retract, adjustmentDateTime='2026-01-10 12:00:00'), {'dateError': 'INVALID_FIELD_VALUES_IN_DATE_TIME'}),
            (dict(retract, orderId='never_sent'), {'conversionAdjustmentUploadError': 'CONVERSION_NOT_FOUND'}),
            (dict(retract, adjustmentDateTime='2025-12-31 00:00:00+00:00'),
             {'conversionAdjustmentUploadError': 'ADJUSTMENT_PRECEDES_CONVERSION'}),
            (dict(retract, adjustmentType='ENHANCEMENT', orderId=None),
             {'conversionAdjustmentUploadError': 'MISSING_ORDER_ID_FOR_WEBPAGE'}),
        ]
        for row, code in cases:
            with self.subTest(row=row, code=code):
                row = {k: v for k, v in row.items() if v is not None}
                r = google({'conversionAdjustments': [row], 'partialFailure': True}, path=GOOGLE_ADJ_PATH)
                self.assertEqual(self.g_error(r, 0), code)
        r = google({'conversionAdjustments': [dict(retract, adjustmentType='REFUND')], 'partialFailure': True},
                   path=GOOGLE_ADJ_PATH)
        self.assertEqual(r.status, 400)
        r = google({'conversionAdjustments': [retract] * 2001, 'partialFailure': True}, path=GOOGLE_ADJ_PATH)
        self.assertEqual(r.json['error']['details'][0]['errors'][0]['errorCode'],
                         {'conversionAdjustmentUploadError': 'TOO_MANY_ADJUSTMENTS_IN_REQUEST'})
        # By gclidDateTimePair, and a duplicate within the request.
        pair = {'conversionAction': retract['conversionAction'], 'adjustmentType': 'RETRACTION',
                'adjustmentDateTime': '2026-01-10 12:00:00+00:00',
                'gclidDateTimePair': {'gclid': 'Cj0KCQiAtest_BwE', 'conversionDateTime': '2026-01-01 00:00:00+00:00'}}
        r = google({'conversionAdjustments': [pair, pair], 'partialFailure': True}, path=GOOGLE_ADJ_PATH)
        self.assertEqual(r.json['results'][0]['gclidDateTimePair'], pair['gclidDateTimePair'])
        self.assertEqual(self.g_error(r, 1), {'conversionAdjustmentUploadError': 'DUPLICATE_ADJUSTMENT_IN_REQUEST'})

    def test_adjustment_expiry_and_not_found_switch(self):
        google(GOOGLE_REQUEST)
        ctl('POST', 'clock', {'now': T0 + 55 * 86400})
        r = google(GOOGLE_ADJUST, path=GOOGLE_ADJ_PATH)
        self.assertEqual(self.g_error(r, 0), {'conversionAdjustmentUploadError': 'CONVERSION_EXPIRED'})
        ctl('POST', 'config', {'google_require_conversion': False})
        body = json.loads(GOOGLE_ADJUST)
        for a in body['conversionAdjustments']:
            a['orderId'] = 'unknown_' + a['orderId']
        r = google(body, path=GOOGLE_ADJ_PATH)
        self.assertNotIn('partialFailureError', r.json)


# ----- Meta ---------------------------------------------------------------------------

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


# ----- TikTok -------------------------------------------------------------------------

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


# ----- LinkedIn -----------------------------------------------------------------------

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


# ----- webhook ------------------------------------------------------------------------

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


# ----- faults -------------------------------------------------------------------------

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
        ctl('POST', 'faults', {'platform': 'linkedin', 'mode': 'slow', 'delay_ms': 400})
        t = time.time()
        self.assertEqual(linkedin(LINKEDIN_REQUEST).status, 200)
        self.assertGreaterEqual(time.time() - t, 0.4)
        t = time.time()
        linkedin(LINKEDIN_REQUEST)
        self.assertLess(time.time() - t, 0.4)

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


# ----- transport and control ----------------------------------------------------------

class TransportTest(MockTestCase):
    def test_https_with_generated_ca(self):
        r = meta(META_REQUEST, https=True)
        self.assertEqual(r.status, 200)
        self.assertEqual(ctl('GET', 'requests', platform='meta')['requests'][0]['scheme'], 'https')
        conn = http.client.HTTPSConnection('127.0.0.1', MOCK.https_port, timeout=5,
                                           context=ssl.create_default_context())
        with self.assertRaises(ssl.SSLCertVerificationError):
            conn.request('GET', '/_mock/health')
        conn.close()
        conn = http.client.HTTPSConnection('localhost', MOCK.https_port, timeout=5,
                                           context=ssl.create_default_context(cafile=MOCK.ca_file))
        conn.request('GET', '/_mock/health')
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()

    def test_keep_alive_reuse(self):
        for https in (False, True):
            ctl('POST', 'reset')
            conn = connect(https)
            try:
                for _ in range(3):
                    self.assertEqual(meta(META_REQUEST, conn=conn).status, 200)
                self.assertEqual(tiktok(TIKTOK_REQUEST, conn=conn).json['code'], 0)
                self.assertEqual(linkedin(LINKEDIN_REQUEST, conn=conn).status, 200)
                self.assertEqual(google(GOOGLE_REQUEST, conn=conn).status, 200)
            finally:
                conn.close()
            recs = ctl('GET', 'requests')['requests']
            self.assertEqual(len(recs), 6)
            self.assertEqual(len({r['conn'] for r in recs}), 1, 'all requests on one connection')

    def test_chunked_body(self):
        conn = connect()
        try:
            conn.request('POST', META_PATH + '?access_token=EAAchunk', body=iter([META_REQUEST[:100].encode(),
                                                                              META_REQUEST[100:].encode()]),
                         headers={'Content-Type': 'application/json'}, encode_chunked=True)
            r = conn.getresponse()
            self.assertEqual(r.status, 200, r.read())
        finally:
            conn.close()

    def test_multipart_form(self):
        events = json.dumps(json.loads(META_REQUEST)['data'])
        b = 'mockboundary42'
        body = ''.join('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (b, k, v)
                       for k, v in (('data', events), ('access_token', 'EAAmultipart'))) + '--%s--\r\n' % b
        r = call('POST', META_PATH, body, {'Content-Type': 'multipart/form-data; boundary=' + b})
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(ctl('GET', 'accepted', platform='meta')['counts'], {'in_test_001': 1})

    def test_expect_100_continue(self):
        body = json.dumps({'conversions': self.g_rows(2000), 'partialFailure': True}).encode()
        s = socket.create_connection(('127.0.0.1', MOCK.http_port), timeout=10)
        try:
            s.sendall(('POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer t\r\n'
                       'Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n'
                       % (GOOGLE_PATH, len(body))).encode())
            interim = s.recv(100)
            self.assertTrue(interim.startswith(b'HTTP/1.1 100'), interim)
            s.sendall(body)
            f = s.makefile('rb')
            r = http.client.HTTPResponse(s)
            r.fp = f
            r.begin()
            data = json.loads(r.read())
            self.assertEqual(r.status, 200)
            self.assertEqual(len(data['results']), 2000)
            self.assertNotIn('partialFailureError', data)
        finally:
            s.close()

    @unittest.skipUnless(shutil.which('curl'), 'curl not installed')
    def test_curl_reuses_connection_and_falls_back_from_h2(self):
        # libcurl is the extension's client: two requests in one curl run
        # share one TLS connection, and asking for HTTP/2 ends up on HTTP/1.1.
        url = 'https://127.0.0.1:%d%s?access_token=EAAcurl' % (MOCK.https_port, META_PATH)
        out = subprocess.run(
            ['curl', '-s', '--http2', '--cacert', MOCK.ca_file, '-H', 'Content-Type: application/json',
             '--data-binary', META_REQUEST, '-w', ' %{http_code} %{num_connects} %{http_version}\n',
             url, url], capture_output=True, text=True, timeout=30)
        lines = [l.rsplit('}', 1)[1].split() for l in out.stdout.strip().splitlines()]
        self.assertEqual(lines, [['200', '1', '1.1'], ['200', '0', '1.1']], out.stdout + out.stderr)
        recs = ctl('GET', 'requests', platform='meta')['requests']
        self.assertEqual(len({r['conn'] for r in recs}), 1)

    def test_platform_prefix_and_unknown(self):
        self.assertEqual(meta(META_REQUEST, path='/meta' + META_PATH).status, 200)
        self.assertEqual(call('POST', '/nowhere', {}).status, 404)
        self.assertEqual(call('GET', TIKTOK_PATH).status, 405)

    def test_control_api(self):
        meta(META_REQUEST)
        google(GOOGLE_REQUEST)
        stats = ctl('GET', 'stats')
        self.assertEqual(stats['requests'], 2)
        self.assertEqual(stats['platforms']['meta']['events_accepted'], 1)
        self.assertEqual(stats['platforms']['google']['by_status'], {'200': 1})
        self.assertEqual(stats['platforms']['google']['by_endpoint'], {'uploadClickConversions': 1})
        recs = ctl('GET', 'requests', platform='google')['requests']
        self.assertEqual(recs[0]['headers']['Authorization'], 'Bearer <redacted>')
        self.assertEqual(recs[0]['keys'], ['in_test_001', 'in_test_002'])
        self.assertEqual(recs[0]['body'], json.loads(GOOGLE_REQUEST))
        self.assertEqual(len(ctl('GET', 'requests', since=recs[0]['seq'])['requests']), 0)
        self.assertEqual(ctl('GET', 'requests', bodies=0)['requests'][0].get('body'), None)
        health = ctl('GET', 'health')
        self.assertEqual((health['http_port'], health['https_port']), (MOCK.http_port, MOCK.https_port))
        self.assertEqual(abs(ctl('GET', 'clock')['now'] - NOW) < 60, True)

    def test_record_limit(self):
        ctl('POST', 'config', {'max_records': 10})
        for i in range(25):
            call('POST', '/webhook/lim', {'id': 'r%d' % i})
        stats = ctl('GET', 'stats')
        self.assertEqual(stats['requests'], 25)
        self.assertLessEqual(stats['records_kept'], 10)
        self.assertEqual(stats['records_kept'] + stats['records_dropped'], 25)
        recs = ctl('GET', 'requests')['requests']
        self.assertEqual(recs[-1]['keys'], ['r24'])
        acc = ctl('GET', 'accepted', platform='webhook')
        self.assertEqual(len(acc['counts']), 25)
        self.assertEqual(acc['items'][-1]['event'], {'id': 'r24'})
        self.assertNotIn('event', acc['items'][0])

    def test_state_file_round_trip(self):
        google(GOOGLE_REQUEST)
        saved = ctl('POST', 'save')['saved']
        self.assertEqual(saved, MOCK.state_file)
        other = Mock(['--state-file', MOCK.state_file])
        try:
            conn = http.client.HTTPConnection('127.0.0.1', other.http_port, timeout=10)
            conn.request('GET', '/_mock/accepted?platform=google')
            acc = json.loads(conn.getresponse().read())
            self.assertEqual(acc['counts'], {'in_test_001': 1, 'in_test_002': 1})
            # The restored mock still knows the orders (duplicates, adjustments).
            conn.request('POST', '/_mock/clock', json.dumps({'now': NOW}))
            conn.getresponse().read()
            conn.request('POST', GOOGLE_PATH, GOOGLE_REQUEST,
                         {'Authorization': 'Bearer x', 'Content-Type': 'application/json'})
            body = json.loads(conn.getresponse().read())
            self.assertEqual(body['partialFailureError']['details'][0]['errors'][0]['errorCode'],
                             {'conversionUploadError': 'ORDER_ID_ALREADY_IN_USE'})
            conn.close()
        finally:
            other.cleanup()


if __name__ == '__main__':
    unittest.main()
