
# Helpers for the delivery worker's TAP tests: run test/bench/platform_sink.py
# (plain http or https with a throwaway CA), talk to its control API, and
# create destinations and outbox rows with platform-shaped payloads.

package DeliverySink;

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes;

# Make a CA and a server certificate for 127.0.0.1 / localhost in $dir.
sub make_ca
{
	my ($dir) = @_;
	my $cnf = "$dir/san.cnf";
	open my $fh, '>', $cnf or die "could not write $cnf: $!";
	print $fh "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
	close $fh;
	my @steps = (
		"openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=pg_attribution-test-ca -keyout $dir/ca.key -out $dir/ca.crt",
		"openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout $dir/server.key -out $dir/server.csr",
		"openssl x509 -req -in $dir/server.csr -CA $dir/ca.crt -CAkey $dir/ca.key -CAcreateserial -days 2 -extfile $cnf -out $dir/server.crt",
	);
	for my $cmd (@steps)
	{
		system("$cmd >/dev/null 2>&1") == 0 or die "failed: $cmd";
	}
	return ("$dir/ca.crt", "$dir/server.crt", "$dir/server.key");
}

sub start
{
	my ($class, %opt) = @_;
	my $script = abs_path(dirname(__FILE__) . '/../bench/platform_sink.py');
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my @cmd = ('python3', $script, $port);
	push @cmd, '--tls', $opt{cert}, $opt{key} if $opt{cert};
	# Output goes to a file: a pipe nobody reads would block the server.
	my $log = PostgreSQL::Test::Utils::tempdir() . '/sink.log';
	my $h = IPC::Run::start(\@cmd, '>', $log, '2>&1');
	for (1 .. 300)
	{
		last if -s $log && slurp_file($log) =~ /ready/;
		Time::HiRes::usleep(100_000);
	}
	die 'platform sink did not start: ' . (-e $log ? slurp_file($log) : '')
	  unless -s $log && slurp_file($log) =~ /ready/;
	my $self = bless {
		h => $h,
		port => $port,
		scheme => $opt{cert} ? 'https' : 'http',
		ca => $opt{ca},
	}, $class;
	return $self;
}

sub url
{
	my ($self) = @_;
	return "$self->{scheme}://127.0.0.1:$self->{port}";
}

sub _curl
{
	my ($self, @args) = @_;
	my @cmd = ('curl', '-s', '--max-time', '20');
	push @cmd, '--cacert', $self->{ca} if $self->{ca};
	my ($out, $err) = ('', '');
	IPC::Run::run([ @cmd, @args ], '>', \$out, '2>', \$err)
	  or die "curl failed: $err";
	return decode_json($out);
}

sub get
{
	my ($self, $path) = @_;
	return $self->_curl($self->url . $path);
}

sub post
{
	my ($self, $path, $obj) = @_;
	return $self->_curl('-X', 'POST', '-H', 'Content-Type: application/json',
		'-d', encode_json($obj), $self->url . $path);
}

sub stop
{
	my ($self) = @_;
	$self->{h}->kill_kill if $self->{h};
	$self->{h} = undef;
}

sub DESTROY
{
	my ($self) = @_;
	$self->stop;
}

# A vault key file in $dir, and the setting that names it: destination
# tokens are stored encrypted through the vault, as in production.
sub vault_conf
{
	my ($dir) = @_;
	my $keyfile = "$dir/vault.key";
	open(my $fh, '>', $keyfile) or die "could not write $keyfile: $!";
	print $fh ('5a' x 32), "\n";
	close $fh;
	chmod 0600, $keyfile;
	return "pg_attribution.vault_key_file = '$keyfile'\n";
}

# SQL that inserts a destination of each platform pointed at $url and
# stores its token in the vault; tokens are distinctive so that a test can
# look for them in the server log.
sub destinations_sql
{
	my ($url, %o) = @_;
	my $batch = $o{batch_size} // 1000;
	return qq{
INSERT INTO attribution.destinations (name, platform, endpoint, account, batch_size,
                                      rate_limit_per_sec, max_in_flight, max_event_age)
VALUES
 ('google', 'google_ads', '$url', '{"customer_id":"123-456-7890","api_version":"v24","developer_token":"devtok"}',
  $batch, 200, 4, '90 days'),
 ('meta', 'meta', '$url', '{"pixel_id":"1234567890123456","api_version":"v25.0"}',
  $batch, 200, 4, '7 days'),
 ('tiktok', 'tiktok', '$url', '{"event_source":"web","event_source_id":"CMOCKPIXEL123"}',
  $batch, 200, 4, '28 days'),
 ('linkedin', 'linkedin', '$url', '{"linkedin_version":"202603"}',
  $batch, 200, 4, '90 days'),
 ('webhook', 'webhook', '$url/webhook/in', '{}',
  $batch, 200, 8, '90 days');
SELECT attribution.set_credential(name, 'tok-' || name || '-SECRET')
  FROM attribution.destinations WHERE name IN ('google', 'meta', 'tiktok', 'linkedin', 'webhook');
};
}

# SQL function that queues one platform-shaped event for a destination:
# attribution_test_enqueue(destination name, key, age, kind).
sub enqueue_function_sql
{
	return q{
CREATE FUNCTION attribution_test_enqueue(p_dest text, p_key text, p_age interval DEFAULT '0',
                                         p_kind text DEFAULT 'conversion')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    d attribution.destinations;
    t timestamptz := now() - p_age;
    p jsonb;
    id bigint;
BEGIN
    SELECT * INTO d FROM attribution.destinations WHERE name = p_dest;
    p := CASE d.platform
      WHEN 'google_ads' THEN
        CASE WHEN p_kind = 'adjustment' THEN
          jsonb_build_object('conversionAction', 'customers/1234567890/conversionActions/555',
                             'adjustmentType', 'RETRACTION',
                             'adjustmentDateTime', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00:00',
                             'orderId', p_key)
        ELSE
          jsonb_build_object('gclid', 'Cj0KCQiA_' || p_key, 'conversionAction', 'customers/1234567890/conversionActions/555',
                             'conversionDateTime', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00:00',
                             'conversionValue', 29.0, 'currencyCode', 'USD', 'orderId', p_key)
        END
      WHEN 'meta' THEN
        jsonb_build_object('event_name', 'Purchase', 'event_time', extract(epoch FROM t)::bigint, 'event_id', p_key,
                           'action_source', 'system_generated',
                           'user_data', jsonb_build_object('em', jsonb_build_array(encode(sha256(convert_to(p_key || '@example.com', 'UTF8')), 'hex'))),
                           'custom_data', jsonb_build_object('value', 29.0, 'currency', 'USD'))
      WHEN 'tiktok' THEN
        jsonb_build_object('event', 'CompletePayment', 'event_time', extract(epoch FROM t)::bigint, 'event_id', p_key,
                           'user', jsonb_build_object('ttclid', 'E.C.P.' || p_key),
                           'properties', jsonb_build_object('value', 29.0, 'currency', 'USD'))
      WHEN 'linkedin' THEN
        jsonb_build_object('conversion', 'urn:lla:llaPartnerConversion:123456',
                           'conversionHappenedAt', (extract(epoch FROM t) * 1000)::bigint,
                           'conversionValue', jsonb_build_object('currencyCode', 'USD', 'amount', '29.0'),
                           'eventId', p_key,
                           'user', jsonb_build_object('userIds', jsonb_build_array(
                               jsonb_build_object('idType', 'LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID', 'idValue', 'li-' || p_key))))
      ELSE
        jsonb_build_object('event', 'conversion', 'id', p_key, 'value', 29.0, 'currency', 'USD')
      END;
    INSERT INTO attribution.outbox (destination_id, kind, dedup_key, payload, event_time)
    VALUES (d.id, p_kind, p_key, p, t)
    RETURNING outbox.id INTO id;
    RETURN id;
END $$;
};
}

1;
