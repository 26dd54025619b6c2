# Crash helpers for the TAP tests.
#
# After kill -9 of the postmaster, the killed process may linger as a zombie
# (and its children for a moment) until the process that adopted it reaps it;
# a zombie still "exists" for the lock-file check, so a new postmaster would
# refuse to start.  crash_and_restart waits until every process of the old
# server has exited, removes the lock files only when its owner is a zombie,
# and starts the node again, so the crash under test is a real one.
package AttributionCrash;

use strict;
use warnings;
use Cwd ();
use Exporter 'import';
use Time::HiRes qw(usleep);
use Test::More;

our @EXPORT = qw(crash_and_restart process_state);

# State letter of a process (R, S, Z, ...), or undef when it is gone.
sub process_state
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return undef;
	my $stat = <$fh>;
	close($fh);
	return undef unless defined $stat;
	return $stat =~ /^\d+ \(.*\) (\S)/ ? $1 : undef;
}

# Pids of live (non-zombie) server processes of this data directory: every
# postgres process runs with the data directory as its working directory.
sub _server_processes
{
	my ($datadir) = @_;
	my $real = Cwd::realpath($datadir);
	my @pids;
	opendir(my $dh, '/proc') or return ();
	for my $pid (grep { /^\d+$/ } readdir($dh))
	{
		next if $pid == $$;
		my $state = process_state($pid);
		next if !defined $state || $state eq 'Z';
		my $cwd = readlink("/proc/$pid/cwd");
		push @pids, $pid if defined $cwd && $cwd eq $real;
	}
	closedir($dh);
	return @pids;
}

# kill -9 the postmaster of $node, wait for the old server to be gone, start.
sub crash_and_restart
{
	my ($node) = @_;
	my $pidfile = $node->data_dir . '/postmaster.pid';
	open(my $fh, '<', $pidfile) or die "no postmaster.pid: $!";
	my $pid = <$fh>;
	close($fh);
	chomp $pid;

	$node->kill9;

	# The postmaster's children notice its death and exit on their own.
	for (my $i = 0; $i < 600; $i++)
	{
		my $state = process_state($pid);
		last if (!defined $state || $state eq 'Z')
		  && !_server_processes($node->data_dir);
		usleep(50_000);
	}
	my $state = process_state($pid);
	if (defined $state && $state eq 'Z')
	{
		note "old postmaster $pid is an unreaped zombie; removing its lock files";
		unlink $pidfile;
		unlink $node->host . '/.s.PGSQL.' . $node->port . '.lock';
	}
	$node->start;
	return;
}

1;
