// check_capstone.c - tests for lesson 13: mp_par_map, mp_thread_map and
// mp_fetch_all.
//
// Nothing here is timed.  Parallelism is proven, not measured: a kernel
// that waits (with a bound) until k items run at the same time finishes
// only if k workers really run at once, and a test server that holds its
// answers until k requests are in flight does the same for the fetcher.
// Dynamic scheduling is proven by a kernel whose item 0 finishes only
// after every other item: a static split leaves items stuck behind item 0
// in its own worker, so item 0 gives up when the bound passes, and the test
// says "static split".  Every wait polls a pipe (the gate) until a shared
// deadline, so a mistake costs WAIT_MS once, never a hang.
//
// The kernels and the server's processes are forked from the test process
// and report through a board in shared memory made before the call.
#define _GNU_SOURCE
#include "capstone.h"
#include "harness.h"
#include "stress.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 3000 // the longest any kernel or server waits at the gate
#define MAXN 4096    // the most items a test gives

/* ------------------------------------------------------------- helpers */

// What the kernels, the server and the test share.
struct board {
    long deadline;         // CLOCK_MONOTONIC ms: every wait gives up then
    int want;              // the gate opens once this many items run at once
    int n;                 // items in the call
    atomic_int opened;     // the gate is open
    atomic_int running;    // items (or requests) being worked on now
    atomic_int most;       // the most that were ever worked on at once
    atomic_int done;       // items finished
    atomic_int runs[MAXN]; // how many times each item ran
    pid_t pid[MAXN];       // the process that ran item i
    pid_t tid[MAXN];       // the thread that ran item i
    pid_t test;            // the test process
    atomic_int answered;   // requests the server has answered
    int held_saw;          // answered when /hold was let go (-1: not yet)
    long read_end;         // ms: a request not in by then is dropped (0:
                           // WAIT_MS after the deadline)
    atomic_int five_held;  // /five: 1 the client closed, 2 it did not
                           // before the deadline (0: not known yet)
};

static struct board *B;        // MAP_SHARED: the workers write here
static int gate[2] = {-1, -1}; // a byte here lets every waiter go on

// Make the board and the gate for a call of n items; the gate opens when
// want items run at once.  The deadline starts now.
static void
board_new(int n, int want)
{
    B = mmap(NULL, sizeof *B, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(B != MAP_FAILED, "mmap failed: %s", strerror(errno));
    memset(B, 0, sizeof *B);
    B->n = n;
    B->want = want;
    B->deadline = fl_now_ms() + WAIT_MS;
    B->test = getpid();
    ck_assert_msg(pipe(gate) == 0, "pipe failed: %s", strerror(errno));
}

static void
board_free(void)
{
    close(gate[0]);
    close(gate[1]);
    munmap(B, sizeof *B);
}

static void
open_gate(void)
{
    if (atomic_exchange(&B->opened, 1) == 0)
        while (write(gate[1], "g", 1) < 0 && errno == EINTR)
            ;
}

// Wait until the gate is open: 1, or 0 if the deadline passed first.
static int
wait_gate(void)
{
    struct pollfd p = {.fd = gate[0], .events = POLLIN};
    for (;;) {
        long left = B->deadline - fl_now_ms();
        int r = poll(&p, 1, left > 0 ? (int)left : 0);
        if (r > 0)
            return 1;
        if (r == 0 || errno != EINTR)
            return 0;
    }
}

// One more item (or request) at work; the gate opens at want at once.
static void
enter(void)
{
    int now = atomic_fetch_add(&B->running, 1) + 1;
    int most = atomic_load(&B->most);
    while (now > most && !atomic_compare_exchange_weak(&B->most, &most, now))
        ;
    if (now >= B->want)
        open_gate();
}

static void
leave(void)
{
    atomic_fetch_sub(&B->running, 1);
}

// How many different values v[0..n) holds, and whether one equals x.
static int
distinct(const pid_t *v, int n, pid_t x, int *has_x)
{
    int count = 0;
    *has_x = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = v[j] == v[i];
        count += !seen;
        *has_x |= v[i] == x;
    }
    return count;
}

// The children of the test process, as /proc shows them.
static void
children(int *live, int *zombies)
{
    *live = *zombies = 0;
    DIR *d = opendir("/proc");
    ck_assert_msg(d != NULL, "opendir(/proc) failed");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (!isdigit((unsigned char)e->d_name[0]) ||
            fl_ppid_of(pid) != getpid())
            continue;
        if (fl_zombie(pid))
            (*zombies)++;
        else
            (*live)++;
    }
    closedir(d);
}

/* --------------------------------------------------------------- kernels */

// What every test kernel returns for item x when all went well.
static long
good(long x)
{
    return 3 * x + 1;
}

// Count the runs of each item.  The first B->want items wait until that
// many run at once, so that every worker is busy from then on, and each
// item takes a few microseconds: the workers take items at the same time.
static long
count_runs(long x)
{
    if (x < B->want) {
        enter();
        wait_gate();
        leave();
    }
    atomic_fetch_add(&B->runs[x], 1);
    for (volatile int spin = 0; spin < 1000; spin++)
        ;
    return good(x);
}

// Wait until B->want items run at once; -1 if that never happened.
static long
together(long x)
{
    B->pid[x] = getpid();
    B->tid[x] = (pid_t)syscall(SYS_gettid);
    enter();
    int ok = wait_gate();
    leave();
    return ok ? good(x) : -1;
}

// Item 0 finishes only after every other item has: -1 if they never did.
// The gate opens only when they are done (B->want is above n).
static long
zero_last(long x)
{
    enter();
    if (x == 0) {
        int ok = wait_gate();
        leave();
        return ok ? good(0) : -1;
    }
    leave();
    if (atomic_fetch_add(&B->done, 1) + 1 == B->n - 1)
        open_gate();
    return good(x);
}

// Item 0 finishes only after the last item has run.
static long
zero_after_last(long x)
{
    if (x == 0)
        return wait_gate() ? good(0) : -1;
    if (x == B->n - 1)
        open_gate();
    return good(x);
}

// Item 5 crashes its worker.
static long
crash_on_5(long x)
{
    if (x == 5) {
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none); // no core file
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
    return good(x);
}

// Item 5 ends its worker with exit status 3, as a kernel calling exit(3)
// would (no signal).
static long
exit_3_on_5(long x)
{
    if (x == 5)
        _exit(3);
    return good(x);
}

// Item 0 waits at the gate until every item outside its chunk (B->want
// items) has run: the other worker does them all meanwhile, so the chunk
// of item 0 holds exactly the items its process ran.
static long
hold_the_first_chunk(long x)
{
    B->tid[x] = (pid_t)syscall(SYS_gettid);
    if (x == 0)
        return wait_gate() ? good(0) : -1;
    if (x >= B->want && atomic_fetch_add(&B->done, 1) + 1 == B->n - B->want)
        open_gate();
    return good(x);
}

// Flushes stdio, every stream, as a kernel that prints progress would.
static long
flushing(long x)
{
    fflush(NULL);
    return good(x);
}

/* --------------------------------------------------- checking results */

typedef int (*map_fn)(int, mp_kernel, const long *, long *, size_t, size_t);

// Items 0..n-1 (in[i] = i), out cleared to -7.
static void
items(long *in, long *out, int n)
{
    for (int i = 0; i < n; i++) {
        in[i] = i;
        out[i] = -7;
    }
}

// Why out[i] is not good(i), as far as its value tells.
static const char *
why(const long *out, int n, int i)
{
    if (out[i] == -1)
        return "The item gave up waiting for other items, which never ran "
               "meanwhile.";
    if (out[i] == 0 || out[i] == -7)
        return "No result reached that place (0 or -7), or it was read "
               "before a worker stored it: did any worker start (count "
               "the chunks rounded up, never 0 when n > 0)? Results go "
               "into MAP_SHARED memory mapped before the forks, and are "
               "copied out only once every worker has been waited for.";
    for (int j = 0; j < n; j++)
        if (out[i] == good(j))
            return "That is another item's result: store each result at "
                   "its item's own index, not at the next free place "
                   "(items finish in any order).";
    return "";
}

// Fail unless out[i] == good(i) for every i, naming the first that is not.
static void
expect_good(const char *call, const long *out, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_msg(out[i] == good(i),
                      "%s: out[%d] is %ld, expected %ld, the kernel's result "
                      "for item %d. %s",
                      call, i, out[i], good(i), i, why(out, n, i));
}

/* ------------------------------------------------------ map, both ways */

static void
matches_the_serial_run(map_fn map, const char *name)
{
    enum { N = 60 };
    long in[N], want[N], out[N], total = 0;
    for (int i = 0; i < N; i++) {
        in[i] = (i * 7) % N; // every block once, not in order
        want[i] = mp_primes_in_block(in[i]);
        total += want[i];
    }
    int ks[] = {1, 2, 4};
    size_t chunks[] = {1, 7, 0}; // 7 does not divide 60; 0 is the default
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            for (int i = 0; i < N; i++)
                out[i] = -7;
            int r = map(ks[a], mp_primes_in_block, in, out, N, chunks[b]);
            fl_expect_int(r, 0, name, "expected the call to succeed");
            for (int i = 0; i < N; i++)
                ck_assert_msg(out[i] == want[i],
                              "%s(nworkers=%d, mp_primes_in_block, n=%d, "
                              "chunk=%zu): out[%d] is %ld, expected %ld, the "
                              "primes in block in[%d] = %ld (%ld primes "
                              "below %d in all). %s",
                              name, ks[a], N, chunks[b], i, out[i], want[i], i,
                              in[i], total, N * MP_BLOCK,
                              out[i] == 0 || out[i] == -7
                                  ? "No result reached that place: is every "
                                    "item done (the last chunk may be "
                                    "short), in memory that the caller sees? "
                                    "Were the workers all waited for "
                                    "(waitpid) before the results were "
                                    "copied out?"
                                  : "Is each result stored at its item's "
                                    "index?");
        }
}

static void
runs_each_item_once(map_fn map, const char *name)
{
    enum { N = 3000 };
    static long in[N], out[N];
    board_new(N, 4);
    items(in, out, N);
    int r = map(4, count_runs, in, out, N, 1);
    fl_expect_int(r, 0, name, "nworkers=4, n=3000, chunk=1");
    int all4 = 1;
    for (int i = 0; i < N; i++)
        all4 &= B->runs[i] == 4;
    for (int i = 0; i < N; i++)
        ck_assert_msg(B->runs[i] == 1,
                      "%s(nworkers=4, n=%d, chunk=1): item %d ran %d "
                      "times, expected exactly once. %s",
                      name, N, i, B->runs[i],
                      all4 ? "Every worker did every item: each had a "
                             "counter of its own (put it in memory they "
                             "share, mapped MAP_SHARED before the forks), or "
                             "they read it all at once: advance it with ONE "
                             "atomic_fetch_add, not a read and then a write."
                      : B->runs[i] > 1
                          ? "Two workers took the same chunk: advance the "
                            "counter with ONE atomic_fetch_add, which reads "
                            "and writes it in one step, not a read and then "
                            "a write (another worker can read between them)."
                          : "No worker took it: is every chunk handed out?");
    board_free();
    // Chunks of 7, without the gate: the counter moves on by a whole chunk
    // each time, or the chunks overlap (even in one worker).
    enum { N7 = 100 };
    board_new(N7, 0);
    items(in, out, N7);
    r = map(2, count_runs, in, out, N7, 7);
    fl_expect_int(r, 0, name, "nworkers=2, n=100, chunk=7");
    for (int i = 0; i < N7; i++)
        ck_assert_msg(B->runs[i] == 1,
                      "%s(nworkers=2, n=%d, chunk=7): item %d ran %d times, "
                      "expected exactly once.%s",
                      name, N7, i, B->runs[i],
                      B->runs[i] > 1 ? " The chunks overlap: taking a chunk "
                                       "moves the counter on by chunk items "
                                       "(atomic_fetch_add(&next, chunk)), "
                                       "not by 1."
                                     : "");
    board_free();
}

// k workers on 2k items that each wait until k of them run at once.
static void
run_together(map_fn map, const char *name, int k)
{
    long in[16], out[16];
    board_new(2 * k, k);
    items(in, out, 2 * k);
    int r = map(k, together, in, out, (size_t)(2 * k), 1);
    fl_expect_int(r, 0, name, "the call failed");
    ck_assert_msg(B->most >= k,
                  "%s(nworkers=%d, n=%d, chunk=1): at most %d item(s) ever "
                  "ran at the same time, expected %d: each one waited %d ms "
                  "for the others. Start ALL the workers before you wait for "
                  "any (a wait or join right after each start runs them one "
                  "at a time).",
                  name, k, 2 * k, B->most, k, WAIT_MS);
    expect_good(name, out, 2 * k);
}

static void
hands_out_chunks_dynamically(map_fn map, const char *name)
{
    // 9 items: with Python's rule instead of the chunk of 1 asked for,
    // chunks of 2 would hold item 1 behind item 0.
    enum { N = 9 };
    long in[N], out[N];
    board_new(N, N + 1); // the gate opens when items 1..8 are done
    items(in, out, N);
    int r = map(2, zero_last, in, out, N, 1);
    fl_expect_int(r, 0, name, "nworkers=2, n=9, chunk=1");
    ck_assert_msg(out[0] != -1 || B->most > 1,
                  "%s(nworkers=2, n=%d, chunk=1): item 0, which finishes "
                  "only after every other item, gave up after %d ms, and "
                  "no two items ever ran at the same time: the workers ran "
                  "one after the other. Start both before waiting for any.",
                  name, N, WAIT_MS);
    ck_assert_msg(out[0] != -1,
                  "%s(nworkers=2, n=%d, chunk=1): item 0, which finishes "
                  "only after every other item, gave up after %d ms; the "
                  "other worker was idle while items waited behind item 0. "
                  "A static split: each worker was given its items in "
                  "advance (let each worker take the next chunk from a "
                  "shared counter whenever it is free), or chunks larger "
                  "than the chunk of 1 asked for (only chunk=0 means "
                  "Python's rule).",
                  name, N, WAIT_MS);
    expect_good(name, out, N);
    board_free();
}

static void
rejects_bad_arguments(map_fn map, const char *name)
{
    long in[4] = {0, 1, 2, 3}, out[4];
    struct {
        int k;
        mp_kernel fn;
        const long *in;
        long *out;
        const char *what;
    } bad[] = {
        {0, good, in, out, "0 workers"},     {-1, good, in, out, "-1 workers"},
        {2, NULL, in, out, "a NULL kernel"}, {2, good, NULL, out, "a NULL in"},
        {2, good, in, NULL, "a NULL out"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = map(bad[i].k, bad[i].fn, bad[i].in, bad[i].out, 4, 1);
        ck_assert_msg(r == -EINVAL,
                      "%s with %s returned %s, expected -EINVAL (-22), "
                      "before starting any worker",
                      name, bad[i].what, fl_ret(r));
    }
    // One item is items too: a NULL in or out is refused for any n > 0,
    // whatever the chunk (0 here, Python's rule: it is n that says whether
    // there are items, not chunk).
    for (size_t i = 3; i < 5; i++) {
        int r = map(bad[i].k, bad[i].fn, bad[i].in, bad[i].out, 1, 0);
        ck_assert_msg(r == -EINVAL,
                      "%s with %s, one item (n = 1) and chunk 0 returned "
                      "%s, expected -EINVAL (-22): in and out may be NULL "
                      "only when n == 0, so test n > 0 (not n > 1, nor "
                      "chunk > 0)",
                      name, bad[i].what, fl_ret(r));
    }
    // No items does not make 0 workers or a NULL kernel right: only in and
    // out may be NULL then (Python's Pool(0) raises ValueError at once).
    for (size_t i = 0; i < 3; i++) {
        int r = map(bad[i].k, bad[i].fn, NULL, NULL, 0, 0);
        ck_assert_msg(r == -EINVAL,
                      "%s with %s and no items (n = 0) returned %s, "
                      "expected -EINVAL (-22): check nworkers and fn "
                      "first, then return 0 for no items",
                      name, bad[i].what, fl_ret(r));
    }
}

static void
of_no_items_returns_0(map_fn map, const char *name)
{
    board_new(1, 1);
    fl_fault_reset();
    int r = map(4, count_runs, NULL, NULL, 0, 0);
    long maps = fl_fault_calls("mmap"), unmaps = fl_fault_calls("munmap");
    fl_fault_reset();
    fl_expect_int(r, 0, name,
                  "no items (n = 0, in and out NULL): nothing to "
                  "do, and nothing to check but nworkers and fn");
    ck_assert_msg(maps == unmaps,
                  "%s of no items made %ld mmap call(s) and %ld munmap "
                  "call(s): return 0 before mapping anything, or unmap "
                  "on that path too, or each call leaks a mapping",
                  name, maps, unmaps);
    int live, zombies;
    children(&live, &zombies);
    ck_assert_msg(live + zombies == 0,
                  "%s of no items left %d processes: start no worker when "
                  "there is nothing to do",
                  name, live + zombies);
    board_free();
}

/* ---------------------------------------------------------- mp_par_map */

FL_TEST(test_mp_par_map_matches_the_serial_run)
{
    matches_the_serial_run(mp_par_map, "mp_par_map");
}

FL_TEST(test_mp_par_map_covers_a_short_last_chunk)
{
    enum { N = 10 };
    long in[N + 2], out[N + 2];
    board_new(N, 1);
    items(in, out, N + 2); // two items past n: they must never run
    int r = mp_par_map(2, count_runs, in, out, N, 4);
    fl_expect_int(r, 0, "mp_par_map(nworkers=2, n=10, chunk=4)", "");
    int head_ok = 1;
    for (int i = 0; i < 8; i++)
        head_ok &= out[i] == good(i);
    ck_assert_msg(!head_ok || (out[8] == good(8) && out[9] == good(9)),
                  "mp_par_map(nworkers=2, n=10, chunk=4): out[0..7] are "
                  "right, but out[8] and out[9] are %ld and %ld, expected "
                  "%ld and %ld. The chunks are [0, 4), [4, 8) and [8, 10): "
                  "the last one is short; do it too, ending at n, not at "
                  "start + chunk.",
                  out[8], out[9], good(8), good(9));
    expect_good("mp_par_map(nworkers=2, n=10, chunk=4)", out, N);
    int past = B->runs[N] + B->runs[N + 1];
    board_free();
    ck_assert_msg(past == 0,
                  "mp_par_map(nworkers=2, n=10, chunk=4) ran the kernel on "
                  "in[10] or in[11] (%d times), past the n items: the last "
                  "chunk [8, 12) is cut at n. End each chunk at the smaller "
                  "of start + chunk and n.",
                  past);
}

FL_TEST(test_mp_par_map_runs_each_item_exactly_once)
{
    runs_each_item_once(mp_par_map, "mp_par_map");
}

FL_TEST(test_mp_par_map_runs_the_workers_at_the_same_time)
{
    run_together(mp_par_map, "mp_par_map", 4);
    int has_me;
    int pids = distinct(B->pid, 8, getpid(), &has_me);
    ck_assert_msg(!has_me && pids >= 4,
                  "mp_par_map(nworkers=4): the items ran in %d different "
                  "processes%s, expected at least 4 worker processes, none "
                  "of them the caller",
                  pids, has_me ? ", one of them the caller itself" : "");
    board_free();
}

FL_TEST(test_mp_par_map_hands_out_chunks_dynamically)
{
    hands_out_chunks_dynamically(mp_par_map, "mp_par_map");
}

FL_TEST(test_mp_par_map_keeps_results_in_item_order)
{
    // 2 workers, chunks of 2: [0, 1] waits at item 0 until [4, 5] has run,
    // so the worker holding [2, 3] and [4, 5] stores its results first.
    enum { N = 6 };
    long in[N], out[N];
    board_new(N, 1);
    items(in, out, N);
    int r = mp_par_map(2, zero_after_last, in, out, N, 2);
    fl_expect_int(r, 0, "mp_par_map(nworkers=2, n=6, chunk=2)", "");
    ck_assert_msg(out[0] != -1,
                  "mp_par_map(nworkers=2, n=6, chunk=2): item 0, which "
                  "waits for item 5, gave up after %d ms: item 5 never ran "
                  "meanwhile. Do both workers run at the same time?",
                  WAIT_MS);
    expect_good("mp_par_map(nworkers=2, n=6, chunk=2), where item 0 "
                "finishes after item 5",
                out, N);
    board_free();
}

FL_TEST(test_mp_par_map_reports_a_worker_that_died)
{
    enum { N = 16 };
    long in[N], out[N];
    items(in, out, N);
    int r = mp_par_map(4, crash_on_5, in, out, N, 1);
    ck_assert_msg(r == -EPIPE,
                  "mp_par_map(nworkers=4, n=16, chunk=1) where item 5 "
                  "crashes its worker "
                  "(SIGSEGV) returned %s, expected -EPIPE (-32): look at "
                  "each worker's wait status; one killed by a signal, or "
                  "exited with a status other than 0, died with work undone",
                  fl_ret(r));
    for (int i = 0; i < N; i++)
        ck_assert_msg(i == 5 || out[i] == good(i),
                      "mp_par_map(nworkers=4, n=16, chunk=1), where item 5 "
                      "crashes its worker: out[%d] is %ld, expected %ld. %s",
                      i, out[i], good(i),
                      out[i] == 0 ? "When one worker dies, the others go on "
                                    "with every item but the dead one's."
                                  : why(out, N, i));
    items(in, out, N);
    r = mp_par_map(4, exit_3_on_5, in, out, N, 1);
    ck_assert_msg(r == -EPIPE,
                  "mp_par_map(nworkers=4, n=16, chunk=1) where item 5 ends "
                  "its worker with exit status 3 returned %s, expected "
                  "-EPIPE (-32): a worker that exited with a status other "
                  "than 0 died with work undone too, not only one killed "
                  "by a signal (test WIFEXITED and WEXITSTATUS)",
                  fl_ret(r));
}

// 512 results fill one page exactly: with no room for the struct share in
// front of them, the last ones land past the mapping.  511 results and a
// room for one more (a mapping of (n + 1) longs, one page) overflow as
// well, for a struct share of any size over 8 bytes.  A faulting page
// follows each mapping the code makes (fl_mmap_guard), so that a write
// past its end faults instead of landing in other memory.  In a child, as
// the caller may crash copying them out; 1000 for wrong results.  Then
// as many results as end the mapping exactly at two pages behind the
// given struct share (9 pointers or sizes: 72 bytes on 64-bit): results
// put anywhere past (s + 1), at (s + 2) or at (long *)s + sizeof *s, run
// into the guard.  (A struct of another size merely makes it less sharp.)
static int
map_a_page(void *arg)
{
    (void)arg;
    enum { N = 4096 / sizeof(long) };
    enum {
        SHARE = 9 * sizeof(void *),
        TWO = (2 * 4096 - SHARE) / sizeof(long)
    };
    static long in[TWO], out[TWO];
    const size_t ns[3] = {N - 1, N, TWO};
    for (int k = 0; k < 3; k++) {
        size_t n = ns[k];
        items(in, out, (int)n);
        fl_mmap_guard(1);
        int r = mp_par_map(2, good, in, out, n, 0);
        fl_mmap_guard(0);
        for (size_t i = 0; i < n && r == 0; i++)
            if (out[i] != good((long)i))
                r = 1000;
        if (r != 0)
            return r;
    }
    return 0;
}

FL_TEST(test_mp_par_map_fills_a_whole_page_of_results)
{
    fl_child c;
    fl_run_in_child(map_a_page, NULL, 5000, 0, &c);
    ck_assert_msg(c.returned && c.value == 0,
                  "mp_par_map(nworkers=2, n=511, 512, then 1015, chunk=0), "
                  "whose longs fill one page but for one, then exactly, "
                  "then two pages behind the given struct share, %s%s. Map "
                  "room for the struct share AND the n results: "
                  "sizeof(struct share) + n * sizeof(long), not n + 1 "
                  "results; and put the results right behind the struct, "
                  "at (long *)(s + 1), not further on.",
                  c.returned    ? "returned "
                  : c.exited    ? "ended the caller"
                  : c.timed_out ? "never returned"
                                : "killed the caller with a signal",
                  c.returned ? (c.value == 1000 ? "0, with wrong results"
                                                : fl_ret(c.value))
                             : "");
}

// 16 items, 2 workers (or threads), chunk 0: Python's rule gives ceil(16 /
// 8) = 2; then 17 items: ceil(17 / 8) = 3, where a remainder of 1 still
// rounds up, and n / (5 * nworkers) would give 2.  Which thread ran which
// item tells the first chunk's size (a worker process is one thread: its
// tid is its pid).
static void
takes_pythons_chunksize(map_fn map, const char *name)
{
    enum { MOST = 17 };
    const int ns[2] = {16, 17}, wants[2] = {2, 3};
    for (int k = 0; k < 2; k++) {
        int n = ns[k], want = wants[k];
        long in[MOST], out[MOST];
        board_new(n, want);
        B->deadline = fl_now_ms() + 1000;
        items(in, out, n);
        int r = map(2, hold_the_first_chunk, in, out, (size_t)n, 0);
        int first = 1;
        while (first < n && B->tid[first] == B->tid[0])
            first++;
        board_free();
        fl_expect_int(r, 0, name, "");
        ck_assert_msg(first == want,
                      "%s(nworkers=2, n=%d, chunk=0): the first chunk held "
                      "%d items, expected %d. chunk 0 means Python's rule: "
                      "n divided by 4 * nworkers, rounded up (16 / 8 = 2, "
                      "17 / 8 = 3: one more whenever it does not divide "
                      "evenly).",
                      name, n, first, want);
    }
}

FL_TEST(test_mp_par_map_takes_pythons_chunksize_by_default)
{
    takes_pythons_chunksize(mp_par_map, "mp_par_map");
}

FL_TEST(test_mp_thread_map_takes_pythons_chunksize_by_default)
{
    takes_pythons_chunksize(mp_thread_map, "mp_thread_map");
}

// A kernel that flushes stdio in a worker writes whatever the worker's
// copy of the caller's buffer held: flushed before the fork, it is empty.
// Stdout, and a file of the caller's: fflush(stdout) is not enough.
// Returns mp_par_map's error, else 1000 + the times the file has the line.
static int
print_then_map(void *arg)
{
    (void)arg;
    enum { N = 4 };
    long in[N], out[N];
    items(in, out, N);
    FILE *side = tmpfile();
    if (side == NULL)
        return -1;
    fputs("in a file\n", side); // held in the FILE's buffer too
    printf("before the map\n"); // stdout is a pipe here: held in the buffer
    int r = mp_par_map(2, flushing, in, out, N, 1);
    fflush(stdout);
    char text[256] = "";
    rewind(side);
    size_t got = fread(text, 1, sizeof text - 1, side);
    text[got] = '\0';
    fclose(side);
    int seen = 0;
    for (const char *p = text; (p = strstr(p, "in a file")) != NULL; p++)
        seen++;
    return r != 0 ? r : 1000 + seen;
}

FL_TEST(test_mp_par_map_flushes_stdio_before_forking)
{
    fl_child c;
    fl_run_in_child(print_then_map, NULL, 5000, 1, &c);
    int seen = 0;
    for (const char *p = c.out; (p = strstr(p, "before the map")) != NULL; p++)
        seen++;
    int in_file = c.returned && c.value >= 1000 ? c.value - 1000 : -1;
    ck_assert_msg(c.returned && c.value == 1001 && seen == 1,
                  "a caller printed \"before the map\" (still in its stdio "
                  "buffer: stdout is a pipe) and a line to a file of its "
                  "own (a FILE, buffered too), then called mp_par_map with "
                  "2 workers whose kernel flushes every stream; it "
                  "returned %s, the stdout line came out %d times and the "
                  "file's line %d times, expected once each. fflush(NULL) "
                  "before fork(), every stream, not only stdout: each "
                  "worker gets a copy of the caller's buffers and writes "
                  "them again.",
                  !c.returned      ? "nothing"
                  : c.value < 1000 ? fl_ret(c.value)
                                   : "0",
                  seen, in_file);
}

// mp_par_map in a caller that ignores SIGCHLD: the kernel reaps the
// workers itself, and waitpid fails with ECHILD once a worker is gone.
// Returns mp_par_map's answer, or 1000 with wrong results.
static int
map_ignoring_sigchld(void *arg)
{
    (void)arg;
    enum { N = 8 };
    long in[N], out[N];
    items(in, out, N);
    signal(SIGCHLD, SIG_IGN);
    int r = mp_par_map(2, good, in, out, N, 1);
    for (int i = 0; i < N && r == 0; i++)
        if (out[i] != good(i))
            r = 1000;
    return r;
}

FL_TEST(test_mp_par_map_reaps_every_worker)
{
    enum { N = 40 };
    long in[N], out[N];
    for (int i = 0; i < N; i++)
        in[i] = i;
    int r = mp_par_map(4, mp_primes_in_block, in, out, N, 1);
    fl_expect_int(r, 0, "mp_par_map(nworkers=4)", "");
    // The given kernel, against counts known from elsewhere: 168 primes
    // below 1000 (2 and the squares 9, 25, ... the traps), 135 from 1000
    // to 1999, 4203 below 40000, none in a negative block.
    long below = 0;
    for (int i = 0; i < N; i++)
        below += out[i];
    ck_assert_msg(out[0] == 168 && out[1] == 135 && below == 4203 &&
                      mp_primes_in_block(-1) == 0,
                  "mp_primes_in_block gave %ld primes in block 0 (expected "
                  "168), %ld in block 1 (135), %ld in blocks 0 to 39 "
                  "(4203) and %ld in block -1 (0). The given kernel counts "
                  "2 as a prime, stops the trial division at d * d <= x "
                  "(else 9, 25, 49... pass as primes) and takes block b "
                  "from b * MP_BLOCK up to (b + 1) * MP_BLOCK, excluded.",
                  out[0], out[1], below, mp_primes_in_block(-1));
    int live, zombies;
    children(&live, &zombies);
    ck_assert_msg(live == 0 && zombies == 0,
                  "after mp_par_map(nworkers=4) returned, %d of its workers "
                  "still ran and %d were zombies: waitpid every worker "
                  "before returning",
                  live, zombies);
    fl_child c;
    fl_run_in_child(map_ignoring_sigchld, NULL, 2000, 0, &c);
    ck_assert_msg(c.returned && c.value == 0,
                  "mp_par_map(nworkers=2, n=8) in a caller that ignores "
                  "SIGCHLD %s%s. The kernel then reaps the workers itself, "
                  "and waitpid fails with ECHILD: call it again on EINTR "
                  "only, any other failure means that worker is gone.",
                  c.returned    ? "returned "
                  : c.timed_out ? "never returned (waitpid called again "
                                  "and again after ECHILD?)"
                                : "ended the caller",
                  c.returned ? fl_ret(c.value) : "");
}

FL_TEST(test_mp_par_map_rejects_bad_arguments)
{
    rejects_bad_arguments(mp_par_map, "mp_par_map");
}

FL_TEST(test_mp_par_map_of_no_items_returns_0)
{
    of_no_items_returns_0(mp_par_map, "mp_par_map");
}

/* ------------------------------------------------------- mp_thread_map */

FL_TEST(test_mp_thread_map_matches_the_serial_run)
{
    matches_the_serial_run(mp_thread_map, "mp_thread_map");
}

FL_TEST(test_mp_thread_map_runs_each_item_exactly_once)
{
    runs_each_item_once(mp_thread_map, "mp_thread_map");
}

FL_TEST(test_mp_thread_map_runs_the_threads_at_the_same_time_in_one_process)
{
    run_together(mp_thread_map, "mp_thread_map", 4);
    int has_me, has_none;
    int pids = distinct(B->pid, 8, getpid(), &has_me);
    int tids = distinct(B->tid, 8, 0, &has_none);
    ck_assert_msg(pids == 1 && has_me && tids >= 4,
                  "mp_thread_map(nworkers=4): the items ran in %d processes "
                  "(%s the caller) and %d threads, expected all in the "
                  "caller's process, in at least 4 threads: threads, not "
                  "fork",
                  pids, has_me ? "among them" : "not", tids);
    int live, zombies;
    children(&live, &zombies);
    ck_assert_msg(live + zombies == 0, "mp_thread_map started %d processes",
                  live + zombies);
    board_free();
}

FL_TEST(test_mp_thread_map_hands_out_chunks_dynamically)
{
    hands_out_chunks_dynamically(mp_thread_map, "mp_thread_map");
}

FL_TEST(test_mp_thread_map_rejects_bad_arguments)
{
    rejects_bad_arguments(mp_thread_map, "mp_thread_map");
}

FL_TEST(test_mp_thread_map_of_no_items_returns_0)
{
    of_no_items_returns_0(mp_thread_map, "mp_thread_map");
}

// Two calls of mp_thread_map at once, from two threads: call A's item 0
// waits until call B, made meanwhile, has returned.  Each call has a
// share of its own; with one shared by both (static), B's share_init
// takes A's over, and A's other items are never done.
static atomic_int two_calls; // 1: A is at its item 0; 2: B has returned

static long
held_until_b_returns(long x)
{
    if (x == 0) {
        atomic_store(&two_calls, 1);
        long end = fl_now_ms() + WAIT_MS;
        while (atomic_load(&two_calls) < 2 && fl_now_ms() < end)
            poll(NULL, 0, 1);
    }
    return good(x);
}

static long
plus_1000(long x)
{
    return 1000 + x;
}

struct call_a {
    long in[4], out[4];
    int r;
};

static void *
make_call_a(void *arg)
{
    struct call_a *a = arg;
    a->r = mp_thread_map(1, held_until_b_returns, a->in, a->out, 4, 1);
    return NULL;
}

FL_TEST(test_mp_thread_map_keeps_two_calls_at_once_apart)
{
    struct call_a a;
    long in[4], out[4];
    items(a.in, a.out, 4);
    items(in, out, 4);
    atomic_store(&two_calls, 0);
    pthread_t t;
    ck_assert_msg(pthread_create(&t, NULL, make_call_a, &a) == 0,
                  "the test could not start its thread");
    long end = fl_now_ms() + WAIT_MS;
    while (atomic_load(&two_calls) < 1 && fl_now_ms() < end)
        poll(NULL, 0, 1);
    int r = mp_thread_map(1, plus_1000, in, out, 4, 1);
    atomic_store(&two_calls, 2);
    pthread_join(t, NULL);
    fl_expect_int(r, 0, "mp_thread_map (call B)", "");
    fl_expect_int(a.r, 0, "mp_thread_map (call A)", "");
    for (int i = 0; i < 4; i++)
        ck_assert_msg(a.out[i] == good(i) && out[i] == 1000 + i,
                      "two threads each called mp_thread_map(1 thread, 4 "
                      "items), B while A was at its item 0: A's out[%d] is "
                      "%ld, expected %ld, and B's %ld, expected %d. Each "
                      "call shares its items out through a struct share of "
                      "its own, on its stack: a static one is the same for "
                      "every call, and B's share_init took A's over.",
                      i, a.out[i], good(i), out[i], 1000 + i);
}

/* ---------------------------------------------------- the test server */

// A tiny HTTP/1.0 server on 127.0.0.1: one process that accepts, and one
// forked handler per connection.  A handler reads the request, counts
// itself in (enter), waits at the gate until want requests are in at once
// (or the deadline), answers, and counts itself out.  Paths:
//   /bytes/N   200 with a body of N bytes, sent in pieces
//   /whole/N   200 with a body of N bytes (up to 60000), sent with its
//              header in one send: a reader finds them all there at once
//   /missing   404 with "not found\n"
//   /cut       "HTTP/1.0 2" and the connection closed: cut short
//   /nothttp   "SSH-2.0-x", a blank line and 3 bytes: not HTTP
//   /five      "SSH-2", then nothing until the client closes (or the
//              deadline): 5 bytes are enough to see it is not HTTP
//   /longhead  a header line of 9000 bytes, never ended, then closed
//   /kill      no answer: SIGKILL to every child of the test but the
//              server, the one worker fetching it among them
//   /hold      200 with 1 byte, once every other URL is answered, or
//              once a worker has ended (it found no URL left) while the
//              others are not: then they were held with this one
//   /status/S  "HTTP/1.0 S x", a blank line, no body: the status line
//              as it is (S = 99, 100, 999, 1000, abc)
// A request that is not "GET /path HTTP/1.0" with a Host header naming
// 127.0.0.1 (a port after it or not), or has bytes after its blank line,
// gets 400:
// HTTP/1.1 lets the server keep the connection open, and the body would
// never end with EOF.

struct server {
    pid_t pid;
    int port;
    int stop; // closing it ends the server
};

static int
send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static void
answer(int fd, int status, const char *reason, long len)
{
    char head[256], body[65536];
    int h = snprintf(head, sizeof head,
                     "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %ld\r\n\r\n",
                     status, reason, len);
    if (send_all(fd, head, (size_t)h) < 0)
        return;
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('a' + i % 26);
    if (status == 404)
        memcpy(body, "not found\n", 10);
    while (len > 0) {
        size_t piece = len < (long)sizeof body ? (size_t)len : sizeof body;
        if (send_all(fd, body, piece) < 0)
            return;
        len -= (long)piece;
    }
}

// 200 with len bytes, header and body in one send: on loopback they reach
// the reader's socket at once, so that its second read finds more than a
// buffer's worth waiting.
static void
answer_whole(int fd, long len)
{
    static char all[61000];
    int h = snprintf(all, sizeof all, "HTTP/1.0 200 OK\r\n\r\n");
    if (len < 0 || len > (long)sizeof all - h) {
        answer(fd, 400, "Bad Request", 0);
        return;
    }
    memset(all + h, 'w', (size_t)len);
    send_all(fd, all, (size_t)h + (size_t)len);
}

// Whether a child of the test other than the server has ended (a zombie):
// a worker that found no URL left.
static int
worker_ended(void)
{
    pid_t kids[16];
    int k = fl_children_of(B->test, kids, 16);
    for (int i = 0; i < k; i++)
        if (kids[i] != getppid() && fl_proc_state(kids[i]) == 'Z')
            return 1;
    return 0;
}

static void
handle(int fd)
{
    char req[4096];
    size_t have = 0;
    req[0] = '\0';
    while (strstr(req, "\r\n\r\n") == NULL && have < sizeof req - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long end = B->read_end ? B->read_end : B->deadline + WAIT_MS;
        long left = end - fl_now_ms();
        if (poll(&p, 1, left > 0 ? (int)left : 0) <= 0)
            return; // a request never finished
        ssize_t n = read(fd, req + have, sizeof req - 1 - have);
        if (n <= 0)
            return;
        have += (size_t)n;
        req[have] = '\0';
    }
    char path[1024];
    int minor;
    // The Host header names the URL's host, with or without its port.
    // Nothing comes after the blank line (a client sending its whole
    // buffer sends it in one piece: it arrives in the same read).
    const char *host = strstr(req, "\r\nHost: 127.0.0.1");
    const char *blank = strstr(req, "\r\n\r\n");
    int ok = sscanf(req, "GET %1023s HTTP/1.%d", path, &minor) == 2 &&
             minor == 0 && host != NULL &&
             (host[17] == '\r' || host[17] == ':') && blank != NULL &&
             blank + 4 == req + have;
    enter();
    wait_gate();
    long len;
    if (!ok)
        answer(fd, 400, "Bad Request", 0);
    else if (sscanf(path, "/bytes/%ld", &len) == 1)
        answer(fd, 200, "OK", len);
    else if (sscanf(path, "/whole/%ld", &len) == 1)
        answer_whole(fd, len);
    else if (strcmp(path, "/cut") == 0)
        send_all(fd, "HTTP/1.0 2", 10);
    else if (strncmp(path, "/status/", 8) == 0) {
        char line[1100];
        int h = snprintf(line, sizeof line, "HTTP/1.0 %s x\r\n\r\n", path + 8);
        send_all(fd, line, (size_t)h);
    } else if (strcmp(path, "/nothttp") == 0)
        send_all(fd, "SSH-2.0-x\r\n\r\nabc", 17);
    else if (strcmp(path, "/five") == 0) {
        // The mark is made before this end closes: a client that reads on
        // sees EOF only after it.
        char c;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int held = 2;
        if (send_all(fd, "SSH-2", 5) == 0)
            for (long left; (left = B->deadline - fl_now_ms()) > 0;)
                if (poll(&p, 1, (int)left) > 0) {
                    held = read(fd, &c, 1) <= 0 ? 1 : 2;
                    break;
                }
        atomic_store(&B->five_held, held);
    } else if (strcmp(path, "/longhead") == 0) {
        static char line[9000];
        memset(line, 'a', sizeof line);
        memcpy(line, "HTTP/1.0 200 OK\r\nX-Pad: ", 24);
        send_all(fd, line, sizeof line);
    } else if (sscanf(path, "/head/%ld", &len) == 1 && len >= 28 &&
               len <= 8996) {
        // A header of exactly len bytes, blank line included, then 5
        // bytes of body.
        static char line[9001];
        memset(line, 'a', sizeof line);
        memcpy(line, "HTTP/1.0 200 OK\r\nX-Pad: ", 24);
        memcpy(line + len - 4, "\r\n\r\nbody!", 9);
        send_all(fd, line, (size_t)len + 5);
    } else if (strcmp(path, "/kill") == 0) {
        pid_t kids[16];
        int k = fl_children_of(B->test, kids, 16);
        for (int i = 0; i < k; i++)
            if (kids[i] != getppid())
                kill(kids[i], SIGKILL);
    } else if (strcmp(path, "/hold") == 0) {
        while (atomic_load(&B->answered) < B->n - 1 && !worker_ended() &&
               fl_now_ms() < B->deadline)
            poll(NULL, 0, 1);
        B->held_saw = atomic_load(&B->answered);
        answer(fd, 200, "OK", 1);
    } else
        answer(fd, 404, "Not Found", 10);
    atomic_fetch_add(&B->answered, 1);
    leave();
}

static void
server_main(int lfd, int stop)
{
    struct pollfd p[2] = {{.fd = lfd, .events = POLLIN},
                          {.fd = stop, .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents != 0)
            break; // the test closed its end: the end
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        if (fork() == 0) {
            close(lfd);
            close(stop);
            handle(fd);
            close(fd);
            _exit(0);
        }
        close(fd);
    }
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    _exit(0);
}

// A socket bound to 127.0.0.1 on a port the kernel picks; *port says which.
static int
bound_socket(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_msg(fd >= 0, "socket failed: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ck_assert_msg(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
                      getsockname(fd, (struct sockaddr *)&a, &len) == 0,
                  "bind to 127.0.0.1 failed: %s", strerror(errno));
    *port = ntohs(a.sin_port);
    return fd;
}

// Start the server for a fetch of n URLs, answering once want are in.
static void
server_start(struct server *sv, int n, int want)
{
    board_new(n, want);
    int lfd = bound_socket(&sv->port);
    ck_assert_msg(listen(lfd, 64) == 0, "listen failed: %s", strerror(errno));
    int stop[2];
    ck_assert_msg(pipe(stop) == 0, "pipe failed: %s", strerror(errno));
    fflush(NULL);
    sv->pid = fork();
    ck_assert_msg(sv->pid >= 0, "fork failed: %s", strerror(errno));
    if (sv->pid == 0) {
        close(stop[1]);
        server_main(lfd, stop[0]);
    }
    close(lfd);
    close(stop[0]);
    sv->stop = stop[1];
}

static void
server_stop(struct server *sv)
{
    close(sv->stop);
    while (waitpid(sv->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    board_free();
}

// "http://127.0.0.1:PORT/path" into url (one of 8 buffers, in turn).
static const char *
url_of(int port, const char *path)
{
    static char bufs[8][128];
    static int next;
    char *u = bufs[next++ % 8];
    snprintf(u, sizeof bufs[0], "http://127.0.0.1:%d%s", port, path);
    return u;
}

// Fail unless res is status with that many bytes.
static void
expect_page(const char *url, mp_fetch_result res, int status, long bytes,
            const char *hint)
{
    ck_assert_msg(res.status == status && res.bytes == bytes,
                  "%s: status %s with %ld bytes, expected %s with %ld "
                  "bytes. %s",
                  url, fl_ret(res.status), res.bytes, fl_ret(status), bytes,
                  res.status == 0
                      ? "Status 0: no result reached the caller, or it was "
                        "read before a worker stored it (MAP_SHARED results, "
                        "copied out once every worker has been waited for)."
                      : hint);
}

/* -------------------------------------------------------- mp_fetch_all */

// One read bringing a piece of the header: the hint (read number, bytes).
#define PIECES_HINT                                                            \
    "Its read number %d brought at most %zu byte(s): one read may bring a "    \
    "piece of the header only. Read on into buf + have, adding up have, "      \
    "until the blank line is in."

// One read failing: the hint (read number, unused).
#define READ_FAILED_HINT                                                       \
    "Its read number %d failed (ECONNRESET): read_some gives -errno, and "     \
    "read_answer returns it, in the header or in the body alike; the "         \
    "URL's status is that -errno, with 0 bytes."

// A piece of the header, then the rest and more than a buffer's worth of
// body waiting at once: the hint (read number, bytes).
#define WHOLE_HINT                                                             \
    "Its read number %d brought %zu byte(s), and the next one found the "      \
    "rest of the header and 20000 bytes of body waiting: a read at buf + "     \
    "have has room for sizeof buf - 1 - have bytes, not sizeof buf - 1."

FL_TEST(test_mp_fetch_all_gets_every_page)
{
    struct server sv;
    server_start(&sv, 6, 1);
    // The seventh, for the cuts only, comes with its header in one send.
    long sizes[7] = {0, 1, 100, 5000, 70000, 3, 20000};
    const char *urls[7];
    char path[64];
    for (int i = 0; i < 7; i++) {
        snprintf(path, sizeof path, i < 6 ? "/bytes/%ld" : "/whole/%ld",
                 sizes[i]);
        urls[i] = url_of(sv.port, path);
    }
    // On the heap, exactly 6: the sanitizer pass sees a result written
    // past them (this file is not built with it, so an array here would
    // have no red zone around it).
    mp_fetch_result *res = malloc(6 * sizeof *res);
    ck_assert_msg(res != NULL, "malloc failed");
    int r = mp_fetch_all(urls, 6, 3, res);
    // Then mostly the page of 100 bytes with the worker's first (or second)
    // read cut short: the header comes in pieces, each added after the ones
    // before it in the buffer.  Then with its first read, then its first
    // send, interrupted by a signal (EINTR): try again.  Then its first
    // send cut short: send the rest, from where it stopped, down to the
    // last byte (a send of all but one leaves one to send).  Then its
    // first read (in the header), its second (in the body: the header
    // came in one piece), the third for the page of 70000 bytes (in the
    // body, with bytes counted already: 8191 at most came before) and its
    // first send failing (ECONNRESET): that error, with 0 bytes, whatever
    // was counted before.  Last, 7 bytes of the header, then the rest and
    // 20000 bytes of body at once: the second read must fit what is left
    // of buf (the sanitizer pass sees it overflow).  (recv and write too,
    // for code that reads or sends with those.)
    enum { CUTS = 13 };
    static const struct {
        int page; // which of urls
        const char *fn, *alt;
        int nth;
        size_t max; // 0: EINTR, or err
        int err;    // 0: the call is cut short or interrupted
        const char *hint;
    } cuts[CUTS] = {
        {2, "read", "recv", 1, 1, 0, PIECES_HINT},
        {2, "read", "recv", 1, 7, 0, PIECES_HINT},
        {2, "read", "recv", 2, 3, 0, PIECES_HINT},
        {2, "read", "recv", 1, 4, 0, PIECES_HINT},
        {2, "read", "recv", 1, 0, 0,
         "Its first read failed with EINTR (a signal came): read again."},
        {2, "send", "write", 1, 0, 0,
         "Its first send failed with EINTR (a signal came): send again."},
        {2, "send", "write", 1, 5, 0,
         "Its send number %d sent at most %zu bytes: send the rest, "
         "from buf + the bytes sent."},
        {2, "send", "write", 1,
         sizeof "GET /bytes/100 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" - 2, 0,
         "Its send number %d sent %zu bytes, all but the last one: send "
         "while len > 0, until no byte is left, not while len > 1."},
        {2, "read", "recv", 1, 0, ECONNRESET, READ_FAILED_HINT},
        {2, "read", "recv", 2, 0, ECONNRESET, READ_FAILED_HINT},
        {4, "read", "recv", 3, 0, ECONNRESET, READ_FAILED_HINT},
        {2, "send", "write", 1, 0, ECONNRESET,
         "Its first send failed (ECONNRESET): that -errno is the URL's "
         "status; do not read an answer to a request never sent."},
        {6, "read", "recv", 1, 7, 0, WHOLE_HINT},
    };
    mp_fetch_result cut[CUTS];
    for (int i = 0; i < CUTS; i++) {
        fl_fault_reset(); // armed here, they act in the worker
        if (cuts[i].err != 0) {
            fl_fault_fail(cuts[i].fn, cuts[i].nth, cuts[i].err);
            fl_fault_fail(cuts[i].alt, cuts[i].nth, cuts[i].err);
        } else if (cuts[i].max > 0) {
            fl_fault_short(cuts[i].fn, cuts[i].nth, cuts[i].max);
            fl_fault_short(cuts[i].alt, cuts[i].nth, cuts[i].max);
        } else {
            fl_fault_eintr(cuts[i].fn, cuts[i].nth);
            fl_fault_eintr(cuts[i].alt, cuts[i].nth);
        }
        // A request never sent: the server stops waiting for it soon, so
        // that code reading an answer anyway gets EOF at once.
        // A request sent in pieces: the server gives up on one not whole
        // within 2 s, so that code that never sends the rest gets EOF.
        int unsent = cuts[i].err != 0 && strcmp(cuts[i].fn, "send") == 0;
        int cut_short = cuts[i].max > 0 && strcmp(cuts[i].fn, "send") == 0;
        B->read_end = unsent      ? fl_now_ms() + 300
                      : cut_short ? fl_now_ms() + 2000
                                  : 0;
        int rc = mp_fetch_all(&urls[cuts[i].page], 1, 1, &cut[i]);
        B->read_end = 0;
        fl_fault_reset();
        if (rc < 0)
            cut[i].status = rc;
    }
    server_stop(&sv);
    mp_fetch_result got[6];
    memcpy(got, res, sizeof got);
    free(res);
    fl_expect_int(r, 0, "mp_fetch_all(6 URLs, 3 workers): failed fetches", "");
    for (int i = 0; i < 6; i++)
        expect_page(urls[i], got[i], 200, sizes[i],
                    "res[i] is the answer to urls[i]; status 400 means the "
                    "request was not \"GET /path HTTP/1.0\\r\\nHost: "
                    "127.0.0.1\\r\\n\\r\\n\" (the Host header names the "
                    "URL's host), and nothing after it: send the len bytes "
                    "snprintf wrote, not sizeof req; the body is what "
                    "follows the blank line, read until EOF.");
    for (int i = 0; i < CUTS; i++) {
        char hint[256];
        snprintf(hint, sizeof hint, cuts[i].hint, cuts[i].nth, cuts[i].max);
        expect_page(urls[cuts[i].page], cut[i],
                    cuts[i].err ? -cuts[i].err : 200,
                    cuts[i].err ? 0 : sizes[cuts[i].page], hint);
    }
}

FL_TEST(test_mp_fetch_all_keeps_8_requests_in_flight_at_once)
{
    struct server sv;
    server_start(&sv, 8, 8);
    const char *urls[8];
    for (int i = 0; i < 8; i++)
        urls[i] = url_of(sv.port, "/bytes/10");
    mp_fetch_result res[8];
    int r = mp_fetch_all(urls, 8, 8, res);
    int most = B->most;
    server_stop(&sv);
    fl_expect_int(r, 0, "mp_fetch_all(8 URLs, 8 workers): failed fetches", "");
    ck_assert_msg(most == 8,
                  "mp_fetch_all(8 URLs, 8 workers) against a server that "
                  "answers once 8 requests are in: at most %d request(s) "
                  "were in at once (it answered anyway after %d ms). Fork "
                  "all 8 workers, and do not cap them at the number of "
                  "cores: a worker waiting for a server uses no CPU.",
                  most, WAIT_MS);
    for (int i = 0; i < 8; i++)
        expect_page(urls[i], res[i], 200, 10, "");
}

// 9 URLs, 2 workers: the server holds URL 0 until the 8 others are
// answered.  One URL at a time, the other worker fetches all 8; in chunks
// of Python's rule (2 here), URL 1 waits behind URL 0 in the same worker.
FL_TEST(test_mp_fetch_all_hands_out_one_url_at_a_time)
{
    enum { N = 9 };
    struct server sv;
    server_start(&sv, N, 1);
    B->held_saw = -1;
    const char *urls[N];
    static char bufs[N][64];
    for (int i = 0; i < N; i++) {
        snprintf(bufs[i], sizeof bufs[i], "http://127.0.0.1:%d%s", sv.port,
                 i == 0 ? "/hold" : "/bytes/2");
        urls[i] = bufs[i];
    }
    mp_fetch_result res[N];
    int r = mp_fetch_all(urls, N, 2, res);
    int saw = B->held_saw;
    server_stop(&sv);
    fl_expect_int(r, 0, "mp_fetch_all(9 URLs, 2 workers): failed fetches", "");
    ck_assert_msg(saw == N - 1,
                  "mp_fetch_all(9 URLs, 2 workers) with URL 0 held by a slow "
                  "server: %d of the other 8 URLs were answered while it "
                  "was held, expected all 8 (the free worker fetches them "
                  "one by one). Hand the URLs out ONE at a time (chunks of "
                  "1), not in chunks of Python's default rule: a worker "
                  "waiting on a slow server must not sit on URLs another "
                  "worker could fetch.",
                  saw < 0 ? 0 : saw);
    expect_page(urls[0], res[0], 200, 1, "");
    for (int i = 1; i < N; i++)
        expect_page(urls[i], res[i], 200, 2, "");
}

FL_TEST(test_mp_fetch_all_reads_a_large_body_in_full)
{
    struct server sv;
    server_start(&sv, 1, 1);
    const char *url = url_of(sv.port, "/bytes/1048593");
    mp_fetch_result res;
    // With the caller's stdin closed: the worker's socket is fd 0, a
    // descriptor like any other (socket fails with -1, not 0).
    int saved = dup(0);
    close(0);
    int r = mp_fetch_all(&url, 1, 1, &res);
    if (saved >= 0) {
        dup2(saved, 0);
        close(saved);
    }
    server_stop(&sv);
    ck_assert_msg(r < 0 || res.status > 0,
                  "%s, fetched with the caller's stdin closed: status %s. "
                  "socket() then returns 0, the lowest free descriptor, a "
                  "valid one: only -1 is its failure (fd < 0, not fd <= 0).",
                  url, fl_ret(res.status));
    fl_expect_int(r, 0, "mp_fetch_all(a 1 MiB page): failed fetches", "");
    expect_page(url, res, 200, 1048593,
                "A body of 1 MiB arrives in many pieces: read until read() "
                "returns 0 (EOF), counting every piece.");
}

FL_TEST(test_mp_fetch_all_reports_a_404_as_an_answer)
{
    struct server sv;
    server_start(&sv, 4, 1);
    // The third URL has no path: GET / (a 404 here), not "GET  HTTP/1.0".
    // The fourth writes its port with a leading 0: decimal all the same.
    char zero[64];
    snprintf(zero, sizeof zero, "http://127.0.0.1:0%d/bytes/4", sv.port);
    const char *urls[4] = {url_of(sv.port, "/missing"),
                           url_of(sv.port, "/bytes/7"), url_of(sv.port, ""),
                           zero};
    mp_fetch_result res[4];
    int r = mp_fetch_all(urls, 4, 2, res);
    server_stop(&sv);
    fl_expect_int(r, 0, "mp_fetch_all: failed fetches, with one 404",
                  "a 404 is the server's answer, not a failed fetch");
    expect_page(urls[0], res[0], 404, 10,
                "Report the status of the first line, \"HTTP/1.0 404 Not "
                "Found\", and the body's length, as for any answer.");
    expect_page(urls[1], res[1], 200, 7, "");
    expect_page(urls[2], res[2], 404, 10,
                "A URL without a path asks for \"/\": parse_url (given) "
                "sets path to \"/\" then, so that the request line is "
                "\"GET / HTTP/1.0\" (status 400: it was not).");
    expect_page(urls[3], res[3], 200, 4,
                "A port written with a leading 0 is still decimal: "
                "parse_url (given) reads it with strtol base 10, not base 0 "
                "(octal, or hex after 0x).");
}

FL_TEST(test_mp_fetch_all_reports_a_refused_connection_for_that_url_only)
{
    struct server sv;
    server_start(&sv, 3, 1);
    int dead_port, dead = bound_socket(&dead_port); // bound, not listening
    // The fourth, at an address of 15 characters, the longest IPv4 has
    // (a loopback one: all of 127/8 is), where nothing listens either.
    char longest[64];
    snprintf(longest, sizeof longest, "http://127.100.100.100:%d/", dead_port);
    const char *urls[4] = {url_of(sv.port, "/bytes/5"),
                           url_of(dead_port, "/bytes/5"),
                           url_of(sv.port, "/bytes/6"), longest};
    mp_fetch_result res[4];
    int r = mp_fetch_all(urls, 4, 2, res);
    server_stop(&sv);
    close(dead);
    fl_expect_int(r, 2,
                  "mp_fetch_all(4 URLs, two to a closed port): "
                  "failed fetches",
                  r == -EPIPE
                      ? "-EPIPE says a worker ended with URLs undone: did a "
                        "worker exit when its fetch failed? A failed fetch "
                        "is not a failed worker: give that URL its -errno "
                        "as its status and go on to the next URL"
                      : "the return value counts the fetches whose status "
                        "is negative");
    expect_page(urls[1], res[1], -ECONNREFUSED, 0,
                "connect() failed: its -errno is that URL's status");
    expect_page(urls[3], res[3], -ECONNREFUSED, 0,
                "Its address has 15 characters, the most an IPv4 address "
                "has: the host buffer needs room for 15 and the NUL "
                "(-EINVAL: parse_url found the host too long for it).");
    expect_page(urls[0], res[0], 200, 5,
                "One URL failing must not stop the others: give it its "
                "error and go on to the next URL.");
    expect_page(urls[2], res[2], 200, 6,
                "One URL failing must not stop the others: give it its "
                "error and go on to the next URL.");
}

FL_TEST(test_mp_fetch_all_reports_an_answer_cut_short)
{
    struct server sv;
    enum { N = 8 };
    server_start(&sv, N, 1);
    // Then status lines at the limits of parse_head: 100 to 999 are
    // statuses, 99, 1000 and a word are not HTTP.  Last, 5 bytes that are
    // not "HTTP/" and a server that waits: they are enough to tell.
    static const struct {
        const char *path;
        int status;
    } lines[N - 3] = {{"/status/99", -EPROTO},
                      {"/status/100", 100},
                      {"/status/999", 999},
                      {"/status/1000", -EPROTO},
                      {"/status/abc", -EPROTO}};
    const char *urls[N] = {url_of(sv.port, "/cut"),
                           url_of(sv.port, "/nothttp")};
    for (int i = 2; i < N - 1; i++)
        urls[i] = url_of(sv.port, lines[i - 2].path);
    urls[N - 1] = url_of(sv.port, "/five");
    mp_fetch_result res[N];
    int r = mp_fetch_all(urls, N, 2, res);
    int five_held = atomic_load(&B->five_held);
    server_stop(&sv);
    for (int i = 2; i < N - 1; i++)
        expect_page(urls[i], res[i], lines[i - 2].status, 0,
                    "The server sent \"HTTP/1.0 <status> x\", a blank line "
                    "and no body. parse_head (given) takes 100 to 999 as a "
                    "status, and anything else there (99, 1000, a word) as "
                    "not HTTP: -EPROTO.");
    expect_page(urls[0], res[0], -EPROTO, 0,
                "The server sent \"HTTP/1.0 2\" and closed: EOF before the "
                "blank line that ends the header is -EPROTO, not an answer.");
    ck_assert_msg(res[1].status == -EPROTO && res[1].bytes == 0,
                  "%s: status %s with %ld bytes, expected -71 (-EPROTO) with "
                  "0 bytes. The server sent \"SSH-2.0-x\\r\\n\\r\\nabc\": "
                  "an answer that does not start with \"HTTP/\" is not "
                  "HTTP; parse_head says so (-EPROTO): stop there and give "
                  "its error, do not read on as if the header had ended.",
                  urls[1], fl_ret(res[1].status), res[1].bytes);
    ck_assert_msg(res[N - 1].status == -EPROTO && five_held != 2,
                  "%s: status %s with %ld bytes, %s. The server sent "
                  "\"SSH-2\" and waited: 5 bytes that are not \"HTTP/\" "
                  "are already not HTTP. parse_head (given) says so once "
                  "have >= 5: give -EPROTO and close, do not wait for more.",
                  urls[N - 1], fl_ret(res[N - 1].status), res[N - 1].bytes,
                  five_held == 2 ? "the socket still open 3 s on"
                                 : "the socket closed at once");
    fl_expect_int(r, 6,
                  "mp_fetch_all(an answer cut short, 2 answers that are not "
                  "HTTP, 3 status lines out of range): failed fetches",
                  "");
}

FL_TEST(test_mp_fetch_all_gives_einval_for_a_url_it_cannot_fetch)
{
    static char longpath[3000];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    char longurl[3100];
    snprintf(longurl, sizeof longurl, "http://127.0.0.1:1%s", longpath);
    char longhost[100]; // a host of 64 bytes: one more than host[] holds
    snprintf(longhost, sizeof longhost, "http://%064d/", 1);
    // "http://localhost/" at the very end of a page that a faulting page
    // follows: parse_url (given) copies the host's len bytes into host[],
    // not hostlen bytes, which would read past the URL's end.
    static const char localhost[] = "http://localhost/";
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    char *pages = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(pages != MAP_FAILED &&
                      mprotect(pages + pg, pg, PROT_NONE) == 0,
                  "the test could not map its guarded page");
    char *at_end = pages + pg - sizeof localhost;
    memcpy(at_end, localhost, sizeof localhost);
    enum { N = 10 };
    const char *urls[N] = {"ftp://127.0.0.1/",
                           at_end,
                           "http://127.0.0.1:99999/",
                           NULL,
                           longurl,
                           "http://127.0.0.1:0/",
                           "http://127.0.0.1:65536/",
                           longhost,
                           "http://127.0.0.1:80x/",
                           "http:/x127.0.0.1:1/"};
    mp_fetch_result res[N];
    int r = mp_fetch_all(urls, N, 2, res);
    munmap(pages, 2 * pg);
    // Port 65535, the last one, is a port: whatever the fetch gives (no
    // server there, most likely), it is not -EINVAL.
    // In one worker, after a host one byte longer (not an address): what
    // is left of it in host[] past the '\0' is not part of this host.
    const char *last[2] = {"http://127.0.0.1x:65535/",
                           "http://127.0.0.1:65535/"};
    mp_fetch_result at_last[2];
    int r_last = mp_fetch_all(last, 2, 1, at_last);
    // In one worker, each right after a page it can fetch: code that goes
    // on when parse_url failed (its error tested as != 0 or < 0 turned
    // the wrong way) fetches that page again with what it left behind.
    struct server sv;
    server_start(&sv, 4, 1);
    const char *page = url_of(sv.port, "/bytes/3");
    const char *after[4] = {page, longhost, page, "http://127.0.0.1:80x/"};
    mp_fetch_result at_after[4];
    int r_after = mp_fetch_all(after, 4, 1, at_after);
    server_stop(&sv);
    for (int i = 1; i < 4; i += 2)
        ck_assert_msg(r_after >= 0 && at_after[i].status == -EINVAL,
                      "%s, right after a page that could be fetched, in "
                      "the same worker: mp_fetch_all returned %s, status "
                      "%s, expected -EINVAL (-22). Any failure of "
                      "parse_url ends that URL with its error: nothing of "
                      "host, addr or path is set then.",
                      i == 1 ? "a URL whose host is 64 bytes long"
                             : "http://127.0.0.1:80x/",
                      fl_ret(r_after), fl_ret(at_after[i].status));
    ck_assert_msg(r_last >= 1 && at_last[1].status != -EINVAL,
                  "%s: mp_fetch_all returned %s, status %s: port 65535 is "
                  "the last port, not past it (parse_url, given: port > "
                  "65535 is refused, not >=), and the host ends at ':', "
                  "not where an earlier URL's host \"127.0.0.1x\" ended "
                  "(parse_url, given: host[len] = '\\0')",
                  last[1], fl_ret(r_last), fl_ret(at_last[1].status));
    fl_expect_int(r, N,
                  "mp_fetch_all(10 URLs it cannot fetch): failed "
                  "fetches",
                  r == -EPIPE ? "-EPIPE: a worker died. http://localhost/ "
                                "ends a page, and the next page faults: "
                                "parse_url (given) copies the len bytes "
                                "of the host, no more (not hostlen)"
                              : "");
    const char *what[N] = {"ftp://127.0.0.1/",
                           "http://localhost/",
                           "http://127.0.0.1:99999/",
                           "NULL",
                           "a URL whose request is 3000 bytes long",
                           "http://127.0.0.1:0/ (ports run from 1)",
                           "http://127.0.0.1:65536/ (ports end at 65535)",
                           "a URL whose host is 64 bytes long",
                           "http://127.0.0.1:80x/ (a port, then no /)",
                           "http:/x127.0.0.1:1/ (http:/, not http://)"};
    for (int i = 0; i < N; i++)
        ck_assert_msg(res[i].status == -EINVAL && res[i].bytes == 0,
                      "%s: status %s with %ld bytes, expected -EINVAL (-22) "
                      "with 0 bytes (a fetch that failed has none): "
                      "parse_url refuses it, or the request does not fit in "
                      "its buffer",
                      what[i], fl_ret(res[i].status), res[i].bytes);
}

// Two URLs it cannot fetch (no server needed) and 8 workers asked for.
FL_TEST(test_mp_fetch_all_forks_no_more_workers_than_urls)
{
    const char *urls[2] = {"ftp://127.0.0.1/", "ftp://127.0.0.2/"};
    mp_fetch_result res[2];
    fl_fault_reset();
    int r = mp_fetch_all(urls, 2, 8, res);
    long forks = fl_fault_calls("fork");
    fl_fault_reset();
    fl_expect_int(r, 2, "mp_fetch_all(2 URLs it cannot fetch, 8 workers)", "");
    ck_assert_msg(forks == 2,
                  "mp_fetch_all(2 URLs, nworkers=8) forked %ld workers, "
                  "expected 2: cap the workers at n, the number of URLs "
                  "(one URL per chunk); the extra ones would find nothing "
                  "to do.",
                  forks);
}

// mmap and munmap calls made by one call of the code under test.
static void
expect_unmapped(const char *what, long maps, long unmaps)
{
    ck_assert_msg(maps == unmaps,
                  "%s made %ld mmap call(s) and %ld munmap call(s): "
                  "munmap the shared memory before returning, on every "
                  "path (a worker that died too), or each call leaks its "
                  "mapping for as long as the caller runs.",
                  what, maps, unmaps);
}

FL_TEST(test_mp_fetch_all_rejects_bad_arguments)
{
    const char *urls[1] = {"http://127.0.0.1:1/"};
    mp_fetch_result res[1];
    fl_fault_reset();
    int r[5] = {mp_fetch_all(urls, 1, 0, res), mp_fetch_all(NULL, 1, 1, res),
                mp_fetch_all(urls, 1, 1, NULL), mp_fetch_all(NULL, 0, 1, NULL),
                mp_fetch_all(NULL, 0, 0, NULL)};
    long maps = fl_fault_calls("mmap"), unmaps = fl_fault_calls("munmap");
    fl_fault_reset();
    ck_assert_msg(r[0] == -EINVAL && r[1] == -EINVAL && r[2] == -EINVAL &&
                      r[3] == 0 && r[4] == -EINVAL,
                  "mp_fetch_all returned %s for 0 workers, %s for NULL "
                  "urls, %s for NULL res, %s for no URLs, and %s for no "
                  "URLs and 0 workers; expected -EINVAL (-22) three times, "
                  "then 0, then -EINVAL: 0 workers is wrong even with "
                  "nothing to do (Python's Pool(0) raises ValueError)",
                  fl_ret(r[0]), fl_ret(r[1]), fl_ret(r[2]), fl_ret(r[3]),
                  fl_ret(r[4]));
    expect_unmapped("mp_fetch_all of no URLs or bad arguments", maps, unmaps);
}

/* ------------------------- error paths, EINTR and limits (issue 13) */

// A child of the test's own that has ended (exit code 7) and is not
// reaped: a zombie, for code that must reap only its own workers.
static pid_t
zombie_of_my_own(void)
{
    fflush(NULL);
    pid_t mine = fork();
    ck_assert_msg(mine >= 0, "fork failed: %s", strerror(errno));
    if (mine == 0)
        _exit(7);
    siginfo_t info;
    while (waitid(P_PID, (id_t)mine, &info, WEXITED | WNOWAIT) < 0 &&
           errno == EINTR)
        ;
    return mine;
}

// The test process's threads, from /proc/self/task.
static int
threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    ck_assert_msg(d != NULL, "opendir(/proc/self/task) failed");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += isdigit((unsigned char)e->d_name[0]) != 0;
    closedir(d);
    return n;
}

FL_TEST(test_mp_par_map_reaps_the_started_workers_when_a_fork_fails)
{
    enum { N = 12 };
    long in[N], out[N];
    FL_FAULT_WALK ("fork", EAGAIN, k) {
        items(in, out, N);
        fl_snapshot s;
        fl_snapshot_take(&s);
        int r = mp_par_map(3, good, in, out, N, 1);
        int fired = fl_fault_fired("fork") > 0;
        long forks = fl_fault_calls("fork");
        char what[96];
        snprintf(what, sizeof what,
                 "mp_par_map(3 workers) with fork number %d failing", k);
        if (fired) {
            fl_expect_int(r, -EAGAIN, what,
                          "a failed fork gives -errno, once every worker "
                          "already started has been reaped");
            // Tried again, a fork that keeps failing (EAGAIN: too many
            // processes) would loop for ever.
            ck_assert_msg(forks == k,
                          "%s: it called fork %ld times, expected %d: stop "
                          "forking at the first failure (break, not "
                          "continue), reap the workers started, and return "
                          "its -errno",
                          what, forks, k);
        } else
            expect_good("mp_par_map", out, N);
        fl_expect_no_leak(&s, what);
    }
    // Fork 2 failing with ENOMEM while worker 1, doing every item, dies at
    // item 5; the caller has a child of its own, ended and not reaped (in
    // its process group: waitpid(0, ...) would take it).  The first
    // waitpid after it is interrupted (EINTR): errno read after the
    // reaping is no longer the fork's.
    items(in, out, N);
    pid_t mine = zombie_of_my_own();
    fl_fault_reset();
    fl_fault_fail("fork", 2, ENOMEM);
    fl_fault_eintr("waitpid", 1);
    int r = mp_par_map(3, crash_on_5, in, out, N, 1);
    fl_fault_reset();
    int st = 0;
    pid_t got = waitpid(mine, &st, WNOHANG);
    if (got != mine)
        fl_kill_children();
    ck_assert_msg(r == -ENOMEM,
                  "mp_par_map(3 workers) with fork number 2 failing "
                  "(ENOMEM) while worker 1 died (SIGSEGV) returned %s, "
                  "expected -ENOMEM (-12). %s",
                  fl_ret(r),
                  r == -EPIPE ? "The fork's error wins over -EPIPE: keep "
                                "the first error, do not overwrite it when "
                                "a worker turns out dead."
                              : "A failed fork gives its -errno, whatever "
                                "it is (EAGAIN or ENOMEM), not a constant: "
                                "keep it at once, before waitpid (here "
                                "interrupted: EINTR) changes errno.");
    ck_assert_msg(got == mine && WIFEXITED(st) && WEXITSTATUS(st) == 7,
                  "the caller had a child of its own, ended with status 7 "
                  "and not yet reaped, when it called mp_par_map(3 workers) "
                  "with fork number 2 failing: afterwards the caller could "
                  "no longer reap it. Wait only for the workers started "
                  "(i < started): an unused slot of pids holds 0, and "
                  "waitpid(0, ...) reaps any child in the caller's process "
                  "group.");
}

FL_TEST(test_mp_par_map_and_mp_fetch_all_give_the_errno_of_a_failed_mmap)
{
    long in[4] = {0, 1, 2, 3}, out[4];
    const char *urls[1] = {"http://127.0.0.1:1/"};
    mp_fetch_result res[1];
    fl_fault_reset();
    fl_fault_fail("mmap", 1, ENOMEM);
    int r1 = mp_par_map(2, good, in, out, 4, 1);
    fl_fault_reset();
    fl_fault_fail("mmap", 1, ENOMEM);
    int r2 = mp_fetch_all(urls, 1, 1, res);
    long forks = fl_fault_calls("fork");
    fl_fault_reset();
    ck_assert_msg(r1 == -ENOMEM && r2 == -ENOMEM && forks == 0,
                  "with mmap failing (ENOMEM), mp_par_map returned %s and "
                  "mp_fetch_all %s, after %ld fork(s); expected -ENOMEM "
                  "twice and no fork: mmap returns MAP_FAILED and sets "
                  "errno, so return -errno (not -1, which reads as -EPERM)",
                  fl_ret(r1), fl_ret(r2), forks);
}

// socket() failing in a worker: each URL's status is -errno, not -1.
FL_TEST(test_mp_fetch_all_gives_the_errno_of_a_failed_socket)
{
    const char *urls[2] = {"http://127.0.0.1:1/", "http://127.0.0.1:1/x"};
    static const int errs[] = {EMFILE, EACCES}; // two: -errno, not a constant
    for (int i = 0; i < 2; i++) {
        int e = errs[i];
        mp_fetch_result res[2] = {{1, 1}, {1, 1}};
        fl_fault_reset();
        fl_fault_fail_from("socket", 1, e); // the workers inherit it
        int r = mp_fetch_all(urls, 2, 1, res);
        fl_fault_reset();
        ck_assert_msg(r == 2 && res[0].status == -e && res[1].status == -e &&
                          res[0].bytes == 0 && res[1].bytes == 0,
                      "with socket() failing (%s) in the worker, "
                      "mp_fetch_all returned %s and the statuses %s and %s "
                      "(%ld and %ld bytes); expected 2 failed URLs, each %s "
                      "with 0 bytes: socket() returns -1 and sets errno, so "
                      "the status is -errno (-1 would read as -EPERM)",
                      strerror(e), fl_ret(r), fl_ret(res[0].status),
                      fl_ret(res[1].status), res[0].bytes, res[1].bytes,
                      fl_ret(-e));
    }
}

// A kernel that returns only once the gate opens (or the deadline).
static long
after_the_gate(long x)
{
    wait_gate();
    return good(x);
}

struct held_map {
    long in[8], out[8];
    int r;
};

static int
held_map_call(void *arg)
{
    struct held_map *h = arg;
    h->r = mp_par_map(2, after_the_gate, h->in, h->out, 8, 1);
    return h->r;
}

static void
open_the_gate(void *arg)
{
    (void)arg;
    open_gate();
}

FL_TEST(test_mp_par_map_reaps_every_worker_despite_eintr)
{
    enum { N = 40 };
    long in[N], out[N];
    items(in, out, N);
    fl_fault_reset();
    fl_fault_eintr("waitpid", 1);
    int r = mp_par_map(3, good, in, out, N, 1);
    long waits = fl_fault_calls("waitpid");
    fl_fault_reset();
    int live, zombies;
    children(&live, &zombies);
    if (live + zombies > 0)
        fl_kill_children();
    fl_expect_int(r, 0,
                  "mp_par_map with its first waitpid interrupted "
                  "(EINTR)",
                  "");
    ck_assert_msg(live + zombies == 0 && waits >= 4,
                  "with its first waitpid interrupted by a signal (EINTR), "
                  "mp_par_map made %ld waitpid call(s) for 3 workers and "
                  "left %d running and %d zombie(s): after EINTR call "
                  "waitpid again for the same worker (its status is not "
                  "filled in, and the worker is not reaped)",
                  waits, live, zombies);
    expect_good("mp_par_map", out, N);

    // Then a storm: every waitpid is interrupted, some 100 times in all,
    // while the workers wait at the gate.
    struct held_map h;
    items(h.in, h.out, 8);
    board_new(8, MAXN);
    fl_storm_result res;
    fl_storm_hold(held_map_call, open_the_gate, &h, 500, 50, &res);
    children(&live, &zombies);
    if (live + zombies > 0)
        fl_kill_children();
    board_free();
    ck_assert_msg(!res.early && h.r == 0 && live + zombies == 0,
                  "mp_par_map(2 workers), its workers held for 50 ms "
                  "while %ld signals interrupted its waitpid (EINTR), "
                  "returned %s %s the workers could finish, and left %d "
                  "running and %d zombie(s): after EINTR call waitpid "
                  "again for the same worker, however many signals come",
                  res.signals, fl_ret(h.r), res.early ? "before" : "after",
                  live, zombies);
    expect_good("mp_par_map under a storm", h.out, 8);
}

// map with nworkers=4 on n items, counting the starts (fork or
// pthread_create); fails unless the results are right.
static long
starts_for(map_fn map, const char *name, const char *start, int nworkers,
           size_t n, size_t chunk)
{
    long in[8], out[8];
    items(in, out, (int)n);
    fl_fault_reset();
    int r = map(nworkers, good, in, out, n, chunk);
    long starts = fl_fault_calls(start);
    fl_fault_reset();
    char what[128];
    snprintf(what, sizeof what, "%s(nworkers=%d, n=%zu, chunk=%zu)%s%s%s", name,
             nworkers, n, chunk,
             starts == 0 ? ", which started no worker (no " : "",
             starts == 0 ? start : "", starts == 0 ? " call)" : "");
    fl_expect_int(r, 0, what, "");
    expect_good(what, out, (int)n);
    return starts;
}

static void
starts_one_worker_per_chunk(map_fn map, const char *name, const char *start)
{
    long rule = starts_for(map, name, start, 4, 3, 0);
    long big = starts_for(map, name, start, 4, 3, 8);
    // As many items as workers or more, but fewer chunks: [0, 4) [4, 6).
    long two = starts_for(map, name, start, 4, 6, 4);
    ck_assert_msg(rule == 3,
                  "%s(nworkers=4, n=3, chunk=0) made %ld call(s) of %s, "
                  "expected 3: the default chunk is n / (4 * nworkers) "
                  "rounded UP, 1 here (rounded down it is 0), and no more "
                  "workers start than there are chunks",
                  name, rule, start);
    ck_assert_msg(big == 1,
                  "%s(nworkers=4, n=3, chunk=8) made %ld call(s) of %s, "
                  "expected 1: 3 items make ONE chunk (count the chunks "
                  "rounded up: n / chunk, plus 1 for a short last one)",
                  name, big, start);
    ck_assert_msg(two == 2,
                  "%s(nworkers=4, n=6, chunk=4) made %ld call(s) of %s, "
                  "expected 2: 6 items make 2 chunks, [0, 4) and [4, 6); "
                  "the workers are capped at the chunks, not at the items",
                  name, two, start);
    // The largest chunk is still one chunk: n + chunk - 1 wraps to below
    // chunk, which makes 0 chunks and no worker.
    long huge = starts_for(map, name, start, 4, 3, SIZE_MAX);
    ck_assert_msg(huge == 1,
                  "%s(nworkers=4, n=3, chunk=SIZE_MAX) made %ld call(s) of "
                  "%s, expected 1: 3 items make one chunk (worker_count, "
                  "given, counts them without n + chunk - 1, which wraps)",
                  name, huge, start);
    // INT_MAX workers asked for: 4 * nworkers overflows an int (undefined
    // behaviour; wrapped, the chunk comes out 0), not a size_t.
    long most = starts_for(map, name, start, INT_MAX, 5, 0);
    ck_assert_msg(most == 5,
                  "%s(nworkers=INT_MAX, n=5, chunk=0) made %ld call(s) of "
                  "%s, expected 5: the chunk is 1 and there are 5 chunks. "
                  "Work out 4 * nworkers in size_t, 4 * (size_t)nworkers: "
                  "in int it overflows",
                  name, most, start);
}

FL_TEST(test_mp_par_map_forks_one_worker_per_chunk_when_items_are_few)
{
    starts_one_worker_per_chunk(mp_par_map, "mp_par_map", "fork");
}

FL_TEST(test_mp_thread_map_starts_one_thread_per_chunk_when_items_are_few)
{
    starts_one_worker_per_chunk(mp_thread_map, "mp_thread_map",
                                "pthread_create");
}

// A kernel that counts the items done.  Item 0 first waits (WAIT_MS at
// most) until the calling thread sleeps, as it does in pthread_join: a
// call that returns without joining never sleeps, so its thread is still
// at item 0 when the test looks.
static atomic_int busy_done;
static pid_t busy_caller;

static long
busy(long x)
{
    long end = fl_now_ms() + WAIT_MS;
    while (x == 0 && fl_proc_state(busy_caller) != 'S' && fl_now_ms() < end)
        poll(NULL, 0, 1);
    for (volatile int spin = 0; spin < 1000; spin++)
        ;
    atomic_fetch_add(&busy_done, 1);
    return good(x);
}

// mp_thread_map called 64 KiB deeper than the test's own frames: a
// thread it failed to join writes on into its dead frame, and must not
// land on the frames the test goes on to use (a crash would say less).
static __attribute__((noinline)) int
thread_map_deep(mp_kernel fn, const long *in, long *out, size_t n)
{
    volatile char pad[65536];
    pad[0] = 0;
    int r = mp_thread_map(4, fn, in, out, n, 1);
    (void)pad[0];
    return r;
}

FL_TEST(test_mp_thread_map_joins_the_started_threads_when_one_cannot_start)
{
    enum { N = 2000 };
    static long in[N], out[N];
    items(in, out, N);
    atomic_store(&busy_done, 0);
    busy_caller = (pid_t)syscall(SYS_gettid);
    fl_fault_reset();
    fl_fault_fail("pthread_create", 2, EAGAIN);
    errno = 0;
    int r = thread_map_deep(busy, in, out, N);
    int done = atomic_load(&busy_done), left = threads_now() - 1;
    long creates = fl_fault_calls("pthread_create");
    fl_fault_reset();
    ck_assert_msg(done == N && left == 0,
                  "mp_thread_map returned after its second pthread_create "
                  "failed with %d of %d items done and %d thread(s) of its "
                  "own still running: the one thread started does every "
                  "item, and must be joined before returning (it uses the "
                  "counter on your stack)",
                  done, N, left);
    fl_expect_int(r, -EAGAIN,
                  "mp_thread_map with its second pthread_create failing "
                  "(EAGAIN)",
                  "pthread_create RETURNS the error number and leaves errno "
                  "alone: return minus its return value");
    ck_assert_msg(creates == 2,
                  "mp_thread_map(nworkers=4) called pthread_create %ld "
                  "times when its second call failed, expected 2: stop "
                  "creating at the first failure (break), and join only "
                  "the threads started; t[i] of a failed call is no thread "
                  "to join",
                  creates);
}

// The ports of fetches_many: one bound but not listening, one served,
// one listening but never accepting (connections wait in its backlog).
struct two_ports {
    int dead, served, quiet;
};

// What each URL of fetches_many gives: refused, cut short, or a page.
static const struct {
    const char *path;
    int status;
    const char *what;
} fetch_kinds[4] = {{"/", -ECONNREFUSED, "a closed port"},
                    {"/cut", -EPROTO, "an answer cut short"},
                    {"/bytes/3", 200, "a page of 3 bytes"},
                    {"/", -ECONNRESET, "a send failing (ECONNRESET)"}};

// The kind of fetches_many's URL i: 36 in turn of the first three, then
// 12 whose send fails.
static int
fetch_kind(int i)
{
    return i < 36 ? i % 3 : 3;
}

// In a child with room for 8 descriptors more than it has open: one
// worker fetches 12 URLs of each of the first three kinds of fetch_kinds,
// in turn, then (a second call) 12 whose every send fails.  Returns the
// first URL that did not give its kind's status, -1 if none, or -2000 or
// -3000 plus what the first or second call returned, if that was wrong.
static int
fetches_many(void *arg)
{
    enum { URLS = 48, FIRST = 36 };
    const struct two_ports *p = arg;
    unsigned char open_fds[1024];
    fl_open_fds(open_fds, 1024);
    // The limit just past the 8th free descriptor number: descriptors
    // open above it stay usable, and a new one takes one of the 8 (after
    // the last open one would leave a caller's gaps free too).
    int room = 0, top = 0;
    for (int fd = 0; fd < 1024 && room < 8; fd++)
        if (!open_fds[fd]) {
            room++;
            top = fd + 1;
        }
    struct rlimit lim = {(rlim_t)top, (rlim_t)top};
    if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
        return -1000;
    static char bufs[URLS][64];
    const char *urls[URLS];
    static mp_fetch_result res[URLS];
    for (int i = 0; i < URLS; i++) {
        int k = fetch_kind(i);
        snprintf(bufs[i], sizeof bufs[i], "http://127.0.0.1:%d%s",
                 k == 0   ? p->dead
                 : k == 3 ? p->quiet
                          : p->served,
                 fetch_kinds[k].path);
        urls[i] = bufs[i];
    }
    int r = mp_fetch_all(urls, FIRST, 1, res);
    fl_fault_reset(); // armed here, it acts in the worker
    fl_fault_fail_from("send", 1, ECONNRESET);
    fl_fault_fail_from("write", 1, ECONNRESET);
    int r2 = mp_fetch_all(urls + FIRST, URLS - FIRST, 1, res + FIRST);
    fl_fault_reset();
    for (int i = 0; i < URLS; i++)
        if (res[i].status != fetch_kinds[fetch_kind(i)].status)
            return i * 10000 + (res[i].status < 0 ? -res[i].status : 9999);
    if (r != 2 * FIRST / 3)
        return -2000 + r;
    return r2 == URLS - FIRST ? -1 : -3000 + r2;
}

FL_TEST(test_mp_fetch_all_closes_the_socket_on_every_path)
{
    struct server sv;
    server_start(&sv, 24, 1);
    struct two_ports p;
    int dead = bound_socket(&p.dead); // bound, not listening
    int quiet = bound_socket(&p.quiet);
    ck_assert_msg(listen(quiet, 64) == 0, "listen failed: %s", strerror(errno));
    p.served = sv.port;
    fl_child res;
    fl_run_in_child(fetches_many, &p, 5000, 0, &res);
    close(dead);
    close(quiet);
    server_stop(&sv);
    int bad = res.returned ? res.value : -1000;
    char what[160] = "it did not return";
    if (res.returned && bad >= 0)
        snprintf(what, sizeof what, "URL %d, %s, gave %s, expected %s",
                 bad / 10000, fetch_kinds[fetch_kind(bad / 10000)].what,
                 bad % 10000 == 9999 ? "a status that is not an error"
                                     : fl_ret(-(bad % 10000)),
                 fl_ret(fetch_kinds[fetch_kind(bad / 10000)].status));
    else if (res.returned && bad != -1)
        snprintf(what, sizeof what,
                 "the %s call returned %s failed fetches, expected %d",
                 bad > -2500 ? "first" : "second",
                 fl_ret(bad > -2500 ? bad + 2000 : bad + 3000),
                 bad > -2500 ? 24 : 12);
    ck_assert_msg(res.returned && bad == -1,
                  "one worker with room for 8 more descriptors fetched 36 "
                  "URLs, in turn of a closed port (-ECONNREFUSED), an "
                  "answer cut short (-EPROTO) and a page (200), then 12 "
                  "whose send failed (-ECONNRESET): %s. Close the socket "
                  "on every path of http_get (connect() failing, send_all "
                  "failing, read_answer failing, and success), or each "
                  "fetch leaks a descriptor and the worker runs out of them "
                  "(-EMFILE)",
                  what);
}

/* ------------------------------------------- round 2 of the mistake hunt */

// The caller has a child of its own, already ended, when it calls
// mp_par_map: the call waits for its workers by their pids and leaves the
// caller's child (and its status) to the caller.
FL_TEST(test_mp_par_map_reaps_only_its_own_workers)
{
    enum { N = 8 };
    long in[N], out[N];
    items(in, out, N);
    pid_t mine = zombie_of_my_own();
    int r = mp_par_map(2, good, in, out, N, 1);
    int st = 0;
    pid_t got = waitpid(mine, &st, WNOHANG);
    int live, zombies;
    children(&live, &zombies);
    if (live + zombies > 0)
        fl_kill_children();
    ck_assert_msg(got == mine && WIFEXITED(st) && WEXITSTATUS(st) == 7 &&
                      live + zombies == 0,
                  "the caller had a child of its own, ended with status 7 "
                  "and not yet reaped, when it called mp_par_map(nworkers=2)"
                  ": afterwards %s, and %d worker(s) were left zombies. Wait "
                  "for each worker by its own pid, waitpid(pids[i], ...), "
                  "never waitpid(-1, ...) or wait(): those reap whichever "
                  "child ended first, the caller's own included, and leave "
                  "a worker unreaped.",
                  got == mine ? "the caller could still reap it"
                              : "the caller could no longer reap it: "
                                "mp_par_map had reaped it",
                  zombies);
    fl_expect_int(r, 0, "mp_par_map(nworkers=2, n=8, chunk=1)", "");
    expect_good("mp_par_map", out, N);
}

FL_TEST(test_mp_par_map_and_mp_fetch_all_unmap_their_memory)
{
    // 2048 results, 4 pages: munmap must be given the whole size mapped,
    // not sizeof(struct share) (one page), or the rest stays mapped.
    enum { BIG = 2048 };
    static long bin[BIG], bout[BIG];
    items(bin, bout, BIG);
    mp_par_map(2, good, bin, bout, BIG, 0); // the heap grows once, here
    long before = fl_vm_pages();
    int br = mp_par_map(2, good, bin, bout, BIG, 0);
    long after = fl_vm_pages();
    fl_expect_int(br, 0, "mp_par_map(nworkers=2, n=2048)", "");
    ck_assert_msg(before > 0 && after == before,
                  "mp_par_map(nworkers=2, n=2048) left the process %ld "
                  "page(s) bigger: munmap(addr, size) with the size you "
                  "gave mmap (the struct share AND the n results), not "
                  "sizeof(struct share), or the results' pages stay mapped "
                  "after every call.",
                  after - before);
    enum { N = 16 };
    long in[N], out[N];
    const char *urls[2] = {"ftp://127.0.0.1/", "ftp://127.0.0.2/"};
    mp_fetch_result res[2];
    struct {
        const char *what;
        mp_kernel fn;
    } maps[2] = {{"mp_par_map(nworkers=2, n=16)", good},
                 {"mp_par_map(nworkers=2, n=16) where a worker dies "
                  "(exit status 3)",
                  exit_3_on_5}};
    for (int i = 0; i < 2; i++) {
        items(in, out, N);
        fl_fault_reset();
        mp_par_map(2, maps[i].fn, in, out, N, 1);
        long m = fl_fault_calls("mmap"), u = fl_fault_calls("munmap");
        fl_fault_reset();
        expect_unmapped(maps[i].what, m, u);
    }
    fl_fault_reset();
    int r = mp_fetch_all(urls, 2, 2, res);
    long m = fl_fault_calls("mmap"), u = fl_fault_calls("munmap");
    fl_fault_reset();
    fl_expect_int(r, 2, "mp_fetch_all(2 URLs it cannot fetch)", "");
    expect_unmapped("mp_fetch_all(2 URLs it cannot fetch)", m, u);
    // 1024 results of 16 bytes, 4 pages: the whole size again.
    static const char *many[1024];
    static mp_fetch_result got[1024];
    for (int i = 0; i < 1024; i++)
        many[i] = "ftp://127.0.0.1/";
    before = fl_vm_pages();
    r = mp_fetch_all(many, 1024, 2, got);
    after = fl_vm_pages();
    fl_expect_int(r, 1024, "mp_fetch_all(1024 URLs it cannot fetch)", "");
    ck_assert_msg(after == before,
                  "mp_fetch_all(1024 URLs) left the process %ld page(s) "
                  "bigger: munmap(addr, size) with the size you gave mmap "
                  "(the struct share AND the n results), not "
                  "sizeof(struct share), or the results' pages stay mapped "
                  "after every call.",
                  after - before);
}

// 256 results of 16 bytes fill one page: room for n longs (8 bytes) is
// half of it; 255, and room for one more, is one page with no room for
// the struct share.  Each mapping of the call's is followed by a faulting
// page (fl_mmap_guard).  In a child, as the caller may crash copying them
// out.  Then as many results as end the mapping closest to two pages
// behind the given struct share (72 bytes on 64-bit): results put past
// (s + 1) run into the guard.  0 if every call failed all its URLs;
// else mp_fetch_all's error, 1000 for wrong results, or 2000 + n when
// the call of n URLs did not count n failed.
static int
fetch_a_page(void *arg)
{
    (void)arg;
    enum { N = 4096 / sizeof(mp_fetch_result) };
    enum {
        SHARE = 9 * sizeof(void *),
        TWO = (2 * 4096 - SHARE) / sizeof(mp_fetch_result)
    };
    static const char *urls[TWO];
    static mp_fetch_result res[TWO];
    for (int i = 0; i < (int)TWO; i++)
        urls[i] = "ftp://127.0.0.1/";
    const int ns[3] = {N - 1, N, TWO};
    for (int k = 0; k < 3; k++) {
        int n = ns[k];
        memset(res, 0, sizeof res);
        fl_mmap_guard(1);
        int r = mp_fetch_all(urls, (size_t)n, 2, res);
        fl_mmap_guard(0);
        for (int i = 0; i < n && r == n; i++)
            if (res[i].status != -EINVAL || res[i].bytes != 0)
                r = 1000;
        if (r != n)
            return r < 0 || r == 1000 ? r : 2000 + n;
    }
    return 0;
}

FL_TEST(test_mp_fetch_all_fills_a_whole_page_of_results)
{
    fl_child c;
    fl_run_in_child(fetch_a_page, NULL, 5000, 0, &c);
    enum { N = 4096 / sizeof(mp_fetch_result) };
    char count[64];
    snprintf(count, sizeof count, "a wrong count for %d", c.value - 2000);
    ck_assert_msg(
        c.returned && c.value == 0,
        "mp_fetch_all(%d, %d, then 507 URLs it cannot fetch, 2 workers), "
        "whose results of %zu bytes fill one page but for one, then "
        "exactly, then two pages behind the given struct share, %s%s "
        "(expected all to fail). Map room for the struct share AND n "
        "results of sizeof(mp_fetch_result): not n longs, as mp_par_map's "
        "results are, nor n + 1 results; and put them right behind the "
        "struct, at (mp_fetch_result *)(s + 1).",
        (int)N - 1, (int)N, sizeof(mp_fetch_result),
        c.returned    ? "returned "
        : c.exited    ? "ended the caller"
        : c.timed_out ? "never returned"
                      : "killed the caller with a signal",
        c.returned ? (c.value == 1000  ? "with wrong results"
                      : c.value > 2000 ? count
                                       : fl_ret(c.value))
                   : "");
}

FL_TEST(test_mp_fetch_all_reports_a_worker_that_died)
{
    struct server sv;
    server_start(&sv, 1, 1);
    // First a URL it cannot fetch, done before the worker dies.
    const char *urls[2] = {"ftp://127.0.0.1/", url_of(sv.port, "/kill")};
    mp_fetch_result res[2] = {{0, 0}, {0, 0}};
    int r = mp_fetch_all(urls, 2, 1, res);
    server_stop(&sv);
    fl_expect_int(r, -EPIPE,
                  "mp_fetch_all(2 URLs, 1 worker) whose worker was killed "
                  "(SIGKILL) while it waited for the second answer",
                  "the worker died, and its URL has no result: return the "
                  "-EPIPE of run_processes, not the count of failed "
                  "fetches (which counts only the results that came back)");
    ck_assert_msg(res[0].status == -EINVAL,
                  "mp_fetch_all(2 URLs, 1 worker) whose worker was killed "
                  "at the second URL returned -EPIPE, but res[0], the "
                  "ftp:// URL it did before dying, has status %s, expected "
                  "-EINVAL (-22): copy out every result that came back, "
                  "even when a worker died.",
                  fl_ret(res[0].status));
}

FL_TEST(test_mp_fetch_all_refuses_a_header_longer_than_its_buffer)
{
    struct server sv;
    server_start(&sv, 3, 1);
    const char *url = url_of(sv.port, "/longhead");
    mp_fetch_result res = {0, 0};
    int r = mp_fetch_all(&url, 1, 1, &res);
    // The largest header that fits, 8191 bytes (and the '\0' after it),
    // then one byte more; each read first as 8190 bytes, then the rest.
    // (Faults armed here act in the worker.)
    const char *fits[2] = {url_of(sv.port, "/head/8191"),
                           url_of(sv.port, "/head/8192")};
    mp_fetch_result fit[2] = {{0, 0}, {0, 0}};
    for (int i = 0; i < 2; i++) {
        fl_fault_reset();
        fl_fault_short("read", 1, 8190);
        fl_fault_short("recv", 1, 8190);
        int rc = mp_fetch_all(&fits[i], 1, 1, &fit[i]);
        if (rc < 0)
            fit[i].status = rc;
    }
    fl_fault_reset();
    server_stop(&sv);
    fl_expect_int(r, 1,
                  "mp_fetch_all(an answer whose header is 9000 bytes, with "
                  "no blank line): failed fetches",
                  r == -EPIPE ? "The worker died reading a header longer "
                                "than its buffer: keep one byte of the "
                                "buffer for the '\\0' after what was read, "
                                "and give -EPROTO once the rest is full."
                              : "");
    expect_page(url, res, -EPROTO, 0,
                "A header that does not fit in the buffer (less one byte "
                "for its '\\0') is not an answer we can read: -EPROTO.");
    expect_page(fits[0], fit[0], 200, 5,
                "A header of 8191 bytes, the last one read alone, fills "
                "char buf[8192] but for its '\\0': read while have < "
                "sizeof buf - 1, into the room left (sizeof buf - 1 - "
                "have), and refuse the header only once it is full "
                "without its blank line.");
    expect_page(fits[1], fit[1], -EPROTO, 0,
                "A header of 8192 bytes does not fit in the buffer, char "
                "buf[8192], with its '\\0': keep one byte of the buffer for "
                "the '\\0', and give -EPROTO once the rest is full.");
}

/* ------------------------------------------- round 6 of the mistake hunt */

// mp_par_map and mp_thread_map with every malloc, then every calloc,
// failing in turn: -ENOMEM (not -1, not 0: the caller's out holds no
// results), and nothing left behind: no worker, descriptor, heap block or
// mapping.
static void
walk_memory(map_fn map, const char *name, const char *fn)
{
    enum { N = 4 };
    long in[N], out[N];
    FL_FAULT_WALK (fn, ENOMEM, k) {
        items(in, out, N);
        fl_snapshot s;
        fl_snapshot_take(&s);
        int r = map(2, good, in, out, N, 1);
        int fired = fl_fault_fired(fn) > 0;
        long maps = fl_fault_calls("mmap"), unmaps = fl_fault_calls("munmap");
        char what[96];
        snprintf(what, sizeof what,
                 "%s(nworkers=2, n=4) with %s number %d "
                 "failing (ENOMEM)",
                 name, fn, k);
        if (fired)
            fl_expect_int(r, -ENOMEM, what,
                          "an allocation that fails gives -ENOMEM: not -1 "
                          "(-EPERM), and not 0, which says every result is "
                          "in out");
        else
            expect_good(name, out, N);
        expect_unmapped(what, maps, unmaps);
        fl_expect_no_leak(&s, what);
    }
}

FL_TEST(test_mp_par_map_and_mp_thread_map_give_enomem_without_memory)
{
    walk_memory(mp_par_map, "mp_par_map", "calloc");
    walk_memory(mp_par_map, "mp_par_map", "malloc");
    walk_memory(mp_thread_map, "mp_thread_map", "calloc");
    walk_memory(mp_thread_map, "mp_thread_map", "malloc");
}

// Requests of exactly 256, 512, 1024 and 2048 bytes, the sizes a request
// buffer is likely to have.  snprintf returns the length it wanted: one
// that equals the buffer's size did not fit (the NUL took the last byte),
// and sent as it is, the request lacks its last '\n'.  The test server
// then waits for the rest, gives up after 500 ms, and closes: -EPROTO.
// A request that fits gets an answer (400 for a path over 1023 bytes, 404
// else); one that does not is -EINVAL.
FL_TEST(test_mp_fetch_all_never_sends_a_request_cut_short)
{
    enum { URLS = 4 };
    static const int lens[URLS] = {256, 512, 1024, 2048};
    struct server sv;
    server_start(&sv, URLS, 1);
    static char bufs[URLS][2200];
    const char *urls[URLS];
    for (int i = 0; i < URLS; i++) {
        // "GET " PATH " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n": 34 + PATH
        int n =
            snprintf(bufs[i], sizeof bufs[i], "http://127.0.0.1:%d/", sv.port);
        int path = lens[i] - 34;
        memset(bufs[i] + n, 'a', (size_t)path - 1);
        bufs[i][n + path - 1] = '\0';
        urls[i] = bufs[i];
    }
    mp_fetch_result res[URLS];
    B->read_end = fl_now_ms() + 500;
    int r = mp_fetch_all(urls, URLS, 2, res);
    server_stop(&sv);
    ck_assert_msg(r >= 0, "mp_fetch_all(4 URLs, 2 workers) returned %s",
                  fl_ret(r));
    for (int i = 0; i < URLS; i++)
        ck_assert_msg(res[i].status == -EINVAL || res[i].status >= 100,
                      "a URL whose request is %d bytes long: status %s, "
                      "expected -EINVAL (-22) if your request buffer holds "
                      "%d bytes or fewer, else the server's answer. The "
                      "server never got the whole request: snprintf "
                      "returns the length it wanted, and one EQUAL to the "
                      "buffer's size did not fit either (its NUL took the "
                      "last byte): test len >= sizeof req, not >.",
                      lens[i], fl_ret(res[i].status), lens[i]);
}

/* --------------------------------------- a peer that is gone (issue 13) */

// The state of the TCP socket from local port lport to rport on
// 127.0.0.1, from /proc/net/tcp: 1 ESTABLISHED, 8 CLOSE_WAIT, ..., or 0
// once it is gone (closed sockets are not listed).
static int
tcp_state(int lport, int rport)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    if (f == NULL)
        return -1;
    char line[256];
    int state = 0;
    while (state == 0 && fgets(line, sizeof line, f) != NULL) {
        unsigned l, r, st;
        if (sscanf(line, " %*d: %*x:%x %*x:%x %x", &l, &r, &st) == 3 &&
            (int)l == lport && (int)r == rport)
            state = (int)st;
    }
    fclose(f);
    return state;
}

// The peer that is gone, in a child of the test: accept the one
// connection (its worker is stopped right after its connect), send a FIN
// and wait until the worker's end has it (CLOSE_WAIT), then reset the
// connection (SO_LINGER {1, 0}: an RST) and wait until the worker's end is
// closed.  A send on it now fails with EPIPE, and raises SIGPIPE unless
// MSG_NOSIGNAL.  Then continue every stopped process of the test.  In
// B->held_saw: 1 if all of it happened in that order, before the worker
// went on.
static void
reset_main(int lfd, int port)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    int fd = poll(&p, 1, WAIT_MS) == 1 ? accept(lfd, NULL, NULL) : -1;
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int ok = 0;
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&a, &len) == 0) {
        int worker = ntohs(a.sin_port);
        struct linger l = {1, 0};
        shutdown(fd, SHUT_WR);
        while (tcp_state(worker, port) == 1 && fl_now_ms() < B->deadline)
            sched_yield();
        ok = tcp_state(worker, port) == 8;
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        close(fd);
        while (tcp_state(worker, port) != 0 && fl_now_ms() < B->deadline)
            sched_yield();
        ok = ok && tcp_state(worker, port) == 0;
    }
    // Whoever connected is stopped, or about to be: continue it then.
    pid_t kids[16];
    int k = 0, stopped = 0;
    while (!stopped && fl_now_ms() < B->deadline) {
        k = fl_children_of(B->test, kids, 16);
        for (int i = 0; i < k; i++)
            stopped += kids[i] != getpid() && fl_proc_state(kids[i]) == 'T';
        stopped += fl_proc_state(B->test) == 'T';
        if (!stopped)
            sched_yield();
    }
    B->held_saw = ok && stopped;
    for (int i = 0; i < k; i++)
        if (kids[i] != getpid())
            kill(kids[i], SIGCONT);
    kill(B->test, SIGCONT);
    _exit(0);
}

// The worker connects, and before it sends its request the server has
// closed and reset the connection: its send fails with EPIPE, and that is
// a failed fetch.  SIGPIPE has its default action, as in a program that
// never changed it (the harness ignores it): without MSG_NOSIGNAL the
// kernel kills the worker first.
FL_TEST(test_mp_fetch_all_reports_a_reset_connection_without_dying)
{
    board_new(1, 1);
    B->held_saw = -1;
    int port;
    int lfd = bound_socket(&port);
    ck_assert_msg(listen(lfd, 4) == 0, "listen failed: %s", strerror(errno));
    fflush(NULL);
    pid_t server = fork();
    ck_assert_msg(server >= 0, "fork failed: %s", strerror(errno));
    if (server == 0)
        reset_main(lfd, port);
    close(lfd);
    const char *url = url_of(port, "/");
    mp_fetch_result res = {0, 0};
    fl_fault_reset(); // armed here, it acts in the worker
    fl_fault_stop_after("connect", 1);
    signal(SIGPIPE, SIG_DFL);
    int r = mp_fetch_all(&url, 1, 1, &res);
    signal(SIGPIPE, SIG_IGN);
    fl_fault_reset();
    kill(server, SIGKILL);
    while (waitpid(server, NULL, 0) < 0 && errno == EINTR)
        ;
    int staged = B->held_saw;
    board_free();
    fl_expect_int(r, 1,
                  "mp_fetch_all(1 URL whose server reset the connection "
                  "before the request was sent): failed fetches",
                  r == -EPIPE
                      ? "The worker died: its send on a connection the "
                        "server had reset raised SIGPIPE, whose default "
                        "action kills the process. Send with MSG_NOSIGNAL: "
                        "then send fails with EPIPE, the URL's status, and "
                        "the worker goes on."
                      : "");
    ck_assert_msg(staged == 1,
                  "the test could not reset the connection between the "
                  "worker's connect and its send (the worker never "
                  "connected, or not from a worker process)");
    ck_assert_msg((res.status == -EPIPE || res.status == -ECONNRESET) &&
                      res.bytes == 0,
                  "%s: status %s with %ld bytes, expected -EPIPE (-32) or "
                  "-ECONNRESET (-104) with 0 bytes: the server reset the "
                  "connection before the request was sent, and send's "
                  "error is the URL's status",
                  url, fl_ret(res.status), res.bytes);
}

static const fl_case cases[] = {
    FL_CASE(test_mp_par_map_matches_the_serial_run, 10),
    FL_CASE(test_mp_par_map_covers_a_short_last_chunk, 10),
    FL_CASE(test_mp_par_map_runs_each_item_exactly_once, 10),
    FL_CASE(test_mp_par_map_runs_the_workers_at_the_same_time, 10),
    FL_CASE(test_mp_par_map_hands_out_chunks_dynamically, 10),
    FL_CASE(test_mp_par_map_keeps_results_in_item_order, 10),
    FL_CASE(test_mp_par_map_reports_a_worker_that_died, 10),
    FL_CASE(test_mp_par_map_fills_a_whole_page_of_results, 10),
    FL_CASE(test_mp_par_map_takes_pythons_chunksize_by_default, 10),
    FL_CASE(test_mp_thread_map_takes_pythons_chunksize_by_default, 10),
    FL_CASE(test_mp_fetch_all_forks_no_more_workers_than_urls, 10),
    FL_CASE(test_mp_par_map_flushes_stdio_before_forking, 10),
    FL_CASE(test_mp_par_map_reaps_every_worker, 10),
    FL_CASE(test_mp_par_map_rejects_bad_arguments, 10),
    FL_CASE(test_mp_par_map_of_no_items_returns_0, 10),
    FL_CASE(test_mp_thread_map_matches_the_serial_run, 10),
    FL_CASE(test_mp_thread_map_runs_each_item_exactly_once, 10),
    FL_CASE(test_mp_thread_map_runs_the_threads_at_the_same_time_in_one_process,
            10),
    FL_CASE(test_mp_thread_map_hands_out_chunks_dynamically, 10),
    FL_CASE(test_mp_thread_map_rejects_bad_arguments, 10),
    FL_CASE(test_mp_thread_map_of_no_items_returns_0, 5),
    FL_CASE(test_mp_thread_map_keeps_two_calls_at_once_apart, 5),
    FL_CASE(test_mp_fetch_all_gets_every_page, 10),
    FL_CASE(test_mp_fetch_all_keeps_8_requests_in_flight_at_once, 10),
    FL_CASE(test_mp_fetch_all_reads_a_large_body_in_full, 10),
    FL_CASE(test_mp_fetch_all_reports_a_404_as_an_answer, 10),
    FL_CASE(test_mp_fetch_all_reports_a_refused_connection_for_that_url_only,
            10),
    FL_CASE(test_mp_fetch_all_reports_an_answer_cut_short, 10),
    FL_CASE(test_mp_fetch_all_gives_einval_for_a_url_it_cannot_fetch, 10),
    FL_CASE(test_mp_fetch_all_rejects_bad_arguments, 10),
    FL_CASE(test_mp_par_map_reaps_the_started_workers_when_a_fork_fails, 10),
    FL_CASE(test_mp_par_map_and_mp_fetch_all_give_the_errno_of_a_failed_mmap,
            5),
    FL_CASE(test_mp_fetch_all_gives_the_errno_of_a_failed_socket, 5),
    FL_CASE(test_mp_par_map_reaps_every_worker_despite_eintr, 5),
    FL_CASE(test_mp_par_map_forks_one_worker_per_chunk_when_items_are_few, 5),
    FL_CASE(test_mp_thread_map_starts_one_thread_per_chunk_when_items_are_few,
            5),
    FL_CASE(test_mp_thread_map_joins_the_started_threads_when_one_cannot_start,
            5),
    FL_CASE(test_mp_fetch_all_closes_the_socket_on_every_path, 10),
    FL_CASE(test_mp_par_map_reaps_only_its_own_workers, 5),
    FL_CASE(test_mp_par_map_and_mp_fetch_all_unmap_their_memory, 5),
    FL_CASE(test_mp_fetch_all_fills_a_whole_page_of_results, 10),
    FL_CASE(test_mp_fetch_all_reports_a_worker_that_died, 10),
    FL_CASE(test_mp_fetch_all_refuses_a_header_longer_than_its_buffer, 10),
    FL_CASE(test_mp_fetch_all_hands_out_one_url_at_a_time, 10),
    FL_CASE(test_mp_par_map_and_mp_thread_map_give_enomem_without_memory, 10),
    FL_CASE(test_mp_fetch_all_never_sends_a_request_cut_short, 10),
    FL_CASE(test_mp_fetch_all_reports_a_reset_connection_without_dying, 10),
};

FL_MAIN("13_capstone", cases)
