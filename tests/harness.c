// harness.c - what every forklings test runs around its body.
//
// Why this exists: Check's fork mode judges a test by its process's exit
// status, and code that is learning to fork gets that wrong in every way a
// test can be fooled.  A parent that takes the child's path calls exit(0)
// and the test "passes"; a child that forgets _exit returns into the test
// and runs its assertions twice; a missing waitpid leaves a zombie nobody
// notices.  The harness closes those holes in one place:
//
//   - a test passes only through fl_end, which hands the runner a 64-bit
//     token through a pipe and ends the process with a pass status, both
//     drawn at random when the runner starts; any other exit reads as an
//     early exit and fl_main turns Check's terse message into one that
//     teaches.  A public pass status would let `_exit(77)` in the code under
//     test pass every test;
//   - the test process becomes a subreaper, so every process the code under
//     test leaves behind, even a setsid daemon, is a child we can see, judge
//     and kill;
//   - descriptors and IPC names are compared with a snapshot taken before
//     the body ran.
//
// What it trades: tests run in the same process as the student's code, so
// code that digs the token out of this process's memory (finding it by the
// symbols in /proc/self/exe, say) can still forge its own tests' verdicts.
// That takes deliberate code an instructor sees at once, not a one-liner;
// the README's honest limits say so.  The runner, which writes verdicts,
// runs no student code: the grader refuses constructors and interposed
// libc, Check and harness names before linking.
#define _GNU_SOURCE
#include "harness.h"
#include "sanitize.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 1024
#define MSG_MAX 2048

// State shared by the runner, the test process and any child that strays
// from it: created by the runner, so that it survives both forks.
struct fl_shared {
    volatile pid_t stray; // a child that came back into the test body
    atomic_int misused;   // fl_misuse was called: misuse holds why
    char misuse[512];
};

#define STRAY_MSG                                                              \
    "A child process (pid %d) came back into the test: after fork, the "       \
    "child's path must end with _exit(). It returned to the caller, or "       \
    "called exit() and ran the parent's exit handlers. "

static pid_t test_pid;           // the Check child running the test
static const char *stray_hint;   // the test's likely cause of a stray child
static struct fl_shared *shared; // MAP_SHARED: survives fork
static unsigned char fds_before[MAX_FDS];
static char prefix[64];
static int result_fd = -1;
static int pass_status;                // this run's secret exit status
static uint64_t token;                 // this run's secret proof of fl_end
static int token_w = -1, token_r = -1; // the current case's token pipe

/* ---------------------------------------------------------------- /proc */

// "/proc/PID/stat" after the command name (which may hold spaces and
// ')': what follows the last ')'), in buf; NULL if pid is gone.
static const char *
stat_fields(pid_t pid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p == NULL ? NULL : p + 1;
}

// Read "/proc/PID/stat": the state letter and the parent pid.
static int
proc_stat(pid_t pid, char *state, pid_t *ppid)
{
    char buf[512];
    const char *p = stat_fields(pid, buf, sizeof buf);
    int pp;
    if (p == NULL || sscanf(p, " %c %d", state, &pp) != 2)
        return -1;
    *ppid = pp;
    return 0;
}

pid_t
fl_ppid_of(pid_t pid)
{
    char st;
    pid_t pp;
    return proc_stat(pid, &st, &pp) == 0 ? pp : -1;
}

int
fl_zombie(pid_t pid)
{
    char st;
    pid_t pp;
    return proc_stat(pid, &st, &pp) == 0 && (st == 'Z' || st == 'X');
}

int
fl_alive(pid_t pid)
{
    char st;
    pid_t pp;
    return proc_stat(pid, &st, &pp) == 0 && st != 'Z' && st != 'X';
}

char
fl_proc_state(pid_t pid)
{
    char st;
    pid_t pp;
    return proc_stat(pid, &st, &pp) == 0 ? st : 0;
}

long
fl_proc_sleeps(pid_t pid)
{
    char path[64], line[128];
    long n = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
            break;
    fclose(f);
    return n;
}

long
fl_vm_pages(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    ck_assert_msg(fd >= 0, "open /proc/self/statm: %s", strerror(errno));
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    ck_assert_msg(got > 0, "read /proc/self/statm failed");
    buf[got] = '\0';
    return strtol(buf, NULL, 10);
}

char
fl_proc_sleeps_again(pid_t pid, long slept, long limit_ms)
{
    long end = fl_now_ms() + limit_ms;
    for (;;) {
        long n = fl_proc_sleeps(pid); // first the count, then the state
        char st = fl_proc_state(pid);
        if ((st == 'S' && n > slept) || st == 'Z' || st == 'X' || st == 0 ||
            fl_now_ms() > end)
            return st;
        sched_yield();
    }
}

long
fl_proc_cpu_ms(pid_t pid)
{
    char buf[512];
    // After the command name: state (3), ..., utime (14), stime (15).
    const char *p = stat_fields(pid, buf, sizeof buf);
    unsigned long ut, st;
    if (p == NULL || sscanf(p,
                            " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                            "%lu %lu",
                            &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (long)((ut + st) * 1000 / (unsigned long)(hz > 0 ? hz : 100));
}

void
fl_cpu_budget(long ms)
{
    struct itimerval t = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    signal(SIGPROF, SIG_DFL);
    setitimer(ITIMER_PROF, &t, NULL);
}

int
fl_proc_idles(pid_t pid, long quiet_ms)
{
    long until = fl_now_ms() + 3000, since = -1;
    long spent = fl_proc_cpu_ms(pid);
    for (long now = fl_now_ms(); now < until; now = fl_now_ms()) {
        long cpu = fl_proc_cpu_ms(pid);
        if (cpu < 0 || cpu - spent >= 300)
            return 0;
        char st = fl_proc_state(pid);
        if (st == 'Z' || st == 'X' || st == 0)
            return 0; // it ended (a zombie's CPU time can still be read)
        if (st != 'S')
            since = -1;
        else if (since < 0)
            since = now;
        else if (now - since >= quiet_ms)
            return 1;
        sched_yield();
    }
    return 0;
}

char
fl_proc_settles(pid_t pid)
{
    char st = fl_proc_sleeps_again(pid, -1, 3000);
    if (st != 'S' || fl_proc_idles(pid, 20))
        return st;
    st = fl_proc_state(pid);
    return st == 'S' ? 'R' : st;
}

int
fl_set_last_pid(pid_t pid)
{
    int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char text[16];
    int len = snprintf(text, sizeof text, "%d", (int)pid);
    int r = write(fd, text, (size_t)len) == len ? 0 : -1;
    close(fd);
    return r;
}

int
fl_children_of(pid_t parent, pid_t *kids, int max)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        if (fl_ppid_of(pid) == parent)
            kids[n++] = pid;
    }
    closedir(d);
    return n;
}

const char *
fl_signame(int sig)
{
    static char buf[32];
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev == NULL) {
        snprintf(buf, sizeof buf, "signal %d", sig);
        return buf;
    }
    snprintf(buf, sizeof buf, "SIG%s", abbrev);
    return buf;
}

const char *
fl_ret(long long v)
{
    static char bufs[4][96];
    static int next;
    char *b = bufs[next++ % 4];
    const char *name = v < 0 && v > -4096 ? strerrorname_np((int)-v) : NULL;
    if (name == NULL)
        snprintf(b, sizeof bufs[0], "%lld", v);
    else
        snprintf(b, sizeof bufs[0], "%lld (-%s%s)", v, name,
                 v == -ENOSYS ? ": not written yet, still the stub" : "");
    return b;
}

int
fl_count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

long
fl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

long long
fl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------- children */

int
fl_kill_children(void)
{
    pid_t kids[256];
    int total = 0, n;
    // Killing a child reparents its own children to us (we are a
    // subreaper), so repeat until a scan finds nobody.
    while ((n = fl_children_of(getpid(), kids, 256)) > 0) {
        for (int i = 0; i < n; i++)
            kill(kids[i], SIGKILL);
        for (int i = 0; i < n; i++)
            while (waitpid(kids[i], NULL, 0) < 0 && errno == EINTR)
                ;
        total += n;
    }
    return total;
}

static int
pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

// The child side of fl_run_in_child: run fn and report its return value
// on `rep`; a child that never writes there exited (or died) on its own.
static void
child_side(int (*fn)(void *), void *arg, int capture, int out[2], int rep[2])
{
    setpgid(0, 0);
    close(rep[0]);
    if (capture) {
        close(out[0]);
        dup2(out[1], STDOUT_FILENO);
        dup2(out[1], STDERR_FILENO);
        close(out[1]);
    }
    int v = fn(arg);
    fflush(NULL);
    if (write(rep[1], &v, sizeof v) != (ssize_t)sizeof v)
        _exit(126);
    _exit(0);
}

// Read the capture pipe and the report pipe until both are at EOF, the
// child has exited, or the deadline passes.  A daemon may keep the capture
// pipe open after the child is gone: the child's exit ends the wait.
static void
collect(fl_child *res, int outfd, int repfd, int pfd, long deadline)
{
    int open_out = outfd >= 0, open_rep = 1, child_done = 0;
    while ((open_out || open_rep) && !child_done) {
        struct pollfd p[3] = {
            {repfd, POLLIN, 0}, {pfd, POLLIN, 0}, {outfd, POLLIN, 0}};
        long left = deadline - fl_now_ms();
        if (left <= 0) {
            res->timed_out = 1;
            return;
        }
        int np = open_out ? 3 : 2;
        p[0].fd = open_rep ? repfd : -1;
        if (poll(p, (nfds_t)np, (int)left) < 0 && errno != EINTR)
            return;
        if (p[0].revents) {
            if (read(repfd, &res->value, sizeof res->value) ==
                (ssize_t)sizeof res->value)
                res->returned = 1;
            open_rep = 0;
        }
        if (np == 3 && p[2].revents) {
            char sink[4096];
            size_t room = sizeof res->out - 1 - res->out_len;
            ssize_t n = read(outfd, room ? res->out + res->out_len : sink,
                             room ? room : sizeof sink);
            if (n <= 0)
                open_out = 0;
            else if (room)
                res->out_len += (size_t)n;
        }
        child_done = p[1].revents != 0;
    }
    // Whatever is already in the pipes when the child has gone.
    if (outfd >= 0) {
        fcntl(outfd, F_SETFL, O_NONBLOCK);
        size_t room = sizeof res->out - 1 - res->out_len;
        ssize_t n;
        while (room && (n = read(outfd, res->out + res->out_len, room)) > 0) {
            res->out_len += (size_t)n;
            room -= (size_t)n;
        }
    }
    if (open_rep) {
        fcntl(repfd, F_SETFL, O_NONBLOCK);
        if (read(repfd, &res->value, sizeof res->value) ==
            (ssize_t)sizeof res->value)
            res->returned = 1;
    }
}

void
fl_run_in_child(int (*fn)(void *), void *arg, int timeout_ms, int capture,
                fl_child *res)
{
    int out[2] = {-1, -1}, rep[2];
    memset(res, 0, sizeof *res);
    ck_assert_msg(pipe2(rep, O_CLOEXEC) == 0, "harness: pipe failed");
    if (capture)
        ck_assert_msg(pipe2(out, O_CLOEXEC) == 0, "harness: pipe failed");
    fflush(NULL); // or the child would print our buffered output again
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "harness: fork failed: %s", strerror(errno));
    if (pid == 0)
        child_side(fn, arg, capture, out, rep);
    setpgid(pid, pid); // also done by the child: whoever runs first
    close(rep[1]);
    if (capture)
        close(out[1]);
    int pfd = pidfd_open_(pid);
    collect(res, out[0], rep[0], pfd, fl_now_ms() + timeout_ms);
    if (res->timed_out)
        kill(-pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    res->exited = WIFEXITED(st);
    res->status = WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st);
    res->out[res->out_len] = '\0';
    close(pfd);
    close(rep[0]);
    if (capture)
        close(out[0]);
}

/* ---------------------------------------------------- descriptors, IPC */

void
fl_open_fds(unsigned char *open_fds, int max)
{
    memset(open_fds, 0, (size_t)max);
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (isdigit((unsigned char)e->d_name[0]) && fd != self && fd < max)
            open_fds[fd] = 1;
    }
    closedir(d);
}

const char *
fl_fd_target(int fd, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, buf, size - 1);
    if (n > 0)
        buf[n] = '\0';
    else
        snprintf(buf, size, "?");
    return buf;
}

// Append a line to msg (bounded).
static void
note(char *msg, const char *fmt, ...)
{
    size_t len = strlen(msg);
    if (len + 1 >= MSG_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + len, MSG_MAX - len, fmt, ap);
    va_end(ap);
}

static void
check_fds(char *msg)
{
    unsigned char now[MAX_FDS];
    fl_open_fds(now, MAX_FDS);
    for (int fd = 0; fd < MAX_FDS; fd++) {
        if (!now[fd] && fds_before[fd])
            note(msg,
                 "File descriptor %d was open before the call and is "
                 "closed after it: close only the descriptors you "
                 "opened. ",
                 fd);
        if (!now[fd] || fds_before[fd])
            continue;
        char target[256];
        note(msg,
             "File descriptor %d (%s) was left open: close every "
             "descriptor you open, in the parent and in the child. ",
             fd, fl_fd_target(fd, target, sizeof target));
        close(fd);
    }
}

// Remove, and complain about, entries of dir whose names start with pre.
static void
check_names(char *msg, const char *dir, const char *pre)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    struct stat st;
    while ((e = readdir(d)) != NULL) {
        // Only our own: someone else may plant names with our prefix.
        if (strncmp(e->d_name, pre, strlen(pre)) != 0 ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            st.st_uid != getuid())
            continue;
        note(msg,
             "%s/%s was left behind: unlink named IPC objects "
             "(shm_unlink, sem_unlink, mq_unlink) when done. ",
             dir, e->d_name);
        unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

static void
check_ipc(char *msg)
{
    char sem[80];
    snprintf(sem, sizeof sem, "sem.%s", prefix);
    check_names(msg, "/dev/shm", prefix);
    check_names(msg, "/dev/shm", sem);
    check_names(msg, "/dev/mqueue", prefix);
}

const char *
fl_ipc_prefix(void)
{
    return prefix;
}

void
fl_stray_hint(const char *hint)
{
    stray_hint = hint;
}

void
fl_misuse(const char *fmt, ...)
{
    if (shared == NULL || atomic_exchange(&shared->misused, 1) != 0)
        return; // the first misuse is the one to fix first
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(shared->misuse, sizeof shared->misuse, fmt, ap);
    va_end(ap);
}

int
fl_misuse_take(char *buf, size_t size)
{
    if (shared == NULL || !shared->misused)
        return 0;
    snprintf(buf, size, "%s", shared->misuse);
    shared->misused = 0;
    return 1;
}

/* -------------------------------------------------- around each test */

static void
at_exit(void)
{
    // A child of the test process that calls exit(), or fails a
    // ck_assert (Check then calls exit), has returned into the test body.
    if (shared != NULL && getpid() != test_pid && shared->stray == 0)
        shared->stray = getpid();
}

void
fl_begin(const char *name)
{
    (void)name;
    if (result_fd >= 0)
        close(result_fd); // the code under test never holds the verdicts
    result_fd = -1;
    if (token_r >= 0)
        close(token_r); // only the runner reads the token
    token_r = -1;
    prctl(PR_SET_DUMPABLE, 1);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    prctl(PR_SET_PDEATHSIG, SIGKILL); // the test dies with its runner
    test_pid = getpid();
    ck_assert_msg(shared != NULL, "harness: run the tests through fl_main");
    shared->stray = 0;
    shared->misused = 0;
    stray_hint = NULL;
    fl_san_begin();
    atexit(at_exit);
    fl_open_fds(fds_before, MAX_FDS);
}

static void
check_children(char *msg)
{
    pid_t kids[64];
    int n = fl_children_of(getpid(), kids, 64);
    for (int i = 0; i < n; i++) {
        if (fl_zombie(kids[i]))
            note(msg,
                 "Child %d was never waited for and is a zombie: "
                 "every fork needs a waitpid. ",
                 (int)kids[i]);
        else
            note(msg,
                 "Process %d that the code started is still "
                 "running after it returned: wait for your children, "
                 "or end them. ",
                 (int)kids[i]);
    }
    fl_kill_children();
}

void
fl_end(void)
{
    if (getpid() != test_pid) {
        shared->stray = getpid();
        _exit(FL_EXIT_STRAY);
    }
    char msg[MSG_MAX] = "";
    if (shared->misused)
        note(msg, "%s ", shared->misuse);
    if (shared->stray) {
        note(msg, STRAY_MSG, (int)shared->stray);
        if (stray_hint != NULL)
            note(msg, "%s ", stray_hint);
    }
    check_children(msg);
    check_fds(msg);
    check_ipc(msg);
    fl_san_end(msg, MSG_MAX); // last: leaks, and any process's reports
    ck_assert_msg(msg[0] == '\0', "%s", msg);
    fflush(NULL);
    if (write(token_w, &token, sizeof token) != (ssize_t)sizeof token)
        _exit(FL_EXIT_STRAY);
    _exit(pass_status);
}

/* ---------------------------------------------------------- the runner */

// Turn Check's message for an abnormal end into one that teaches.
static void
explain(const char *ck, double timeout, char *out, size_t size)
{
    int v;
    if (sscanf(ck, "Early exit with return value %d", &v) == 1) {
        if (v == FL_EXIT_STRAY)
            snprintf(out, size, "%s", ck);
        else
            snprintf(out, size,
                     "The function ended the test process with exit status "
                     "%d before the test finished: did the parent take the "
                     "child's path, or call exit() where it should return?",
                     v);
    } else if (sscanf(ck, "Received signal %d", &v) == 1) {
        snprintf(out, size, "The test process was killed by %s (%s)%s",
                 fl_signame(v), strsignal(v),
                 v == SIGKILL   ? ": did the code kill its own process group "
                                  "(kill(0, ...)) or pass a pid of 0 or -1 "
                                  "to kill()?"
                 : v == SIGSEGV ? ": a bad pointer, or a child that used "
                                  "memory the parent had freed?"
                 : v == SIGFPE  ? ": an integer division (or %) by zero. "
                                  "Was a divisor 0: a size or a count "
                                  "(a chunk of 0 items, say)?"
                 : v == SIGPIPE ? ": it wrote to a pipe or socket whose "
                                  "other end is closed. Send with "
                                  "MSG_NOSIGNAL (or block SIGPIPE around "
                                  "the write) and handle EPIPE: a library "
                                  "must not change its caller's signals."
                                : ".");
    } else if (strcmp(ck, "Test timeout expired") == 0) {
        const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
        if (m != NULL && atof(m) > 0)
            timeout *= atof(m);
        snprintf(out, size,
                 "The test did not finish within %.1f s: something blocks "
                 "for ever. A waitpid on a child that never exits? A read "
                 "from a pipe whose write end is still open somewhere?",
                 timeout);
    } else {
        snprintf(out, size, "%s", ck);
    }
}

// One verdict record: NAME TAB PASS|FAIL TAB MESSAGE NEWLINE, the message
// on one line.
static void
record(FILE *f, const char *name, int pass, const char *msg)
{
    fprintf(f, "%s\t%s\t", name, pass ? "PASS" : "FAIL");
    for (const char *p = msg; *p; p++)
        fputc(*p == '\n' || *p == '\t' ? ' ' : *p, f);
    fputc('\n', f);
    fflush(f);
}

// Whether the test process ended through fl_end: exactly this run's token
// came through the pipe, and nothing before it.
static int
got_token(int tp[2])
{
    uint64_t got = 0;
    close(tp[1]);
    token_w = -1;
    fcntl(tp[0], F_SETFL, O_NONBLOCK); // a lingering process may hold tp[1]
    ssize_t n = read(tp[0], &got, sizeof got);
    close(tp[0]);
    token_r = -1;
    return n == (ssize_t)sizeof got && got == token;
}

static int
run_case(SRunner *sr, const fl_case *c, FILE *results)
{
    shared->stray = 0;
    shared->misused = 0;
    int tp[2];
    if (pipe2(tp, O_CLOEXEC) < 0) {
        perror("harness: pipe");
        exit(FL_RUNNER_USAGE);
    }
    token_r = tp[0];
    token_w = tp[1];
    srunner_run(sr, NULL, (*c->test)->name, CK_SILENT);
    TestResult **all = srunner_results(sr);
    TestResult *tr = all[srunner_ntests_run(sr) - 1];
    free(all);
    int proved = got_token(tp);
    int pass = tr_rtype(tr) == CK_PASS && proved;
    char msg[MSG_MAX] = "", why[MSG_MAX];
    // A stray child's failed assertion reaches Check too, and reads as if
    // the caller had failed it: say first that a child strayed.
    if (!pass && shared->stray && strstr(tr_msg(tr), "came back") == NULL)
        note(msg, STRAY_MSG "Then: ", (int)shared->stray);
    // So does a misuse the wrappers saw, which may have made the test
    // fail some other way (a signal's handler gone after one signal...).
    if (!pass && shared->misused && strstr(tr_msg(tr), shared->misuse) == NULL)
        note(msg, "%s Then: ", shared->misuse);
    if (pass)
        snprintf(why, sizeof why, "passed");
    else if (fl_san_explain(tr_msg(tr), why, sizeof why))
        ; // a sanitizer's sentence, then what Check said
    else if (tr_rtype(tr) == CK_PASS)
        snprintf(why, sizeof why,
                 "The test process ended with the pass "
                 "status but not through the end of the test: something "
                 "other than the test's own end ended it.");
    else if (tr_rtype(tr) == CK_ERROR)
        explain(tr_msg(tr), c->timeout_s, why, sizeof why);
    else
        snprintf(why, sizeof why, "%s", tr_msg(tr));
    note(msg, "%s", why);
    if (results != NULL)
        record(results, (*c->test)->name, pass, msg);
    printf("%s %s%s%s\n", pass ? "PASS" : "FAIL", (*c->test)->name,
           pass ? "" : "\n     ", pass ? "" : msg);
    fflush(stdout);
    return pass;
}

static const fl_case *
find_case(const fl_case *cases, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp((*cases[i].test)->name, name) == 0)
            return &cases[i];
    return NULL;
}

static SRunner *
make_runner(const char *lesson, const fl_case *cases, size_t n)
{
    Suite *s = suite_create(lesson);
    for (size_t i = 0; i < n; i++) {
        // One test case per test, named after it, so that one can run alone.
        TCase *tc = tcase_create((*cases[i].test)->name);
        tcase_set_timeout(tc, cases[i].timeout_s);
        tcase_add_exit_test(tc, *cases[i].test, pass_status);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK); // the harness depends on it
    return sr;
}

// This run's pass status and token: unknown to the code under test until
// it runs, and different in every run.
static void
draw_secrets(void)
{
    unsigned char r[sizeof token + 1];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        perror("harness: getrandom");
        exit(FL_RUNNER_USAGE);
    }
    memcpy(&token, r, sizeof token);
    int span = FL_PASS_HIGH - FL_PASS_LOW + 1;
    pass_status = FL_PASS_LOW + r[sizeof token] % span;
    while (pass_status == FL_EXIT_STRAY || pass_status == FL_SAN_EXIT)
        pass_status++;
}

static void
setup_run(void)
{
    const char *p = getenv(FL_PREFIX_ENV);
    if (p != NULL && *p != '\0' && strchr(p, '/') == NULL)
        snprintf(prefix, sizeof prefix, "%s", p);
    else
        snprintf(prefix, sizeof prefix, "fl.%d.", (int)getpid());
    setenv(FL_PREFIX_ENV, prefix, 1);
    const char *fd = getenv(FL_RESULT_FD_ENV);
    if (fd != NULL && fcntl(atoi(fd), F_GETFD) >= 0)
        result_fd = atoi(fd);
    unsetenv(FL_RESULT_FD_ENV);
    draw_secrets();
    shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        perror("harness: mmap");
        exit(FL_RUNNER_USAGE);
    }
    fl_san_setup(); // while still dumpable: it probes LSan in a child
    // Same-uid code cannot open our /proc/PID/fd while we are not
    // dumpable; each test process turns it back on for itself.
    prctl(PR_SET_DUMPABLE, 0);
    signal(SIGPIPE, SIG_IGN); // a dead grader must not kill a verdict
}

int
fl_main(int argc, char **argv, const char *lesson, const fl_case *cases,
        size_t n)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", (*cases[i].test)->name);
        return 0;
    }
    setup_run();
    FILE *results = result_fd >= 0 ? fdopen(result_fd, "w") : NULL;
    SRunner *sr = make_runner(lesson, cases, n);
    int failed = 0, ran = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1) // only the tests named on the command line
            continue;
        failed += !run_case(sr, &cases[i], results);
        ran++;
    }
    for (int a = 1; a < argc; a++) {
        const fl_case *c = find_case(cases, n, argv[a]);
        if (c == NULL) {
            fprintf(stderr, "%s: no test named %s (try --list)\n", argv[0],
                    argv[a]);
            failed++;
            continue;
        }
        failed += !run_case(sr, c, results);
        ran++;
    }
    printf("%s: %d passed, %d failed\n", lesson, ran - failed, failed);
    srunner_free(sr);
    if (results != NULL)
        fclose(results);
    return failed ? FL_RUNNER_FAILED : FL_RUNNER_PASSED;
}
