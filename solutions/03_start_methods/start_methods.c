// start_methods.c - lesson 03: start a child by fork, spawn or forkserver.
//
// Your task: make every function of start_methods.h work.  Read
// lessons/03_start_methods/README.md first; `make check L=03` tests your
// code, `make hint L=03` gives one more hint each time you run it.
//
// One program, three roles.  The caller registers targets by name and
// starts them.  A spawned child is this same program run again: the
// mp_spawn_main() call at the top of main sees MP_SPAWN_FLAG in argv and
// runs the target instead of main.  The fork server is this program run
// again with MP_FORKSERVER_FLAG: it forks children on request and reports
// how they ended, over a socket, until told to stop.
//
// The static helpers are yours to write too: a TODO(03) at file level
// describes each one, and it goes right under its TODO.  Write them in
// the order of the file; each section uses only what comes before it.
#define _GNU_SOURCE // syscall(SYS_pidfd_open): a wait that can time out
#include "start_methods.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SELF "/proc/self/exe" // this program, whatever its name or path

extern char **environ; // what a spawned child inherits as its environment

/* ------------------------------------------------------------ registry */

// One registered target.
struct target {
    char name[MP_NAME_MAX];
    mp_target fn;
};

// TODO(03): keep this process's targets in a static table of
// MP_MAX_TARGETS struct target entries, with a count of those in use.
static struct target targets[MP_MAX_TARGETS];
static int ntargets;

// TODO(03): write `static mp_target find(const char *name)`: the target
// registered under name, or NULL.  Compare each name in use (strcmp).
// The trap: falling back on some entry when no name matches runs a
// target that nobody asked for.
static mp_target
find(const char *name)
{
    for (int i = 0; i < ntargets; i++)
        if (strcmp(targets[i].name, name) == 0)
            return targets[i].fn;
    return NULL;
}

int
mp_register(const char *name, mp_target fn)
{
    // TODO(03): reject a NULL name or fn and an empty name with -EINVAL,
    // a name of MP_NAME_MAX characters or more with -ENAMETOOLONG.
    if (name == NULL || fn == NULL || name[0] == '\0')
        return -EINVAL;
    if (strlen(name) >= MP_NAME_MAX)
        return -ENAMETOOLONG;
    // TODO(03): a name registered already is -EEXIST (use find()), a full
    // table -ENOSPC.  Then copy the name into the table (the caller's
    // string may not live as long) and keep fn.
    if (find(name) != NULL)
        return -EEXIST;
    if (ntargets == MP_MAX_TARGETS)
        return -ENOSPC;
    strcpy(targets[ntargets].name, name);
    targets[ntargets++].fn = fn;
    return 0;
}

/* ------------------------------------------------ waiting, exit codes */

// TODO(03): write `static int exitcode(int status)`: Python's exit code
// for a wait status.  WIFEXITED: WEXITSTATUS.  WIFSIGNALED: minus
// WTERMSIG (-15 after SIGTERM, not 15).  Anything else: -EINVAL.
static int
exitcode(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return -WTERMSIG(status);
    return -EINVAL;
}

// TODO(03): write `static int reap(pid_t pid, int *status, int flags)`:
// waitpid(pid, status, flags), called again while it fails with EINTR.
// Return what waitpid returned (the pid, or 0 under WNOHANG while the
// child runs), or -errno.
static int
reap(pid_t pid, int *status, int flags)
{
    pid_t r;
    while ((r = waitpid(pid, status, flags)) < 0)
        if (errno != EINTR)
            return -errno;
    return (int)r;
}

// TODO(03): write `static int poll_in(int fd, int timeout_ms)`: poll()
// fd for POLLIN for at most timeout_ms (negative: for ever) and return
// 1 (ready), 0 (timed out) or -errno.  A signal handler interrupts poll()
// with EINTR: poll again for the time LEFT until a deadline taken once,
// before the first poll, on clock_gettime(CLOCK_MONOTONIC), which no one
// can set back (and for ever again when timeout_ms is negative).  Polling
// again with the whole timeout lets a signal every few milliseconds keep
// a finite wait going for ever.
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

// TODO(03): write `static int wait_status(pid_t pid, int timeout_ms,
// int *status)`: wait up to timeout_ms (negative: for ever) for child pid
// to end, reap it and fill in *status; return 0, -ETIMEDOUT or -errno.
//  - First reap() it, with flags 0 to wait for ever, else WNOHANG: that
//    reaps a child that has ended, gives 0 for one still running, and
//    -ECHILD for a process that is not our child.
//  - Still running: syscall(SYS_pidfd_open, pid, 0) returns a descriptor
//    that poll() finds readable once the process has ended.  poll_in()
//    it for timeout_ms, close it, and if the child has ended, reap() it
//    with flags 0.  No loop of WNOHANG and sleep().
static int
wait_status(pid_t pid, int timeout_ms, int *status)
{
    int r = reap(pid, status, timeout_ms < 0 ? 0 : WNOHANG);
    if (r != 0)
        return r < 0 ? r : 0;
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd < 0)
        return -errno;
    int n = poll_in(pfd, timeout_ms);
    close(pfd);
    int err = n < 0 ? n : n == 0 ? -ETIMEDOUT : 0;
    if (err < 0)
        return err;
    r = reap(pid, status, 0);
    return r < 0 ? r : 0;
}

/* ----------------------------------------------------------------- fork */

// TODO(03): write `static pid_t start_fork(mp_target fn, const char
// *arg)`: fork(); the child runs fn(arg), flushes stdio (fflush(NULL))
// and ends with _exit() and fn's value; the parent returns the pid, or
// -errno if fork() failed.  (As in lesson 01.)
static pid_t
start_fork(mp_target fn, const char *arg)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int code = fn(arg);
        fflush(NULL);
        _exit(code);
    }
    return pid;
}

/* ---------------------------------------------------------------- spawn */

// TODO(03): write `static int listed(int fd, const int *fds, int n)`:
// 1 if fd is one of fds[0..n-1], else 0.
static int
listed(int fd, const int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] == fd)
            return 1;
    return 0;
}

// TODO(03): write `static int keep_only(posix_spawn_file_actions_t *fa,
// const int *keep, int nkeep)`: add file actions so that the child keeps
// descriptors 0, 1, 2 and those in keep[], and no other.  Read the
// caller's open descriptors from opendir("/proc/self/fd") (skip the
// directory's own, dirfd(), and 0..2).  For each one in keep[]:
// posix_spawn_file_actions_adddup2(fa, fd, fd), which clears its
// close-on-exec flag, so that it survives exec at the same number.  For
// every other: posix_spawn_file_actions_addclose(fa, fd).  The trap: a
// descriptor opened without O_CLOEXEC (plain pipe(), open()) survives
// exec unless you close it.  Return 0, or -errno (the file actions
// functions return an errno value, not -1).
static int
keep_only(posix_spawn_file_actions_t *fa, const int *keep, int nkeep)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -errno;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name); // "." and ".." read as 0: skipped
        if (fd < 3 || fd == dirfd(d))
            continue;
        if (listed(fd, keep, nkeep))
            rc = posix_spawn_file_actions_adddup2(fa, fd, fd);
        else
            rc = posix_spawn_file_actions_addclose(fa, fd);
    }
    closedir(d);
    return -rc;
}

// TODO(03): write `static pid_t spawn_self(char *const argv[], const int
// *keep, int nkeep)`: run this program again (SELF) with argv and the
// caller's environ, keeping only 0..2 and keep[]:
// posix_spawn_file_actions_init, keep_only, posix_spawn, and
// posix_spawn_file_actions_destroy whatever happened.  posix_spawn()
// returns an errno value (0 on success), not -1.  Return the pid, or
// -errno.
static pid_t
spawn_self(char *const argv[], const int *keep, int nkeep)
{
    posix_spawn_file_actions_t fa;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0)
        return -rc;
    pid_t pid = -1;
    rc = -keep_only(&fa, keep, nkeep);
    if (rc == 0)
        rc = posix_spawn(&pid, SELF, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc != 0 ? -rc : pid;
}

// TODO(03): write `static pid_t start_spawn(const char *name, const char
// *arg, const int *fds, int nfds)`: spawn_self() with the argv that
// mp_spawn_main() reads: {SELF, MP_SPAWN_FLAG, name, arg, NULL}.  (argv
// wants char *: cast the const away; exec copies the strings.)
static pid_t
start_spawn(const char *name, const char *arg, const int *fds, int nfds)
{
    char *argv[] = {SELF, MP_SPAWN_FLAG, (char *)name, (char *)arg, NULL};
    return spawn_self(argv, fds, nfds);
}

/* ------------------------------------------- the fork server's side */

// A request from the caller to the fork server.
struct request {
    int op;                 // OP_START, OP_WAIT or OP_STOP
    pid_t pid;              // OP_WAIT: the child
    int timeout_ms;         // OP_WAIT: as mp_join() takes it
    char name[MP_NAME_MAX]; // OP_START: the target's name
    char arg[MP_ARG_MAX];   // OP_START: its argument
};

// The fork server's answer to OP_START and OP_WAIT.
struct reply {
    int err;   // 0, or -errno
    int value; // OP_START: the child's pid; OP_WAIT: its exit code
};

enum { OP_START = 1, OP_WAIT, OP_STOP };

// TODO(03): write `static int xfer(int fd, void *buf, size_t len, int
// out)`: send (out = 1) or receive (out = 0) exactly len bytes over a
// socket.  Loop: a call may move fewer bytes than asked; again after
// EINTR.  send() with MSG_NOSIGNAL, so that a dead peer gives EPIPE
// instead of killing us with SIGPIPE.  Return 0, -EPIPE when recv()
// returns 0 (the peer closed), or -errno.
static int
xfer(int fd, void *buf, size_t len, int out)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = out ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? -EPIPE : -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

// TODO(03): write `static pid_t serve_start(int sock, struct request
// *rq)`, in the server: find() rq->name (unknown: -ENOENT, no fork),
// fflush(NULL), fork().  The child closes sock (the caller's channel is
// the server's, not the child's), runs the target with rq->arg, flushes
// and _exit()s with its value.  The server returns the pid or -errno.
static pid_t
serve_start(int sock, struct request *rq)
{
    mp_target fn = find(rq->name);
    if (fn == NULL)
        return -ENOENT;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        close(sock);
        int code = fn(rq->arg);
        fflush(NULL);
        _exit(code);
    }
    return pid;
}

// TODO(03): write `static void serve(int sock)`, the server's loop; it
// never returns.  Read one struct request at a time with xfer().
//  - OP_START: the reply is {0, pid} or {-errno, 0} from serve_start().
//  - OP_WAIT: wait_status(rq.pid, rq.timeout_ms, ...); the reply is
//    {0, exitcode(status)} or {-errno, 0}.  The server reaps, so the
//    server decodes: the caller cannot waitpid a child that is not its.
//  - anything else: {-EINVAL, 0}.
// End the loop on OP_STOP, on EOF (the caller is gone) or on an error.
// Then reap every child still there (waitpid(-1, ...) until it fails
// with ECHILD; again after EINTR): a child left behind would become a
// zombie of somebody else.  Close sock and _exit(0).
static void
serve(int sock)
{
    struct request rq;
    while (xfer(sock, &rq, sizeof rq, 0) == 0 && rq.op != OP_STOP) {
        struct reply rp = {-EINVAL, 0};
        int status;
        rq.name[MP_NAME_MAX - 1] = rq.arg[MP_ARG_MAX - 1] = '\0';
        if (rq.op == OP_START) {
            pid_t pid = serve_start(sock, &rq);
            rp.err = pid < 0 ? pid : 0;
            rp.value = pid < 0 ? 0 : pid;
        } else if (rq.op == OP_WAIT) {
            rp.err = wait_status(rq.pid, rq.timeout_ms, &status);
            rp.value = rp.err < 0 ? 0 : exitcode(status);
        }
        if (xfer(sock, &rp, sizeof rp, 1) < 0)
            break;
    }
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    close(sock);
    _exit(0);
}

/* ------------------------------------------- the fork server, caller */

// TODO(03): keep the server's pid (-1: none) and the caller's end of the
// socket (-1: none) in two static variables.
static pid_t server_pid = -1;
static int server_sock = -1;

pid_t
mp_forkserver_start(void)
{
    // TODO(03): a server is running already: return its pid.
    if (server_pid > 0)
        return server_pid;
    // TODO(03): socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv):
    // sv[0] is ours, sv[1] the server's.  spawn_self() with {SELF,
    // MP_FORKSERVER_FLAG, sv[1] as decimal text, NULL}, keeping sv[1]
    // only.  Spawned, not forked: the server starts from a fresh image,
    // single-threaded, without the caller's globals, locks or fds.
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    char fd[16];
    snprintf(fd, sizeof fd, "%d", sv[1]);
    char *argv[] = {SELF, MP_FORKSERVER_FLAG, fd, NULL};
    pid_t pid = spawn_self(argv, &sv[1], 1);
    // TODO(03): close sv[1] in the caller whatever happened: the server
    // has its copy, and ours would keep the server from ever seeing EOF.
    // If the spawn failed, close sv[0] too and return the error; else
    // keep sv[0] and the pid, and return the pid.
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return pid;
    }
    server_sock = sv[0];
    server_pid = pid;
    return pid;
}

// TODO(03): write `static int ask(struct request *rq)`: send *rq to the
// server and read its struct reply, with xfer().  Return what failed
// (-EPIPE if the server is gone), else the reply's err if negative, else
// its value.
static int
ask(struct request *rq)
{
    struct reply rp = {0};
    int err = xfer(server_sock, rq, sizeof *rq, 1);
    if (err == 0)
        err = xfer(server_sock, &rp, sizeof rp, 0);
    return err < 0 ? err : rp.err < 0 ? rp.err : rp.value;
}

// TODO(03): write `static pid_t start_forkserver(const char *name, const
// char *arg)`: mp_forkserver_start() (it may fail), then ask() for an
// OP_START with the name and arg copied in (snprintf: they fit, as
// mp_start() checked).  The server forks the child: not you.
static pid_t
start_forkserver(const char *name, const char *arg)
{
    pid_t server = mp_forkserver_start();
    if (server < 0)
        return server;
    struct request rq = {.op = OP_START};
    snprintf(rq.name, sizeof rq.name, "%s", name);
    snprintf(rq.arg, sizeof rq.arg, "%s", arg);
    return ask(&rq);
}

// TODO(03): write `static int join_forkserver(pid_t pid, int
// timeout_ms)`: no server running is -ECHILD; else ask() for an OP_WAIT.
static int
join_forkserver(pid_t pid, int timeout_ms)
{
    if (server_pid <= 0)
        return -ECHILD;
    struct request rq = {.op = OP_WAIT, .pid = pid, .timeout_ms = timeout_ms};
    return ask(&rq);
}

int
mp_forkserver_stop(void)
{
    // TODO(03): no server running is -ESRCH.
    if (server_pid <= 0)
        return -ESRCH;
    // TODO(03): send an OP_STOP with xfer() (ignore a failure: a dead
    // server needs no telling), close our end of the socket, reap the
    // server with wait_status(), and forget both (-1).  Return 0, or the
    // wait's error.
    struct request rq = {.op = OP_STOP};
    xfer(server_sock, &rq, sizeof rq, 1);
    close(server_sock);
    int status;
    int err = wait_status(server_pid, -1, &status);
    server_sock = -1;
    server_pid = -1;
    return err;
}

/* ------------------------------------------------------- entry points */

int
mp_spawn_main(int argc, char **argv)
{
    // TODO(03): argv[1] is MP_FORKSERVER_FLAG (and argc >= 3): this
    // process is the fork server; serve() on the descriptor in argv[2]
    // (atoi); serve() never returns.
    if (argc >= 3 && strcmp(argv[1], MP_FORKSERVER_FLAG) == 0)
        serve(atoi(argv[2]));
    // TODO(03): argv[1] is not MP_SPAWN_FLAG (or argc < 2): an ordinary
    // start of the program; return 0 so that main goes on.
    if (argc < 2 || strcmp(argv[1], MP_SPAWN_FLAG) != 0)
        return 0;
    // TODO(03): a spawned child: find() argv[2] (argc >= 4, or it is
    // unknown).  Unknown: _exit(MP_EXIT_NO_TARGET).  Else run it with
    // argv[3], fflush(NULL), and _exit() with its value.  Never return:
    // main would run the parent's program a second time.
    mp_target fn = argc >= 4 ? find(argv[2]) : NULL;
    if (fn == NULL)
        _exit(MP_EXIT_NO_TARGET);
    int code = fn(argv[3]);
    fflush(NULL);
    _exit(code);
}

// TODO(03): write `static int check_start(enum mp_method method, const
// char *name, const char *arg, const int *fds, int nfds)`: 0 if mp_start()
// may go on, else the -errno its doc gives, in this order: -EINVAL (name
// NULL; method not one of the three; nfds < 0; fds NULL with nfds > 0;
// nfds > 0 under MP_FORKSERVER), -EBADF (an fd for which fcntl(fd,
// F_GETFD) fails), -E2BIG (strlen(arg) >= MP_ARG_MAX).
static int
check_start(enum mp_method method, const char *name, const char *arg,
            const int *fds, int nfds)
{
    if (name == NULL || nfds < 0 || (nfds > 0 && fds == NULL))
        return -EINVAL;
    if (method != MP_FORK && method != MP_SPAWN && method != MP_FORKSERVER)
        return -EINVAL;
    if (method == MP_FORKSERVER && nfds > 0)
        return -EINVAL;
    for (int i = 0; i < nfds; i++)
        if (fcntl(fds[i], F_GETFD) < 0)
            return -EBADF;
    return strlen(arg) >= MP_ARG_MAX ? -E2BIG : 0;
}

pid_t
mp_start(enum mp_method method, const char *name, const char *arg,
         const int *pass_fds, int npass)
{
    // TODO(03): a NULL arg becomes "", then check_start().
    if (arg == NULL)
        arg = "";
    int err = check_start(method, name, arg, pass_fds, npass);
    if (err < 0)
        return err;
    // TODO(03): an unregistered name is -ENOENT, for every method, before
    // anything starts (no child, no fork server): find() it here.
    mp_target fn = find(name);
    if (fn == NULL)
        return -ENOENT;
    // TODO(03): fflush(NULL), so that what the caller printed comes out
    // once and before the child's output, then start_fork(),
    // start_spawn() or start_forkserver() as method says.
    fflush(NULL);
    if (method == MP_FORK)
        return start_fork(fn, arg);
    if (method == MP_SPAWN)
        return start_spawn(name, arg, pass_fds, npass);
    return start_forkserver(name, arg);
}

int
mp_join(enum mp_method method, pid_t pid, int timeout_ms)
{
    // TODO(03): reject pid <= 0 and an unknown method with -EINVAL (to
    // waitpid, 0 and -1 mean "any child").
    if (pid <= 0 ||
        (method != MP_FORK && method != MP_SPAWN && method != MP_FORKSERVER))
        return -EINVAL;
    // TODO(03): a forkserver child is the server's: join_forkserver().
    // Else wait_status() here; return its error or the exitcode().
    if (method == MP_FORKSERVER)
        return join_forkserver(pid, timeout_ms);
    int status;
    int err = wait_status(pid, timeout_ms, &status);
    return err < 0 ? err : exitcode(status);
}
