// errors.h - lesson 12: errors carried to the parent, SIGCHLD, SIGINT/SIGTERM.
#ifndef FORKLINGS_ERRORS_H
#define FORKLINGS_ERRORS_H

#include "../mp_ipc.h"

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

/**
 * @file errors.h
 * @brief Lesson 12: how a child's failure reaches its parent (an exit code
 *        and an error record over a pipe), a SIGCHLD handler that reaps
 *        every child, and named objects removed on SIGINT and SIGTERM.
 *
 * Python equivalent:
 * @code{.py}
 * def worker(num):
 *     if num == 2:
 *         raise ValueError(f"An error occurred in worker {num}.")
 *
 * with Pool(5) as pool:               # mp_run_worker() + mp_collect()
 *     try:
 *         pool.map(worker, range(5))
 *     except ValueError as e:         # the child's error, re-raised here
 *         print("Error in 2:", e)
 * p = Process(target=crash); p.start(); p.join()
 * p.exitcode                          # -11 after a segfault, -6 after abort
 *
 * signal.signal(signal.SIGCHLD, reap) # mp_reaper_install()
 * signal.signal(signal.SIGTERM, stop) # mp_cleanup_on_signal(name)
 * @endcode
 *
 * An error record travels as #MP_ERR_HEADER bytes, then the message:
 * bytes 0-3 hold the message's length and bytes 4-7 the worker's index,
 * each a big-endian unsigned 32-bit number; the message follows, without
 * its NUL.  A record is at most #MP_ERR_HEADER + #MP_ERR_MAX - 1 bytes,
 * well under `PIPE_BUF`, so one write() keeps it whole even when many
 * workers share the pipe.
 */

/// An exit code not known: Python's `exitcode is None`.  No real exit code
/// is this low.
#define MP_EXITCODE_NONE INT_MIN

/// Room for an error message, its NUL included: messages are cut to
/// MP_ERR_MAX - 1 bytes.
#define MP_ERR_MAX 256

/// Bytes in an error record's header: the message length, then the index.
#define MP_ERR_HEADER 8

/// How many children the SIGCHLD handler records (it reaps them all).
#define MP_REAPER_MAX 1024

/// How many names mp_cleanup_on_signal() keeps.
#define MP_CLEANUP_MAX 16

/// Room for a name given to mp_cleanup_on_signal(), its NUL included.
#define MP_SHM_NAME_MAX 256

/// An error carried from a worker to its parent.
typedef struct {
    int index;                ///< the index of the worker that failed
    char message[MP_ERR_MAX]; ///< what went wrong, NUL-terminated
} mp_error;

/**
 * @brief The work a worker does: Python's target, which may raise.
 * @param index the worker's index, given to mp_run_worker().
 * @param arg   the pointer given to mp_run_worker().
 * @param msg   where to write a message when the work fails ("" before).
 * @param cap   bytes in msg (#MP_ERR_MAX).
 * @return 0 on success; anything else means it failed ("raised"), and msg
 *         says why.
 */
typedef int (*mp_task)(int index, void *arg, char *msg, size_t cap);

/**
 * @brief Start a worker: a child that runs `fn(index, arg, msg, cap)` and,
 *        if it fails, sends an error record back over err_fd.
 *
 * The child ends with `_exit(0)` when fn returns 0.  When fn returns
 * anything else, the child writes one record (index and msg, see the file
 * comment) to err_fd in a single write(), then ends with `_exit(1)`:
 * Python's exit code after an uncaught exception, even if the record
 * could not be sent.  A child killed by a signal sends nothing; its exit
 * code says what happened.
 *
 * @param fn     the work; must not be NULL.
 * @param index  the worker's number, 0 or more; it travels in the record.
 * @param arg    passed to fn unchanged.
 * @param err_fd the write end of a pipe shared by the workers; the parent
 *               reads it with mp_collect().
 * @return the child's pid (> 0), in the parent only.
 * @retval -EINVAL fn is NULL or index is negative; no child is started.
 * @retval -EBADF  err_fd is not an open descriptor; no child is started.
 * @retval -EAGAIN fork() failed: too many processes.
 * @note stdio is flushed before fork() and again before the child's
 *       `_exit()`, as in lesson 01.
 */
pid_t mp_run_worker(mp_task fn, int index, void *arg, int err_fd);

/**
 * @brief Collect what workers left: every error record, then every exit
 *        code.  The C face of a pool re-raising a worker's error.
 *
 * Reads records from err_fd until EOF, keeping the first max_errs in
 * errs, and only then waits for each pid and stores its exit code in
 * codes (the exit status, or minus the signal: -11 after a segfault, -6
 * after abort()).  Reading first matters: a worker blocked writing into
 * a full pipe never ends, so waiting for it first would wait for ever.
 * A pid that the SIGCHLD handler of mp_reaper_install() reaped first gets
 * the exit code the handler recorded.  Every pid is reaped, whatever fails.
 *
 * @param err_fd   the read end of the workers' pipe.  Close your copy of
 *                 the write end first, or EOF never comes.
 * @param pids     the workers' pids.
 * @param n        how many pids, 0 or more.
 * @param codes    receives n exit codes (#MP_EXITCODE_NONE for a pid that
 *                 could not be waited for).
 * @param errs     receives up to max_errs records, in arrival order; may
 *                 be NULL when max_errs is 0.
 * @param max_errs room in errs, 0 or more.
 * @return how many records arrived (>= 0; more than max_errs means some
 *         were read and dropped).
 * @retval -EINVAL  a negative n, max_errs or err_fd, a NULL pids or codes
 *                  with n > 0, a NULL errs with max_errs > 0, or a pid
 *                  that is not positive.  Nothing is read or reaped.
 * @retval -EPROTO  a record was cut short (EOF inside it) or announced a
 *                  message longer than MP_ERR_MAX - 1 bytes.  The pipe is
 *                  still read to EOF and every pid reaped.
 * @retval -ECHILD  a pid was neither a child to wait for nor recorded by
 *                  the reaper; the others are still reaped.
 * @retval -EBADF   err_fd is not open for reading (read() failed: its
 *                  -errno is returned); every pid is still reaped.
 * @note Signals (EINTR) are not errors: reads and waits go on.
 */
int mp_collect(int err_fd, const pid_t *pids, int n, int *codes, mp_error *errs,
               int max_errs);

/**
 * @brief Install a SIGCHLD handler that reaps every child that ends, and
 *        records its pid and exit code in a table of #MP_REAPER_MAX.
 *
 * Signals are not queued: one SIGCHLD may stand for many children, so the
 * handler reaps until no ended child is left, never blocking while others
 * run.  It keeps errno as it found it and makes only async-signal-safe
 * calls.  The handler is installed with SA_RESTART, so that a slow call
 * in the main flow (a read on a pipe, say) goes on when a child ends, and
 * it stays installed after the first signal.  Children that had already
 * ended are reaped at once.  Installing again empties the table.
 *
 * @return 0.
 * @retval -EINVAL sigaction() refused the handler.
 * @note Every child is reaped, also those that other code (a waitpid on
 *       one pid) expected to wait for: their waitpid fails with ECHILD.
 *       mp_collect() looks such children up in the table.
 */
int mp_reaper_install(void);

/**
 * @brief Put back the SIGCHLD action that was there before
 *        mp_reaper_install().  The table is kept.
 * @return 0.
 * @retval -EINVAL the reaper is not installed.
 */
int mp_reaper_uninstall(void);

/**
 * @brief How many children the handler has recorded since it was
 *        installed.
 * @return the count (0 to #MP_REAPER_MAX).
 */
int mp_reaper_count(void);

/**
 * @brief The exit code the handler recorded for a child.
 *
 * Reads the table with SIGCHLD blocked, so that the handler cannot change
 * it halfway through the read.
 *
 * @param pid      the child.
 * @param exitcode receives its exit code when it was recorded.
 * @return 1 if pid was recorded (the latest record counts), 0 if not (it
 *         has not ended yet, or it was never a child).
 * @retval -EINVAL pid is not positive or exitcode is NULL.
 */
int mp_reaper_lookup(pid_t pid, int *exitcode);

/**
 * @brief Remove a named shared memory object if SIGINT or SIGTERM ends
 *        the process.
 *
 * The first call installs handlers for SIGINT and SIGTERM (without
 * SA_RESTART, so that a slow call returns EINTR and the main flow gets to
 * look) and makes a self-pipe.  A handler only records the signal and
 * writes one byte to the self-pipe: the cleanup itself runs in the main
 * flow, in mp_signal_check(), where any call is allowed.
 *
 * @param name a name given to shm_open(), such as mp_ipc_name() makes:
 *             "/PREFIXbase".  The object need not exist yet.
 * @return 0 (also when the name is registered already).
 * @retval -EINVAL       name is NULL or does not start with '/'.
 * @retval -ENAMETOOLONG name does not fit in #MP_SHM_NAME_MAX bytes.
 * @retval -ENOSPC       #MP_CLEANUP_MAX names are registered already.
 * @retval -EMFILE       no descriptor left for the self-pipe.
 * @note A name is removed only by the process that registered it: a forked
 *       child inherits the handlers and the list, but never removes its
 *       parent's objects.  It shares the self-pipe with its parent.
 */
int mp_cleanup_on_signal(const char *name);

/**
 * @brief The read end of the self-pipe: poll it alongside your other
 *        descriptors, and call mp_signal_check() when it is readable.
 *        Python's `signal.set_wakeup_fd()`.
 * @return the descriptor (>= 0); it is readable once SIGINT or SIGTERM
 *         has arrived, even if the signal came before the poll started.
 * @retval -EBADF mp_cleanup_on_signal() has not been called.
 */
int mp_signal_fd(void);

/**
 * @brief In the main flow: if SIGINT or SIGTERM has arrived, remove the
 *        registered names and end the process by that same signal.
 *
 * Empties the self-pipe.  When no signal has arrived it returns 0.  When
 * one has, it shm_unlink()s every name this process registered, restores
 * the signal's default action and raises it again, so that the process
 * ends "killed by SIGTERM" (exit code -15) or "by SIGINT" (-2), as if no
 * handler had been there: it does not return.
 *
 * @return 0: no signal has arrived.
 * @retval -EINTR the signal was raised again and yet the process lives
 *                (its default action did not end it): never expected.
 */
int mp_signal_check(void);

/**
 * @brief Forget every name, put back the SIGINT and SIGTERM actions that
 *        were there before, and close the self-pipe.
 *
 * A signal that came before the cancel and was not yet looked at is
 * forgotten too: a later registration and mp_signal_check() do not act
 * on it.
 *
 * For the normal path: unlink your objects yourself, then cancel.
 *
 * @return 0 (also when nothing was registered).
 */
int mp_cleanup_cancel(void);

#endif
