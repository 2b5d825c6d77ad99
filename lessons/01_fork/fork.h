// fork.h - lesson 01: fork, getpid, waitpid and the exit status.
#ifndef FORKLINGS_FORK_H
#define FORKLINGS_FORK_H

#include <sys/types.h>

/**
 * @file fork.h
 * @brief Lesson 01: start a child with fork(), wait for it with waitpid(),
 *        and read its exit status the way Python's multiprocessing does.
 *
 * Python equivalent:
 * @code{.py}
 * pid = os.fork()
 * if pid == 0:
 *     os._exit(target(arg))
 * _, status = os.waitpid(pid, 0)
 * code = os.waitstatus_to_exitcode(status)
 * @endcode
 */

/**
 * @brief A function to run in a child process.
 * @param arg the pointer given to mp_fork_call().
 * @return the child's exit status (only the low 8 bits survive).
 */
typedef int (*mp_target)(void *arg);

/**
 * @brief Run `target(arg)` in a new child process.
 *
 * The parent returns at once with the child's pid.  The child runs
 * `target(arg)`, flushes what it printed, and ends with `_exit()` using the
 * target's return value as its exit status; it never returns.
 *
 * @param target the function the child runs; must not be NULL.
 * @param arg    passed to target unchanged.
 * @return the child's pid (> 0), in the parent only.
 * @retval -EINVAL target is NULL.
 * @retval -EAGAIN fork() failed: too many processes.
 * @retval -ENOMEM fork() failed: not enough memory.
 * @note Output still buffered in stdio when fork() is called would be
 *       printed twice, once by each process: the parent flushes first.
 * @note The child ends with `_exit()`, not `exit()`: the atexit handlers
 *       and stdio buffers it inherited belong to the parent.
 */
pid_t mp_fork_call(mp_target target, void *arg);

/**
 * @brief Turn a raw wait status into Python's exit code.
 *
 * @param wstatus a status filled in by waitpid().
 * @return the exit status (0..255) if the child exited, or minus the signal
 *         number if a signal killed it (`-9` after SIGKILL, `-15` after
 *         SIGTERM), as `Process.exitcode` and `os.waitstatus_to_exitcode`.
 * @retval -EINVAL wstatus says neither (a stopped child, say).
 */
int mp_exitcode(int wstatus);

/**
 * @brief Wait for a child to end, reap it, and return its exit code.
 *
 * @param pid a child of the calling process.
 * @return the child's exit code as mp_exitcode() gives it.
 * @retval -ECHILD pid is not a child of the caller (or was already reaped).
 * @retval -EINVAL pid is not positive.
 * @note A signal that interrupts the wait (EINTR) is not an error: the
 *       wait goes on until the child has ended.
 */
int mp_waitpid(pid_t pid);

#endif
