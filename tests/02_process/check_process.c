// check_process.c - tests for lesson 02: the mp_process object.
//
// Each function is judged alone where it can be.  Tests of
// mp_process_start reap the child with the raw waitpid.  Tests of join,
// is_alive and the exit code "adopt" a child started with the raw fork:
// they fill in a process object by hand, as process.h documents its
// fields, so that a broken start cannot cost join its points.  The
// terminate-then-join and kill-then-join tests run the whole story, as
// Python's examples do.
#define _GNU_SOURCE
#include "process.h"
#include "harness.h"
#include "stress.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
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

/* ------------------------------------------------------------- helpers */

// What a failed raw waitpid means here.
static const char raw_wait_hint[] =
    "the process object's pid must be the pid of a child of the caller";

static int
return_zero(void *arg)
{
    (void)arg;
    return 0;
}

static int
return_code(void *arg)
{
    return *(int *)arg;
}

// A child that dies of a real segfault (and leaves no core file).
static int
segfault(void *arg)
{
    (void)arg;
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    volatile int *volatile bad = NULL; // or the store is dropped
    *bad = 1;
    return 0;
}

// A child that ends by a signal it cannot catch: exit code -SIGKILL.
static int
kill_self(void *arg)
{
    (void)arg;
    raise(SIGKILL);
    return 0;
}

// A child that works for a while (200 ms) and exits with 5.
static int
work_a_while(void *arg)
{
    (void)arg;
    poll(NULL, 0, 200);
    return 5;
}

// Fill in p by hand as a started process whose child is pid (0: a process
// that was never started), as process.h documents the fields.
static void
adopt(mp_process *p, pid_t pid)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "Adopted-%d", (int)pid);
    p->pid = pid;
    p->exitcode = MP_EXITCODE_NONE;
}

static void
init_or_fail(mp_process *p, mp_target target, void *arg, const char *name)
{
    int r = mp_process_init(p, target, arg, name);
    ck_assert_msg(r == 0, "mp_process_init returned %s, expected 0", fl_ret(r));
}

static void
start_or_fail(mp_process *p)
{
    pid_t me = getpid();
    int r = mp_process_start(p);
    if (getpid() != me) // a child came back: exit() tells the harness
        exit(FL_EXIT_STRAY);
    ck_assert_msg(r == 0,
                  "mp_process_start returned %s, expected 0 in the parent",
                  fl_ret(r));
}

static const char *
code_str(int code)
{
    static char buf[4][48];
    static int next;
    char *b = buf[next++ % 4];
    if (code == MP_EXITCODE_NONE)
        snprintf(b, sizeof buf[0], "MP_EXITCODE_NONE");
    else
        snprintf(b, sizeof buf[0], "%d", code);
    return b;
}

// Fail unless the exit code is want, saying what it was.
#define expect_code(p, want, what, hint)                                       \
    do {                                                                       \
        int c_ = mp_process_exitcode(p);                                       \
        ck_assert_msg(c_ == (want), "%s: expected exit code %s, got %s. %s",   \
                      (what), code_str(want), code_str(c_), (hint));           \
    } while (0)

// The child ended as raw status st: in words, for a message.
static const char *
ended(int st)
{
    static char buf[96];
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exited with status %d%s", WEXITSTATUS(st),
                 WEXITSTATUS(st) == FL_EXIT_STRAY ? " (it came back into "
                                                    "the test)"
                                                  : "");
    else
        snprintf(buf, sizeof buf, "was killed by %s", fl_signame(WTERMSIG(st)));
    return buf;
}

/* -------------------------------------------------------------- names */

FL_TEST(test_mp_process_init_names_processes_from_1)
{
    mp_process p[3];
    char want[16];
    for (int i = 0; i < 3; i++) {
        init_or_fail(&p[i], return_zero, NULL, NULL);
        snprintf(want, sizeof want, "Process-%d", i + 1);
        ck_assert_msg(strcmp(mp_process_name(&p[i]), want) == 0,
                      "process object number %d is named \"%s\", expected "
                      "\"%s\". Python counts from 1: take the counter's "
                      "next value (++counter), not its current one.",
                      i + 1, mp_process_name(&p[i]), want);
    }
    // Python's counter has no end: a counter in a char or a short wraps
    // back to 0 after 255 or 65535 objects.
    mp_process q;
    int failed = 0; // (one check at the end: each ck_assert costs a write)
    for (int i = 4; i <= 65537; i++)
        failed |= mp_process_init(&q, return_zero, NULL, NULL) != 0;
    ck_assert_msg(!failed, "mp_process_init failed within 65537 objects");
    ck_assert_msg(strcmp(mp_process_name(&q), "Process-65537") == 0,
                  "process object number 65537 is named \"%s\", expected "
                  "\"Process-65537\": keep the counter in an unsigned int, "
                  "not a type that wraps after 255 or 65535 objects",
                  mp_process_name(&q));
}

struct my_process {
    mp_process base; // first: a pointer to it is a pointer to the whole
    int rounds;
};

static int
my_run(mp_process *self)
{
    struct my_process *me = (struct my_process *)self;
    return me->rounds * 2;
}

FL_TEST(test_mp_process_init_subclass_names_after_the_class)
{
    struct my_process w[5];
    char want[16];
    for (int i = 0; i < 5; i++) {
        int r = mp_process_init_subclass(&w[i].base, "MyProcess", my_run, NULL);
        ck_assert_msg(r == 0,
                      "mp_process_init_subclass returned %s, expected 0",
                      fl_ret(r));
        snprintf(want, sizeof want, "MyProcess-%d", i + 1);
        ck_assert_msg(strcmp(mp_process_name(&w[i].base), want) == 0,
                      "the subclass's process number %d is named \"%s\", "
                      "expected \"%s\": the default name is the class name, "
                      "a dash, and the counter's next value (from 1)",
                      i + 1, mp_process_name(&w[i].base), want);
    }
    mp_process p;
    init_or_fail(&p, return_zero, NULL, NULL);
    ck_assert_msg(strcmp(mp_process_name(&p), "Process-6") == 0,
                  "after five MyProcess objects, a plain one is named "
                  "\"%s\", expected \"Process-6\": Python has one counter "
                  "for every class, not one per class",
                  mp_process_name(&p));
}

FL_TEST(test_mp_process_init_keeps_a_given_name)
{
    // A name is text, not a format: "%%" in it stays two characters (and
    // read as a format, the name would come out "load 100%, 50%s").
    static const char *const names[] = {"fetcher", "load 100%%, 50%%s"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        mp_process p;
        int r = mp_process_init(&p, return_zero, NULL, names[i]);
        ck_assert_msg(r == 0 && strcmp(mp_process_name(&p), names[i]) == 0,
                      "mp_process_init with the name \"%s\" returned %s, "
                      "name \"%s\"; expected 0 and the name as given. Copy "
                      "it with snprintf(p->name, size, \"%%s\", name): the "
                      "name itself is no format, a '%%' in it is text.",
                      names[i], fl_ret(r), r == 0 ? mp_process_name(&p) : "");
    }
    // An empty name fits: snprintf returns 0 for it, which is no error.
    // Python gives such a process its default name; keeping "" is fine too.
    mp_process p;
    int r = mp_process_init(&p, return_zero, NULL, "");
    const char *got = r == 0 ? mp_process_name(&p) : "";
    ck_assert_msg(r == 0 &&
                      (got[0] == '\0' || strncmp(got, "Process-", 8) == 0),
                  "mp_process_init with the name \"\" returned %s, name "
                  "\"%s\"; expected 0 and the name \"\" (or the default "
                  "name). An empty name fits in MP_NAME_MAX: snprintf "
                  "returns 0 for it, and only a negative result or one of "
                  "MP_NAME_MAX or more is an error.",
                  fl_ret(r), got);
}

FL_TEST(test_mp_process_init_numbers_named_processes_too)
{
    mp_process p[3];
    init_or_fail(&p[0], return_zero, NULL, NULL);
    init_or_fail(&p[1], return_zero, NULL, "fetcher");
    init_or_fail(&p[2], return_zero, NULL, NULL);
    ck_assert_msg(strcmp(mp_process_name(&p[2]), "Process-3") == 0,
                  "after \"%s\" and a process named \"fetcher\", the next "
                  "process object is named \"%s\", expected \"Process-3\". "
                  "Python numbers every process object, named or not: take "
                  "the counter's next value even when a name is given.",
                  mp_process_name(&p[0]), mp_process_name(&p[2]));
}

FL_TEST(test_mp_process_init_rejects_a_name_too_long)
{
    char longest[MP_NAME_MAX], too_long[MP_NAME_MAX + 1];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    memset(too_long, 'b', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    mp_process p;
    memset(&p, 0xa5, sizeof p); // no NUL left over to end a short copy
    int r = mp_process_init(&p, return_zero, NULL, longest);
    ck_assert_msg(r == 0 && memchr(p.name, '\0', sizeof p.name) != NULL &&
                      strcmp(mp_process_name(&p), longest) == 0,
                  "a name of %d characters fits in MP_NAME_MAX (%d) bytes "
                  "with its NUL, yet mp_process_init returned %s%s",
                  MP_NAME_MAX - 1, MP_NAME_MAX, fl_ret(r),
                  r == 0 ? " and a name not ended by a NUL in its "
                           "MP_NAME_MAX bytes (strncpy of the longest name "
                           "copies no NUL: use snprintf)"
                         : "");
    r = mp_process_init(&p, return_zero, NULL, too_long);
    fl_expect_int(r, -ENAMETOOLONG,
                  "mp_process_init with a name of MP_NAME_MAX characters",
                  "The name and its NUL do not fit in p->name: snprintf "
                  "returns the length it needed, compare it with the size");
}

static int
my_noop_run(mp_process *self)
{
    (void)self;
    return 0;
}

FL_TEST(test_mp_process_init_rejects_a_missing_function)
{
    mp_process p;
    int no_target = mp_process_init(&p, NULL, NULL, NULL);
    int no_run = mp_process_init_subclass(&p, "MyProcess", NULL, NULL);
    int no_cls = mp_process_init_subclass(&p, NULL, my_noop_run, NULL);
    int no_p = mp_process_init(NULL, return_zero, NULL, NULL);
    ck_assert_msg(no_target == -EINVAL && no_run == -EINVAL &&
                      no_cls == -EINVAL && no_p == -EINVAL,
                  "expected -EINVAL for a NULL target (got %s), a NULL run "
                  "(got %s), a NULL class name (got %s) and a NULL process "
                  "(got %s): a child that calls a NULL function dies of "
                  "SIGSEGV, so refuse it before anything else",
                  fl_ret(no_target), fl_ret(no_run), fl_ret(no_cls),
                  fl_ret(no_p));
    // Refused, none of them made an object: none took a number.
    init_or_fail(&p, return_zero, NULL, NULL);
    ck_assert_msg(strcmp(mp_process_name(&p), "Process-1") == 0,
                  "after four refused calls, the first process object set "
                  "up is named \"%s\", expected \"Process-1\": a refused "
                  "call makes no object and takes no number. Check the "
                  "arguments before the counter moves on.",
                  mp_process_name(&p));
}

FL_TEST(test_mp_process_init_leaves_the_exit_code_unknown)
{
    mp_process p;
    memset(&p, 0, sizeof p); // what a static or calloc'd object holds
    init_or_fail(&p, return_zero, NULL, NULL);
    expect_code(&p, MP_EXITCODE_NONE, "a process object just set up",
                "An exit code of 0 says \"exited with status 0\": set it "
                "to MP_EXITCODE_NONE, Python's None");
    fl_expect_int(mp_process_pid(&p), 0, "the pid of a process not started",
                  "Set p->pid to 0 until start.");
    // What a stack object holds, or one used before: every field is init's.
    memset(&p, 0xa5, sizeof p);
    init_or_fail(&p, return_zero, NULL, NULL);
    expect_code(&p, MP_EXITCODE_NONE,
                "a process object set up in memory that held garbage",
                "Set every field, the exit code to MP_EXITCODE_NONE: a "
                "stack variable holds whatever was there before.");
    fl_expect_int(mp_process_pid(&p), 0,
                  "the pid of a process not started, set up in memory that "
                  "held garbage",
                  "Set p->pid to 0 in init: a stack variable (or an object "
                  "used before) holds whatever was there, and start takes "
                  "a pid that is not 0 for a process started before.");
}

FL_TEST(test_mp_process_calls_reject_a_null_process)
{
    const char *names[] = {"run",      "start",     "join",
                           "is_alive", "terminate", "kill"};
    int got[] = {mp_process_run(NULL),       mp_process_start(NULL),
                 mp_process_join(NULL, 0),   mp_process_is_alive(NULL),
                 mp_process_terminate(NULL), mp_process_kill(NULL)};
    for (size_t i = 0; i < sizeof got / sizeof got[0]; i++)
        ck_assert_msg(got[i] == -EINVAL,
                      "mp_process_%s(NULL) returned %s, expected -22 "
                      "(-EINVAL): check p before using it",
                      names[i], fl_ret(got[i]));
}

/* ----------------------------------------------------------------- run */

struct probe {
    pid_t ran_in; // the pid of the process the target ran in
};

static int
record_pid(void *arg)
{
    ((struct probe *)arg)->ran_in = getpid();
    return 5;
}

// In a raw child: 0 if mp_process_run refuses an object with no target.
static int
run_without_target(void *arg)
{
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none); // a crash leaves no core file
    return mp_process_run(arg) == -EINVAL ? 0 : 1;
}

FL_TEST(test_mp_process_run_calls_the_target_in_the_caller)
{
    struct probe seen = {0};
    mp_process p;
    init_or_fail(&p, record_pid, &seen, NULL);
    int r = mp_process_run(&p);
    ck_assert_msg(r == 5 && seen.ran_in == getpid(),
                  "mp_process_run returned %s, and the target ran in pid "
                  "%d; expected 5 from a target run in the caller (%d). "
                  "run() is the method, not start(): it calls "
                  "target(arg) where it is called.",
                  fl_ret(r), (int)seen.ran_in, (int)getpid());
    fl_expect_int(mp_process_pid(&p), 0, "the pid after run() alone",
                  "run() starts no process.");
    // A subclass may keep mp_process_run as its run with no target: run
    // must refuse it, in a child, where a crash costs nothing.
    mp_process bare;
    adopt(&bare, 0);
    int st = fl_raw_wait(fl_raw_start(run_without_target, &bare), "");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "mp_process_run of a process object with no target %s; "
                  "expected -EINVAL (-22). Check self->target for NULL "
                  "before calling it.",
                  WIFEXITED(st) && WEXITSTATUS(st) == 1
                      ? "returned something else"
                      : ended(st));
    // The same subclass set up by init_subclass, in memory that held
    // garbage (a stack variable's): init must leave it with no target.
    memset(&bare, 0xa5, sizeof bare);
    r = mp_process_init_subclass(&bare, "Bare", mp_process_run, NULL);
    ck_assert_msg(r == 0, "mp_process_init_subclass returned %s, expected 0",
                  fl_ret(r));
    st = fl_raw_wait(fl_raw_start(run_without_target, &bare), "");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "a process object set up by mp_process_init_subclass with "
                  "mp_process_run as its run, in memory that held garbage: "
                  "mp_process_run of it %s; expected -EINVAL (-22). "
                  "init_subclass must set the target to NULL (and arg): a "
                  "stack variable holds whatever was there before.",
                  WIFEXITED(st) && WEXITSTATUS(st) == 1
                      ? "returned something else"
                      : ended(st));
}

/* --------------------------------------------------------------- start */

struct ids {
    pid_t self, parent;
};

static int
report_ids(void *arg)
{
    int fd = *(int *)arg;
    struct ids me = {getpid(), getppid()};
    return write(fd, &me, sizeof me) == (ssize_t)sizeof me ? 0 : 1;
}

FL_TEST(test_mp_process_start_runs_the_target_in_a_child)
{
    int fds[2];
    ck_assert_msg(pipe(fds) == 0, "pipe failed");
    mp_process p;
    init_or_fail(&p, report_ids, &fds[1], NULL);
    start_or_fail(&p);
    close(fds[1]);
    struct ids seen = {0, 0};
    ssize_t n = read(fds[0], &seen, sizeof seen);
    close(fds[0]);
    pid_t pid = mp_process_pid(&p);
    int st = fl_raw_wait(pid, raw_wait_hint);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "the child %s; expected it to exit with 0, the value its "
                  "target returned",
                  ended(st));
    ck_assert_msg(n == (ssize_t)sizeof seen,
                  "the child never ran the target (read %zd bytes): does "
                  "the child call p->run(p)?",
                  n);
    ck_assert_msg(seen.self == pid && seen.parent == getpid(),
                  "the target ran in pid %d (parent %d); expected the "
                  "child's pid %d, kept in p->pid, with the caller %d as "
                  "its parent",
                  (int)seen.self, (int)seen.parent, (int)pid, (int)getpid());
}

FL_TEST(test_mp_process_start_child_ends_with_the_run_value)
{
    // Only the low 8 bits survive: 456 exits with 200 (not 72, its low 7
    // bits, nor 255), -1 with 255 (not 1), as os._exit gives them.
    static int values[] = {3, 456, -1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        int v = values[i], want = v & 0xff;
        mp_process p;
        init_or_fail(&p, return_code, &values[i], NULL);
        start_or_fail(&p);
        int st = fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
        int got = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        ck_assert_msg(
            got == want,
            "the child %s; expected it to exit with %d, its run's value "
            "%d as _exit keeps it. %s",
            ended(st), want, v,
            got == (v & 0x7f)
                ? "Only its low 7 bits survived: an exit status goes up to "
                  "255, and _exit keeps the low 8 bits by itself. Pass the "
                  "value as it is."
            : v < 0 && got == (-v & 0xff)
                ? "The negative value was made positive: _exit(-1) exits "
                  "with 255, as os._exit(-1) does. Pass it as it is."
                : "The child must end with _exit(p->run(p)), the value as "
                  "it is: a child that returns from mp_process_start runs "
                  "the caller's code a second time.");
    }
}

FL_TEST(test_mp_process_start_calls_the_subclass_run)
{
    struct my_process w;
    int r = mp_process_init_subclass(&w.base, "MyProcess", my_run, NULL);
    ck_assert_msg(r == 0, "mp_process_init_subclass returned %s, expected 0",
                  fl_ret(r));
    w.rounds = 21; // my_run returns rounds * 2
    start_or_fail(&w.base);
    int st = fl_raw_wait(mp_process_pid(&w.base), raw_wait_hint);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 42,
                  "the child %s; expected exit status 42 from the "
                  "subclass's run, which reads a field of the whole "
                  "struct. The child must call p->run(p), not the "
                  "target.",
                  ended(st));
}

FL_TEST(test_mp_process_start_rejects_a_second_start)
{
    fl_gate g;
    fl_gate_new(&g, 0, -1);
    mp_process p;
    init_or_fail(&p, fl_gate_child, &g, NULL);
    start_or_fail(&p);
    pid_t first = mp_process_pid(&p);
    int again = mp_process_start(&p);
    pid_t now = mp_process_pid(&p);
    fl_gate_free(&g);
    fl_raw_wait(now, raw_wait_hint);
    int extra = waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD;
    if (extra)
        fl_kill_children();
    ck_assert_msg(again == -EALREADY && !extra && now == first,
                  "a second mp_process_start returned %s, expected "
                  "-EALREADY%s%s. A process starts once: check p->pid "
                  "before forking.",
                  fl_ret(again), extra ? "; it forked a second child" : "",
                  now != first ? " and lost the first child's pid" : "");
    // Ended and reaped, as a join leaves it: its exit code is known.
    p.exitcode = 0;
    again = mp_process_start(&p);
    now = mp_process_pid(&p);
    extra = waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD;
    if (extra)
        fl_kill_children();
    ck_assert_msg(again == -EALREADY && !extra && now == first,
                  "mp_process_start of a process that had ended and been "
                  "joined returned %s, expected -EALREADY%s. Python's "
                  "start() refuses any process started before, ended or "
                  "not: check p->pid, not the exit code.",
                  fl_ret(again), extra ? "; it forked a second child" : "");
}

static int
print_child(void *arg)
{
    (void)arg;
    printf("child|");
    return 0;
}

// Prints around a start while stdout is a pipe, so fully buffered.
static int
print_around_start(void *arg)
{
    (void)arg;
    mp_process p;
    printf("before|");
    int r = mp_process_init(&p, print_child, NULL, NULL);
    if (r == 0)
        r = mp_process_start(&p);
    if (r == 0)
        fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
    printf("parent|");
    return r;
}

FL_TEST(test_mp_process_start_prints_buffered_output_once)
{
    fl_child r;
    fl_run_in_child(print_around_start, NULL, 3000, 1, &r);
    ck_assert_msg(r.returned && r.value == 0,
                  "in a process whose stdout is a pipe, mp_process_init "
                  "and mp_process_start gave %s, expected 0",
                  r.returned ? fl_ret(r.value) : "no answer (it died)");
    ck_assert_msg(fl_count_of(r.out, "before|") == 1,
                  "printf(\"before|\") ran once before the start, yet the "
                  "output was \"%s\": stdio's buffer was copied into the "
                  "child and flushed twice. Call fflush(NULL) before "
                  "fork().",
                  r.out);
}

FL_TEST(test_mp_process_start_keeps_the_childs_output)
{
    fl_child r;
    fl_run_in_child(print_around_start, NULL, 3000, 1, &r);
    ck_assert_msg(r.returned && r.value == 0,
                  "in a process whose stdout is a pipe, mp_process_init "
                  "and mp_process_start gave %s, expected 0",
                  r.returned ? fl_ret(r.value) : "no answer (it died)");
    ck_assert_msg(fl_count_of(r.out, "child|") == 1,
                  "the child printed \"child|\" once, but the output was "
                  "\"%s\": _exit() does not flush stdio, so the child must "
                  "fflush() what run printed before calling _exit().",
                  r.out);
}

static int
report_current_name(void *arg)
{
    int fd = *(int *)arg;
    const char *name = mp_process_name(mp_current_process());
    size_t len = strlen(name);
    return write(fd, name, len) == (ssize_t)len ? 0 : 1;
}

FL_TEST(test_mp_process_start_makes_the_child_its_own_current_process)
{
    int fds[2];
    ck_assert_msg(pipe(fds) == 0, "pipe failed");
    mp_process p;
    init_or_fail(&p, report_current_name, &fds[1], "Sentry");
    start_or_fail(&p);
    close(fds[1]);
    char seen[MP_NAME_MAX + 1];
    fl_read_text(fds[0], seen, sizeof seen);
    close(fds[0]);
    int st = fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
    ck_assert_msg(WIFEXITED(st), "the child %s while it asked for its own name",
                  ended(st));
    ck_assert_msg(strcmp(seen, "Sentry") == 0,
                  "in the child, mp_process_name(mp_current_process()) is "
                  "\"%s\", expected \"Sentry\": in the child, before run, "
                  "make p the current process (current = p).",
                  seen);
    const char *here = mp_process_name(mp_current_process());
    ck_assert_msg(strcmp(here, "MainProcess") == 0,
                  "in the parent, the current process is \"%s\" after a "
                  "start, expected \"MainProcess\": only the child's "
                  "current process changes",
                  here);
    expect_code(mp_current_process(), MP_EXITCODE_NONE,
                "the main program's own process object",
                "The main process has not ended: Python's "
                "current_process().exitcode is None there (main_process "
                "is given code: keep its MP_EXITCODE_NONE).");
}

struct own_pid {
    pid_t kept, real; // mp_process_pid(current), getpid(), in the child
};

static int
report_current_pid(void *arg)
{
    int fd = *(int *)arg;
    struct own_pid me = {mp_process_pid(mp_current_process()), getpid()};
    return write(fd, &me, sizeof me) == (ssize_t)sizeof me ? 0 : 1;
}

FL_TEST(test_mp_process_start_child_knows_its_own_pid)
{
    int fds[2];
    ck_assert_msg(pipe(fds) == 0, "pipe failed");
    mp_process p;
    init_or_fail(&p, report_current_pid, &fds[1], NULL);
    start_or_fail(&p);
    close(fds[1]);
    struct own_pid seen = {-1, -1};
    ssize_t n = read(fds[0], &seen, sizeof seen);
    close(fds[0]);
    int st = fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
    ck_assert_msg(WIFEXITED(st) && n == (ssize_t)sizeof seen,
                  "the child %s before it told its pid", ended(st));
    ck_assert_msg(seen.kept == seen.real,
                  "in the child, mp_process_pid(mp_current_process()) is "
                  "%d but getpid() is %d: Python's current_process().pid "
                  "is the child's own pid. The child's copy of p never got "
                  "the pid, which fork() gave the parent only: in the "
                  "child, set p->pid = getpid().",
                  (int)seen.kept, (int)seen.real);
}

static int
report_new_name(void *arg)
{
    int fd = *(int *)arg;
    mp_process q;
    char msg[MP_NAME_MAX + 32];
    int r = mp_process_init(&q, return_zero, NULL, NULL);
    if (r == 0)
        snprintf(msg, sizeof msg, "%s", mp_process_name(&q));
    else
        snprintf(msg, sizeof msg, "(mp_process_init returned %d)", r);
    size_t len = strlen(msg);
    return write(fd, msg, len) == (ssize_t)len ? 0 : 1;
}

FL_TEST(test_mp_process_start_restarts_numbering_in_the_child)
{
    int fds[2];
    ck_assert_msg(pipe(fds) == 0, "pipe failed");
    mp_process first, second;
    init_or_fail(&first, return_zero, NULL, NULL);
    init_or_fail(&second, report_new_name, &fds[1], NULL);
    start_or_fail(&second);
    close(fds[1]);
    char seen[MP_NAME_MAX + 32];
    fl_read_text(fds[0], seen, sizeof seen);
    close(fds[0]);
    fl_raw_wait(mp_process_pid(&second), raw_wait_hint);
    ck_assert_msg(strcmp(seen, "Process-2:1") == 0,
                  "the first process object made by the child Process-2 is "
                  "named \"%s\", expected \"Process-2:1\". The counter "
                  "belongs to the process that makes the objects: in the "
                  "child, set it back to 0 and make p the current process, "
                  "whose identity (\"2\") comes first.",
                  seen);
    mp_process third;
    init_or_fail(&third, return_zero, NULL, NULL);
    ck_assert_msg(strcmp(mp_process_name(&third), "Process-3") == 0,
                  "after starting Process-2, the parent's next process "
                  "object is named \"%s\", expected \"Process-3\": set the "
                  "counter back to 0 in the child only (after fork, where "
                  "pid is 0), never in the parent",
                  mp_process_name(&third));
}

/* ---------------------------------------------------------------- join */

FL_TEST(test_mp_process_join_gives_the_exit_status)
{
    // Each with a timeout of its own; the last once the child has ended,
    // with 0, which does not wait but still looks.
    static int codes[] = {0, 3, 255}, timeouts[] = {-1, 10000, 0};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        mp_process p;
        adopt(&p, fl_raw_start(return_code, &codes[i]));
        if (timeouts[i] == 0)
            fl_until_ended(mp_process_pid(&p));
        int r = mp_process_join(&p, timeouts[i]);
        if (r != 0)
            fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
        char what[96];
        snprintf(what, sizeof what, "mp_process_join(p, %d) of a child that %s",
                 timeouts[i], timeouts[i] ? "exits" : "had exited");
        fl_expect_int(r, 0, what,
                      timeouts[i] == 0 && r == -ETIMEDOUT
                          ? "A timeout of 0 does not wait, but it still "
                            "looks: poll the pidfd with 0, and reap the "
                            "child if it has ended."
                          : "Join returns 0 once the child has ended; the "
                            "exit code is read with mp_process_exitcode.");
        ck_assert_msg(mp_process_exitcode(&p) == codes[i],
                      "the child exited with %d, but the exit code is %s: "
                      "keep WEXITSTATUS(status) in p->exitcode",
                      codes[i], code_str(mp_process_exitcode(&p)));
    }
}

FL_TEST(test_mp_process_join_gives_minus_the_signal_of_a_crash)
{
    mp_process p;
    adopt(&p, fl_raw_start(segfault, NULL));
    int r = mp_process_join(&p, -1);
    if (r != 0)
        fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
    fl_expect_int(r, 0, "mp_process_join(p, -1) of a child that crashed",
                  "A crash is an end like any other.");
    expect_code(&p, -SIGSEGV, "a child killed by SIGSEGV",
                "Python's exitcode is minus the signal: when WIFSIGNALED, "
                "keep -WTERMSIG(status); WEXITSTATUS means nothing then.");
}

FL_TEST(test_mp_process_join_waits_for_the_end)
{
    mp_process p;
    pid_t pid = fl_raw_start(work_a_while, NULL); // 200 ms, then exits 5
    adopt(&p, pid);
    int r = mp_process_join(&p, -1);
    int alive = fl_alive(pid), zombie = fl_zombie(pid);
    if (alive || zombie)
        fl_raw_wait(pid, raw_wait_hint);
    ck_assert_msg(r == 0 && !alive && !zombie,
                  "mp_process_join(p, -1) returned %s while the child was "
                  "%s; expected 0 once it had ended and been reaped. A "
                  "timeout of -1 waits for ever (poll's -1 does).",
                  fl_ret(r),
                  alive    ? "still running"
                  : zombie ? "a zombie"
                           : "gone");
    expect_code(&p, 5, "after mp_process_join(p, -1)",
                "Keep the decoded status in p->exitcode.");
}

FL_TEST(test_mp_process_join_times_out_while_the_child_runs)
{
    fl_gate g;
    fl_gate_new(&g, 4, 3000); // the child gives up waiting after 3 s
    pid_t pid = fl_raw_start(fl_gate_child, &g);
    close(g.fd[0]);
    g.fd[0] = -1;
    mp_process p;
    adopt(&p, pid);
    long t0 = fl_now_ms();
    int r = mp_process_join(&p, 200);
    long took = fl_now_ms() - t0;
    int alive = fl_alive(pid);
    int code = mp_process_exitcode(&p);
    fl_gate_free(&g); // let the child go
    int last = r == -ETIMEDOUT ? mp_process_join(&p, -1) : 0;
    if (fl_alive(pid) || fl_zombie(pid))
        fl_raw_wait(pid, raw_wait_hint);
    ck_assert_msg(r == -ETIMEDOUT && took >= 150 && took < 2500,
                  "mp_process_join(p, 200) while the child runs: expected "
                  "-ETIMEDOUT after about 200 ms, got %s after %ld ms. %s",
                  fl_ret(r), took,
                  took >= 2500      ? "It waited for the child to end: a "
                                      "blocking waitpid ignores the timeout; "
                                      "poll a pidfd with it instead."
                  : r == -ETIMEDOUT ? "It did not wait: poll the pidfd "
                                      "with the timeout."
                  : r == 0          ? "Return -ETIMEDOUT when poll returns 0."
                                    : "");
    ck_assert_msg(alive && code == MP_EXITCODE_NONE,
                  "after a join that timed out the child is %s and the "
                  "exit code is %s; expected it running and "
                  "MP_EXITCODE_NONE",
                  alive ? "running" : "gone", code_str(code));
    fl_expect_int(last, 0,
                  "mp_process_join(p, -1) after a join timed out and the "
                  "child was let go",
                  "A timeout leaves the process as it was: joinable.");
    expect_code(&p, 4, "after the child was let go and joined",
                "join(p, -1) after a timeout must reap the child.");
}

FL_TEST(test_mp_process_join_again_gives_the_same_exit_code)
{
    // Exit codes 3, 0 and -15: each is a known code, not only a positive one.
    static const int how[3][2] = {{3, 0}, {0, 0}, {0, SIGTERM}};
    for (int i = 0; i < 3; i++) {
        int want = how[i][1] ? -how[i][1] : how[i][0];
        mp_process p;
        adopt(&p, fl_raw_child(how[i][0], how[i][1]));
        int first = mp_process_join(&p, -1);
        if (first != 0)
            fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
        int second = mp_process_join(&p, -1);
        int third = mp_process_join(&p, 0);
        ck_assert_msg(first == 0 && second == 0 && third == 0,
                      "joining a process that ended with exit code %d three "
                      "times gave %s, %s and %s; expected 0 each time. Once "
                      "reaped, the child is gone (a second waitpid fails "
                      "with ECHILD): when the exit code is known (anything "
                      "but MP_EXITCODE_NONE), return 0 at once.",
                      want, fl_ret(first), fl_ret(second), fl_ret(third));
        expect_code(&p, want, "after three joins", "Keep the exit code.");
    }
}

FL_TEST(test_mp_process_join_rejects_a_process_not_started)
{
    static int four = 4;
    pid_t other = fl_raw_start(return_code, &four);
    fl_until_ended(other); // it has ended: a wrong wait would reap it
    mp_process p;
    adopt(&p, 0);
    int r = mp_process_join(&p, -1);
    int reaped = !fl_zombie(other);
    if (!reaped)
        fl_raw_wait(other, raw_wait_hint);
    ck_assert_msg(r == -EINVAL && !reaped,
                  "mp_process_join of a process never started returned %s, "
                  "expected -EINVAL%s. Its pid is 0, and to waitpid 0 "
                  "means any child in the group: check before waiting.",
                  fl_ret(r), reaped ? ", and another child was reaped" : "");
}

// A child that lives for 50 ticks (at least 50 ms), then exits with 7.
static int
ticking_child(void *arg)
{
    (void)arg;
    char c;
    close(fl_ticks_write_fd()); // so that the clock's EOF can reach us
    for (int got = 0; got < 50;) {
        ssize_t r = read(fl_ticks_fd(), &c, 1);
        if (r == 0)
            break; // the test is over and closed the clock
        got += r == 1;
    }
    return 7;
}

FL_TEST(test_mp_process_join_retries_when_a_signal_interrupts)
{
    fl_ticks_start();
    mp_process p;
    adopt(&p, fl_raw_start(ticking_child, NULL));
    int r = mp_process_join(&p, 10000);
    fl_ticks_stop();
    if (r != 0)
        fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
    fl_expect_int(r, 0, "mp_process_join(p, 10000) while signals keep arriving",
                  r == -EINTR ? "poll failed with EINTR because a signal "
                                "handler ran (this test keeps a timer "
                                "ticking): poll again, for the time left."
                              : "");
    expect_code(&p, 7, "after the join", "");
}

// How many descriptors this process has open.
static int
open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_msg(d != NULL, "cannot read /proc/self/fd");
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

FL_TEST(test_mp_process_join_leaves_nothing_behind)
{
    enum { N = 3 };
    fl_gate g;
    fl_gate_new(&g, 0, 3000); // the children give up waiting after 3 s
    mp_process *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = malloc(sizeof *p[i]);
        ck_assert_msg(p[i] != NULL, "malloc failed");
        adopt(p[i], fl_raw_start(fl_gate_child, &g));
    }
    int before = open_fds(), peeks[N], joins[N];
    long closes[2][N]; // close() calls of each join: the pidfd's, once
    for (int i = 0; i < N; i++) {
        fl_fault_reset();
        peeks[i] = mp_process_join(p[i], 0); // still running: times out
        closes[0][i] = fl_fault_calls("close");
    }
    fl_gate_free(&g);
    for (int i = 0; i < N; i++) {
        fl_fault_reset();
        joins[i] = mp_process_join(p[i], -1);
        closes[1][i] = fl_fault_calls("close");
        if (joins[i] != 0)
            fl_raw_wait(mp_process_pid(p[i]), raw_wait_hint);
        free(p[i]); // freed after join: nothing may be left
    }
    int after = open_fds() + 2; // fl_gate_free closed two of ours
    int zombies = waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD;
    if (zombies)
        fl_kill_children();
    for (int i = 0; i < N; i++) {
        fl_expect_int(peeks[i], -ETIMEDOUT,
                      "mp_process_join(p, 0) while the child runs",
                      "A timeout of 0 only looks.");
        fl_expect_int(joins[i], 0, "mp_process_join(p, -1)", "");
        for (int k = 0; k < 2; k++)
            ck_assert_msg(closes[k][i] <= 1,
                          "%s called close() %ld times; "
                          "it opened one descriptor, the pidfd. Closing it "
                          "twice closes whatever descriptor took its number "
                          "in between (another thread's file): close it "
                          "once, in one place that every path goes through.",
                          k == 0 ? "mp_process_join(p, 0), which timed out,"
                                 : "mp_process_join(p, -1)",
                          closes[k][i]);
    }
    ck_assert_msg(after == before && !zombies,
                  "after three processes were joined and freed, %d "
                  "descriptors were left open%s: close the pidfd on every "
                  "path of join, the timeout's too",
                  after - before, zombies ? " and a child was not reaped" : "");
}

/* ------------------------------------------------------------ is_alive */

FL_TEST(test_mp_process_is_alive_is_true_while_running)
{
    fl_gate g;
    fl_gate_new(&g, 0, -1);
    mp_process p;
    adopt(&p, fl_raw_start(fl_gate_child, &g));
    // A sibling that has ended already: only a wait for any child takes it.
    pid_t other = fl_raw_child(7, 0);
    fl_until_ended(other);
    int alive = mp_process_is_alive(&p);
    int again = mp_process_is_alive(&p);
    int sibling_kept = fl_zombie(other);
    fl_gate_free(&g);
    if (fl_alive(mp_process_pid(&p)) || fl_zombie(mp_process_pid(&p)))
        fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
    fl_reap(other);
    ck_assert_msg(alive == 1 && again == 1 && sibling_kept,
                  "mp_process_is_alive of a running child gave %s, then "
                  "%s (expected 1 both times), and the caller's other "
                  "child, ended with 7, was %s. waitpid with WNOHANG "
                  "returns 0 while the child runs; ask about p->pid alone: "
                  "waitpid(-1, ...) reaps any child, another process "
                  "object's too, and takes its exit code for p's.",
                  fl_ret(alive), fl_ret(again),
                  sibling_kept ? "left alone" : "reaped by is_alive");
}

FL_TEST(test_mp_process_is_alive_is_true_while_the_child_is_stopped)
{
    fl_gate g;
    fl_gate_new(&g, 0, -1);
    mp_process p;
    pid_t pid = fl_raw_start(fl_gate_child, &g);
    adopt(&p, pid);
    kill(pid, SIGSTOP);
    long until = fl_now_ms() + 3000;
    while (fl_proc_state(pid) != 'T' && fl_now_ms() < until)
        sched_yield();
    char state = fl_proc_state(pid);
    int alive = mp_process_is_alive(&p);
    int code = mp_process_exitcode(&p);
    // SIGCONT marks the child continued at once (the kernel does it as
    // the signal is sent): a wait with WCONTINUED would report that now.
    kill(pid, SIGCONT);
    int alive_again = mp_process_is_alive(&p);
    int code_again = mp_process_exitcode(&p);
    fl_gate_free(&g); // it goes on and exits 0
    fl_raw_wait(pid, raw_wait_hint);
    ck_assert_msg(state == 'T', "the child never stopped after SIGSTOP");
    ck_assert_msg(alive == 1 && code == MP_EXITCODE_NONE,
                  "mp_process_is_alive of a child stopped by SIGSTOP gave "
                  "%s and the exit code became %s; expected 1 and no exit "
                  "code. A stopped child has not ended: ask waitpid with "
                  "WNOHANG alone. WUNTRACED makes it report the stop, "
                  "which then reads as an exit.",
                  fl_ret(alive), code_str(code));
    ck_assert_msg(alive_again == 1 && code_again == MP_EXITCODE_NONE,
                  "mp_process_is_alive of a child stopped, then continued "
                  "by SIGCONT, gave %s and the exit code became %s; "
                  "expected 1 and no exit code. A continued child has not "
                  "ended: ask waitpid with WNOHANG alone. WCONTINUED makes "
                  "it report the continue, which then reads as an exit.",
                  fl_ret(alive_again), code_str(code_again));
}

FL_TEST(test_mp_process_is_alive_is_false_before_start)
{
    static int four = 4;
    pid_t other = fl_raw_start(return_code, &four);
    fl_until_ended(other); // it has ended: a wrong wait would reap it
    mp_process p;
    adopt(&p, 0);
    int alive = mp_process_is_alive(&p);
    int reaped = !fl_zombie(other);
    if (!reaped)
        fl_raw_wait(other, raw_wait_hint);
    ck_assert_msg(alive == 0 && !reaped,
                  "mp_process_is_alive of a process never started gave %s, "
                  "expected 0%s: there is no child to ask about (and to "
                  "waitpid, pid 0 means any child in the group)",
                  fl_ret(alive),
                  reaped ? ", and another child was reaped" : "");
}

FL_TEST(test_mp_process_is_alive_is_false_once_the_child_has_ended)
{
    static int three = 3;
    mp_process p;
    pid_t pid = fl_raw_start(return_code, &three);
    adopt(&p, pid);
    fl_until_ended(pid); // a zombie now: ended, not yet reaped
    int alive = mp_process_is_alive(&p);
    if (fl_zombie(pid))
        fl_raw_wait(pid, raw_wait_hint);
    ck_assert_msg(alive == 0,
                  "mp_process_is_alive of a child that has ended gave %s, "
                  "expected 0. kill(pid, 0) succeeds on a zombie: ask "
                  "waitpid(pid, &status, WNOHANG) instead.",
                  fl_ret(alive));
}

FL_TEST(test_mp_process_is_alive_keeps_the_exit_code_it_reaps)
{
    static int three = 3;
    mp_process p;
    pid_t pid = fl_raw_start(return_code, &three);
    adopt(&p, pid);
    fl_until_ended(pid);
    int alive = mp_process_is_alive(&p);
    int zombie = fl_zombie(pid);
    int code = mp_process_exitcode(&p);
    int join = mp_process_join(&p, -1);
    if (fl_zombie(pid))
        fl_raw_wait(pid, raw_wait_hint);
    ck_assert_msg(alive == 0 && !zombie && code == 3 && join == 0,
                  "after mp_process_is_alive gave %s, the child was %s and "
                  "the exit code %s; then join returned %s. Expected 0, "
                  "reaped, 3 and 0: when waitpid(WNOHANG) reaps the child, "
                  "keep its exit code, or the next join's waitpid fails "
                  "with ECHILD.",
                  fl_ret(alive), zombie ? "a zombie" : "reaped", code_str(code),
                  fl_ret(join));
}

FL_TEST(test_mp_process_is_alive_reports_a_child_reaped_elsewhere)
{
    static int three = 3;
    mp_process p;
    pid_t pid = fl_raw_start(return_code, &three);
    adopt(&p, pid);
    // Other code reaps it: a wait(), or SIGCHLD ignored.
    fl_raw_wait(pid, raw_wait_hint);
    int alive = mp_process_is_alive(&p);
    fl_expect_int(alive, -ECHILD,
                  "mp_process_is_alive of a child that other code reaped",
                  "waitpid fails with ECHILD: return -errno, not 1 (Python's "
                  "is_alive would say True for ever) nor 0 (the exit code "
                  "is lost).");
}

FL_TEST(test_mp_process_is_alive_is_false_after_a_join)
{
    // Every known exit code counts, 0 and minus a signal too: "known" is
    // not MP_EXITCODE_NONE, not "positive".
    static int three = 3;
    static const struct {
        mp_target fn;
        void *arg;
        int code;
    } ends[] = {{return_code, &three, 3},
                {return_zero, NULL, 0},
                {kill_self, NULL, -SIGKILL}};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        mp_process p;
        adopt(&p, fl_raw_start(ends[i].fn, ends[i].arg));
        int j = mp_process_join(&p, -1);
        if (j != 0)
            fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
        int alive = mp_process_is_alive(&p);
        ck_assert_msg(j == 0 && alive == 0,
                      "a child that ended with exit code %d: "
                      "mp_process_join gave %s, then mp_process_is_alive "
                      "gave %s; expected 0 and 0. The join reaped the child "
                      "and kept its exit code: when the exit code is known "
                      "(any value but MP_EXITCODE_NONE), the process is not "
                      "alive, and waitpid, asked again, fails with ECHILD.",
                      ends[i].code, fl_ret(j), fl_ret(alive));
        expect_code(&p, ends[i].code, "after join and is_alive",
                    "Keep the exit code.");
    }
}

/* -------------------------------------------------- terminate and kill */

FL_TEST(test_mp_process_terminate_then_join_gives_minus_15)
{
    // A child inherits its parent's signal handlers, and Check's SIGTERM
    // handler would end the whole test: the child gets the default one.
    signal(SIGTERM, SIG_DFL);
    fl_gate g;
    fl_gate_new(&g, 0, -1);
    mp_process p;
    init_or_fail(&p, fl_gate_child, &g, NULL);
    start_or_fail(&p);
    int t = mp_process_terminate(&p);
    int j = mp_process_join(&p, 5000);
    fl_gate_free(&g);
    if (j != 0)
        fl_kill_children();
    ck_assert_msg(t == 0 && j == 0,
                  "mp_process_terminate returned %s and the join after it "
                  "%s; expected 0 and 0. A process that was started can be "
                  "signalled until it is reaped.",
                  fl_ret(t), fl_ret(j));
    expect_code(&p, -SIGTERM, "terminate, then join",
                mp_process_exitcode(&p) == -SIGKILL
                    ? "Terminate sends SIGTERM, a request the child may "
                      "catch; SIGKILL is for mp_process_kill."
                    : "Send SIGTERM; Python reports a signal as minus its "
                      "number (WIFSIGNALED, WTERMSIG).");
}

FL_TEST(test_mp_process_kill_then_join_gives_minus_9)
{
    fl_gate g;
    fl_gate_new(&g, 0, -1);
    mp_process p;
    init_or_fail(&p, fl_gate_child, &g, NULL);
    start_or_fail(&p);
    int k = mp_process_kill(&p);
    int j = mp_process_join(&p, 5000);
    fl_gate_free(&g);
    if (j != 0)
        fl_kill_children();
    ck_assert_msg(k == 0 && j == 0,
                  "mp_process_kill returned %s and the join after it %s; "
                  "expected 0 and 0",
                  fl_ret(k), fl_ret(j));
    expect_code(&p, -SIGKILL, "kill, then join",
                "Kill sends SIGKILL; Python reports a signal as minus its "
                "number.");
}

FL_TEST(test_mp_process_terminate_rejects_a_process_not_started)
{
    // Survive a kill(0, SIGTERM), which would reach this whole group.
    signal(SIGTERM, SIG_IGN);
    mp_process p;
    adopt(&p, 0);
    int t = mp_process_terminate(&p);
    fl_expect_int(t, -EINVAL, "mp_process_terminate of a process never started",
                  "Its pid is 0, and kill(0, SIGTERM) signals every process "
                  "in the caller's group, the caller included: check that "
                  "the process was started.");
}

FL_TEST(test_mp_process_terminate_after_the_end_sends_nothing)
{
    // A child that exited with 0, and one killed by a signal: its exit
    // code is negative, and known all the same.
    static const struct {
        mp_target fn;
        int code;
    } ends[] = {{return_zero, 0}, {kill_self, -SIGKILL}};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        mp_process p;
        adopt(&p, fl_raw_start(ends[i].fn, NULL));
        int j = mp_process_join(&p, -1);
        if (j != 0)
            fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
        fl_expect_int(j, 0, "mp_process_join(p, -1) of a child that ends",
                      "Join returns 0 once the child has ended.");
        int t = mp_process_terminate(&p), k = mp_process_kill(&p);
        ck_assert_msg(t == 0 && k == 0,
                      "after the child (exit code %d) was joined, "
                      "mp_process_terminate returned %s and mp_process_kill "
                      "%s; expected 0 from both, sending nothing. The child "
                      "was reaped, its exit code is known (any value but "
                      "MP_EXITCODE_NONE): its pid is free, and may already "
                      "name another process.",
                      ends[i].code, fl_ret(t), fl_ret(k));
        expect_code(&p, ends[i].code,
                    "after terminate and kill of an ended process",
                    "A signal sent after the end changes nothing.");
    }
}

FL_TEST(test_mp_process_terminate_reports_a_child_reaped_elsewhere)
{
    mp_process p;
    pid_t pid = fl_raw_start(return_zero, NULL);
    adopt(&p, pid);
    // Other code reaps it (a wait(), or SIGCHLD ignored): the object's exit
    // code stays unknown, and its pid names no process any more.
    fl_raw_wait(pid, raw_wait_hint);
    if (kill(pid, 0) == 0 || errno != ESRCH)
        p.pid = INT_MAX; // taken again at once: a pid none has (< 2^22)
    int t = mp_process_terminate(&p), k = mp_process_kill(&p);
    ck_assert_msg(t == -ESRCH && k == -ESRCH,
                  "after other code reaped the child, mp_process_terminate "
                  "gave %s and mp_process_kill %s; expected -ESRCH from "
                  "both. %s",
                  fl_ret(t), fl_ret(k),
                  t == ESRCH || k == ESRCH
                      ? "kill() failed with ESRCH: return minus errno, a "
                        "negative value, not errno itself."
                      : "kill() failed with ESRCH (no such process), and "
                        "the caller must hear of it: when kill fails, "
                        "return -errno, not 0.");
    expect_code(&p, MP_EXITCODE_NONE, "after terminate and kill",
                "Nothing was reaped.");
}

/* ------------------------------------------------------- under stress */

// The join a storm interrupts: mp_process_join(p, timeout_ms).
struct join_call {
    mp_process *p;
    int timeout_ms;
};

static int
join_call(void *arg)
{
    struct join_call *jc = arg;
    return mp_process_join(jc->p, jc->timeout_ms);
}

// After a join under stress: let the gate's child go and reap it.
static void
gate_finish(fl_gate *g, mp_process *p)
{
    fl_gate_free(g);
    if (mp_process_exitcode(p) == MP_EXITCODE_NONE)
        fl_raw_wait(mp_process_pid(p), raw_wait_hint);
}

FL_TEST(test_mp_process_join_keeps_its_deadline_under_a_signal_storm)
{
    fl_gate g;
    fl_gate_new(&g, 0, 1000); // the child gives up waiting after 1 s
    mp_process p;
    adopt(&p, fl_raw_start(fl_gate_child, &g));
    struct join_call jc = {&p, 50};
    fl_storm_result res;
    fl_clock_mono_just_past_a_second(); // a clock in whole seconds shows
    fl_storm_call(join_call, &jc, 500, &res);
    fl_fault_reset();
    gate_finish(&g, &p);
    ck_assert_msg(res.ret == -ETIMEDOUT && res.elapsed_ms >= 45 &&
                      res.elapsed_ms < 600,
                  "mp_process_join(p, 50) of a running child, under a storm "
                  "of %ld signals: expected -ETIMEDOUT after about 50 ms, "
                  "got %s after %ld ms. %s",
                  res.signals, fl_ret(res.ret), res.elapsed_ms,
                  res.ret == -EINTR ? "poll failed with EINTR: poll again."
                  : res.elapsed_ms >= 600
                      ? "Each signal started the 50 ms again (or your "
                        "clock moves in whole seconds): after EINTR, "
                        "poll for the time LEFT until a deadline taken "
                        "once, before the first poll."
                      : "");
}

// A SIGALRM whose handler outlasts a join's deadline (fl_late_signal);
// the next lets the child go, so that a join that went on waiting ends.
static fl_gate *late_gate;

static void
late_rescue(void)
{
    fl_gate_open(late_gate);
}

// First, ONE signal 80 ms into a join(p, 100), whose handler returns at
// once, with the code's CLOCK_MONOTONIC 50 ms short of a whole second as
// the join starts: the signal comes after the second has turned, and the
// join must poll again for the 20 ms left.  A storm hides a wrong time
// left (the whole timeout again, the deadline itself, a clock that wraps
// every second), for its next signal after the deadline makes it 0; one
// signal does not.  It must end in 95 to 170 ms: the whole timeout again
// ends at 180, and 70 ms is room for a loaded machine's wake-ups.
static void
join_once_interrupted(mp_process *p, int *r, long *took)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    fl_clock_mono_later_at(0, (1950 - t.tv_nsec / 1000000) % 1000);
    fl_late_signal(80, 0, late_rescue, 400);
    long t0 = fl_now_ms();
    *r = mp_process_join(p, 100);
    *took = fl_now_ms() - t0;
    fl_late_signal_off();
    fl_fault_reset();
}

FL_TEST(test_mp_process_join_times_out_when_a_handler_outlasts_the_deadline)
{
    fl_gate g;
    fl_gate_new(&g, 0, 3000);
    mp_process p;
    adopt(&p, fl_raw_start(fl_gate_child, &g));
    late_gate = &g;
    int r1;
    long took1;
    join_once_interrupted(&p, &r1, &took1);
    if (r1 != -ETIMEDOUT || took1 < 95 || took1 >= 170)
        gate_finish(&g, &p);
    ck_assert_msg(
        r1 == -ETIMEDOUT && took1 >= 95 && took1 < 170,
        "mp_process_join(p, 100) of a running child, interrupted once at "
        "80 ms by a signal whose handler returned at once (the second on "
        "CLOCK_MONOTONIC had just turned): expected -ETIMEDOUT after about "
        "100 ms, got %s after %ld ms. %s",
        fl_ret(r1), took1,
        r1 == -EINTR ? "poll failed with EINTR: poll again."
        : took1 < 95 && r1 == -ETIMEDOUT
            ? "It gave up early: your clock jumped by a whole second as "
              "the second turned (tv_nsec dropped?). Now is tv_sec * 1000 "
              "+ tv_nsec / 1000000 ms."
            : "After EINTR, poll for the time left: the deadline (now + "
              "timeout_ms, taken once) minus now, both in ms on "
              "CLOCK_MONOTONIC, tv_sec * 1000 + tv_nsec / 1000000. Not the "
              "whole timeout again, not the deadline itself, not a clock "
              "that starts again from 0 every second.");
    fl_late_signal(20, 60, late_rescue, 300); // inside the join, then 300 ms on
    long t0 = fl_now_ms();
    int r = mp_process_join(&p, 50);
    long took = fl_now_ms() - t0;
    fl_late_signal_off();
    gate_finish(&g, &p);
    ck_assert_msg(r == -ETIMEDOUT,
                  "mp_process_join(p, 50) of a running child, interrupted "
                  "at 20 ms by a signal whose handler ran for 60 ms: "
                  "expected -ETIMEDOUT once the handler returned, got %s "
                  "after %ld ms. %s",
                  fl_ret(r), took,
                  r == 0 ? "It went on waiting until the child was let go: "
                           "when EINTR comes after the deadline, the time "
                           "left is negative, and poll takes a negative "
                           "timeout as no limit. Clamp it to 0."
                         : "");
}

// A join for ever and the gate whose release ends it, from the storm's
// helper thread.
struct held_join {
    struct join_call jc;
    fl_gate *g;
};

static int
held_join(void *arg)
{
    return join_call(&((struct held_join *)arg)->jc);
}

static void
release_gate(void *arg)
{
    fl_gate_open(((struct held_join *)arg)->g);
}

FL_TEST(test_mp_process_join_waits_for_ever_under_a_signal_storm)
{
    // -1, and any other negative timeout, means for ever; INT_MAX ms (24
    // days) is as good as for ever here, and overflows a deadline in int.
    static const int timeouts[] = {-1, -2, INT_MAX};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        int t = timeouts[i];
        fl_gate g;
        fl_gate_new(&g, 6, 3000);
        mp_process p;
        adopt(&p, fl_raw_start(fl_gate_child, &g));
        struct held_join hj = {{&p, t}, &g};
        fl_storm_result res;
        fl_storm_hold(held_join, release_gate, &hj, 500, 50, &res);
        gate_finish(&g, &p);
        ck_assert_msg(
            !res.early && res.ret == 0,
            "mp_process_join(p, %d) under a storm of %ld signals returned "
            "%s after %ld ms, %s; expected 0 once the child ended, let go "
            "after 50 ms. %s",
            t, res.signals, fl_ret(res.ret), res.elapsed_ms,
            res.early ? "while the child still ran" : "after it ended",
            res.ret == -EINTR ? "poll failed with EINTR: poll again."
            : t == INT_MAX && (res.early || res.ret == -ETIMEDOUT)
                ? "A timeout of INT_MAX ms gave up at once: now + timeout "
                  "overflowed an int. Keep the deadline in a long (64 "
                  "bits), then clamp the time left to an int for poll."
            : res.early || res.ret == -ETIMEDOUT // (for ever timed out)
                ? "A negative timeout (-1, or any other) means for ever: "
                  "after EINTR, poll again with no limit, not with a time "
                  "left computed from it (test timeout_ms < 0, not == -1)."
                : "");
        expect_code(&p, 6, "after the join for ever", "");
    }
}

FL_TEST(test_mp_process_join_keeps_its_deadline_when_the_wall_clock_jumps)
{
    fl_gate g;
    fl_gate_new(&g, 0, 1000); // the child gives up waiting after 1 s
    mp_process p;
    adopt(&p, fl_raw_start(fl_gate_child, &g));
    struct join_call jc = {&p, 50};
    fl_fault_reset();
    fl_clock_jump_at(1, -3600); // an hour back, after the first reading
    // And CLOCK_MONOTONIC as on a machine up for 30 days: its ms no longer
    // fit in an int (2^31 ms is 24.8 days), which the sanitizer pass sees
    // as an overflow if the code multiplies tv_sec in int.
    fl_clock_mono_later_at(0, 30LL * 24 * 3600 * 1000);
    fl_storm_result res;
    fl_storm_call(join_call, &jc, 2000, &res);
    long reads = fl_clock_reads();
    fl_fault_reset();
    gate_finish(&g, &p);
    ck_assert_msg(
        res.ret == -ETIMEDOUT && res.elapsed_ms >= 45 &&
                res.elapsed_ms<
                    600,
                    "mp_process_join(p, 50) of a running child, while the "
                    "wall clock was set back an hour (and signals kept it "
                    "reading the clock): expected -ETIMEDOUT after about 50 "
                    "ms, got %s after %ld ms. %s",
                    fl_ret(res.ret), res.elapsed_ms, reads> 0
            ? "It measured its deadline on the wall clock "
              "(CLOCK_REALTIME, time, gettimeofday), which "
              "anyone may set: use CLOCK_MONOTONIC."
            : "");
}

FL_TEST(test_mp_process_join_and_is_alive_retry_an_interrupted_waitpid)
{
    static int codes[] = {3, 4};
    mp_process p[2];
    for (int i = 0; i < 2; i++) {
        adopt(&p[i], fl_raw_start(return_code, &codes[i]));
        fl_until_ended(mp_process_pid(&p[i]));
    }
    // Three in a row: a helper that calls again only once fails too.
    fl_fault_reset();
    fl_fault_eintr_run("waitpid", 1, 3);
    int alive = mp_process_is_alive(&p[0]);
    fl_fault_reset();
    fl_fault_eintr_run("waitpid", 1, 3);
    int join = mp_process_join(&p[1], -1);
    fl_fault_reset();
    for (int i = 0; i < 2; i++)
        if (fl_zombie(mp_process_pid(&p[i])))
            fl_raw_wait(mp_process_pid(&p[i]), raw_wait_hint);
    ck_assert_msg(alive == 0 && join == 0,
                  "with their first 3 waitpid() calls failing with EINTR, "
                  "mp_process_is_alive of an ended child gave %s (expected "
                  "0) and mp_process_join(p, -1) %s (expected 0). A signal "
                  "handler can interrupt any waitpid: call it again, as "
                  "often as it fails with EINTR, in the one helper both "
                  "use.",
                  fl_ret(alive), fl_ret(join));
    expect_code(&p[0], 3, "after is_alive", "");
    expect_code(&p[1], 4, "after join", "");
}

// join(p, -1) of an ended child with the kth call of fn failing with err:
// it fails with -err, or succeeds in the last run; nothing leaks.
static void
walk_join(const char *fn, int err)
{
    static int five = 5;
    mp_process p;
    adopt(&p, fl_raw_start(return_code, &five));
    fl_until_ended(mp_process_pid(&p));
    FL_FAULT_WALK (fn, err, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        int r = mp_process_join(&p, -1);
        int fired = fl_fault_fired(fn) > 0;
        long closes = fl_fault_calls("close");
        char what[96];
        snprintf(what, sizeof what,
                 "mp_process_join(p, -1) with its call %d of %s() "
                 "failing with %s",
                 k, fn, strerrorname_np(err));
        if (fired) {
            fl_expect_int(r, -err, what,
                          "return minus the errno of the call that failed");
            expect_code(&p, MP_EXITCODE_NONE, what,
                        "a join that failed has reaped nothing");
        } else {
            fl_expect_int(r, 0, "mp_process_join(p, -1)", "");
        }
        ck_assert_msg(closes <= 1,
                      "%s called close() %ld times; it opened one "
                      "descriptor, the pidfd: close it once, on every path",
                      what, closes);
        fl_expect_no_leak(&s, what);
    }
    if (fl_zombie(mp_process_pid(&p)))
        fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
    expect_code(&p, 5, "after the walk", "");
}

FL_TEST(test_mp_process_join_leaks_nothing_when_a_call_fails)
{
    walk_join("poll", ENOMEM);
    walk_join("waitpid", EINVAL);
}

// Join with no descriptor number free (RLIMIT_NOFILE), so
// that pidfd_open fails with EMFILE.  Returns what join returned.
static int
join_without_fds(void *arg)
{
    mp_process *p = arg;
    int lowest = dup(0); // the lowest free number
    close(lowest);
    struct rlimit lim, old;
    getrlimit(RLIMIT_NOFILE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)lowest; // every number below it is in use
    setrlimit(RLIMIT_NOFILE, &lim);
    int r = mp_process_join(p, 50);
    setrlimit(RLIMIT_NOFILE, &old);
    return r;
}

FL_TEST(test_mp_process_join_reports_that_no_descriptor_is_free)
{
    fl_gate g;
    fl_gate_new(&g, 0, 1000);
    mp_process p;
    adopt(&p, fl_raw_start(fl_gate_child, &g));
    int r = join_without_fds(&p);
    gate_finish(&g, &p);
    fl_expect_int(
        r, -EMFILE, "mp_process_join(p, 50) with no descriptor number free",
        r == -ETIMEDOUT ? "pidfd_open failed with EMFILE and returned -1, "
                          "which poll() skips: it waited on nothing and timed "
                          "out. Check pidfd_open's result and return -errno."
                        : "pidfd_open fails with EMFILE: return -errno.");
    expect_code(&p, MP_EXITCODE_NONE, "after that failed join",
                "A join that failed has reaped nothing.");

    // Descriptor 0 is one like any other: with stdin closed, the pidfd is
    // 0, and only -1 says that pidfd_open failed.
    static int eight = 8;
    adopt(&p, fl_raw_start(return_code, &eight));
    fl_until_ended(mp_process_pid(&p));
    int in = dup(0); // (-1 if stdin was closed: 0 is free all the same)
    close(0);
    r = mp_process_join(&p, -1);
    if (in >= 0) {
        dup2(in, 0);
        close(in);
    }
    if (fl_zombie(mp_process_pid(&p)))
        fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
    ck_assert_msg(r == 0 && mp_process_exitcode(&p) == 8,
                  "mp_process_join(p, -1) of a child that had exited with "
                  "8, with stdin closed, gave %s and the exit code %s; "
                  "expected 0 and 8. The pidfd was descriptor 0, the lowest "
                  "free: a valid descriptor. Only -1 says pidfd_open "
                  "failed: check fd < 0, not fd <= 0.",
                  fl_ret(r), code_str(mp_process_exitcode(&p)));
}

FL_TEST(test_mp_process_start_reports_a_failed_fork)
{
    static int nine = 9;
    static const int errs[] = {EAGAIN, ENOMEM}; // fork's two failures
    mp_process p;
    init_or_fail(&p, return_code, &nine, NULL);
    int r;
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        char what[80];
        snprintf(what, sizeof what,
                 "mp_process_start with fork() failing with %s",
                 strerrorname_np(errs[i]));
        fl_snapshot s;
        fl_snapshot_take(&s);
        fl_fault_reset();
        fl_fault_fail("fork", 1, errs[i]);
        r = mp_process_start(&p);
        fl_fault_reset();
        pid_t pid = mp_process_pid(&p);
        fl_expect_no_leak(&s, what);
        fl_expect_int(r, -errs[i], what,
                      "return -errno, the errno fork() set: not a value "
                      "you chose (EAGAIN is too many processes, ENOMEM "
                      "not enough memory)");
        fl_expect_int(pid, 0, "the pid after a failed start",
                      "keep fork()'s result in p->pid only once it is a "
                      "pid: -1 makes the process read as started, and "
                      "kill(-1, sig) signals every process you may signal");
    }
    r = mp_process_start(&p);
    if (r == 0)
        fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
    fl_expect_int(r, 0, "mp_process_start again after a failed fork",
                  "a start that failed started nothing: the process may "
                  "be started again");
}

// A stream of our own on a pipe: fully buffered, and not stdout, so that
// fflush(stdout) does not reach it.
static FILE *stream;

static int
print_to_stream(void *arg)
{
    (void)arg;
    fputs("child|", stream);
    return 0;
}

FL_TEST(test_mp_process_start_flushes_every_stream)
{
    int fds[2];
    ck_assert_msg(pipe(fds) == 0, "pipe failed");
    stream = fdopen(fds[1], "w");
    ck_assert_msg(stream != NULL, "fdopen failed");
    mp_process p;
    init_or_fail(&p, print_to_stream, NULL, NULL);
    fputs("before|", stream); // buffered in this process, not written
    start_or_fail(&p);
    fl_raw_wait(mp_process_pid(&p), raw_wait_hint);
    fclose(stream);
    char out[64];
    fl_read_text(fds[0], out, sizeof out);
    close(fds[0]);
    ck_assert_msg(fl_count_of(out, "before|") == 1,
                  "\"before|\" was put once in a stream of the caller (a "
                  "pipe opened with fdopen, not stdout) before the start, "
                  "yet the pipe got \"%s\": the child flushed its copy of "
                  "the buffer too. fflush(NULL) before fork(), not "
                  "fflush(stdout).",
                  out);
    ck_assert_msg(fl_count_of(out, "child|") == 1,
                  "the child's run put \"child|\" in a stream of its own "
                  "(not stdout), yet the pipe got \"%s\": _exit() throws "
                  "away what stdio holds. The child must fflush(NULL) "
                  "before _exit().",
                  out);
}

// In the deepest child of a chain: make process objects until one's
// identity ("1:1:...:N") would be MP_IDENT_MAX characters; that one must be
// refused.  Writes "ok", or what went wrong, to the pipe *arg.
static int
ident_at_the_limit(int fd)
{
    const char *up = mp_current_process()->ident;
    size_t base = strlen(up) + 1; // "up:"
    char msg[160] = "ok";
    mp_process q;
    int first = -1;
    for (int k = 0; k < 1000; k++) {
        memset(&q, 0x5a, sizeof q); // what a refused init must not touch
        int r = mp_process_init(&q, return_zero, NULL, NULL);
        if (k == 0) // this process made no object yet: its first is 1
            first = r == 0 ? atoi(q.ident + base) : 1;
        char num[16];
        int want = (int)base + snprintf(num, sizeof num, "%d", first + k);
        if (want < MP_IDENT_MAX && r == 0 && strlen(q.ident) == (size_t)want)
            continue;
        if (want >= MP_IDENT_MAX && r == -ENAMETOOLONG) {
            pid_t poison;
            memset(&poison, 0x5a, sizeof poison);
            if (q.pid != poison) // the field after ident
                snprintf(msg, sizeof msg,
                         "a refused identity of %d characters was written "
                         "past p->ident, over p->pid: the size given to "
                         "snprintf must be sizeof p->ident",
                         want);
            break;
        }
        snprintf(msg, sizeof msg,
                 "an identity of %d characters (\"%s:%s\") gave %s, "
                 "identity \"%.40s\"",
                 want, up, num, fl_ret(r), r == 0 ? q.ident : "");
        break;
    }
    return fl_write_full(fd, msg, strlen(msg) + 1) == 0 ? 0 : 1;
}

// One link of a chain of processes, each started by the one before, until
// the current identity is 28 or 29 characters long.
static int
chain_link(void *arg)
{
    int fd = *(int *)arg;
    if (strlen(mp_current_process()->ident) >= MP_IDENT_MAX - 4)
        return ident_at_the_limit(fd);
    mp_process next;
    if (mp_process_init(&next, chain_link, arg, NULL) < 0 ||
        mp_process_start(&next) < 0)
        return 1;
    int st = fl_reap(mp_process_pid(&next));
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

FL_TEST(test_mp_process_init_subclass_rejects_a_default_name_too_long)
{
    // The identity has a limit of its own, reached in a child's child's
    // ... child: 31 characters fit in MP_IDENT_MAX bytes, 32 do not.
    int fds[2];
    ck_assert_msg(pipe(fds) == 0, "pipe failed");
    mp_process top;
    init_or_fail(&top, chain_link, &fds[1], NULL);
    start_or_fail(&top);
    close(fds[1]);
    char seen[200];
    fl_read_text(fds[0], seen, sizeof seen);
    close(fds[0]);
    fl_raw_wait(mp_process_pid(&top), raw_wait_hint);
    ck_assert_msg(strcmp(seen, "ok") == 0,
                  "in a chain of nested children, %s; expected 0 for "
                  "identities up to %d characters and -ENAMETOOLONG from "
                  "%d on: keep and check snprintf's result for the "
                  "identity as for the name (>= its buffer's size means cut)",
                  seen[0] ? seen : "the deepest child reported nothing",
                  MP_IDENT_MAX - 1, MP_IDENT_MAX);

    // "CLS-1" fits with 61 characters of class name (63 in all), and no
    // longer class name does: numbers 2 and 3 are one digit too.
    char cls[MP_NAME_MAX + 1];
    mp_process p;
    for (int len = MP_NAME_MAX - 3; len <= MP_NAME_MAX - 1; len++) {
        memset(cls, 'C', (size_t)len);
        cls[len] = '\0';
        int r = mp_process_init_subclass(&p, cls, my_noop_run, NULL);
        int fits = len == MP_NAME_MAX - 3;
        ck_assert_msg(fits ? r == 0 &&
                                 strlen(mp_process_name(&p)) == MP_NAME_MAX - 1
                           : r == -ENAMETOOLONG,
                      "mp_process_init_subclass with a class name of %d "
                      "characters and no name returned %s (name \"%s\"); "
                      "expected %s. The default name \"CLASS-N\" must fit "
                      "in MP_NAME_MAX bytes with its NUL, as a given name "
                      "must: keep and check snprintf's result for it too.",
                      len, fl_ret(r), r == 0 ? mp_process_name(&p) : "",
                      fits ? "0, a name of 63 characters" : "-ENAMETOOLONG");
    }
}

static const fl_case cases[] = {
    FL_CASE(test_mp_process_init_names_processes_from_1, 5),
    FL_CASE(test_mp_process_init_subclass_names_after_the_class, 5),
    FL_CASE(test_mp_process_init_keeps_a_given_name, 5),
    FL_CASE(test_mp_process_init_rejects_a_name_too_long, 5),
    FL_CASE(test_mp_process_init_rejects_a_missing_function, 5),
    FL_CASE(test_mp_process_init_leaves_the_exit_code_unknown, 5),
    FL_CASE(test_mp_process_calls_reject_a_null_process, 5),
    FL_CASE(test_mp_process_run_calls_the_target_in_the_caller, 5),
    FL_CASE(test_mp_process_start_runs_the_target_in_a_child, 5),
    FL_CASE(test_mp_process_start_child_ends_with_the_run_value, 5),
    FL_CASE(test_mp_process_start_calls_the_subclass_run, 5),
    FL_CASE(test_mp_process_start_rejects_a_second_start, 5),
    FL_CASE(test_mp_process_start_prints_buffered_output_once, 5),
    FL_CASE(test_mp_process_start_keeps_the_childs_output, 5),
    FL_CASE(test_mp_process_start_makes_the_child_its_own_current_process, 5),
    FL_CASE(test_mp_process_start_restarts_numbering_in_the_child, 5),
    FL_CASE(test_mp_process_join_gives_the_exit_status, 5),
    FL_CASE(test_mp_process_join_gives_minus_the_signal_of_a_crash, 5),
    FL_CASE(test_mp_process_join_waits_for_the_end, 5),
    FL_CASE(test_mp_process_join_times_out_while_the_child_runs, 10),
    FL_CASE(test_mp_process_join_again_gives_the_same_exit_code, 5),
    FL_CASE(test_mp_process_join_rejects_a_process_not_started, 5),
    FL_CASE(test_mp_process_join_retries_when_a_signal_interrupts, 5),
    FL_CASE(test_mp_process_join_leaves_nothing_behind, 10),
    FL_CASE(test_mp_process_is_alive_is_true_while_running, 5),
    FL_CASE(test_mp_process_is_alive_is_true_while_the_child_is_stopped, 5),
    FL_CASE(test_mp_process_is_alive_is_false_before_start, 5),
    FL_CASE(test_mp_process_is_alive_is_false_once_the_child_has_ended, 5),
    FL_CASE(test_mp_process_is_alive_keeps_the_exit_code_it_reaps, 5),
    FL_CASE(test_mp_process_is_alive_reports_a_child_reaped_elsewhere, 5),
    FL_CASE(test_mp_process_terminate_then_join_gives_minus_15, 5),
    FL_CASE(test_mp_process_kill_then_join_gives_minus_9, 5),
    FL_CASE(test_mp_process_terminate_rejects_a_process_not_started, 5),
    FL_CASE(test_mp_process_terminate_after_the_end_sends_nothing, 5),
    FL_CASE(test_mp_process_terminate_reports_a_child_reaped_elsewhere, 5),
    FL_CASE(test_mp_process_join_keeps_its_deadline_under_a_signal_storm, 5),
    FL_CASE(test_mp_process_join_waits_for_ever_under_a_signal_storm, 5),
    FL_CASE(test_mp_process_join_times_out_when_a_handler_outlasts_the_deadline,
            5),
    FL_CASE(test_mp_process_join_keeps_its_deadline_when_the_wall_clock_jumps,
            5),
    FL_CASE(test_mp_process_join_and_is_alive_retry_an_interrupted_waitpid, 5),
    FL_CASE(test_mp_process_join_leaks_nothing_when_a_call_fails, 5),
    FL_CASE(test_mp_process_join_reports_that_no_descriptor_is_free, 5),
    FL_CASE(test_mp_process_start_reports_a_failed_fork, 5),
    FL_CASE(test_mp_process_start_flushes_every_stream, 5),
    FL_CASE(test_mp_process_init_subclass_rejects_a_default_name_too_long, 5),
    FL_CASE(test_mp_process_init_numbers_named_processes_too, 5),
    FL_CASE(test_mp_process_start_child_knows_its_own_pid, 5),
    FL_CASE(test_mp_process_is_alive_is_false_after_a_join, 5),
};

FL_MAIN("02_process", cases)
