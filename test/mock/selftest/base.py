"""Shared pieces of the mock's self-test: the mock process, an HTTP client,
request helpers per platform and the test case base class."""

import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
from urllib.parse import urlencode

from examples import (EMAIL_HASH, GOOGLE_PATH, LINKEDIN_PATH, LINKEDIN_REQUEST, META_PATH, NOW,
                      TIKTOK_PATH)

MOCK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
            [sys.executable, os.path.join(MOCK_DIR, 'mock_server.py'), '--http-port', '0', '--https-port', '0',
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


# The mock process the tests talk to; the runner (test_mock.py) sets it.
MOCK = None


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
