
# Tokens from the credential vault: the worker sends the token stored with
# attribution.set_credential (decrypted in the worker, never logged); when
# the platform says it expired, the credential is marked invalid and the
# destination paused with its events held; storing a new token resumes it
# and the held events go out with the new token.

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

my $node = PostgreSQL::Test::Cluster->new('delivery_vault');
$node->init;
my $keyfile = $node->data_dir . '/vault.key';
open(my $fh, '>', $keyfile) or die "could not write $keyfile: $!";
print $fh ('5a' x 32), "\n";
close $fh;
chmod 0600, $keyfile;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_attribution'
log_statement = 'none'
pg_attribution.database = 'postgres'
pg_attribution.ca_file = '$ca'
pg_attribution.vault_key_file = '$keyfile'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_attribution');
$node->safe_psql('postgres', DeliveryFixtures::enqueue_function_sql());
my $url = $mock->https_url;
$node->safe_psql('postgres', qq{
INSERT INTO attribution.destinations (name, platform, endpoint, account, batch_size)
VALUES ('meta', 'meta', '$url', '{"pixel_id":"1234567890123456","api_version":"v25.0"}', 50);
});

sub q1 { return $node->safe_psql('postgres', $_[0]); }

sub fp { return substr(sha256_hex($_[0]), 0, 12); }

my $first = 'EAAB-vault-token-ONE-SECRET';
my $second = 'EAAB-vault-token-TWO-SECRET';
q1("SELECT attribution.set_credential('meta', '$first')");
q1(q{SELECT attribution_test_enqueue('meta', 'v_' || g) FROM generate_series(1, 5) g});
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 5 FROM attribution.outbox WHERE dedup_key LIKE 'v\\_%' AND status = 'delivered'"),
	'events go out with the stored token');
my %fps = map { $_->{token_fp} => 1 } @{ $mock->requests(platform => 'meta') };
is_deeply([ sort keys %fps ], [ fp($first) ], 'the request carried the vault token');

$mock->token(platform => 'meta', token => $first, state => 'expired');
q1(q{SELECT attribution_test_enqueue('meta', 'w_' || g) FROM generate_series(1, 5) g});
ok($node->poll_query_until('postgres',
	"SELECT pause_reason = 'credential_invalid' FROM attribution.destinations WHERE name = 'meta'"),
	'an expired token pauses the destination');
is(q1("SELECT status FROM attribution.credentials c JOIN attribution.destinations d ON d.credential_id = c.id WHERE d.name = 'meta'"),
	'invalid', 'the credential is marked invalid');
is(q1("SELECT count(*) FROM attribution.outbox WHERE dedup_key LIKE 'w\\_%' AND status IN ('dead', 'expired')"),
	'0', 'the events are held, not dead');

q1("SELECT attribution.set_credential('meta', '$second')");
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 5 FROM attribution.outbox WHERE dedup_key LIKE 'w\\_%' AND status = 'delivered'"),
	'a new token resumes the destination and the held events go out');
my $last = $mock->requests(platform => 'meta')->[-1];
is($last->{token_fp}, fp($second), 'with the new token');

my $log = slurp_file($node->logfile);
unlike($log, qr/SECRET/, 'no token appears in the server log');

$node->stop;
$mock->stop;
done_testing();
