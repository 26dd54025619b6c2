
# End to end over HTTPS (a throwaway CA): queued conversions of every
# platform reach the platform stand-in, batched in each platform's envelope;
# a refund's Google adjustment goes to uploadConversionAdjustments; plain
# http is refused unless the loopback setting allows it; no token appears in
# the server log.

use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;

use DeliverySink;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dir = PostgreSQL::Test::Utils::tempdir;
my ($ca, $cert, $key) = DeliverySink::make_ca($dir);
my $sink = DeliverySink->start(cert => $cert, key => $key, ca => $ca);

my $node = PostgreSQL::Test::Cluster->new('delivery_e2e');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_attribution'
log_statement = 'none'
pg_attribution.database = 'postgres'
pg_attribution.ca_file = '$ca'
});
$node->append_conf('postgresql.conf', DeliverySink::vault_conf(PostgreSQL::Test::Utils::tempdir));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_attribution');
$node->safe_psql('postgres', DeliverySink::enqueue_function_sql());

# The worker runs under its own backend type.
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_attribution delivery'")
  or die 'delivery worker did not start';

$node->safe_psql('postgres', DeliverySink::destinations_sql($sink->url, batch_size => 3));

# Seven events per platform: batches of three, so three requests each
# (webhooks: one request per event); plus two Google adjustments.
$node->safe_psql('postgres', q{
SELECT attribution_test_enqueue(d, d || '_in_' || g)
FROM unnest(ARRAY['google', 'meta', 'tiktok', 'linkedin', 'webhook']) d, generate_series(1, 7) g;
SELECT attribution_test_enqueue('google', k, '0', 'adjustment')
FROM unnest(ARRAY['google_in_1', 'google_in_2']) k;
});

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM attribution.outbox WHERE status <> 'delivered'"),
	'every queued event is delivered');

my $stats = $sink->get('/_stats');
is($stats->{unique}{$_}, 7, "$_: seven distinct events accepted") for qw(meta tiktok linkedin webhook);
is($stats->{unique}{google_ads}, 9, 'google: seven conversions and two adjustments accepted');
is($stats->{requests}{meta}, 3, 'meta: seven events in three batched requests');
is($stats->{requests}{webhook}, 7, 'webhook: one request per event');
is($stats->{requests}{google_ads}, 4, 'google: three conversion batches and one adjustment batch');

my $gkeys = $sink->get('/_keys?platform=google_ads')->{keys};
ok($gkeys->{'RETRACTION:google_in_1'} && $gkeys->{'RETRACTION:google_in_2'},
	'the refunds arrive as RETRACTION adjustments by orderId');

is($node->safe_psql('postgres', q{
SELECT string_agg(DISTINCT d.name || '=' || coalesce(o.request_id, '-'), ',' ORDER BY d.name || '=' || coalesce(o.request_id, '-'))
FROM attribution.outbox o JOIN attribution.destinations d ON d.id = o.destination_id
WHERE d.name IN ('google', 'meta', 'tiktok', 'linkedin')}),
	'google=sink-google,linkedin=sink-li,meta=sinktrace,tiktok=tt-ok',
	'the platform request id is kept per row');

is($node->safe_psql('postgres', q{
SELECT count(*) FROM attribution.delivery_log WHERE status = 'delivered' AND latency_ms IS NOT NULL}),
	'37', 'one delivered attempt logged per event, with its latency');

is($node->safe_psql('postgres', q{
SELECT string_agg(name || ':' || backlog || ':' || delivered_last_hour || ':' || breaker_state, ',' ORDER BY name)
FROM attribution.delivery_health}),
	'google:0:9:closed,linkedin:0:7:closed,meta:0:7:closed,tiktok:0:7:closed,webhook:0:7:closed',
	'delivery_health shows an empty backlog and the hour\'s deliveries');

# Commit-time wake-up: a single new event goes out promptly.
$node->safe_psql('postgres', "SELECT attribution_test_enqueue('meta', 'meta_prompt')");
ok($node->poll_query_until('postgres',
	"SELECT status = 'delivered' FROM attribution.outbox WHERE dedup_key = 'meta_prompt'"),
	'a committed event wakes the worker');

# Plain http is refused without the loopback setting: the destination is
# paused with its events held.
my $plain = DeliverySink->start;
$node->safe_psql('postgres', qq{
INSERT INTO attribution.destinations (name, platform, endpoint)
VALUES ('plain', 'webhook', '@{[$plain->url]}/webhook/plain');
SELECT attribution.set_credential('plain', 'tok-plain-SECRET');
SELECT attribution_test_enqueue('plain', 'plain_1');
});
ok($node->poll_query_until('postgres',
	"SELECT pause_reason = 'endpoint_rejected' FROM attribution.destinations WHERE name = 'plain'"),
	'plain http is refused and pauses the destination');
is($node->safe_psql('postgres', "SELECT status || ':' || attempts FROM attribution.outbox WHERE dedup_key = 'plain_1'"),
	'retry:0', 'the refused event is held, not dead');

$node->append_conf('postgresql.conf', "pg_attribution.allow_http_loopback = on\n");
$node->reload;
$node->safe_psql('postgres', "SELECT attribution.resume_destination(id) FROM attribution.destinations WHERE name = 'plain'");
ok($node->poll_query_until('postgres',
	"SELECT status = 'delivered' FROM attribution.outbox WHERE dedup_key = 'plain_1'"),
	'with allow_http_loopback on, plain http to loopback is used');

my $log = slurp_file($node->logfile);
unlike($log, qr/SECRET/, 'no token appears in the server log');
unlike($log, qr/access_token=/, 'no Meta URL appears in the server log');

$node->stop;
$sink->stop;
$plain->stop;
done_testing();
