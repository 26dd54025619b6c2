
# A platform token reaches only the host it was stored for, and never the
# server log:
#  - an administrator who points a destination at another host (here the
#    same contract mock under the name "localhost" instead of 127.0.0.1)
#    drops the stored token: the request to the new host carries none, and
#    the token is sent again only after the owner stores it anew;
#  - plain http is allowed only to a loopback address literal or localhost,
#    never to a name that merely starts with "127." (127.0.0.1.nip.io);
#  - a failing set_credential or set_webhook_secret given a literal secret
#    logs no STATEMENT line with it (log_min_error_statement = error).

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

my $node = PostgreSQL::Test::Cluster->new('token_host');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_attribution'
log_statement = 'none'
log_min_error_statement = error
pg_attribution.database = 'postgres'
pg_attribution.ca_file = '$ca'
pg_attribution.allow_http_loopback = on
});
$node->append_conf('postgresql.conf', DeliveryFixtures::vault_conf(PostgreSQL::Test::Utils::tempdir));
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_attribution');
$node->safe_psql('postgres', DeliveryFixtures::enqueue_function_sql());

sub q1 { return $node->safe_psql('postgres', $_[0]); }

sub fp { return substr(sha256_hex($_[0]), 0, 12); }

my $port = $mock->https_port;
my $token = 'EAAB-host-bound-SECRET';
my $fresh = 'EAAB-host-new-SECRET';
q1(qq{
INSERT INTO attribution.destinations (name, platform, endpoint, account, batch_size)
VALUES ('meta', 'meta', 'https://127.0.0.1:$port', '{"pixel_id":"1234567890123456","api_version":"v25.0"}', 50);
SELECT attribution.set_credential('meta', '$token');
SELECT attribution_test_enqueue('meta', 'a_1');
});
ok($node->poll_query_until('postgres',
	"SELECT status = 'delivered' FROM attribution.outbox WHERE dedup_key = 'a_1'"),
	'delivered with the stored token to the host it was stored for');
is($mock->requests(platform => 'meta')->[-1]{token_fp}, fp($token), 'the request carried the token');
my $seen = scalar @{ $mock->requests(platform => 'meta') };

# The administrator moves the endpoint to another host: the token is gone.
my ($ret, $out, $err) = $node->psql('postgres', qq{
SET ROLE attribution_admin;
UPDATE attribution.destinations SET endpoint = 'https://localhost:$port' WHERE name = 'meta';
});
q1("SELECT attribution_test_enqueue('meta', 'b_1')");
is($ret, 0, 'attribution_admin may change the endpoint') or diag($err);
like($err, qr/stored credential\(s\) of destination "meta" were removed/, 'and is told the token was dropped');
is(q1("SELECT count(*) FROM attribution.credentials"), '0', 'no token is stored any more');
ok($node->poll_query_until('postgres',
	"SELECT (SELECT attempts > 0 FROM attribution.outbox WHERE dedup_key = 'b_1')
	     OR (SELECT pause_reason IS NOT NULL FROM attribution.destinations WHERE name = 'meta')"),
	'the worker took up the event for the new host');
my @after = @{ $mock->requests(platform => 'meta') }[ $seen .. $#{ $mock->requests(platform => 'meta') } ];
my @leaked = grep { ($_->{token_fp} // '') eq fp($token) } @after;
is(scalar @leaked, 0, 'the old token never reached the new host');

# The owner stores a token for the new host: it goes there.
q1(qq{SELECT attribution.set_credential('meta', '$fresh');
      SELECT attribution.resume_destination(id) FROM attribution.destinations WHERE name = 'meta';
      SELECT attribution_test_enqueue('meta', 'c_1');});
ok($node->poll_query_until('postgres',
	"SELECT status = 'delivered' FROM attribution.outbox WHERE dedup_key = 'c_1'"),
	'a token stored for the new host is used there');
is($mock->requests(platform => 'meta')->[-1]{token_fp}, fp($fresh), 'with the new token');

# Plain http: a name that only starts with 127. is not loopback.
my $hport = $mock->http_port;
q1(qq{
INSERT INTO attribution.destinations (name, platform, endpoint)
VALUES ('nip', 'webhook', 'http://127.0.0.1.nip.io:$hport/webhook/nip'),
       ('lo', 'webhook', 'http://127.0.0.1:$hport/webhook/lo');
SELECT attribution.set_credential('nip', 'tok-nip-SECRET');
SELECT attribution.set_credential('lo', 'tok-lo-SECRET');
SELECT attribution_test_enqueue('nip', 'nip_1');
SELECT attribution_test_enqueue('lo', 'lo_1');
});
ok($node->poll_query_until('postgres',
	"SELECT pause_reason = 'endpoint_rejected' FROM attribution.destinations WHERE name = 'nip'"),
	'plain http to 127.0.0.1.nip.io is refused before any lookup');
ok($node->poll_query_until('postgres',
	"SELECT status = 'delivered' FROM attribution.outbox WHERE dedup_key = 'lo_1'"),
	'plain http to 127.0.0.1 is allowed');

# Failing calls given literal secrets: no STATEMENT line holds them.
my @calls = (
	"SELECT attribution.set_credential('no_such_destination', 'tok-literal-SECRET-1')",
	"SELECT attribution.set_credential('meta', 'tok-literal-SECRET-2', NULL, 'bad_kind')",
	"SELECT attribution.set_credential('meta', 'tok-literal-SECRET-3', NULL, NULL)",
	"SELECT attribution.set_credential(NULL, 'tok-literal-SECRET-4')",
	"SELECT attribution.set_webhook_secret('no_such_source', 'whsec-literal-SECRET-5')",
	"SELECT attribution.set_webhook_secret('stripe', 'SECRET')",
	"SELECT attribution.set_webhook_secret('stripe', 'SECRET-too-long-" . ('x' x 600) . "')",
);
my $failed = 0;
foreach my $sql (@calls)
{
	my ($r) = $node->psql('postgres', $sql);
	$failed++ if $r != 0;
}
is($failed, scalar(@calls), 'every call failed');
my $log = slurp_file($node->logfile);
like($log, qr/destination "no_such_destination" does not exist/, 'the errors were logged');
unlike($log, qr/SECRET/, 'no token or secret appears in the server log');
unlike($log, qr/STATEMENT:.*set_(credential|webhook_secret)/, 'no failing secret call is logged as a statement');

$node->stop;
$mock->stop;
done_testing();
