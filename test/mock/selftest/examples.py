"""The composed examples of API-CONTRACTS.md (sections B to E), verbatim,
and the paths and times they go with."""

# 2026-01-01T00:00:00Z, the time of the composed examples; the mock clock is
# set one hour later so that they are fresh for every platform.
T0 = 1767225600
NOW = T0 + 3600
EMAIL_HASH = '973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b'

GOOGLE_REQUEST = '''{"conversions":[
  {"gclid":"Cj0KCQiAtest_BwE","conversionAction":"customers/1234567890/conversionActions/555",
   "conversionDateTime":"2026-01-01 00:00:00+00:00","conversionValue":29.0,"currencyCode":"USD",
   "orderId":"in_test_001","consent":{"adUserData":"GRANTED"}},
  {"conversionAction":"customers/1234567890/conversionActions/555",
   "conversionDateTime":"2026-01-01 00:05:00+00:00","conversionValue":29.0,"currencyCode":"USD",
   "orderId":"in_test_002","userIdentifiers":[{"userIdentifierSource":"FIRST_PARTY",
   "hashedEmail":"973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"}]}],
 "partialFailure":true}'''
GOOGLE_SUCCESS = '''{"results":[{"gclid":"Cj0KCQiAtest_BwE","conversionAction":"customers/1234567890/conversionActions/555",
  "conversionDateTime":"2026-01-01 00:00:00+00:00"},
 {"conversionAction":"customers/1234567890/conversionActions/555",
  "conversionDateTime":"2026-01-01 00:05:00+00:00"}],"jobId":"2147483650"}'''
GOOGLE_PARTIAL = '''{"partialFailureError":{"code":3,"message":"The imported event could not be attributed to a click..., at conversions[0].gclid",
  "details":[{"@type":"type.googleapis.com/google.ads.googleads.v24.errors.GoogleAdsFailure",
   "errors":[{"errorCode":{"conversionUploadError":"EVENT_NOT_FOUND"},
     "message":"The imported event could not be attributed to a click.",
     "location":{"fieldPathElements":[{"fieldName":"conversions","index":0},{"fieldName":"gclid"}]}}],
   "requestId":"req-mock-1"}]},
 "results":[{},{"conversionAction":"customers/1234567890/conversionActions/555",
  "conversionDateTime":"2026-01-01 00:05:00+00:00"}],"jobId":"2147483651"}'''
GOOGLE_RATE_LIMIT = '''{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED",
 "details":[{"@type":"type.googleapis.com/google.ads.googleads.v24.errors.GoogleAdsFailure",
  "errors":[{"errorCode":{"quotaError":"RESOURCE_TEMPORARILY_EXHAUSTED"},"message":"Too many requests.",
   "details":{"quotaErrorDetails":{"rateScope":"ACCOUNT","rateName":"Requests per account","retryDelay":"30s"}}}],
  "requestId":"req-mock-2"}]}}'''
GOOGLE_AUTH_EXPIRED = '''{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED",
 "details":[{"@type":"type.googleapis.com/google.ads.googleads.v24.errors.GoogleAdsFailure",
  "errors":[{"errorCode":{"authenticationError":"OAUTH_TOKEN_EXPIRED"},"message":"OAuth token in the header has expired."}],
  "requestId":"req-mock-3"}]}}'''
GOOGLE_ADJUST = '''{"conversionAdjustments":[
  {"conversionAction":"customers/1234567890/conversionActions/555","adjustmentType":"RETRACTION",
   "adjustmentDateTime":"2026-01-10 12:00:00+00:00","orderId":"in_test_001"},
  {"conversionAction":"customers/1234567890/conversionActions/555","adjustmentType":"RESTATEMENT",
   "adjustmentDateTime":"2026-01-10 12:00:00+00:00","orderId":"in_test_002",
   "restatementValue":{"adjustedValue":14.5,"currencyCode":"USD"}}],
 "partialFailure":true}'''
GOOGLE_ADJUST_OK = '''{"results":[{"orderId":"in_test_001","conversionAction":"customers/1234567890/conversionActions/555",
   "adjustmentDateTime":"2026-01-10 12:00:00+00:00","adjustmentType":"RETRACTION"},
  {"orderId":"in_test_002","conversionAction":"customers/1234567890/conversionActions/555",
   "adjustmentDateTime":"2026-01-10 12:00:00+00:00","adjustmentType":"RESTATEMENT"}],"jobId":"2147483652"}'''

META_REQUEST = '''{"data":[{"event_name":"Purchase","event_time":1767225600,"event_id":"in_test_001",
  "action_source":"system_generated",
  "user_data":{"em":["973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"],
   "ph":["e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"],
   "external_id":["afc2d29f5ba19d741c1f777eb30989cb450e9b7ad5bab15ab72a12d62b6cc40b"],
   "fbc":"fb.1.1767000000000.IwAR2F4-test","fbp":"fb.1.1766990000000.1116446470",
   "client_ip_address":"203.0.113.7","client_user_agent":"Mozilla/5.0"},
  "custom_data":{"value":29.0,"currency":"USD","predicted_ltv":348.0}}],
 "test_event_code":"TEST12345"}'''
META_STALE = '''{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":2804003,
 "is_transient":false,"error_user_title":"Event Timestamp Too Old",
 "error_user_msg":"The timestamp for this event is too far in the past. Events need to be sent from your server within 7 days of when they occurred.",
 "fbtrace_id":"AmockTrace2"}}'''
META_RATE = '''{"error":{"message":"User request limit reached","type":"OAuthException","code":17,"fbtrace_id":"AmockTrace3"}}'''
META_EXPIRED = '''{"error":{"message":"Error validating access token: Session has expired.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AmockTrace4"}}'''

TIKTOK_REQUEST = '''{"event_source":"web","event_source_id":"CMOCKPIXEL123","test_event_code":"TEST123",
 "data":[{"event":"CompletePayment","event_time":1767225600,"event_id":"in_test_001",
  "user":{"ttclid":"E.C.P.mockclick","ttp":"2mockttpcookie",
   "email":["973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"],
   "phone":["1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8"],
   "external_id":["afc2d29f5ba19d741c1f777eb30989cb450e9b7ad5bab15ab72a12d62b6cc40b"],
   "ip":"203.0.113.7","user_agent":"Mozilla/5.0"},
  "properties":{"value":29.0,"currency":"USD","content_type":"product",
   "contents":[{"content_id":"plan_pro_monthly","price":29.0}],"order_id":"in_test_001"},
  "page":{"url":"https://app.example.com/billing/success"}}]}'''
TIKTOK_SUCCESS = '{"code":0,"message":"OK","request_id":"2026010100000001","data":{}}'
TIKTOK_PARTIAL = ('{"code":20001,"message":"Partial success","request_id":"2026010100000002","data":'
                  '{"failed_events":[{"index":1,"code":40002,"message":"data.1.event_time: invalid"}]}}')

LINKEDIN_REQUEST = '''{"elements":[{"conversion":"urn:lla:llaPartnerConversion:123456","conversionHappenedAt":1767225600000,
  "conversionValue":{"currencyCode":"USD","amount":"29.0"},"eventId":"in_test_001",
  "user":{"userIds":[{"idType":"SHA256_EMAIL","idValue":"973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"},
   {"idType":"LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID","idValue":"df5gf5-gh6t7-ph4j7h-fgf6n1"}],
   "userInfo":{"firstName":"ada","lastName":"lovelace","countryCode":"GB"}}}]}'''
LINKEDIN_SUCCESS = '{"elements":[{"status":201}]}'
LINKEDIN_422 = ('{"status":422,"message":"Index: 0, ERROR :: /conversionValue/amount :: field is required '
                'but not found and has no default value\\n"}')
LINKEDIN_RATE = '{"status":429,"code":"TOO_MANY_REQUESTS","message":"Resource level throttle limit reached"}'
LINKEDIN_401 = '{"status":401,"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN","message":"Invalid access token"}'

GOOGLE_PATH = '/v24/customers/1234567890:uploadClickConversions'
GOOGLE_ADJ_PATH = '/v24/customers/1234567890:uploadConversionAdjustments'
META_PATH = '/v25.0/1234567890123456/events'
TIKTOK_PATH = '/open_api/v1.3/event/track/'
LINKEDIN_PATH = '/rest/conversionEvents'
