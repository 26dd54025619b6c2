"""Fault injection rules (POST /_mock/faults).

A rule matches requests by platform ('*' for all) and optionally by a
substring of the endpoint name or path ('match').  Rules are tried in the
order they were added; a rule with count N fires N times (count -1: until
removed).  Modes:

  status        answer HTTP 'status' (default 503) with the platform's error shape
  5xx           the same, status defaults to 503
  429           rate limit in the platform's shape, Retry-After: retry_after
  timeout       read the request, hold it 'seconds', close without answering
  drop          read the request, close the connection without answering
  slow          delay 'delay_ms' then answer normally (adds to other faults)
  partial       rows at 'indexes' (or rows whose dedup key is in 'keys') fail
                in the platform's row-level shape, with 'error'/'message'
  expire_token  the request's token becomes expired (persistently) and the
                request gets the platform's auth error
  revoke_token  the same with revoked
  random        one draw per request among rate_5xx, rate_429, rate_timeout,
                rate_drop (probabilities), seeded by 'seed'
"""

import random
import threading

MODES = ('status', '5xx', '429', 'rate_limit', 'timeout', 'drop', 'slow', 'partial',
         'expire_token', 'revoke_token', 'random')


class FaultError(ValueError):
    pass


class Faults:
    def __init__(self, state):
        self.state = state
        self.lock = threading.Lock()
        self.rules = []
        self.next_id = 1

    def clear(self):
        with self.lock:
            self.rules = []

    def add(self, spec):
        if not isinstance(spec, dict):
            raise FaultError('a fault rule is a JSON object')
        rule = dict(spec)
        if 'mode' not in rule:
            if any(k.startswith('rate_') for k in rule):
                rule['mode'] = 'random'
            else:
                raise FaultError('fault rule needs "mode" (one of %s)' % ', '.join(MODES))
        mode = rule['mode']
        if mode == 'rate_limit':
            mode = rule['mode'] = '429'
        if mode not in MODES:
            raise FaultError('unknown fault mode %r' % (mode,))
        rule.setdefault('platform', '*')
        if mode == 'random':
            rule.setdefault('count', -1)
            for k in ('rate_5xx', 'rate_429', 'rate_timeout', 'rate_drop'):
                v = rule.setdefault(k, 0.0)
                if not isinstance(v, (int, float)) or v < 0 or v > 1:
                    raise FaultError('%s must be a probability' % k)
            if rule['rate_5xx'] + rule['rate_429'] + rule['rate_timeout'] + rule['rate_drop'] > 1:
                raise FaultError('the rates add up to more than 1')
            rule['_rng'] = random.Random(rule.get('seed'))
            rule['drawn'] = {}
        else:
            rule.setdefault('count', 1)
        if mode in ('status', '5xx'):
            rule.setdefault('status', 503)
            if not isinstance(rule['status'], int) or not 100 <= rule['status'] <= 599:
                raise FaultError('status must be an HTTP status code')
        if mode == 'partial':
            idx = rule.get('indexes', [])
            keys = rule.get('keys', [])
            if not isinstance(idx, list) or not all(isinstance(i, int) for i in idx):
                raise FaultError('indexes must be a list of integers')
            if not isinstance(keys, list):
                raise FaultError('keys must be a list of strings')
            if not idx and not keys:
                raise FaultError('partial needs indexes or keys')
            rule['_indexes'] = set(idx)
            rule['_keys'] = set(str(k) for k in keys)
        if not isinstance(rule['count'], int):
            raise FaultError('count must be an integer (-1 for unlimited)')
        rule['fired'] = 0
        with self.lock:
            rule['id'] = self.next_id
            self.next_id += 1
            self.rules.append(rule)
        return self.public(rule)

    def remove(self, rule_id):
        with self.lock:
            n = len(self.rules)
            self.rules = [r for r in self.rules if r['id'] != rule_id]
            return n != len(self.rules)

    @staticmethod
    def public(rule):
        return {k: v for k, v in rule.items() if not k.startswith('_')}

    def list(self):
        with self.lock:
            return [self.public(r) for r in self.rules]

    @staticmethod
    def _matches(rule, platform, endpoint, path):
        if rule['count'] == 0:
            return False
        p = rule['platform']
        if p != '*' and p != platform:
            return False
        m = rule.get('match')
        if m and m not in endpoint and m not in path:
            return False
        return True

    @staticmethod
    def _fire(rule):
        rule['fired'] += 1
        if rule['count'] > 0:
            rule['count'] -= 1

    def pick(self, platform, endpoint, path):
        """Returns (delay_ms, action) for a request: the summed delay of the
        matching slow rules, and the first other fault that fires (a dict
        with 'mode' and its parameters), or None."""
        delay = 0
        action = None
        if not self.rules:
            return 0, None
        with self.lock:
            for rule in self.rules:
                mode = rule['mode']
                if mode == 'partial' or not self._matches(rule, platform, endpoint, path):
                    continue
                if mode == 'slow':
                    delay += int(rule.get('delay_ms', 1000))
                    self._fire(rule)
                    continue
                if action is not None:
                    continue
                if mode == 'random':
                    r = rule['_rng'].random()
                    chosen = None
                    for name, m in (('rate_5xx', '5xx'), ('rate_429', '429'),
                                    ('rate_timeout', 'timeout'), ('rate_drop', 'drop')):
                        if r < rule[name]:
                            chosen = m
                            break
                        r -= rule[name]
                    if chosen is None:
                        continue
                    self._fire(rule)
                    rule['drawn'][chosen] = rule['drawn'].get(chosen, 0) + 1
                    action = {'mode': 'status' if chosen == '5xx' else chosen, 'rule': rule['id'],
                              'status': rule.get('status', 503)}
                    for k in ('retry_after', 'seconds'):
                        if k in rule:
                            action[k] = rule[k]
                    continue
                self._fire(rule)
                action = {k: v for k, v in rule.items() if not k.startswith('_')}
                action['rule'] = rule['id']
                if action['mode'] == '5xx':
                    action['mode'] = 'status'
        return delay, action

    def take_partial(self, platform, endpoint, path, keys):
        """Rows to fail for a request that passed validation: a dict
        index -> rule (error code and message come from the rule), or None."""
        if not self.rules:
            return None
        out = {}
        with self.lock:
            for rule in self.rules:
                if rule['mode'] != 'partial' or not self._matches(rule, platform, endpoint, path):
                    continue
                hit = False
                for i in rule['_indexes']:
                    if 0 <= i < len(keys) and i not in out:
                        out[i] = rule
                        hit = True
                if rule['_keys']:
                    for i, k in enumerate(keys):
                        if k is not None and k in rule['_keys'] and i not in out:
                            out[i] = rule
                            hit = True
                if hit:
                    self._fire(rule)
        return out or None
