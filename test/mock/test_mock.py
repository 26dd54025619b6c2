#!/usr/bin/env python3
"""Self-test of the contract mock: starts mock_server.py on free ports and
checks every platform's success path with the composed examples of
API-CONTRACTS.md (verbatim), the documented violations, each fault mode,
the OAuth endpoints, HTTPS with the throwaway CA and keep-alive reuse.
The tests live in selftest/; this runs them against one mock process.

    python3 test/mock/test_mock.py [-v] [-k PATTERN]
"""

import argparse
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, 'selftest'))

import base  # noqa: E402

MODULES = ('test_google', 'test_meta', 'test_tiktok', 'test_linkedin', 'test_webhook_oauth',
           'test_faults', 'test_transport')


def main():
    ap = argparse.ArgumentParser(description='Self-test of the contract mock.')
    ap.add_argument('-v', '--verbose', action='store_true')
    ap.add_argument('-k', dest='patterns', action='append', default=[],
                    help='only tests whose name contains this substring (repeatable)')
    args = ap.parse_args()
    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = ['*%s*' % p for p in args.patterns]
    suite = unittest.TestSuite(loader.loadTestsFromName(m) for m in MODULES)
    base.MOCK = base.Mock()
    try:
        result = unittest.TextTestRunner(verbosity=2 if args.verbose else 1).run(suite)
    finally:
        base.MOCK.stop()
        with open(base.MOCK.stderr.name) as f:
            err = f.read()
        base.MOCK.cleanup()
        if err.strip():
            sys.stderr.write('--- mock stderr ---\n' + err)
    return 0 if result.wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main())
