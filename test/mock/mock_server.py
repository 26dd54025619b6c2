#!/usr/bin/env python3
"""Contract mock of the ad platforms the delivery worker talks to: Google Ads,
Meta, TikTok, LinkedIn, a generic webhook and their OAuth token endpoints,
over HTTP and HTTPS on loopback, with a control API under /_mock/.

    python3 test/mock/mock_server.py --http-port 0 --https-port 0 \
        --certdir /tmp/mockcerts --ready-file /tmp/mock.json

See README.md in this directory for the endpoints, the validation rules,
the control API and the ready-file format."""

import argparse
import http
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True      # the test tree may be a read-only copy
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import control  # noqa: E402
import tls  # noqa: E402
from platforms import route  # noqa: E402
from platforms.common import Reply, Request  # noqa: E402
from state import State, token_fingerprint  # noqa: E402

MAX_BODY = 64 * 1024 * 1024
REDACT_HEADERS = ('authorization', 'access-token')


def reason(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return 'Status %d' % status


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'pg-attribution-mock/1.0'
    sys_version = ''
    disable_nagle_algorithm = True
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 120

    def setup(self):
        ctx = self.server.ssl_context
        if ctx is not None:
            # The handshake runs here, in the connection's own thread, so a
            # slow or broken client never holds up the accept loop.
            self.request.settimeout(30)
            self.request = ctx.wrap_socket(self.request, server_side=True)
        super().setup()
        self.scheme = 'https' if ctx is not None else 'http'
        self.conn_id = self.server.state.new_connection()

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        self.dispatch()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_POST

    # ----- I/O ---------------------------------------------------------------
    def read_body(self):
        te = (self.headers.get('Transfer-Encoding') or '').lower()
        if 'chunked' in te:
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b';')[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b'\r\n', b'\n', b''):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError('body too large')
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b''.join(chunks)
        cl = self.headers.get('Content-Length')
        if cl is None:
            return b''
        n = int(cl)
        if n < 0 or n > MAX_BODY:
            raise ValueError('bad Content-Length')
        data = self.rfile.read(n)
        if len(data) != n:
            raise ConnectionError('short body')
        return data

    def send_reply(self, reply):
        body = reply.body_bytes() if self.command != 'HEAD' else b''
        lines = ['HTTP/1.1 %d %s' % (reply.status, reason(reply.status)),
                 'Date: ' + formatdate(usegmt=True),
                 'Server: ' + self.server_version]
        if body or reply.body is not None:
            lines.append('Content-Type: ' + reply.content_type)
        lines.append('Content-Length: %d' % len(body))
        for k, v in reply.headers.items():
            lines.append('%s: %s' % (k, v))
        if self.close_connection:
            lines.append('Connection: close')
        self.wfile.write(('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body)

    def abort_connection(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ----- requests ----------------------------------------------------------
    def dispatch(self):
        st = self.server.state
        t0 = time.monotonic()
        self.arrived = time.time()
        try:
            body = self.read_body()
        except (ValueError, ConnectionError):
            self.close_connection = True
            self.send_reply(Reply(400, {'error': 'bad_request', 'message': 'Unreadable request body.'}))
            return
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if path == '/_mock' or path.startswith('/_mock/'):
            status, obj = control.handle(st, self.command, path, query, body, self.server.info)
            self.send_reply(Reply(status, obj))
            return

        req = Request(self.command, path, query, self.headers, body, self.scheme, self.conn_id,
                      st.next_seq(), st)
        r = route(self.command, path)
        module = None
        fault = None
        reply = None
        if r is None:
            req.platform, req.endpoint = 'unknown', None
            reply = Reply(404, {'error': 'not_found', 'message': 'No mock endpoint for %s %s.' % (self.command, path)})
        elif r == 'method':
            req.platform, req.endpoint = 'unknown', None
            reply = Reply(405, {'error': 'method_not_allowed',
                                'message': 'Method %s is not allowed on %s.' % (self.command, path)})
        else:
            req.platform, req.endpoint, module, req.match = r
            delay_ms, action = st.faults.pick(req.platform, req.endpoint, path)
            if delay_ms:
                st.stop.wait(delay_ms / 1000.0)
            if action is not None:
                fault = action['mode']
                if fault in ('timeout', 'drop'):
                    self.record(req, module, None, fault, t0)
                    if fault == 'timeout':
                        st.stop.wait(float(action.get('seconds', st.config['timeout_s'])))
                    self.abort_connection()
                    return
                reply = self.fault_reply(req, module, action)
            if reply is None:
                try:
                    reply = module.handle(req)
                except Exception:
                    traceback.print_exc(file=sys.stderr)
                    reply = Reply(500, {'error': 'mock_internal_error',
                                        'message': 'The mock failed on this request; see its stderr.'})
        reply.headers['X-Mock-Seq'] = str(req.seq)
        self.record(req, module, reply, fault, t0)
        self.send_reply(reply)

    def fault_reply(self, req, module, action):
        st = req.state
        mode = action['mode']
        reply = None
        if mode == 'status' and action['status'] == 429:
            mode = '429'
        if mode == 'status':
            s = action['status']
            reply = module.auth_error(req, 'invalid') if s == 401 else module.server_error(req, s)
        elif mode == '429':
            ra = action.get('retry_after', st.config['retry_after_s'])
            reply = module.rate_limited(req, ra)
            reply.headers['Retry-After'] = str(int(ra))
        elif mode in ('expire_token', 'revoke_token'):
            tok = module.token_of(req)
            if tok:
                # Persistent: the token stays bad until set valid again.
                st.set_token(req.platform, tok, 'expired' if mode == 'expire_token' else 'revoked')
                return None
            reply = module.auth_error(req, 'expired' if mode == 'expire_token' else 'revoked')
        if reply is not None:
            reply.received = module.keys_of(req)
        return reply

    def record(self, req, module, reply, fault, t0):
        headers = {}
        for k, v in self.headers.items():
            if k.lower() in REDACT_HEADERS:
                v = (v.split(' ', 1)[0] + ' <redacted>') if ' ' in v else '<redacted>'
            headers[k] = v
        query = dict(req.query)
        for k in control.SECRET_FIELDS:
            if query.get(k):
                query[k] = '<redacted>'
        tok = None
        if module is not None:
            try:
                tok = module.token_of(req)
            except Exception:
                tok = None
        if reply is None:
            received = module.keys_of(req) if module is not None else []
            accepted = ()
            status = None
        else:
            received = list(reply.received)
            accepted = reply.accepted
            status = reply.status
        rec = {
            'seq': req.seq, 'time': round(self.arrived, 6), 'mock_now': round(req.state.now(), 3),
            'conn': self.conn_id, 'scheme': self.scheme, 'method': req.method, 'path': req.path,
            'query': query, 'platform': req.platform, 'endpoint': req.endpoint, 'headers': headers,
            'content_type': req.content_type(), 'status': status, 'fault': fault,
            'keys': received, 'accepted': len(accepted), 'token_fp': token_fingerprint(tok),
            'latency_ms': round((time.monotonic() - t0) * 1000, 3),
        }
        req.state.record(rec, req.body, received, accepted)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, state, ssl_context, info):
        self.state = state
        self.ssl_context = ssl_context
        self.info = info
        super().__init__(addr, Handler)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (OSError, ssl.SSLError, ValueError)):
            return      # clients that go away, bad TLS, garbage: not the mock's problem
        super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--host', default='127.0.0.1', help='address to listen on (default 127.0.0.1)')
    ap.add_argument('--http-port', type=int, default=None, help='plain HTTP port; 0 picks a free one')
    ap.add_argument('--https-port', type=int, default=None, help='HTTPS port; 0 picks a free one (needs --certdir)')
    ap.add_argument('--certdir', help='directory with ca.crt, server.crt, server.key; created by make_ca.sh when missing')
    ap.add_argument('--ready-file', help='write the chosen ports and the CA path here as JSON once listening')
    ap.add_argument('--state-file', help='load state from here at start, save it here on exit and POST /_mock/save')
    ap.add_argument('--config', help='JSON object of settings (as POST /_mock/config), or @file')
    ap.add_argument('--webhook-secret', action='append', default=[], metavar='NAME=SECRET',
                    help='HMAC secret for /webhook/NAME (NAME * for all); repeatable')
    ap.add_argument('--now', type=float, help='start the mock clock at this Unix time')
    args = ap.parse_args(argv)
    if args.http_port is None and args.https_port is None:
        args.http_port = 0
    if args.https_port is not None and not args.certdir:
        ap.error('--https-port needs --certdir')

    st = State(args.state_file)
    if args.config:
        text = open(args.config[1:]).read() if args.config.startswith('@') else args.config
        status, obj = control.handle(st, 'POST', '/_mock/config', {}, text.encode(), None)
        if status != 200:
            ap.error('--config: %s' % obj['error'])
    for ws in args.webhook_secret:
        name, _, secret = ws.partition('=')
        st.webhook_secrets[name] = secret
    if args.now is not None:
        st.set_clock({'now': args.now})

    servers = {}
    stopping = threading.Event()
    ca_file = None

    def info(shutdown=False):
        if shutdown:
            stopping.set()
            return {}
        return {'pid': os.getpid(),
                'http_port': servers['http'].server_address[1] if 'http' in servers else None,
                'https_port': servers['https'].server_address[1] if 'https' in servers else None,
                'ca_file': ca_file}

    if args.http_port is not None:
        servers['http'] = Server((args.host, args.http_port), st, None, info)
    if args.https_port is not None:
        ca_file, crt, key = tls.ensure_certs(args.certdir)
        ca_file = os.path.abspath(ca_file)
        servers['https'] = Server((args.host, args.https_port), st, tls.server_context(crt, key), info)

    for srv in servers.values():
        threading.Thread(target=srv.serve_forever, kwargs={'poll_interval': 0.2}, daemon=True).start()

    ready = info()
    host = args.host if ':' not in args.host else '[%s]' % args.host
    ready['http_url'] = 'http://%s:%d' % (host, ready['http_port']) if ready['http_port'] else None
    ready['https_url'] = 'https://%s:%d' % (host, ready['https_port']) if ready['https_port'] else None
    line = json.dumps(ready)
    if args.ready_file:
        tmp = args.ready_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write(line + '\n')
        os.replace(tmp, args.ready_file)
    print(line, flush=True)

    def on_signal(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stopping.wait(0.5):
        pass
    st.stop.set()
    if args.state_file:
        st.save()
    for srv in servers.values():
        srv.shutdown()
        srv.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
