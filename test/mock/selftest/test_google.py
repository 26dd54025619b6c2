"""Self-test of the mock: Google Ads uploads and adjustments (API-CONTRACTS.md B)."""

import json

from base import MockTestCase, call, ctl, google, without
from examples import (T0, EMAIL_HASH, GOOGLE_REQUEST, GOOGLE_SUCCESS, GOOGLE_PARTIAL, GOOGLE_RATE_LIMIT,
                      GOOGLE_AUTH_EXPIRED, GOOGLE_ADJUST, GOOGLE_ADJUST_OK, GOOGLE_PATH, GOOGLE_ADJ_PATH)


class GoogleTest(MockTestCase):
    def test_composed_success(self):
        r = google(GOOGLE_REQUEST)
        self.assertEqual(r.status, 200, r.raw)
        want = json.loads(GOOGLE_SUCCESS)
        self.assertEqual(r.json['results'], want['results'])
        self.assertIsInstance(r.json['jobId'], str)
        self.assertNotIn('partialFailureError', r.json)
        acc = ctl('GET', 'accepted', platform='google')
        self.assertEqual(acc['counts'], {'in_test_001': 1, 'in_test_002': 1})
        self.assertEqual(acc['items'][0]['event'], json.loads(GOOGLE_REQUEST)['conversions'][0])

    def test_composed_partial_failure_shape(self):
        ctl('POST', 'faults', {'platform': 'google', 'mode': 'partial', 'indexes': [0], 'error': 'EVENT_NOT_FOUND'})
        r = google(GOOGLE_REQUEST)
        want = json.loads(GOOGLE_PARTIAL)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json['results'], want['results'])
        got_pfe = r.json['partialFailureError']
        want_pfe = want['partialFailureError']
        self.assertEqual(got_pfe['code'], 3)
        self.assertTrue(got_pfe['message'].endswith(', at conversions[0].gclid'))
        d, wd = got_pfe['details'][0], want_pfe['details'][0]
        self.assertEqual(d['@type'], wd['@type'])
        self.assertEqual(d['errors'], wd['errors'])
        self.assertTrue(d['requestId'])
        self.assertEqual(ctl('GET', 'accepted', platform='google')['counts'], {'in_test_002': 1})

    def test_composed_rate_limit_and_auth_shapes(self):
        ctl('POST', 'faults', {'platform': 'google', 'mode': '429', 'retry_after': 30})
        r = google(GOOGLE_REQUEST)
        self.assertEqual(r.status, 429)
        self.assertEqual(r.header('Retry-After'), '30')
        want = json.loads(GOOGLE_RATE_LIMIT)
        want['error']['details'][0]['requestId'] = r.json['error']['details'][0]['requestId']
        self.assertEqual(r.json, want)
        ctl('POST', 'tokens', {'platform': 'google', 'token': 'ya29.old', 'state': 'expired'})
        r = google(GOOGLE_REQUEST, token='ya29.old')
        self.assertEqual(r.status, 401)
        want = json.loads(GOOGLE_AUTH_EXPIRED)
        want['error']['details'][0]['requestId'] = r.json['error']['details'][0]['requestId']
        self.assertEqual(r.json, want)
        self.assertEqual(ctl('GET', 'accepted', platform='google')['total'], 0)

    def test_order_id_already_in_use_on_repeat(self):
        self.assertEqual(google(GOOGLE_REQUEST).status, 200)
        r = google(GOOGLE_REQUEST)
        self.assertEqual(self.g_error(r, 0), {'conversionUploadError': 'ORDER_ID_ALREADY_IN_USE'})
        self.assertEqual(self.g_error(r, 1), {'conversionUploadError': 'ORDER_ID_ALREADY_IN_USE'})
        acc = ctl('GET', 'accepted', platform='google')
        self.assertEqual(acc['counts'], {'in_test_001': 1, 'in_test_002': 1})
        self.assertEqual(acc['received'], {'in_test_001': 2, 'in_test_002': 2})

    def test_duplicate_order_id_in_request(self):
        rows = self.g_rows(2)
        rows[1]['orderId'] = rows[0]['orderId']
        r = google({'conversions': rows, 'partialFailure': True})
        self.assertEqual(r.json['results'][0]['gclid'], 'Cj0KCQiAtest_0')
        self.assertEqual(self.g_error(r, 1), {'conversionUploadError': 'DUPLICATE_ORDER_ID'})

    def test_click_conversion_already_exists(self):
        rows = self.g_rows(1)
        del rows[0]['orderId']
        google({'conversions': rows, 'partialFailure': True})
        r = google({'conversions': rows, 'partialFailure': True})
        self.assertEqual(self.g_error(r), {'conversionUploadError': 'CLICK_CONVERSION_ALREADY_EXISTS'})

    def test_row_violations(self):
        cases = [
            ({'gbraid': 'abc', 'wbraid': 'def'}, {'conversionUploadError': 'GBRAID_WBRAID_BOTH_SET'}),
            ({'gclid': 'bad gclid!'}, {'conversionUploadError': 'UNPARSEABLE_GCLID'}),
            ({'conversionDateTime': '2026-01-01 00:00:00'}, {'dateError': 'INVALID_FIELD_VALUES_IN_DATE_TIME'}),
            ({'conversionDateTime': '2026-01-01T00:00:00+00:00'}, {'dateError': 'INVALID_FIELD_VALUES_IN_DATE_TIME'}),
            ({'conversionDateTime': '2026-02-30 00:00:00+00:00'}, {'dateError': 'INVALID_FIELD_VALUES_IN_DATE_TIME'}),
            ({'currencyCode': 'usd'}, {'currencyCodeError': 'UNSUPPORTED'}),
            ({'conversionAction': 'conversionActions/555'}, {'conversionUploadError': 'NO_CONVERSION_ACTION_FOUND'}),
            ({'conversionAction': None}, {'fieldError': 'REQUIRED'}),
            ({'orderId': 'someone@example.com'}, {'conversionUploadError': 'ORDER_ID_CONTAINS_PII'}),
            ({'gclid': None, 'userIdentifiers': [{'hashedEmail': 'Test@Example.com'}]},
             {'conversionUploadError': 'INVALID_USER_IDENTIFIER'}),
            ({'gclid': None, 'userIdentifiers': [{'hashedEmail': EMAIL_HASH.upper()}]},
             {'conversionUploadError': 'INVALID_USER_IDENTIFIER'}),
            ({'gclid': None, 'userIdentifiers': [{'hashedEmail': EMAIL_HASH}] * 6},
             {'collectionSizeError': 'TOO_MANY'}),
            ({'gclid': None, 'userIdentifiers': [{'thirdPartyUserId': 'x'}]},
             {'conversionUploadError': 'UNSUPPORTED_USER_IDENTIFIER'}),
            ({'gclid': None}, {'fieldError': 'REQUIRED'}),
        ]
        for change, code in cases:
            with self.subTest(change=change):
                row = self.g_rows(1, prefix='v%d' % len(str(change)))[0]
                for k, v in change.items():
                    if v is None:
                        row.pop(k, None)
                    else:
                        row[k] = v
                n = cases.index((change, code))
                good = self.g_rows(1, prefix='good%d' % n)[0]
                good['gclid'] = 'Cj0KCQiAgood%d' % n
                r = google({'conversions': [row, good], 'partialFailure': True})
                self.assertEqual(self.g_error(r, 0), code)
                self.assertEqual(r.json['results'][1]['gclid'], good['gclid'])
                self.assertEqual(len(r.json['partialFailureError']['details'][0]['errors']), 1)

    def test_gclid_with_user_identifiers_is_accepted(self):
        row = self.g_rows(1)[0]
        row['userIdentifiers'] = [{'hashedEmail': EMAIL_HASH}, {'hashedPhoneNumber': EMAIL_HASH}]
        r = google({'conversions': [row], 'partialFailure': True})
        self.assertNotIn('partialFailureError', r.json)

    def test_request_level_violations(self):
        rows = self.g_rows(1)
        cases = [
            ({'conversions': rows, 'partialFailure': False}, 400, {'fieldError': 'REQUIRED'}),
            ({'conversions': rows}, 400, {'fieldError': 'REQUIRED'}),
            ({'conversions': [], 'partialFailure': True}, 400, {'fieldError': 'REQUIRED'}),
            ({'conversions': self.g_rows(2001), 'partialFailure': True}, 400,
             {'conversionUploadError': 'TOO_MANY_CONVERSIONS_IN_REQUEST'}),
        ]
        for body, status, code in cases:
            with self.subTest(body=str(body)[:80]):
                r = google(body)
                self.assertEqual(r.status, status, r.raw)
                self.assertEqual(r.json['error']['status'], 'INVALID_ARGUMENT')
                self.assertEqual(r.json['error']['details'][0]['errors'][0]['errorCode'], code)
        bad_json = [
            {'conversions': rows, 'partialFailure': True, 'debugEnabled': True},
            {'conversions': [dict(rows[0], conversionValue='29.0')], 'partialFailure': True},
            {'conversions': [dict(rows[0], consent={'adUserData': 'YES'})], 'partialFailure': True},
            {'conversions': [dict(rows[0], bogus=1)], 'partialFailure': True},
        ]
        for body in bad_json:
            with self.subTest(body=str(body)[:80]):
                r = google(body)
                self.assertEqual(r.status, 400, r.raw)
                self.assertEqual(r.json['error']['details'][0]['@type'], 'type.googleapis.com/google.rpc.BadRequest')
        self.assertEqual(ctl('GET', 'accepted', platform='google')['total'], 0)

    def test_path_and_header_violations(self):
        r = google(GOOGLE_REQUEST, path='/v24/customers/123-456-7890:uploadClickConversions')
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json['error']['details'][0]['errors'][0]['errorCode'], {'requestError': 'INVALID_CUSTOMER_ID'})
        r = google(GOOGLE_REQUEST, path='/v20/customers/1234567890:uploadClickConversions')
        self.assertEqual(r.status, 404)
        self.assertEqual(google(GOOGLE_REQUEST, path='/v21/customers/1234567890:uploadClickConversions').status, 200)
        r = google(GOOGLE_REQUEST, token=None)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json['error']['details'][0]['errors'][0]['errorCode'],
                         {'authenticationError': 'OAUTH_TOKEN_HEADER_INVALID'})
        r = google(GOOGLE_REQUEST, extra={'login-customer-id': '123-456'})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json['error']['details'][0]['errors'][0]['errorCode'],
                         {'headerError': 'INVALID_LOGIN_CUSTOMER_ID'})
        r = google(GOOGLE_REQUEST, extra={'Content-Type': 'text/plain'})
        self.assertEqual(r.status, 400)
        # developer-token and login-customer-id are optional.
        r = call('POST', GOOGLE_PATH, json.loads(GOOGLE_REQUEST),
                 {'Authorization': 'Bearer t2', 'login-customer-id': '9876543210'})
        self.assertEqual(r.status, 200, r.raw)

    def test_validate_only(self):
        body = json.loads(GOOGLE_REQUEST)
        body['validateOnly'] = True
        r = google(body)
        self.assertEqual(r.status, 200)
        self.assertNotIn('results', r.json)
        self.assertEqual(ctl('GET', 'accepted', platform='google')['total'], 0)
        self.assertEqual(google(GOOGLE_REQUEST).json['results'], json.loads(GOOGLE_SUCCESS)['results'])

    def test_composed_adjustments(self):
        google(GOOGLE_REQUEST)
        r = google(GOOGLE_ADJUST, path=GOOGLE_ADJ_PATH)
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.json['results'], json.loads(GOOGLE_ADJUST_OK)['results'])
        self.assertNotIn('partialFailureError', r.json)
        acc = ctl('GET', 'accepted', platform='google', kind='adjustment')
        self.assertEqual(acc['counts'], {'in_test_001#RETRACTION': 1, 'in_test_002#RESTATEMENT': 1})
        # Repeats: retraction -> already retracted, same restatement time -> exists.
        r = google(GOOGLE_ADJUST, path=GOOGLE_ADJ_PATH)
        self.assertEqual(self.g_error(r, 0), {'conversionAdjustmentUploadError': 'CONVERSION_ALREADY_RETRACTED'})
        self.assertEqual(self.g_error(r, 1), {'conversionAdjustmentUploadError': 'RESTATEMENT_ALREADY_EXISTS'})
        # An earlier restatement than the stored one.
        body = json.loads(GOOGLE_ADJUST)
        body['conversionAdjustments'] = [body['conversionAdjustments'][1]]
        body['conversionAdjustments'][0]['adjustmentDateTime'] = '2026-01-09 12:00:00+00:00'
        r = google(body, path=GOOGLE_ADJ_PATH)
        self.assertEqual(self.g_error(r, 0), {'conversionAdjustmentUploadError': 'MORE_RECENT_RESTATEMENT_FOUND'})
        body['conversionAdjustments'][0]['adjustmentDateTime'] = '2026-01-11 12:00:00+00:00'
        self.assertNotIn('partialFailureError', google(body, path=GOOGLE_ADJ_PATH).json)

    def test_adjustment_violations(self):
        google(GOOGLE_REQUEST)
        base = json.loads(GOOGLE_ADJUST)['conversionAdjustments']
        retract, restate = base
        cases = [
            (dict(retract, restatementValue={'adjustedValue': 1.0, 'currencyCode': 'USD'}),
             {'fieldError': 'VALUE_MUST_BE_UNSET'}),
            (without(restate, 'restatementValue'), {'fieldError': 'REQUIRED'}),
            (dict(restate, restatementValue={'adjustedValue': 1.0}), {'fieldError': 'REQUIRED'}),
            (dict(restate, restatementValue={'adjustedValue': 1.0, 'currencyCode': 'usd'}),
             {'currencyCodeError': 'UNSUPPORTED'}),
            (dict(retract, gclidDateTimePair={'gclid': 'Cj0KCQiAtest_BwE',
                                              'conversionDateTime': '2026-01-01 00:00:00+00:00'}),
             {'conversionAdjustmentUploadError': 'GCLID_DATE_TIME_PAIR_AND_ORDER_ID_BOTH_SET'}),
            (without(retract, 'orderId'), {'fieldError': 'REQUIRED'}),
            (dict(retract, adjustmentDateTime='2026-01-10 12:00:00'), {'dateError': 'INVALID_FIELD_VALUES_IN_DATE_TIME'}),
            (dict(retract, orderId='never_sent'), {'conversionAdjustmentUploadError': 'CONVERSION_NOT_FOUND'}),
            (dict(retract, adjustmentDateTime='2025-12-31 00:00:00+00:00'),
             {'conversionAdjustmentUploadError': 'ADJUSTMENT_PRECEDES_CONVERSION'}),
            (dict(retract, adjustmentType='ENHANCEMENT', orderId=None),
             {'conversionAdjustmentUploadError': 'MISSING_ORDER_ID_FOR_WEBPAGE'}),
        ]
        for row, code in cases:
            with self.subTest(row=row, code=code):
                row = {k: v for k, v in row.items() if v is not None}
                r = google({'conversionAdjustments': [row], 'partialFailure': True}, path=GOOGLE_ADJ_PATH)
                self.assertEqual(self.g_error(r, 0), code)
        r = google({'conversionAdjustments': [dict(retract, adjustmentType='REFUND')], 'partialFailure': True},
                   path=GOOGLE_ADJ_PATH)
        self.assertEqual(r.status, 400)
        r = google({'conversionAdjustments': [retract] * 2001, 'partialFailure': True}, path=GOOGLE_ADJ_PATH)
        self.assertEqual(r.json['error']['details'][0]['errors'][0]['errorCode'],
                         {'conversionAdjustmentUploadError': 'TOO_MANY_ADJUSTMENTS_IN_REQUEST'})
        # By gclidDateTimePair, and a duplicate within the request.
        pair = {'conversionAction': retract['conversionAction'], 'adjustmentType': 'RETRACTION',
                'adjustmentDateTime': '2026-01-10 12:00:00+00:00',
                'gclidDateTimePair': {'gclid': 'Cj0KCQiAtest_BwE', 'conversionDateTime': '2026-01-01 00:00:00+00:00'}}
        r = google({'conversionAdjustments': [pair, pair], 'partialFailure': True}, path=GOOGLE_ADJ_PATH)
        self.assertEqual(r.json['results'][0]['gclidDateTimePair'], pair['gclidDateTimePair'])
        self.assertEqual(self.g_error(r, 1), {'conversionAdjustmentUploadError': 'DUPLICATE_ADJUSTMENT_IN_REQUEST'})

    def test_adjustment_expiry_and_not_found_switch(self):
        google(GOOGLE_REQUEST)
        ctl('POST', 'clock', {'now': T0 + 55 * 86400})
        r = google(GOOGLE_ADJUST, path=GOOGLE_ADJ_PATH)
        self.assertEqual(self.g_error(r, 0), {'conversionAdjustmentUploadError': 'CONVERSION_EXPIRED'})
        ctl('POST', 'config', {'google_require_conversion': False})
        body = json.loads(GOOGLE_ADJUST)
        for a in body['conversionAdjustments']:
            a['orderId'] = 'unknown_' + a['orderId']
        r = google(body, path=GOOGLE_ADJ_PATH)
        self.assertNotIn('partialFailureError', r.json)
