// sandbox.c - containment for untrusted test programs.
//
// The grader runs code written by people who are learning to fork, so it
// meets fork bombs, infinite loops, daemons that setsid away, output floods
// and programs that kill their own process group.  Each run here:
//
//   - starts in its own process group with rlimits on CPU, address space,
//     file size, open files, core files and processes, and a wall clock;
//   - as root, runs under a dedicated unprivileged uid that owns nothing
//     else, so it cannot write the tests, the grader or the results, and so
//     that kill(-1) from a helper with that uid ends every process it made;
//   - ends with every descendant killed and reaped: the grader is a
//     subreaper (PR_SET_CHILD_SUBREAPER), so orphans and setsid daemons
//     become its children, and it repeats kill-and-reap until none is left;
//   - then removes IPC objects with the run's prefix (and, as root, any
//     owned by the sandbox uid) and lets the caller remove the run's dir.
//
// What it trades: without root there is no second uid, so a program that
// calls kill(-1, SIGKILL) can reach the student's own processes, and files
// the student owns cannot be protected from the student's code.  Both are
// written down in the README as honest limits.
#define _GNU_SOURCE
#include "sandbox.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UID_BASE 61000 // sandbox uids: UID_BASE .. UID_BASE + UID_SLOTS - 1
#define UID_SLOTS SB_UID_SLOTS
#define NPROC_MARGIN 256
#define VERDICT_CAP 65536

static uid_t run_uid;          // who untrusted code runs as
static int dropping;           // 1 when run_uid is a sandbox uid
static int lock_fd = -1;       // held while we own run_uid
static char lock_path[64];     // in /tmp whatever TMPDIR: graders share it
static char tmp_base[512] = "/tmp"; // TMPDIR: where runs' directories go

/* ------------------------------------------------------------- helpers */

static long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

// Parse /proc/PID/status for the real uid; -1 if the process is gone.
static long
uid_of(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    long uid = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "Uid: %ld", &uid) == 1)
            break;
    fclose(f);
    return uid;
}

static pid_t
ppid_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); // the command may hold ')' and spaces
    int ppid;
    return p != NULL && sscanf(p + 1, " %*c %d", &ppid) == 1 ? ppid : -1;
}

// Call fn(pid, ctx) for every process; stop early when fn returns nonzero.
static void
each_process(int (*fn)(pid_t, void *), void *ctx)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (isdigit((unsigned char)e->d_name[0]) &&
            fn((pid_t)atoi(e->d_name), ctx))
            break;
    closedir(d);
}

static int
count_uid(pid_t pid, void *ctx)
{
    long *c = ctx; // c[0]: the uid, c[1]: the count of its tasks
    if (uid_of(pid) != c[0])
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        c[1] += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return 0;
}

// The number of tasks (threads count: RLIMIT_NPROC counts them) of uid.
static long
tasks_of(uid_t uid)
{
    long c[2] = {(long)uid, 0};
    each_process(count_uid, c);
    return c[1];
}

/* ----------------------------------------------------------- the uid */

// As root, claim a uid in the sandbox range that no grader holds and no
// process uses; the lock file keeps concurrent graders apart.
static int
claim_uid(void)
{
    for (int i = 0; i < UID_SLOTS; i++) {
        uid_t uid = UID_BASE + (uid_t)i;
        snprintf(lock_path, sizeof lock_path, "/tmp/.forklings-uid-%u.lock",
                 (unsigned)uid);
        int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && tasks_of(uid) == 0) {
            lock_fd = fd;
            run_uid = uid;
            return 0;
        }
        close(fd);
    }
    fprintf(stderr, "grader: no free sandbox uid in %d..%d\n", UID_BASE,
            UID_BASE + UID_SLOTS - 1);
    return -1;
}

int
sb_init(void)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
        perror("grader: PR_SET_CHILD_SUBREAPER");
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    const char *t = getenv("TMPDIR");
    if (t != NULL && t[0] == '/')
        snprintf(tmp_base, sizeof tmp_base, "%s", t);
    run_uid = getuid();
    if (geteuid() != 0)
        return 0;
    dropping = 1;
    return claim_uid();
}

uid_t
sb_uid(void)
{
    return run_uid;
}

/* ------------------------------------------------------------ killing */

static int
kill_my_child(pid_t pid, void *ctx)
{
    int *n = ctx;
    if (ppid_of(pid) == getpid()) {
        kill(pid, SIGKILL);
        (*n)++;
    }
    return 0;
}

struct marked {
    const char *needle; // "FORKLINGS_PREFIX=<prefix>"
    size_t len;
    int n;
};

// Without root, a process of this run is known by its environment.
static int
kill_marked(pid_t pid, void *ctx)
{
    struct marked *m = ctx;
    char path[64], buf[8192];
    if (pid == getpid() || uid_of(pid) != (long)run_uid)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t len = read(fd, buf, sizeof buf);
    close(fd);
    for (ssize_t i = 0; i + (ssize_t)m->len <= len; i++)
        if ((i == 0 || buf[i - 1] == '\0') &&
            memcmp(buf + i, m->needle, m->len) == 0) {
            kill(pid, SIGKILL);
            m->n++;
            break;
        }
    return 0;
}

// As root: a helper with the sandbox uid sends SIGKILL to every process
// that uid owns, in one kill(-1).
static void
kill_uid(void)
{
    pid_t h = fork();
    if (h == 0) {
        if (setgroups(0, NULL) == 0 && setgid(run_uid) == 0 &&
            setuid(run_uid) == 0)
            kill(-1, SIGKILL);
        _exit(0);
    }
    while (h > 0 && waitpid(h, NULL, 0) < 0 && errno == EINTR)
        ;
}

// Kill and reap every descendant; return how many processes were killed.
static int
kill_everything(pid_t pgid, const char *prefix)
{
    char needle[128];
    snprintf(needle, sizeof needle, "FORKLINGS_PREFIX=%s", prefix);
    struct marked m = {needle, strlen(needle), 0};
    int killed = 0;
    if (pgid > 0)
        kill(-pgid, SIGKILL);
    for (int round = 0; round < 10000; round++) {
        int n = 0;
        if (dropping && tasks_of(run_uid) > 0)
            kill_uid();
        each_process(kill_my_child, &n);
        if (!dropping && prefix[0] != '\0')
            each_process(kill_marked, &m);
        killed += n;
        // Reap what died; the orphans of the dead become our children.
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (n == 0 && m.n == 0 && waitpid(-1, NULL, WNOHANG) < 0 &&
            (!dropping || tasks_of(run_uid) == 0))
            break;
        m.n = 0;
        struct timespec ms = {0, 1000000}; // let SIGKILL land, then rescan
        nanosleep(&ms, NULL);
    }
    return killed;
}

/* ---------------------------------------------------------- IPC, files */

void
sb_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    chmod(path, 0700); // a student may have taken our own rights away
    DIR *d = opendir(path);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        sb_rmtree(sub);
    }
    if (d != NULL)
        closedir(d);
    rmdir(path);
}

// Remove entries of dir named with the prefix or, as root, owned by the
// sandbox uid (a student's leak need not use the prefix).  Without root,
// since > 0 also removes what our uid created in dir during the run.
static void
sweep(const char *dir, const char *prefix, const char *prefix2,
      time_t since)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' ||
                                    strcmp(e->d_name, "..") == 0))
            continue;
        int named = (prefix[0] && strncmp(e->d_name, prefix,
                                          strlen(prefix)) == 0) ||
                    (prefix2[0] && strncmp(e->d_name, prefix2,
                                           strlen(prefix2)) == 0);
        // Another run's prefixed objects are that run's to remove: a
        // concurrent grader of the same user must not lose them.
        int other_run = strncmp(e->d_name, "fl.", 3) == 0 ||
                        strncmp(e->d_name, "sem.fl.", 7) == 0;
        int owned = lstat(path, &st) == 0 && st.st_uid == run_uid &&
                    (dropping ||
                     (since > 0 && st.st_ctime >= since && !other_run));
        if (named || owned)
            sb_rmtree(path);
    }
    closedir(d);
}

static void
remove_ipc(const char *prefix, time_t since)
{
    char sem[160];
    snprintf(sem, sizeof sem, "sem.%s", prefix);
    sweep("/dev/shm", prefix, sem, since);
    sweep("/dev/mqueue", prefix, "", since);
    sweep(tmp_base, prefix, "", 0); // others' temp files are not ours to judge
}

char *
sb_mkdtemp(const char *tag, int for_sandbox)
{
    char tmpl[600];
    snprintf(tmpl, sizeof tmpl, "%s/forklings-%s.XXXXXX", tmp_base, tag);
    if (mkdtemp(tmpl) == NULL)
        return NULL;
    if (for_sandbox && dropping && chown(tmpl, run_uid, run_uid) < 0) {
        rmdir(tmpl);
        return NULL;
    }
    return strdup(tmpl);
}

/* ------------------------------------------------------------ running */

static void
set_limit(int resource, rlim_t value)
{
    struct rlimit r = {value, value};
    setrlimit(resource, &r);
}

static void
limit_untrusted(void)
{
    rlim_t nproc = dropping ? 512 : (rlim_t)(tasks_of(run_uid) + NPROC_MARGIN);
    set_limit(RLIMIT_CPU, 20);                // seconds of CPU per process
    set_limit(RLIMIT_AS, 1024UL << 20);       // 1 GiB of address space
    set_limit(RLIMIT_FSIZE, 64UL << 20);      // also caps shm ftruncate
    set_limit(RLIMIT_NOFILE, 256);
    set_limit(RLIMIT_CORE, 0);
    set_limit(RLIMIT_NPROC, nproc);
}

// In the child: wire the pipes to fds 1, 2 and 3, limit, drop, exec.
static void
exec_child(const sb_spec *s, int out, int verdicts)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL); // a dead grader ends its runs
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        _exit(126);
    if (verdicts >= 0 && dup2(verdicts, 3) < 0)
        _exit(126);
    for (int fd = verdicts >= 0 ? 4 : 3; fd < 1024; fd++)
        close(fd);
    if (chdir(s->cwd) < 0)
        _exit(126);
    if (s->untrusted) {
        limit_untrusted();
        if (dropping && (setgroups(0, NULL) < 0 || setgid(run_uid) < 0 ||
                         setuid(run_uid) < 0))
            _exit(126);
    } else {
        set_limit(RLIMIT_CPU, 120);
        set_limit(RLIMIT_CORE, 0);
    }
    execvpe(s->argv[0], s->argv, s->envp);
    dprintf(2, "cannot run %s: %s\n", s->argv[0], strerror(errno));
    _exit(127);
}

// Append what fd has to *buf (keeping at most cap bytes); 0 at EOF.
static int
drain(int fd, char **buf, size_t *len, size_t cap, size_t *dropped)
{
    char chunk[16384];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN;
    if (n == 0)
        return 0;
    size_t keep = *len < cap ? cap - *len : 0;
    if (keep > (size_t)n)
        keep = (size_t)n;
    if (keep > 0) {
        char *grown = realloc(*buf, *len + keep + 1);
        if (grown == NULL)
            return 1;
        *buf = grown;
        memcpy(*buf + *len, chunk, keep);
        *len += keep;
        (*buf)[*len] = '\0';
    }
    if (dropped != NULL)
        *dropped += (size_t)n - keep;
    return 1;
}

struct io {
    int out, ver;          // read ends, -1 once at EOF
    size_t ver_len;
};

static void
pump(struct io *io, sb_result *r, size_t cap, int pfd, long deadline,
     int *exited)
{
    while (io->out >= 0 || io->ver >= 0) {
        struct pollfd p[3] = {{io->out, POLLIN, 0}, {io->ver, POLLIN, 0},
                              {*exited ? -1 : pfd, POLLIN, 0}};
        long left = deadline - now_ms();
        if (left <= 0)
            return;
        if (poll(p, 3, (int)left) < 0 && errno != EINTR)
            return;
        if (p[0].revents &&
            !drain(io->out, &r->out, &r->out_len, cap, &r->out_dropped)) {
            close(io->out);
            io->out = -1;
        }
        if (p[1].revents &&
            !drain(io->ver, &r->verdicts, &io->ver_len, VERDICT_CAP, NULL)) {
            close(io->ver);
            io->ver = -1;
        }
        if (p[2].revents)
            return; // the program ended: stop waiting for its daemons
    }
}

int
sb_run(const sb_spec *s, sb_result *r)
{
    memset(r, 0, sizeof *r);
    int out[2], ver[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) < 0 ||
        (s->untrusted && pipe2(ver, O_CLOEXEC) < 0))
        return -1;
    time_t started = time(NULL);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        exec_child(s, out[1], ver[1]);
    setpgid(pid, pid); // the child does it too: whichever runs first
    close(out[1]);
    if (ver[1] >= 0)
        close(ver[1]);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct io io = {out[0], ver[0], 0};
    int st = 0, exited = 0;
    long deadline = now_ms() + s->wall_ms;
    pump(&io, r, s->out_cap, pfd, deadline, &exited);
    // Both pipes may be closed while the program still runs: wait for it.
    struct pollfd p = {pfd, POLLIN, 0};
    long left;
    while ((left = deadline - now_ms()) > 0 && poll(&p, 1, (int)left) < 0 &&
           errno == EINTR)
        ;
    if (waitpid(pid, &st, WNOHANG) != pid) {
        r->timed_out = 1;
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    r->exited = WIFEXITED(st);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st);
    r->leftovers = kill_everything(pid, s->prefix ? s->prefix : "");
    exited = 1; // with everyone dead, the pipes reach EOF at once
    pump(&io, r, s->out_cap, pfd, now_ms() + 2000, &exited);
    if (io.out >= 0)
        close(io.out);
    if (io.ver >= 0)
        close(io.ver);
    if (pfd >= 0)
        close(pfd);
    if (s->prefix != NULL && s->prefix[0] != '\0')
        remove_ipc(s->prefix, s->untrusted ? started : 0);
    if (r->out == NULL)
        r->out = strdup("");
    if (r->verdicts == NULL)
        r->verdicts = strdup("");
    return 0;
}

void
sb_free(sb_result *r)
{
    free(r->out);
    free(r->verdicts);
    r->out = r->verdicts = NULL;
}

void
sb_finish(void)
{
    kill_everything(0, "");
    if (lock_fd >= 0) {
        unlink(lock_path);
        close(lock_fd);
        lock_fd = -1;
    }
}
