# report_html() as a reader sees it: rendered by headless Chromium, every
# chart has the bars and points the data calls for, each of non-zero size,
# and the sections' text is visible.  The screenshot is kept in
# tmp_check/report/report.png.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(dirname);
use JSON::PP;

my $top = dirname(__FILE__) . '/../..';
my $node = PostgreSQL::Test::Cluster->new('report');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_attribution'
pg_attribution.database = 'app'
});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION pg_attribution');
$node->safe_psql('app', slurp_file("$top/test/report/fixture.sql"));
my ($from, $to) = ("'2035-01-01'", "'2035-04-01'");
$node->safe_psql('app', "SELECT attribution.fit_models($from, $to, '{\"models\": [\"markov\", \"shapley_zhao_simplified\", \"shapley_fractribution\"]}')");

# What the data calls for, computed apart from the report's own queries.
my $q = sub { $node->safe_psql('app', shift) };
my $run = $q->("SELECT max(run_id) FROM attribution.model_runs");
my $rule_bars = $q->(qq{
SELECT count(DISTINCT (cr.model, cr.channel))
  FROM attribution.credits cr JOIN attribution.conversions c ON c.id = cr.conversion_id
 WHERE c.is_first_payment AND c.occurred_at >= $from AND c.occurred_at < $to AND cr.weight > 0});
my $driven_bars = $q->("SELECT count(*) FROM attribution.model_results WHERE run_id = $run AND conversions > 0");
my $ltv_bars = $q->(qq{
SELECT count(*) FROM (
  SELECT cr.channel, avg((SELECT sum(x.value) FROM attribution.conversions x WHERE x.customer_id = c.customer_id)) AS a
    FROM attribution.conversions c
    JOIN attribution.credits cr ON cr.conversion_id = c.id AND cr.model = 'first_touch'
   WHERE c.is_first_payment AND c.occurred_at >= $from AND c.occurred_at < $to
   GROUP BY cr.channel) s WHERE a > 0});
my $weeks = $q->("SELECT count(*) FROM generate_series(date_trunc('week', ${from}::timestamp), date_trunc('week', ${to}::timestamp - interval '1 microsecond'), '1 week')");
my @codes = split /\n/, $q->(qq{
SELECT DISTINCT cr.referral_code FROM attribution.credits cr JOIN attribution.conversions c ON c.id = cr.conversion_id
 WHERE cr.model = 'last_touch' AND cr.referral_code IS NOT NULL AND c.occurred_at >= $from AND c.occurred_at < $to});
cmp_ok(scalar(@codes), '>', 0, 'the fixture credits a referral code');
cmp_ok($rule_bars, '>', 20, 'the fixture credits many model and channel pairs');

my $dir = $PostgreSQL::Test::Utils::tmp_check . '/report';
mkdir $dir;
my $html = $q->("SELECT attribution.report_html($from, $to)");
open(my $fh, '>:raw', "$dir/report.html") or die;
print $fh $html;
close $fh;
my $expect = {
	charts => {
		'channel-credit' => { bars => $rule_bars + $driven_bars },
		'ltv'            => { bars => $ltv_bars },
		'timeline'       => { points => 2 * $weeks },
	},
	texts => [ 'Attribution report', 'Channel credit by model', 'Lifetime value and retention by first channel',
		'Revenue and conversions over time', 'Referral program', 'Delivery health',
		'UTM convention violations', 'Paid Search', 'Referral Program',
		"fit_models run $run", @codes ],
};
open($fh, '>', "$dir/expect.json") or die;
print $fh encode_json($expect);
close $fh;

my ($out, $err);
my $ok = IPC::Run::run([ 'python3', "$top/test/report/render_check.py", "$dir/report.html", "$dir/expect.json", $dir ],
	'>', \$out, '2>', \$err);
note($out);
note($err) if $err;
ok($ok, 'Chromium renders every chart with the expected bars and points, and the text') or diag($out . $err);
ok(-s "$dir/report.png" > 10000, 'a screenshot of the report is kept');

$node->stop;
done_testing();
