// check_start_methods.c - tests for lesson 03: fork, spawn and forkserver.
//
// This program is also the child that spawn starts and the fork server:
// main (FL_MAIN_INIT) calls init() first, which registers the targets
// below and hands over to mp_spawn_main(), exactly as a student's program
// must.  Tests of mp_start reap fork and spawn children with the raw
// waitpid where they can, so that mp_start is judged without mp_join.
#define _GNU_SOURCE
#include "start_methods.h"
#include "harness.h"
#include "stress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------- targets */

static int global_flag; // 0 in a fresh image; tests set it to 7 first
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static int
exit_with(const char *arg)
{
    return atoi(arg);
}

static int
die_by(const char *arg)
{
    int sig = atoi(arg);
    signal(sig, SIG_DFL);
    raise(sig);
    return 100;
}

static int
read_global(const char *arg)
{
    (void)arg;
    return global_flag;
}

// Exit codes of the targets below, chosen apart from 1, which is what a
// spawned child that wrongly went on into main (fl_main) exits with.
#define FD_OPEN 10      // fd_is_open: the descriptor is open
#define WRITE_FAILED 11 // write_ok: the write failed
#define ENV_MISSING 12  // env_inherited: the variable is not there
#define STD_CLOSED 13   // write_ok: one of descriptors 0, 1, 2 is closed
#define BY_CALLER 20    // whose_child: our parent is the caller
#define BY_OTHER 21     // whose_child: our parent is neither

static int
fd_is_open(const char *arg)
{
    return fcntl(atoi(arg), F_GETFD) >= 0 ? FD_OPEN : 0;
}

// arg is "FD MASK": write "ok" to FD, once sure that each descriptor 0,
// 1, 2 whose bit is set in MASK (those open in the test) is open here.
static int
write_ok(const char *arg)
{
    int fd = -1, mask = 0;
    if (sscanf(arg, "%d %d", &fd, &mask) < 1)
        return WRITE_FAILED;
    for (int std = 0; std < 3; std++)
        if ((mask & 1 << std) && fcntl(std, F_GETFD) < 0)
            return STD_CLOSED;
    return write(fd, "ok", 2) == 2 ? 0 : WRITE_FAILED;
}

// arg is "SERVER CALLER": 0 if our parent is SERVER.
static int
whose_child(const char *arg)
{
    int server = 0, caller = 0;
    if (sscanf(arg, "%d %d", &server, &caller) != 2)
        return BY_OTHER;
    pid_t parent = getppid();
    return parent == server ? 0 : parent == caller ? BY_CALLER : BY_OTHER;
}

static int
take_mutex(const char *arg)
{
    (void)arg;
    pthread_mutex_lock(&held);
    pthread_mutex_unlock(&held);
    return 0;
}

static int
wait_forever(const char *arg)
{
    (void)arg;
    for (;;)
        pause(); // until a signal ends the process
    return 0;
}

// A stream of the test's own on a pipe (fully buffered, not stdout), set
// before a fork start: fflush(stdout) does not reach it.
static FILE *stream;

static int
print_to_stream(const char *arg)
{
    fputs(arg, stream);
    return 0;
}

static int
print_to_stdout(const char *arg)
{
    fputs(arg, stdout); // a pipe under fl_run_in_child: fully buffered
    return 0;
}

// Prints arg to a stream of its own on a copy of stdout, fully buffered
// and left open: fflush(stdout) does not reach it, fflush(NULL) does.
static int
print_to_own_stream(const char *arg)
{
    FILE *f = fdopen(dup(STDOUT_FILENO), "w");
    if (f == NULL)
        return 1;
    setvbuf(f, NULL, _IOFBF, BUFSIZ);
    fputs(arg, f);
    return 0;
}

// How many descriptors above 2 the child holds.
static int
count_fds(const char *arg)
{
    (void)arg;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return 99;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += atoi(e->d_name) > 2 && atoi(e->d_name) != dirfd(d);
    closedir(d);
    return n;
}

// 0 if the environment variable named arg is "inherited".
static int
env_inherited(const char *arg)
{
    const char *v = getenv(arg);
    return v != NULL && strcmp(v, "inherited") == 0 ? 0 : ENV_MISSING;
}

static int
arg_length(const char *arg)
{
    return (int)strlen(arg);
}

// Leaves the process group of its parent, then exits with arg: a child
// that waitpid(0, ...), "any child in my group", no longer sees.
static int
own_group(const char *arg)
{
    return setpgid(0, 0) == 0 ? atoi(arg) : 99;
}

// A registered name of MP_NAME_MAX - 1 characters, the longest there is.
#define LONGEST_NAME "length_of_the_argument_it_takes"

static const struct {
    const char *name;
    mp_target fn;
} registry[] = {
    {"exit_with", exit_with},
    {"die_by", die_by},
    {"read_global", read_global},
    {"fd_is_open", fd_is_open},
    {"write_ok", write_ok},
    {"whose_child", whose_child},
    {"take_mutex", take_mutex},
    {"wait_forever", wait_forever},
    {"print_to_stream", print_to_stream},
    {"print_to_stdout", print_to_stdout},
    {"print_to_own_stream", print_to_own_stream},
    {"count_fds", count_fds},
    {"env_inherited", env_inherited},
    {"own_group", own_group},
    {LONGEST_NAME, arg_length},
};

#define NREGISTERED ((int)(sizeof registry / sizeof registry[0]))

// Set in the environment of a fork server being started: its first fork()
// fails with EAGAIN.  The server is this program executed again, where the
// test's fault injection cannot reach but through what it inherits.
#define SERVER_FORK_FAILS "FL_03_SERVER_FORK_FAILS"

// Set in the environment of a fork server being started: it prints
// SERVER_LINE to stdout at startup, without flushing, as a program's main
// may before it calls mp_spawn_main().
#define SERVER_PRINTS "FL_03_SERVER_PRINTS"
#define SERVER_LINE "server|"

// Set in the environment of a fork server being started: it catches
// SIGUSR1 with a handler installed without SA_RESTART, as a program's main
// may before it calls mp_spawn_main(), so that the signal interrupts the
// server's blocking calls with EINTR.
#define SERVER_CATCHES "FL_03_SERVER_CATCHES"

static void
on_usr1(int sig)
{
    (void)sig;
}

// The exit code a served child gets if it ends with exit(), not _exit():
// exit() runs the exit handlers the server registered in init(), and the
// one below ends the child with this code instead of the target's.
#define RAN_HANDLERS 14
static pid_t server_self; // in the fork server: its own pid

static void
served_child_ran_handlers(void)
{
    if (getpid() != server_self)
        _exit(RAN_HANDLERS);
}

// Every process runs this first: the test program, each spawned child and
// the fork server.  A spawned child never comes back from mp_spawn_main.
static void
init(int argc, char **argv)
{
    for (int i = 0; i < NREGISTERED; i++)
        mp_register(registry[i].name, registry[i].fn);
    if (argc >= 2 && strcmp(argv[1], MP_FORKSERVER_FLAG) == 0) {
        server_self = getpid();
        atexit(served_child_ran_handlers);
        if (getenv(SERVER_PRINTS) != NULL)
            fputs(SERVER_LINE, stdout); // a pipe here: kept in the buffer
        if (getenv(SERVER_CATCHES) != NULL)
            sigaction(SIGUSR1, &(struct sigaction){.sa_handler = on_usr1},
                      NULL); // no SA_RESTART: EINTR
    }
    if (getenv(SERVER_FORK_FAILS) != NULL)
        fl_fault_fail("fork", 1, EAGAIN);
    mp_spawn_main(argc, argv);
}

/* ------------------------------------------------------------- helpers */

// What a failed raw waitpid means here.
static const char raw_wait_hint[] =
    "mp_start must return the pid of a child of the caller";

static const char *
method_name(enum mp_method m)
{
    return m == MP_FORK    ? "MP_FORK"
           : m == MP_SPAWN ? "MP_SPAWN"
                           : "MP_FORKSERVER";
}

// Show what mp_join returned, where minus a signal and -errno look alike:
// "-9 (SIGKILL, or -EBADF)"; four results may be used in one message.
static const char *
code_str(int v)
{
    static char bufs[4][192];
    static int next;
    char *b = bufs[next++ % 4];
    if (v == RAN_HANDLERS) {
        snprintf(b, sizeof bufs[0],
                 "%d (a served child ran the server's exit handlers: after "
                 "fork, end the child with _exit(), not exit())",
                 v);
        return b;
    }
    if (v >= -31 && v < 0) {
        const char *e = strerrorname_np(-v);
        snprintf(b, sizeof bufs[0], "%d (%s, or -%s)", v, fl_signame(-v),
                 e ? e : "?");
        return b;
    }
    snprintf(b, sizeof bufs[0], "%s", fl_ret(v));
    return b;
}

// mp_start, failing the test unless it gave a pid.
static pid_t
start(enum mp_method m, const char *name, const char *arg, const int *fds,
      int nfds)
{
    pid_t pid = mp_start(m, name, arg, fds, nfds);
    if (pid <= 0 && m == MP_FORKSERVER)
        mp_forkserver_stop();
    ck_assert_msg(pid > 0,
                  "mp_start(%s, \"%s\", %s%s%s) returned %s, expected the "
                  "child's pid (> 0)%s",
                  method_name(m), name, arg ? "\"" : "", arg ? arg : "NULL",
                  arg ? "\"" : "", fl_ret(pid),
                  pid == -EPIPE ? ". The fork server is gone, or never had "
                                  "its end of the socket: spawn it keeping "
                                  "sv[1] (adddup2), and let it serve()"
                                : "");
    return pid;
}

// How a raw wait status reads, for messages; one buffer per call site.
static const char *
how(int st, char *buf, size_t size)
{
    if (WIFSIGNALED(st))
        snprintf(buf, size, "was killed by %s", fl_signame(WTERMSIG(st)));
    else if (WEXITSTATUS(st) == MP_EXIT_NO_TARGET)
        snprintf(buf, size,
                 "exited with %d (MP_EXIT_NO_TARGET: the "
                 "spawned child did not find the name)",
                 MP_EXIT_NO_TARGET);
    else if (WEXITSTATUS(st) == 1)
        snprintf(buf, size,
                 "exited with 1 (did mp_spawn_main return "
                 "instead of ending with _exit()? the child then "
                 "ran main, the test program, again)");
    else
        snprintf(buf, size, "exited with %d", WEXITSTATUS(st));
    return buf;
}

// Start name under method and return its raw wait status.
static int
run_raw(enum mp_method m, const char *name, const char *arg)
{
    return fl_raw_wait(start(m, name, arg, NULL, 0), raw_wait_hint);
}

// A thread that locks `held`, says so through a pipe, and keeps it until
// told to let go: a lock held by another thread at the moment of a start.
struct holder {
    pthread_t thread;
    int locked[2];  // the thread writes one byte once it holds the mutex
    int release[2]; // closing release[1] makes it unlock and end
};

static void *
hold(void *arg)
{
    struct holder *h = arg;
    char c;
    pthread_mutex_lock(&held);
    if (write(h->locked[1], "L", 1) != 1)
        abort();
    while (read(h->release[0], &c, 1) < 0 && errno == EINTR)
        ;
    pthread_mutex_unlock(&held);
    return NULL;
}

static void
holder_start(struct holder *h)
{
    char c;
    ck_assert_msg(pipe2(h->locked, O_CLOEXEC) == 0 &&
                      pipe2(h->release, O_CLOEXEC) == 0,
                  "pipe failed");
    ck_assert_msg(pthread_create(&h->thread, NULL, hold, h) == 0,
                  "pthread_create failed");
    ck_assert_msg(read(h->locked[0], &c, 1) == 1, "the holder never locked");
}

static void
holder_stop(struct holder *h)
{
    close(h->release[1]);
    pthread_join(h->thread, NULL);
    close(h->release[0]);
    close(h->locked[0]);
    close(h->locked[1]);
}

/* --------------------------------------------------------- mp_register */

#define NOT_TAKEN                                                              \
    "a name never registered reads as taken: does find() return NULL when "    \
    "no name matches?"

FL_TEST(test_mp_register_rejects_invalid_names)
{
    char longest[MP_NAME_MAX], too_long[MP_NAME_MAX + 1];
    memset(longest, 'n', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    memset(too_long, 'n', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    fl_expect_int(mp_register(NULL, exit_with), -EINVAL,
                  "mp_register(NULL, fn)", "check the name first");
    fl_expect_int(mp_register("x", NULL), -EINVAL, "mp_register(\"x\", NULL)",
                  "a NULL target could never run");
    fl_expect_int(mp_register("", exit_with), -EINVAL, "mp_register(\"\", fn)",
                  "an empty name is no name");
    fl_expect_int(mp_register(too_long, exit_with), -ENAMETOOLONG,
                  "mp_register of a name of MP_NAME_MAX characters",
                  "the table keeps MP_NAME_MAX bytes, NUL included");
    int got = mp_register(longest, exit_with);
    fl_expect_int(got, 0, "mp_register of a name of MP_NAME_MAX - 1 characters",
                  got == -EEXIST ? NOT_TAKEN
                                 : "that name and its NUL fit: check "
                                   "strlen(name) >= MP_NAME_MAX, not >");
}

FL_TEST(test_mp_register_rejects_a_name_taken)
{
    // A heap copy, freed at once: the table must keep its own copy (and
    // the sanitizer pass sees a read past its end, as of a literal it
    // cannot).
    char *name = strdup("twice");
    ck_assert_msg(name != NULL, "strdup failed");
    int got = mp_register(name, exit_with);
    free(name);
    fl_expect_int(got, 0, "the first mp_register(\"twice\", ...)",
                  got == -EEXIST ? NOT_TAKEN : "");
    fl_expect_int(mp_register("twice", die_by), -EEXIST,
                  "a second mp_register(\"twice\", ...)",
                  "one name, one target: use find() before adding");
}

FL_TEST(test_mp_register_rejects_a_full_table)
{
    // init() registered NREGISTERED names already in this process.
    int added = 0, got = 0;
    char name[MP_NAME_MAX];
    while (added <= MP_MAX_TARGETS) {
        snprintf(name, sizeof name, "fill%d", added);
        if ((got = mp_register(name, exit_with)) != 0)
            break;
        added++;
    }
    ck_assert_msg(got == -ENOSPC && added == MP_MAX_TARGETS - NREGISTERED,
                  "with %d names registered, %d more were accepted, then "
                  "mp_register gave %s; expected %d more, then -ENOSPC: "
                  "the table holds MP_MAX_TARGETS entries",
                  NREGISTERED, added, fl_ret(got),
                  MP_MAX_TARGETS - NREGISTERED);
    fl_expect_int(mp_register("fill0", exit_with), -EEXIST,
                  "mp_register(\"fill0\", ...) again, with the table full",
                  "the name is taken, whether or not there is room: look "
                  "for it with find() before checking for space");
    fl_expect_int(mp_register("fill_more", exit_with), -ENOSPC,
                  "mp_register of one more new name, the table still full",
                  "a name refused takes no entry: count only those stored, "
                  "or find() reads past the table");
}

/* ------------------------------------------------------- mp_spawn_main */

// In a child of the test: the fork server's flag with no descriptor after
// it (argc 2, argv[2] NULL), as a user typing the flag by hand could give.
static int
act_server_flag_alone(void *arg)
{
    (void)arg;
    char *argv[] = {"check_start_methods", MP_FORKSERVER_FLAG, NULL};
    return 1000 + mp_spawn_main(2, argv); // the child ends with it
}

FL_TEST(test_mp_spawn_main_returns_in_a_process_not_spawned)
{
    fl_child r;
    fl_run_in_child(act_server_flag_alone, NULL, 3000, 0, &r);
    ck_assert_msg(r.returned && r.value == 1000,
                  "mp_spawn_main(2, {prog, MP_FORKSERVER_FLAG, NULL}) (argc "
                  "2: no descriptor) should return 0; it %s %d. The fork "
                  "server's argv has 3 entries: check argc >= 3 before "
                  "reading argv[2]",
                  r.returned    ? "returned"
                  : r.exited    ? "exited with"
                  : r.timed_out ? "was still running after 3 s, killed by"
                                : "was killed by signal",
                  r.returned ? r.value - 1000 : r.status);
    char *plain[] = {"check_start_methods", NULL};
    char *named[] = {"check_start_methods", "test_something", NULL};
    fl_expect_int(mp_spawn_main(1, plain), 0,
                  "mp_spawn_main(1, {\"check_start_methods\"})",
                  "without MP_SPAWN_FLAG in argv[1], return 0 at once");
    fl_expect_int(mp_spawn_main(2, named), 0,
                  "mp_spawn_main with argv[1] = \"test_something\"",
                  "only MP_SPAWN_FLAG or MP_FORKSERVER_FLAG in argv[1] "
                  "make this process a child");
}

// In a child of the test: mp_spawn_main as a spawned child would call it.
static int
act_spawned(void *arg)
{
    char *argv[] = {"check_start_methods", MP_SPAWN_FLAG, arg, "3", NULL};
    return 1000 + mp_spawn_main(4, argv); // only if it returned
}

FL_TEST(test_mp_spawn_main_runs_the_named_target_and_exits)
{
    fl_child r;
    fl_run_in_child(act_spawned, "exit_with", 3000, 0, &r);
    ck_assert_msg(!r.returned,
                  "mp_spawn_main returned %s in a spawned child: it must "
                  "run the target and end the process with _exit(), or the "
                  "child goes on to run main, the parent's program",
                  fl_ret(r.value - 1000));
    ck_assert_msg(r.exited && r.status == 3,
                  "with argv {prog, MP_SPAWN_FLAG, \"exit_with\", \"3\"} the "
                  "process should exit with 3, the target's value; it %s %d",
                  r.exited ? "exited with" : "was killed by signal", r.status);
}

// In a child of the test: a spawned child's argv without the argument
// (argc 3), as a user typing the flag by hand could give it.
static int
act_spawned_without_arg(void *arg)
{
    char *argv[] = {"check_start_methods", MP_SPAWN_FLAG, arg, NULL};
    return 1000 + mp_spawn_main(3, argv); // only if it returned
}

static int
act_spawned_without_name(void *arg)
{
    (void)arg;
    char *argv[] = {"check_start_methods", MP_SPAWN_FLAG, NULL};
    return 1000 + mp_spawn_main(2, argv); // only if it returned
}

FL_TEST(test_mp_spawn_main_exits_127_for_an_unknown_name)
{
    fl_child r;
    fl_run_in_child(act_spawned, "no_such_target", 3000, 0, &r);
    ck_assert_msg(!r.returned && r.exited && r.status == MP_EXIT_NO_TARGET,
                  "with argv {prog, MP_SPAWN_FLAG, \"no_such_target\", \"3\"} "
                  "the process should _exit(MP_EXIT_NO_TARGET); it %s %d. A "
                  "name find() does not know must not run another target",
                  r.returned ? "returned"
                  : r.exited ? "exited with"
                             : "was killed by signal",
                  r.returned ? r.value - 1000 : r.status);
    fl_run_in_child(act_spawned_without_arg, "exit_with", 3000, 0, &r);
    ck_assert_msg(!r.returned && r.exited && r.status == MP_EXIT_NO_TARGET,
                  "with argv {prog, MP_SPAWN_FLAG, \"exit_with\", NULL} "
                  "(argc 3: no argument) the process should "
                  "_exit(MP_EXIT_NO_TARGET); it %s %d. A spawned child's "
                  "argv has 4 entries: with fewer, argv[3] is NULL, and the "
                  "target would run with a NULL argument. Check argc >= 4 "
                  "before find()",
                  r.returned ? "returned"
                  : r.exited ? "exited with"
                             : "was killed by signal",
                  r.returned ? r.value - 1000 : r.status);
    fl_run_in_child(act_spawned_without_name, NULL, 3000, 0, &r);
    ck_assert_msg(!r.returned && r.exited && r.status == MP_EXIT_NO_TARGET,
                  "with argv {prog, MP_SPAWN_FLAG, NULL} (argc 2: no name) "
                  "the process should _exit(MP_EXIT_NO_TARGET); it %s %d. "
                  "argv[1] says it is a spawned child, whatever follows: "
                  "only argc < 2 is an ordinary start",
                  r.returned ? "returned"
                  : r.exited ? "exited with"
                             : "was killed by signal",
                  r.returned ? r.value - 1000 : r.status);
}

/* ------------------------------------------------- mp_start, arguments */

FL_TEST(test_mp_start_rejects_an_unregistered_name)
{
    static const enum mp_method methods[] = {MP_FORK, MP_SPAWN, MP_FORKSERVER};
    // Unknown, the start of "exit_with", and "exit_with" with more after.
    static const char *const names[] = {"no_such_target", "exit",
                                        "exit_with_more"};
    for (int i = 0; i < 9; i++) {
        enum mp_method m = methods[i % 3];
        const char *name = names[i / 3];
        pid_t pid = mp_start(m, name, NULL, NULL, 0);
        int server = mp_forkserver_stop() == 0;
        int left = fl_kill_children();
        ck_assert_msg(pid == -ENOENT && !server && left == 0,
                      "mp_start(%s, \"%s\") returned %s, expected "
                      "-ENOENT%s%s. find() the name before starting "
                      "anything, and never fall back on another target%s",
                      method_name(m), name, fl_ret(pid),
                      server ? "; it also started the fork server" : "",
                      left ? "; a process was left running" : "",
                      i < 3 ? ""
                            : ": compare whole names with strcmp. A "
                              "strncmp over the shorter length takes a "
                              "prefix of \"exit_with\", or \"exit_with\" "
                              "with more after, for \"exit_with\"");
    }
}

FL_TEST(test_mp_start_rejects_invalid_arguments)
{
    char big[MP_ARG_MAX + 1];
    memset(big, 'x', MP_ARG_MAX);
    big[MP_ARG_MAX] = '\0';
    int in = 0, unopened = 999;
    const struct {
        enum mp_method m;
        const char *name, *arg;
        const int *fds;
        int nfds, want;
        const char *what;
    } bad[] = {
        {MP_FORK, NULL, "0", NULL, 0, -EINVAL, "a NULL name"},
        {(enum mp_method)42, "exit_with", "0", NULL, 0, -EINVAL, "method 42"},
        {MP_SPAWN, "exit_with", "0", NULL, -1, -EINVAL, "npass = -1"},
        {MP_SPAWN, "exit_with", "0", NULL, 1, -EINVAL,
         "pass_fds = NULL with npass = 1"},
        {MP_FORKSERVER, "exit_with", "0", &in, 1, -EINVAL,
         "pass_fds under MP_FORKSERVER"},
        {MP_SPAWN, "exit_with", "0", &unopened, 1, -EBADF,
         "pass_fds = {999}, not open"},
        {MP_FORK, "exit_with", big, NULL, 0, -E2BIG,
         "an arg of MP_ARG_MAX characters"},
        {(enum mp_method)42, "no_such_target", "0", NULL, 0, -EINVAL,
         "method 42 and a name not registered"},
        {MP_SPAWN, "exit_with", big, &unopened, 1, -EBADF,
         "pass_fds = {999} and an arg of MP_ARG_MAX characters"},
        {MP_SPAWN, "no_such_target", "0", &unopened, 1, -EBADF,
         "pass_fds = {999} and a name not registered"},
        {MP_FORKSERVER, "exit_with", "0", &unopened, 1, -EINVAL,
         "pass_fds = {999}, not open, under MP_FORKSERVER"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pid_t pid = mp_start(bad[i].m, bad[i].name, bad[i].arg, bad[i].fds,
                             bad[i].nfds);
        mp_forkserver_stop();
        fl_kill_children();
        ck_assert_msg(pid == bad[i].want,
                      "mp_start with %s returned %s, expected %s: check the "
                      "arguments first, in the order mp_start's doc gives",
                      bad[i].what, fl_ret(pid), fl_ret(bad[i].want));
    }
}

/* -------------------------------------------------------- mp_start fork */

FL_TEST(test_mp_start_fork_child_sees_a_global_set_before_start)
{
    global_flag = 7;
    char why[160];
    int st = run_raw(MP_FORK, "read_global", NULL);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 7,
                  "a fork child exits with the global it sees, which the "
                  "caller set to 7 before the start; the child %s. fork() "
                  "copies the caller's memory as it is at that moment",
                  how(st, why, sizeof why));
}

FL_TEST(test_mp_start_fork_child_deadlocks_on_a_mutex_held_at_fork)
{
    struct holder h;
    holder_start(&h); // another thread holds `held` from now on
    pid_t pid = mp_start(MP_FORK, "take_mutex", NULL, NULL, 0);
    int got = pid > 0 ? mp_join(MP_FORK, pid, 100) : pid;
    int alive = pid > 0 && fl_alive(pid);
    if (got == -ETIMEDOUT)
        kill(pid, SIGKILL); // it would wait for ever
    int end = got == -ETIMEDOUT ? mp_join(MP_FORK, pid, -1) : 0;
    holder_stop(&h);
    fl_kill_children();
    ck_assert_msg(pid > 0, "mp_start(MP_FORK, \"take_mutex\") returned %s",
                  fl_ret(pid));
    ck_assert_msg(got == -ETIMEDOUT && alive,
                  "the child was forked while another thread held a mutex, "
                  "then locked it: it should still be blocked 100 ms later "
                  "(the owner thread was not copied, so nobody unlocks), and "
                  "mp_join(MP_FORK, pid, 100) should give -ETIMEDOUT; it "
                  "gave %s. Does MP_FORK really fork()? Does mp_join time "
                  "out (pidfd and poll)?",
                  fl_ret(got));
    ck_assert_msg(end == -SIGKILL,
                  "mp_join of the stuck child after SIGKILL: expected -9, "
                  "got %s. A child killed by a signal gives minus the signal",
                  code_str(end));
}

/* ------------------------------------------------------- mp_start spawn */

FL_TEST(test_mp_start_spawn_child_misses_a_global_set_before_start)
{
    global_flag = 7;
    char why[160];
    int st = run_raw(MP_SPAWN, "read_global", NULL);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "a spawned child exits with the global it sees; the "
                  "caller set it to 7, a fresh program has 0. The child %s. "
                  "Spawn must run the program again (posix_spawn of "
                  "/proc/self/exe), not fork()",
                  how(st, why, sizeof why));
}

FL_TEST(test_mp_start_spawn_child_exits_with_the_targets_value)
{
    char why[160];
    int st = run_raw(MP_SPAWN, "exit_with", "3");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 3,
                  "a spawned child running exit_with(\"3\") %s, expected to "
                  "exit with 3: the name and \"3\" go in argv, and "
                  "mp_spawn_main _exit()s with the target's value",
                  how(st, why, sizeof why));
    st = run_raw(MP_SPAWN, "die_by", "15");
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
                  "a spawned child running die_by(\"15\") %s, expected to "
                  "be killed by SIGTERM",
                  how(st, why, sizeof why));
}

FL_TEST(test_mp_start_spawn_closes_fds_not_passed)
{
    int p[2];
    ck_assert_msg(pipe(p) == 0, "pipe failed"); // no O_CLOEXEC: inherited
    char arg[16], why[160];
    snprintf(arg, sizeof arg, "%d", p[1]);
    pid_t pid = mp_start(MP_SPAWN, "fd_is_open", arg, NULL, 0);
    int st = pid > 0 ? fl_raw_wait(pid, raw_wait_hint) : 0;
    close(p[0]);
    close(p[1]);
    ck_assert_msg(pid > 0, "mp_start(MP_SPAWN, \"fd_is_open\") returned %s",
                  fl_ret(pid));
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "fd %d, a pipe opened without O_CLOEXEC and not in "
                  "pass_fds, must be closed in the spawned child; the child "
                  "%s (%d: it was open). Add a close action "
                  "(posix_spawn_file_actions_addclose) for every descriptor "
                  "not passed: exec keeps those without close-on-exec",
                  p[1], how(st, why, sizeof why), FD_OPEN);
}

// Two descriptors passed: the pipe's write end, close-on-exec, and a dup
// of it without the flag (F_GETFD gives 0 for it: open all the same).
// Descriptors 0, 1 and 2 are not passed, yet the child keeps them too.
FL_TEST(test_mp_start_spawn_keeps_the_fds_passed)
{
    int p[2], mask = 0;
    ck_assert_msg(pipe2(p, O_CLOEXEC) == 0, "pipe failed");
    int fds[2] = {p[1], dup(p[1])};
    ck_assert_msg(fds[1] >= 0, "dup failed");
    for (int std = 0; std < 3; std++)
        mask |= (fcntl(std, F_GETFD) >= 0) << std;
    char arg[32], got[8] = "", why[160];
    snprintf(arg, sizeof arg, "%d %d", p[1], mask);
    pid_t pid = mp_start(MP_SPAWN, "write_ok", arg, fds, 2);
    close(p[1]); // the child holds the only write ends now
    close(fds[1]);
    ssize_t n = pid > 0 ? read(p[0], got, sizeof got - 1) : -1;
    int st = pid > 0 ? fl_raw_wait(pid, raw_wait_hint) : 0;
    close(p[0]);
    ck_assert_msg(pid > 0,
                  "mp_start(MP_SPAWN, \"write_ok\", fds, 2) returned %s, "
                  "with fds two open descriptors, one close-on-exec and one "
                  "not.%s",
                  fl_ret(pid),
                  pid == -EBADF ? " fcntl(fd, F_GETFD) gives the flags, 0 "
                                  "for a descriptor without FD_CLOEXEC: only "
                                  "-1 means it is not open"
                                : "");
    ck_assert_msg(!WIFEXITED(st) || WEXITSTATUS(st) != STD_CLOSED,
                  "the spawned child found one of descriptors 0, 1, 2 "
                  "closed, though the test has them open: keep_only must "
                  "leave 0, 1 and 2 alone (fd < 3) and close only the "
                  "descriptors above them not passed");
    ck_assert_msg(n == 2 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "fd %d, passed in pass_fds, should be open in the spawned "
                  "child at the same number; the child wrote %zd bytes and "
                  "%s. The fd is O_CLOEXEC, so exec closes it unless a "
                  "posix_spawn_file_actions_adddup2(&fa, fd, fd) clears the "
                  "flag",
                  p[1], n, how(st, why, sizeof why));
}

FL_TEST(test_mp_start_spawn_child_is_not_deadlocked_by_a_held_mutex)
{
    struct holder h;
    holder_start(&h); // another thread holds `held` from now on
    pid_t pid = mp_start(MP_SPAWN, "take_mutex", NULL, NULL, 0);
    long t0 = fl_now_ms();
    int got = pid > 0 ? mp_join(MP_SPAWN, pid, 3000) : pid;
    long took = fl_now_ms() - t0;
    if (got == -ETIMEDOUT)
        kill(pid, SIGKILL);
    if (got == -ETIMEDOUT)
        fl_raw_wait(pid, raw_wait_hint);
    holder_stop(&h);
    ck_assert_msg(got != -ETIMEDOUT || took >= 2900,
                  "mp_join(MP_SPAWN, pid, 3000) gave -ETIMEDOUT after %ld "
                  "ms, before its timeout: wait on a pidfd with poll() for "
                  "the whole timeout",
                  took);
    ck_assert_msg(pid > 0, "mp_start(MP_SPAWN, \"take_mutex\") returned %s",
                  fl_ret(pid));
    ck_assert_msg(got == 0,
                  "a spawned child locks a mutex that another thread of the "
                  "caller held at the start: in a fresh image it is "
                  "unlocked, and the child should exit with 0. mp_join gave "
                  "%s%s",
                  code_str(got),
                  got == -ETIMEDOUT ? ": the child was stuck on the copy of "
                                      "a locked mutex. Spawn must exec, not "
                                      "fork"
                                    : "");
}

FL_TEST(test_mp_start_spawn_child_misses_targets_registered_late)
{
    int got = mp_register("late", exit_with);
    fl_expect_int(got, 0, "mp_register(\"late\", ...) in the test",
                  got == -EEXIST ? NOT_TAKEN : "");
    char why[160];
    int st = run_raw(MP_SPAWN, "late", "5");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == MP_EXIT_NO_TARGET,
                  "\"late\" was registered in the caller only, after "
                  "startup: a spawned child, a fresh program, does not know "
                  "it and should exit with MP_EXIT_NO_TARGET; it %s. Did "
                  "spawn fork() instead of exec?",
                  how(st, why, sizeof why));
    // The fork server is a fresh program too: it answers -ENOENT.
    pid_t pid = mp_start(MP_FORKSERVER, "late", "5", NULL, 0);
    mp_forkserver_stop();
    fl_kill_children();
    fl_expect_int(pid, -ENOENT,
                  "mp_start(MP_FORKSERVER, \"late\"), registered in the "
                  "caller only",
                  "the fork server does not know the name: its reply's err "
                  "is -ENOENT, negative, and ask() returns that err");
}

/* ---------------------------------------------------------- forkserver */

FL_TEST(test_mp_forkserver_start_starts_one_server)
{
    // Another child of the caller, ended before the stop and older than
    // the server: a waitpid(-1) in the stop would reap it first.
    pid_t other = fl_raw_child(5, 0);
    fl_until_ended(other);
    pid_t first = mp_forkserver_start(), again = mp_forkserver_start();
    pid_t parent = first > 0 ? fl_ppid_of(first) : -1;
    int stopped = mp_forkserver_stop();
    int gone = first > 0 && !fl_alive(first) && !fl_zombie(first);
    int kept = fl_zombie(other);
    fl_kill_children();
    ck_assert_msg(kept,
                  "mp_forkserver_stop reaped another child of the caller, "
                  "one that had ended before the stop: wait for the server "
                  "by its pid (wait_status(server_pid, ...)), before "
                  "setting server_pid to -1; waitpid(-1) takes any child, "
                  "whose exit code is then lost to the caller");
    ck_assert_msg(first > 0,
                  "mp_forkserver_start returned %s, expected the "
                  "server's pid",
                  fl_ret(first));
    ck_assert_msg(again == first,
                  "a second mp_forkserver_start returned %s, the first %d: "
                  "start the server once, then return the running one's pid",
                  fl_ret(again), (int)first);
    ck_assert_msg(parent == getpid(),
                  "the server's parent is %d, expected the caller %d",
                  (int)parent, (int)getpid());
    ck_assert_msg(stopped == 0 && gone,
                  "mp_forkserver_stop returned %s and the server is %s: send "
                  "OP_STOP, close the socket and reap the server",
                  fl_ret(stopped), gone ? "gone" : "still there");
}

FL_TEST(test_mp_start_forkserver_child_parent_is_the_server)
{
    pid_t server = mp_forkserver_start();
    ck_assert_msg(server > 0, "mp_forkserver_start returned %s",
                  fl_ret(server));
    char arg[64];
    snprintf(arg, sizeof arg, "%d %d", (int)server, (int)getpid());
    pid_t pid = start(MP_FORKSERVER, "whose_child", arg, NULL, 0);
    int got = mp_join(MP_FORKSERVER, pid, -1);
    int stopped = mp_forkserver_stop();
    fl_kill_children();
    ck_assert_msg(got == 0,
                  "the child's parent should be the server %d; mp_join "
                  "gave %s%s",
                  (int)server, code_str(got),
                  got == BY_CALLER ? ": its parent is the caller. The "
                                     "server must fork the child, not "
                                     "mp_start"
                  : got == -ECHILD ? ": the server has no such child. The "
                                     "server must fork it, not mp_start"
                                   : "");
    fl_expect_int(stopped, 0, "mp_forkserver_stop", "");
}

FL_TEST(test_mp_start_forkserver_child_misses_a_global_set_before_start)
{
    global_flag = 7; // before the server starts, on first use
    pid_t pid = start(MP_FORKSERVER, "read_global", NULL, NULL, 0);
    int got = mp_join(MP_FORKSERVER, pid, -1);
    mp_forkserver_stop();
    fl_kill_children();
    ck_assert_msg(got == 0,
                  "a forkserver child exits with the global it sees; the "
                  "caller set it to 7, the server is a fresh program where "
                  "it is 0. mp_join gave %s%s",
                  code_str(got),
                  got == 7 ? ": was the server forked from the caller "
                             "instead of spawned?"
                           : "");
}

FL_TEST(test_mp_join_gives_pythons_exit_codes_under_forkserver)
{
    static const struct {
        const char *name, *arg;
        int want;
    } runs[] = {{"exit_with", "0", 0},
                {"exit_with", "3", 3},
                {"die_by", "15", -SIGTERM}};
    for (int i = 0; i < 3; i++) {
        // Heap copies, as a caller's strings often are: the sanitizer pass
        // sees a read past the end of either (a literal's it cannot).
        char *name = strdup(runs[i].name);
        char *arg = strdup(runs[i].arg);
        ck_assert_msg(name != NULL && arg != NULL, "strdup failed");
        pid_t pid = start(MP_FORKSERVER, name, arg, NULL, 0);
        free(name);
        free(arg);
        int got = mp_join(MP_FORKSERVER, pid, -1);
        if (got != runs[i].want) {
            mp_forkserver_stop();
            fl_kill_children();
        }
        ck_assert_msg(got == runs[i].want,
                      "%s(\"%s\") under MP_FORKSERVER: expected exit code "
                      "%d, got %s. The server reaps the child and sends "
                      "Python's code: the status if it exited, minus the "
                      "signal if one killed it",
                      runs[i].name, runs[i].arg, runs[i].want, code_str(got));
    }
    fl_expect_int(mp_forkserver_stop(), 0, "mp_forkserver_stop", "");
}

FL_TEST(test_mp_join_times_out_under_forkserver)
{
    pid_t pid = start(MP_FORKSERVER, "wait_forever", NULL, NULL, 0);
    int got = mp_join(MP_FORKSERVER, pid, 50);
    int alive = fl_alive(pid);
    kill(pid, SIGKILL);
    int end = mp_join(MP_FORKSERVER, pid, -1);
    mp_forkserver_stop();
    fl_kill_children();
    ck_assert_msg(got == -ETIMEDOUT && alive,
                  "mp_join(MP_FORKSERVER, pid, 50) of a child that never "
                  "ends gave %s, expected -ETIMEDOUT: pass the timeout to "
                  "the server, which waits that long",
                  code_str(got));
    ck_assert_msg(end == -SIGKILL,
                  "mp_join(MP_FORKSERVER) after SIGKILL: expected -9, got "
                  "%s. The server reports minus the signal",
                  code_str(end));
}

static void *
stop_server(void *stopped)
{
    *(int *)stopped = mp_forkserver_stop();
    return NULL;
}

// What /proc says of a process, for messages.
static const char *
fate(pid_t pid)
{
    return fl_zombie(pid)  ? "a zombie nobody reaped"
           : fl_alive(pid) ? "still running"
                           : "gone";
}

// One child has ended, one still runs when the stop comes: the server
// must wait for it (waitpid(-1, 0) until ECHILD, not WNOHANG, which
// leaves it to the caller as an orphan).  The stop runs in a thread; the
// running child is killed only once the server sleeps again after the
// request, in its wait (or has ended, which is the mistake).  The child
// that ended left the server's process group first (waitpid(0) misses
// it), and a signal the server catches interrupts its wait (EINTR).
FL_TEST(test_mp_forkserver_stop_reaps_children_never_joined)
{
    ck_assert_msg(setenv(SERVER_CATCHES, "1", 1) == 0, "setenv failed");
    pid_t server = mp_forkserver_start();
    unsetenv(SERVER_CATCHES);
    ck_assert_msg(server > 0, "mp_forkserver_start returned %s",
                  fl_ret(server));
    pid_t pid = start(MP_FORKSERVER, "own_group", "0", NULL, 0);
    pid_t runs = start(MP_FORKSERVER, "wait_forever", NULL, NULL, 0);
    fl_proc_idles(server, 20); // back in its recv, asleep
    long slept = fl_proc_sleeps(server);
    int stopped = -1;
    pthread_t t;
    ck_assert_msg(pthread_create(&t, NULL, stop_server, &stopped) == 0,
                  "pthread_create failed");
    char st = fl_proc_sleeps_again(server, slept, 2000);
    int kept = 1; // the server waits on after a signal in its wait
    if (st == 'S') {
        slept = fl_proc_sleeps(server);
        kill(server, SIGUSR1);
        kept = fl_proc_sleeps_again(server, slept, 2000) == 'S' &&
               fl_proc_idles(server, 20);
    }
    const char *runner = fate(runs);
    kill(runs, SIGKILL);
    pthread_join(t, NULL);
    int again = mp_forkserver_stop();
    const char *child = fate(pid), *srv = fate(server), *late = fate(runs);
    fl_kill_children();
    ck_assert_msg(
        st == 'S' || strcmp(runner, "still running") != 0,
        "told to stop while a child of it (%d) still ran, the "
        "fork server ended at once, leaving that child %s. It "
        "must wait for and reap every child before it ends: waitpid(-1, "
        "NULL, 0) until ECHILD, not WNOHANG",
        (int)runs, runner);
    ck_assert_msg(kept,
                  "told to stop while a child of it (%d) still ran, the "
                  "fork server waited for it, until a signal whose handler "
                  "it had installed came: then it ended, leaving that "
                  "child %s. waitpid fails with EINTR when a handler runs: "
                  "wait again (until ECHILD)",
                  (int)runs, runner);
    ck_assert_msg(strcmp(late, "gone") == 0,
                  "a child of the fork server, running when the server was "
                  "stopped and killed then, is %s after mp_forkserver_stop: "
                  "the server must wait for every child before it ends "
                  "(waitpid(-1, NULL, 0) until ECHILD, not WNOHANG)",
                  late);
    ck_assert_msg(stopped == 0 && strcmp(child, "gone") == 0 &&
                      strcmp(srv, "gone") == 0,
                  "after mp_forkserver_stop (which gave %s), the child never "
                  "joined (it had left the server's process group) is %s, "
                  "and the server %s. Before it ends, the server must reap "
                  "every child still there (waitpid(-1) until ECHILD: "
                  "waitpid(0) waits only for those in its own group); the "
                  "caller must reap the server",
                  fl_ret(stopped), child, srv);
    fl_expect_int(again, -ESRCH, "mp_forkserver_stop with no server",
                  "forget the server's pid once it is reaped");
}

// A child started by MP_FORK after the server holds a copy of the
// caller's end of the socket (fork copies every descriptor): closing ours
// then gives the server no EOF.  Only the OP_STOP request ends it.  The
// stop runs in a thread; the fork child is killed once the server has
// ended, or after 3 s without (the mistake), which lets the stop return.
FL_TEST(test_mp_forkserver_stop_ends_the_server_while_a_fork_child_runs)
{
    pid_t server = mp_forkserver_start();
    ck_assert_msg(server > 0, "mp_forkserver_start returned %s",
                  fl_ret(server));
    int pfd = (int)syscall(SYS_pidfd_open, server, 0);
    ck_assert_msg(pfd >= 0, "pidfd_open failed: %s", strerror(errno));
    pid_t child = start(MP_FORK, "wait_forever", NULL, NULL, 0);
    int stopped = -1;
    pthread_t t;
    ck_assert_msg(pthread_create(&t, NULL, stop_server, &stopped) == 0,
                  "pthread_create failed");
    int ended = fl_readable_within(pfd, 3000);
    close(pfd);
    kill(child, SIGKILL);
    pthread_join(t, NULL);
    fl_reap(child);
    ck_assert_msg(ended,
                  "mp_forkserver_stop, while a child started by MP_FORK "
                  "still ran, did not end the fork server in 3 s. The "
                  "child holds a copy of the caller's end of the socket "
                  "(fork copies every descriptor), so closing ours gives "
                  "the server no EOF: send OP_STOP first, then close");
    fl_expect_int(stopped, 0, "mp_forkserver_stop", "");
}

// In a raw child of the test: start the fork server, have it run a
// child (so that it is up and serving, its start-up CPU time spent), send
// its pid down the pipe *arg, and end without stopping it.  Its end of
// the socket closes as it exits: the server reads EOF.
static int
leave_the_server(void *arg)
{
    int fd = *(int *)arg;
    pid_t server = mp_forkserver_start();
    pid_t pid = mp_start(MP_FORKSERVER, "exit_with", "0", NULL, 0);
    int code = pid > 0 ? mp_join(MP_FORKSERVER, pid, -1) : pid;
    if (code != 0)
        server = code < 0 ? code : -EPROTO;
    return write(fd, &server, sizeof server) == sizeof server ? 0 : 1;
}

// The server's caller exits without mp_forkserver_stop: the server sees
// EOF and must end.  A recv() that returns 0 (EOF) taken for "no bytes
// yet" spins for ever, which the server's CPU time shows.
FL_TEST(test_mp_forkserver_ends_when_its_caller_is_gone)
{
    int p[2];
    ck_assert_msg(pipe2(p, O_CLOEXEC) == 0, "pipe failed");
    pid_t caller = fl_raw_start(leave_the_server, &p[1]);
    close(p[1]);
    pid_t server = -1;
    ssize_t n = read(p[0], &server, sizeof server);
    close(p[0]);
    int code = fl_reap_code(caller); // the server is ours now (subreaper)
    ck_assert_msg(n == sizeof server && server > 0 && code == 0,
                  "in a child, mp_forkserver_start, then a start and a join "
                  "of a child that exits with 0, gave %s",
                  n == sizeof server ? fl_ret(server) : "nothing");
    int pfd = (int)syscall(SYS_pidfd_open, server, 0);
    ck_assert_msg(pfd >= 0, "pidfd_open failed: %s", strerror(errno));
    // Until it ends, or has spent 100 ms of CPU since (it spins): a
    // server that only reads EOF and reaps spends a few.  By CPU time,
    // not by the wall clock, which a loaded machine stretches.
    int ended = 0;
    long cpu0 = fl_proc_cpu_ms(server), cpu = cpu0;
    for (long t0 = fl_now_ms(); !ended && fl_now_ms() - t0 < 4000;) {
        ended = fl_readable_within(pfd, 10);
        cpu = fl_proc_cpu_ms(server);
        if (!ended && cpu - cpu0 > 100)
            break;
    }
    close(pfd);
    if (!ended)
        kill(server, SIGKILL);
    fl_reap(server);
    ck_assert_msg(ended,
                  "the fork server's caller exited without stopping it, "
                  "yet the server did not end%s. recv() returns 0 at EOF "
                  "(the caller is gone): xfer() must return -EPIPE then, "
                  "and serve() end its loop, not call recv() again",
                  cpu - cpu0 > 100 ? ": it spun, using the CPU, calling recv() "
                                     "again and again"
                                   : "");
}

/* --------------------------------------------------------------- mp_join */

FL_TEST(test_mp_join_gives_pythons_exit_codes)
{
    static const struct {
        int code, sig, want;
    } runs[] = {
        {0, 0, 0}, {3, 0, 3}, {0, SIGTERM, -SIGTERM}, {0, SIGKILL, -SIGKILL}};
    for (int i = 0; i < 4; i++) {
        enum mp_method m = i % 2 ? MP_SPAWN : MP_FORK; // both: the caller's
        pid_t pid = fl_raw_child(runs[i].code, runs[i].sig);
        int got = mp_join(m, pid, -1);
        if (got != runs[i].want)
            fl_kill_children();
        ck_assert_msg(got == runs[i].want,
                      "mp_join(%s) of a child that %s %d: expected %d, got "
                      "%s. Python's exit code is the status if it exited, "
                      "minus the signal if one killed it",
                      method_name(m),
                      runs[i].sig ? "was killed by signal" : "exited with",
                      runs[i].sig ? runs[i].sig : runs[i].code, runs[i].want,
                      code_str(got));
    }
}

// Once the test's main thread sleeps (in a join's wait): make every
// waitpid of the code under test from then on fail with ECHILD, as if
// someone else had reaped the child, and close *arg to let it end.
static void *
steal_when_asleep(void *arg)
{
    fl_proc_idles(getpid(), 20);
    fl_fault_fail_from("waitpid", (int)fl_fault_calls("waitpid") + 1, ECHILD);
    close(*(int *)arg);
    return NULL;
}

FL_TEST(test_mp_join_times_out_while_the_child_runs)
{
    int p[2];
    ck_assert_msg(pipe(p) == 0, "pipe failed");
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed");
    if (pid == 0) { // ends when the test closes the write end
        char c;
        close(p[1]);
        while (read(p[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    close(p[0]);
    int polled = mp_join(MP_FORK, pid, 0);
    long t0 = fl_now_ms();
    int waited = mp_join(MP_FORK, pid, 50);
    long took = fl_now_ms() - t0;
    fl_snapshot s;
    fl_snapshot_take(&s);
    fl_fault_reset();
    fl_fault_fail("poll", 1, ENOMEM);
    int failed = mp_join(MP_FORK, pid, 50);
    int fired = fl_fault_fired("poll") > 0;
    fl_fault_reset();
    char diff[512];
    int leaked = fl_snapshot_diff(&s, diff, sizeof diff);
    fl_snapshot_restore(&s);
    // Descriptor 0 free, as in a program started without stdin: the
    // pidfd is 0, a descriptor like any other, and is closed again.
    int stdin_copy = fcntl(0, F_DUPFD_CLOEXEC, 3);
    close(0);
    int on_zero = mp_join(MP_FORK, pid, 20);
    int zero_left = fcntl(0, F_GETFD) >= 0;
    if (zero_left)
        close(0);
    if (stdin_copy >= 0) {
        dup2(stdin_copy, 0);
        close(stdin_copy);
    }
    // The child ends during a timed join (the test's write end closed
    // once the join sleeps), and someone else reaps it first, a SIGCHLD
    // handler's waitpid(-1) say: the join's reap after the poll fails with
    // ECHILD (made by the harness), and that is its answer.  The child
    // stays a zombie, for the join for ever below.
    pthread_t t;
    fl_fault_reset();
    ck_assert(pthread_create(&t, NULL, steal_when_asleep, &p[1]) == 0);
    int stolen = mp_join(MP_FORK, pid, 2000);
    pthread_join(t, NULL);
    int fired_wait = fl_fault_fired("waitpid") > 0;
    fl_fault_reset();
    int ended = mp_join(MP_FORK, pid, -1);
    if (ended != 0)
        fl_kill_children();
    fl_expect_int(polled, -ETIMEDOUT, "mp_join(pid, 0) of a running child",
                  "0 means poll: the child runs, so -ETIMEDOUT");
    ck_assert_msg(waited == -ETIMEDOUT && took >= 45,
                  "mp_join(pid, 50) of a running child gave %s after %ld "
                  "ms; expected -ETIMEDOUT after at least 50 ms. Wait on a "
                  "pidfd with poll() for the whole timeout",
                  fl_ret(waited), took);
    ck_assert_msg(leaked == 0,
                  "mp_join(pid, 50) of a running child, with poll() "
                  "failing with ENOMEM: close the pidfd on every path out "
                  "of the wait, the failed poll's too. %s",
                  diff);
    ck_assert_msg(fired && failed == -ENOMEM,
                  "mp_join(pid, 50) of a running child, with poll() "
                  "failing with ENOMEM, gave %s%s; expected -12 (-ENOMEM). "
                  "Only poll's 0 is a timeout: when it fails (-1, errno not "
                  "EINTR), return -errno",
                  code_str(failed), fired ? "" : " without calling poll()");
    ck_assert_msg(on_zero == -ETIMEDOUT && !zero_left,
                  "with descriptor 0 free, mp_join(pid, 20) of a running "
                  "child gave %s%s; expected -ETIMEDOUT, the pidfd (0) "
                  "closed again. pidfd_open may give descriptor 0: only "
                  "-1 is a failure (test with < 0, never <= 0)",
                  code_str(on_zero),
                  zero_left ? ", and descriptor 0 was left open" : "");
    fl_expect_int(ended, 0, "mp_join(pid, -1) once the child could end",
                  "-1 waits for ever");
    ck_assert_msg(fired_wait && stolen == -ECHILD,
                  "mp_join(MP_FORK, pid, 2000) of a child that ended during "
                  "the wait, whose reap after the poll then failed with "
                  "ECHILD (someone else reaped it), gave %s%s; expected -10 "
                  "(-ECHILD). When that waitpid fails, return its -errno",
                  code_str(stolen),
                  fired_wait ? "" : " without a waitpid after the wait");
}

FL_TEST(test_mp_join_rejects_a_process_that_is_not_a_child)
{
    fl_expect_int(mp_join(MP_FORK, getppid(), -1), -ECHILD,
                  "mp_join of the caller's own parent",
                  "when waitpid fails, return -errno");
    static const int timeouts[] = {0, 20};
    for (int i = 0; i < 2; i++) {
        char what[64];
        snprintf(what, sizeof what, "mp_join(MP_FORK, the caller's parent, %d)",
                 timeouts[i]);
        fl_expect_int(mp_join(MP_FORK, getppid(), timeouts[i]), -ECHILD, what,
                      "a timed join must also tell a process that is not a "
                      "child: waitpid(pid, WNOHANG) first, which fails with "
                      "ECHILD, before any pidfd (which any process has) and "
                      "poll");
    }
    fl_expect_int(mp_join(MP_FORK, 1, 0), -ECHILD, "mp_join(MP_FORK, 1, 0)",
                  "pid 1 is a valid pid (only <= 0 is -EINVAL), just not a "
                  "child of the caller");
    fl_expect_int(mp_join(MP_FORK, 0, -1), -EINVAL, "mp_join(MP_FORK, 0)",
                  "to waitpid, 0 means any child of the group");
    fl_expect_int(mp_join(MP_FORK, -1, -1), -EINVAL, "mp_join(MP_FORK, -1)",
                  "to waitpid, -1 means any child");
    fl_expect_int(mp_join(MP_FORKSERVER, 0, -1), -EINVAL,
                  "mp_join(MP_FORKSERVER, 0)",
                  "check the pid for every method, before asking the "
                  "server: its waitpid(0) or waitpid(-1) would reap any "
                  "child of its own");
    fl_expect_int(mp_join(MP_FORKSERVER, -1, -1), -EINVAL,
                  "mp_join(MP_FORKSERVER, -1)",
                  "check the pid for every method, before asking the "
                  "server: its waitpid(-1) would reap any child of its own");
    fl_expect_int(mp_join(MP_FORKSERVER, getppid(), -1), -ECHILD,
                  "mp_join(MP_FORKSERVER) with no server running",
                  "no server, so no child of the server");
    fl_expect_int(mp_join((enum mp_method)42, getppid(), -1), -EINVAL,
                  "mp_join with method 42",
                  "check the method too, before any wait: an unknown "
                  "method is -EINVAL, as in mp_start");
}

/* ---------------------------------------------------------- under stress */

// A raw child that waits at a gate, for limit_ms at most, then exits
// with 0.
struct gate {
    fl_gate gate; // the child waits; the test holds only the write end
    pid_t pid;
};

static void
gate_start(struct gate *g, int limit_ms)
{
    fl_gate_new(&g->gate, 0, limit_ms);
    g->pid = fl_raw_start(fl_gate_child, &g->gate);
    close(g->gate.fd[0]);
    g->gate.fd[0] = -1;
}

// Let the child go and reap it, unless mp_join did.
static void
gate_finish(struct gate *g)
{
    fl_gate_open(&g->gate);
    if (fl_alive(g->pid) || fl_zombie(g->pid))
        fl_raw_wait(g->pid, raw_wait_hint);
}

// The join a storm interrupts, and what ends a join for ever.
struct join_call {
    enum mp_method m;
    pid_t pid;
    int timeout_ms;
    struct gate *g; // released to end a join for ever (or NULL)
};

static int
join_call(void *arg)
{
    struct join_call *jc = arg;
    return mp_join(jc->m, jc->pid, jc->timeout_ms);
}

static void
release_gate(void *arg)
{
    fl_gate_open(&((struct join_call *)arg)->g->gate);
}

static void
terminate_child(void *arg)
{
    kill(((struct join_call *)arg)->pid, SIGTERM);
}

FL_TEST(test_mp_join_keeps_its_deadline_under_a_signal_storm)
{
    struct gate g;
    gate_start(&g, 1000);
    struct join_call jc = {MP_FORK, g.pid, 50, NULL};
    fl_storm_result res;
    fl_clock_mono_just_past_a_second(); // a clock in whole s shows
    fl_storm_call(join_call, &jc, 500, &res);
    fl_fault_reset();
    gate_finish(&g);
    ck_assert_msg(res.ret == -ETIMEDOUT && res.elapsed_ms >= 45 &&
                      res.elapsed_ms < 600,
                  "mp_join(MP_FORK, pid, 50) of a running child, under a "
                  "storm of %ld signals: expected -ETIMEDOUT after about "
                  "50 ms, got %s after %ld ms. %s",
                  res.signals, code_str(res.ret), res.elapsed_ms,
                  res.ret == -EINTR ? "poll failed with EINTR: poll again."
                  : res.elapsed_ms >= 600
                      ? "Each signal started the 50 ms again: after EINTR, "
                        "poll for the time LEFT until a deadline taken "
                        "once, before the first poll."
                      : "");
}

FL_TEST(test_mp_join_waits_for_ever_under_a_signal_storm)
{
    struct gate g;
    gate_start(&g, 3000);
    struct join_call jc = {MP_FORK, g.pid, -1, &g};
    fl_storm_result res;
    fl_storm_hold(join_call, release_gate, &jc, 500, 50, &res);
    gate_finish(&g);
    ck_assert_msg(!res.early && res.ret == 0,
                  "mp_join(MP_FORK, pid, -1) under a storm of %ld signals "
                  "returned %s after %ld ms, %s; expected 0 once the child "
                  "ended, let go after 50 ms. %s",
                  res.signals, code_str(res.ret), res.elapsed_ms,
                  res.early ? "while the child still ran" : "after it ended",
                  res.ret == -EINTR ? "waitpid failed with EINTR because a "
                                      "signal handler ran: call it again."
                                    : "");
    // The longest finite wait, some 25 days: now + INT_MAX ms does not
    // fit in an int.
    gate_start(&g, 3000);
    jc = (struct join_call){MP_FORK, g.pid, INT_MAX, &g};
    fl_storm_hold(join_call, release_gate, &jc, 500, 50, &res);
    gate_finish(&g);
    ck_assert_msg(!res.early && res.ret == 0,
                  "mp_join(MP_FORK, pid, INT_MAX) under a storm of %ld "
                  "signals returned %s after %ld ms, %s; expected 0 once "
                  "the child ended, let go after 50 ms. %s",
                  res.signals, code_str(res.ret), res.elapsed_ms,
                  res.early ? "while the child still ran" : "after it ended",
                  res.early || res.ret == -ETIMEDOUT
                      ? "now + INT_MAX ms overflows an int: keep the "
                        "deadline and the time left in a long (as now_ms() "
                        "returns), and clamp only the time given to poll()"
                      : "");
}

FL_TEST(test_mp_join_keeps_its_deadline_after_a_late_signal)
{
    struct gate g;
    gate_start(&g, 1100);
    // The first poll fails with EINTR as if its signal had come 630 ms
    // into a 600-ms wait: from then on the code's clock reads 630 ms
    // later (fl_fault_eintr_late), whatever the load.  A deadline taken
    // before the first poll has passed: the time left is 0, and the join
    // times out at once.  One taken at the EINTR, or the whole timeout
    // again, waits 600 ms more; a negative time left, which poll()
    // takes as for ever, waits until the child ends (1.1 s) and joins it.
    fl_fault_reset();
    fl_fault_eintr_late("poll", 1, 630);
    long t0 = fl_now_ms();
    int got = mp_join(MP_FORK, g.pid, 600);
    long took = fl_now_ms() - t0;
    int fired = fl_fault_fired("poll") > 0;
    // And a signal 290 ms into a 300-ms wait: 10 ms are left, and the
    // join times out after them.  A time left worked out wrong (the
    // deadline itself, say) waits until the child ends, and joins it.
    fl_fault_reset();
    fl_fault_eintr_late("poll", 1, 290);
    long t1 = fl_now_ms();
    int got2 = mp_join(MP_FORK, g.pid, 300);
    long took2 = fl_now_ms() - t1;
    fl_fault_reset();
    gate_finish(&g);
    ck_assert_msg(fired,
                  "mp_join(MP_FORK, pid, 600) of a running child returned "
                  "%s without calling poll(): wait for the child's pidfd "
                  "with poll() for the timeout",
                  code_str(got));
    ck_assert_msg(got == -ETIMEDOUT && took < 300,
                  "mp_join(MP_FORK, pid, 600) of a running child, whose "
                  "poll was interrupted by a signal whose handler returned "
                  "30 ms after the deadline: expected -ETIMEDOUT at once, "
                  "got %s after %ld ms. %s",
                  code_str(got), took,
                  got != -ETIMEDOUT
                      ? "The time left was negative, and poll() takes a "
                        "negative timeout as for ever: after EINTR, poll "
                        "for the time left or 0, never less."
                      : "The wait went on past its deadline: take the "
                        "deadline once, before the first poll (not at the "
                        "first EINTR), and after EINTR poll for the time "
                        "left until it, not the whole timeout again.");
    ck_assert_msg(got2 == -ETIMEDOUT && took2 < 250,
                  "mp_join(MP_FORK, pid, 300) of a running child, whose "
                  "poll was interrupted by a signal 290 ms in: expected "
                  "-ETIMEDOUT once the 10 ms left had passed, got %s after "
                  "%ld ms. After EINTR, poll for the time left: the "
                  "deadline minus now, in ms",
                  code_str(got2), took2);
}

FL_TEST(test_mp_join_keeps_its_deadline_when_the_wall_clock_jumps)
{
    struct gate g;
    gate_start(&g, 1000);
    struct join_call jc = {MP_FORK, g.pid, 50, NULL};
    fl_fault_reset();
    fl_clock_jump_at(1, -3600); // an hour back, after the first reading
    fl_storm_result res;
    fl_storm_call(join_call, &jc, 2000, &res);
    long reads = fl_clock_reads();
    fl_fault_reset();
    gate_finish(&g);
    ck_assert_msg(
        res.ret == -ETIMEDOUT && res.elapsed_ms >= 45 &&
                res.elapsed_ms<
                    600,
                    "mp_join(MP_FORK, pid, 50) of a running child, while the "
                    "wall clock was set back an hour (and signals kept it "
                    "reading the clock): expected -ETIMEDOUT after about 50 "
                    "ms, got %s after %ld ms. %s",
                    code_str(res.ret), res.elapsed_ms, reads> 0
            ? "It measured its deadline on the wall clock "
              "(CLOCK_REALTIME, time, gettimeofday), which "
              "anyone may set: use CLOCK_MONOTONIC."
            : "");
}

static int
stop_call(void *arg)
{
    (void)arg;
    return mp_forkserver_stop();
}

// The join, then the stop, each a wait for ever under a storm: the stop
// waits for the server, which waits for a child of its own still running
// (until the storm's helper terminates it).
FL_TEST(test_mp_join_under_forkserver_waits_for_ever_under_a_signal_storm)
{
    pid_t pid = start(MP_FORKSERVER, "wait_forever", NULL, NULL, 0);
    struct join_call jc = {MP_FORKSERVER, pid, -1, NULL};
    fl_storm_result res;
    fl_storm_hold(join_call, terminate_child, &jc, 500, 50, &res);
    if (!res.early && res.ret == -SIGTERM) {
        pid_t server = mp_forkserver_start();
        jc.pid = start(MP_FORKSERVER, "wait_forever", NULL, NULL, 0);
        fl_storm_result st;
        fl_storm_hold(stop_call, terminate_child, &jc, 500, 50, &st);
        const char *srv = fate(server);
        fl_kill_children();
        ck_assert_msg(!st.early && st.ret == 0 && strcmp(srv, "gone") == 0,
                      "mp_forkserver_stop, while a child of the server still "
                      "ran, under a storm of %ld signals, returned %s after "
                      "%ld ms, %s, and the server is %s; expected 0 once "
                      "the child was terminated, after 50 ms, and the server "
                      "reaped. %s",
                      st.signals, code_str(st.ret), st.elapsed_ms,
                      st.early ? "while the child still ran" : "after its end",
                      srv,
                      st.ret == -EINTR ? "Its wait for the server failed with "
                                         "EINTR because a signal handler ran: "
                                         "call waitpid again (reap())."
                                       : "");
    }
    mp_forkserver_stop();
    fl_kill_children();
    ck_assert_msg(!res.early && res.ret == -SIGTERM,
                  "mp_join(MP_FORKSERVER, pid, -1) under a storm of %ld "
                  "signals returned %s after %ld ms, %s; expected -15 once "
                  "the child was terminated, after 50 ms. %s",
                  res.signals, code_str(res.ret), res.elapsed_ms,
                  res.early ? "while the child still ran" : "after its end",
                  res.ret == -EINTR ? "send() or recv() failed with EINTR "
                                      "because a signal handler ran: xfer() "
                                      "must call it again."
                                    : "");
}

FL_TEST(test_mp_start_forkserver_reports_a_server_that_is_gone)
{
    pid_t server = mp_forkserver_start();
    ck_assert_msg(server > 0, "mp_forkserver_start returned %s",
                  fl_ret(server));
    kill(server, SIGKILL);
    siginfo_t si; // until it has died; it stays a zombie, for stop to reap
    while (waitid(P_PID, (id_t)server, &si, WEXITED | WNOWAIT) < 0 &&
           errno == EINTR)
        ;
    // A send to the dead server raises SIGPIPE, which ends this test
    // unless the code sends with MSG_NOSIGNAL: the default action, as in
    // a program that never changed it (the harness ignores it).
    signal(SIGPIPE, SIG_DFL);
    pid_t pid = mp_start(MP_FORKSERVER, "exit_with", "0", NULL, 0);
    signal(SIGPIPE, SIG_IGN);
    int stopped = mp_forkserver_stop();
    fl_kill_children();
    fl_expect_int(pid, -EPIPE,
                  "mp_start(MP_FORKSERVER) once the server was killed",
                  "the request cannot reach the server: send() fails with "
                  "EPIPE (with MSG_NOSIGNAL, or SIGPIPE kills the caller), "
                  "and that is the error");
    fl_expect_int(stopped, 0, "mp_forkserver_stop of the killed server",
                  "a dead server needs no telling: still close the socket "
                  "and reap it");
}

// The server's fork() fails for the first start, not the second: the
// caller gets minus its errno, and the server goes on serving.
FL_TEST(test_mp_start_forkserver_reports_a_fork_failing_in_the_server)
{
    ck_assert_msg(setenv(SERVER_FORK_FAILS, "1", 1) == 0, "setenv failed");
    pid_t server = mp_forkserver_start();
    unsetenv(SERVER_FORK_FAILS);
    ck_assert_msg(server > 0, "mp_forkserver_start returned %s",
                  fl_ret(server));
    pid_t failed = mp_start(MP_FORKSERVER, "exit_with", "3", NULL, 0);
    pid_t pid = mp_start(MP_FORKSERVER, "exit_with", "3", NULL, 0);
    int code = pid > 0 ? mp_join(MP_FORKSERVER, pid, -1) : pid;
    int stopped = mp_forkserver_stop();
    fl_kill_children();
    fl_expect_int(failed, -EAGAIN,
                  "mp_start(MP_FORKSERVER) while the server's fork() fails "
                  "with EAGAIN",
                  "serve_start() returns -errno of the failed fork(), the "
                  "server sends it back in its reply, and ask() returns it");
    fl_expect_int(code, 3,
                  "mp_join of the next child of the server, which exits "
                  "with 3",
                  "a failed fork() ends one request, not the server");
    fl_expect_int(stopped, 0, "mp_forkserver_stop", "");
}

// Kills the fork server once it has read the join's request (it went from
// its wait for a request to its wait for the child): the join's recv()
// then meets EOF, not a reset with a request still unread.
struct server_kill {
    pid_t server;
    long slept; // fl_proc_sleeps(server) while it waited for a request
};

static void *
kill_server_in_its_wait(void *arg)
{
    struct server_kill *sk = arg;
    fl_proc_sleeps_again(sk->server, sk->slept, 2000);
    kill(sk->server, SIGKILL);
    return NULL;
}

FL_TEST(test_mp_join_under_forkserver_reports_a_server_killed_in_the_wait)
{
    pid_t pid = start(MP_FORKSERVER, "wait_forever", NULL, NULL, 0);
    struct server_kill sk = {mp_forkserver_start(), 0};
    long until = fl_now_ms() + 2000; // until it waits for the next request
    while (fl_proc_state(sk.server) != 'S' && fl_now_ms() < until)
        sched_yield();
    sk.slept = fl_proc_sleeps(sk.server);
    pthread_t t;
    ck_assert(pthread_create(&t, NULL, kill_server_in_its_wait, &sk) == 0);
    // The reply's first recv() fails with EINTR: errno stays EINTR when
    // the next one meets EOF (a recv that returns 0 sets no errno).
    fl_fault_reset();
    fl_fault_eintr("recv", 1);
    int got = mp_join(MP_FORKSERVER, pid, -1);
    fl_fault_reset();
    pthread_join(t, NULL);
    int stopped = mp_forkserver_stop();
    fl_kill_children();
    fl_expect_int(got, -EPIPE,
                  "mp_join(MP_FORKSERVER, pid, -1) while the server, killed, "
                  "waited for the child",
                  got == 0 ? "recv() returned 0: the server closed the "
                             "socket (EOF), and a reply never came. That is "
                             "-EPIPE, not a reply of zeros (exit code 0)"
                           : "the server is gone before its reply: recv() "
                             "meets EOF, and that is -EPIPE");
    fl_expect_int(stopped, 0, "mp_forkserver_stop of the killed server",
                  "a dead server needs no telling: still close the socket "
                  "and reap it");
}

// A program of its own may reap the server (a waitpid(-1) loop, SIGCHLD
// ignored): the stop's wait then fails, and it must still forget that
// server, or every later start is sent to a dead one.
FL_TEST(test_mp_forkserver_stop_forgets_a_server_reaped_elsewhere)
{
    pid_t server = mp_forkserver_start();
    ck_assert_msg(server > 0, "mp_forkserver_start returned %s",
                  fl_ret(server));
    kill(server, SIGKILL);
    fl_reap(server);
    int stopped = mp_forkserver_stop();
    pid_t again = mp_forkserver_start();
    pid_t pid =
        again > 0 ? mp_start(MP_FORKSERVER, "exit_with", "3", NULL, 0) : again;
    int code = pid > 0 ? mp_join(MP_FORKSERVER, pid, -1) : pid;
    mp_forkserver_stop();
    fl_kill_children();
    fl_expect_int(stopped, -ECHILD,
                  "mp_forkserver_stop of a server the caller reaped itself",
                  "the wait for the server fails with ECHILD: return it");
    ck_assert_msg(again > 0 && again != server && code == 3,
                  "after that stop, mp_forkserver_start returned %s (the "
                  "old server was %d) and a child exiting with 3 gave %s: "
                  "expected a new server. The stop forgets the server "
                  "(server_pid and server_sock back to -1) even when its "
                  "wait fails",
                  fl_ret(again), (int)server, code_str(code));
}

FL_TEST(test_mp_start_forkserver_takes_short_transfers)
{
    pid_t server = mp_forkserver_start();
    ck_assert_msg(server > 0, "mp_forkserver_start returned %s",
                  fl_ret(server));
    fl_fault_reset();
    fl_fault_short("recv", 1, 1); // the reply comes one byte, then more
    pid_t pid = mp_start(MP_FORKSERVER, "exit_with", "7", NULL, 0);
    int fired = fl_fault_fired("recv") > 0;
    pid_t parent = pid > 0 ? fl_ppid_of(pid) : -1;
    int got = -1, killed = -1;
    if (parent == server) {
        fl_fault_reset();
        fl_fault_short("send", 1, 3); // the request goes 3 bytes at first
        got = mp_join(MP_FORKSERVER, pid, -1);
        // A reply of 7 bytes, then 1: with two ints, the last byte is the
        // top of the exit code, which -15 sets.
        pid_t term = mp_start(MP_FORKSERVER, "die_by", "15", NULL, 0);
        fl_fault_reset();
        fl_fault_short("recv", 1, 7);
        killed = term > 0 ? mp_join(MP_FORKSERVER, term, -1) : term;
    }
    fl_fault_reset();
    mp_forkserver_stop();
    fl_kill_children();
    ck_assert_msg(fired && parent == server,
                  "with its first recv() returning 1 byte only, "
                  "mp_start(MP_FORKSERVER) returned %s, which is not a "
                  "child of the server %d: a recv() (or send()) may move "
                  "fewer bytes than asked; xfer() must loop until all of "
                  "them have come",
                  fl_ret(pid), (int)server);
    fl_expect_int(got, 7,
                  "mp_join(MP_FORKSERVER) with its first send() taking 3 "
                  "bytes only",
                  "send() again for the rest of the request");
    fl_expect_int(killed, -SIGTERM,
                  "mp_join(MP_FORKSERVER) of a child killed by SIGTERM, "
                  "its first recv() taking 7 bytes only",
                  "recv() again until no byte is left (while len > 0): "
                  "the reply's last byte is still to come");
}

// mp_start(m, "exit_with", "4") with the kth call of fn failing with err,
// for every k: -err and nothing left (no child, no server, no
// descriptor), then a start that works.
static void
walk_start(enum mp_method m, const char *fn, int err)
{
    FL_FAULT_WALK (fn, err, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        pid_t pid = mp_start(m, "exit_with", "4", NULL, 0);
        int fired = fl_fault_fired(fn) > 0;
        char what[128];
        snprintf(what, sizeof what,
                 "mp_start(%s) with its call %d of %s() failing with %s",
                 method_name(m), k, fn, strerrorname_np(err));
        if (fired) {
            int stop = mp_forkserver_stop();
            fl_expect_no_leak(&s, what);
            fl_expect_int(pid, -err, what,
                          "return minus the error of the call that failed "
                          "(posix_spawn returns an errno value: negate it)");
            fl_expect_int(stop, -ESRCH, "mp_forkserver_stop after that",
                          "a server that failed to start is no server: keep "
                          "its pid and socket only once it runs");
            continue;
        }
        ck_assert_msg(pid > 0, "mp_start(%s) returned %s", method_name(m),
                      fl_ret(pid));
        int code = mp_join(m, pid, -1);
        mp_forkserver_stop();
        fl_expect_no_leak(&s, what);
        fl_expect_int(code, 4, "mp_join of the child that exits with 4", "");
    }
}

FL_TEST(test_mp_start_leaks_nothing_when_a_call_fails)
{
    walk_start(MP_FORK, "fork", EAGAIN);
    walk_start(MP_SPAWN, "posix_spawn", EAGAIN);
    walk_start(MP_FORKSERVER, "socketpair", EMFILE);
    walk_start(MP_FORKSERVER, "posix_spawn", ENOMEM);
    // The file actions fail with ENOMEM (an errno value, as posix_spawn's):
    // a descriptor of the caller's without close-on-exec makes the spawn
    // add a close for it, and the server's socket a dup2.
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    walk_start(MP_SPAWN, "posix_spawn_file_actions_addclose", ENOMEM);
    walk_start(MP_FORKSERVER, "posix_spawn_file_actions_adddup2", ENOMEM);
    close(p[0]);
    close(p[1]);
}

FL_TEST(test_mp_start_child_holds_no_descriptor_it_was_not_given)
{
    static const enum mp_method methods[] = {MP_SPAWN, MP_FORKSERVER};
    for (int i = 0; i < 2; i++) {
        pid_t pid = start(methods[i], "count_fds", NULL, NULL, 0);
        int got = mp_join(methods[i], pid, -1);
        mp_forkserver_stop();
        fl_kill_children();
        ck_assert_msg(got == 0,
                      "a child started with %s and no pass_fds holds %s "
                      "descriptors above 2; expected none. %s",
                      method_name(methods[i]), code_str(got),
                      methods[i] == MP_FORKSERVER
                          ? "The server forks it with the server's end of "
                            "the socket: close that in the child, or it "
                            "keeps the caller's channel open after the "
                            "server is gone."
                          : "Close every descriptor not passed.");
    }
}

FL_TEST(test_mp_start_takes_the_longest_name_and_argument)
{
    char arg[MP_ARG_MAX];
    memset(arg, 'a', sizeof arg - 1);
    arg[sizeof arg - 1] = '\0';
    static const enum mp_method methods[] = {MP_FORK, MP_SPAWN, MP_FORKSERVER};
    for (int i = 0; i < 3; i++) {
        pid_t pid = mp_start(methods[i], LONGEST_NAME, arg, NULL, 0);
        int got = pid > 0 ? mp_join(methods[i], pid, -1) : pid;
        mp_forkserver_stop();
        fl_kill_children();
        ck_assert_msg(got == MP_ARG_MAX - 1,
                      "a target of the longest name (%d characters) given "
                      "an argument of %d characters, under %s: expected it "
                      "to see all %d characters (its exit code), got %s. "
                      "A string of MP_ARG_MAX - 1 characters and its NUL "
                      "fit: reject strlen(arg) >= MP_ARG_MAX only, and copy "
                      "the name and argument whole.",
                      MP_NAME_MAX - 1, MP_ARG_MAX - 1, method_name(methods[i]),
                      MP_ARG_MAX - 1, pid > 0 ? code_str(got) : fl_ret(pid));
    }
}

FL_TEST(test_mp_start_fork_flushes_every_stream)
{
    int fds[2];
    ck_assert_msg(pipe(fds) == 0, "pipe failed");
    stream = fdopen(fds[1], "w");
    ck_assert_msg(stream != NULL, "fdopen failed");
    fputs("before|", stream); // buffered in this process, not written
    pid_t pid = start(MP_FORK, "print_to_stream", "child|", NULL, 0);
    fl_raw_wait(pid, raw_wait_hint);
    fclose(stream);
    char out[64];
    fl_read_text(fds[0], out, sizeof out);
    close(fds[0]);
    ck_assert_msg(strcmp(out, "before|child|") == 0,
                  "a stream of the caller (a pipe opened with fdopen, not "
                  "stdout) held \"before|\" at the start, and the child put "
                  "\"child|\" in its copy; the pipe got \"%s\", expected "
                  "\"before|child|\". fflush(NULL), not fflush(stdout), "
                  "before fork() (or the child writes the caller's buffer "
                  "again) and before the child's _exit() (or its output is "
                  "lost).",
                  out);
}

// In a child whose output is captured: a spawned child and a forkserver
// child print; 0 if both exited with 0.
static int
spawn_and_serve_prints(void *arg)
{
    (void)arg;
    pid_t a = mp_start(MP_SPAWN, "print_to_own_stream", "spawned|", NULL, 0);
    int ra = a > 0 ? mp_join(MP_SPAWN, a, -1) : a;
    // The server started here holds SERVER_LINE in its stdout buffer.
    setenv(SERVER_PRINTS, "1", 1);
    pid_t b =
        mp_start(MP_FORKSERVER, "print_to_own_stream", "served|", NULL, 0);
    unsetenv(SERVER_PRINTS);
    int rb = b > 0 ? mp_join(MP_FORKSERVER, b, -1) : b;
    pid_t c = mp_start(MP_FORKSERVER, "exit_with", "0", NULL, 0);
    int rc = c > 0 ? mp_join(MP_FORKSERVER, c, -1) : c;
    mp_forkserver_stop();
    return ra != 0 ? ra : rb != 0 ? rb : rc;
}

FL_TEST(test_mp_start_spawned_and_served_children_flush_their_output)
{
    fl_child r;
    fl_run_in_child(spawn_and_serve_prints, NULL, 3000, 1, &r);
    ck_assert_msg(r.returned && r.value == 0,
                  "a spawned and a forkserver child that print gave %s",
                  r.returned ? code_str(r.value) : "no answer (it died)");
    ck_assert_msg(strstr(r.out, "spawned|") != NULL,
                  "a spawned child printed \"spawned|\" to a stream of "
                  "its own on a pipe (an fdopen of stdout, left open), yet "
                  "the output was \"%s\": mp_spawn_main must fflush(NULL), "
                  "every stream, not only stdout, before _exit(), which "
                  "throws away what stdio holds",
                  r.out);
    ck_assert_msg(strstr(r.out, "served|") != NULL,
                  "a child of the fork server printed \"served|\" to a "
                  "stream of its own on a pipe (an fdopen of stdout, left "
                  "open), yet the output was \"%s\": the server's child "
                  "must fflush(NULL), every stream, not only stdout, before "
                  "_exit()",
                  r.out);
    int server_lines = fl_count_of(r.out, SERVER_LINE);
    ck_assert_msg(server_lines == 1,
                  "a fork server that had printed \"" SERVER_LINE "\" "
                  "(still in its stdout buffer) forked two children, and "
                  "the line came out %d times, expected once: the server "
                  "must fflush(NULL) before each fork(), or every child "
                  "inherits the buffer and prints it again",
                  server_lines);
}

// With no descriptor number free (RLIMIT_NOFILE): join a running child
// for 50 ms, then start one by spawn.
FL_TEST(test_mp_start_and_mp_join_report_that_no_descriptor_is_free)
{
    struct gate g;
    gate_start(&g, 1000);
    int lowest = dup(0); // the lowest free number
    close(lowest);
    struct rlimit lim, old;
    getrlimit(RLIMIT_NOFILE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)lowest; // every number below it is in use
    setrlimit(RLIMIT_NOFILE, &lim);
    int joined = mp_join(MP_FORK, g.pid, 50);
    pid_t spawned = mp_start(MP_SPAWN, "exit_with", "0", NULL, 0);
    setrlimit(RLIMIT_NOFILE, &old);
    gate_finish(&g);
    if (spawned > 0)
        fl_raw_wait(spawned, raw_wait_hint);
    fl_expect_int(joined, -EMFILE,
                  "mp_join(MP_FORK, pid, 50) with no descriptor number free",
                  joined == -ETIMEDOUT
                      ? "pidfd_open failed with EMFILE and returned -1, "
                        "which poll() skips: it waited on nothing and timed "
                        "out. Check pidfd_open's result and return -errno."
                      : "pidfd_open fails with EMFILE: return -errno.");
    fl_expect_int(spawned, -EMFILE,
                  "mp_start(MP_SPAWN) with no descriptor number free",
                  "opendir(\"/proc/self/fd\") fails with EMFILE: return "
                  "-errno, and start nothing");
}

// Print around a spawn and a forkserver start: the caller's "a|" and
// "b|" must come out before the child that follows each.
static int
print_around_starts(void *arg)
{
    (void)arg;
    fputs("a|", stdout); // stdout is a pipe: fully buffered
    pid_t a = mp_start(MP_SPAWN, "print_to_stdout", "spawned|", NULL, 0);
    int ra = a > 0 ? mp_join(MP_SPAWN, a, -1) : a;
    fputs("b|", stdout);
    pid_t b = mp_start(MP_FORKSERVER, "print_to_stdout", "served|", NULL, 0);
    int rb = b > 0 ? mp_join(MP_FORKSERVER, b, -1) : b;
    mp_forkserver_stop();
    return ra != 0 ? ra : rb;
}

FL_TEST(test_mp_start_flushes_the_callers_output_before_any_child)
{
    fl_child r;
    fl_run_in_child(print_around_starts, NULL, 3000, 1, &r);
    ck_assert_msg(r.returned && r.value == 0,
                  "a spawned and a forkserver child that print gave %s",
                  r.returned ? code_str(r.value) : "no answer (it died)");
    ck_assert_msg(strcmp(r.out, "a|spawned|b|served|") == 0,
                  "the caller printed \"a|\", spawned a child that printed "
                  "\"spawned|\", printed \"b|\", then had the fork server "
                  "start one that printed \"served|\"; the output was "
                  "\"%s\", expected \"a|spawned|b|served|\". What the caller "
                  "printed waited in its stdio buffer while the child "
                  "wrote: mp_start must fflush(NULL) before every start, "
                  "not only before fork().",
                  r.out);
}

// Put fd onto descriptor 3, close-on-exec or not.
static void
onto_3(int fd, int cloexec)
{
    ck_assert_msg(dup3(fd, 3, cloexec ? O_CLOEXEC : 0) == 3,
                  "dup3 onto 3 failed: %s", strerror(errno));
}

FL_TEST(test_mp_start_spawn_treats_descriptor_3_as_any_other)
{
    // Keep what descriptor 3 holds (the harness may use it) and put it
    // back at the end, close-on-exec flag and all.
    int saved = fcntl(3, F_DUPFD_CLOEXEC, 10);
    int flags = saved >= 0 ? fcntl(3, F_GETFD) : 0;
    int p[2];
    ck_assert_msg(pipe2(p, O_CLOEXEC) == 0, "pipe failed");
    for (int i = 0; i < 2; i++) { // above 3, which may have been free
        int hi = fcntl(p[i], F_DUPFD_CLOEXEC, 10);
        ck_assert_msg(hi >= 0, "fcntl(F_DUPFD_CLOEXEC) failed");
        close(p[i]);
        p[i] = hi;
    }
    onto_3(p[1], 0); // inherited by exec unless closed
    pid_t a = mp_start(MP_SPAWN, "fd_is_open", "3", NULL, 0);
    int sa = a > 0 ? fl_raw_wait(a, raw_wait_hint) : 0;
    onto_3(p[1], 1); // closed by exec unless passed
    static const int three[] = {3};
    pid_t b = mp_start(MP_SPAWN, "write_ok", "3", three, 1);
    int sb = b > 0 ? fl_raw_wait(b, raw_wait_hint) : 0;
    if (saved >= 0) {
        onto_3(saved, flags & FD_CLOEXEC);
        close(saved);
    } else {
        close(3);
    }
    close(p[1]);
    char got[8] = "";
    ssize_t n = read(p[0], got, sizeof got - 1);
    close(p[0]);
    char why[160];
    ck_assert_msg(a > 0 && b > 0, "mp_start(MP_SPAWN) returned %s and %s",
                  fl_ret(a), fl_ret(b));
    ck_assert_msg(WIFEXITED(sa) && WEXITSTATUS(sa) == 0,
                  "descriptor 3, not passed and not close-on-exec, was "
                  "still open in the spawned child (it %s): only 0, 1 and "
                  "2 are kept whatever happens. Are you skipping fd <= 3 "
                  "instead of fd < 3?",
                  how(sa, why, sizeof why));
    ck_assert_msg(n == 2 && WIFEXITED(sb) && WEXITSTATUS(sb) == 0,
                  "descriptor 3, passed and close-on-exec, was not open in "
                  "the spawned child (it wrote %zd bytes and %s): add "
                  "adddup2(fd, fd) for every descriptor passed, 3 included.",
                  n, how(sb, why, sizeof why));
}

FL_TEST(test_mp_forkserver_start_opens_its_socket_close_on_exec)
{
    unsigned char before[256], after[256];
    fl_open_fds(before, 256);
    pid_t server = mp_forkserver_start();
    fl_open_fds(after, 256);
    int leaky = -1;
    for (int fd = 3; fd < 256 && leaky < 0; fd++)
        if (after[fd] && !before[fd] && !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
            leaky = fd;
    mp_forkserver_stop();
    fl_kill_children();
    ck_assert_msg(server > 0, "mp_forkserver_start returned %s",
                  fl_ret(server));
    ck_assert_msg(leaky < 0,
                  "after mp_forkserver_start, the caller holds descriptor "
                  "%d without close-on-exec: any program the caller runs "
                  "later (exec, system, a spawn of another library) "
                  "inherits the server's socket, and while it lives the "
                  "server never sees EOF. Python makes every descriptor "
                  "non-inheritable: socketpair(..., SOCK_STREAM | "
                  "SOCK_CLOEXEC, ...).",
                  leaky);
}

FL_TEST(test_mp_start_spawn_child_inherits_the_environment)
{
    setenv("FL_SPAWN_PROBE", "inherited", 1);
    pid_t pid = mp_start(MP_SPAWN, "env_inherited", "FL_SPAWN_PROBE", NULL, 0);
    int st = pid > 0 ? fl_raw_wait(pid, raw_wait_hint) : 0;
    unsetenv("FL_SPAWN_PROBE");
    char why[160];
    ck_assert_msg(pid > 0, "mp_start(MP_SPAWN, \"env_inherited\") returned %s",
                  fl_ret(pid));
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the caller set FL_SPAWN_PROBE=inherited, yet the spawned "
                  "child did not see it (it %s). A spawned child, as in "
                  "Python, gets the caller's environment: pass environ to "
                  "posix_spawn(), not NULL.",
                  how(st, why, sizeof why));
}

// Bytes in use in the C library's heap, libc's own blocks included (the
// file actions' array is one): 0 under the sanitizer, whose allocator
// does not count them this way.
static size_t
heap_in_use(void)
{
    return mallinfo2().uordblks;
}

FL_TEST(test_mp_start_spawn_frees_its_file_actions)
{
    int st[4];
    size_t before = 0;
    for (int i = 0; i < 4; i++) {
        if (i == 1) // after a first spawn, which may set up stdio and such
            before = heap_in_use();
        pid_t pid = mp_start(MP_SPAWN, "exit_with", "0", NULL, 0);
        ck_assert_msg(pid > 0, "mp_start(MP_SPAWN, \"exit_with\") returned %s",
                      fl_ret(pid));
        st[i] = fl_raw_wait(pid, raw_wait_hint);
    }
    size_t after = heap_in_use();
    char why[160];
    ck_assert_msg(WIFEXITED(st[3]) && WEXITSTATUS(st[3]) == 0,
                  "a spawned child running exit_with(\"0\") %s",
                  how(st[3], why, sizeof why));
    ck_assert_msg(after <= before,
                  "three spawns left %zu more bytes in use on the heap "
                  "(%zu, then %zu): the file actions that "
                  "posix_spawn_file_actions_addclose and adddup2 built "
                  "live on the heap until posix_spawn_file_actions_destroy "
                  "frees them. Destroy them after every posix_spawn, and "
                  "on every error path after init.",
                  after - before, before, after);
    // An error path: a descriptor at or above the soft RLIMIT_NOFILE,
    // opened before it was lowered, makes addclose fail with EBADF, after
    // a first action (for low) put the file actions on the heap.
    int low = fcntl(0, F_DUPFD_CLOEXEC, 3), high = fcntl(0, F_DUPFD, 90);
    struct rlimit lim, was;
    getrlimit(RLIMIT_NOFILE, &was);
    lim = was;
    lim.rlim_cur = 64;
    ck_assert_msg(low > 0 && low < 64 && high >= 90 &&
                      setrlimit(RLIMIT_NOFILE, &lim) == 0,
                  "setting up descriptors %d and %d under a limit of 64", low,
                  high);
    pid_t got[3];
    before = heap_in_use();
    for (int i = 0; i < 3; i++)
        got[i] = mp_start(MP_SPAWN, "exit_with", "0", NULL, 0);
    after = heap_in_use();
    setrlimit(RLIMIT_NOFILE, &was);
    close(low);
    close(high);
    int left = fl_kill_children();
    fl_expect_int(got[0], -EBADF,
                  "mp_start(MP_SPAWN) with descriptor 90 open above a "
                  "limit of 64",
                  got[0] > 0 && left == 0
                      ? "posix_spawn_file_actions_addclose failed with "
                        "EBADF, an errno value it returns (not -1): keep_only "
                        "must return it negative, or it looks like a pid"
                      : "posix_spawn_file_actions_addclose(fd 90) fails "
                        "with EBADF, and nothing may start");
    ck_assert_msg(after <= before,
                  "three spawns that failed in keep_only left %zu more "
                  "bytes in use on the heap (%zu, then %zu): destroy the "
                  "file actions on that error path too.",
                  after - before, before, after);
}

static const fl_case cases[] = {
    FL_CASE(test_mp_register_rejects_invalid_names, 5),
    FL_CASE(test_mp_register_rejects_a_name_taken, 5),
    FL_CASE(test_mp_register_rejects_a_full_table, 5),
    FL_CASE(test_mp_spawn_main_returns_in_a_process_not_spawned, 5),
    FL_CASE(test_mp_spawn_main_runs_the_named_target_and_exits, 5),
    FL_CASE(test_mp_spawn_main_exits_127_for_an_unknown_name, 5),
    FL_CASE(test_mp_start_rejects_an_unregistered_name, 5),
    FL_CASE(test_mp_start_rejects_invalid_arguments, 5),
    FL_CASE(test_mp_start_fork_child_sees_a_global_set_before_start, 5),
    FL_CASE(test_mp_start_fork_child_deadlocks_on_a_mutex_held_at_fork, 5),
    FL_CASE(test_mp_start_spawn_child_misses_a_global_set_before_start, 5),
    FL_CASE(test_mp_start_spawn_child_exits_with_the_targets_value, 5),
    FL_CASE(test_mp_start_spawn_closes_fds_not_passed, 5),
    FL_CASE(test_mp_start_spawn_keeps_the_fds_passed, 5),
    FL_CASE(test_mp_start_spawn_child_is_not_deadlocked_by_a_held_mutex, 8),
    FL_CASE(test_mp_start_spawn_child_misses_targets_registered_late, 5),
    FL_CASE(test_mp_forkserver_start_starts_one_server, 5),
    FL_CASE(test_mp_start_forkserver_child_parent_is_the_server, 5),
    FL_CASE(test_mp_start_forkserver_child_misses_a_global_set_before_start, 5),
    FL_CASE(test_mp_join_gives_pythons_exit_codes_under_forkserver, 5),
    FL_CASE(test_mp_join_times_out_under_forkserver, 5),
    FL_CASE(test_mp_forkserver_stop_reaps_children_never_joined, 5),
    FL_CASE(test_mp_forkserver_stop_ends_the_server_while_a_fork_child_runs, 5),
    FL_CASE(test_mp_forkserver_ends_when_its_caller_is_gone, 5),
    FL_CASE(test_mp_join_gives_pythons_exit_codes, 5),
    FL_CASE(test_mp_join_times_out_while_the_child_runs, 5),
    FL_CASE(test_mp_join_rejects_a_process_that_is_not_a_child, 5),
    FL_CASE(test_mp_join_keeps_its_deadline_under_a_signal_storm, 5),
    FL_CASE(test_mp_join_waits_for_ever_under_a_signal_storm, 5),
    FL_CASE(test_mp_join_keeps_its_deadline_after_a_late_signal, 5),
    FL_CASE(test_mp_join_keeps_its_deadline_when_the_wall_clock_jumps, 5),
    FL_CASE(test_mp_join_under_forkserver_waits_for_ever_under_a_signal_storm,
            5),
    FL_CASE(test_mp_start_forkserver_reports_a_server_that_is_gone, 5),
    FL_CASE(test_mp_start_forkserver_reports_a_fork_failing_in_the_server, 5),
    FL_CASE(test_mp_join_under_forkserver_reports_a_server_killed_in_the_wait,
            5),
    FL_CASE(test_mp_forkserver_stop_forgets_a_server_reaped_elsewhere, 5),
    FL_CASE(test_mp_start_forkserver_takes_short_transfers, 5),
    FL_CASE(test_mp_start_leaks_nothing_when_a_call_fails, 5),
    FL_CASE(test_mp_start_child_holds_no_descriptor_it_was_not_given, 5),
    FL_CASE(test_mp_start_takes_the_longest_name_and_argument, 5),
    FL_CASE(test_mp_start_fork_flushes_every_stream, 5),
    FL_CASE(test_mp_start_spawned_and_served_children_flush_their_output, 5),
    FL_CASE(test_mp_start_flushes_the_callers_output_before_any_child, 5),
    FL_CASE(test_mp_start_spawn_treats_descriptor_3_as_any_other, 5),
    FL_CASE(test_mp_forkserver_start_opens_its_socket_close_on_exec, 5),
    FL_CASE(test_mp_start_spawn_child_inherits_the_environment, 5),
    FL_CASE(test_mp_start_spawn_frees_its_file_actions, 5),
    FL_CASE(test_mp_start_and_mp_join_report_that_no_descriptor_is_free, 5),
};

FL_MAIN_INIT("03_start_methods", cases, init)
