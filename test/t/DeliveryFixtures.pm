
# Fixtures for the delivery worker's TAP tests: a vault key for the test
# cluster, a destination of each platform pointed at the contract mock
# (test/mock/, started with MockServer.pm), and an SQL function that queues
# outbox rows whose payloads follow each platform's contract.

package DeliveryFixtures;

use strict;
use warnings;

# A vault key file in $dir, and the setting that names it: destination
# tokens are stored encrypted through the vault, as in production.
sub vault_conf
{
	my ($dir) = @_;
	my $keyfile = "$dir/vault.key";
	open(my $fh, '>', $keyfile) or die "could not write $keyfile: $!";
	print $fh ('5a' x 32), "\n";
	close $fh;
	chmod 0600, $keyfile;
	return "pg_attribution.vault_key_file = '$keyfile'\n";
}

# SQL that inserts a destination of each platform pointed at $url and
# stores its token in the vault; tokens are distinctive so that a test can
# look for them in the server log.
sub destinations_sql
{
	my ($url, %o) = @_;
	my $batch = $o{batch_size} // 1000;
	return qq{
INSERT INTO attribution.destinations (name, platform, endpoint, account, batch_size,
                                      rate_limit_per_sec, max_in_flight, max_event_age)
VALUES
 ('google', 'google_ads', '$url', '{"customer_id":"123-456-7890","api_version":"v24","developer_token":"devtok"}',
  $batch, 200, 4, '90 days'),
 ('meta', 'meta', '$url', '{"pixel_id":"1234567890123456","api_version":"v25.0"}',
  $batch, 200, 4, '7 days'),
 ('tiktok', 'tiktok', '$url', '{"event_source":"web","event_source_id":"CMOCKPIXEL123"}',
  $batch, 200, 4, '28 days'),
 ('linkedin', 'linkedin', '$url', '{"linkedin_version":"202603"}',
  $batch, 200, 4, '90 days'),
 ('webhook', 'webhook', '$url/webhook/in', '{}',
  $batch, 200, 8, '90 days');
SELECT attribution.set_credential(name, 'tok-' || name || '-SECRET')
  FROM attribution.destinations WHERE name IN ('google', 'meta', 'tiktok', 'linkedin', 'webhook');
};
}

# SQL function that queues one platform-shaped event for a destination:
# attribution_test_enqueue(destination name, key, age, kind).
sub enqueue_function_sql
{
	return q{
CREATE FUNCTION attribution_test_enqueue(p_dest text, p_key text, p_age interval DEFAULT '0',
                                         p_kind text DEFAULT 'conversion')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    d attribution.destinations;
    t timestamptz := now() - p_age;
    p jsonb;
    id bigint;
BEGIN
    SELECT * INTO d FROM attribution.destinations WHERE name = p_dest;
    p := CASE d.platform
      WHEN 'google_ads' THEN
        CASE WHEN p_kind = 'adjustment' THEN
          jsonb_build_object('conversionAction', 'customers/1234567890/conversionActions/555',
                             'adjustmentType', 'RETRACTION',
                             'adjustmentDateTime', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00:00',
                             'orderId', p_key)
        ELSE
          jsonb_build_object('gclid', 'Cj0KCQiA_' || p_key, 'conversionAction', 'customers/1234567890/conversionActions/555',
                             'conversionDateTime', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00:00',
                             'conversionValue', 29.0, 'currencyCode', 'USD', 'orderId', p_key)
        END
      WHEN 'meta' THEN
        jsonb_build_object('event_name', 'Purchase', 'event_time', extract(epoch FROM t)::bigint, 'event_id', p_key,
                           'action_source', 'system_generated',
                           'user_data', jsonb_build_object('em', jsonb_build_array(encode(sha256(convert_to(p_key || '@example.com', 'UTF8')), 'hex'))),
                           'custom_data', jsonb_build_object('value', 29.0, 'currency', 'USD'))
      WHEN 'tiktok' THEN
        jsonb_build_object('event', 'CompletePayment', 'event_time', extract(epoch FROM t)::bigint, 'event_id', p_key,
                           'user', jsonb_build_object('ttclid', 'E.C.P.' || p_key),
                           'properties', jsonb_build_object('value', 29.0, 'currency', 'USD'))
      WHEN 'linkedin' THEN
        jsonb_build_object('conversion', 'urn:lla:llaPartnerConversion:123456',
                           'conversionHappenedAt', (extract(epoch FROM t) * 1000)::bigint,
                           'conversionValue', jsonb_build_object('currencyCode', 'USD', 'amount', '29.0'),
                           'eventId', p_key,
                           'user', jsonb_build_object('userIds', jsonb_build_array(
                               jsonb_build_object('idType', 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID', 'idValue', 'li-' || p_key))))
      ELSE
        jsonb_build_object('event', 'conversion', 'id', p_key, 'value', 29.0, 'currency', 'USD')
      END;
    INSERT INTO attribution.outbox (destination_id, kind, dedup_key, payload, event_time)
    VALUES (d.id, p_kind, p_key, p, t)
    RETURNING outbox.id INTO id;
    RETURN id;
END $$;
};
}

1;
