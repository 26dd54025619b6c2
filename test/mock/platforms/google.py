"""Google Ads API: uploadClickConversions and uploadConversionAdjustments
(API-CONTRACTS.md section B).

JSON that does not map onto the request proto (unknown field, wrong type,
unknown enum value) fails the whole request with HTTP 400 INVALID_ARGUMENT
and a google.rpc.BadRequest detail, as Google's JSON transcoding does.
Request-level rules (batch size, partialFailure) answer HTTP 400 with a
GoogleAdsFailure.  Row rules answer HTTP 200 with partialFailureError and
`{}` in results for the failed rows."""

import calendar
import re

from .common import DIGITS, Reply, is_currency, is_hex64, is_num

NAME = 'google'
ROUTE = re.compile(r'/v([0-9]+)/customers/([^/:]+):(uploadClickConversions|uploadConversionAdjustments)\Z')

ACTION_RE = re.compile(r'customers/([0-9]+)/conversionActions/([0-9]+)\Z')
CLICK_RE = re.compile(r'[A-Za-z0-9_.\-]+\Z')
DT_RE = re.compile(r'([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})([+-])([0-9]{2}):([0-9]{2})\Z')

CONSENT = ('GRANTED', 'DENIED', 'UNSPECIFIED', 'UNKNOWN')
UID_SOURCE = ('FIRST_PARTY', 'THIRD_PARTY', 'UNSPECIFIED', 'UNKNOWN')

# Field name -> JSON type: s string, n number, b bool, o object, l list,
# i int32 number, tuple = enum, dict = nested message schema.
UID_SCHEMA = {'userIdentifierSource': UID_SOURCE, 'hashedEmail': 's', 'hashedPhoneNumber': 's',
              'mobileId': 's', 'thirdPartyUserId': 's', 'addressInfo': 'o'}
CONSENT_SCHEMA = {'adUserData': CONSENT, 'adPersonalization': CONSENT}
CC_SCHEMA = {
    'gclid': 's', 'gbraid': 's', 'wbraid': 's', 'conversionAction': 's',
    'conversionDateTime': 's', 'conversionValue': 'n', 'currencyCode': 's', 'orderId': 's',
    'externalAttributionData': 'o', 'customVariables': 'l', 'cartData': 'o',
    'userIdentifiers': ('list', UID_SCHEMA), 'conversionEnvironment': ('APP', 'WEB', 'UNSPECIFIED', 'UNKNOWN'),
    'consent': CONSENT_SCHEMA, 'customerType': ('NEW', 'RETURNING', 'UNSPECIFIED', 'UNKNOWN'),
    'userIpAddress': 's', 'sessionAttributesEncoded': 's', 'sessionAttributesKeyValuePairs': 'o',
}
ADJ_SCHEMA = {
    'conversionAction': 's', 'adjustmentType': ('RETRACTION', 'RESTATEMENT', 'ENHANCEMENT', 'UNSPECIFIED', 'UNKNOWN'),
    'adjustmentDateTime': 's', 'orderId': 's',
    'gclidDateTimePair': {'gclid': 's', 'conversionDateTime': 's'},
    'restatementValue': {'adjustedValue': 'n', 'currencyCode': 's'},
    'userIdentifiers': ('list', UID_SCHEMA), 'userAgent': 's',
}
TOP_CC = {'conversions': 'l', 'partialFailure': 'b', 'validateOnly': 'b', 'jobId': 'i'}
TOP_ADJ = {'conversionAdjustments': 'l', 'partialFailure': 'b', 'validateOnly': 'b', 'jobId': 'i'}

PROTO_TYPE = {'s': 'TYPE_STRING', 'n': 'TYPE_DOUBLE', 'b': 'TYPE_BOOL', 'o': 'TYPE_MESSAGE',
              'l': 'TYPE_MESSAGE', 'i': 'TYPE_INT32'}

MESSAGES = {
    'EVENT_NOT_FOUND': 'The imported event could not be attributed to a click.',
    'EXPIRED_EVENT': 'The click is older than the click-through window of the conversion action.',
    'TOO_RECENT_EVENT': 'The click occurred less than 6 hours ago; retry later.',
    'CONVERSION_PRECEDES_EVENT': 'The conversion happened before the click.',
    'UNPARSEABLE_GCLID': 'The gclid could not be decoded.',
    'UNPARSEABLE_GBRAID': 'The gbraid could not be decoded.',
    'UNPARSEABLE_WBRAID': 'The wbraid could not be decoded.',
    'GBRAID_WBRAID_BOTH_SET': 'The upload has both gbraid and wbraid set.',
    'ORDER_ID_ALREADY_IN_USE': 'The order id was already used for a conversion of this conversion action.',
    'DUPLICATE_ORDER_ID': 'The request holds more than one conversion with this order id.',
    'CLICK_CONVERSION_ALREADY_EXISTS': 'A conversion for this click and conversion date time already exists.',
    'DUPLICATE_CLICK_CONVERSION_IN_REQUEST': 'The request holds this click conversion more than once.',
    'NO_CONVERSION_ACTION_FOUND': 'The conversion action cannot be found in this account.',
    'INVALID_USER_IDENTIFIER': 'The user identifier is not a SHA-256 hash in 64 lowercase hexadecimal characters.',
    'UNSUPPORTED_USER_IDENTIFIER': 'Only hashedEmail and hashedPhoneNumber are supported here.',
    'ORDER_ID_CONTAINS_PII': 'The order id contains personal information.',
    'CLICK_NOT_FOUND': 'No click matched the user identifiers.',
    'CONVERSION_NOT_FOUND': 'The conversion to adjust was not found.',
    'CONVERSION_ALREADY_RETRACTED': 'The conversion was already retracted.',
    'CONVERSION_EXPIRED': 'The conversion is older than 54 days and can no longer be adjusted.',
    'ADJUSTMENT_PRECEDES_CONVERSION': 'The adjustment date time is before the conversion date time.',
    'MORE_RECENT_RESTATEMENT_FOUND': 'A restatement with a later adjustment date time exists.',
    'RESTATEMENT_ALREADY_EXISTS': 'A restatement with this adjustment date time already exists.',
    'DUPLICATE_ADJUSTMENT_IN_REQUEST': 'The request holds this adjustment more than once.',
    'CONVERSION_ALREADY_ENHANCED': 'The conversion was already enhanced.',
    'MISSING_ORDER_ID_FOR_WEBPAGE': 'An enhancement needs the order id.',
    'GCLID_DATE_TIME_PAIR_AND_ORDER_ID_BOTH_SET': 'Set either orderId or gclidDateTimePair, not both.',
    'TOO_RECENT_CONVERSION': 'The conversion happened less than 24 hours ago; retry later.',
    'TOO_RECENT_CONVERSION_ACTION': 'The conversion action was created less than 6 hours ago.',
    'REQUIRED': 'The required field was not present.',
    'VALUE_MUST_BE_UNSET': 'The field must not be set.',
    'INVALID_FIELD_VALUES_IN_DATE_TIME': 'The date time is not in the format yyyy-mm-dd hh:mm:ss+|-hh:mm.',
    'UNSUPPORTED': 'The currency code is not supported.',
    'TOO_MANY': 'Too many user identifiers; at most 5 are allowed.',
}
ADJ_CODES = ('CONVERSION_NOT_FOUND', 'CONVERSION_ALREADY_RETRACTED', 'CONVERSION_EXPIRED',
             'ADJUSTMENT_PRECEDES_CONVERSION', 'MORE_RECENT_RESTATEMENT_FOUND', 'TOO_RECENT_CONVERSION',
             'TOO_MANY_ADJUSTMENTS', 'RESTATEMENT_ALREADY_EXISTS', 'DUPLICATE_ADJUSTMENT_IN_REQUEST',
             'CONVERSION_ALREADY_ENHANCED', 'MISSING_ORDER_ID_FOR_WEBPAGE',
             'GCLID_DATE_TIME_PAIR_AND_ORDER_ID_BOTH_SET', 'INVALID_CONVERSION_ACTION_TYPE')


_SNAKE = {}


def snake(name):
    """lowerCamelCase JSON name -> the proto field name (cached: per row)."""
    s = _SNAKE.get(name)
    if s is None:
        s = _SNAKE[name] = re.sub(r'([A-Z])', lambda m: '_' + m.group(1).lower(), name)
    return s


_DT_CACHE = {}
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def parse_dt(s):
    """'yyyy-mm-dd hh:mm:ss+hh:mm' -> Unix seconds, or None.  Cached: a
    batch often repeats its times, and this runs per row."""
    if type(s) is not str:
        return None
    v = _DT_CACHE.get(s, False)
    if v is not False:
        return v
    v = _parse_dt(s)
    if len(_DT_CACHE) > 50000:
        _DT_CACHE.clear()
    _DT_CACHE[s] = v
    return v


def _parse_dt(s):
    m = DT_RE.match(s)
    if m is None:
        return None
    y, mo, d, h, mi, se = (int(x) for x in m.group(1, 2, 3, 4, 5, 6))
    tzh, tzm = int(m.group(8)), int(m.group(9))
    if tzh > 14 or tzm > 59 or not 1 <= mo <= 12 or h > 23 or mi > 59 or se > 59 or y < 1970:
        return None
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not 1 <= d <= _DAYS[mo - 1] + (1 if mo == 2 and leap else 0):
        return None
    off = tzh * 3600 + tzm * 60
    if m.group(7) == '-':
        off = -off
    return calendar.timegm((y, mo, d, h, mi, se, 0, 0, 0)) - off


# ----- response shapes ---------------------------------------------------------

def failure_detail(version, errors, request_id):
    return {'@type': 'type.googleapis.com/google.ads.googleads.%s.errors.GoogleAdsFailure' % version,
            'errors': errors, 'requestId': request_id}


def ads_error(family, code, message, location=None, details=None):
    e = {'errorCode': {family: code}, 'message': message}
    if location:
        e['location'] = {'fieldPathElements': location}
    if details:
        e['details'] = details
    return e


def rpc_error(req, status, status_name, message, errors=None):
    err = {'code': status, 'message': message, 'status': status_name}
    if errors is not None:
        err['details'] = [failure_detail(version_of(req), errors, request_id(req))]
    return Reply(status, {'error': err}, headers={'request-id': request_id(req)})


def bad_request(req, field, message):
    """What Google's JSON transcoding answers for JSON that does not fit the proto."""
    return Reply(400, {'error': {
        'code': 400, 'message': message, 'status': 'INVALID_ARGUMENT',
        'details': [{'@type': 'type.googleapis.com/google.rpc.BadRequest',
                     'fieldViolations': [{'field': field, 'description': message}]}]}},
        headers={'request-id': request_id(req)})


def version_of(req):
    if req.match is not None:
        return 'v' + req.match.group(1)
    return 'v24'


def request_id(req):
    return 'req-mock-%d' % req.seq


AUTH_ERRORS = {
    'expired': ('OAUTH_TOKEN_EXPIRED', 'OAuth token in the header has expired.'),
    'revoked': ('OAUTH_TOKEN_REVOKED', 'OAuth token in the header has been revoked.'),
    'invalid': ('OAUTH_TOKEN_INVALID', 'OAuth token in the header is not valid.'),
    'missing': ('OAUTH_TOKEN_HEADER_INVALID', 'The Authorization header is missing or not a Bearer token.'),
}


def auth_error(req, kind):
    code, msg = AUTH_ERRORS.get(kind, AUTH_ERRORS['invalid'])
    return rpc_error(req, 401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.',
                     [ads_error('authenticationError', code, msg)])


def rate_limited(req, retry_after):
    return rpc_error(req, 429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).',
                     [ads_error('quotaError', 'RESOURCE_TEMPORARILY_EXHAUSTED', 'Too many requests.',
                                details={'quotaErrorDetails': {
                                    'rateScope': 'ACCOUNT', 'rateName': 'Requests per account',
                                    'retryDelay': '%ds' % int(retry_after)}})])


STATUS_NAMES = {400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED',
                404: 'NOT_FOUND', 409: 'ABORTED', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL',
                501: 'UNIMPLEMENTED', 502: 'UNAVAILABLE', 503: 'UNAVAILABLE', 504: 'DEADLINE_EXCEEDED'}


def server_error(req, status):
    name = STATUS_NAMES.get(status, 'UNKNOWN')
    if status == 500:
        msg = 'Internal error encountered.'
    elif status in (502, 503):
        msg = 'The service is currently unavailable.'
    elif status == 504:
        msg = 'Deadline exceeded.'
    else:
        msg = 'Mock injected status %d.' % status
    errors = None
    if status == 403:
        errors = [ads_error('authorizationError', 'USER_PERMISSION_DENIED',
                           "User doesn't have permission to access customer.")]
    elif status >= 500:
        errors = [ads_error('internalError', 'TRANSIENT_ERROR' if status != 500 else 'INTERNAL_ERROR', msg)]
    return rpc_error(req, status, name, msg, errors)


def token_of(req):
    return req.bearer()


def keys_of(req):
    """Dedup keys of a request that was not processed (faults)."""
    try:
        body = req.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    if req.endpoint == 'uploadClickConversions':
        rows = body.get('conversions')
        return [row_key(r) for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    rows = body.get('conversionAdjustments')
    return [adj_key(r) for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def row_key(row):
    o = row.get('orderId')
    if o:
        return o
    click = row.get('gclid') or row.get('gbraid') or row.get('wbraid')
    if click:
        return '%s@%s' % (click, row.get('conversionDateTime'))
    return None


def adj_key(row):
    o = row.get('orderId')
    if not o:
        p = row.get('gclidDateTimePair')
        if isinstance(p, dict):
            o = '%s@%s' % (p.get('gclid'), p.get('conversionDateTime'))
        else:
            return None
    return '%s#%s' % (o, row.get('adjustmentType'))


# ----- JSON to proto shape check ------------------------------------------------

def check_shape(obj, schema, where):
    """Returns an error message when obj does not fit the schema, else None."""
    for k, v in obj.items():
        t = schema.get(k)
        if t is None:
            return ('Invalid JSON payload received. Unknown name "%s" at \'%s\': Cannot find field.'
                    % (k, where), where)
        if v is None:
            continue
        if type(t) is str:
            ok = ((t == 's' and type(v) is str) or (t == 'n' and is_num(v)) or
                  (t == 'b' and type(v) is bool) or (t == 'o' and type(v) is dict) or
                  (t == 'l' and type(v) is list) or
                  (t == 'i' and type(v) is int and 0 <= v < 2 ** 31))
            if not ok:
                path = '%s.%s' % (where, snake(k)) if where else snake(k)
                return ('Invalid value at \'%s\' (%s), %s' % (path, PROTO_TYPE[t], short(v)), path)
            continue
        path = '%s.%s' % (where, snake(k)) if where else snake(k)
        if type(t) is tuple and t and t[0] == 'list':
            if type(v) is not list:
                return ('Invalid value at \'%s\' (TYPE_MESSAGE), %s' % (path, short(v)), path)
            for j, item in enumerate(v):
                if type(item) is not dict:
                    return ('Invalid value at \'%s[%d]\' (TYPE_MESSAGE), %s' % (path, j, short(item)), path)
                err = check_shape(item, t[1], '%s[%d]' % (path, j))
                if err:
                    return err
        elif type(t) is tuple:
            if type(v) is not str or v not in t:
                return ('Invalid value at \'%s\' (TYPE_ENUM), %s' % (path, short(v)), path)
        elif type(t) is dict:
            if type(v) is not dict:
                return ('Invalid value at \'%s\' (TYPE_MESSAGE), %s' % (path, short(v)), path)
            err = check_shape(v, t, path)
            if err:
                return err
    return None


def short(v):
    import json
    s = json.dumps(v)
    return s if len(s) <= 60 else s[:57] + '...'


# ----- entry point -------------------------------------------------------------

def handle(req):
    st = req.state
    cfg = st.config
    ver = int(req.match.group(1))
    if ver < cfg['google_min_version']:
        return rpc_error(req, 404, 'NOT_FOUND', 'Version v%d of the Google Ads API is not supported; use v%d or later.'
                         % (ver, cfg['google_min_version']))
    auth = req.header('Authorization')
    token = req.bearer()
    if auth is None or token is None:
        return auth_error(req, 'missing')
    ts = st.token_state('google', token)
    if ts != 'valid':
        return auth_error(req, ts)
    cid = req.match.group(2)
    if DIGITS.match(cid) is None:
        return rpc_error(req, 400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.',
                         [ads_error('requestError', 'INVALID_CUSTOMER_ID',
                                    'The customer id must be digits only, without dashes.')])
    lcid = req.header('login-customer-id')
    if lcid is not None and DIGITS.match(lcid) is None:
        return rpc_error(req, 400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.',
                         [ads_error('headerError', 'INVALID_LOGIN_CUSTOMER_ID',
                                    'The login customer ID could not be validated.')])
    dev = req.header('developer-token')
    if dev is not None and not dev.strip():
        return rpc_error(req, 400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.',
                         [ads_error('headerError', 'INVALID_DEVELOPER_TOKEN', 'The developer-token header is empty.')])
    if req.content_type() != 'application/json':
        return bad_request(req, '', 'Invalid JSON payload received. Content-Type must be application/json.')
    try:
        body = req.json()
    except ValueError:
        return bad_request(req, '', 'Invalid JSON payload received. Unexpected token.')
    if type(body) is not dict:
        return bad_request(req, '', 'Invalid JSON payload received. Expected an object.')
    if req.endpoint == 'uploadClickConversions':
        return upload_clicks(req, body)
    return upload_adjustments(req, body)


def check_top(req, body, top, list_name, row_schema, max_batch, too_many_family, too_many_code):
    err = check_shape(body, top, '')
    if err:
        return bad_request(req, err[1], err[0])
    rows = body.get(list_name)
    sname = snake(list_name)
    if not rows:
        return rpc_error(req, 400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.',
                         [ads_error('fieldError', 'REQUIRED', 'The required field was not present.',
                                    [{'fieldName': sname}])])
    if body.get('partialFailure') is not True:
        return rpc_error(req, 400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.',
                         [ads_error('fieldError', 'REQUIRED', 'partialFailure must be set to true.',
                                    [{'fieldName': 'partial_failure'}])])
    if len(rows) > max_batch:
        return rpc_error(req, 400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.',
                         [ads_error(too_many_family, too_many_code,
                                    'Upload fewer than %d items in one request.' % (max_batch + 1),
                                    [{'fieldName': sname}])])
    for i, row in enumerate(rows):
        if type(row) is not dict:
            return bad_request(req, '%s[%d]' % (sname, i),
                               'Invalid value at \'%s[%d]\' (TYPE_MESSAGE), %s' % (sname, i, short(row)))
        err = check_shape(row, row_schema, '%s[%d]' % (sname, i))
        if err:
            return bad_request(req, err[1], err[0])
    return None


def check_user_ids(uids, errs):
    if not uids:
        return
    if len(uids) > 5:
        errs.append(('collectionSizeError', 'TOO_MANY', ['user_identifiers']))
        return
    for j, u in enumerate(uids):
        set_fields = [k for k in ('hashedEmail', 'hashedPhoneNumber', 'mobileId', 'thirdPartyUserId', 'addressInfo')
                      if u.get(k) not in (None, '')]
        if len(set_fields) != 1:
            errs.append(('conversionUploadError', 'INVALID_USER_IDENTIFIER', [('user_identifiers', j)]))
            continue
        f = set_fields[0]
        if f not in ('hashedEmail', 'hashedPhoneNumber'):
            errs.append(('conversionUploadError', 'UNSUPPORTED_USER_IDENTIFIER',
                         [('user_identifiers', j), snake(f)]))
        elif not is_hex64(u[f]):
            errs.append(('conversionUploadError', 'INVALID_USER_IDENTIFIER', [('user_identifiers', j), snake(f)]))


def location(list_name, i, path):
    loc = [{'fieldName': list_name, 'index': i}]
    for p in path:
        if type(p) is tuple:
            loc.append({'fieldName': p[0], 'index': p[1]})
        else:
            loc.append({'fieldName': p})
    return loc


def location_text(list_name, i, path):
    s = '%s[%d]' % (list_name, i)
    for p in path:
        s += '.%s[%d]' % p if type(p) is tuple else '.' + p
    return s


def fault_error(rule, default_code, default_family):
    code = rule.get('error') or default_code
    family = rule.get('family')
    if family is None:
        family = 'conversionAdjustmentUploadError' if code in ADJ_CODES else default_family
    return (family, code, [rule.get('field') or ('gclid' if default_family == 'conversionUploadError' else 'order_id')],
            rule.get('message'))


def build_response(req, body, list_name, results, row_errors, validate_only):
    out = {}
    if row_errors:
        errors = []
        texts = []
        for i, (family, code, path, message) in row_errors:
            msg = message or MESSAGES.get(code, 'Mock failure %s.' % code)
            errors.append(ads_error(family, code, msg, location(list_name, i, path)))
            texts.append('%s, at %s' % (msg, location_text(list_name, i, path)))
        out['partialFailureError'] = {'code': 3, 'message': ', '.join(texts),
                                      'details': [failure_detail(version_of(req), errors, request_id(req))]}
    if not validate_only:
        out['results'] = results
        job = body.get('jobId')
        out['jobId'] = str(job if job is not None else req.state.next_job_id())
    return Reply(200, out, headers={'request-id': request_id(req)})


def upload_clicks(req, body):
    st = req.state
    bad = check_top(req, body, TOP_CC, 'conversions', CC_SCHEMA, st.config['google_max_batch'],
                    'conversionUploadError', 'TOO_MANY_CONVERSIONS_IN_REQUEST')
    if bad:
        bad.received = keys_of(req)
        return bad
    rows = body['conversions']
    validate_only = body.get('validateOnly') is True
    keys = [row_key(r) for r in rows]
    parsed = []
    row_errors = []
    for i, r in enumerate(rows):
        errs = []
        action = r.get('conversionAction')
        am = ACTION_RE.match(action) if action else None
        if not action:
            errs.append(('fieldError', 'REQUIRED', ['conversion_action']))
        elif am is None:
            errs.append(('conversionUploadError', 'NO_CONVERSION_ACTION_FOUND', ['conversion_action']))
        clicks = [(k, r[k]) for k in ('gclid', 'gbraid', 'wbraid') if r.get(k)]
        uids = r.get('userIdentifiers')
        if r.get('gbraid') and r.get('wbraid'):
            errs.append(('conversionUploadError', 'GBRAID_WBRAID_BOTH_SET', ['wbraid']))
        elif len(clicks) > 1:
            errs.append(('fieldError', 'VALUE_MUST_BE_UNSET', [snake(clicks[1][0])]))
        elif not clicks and not uids:
            errs.append(('fieldError', 'REQUIRED', ['gclid']))
        for k, v in clicks:
            if CLICK_RE.match(v) is None:
                errs.append(('conversionUploadError', 'UNPARSEABLE_' + k.upper(), [k]))
        cdt = r.get('conversionDateTime')
        ts = parse_dt(cdt)
        if not cdt:
            errs.append(('fieldError', 'REQUIRED', ['conversion_date_time']))
        elif ts is None:
            errs.append(('dateError', 'INVALID_FIELD_VALUES_IN_DATE_TIME', ['conversion_date_time']))
        cur = r.get('currencyCode')
        if cur not in (None, '') and not is_currency(cur):
            errs.append(('currencyCodeError', 'UNSUPPORTED', ['currency_code']))
        oid = r.get('orderId')
        if oid and '@' in oid:
            errs.append(('conversionUploadError', 'ORDER_ID_CONTAINS_PII', ['order_id']))
        check_user_ids(uids, errs)
        if errs:
            row_errors.append((i, errs[0][0], errs[0][1], errs[0][2], None))
            parsed.append(None)
        else:
            click = clicks[0][1] if clicks else None
            parsed.append((am.group(2), oid or None, click, cdt, ts))
    failed = {e[0]: e for e in row_errors}
    partial = st.faults.take_partial('google', req.endpoint, req.path, keys)
    if partial:
        for i, rule in partial.items():
            if i not in failed:
                fam, code, path, msg = fault_error(rule, 'EVENT_NOT_FOUND', 'conversionUploadError')
                failed[i] = (i, fam, code, path, msg)
    results = []
    accepted = []
    with st.lock:
        seen_orders = set()
        seen_clicks = set()
        for i, p in enumerate(parsed):
            if i in failed or p is None:
                results.append({})
                continue
            aid, oid, click, cdt, ts = p
            code = None
            if oid is not None:
                if (aid, oid) in seen_orders:
                    code = 'DUPLICATE_ORDER_ID'
                elif (aid, oid) in st.google_orders:
                    code = 'ORDER_ID_ALREADY_IN_USE'
                seen_orders.add((aid, oid))
            if code is None and click is not None:
                if (aid, click, cdt) in seen_clicks:
                    code = 'DUPLICATE_CLICK_CONVERSION_IN_REQUEST'
                elif (aid, click, cdt) in st.google_clicks:
                    code = 'CLICK_CONVERSION_ALREADY_EXISTS'
                seen_clicks.add((aid, click, cdt))
            if code is not None:
                failed[i] = (i, 'conversionUploadError', code, ['order_id' if 'ORDER' in code else 'gclid'], None)
                results.append({})
                continue
            res = {}
            r = rows[i]
            for k in ('gclid', 'gbraid', 'wbraid'):
                if r.get(k):
                    res[k] = r[k]
            res['conversionAction'] = r['conversionAction']
            res['conversionDateTime'] = cdt
            results.append(res)
            if validate_only:
                continue
            rec = {'ts': ts, 'value': r.get('conversionValue'), 'currency': r.get('currencyCode')}
            if oid is not None:
                st.google_orders[(aid, oid)] = rec
            if click is not None:
                st.google_clicks[(aid, click, cdt)] = rec
            accepted.append((keys[i], i, 'conversion'))
    errs = [(i, (f[1], f[2], f[3], f[4])) for i, f in sorted(failed.items())]
    reply = build_response(req, body, 'conversions', results, errs, validate_only)
    reply.received = keys
    reply.accepted = accepted
    return reply


def upload_adjustments(req, body):
    st = req.state
    cfg = st.config
    bad = check_top(req, body, TOP_ADJ, 'conversionAdjustments', ADJ_SCHEMA, cfg['google_max_batch'],
                    'conversionAdjustmentUploadError', 'TOO_MANY_ADJUSTMENTS_IN_REQUEST')
    if bad:
        bad.received = keys_of(req)
        return bad
    rows = body['conversionAdjustments']
    validate_only = body.get('validateOnly') is True
    keys = [adj_key(r) for r in rows]
    parsed = []
    failed = {}
    AF = 'conversionAdjustmentUploadError'
    for i, r in enumerate(rows):
        errs = []
        action = r.get('conversionAction')
        am = ACTION_RE.match(action) if action else None
        if not action:
            errs.append(('fieldError', 'REQUIRED', ['conversion_action']))
        elif am is None:
            errs.append(('conversionUploadError', 'NO_CONVERSION_ACTION_FOUND', ['conversion_action']))
        typ = r.get('adjustmentType')
        if typ not in ('RETRACTION', 'RESTATEMENT', 'ENHANCEMENT'):
            errs.append(('fieldError', 'REQUIRED', ['adjustment_type']))
        adt = r.get('adjustmentDateTime')
        ats = parse_dt(adt)
        if not adt:
            errs.append(('fieldError', 'REQUIRED', ['adjustment_date_time']))
        elif ats is None:
            errs.append(('dateError', 'INVALID_FIELD_VALUES_IN_DATE_TIME', ['adjustment_date_time']))
        oid = r.get('orderId') or None
        pair = r.get('gclidDateTimePair')
        ident = None
        if oid and pair:
            errs.append((AF, 'GCLID_DATE_TIME_PAIR_AND_ORDER_ID_BOTH_SET', ['gclid_date_time_pair']))
        elif oid:
            ident = ('order', oid)
        elif pair:
            g = pair.get('gclid')
            c = pair.get('conversionDateTime')
            if not g:
                errs.append(('fieldError', 'REQUIRED', ['gclid_date_time_pair', 'gclid']))
            elif CLICK_RE.match(g) is None:
                errs.append(('conversionUploadError', 'UNPARSEABLE_GCLID', ['gclid_date_time_pair', 'gclid']))
            if not c:
                errs.append(('fieldError', 'REQUIRED', ['gclid_date_time_pair', 'conversion_date_time']))
            elif parse_dt(c) is None:
                errs.append(('dateError', 'INVALID_FIELD_VALUES_IN_DATE_TIME',
                             ['gclid_date_time_pair', 'conversion_date_time']))
            ident = ('click', g, c)
        elif typ == 'ENHANCEMENT':
            errs.append((AF, 'MISSING_ORDER_ID_FOR_WEBPAGE', ['order_id']))
        else:
            errs.append(('fieldError', 'REQUIRED', ['order_id']))
        rv = r.get('restatementValue')
        if typ == 'RETRACTION' and rv is not None:
            errs.append(('fieldError', 'VALUE_MUST_BE_UNSET', ['restatement_value']))
        elif typ == 'RESTATEMENT':
            if not rv or rv.get('adjustedValue') is None:
                errs.append(('fieldError', 'REQUIRED', ['restatement_value', 'adjusted_value']))
            elif not rv.get('currencyCode'):
                errs.append(('fieldError', 'REQUIRED', ['restatement_value', 'currency_code']))
            elif not is_currency(rv['currencyCode']):
                errs.append(('currencyCodeError', 'UNSUPPORTED', ['restatement_value', 'currency_code']))
        elif typ == 'ENHANCEMENT':
            if rv is not None:
                errs.append(('fieldError', 'VALUE_MUST_BE_UNSET', ['restatement_value']))
            if not oid and not errs:
                errs.append((AF, 'MISSING_ORDER_ID_FOR_WEBPAGE', ['order_id']))
            check_user_ids(r.get('userIdentifiers'), errs)
        if errs:
            failed[i] = (i, errs[0][0], errs[0][1], errs[0][2], None)
            parsed.append(None)
        else:
            parsed.append((am.group(2), ident, typ, ats))
    partial = st.faults.take_partial('google', req.endpoint, req.path, keys)
    if partial:
        for i, rule in partial.items():
            if i not in failed:
                fam, code, path, msg = fault_error(rule, 'CONVERSION_NOT_FOUND', AF)
                failed[i] = (i, fam, code, path, msg)
    now = st.now()
    max_age = cfg['google_adjustment_max_age_days'] * 86400
    require = cfg['google_require_conversion']
    results = []
    accepted = []
    with st.lock:
        seen = set()
        for i, p in enumerate(parsed):
            if i in failed or p is None:
                results.append({})
                continue
            aid, ident, typ, ats = p
            if ident[0] == 'order':
                conv = st.google_orders.get((aid, ident[1]))
            else:
                conv = st.google_clicks.get((aid, ident[1], ident[2]))
            code = None
            dup = (aid, ident, typ, ats)
            if dup in seen:
                code = 'DUPLICATE_ADJUSTMENT_IN_REQUEST'
            seen.add(dup)
            if code is None and conv is None:
                if require:
                    code = 'CONVERSION_NOT_FOUND'
                elif not validate_only:
                    conv = {'ts': None, 'placeholder': True}
                    if ident[0] == 'order':
                        st.google_orders[(aid, ident[1])] = conv
                    else:
                        st.google_clicks[(aid, ident[1], ident[2])] = conv
                else:
                    conv = {'ts': None}
            if code is None:
                if conv.get('retracted') is not None:
                    code = 'CONVERSION_ALREADY_RETRACTED'
                elif conv['ts'] is not None and ats < conv['ts']:
                    code = 'ADJUSTMENT_PRECEDES_CONVERSION'
                elif conv['ts'] is not None and now - conv['ts'] > max_age:
                    code = 'CONVERSION_EXPIRED'
                elif typ == 'RESTATEMENT' and conv.get('restated_at') is not None:
                    if ats == conv['restated_at']:
                        code = 'RESTATEMENT_ALREADY_EXISTS'
                    elif ats < conv['restated_at']:
                        code = 'MORE_RECENT_RESTATEMENT_FOUND'
                elif typ == 'ENHANCEMENT' and conv.get('enhanced'):
                    code = 'CONVERSION_ALREADY_ENHANCED'
            if code is not None:
                failed[i] = (i, AF, code, ['order_id' if ident[0] == 'order' else 'gclid_date_time_pair'], None)
                results.append({})
                continue
            r = rows[i]
            res = {}
            if ident[0] == 'order':
                res['orderId'] = ident[1]
            else:
                res['gclidDateTimePair'] = r['gclidDateTimePair']
            res['conversionAction'] = r['conversionAction']
            res['adjustmentDateTime'] = r['adjustmentDateTime']
            res['adjustmentType'] = typ
            results.append(res)
            if validate_only:
                continue
            if typ == 'RETRACTION':
                conv['retracted'] = ats
            elif typ == 'RESTATEMENT':
                conv['restated_at'] = ats
                conv['value'] = r['restatementValue']['adjustedValue']
            else:
                conv['enhanced'] = True
            accepted.append((keys[i], i, 'adjustment'))
    errs = [(i, (f[1], f[2], f[3], f[4])) for i, f in sorted(failed.items())]
    reply = build_response(req, body, 'conversion_adjustments', results, errs, validate_only)
    reply.received = keys
    reply.accepted = accepted
    return reply
