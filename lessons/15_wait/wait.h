// wait.h - lesson 15: wait on many pipes and processes at once.
#ifndef FORKLINGS_WAIT_H
#define FORKLINGS_WAIT_H

#include <sys/types.h>

/**
 * @file wait.h
 * @brief Lesson 15: wait until any of several descriptors has something to
 *        read and any of several children has ended, in one sleep, like
 *        Python's multiprocessing.connection.wait; and join whichever
 *        child ends first.
 *
 * Python equivalent:
 * @code{.py}
 * from multiprocessing.connection import wait
 * ready = wait([r1, r2, p.sentinel], timeout=0.5)  # a list, [] on timeout
 * for obj in ready:
 *     ...                                  # r1.recv(), or p.join()
 *
 * pending = {p.sentinel: p for p in procs} # join whichever ends first
 * while pending:
 *     for s in wait(list(pending)):
 *         p = pending.pop(s); p.join(); print(p.exitcode)
 * @endcode
 *
 * Python's list of ready objects becomes a flag per object (ready[i]) and
 * their count; errors are negative errno values.  Timeouts are in
 * milliseconds, not seconds.
 */

/// The most objects one call waits on: n runs from 1 to MP_WAIT_MAX.
#define MP_WAIT_MAX 64

/// What an mp_waitable stands for.
typedef enum {
    MP_WAIT_FD = 1,      ///< a descriptor, ready when a read would not block
    MP_WAIT_PROCESS = 2, ///< a child process, ready once it has ended
} mp_wait_kind;

/// One thing to wait on: a descriptor or a child.  Only the field its kind
/// names is read: `{.kind = MP_WAIT_FD, .fd = r}` or `{.kind =
/// MP_WAIT_PROCESS, .pid = pid}`.
typedef struct {
    mp_wait_kind kind; ///< which of the two fields below is meant
    int fd;            ///< MP_WAIT_FD: a pipe's read end, a socket, ...
    pid_t pid;         ///< MP_WAIT_PROCESS: a child, not yet reaped
} mp_waitable;

/**
 * @brief Wait until at least one of objs is ready, or timeout_ms have
 *        passed: multiprocessing.connection.wait(objs, timeout).
 *
 * A descriptor is ready when a read would not block: data is waiting, the
 * other end was closed (EOF: the read returns 0), or an error is pending
 * (the read reports it).  A process is ready once it has ended, even if it
 * ended before the call (a zombie): it is ready at once.  mp_wait reaps
 * nothing: wait for a ready child with waitpid() (or
 * mp_wait_any_exit()) afterwards.
 *
 * Each process is watched through a pidfd (pidfd_open(2)), opened in the
 * call and closed before it returns, so a call holds no descriptor
 * afterwards.  The timeout is a deadline on CLOCK_MONOTONIC, taken once:
 * signals that interrupt the wait neither end it early nor make it longer,
 * and a wait for ever (-1) stays for ever.  The same object may be listed
 * twice; each entry gets its own flag.
 *
 * @param objs       the objects, objs[0] to objs[n - 1].
 * @param n          how many: from 1 to #MP_WAIT_MAX.
 * @param timeout_ms how long to wait: -1 for ever, 0 not at all (a poll).
 * @param ready      n flags, written by the call: ready[i] is 1 if objs[i]
 *                   is ready, else 0.  All 0 when the call fails.
 * @return how many objects are ready (the flags set), from 1 to n; 0 if
 *         the timeout passed first (Python: []).
 * @retval -EINVAL objs or ready is NULL, n is not from 1 to #MP_WAIT_MAX,
 *                 timeout_ms is below -1, or an entry has an unknown kind,
 *                 a negative fd or a pid below 1.
 * @retval -EBADF  an fd is not an open descriptor (Python counts it
 *                 ready, and the read then fails).
 * @retval -ECHILD a pid is not a child of the caller, or was reaped
 *                 already: nobody could wait for it.
 * @retval -EMFILE no descriptor number is free for a pidfd (-ENFILE,
 *                 -ENOMEM: the system's table or its memory is full).
 *                 Nothing stays open.
 * @retval -ENOMEM poll(2) had no memory for its table.
 * @note A signal caught during the wait (without SA_RESTART) makes poll
 *       fail with EINTR: the call goes on for the time left, and returns
 *       only when something is ready or the deadline has passed.
 * @note A pipe's EOF comes only when every copy of its write end is
 *       closed: close yours after fork(), or a wait for EOF never ends.
 * @note Threads may call it at once, as with Python's connection.wait:
 *       each call keeps its own table, nothing shared between calls.
 */
int mp_wait(const mp_waitable *objs, int n, int timeout_ms, int *ready);

/**
 * @brief Wait until any of n children ends, reap it, and say which:
 *        join whichever ends first, not the first in the list.
 *
 * Like waiting on the children's sentinels with
 * multiprocessing.connection.wait, then joining the first one ready.
 * When several have ended, the one with the lowest index is reaped; the
 * others stay for the next call.  Children not in the list are left alone.
 *
 * @param pids       the children, not yet reaped, pids[0] to pids[n - 1].
 * @param n          how many: from 1 to #MP_WAIT_MAX.
 * @param timeout_ms how long to wait: -1 for ever, 0 not at all.
 * @param exitcode   receives the child's exit code as Python gives it:
 *                   its exit status if it exited, minus the signal's
 *                   number if a signal killed it (-15 after SIGTERM).  Set
 *                   only on success.
 * @return the index in pids of the child reaped.  Its pid is free from
 *         then on: drop it from the list before the next call.
 * @retval -ETIMEDOUT none ended within timeout_ms; none was reaped.
 * @retval -EINVAL    pids or exitcode is NULL, n is not from 1 to
 *                    #MP_WAIT_MAX, timeout_ms is below -1, or a pid is
 *                    below 1.
 * @retval -ECHILD    a pid is not a child of the caller, or was reaped
 *                    already.
 * @retval -EMFILE    no descriptor number is free for a pidfd (or
 *                    -ENFILE, -ENOMEM, as mp_wait() gives).
 * @note Never waitpid(-1, ...): it reaps any child, one that another part
 *       of the program is waiting for too.
 */
int mp_wait_any_exit(const pid_t *pids, int n, int timeout_ms, int *exitcode);

#endif
