# A cluster with pg_attribution preloaded keeps its data across restarts and
# crashes, and its settings load from the configuration and follow reloads.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use AttributionCrash;

my $node = PostgreSQL::Test::Cluster->new('capture');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_attribution'
pg_attribution.database = 'postgres'
pg_attribution.referral_params = 'ref, invite'
pg_attribution.max_url_length = 4096
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION pg_attribution');

is($node->safe_psql('postgres', 'SHOW pg_attribution.max_url_length'), '4kB',
	'max_url_length read from postgresql.conf');
is($node->safe_psql('postgres', 'SHOW pg_attribution.database'), 'postgres',
	'database read from postgresql.conf');
is($node->safe_psql('postgres',
		"SELECT (attribution.parse_landing_url('https://a.example/?invite=I1')).referral_code"),
	'I1', 'referral parameter names from postgresql.conf');

# Reload: a changed setting reaches new and existing sessions.
$node->append_conf('postgresql.conf', "pg_attribution.referral_params = 'partner'\n");
$node->reload;
$node->poll_query_until('postgres',
	"SELECT (attribution.parse_landing_url('https://a.example/?partner=P2')).referral_code = 'P2'")
  or die 'reloaded referral_params never took effect';
is($node->safe_psql('postgres',
		"SELECT (attribution.parse_landing_url('https://a.example/?invite=I1')).referral_code IS NULL"),
	't', 'names dropped from the setting no longer count');

# An unknown setting under the reserved prefix is reported, not silently kept.
$node->append_conf('postgresql.conf', "pg_attribution.no_such_setting = 1\n");
$node->reload;
$node->poll_query_until('postgres', "SELECT true")
  or die 'server did not answer after reload';
ok($node->log_contains(qr/invalid configuration parameter name "pg_attribution.no_such_setting"|unrecognized configuration parameter "pg_attribution.no_such_setting"/),
	'unknown pg_attribution setting reported in the log');

# Data survives a clean restart and a crash.
$node->safe_psql('postgres', q{
	SELECT attribution.track_touch('v' || g, 'https://app.example/?utm_source=google&utm_medium=cpc&utm_campaign=c' || (g % 7),
	                               NULL, '2026-01-01'::timestamptz + g * interval '1 minute')
	  FROM generate_series(1, 500) g;
	SELECT attribution.identify('v' || g, 'u' || (g % 50)) FROM generate_series(1, 500) g;
});
$node->restart;
is($node->safe_psql('postgres', 'SELECT count(*) FROM attribution.touchpoints'), '500',
	'touchpoints kept across restart');

$node->safe_psql('postgres',
	"SELECT attribution.track_touch('after', 'https://app.example/?partner=R9', NULL, '2026-02-01')");
crash_and_restart($node);
is($node->safe_psql('postgres', 'SELECT count(*) FROM attribution.touchpoints'), '501',
	'committed touch kept across a crash');
is($node->safe_psql('postgres', "SELECT count(DISTINCT user_id) FROM attribution.journeys"), '50',
	'journeys resolve every user after the crash');
is($node->safe_psql('postgres', "SELECT channel FROM attribution.touchpoints WHERE visitor_id = 'after'"),
	'Referral Program', 'channel rules still classify after the crash');

$node->stop;
done_testing();
