# The server log never holds a webhook secret: not when one is stored,
# rotated, used to verify webhooks, nor in any error path of
# set_webhook_secret (unknown source, bad length, missing or wrong vault key,
# a PL/pgSQL caller), with the most verbose logging of messages.
#
# Statement logging (log_statement, on by default in TAP clusters) is turned
# off: it logs the text of every statement, literals included, and callers
# must pass secrets as bind parameters for that reason; that is the caller's
# concern, not tested here.
use strict;
use warnings;

use Digest::SHA qw(hmac_sha256_hex);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my %secret = (
	first   => 'whsec_tapSecretOne_8f3a1c04b7',
	second  => 'whsec_tapSecretTwo_77d2e9a15c',
	unknown => 'tapSecretThree_unknown_51b0c2',
	nokey   => 'tapSecretFour_nokey_0c9e1d33',
	wrapper => 'tapSecretFive_wrapper_e4a7f0',
	toolong => 'tapSecretSix_toolong_' . ('q' x 600),
);

my $node = PostgreSQL::Test::Cluster->new('ingest_secrets');
$node->init;

# Two vault keys, readable by the server's user only.
my $keyfile = $node->data_dir . '/vault.key';
my $otherkey = $node->data_dir . '/vault_other.key';
foreach my $k ([ $keyfile, '3c' x 32 ], [ $otherkey, 'c3' x 32 ])
{
	open(my $fh, '>', $k->[0]) or die "could not write $k->[0]: $!";
	print $fh $k->[1], "\n";
	close $fh;
	chmod 0600, $k->[0];
}

$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_attribution'
pg_attribution.vault_key_file = '$keyfile'
log_statement = none
log_min_messages = debug1
log_min_error_statement = error
log_error_verbosity = verbose
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_attribution');

# Store, rotate, and store the first secret again (not stored twice).
my $id1 = $node->safe_psql('postgres',
	"SELECT attribution.set_webhook_secret('stripe', '$secret{first}')");
my $id2 = $node->safe_psql('postgres',
	"SELECT attribution.set_webhook_secret('stripe', '$secret{second}')");
isnt($id1, $id2, 'a rotated secret is a second active secret');
is($node->safe_psql('postgres',
		"SELECT attribution.set_webhook_secret('stripe', '$secret{first}')"),
	$id1, 'an active secret is not stored twice');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM attribution.webhook_secret_status WHERE source = 'stripe' AND active"),
	'2', 'two active secrets');

# Webhooks signed with either secret verify; a forged one is rejected.
my $t = time();
my $body = '{"id":"evt_tap_001","object":"event","type":"invoice.paid","data":{"object":{"id":"in_tap_001"}}}';
foreach my $name ('first', 'second')
{
	my $sig = hmac_sha256_hex("$t.$body", $secret{$name});
	my $status = $node->safe_psql('postgres',
		"SELECT status FROM attribution.ingest_webhook('stripe', "
		  . "jsonb_build_object('Stripe-Signature', 't=$t,v1=$sig'), '$body')");
	like($status, qr/^(accepted|duplicate)$/, "signed with the $name secret: $status");
}
is($node->safe_psql('postgres',
		"SELECT (r).status || ' ' || (r).http_status FROM (SELECT attribution.ingest_webhook('stripe', "
		  . "jsonb_build_object('Stripe-Signature', 't=$t,v1=" . ('0' x 64) . "'), '$body') r) s"),
	'rejected 401', 'a forged signature is rejected');

# Error paths; none may echo the secret to the client either.
my @failing = (
	[ 'unknown source', "SELECT attribution.set_webhook_secret('nosuch', '$secret{unknown}')", 'unknown' ],
	[ 'too long', "SELECT attribution.set_webhook_secret('stripe', '$secret{toolong}')", 'toolong' ],
	[ 'no vault key',
	  "SET pg_attribution.vault_key_file = ''; SELECT attribution.set_webhook_secret('stripe', '$secret{nokey}')",
	  'nokey' ],
	[ 'PL/pgSQL caller',
	  "CREATE FUNCTION pg_temp.wrap(s text) RETURNS bigint LANGUAGE plpgsql AS \$\$ "
	  . "BEGIN RETURN attribution.set_webhook_secret('nosuch', s); END \$\$; "
	  . "SELECT pg_temp.wrap('$secret{wrapper}')", 'wrapper' ],
);
foreach my $case (@failing)
{
	my ($what, $sql, $name) = @$case;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql);
	isnt($ret, 0, "$what: fails");
	unlike($stderr, qr/\Q$secret{$name}\E/, "$what: the error does not quote the secret");
}

# Decryption under another key fails cleanly, without a secret in sight.
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET pg_attribution.vault_key_file = '$otherkey'; "
	  . "SELECT attribution.ingest_webhook('stripe', '{}', '$body')");
like($stderr, qr/encrypted under another vault key/, 'another key is refused with a clear error');

# Key files others may write are refused; ones others may read are used
# with a warning.
my $writable = $node->data_dir . '/vault_writable.key';
my $readable = $node->data_dir . '/vault_readable.key';
foreach my $k ([ $writable, 0666 ], [ $readable, 0644 ])
{
	open(my $fh, '>', $k->[0]) or die "could not write $k->[0]: $!";
	print $fh '3c' x 32, "\n";
	close $fh;
	chmod $k->[1], $k->[0];
}
($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET pg_attribution.vault_key_file = '$writable'; "
	  . "SELECT attribution.set_webhook_secret('paddle', '$secret{nokey}')");
like($stderr, qr/is writable by other users/, 'a key file others may write is refused');
($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET pg_attribution.vault_key_file = '$readable'; "
	  . "SELECT attribution.ingest_webhook('stripe', '{}', '{}')");
like($stderr, qr/WARNING:  vault key file .* is readable by other users/,
	'a key file others may read is used with a warning');

# Revocation.
is($node->safe_psql('postgres', "SELECT attribution.revoke_webhook_secret('stripe', $id1)"),
	'1', 'one secret revoked');
is($node->safe_psql('postgres', "SELECT attribution.revoke_webhook_secret('stripe')"),
	'1', 'the rest revoked');

$node->stop;

my $log = slurp_file($node->logfile);
like($log, qr/unknown webhook source "nosuch"/, 'errors were logged');
like($log, qr/no vault key is configured/, 'the missing key was logged');
unlike($log, qr/STATEMENT:\s+SELECT attribution\.set_webhook_secret/,
	'statements of failed set_webhook_secret calls are not logged');
foreach my $name (sort keys %secret)
{
	unlike($log, qr/\Q$secret{$name}\E/, "the log never holds the $name secret");
}

done_testing();
