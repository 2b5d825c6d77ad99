// main.c - `trace`: run a program or one test under strace, and show what
// its processes did with fork, exec, wait, pipes and sockets.
//
// Why strace and not ptrace of our own: strace already decodes every
// architecture's clone, clone3, vfork and wait flavours, follows children
// from their first instruction, survives signal-delivery and group stops,
// and works for an unprivileged user on the user's own children (Yama
// ptrace_scope 1).  A tracer of ours would redo all of that for one
// course; parsing strace's text is the smaller, better-tested risk, and
// parse.c keeps that text in one place.  The price: strace must be
// installed (tests/deps.sh installs it) and its output format is a
// contract; -yy, -ttt and -T are stable since strace 4.x.
#define _POSIX_C_SOURCE 200809L
#include "trace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// What strace records: process life, descriptors that can hold a pipe or
// socket, reads that wait, sessions and groups.  '?' skips a name this
// architecture lacks (pipe, dup2, poll on arm64).
#define TR_CALLS                                                               \
    "trace=process,pipe2,?pipe,socketpair,dup,?dup2,dup3,"                     \
    "fcntl,close,close_range,read,readv,recvfrom,recvmsg,?poll,ppoll,"         \
    "setsid,setpgid,prctl,openat,?open,socket,accept,accept4,pidfd_open,"      \
    "eventfd2,memfd_create"

struct opts {
    const char *log, *svg, *save, *title;
    int norm, brief, quiet, lines;
    double timeout;
    char **argv;
};

static void
usage(void)
{
    fprintf(
        stderr,
        "usage: trace [options] -- PROGRAM [ARG...]   trace a program\n"
        "       trace [options] --test BIN NAME        trace one Check test\n"
        "       trace [options] --log FILE             read an strace log\n"
        "options: --svg FILE (a timeline), --save-log FILE (keep strace's\n"
        "  log), --norm (no pids, no times: for expected files), --short\n"
        "  (at most 15 lines), --lines N, --quiet (hide the program's\n"
        "  output), --timeout S (kill what still runs; 10 s, 30 with\n"
        "  --test), --title TEXT\n");
    exit(2);
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

// Kill every process strace traces: the program hangs (a read that never
// sees EOF), and strace then records how each one died.
static void
kill_tracees(pid_t tracer)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        char path[64], line[128];
        pid_t pid = (pid_t)atoi(de->d_name);
        if (pid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        while (fgets(line, sizeof line, f) != NULL)
            if (strncmp(line, "TracerPid:", 10) == 0 &&
                atoi(line + 10) == (int)tracer)
                kill(pid, SIGKILL);
        fclose(f);
    }
    closedir(d);
}

static void
exec_strace(const struct opts *o, const char *log)
{
    char *args[64] = {"strace", "-f",         "-q", "-ttt",      "-T",
                      "-yy",    "-s",         "64", "-e",        TR_CALLS,
                      "-e",     "signal=all", "-o", (char *)log, "--"};
    int n = 15;
    for (int i = 0; o->argv[i] != NULL && n < 63; i++)
        args[n++] = o->argv[i];
    args[n] = NULL;
    // The program starts with 0, 1 and 2 only, whatever our caller left
    // open: the descriptor numbers in a trace are then the same anywhere.
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    if (o->quiet) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || close(fd) < 0)
            _exit(127);
    }
    execvp("strace", args);
    fprintf(stderr,
            "trace: cannot run strace (%s): install it with "
            "make deps (the Debian package strace)\n",
            strerror(errno));
    _exit(127);
}

// Run the program under strace, writing its log to @log.  1 if it had to
// be killed at the timeout, 0 if it ended, -1 if strace could not run.
static int
run(const struct opts *o, const char *log)
{
    int killed = 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("trace: fork");
        return -1;
    }
    if (pid == 0)
        exec_strace(o, log);
    int status;
    long waited = 0, limit = (long)(o->timeout * 1000);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            perror("trace: waitpid");
            return -1;
        }
        if (waited == limit) {
            kill_tracees(pid);
            killed = 1;
        }
        sleep_ms(20);
        waited += 20;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -1 : killed;
}

static int
parse_args(int argc, char **argv, struct opts *o, char **test)
{
    *o = (struct opts){.timeout = 10, .lines = 15};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (strcmp(a, "--") == 0 && more) {
            o->argv = argv + i + 1;
            return 0;
        } else if (strcmp(a, "--test") == 0 && i + 2 < argc) {
            test[0] = argv[++i];
            test[1] = argv[++i];
            test[2] = NULL;
            o->argv = test;
            if (o->timeout == 10)
                o->timeout = 30;
        } else if (strcmp(a, "--log") == 0 && more) {
            o->log = argv[++i];
        } else if (strcmp(a, "--svg") == 0 && more) {
            o->svg = argv[++i];
        } else if (strcmp(a, "--save-log") == 0 && more) {
            o->save = argv[++i];
        } else if (strcmp(a, "--title") == 0 && more) {
            o->title = argv[++i];
        } else if (strcmp(a, "--timeout") == 0 && more) {
            o->timeout = atof(argv[++i]);
        } else if (strcmp(a, "--lines") == 0 && more) {
            o->lines = atoi(argv[++i]);
        } else if (strcmp(a, "--norm") == 0) {
            o->norm = 1;
        } else if (strcmp(a, "--short") == 0) {
            o->brief = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else {
            return -1;
        }
    }
    return o->argv != NULL || o->log != NULL ? 0 : -1;
}

static int
output(struct tr_trace *tr, const struct opts *o, const char *title)
{
    if (o->svg != NULL) {
        FILE *f = fopen(o->svg, "w");
        if (f == NULL) {
            fprintf(stderr, "trace: %s: %s\n", o->svg, strerror(errno));
            return 1;
        }
        tr_svg(tr, f, title);
        if (fclose(f) != 0)
            return 1;
    }
    if (o->norm)
        tr_norm(tr, stdout);
    else if (o->brief)
        tr_short(tr, stdout, o->lines);
    else
        tr_show(tr, stdout, title);
    if (o->svg != NULL && !o->norm && !o->brief)
        printf("\ntimeline: %s\n", o->svg);
    return 0;
}

int
main(int argc, char **argv)
{
    struct opts o;
    char *test[3];
    if (parse_args(argc, argv, &o, test) < 0)
        usage();
    o.quiet |= o.brief && o.argv == test;
    char tmp[] = "/tmp/trace-XXXXXX";
    const char *log = o.log ? o.log : o.save;
    if (log == NULL) {
        int fd = mkstemp(tmp);
        if (fd < 0 || close(fd) < 0) {
            perror("trace: mkstemp");
            return 1;
        }
        log = tmp;
    }
    int killed = o.log == NULL ? run(&o, log) : 0;
    if (killed < 0)
        return 1;
    FILE *f = fopen(log, "r");
    if (f == NULL) {
        fprintf(stderr, "trace: %s: %s\n", log, strerror(errno));
        return 1;
    }
    static struct tr_trace tr;
    int r = tr_parse(&tr, f);
    tr.timed_out = killed ? o.timeout : 0;
    fclose(f);
    if (log == tmp)
        unlink(tmp);
    if (r < 0) {
        fprintf(stderr, "trace: strace recorded no process (is ptrace "
                        "allowed? see /proc/sys/kernel/yama/ptrace_scope)\n");
        return 1;
    }
    char title[256];
    snprintf(title, sizeof title, "%s",
             o.title  ? o.title
             : o.argv ? o.argv[0]
                      : o.log);
    for (int i = 1; !o.title && o.argv && o.argv[i]; i++)
        snprintf(title + strlen(title), sizeof title - strlen(title), " %s",
                 o.argv[i]);
    fflush(stdout);
    return output(&tr, &o, title);
}
