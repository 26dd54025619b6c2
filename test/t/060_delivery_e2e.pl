
# End to end over HTTPS against the contract mock (test/mock/, a throwaway
# CA): queued conversions of every platform pass the mock's validation,
# batched in each platform's envelope; a refund's Google adjustment goes to
# uploadConversionAdjustments as a RETRACTION of the accepted conversion;
# each row keeps the request id of the request that delivered it; plain http
# is refused unless the loopback setting allows it; no token appears in the
# server log.

use strict;
use warnings;

use FindBin;
use lib $FindBin::Bin;
use lib "$FindBin::Bin/../mock";

use DeliveryFixtures;
use MockServer;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $mock = MockServer->start(https => 1);
my $ca = $mock->ca_file;

my $node = PostgreSQL::Test::Cluster->new('delivery_e2e');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_attribution'
log_statement = 'none'
pg_attribution.database = 'postgres'
pg_attribution.ca_file = '$ca'
});
$node->append_conf('postgresql.conf', DeliveryFixtures::vault_conf(PostgreSQL::Test::Utils::tempdir));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_attribution');
$node->safe_psql('postgres', DeliveryFixtures::enqueue_function_sql());

sub q1 { return $node->safe_psql('postgres', $_[0]); }

# The worker runs under its own backend type.
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_attribution delivery'")
  or die 'delivery worker did not start';

q1(DeliveryFixtures::destinations_sql($mock->https_url, batch_size => 3));

# Seven events per platform: batches of three, so three requests each
# (webhooks: one request per event).
q1(q{SELECT attribution_test_enqueue(d, d || '_in_' || g)
     FROM unnest(ARRAY['google', 'meta', 'tiktok', 'linkedin', 'webhook']) d, generate_series(1, 7) g});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM attribution.outbox WHERE status <> 'delivered'"),
	'every queued event is delivered');

my %platform = (google => 'google', meta => 'meta', tiktok => 'tiktok', linkedin => 'linkedin', webhook => 'webhook');
for my $d (qw(meta tiktok linkedin webhook))
{
	my $acc = $mock->accepted($platform{$d});
	is(scalar(grep { /^${d}_in_/ } keys %{ $acc->{counts} }), 7, "$d: seven distinct events accepted by the mock");
}
my $st = $mock->stats->{platforms};
is($st->{meta}{requests}, 3, 'meta: seven events in three batched requests');
is($st->{tiktok}{requests}, 3, 'tiktok: seven events in three batched requests');
is($st->{linkedin}{requests}, 3, 'linkedin: seven events in three batched requests');
is($st->{webhook}{requests}, 7, 'webhook: one request per event');
is($st->{google}{requests}, 3, 'google: seven conversions in three batched requests');

# A refund of two accepted conversions: RETRACTION adjustments by orderId,
# in one uploadConversionAdjustments request.
q1(q{SELECT attribution_test_enqueue('google', k, '0', 'adjustment')
     FROM unnest(ARRAY['google_in_1', 'google_in_2']) k});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM attribution.outbox WHERE status <> 'delivered'"),
	'the adjustments are delivered');
my $gadj = $mock->accepted('google', kind => 'adjustment')->{counts};
ok($gadj->{'google_in_1#RETRACTION'} && $gadj->{'google_in_2#RETRACTION'},
	'the refunds arrive as RETRACTION adjustments by orderId');
is(scalar(grep { /^google_in_/ } keys %{ $mock->accepted('google', kind => 'conversion')->{counts} }), 7,
	'google: seven distinct conversions accepted');
is($mock->stats->{platforms}{google}{by_endpoint}{uploadConversionAdjustments}, 1,
	'google: both adjustments in one request');

# Each row keeps the platform request id of the request that carried it.
my %idfmt = (
	google => sub { "req-mock-$_[0]" },
	meta => sub { "AmockTrace$_[0]" },
	tiktok => sub { sprintf('20260101%08d', $_[0]) },
	linkedin => sub { "mock-$_[0]" },
	webhook => sub { "mock-$_[0]" });
my $wrong = 0;
for my $line (split /\n/, q1(q{
SELECT d.name || ' ' || o.kind || ' ' || o.dedup_key || ' ' || coalesce(o.request_id, '-')
FROM attribution.outbox o JOIN attribution.destinations d ON d.id = o.destination_id}))
{
	my ($d, $kind, $key, $rid) = split / /, $line;
	my %seq;
	my $acc = $mock->accepted($platform{$d}, events => 0);
	for my $item (@{ $acc->{items} })
	{
		$seq{ $item->{key} } = $item->{seq};
	}
	my $mkey = $kind eq 'adjustment' ? "$key#RETRACTION" : $key;
	unless (defined $seq{$mkey} && $rid eq $idfmt{$d}->($seq{$mkey}))
	{
		diag("$d $key: request id $rid");
		$wrong++;
	}
}
is($wrong, 0, 'the platform request id is kept per row');

is(q1(q{SELECT count(*) FROM attribution.delivery_log WHERE status = 'delivered' AND latency_ms IS NOT NULL}),
	'37', 'one delivered attempt logged per event, with its latency');

is(q1(q{SELECT string_agg(name || ':' || backlog || ':' || delivered_last_hour || ':' || breaker_state, ',' ORDER BY name)
        FROM attribution.delivery_health}),
	'google:0:9:closed,linkedin:0:7:closed,meta:0:7:closed,tiktok:0:7:closed,webhook:0:7:closed',
	'delivery_health shows an empty backlog and the hour\'s deliveries');

# Commit-time wake-up: a single new event goes out promptly.
q1("SELECT attribution_test_enqueue('meta', 'meta_prompt')");
ok($node->poll_query_until('postgres',
	"SELECT status = 'delivered' FROM attribution.outbox WHERE dedup_key = 'meta_prompt'"),
	'a committed event wakes the worker');

# Plain http (the mock's plain listener) is refused without the loopback
# setting: the destination is paused with its events held.
q1(qq{
INSERT INTO attribution.destinations (name, platform, endpoint)
VALUES ('plain', 'webhook', '@{[$mock->http_url]}/webhook/plain');
SELECT attribution.set_credential('plain', 'tok-plain-SECRET');
SELECT attribution_test_enqueue('plain', 'plain_1');
});
ok($node->poll_query_until('postgres',
	"SELECT pause_reason = 'endpoint_rejected' FROM attribution.destinations WHERE name = 'plain'"),
	'plain http is refused and pauses the destination');
is(q1("SELECT status || ':' || attempts FROM attribution.outbox WHERE dedup_key = 'plain_1'"),
	'retry:0', 'the refused event is held, not dead');
is($mock->stats->{platforms}{webhook}{by_endpoint}{'webhook/plain'} // 0, 0, 'nothing was sent over plain http');

$node->append_conf('postgresql.conf', "pg_attribution.allow_http_loopback = on\n");
$node->reload;
q1("SELECT attribution.resume_destination(id) FROM attribution.destinations WHERE name = 'plain'");
ok($node->poll_query_until('postgres',
	"SELECT status = 'delivered' FROM attribution.outbox WHERE dedup_key = 'plain_1'"),
	'with allow_http_loopback on, plain http to loopback is used');
ok($mock->accepted('webhook')->{counts}{plain_1}, 'the mock accepted the event over plain http');

my $log = slurp_file($node->logfile);
unlike($log, qr/SECRET/, 'no token appears in the server log');
unlike($log, qr/access_token=/, 'no Meta URL appears in the server log');

$node->stop;
$mock->stop;
done_testing();
