"""Routing of platform requests to their modules.

Every platform path may also be reached under a platform prefix (/google,
/meta, /tiktok, /linkedin): a destination whose base URL is
https://127.0.0.1:PORT/meta reaches /meta/v25.0/{pixel}/events."""

from . import google, google_dm, linkedin, meta, oauth, tiktok, webhook

MODULES = {
    'google': google,
    'google_dm': google_dm,
    'meta': meta,
    'tiktok': tiktok,
    'linkedin': linkedin,
    'webhook': webhook,
    'oauth': oauth,
}

_ROUTES = [
    ('POST', google.ROUTE, 'google', lambda m: m.group(3)),
    ('POST', google_dm.ROUTE_INGEST, 'google_dm', lambda m: 'events:ingest'),
    ('GET', google_dm.ROUTE_STATUS, 'google_dm', lambda m: 'requestStatus'),
    ('POST', meta.ROUTE, 'meta', lambda m: 'events'),
    ('POST', tiktok.ROUTE, 'tiktok', lambda m: 'event_track'),
    ('POST', linkedin.ROUTE, 'linkedin', lambda m: 'conversionEvents'),
    ('POST', webhook.ROUTE, 'webhook', lambda m: 'webhook/' + m.group(1)),
] + [(method, rx, 'oauth', (lambda name: lambda m: name)(name)) for method, rx, name in oauth.ROUTES]

PREFIXES = ('/google/', '/datamanager/', '/meta/', '/tiktok/', '/linkedin/')


def _match(method, path):
    wrong_method = False
    for meth, rx, platform, endpoint in _ROUTES:
        m = rx.match(path)
        if m is None:
            continue
        if meth != method:
            wrong_method = True
            continue
        return platform, endpoint(m), MODULES[platform], m
    return 'method' if wrong_method else None


def route(method, path):
    """(platform, endpoint, module, match), 'method' when only the method is
    wrong, or None."""
    r = _match(method, path)
    if r is None:
        for p in PREFIXES:
            if path.startswith(p):
                return _match(method, path[len(p) - 1:])
    return r


def rows_of(platform, endpoint, body):
    """The list of events/rows of a decoded request body, for /_mock/accepted."""
    if not isinstance(body, dict):
        return None
    if platform == 'google':
        return body.get('conversions') if endpoint == 'uploadClickConversions' else body.get('conversionAdjustments')
    if platform == 'google_dm':
        return body.get('events') if endpoint == 'events:ingest' else None
    if platform in ('meta', 'tiktok'):
        d = body.get('data')
        return d if isinstance(d, list) else None
    if platform == 'linkedin':
        return body['elements'] if 'elements' in body else [body]
    if platform == 'webhook':
        return body['events'] if 'events' in body else [body]
    return None
