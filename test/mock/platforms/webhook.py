"""Generic HTTPS endpoint ("webhook" destination): POST /webhook/{name}.

The contract the extension's plain-endpoint destination follows (README.md):
JSON body, either one event object whose dedup key is the Idempotency-Key
header or else its string "id", or a batch {"events": [<event>, ...]} keyed
by each event's "id"; when a secret is configured for the name,
X-Attribution-Signature: sha256=<hex HMAC-SHA256(secret, raw body)> must
match.  200 {"received": N} accepts everything; anything else accepts
nothing."""

import hashlib
import hmac
import re

from .common import Reply, is_str

NAME = 'webhook'
ROUTE = re.compile(r'/webhook/([A-Za-z0-9_.\-]+)\Z')
SIGNATURE_HEADER = 'X-Attribution-Signature'


def reply(req, status, body):
    return Reply(status, body, headers={'X-Request-Id': 'mock-%d' % req.seq})


def auth_error(req, kind):
    return reply(req, 401, {'error': 'invalid_signature',
                            'message': 'The X-Attribution-Signature header is missing or does not match.'})


def rate_limited(req, retry_after):
    return reply(req, 429, {'error': 'rate_limited', 'message': 'Too many requests.'})


def server_error(req, status):
    return reply(req, status, {'error': 'unavailable' if status >= 500 else 'error',
                               'message': 'Mock injected status %d.' % status})


def token_of(req):
    return None


def events_of(body):
    if type(body) is dict and 'events' in body:
        return body['events'], True
    return [body], False


def keys_for(req, events, batch):
    """Dedup keys: the Idempotency-Key header for a single event, else each
    event's "id"."""
    idem = req.header('Idempotency-Key')
    if idem and not batch:
        return [idem]
    return [e.get('id') if type(e) is dict and is_str(e.get('id')) and e.get('id') else None for e in events]


def keys_of(req):
    try:
        body = req.json()
    except ValueError:
        return []
    events, batch = events_of(body)
    if type(events) is not list:
        return []
    return keys_for(req, events, batch)


def sign(secret, body):
    return 'sha256=' + hmac.new(secret.encode('utf-8'), body, hashlib.sha256).hexdigest()


def handle(req):
    st = req.state
    name = req.match.group(1)
    secret = st.webhook_secrets.get(name, st.webhook_secrets.get('*'))
    if secret is not None:
        got = (req.header(SIGNATURE_HEADER) or '').strip().lower()
        if not hmac.compare_digest(got.encode('utf-8', 'replace'), sign(secret, req.body).encode('ascii')):
            return auth_error(req, 'invalid')
    if req.content_type() != 'application/json':
        return reply(req, 415, {'error': 'unsupported_media_type', 'message': 'Send application/json.'})
    try:
        body = req.json()
    except ValueError:
        return reply(req, 400, {'error': 'invalid_json', 'message': 'The body is not valid JSON.'})
    if type(body) is not dict:
        return reply(req, 400, {'error': 'invalid_payload', 'message': 'The body must be a JSON object.'})
    events, batch = events_of(body)
    if type(events) is not list or not events:
        return reply(req, 400, {'error': 'invalid_payload', 'message': 'events must be a non-empty array.'})
    keys = keys_for(req, events, batch)
    if len(events) > st.config['webhook_max_batch']:
        r = reply(req, 413, {'error': 'batch_too_large',
                             'message': 'At most %d events per request.' % st.config['webhook_max_batch']})
        r.received = keys
        return r
    for i, e in enumerate(events):
        if type(e) is not dict or keys[i] is None:
            r = reply(req, 400, {'error': 'invalid_payload', 'index': i,
                                 'message': 'Every event needs a non-empty string "id" '
                                            '(or, alone, an Idempotency-Key header).'})
            r.received = keys
            return r
    partial = st.faults.take_partial('webhook', req.endpoint, req.path, keys)
    if partial:
        r = reply(req, 422, {'error': 'rejected', 'failed': [
            {'index': i, 'id': keys[i], 'message': partial[i].get('message') or 'rejected (mock fault)'}
            for i in sorted(partial)]})
        r.received = keys
        return r
    r = reply(req, 200, {'received': len(events)})
    r.received = keys
    r.accepted = [(k, i, 'event') for i, k in enumerate(keys)]
    return r
