// daemons.c - lesson 10: daemonic children and real Unix daemons.
//
// Your task: make the three functions of daemons.h work, writing the
// helpers that the TODOs describe (each gives its signature).  Read
// lessons/10_daemons/README.md first; `make check L=10` tests your code,
// `make hint L=10` gives one more hint each time you run it.
#define _DEFAULT_SOURCE // syscall(), for pidfd_open and close_range
#include "daemons.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// System call numbers, the same on every architecture.
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* ------------------------------------------------------ daemonic children */

// TODO(10): declare `static int is_daemonic;`: 1 in a daemonic child only.

pid_t
mp_start(mp_target target, void *arg, int daemonic)
{
    // TODO(10): reject a NULL target with -EINVAL, and refuse with -EPERM
    // when this process is itself daemonic: its children would be orphaned
    // the moment it is killed.
    // TODO(10): keep getpid() BEFORE fork(): it is the parent the child
    // must check for later.  Flush stdio, fork; -errno on failure.
    // TODO(10): in a daemonic child: set is_daemonic, then
    // prctl(PR_SET_PDEATHSIG, SIGKILL).  The parent may have died
    // already, before the prctl: then no signal will ever come.  So
    // compare getppid() with the parent kept before fork (not with 1:
    // an orphan's new parent is a subreaper as often as init), and
    // _exit(MP_EXIT_ORPHANED) without running the target if they
    // differ.  An ordinary child does none of this.
    // TODO(10): run the target, flush what it printed, _exit() with
    // its value.
    (void)target;
    (void)arg;
    (void)daemonic;
    return -ENOSYS;
}

/* --------------------------------------------------------- Unix daemons */

// What the daemon needs to know, handed down through both forks.
struct daemon_args {
    const char *pidfile;
    const char *workdir;
    mp_target run;
    void *arg;
    int report; // the write end of the pipe to the caller
};

// TODO(10): declare `static const char *volatile daemon_pidfile;`: the
// daemon's pidfile, for its SIGTERM handler.

// TODO(10): write `static void fail(int report, int err)`: tell the
// caller why the daemon did not start (write the int err, a -errno value,
// into report) and _exit(1).  If the write fails, the caller reads EOF.

// TODO(10): write `static void on_sigterm(int sig)`: the SIGTERM
// handler.  unlink() the daemon_pidfile, then _exit(0): both are
// async-signal-safe; exit(), printf() and free() are not.

// TODO(10): write `static int detach_fds(int report)`: give back the
// descriptors the daemon inherited.  First dup2() the report pipe onto 3
// (it may be any number, even 0-2).  Then open /dev/null (O_RDWR) and
// dup2() it onto 0, 1 and 2, and close every descriptor from 4 up:
// syscall(SYS_close_range, 4, ~0U, 0) does it in one call (Linux 5.9).
// An inherited pipe would keep its reader waiting for an EOF that never
// comes.  Return 3, the report pipe's new number, or -errno.

// TODO(10): write `static int take_pidfile(const char *path)`: open the
// pidfile (O_RDWR | O_CREAT | O_CLOEXEC, mode 0644), lock the whole file
// for writing with fcntl(F_SETLK), and return the descriptor: it stays
// open for the daemon's whole life, because closing ANY descriptor of the
// file drops the process's lock.  Held by another process (EAGAIN or
// EACCES) is -EEXIST.  Only once the lock is yours, ftruncate() to 0 and
// write the pid and "\n".  Never O_TRUNC: that would wipe the running
// daemon's pid before you learn that it is running.  A failure closes the
// file and returns -errno.

// TODO(10): write `static int handle_sigterm(void)`: install on_sigterm
// for SIGTERM (sigaction), then unblock SIGTERM (sigprocmask,
// SIG_UNBLOCK): the daemon inherits its caller's signal mask, and a
// blocked SIGTERM would never stop it.  0 or -errno.

// TODO(10): write `static void daemon_main(const struct daemon_args *d)`:
// the daemon itself, which never returns.  In this order:
//  1. umask(MP_DAEMON_UMASK), and chdir() to d->workdir, or "/" when it
//     is NULL, so that the daemon keeps no directory busy (a disk that
//     could never be unmounted);
//  2. detach_fds(d->report): from then on the report pipe is fd 3;
//  3. take_pidfile(d->pidfile), keep its path in daemon_pidfile, and
//     only then handle_sigterm(): the handler must never remove a
//     pidfile that is not yours;
//  4. now, and not one step earlier, write getpid() into the report pipe,
//     and close it;
//  5. run d->run(d->arg), fflush(NULL), unlink() the pidfile and _exit()
//     with run's value.
// A failure in steps 1-3 goes to fail(report, -errno).  (If step 3 fails
// after the lock, the pidfile stays: stale, harmless, the lock is gone.)

// TODO(10): write `static void first_child(const struct daemon_args *d)`:
// setsid(), so that the daemon's session is a new one, with no
// controlling terminal.  Then fork() again: the grandchild runs
// daemon_main(d), and this child _exit(0)s at once, so that the daemon is
// not a session leader and can never acquire a terminal.  A failure goes
// to fail(d->report, -errno).

pid_t
mp_daemonize(const char *pidfile, const char *workdir, mp_target run, void *arg)
{
    // TODO(10): -EINVAL unless pidfile is an absolute path (the daemon
    // changes directory) and run is not NULL; -EPERM in a daemonic child.
    // TODO(10): fill in a struct daemon_args, make the report pipe, flush
    // stdio and fork.  The first child closes the read end, puts the
    // write end in report, and calls first_child().
    // TODO(10): in the caller, close the write end (or EOF never comes);
    // if fork() failed, close the read end too and return its -errno.
    // Reap the first child with waitpid() (again on EINTR).  Read the
    // report, an int (again on EINTR): the daemon's pid, or -errno; EOF
    // before it (the daemon died first) is -ECHILD.  Close the read end
    // and return the report.
    (void)pidfile;
    (void)workdir;
    (void)run;
    (void)arg;
    return -ENOSYS;
}

/* ------------------------------------------------------ stopping daemons */

// TODO(10): write `static int poll_in(int fd, int timeout_ms)`: poll fd
// for POLLIN for at most timeout_ms (negative: no limit); return 1 ready,
// 0 timed out, or -errno.  On EINTR, poll again for the time that is
// LEFT, measured with clock_gettime(CLOCK_MONOTONIC).

// TODO(10): write `static pid_t lock_holder(int fd)`: who holds a lock on
// the file?  fcntl(fd, F_GETLK) with a whole-file write lock sets l_type
// to F_UNLCK when nobody does (return 0); otherwise l_pid is the holder.
// -errno on failure.

// TODO(10): write `static int term_holder(int fd)`: send SIGTERM to the
// holder of the pidfile's lock and return a pidfd for it.  No holder:
// -ESRCH, and signal no one (never trust the pid written in the file).
// Open the pidfd (syscall(SYS_pidfd_open, pid, 0)) BEFORE signalling;
// then ask lock_holder() again (the holder may have ended, and its pid
// gone to another process, in between: -ESRCH), and signal through the
// pidfd (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0)), which
// cannot reach any other process.  Close the pidfd on every failure.

int
mp_daemon_stop(const char *pidfile, int timeout_ms)
{
    // TODO(10): -EINVAL for NULL.  Open the pidfile read-only (-errno if
    // you cannot), term_holder() it, close the pidfile.
    // TODO(10): wait for the end: poll_in() the pidfd, which turns
    // readable when the process ends.  Not a sleep loop, and not
    // waitpid(), which works for children only.  Nothing in time is
    // -ETIMEDOUT.  Close the pidfd.
    (void)pidfile;
    (void)timeout_ms;
    return -ENOSYS;
}
