"""The control API under /_mock/ (documented in README.md)."""

import json
from urllib.parse import parse_qs

from faults import FaultError
from platforms import rows_of
from state import DEFAULT_CONFIG, PLATFORMS

SECRET_FIELDS = frozenset(('access_token', 'client_secret', 'secret', 'refresh_token', 'fb_exchange_token',
                           'code', 'auth_code', 'input_token'))
TOKEN_STATES = ('valid', 'expired', 'revoked')


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def parse_json(body):
    if not body:
        return {}
    try:
        return json.loads(body.decode('utf-8'))
    except ValueError:
        raise ControlError(400, 'the body is not JSON')


def redact(d):
    for k in list(d):
        if k in SECRET_FIELDS and d[k]:
            d[k] = '<redacted>'
    return d


def decode_body(rec):
    """A stored body as JSON (form bodies as an object, their JSON `data`
    decoded), with secret fields redacted."""
    raw = rec.get('_body')
    if raw is None:
        return None
    ct = rec.get('content_type') or ''
    try:
        if ct == 'application/x-www-form-urlencoded':
            form = {k: v[0] for k, v in parse_qs(raw.decode('utf-8'), keep_blank_values=True).items()}
            if 'data' in form:
                try:
                    form['data'] = json.loads(form['data'])
                except ValueError:
                    pass
            return redact(form)
        if ct == 'multipart/form-data':
            return {'multipart': True, 'length': len(raw)}
        obj = json.loads(raw.decode('utf-8'))
        if isinstance(obj, dict):
            redact(obj)
        return obj
    except (ValueError, UnicodeDecodeError):
        return raw.decode('utf-8', 'replace')


def public_request(rec, bodies):
    out = {k: v for k, v in rec.items() if not k.startswith('_')}
    if bodies:
        out['body'] = decode_body(rec)
    return out


def q_int(query, name, default):
    v = query.get(name)
    if v is None or v == '':
        return default
    try:
        return int(v)
    except ValueError:
        raise ControlError(400, '%s must be an integer' % name)


def q_bool(query, name, default):
    v = query.get(name)
    if v is None:
        return default
    return v not in ('0', 'false', 'no', 'off')


def get_requests(st, query):
    platform = query.get('platform')
    endpoint = query.get('endpoint')
    since = q_int(query, 'since', 0)
    limit = q_int(query, 'limit', 0)
    bodies = q_bool(query, 'bodies', True)
    with st.lock:
        recs = [r for r in st.requests if r['seq'] > since
                and (platform is None or r['platform'] == platform)
                and (endpoint is None or r['endpoint'] == endpoint)]
    recs.sort(key=lambda r: r['seq'])
    if limit > 0:
        recs = recs[-limit:]
    return {'count': len(recs), 'requests': [public_request(r, bodies) for r in recs]}


def get_accepted(st, query):
    platform = query.get('platform')
    if platform not in PLATFORMS:
        raise ControlError(400, 'platform must be one of %s' % ', '.join(PLATFORMS))
    kind = query.get('kind')
    events = q_bool(query, 'events', True)
    with st.lock:
        items = [x for x in st.accepted[platform] if kind is None or x[3] == kind]
        counts = dict(st.accepted_counts[platform])
        received = dict(st.received_counts[platform])
        recs = {x[1]: st.by_seq.get(x[1]) for x in items} if events else {}
    out_items = []
    cache = {}
    for key, seq, index, k in items:
        item = {'key': key, 'seq': seq, 'index': index, 'kind': k}
        if events:
            if seq not in cache:
                rec = recs.get(seq)
                body = decode_body(rec) if rec is not None else None
                cache[seq] = rows_of(platform, rec['endpoint'], body) if rec is not None else None
            rows = cache[seq]
            if rows is not None and index < len(rows):
                item['event'] = rows[index]
        out_items.append(item)
    if kind is not None:
        wanted = set(x['key'] for x in out_items)
        counts = {k: v for k, v in counts.items() if k in wanted}
    return {'platform': platform, 'total': len(out_items), 'unique': len(set(x['key'] for x in out_items)),
            'counts': counts, 'received': received, 'items': out_items}


def get_stats(st):
    import time
    with st.lock:
        per = json.loads(json.dumps(st.stats))
        for p, s in per.items():
            if p in st.accepted_counts:
                s['unique_accepted'] = len(st.accepted_counts[p])
                s['duplicates_accepted'] = s['events_accepted'] - len(st.accepted_counts[p])
        return {'requests': sum(s['requests'] for s in st.stats.values()), 'records_kept': len(st.requests),
                'records_dropped': st.dropped_records, 'connections': st.connections, 'platforms': per,
                'uptime_s': round(time.time() - st.started, 3), 'now': st.now()}


def post_faults(st, body):
    rules = body if isinstance(body, list) else [body]
    try:
        return {'faults': [st.faults.add(r) for r in rules]}
    except FaultError as e:
        raise ControlError(400, str(e))


def post_tokens(st, body):
    items = body if isinstance(body, list) else [body]
    out = []
    for t in items:
        if not isinstance(t, dict):
            raise ControlError(400, 'a token entry is a JSON object')
        p = t.get('platform')
        if p not in ('google', 'meta', 'tiktok', 'linkedin'):
            raise ControlError(400, 'platform must be google, meta, tiktok or linkedin')
        tok = t.get('token')
        if not isinstance(tok, str) or not tok:
            raise ControlError(400, 'token must be a non-empty string')
        state = t.get('state', 'valid')
        if state not in TOKEN_STATES:
            raise ControlError(400, 'state must be valid, expired or revoked')
        kind = t.get('kind', 'access')
        if kind not in ('access', 'refresh'):
            raise ControlError(400, 'kind must be access or refresh')
        exp = t.get('expires_in')
        if exp is not None and not isinstance(exp, (int, float)):
            raise ControlError(400, 'expires_in must be a number of seconds')
        st.set_token(p, tok, state, kind=kind, expires_in=exp)
        out.append({'platform': p, 'kind': kind, 'state': state})
    return {'tokens': out}


def post_config(st, body):
    if not isinstance(body, dict):
        raise ControlError(400, 'config is a JSON object')
    for k, v in body.items():
        if k not in DEFAULT_CONFIG:
            raise ControlError(400, 'unknown setting %r' % k)
        d = DEFAULT_CONFIG[k]
        if d is not None and type(d) is not type(v) and not (isinstance(d, (int, float)) and
                                                            isinstance(v, (int, float)) and
                                                            not isinstance(v, bool)):
            raise ControlError(400, 'setting %r must be a %s' % (k, type(d).__name__))
    if body.get('token_policy', 'any') not in ('any', 'prefix', 'registered'):
        raise ControlError(400, 'token_policy must be any, prefix or registered')
    with st.lock:
        st.config.update(body)
        return dict(st.config)


def post_webhooks(st, body):
    items = body if isinstance(body, list) else [body]
    for w in items:
        if not isinstance(w, dict) or not isinstance(w.get('name'), str):
            raise ControlError(400, 'a webhook entry needs "name" (and "secret", null to remove)')
        with st.lock:
            if w.get('secret') is None:
                st.webhook_secrets.pop(w['name'], None)
            else:
                st.webhook_secrets[w['name']] = str(w['secret'])
    return {'webhooks': sorted(st.webhook_secrets)}


def handle(st, method, path, query, body, server_info):
    """(status, JSON object) for a control request."""
    try:
        return 200, dispatch(st, method, path, query, body, server_info)
    except ControlError as e:
        return e.status, {'error': e.message}


def dispatch(st, method, path, query, body, server_info):
    name = path[len('/_mock/'):].rstrip('/')
    if method == 'GET':
        if name == 'health':
            return dict(server_info(), ok=True)
        if name == 'requests':
            return get_requests(st, query)
        if name == 'accepted':
            return get_accepted(st, query)
        if name == 'stats':
            return get_stats(st)
        if name == 'faults':
            return {'faults': st.faults.list()}
        if name == 'tokens':
            return {'tokens': st.tokens_list()}
        if name == 'config':
            with st.lock:
                return dict(st.config)
        if name == 'clock':
            return {'now': st.now(), 'fixed': st.clock_fixed is not None}
        raise ControlError(404, 'no control endpoint GET %s' % path)
    if method == 'POST':
        data = parse_json(body)
        if name == 'reset':
            st.reset(everything=bool(isinstance(data, dict) and data.get('all')))
            return {'reset': True}
        if name == 'faults':
            return post_faults(st, data)
        if name == 'tokens':
            return post_tokens(st, data)
        if name == 'config':
            return post_config(st, data)
        if name == 'clock':
            if not isinstance(data, dict):
                raise ControlError(400, 'clock takes {"now": s} | {"offset": s} | {"advance": s} | {"real": true}')
            try:
                return st.set_clock(data)
            except (TypeError, ValueError):
                raise ControlError(400, 'clock values are numbers of seconds')
        if name == 'webhooks':
            return post_webhooks(st, data)
        if name == 'save':
            path = data.get('path') if isinstance(data, dict) else None
            saved = st.save(path)
            if saved is None:
                raise ControlError(400, 'no state file: start with --state-file or pass {"path": ...}')
            return {'saved': saved}
        if name == 'shutdown':
            server_info(shutdown=True)
            return {'shutdown': True}
        raise ControlError(404, 'no control endpoint POST %s' % path)
    if method == 'DELETE':
        if name == 'faults':
            st.faults.clear()
            return {'faults': []}
        if name.startswith('faults/'):
            try:
                rid = int(name[len('faults/'):])
            except ValueError:
                raise ControlError(400, 'fault id must be an integer')
            if not st.faults.remove(rid):
                raise ControlError(404, 'no fault rule %d' % rid)
            return {'removed': rid}
        raise ControlError(404, 'no control endpoint DELETE %s' % path)
    raise ControlError(405, 'method %s not allowed on the control API' % method)
