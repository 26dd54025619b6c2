-- Identity: visitors become users across devices; customers link to users.
SET search_path = attribution, public;
SET timezone = 'UTC';

-- Laptop and phone of one person, and a shared visitor.
SELECT track_touch('laptop', 'https://app.example/?utm_source=google&utm_medium=cpc&utm_campaign=q1&gclid=G1', NULL, '2026-03-01 10:00') > 0;
SELECT track_touch('laptop', 'https://app.example/pricing', 'https://www.google.com/', '2026-03-02 10:00') > 0;
SELECT track_touch('phone', 'https://app.example/?fbclid=F1', 'https://m.facebook.com/', '2026-03-03 09:00') > 0;
SELECT track_touch('phone', 'https://app.example/?ref=FRIEND1', NULL, '2026-03-04 09:00') > 0;
-- Before any identify, touches belong to no user.
SELECT count(*) FROM journeys WHERE visitor_id IN ('laptop', 'phone');

SELECT identify('laptop', 'u_ada');
SELECT identify('phone', 'u_ada');
-- Repeated identify is harmless.
SELECT identify('phone', 'u_ada');
SELECT visitor_id, user_id FROM identities WHERE user_id = 'u_ada' ORDER BY visitor_id;

-- A touch while signed in links its visitor; later anonymous touches of an
-- identified visitor belong to the user too.
SELECT track_touch('tablet', 'https://app.example/?utm_source=newsletter&utm_medium=email&utm_campaign=weekly', NULL, '2026-03-05 08:00', 'u_ada') > 0;
SELECT track_touch('phone', 'https://app.example/docs', NULL, '2026-03-06 08:00') > 0;

SELECT user_id, touch_number, visitor_id, occurred_at, channel, gclid, fbc, referral_code
  FROM journeys WHERE user_id = 'u_ada' ORDER BY touch_number;
SELECT visitor_id, user_id FROM identities WHERE user_id = 'u_ada' ORDER BY visitor_id;

-- Billing customers: e-mails are kept only as hashes, per platform.
SELECT link_customer('stripe', 'cus_ada', 'u_ada', '  Ada.Lovelace@GMail.com ');
SELECT link_customer('paddle', 'ctm_01ada', 'u_ada', 'test@example.com');
SELECT link_customer('lemonsqueezy', '424242', 'u_ada');
SELECT provider, customer_id, user_id, email_sha256, email_sha256_google
  FROM customers WHERE user_id = 'u_ada' ORDER BY provider;
SELECT email_sha256 = encode(sha256(convert_to('ada.lovelace@gmail.com', 'UTF8')), 'hex') AS generic_ok,
       email_sha256_google = encode(sha256(convert_to('adalovelace@gmail.com', 'UTF8')), 'hex') AS google_ok
  FROM customers WHERE customer_id = 'cus_ada';
-- No column holds the address in clear.
SELECT count(*) FROM customers c WHERE row_to_json(c)::text ILIKE '%lovelace%';
-- Linking again updates the user and keeps the e-mail hashes.
SELECT link_customer('paddle', 'ctm_01ada', 'u_ada2');
SELECT user_id, email_sha256 FROM customers WHERE customer_id = 'ctm_01ada';

-- Hashing helpers, with the vectors of the platforms' documentation.
SELECT hash_email('test@example.com');
SELECT hash_email('John_Smith@gmail.com', 'meta');
SELECT hash_email(' ALICE_abc@gmail.com ', 'tiktok');
SELECT normalize_email('J.o.h.n+tag@googlemail.com', 'google_ads'), normalize_email('J.o.h.n@example.com', 'google_ads');
SELECT hash_phone('(+1) 650-555-1212', 'google_ads'), hash_phone('+1 (650) 555-1212', 'meta');
SELECT hash_phone('(+1)2133734253', 'tiktok');
SELECT normalize_email('not-an-email'), hash_phone('123', 'meta');
