# The inbox processor worker: waits quietly for its database and the
# extension, is woken at commit, retries a failing row with backoff while
# the others go through, is restarted after SIGTERM, drains a backlog after
# a restart, reports itself, and never blocks DROP DATABASE.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('processor');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_attribution'
pg_attribution.database = 'app'
max_worker_processes = 16
log_min_messages = log
});
$node->start;

# Bodies of Stripe invoice.paid events for customer cus_tap, numbered.
sub enqueue_sql
{
	my ($from, $to, $prefix) = @_;
	$prefix //= 'evt_tap_';
	return qq{
INSERT INTO attribution.webhook_inbox (source, event_id, event_type, body, body_sha256)
SELECT 'stripe', '$prefix' || g, 'invoice.paid', b, md5(b)
  FROM generate_series($from, $to) g,
       LATERAL (SELECT format('{"id":"$prefix%s","object":"event","type":"invoice.paid","created":%s,"data":{"object":{"id":"in_$prefix%s","object":"invoice","billing_reason":"manual","amount_paid":1000,"currency":"usd","customer":"cus_tap"}}}',
                              g, 1767225600 + g, g) AS b) s;
};
}

# 1. No database yet: the launcher waits without errors.
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_attribution launcher'")
  or die 'launcher did not start';
sleep 2;
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_attribution processor'"),
	'0', 'no processor while the database does not exist');
ok(!$node->log_contains(qr/FATAL/), 'no FATAL while waiting for the database');

# 2. The database appears (CREATE DATABASE wakes the launcher), then the
# extension.
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_attribution processor' AND datname = 'app'")
  or die 'processor did not start';
$node->safe_psql('app', 'CREATE EXTENSION pg_attribution');
$node->poll_query_until('app', "SELECT state = 'idle' FROM attribution.worker_status")
  or die 'processor did not become idle';

# 3. Woken at commit: a batch is drained well before the 60 s safety net.
my $t0 = time();
$node->safe_psql('app', enqueue_sql(1, 300));
$node->poll_query_until('app', "SELECT backlog = 0 FROM attribution.worker_status")
  or die 'backlog not drained';
my $elapsed = time() - $t0;
cmp_ok($elapsed, '<', 30, "300 rows drained after the commit woke the worker ($elapsed s)");
is($node->safe_psql('app',
		"SELECT count(*) FROM attribution.billing_events WHERE customer_id = 'cus_tap'"),
	'300', 'one billing event per row');

# 4. Reported in pg_stat_activity and worker_status.
my $pid = $node->safe_psql('app',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_attribution processor'");
like($pid, qr/^\d+$/, 'processor listed in pg_stat_activity with its backend type');
is($node->safe_psql('app', 'SELECT pid FROM attribution.worker_status'),
	$pid, 'worker_status shows the same pid');
is($node->safe_psql('app',
		"SELECT database || ' ' || (rows_processed >= 300) || ' ' || (last_processed_at IS NOT NULL) FROM attribution.worker_status"),
	'app true true', 'worker_status counts processed rows');

# 5. A failing row is retried with backoff; the rows around it go through.
$node->safe_psql('app', q{
INSERT INTO attribution.webhook_inbox (source, event_id, event_type, body, body_sha256)
VALUES ('stripe', 'evt_tap_bad', 'invoice.paid',
        '{"id":"evt_tap_bad","type":"invoice.paid","created":1767225600,"data":{"object":{"id":"in_tap_bad","billing_reason":"manual","amount_paid":5,"currency":"not-a-currency","customer":"cus_tap"}}}', 'x');
} . enqueue_sql(301, 310));
$node->poll_query_until('app',
	"SELECT count(*) = 310 FROM attribution.billing_events WHERE customer_id = 'cus_tap'")
  or die 'rows after the failing one were not processed';
$node->poll_query_until('app',
	"SELECT attempts >= 3 FROM attribution.webhook_inbox WHERE event_id = 'evt_tap_bad'")
  or die 'failing row not retried';
my ($status, $err) = split /\|/, $node->safe_psql('app',
	"SELECT status, last_error FROM attribution.webhook_inbox WHERE event_id = 'evt_tap_bad'");
is($status, 'error', 'failing row has status error');
like($err, qr/^22023: currency "not-a-currency"/, 'last_error carries SQLSTATE and message');
is($node->safe_psql('app', 'SELECT errors FROM attribution.worker_status'), '1',
	'worker_status counts the failed row');
# Backoff doubles: after n attempts the next try is 2^(n-1) s after the last.
$node->safe_psql('app', "UPDATE attribution.webhook_inbox SET attempts = 9 WHERE event_id = 'evt_tap_bad'");
$node->poll_query_until('app',
	"SELECT attempts = 10 FROM attribution.webhook_inbox WHERE event_id = 'evt_tap_bad'")
  or die 'failing row not retried after attempts were raised';
my $wait = $node->safe_psql('app',
	"SELECT round(extract(epoch FROM next_attempt_at - clock_timestamp())) FROM attribution.webhook_inbox WHERE event_id = 'evt_tap_bad'");
cmp_ok($wait, '>', 400, "10th failure waits about 512 s ($wait s left)");
cmp_ok($wait, '<=', 512, 'and not longer');
$node->safe_psql('app', "UPDATE attribution.webhook_inbox SET status = 'skipped' WHERE event_id = 'evt_tap_bad'");

# 6. SIGTERM (pg_terminate_backend): exits non-zero and is started again.
$node->safe_psql('app', "SELECT pg_terminate_backend($pid)");
$node->poll_query_until('app',
	"SELECT pid IS NOT NULL AND pid <> $pid AND state = 'idle' FROM attribution.worker_status")
  or die 'processor not restarted after SIGTERM';
ok($node->log_contains(qr/terminating background worker "pg_attribution processor" due to administrator command/),
	'processor exited on SIGTERM');
$node->safe_psql('app', enqueue_sql(311, 320));
$node->poll_query_until('app',
	"SELECT count(*) = 320 FROM attribution.billing_events WHERE customer_id = 'cus_tap'")
  or die 'restarted processor does not process';
pass('restarted processor processes new rows');

# 7. A backlog that built up while no processor ran is drained after a
# restart: point the worker elsewhere, queue rows, restart the server.
$node->safe_psql('postgres', "ALTER SYSTEM SET pg_attribution.database = 'elsewhere'");
$node->reload;
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'pg_attribution processor'")
  or die 'processor did not leave';
$node->safe_psql('app', enqueue_sql(1001, 3000));
is($node->safe_psql('app', 'SELECT backlog FROM attribution.worker_status'), '2000',
	'2000 rows wait while no processor runs');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET pg_attribution.database');
$node->restart;
$node->poll_query_until('app', "SELECT backlog = 0 FROM attribution.worker_status")
  or die 'backlog not drained after restart';
is($node->safe_psql('app',
		"SELECT count(*) || ' ' || count(DISTINCT fact_key) FROM attribution.billing_events WHERE customer_id = 'cus_tap'"),
	'2320 2320', 'backlog drained after restart, each row once');

# 8. DROP DATABASE of the processor's database is not blocked.
$node->safe_psql('postgres', 'CREATE DATABASE victim');
$node->safe_psql('postgres', "ALTER SYSTEM SET pg_attribution.database = 'victim'");
$node->reload;
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_attribution processor' AND datname = 'victim'")
  or die 'processor did not move to victim';
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'DROP DATABASE victim');
is($ret, 0, 'DROP DATABASE succeeds while the processor is connected');
is($stderr, '', 'without error');
sleep 3;
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_attribution processor'"),
	'0', 'no processor for the dropped database');
my $log = slurp_file($node->logfile);
my $missing = () = $log =~ /database "victim" does not exist/g;
cmp_ok($missing, '<=', 1, 'the launcher does not loop on the missing database');

# Back to app.
$node->safe_psql('postgres', 'ALTER SYSTEM RESET pg_attribution.database');
$node->reload;
$node->poll_query_until('app', "SELECT state = 'idle' AND database = 'app' FROM attribution.worker_status")
  or die 'processor did not come back to app';
pass('processor back on its database');

$node->stop;
done_testing();
