"""Meta Conversions API: POST /vNN.0/{pixel_id}/events (API-CONTRACTS.md C).

Meta has no per-event partial success: one bad event fails the whole
request (HTTP 400, Graph error object), and nothing in it is accepted.
Errors are classified by `code`, not by HTTP status."""

import json
import re

from .common import Reply, is_hex64, is_int, is_num, is_str

NAME = 'meta'
ROUTE = re.compile(r'/v([0-9]+)\.0/([0-9]+)/events\Z')

ACTION_SOURCES = frozenset(('email', 'website', 'app', 'phone_call', 'chat', 'physical_store',
                            'system_generated', 'other'))
HASHED = ('em', 'ph', 'fn', 'ln', 'db', 'ge', 'ct', 'st', 'zp', 'country')
IDENTIFIERS = frozenset(HASHED + ('external_id', 'client_ip_address', 'client_user_agent', 'fbc', 'fbp',
                                  'subscription_id', 'fb_login_id', 'lead_id', 'anon_id', 'madid',
                                  'page_id', 'page_scoped_user_id', 'ctwa_clid', 'ig_account_id',
                                  'ig_sid'))
FB_COOKIE = re.compile(r'fb\.[0-2]\.[0-9]{13}\.[^\s.][^\s]*\Z')
CURRENCY_ANY_CASE = re.compile(r'[A-Za-z]{3}\Z')


def trace(req):
    return 'AmockTrace%d' % req.seq


def graph_error(req, status, code, message, subcode=None, title=None, user_msg=None,
                transient=False, etype='OAuthException'):
    e = {'message': message, 'type': etype, 'code': code}
    if subcode is not None:
        e['error_subcode'] = subcode
    e['is_transient'] = transient
    if title is not None:
        e['error_user_title'] = title
    if user_msg is not None:
        e['error_user_msg'] = user_msg
    e['fbtrace_id'] = trace(req)
    return Reply(status, {'error': e}, headers={'x-fb-trace-id': trace(req)})


def invalid(req, user_msg, title='Invalid parameter', subcode=None):
    return graph_error(req, 400, 100, 'Invalid parameter', subcode=subcode, title=title, user_msg=user_msg)


def auth_error(req, kind):
    if kind == 'missing':
        return graph_error(req, 400, 104, 'An access token is required to request this resource.')
    if kind == 'expired':
        return graph_error(req, 400, 190, 'Error validating access token: Session has expired.', subcode=463)
    if kind == 'revoked':
        return graph_error(req, 400, 190, 'Error validating access token: The session has been invalidated '
                           'because the user changed their password or Facebook has changed the session '
                           'for security reasons.', subcode=460)
    return graph_error(req, 400, 190, 'Invalid OAuth access token - Cannot parse access token')


def rate_limited(req, retry_after):
    r = graph_error(req, 400, 17, 'User request limit reached', transient=True)
    return r


def server_error(req, status):
    if status == 403:
        return graph_error(req, 403, 200, 'Permissions error')
    if status >= 500:
        return graph_error(req, status, 2, 'An unexpected error has occurred. Please retry your request later.',
                           transient=True)
    return graph_error(req, status, 1, 'An unknown error occurred', transient=True)


def token_of(req):
    tok = req.query.get('access_token')
    if tok:
        return tok
    ct = req.content_type()
    try:
        if ct in ('application/x-www-form-urlencoded', 'multipart/form-data'):
            return req.form().get('access_token')
        if ct == 'application/json':
            body = req.json()
            if isinstance(body, dict) and is_str(body.get('access_token')):
                return body['access_token']
    except (ValueError, UnicodeDecodeError):
        return None
    return None


def events_of(req):
    """The data array and test_event_code of the request, or an error Reply."""
    ct = req.content_type()
    try:
        if ct in ('application/x-www-form-urlencoded', 'multipart/form-data'):
            form = req.form()
            raw = form.get('data')
            if raw is None:
                return None, None, invalid(req, 'The parameter data is required.')
            data = json.loads(raw)
            test_code = form.get('test_event_code')
        elif ct == 'application/json':
            body = req.json()
            if type(body) is not dict:
                return None, None, invalid(req, 'The body must be a JSON object with a data array.')
            if 'data' not in body:
                return None, None, invalid(req, 'The parameter data is required.')
            data = body['data']
            test_code = body.get('test_event_code')
        else:
            return None, None, invalid(req, 'Send application/json or a form (data=<JSON array>).')
    except (ValueError, UnicodeDecodeError):
        return None, None, invalid(req, 'The parameter data must be a JSON array.')
    if type(data) is not list:
        return None, None, invalid(req, 'The parameter data must be an array of events.')
    if test_code is not None and not is_str(test_code):
        return None, None, invalid(req, 'test_event_code must be a string.')
    return data, test_code, None


def keys_of(req):
    data, _, err = events_of(req)
    if err is not None:
        return []
    return [e.get('event_id') if isinstance(e, dict) else None for e in data]


def check_event(i, ev, now, cfg):
    """An error message for event i, or None; ('old', msg) for a stale event."""
    if type(ev) is not dict:
        return 'data[%d] must be an object' % i
    name = ev.get('event_name')
    if not is_str(name) or not name:
        return 'data[%d].event_name is required' % i
    t = ev.get('event_time')
    if not is_int(t):
        return 'data[%d].event_time must be an integer Unix time in seconds' % i
    src = ev.get('action_source')
    if src not in ACTION_SOURCES:
        return 'data[%d].action_source must be one of %s' % (i, ', '.join(sorted(ACTION_SOURCES)))
    max_age = cfg['meta_physical_store_max_age_days'] if src == 'physical_store' else cfg['meta_max_age_days']
    if now - t > max_age * 86400:
        return ('old', i)
    if src == 'website' and not (is_str(ev.get('event_source_url')) and ev.get('event_source_url')):
        return 'data[%d].event_source_url is required for website events' % i
    eid = ev.get('event_id')
    if eid is not None and not (is_str(eid) and eid):
        return 'data[%d].event_id must be a non-empty string' % i
    ud = ev.get('user_data')
    if type(ud) is not dict:
        return 'data[%d].user_data is required' % i
    found = False
    for k, v in ud.items():
        if k not in IDENTIFIERS:
            return 'data[%d].user_data.%s is not a customer information parameter' % (i, k)
        if v is None or v == '' or v == []:
            continue
        found = True
        if k in HASHED or (k == 'external_id' and cfg['meta_external_id_hashed']):
            vals = v if type(v) is list else (v,)
            for x in vals:
                if not is_hex64(x):
                    return ('hash', 'data[%d].user_data.%s must be hashed with SHA-256 (64 lowercase hex)' % (i, k))
        elif k == 'external_id':
            vals = v if type(v) is list else (v,)
            for x in vals:
                if not is_str(x):
                    return 'data[%d].user_data.external_id must be a string or a list of strings' % i
        elif k in ('fbc', 'fbp'):
            if not is_str(v) or FB_COOKIE.match(v) is None:
                return 'data[%d].user_data.%s must look like fb.1.<creation time ms>.<id>' % (i, k)
        elif not is_str(v):
            return 'data[%d].user_data.%s must be a string' % (i, k)
    if not found:
        return 'data[%d].user_data needs at least one customer information parameter' % i
    cd = ev.get('custom_data')
    if cd is not None:
        if type(cd) is not dict:
            return 'data[%d].custom_data must be an object' % i
        v = cd.get('value')
        if v is not None and not is_num(v):
            return 'data[%d].custom_data.value must be a number' % i
        c = cd.get('currency')
        if c is not None and (not is_str(c) or CURRENCY_ANY_CASE.match(c) is None):
            return 'data[%d].custom_data.currency must be an ISO 4217 code' % i
        if v is not None and c is None:
            return 'data[%d].custom_data.currency is required with value' % i
        p = cd.get('predicted_ltv')
        if p is not None and not is_num(p):
            return 'data[%d].custom_data.predicted_ltv must be a number' % i
    if name == 'Purchase' and (cd is None or cd.get('value') is None or cd.get('currency') is None):
        return 'data[%d]: Purchase events need custom_data.value and custom_data.currency' % i
    return None


def handle(req):
    st = req.state
    cfg = st.config
    token = token_of(req)
    ts = st.token_state('meta', token)
    if ts != 'valid':
        return auth_error(req, ts)
    data, _test_code, err = events_of(req)
    if err is not None:
        return err
    keys = [e.get('event_id') if type(e) is dict else None for e in data]
    if not data:
        r = invalid(req, 'The parameter data must hold at least one event.')
        return r
    if len(data) > cfg['meta_max_batch']:
        r = invalid(req, 'A request may hold at most %d events; this one holds %d.' % (cfg['meta_max_batch'], len(data)))
        r.received = keys
        return r
    now = st.now()
    for i, ev in enumerate(data):
        msg = check_event(i, ev, now, cfg)
        if msg is None:
            continue
        if type(msg) is tuple and msg[0] == 'old':
            r = invalid(req, 'The timestamp for this event is too far in the past. Events need to be sent from '
                        'your server within 7 days of when they occurred.', title='Event Timestamp Too Old',
                        subcode=2804003)
        elif type(msg) is tuple:
            r = invalid(req, msg[1], title='Unhashed user data')
        else:
            r = invalid(req, msg)
        r.received = keys
        return r
    partial = st.faults.take_partial('meta', req.endpoint, req.path, keys)
    if partial:
        i = min(partial)
        rule = partial[i]
        r = invalid(req, rule.get('message') or 'data[%d]: event rejected (mock fault)' % i,
                    title=rule.get('error') or 'Invalid event')
        r.received = keys
        return r
    r = Reply(200, {'events_received': len(data), 'messages': [], 'fbtrace_id': trace(req)},
              headers={'x-fb-trace-id': trace(req)})
    r.received = keys
    r.accepted = [(k, i, 'event') for i, k in enumerate(keys)]
    return r
