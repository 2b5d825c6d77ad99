// process.c - lesson 02: the Process object: start, join, exit code, name.
//
// Your task: make the functions below work as process.h describes.  The
// accessors at the end are written for you.  Read
// lessons/02_process/README.md first; `make check L=02` tests your code,
// `make hint L=02` gives one more hint each time you run it.
#define _DEFAULT_SOURCE // syscall(), for pidfd_open, is not in POSIX
#include "process.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 // the same number on every architecture
#endif

// Python's current_process(): the main program's object, until a child
// started by mp_process_start() makes its own object the current one.
static mp_process main_process = {.name = "MainProcess",
                                  .exitcode = MP_EXITCODE_NONE};
static const mp_process *current = &main_process;

// TODO(02): declare a static counter of the process objects this process
// has created: Python's _process_counter.  One counter for every class.
static unsigned counter;

/* ------------------------------------------------------------- objects */

int
mp_process_init_subclass(mp_process *p, const char *cls, mp_run run,
                         const char *name)
{
    // TODO(02): reject a NULL p, cls or run with -EINVAL.
    if (p == NULL || cls == NULL || run == NULL)
        return -EINVAL;
    // TODO(02): take the counter's next number (the first is 1), even when
    // a name is given.  The identity is that number, after the current
    // process's identity and a colon when it has one: "1:2" is the second
    // process made by the child Process-1.  snprintf it into p->ident.
    const char *up = current->ident;
    int n = snprintf(p->ident, sizeof p->ident, "%s%s%u", up,
                     up[0] != '\0' ? ":" : "", ++counter);
    if (n < 0 || n >= (int)sizeof p->ident)
        return -ENAMETOOLONG;
    // TODO(02): the name is the given one, or "cls-ident": snprintf into
    // p->name, and return -ENAMETOOLONG when its result says it did not
    // fit.  Never strcpy a name you did not measure: a long one would
    // overwrite the fields after p->name.
    if (name != NULL)
        n = snprintf(p->name, sizeof p->name, "%s", name);
    else
        n = snprintf(p->name, sizeof p->name, "%s-%s", cls, p->ident);
    if (n < 0 || n >= (int)sizeof p->name)
        return -ENAMETOOLONG;
    // TODO(02): set run, no target, pid 0 (not started) and the exit code
    // MP_EXITCODE_NONE: 0 would read as "exited with status 0".
    p->run = run;
    p->target = NULL;
    p->arg = NULL;
    p->pid = 0;
    p->exitcode = MP_EXITCODE_NONE;
    return 0;
}

int
mp_process_init(mp_process *p, mp_target target, void *arg, const char *name)
{
    // TODO(02): reject a NULL target with -EINVAL, then set p up as a
    // subclass named "Process" whose run is mp_process_run, and keep
    // target and arg in it.
    if (target == NULL)
        return -EINVAL;
    int r = mp_process_init_subclass(p, "Process", mp_process_run, name);
    if (r < 0)
        return r;
    p->target = target;
    p->arg = arg;
    return 0;
}

int
mp_process_run(mp_process *self)
{
    // TODO(02): return self->target(self->arg), or -EINVAL when self or
    // its target is NULL.
    if (self == NULL || self->target == NULL)
        return -EINVAL;
    return self->target(self->arg);
}

/* --------------------------------------------------------------- start */

int
mp_process_start(mp_process *p)
{
    // TODO(02): reject NULL with -EINVAL, and a process that was started
    // before (its pid is not 0) with -EALREADY: forking again would make a
    // second child and lose the first one's pid.
    if (p == NULL)
        return -EINVAL;
    if (p->pid != 0)
        return -EALREADY;
    // TODO(02): fflush(NULL) before fork(), or what stdio holds is printed
    // twice.  fork() failing gives -errno.
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        // TODO(02): in the child, keep getpid() in p->pid, make p the
        // current process and set the counter back to 0 (this process's
        // own children are numbered from 1 again).  Then run p->run(p),
        // flush what it printed, and _exit() with its value.  Never
        // return: the caller's code would run a second time, in the child.
        p->pid = getpid();
        current = p;
        counter = 0;
        int status = p->run(p);
        fflush(NULL);
        _exit(status);
    }
    // TODO(02): in the parent, keep the child's pid in p->pid; return 0.
    p->pid = pid;
    return 0;
}

/* ------------------------------------------------------------- waiting */

// TODO(02): a helper that reaps the child: waitpid(p->pid, &status,
// options), called again while it fails with EINTR (any other failure is
// -errno).  waitpid returns 0 when WNOHANG finds the child running: return
// 0.  Otherwise keep the exit code in p->exitcode, decoded the Python way
// (WIFSIGNALED: minus WTERMSIG; else WEXITSTATUS), and return 1.
static int
reap(mp_process *p, int options)
{
    int status;
    pid_t r;
    while ((r = waitpid(p->pid, &status, options)) < 0)
        if (errno != EINTR)
            return -errno;
    if (r == 0)
        return 0;
    p->exitcode = WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
    return 1;
}

// TODO(02): a helper that polls one fd for POLLIN for at most timeout_ms
// (negative: no limit) and returns poll()'s result: 1 ready, 0 timed
// out, or -errno.  When a signal handler interrupts poll (EINTR), poll
// again for the time that is LEFT: measure it with
// clock_gettime(CLOCK_MONOTONIC), which no one can set back.
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

int
mp_process_join(mp_process *p, int timeout_ms)
{
    // TODO(02): -EINVAL if p is NULL or was never started.
    if (p == NULL || p->pid == 0)
        return -EINVAL;
    // TODO(02): if the exit code is known, the child was reaped already:
    // return 0.  A second waitpid would fail with ECHILD.
    if (p->exitcode != MP_EXITCODE_NONE)
        return 0;
    // TODO(02): wait without a sleep loop: open a pidfd for the child
    // (syscall(SYS_pidfd_open, pid, 0)), which becomes readable when the
    // child ends, and poll it with your helper.  Close the pidfd on every
    // path, the timeout's too.  Nothing ready in time is -ETIMEDOUT.  A
    // plain waitpid(pid, &status, 0) here would ignore the timeout.
    int fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    if (fd < 0)
        return -errno;
    int n = poll_in(fd, timeout_ms);
    close(fd);
    if (n < 0)
        return n;
    if (n == 0)
        return -ETIMEDOUT;
    // TODO(02): the child has ended: reap it with your helper (blocking
    // is fine now) and return 0, or the helper's -errno.
    int r = reap(p, 0);
    return r < 0 ? r : 0;
}

int
mp_process_is_alive(mp_process *p)
{
    // TODO(02): -EINVAL for NULL; 0 (not alive) if never started or if
    // the exit code is known already.
    if (p == NULL)
        return -EINVAL;
    if (p->pid == 0 || p->exitcode != MP_EXITCODE_NONE)
        return 0;
    // TODO(02): ask the kernel with your helper and WNOHANG: still running
    // is alive (1); ended is now reaped, its exit code kept, and not alive
    // (0).  Not kill(pid, 0): it succeeds on a zombie, which is not alive.
    int r = reap(p, WNOHANG);
    return r < 0 ? r : !r;
}

/* ------------------------------------------------------------- signals */

// TODO(02): a helper that sends sig to the child: -EINVAL unless it was
// started (kill(0, sig) would signal the caller's whole process group);
// 0 without sending anything once its exit code is known (the reaped
// child's pid may belong to another process by now); otherwise
// kill(p->pid, sig), -errno if that fails.
static int
send_signal(mp_process *p, int sig)
{
    if (p == NULL || p->pid == 0)
        return -EINVAL;
    if (p->exitcode != MP_EXITCODE_NONE)
        return 0;
    if (kill(p->pid, sig) < 0)
        return -errno;
    return 0;
}

int
mp_process_terminate(mp_process *p)
{
    // TODO(02): send SIGTERM, the polite request a child may catch.
    return send_signal(p, SIGTERM);
}

int
mp_process_kill(mp_process *p)
{
    // TODO(02): send SIGKILL, which no process can catch or ignore.
    return send_signal(p, SIGKILL);
}

/* ------------------------------------------ accessors (written for you) */

const char *
mp_process_name(const mp_process *p)
{
    return p->name;
}

pid_t
mp_process_pid(const mp_process *p)
{
    return p->pid;
}

int
mp_process_exitcode(const mp_process *p)
{
    return p->exitcode;
}

const mp_process *
mp_current_process(void)
{
    return current;
}
