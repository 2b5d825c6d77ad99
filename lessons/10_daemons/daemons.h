// daemons.h - lesson 10: daemonic children and real Unix daemons.
#ifndef FORKLINGS_DAEMONS_H
#define FORKLINGS_DAEMONS_H

#include <sys/types.h>

#include "../mp_ipc.h" // mp_ipc_path(): where tests and demo put pidfiles

/**
 * @file daemons.h
 * @brief Lesson 10: two kinds of "daemon".  Python's daemon flag, a child
 *        that must not outlive its parent, and a real Unix daemon, a
 *        process detached from its session and terminal that lives on
 *        after its caller, found and stopped through a locked pidfile.
 *
 * Python equivalent of the daemon flag:
 * @code{.py}
 * from multiprocessing import Process
 *
 * p = Process(target=f, daemon=True)  # or p.daemon = True before start()
 * p.start()                           # ended when the main program ends;
 *                                     # may not start children itself
 * @endcode
 *
 * Python has no Unix daemon in its standard library; the python-daemon
 * package (PEP 3143) does what mp_daemonize() does:
 * @code{.py}
 * import daemon, daemon.pidfile
 *
 * with daemon.DaemonContext(
 *         working_directory="/", umask=0,
 *         pidfile=daemon.pidfile.TimeoutPIDLockFile("/run/my.pid")):
 *     serve_forever()
 * @endcode
 * and `kill -TERM $(cat /run/my.pid)` is the shell's mp_daemon_stop().
 */

/// The umask a daemon runs with: 0, so that the modes it passes to
/// open() and mkdir() are the modes its files get.
#define MP_DAEMON_UMASK 0

/// Exit status of a daemonic child that finds its parent already gone
/// before its target could start (it never runs the target).
#define MP_EXIT_ORPHANED 1

/**
 * @brief A function that a child, or a daemon, runs.
 * @param arg the pointer given to mp_start() or mp_daemonize().
 * @return the exit status (only the low 8 bits survive).
 */
typedef int (*mp_target)(void *arg);

/**
 * @brief Run `target(arg)` in a child process; with `daemonic`, tie the
 *        child's life to the caller's.  Python's `Process(target=f,
 *        daemon=True).start()`.
 *
 * The parent returns at once with the child's pid; the child runs
 * `target(arg)`, flushes stdio and ends with `_exit()` and the target's
 * value.  A daemonic child asks the kernel for SIGKILL the moment its
 * parent ends (`prctl(PR_SET_PDEATHSIG)`), however the parent ends: a
 * normal exit, a crash, or SIGKILL.  Then it checks that its parent is
 * still the process that forked it: one that died before the prctl()
 * would never send the signal, so the child ends there, with
 * MP_EXIT_ORPHANED, without running the target.
 *
 * @param target   the function the child runs; must not be NULL.
 * @param arg      passed to target unchanged.
 * @param daemonic 1 for a daemonic child, 0 for an ordinary one.
 * @return the child's pid (> 0), in the parent; reap it with waitpid().
 * @retval -EINVAL target is NULL.
 * @retval -EPERM  the caller is itself a daemonic child: Python's
 *                 "daemonic processes are not allowed to have children"
 *                 (they would be orphaned when it is killed).
 * @retval -EAGAIN fork() failed: too many processes.
 * @retval -ENOMEM fork() failed: not enough memory.
 * @note The death signal follows the THREAD that forked: a child started
 *       from a thread dies when that thread exits, even if the process
 *       lives on.  fork() clears it in the child's own children, and
 *       exec() of a set-user-ID program clears it too.
 * @note Python ends daemonic children from an exit handler of the main
 *       program (SIGTERM, then join), which never runs if the parent is
 *       killed; the kernel's death signal always fires.
 */
pid_t mp_start(mp_target target, void *arg, int daemonic);

/**
 * @brief Start `run(arg)` as a Unix daemon, and return once it is ready.
 *
 * The caller forks a child, which calls setsid() to leave the caller's
 * session and terminal, then forks the daemon and exits (the caller reaps
 * it): the daemon is an orphan that is not a session leader, so it can
 * never acquire a controlling terminal.  The daemon sets its umask to
 * MP_DAEMON_UMASK, changes to `workdir`, puts /dev/null on descriptors 0,
 * 1 and 2, closes every other descriptor it inherited, and takes a POSIX
 * record lock (fcntl(), F_SETLK, a write lock on the whole file) on the
 * pidfile, which it holds for its whole life.  Only then does it write
 * its pid into the pidfile (decimal, then a newline), set up SIGTERM, and
 * report to the caller through a pipe.  On SIGTERM, or when run()
 * returns, the daemon removes the pidfile and exits (with 0 after
 * SIGTERM, with run's value otherwise).
 *
 * @param pidfile an absolute path (the daemon changes directory): the
 *                pidfile, created with mode 0644 if it does not exist.
 * @param workdir the daemon's working directory, or NULL for "/".
 * @param run     what the daemon runs; must not be NULL.  Its stdio goes
 *                to /dev/null.
 * @param arg     passed to run unchanged.
 * @return the daemon's pid (> 0): by then the daemon holds the lock, the
 *         pidfile holds its pid, and the first child has been reaped.
 * @retval -EINVAL pidfile is NULL or relative, or run is NULL.
 * @retval -EPERM  the caller is a daemonic child (see mp_start()).
 * @retval -EEXIST another process holds the pidfile's lock: a daemon is
 *                 running already.  The pidfile is left as it was.
 * @retval -ECHILD the daemon ended before it reported.
 * @retval -ENOENT workdir does not exist (any failure of the daemon's
 *                 set-up comes back as its -errno, with nothing left
 *                 running).
 * @retval -EMFILE no descriptor left for the report pipe.
 * @retval -EAGAIN fork() failed: too many processes.
 * @note A stale pidfile, left by a daemon that was killed, does not stop a
 *       new daemon: the lock died with its owner.  The file's existence
 *       proves nothing; only the lock does.
 * @note A daemon's parent is init, or the nearest subreaper (the tests
 *       are one): whoever adopts it reaps it.
 */
pid_t mp_daemonize(const char *pidfile, const char *workdir, mp_target run,
                   void *arg);

/**
 * @brief Stop the daemon that holds a pidfile: send it SIGTERM and wait
 *        until it has ended.
 *
 * The daemon is the process that holds the pidfile's lock, as fcntl()
 * F_GETLK reports it, not whatever pid the file says: a stale pidfile may
 * name a process that has nothing to do with it.  The wait uses a pidfd
 * (pidfd_open() works for any process, not only a child), with no sleep.
 * It only reads the pidfile (open() it O_RDONLY): F_GETLK needs no more,
 * and a pidfile the caller may not write (mode 0444, a read-only mount)
 * still names its daemon.
 *
 * @param pidfile    the daemon's pidfile.
 * @param timeout_ms how long to wait for the end, in milliseconds: -1
 *                   (any negative value) waits until it ends.
 * @return 0 once the daemon has ended.
 * @retval -EINVAL    pidfile is NULL.
 * @retval -ENOENT    there is no pidfile (any failure to open it comes
 *                    back as -errno).
 * @retval -ESRCH     no process holds the lock: no daemon runs, whatever
 *                    the file says.  Nothing is signalled.
 * @retval -ENOLCK    (or another error number) fcntl(F_GETLK) failed:
 *                    minus its errno, not -ESRCH (nobody knows whether a
 *                    daemon runs).  Nothing is signalled.
 * @retval -ENOMEM    (or another error number) poll() failed, other than
 *                    with EINTR: minus its errno.
 * @retval -ETIMEDOUT the daemon was still running after timeout_ms.
 * @retval -EMFILE    no descriptor left for the pidfd: nothing is
 *                    signalled.
 * @retval -ENOSYS    the kernel has no pidfd_open (Linux before 5.3).
 * @note Signals that interrupt the wait are not errors: the wait goes on
 *       for the time that is left.
 */
int mp_daemon_stop(const char *pidfile, int timeout_ms);

#endif
