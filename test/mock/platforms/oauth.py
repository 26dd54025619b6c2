"""OAuth token endpoints (API-CONTRACTS.md F).  Access tokens they issue
become valid for the platform's conversion endpoint, with the platform's
lifetime on the mock clock.  Refresh tokens are accepted under the token
policy unless marked expired or revoked (POST /_mock/tokens with
"kind":"refresh"); the first use of one starts its lifetime (Google none,
TikTok and LinkedIn 365 days, never extended by a refresh)."""

import re
import secrets

from .common import Reply, is_str

NAME = 'oauth'
ROUTES = [
    ('POST', re.compile(r'/token\Z'), 'google_token'),
    ('POST', re.compile(r'/open_api/v1\.3/tt_user/oauth2/refresh_token/\Z'), 'tiktok_refresh'),
    ('POST', re.compile(r'/open_api/v1\.3/oauth2/refresh_token/\Z'), 'tiktok_refresh'),
    ('POST', re.compile(r'/open_api/v1\.3/oauth2/access_token/\Z'), 'tiktok_access'),
    ('POST', re.compile(r'/open_api/v1\.3/oauth2/revoke_token/\Z'), 'tiktok_revoke'),
    ('POST', re.compile(r'/oauth/v2/accessToken\Z'), 'linkedin_token'),
    ('GET', re.compile(r'/v([0-9]+)\.0/oauth/access_token\Z'), 'meta_exchange'),
    ('GET', re.compile(r'/(?:v([0-9]+)\.0/)?debug_token\Z'), 'meta_debug'),
]

GOOGLE_SCOPE = 'https://www.googleapis.com/auth/adwords'
GOOGLE_TTL = 3599
TIKTOK_TTL = 86400
LINKEDIN_TTL = 5184000
META_TTL = 5183944
YEAR = 365 * 86400


def new_token(prefix):
    return prefix + secrets.token_urlsafe(24)


def client_ok(st, platform, client_id, client_secret):
    if not client_id or not client_secret:
        return False
    c = (st.config.get('oauth_clients') or {}).get(platform)
    if not c:
        return True
    return c.get('client_id') == client_id and c.get('client_secret') == client_secret


def token_of(req):
    return None


def keys_of(req):
    return []


def auth_error(req, kind):
    return Reply(401, {'error': 'invalid_client', 'error_description': 'Mock: client rejected.'})


def rate_limited(req, retry_after):
    if req.endpoint.startswith('tiktok'):
        return Reply(200, {'code': 40100, 'message': 'Too many requests. Please retry in some time.',
                           'request_id': 'mock-%d' % req.seq, 'data': {}})
    return Reply(429, {'error': 'rate_limit_exceeded', 'error_description': 'Too many requests.'})


def server_error(req, status):
    return Reply(status, {'error': 'temporarily_unavailable' if status >= 500 else 'server_error',
                          'error_description': 'Mock injected status %d.' % status})


def form_or_error(req):
    if req.content_type() != 'application/x-www-form-urlencoded':
        return None, Reply(400, {'error': 'invalid_request',
                                 'error_description': 'Content-Type must be application/x-www-form-urlencoded.'})
    try:
        return req.form(), None
    except (ValueError, UnicodeDecodeError):
        return None, Reply(400, {'error': 'invalid_request', 'error_description': 'Malformed form body.'})


def refresh_state(st, platform, token, ttl):
    """Checks a refresh token, registering one seen for the first time; returns
    (state, seconds left or None)."""
    s = st.token_state(platform, token, kind='refresh')
    if s != 'valid':
        return s, None
    rec = st.token_record(platform, token, kind='refresh')
    if rec is None:
        rec = st.set_token(platform, token, 'valid', kind='refresh', expires_in=ttl)
    exp = rec.get('expires_at')
    return 'valid', (None if exp is None else max(0, int(round(exp - st.now()))))


def handle(req):
    return HANDLERS[req.endpoint](req)


def google_token(req):
    st = req.state
    form, err = form_or_error(req)
    if err:
        return err
    grant = form.get('grant_type')
    if grant not in ('refresh_token', 'authorization_code'):
        return Reply(400, {'error': 'unsupported_grant_type', 'error_description': 'Invalid grant_type: %s' % grant})
    if not client_ok(st, 'google', form.get('client_id'), form.get('client_secret')):
        return Reply(401, {'error': 'invalid_client', 'error_description': 'The OAuth client was not found.'})
    out = {}
    if grant == 'refresh_token':
        rt = form.get('refresh_token')
        if not rt:
            return Reply(400, {'error': 'invalid_request', 'error_description': 'Missing required parameter: refresh_token'})
        s, _ = refresh_state(st, 'google', rt, None)
        if s != 'valid':
            return Reply(400, {'error': 'invalid_grant', 'error_description': 'Token has been expired or revoked.'})
    else:
        code = form.get('code')
        if not code:
            return Reply(400, {'error': 'invalid_request', 'error_description': 'Missing required parameter: code'})
        if not st_use_code(st, 'google', code):
            return Reply(400, {'error': 'invalid_grant', 'error_description': 'Malformed auth code.'})
        rt = new_token('1//mock-')
        st.set_token('google', rt, 'valid', kind='refresh')
        out['refresh_token'] = rt
    at = new_token('ya29.mock-')
    st.set_token('google', at, 'valid', expires_in=GOOGLE_TTL)
    out.update({'access_token': at, 'expires_in': GOOGLE_TTL, 'scope': GOOGLE_SCOPE, 'token_type': 'Bearer'})
    return Reply(200, out)


def st_use_code(st, platform, code):
    """Authorization codes are single use."""
    with st.lock:
        if (platform, code) in st.auth_codes_used:
            return False
        st.auth_codes_used.add((platform, code))
    return True


def linkedin_token(req):
    st = req.state
    form, err = form_or_error(req)
    if err:
        return err
    grant = form.get('grant_type')
    if grant not in ('refresh_token', 'authorization_code'):
        return Reply(400, {'error': 'unsupported_grant_type', 'error_description': 'grant_type is not supported'})
    if not client_ok(st, 'linkedin', form.get('client_id'), form.get('client_secret')):
        return Reply(401, {'error': 'invalid_client', 'error_description': 'Client authentication failed'})
    if grant == 'refresh_token':
        rt = form.get('refresh_token')
        if not rt:
            return Reply(400, {'error': 'invalid_request',
                               'error_description': 'A required parameter "refresh_token" is missing'})
        s, left = refresh_state(st, 'linkedin', rt, YEAR)
        if s != 'valid':
            return Reply(400, {'error': 'invalid_grant', 'error_description':
                               'The provided authorization grant or refresh token is invalid, expired or revoked.'})
    else:
        code = form.get('code')
        if not code or not st_use_code(st, 'linkedin', code):
            return Reply(400, {'error': 'invalid_grant', 'error_description': 'The authorization code is invalid.'})
        rt = new_token('AQmock')
        st.set_token('linkedin', rt, 'valid', kind='refresh', expires_in=YEAR)
        left = YEAR
    at = new_token('AQVmock')
    st.set_token('linkedin', at, 'valid', expires_in=LINKEDIN_TTL)
    return Reply(200, {'access_token': at, 'expires_in': LINKEDIN_TTL, 'refresh_token': rt,
                       'refresh_token_expires_in': left, 'scope': 'r_ads,rw_conversions'})


def tt_envelope(req, code, message, data=None):
    return Reply(200, {'code': code, 'message': message, 'request_id': 'mock-%d' % req.seq,
                       'data': data if data is not None else {}})


def tt_body(req):
    if req.content_type() != 'application/json':
        return None, tt_envelope(req, 40002, 'Content-Type must be application/json.')
    try:
        body = req.json()
    except ValueError:
        return None, tt_envelope(req, 40002, 'Request body is not valid JSON.')
    if type(body) is not dict:
        return None, tt_envelope(req, 40002, 'Request body must be a JSON object.')
    return body, None


def tiktok_refresh(req):
    st = req.state
    body, err = tt_body(req)
    if err:
        return err
    cid = body.get('client_id') or body.get('app_id')
    csec = body.get('client_secret') or body.get('secret')
    if not client_ok(st, 'tiktok', cid, csec):
        return tt_envelope(req, 40001, 'The app id or secret is invalid.')
    if body.get('grant_type') != 'refresh_token':
        return tt_envelope(req, 40002, 'grant_type: Must be refresh_token.')
    rt = body.get('refresh_token')
    if not is_str(rt) or not rt:
        return tt_envelope(req, 40002, 'refresh_token: Missing data for required field.')
    s, left = refresh_state(st, 'tiktok', rt, YEAR)
    if s == 'expired':
        return tt_envelope(req, 40103, 'Refresh token has expired.')
    if s != 'valid':
        return tt_envelope(req, 40107, 'Refresh token is invalid.')
    at = new_token('tt-mock-')
    st.set_token('tiktok', at, 'valid', expires_in=TIKTOK_TTL)
    return tt_envelope(req, 0, 'OK', {'access_token': at, 'token_type': 'Bearer', 'expires_in': TIKTOK_TTL,
                                      'refresh_token': rt, 'refresh_token_expires_in': left,
                                      'scope': 'user.info.basic', 'open_id': 'mock-open-id'})


def tiktok_access(req):
    st = req.state
    body, err = tt_body(req)
    if err:
        return err
    if not client_ok(st, 'tiktok', body.get('app_id'), body.get('secret')):
        return tt_envelope(req, 40001, 'The app id or secret is invalid.')
    code = body.get('auth_code')
    if not is_str(code) or not code:
        return tt_envelope(req, 40002, 'auth_code: Missing data for required field.')
    if not st_use_code(st, 'tiktok', code):
        return tt_envelope(req, 40002, 'auth_code is invalid or has already been used.')
    at = new_token('tt-mock-')
    rt = new_token('tt-refresh-mock-')
    st.set_token('tiktok', at, 'valid', expires_in=TIKTOK_TTL)
    st.set_token('tiktok', rt, 'valid', kind='refresh', expires_in=YEAR)
    return tt_envelope(req, 0, 'OK', {'access_token': at, 'advertiser_ids': ['7000000000000000001'],
                                      'scope': [4, 5], 'token_type': 'Bearer', 'expires_in': TIKTOK_TTL,
                                      'refresh_token': rt, 'refresh_token_expires_in': YEAR})


def tiktok_revoke(req):
    st = req.state
    body, err = tt_body(req)
    if err:
        return err
    if not client_ok(st, 'tiktok', body.get('app_id'), body.get('secret')):
        return tt_envelope(req, 40001, 'The app id or secret is invalid.')
    at = body.get('access_token')
    if not is_str(at) or not at:
        return tt_envelope(req, 40002, 'access_token: Missing data for required field.')
    st.set_token('tiktok', at, 'revoked')
    return tt_envelope(req, 0, 'OK')


def graph_error(req, code, message, subcode=None):
    e = {'message': message, 'type': 'OAuthException', 'code': code, 'fbtrace_id': 'AmockTrace%d' % req.seq}
    if subcode is not None:
        e['error_subcode'] = subcode
    return Reply(400, {'error': e})


def meta_exchange(req):
    st = req.state
    q = req.query
    if q.get('grant_type') != 'fb_exchange_token':
        return graph_error(req, 100, 'Invalid grant_type; use fb_exchange_token.')
    for k in ('client_id', 'client_secret', 'fb_exchange_token'):
        if not q.get(k):
            return graph_error(req, 100, 'Missing parameter: %s' % k)
    if not client_ok(st, 'meta', q['client_id'], q['client_secret']):
        return graph_error(req, 101, 'Error validating application. Invalid application ID.')
    s = st.token_state('meta', q['fb_exchange_token'])
    if s == 'expired':
        return graph_error(req, 190, 'Error validating access token: Session has expired.', 463)
    if s != 'valid':
        return graph_error(req, 190, 'Error validating access token: The session has been invalidated.', 460)
    at = new_token('EAAmock')
    st.set_token('meta', at, 'valid', expires_in=META_TTL)
    return Reply(200, {'access_token': at, 'token_type': 'bearer', 'expires_in': META_TTL})


def meta_debug(req):
    st = req.state
    q = req.query
    if not q.get('access_token'):
        return graph_error(req, 104, 'An access token is required to request this resource.')
    tok = q.get('input_token')
    if not tok:
        return graph_error(req, 100, 'Missing parameter: input_token')
    s = st.token_state('meta', tok)
    rec = st.token_record('meta', tok) or {}
    issued = int(rec.get('issued_at') or st.now())
    exp = rec.get('expires_at')
    data = {'app_id': '1000000000000001', 'type': 'USER' if exp is not None else 'SYSTEM_USER',
            'application': 'pg_attribution mock', 'data_access_expires_at': issued + 90 * 86400,
            'expires_at': int(exp) if exp is not None else 0, 'is_valid': s == 'valid',
            'issued_at': issued, 'scopes': ['ads_management', 'business_management'],
            'user_id': '10000000000000001'}
    if s != 'valid':
        data['error'] = {'code': 190, 'message': 'Error validating access token: token is %s.' % s,
                         'subcode': 463 if s == 'expired' else 460}
    return Reply(200, {'data': data})


HANDLERS = {
    'google_token': google_token,
    'tiktok_refresh': tiktok_refresh,
    'tiktok_access': tiktok_access,
    'tiktok_revoke': tiktok_revoke,
    'linkedin_token': linkedin_token,
    'meta_exchange': meta_exchange,
    'meta_debug': meta_debug,
}
