"""TikTok Events API 2.0: POST /open_api/v1.3/event/track/ (API-CONTRACTS.md D).

HTTP status is 200 on every answer; the envelope's `code` says what
happened: 0 OK, 20001 partial (data.failed_events), 40002 parameter error,
40061 batch too large, 40062 PII not hashed, 40100 rate limit, 40102 token
expired, 40104 token empty, 40105 token invalid or revoked, 50000 system
error.  Malformed requests are rejected whole; events older than
tiktok_max_age_days fail row by row with 20001."""

import re

from .common import Reply, is_currency, is_hex64, is_int, is_num, is_str

NAME = 'tiktok'
ROUTE = re.compile(r'/open_api/v1\.3/event/track/\Z')

SOURCES = frozenset(('web', 'app', 'offline', 'crm'))
HASHED = ('email', 'phone', 'external_id')
USER_KEYS = frozenset(HASHED + ('ttclid', 'ttp', 'ip', 'user_agent', 'locale', 'idfa', 'idfv', 'gaid',
                                'att_status'))
EVENT_KEYS = frozenset(('event', 'event_time', 'event_id', 'user', 'properties', 'page', 'app', 'ad', 'lead',
                        'limited_data_use'))
TOP_KEYS = frozenset(('event_source', 'event_source_id', 'test_event_code', 'partner_name', 'data'))


def request_id(req):
    return '20260101%08d' % req.seq


def envelope(req, code, message, data=None):
    return Reply(200, {'code': code, 'message': message, 'request_id': request_id(req),
                       'data': data if data is not None else {}},
                 headers={'X-Tt-Logid': request_id(req)})


def auth_error(req, kind):
    if kind == 'missing':
        return envelope(req, 40104, 'Access token is empty.')
    if kind == 'expired':
        return envelope(req, 40102, 'Access token has expired.')
    return envelope(req, 40105, 'Access token is invalid or has been revoked.')


def rate_limited(req, retry_after):
    return envelope(req, 40100, 'Too many requests. Please retry in some time.')


def server_error(req, status):
    r = envelope(req, 50000 if status >= 500 else 40001,
                 'System error.' if status >= 500 else 'Permission denied.')
    r.status = status
    return r


def token_of(req):
    return req.header('Access-Token')


def keys_of(req):
    try:
        body = req.json()
    except ValueError:
        return []
    data = body.get('data') if isinstance(body, dict) else None
    if not isinstance(data, list):
        return []
    return [e.get('event_id') if isinstance(e, dict) else None for e in data]


def check_event(i, ev):
    """(code, message) for a malformed event, or None."""
    p = 'data.%d' % i
    if type(ev) is not dict:
        return 40002, '%s: Not a valid object' % p
    for k in ev:
        if k not in EVENT_KEYS:
            return 40002, '%s.%s: Unknown field' % (p, k)
    name = ev.get('event')
    if not is_str(name) or not name:
        return 40002, '%s.event: Missing data for required field.' % p
    if not is_int(ev.get('event_time')):
        return 40002, '%s.event_time: Not a valid integer' % p
    eid = ev.get('event_id')
    if eid is not None and (not is_str(eid) or not eid):
        return 40002, '%s.event_id: Not a valid string' % p
    user = ev.get('user')
    if user is not None:
        if type(user) is not dict:
            return 40002, '%s.user: Not a valid object' % p
        for k, v in user.items():
            if k not in USER_KEYS:
                return 40002, '%s.user.%s: Unknown field' % (p, k)
            if k in HASHED:
                vals = v if type(v) is list else (v,)
                for j, x in enumerate(vals):
                    if not is_str(x):
                        return 40002, '%s.user.%s.%d: Not a valid string' % (p, k, j)
                    if x and not is_hex64(x):
                        return 40062, '%s.user.%s.%d: PII must be hashed with SHA-256' % (p, k, j)
            elif k != 'att_status' and not is_str(v):
                return 40002, '%s.user.%s: Not a valid string' % (p, k)
    props = ev.get('properties')
    if props is not None:
        if type(props) is not dict:
            return 40002, '%s.properties: Not a valid object' % p
        v = props.get('value')
        if v is not None and not is_num(v):
            return 40002, '%s.properties.value: Not a valid number' % p
        c = props.get('currency')
        if c is not None and not is_currency(c):
            return 40002, '%s.properties.currency: Not a valid ISO 4217 currency code' % p
        ct = props.get('content_type')
        if ct is not None and ct not in ('product', 'product_group'):
            return 40002, '%s.properties.content_type: Must be one of: product, product_group' % p
        contents = props.get('contents')
        if contents is not None:
            if type(contents) is not list:
                return 40002, '%s.properties.contents: Not a valid list' % p
            for j, c in enumerate(contents):
                if type(c) is not dict:
                    return 40002, '%s.properties.contents.%d: Not a valid object' % (p, j)
                cid = c.get('content_id')
                if cid is not None and not is_str(cid):
                    return 40002, '%s.properties.contents.%d.content_id: Not a valid string' % (p, j)
                pr = c.get('price')
                if pr is not None and not is_num(pr):
                    return 40002, '%s.properties.contents.%d.price: Not a valid number' % (p, j)
    page = ev.get('page')
    if page is not None and (type(page) is not dict or not all(is_str(x) for x in page.values())):
        return 40002, '%s.page: Not a valid object' % p
    return None


def handle(req):
    st = req.state
    cfg = st.config
    token = token_of(req)
    ts = st.token_state('tiktok', token)
    if ts != 'valid':
        return auth_error(req, ts)
    if req.content_type() != 'application/json':
        return envelope(req, 40002, 'Content-Type must be application/json.')
    try:
        body = req.json()
    except ValueError:
        return envelope(req, 40002, 'Request body is not valid JSON.')
    if type(body) is not dict:
        return envelope(req, 40002, 'Request body must be a JSON object.')
    for k in body:
        if k not in TOP_KEYS:
            return envelope(req, 40002, '%s: Unknown field' % k)
    if body.get('event_source') not in SOURCES:
        return envelope(req, 40002, 'event_source: Must be one of: web, app, offline, crm.')
    esid = body.get('event_source_id')
    if not is_str(esid) or not esid:
        return envelope(req, 40002, 'event_source_id: Missing data for required field.')
    data = body.get('data')
    if type(data) is not list or not data:
        return envelope(req, 40002, 'data: Missing data for required field.')
    keys = [e.get('event_id') if type(e) is dict else None for e in data]
    if len(data) > cfg['tiktok_max_batch']:
        r = envelope(req, 40061, 'data: Length must be between 1 and %d.' % cfg['tiktok_max_batch'])
        r.received = keys
        return r
    for i, ev in enumerate(data):
        bad = check_event(i, ev)
        if bad is not None:
            r = envelope(req, bad[0], bad[1])
            r.received = keys
            return r
    failed = {}
    max_age = cfg['tiktok_max_age_days']
    if max_age:
        limit = st.now() - max_age * 86400
        for i, ev in enumerate(data):
            if ev['event_time'] < limit:
                failed[i] = (40002, 'data.%d.event_time: invalid' % i)
    partial = st.faults.take_partial('tiktok', req.endpoint, req.path, keys)
    if partial:
        for i, rule in partial.items():
            if i not in failed:
                failed[i] = (rule.get('code', 40002), rule.get('message') or 'data.%d: rejected (mock fault)' % i)
    accepted = [(k, i, 'event') for i, k in enumerate(keys) if i not in failed]
    if failed:
        if not accepted:
            # Every event failed: report it as a parameter error on the first.
            i = min(failed)
            r = envelope(req, failed[i][0], failed[i][1])
        else:
            r = envelope(req, 20001, 'Partial success', {'failed_events': [
                {'index': i, 'code': failed[i][0], 'message': failed[i][1]} for i in sorted(failed)]})
    else:
        r = envelope(req, 0, 'OK')
    r.received = keys
    r.accepted = accepted
    return r
