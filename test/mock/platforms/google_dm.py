"""Google Data Manager API: POST /v1/events:ingest and
GET /v1/requestStatus:retrieve (API-CONTRACTS.md J1).

The request is all or nothing: any violation fails it with HTTP 400
INVALID_ARGUMENT, a google.rpc.BadRequest listing every violation
(fieldViolations, "events[i].<proto_field>") and a google.rpc.ErrorInfo
with the first violation's reason; nothing in it is stored.  A valid
request answers 200 {"requestId"} and its events are processed later:
requestStatus:retrieve answers PROCESSING for dm_status_delay_s seconds of
the mock clock, then per destination SUCCESS, PARTIAL_SUCCESS or FAILED
with error counts per reason (events whose transactionId is in a
'partial' fault rule of endpoint 'processing' fail with the rule's code,
default PROCESSING_ERROR_REASON_CLICK_NOT_FOUND).  An event whose
transactionId was already accepted for the same conversion action is an
adjustment: its value replaces the recorded one (kind 'adjustment')."""

import calendar
import re

from .common import DIGITS, Reply, is_currency, is_hex64, is_num

NAME = 'google_dm'
ROUTE_INGEST = re.compile(r'/v1/events:ingest\Z')
ROUTE_STATUS = re.compile(r'/v1/requestStatus:retrieve\Z')

TS_RE = re.compile(r'([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?'
                   r'(Z|[+-][0-9]{2}:[0-9]{2})\Z')
B64_RE = re.compile(r'[A-Za-z0-9+/]{43}=\Z')
ACCOUNT_TYPES = ('GOOGLE_ADS', 'DISPLAY_VIDEO_PARTNER', 'DISPLAY_VIDEO_ADVERTISER', 'DATA_PARTNER',
                 'GOOGLE_ANALYTICS_PROPERTY', 'GOOGLE_AD_MANAGER_AUDIENCE_LINK', 'FLOODLIGHT_CONFIG')
CONSENT = ('CONSENT_GRANTED', 'CONSENT_DENIED', 'CONSENT_STATUS_UNSPECIFIED')
EVENT_SOURCES = ('WEB', 'APP', 'IN_STORE', 'PHONE', 'MESSAGE', 'OTHER')
TOP_KEYS = frozenset(('destinations', 'events', 'consent', 'validateOnly', 'encoding', 'encryptionInfo'))
DEST_KEYS = frozenset(('reference', 'loginAccount', 'linkedAccount', 'operatingAccount', 'productDestinationId'))
EVENT_KEYS = frozenset((
    'destinationReferences', 'transactionId', 'eventTimestamp', 'lastUpdatedTimestamp', 'userData',
    'consent', 'adIdentifiers', 'currency', 'conversionValue', 'eventSource', 'eventDeviceInfo',
    'cartData', 'customVariables', 'experimentalFields', 'userProperties', 'eventName', 'clientId',
    'userId', 'additionalEventParameters', 'conversionCount', 'eventLocation', 'appInstanceId',
    'thirdPartyUserData'))
AD_ID_KEYS = frozenset(('gclid', 'gbraid', 'wbraid', 'sessionAttributes', 'landingPageDeviceInfo',
                        'mobileDeviceId', 'dclid', 'impressionId', 'matchId', 'encryptedUserIds'))
CLICK_RE = re.compile(r'[A-Za-z0-9_.\-]+\Z')
STATUS_DELAY_KEY = 'dm_status_delay_s'
MAX_EVENTS = 2000


def snake(name):
    return re.sub(r'([A-Z])', lambda m: '_' + m.group(1).lower(), name)


def request_id(req):
    return 'dm-req-%d' % req.seq


def error(req, status, status_name, message, violations=None, reason=None, extra=None):
    details = []
    if violations:
        details.append({'@type': 'type.googleapis.com/google.rpc.BadRequest',
                        'fieldViolations': [{'field': f, 'description': d} for f, d, _ in violations]})
    if reason:
        info = {'@type': 'type.googleapis.com/google.rpc.ErrorInfo', 'reason': reason,
                'domain': 'datamanager.googleapis.com'}
        if extra:
            info['metadata'] = extra
        details.append(info)
    details.append({'@type': 'type.googleapis.com/google.rpc.RequestInfo', 'requestId': request_id(req)})
    return Reply(status, {'error': {'code': status, 'message': message, 'status': status_name,
                                    'details': details}},
                 headers={'request-id': request_id(req)})


AUTH_ERRORS = {
    'expired': 'Request had invalid authentication credentials. Expected OAuth 2 access token.',
    'revoked': 'Request had invalid authentication credentials. The token was revoked.',
    'invalid': 'Request had invalid authentication credentials.',
    'missing': 'Request is missing required authentication credential.',
}


def auth_error(req, kind):
    return error(req, 401, 'UNAUTHENTICATED', AUTH_ERRORS.get(kind, AUTH_ERRORS['invalid']),
                 reason='ACCESS_TOKEN_EXPIRED' if kind == 'expired' else 'UNAUTHENTICATED')


def rate_limited(req, retry_after):
    r = error(req, 429, 'RESOURCE_EXHAUSTED', 'Quota exceeded for quota metric ingestion requests.',
              reason='RESOURCE_EXHAUSTED',
              extra={'quota_limit': 'IngestionMutateRequestsPerMinutePerProject'})
    r.body['error']['details'].insert(0, {'@type': 'type.googleapis.com/google.rpc.RetryInfo',
                                          'retryDelay': '%ds' % int(retry_after)})
    return r


def server_error(req, status):
    names = {403: 'PERMISSION_DENIED', 500: 'INTERNAL', 502: 'UNAVAILABLE', 503: 'UNAVAILABLE',
             504: 'DEADLINE_EXCEEDED'}
    name = names.get(status, 'UNKNOWN')
    reason = 'PERMISSION_DENIED' if status == 403 else 'INTERNAL_ERROR'
    return error(req, status, name, 'Mock injected status %d.' % status, reason=reason)


def token_of(req):
    return req.bearer()


def keys_of(req):
    """transactionIds of a request (faults, records)."""
    if req.endpoint != 'events:ingest':
        return []
    try:
        body = req.json()
    except ValueError:
        return []
    events = body.get('events') if isinstance(body, dict) else None
    if not isinstance(events, list):
        return []
    return [e.get('transactionId') if isinstance(e, dict) else None for e in events]


def parse_ts(s):
    m = TS_RE.match(s) if type(s) is str else None
    if m is None:
        return None
    y, mo, d, h, mi, se = (int(m.group(i)) for i in range(1, 7))
    try:
        t = calendar.timegm((y, mo, d, h, mi, se, 0, 0, 0))
        import datetime
        datetime.datetime(y, mo, d, h, mi, se)
    except ValueError:
        return None
    z = m.group(8)
    if z != 'Z':
        off = (int(z[1:3]) * 60 + int(z[4:6])) * 60
        t -= off if z[0] == '+' else -off
    return t


def check_account(obj, where, v):
    if not isinstance(obj, dict):
        v.append((where, 'must be an object', 'INVALID_FORMAT'))
        return
    for k in obj:
        if k not in ('accountType', 'accountId'):
            v.append(('%s.%s' % (where, snake(k)), 'Unknown field.', 'INVALID_FORMAT'))
    if obj.get('accountType') not in ACCOUNT_TYPES:
        v.append((where + '.account_type', 'Invalid value for the enum AccountType.', 'INVALID_ENUM_VALUE'))
    aid = obj.get('accountId')
    if type(aid) is not str or DIGITS.match(aid) is None:
        v.append((where + '.account_id', 'The account id must be digits only.', 'INVALID_FORMAT'))


def check_consent(c, where, v):
    if not isinstance(c, dict):
        v.append((where, 'must be an object', 'INVALID_FORMAT'))
        return
    for k, val in c.items():
        if k not in ('adUserData', 'adPersonalization'):
            v.append(('%s.%s' % (where, snake(k)), 'Unknown field.', 'INVALID_FORMAT'))
        elif val not in CONSENT:
            v.append(('%s.%s' % (where, snake(k)), 'Invalid value for the enum ConsentStatus (%s).' % val,
                      'INVALID_ENUM_VALUE'))


def check_hash(val, encoding, where, v):
    if encoding == 'HEX':
        if type(val) is not str or not re.fullmatch(r'[0-9a-fA-F]*', val):
            v.append((where, 'The value is not hex encoded.', 'INVALID_HEX_ENCODING'))
        elif not is_hex64(val.lower()):
            v.append((where, 'The value is not a SHA-256 hash.', 'INVALID_SHA256_FORMAT'))
    elif encoding == 'BASE64':
        if type(val) is not str or B64_RE.match(val) is None:
            v.append((where, 'The value is not a base64 SHA-256 hash.', 'INVALID_BASE64_ENCODING'))


def check_event(i, e, refs, encoding, v, now, cfg):
    w = 'events[%d]' % i
    if not isinstance(e, dict):
        v.append((w, 'must be an object', 'INVALID_FORMAT'))
        return None
    for k in e:
        if k not in EVENT_KEYS:
            v.append(('%s.%s' % (w, snake(k)), 'Unknown field.', 'INVALID_FORMAT'))
    dr = e.get('destinationReferences', [])
    if not isinstance(dr, list) or any(type(x) is not str for x in dr):
        v.append((w + '.destination_references', 'must be a list of strings', 'INVALID_FORMAT'))
        dr = []
    for x in dr:
        if x not in refs:
            v.append((w + '.destination_references', 'No destination has the reference %s.' % x,
                      'INVALID_DESTINATION'))
    tid = e.get('transactionId')
    if tid is not None:
        if type(tid) is not str or not tid:
            v.append((w + '.transaction_id', 'must be a non-empty string', 'INVALID_FORMAT'))
        elif tid.isdigit():
            # J1: a purely numeric transaction id fails the request
            v.append((w + '.transaction_id', 'The transaction id is not valid.', 'INVALID_FORMAT'))
    ts = parse_ts(e.get('eventTimestamp'))
    if 'eventTimestamp' not in e:
        v.append((w + '.event_timestamp', 'The event timestamp is required.', 'REQUIRED_FIELD_MISSING'))
    elif ts is None:
        v.append((w + '.event_timestamp', 'The event timestamp is not an RFC 3339 time.', 'INVALID_FORMAT'))
    elif ts > now + 300:
        v.append((w + '.event_timestamp', 'The event timestamp is in the future.', 'EVENT_TIME_INVALID'))
    ad = e.get('adIdentifiers')
    clicks = []
    if ad is not None:
        if not isinstance(ad, dict):
            v.append((w + '.ad_identifiers', 'must be an object', 'INVALID_FORMAT'))
        else:
            for k in ad:
                if k not in AD_ID_KEYS:
                    v.append(('%s.ad_identifiers.%s' % (w, snake(k)), 'Unknown field.', 'INVALID_FORMAT'))
            for k in ('gclid', 'gbraid', 'wbraid'):
                if k in ad:
                    if type(ad[k]) is not str or CLICK_RE.match(ad[k]) is None:
                        v.append(('%s.ad_identifiers.%s' % (w, k), 'The click id is not valid.', 'INVALID_FORMAT'))
                    clicks.append(ad[k])
            if len(clicks) > 1:
                v.append((w + '.ad_identifiers', 'Set one click id only.', 'INVALID_FORMAT'))
    ud = e.get('userData')
    nids = 0
    if ud is not None:
        if not isinstance(ud, dict) or set(ud) - {'userIdentifiers'}:
            v.append((w + '.user_data', 'must be an object with userIdentifiers', 'INVALID_FORMAT'))
        else:
            ids = ud.get('userIdentifiers')
            if not isinstance(ids, list):
                v.append((w + '.user_data.user_identifiers', 'must be a list', 'INVALID_FORMAT'))
                ids = []
            if len(ids) > 10:
                v.append((w + '.user_data.user_identifiers', 'At most 10 user identifiers.',
                          'TOO_MANY_USER_IDENTIFIERS'))
            if ids and encoding is None:
                v.append(('encoding', 'The encoding is required when user data is sent.',
                          'REQUIRED_FIELD_MISSING'))
            for j, uid in enumerate(ids):
                p = '%s.user_data.user_identifiers[%d]' % (w, j)
                if not isinstance(uid, dict) or len(uid) != 1 or \
                        next(iter(uid)) not in ('emailAddress', 'phoneNumber', 'address'):
                    v.append((p, 'Set exactly one of email_address, phone_number, address.', 'INVALID_FORMAT'))
                    continue
                k, val = next(iter(uid.items()))
                if k != 'address':
                    check_hash(val, encoding, '%s.%s' % (p, snake(k)), v)
                nids += 1
    if not clicks and nids == 0:
        v.append((w, 'The event has neither ad identifiers nor user identifiers.', 'NO_IDENTIFIERS_PROVIDED'))
    if 'consent' in e:
        check_consent(e['consent'], w + '.consent', v)
    if 'currency' in e and not is_currency(e['currency']):
        v.append((w + '.currency', 'The currency code is not valid.', 'INVALID_CURRENCY_CODE'))
    if 'conversionValue' in e and not is_num(e['conversionValue']):
        v.append((w + '.conversion_value', 'must be a number', 'INVALID_FORMAT'))
    if 'eventSource' in e and e['eventSource'] not in EVENT_SOURCES:
        v.append((w + '.event_source', 'Invalid value for the enum EventSource.', 'INVALID_ENUM_VALUE'))
    return {'transactionId': tid, 'refs': dr, 'click': clicks[0] if clicks else None,
            'value': e.get('conversionValue'), 'currency': e.get('currency'), 'ts': ts}


def handle(req):
    st = req.state
    token = req.bearer()
    if req.header('Authorization') is None or token is None:
        return auth_error(req, 'missing')
    ts = st.token_state('google', token)
    if ts != 'valid':
        return auth_error(req, ts)
    if req.endpoint == 'requestStatus':
        return status(req)
    for h in ('developer-token', 'login-customer-id'):
        if req.header(h) is not None:
            return error(req, 400, 'INVALID_ARGUMENT',
                         'The %s header is not used by the Data Manager API; the login account goes in '
                         'destinations[].loginAccount.' % h, [(h, 'Unexpected header.', 'INVALID_FORMAT')],
                         'INVALID_FORMAT')
    if req.content_type() != 'application/json':
        return error(req, 400, 'INVALID_ARGUMENT', 'Content-Type must be application/json.')
    try:
        body = req.json()
    except ValueError:
        return error(req, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.')
    if type(body) is not dict:
        return error(req, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Expected an object.')
    return ingest(req, body)


def ingest(req, body):
    st = req.state
    v = []
    for k in body:
        if k not in TOP_KEYS:
            v.append((snake(k), 'Unknown field.', 'INVALID_FORMAT'))
    encoding = body.get('encoding')
    if encoding is not None and encoding not in ('HEX', 'BASE64'):
        v.append(('encoding', 'Invalid value for the enum Encoding.', 'INVALID_ENUM_VALUE'))
        encoding = None
    dests = body.get('destinations')
    refs = {}
    if not isinstance(dests, list) or not dests:
        v.append(('destinations', 'At least one destination is required.', 'REQUIRED_FIELD_MISSING'))
        dests = []
    if len(dests) > 10:
        v.append(('destinations', 'At most 10 destinations.', 'TOO_MANY_DESTINATIONS'))
    for i, d in enumerate(dests):
        w = 'destinations[%d]' % i
        if not isinstance(d, dict):
            v.append((w, 'must be an object', 'INVALID_FORMAT'))
            continue
        for k in d:
            if k not in DEST_KEYS:
                v.append(('%s.%s' % (w, snake(k)), 'Unknown field.', 'INVALID_FORMAT'))
        if 'operatingAccount' not in d:
            v.append((w + '.operating_account', 'The operating account is required.', 'REQUIRED_FIELD_MISSING'))
        else:
            check_account(d['operatingAccount'], w + '.operating_account', v)
        for k in ('loginAccount', 'linkedAccount'):
            if k in d:
                check_account(d[k], '%s.%s' % (w, snake(k)), v)
        pid = d.get('productDestinationId')
        if type(pid) is not str or DIGITS.match(pid) is None:
            v.append((w + '.product_destination_id', 'The conversion action id must be digits.',
                      'INVALID_CONVERSION_ACTION_ID'))
        ref = d.get('reference')
        if ref is not None:
            if ref in refs:
                v.append((w + '.reference', 'Duplicate destination reference.', 'DUPLICATE_DESTINATION_REFERENCE'))
            refs[ref] = d
    if 'consent' in body:
        check_consent(body['consent'], 'consent', v)
    events = body.get('events')
    if not isinstance(events, list) or not events:
        v.append(('events', 'At least one event is required.', 'REQUIRED_FIELD_MISSING'))
        events = []
    if len(events) > st.config.get('dm_max_events', MAX_EVENTS):
        v.append(('events', 'At most %d events per request.' % MAX_EVENTS, 'TOO_MANY_EVENTS'))
    now = st.now()
    parsed = [check_event(i, e, refs, encoding, v, now, st.config) for i, e in enumerate(events)]
    keys = [p['transactionId'] if p else None for p in parsed]
    partial = st.faults.take_partial('google_dm', 'events:ingest', req.path, keys)
    if partial:
        for i, rule in sorted(partial.items()):
            v.append(('events[%d].transaction_id' % i, rule.get('message') or 'Rejected by the mock.',
                      rule.get('error') or 'INVALID_EVENT'))
    if v:
        r = error(req, 400, 'INVALID_ARGUMENT', 'There was a problem with the request.', v, v[0][2])
        r.received = keys
        return r
    rid = request_id(req)
    r = Reply(200, {'requestId': rid}, headers={'request-id': rid})
    r.received = keys
    if body.get('validateOnly') is True:
        return r
    accepted = []
    fail = st.faults.take_partial('google_dm', 'processing', req.path, keys) or {}
    with st.lock:
        book = st.platform_data.setdefault('google_dm', {'requests': {}, 'conversions': {}})
        order = [d.get('reference') or d.get('productDestinationId') for d in dests]
        per_dest = {ref: {'count': 0, 'errors': {}} for ref in order}
        for i, p in enumerate(parsed):
            targets = p['refs'] or order
            kind = 'conversion'
            for ref in targets:
                action = refs[ref].get('productDestinationId') if ref in refs else ref
                key = '%s|%s' % (action, p['transactionId'])
                if p['transactionId'] is not None and key in book['conversions']:
                    kind = 'adjustment'
                per_dest[ref]['count'] += 1
                if i in fail:
                    reason = fail[i].get('error') or 'PROCESSING_ERROR_REASON_CLICK_NOT_FOUND'
                    per_dest[ref]['errors'][reason] = per_dest[ref]['errors'].get(reason, 0) + 1
                    continue
                book['conversions'][key] = {'value': p['value'], 'currency': p['currency'], 'request': rid}
            if i not in fail:
                accepted.append((p['transactionId'], i, kind))
        book['requests'][rid] = {'at': now, 'destinations': [refs.get(ref, {'reference': ref}) for ref in order],
                                 'per_dest': [per_dest[ref] for ref in order]}
    r.accepted = accepted
    return r


def status(req):
    st = req.state
    rid = req.query.get('requestId')
    with st.lock:
        book = st.platform_data.get('google_dm', {'requests': {}})
        rec = book['requests'].get(rid)
    if rec is None:
        return error(req, 400, 'INVALID_ARGUMENT', 'The request id is not valid.',
                     [('request_id', 'No request with this id.', 'INVALID_REQUEST_ID')], 'INVALID_REQUEST_ID')
    done = st.now() >= rec['at'] + float(st.config.get(STATUS_DELAY_KEY, 0))
    out = []
    for dest, pd in zip(rec['destinations'], rec['per_dest']):
        one = {'destination': dest}
        if not done:
            one['requestStatus'] = 'PROCESSING'
        else:
            failed = sum(pd['errors'].values())
            if failed == 0:
                one['requestStatus'] = 'SUCCESS'
            elif failed >= pd['count']:
                one['requestStatus'] = 'FAILED'
            else:
                one['requestStatus'] = 'PARTIAL_SUCCESS'
            if failed:
                one['errorInfo'] = {'errorCounts': [{'recordCount': str(n), 'reason': reason}
                                                    for reason, n in sorted(pd['errors'].items())]}
            one['eventsIngestionStatus'] = {'recordCount': str(pd['count'])}
        out.append(one)
    return Reply(200, {'requestStatusPerDestination': out}, headers={'request-id': request_id(req)})
