"""Self-test of the mock: HTTPS, keep-alive, transfer details and the control API."""

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import unittest

import base
from base import Mock, MockTestCase, call, connect, ctl, google, linkedin, meta, tiktok
from examples import (NOW, GOOGLE_REQUEST, META_REQUEST, TIKTOK_REQUEST, LINKEDIN_REQUEST, GOOGLE_PATH,
                      META_PATH, TIKTOK_PATH)


class TransportTest(MockTestCase):
    def test_https_with_generated_ca(self):
        r = meta(META_REQUEST, https=True)
        self.assertEqual(r.status, 200)
        self.assertEqual(ctl('GET', 'requests', platform='meta')['requests'][0]['scheme'], 'https')
        conn = http.client.HTTPSConnection('127.0.0.1', base.MOCK.https_port, timeout=5,
                                           context=ssl.create_default_context())
        with self.assertRaises(ssl.SSLCertVerificationError):
            conn.request('GET', '/_mock/health')
        conn.close()
        conn = http.client.HTTPSConnection('localhost', base.MOCK.https_port, timeout=5,
                                           context=ssl.create_default_context(cafile=base.MOCK.ca_file))
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
        s = socket.create_connection(('127.0.0.1', base.MOCK.http_port), timeout=10)
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
        url = 'https://127.0.0.1:%d%s?access_token=EAAcurl' % (base.MOCK.https_port, META_PATH)
        out = subprocess.run(
            ['curl', '-s', '--http2', '--cacert', base.MOCK.ca_file, '-H', 'Content-Type: application/json',
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
        self.assertEqual((health['http_port'], health['https_port']), (base.MOCK.http_port, base.MOCK.https_port))
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
        self.assertEqual(saved, base.MOCK.state_file)
        other = Mock(['--state-file', base.MOCK.state_file])
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
            resp = conn.getresponse()
            body = json.loads(resp.read())
            self.assertEqual(body['partialFailureError']['details'][0]['errors'][0]['errorCode'],
                             {'conversionUploadError': 'ORDER_ID_ALREADY_IN_USE'})
            # Numbering goes on after the saved requests.
            self.assertGreater(int(resp.getheader('X-Mock-Seq')), acc['items'][-1]['seq'])
            conn.close()
        finally:
            other.cleanup()
