
# Perl handle on test/mock/mock_server.py for TAP tests: starts the mock on
# free ports (plain HTTP always, HTTPS with a throwaway CA on request), reads
# its ready file, and wraps the control API (README.md in this directory).
#
#   use lib "$FindBin::Bin/../mock";
#   use MockServer;
#   my $mock = MockServer->start(https => 1);
#   ... destinations pointed at $mock->https_url, CA file $mock->ca_file ...
#   $mock->fault({ platform => 'meta', mode => 'status', status => 503, count => 2 });
#   my $acc = $mock->accepted('meta');     # {counts => {event_id => n}, ...}
#   $mock->stop;

package MockServer;

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use Time::HiRes qw(usleep);

my $SCRIPT = abs_path(dirname(__FILE__) . '/mock_server.py');

# Options: https => 1 (also serve HTTPS), dir => working directory (default a
# fresh temporary one), state_file => path, config => {settings},
# webhook_secrets => {name => secret}, now => unix seconds.
sub start
{
	my ($class, %opt) = @_;
	my $dir = $opt{dir} // tempdir('pg_attribution_mock_XXXX', TMPDIR => 1, CLEANUP => 1);
	my $ready = "$dir/ready.json";
	unlink $ready;
	my @cmd = ('python3', $SCRIPT, '--http-port', '0', '--ready-file', $ready);
	push @cmd, '--https-port', '0', '--certdir', "$dir/certs" if $opt{https};
	push @cmd, '--state-file', $opt{state_file} if $opt{state_file};
	push @cmd, '--config', encode_json($opt{config}) if $opt{config};
	push @cmd, '--now', $opt{now} if defined $opt{now};
	push @cmd, '--webhook-secret', "$_=$opt{webhook_secrets}{$_}"
	  for sort keys %{ $opt{webhook_secrets} // {} };
	# Output goes to a file: a pipe nobody reads would block the server.
	my $log = "$dir/mock.log";
	my $h = IPC::Run::start(\@cmd, '<', \undef, '>', $log, '2>&1');
	for (1 .. 300)
	{
		last if -s $ready;
		die "mock server exited early:\n" . _slurp($log) unless $h->pumpable;
		usleep(100_000);
	}
	die "mock server did not become ready:\n" . _slurp($log) unless -s $ready;
	my $info = decode_json(_slurp($ready));
	return bless {
		h => $h,
		dir => $dir,
		log => $log,
		info => $info,
		http => HTTP::Tiny->new(timeout => 30, keep_alive => 1),
	}, $class;
}

sub _slurp
{
	my ($path) = @_;
	open my $fh, '<', $path or return '';
	local $/;
	my $s = <$fh>;
	close $fh;
	return $s;
}

sub http_url { return $_[0]{info}{http_url}; }
sub https_url { return $_[0]{info}{https_url}; }
sub ca_file { return $_[0]{info}{ca_file}; }
sub http_port { return $_[0]{info}{http_port}; }
sub https_port { return $_[0]{info}{https_port}; }
sub pid { return $_[0]{info}{pid}; }
sub log_file { return $_[0]{log}; }

# The HTTPS URL when serving HTTPS, else the HTTP one.
sub url
{
	my ($self) = @_;
	return $self->https_url // $self->http_url;
}

# One control call; dies on a non-200 answer.  Returns the decoded JSON.
sub control
{
	my ($self, $method, $path, $body) = @_;
	my %args = (headers => { 'Content-Type' => 'application/json' });
	$args{content} = encode_json($body) if defined $body;
	my $r = $self->{http}->request($method, $self->http_url . $path, \%args);
	die "mock control $method $path: $r->{status} $r->{content}\n" unless $r->{status} == 200;
	return decode_json($r->{content});
}

sub get { my ($self, $path) = @_; return $self->control('GET', $path); }
sub post { my ($self, $path, $body) = @_; return $self->control('POST', $path, $body // {}); }

sub reset { my ($self, %o) = @_; return $self->post('/_mock/reset', { all => $o{all} ? JSON::PP::true : JSON::PP::false }); }
sub fault { my ($self, $rule) = @_; return $self->post('/_mock/faults', $rule); }
sub clear_faults { my ($self) = @_; return $self->control('DELETE', '/_mock/faults'); }
sub faults { my ($self) = @_; return $self->get('/_mock/faults')->{faults}; }
sub config { my ($self, $settings) = @_; return $self->post('/_mock/config', $settings); }
sub clock { my ($self, $spec) = @_; return $self->post('/_mock/clock', $spec); }
sub stats { my ($self) = @_; return $self->get('/_mock/stats'); }

# token(platform => 'meta', token => '...', state => 'expired', kind => 'access')
sub token { my ($self, %t) = @_; return $self->post('/_mock/tokens', \%t); }

sub webhook_secret
{
	my ($self, $name, $secret) = @_;
	return $self->post('/_mock/webhooks', { name => $name, secret => $secret });
}

# accepted('meta', kind => 'adjustment', events => 0)
sub accepted
{
	my ($self, $platform, %o) = @_;
	my $q = "platform=$platform";
	$q .= "&kind=$o{kind}" if $o{kind};
	$q .= '&events=' . ($o{events} ? 1 : 0) if exists $o{events};
	return $self->get("/_mock/accepted?$q");
}

# requests(platform => 'google', since => 0, bodies => 0)
sub requests
{
	my ($self, %o) = @_;
	my @q = map { "$_=$o{$_}" } sort keys %o;
	return $self->get('/_mock/requests' . (@q ? '?' . join('&', @q) : ''))->{requests};
}

sub stop
{
	my ($self) = @_;
	return unless $self->{h};
	$self->{h}->signal('TERM') if $self->{h}->pumpable;
	eval { $self->{h}->finish; 1 } or $self->{h}->kill_kill;
	$self->{h} = undef;
}

sub DESTROY
{
	my ($self) = @_;
	local ($@, $?);
	$self->stop;
}

1;
