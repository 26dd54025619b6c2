
# Crash safety of delivery, against the contract mock (test/mock/) over
# HTTPS: kill -9 of the postmaster while requests are in flight loses no
# outbox row, and after restart every event is delivered (each
# de-duplication key accepted by the mock at least once); a killed
# worker is started again; the worker does not block DROP DATABASE; no token
# reaches the server log.

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
use Time::HiRes;

my $mock = MockServer->start(https => 1);
my $ca = $mock->ca_file;

my $node = PostgreSQL::Test::Cluster->new('delivery_crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_attribution'
log_statement = 'none'
pg_attribution.database = 'postgres'
pg_attribution.ca_file = '$ca'
pg_attribution.delivery_lease = 10
restart_after_crash = on
});
$node->append_conf('postgresql.conf', DeliveryFixtures::vault_conf(PostgreSQL::Test::Utils::tempdir));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_attribution');
$node->safe_psql('postgres', DeliveryFixtures::enqueue_function_sql());
$node->safe_psql('postgres', DeliveryFixtures::destinations_sql($mock->https_url, batch_size => 20));

sub worker_pid
{
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_attribution delivery'");
}

# Slow answers keep requests in flight when the postmaster dies.
$mock->fault({ platform => '*', mode => 'slow', delay_ms => 500, count => -1 });
$node->safe_psql('postgres', q{
SELECT attribution_test_enqueue(d, 'crash_' || d || '_' || g)
FROM unnest(ARRAY['google', 'meta', 'tiktok', 'linkedin', 'webhook']) d, generate_series(1, 200) g;
});
ok($node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM attribution.outbox WHERE status = 'in_flight'"),
	'requests are in flight');

my $postmaster = $node->{_pid};
$node->kill9;
# Start again once the killed postmaster is gone and its children, which
# notice its death, have left the shared memory.
for (1 .. 100)
{
	last unless kill(0, $postmaster);
	Time::HiRes::usleep(100_000);
}
sleep 2;
$node->start;
$mock->clear_faults;

is($node->safe_psql('postgres', "SELECT count(*) FROM attribution.outbox WHERE dedup_key LIKE 'crash\\_%'"),
	'1000', 'no outbox row is lost');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM attribution.outbox WHERE dedup_key LIKE 'crash\\_%' AND status <> 'delivered'"),
	'after restart every event is delivered (lapsed leases are claimed again)');

my $missing = 0;
for my $d (qw(google meta tiktok linkedin webhook))
{
	my $counts = $mock->accepted($d, events => 0)->{counts};
	for my $g (1 .. 200)
	{
		$missing++ unless $counts->{"crash_${d}_$g"};
	}
}
is($missing, 0, 'the mock accepted every de-duplication key at least once');

# A killed worker is started again by its launcher (the crash restart also
# restarts it, so terminate it the polite way here).
my $pid = worker_pid();
ok($pid, 'the worker runs');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_attribution delivery' AND pid <> $pid"),
	'the worker is started again after it exits');
$node->safe_psql('postgres', "SELECT attribution_test_enqueue('meta', 'after_restart')");
ok($node->poll_query_until('postgres',
	"SELECT status = 'delivered' FROM attribution.outbox WHERE dedup_key = 'after_restart'"),
	'the new worker delivers');

# The worker follows pg_attribution.database; it waits quietly for a
# database that does not exist yet and never blocks DROP DATABASE.
$node->append_conf('postgresql.conf', "pg_attribution.database = 'later_db'\n");
$node->reload;
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_attribution delivery'"),
	'no worker while the database does not exist');
$node->safe_psql('postgres', 'CREATE DATABASE later_db');
$node->safe_psql('later_db', 'CREATE EXTENSION pg_attribution');
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_attribution delivery' AND datname = 'later_db'"),
	'the worker starts once the database exists');
my ($ret, $out, $err) = $node->psql('postgres', 'DROP DATABASE later_db');
is($ret, 0, 'DROP DATABASE is not blocked by the worker');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'later_db'"), '0',
	'the database is gone');
my $log = slurp_file($node->logfile);
unlike($log, qr/database "later_db" does not exist/, 'no failing connection attempts while waiting');
unlike($log, qr/SECRET/, 'no token appears in the server log');

$node->stop;
$mock->stop;
done_testing();
