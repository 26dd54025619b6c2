#!/usr/bin/env python3
"""Throughput of the mock: posts batches of valid events (Meta by default)
over keep-alive connections and reports events/s.  Starts its own mock
unless --url is given.

    python3 test/mock/loader.py [--platform meta|google|tiktok|linkedin] [--batches 100]
        [--batch-size 1000] [--connections 2] [--https]

Not part of the test suite; the figure it prints bounds what a delivery
benchmark against the mock can measure."""

import argparse
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
EMAIL_HASH = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b'
PHONE_HASH = 'e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176'
EXT_HASH = 'afc2d29f5ba19d741c1f777eb30989cb450e9b7ad5bab15ab72a12d62b6cc40b'


def meta_batch(n, size, now):
    events = []
    for i in range(size):
        events.append({
            'event_name': 'Purchase', 'event_time': now - 60, 'event_id': 'load_%d_%d' % (n, i),
            'action_source': 'system_generated',
            'user_data': {'em': [EMAIL_HASH], 'ph': [PHONE_HASH], 'external_id': [EXT_HASH],
                          'fbc': 'fb.1.1767000000000.IwAR2F4-test%d' % i, 'fbp': 'fb.1.1766990000000.1116446470',
                          'client_ip_address': '203.0.113.7', 'client_user_agent': 'Mozilla/5.0'},
            'custom_data': {'value': 29.0, 'currency': 'USD', 'predicted_ltv': 348.0}})
    return json.dumps({'data': events}, separators=(',', ':')).encode()


def google_batch(n, size, now):
    t = time.strftime('%Y-%m-%d %H:%M:%S+00:00', time.gmtime(now - 60))
    rows = [{'gclid': 'Cj0KCQiAload_%d_%d' % (n, i), 'conversionAction': 'customers/1234567890/conversionActions/555',
             'conversionDateTime': t, 'conversionValue': 29.0, 'currencyCode': 'USD',
             'orderId': 'load_%d_%d' % (n, i), 'consent': {'adUserData': 'GRANTED'},
             'userIdentifiers': [{'userIdentifierSource': 'FIRST_PARTY', 'hashedEmail': EMAIL_HASH}]}
            for i in range(size)]
    return json.dumps({'conversions': rows, 'partialFailure': True}, separators=(',', ':')).encode()


def tiktok_batch(n, size, now):
    events = [{'event': 'CompletePayment', 'event_time': now - 60, 'event_id': 'load_%d_%d' % (n, i),
               'user': {'ttclid': 'E.C.P.load', 'email': [EMAIL_HASH], 'phone': [PHONE_HASH],
                        'external_id': [EXT_HASH], 'ip': '203.0.113.7', 'user_agent': 'Mozilla/5.0'},
               'properties': {'value': 29.0, 'currency': 'USD'}} for i in range(size)]
    return json.dumps({'event_source': 'web', 'event_source_id': 'CMOCKPIXEL123', 'data': events},
                      separators=(',', ':')).encode()


def linkedin_batch(n, size, now):
    els = [{'conversion': 'urn:lla:llaPartnerConversion:123456', 'conversionHappenedAt': (now - 60) * 1000,
            'conversionValue': {'currencyCode': 'USD', 'amount': '29.0'}, 'eventId': 'load_%d_%d' % (n, i),
            'user': {'userIds': [{'idType': 'SHA256_EMAIL', 'idValue': EMAIL_HASH}]}} for i in range(size)]
    return json.dumps({'elements': els}, separators=(',', ':')).encode()


PLATFORMS = {
    'meta': (meta_batch, '/v25.0/1234567890123456/events?access_token=EAABload',
             {'Content-Type': 'application/json'}),
    'google': (google_batch, '/v24/customers/1234567890:uploadClickConversions',
               {'Content-Type': 'application/json', 'Authorization': 'Bearer ya29.load'}),
    'tiktok': (tiktok_batch, '/open_api/v1.3/event/track/',
               {'Content-Type': 'application/json', 'Access-Token': 'tt-load'}),
    'linkedin': (linkedin_batch, '/rest/conversionEvents',
                 {'Content-Type': 'application/json', 'Authorization': 'Bearer li-load',
                  'X-Restli-Protocol-Version': '2.0.0', 'X-RestLi-Method': 'BATCH_CREATE',
                  'LinkedIn-Version': time.strftime('%Y%m', time.gmtime())}),
}


def start_mock(https):
    d = tempfile.mkdtemp(prefix='pg_attribution_loader_')
    ready = os.path.join(d, 'ready.json')
    cmd = [sys.executable, os.path.join(HERE, 'mock_server.py'), '--http-port', '0', '--ready-file', ready]
    if https:
        cmd += ['--https-port', '0', '--certdir', os.path.join(d, 'certs')]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    deadline = time.time() + 30
    while not os.path.exists(ready):
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError('mock did not start')
        time.sleep(0.05)
    with open(ready) as f:
        info = json.load(f)
    return proc, d, info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--url', help='a running mock, e.g. http://127.0.0.1:8080 (default: start one)')
    ap.add_argument('--ca-file', help='CA of the running mock for an https --url')
    ap.add_argument('--https', action='store_true', help='started mock: measure over HTTPS')
    ap.add_argument('--platform', choices=sorted(PLATFORMS), default='meta')
    ap.add_argument('--batches', type=int, default=100)
    ap.add_argument('--batch-size', type=int, default=1000)
    ap.add_argument('--connections', type=int, default=2)
    ap.add_argument('--keep-bodies', action='store_true', help='leave request-body recording on')
    args = ap.parse_args()

    proc = tmp = None
    ca_file = args.ca_file
    if args.url:
        url = args.url
    else:
        proc, tmp, info = start_mock(args.https)
        url = info['https_url'] if args.https else info['http_url']
        ca_file = info['ca_file']
    u = urlsplit(url)
    ctx = ssl.create_default_context(cafile=ca_file) if u.scheme == 'https' else None

    def conn():
        if ctx is not None:
            return http.client.HTTPSConnection(u.hostname, u.port, timeout=60, context=ctx)
        return http.client.HTTPConnection(u.hostname, u.port, timeout=60)

    try:
        c = conn()
        c.request('POST', '/_mock/reset', b'{}')
        c.getresponse().read()
        c.request('POST', '/_mock/config', json.dumps({'record_bodies': bool(args.keep_bodies)}))
        c.getresponse().read()
        c.close()
        now = int(time.time())
        build, path, headers = PLATFORMS[args.platform]
        bodies = [build(n, args.batch_size, now) for n in range(args.batches)]
        lock = threading.Lock()
        next_batch = [0]
        latencies = []
        errors = []

        def worker():
            c = conn()
            try:
                while True:
                    with lock:
                        n = next_batch[0]
                        next_batch[0] += 1
                    if n >= len(bodies):
                        return
                    t = time.perf_counter()
                    c.request('POST', path, bodies[n], headers)
                    r = c.getresponse()
                    data = r.read()
                    dt = time.perf_counter() - t
                    ok = r.status == 200 and b'"partialFailureError"' not in data and not (
                        args.platform == 'tiktok' and not data.startswith(b'{"code":0,'))
                    with lock:
                        latencies.append(dt)
                        if not ok:
                            errors.append((r.status, data[:200]))
            finally:
                c.close()

        threads = [threading.Thread(target=worker) for _ in range(args.connections)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        c = conn()
        c.request('GET', '/_mock/stats')
        stats = json.loads(c.getresponse().read())
        c.close()
        events = args.batches * args.batch_size
        latencies.sort()
        print(json.dumps({
            'platform': args.platform, 'scheme': u.scheme, 'batches': args.batches, 'batch_size': args.batch_size,
            'connections': args.connections, 'bytes_per_batch': len(bodies[0]),
            'seconds': round(elapsed, 3), 'events_per_s': round(events / elapsed),
            'requests_per_s': round(args.batches / elapsed, 1),
            'p50_ms': round(latencies[len(latencies) // 2] * 1000, 1),
            'p99_ms': round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1),
            'mock_connections': stats['connections'],
            'accepted': stats['platforms'].get(args.platform, {}).get('events_accepted'),
            'errors': len(errors)}))
        if errors:
            print('first error: %r' % (errors[0],), file=sys.stderr)
            return 1
        return 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
