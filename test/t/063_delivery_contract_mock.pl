
# The delivery worker against the strict contract mock (test/mock/) over
# HTTPS: every platform's requests pass its validation end to end; a refund
# becomes a Google RETRACTION of an accepted conversion; per-row failures
# injected by the mock are handled row by row (Meta by isolating the bad
# event); and the mixed fault run of the issue (20% 5xx, 10% 429, 2%
# timeouts, an expired Meta token) ends with every event delivered or dead
# with its reason, each delivered key accepted by the mock.

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

my $node = PostgreSQL::Test::Cluster->new('delivery_mock');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_attribution'
log_statement = 'none'
pg_attribution.database = 'postgres'
pg_attribution.ca_file = '$ca'
pg_attribution.delivery_timeout = 1500
});
$node->append_conf('postgresql.conf', DeliveryFixtures::vault_conf(PostgreSQL::Test::Utils::tempdir));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_attribution');
$node->safe_psql('postgres', DeliveryFixtures::enqueue_function_sql());
my $url = $mock->https_url;
$node->safe_psql('postgres', DeliveryFixtures::destinations_sql($url, batch_size => 25));
$node->safe_psql('postgres', "UPDATE attribution.destinations SET endpoint = '$url/webhook/crm' WHERE name = 'webhook'");

sub q1 { return $node->safe_psql('postgres', $_[0]); }

sub all_final
{
	my ($like) = @_;
	return $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM attribution.outbox WHERE dedup_key LIKE '$like' AND status IN ('pending', 'in_flight', 'retry')");
}

# --- every platform, end to end ------------------------------------------
q1(q{SELECT attribution_test_enqueue(d, 'ok_' || d || '_' || g)
     FROM unnest(ARRAY['google', 'meta', 'tiktok', 'linkedin', 'webhook']) d, generate_series(1, 30) g});
ok(all_final('ok\_%'), 'every event reaches an outcome');
is(q1("SELECT string_agg(DISTINCT status, ',') FROM attribution.outbox WHERE dedup_key LIKE 'ok\\_%'"),
	'delivered', 'the mock accepted every request of every platform');
my %platform = (google => 'google', meta => 'meta', tiktok => 'tiktok', linkedin => 'linkedin', webhook => 'webhook');
for my $d (sort keys %platform)
{
	my $acc = $mock->accepted($platform{$d});
	my $n = grep { /^ok_${d}_/ } keys %{ $acc->{counts} };
	is($n, 30, "$d: thirty events accepted by the contract mock");
}
is($mock->stats->{platforms}{meta}{requests}, 2, 'meta: thirty events in two batched requests');

# A refund: a RETRACTION of a conversion the mock accepted (sent after it).
sleep 1;
q1("SELECT attribution_test_enqueue('google', 'ok_google_1', '0', 'adjustment')");
ok(all_final('ok\_google\_1'), 'the adjustment reaches an outcome');
is(q1("SELECT status FROM attribution.outbox WHERE dedup_key = 'ok_google_1' AND kind = 'adjustment'"),
	'delivered', 'the refund adjustment is delivered');
ok($mock->accepted('google', kind => 'adjustment')->{counts}{'ok_google_1#RETRACTION'},
	'the mock recorded a RETRACTION by orderId');

# --- per-row failures injected by the mock -----------------------------------
$mock->fault({ platform => 'google', mode => 'partial', keys => ['pf_google_3'], count => -1 });
$mock->fault({ platform => 'tiktok', mode => 'partial', keys => ['pf_tiktok_3'], count => -1 });
$mock->fault({ platform => 'linkedin', mode => 'partial', keys => ['pf_linkedin_3'], count => -1 });
$mock->fault({ platform => 'meta', mode => 'partial', keys => ['pf_meta_3'], count => -1 });
q1(q{SELECT attribution_test_enqueue(d, 'pf_' || d || '_' || g)
     FROM unnest(ARRAY['google', 'meta', 'tiktok', 'linkedin']) d, generate_series(1, 6) g});
ok(all_final('pf\_%'), 'partial failures reach an outcome');
is(q1(q{SELECT string_agg(dedup_key || '=' || status, ',' ORDER BY dedup_key) FROM attribution.outbox
        WHERE dedup_key LIKE 'pf\_%' AND status <> 'delivered'}),
	'pf_google_3=dead,pf_linkedin_3=dead,pf_meta_3=dead,pf_tiktok_3=dead',
	'only the refused row of each batch is dead; the others are delivered');
like(q1("SELECT last_error FROM attribution.outbox WHERE dedup_key = 'pf_google_3'"), qr/^EVENT_NOT_FOUND/,
	'google: the row keeps its error code');
$mock->clear_faults;

# --- the mixed fault run -------------------------------------------------------
$mock->fault({ platform => '*', rate_5xx => 0.2, rate_429 => 0.1, rate_timeout => 0.02,
	seed => 42, retry_after => 1, seconds => 3 });
$mock->token(platform => 'meta', token => 'tok-meta-SECRET', state => 'expired');
q1(q{
UPDATE attribution.destinations SET backoff_base = '100 ms', backoff_cap = '2 seconds', breaker_threshold = 1000,
       max_attempts = 40, retry_window = '1 hour';
SELECT attribution_test_enqueue(d, 'mix_' || d || '_' || g)
FROM unnest(ARRAY['google', 'meta', 'tiktok', 'linkedin', 'webhook']) d, generate_series(1, 40) g;
});
ok($node->poll_query_until('postgres',
	"SELECT pause_reason = 'credential_invalid' FROM attribution.delivery_health WHERE name = 'meta'"),
	'the expired Meta token pauses the destination');
is(q1("SELECT count(*) FROM attribution.outbox WHERE dedup_key LIKE 'mix_meta_%' AND status IN ('dead', 'expired')"),
	'0', 'its events are held');
q1("SELECT attribution.set_credential('meta', 'tok-meta-NEW-SECRET')");
ok(all_final('mix\_%'), 'the mixed fault run ends');
# every fault of the run is retryable: every event must be delivered
is(q1(q{SELECT coalesce(string_agg(status || ':' || coalesce(last_error, ''), '; '), 'none')
          FROM attribution.outbox WHERE dedup_key LIKE 'mix\_%' AND status <> 'delivered'}),
	'none', 'every event of the mixed fault run is delivered');
my $missing = 0;
my $rows = q1("SELECT d.name || ' ' || o.dedup_key FROM attribution.outbox o JOIN attribution.destinations d ON d.id = o.destination_id
              WHERE o.dedup_key LIKE 'mix\\_%' AND o.status = 'delivered'");
my %acc = map { $_ => $mock->accepted($platform{$_})->{counts} } keys %platform;
for my $line (split /\n/, $rows)
{
	my ($d, $key) = split / /, $line;
	$missing++ unless $acc{$d}{$key};
}
is($missing, 0, 'the mock accepted every event the outbox says was delivered');
my $st = $mock->stats->{platforms};
cmp_ok($st->{$_}{requests}, '<', 200, "$_: request count stays bounded") for qw(google tiktok linkedin);

my $log = slurp_file($node->logfile);
unlike($log, qr/SECRET/, 'no token appears in the server log');

$node->stop;
$mock->stop;
done_testing();
