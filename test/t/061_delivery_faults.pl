
# Outcomes under platform errors, against the contract mock (test/mock/)
# over HTTPS, its faults injected through its control API: per-row partial
# failures (Google row by row, TikTok, LinkedIn), a bad Meta event isolated
# by splitting its batch, a stale Meta event expiring without sinking its
# batch, the circuit breaker opening and recovering, bounded retries against
# a failing endpoint, and a mixed fault run (5xx, 429, timeouts, an expired
# token) that ends with every event delivered.

use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
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
my $url = $mock->https_url;

my $node = PostgreSQL::Test::Cluster->new('delivery_faults');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_attribution'
log_statement = 'none'
pg_attribution.database = 'postgres'
pg_attribution.ca_file = '$ca'
pg_attribution.delivery_timeout = 1000
pg_attribution.delivery_connect_timeout = 1000
});
$node->append_conf('postgresql.conf', DeliveryFixtures::vault_conf(PostgreSQL::Test::Utils::tempdir));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_attribution');
$node->safe_psql('postgres', DeliveryFixtures::enqueue_function_sql());
$node->safe_psql('postgres', DeliveryFixtures::destinations_sql($url, batch_size => 10));

sub q1 { return $node->safe_psql('postgres', $_[0]); }

my %platform = (google => 'google', meta => 'meta', tiktok => 'tiktok', linkedin => 'linkedin', webhook => 'webhook');

# --- per-row outcomes -------------------------------------------------------
$mock->fault({ platform => 'google', mode => 'partial', keys => ['bad_g'], error => 'EVENT_NOT_FOUND', count => -1 });
$mock->fault({ platform => 'google', mode => 'partial', keys => ['dup_g'], error => 'ORDER_ID_ALREADY_IN_USE', count => -1 });
$mock->fault({ platform => 'google', mode => 'partial', keys => ['recent_g'], error => 'TOO_RECENT_EVENT', count => -1 });
$mock->fault({ platform => 'meta', mode => 'partial', keys => ['bad_m'], count => -1 });
$mock->fault({ platform => 'tiktok', mode => 'partial', keys => ['bad_t'], count => -1 });
$mock->fault({ platform => 'linkedin', mode => 'partial', keys => ['bad_l'], count => -1 });
# One transaction: each platform's events are claimed together, so the bad
# and the stale Meta events share a batch with good ones.
q1(q{
BEGIN;
SELECT attribution_test_enqueue('google', k) FROM unnest(ARRAY['g_ok_1', 'g_ok_2', 'bad_g', 'dup_g', 'recent_g']) k;
SELECT attribution_test_enqueue('meta', 'm_ok_' || g) FROM generate_series(1, 7) g;
SELECT attribution_test_enqueue('meta', 'bad_m');
SELECT attribution_test_enqueue('meta', 'm_stale', '8 days');
SELECT attribution_test_enqueue('tiktok', k) FROM unnest(ARRAY['t_ok_1', 't_ok_2', 'bad_t', 't_ok_3']) k;
SELECT attribution_test_enqueue('linkedin', k) FROM unnest(ARRAY['l_ok_1', 'bad_l', 'l_ok_2', 'l_ok_3']) k;
COMMIT;
});

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM attribution.outbox WHERE status IN ('pending', 'in_flight')"),
	'every event reaches an outcome');

is(q1(q{SELECT string_agg(dedup_key || '=' || status, ',' ORDER BY dedup_key)
        FROM attribution.outbox o JOIN attribution.destinations d ON d.id = o.destination_id
        WHERE d.name = 'google'}),
	'bad_g=dead,dup_g=delivered,g_ok_1=delivered,g_ok_2=delivered,recent_g=retry',
	'google partial failure: each row gets its own outcome');
like(q1("SELECT last_error FROM attribution.outbox WHERE dedup_key = 'bad_g'"), qr/^EVENT_NOT_FOUND: /,
	'google: the failed row keeps its error code');
is(q1(q{SELECT string_agg(l.status, ',') FROM attribution.delivery_log l
        JOIN attribution.outbox o ON o.id = l.outbox_id WHERE o.dedup_key = 'dup_g'}),
	'duplicate', 'google: an order id already uploaded is logged as a duplicate');
is(q1(q{SELECT next_attempt_at > now() + interval '5 hours' FROM attribution.outbox WHERE dedup_key = 'recent_g'}),
	't', 'google: TOO_RECENT_EVENT is retried hours later');
is(scalar(grep { /^g_ok_/ } keys %{ $mock->accepted('google')->{counts} }), 2,
	'google: the good rows of the batch were accepted');
is($mock->stats->{platforms}{google}{requests}, 1, 'google: the five rows went out in one request');

is(q1(q{SELECT string_agg(DISTINCT status, ',') FROM attribution.outbox WHERE dedup_key LIKE 'm_ok_%'}),
	'delivered', 'meta: the good events of a rejected batch go through');
like(q1("SELECT status || ' ' || last_error FROM attribution.outbox WHERE dedup_key = 'bad_m'"),
	qr/^dead META_100/, 'meta: the bad event is isolated and dead');
is(scalar(grep { /^m_ok_/ } keys %{ $mock->accepted('meta')->{counts} }), 7,
	'meta: the mock accepted the seven good events');
is(q1("SELECT status FROM attribution.outbox WHERE dedup_key = 'm_stale'"), 'expired',
	'meta: the stale event expires before batching');
is(q1(q{SELECT count(*) FROM attribution.delivery_log l JOIN attribution.outbox o ON o.id = l.outbox_id
        WHERE o.dedup_key = 'm_stale'}), '1', 'meta: the stale event has one attempt logged, its expiry');
ok(!exists $mock->accepted('meta')->{received}{m_stale}, 'meta: the stale event was never sent');

is(q1(q{SELECT string_agg(dedup_key || '=' || status, ',' ORDER BY dedup_key) FROM attribution.outbox
        WHERE dedup_key LIKE 't\_%' OR dedup_key = 'bad_t'}),
	'bad_t=dead,t_ok_1=delivered,t_ok_2=delivered,t_ok_3=delivered', 'tiktok: code 20001 fails only the listed rows');
is(q1(q{SELECT string_agg(dedup_key || '=' || status, ',' ORDER BY dedup_key) FROM attribution.outbox
        WHERE dedup_key LIKE 'l\_%' OR dedup_key = 'bad_l'}),
	'bad_l=dead,l_ok_1=delivered,l_ok_2=delivered,l_ok_3=delivered', 'linkedin: a 422 fails the listed index, the rest is re-sent');
my $li = $mock->accepted('linkedin')->{counts};
is(join(',', sort keys %$li), 'l_ok_1,l_ok_2,l_ok_3', 'linkedin: the three good events were accepted');
$mock->clear_faults;

# --- breaker and bounded retries against a failing endpoint -----------------
$mock->fault({ platform => 'webhook', match => 'webhook/fail', mode => 'status', status => 503, count => -1 });
q1(qq{
INSERT INTO attribution.destinations (name, platform, endpoint, max_in_flight, breaker_threshold,
    breaker_cooldown, backoff_base, backoff_cap, max_attempts)
VALUES ('failing', 'webhook', '$url/webhook/fail', 1, 3, '2 seconds',
    '200 ms', '1 second', 4);
SELECT attribution.set_credential('failing', 'tok-fail-SECRET');
SELECT attribution_test_enqueue('failing', 'f_' || g) FROM generate_series(1, 3) g;
});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 3 FROM attribution.outbox WHERE dedup_key LIKE 'f\\_%' AND status = 'dead'"),
	'events against a failing endpoint end dead');
like(q1("SELECT last_error FROM attribution.outbox WHERE dedup_key = 'f_1'"), qr/retries exhausted after 4 attempts/,
	'the dead event says why');
cmp_ok($mock->stats->{platforms}{webhook}{by_endpoint}{'webhook/fail'}, '<=', 12,
	'requests against the failing endpoint are bounded by the attempts');
like(q1(q{SELECT string_agg(event, ',' ORDER BY id) FROM attribution.destination_events
          WHERE destination_id = (SELECT id FROM attribution.destinations WHERE name = 'failing')}),
	qr/^breaker_open/, 'the breaker opened after consecutive failures');
is(q1("SELECT breaker_state FROM attribution.delivery_health WHERE name = 'failing'"), 'open',
	'delivery_health shows the breaker open');

q1(qq{UPDATE attribution.destinations SET endpoint = '$url/webhook/ok' WHERE name = 'failing';
      SELECT attribution_test_enqueue('failing', 'f_after');});
ok($node->poll_query_until('postgres',
	"SELECT status = 'delivered' FROM attribution.outbox WHERE dedup_key = 'f_after'"),
	'after the cool-down a probe goes out and succeeds');
like(q1(q{SELECT string_agg(event, ',' ORDER BY id) FROM attribution.destination_events
          WHERE destination_id = (SELECT id FROM attribution.destinations WHERE name = 'failing')}),
	qr/breaker_half_open,breaker_closed$/, 'the breaker went half open, then closed');
is(q1("SELECT breaker_state FROM attribution.delivery_health WHERE name = 'failing'"), 'closed',
	'delivery_health shows the breaker closed');
ok($mock->accepted('webhook')->{counts}{f_after}, 'the mock accepted the probe');

# --- mixed fault run ----------------------------------------------------------
$mock->reset;
$mock->fault({ platform => '*', rate_5xx => 0.2, rate_429 => 0.1, rate_timeout => 0.02,
	seed => 7, retry_after => 1, seconds => 3 });
$mock->token(platform => 'meta', token => 'tok-meta-OLD', state => 'expired');
q1(q{
UPDATE attribution.destinations SET backoff_base = '100 ms', backoff_cap = '2 seconds', breaker_threshold = 1000,
       max_attempts = 40, retry_window = '1 hour', max_in_flight = 4
WHERE name IN ('google', 'meta', 'tiktok', 'linkedin');
SELECT attribution.set_credential('meta', 'tok-meta-OLD');
SELECT attribution_test_enqueue(d, 'mix_' || d || '_' || g)
FROM unnest(ARRAY['google', 'meta', 'tiktok', 'linkedin']) d, generate_series(1, 60) g;
});

ok($node->poll_query_until('postgres',
	"SELECT pause_reason = 'credential_invalid' FROM attribution.delivery_health WHERE name = 'meta'"),
	'an expired token pauses its destination, visibly in delivery_health');
is(q1("SELECT count(*) FROM attribution.outbox WHERE dedup_key LIKE 'mix_meta_%' AND status IN ('dead', 'expired')"),
	'0', 'the paused destination holds its events');
like(q1(q{SELECT string_agg(event, ',') FROM attribution.destination_events
          WHERE destination_id = (SELECT id FROM attribution.destinations WHERE name = 'meta')}),
	qr/credential_invalid/, 'the credential failure is logged');
my $paused_at = q1(q{SELECT extract(epoch FROM max(at)) FROM attribution.destination_events
                     WHERE event = 'credential_invalid'
                       AND destination_id = (SELECT id FROM attribution.destinations WHERE name = 'meta')});
sleep 2;

q1("SELECT attribution.set_credential('meta', 'tok-meta-NEW-SECRET')");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM attribution.outbox WHERE dedup_key LIKE 'mix\\_%' AND status NOT IN ('delivered', 'dead')"),
	'the mixed fault run ends');
# Every fault of the run is retryable (5xx, 429, timeouts, a token replaced):
# with attempts to spare, every event must be delivered, none dead.
is(q1(q{SELECT coalesce(string_agg(status || ':' || coalesce(last_error, ''), '; '), 'none')
          FROM attribution.outbox WHERE dedup_key LIKE 'mix\_%' AND status <> 'delivered'}),
	'none', 'every event of the mixed fault run is delivered');
my $missing = 0;
my %acc = map { $_ => $mock->accepted($platform{$_}, events => 0)->{counts} } qw(google meta tiktok linkedin);
for my $line (split /\n/, q1(q{SELECT d.name || ' ' || o.dedup_key FROM attribution.outbox o
                                JOIN attribution.destinations d ON d.id = o.destination_id
                                WHERE o.dedup_key LIKE 'mix\_%' AND o.status = 'delivered'}))
{
	my ($d, $key) = split / /, $line;
	$missing++ unless $acc{$d}{$key};
}
is($missing, 0, 'the platforms accepted every event the outbox says was delivered');
my $st = $mock->stats->{platforms};
cmp_ok($st->{$_}{requests} // 0, '<', 60, "$_: retries stay bounded") for qw(google meta tiktok linkedin);
my $faults = 0;
for my $p (qw(google meta tiktok linkedin))
{
	$faults += $_ for values %{ $st->{$p}{faults} // {} };
}
cmp_ok($faults, '>', 0, 'faults were injected');
my $old_fp = substr(sha256_hex('tok-meta-OLD'), 0, 12);
my @late = grep { $_->{token_fp} eq $old_fp && $_->{time} > $paused_at + 1 }
  @{ $mock->requests(platform => 'meta', bodies => 0) };
is(scalar(@late), 0, 'meta: no request with the expired token after the pause');
my $new_fp = substr(sha256_hex('tok-meta-NEW-SECRET'), 0, 12);
ok(scalar(grep { $_->{token_fp} eq $new_fp } @{ $mock->requests(platform => 'meta', bodies => 0) }),
	'meta: the held events went out with the new token');

my $log = slurp_file($node->logfile);
unlike($log, qr/SECRET|tok-meta-OLD/, 'no token appears in the server log');

$node->stop;
$mock->stop;
done_testing();
