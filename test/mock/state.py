"""Shared state of the mock: clock, settings, tokens, what was received and
accepted, and the per-platform memory (Google conversions for adjustments).

Everything here is guarded by one lock; request handlers validate outside it
and only take it to record or to check-and-set de-duplication state."""

import hashlib
import json
import os
import threading
import time

from faults import Faults

PLATFORMS = ('google', 'google_dm', 'meta', 'tiktok', 'linkedin', 'webhook', 'oauth')

# Settings a test may change with POST /_mock/config (documented in README.md).
DEFAULT_CONFIG = {
    # Token policy for platform endpoints: 'any' accepts every non-empty token
    # not marked expired/revoked; 'prefix' also requires token_prefix;
    # 'registered' accepts only tokens issued by the OAuth endpoints or set
    # valid through POST /_mock/tokens.
    'token_policy': 'any',
    'token_prefix': '',
    # Seconds sent in Retry-After (and Google's retryDelay) by 429 faults.
    'retry_after_s': 30,
    # Seconds a 'timeout' fault holds the request before closing.
    'timeout_s': 60,
    'google_min_version': 21,
    'google_max_batch': 2000,
    # Adjustments for an orderId the mock never accepted fail with
    # CONVERSION_NOT_FOUND; false accepts them.
    'google_require_conversion': True,
    'google_adjustment_max_age_days': 54,
    'meta_max_batch': 1000,
    'meta_max_age_days': 7,
    'meta_physical_store_max_age_days': 62,
    # external_id must be 64 lowercase hex (the extension always hashes it).
    'meta_external_id_hashed': True,
    'tiktok_max_batch': 1000,
    # Events older than this fail row by row (code 20001); 0 disables.
    'tiktok_max_age_days': 28,
    # Data Manager: seconds (mock clock) an accepted request stays PROCESSING.
    'dm_status_delay_s': 0,
    'dm_max_events': 2000,
    'linkedin_max_batch': 5000,
    'linkedin_max_age_days': 90,
    # Versions older than this many months are sunset (426).
    'linkedin_version_months': 12,
    # Explicit list of accepted LinkedIn-Version values; null = by age.
    'linkedin_versions': None,
    'webhook_max_batch': 1000,
    # Keep request bodies for GET /_mock/requests and /_mock/accepted events.
    'record_bodies': True,
    # Request records kept (oldest dropped first); counts and acceptances
    # are never dropped.
    'max_records': 50000,
    # OAuth clients: {"google": {"client_id": "...", "client_secret": "..."}};
    # a platform not listed accepts any non-empty client id and secret.
    'oauth_clients': {},
}


def token_fingerprint(token):
    """First 12 hex digits of SHA-256: lets tests tell tokens apart without
    the token itself being echoed by the control API."""
    if not token:
        return None
    return hashlib.sha256(token.encode('utf-8', 'replace')).hexdigest()[:12]


class State:
    def __init__(self, state_file=None):
        self.lock = threading.Lock()
        self.stop = threading.Event()        # set on shutdown: frees sleeping faults
        self.state_file = state_file
        self.started = time.time()
        self.clock_fixed = None
        self.clock_offset = 0.0
        self.config = json.loads(json.dumps(DEFAULT_CONFIG))
        self.webhook_secrets = {}
        self.faults = Faults(self)
        self.reset()
        if state_file and os.path.exists(state_file):
            self.load(state_file)

    # ----- clock -------------------------------------------------------------
    def now(self):
        if self.clock_fixed is not None:
            return self.clock_fixed + (time.time() - self.clock_set_at)
        return time.time() + self.clock_offset

    def set_clock(self, spec):
        with self.lock:
            if spec.get('real'):
                self.clock_fixed = None
                self.clock_offset = 0.0
            elif 'now' in spec:
                # The clock starts at 'now' and runs on from there.
                self.clock_fixed = float(spec['now'])
                self.clock_set_at = time.time()
            elif 'offset' in spec:
                self.clock_fixed = None
                self.clock_offset = float(spec['offset'])
            elif 'advance' in spec:
                if self.clock_fixed is not None:
                    self.clock_fixed += float(spec['advance'])
                else:
                    self.clock_offset += float(spec['advance'])
        return {'now': self.now()}

    # ----- reset, persistence ------------------------------------------------
    def reset(self, everything=False):
        """Forgets requests, acceptances, faults, tokens and platform memory.
        Settings, clock and webhook secrets stay unless everything is true."""
        with self.lock:
            self.seq = 0
            self.requests = []
            self.by_seq = {}
            self.dropped_records = 0
            self.connections = 0
            self.accepted = {p: [] for p in PLATFORMS}
            self.accepted_counts = {p: {} for p in PLATFORMS}
            self.received_counts = {p: {} for p in PLATFORMS}
            self.stats = {}
            self.tokens = {}                 # (platform, kind, token) -> record
            self.auth_codes_used = set()
            self.google_orders = {}          # (action_id, orderId) -> record
            self.google_clicks = {}          # (action_id, click, datetime) -> record
            self.job_id = 2147483649
            self.platform_data = {}          # module -> its own memory (JSON)
            self.faults.clear()
            if everything:
                self.config = json.loads(json.dumps(DEFAULT_CONFIG))
                self.webhook_secrets = {}
                self.clock_fixed = None
                self.clock_offset = 0.0

    def snapshot(self):
        with self.lock:
            return {
                'accepted': self.accepted,
                'accepted_counts': self.accepted_counts,
                'received_counts': self.received_counts,
                'tokens': [[k[0], k[1], k[2], v] for k, v in self.tokens.items()],
                'google_orders': [[k[0], k[1], v] for k, v in self.google_orders.items()],
                'google_clicks': [[k[0], k[1], k[2], v] for k, v in self.google_clicks.items()],
                'config': self.config,
                'webhook_secrets': self.webhook_secrets,
                # Sequence numbers go on from here after a restart, so that
                # acceptances never point at a later request's number.
                'seq': self.seq,
                'job_id': self.job_id,
                'platform_data': self.platform_data,
            }

    def save(self, path=None):
        path = path or self.state_file
        if not path:
            return None
        data = self.snapshot()
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(data, f)
        os.replace(tmp, path)
        return path

    def load(self, path):
        with open(path) as f:
            data = json.load(f)
        with self.lock:
            for p in PLATFORMS:
                self.accepted[p] = [tuple(x) for x in data.get('accepted', {}).get(p, [])]
                self.accepted_counts[p] = data.get('accepted_counts', {}).get(p, {})
                self.received_counts[p] = data.get('received_counts', {}).get(p, {})
            self.tokens = {(a, b, c): v for a, b, c, v in data.get('tokens', [])}
            self.google_orders = {(a, b): v for a, b, v in data.get('google_orders', [])}
            self.google_clicks = {(a, b, c): v for a, b, c, v in data.get('google_clicks', [])}
            self.platform_data = data.get('platform_data', {})
            self.config.update(data.get('config', {}))
            self.webhook_secrets.update(data.get('webhook_secrets', {}))
            self.seq = max(self.seq, int(data.get('seq', 0)))
            self.job_id = max(self.job_id, int(data.get('job_id', 0)))

    # ----- tokens ------------------------------------------------------------
    def set_token(self, platform, token, state, kind='access', expires_in=None):
        rec = {'state': state, 'issued_at': self.now()}
        if expires_in is not None:
            rec['expires_at'] = self.now() + float(expires_in)
        with self.lock:
            old = self.tokens.get((platform, kind, token))
            if old and 'first_issued_at' in old:
                rec['first_issued_at'] = old['first_issued_at']
            self.tokens[(platform, kind, token)] = rec
        return rec

    def token_record(self, platform, token, kind='access'):
        with self.lock:
            return self.tokens.get((platform, kind, token))

    def token_state(self, platform, token, kind='access'):
        """'valid', 'missing', 'invalid', 'expired' or 'revoked'."""
        if not token:
            return 'missing'
        rec = self.tokens.get((platform, kind, token))
        if rec is not None:
            if rec['state'] != 'valid':
                return rec['state']
            exp = rec.get('expires_at')
            if exp is not None and self.now() >= exp:
                return 'expired'
            return 'valid'
        if kind == 'refresh':
            # Refresh tokens are valid until marked otherwise, whatever the
            # policy for access tokens.
            return 'valid'
        policy = self.config.get('token_policy', 'any')
        if policy == 'registered':
            return 'invalid'
        if policy == 'prefix' and not token.startswith(self.config.get('token_prefix') or ''):
            return 'invalid'
        return 'valid'

    def tokens_list(self):
        with self.lock:
            out = []
            for (p, kind, tok), rec in self.tokens.items():
                r = dict(rec)
                r.update({'platform': p, 'kind': kind, 'token': tok,
                          'fingerprint': token_fingerprint(tok)})
                out.append(r)
            return out

    # ----- recording ---------------------------------------------------------
    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def next_job_id(self):
        with self.lock:
            self.job_id += 1
            return self.job_id

    def new_connection(self):
        with self.lock:
            self.connections += 1
            return self.connections

    def record(self, rec, body, received, accepted):
        """Stores one request.  received: dedup keys present in the request;
        accepted: (key, index, kind) rows the mock accepted."""
        platform = rec['platform']
        with self.lock:
            if self.config.get('record_bodies', True):
                rec['_body'] = body
            self.requests.append(rec)
            self.by_seq[rec['seq']] = rec
            limit = self.config.get('max_records') or 0
            if limit > 0 and len(self.requests) > limit:
                # Drop a tenth at once so that trimming stays cheap.
                n = len(self.requests) - limit + limit // 10
                for old in self.requests[:n]:
                    self.by_seq.pop(old['seq'], None)
                del self.requests[:n]
                self.dropped_records += n
            st = self.stats.get(platform)
            if st is None:
                st = self.stats[platform] = {'requests': 0, 'by_status': {}, 'by_endpoint': {}, 'faults': {},
                                             'events_received': 0, 'events_accepted': 0}
            st['requests'] += 1
            ep = rec.get('endpoint') or rec['path']
            st['by_endpoint'][ep] = st['by_endpoint'].get(ep, 0) + 1
            code = str(rec['status']) if rec['status'] is not None else rec.get('fault') or 'none'
            st['by_status'][code] = st['by_status'].get(code, 0) + 1
            if rec.get('fault'):
                st['faults'][rec['fault']] = st['faults'].get(rec['fault'], 0) + 1
            if platform in self.received_counts:
                rc = self.received_counts[platform]
                for k in received:
                    if k is not None:
                        rc[k] = rc.get(k, 0) + 1
                st['events_received'] += len(received)
                if accepted:
                    ac = self.accepted_counts[platform]
                    lst = self.accepted[platform]
                    seq = rec['seq']
                    for key, index, kind in accepted:
                        lst.append((key, seq, index, kind))
                        if key is not None:
                            ac[key] = ac.get(key, 0) + 1
                    st['events_accepted'] += len(accepted)

    def request_by_seq(self, seq):
        with self.lock:
            return self.by_seq.get(seq)
