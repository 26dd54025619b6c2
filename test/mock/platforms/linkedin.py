"""LinkedIn Conversions API: POST /rest/conversionEvents (API-CONTRACTS.md E).

A batch (`{"elements":[...]}`, X-RestLi-Method: BATCH_CREATE) is accepted
whole (200, one {"status":201} per element) or rejected whole with 422 and
one line per failing element: "Index: <i>, ERROR :: <pointer> :: <text>\n".
A single element without `elements` is a CREATE answered 201 with an empty
body.  LinkedIn-Version must be YYYYMM, not in the future and at most
linkedin_version_months old (else 426 NONEXISTENT_VERSION)."""

import re
import time

from .common import Reply, is_currency, is_hex64, is_int, is_str

NAME = 'linkedin'
ROUTE = re.compile(r'/rest/conversionEvents\Z')

URN = re.compile(r'urn:lla:llaPartnerConversion:[0-9]+\Z')
VERSION = re.compile(r'(20[0-9]{2})(0[1-9]|1[0-2])\Z')
AMOUNT = re.compile(r'-?[0-9]+(\.[0-9]+)?\Z')
ID_TYPES = frozenset(('SHA256_EMAIL', 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID', 'ACXIOM_ID', 'ORACLE_MOAT_ID',
                      'SHA256_IP_ADDRESS', 'GOOGLE_AID'))
HASHED_ID_TYPES = ('SHA256_EMAIL', 'SHA256_IP_ADDRESS')
# Known sunsets (API-CONTRACTS.md J3): version -> (year, month, day) it stops.
SUNSETS = {'202508': (2026, 8, 15), '202510': (2026, 10, 15), '202511': (2026, 11, 16),
           '202601': (2027, 1, 15), '202602': (2027, 2, 15), '202603': (2027, 3, 16)}
ELEMENT_KEYS = frozenset(('conversion', 'conversionHappenedAt', 'conversionValue', 'eventId', 'user'))
USER_INFO_KEYS = frozenset(('firstName', 'lastName', 'title', 'companyName', 'countryCode'))


def li_reply(req, status, body):
    return Reply(status, body, headers={'x-li-uuid': 'mock-%d' % req.seq,
                                        'X-RestLi-Protocol-Version': '2.0.0'})


def auth_error(req, kind):
    if kind == 'revoked':
        return li_reply(req, 401, {'status': 401, 'serviceErrorCode': 65601, 'code': 'REVOKED_ACCESS_TOKEN',
                                   'message': 'The token used in the request has been revoked by the user'})
    msg = {'expired': 'The token used in the request has expired',
           'missing': 'Empty oauth2 access token'}.get(kind, 'Invalid access token')
    return li_reply(req, 401, {'status': 401, 'serviceErrorCode': 65600, 'code': 'INVALID_ACCESS_TOKEN',
                               'message': msg})


def rate_limited(req, retry_after):
    return li_reply(req, 429, {'status': 429, 'code': 'TOO_MANY_REQUESTS',
                               'message': 'Resource level throttle limit reached'})


def server_error(req, status):
    if status == 403:
        return li_reply(req, 403, {'status': 403, 'serviceErrorCode': 100, 'code': 'ACCESS_DENIED',
                                   'message': 'Not enough permissions to access: conversionEvents.BATCH_CREATE'})
    return li_reply(req, status, {'status': status, 'code': 'INTERNAL_SERVER_ERROR' if status >= 500 else 'ERROR',
                                  'message': 'Mock injected status %d' % status})


def bad(req, message, code=None, status=400):
    body = {'status': status, 'message': message}
    if code:
        body['code'] = code
    return li_reply(req, status, body)


def token_of(req):
    return req.bearer()


def keys_of(req):
    try:
        body = req.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    els = body.get('elements')
    if els is None:
        return [body.get('eventId')]
    if not isinstance(els, list):
        return []
    return [e.get('eventId') if isinstance(e, dict) else None for e in els]


def check_version(req):
    st = req.state
    v = req.header('LinkedIn-Version')
    if v is None:
        return bad(req, 'A version must be present. Please specify a version by adding the LinkedIn-Version header.',
                   'VERSION_MISSING')
    m = VERSION.match(v.strip())
    allowed = st.config.get('linkedin_versions')
    if m is None:
        return bad(req, 'Requested version %s is not valid; use YYYYMM.' % v, 'VERSION_INVALID')
    if allowed is not None:
        ok = v.strip() in [str(x) for x in allowed]
    else:
        # J3: active from its own month until its sunset (known, else the
        # 15th of the same month linkedin_version_months later); a later
        # month than the current one is refused too
        g = time.gmtime(st.now())
        now_m = g.tm_year * 12 + g.tm_mon - 1
        ver_m = int(m.group(1)) * 12 + int(m.group(2)) - 1
        end = SUNSETS.get(v.strip())
        if end is None:
            end_m = ver_m + st.config['linkedin_version_months']
            end = (end_m // 12, end_m % 12 + 1, 15)
        ok = now_m >= ver_m and (g.tm_year, g.tm_mon, g.tm_mday) < end
    if not ok:
        return bad(req, 'Requested version %s is not active' % v, 'NONEXISTENT_VERSION', status=426)
    return None


def check_element(el, now_ms, max_age_ms):
    """List of (pointer, text) problems of one element."""
    errs = []
    if type(el) is not dict:
        return [('', 'element is not an object')]
    for k in el:
        if k not in ELEMENT_KEYS:
            errs.append(('/' + k, 'unrecognized field found but not allowed'))
    c = el.get('conversion')
    if c is None:
        errs.append(('/conversion', 'field is required but not found and has no default value'))
    elif not is_str(c) or URN.match(c) is None:
        errs.append(('/conversion', 'invalid urn, expected urn:lla:llaPartnerConversion:{id}'))
    t = el.get('conversionHappenedAt')
    if t is None:
        errs.append(('/conversionHappenedAt', 'field is required but not found and has no default value'))
    elif not is_int(t):
        errs.append(('/conversionHappenedAt', 'data type is not long (epoch milliseconds)'))
    elif now_ms - t > max_age_ms:
        errs.append(('/conversionHappenedAt', 'conversion happened more than 90 days ago'))
    cv = el.get('conversionValue')
    if cv is not None:
        if type(cv) is not dict:
            errs.append(('/conversionValue', 'data type is not a record'))
        else:
            if cv.get('currencyCode') is None:
                errs.append(('/conversionValue/currencyCode', 'field is required but not found and has no default value'))
            elif not is_currency(cv['currencyCode']):
                errs.append(('/conversionValue/currencyCode', 'not a valid ISO 4217 currency code'))
            a = cv.get('amount')
            if a is None:
                errs.append(('/conversionValue/amount', 'field is required but not found and has no default value'))
            elif not is_str(a):
                errs.append(('/conversionValue/amount', 'data type is not string'))
            elif AMOUNT.match(a) is None:
                errs.append(('/conversionValue/amount', 'not a decimal number'))
            for k in cv:
                if k not in ('currencyCode', 'amount'):
                    errs.append(('/conversionValue/' + k, 'unrecognized field found but not allowed'))
    eid = el.get('eventId')
    if eid is not None and (not is_str(eid) or not eid):
        errs.append(('/eventId', 'data type is not string'))
    u = el.get('user')
    if u is None:
        errs.append(('/user', 'field is required but not found and has no default value'))
    elif type(u) is not dict:
        errs.append(('/user', 'data type is not a record'))
    else:
        ids = u.get('userIds')
        if ids is None:
            errs.append(('/user/userIds', 'field is required but not found and has no default value'))
        elif type(ids) is not list or not ids:
            errs.append(('/user/userIds', 'must be a non-empty array'))
        else:
            for j, x in enumerate(ids):
                p = '/user/userIds/%d' % j
                if type(x) is not dict:
                    errs.append((p, 'data type is not a record'))
                    continue
                it = x.get('idType')
                iv = x.get('idValue')
                if it not in ID_TYPES:
                    errs.append((p + '/idType', '"%s" is not an enum symbol' % it))
                if not is_str(iv) or not iv:
                    errs.append((p + '/idValue', 'field is required but not found and has no default value'))
                elif it in HASHED_ID_TYPES and not is_hex64(iv):
                    errs.append((p + '/idValue', '%s must be a SHA-256 hash in 64 lowercase hex' % it))
        info = u.get('userInfo')
        if info is not None:
            if type(info) is not dict:
                errs.append(('/user/userInfo', 'data type is not a record'))
            else:
                for k in ('firstName', 'lastName'):
                    if not is_str(info.get(k)) or not info.get(k):
                        errs.append(('/user/userInfo/' + k, 'field is required but not found and has no default value'))
                for k, v in info.items():
                    if k not in USER_INFO_KEYS:
                        errs.append(('/user/userInfo/' + k, 'unrecognized field found but not allowed'))
                    elif not is_str(v):
                        errs.append(('/user/userInfo/' + k, 'data type is not string'))
        for k in u:
            if k not in ('userIds', 'userInfo'):
                errs.append(('/user/' + k, 'unrecognized field found but not allowed'))
    return errs


def handle(req):
    st = req.state
    cfg = st.config
    token = req.bearer()
    ts = st.token_state('linkedin', token)
    if ts != 'valid':
        return auth_error(req, ts)
    err = check_version(req)
    if err is not None:
        return err
    if req.header('X-Restli-Protocol-Version') != '2.0.0':
        return bad(req, 'The X-Restli-Protocol-Version header must be 2.0.0.', 'ILLEGAL_ARGUMENT')
    if req.content_type() != 'application/json':
        return bad(req, 'Content-Type must be application/json.', 'ILLEGAL_ARGUMENT')
    try:
        body = req.json()
    except ValueError:
        return bad(req, 'Request body is not valid JSON.', 'ILLEGAL_ARGUMENT')
    if type(body) is not dict:
        return bad(req, 'Request body must be a JSON object.', 'ILLEGAL_ARGUMENT')
    method = (req.header('X-RestLi-Method') or '').strip().upper()
    batch = 'elements' in body
    if batch and method != 'BATCH_CREATE':
        return bad(req, 'A batch ({"elements": [...]}) needs the header X-RestLi-Method: BATCH_CREATE.',
                   'ILLEGAL_ARGUMENT')
    if not batch and method not in ('', 'CREATE'):
        return bad(req, 'X-RestLi-Method %s needs a body of the form {"elements": [...]}.' % method,
                   'ILLEGAL_ARGUMENT')
    elements = body['elements'] if batch else [body]
    if type(elements) is not list or not elements:
        return bad(req, 'elements must be a non-empty array.', 'ILLEGAL_ARGUMENT')
    keys = [e.get('eventId') if type(e) is dict else None for e in elements]
    if len(elements) > cfg['linkedin_max_batch']:
        r = bad(req, 'Batch size %d exceeds the limit of %d.' % (len(elements), cfg['linkedin_max_batch']),
                'ILLEGAL_ARGUMENT')
        r.received = keys
        return r
    now_ms = int(st.now() * 1000)
    max_age_ms = cfg['linkedin_max_age_days'] * 86400000
    lines = []
    for i, el in enumerate(elements):
        for ptr, text in check_element(el, now_ms, max_age_ms):
            lines.append(('Index: %d, ' % i if batch else '') + 'ERROR :: %s :: %s\n' % (ptr, text))
    if not lines:
        partial = st.faults.take_partial('linkedin', req.endpoint, req.path, keys)
        if partial:
            for i in sorted(partial):
                rule = partial[i]
                lines.append(('Index: %d, ' % i if batch else '') + 'ERROR :: %s :: %s\n'
                             % (rule.get('field') or '/conversion', rule.get('message') or 'rejected (mock fault)'))
    if lines:
        r = li_reply(req, 422, {'status': 422, 'message': ''.join(lines)})
        r.received = keys
        return r
    if batch:
        r = li_reply(req, 200, {'elements': [{'status': 201} for _ in elements]})
    else:
        r = li_reply(req, 201, None)
        r.headers['x-restli-id'] = str(keys[0] or 'mock-%d' % req.seq)
    r.received = keys
    r.accepted = [(k, i, 'event') for i, k in enumerate(keys)]
    return r
