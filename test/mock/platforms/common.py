"""Pieces shared by the platform modules: the request and reply objects and
cheap validators (compiled once; the handlers run per event)."""

import json
import re
from urllib.parse import parse_qs

HEX64 = re.compile(r'[0-9a-f]{64}\Z')
CURRENCY = re.compile(r'[A-Z]{3}\Z')
DIGITS = re.compile(r'[0-9]+\Z')


def is_int(v):
    return type(v) is int


def is_num(v):
    return type(v) is int or type(v) is float


def is_str(v):
    return type(v) is str


def is_hex64(v):
    return type(v) is str and HEX64.match(v) is not None


def is_currency(v):
    return type(v) is str and CURRENCY.match(v) is not None


class Request:
    """One parsed HTTP request, as the platform handlers see it."""

    __slots__ = ('method', 'path', 'query', 'headers', 'body', 'scheme', 'conn',
                 'seq', 'platform', 'endpoint', 'match', 'state', '_json', '_form')

    def __init__(self, method, path, query, headers, body, scheme, conn, seq, state):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.scheme = scheme
        self.conn = conn
        self.seq = seq
        self.state = state
        self.platform = None
        self.endpoint = None
        self.match = None
        self._json = None
        self._form = None

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def content_type(self):
        return (self.headers.get('Content-Type') or '').split(';')[0].strip().lower()

    def json(self):
        """The body as JSON; raises ValueError when it is not JSON."""
        if self._json is None:
            self._json = json.loads(self.body.decode('utf-8'))
        return self._json

    def form(self):
        """The body as a form (urlencoded or multipart): name -> first value."""
        if self._form is None:
            ct = self.content_type()
            if ct == 'multipart/form-data':
                self._form = parse_multipart(self.headers.get('Content-Type'), self.body)
            else:
                q = parse_qs(self.body.decode('utf-8'), keep_blank_values=True)
                self._form = {k: v[0] for k, v in q.items()}
        return self._form

    def bearer(self):
        auth = self.headers.get('Authorization') or ''
        if auth[:7].lower() == 'bearer ':
            return auth[7:].strip()
        return None


def parse_multipart(content_type, body):
    from email.parser import BytesParser
    from email.policy import HTTP
    msg = BytesParser(policy=HTTP).parsebytes(
        b'Content-Type: ' + content_type.encode('latin-1') + b'\r\n\r\n' + body)
    out = {}
    if not msg.is_multipart():
        return out
    for part in msg.iter_parts():
        name = part.get_param('name', header='content-disposition')
        if name:
            out[name] = part.get_payload(decode=True).decode('utf-8')
    return out


class Reply:
    """A response plus what the recorder needs: dedup keys received and the
    rows accepted as (key, index, kind)."""

    __slots__ = ('status', 'body', 'headers', 'content_type', 'received', 'accepted',
                 'error', 'token')

    def __init__(self, status, body, headers=None, content_type='application/json'):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.content_type = content_type
        self.received = ()
        self.accepted = ()
        self.error = None
        self.token = None

    def body_bytes(self):
        b = self.body
        if b is None:
            return b''
        if isinstance(b, bytes):
            return b
        if isinstance(b, str):
            return b.encode('utf-8')
        return json.dumps(b, separators=(',', ':')).encode('utf-8')


def json_error(status, message, **extra):
    body = {'error': message}
    body.update(extra)
    return Reply(status, body)
