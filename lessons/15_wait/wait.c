// wait.c - lesson 15: wait on many pipes and processes at once.
//
// Your task: make mp_wait and mp_wait_any_exit of wait.h work.  Read
// lessons/15_wait/README.md first; `make check L=15` tests your code,
// `make hint L=15` gives one more hint each time you run it.
//
// One poll(2) sleeps on every object at once.  A descriptor goes to poll as
// it is; a process goes as a pidfd, a descriptor that becomes readable when
// the process ends.  The pidfds are opened in each call and closed before
// it returns, so the caller has nothing to close.  (A cache would save two
// system calls per process per call, but then someone must close each
// pidfd, and a pid reaped and reused would find a stale one.)  The deadline
// is taken once, on CLOCK_MONOTONIC: a signal makes poll fail with EINTR,
// and the wait goes on for the time left, not for the whole timeout again.
#define _DEFAULT_SOURCE // syscall(), for pidfd_open, is not in POSIX
#include "wait.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 // the same number on every architecture
#endif

/* ---------------------------------------------------------- arguments */

// 1 if w names something to wait on, 0 if not.
static int
entry_ok(const mp_waitable *w)
{
    // TODO(15): an MP_WAIT_FD entry needs fd >= 0: poll skips a negative
    // fd, so a wait on it would wait on nothing, for ever with -1.  An
    // MP_WAIT_PROCESS entry needs pid > 0: 0 and -1 name groups of
    // processes to waitpid, not one child.  Any other kind: 0.
    (void)w;
    return 0;
}

// 0 if pid is a child of the caller, not yet reaped; else -errno.
static int
check_child(pid_t pid)
{
    // TODO(15): waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT),
    // retried on EINTR; failure (ECHILD): -errno.  WNOWAIT asks "is it my
    // child?" without reaping it: the caller still wants its exit code, so
    // no waitpid here.  pidfd_open is no check: it opens any process, your
    // parent too, and a wait for a process you cannot reap makes no sense.
    (void)pid;
    return -ENOSYS;
}

// 0 if every entry can be waited on, else the first error.
static int
check_entries(const mp_waitable *objs, int n)
{
    for (int i = 0; i < n; i++)
        if (!entry_ok(&objs[i]))
            return -EINVAL;
    for (int i = 0; i < n; i++) {
        if (objs[i].kind != MP_WAIT_PROCESS)
            continue;
        int r = check_child(objs[i].pid);
        if (r < 0)
            return r;
    }
    return 0;
}

/* -------------------------------------------------------------- pidfds */

// Close the pidfds among the first n entries of pfd.
static void
close_pidfds(const mp_waitable *objs, int n, const struct pollfd *pfd)
{
    // TODO(15): close pfd[i].fd for each MP_WAIT_PROCESS entry, and never
    // the descriptor of an MP_WAIT_FD entry: that one is the caller's.
    (void)objs;
    (void)n;
    (void)pfd;
}

// Fill pfd[i] with what poll watches for objs[i]: its fd, or a pidfd
// opened here.  0, or -errno with no pidfd left open.
static int
open_fds(const mp_waitable *objs, int n, struct pollfd *pfd)
{
    // TODO(15): events = POLLIN for every entry.  fd is the entry's fd, or
    // for a process (int)syscall(SYS_pidfd_open, pid, 0): a descriptor that
    // is readable once the process has ended, at once if it is a zombie.
    // If a pidfd_open fails (EMFILE: no descriptor number free), keep its
    // errno, close the pidfds opened before it (close_pidfds on the first
    // i entries) and return minus it: a call that failed holds nothing.
    (void)objs;
    (void)n;
    (void)pfd;
    (void)close_pidfds; // use this helper, then delete this line
    return -ENOSYS;
}

/* ---------------------------------------------------------------- poll */

// Nanoseconds on CLOCK_MONOTONIC, a clock nobody can set.
static long long
now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

// poll(pfd, n, timeout_ms), carried on after each EINTR until the
// deadline.  What poll returned, or -errno.
static int
poll_until(struct pollfd *pfd, int n, int timeout_ms)
{
    // TODO(15): take the deadline ONCE, before the first poll: now_ns()
    // plus timeout_ms.  poll; while it fails with EINTR (a signal handler
    // ran), poll again for the time LEFT until the deadline, rounded up
    // to a whole ms, 0 once it has passed.  Not timeout_ms again: a
    // signal every few ms would make the wait last for ever.  And -1
    // stays -1: a "time left" worked out from -1 turns a wait for ever
    // into one look.  Any other failure: -errno.
    (void)pfd;
    (void)n;
    (void)timeout_ms;
    (void)now_ns; // use this helper, then delete this line
    return -ENOSYS;
}

// Set ready[i] for each entry that poll found ready.  How many, or -EBADF.
static int
collect(const struct pollfd *pfd, int n, int *ready)
{
    // TODO(15): ready[i] = 1 when pfd[i].revents has POLLIN (data, or a
    // process that ended), POLLHUP (EOF: a pipe whose writers have all
    // closed gives POLLHUP WITHOUT POLLIN) or POLLERR (an error the read
    // will report).  Count them.  POLLNVAL means fd is not an open
    // descriptor: return -EBADF.
    (void)pfd;
    (void)n;
    (void)ready;
    return -ENOSYS;
}

int
mp_wait(const mp_waitable *objs, int n, int timeout_ms, int *ready)
{
    // TODO(15): -EINVAL for a NULL objs or ready, an n outside 1 to
    // MP_WAIT_MAX (pfd below has room for MP_WAIT_MAX entries, no more),
    // or a timeout_ms below -1.
    // TODO(15): clear ready[0] to ready[n - 1] first: the caller's array
    // may hold the flags of its last call, which would read as ready.
    // TODO(15): check_entries, open_fds, then poll_until; if poll found
    // something, collect.  Close the pidfds on every way out once they
    // are open; on failure clear ready again and return the error.
    (void)objs;
    (void)n;
    (void)timeout_ms;
    (void)ready;
    (void)check_entries; // use these helpers, then delete these four lines
    (void)open_fds;
    (void)poll_until;
    (void)collect;
    return -ENOSYS;
}

/* -------------------------------------------------------- any_exit */

// A wait status as Python's exitcode: the exit status, or -signal.
static int
python_exitcode(int status)
{
    // TODO(15): WIFEXITED: WEXITSTATUS(status).  WIFSIGNALED: minus
    // WTERMSIG(status), so -15 after SIGTERM, as Process.exitcode.
    (void)status;
    return 0;
}

int
mp_wait_any_exit(const pid_t *pids, int n, int timeout_ms, int *exitcode)
{
    // TODO(15): -EINVAL for a NULL pids or exitcode, or an n outside 1 to
    // MP_WAIT_MAX.  (mp_wait checks timeout_ms and each pid.)
    // TODO(15): one mp_wait over n MP_WAIT_PROCESS entries.  An error:
    // return it.  Nothing ready: -ETIMEDOUT.
    // TODO(15): take the LOWEST index i whose flag is set and reap that
    // child: waitpid(pids[i], &status, 0), retried on EINTR.  It has
    // ended, so this does not block.  Never waitpid(-1, ...): it reaps
    // any child, perhaps one that is not in the list.  Set *exitcode
    // (python_exitcode) and return i: the index, not the pid, not
    // mp_wait's count.
    (void)pids;
    (void)n;
    (void)timeout_ms;
    (void)exitcode;
    (void)python_exitcode; // use this helper, then delete this line
    return -ENOSYS;
}
