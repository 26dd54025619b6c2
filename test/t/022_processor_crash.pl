# Crashes during normalisation lose nothing and double nothing: kill -9 of
# the postmaster, then of the processor alone, while a large backlog is
# being normalised.  Each inbox row is marked done in the transaction that
# records its facts, so after recovery every row is done once and every
# fact is in the ledger once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use AttributionCrash;

my $rows = 20000;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_attribution'
pg_attribution.database = 'app'
pg_attribution.processor_batch_size = 200
max_worker_processes = 16
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION pg_attribution');
$node->poll_query_until('app', "SELECT state = 'idle' FROM attribution.worker_status")
  or die 'processor did not start';

# Payments and refunds of many customers, so that conversions and LTV are
# written too.
sub enqueue
{
	my ($from, $to) = @_;
	$node->safe_psql('app', qq{
INSERT INTO attribution.webhook_inbox (source, event_id, event_type, body, body_sha256)
SELECT 'stripe', 'evt_crash_' || g, 'invoice.paid', b, md5(b)
  FROM generate_series($from, $to) g,
       LATERAL (SELECT format('{"id":"evt_crash_%s","object":"event","type":"invoice.paid","created":%s,"data":{"object":{"id":"in_crash_%s","object":"invoice","billing_reason":"subscription_cycle","amount_paid":%s,"currency":"usd","customer":"cus_crash_%s","subscription":"sub_crash_%s","metadata":{"user_id":"u_crash_%s"}}}}',
                              g, 1767225600 + g, g, 100 + g % 7, g % 500, g % 500, g % 500) AS b) s;
});
}

sub check_ledger
{
	my ($expected, $label) = @_;
	$node->poll_query_until('app', "SELECT backlog = 0 FROM attribution.worker_status", 't')
	  or die "$label: backlog not drained";
	is($node->safe_psql('app',
			"SELECT count(*) FILTER (WHERE status = 'done') || ' ' || count(*) FROM attribution.webhook_inbox WHERE event_id LIKE 'evt_crash_%'"),
		"$expected $expected", "$label: every inbox row done");
	is($node->safe_psql('app',
			"SELECT count(*) || ' ' || count(DISTINCT fact_key) FROM attribution.billing_events WHERE customer_id LIKE 'cus_crash_%'"),
		"$expected $expected", "$label: one billing event per row, no doubles");
	is($node->safe_psql('app',
			"SELECT count(*) FROM attribution.conversions WHERE customer_id LIKE 'cus_crash_%'"),
		$expected, "$label: one conversion per payment");
	# LTV is still the running sum of each customer's conversions.
	is($node->safe_psql('app', q{
SELECT count(*) FROM (
  SELECT ltv_minor, sum(value_minor) OVER (PARTITION BY customer_id ORDER BY occurred_at, id) AS running
    FROM attribution.conversions WHERE customer_id LIKE 'cus_crash_%') s
 WHERE ltv_minor <> running}), '0', "$label: LTV consistent");
}

# 1. kill -9 of the postmaster in the middle of the backlog.
enqueue(1, $rows);
$node->poll_query_until('app',
	"SELECT count(*) > 0 FROM attribution.billing_events WHERE customer_id LIKE 'cus_crash_%'")
  or die 'processing did not start';
# Freeze the processor so the count read is the state the crash hits: a
# frozen processor commits nothing more, and is killed before it can.
my $ppid = $node->safe_psql('app', 'SELECT pid FROM attribution.worker_status');
kill 'STOP', $ppid;
my $done_before = $node->safe_psql('app',
	"SELECT count(*) FROM attribution.webhook_inbox WHERE event_id LIKE 'evt_crash_%' AND status = 'done'");
cmp_ok($done_before, '>', 0, "the crash comes after processing began ($done_before rows done)");
cmp_ok($done_before, '<', $rows, "and before the backlog of $rows rows drained");
kill 'KILL', $ppid;
crash_and_restart($node);
is($node->safe_psql('app', 'SELECT 1'), '1', 'the server answers again after kill -9');
ok($node->poll_query_until('app', "SELECT pid IS NOT NULL AND pid <> $ppid FROM attribution.worker_status"),
	'a new processor runs after the crash');
check_ledger($rows, 'postmaster killed');

# 2. kill -9 of the processor alone: the postmaster reinitialises and the
# launcher starts a new processor.
enqueue($rows + 1, 2 * $rows);
$node->poll_query_until('app',
	"SELECT count(*) > $rows FROM attribution.billing_events WHERE customer_id LIKE 'cus_crash_%'")
  or die 'processing did not start';
my $pid = $node->safe_psql('app', 'SELECT pid FROM attribution.worker_status');
kill 'KILL', $pid;
$node->poll_query_until('app', "SELECT pid IS NOT NULL AND pid <> $pid FROM attribution.worker_status")
  or die 'processor not back after crash';
check_ledger(2 * $rows, 'processor killed');

$node->stop;
done_testing();
