// process.h - lesson 02: the Process object: start, join, exit code, name.
#ifndef FORKLINGS_PROCESS_H
#define FORKLINGS_PROCESS_H

#include <limits.h>
#include <sys/types.h>

/**
 * @file process.h
 * @brief Lesson 02: a Process object that starts a child, waits for it
 *        (with a timeout), signals it, names it, and reports how it ended
 *        the way Python's `multiprocessing.Process` does.
 *
 * Python equivalent:
 * @code{.py}
 * from multiprocessing import Process, current_process
 *
 * p = Process(target=f, args=(arg,), name=None)   # "Process-1"
 * p.start()
 * p.join(timeout=0.5)        # returns after 0.5 s at most
 * p.is_alive()               # still running?
 * p.terminate()              # SIGTERM; p.kill() sends SIGKILL
 * p.join()
 * p.exitcode                 # 0, 3, or -15 after terminate
 * current_process().name     # in the child: "Process-1"
 *
 * class MyProcess(Process):  # "subclassing": override run()
 *     def run(self): ...
 * @endcode
 *
 * The C face of subclassing: a struct whose first member is an mp_process
 * "derives" from it.  Its run function receives a pointer to that first
 * member, which is also a pointer to the whole struct:
 * @code{.c}
 * struct my_process {
 *     mp_process base;      // first: &me->base == (mp_process *)me
 *     int rounds;           // the subclass's own fields
 * };
 *
 * static int
 * my_run(mp_process *self)
 * {
 *     struct my_process *me = (struct my_process *)self;
 *     return me->rounds;    // the child's exit status
 * }
 *
 * struct my_process w = {.rounds = 3};
 * mp_process_init_subclass(&w.base, "MyProcess", my_run, NULL);
 * @endcode
 */

/// The exit code of a process that has not ended (or not been reaped) yet:
/// Python's `exitcode is None`.  No real exit code is this low.
#define MP_EXITCODE_NONE INT_MIN

/// Room for a process's name, the terminating NUL included.
#define MP_NAME_MAX 64

/// Room for a process's identity ("1", "2", "1:3"), the NUL included.
#define MP_IDENT_MAX 32

/// A process object.  Fields are the lesson's to manage: read them with the
/// functions below.  Embed one as the FIRST member of your own struct to
/// "subclass" it.
typedef struct mp_process mp_process;

/**
 * @brief A function to run in the child: Python's `target`.
 * @param arg the pointer given to mp_process_init().
 * @return the child's exit status (only the low 8 bits survive).
 */
typedef int (*mp_target)(void *arg);

/**
 * @brief A process's run method: what the child runs.
 * @param self the process object; for a "subclass", a pointer to the whole
 *             struct whose first member it is.
 * @return the child's exit status (only the low 8 bits survive).
 */
typedef int (*mp_run)(mp_process *self);

/// A process object: Python's `multiprocessing.Process`.
struct mp_process {
    mp_run run;               ///< what the child runs: mp_process_run or a
                              ///< subclass's own
    mp_target target;         ///< the function mp_process_run calls
    void *arg;                ///< its argument
    char name[MP_NAME_MAX];   ///< "Process-1", or the name given
    char ident[MP_IDENT_MAX]; ///< the numbers in the default name: "1:2"
    pid_t pid;                ///< the child's pid; 0 until started
    int exitcode;             ///< MP_EXITCODE_NONE until the child is reaped
};

/**
 * @brief Set up a process object with your own run function: the C face
 *        of `class MyProcess(Process)` overriding `run`.
 *
 * Every process object created in a process takes the next number of one
 * counter, whatever its class and whether or not it is given a name: the
 * default name is the class name, a dash and that number (`MyProcess-1`,
 * `Process-2`).  In a child, numbering starts again at 1 after the child's
 * own number: the first process a child `Process-1` creates is
 * `Process-1:1`.  A call refused with -EINVAL takes no number.  Whether one
 * refused with -ENAMETOOLONG has taken its number is left to you (Python's
 * constructor takes the number first, and refuses no name): the tests do
 * not look.
 *
 * @param p    the object to set up (the first member of your struct).
 * @param cls  the class name used in the default name: "MyProcess".
 * @param run  the function the child runs; it receives p.
 * @param name the name to give, or NULL for the default name.
 * @return 0.
 * @retval -EINVAL       p, cls or run is NULL.
 * @retval -ENAMETOOLONG the name (given or default) does not fit in
 *                       MP_NAME_MAX bytes.
 */
int mp_process_init_subclass(mp_process *p, const char *cls, mp_run run,
                             const char *name);

/**
 * @brief Set up a process object that runs `target(arg)`: Python's
 *        `Process(target=target, args=(arg,), name=name)`.
 *
 * The same as mp_process_init_subclass() with the class name "Process" and
 * mp_process_run() as the run function.
 *
 * @param p      the object to set up.
 * @param target the function the child runs.
 * @param arg    passed to target unchanged.
 * @param name   the name to give, or NULL for "Process-N".
 * @return 0.
 * @retval -EINVAL       p or target is NULL.
 * @retval -ENAMETOOLONG the name does not fit in MP_NAME_MAX bytes.
 */
int mp_process_init(mp_process *p, mp_target target, void *arg,
                    const char *name);

/**
 * @brief The default run method: call `target(arg)`.  Python's
 *        `Process.run()`.
 *
 * It runs in whichever process calls it: mp_process_start() calls it in the
 * child, but calling it yourself runs the target in the caller.
 *
 * @param self a process object set up by mp_process_init().
 * @return what target returned.
 * @retval -EINVAL self is NULL or has no target.
 */
int mp_process_run(mp_process *self);

/**
 * @brief Start the process: fork a child that runs `p->run(p)` and ends
 *        with its return value as exit status.  Python's `start()`.
 *
 * In the child, mp_current_process() returns p from then on.
 *
 * @param p a process object set up and not yet started.
 * @return 0 in the parent; the child never returns.
 * @retval -EINVAL   p is NULL.
 * @retval -EALREADY p was started before: a process starts only once.
 * @retval -EAGAIN   fork() failed: too many processes.
 * @retval -ENOMEM   fork() failed: not enough memory.
 * @note stdio buffers are flushed before fork(), or what they hold would
 *       be printed twice; the child flushes what it printed before it
 *       ends with `_exit()`.
 */
int mp_process_start(mp_process *p);

/**
 * @brief Wait for the process to end, reap it and keep its exit code.
 *        Python's `join(timeout)`.
 *
 * Joining a process that was already reaped (by an earlier join, or by
 * mp_process_is_alive()) returns 0 at once: the exit code is kept.
 *
 * @param p          a started process.
 * @param timeout_ms how long to wait, in milliseconds: -1 (any negative
 *                   value) waits until the process ends, 0 only looks.
 * @return 0 once the process has ended; read mp_process_exitcode().
 * @retval -ETIMEDOUT the process is still running after timeout_ms; its
 *                    exit code is still MP_EXITCODE_NONE.
 * @retval -EINVAL    p is NULL or was never started.
 * @retval -ESRCH     other code reaped the child first (a wait for any
 *                    child, or SIGCHLD set to SIG_IGN): no pidfd for it.
 * @retval -ECHILD    the same, found by waitpid.
 * @retval -ENOSYS    the kernel has no pidfd_open (Linux before 5.3).
 * @retval -EMFILE    no descriptor was free for the pidfd (pidfd_open).
 * @note A signal handler that interrupts the wait is not an error: the
 *       wait goes on for the time that is left (the deadline is kept,
 *       not restarted).
 */
int mp_process_join(mp_process *p, int timeout_ms);

/**
 * @brief Whether the process is running.  Python's `is_alive()`.
 *
 * A process that has ended is reaped here and its exit code kept, as
 * Python does: a zombie is not alive.
 *
 * @param p a process object.
 * @return 1 if started and not ended, 0 if not started or ended.
 * @retval -EINVAL p is NULL.
 * @retval -ECHILD other code reaped the child first (a wait for any child,
 *                 or SIGCHLD set to SIG_IGN).
 */
int mp_process_is_alive(mp_process *p);

/**
 * @brief The exit code: Python's `exitcode`.
 * @param p a process object.
 * @return MP_EXITCODE_NONE until the process has been reaped (by
 *         mp_process_join() or mp_process_is_alive()); then its exit
 *         status (0..255) if it exited, or minus the signal that killed it
 *         (-15 after SIGTERM, -9 after SIGKILL, -11 after a segfault).
 */
int mp_process_exitcode(const mp_process *p);

/**
 * @brief Ask the process to end: send it SIGTERM.  Python's `terminate()`.
 *
 * It returns at once; join to wait for the end.  A process already reaped
 * is not signalled: its pid may belong to another process by now.
 *
 * @param p a started process.
 * @return 0.
 * @retval -EINVAL p is NULL or was never started: its pid is 0, and
 *                 `kill(0, sig)` would signal the caller's whole process
 *                 group.
 * @retval -ESRCH  kill() failed: the child was reaped by other code (a
 *                 waitpid(-1, ...) elsewhere), so its pid may be
 *                 anyone's.  Python passes over this case in silence.
 * @note The child can catch or ignore SIGTERM; it cannot do either with
 *       SIGKILL (mp_process_kill()).
 */
int mp_process_terminate(mp_process *p);

/**
 * @brief End the process at once: send it SIGKILL.  Python's `kill()`.
 * @param p a started process.
 * @return 0.
 * @retval -EINVAL p is NULL or was never started.
 * @retval -ESRCH  kill() failed: the child was reaped by other code.
 */
int mp_process_kill(mp_process *p);

/**
 * @brief The process's name: Python's `name`.
 * @param p a process object.
 * @return "Process-1", or the name it was given.
 */
const char *mp_process_name(const mp_process *p);

/**
 * @brief The child's pid: Python's `pid`.
 * @param p a process object.
 * @return the pid, or 0 if the process was never started.
 */
pid_t mp_process_pid(const mp_process *p);

/**
 * @brief The process object of the calling process: Python's
 *        `current_process()`.
 * @return in a child started by mp_process_start(), its own object (so
 *         `mp_process_name(mp_current_process())` is "Process-1"); in the
 *         main program, an object named "MainProcess".
 */
const mp_process *mp_current_process(void);

#endif
