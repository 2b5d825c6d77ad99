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
static int is_daemonic;

pid_t
mp_start(mp_target target, void *arg, int daemonic)
{
    // TODO(10): reject a NULL target with -EINVAL, and refuse with -EPERM
    // when this process is itself daemonic: its children would be orphaned
    // the moment it is killed.
    if (target == NULL)
        return -EINVAL;
    if (is_daemonic)
        return -EPERM;
    // TODO(10): keep getpid() BEFORE fork(): it is the parent the child
    // must check for later.  Flush stdio, fork; -errno on failure.
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        // TODO(10): in a daemonic child: set is_daemonic, then
        // prctl(PR_SET_PDEATHSIG, SIGKILL).  The parent may have died
        // already, before the prctl: then no signal will ever come.  So
        // compare getppid() with the parent kept before fork (not with 1:
        // an orphan's new parent is a subreaper as often as init), and
        // _exit(MP_EXIT_ORPHANED) without running the target if they
        // differ.  An ordinary child does none of this.
        if (daemonic) {
            is_daemonic = 1;
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(MP_EXIT_ORPHANED);
        }
        // TODO(10): run the target, flush what it printed, _exit() with
        // its value.
        int status = target(arg);
        fflush(NULL);
        _exit(status);
    }
    return pid;
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
static const char *volatile daemon_pidfile;

// TODO(10): write `static void fail(int report, int err)`: tell the
// caller why the daemon did not start (write the int err, a -errno value,
// into report) and _exit(1).  If the write fails, the caller reads EOF.
static void
fail(int report, int err)
{
    ssize_t n = write(report, &err, sizeof err);
    _exit(n == (ssize_t)sizeof err ? 1 : 2);
}

// TODO(10): write `static void on_sigterm(int sig)`: the SIGTERM
// handler.  unlink() the daemon_pidfile, then _exit(0): both are
// async-signal-safe; exit(), printf() and free() are not.
static void
on_sigterm(int sig)
{
    (void)sig;
    unlink(daemon_pidfile);
    _exit(0);
}

// TODO(10): write `static int detach_fds(int report)`: give back the
// descriptors the daemon inherited.  First dup2() the report pipe onto 3
// (it may be any number, even 0-2).  Then open /dev/null (O_RDWR) and
// dup2() it onto 0, 1 and 2, and close every descriptor from 4 up:
// syscall(SYS_close_range, 4, ~0U, 0) does it in one call (Linux 5.9).
// An inherited pipe would keep its reader waiting for an EOF that never
// comes.  Return 3, the report pipe's new number, or -errno.
static int
detach_fds(int report)
{
    if (dup2(report, 3) < 0)
        return -errno;
    int null = open("/dev/null", O_RDWR); // never 3: that one is taken
    if (null < 0)
        return -errno;
    if (dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
        syscall(SYS_close_range, 4, ~0U, 0) < 0)
        return -errno; // close_range closes null too, unless it is 0-2
    return 3;
}

// TODO(10): write `static int take_pidfile(const char *path)`: open the
// pidfile (O_RDWR | O_CREAT | O_CLOEXEC, mode 0644), lock the whole file
// for writing with fcntl(F_SETLK), and return the descriptor: it stays
// open for the daemon's whole life, because closing ANY descriptor of the
// file drops the process's lock.  Held by another process (EAGAIN or
// EACCES) is -EEXIST.  Only once the lock is yours, ftruncate() to 0 and
// write the pid and "\n".  Never O_TRUNC: that would wipe the running
// daemon's pid before you learn that it is running.  A failure closes the
// file and returns -errno.
static int
take_pidfile(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    char pid[24];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    int err = 0;
    if (fcntl(fd, F_SETLK, &lk) < 0)
        err = errno == EAGAIN || errno == EACCES ? EEXIST : errno;
    else if (ftruncate(fd, 0) < 0 || write(fd, pid, (size_t)n) != n)
        err = errno; // a few bytes to a file go whole, or fail
    if (err != 0) {
        close(fd);
        return -err;
    }
    return fd;
}

// TODO(10): write `static int handle_sigterm(void)`: install on_sigterm
// for SIGTERM (sigaction), then unblock SIGTERM (sigprocmask,
// SIG_UNBLOCK): the daemon inherits its caller's signal mask, and a
// blocked SIGTERM would never stop it.  0 or -errno.
static int
handle_sigterm(void)
{
    struct sigaction sa = {.sa_handler = on_sigterm};
    sigset_t term;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    if (sigaction(SIGTERM, &sa, NULL) < 0 ||
        sigprocmask(SIG_UNBLOCK, &term, NULL) < 0)
        return -errno;
    return 0;
}

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
static void
daemon_main(const struct daemon_args *d)
{
    umask(MP_DAEMON_UMASK);
    if (chdir(d->workdir != NULL ? d->workdir : "/") < 0)
        fail(d->report, -errno);
    int report = detach_fds(d->report);
    if (report < 0)
        fail(d->report, report);
    int r = take_pidfile(d->pidfile);
    if (r >= 0) {
        daemon_pidfile = d->pidfile;
        r = handle_sigterm();
    }
    if (r < 0)
        fail(report, r);
    pid_t me = getpid();
    if (write(report, &me, sizeof me) != (ssize_t)sizeof me)
        _exit(2);
    close(report);
    int status = d->run(d->arg);
    fflush(NULL);
    unlink(d->pidfile);
    _exit(status);
}

// TODO(10): write `static void first_child(const struct daemon_args *d)`:
// setsid(), so that the daemon's session is a new one, with no
// controlling terminal.  Then fork() again: the grandchild runs
// daemon_main(d), and this child _exit(0)s at once, so that the daemon is
// not a session leader and can never acquire a terminal.  A failure goes
// to fail(d->report, -errno).
static void
first_child(const struct daemon_args *d)
{
    pid_t pid = setsid() < 0 ? -1 : fork();
    if (pid < 0)
        fail(d->report, -errno);
    if (pid == 0)
        daemon_main(d);
    _exit(0);
}

pid_t
mp_daemonize(const char *pidfile, const char *workdir, mp_target run, void *arg)
{
    // TODO(10): -EINVAL unless pidfile is an absolute path (the daemon
    // changes directory) and run is not NULL; -EPERM in a daemonic child.
    if (pidfile == NULL || pidfile[0] != '/' || run == NULL)
        return -EINVAL;
    if (is_daemonic)
        return -EPERM;
    // TODO(10): fill in a struct daemon_args, make the report pipe, flush
    // stdio and fork.  The first child closes the read end, puts the
    // write end in report, and calls first_child().
    struct daemon_args d = {pidfile, workdir, run, arg, -1};
    int p[2];
    if (pipe(p) < 0)
        return -errno;
    fflush(NULL);
    pid_t pid = fork();
    int err = errno; // fork()'s, should it have failed
    if (pid == 0) {
        close(p[0]);
        d.report = p[1];
        first_child(&d);
    }
    // TODO(10): in the caller, close the write end (or EOF never comes);
    // if fork() failed, close the read end too and return its -errno.
    // Reap the first child with waitpid() (again on EINTR).  Read the
    // report, an int (again on EINTR): the daemon's pid, or -errno; EOF
    // before it (the daemon died first) is -ECHILD.  Close the read end
    // and return the report.
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -err;
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    int v = 0;
    ssize_t n;
    while ((n = read(p[0], &v, sizeof v)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof v)
        v = n < 0 ? -errno : -ECHILD;
    close(p[0]);
    return v;
}

/* ------------------------------------------------------ stopping daemons */

// TODO(10): write `static int poll_in(int fd, int timeout_ms)`: poll fd
// for POLLIN for at most timeout_ms (negative: no limit); return 1 ready,
// 0 timed out, or -errno.  On EINTR, poll again for the time that is
// LEFT, measured with clock_gettime(CLOCK_MONOTONIC).
static long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int
poll_in(int fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    long deadline = now_ms() + timeout_ms;
    int left = timeout_ms;
    int n;
    while ((n = poll(&pfd, 1, left)) < 0) {
        if (errno != EINTR)
            return -errno;
        if (timeout_ms >= 0) {
            long ms = deadline - now_ms();
            left = ms > 0 ? (int)ms : 0;
        }
    }
    return n;
}

// TODO(10): write `static pid_t lock_holder(int fd)`: who holds a lock on
// the file?  fcntl(fd, F_GETLK) with a whole-file write lock sets l_type
// to F_UNLCK when nobody does (return 0); otherwise l_pid is the holder.
// -errno on failure.
static pid_t
lock_holder(int fd)
{
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_GETLK, &lk) < 0)
        return -errno;
    return lk.l_type == F_UNLCK ? 0 : lk.l_pid;
}

// TODO(10): write `static int term_holder(int fd)`: send SIGTERM to the
// holder of the pidfile's lock and return a pidfd for it.  No holder:
// -ESRCH, and signal no one (never trust the pid written in the file).
// Open the pidfd (syscall(SYS_pidfd_open, pid, 0)) BEFORE signalling;
// then ask lock_holder() again (the holder may have ended, and its pid
// gone to another process, in between: -ESRCH), and signal through the
// pidfd (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0)), which
// cannot reach any other process.  Close the pidfd on every failure.
static int
term_holder(int fd)
{
    pid_t pid = lock_holder(fd);
    if (pid <= 0)
        return pid == 0 ? -ESRCH : pid;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0)
        return -errno;
    int err = 0;
    if (lock_holder(fd) != pid)
        err = ESRCH; // it ended, and its pid was reused, in between
    else if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0)
        err = errno;
    if (err != 0) {
        close(pidfd);
        return -err;
    }
    return pidfd;
}

int
mp_daemon_stop(const char *pidfile, int timeout_ms)
{
    // TODO(10): -EINVAL for NULL.  Open the pidfile read-only (-errno if
    // you cannot), term_holder() it, close the pidfile.
    if (pidfile == NULL)
        return -EINVAL;
    int fd = open(pidfile, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int pidfd = term_holder(fd);
    close(fd);
    if (pidfd < 0)
        return pidfd;
    // TODO(10): wait for the end: poll_in() the pidfd, which turns
    // readable when the process ends.  Not a sleep loop, and not
    // waitpid(), which works for children only.  Nothing in time is
    // -ETIMEDOUT.  Close the pidfd.
    int r = poll_in(pidfd, timeout_ms);
    close(pidfd);
    return r > 0 ? 0 : r == 0 ? -ETIMEDOUT : r;
}
