// start_methods.h - lesson 03: start a child by fork, spawn or forkserver.
#ifndef FORKLINGS_START_METHODS_H
#define FORKLINGS_START_METHODS_H

#include <sys/types.h>

/**
 * @file start_methods.h
 * @brief Lesson 03: the three start methods of Python's multiprocessing,
 *        fork, spawn and forkserver, and what a child inherits under each.
 *
 * A target is chosen by a registered name, never by a function pointer:
 * a pointer means nothing in a freshly executed program, just as Python's
 * spawn can only start what it can pickle by name.  Every process (the
 * parent, each spawned child, the fork server) registers the same names
 * at startup, then calls mp_spawn_main().
 *
 * Python equivalent:
 * @code{.py}
 * import multiprocessing as mp
 *
 * def work(arg):                      # defined at the top level: picklable
 *     ...
 *
 * if __name__ == "__main__":          # mp_spawn_main() plays this part
 *     ctx = mp.get_context("spawn")   # or "fork", "forkserver"
 *     p = ctx.Process(target=work, args=("3",))
 *     p.start()
 *     p.join(timeout=0.1)
 *     print(p.exitcode)               # None while running, -15 after SIGTERM
 * @endcode
 */

/// The longest registered name, counting its terminating NUL.
#define MP_NAME_MAX 32

/// The longest argument string, counting its terminating NUL.
#define MP_ARG_MAX 256

/// How many targets one process may register.
#define MP_MAX_TARGETS 32

/// argv[1] of a spawned child: argv is {path, MP_SPAWN_FLAG, name, arg}.
#define MP_SPAWN_FLAG "--mp-spawn"

/// argv[1] of the fork server: argv is {path, MP_FORKSERVER_FLAG, fd}.
#define MP_FORKSERVER_FLAG "--mp-forkserver"

/// Exit status of a spawned child whose target name is not registered in
/// it (Python's child fails to unpickle the target and exits with 1).
#define MP_EXIT_NO_TARGET 127

/// How a child is started: Python's `set_start_method()` names.
enum mp_method {
    MP_FORK,      ///< fork(): the child is a copy of the caller
    MP_SPAWN,     ///< posix_spawn() of this program: a fresh image
    MP_FORKSERVER ///< forked by a server that was itself spawned
};

/**
 * @brief A function that a child runs, found by its registered name.
 * @param arg the string given to mp_start() ("" for NULL): a string
 *        survives exec, where a pointer would not.
 * @return the child's exit status (only the low 8 bits survive).
 */
typedef int (*mp_target)(const char *arg);

/**
 * @brief Register a target under a name, in this process only.
 *
 * A spawned child and the fork server are fresh programs: they know only
 * what they register themselves.  So register every target at startup,
 * before mp_spawn_main(), in the code that every process runs.
 *
 * @param name the name that mp_start() will use; copied.
 * @param fn   the function to run.
 * @return 0 on success.
 * @retval -EINVAL name or fn is NULL, or name is empty.
 * @retval -ENAMETOOLONG name has MP_NAME_MAX characters or more.
 * @retval -EEXIST name is already registered.
 * @retval -ENOSPC MP_MAX_TARGETS names are registered already.
 */
int mp_register(const char *name, mp_target fn);

/**
 * @brief The entry point of a spawned child and of the fork server.
 *
 * Call it first thing in main, after registering the targets.  In a
 * process that mp_start() spawned (argv[1] is MP_SPAWN_FLAG) it runs the
 * named target with the given argument, flushes stdio and ends the
 * process with `_exit()` and the target's value.  In the fork server
 * (argv[1] is MP_FORKSERVER_FLAG) it serves requests until told to stop,
 * then ends the process.  In any other process it returns 0 at once.
 *
 * @param argc from main.
 * @param argv from main.
 * @return 0: this process is not a child of mp_start(); main goes on.
 * @note A spawned child whose name is not registered in it ends with
 *       MP_EXIT_NO_TARGET: it cannot run what it does not know.
 * @note This is C's `if __name__ == "__main__"`: what main does before
 *       the call, every child does too; what it does after, only the
 *       parent does.
 */
int mp_spawn_main(int argc, char **argv);

/**
 * @brief Start a child that runs the target registered under name.
 *
 * - MP_FORK: fork() and run the target in the child, which sees a copy
 *   of all the caller's memory and descriptors.
 * - MP_SPAWN: posix_spawn() of this program (/proc/self/exe) with the
 *   name and argument in argv.  The child starts from a fresh image: no
 *   global set by the caller, no lock held by the caller's threads, and
 *   only descriptors 0, 1, 2 and those in pass_fds (at the same numbers).
 * - MP_FORKSERVER: ask the fork server (started on first use) to fork
 *   the child.  The child is the server's: its getppid() is the server.
 *
 * The caller's stdio streams are flushed first.
 *
 * @param method   MP_FORK, MP_SPAWN or MP_FORKSERVER.
 * @param name     a registered name.
 * @param arg      the target's argument; NULL passes "".
 * @param pass_fds descriptors a spawned child keeps (MP_SPAWN only; fork
 *                 keeps them all anyway); may be NULL when npass is 0.
 * @param npass    entries in pass_fds.
 * @return the child's pid (> 0).
 * @retval -EINVAL name is NULL, method unknown, npass negative, pass_fds
 *         NULL with npass > 0, or npass > 0 with MP_FORKSERVER.
 * @retval -EBADF an entry of pass_fds is not an open descriptor.
 * @retval -E2BIG arg has MP_ARG_MAX characters or more.
 * @retval -ENOENT name is not registered in the caller: no process is
 *         started (not even the fork server).
 * @retval -EAGAIN, -ENOMEM, ... fork() or posix_spawn() failed.
 * @retval -EMFILE no descriptor was free (to list the descriptors to
 *                 close in a spawned child, say).
 * @retval -EPIPE MP_FORKSERVER: the fork server is gone.
 * @note Under MP_FORK in a program with threads, the child has only the
 *       thread that forked: a mutex another thread held stays locked for
 *       ever in the child.  Such a child may only make async-signal-safe
 *       calls (no malloc, no printf) until it execs.
 */
pid_t mp_start(enum mp_method method, const char *name, const char *arg,
               const int *pass_fds, int npass);

/**
 * @brief Wait for a child of mp_start() to end and return its exit code.
 *
 * Under MP_FORK and MP_SPAWN the caller reaps the child itself; under
 * MP_FORKSERVER it asks the server, which reaps it and reports.
 *
 * @param method     the method that started the child.
 * @param pid        the child's pid.
 * @param timeout_ms how long to wait: -1 for ever, 0 to poll.
 * @return the exit status if the child exited, minus the signal number if
 *         a signal killed it (Python's `Process.exitcode`).
 * @retval -ETIMEDOUT the child is still running after timeout_ms; a
 *                    signal does not restart the timeout.
 * @retval -EMFILE no descriptor was free for the pidfd.
 * @retval -ECHILD pid is not a child of the caller (of the server under
 *         MP_FORKSERVER, or there is no server).
 * @retval -EINVAL pid is not positive, or method is unknown.
 * @retval -EPIPE MP_FORKSERVER: the fork server is gone.
 * @note A signal that interrupts the wait (EINTR) is not an error.
 */
int mp_join(enum mp_method method, pid_t pid, int timeout_ms);

/**
 * @brief Start the fork server, unless it is running already.
 *
 * The server is this program spawned with MP_FORKSERVER_FLAG: a fresh,
 * single-threaded process that forks a child on each request and reports
 * each child's exit code.  mp_start() calls this on first use.
 *
 * @return the server's pid (> 0), the same one until mp_forkserver_stop().
 * @retval -EMFILE, -EAGAIN, ... socketpair() or posix_spawn() failed.
 * @note The server belongs to the process that started it: a forked child
 *       of that process must not use it.
 */
pid_t mp_forkserver_start(void);

/**
 * @brief Stop the fork server and reap it.
 *
 * The server first reaps its own children: join (or kill) those still
 * running before stopping it, or the stop waits for them.
 *
 * @return 0 once the server has ended and been reaped.
 * @retval -ESRCH no server is running.
 * @retval -ECHILD the server was reaped by someone else (a waitpid(-1) of
 *         the caller's own): it is forgotten all the same.
 */
int mp_forkserver_stop(void);

#endif
