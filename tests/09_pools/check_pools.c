// check_pools.c - tests for lesson 09: the pool of worker processes.
//
// Tasks run in the workers, which are forked from the test process when
// the pool is made: a task sees the globals and descriptors the test set up
// BEFORE mp_pool_create (pipes, a shared board), and nothing after.  Tasks
// report through a board in shared memory and through pipes.
//
// The order in which tasks finish is forced, never left to timing: a task
// that must finish late waits for a token (a byte in a pipe) that a later
// task writes.  Every such wait has a bound, so a mistake shows as a
// failure that says what happened, not as a hang.  Tests where a mistake
// would block for ever (a death never noticed, a join that never ends) run
// the pool in a child with a deadline.
#define _GNU_SOURCE
#include "pools.h"
#include "harness.h"
#include "stress.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 3000 // the longest a task waits for a token or a gate
#define GATE_MS 1000 // the same, where only a mistake keeps the gate shut

/* ------------------------------------------------------------- helpers */

static mp_pool *
pool_of(int n)
{
    mp_pool *p = NULL;
    int r = mp_pool_create(&p, n);
    ck_assert_msg(r == 0 && p != NULL,
                  "mp_pool_create(&p, %d) returned %s, expected 0 with the "
                  "pool set",
                  n, fl_ret(r));
    return p;
}

static void
pipe_or_fail(int fd[2])
{
    ck_assert_msg(pipe(fd) == 0, "pipe failed: %s", strerror(errno));
}

static void
pipe_close(int fd[2])
{
    close(fd[0]);
    close(fd[1]);
}

// In a task: wait until fd is readable (a token was given), at most ms.
// The byte is left there: one token releases every waiter.
static int
wait_token_for(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    long end = fl_now_ms() + ms;
    for (;;) {
        long left = end - fl_now_ms();
        int r = poll(&p, 1, left > 0 ? (int)left : 0);
        if (r > 0)
            return 0;
        if (r == 0)
            return -1;
    }
}

// In a task: wait for a token, at most WAIT_MS.
static int
wait_token(int fd)
{
    return wait_token_for(fd, WAIT_MS);
}

static void
give_token(int fd)
{
    while (write(fd, "t", 1) < 0 && errno == EINTR)
        ;
}

// The children of the calling process, as /proc shows them: how many run
// and how many are zombies; their pids into pids (up to max).
static void
children(int *live, int *zombies, pid_t *pids, int max)
{
    *live = *zombies = 0;
    DIR *d = opendir("/proc");
    ck_assert_msg(d != NULL, "opendir(/proc) failed");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        if (fl_ppid_of(pid) != getpid())
            continue;
        if (fl_zombie(pid)) {
            (*zombies)++;
        } else {
            if (pids != NULL && *live < max)
                pids[*live] = pid;
            (*live)++;
        }
    }
    closedir(d);
}

// Memory shared by the test and its workers (and its children).
static void *
shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(p != MAP_FAILED, "mmap failed: %s", strerror(errno));
    memset(p, 0, size);
    return p;
}

/* --------------------------------------------------------------- tasks */

static int
square(long x, long *result)
{
    *result = x * x;
    return 0;
}

// What the tasks below share with the test: set up before the pool.
static int token[2] = {-1, -1};   // a byte here lets a waiting task go on
static int started[2] = {-1, -1}; // a task writes a byte here as it starts
static pid_t *ran_in;             // shared: ran_in[i] = pid that ran item i
static int chunks_via;            // expect_chunks: 0 map, 1 map_async, 2 imap,
                                  // 3 imap_unordered

// A file of the caller's, fully buffered by stdio, or NULL.
static FILE *task_log;

// Print a line (and log one, if task_log is set): in a worker, into its
// stdio buffers.
static int
prints_its_item(long x, long *result)
{
    printf("task ran item %ld\n", x);
    if (task_log != NULL)
        fprintf(task_log, "task logged item %ld\n", x);
    *result = x;
    return 0;
}

// How many times line occurs in the file f, read from its start.
static int
lines_in(FILE *f, const char *line)
{
    char buf[4096];
    fflush(f);
    ssize_t got = pread(fileno(f), buf, sizeof buf - 1, 0);
    buf[got > 0 ? got : 0] = '\0';
    int count = 0;
    for (const char *q = buf; (q = strstr(q, line)) != NULL; q++)
        count++;
    return count;
}

// starmap's task: a - b, which tells the members of a pair apart.
static int
minus(long a, long b, long *result)
{
    *result = a - b;
    return 0;
}

// What apply_async's and map_async's callbacks saw.
struct calls {
    int ok, failed;
    long value;
    int err;
};

static void
on_value(long value, void *ctx)
{
    struct calls *c = ctx;
    c->ok++;
    c->value = value;
}

static void
on_error(int err, void *ctx)
{
    struct calls *c = ctx;
    c->failed++;
    c->err = err;
}

/* ---------------------------------------------------------------- seed */

// An array as Python prints a list; three may be used in one message.
static const char *
show(const long *v, size_t n)
{
    static char bufs[3][256];
    static int next;
    char *buf = bufs[next++ % 3];
    size_t len = 0, size = sizeof bufs[0];
    len += (size_t)snprintf(buf + len, size - len, "[");
    for (size_t i = 0; i < n && len < size - 16; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%ld", i ? ", " : "",
                                v[i]);
    snprintf(buf + len, size - len, "]");
    return buf;
}

static void
expect_squares(mp_pool *p, const long *in, size_t n, const char *want)
{
    long out[8] = {0};
    int r = mp_pool_map(p, square, in, out, n, 0, NULL);
    ck_assert_msg(r == 0 && strcmp(show(out, n), want) == 0,
                  "map(square, %s) returned %s with %s; expected 0 with %s%s",
                  show(in, n), fl_ret(r), show(out, n), want,
                  r == 0 ? ". out[i] must be the square of in[i]: are right "
                           "squares in the wrong places? Then each chunk's "
                           "results went after the previous answer, in "
                           "completion order: store them at the chunk's own "
                           "place, out + start. Or was an answer lost, or "
                           "read into the wrong item?"
                         : "");
}

FL_TEST(test_mp_pool_map_gives_the_classic_results)
{
    mp_pool *p = pool_of(4);
    expect_squares(p, (long[]){1, 2, 3, 4}, 4, "[1, 4, 9, 16]");
    expect_squares(p, (long[]){1, 2, 3, 4, 5}, 5, "[1, 4, 9, 16, 25]");
    mp_pool_destroy(p);
    p = pool_of(5);
    expect_squares(p, (long[]){0, 1, 2, 3, 4}, 5, "[0, 1, 4, 9, 16]");
    mp_pool_destroy(p);
}

/* --------------------------------------------------------------- order */

// Item 0 waits until item 4 runs: 2 workers, chunks of 2.  Chunk [0, 1]
// goes to worker A, which blocks; chunk [2, 3] to worker B, which answers
// first; only then is B idle and handed [4, 5], whose first item lets A
// go on.  So the chunk [2, 3] is ALWAYS back before [0, 1].
static int
late_first(long x, long *result)
{
    if (x == 0 && wait_token(token[0]) < 0)
        return -ETIMEDOUT;
    if (x == 4)
        give_token(token[1]);
    *result = 10 * x + 1;
    return 0;
}

FL_TEST(test_mp_pool_map_keeps_results_in_input_order)
{
    pipe_or_fail(token);
    mp_pool *p = pool_of(2);
    long in[8], out[8] = {0}, want[8];
    for (int i = 0; i < 8; i++) {
        in[i] = i;
        want[i] = 10 * i + 1;
    }
    size_t failed = 99;
    int r = mp_pool_map(p, late_first, in, out, 8, 2, &failed);
    mp_pool_destroy(p);
    pipe_close(token);
    ck_assert_msg(r != -ETIMEDOUT,
                  "item 0 waited %d ms for item 4 to start, in vain: item 4 "
                  "is in the third chunk, which must go to the worker that "
                  "finished the second one while the first worker is still "
                  "busy. Hand chunks to every idle worker, not in turn.",
                  WAIT_MS);
    fl_expect_int(r, 0, "map of 8 items, chunks of 2", "");
    ck_assert_msg(failed == 99,
                  "map of 8 items succeeded and wrote %zu to *failed, "
                  "which held 99: *failed receives an index only when an "
                  "item fails; on success, leave it untouched",
                  failed);
    ck_assert_msg(memcmp(out, want, sizeof want) == 0,
                  "the chunk [2, 3] finished before [0, 1], and map gave %s; "
                  "expected %s. Store each chunk's results at its own place, "
                  "out + start, not after the previous answer: answers come "
                  "back in completion order.",
                  show(out, 8), show(want, 8));
}

/* ----------------------------------------------------------- chunksize */

static int
note_pid(long x, long *result)
{
    ran_in[x] = getpid();
    *result = x;
    return 0;
}

// imap's callback for expect_chunks: the results in out (ctx).
static void
store_item(size_t index, long value, void *ctx)
{
    ((long *)ctx)[index] = value;
}

// Map count items on the pool and check they were cut into chunks of cs:
// a chunk runs in one worker, and chunks 0 and 1 go to different workers
// (both are idle at the start), so the worker changes at cs and never
// inside a chunk.
static void
expect_chunks(mp_pool *p, int n, size_t count, size_t given, size_t cs)
{
    static const char *const via[] = {"map", "map_async", "imap",
                                      "imap_unordered"};
    const char *map = via[chunks_via];
    long *in = malloc(count * sizeof *in), *out = malloc(count * sizeof *out);
    ck_assert_msg(in != NULL && out != NULL, "malloc failed");
    for (size_t i = 0; i < count; i++)
        in[i] = (long)i;
    memset(ran_in, 0, count * sizeof *ran_in);
    int r;
    if (chunks_via == 1) { // then get: the same chunks, by the same rule
        mp_result *res = NULL;
        r = mp_pool_map_async(p, note_pid, in, out, count, given, NULL, NULL,
                              NULL, &res);
        if (r == 0)
            r = mp_result_get(res, -1, NULL);
        mp_result_free(r == 0 ? res : NULL);
    } else if (chunks_via == 2) {
        r = mp_pool_imap(p, note_pid, in, count, given, store_item, out, NULL);
    } else if (chunks_via == 3) {
        r = mp_pool_imap_unordered(p, note_pid, in, count, given, store_item,
                                   out, NULL);
    } else {
        r = mp_pool_map(p, note_pid, in, out, count, given, NULL);
    }
    size_t inside = 0, results_ok = 1;
    for (size_t i = 0; i < count; i++) {
        results_ok &= out[i] == (long)i;
        if (i > 0 && ran_in[i] != ran_in[i - 1] && i % cs != 0 && !inside)
            inside = i;
    }
    free(in);
    free(out);
    fl_expect_int(r, 0, "map of the pid-noting task", "");
    ck_assert_msg(results_ok, "%s of %zu items gave wrong results", map, count);
    ck_assert_msg(inside == 0,
                  "%s of %zu items with %d workers and chunksize %zu: "
                  "item %zu ran in another worker than item %zu, so a chunk "
                  "ended at %zu; with chunks of %zu items they end at "
                  "multiples of %zu. %s",
                  map, count, n, given, inside, inside - 1, inside, cs, cs,
                  given ? "Use the chunksize given."
                        : "Python's rule: chunksize, extra = divmod(count, "
                          "workers * 4); if extra: chunksize += 1.");
    ck_assert_msg(cs >= count || ran_in[cs] != ran_in[cs - 1],
                  "%s of %zu items with %d workers and chunksize %zu: "
                  "items %zu and %zu ran in the same worker, as if in one "
                  "chunk; expected chunks of %zu items, the second one "
                  "handed to another idle worker. %s",
                  map, count, n, given, cs - 1, cs, cs,
                  given ? "Use the chunksize given."
                        : "Python's rule: chunksize, extra = divmod(count, "
                          "workers * 4); if extra: chunksize += 1.");
}

FL_TEST(test_mp_pool_map_groups_items_by_the_default_chunksize)
{
    ran_in = shared(1000 * sizeof *ran_in);
    mp_pool *p = pool_of(2);
    expect_chunks(p, 2, 100, 0, 13); // divmod(100, 8) = (12, 4): 13
    expect_chunks(p, 2, 96, 0, 12);  // divmod(96, 8) = (12, 0): 12
    expect_chunks(p, 2, 17, 0, 3);   // divmod(17, 8) = (2, 1): 3
    expect_chunks(p, 2, 5, 0, 1);    // divmod(5, 8) = (0, 5): 1
    chunks_via = 1;                  // map_async's chunks are map's
    expect_chunks(p, 2, 100, 0, 13);
    chunks_via = 0;
    mp_pool_destroy(p);
    p = pool_of(3);
    expect_chunks(p, 3, 1000, 0, 84); // divmod(1000, 12) = (83, 4): 84
    mp_pool_destroy(p);
    munmap(ran_in, 1000 * sizeof *ran_in);
}

FL_TEST(test_mp_pool_map_uses_the_chunksize_given)
{
    ran_in = shared(100 * sizeof *ran_in);
    mp_pool *p = pool_of(2);
    expect_chunks(p, 2, 23, 5, 5);
    expect_chunks(p, 2, 40, 1, 1);
    for (chunks_via = 1; chunks_via <= 3; chunks_via++) // map_async, imaps
        expect_chunks(p, 2, 23, 5, 5);
    chunks_via = 0;
    mp_pool_destroy(p);
    munmap(ran_in, 100 * sizeof *ran_in);
}

// One worker, so every chunk lands in the same buffer, which must grow to
// the biggest chunk so far.  Chunks of FIRST items make its first size;
// then FIRST - 1 and FIRST fit in it, FIRST + 1 is the first to need more,
// and 64 * FIRST is far past it (realloc then moves the block, as a rule).
// A buffer sized in items instead of bytes, or never grown, takes the
// writes past its end quietly: the sanitizer pass sees them in the worker
// and fails the test with the file and line; a normal build, only if they
// spoil the results.
#define FIRST 16
FL_TEST(test_mp_pool_map_runs_chunks_bigger_than_the_ones_before)
{
    static const size_t sizes[] = {FIRST, FIRST - 1, FIRST, FIRST + 1,
                                   64 * FIRST};
    static long in[64 * FIRST], out[64 * FIRST];
    for (size_t i = 0; i < 64 * FIRST; i++)
        in[i] = (long)i;
    mp_pool *p = pool_of(1);
    size_t k = 0, most = 0, bad = 0;
    int r = 0;
    for (; k < sizeof sizes / sizeof *sizes; k++) {
        memset(out, 0, sizes[k] * sizeof *out);
        r = mp_pool_map(p, square, in, out, sizes[k], sizes[k], NULL);
        for (bad = 0; bad < sizes[k] && out[bad] == in[bad] * in[bad];)
            bad++;
        if (r != 0 || bad < sizes[k])
            break;
        most = sizes[k] > most ? sizes[k] : most;
    }
    mp_pool_destroy(p);
    if (k == sizeof sizes / sizeof *sizes) {
        // A worker that cannot grow its buffer (realloc failing in it:
        // armed before its fork, disarmed in the pool's process after)
        // ends before it runs any item of the chunk: the chunk is back
        // with -EPIPE at its FIRST item, not at the offset the slot
        // still holds from the chunk before (item 3 of 4).
        fl_fault_reset();
        fl_fault_fail_from("realloc", 2, ENOMEM);
        p = pool_of(1);
        fl_fault_reset();
        size_t failed = 999;
        int r1 = mp_pool_map(p, square, in, out, 4, 4, NULL);
        int r2 = mp_pool_map(p, square, in, out, 2 * FIRST, 2 * FIRST, &failed);
        mp_pool_destroy(p);
        fl_expect_int(r1, 0, "map of 4 items, in one chunk", "");
        ck_assert_msg(r2 == 0 || (r2 == -EPIPE && failed == 0),
                      "a worker whose realloc failed when its second chunk "
                      "(items 0 to %d) came ended before running any item "
                      "of it; map returned %s at index %zu, expected -EPIPE "
                      "(-32) at 0. Set the worker's slot item to 0 when you "
                      "hand it a chunk: it still holds 3, the last item of "
                      "the chunk before.",
                      2 * FIRST - 1, fl_ret(r2), failed);
        // The same with items whose bytes, taken for a chunk's header,
        // ask for more room than realloc gives: a worker that goes on
        // after its realloc failed reads its items as the headers of
        // chunks that never come, and never answers.  A timed get sees
        // it; the worker that ends is seen at once, as -EPIPE.
        static long minus[2 * FIRST];
        for (size_t i = 0; i < 2 * FIRST; i++)
            minus[i] = -1;
        fl_fault_fail_from("realloc", 2, ENOMEM);
        p = pool_of(1);
        fl_fault_reset();
        mp_result *res = NULL;
        r1 = mp_pool_map(p, square, in, out, 4, 4, NULL);
        int s = mp_pool_map_async(p, square, minus, out, 2 * FIRST, 2 * FIRST,
                                  NULL, NULL, NULL, &res);
        long t0 = fl_now_ms();
        int r3 = s == 0 ? mp_result_get(res, 1500, NULL) : s;
        long ms = fl_now_ms() - t0;
        mp_pool_destroy(p);
        mp_result_free(res);
        fl_expect_int(r1, 0, "map of 4 items, in one chunk", "");
        ck_assert_msg(r3 == 0 || r3 == -EPIPE,
                      "map_async of %d items in one chunk, sent to a worker "
                      "whose realloc failed, gave %s after %ld ms; expected "
                      "-EPIPE (-32) at once. A worker that cannot make room "
                      "for a chunk must end (break), not go on: it reads "
                      "the chunk's items as the headers of chunks that "
                      "never come, and never answers.",
                      2 * FIRST, fl_ret(r3), ms);
        return;
    }
    char seen[96] = "";
    if (bad < sizes[k])
        snprintf(seen, sizeof seen, " and out[%zu] = %ld", bad, out[bad]);
    ck_abort_msg("mp_pool_map of %zu items in one chunk, on a pool of 1 "
                 "worker whose biggest chunk so far had %zu items, returned "
                 "%s%s; expected 0 and each item squared. The worker's "
                 "buffer must grow to the biggest chunk so far: "
                 "realloc(buf, count * sizeof *buf) takes bytes, and the "
                 "capacity it keeps counts items.",
                 sizes[k], most, fl_ret(r), seen);
}
#undef FIRST

/* -------------------------------------------------------------- errors */

static int
fails_at_37(long x, long *result)
{
    if (x == 37)
        return -EDOM;
    *result = x * x;
    return 0;
}

FL_TEST(test_mp_pool_map_reports_a_failing_item_with_its_index)
{
    mp_pool *p = pool_of(4);
    long in[100], out[100];
    for (int i = 0; i < 100; i++)
        in[i] = i;
    size_t failed = 999;
    int r = mp_pool_map(p, fails_at_37, in, out, 100, 0, &failed);
    mp_pool_destroy(p);
    fl_expect_int(r, -EDOM, "map of 100 items where item 37 returns -EDOM",
                  r == -EPIPE ? "-EPIPE says a worker died: a task's error "
                                "is an answer, not a reason for the worker "
                                "to stop."
                              : "The task's own error comes back.");
    ck_assert_msg(failed == 37,
                  "map reported the failure at index %zu; expected 37 "
                  "(chunks of 7 here: item 37 is the third of the chunk "
                  "from 35). The index is the chunk's start plus the "
                  "offset the worker reports.",
                  failed);
}

// Item 1 waits until item 3 runs, then fails with -ERANGE; item 2 fails at
// once with -EDOM.  2 workers, chunks of 1: worker B blocks on item 1;
// worker A runs 0, then 2 (its -EDOM comes back first), then 3, which lets
// item 1 fail.  The lowest failing index is 1, though it arrives last.
static int
two_failures(long x, long *result)
{
    if (x == 1)
        return wait_token(token[0]) < 0 ? -ETIMEDOUT : -ERANGE;
    if (x == 2)
        return -EDOM;
    if (x == 3)
        give_token(token[1]);
    *result = x;
    return 0;
}

FL_TEST(test_mp_pool_map_reports_the_lowest_failing_index)
{
    pipe_or_fail(token);
    mp_pool *p = pool_of(2);
    long in[5] = {0, 1, 2, 3, 4}, out[5];
    size_t failed = 999;
    int r = mp_pool_map(p, two_failures, in, out, 5, 1, &failed);
    mp_pool_destroy(p);
    pipe_close(token);
    ck_assert_msg(r == -ERANGE && failed == 1,
                  "items 1 (-ERANGE) and 2 (-EDOM) fail, and item 2's error "
                  "comes back first; map returned %s at index %zu, expected "
                  "-34 (-ERANGE) at 1. Keep the error of the LOWEST index, "
                  "not the first to arrive: map must give the same answer "
                  "whatever the order in which chunks finish.",
                  fl_ret(r), failed);
}

// A task that succeeds with a return above 0: pools.h allows any >= 0.
static int
returns_1(long x, long *result)
{
    *result = 10 * x;
    return 1;
}

FL_TEST(test_mp_pool_map_works_again_after_an_error)
{
    long in[100], out[100];
    for (int i = 0; i < 100; i++)
        in[i] = i;
    // First one worker, one chunk of 100 that fails at item 37: its answer
    // is the header alone.  Anything sent after it is read as the answer
    // to the worker's next chunk.  A task's return above 0 is a success.
    mp_pool *p = pool_of(1);
    int r1 = mp_pool_map(p, fails_at_37, in, out, 100, 100, NULL);
    long v = 0;
    int r3 = mp_pool_apply(p, square, 12, &v);
    long in3[3] = {1, 2, 3}, out3[3] = {0};
    int r4 = mp_pool_map(p, returns_1, in3, out3, 3, 0, NULL);
    mp_pool_destroy(p);
    ck_assert_msg(r1 == -EDOM && r3 == 0 && v == 144,
                  "on a pool of 1 worker, a map whose one chunk fails at "
                  "item 37 returned %s; then apply(square, 12) returned %s "
                  "with %ld, expected 0 with 144. %s",
                  fl_ret(r1), fl_ret(r3), v,
                  r3 == 0 ? "A worker whose chunk failed answers with the "
                            "header alone, no results: what it sends after "
                            "the header is read as the answer to its next "
                            "chunk."
                          : "An error belongs to its item: the pool must "
                            "stay usable.");
    ck_assert_msg(r4 == 0 && out3[0] == 10 && out3[1] == 20 && out3[2] == 30,
                  "map of a task that stores 10 * x and returns 1 returned "
                  "%s with %s, expected 0 with [10, 20, 30]. A task fails "
                  "only with a negative return: 0 or more is a success.",
                  fl_ret(r4), show(out3, 3));
    // Then 2 workers, chunks by Python's rule.
    p = pool_of(2);
    r1 = mp_pool_map(p, fails_at_37, in, out, 100, 0, NULL);
    int r2 = mp_pool_map(p, square, in, out, 100, 0, NULL);
    v = 0;
    r3 = mp_pool_apply(p, square, 12, &v);
    mp_pool_destroy(p);
    ck_assert_msg(r1 < 0 && r2 == 0 && out[99] == 99 * 99 && r3 == 0 &&
                      v == 144,
                  "after a map that failed (it returned %s), the next map "
                  "returned %s (out[99] = %ld) and apply(square, 12) %s "
                  "with %ld; expected 0 with 9801, and 0 with 144. An "
                  "error belongs to its item: the pool must stay usable.",
                  fl_ret(r1), fl_ret(r2), out[99], fl_ret(r3), v);
}

/* ------------------------------------------------------ a worker dies */

// Item 7 kills its own worker.  With 20 items and 2 workers the chunks
// have 3 items: item 7 is the second item of the chunk from 6.
static int
dies_at_7(long x, long *result)
{
    if (x == 7)
        raise(SIGKILL);
    *result = x * x;
    return 0;
}

// What the child of the death tests saw, in shared memory.
struct death {
    int stage;     // how far the child got
    int r;         // the map's return
    size_t failed; // the index it reported
    long ms;       // how long the map took
    int again;     // the map after the death
    int again_ok;  // its results were right
    int live, zombies;
};

static struct death *seen;

static int
death_scenario(void *arg)
{
    (void)arg;
    mp_pool *p = NULL;
    if (mp_pool_create(&p, 2) != 0)
        return 1;
    long in[20], out[20];
    for (int i = 0; i < 20; i++)
        in[i] = i;
    seen->failed = 999;
    long t0 = fl_now_ms();
    seen->stage = 1;
    fl_cpu_budget(300); // a map that spins on the dead worker's POLLHUP
    seen->r = mp_pool_map(p, dies_at_7, in, out, 20, 0, &seen->failed);
    fl_cpu_budget(0);
    seen->ms = fl_now_ms() - t0;
    seen->stage = 2;
    seen->again = mp_pool_map(p, square, in, out, 20, 0, NULL);
    seen->again_ok = 1;
    for (int i = 0; i < 20; i++)
        seen->again_ok &= out[i] == (long)i * i;
    seen->stage = 3;
    children(&seen->live, &seen->zombies, NULL, 0);
    mp_pool_destroy(p);
    seen->stage = 4;
    return 0;
}

// Run death_scenario in a child with a deadline; fail if it hung.
static void
run_death_scenario(void)
{
    seen = shared(sizeof *seen);
    fl_child res;
    // (2.5 s: a report after 2 s fails anyway; a pool that never notices
    // often spins on the dead worker's POLLHUP meanwhile, and its CPU
    // budget ends it sooner.)
    fl_run_in_child(death_scenario, NULL, 2500, 0, &res);
    if (res.timed_out || !res.returned)
        fl_kill_children();
    ck_assert_msg(res.exited || res.status != SIGPROF || seen->stage != 1,
                  "a worker was killed (SIGKILL) while it ran item 7, and "
                  "mp_pool_map spun: it used 300 ms of CPU without "
                  "returning. Its channel polls readable for ever once the "
                  "worker is dead: a read of 0 bytes there is EOF, the "
                  "worker's death (not \"nothing yet\"), and map must "
                  "report it.");
    ck_assert_msg(!res.timed_out || seen->stage != 1,
                  "a worker was killed (SIGKILL) while it ran item 7, and "
                  "mp_pool_map had not returned 2.5 s later: Python's Pool "
                  "hangs here, yours must not. Poll every worker's channel: "
                  "a read of 0 bytes there is EOF, the worker's death (not "
                  "\"nothing yet\"). EOF comes only if the pool closed its "
                  "copy of the worker's end after fork.");
    ck_assert_msg(!res.timed_out && res.returned,
                  "the pool's process %s (stage %d)",
                  res.timed_out ? "hung" : "died", seen->stage);
}

FL_TEST(test_mp_pool_map_reports_a_worker_killed_mid_task)
{
    run_death_scenario();
    ck_assert_msg(seen->r == -EPIPE && seen->failed == 7,
                  "item 7 killed its worker; map returned %s at index %zu, "
                  "expected -32 (-EPIPE) at 7.%s",
                  fl_ret(seen->r), seen->failed,
                  seen->failed == 6 ? " 6 is the start of its chunk: read "
                                      "the offset the worker noted in its "
                                      "shared slot before each item."
                                    : "");
    ck_assert_msg(seen->ms < 2000,
                  "map took %ld ms to report the dead worker; expected well "
                  "under 2000 ms. Notice the death by EOF on its channel, "
                  "not by a timeout.",
                  seen->ms);
    munmap(seen, sizeof *seen);
}

/* ------------------------------------- a worker faster than the pool */

// Item 2 tells the test it is running, then kills its own worker.
static int died_fd = -1;

static int
tells_and_dies_at_2(long x, long *result)
{
    if (x == 2) {
        give_token(died_fd);
        raise(SIGKILL);
    }
    *result = x;
    return 0;
}

struct race {
    int r;         // the map's return
    size_t failed; // the index it reported
    long stops;    // how many times the pool stopped after a send
};

// In a helper child of the pool's process: once the pool has stopped
// right after its send (the first sendmsg), and the worker has told that
// it runs item 2, let the pool go on.  Bounded, so that a pool that never
// stops, or a worker that never tells, is let go all the same.
static int
let_the_pool_go(pid_t pool, int told)
{
    long end = fl_now_ms() + GATE_MS;
    while (fl_proc_state(pool) != 'T' && fl_now_ms() < end)
        sched_yield();
    struct pollfd q = {.fd = told, .events = POLLIN};
    while (poll(&q, 1, GATE_MS) < 0 && errno == EINTR)
        ;
    kill(pool, SIGCONT);
    return 0;
}

// The pool's process: a map of one chunk whose worker runs items 0 and 1
// and dies on item 2 while the pool is stopped just after its send.
static int
race_scenario(void *arg)
{
    struct race *seen_race = arg;
    int told[2];
    if (pipe(told) != 0)
        return 1;
    died_fd = told[1];
    mp_pool *p = NULL;
    if (mp_pool_create(&p, 1) != 0)
        return 1;
    fflush(NULL);
    pid_t helper = fork();
    if (helper < 0)
        return 1;
    if (helper == 0) {
        close(told[1]);
        _exit(let_the_pool_go(getppid(), told[0]));
    }
    long in[4] = {0, 1, 2, 3}, out[4] = {0};
    seen_race->failed = 999;
    fl_fault_reset();
    fl_fault_stop_after("sendmsg", 1);
    seen_race->r =
        mp_pool_map(p, tells_and_dies_at_2, in, out, 4, 4, &seen_race->failed);
    seen_race->stops = fl_fault_fired("sendmsg");
    fl_fault_reset();
    mp_pool_destroy(p);
    fl_raw_wait(helper, "the helper");
    return 0;
}

// Run a map scenario in a child of the test, bounded by timeout_ms, and
// give back what it saw; the child itself must return 0.
static struct race
race_in_child(int (*scenario)(void *), int timeout_ms)
{
    struct race *r = shared(sizeof *r);
    r->r = 1;
    fl_child res;
    fl_run_in_child(scenario, r, timeout_ms, 0, &res);
    if (res.timed_out || !res.returned)
        fl_kill_children();
    struct race got = *r;
    munmap(r, sizeof *r);
    ck_assert_msg(!res.timed_out && res.returned && res.value == 0,
                  "the pool's process %s", res.timed_out ? "hung" : "failed");
    return got;
}

// The slot is reset BEFORE the chunk is sent: a worker may run items, note
// them and die before the pool's next line after the send runs.
FL_TEST(test_mp_pool_map_blames_the_item_of_a_worker_faster_than_the_pool)
{
    struct race got = race_in_child(race_scenario, 2 * GATE_MS + 1000);
    ck_assert_msg(got.r == -EPIPE && got.failed == 2,
                  "the pool stopped for a moment right after it sent a "
                  "chunk of items 0..3 (%ld stop%s); its worker ran items 0 "
                  "and 1 and died on item 2 meanwhile. map returned %s at "
                  "index %zu, expected -32 (-EPIPE) at 2.%s",
                  got.stops, got.stops == 1 ? "" : "s", fl_ret(got.r),
                  got.failed,
                  got.failed == 0 ? " Was the worker's slot reset to 0 after "
                                    "the send? The worker may have run "
                                    "items by then: reset it before."
                                  : "");
}

// Item 3 kills its own worker.
static int
dies_at_3(long x, long *result)
{
    if (x == 3)
        raise(SIGKILL);
    *result = x;
    return 0;
}

// A pool of 2, chunks of 2: items 2 and 3 go to the second worker, which
// dies on item 3, noted in ITS slot (slot 1), not the first one's.
static int
second_slot_scenario(void *arg)
{
    struct race *seen_race = arg;
    mp_pool *p = NULL;
    if (mp_pool_create(&p, 2) != 0)
        return 1;
    long in[4] = {0, 1, 2, 3}, out[4] = {0};
    seen_race->failed = 999;
    seen_race->r = mp_pool_map(p, dies_at_3, in, out, 4, 2, &seen_race->failed);
    mp_pool_destroy(p);
    return 0;
}

FL_TEST(test_mp_pool_map_blames_the_item_a_second_worker_died_on)
{
    struct race got = race_in_child(second_slot_scenario, 2500);
    ck_assert_msg(got.r == -EPIPE && got.failed == 3,
                  "a pool of 2, map of items 0..3 in chunks of 2: the "
                  "second worker ran items 2 and 3 and died on item 3. map "
                  "returned %s at index %zu, expected -32 (-EPIPE) at 3.%s",
                  fl_ret(got.r), got.failed,
                  got.failed == 2 ? " Does each worker note its item in its "
                                    "own slot, p->slots[i] for worker i? The "
                                    "pool reads the dead worker's slot."
                                  : "");
}

FL_TEST(test_mp_pool_map_replaces_a_dead_worker)
{
    run_death_scenario();
    ck_assert_msg(seen->again == 0 && seen->again_ok,
                  "after a worker died, the next map returned %s%s; "
                  "expected 0 with the right results",
                  fl_ret(seen->again),
                  seen->again_ok ? ""
                                 : " with wrong "
                                   "results");
    ck_assert_msg(seen->zombies == 0,
                  "after a worker died, its pool's process had %d zombie "
                  "child(ren): reap the dead worker (waitpid)",
                  seen->zombies);
    ck_assert_msg(seen->live == 2,
                  "after a worker of a pool of 2 died, the pool had %d live "
                  "worker(s); expected 2: start a new worker in the dead "
                  "one's slot, or each crash shrinks the pool for good",
                  seen->live);
    munmap(seen, sizeof *seen);
}

// Wait until pid has exited (it stays a zombie until its parent reaps it).
static int
until_exited(pid_t pid, int timeout_ms)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return -1;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    int r = poll(&pf, 1, timeout_ms);
    close(fd);
    return r == 1 ? 0 : -1;
}

// SIGPIPEs raised in the test process while count_sigpipes is in force.
// The harness ignores SIGPIPE; a program that never changed it would die
// of one, so a library must not raise it in its caller (MSG_NOSIGNAL).
static volatile sig_atomic_t sigpipes;

static void
on_sigpipe(int sig)
{
    (void)sig;
    sigpipes++;
}

// on 1: count SIGPIPEs from now (old receives what was in force); 0: put
// old back.
static void
count_sigpipes(int on, struct sigaction *old)
{
    struct sigaction sa = {.sa_handler = on_sigpipe};
    sigemptyset(&sa.sa_mask);
    if (on) {
        sigpipes = 0;
        sigaction(SIGPIPE, &sa, old);
    } else
        sigaction(SIGPIPE, old, NULL);
}

FL_TEST(test_mp_pool_apply_works_after_an_idle_worker_died)
{
    mp_pool *p = pool_of(2);
    pid_t pids[8];
    int live, zombies;
    children(&live, &zombies, pids, 8);
    ck_assert_msg(live == 2, "a pool of 2 has %d workers", live);
    for (int i = 0; i < 2; i++) { // kill both, idle, behind the pool's back
        kill(pids[i], SIGKILL);
        ck_assert_msg(until_exited(pids[i], 5000) == 0, "SIGKILL failed");
    }
    long v = 0;
    struct sigaction old;
    count_sigpipes(1, &old);
    int r = mp_pool_apply(p, square, 6, &v);
    count_sigpipes(0, &old);
    children(&live, &zombies, NULL, 0);
    mp_pool_destroy(p);
    ck_assert_msg(sigpipes == 0,
                  "both workers were killed while idle; then apply(square, "
                  "6) raised SIGPIPE in the caller's process %d time(s): "
                  "its default action kills a program that never changed "
                  "it. Send to a worker with sendmsg(..., MSG_NOSIGNAL): "
                  "one that is gone then gives EPIPE, and no signal.",
                  (int)sigpipes);
    ck_assert_msg(r == 0 && v == 36,
                  "both workers were killed while idle; then apply(square, "
                  "6) returned %s with %ld, expected 0 with 36. A send "
                  "that fails means the worker died before it took the "
                  "chunk: the chunk never started, so give it to another "
                  "worker (keep it queued) instead of failing it.",
                  fl_ret(r), v);
    ck_assert_msg(live == 2 && zombies == 0,
                  "after two idle workers died and an apply, the pool had "
                  "%d live workers and %d zombies; expected 2 and 0",
                  live, zombies);
}

/* -------------------------------------------------------------- create */

FL_TEST(test_mp_pool_create_starts_the_workers)
{
    mp_pool *p = pool_of(3);
    int live, zombies;
    children(&live, &zombies, NULL, 0);
    mp_pool_destroy(p);
    ck_assert_msg(live == 3 && zombies == 0,
                  "after mp_pool_create(&p, 3) the test had %d live "
                  "children and %d zombies; expected 3 workers, started at "
                  "once",
                  live, zombies);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    p = pool_of(0);
    children(&live, &zombies, NULL, 0);
    mp_pool_destroy(p);
    ck_assert_msg(live == cpus,
                  "mp_pool_create(&p, 0) started %d workers; expected one "
                  "per online CPU (%ld), as Python's Pool() does",
                  live, cpus);
    // On a machine of 3 CPUs, and where sysconf fails (-1): 3, then 1.
    for (long c = 3; c >= -1; c -= 4) {
        if (c > 0)
            fl_cpus_fake(c);
        else
            fl_fault_fail("sysconf", 1, EINVAL);
        p = NULL;
        int r = mp_pool_create(&p, 0);
        fl_fault_reset();
        children(&live, &zombies, NULL, 0);
        if (r == 0)
            mp_pool_destroy(p);
        ck_assert_msg(r == 0 && live == (c > 0 ? c : 1),
                      "mp_pool_create(&p, 0) where sysconf(_SC_NPROCESSORS_"
                      "ONLN) gives %ld returned %s and started %d workers; "
                      "expected 0 and %ld: one per CPU, and 1 if sysconf "
                      "fails",
                      c, fl_ret(r), live, c > 0 ? c : 1);
    }
}

// In a child: mp_pool_create(&p, 4) with room for about two workers'
// descriptors only.  0 if it fails with -EMFILE and leaves nothing behind.
static int
create_without_fds(void *arg)
{
    (void)arg;
    int lowest = dup(0); // the lowest free number
    close(lowest);
    struct rlimit old, lim;
    getrlimit(RLIMIT_NOFILE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)lowest + 3; // 2 workers, and a socketpair's half
    setrlimit(RLIMIT_NOFILE, &lim);
    mp_pool *p = NULL;
    int r = mp_pool_create(&p, 4);
    setrlimit(RLIMIT_NOFILE, &old);
    int live, zombies;
    children(&live, &zombies, NULL, 0);
    int after = dup(0);
    close(after);
    if (r != -EMFILE)
        return r == 0 ? 1 : 2;
    if (live != 0 || zombies != 0)
        return 3;
    return after == lowest ? 0 : 4;
}

// A pool made by a process without stdin: its first channel is fd 0.
static int
map_with_stdin_closed(void *arg)
{
    (void)arg;
    close(0);
    mp_pool *p = NULL;
    int r = mp_pool_create(&p, 1);
    if (r != 0)
        return r;
    long in[3] = {1, 2, 3}, out[3] = {0};
    r = mp_pool_map(p, square, in, out, 3, 1, NULL);
    mp_pool_destroy(p);
    return r == 0 && out[0] + out[1] + out[2] != 14 ? -10000 : r;
}

FL_TEST(test_mp_pool_create_fails_cleanly_when_out_of_descriptors)
{
    fl_child res;
    fl_run_in_child(create_without_fds, NULL, 5000, 0, &res);
    if (!res.returned)
        fl_kill_children();
    ck_assert_msg(res.returned, "mp_pool_create, out of descriptors, %s",
                  res.timed_out ? "never returned" : "ended the process");
    ck_assert_msg(res.value == 0,
                  "mp_pool_create(&p, 4) with descriptors for 2 workers "
                  "only: %s. On failure, end and reap the workers already "
                  "started, close their channels, free the rest, and "
                  "return -EMFILE.",
                  res.value == 1   ? "it returned 0"
                  : res.value == 2 ? "it did not return -EMFILE"
                  : res.value == 3 ? "workers were left running or as "
                                     "zombies"
                                   : "descriptors were left open");
    fl_run_in_child(map_with_stdin_closed, NULL, 5000, 0, &res);
    if (!res.returned)
        fl_kill_children();
    ck_assert_msg(res.returned && res.value == 0,
                  "with descriptor 0 closed (no stdin), a pool of 1 got 0 "
                  "as its end of the worker's channel; then map of [1, 2, "
                  "3] %s %s, expected 0 with [1, 4, 9]. 0 is a descriptor "
                  "like any other: only a negative one (-1) means none.",
                  res.returned ? "gave" : "never returned",
                  !res.returned         ? ""
                  : res.value == -10000 ? "wrong results"
                                        : fl_ret(res.value));
}

static void
count_item(size_t index, long value, void *ctx)
{
    (void)index;
    (void)value;
    (*(int *)ctx)++;
}

// The calls given NULL items or NULL results, in a child with a pool of its
// own (a call that does not check sends from NULL, loses its worker and
// starts another for ever, or reads the results into NULL): which one it
// is on, and what each returned, in shared memory.
#define NULL_CALLS 4
static const char *const null_call[NULL_CALLS] = {
    "map_async(NULL in)", "imap(NULL in)", "imap_unordered(NULL in)",
    "starmap(NULL out)"};
struct null_calls {
    int on;              // the call it is on
    int got[NULL_CALLS]; // what each returned
};

static int
null_calls_refused(void *arg)
{
    struct null_calls *f = arg;
    mp_pool *p = NULL;
    if (mp_pool_create(&p, 1) != 0)
        return 1;
    long out[1];
    int n = 0;
    struct mp_pair pair[1] = {{1, 2}};
    f->got[0] =
        mp_pool_map_async(p, square, NULL, out, 1, 0, NULL, NULL, NULL, NULL);
    f->on = 1;
    f->got[1] = mp_pool_imap(p, square, NULL, 1, 0, count_item, &n, NULL);
    f->on = 2;
    f->got[2] =
        mp_pool_imap_unordered(p, square, NULL, 1, 0, count_item, &n, NULL);
    f->on = 3;
    f->got[3] = mp_pool_starmap(p, minus, pair, NULL, 1, 0, NULL);
    f->on = NULL_CALLS;
    mp_pool_destroy(p);
    return 0;
}

FL_TEST(test_mp_pool_calls_reject_bad_arguments)
{
    mp_pool *p = NULL;
    long in[1] = {1}, out[1];
    struct mp_pair pair[1] = {{1, 2}};
    int r[] = {mp_pool_create(NULL, 2), mp_pool_create(&p, -1)};
    ck_assert_msg(r[0] == -EINVAL && r[1] == -EINVAL,
                  "mp_pool_create(NULL, 2) returned %s and "
                  "mp_pool_create(&p, -1) %s; expected -EINVAL for both",
                  fl_ret(r[0]), fl_ret(r[1]));
    p = pool_of(1);
    int n = 0;
    mp_result *res = NULL;
    int s = mp_pool_apply_async(p, square, 1, NULL, NULL, NULL, &res);
    ck_assert_msg(s == 0, "apply_async returned %s", fl_ret(s));
    const char *what[] = {"map(NULL pool)",
                          "map(NULL fn)",
                          "map(NULL in)",
                          "map(NULL out)",
                          "imap_unordered(NULL each)",
                          "imap(NULL each)",
                          "starmap(NULL fn)",
                          "starmap(NULL in)",
                          "apply(NULL fn)",
                          "apply_async(NULL fn)",
                          "map_async(NULL fn)",
                          "map_async(NULL out)",
                          "starmap(NULL pool)",
                          "imap_unordered(NULL pool)",
                          "imap_unordered(NULL fn)",
                          "imap(NULL pool)",
                          "imap(NULL fn)",
                          "apply(NULL pool)",
                          "apply_async(NULL pool)",
                          "map_async(NULL pool)",
                          "mp_result_get(NULL)",
                          "mp_result_get(res, -2): a timeout below -1",
                          "close(NULL)",
                          "join(NULL)",
                          "terminate(NULL)"};
    int got[] = {
        mp_pool_map(NULL, square, in, out, 1, 0, NULL),
        mp_pool_map(p, NULL, in, out, 1, 0, NULL),
        mp_pool_map(p, square, NULL, out, 1, 0, NULL),
        mp_pool_map(p, square, in, NULL, 1, 0, NULL),
        mp_pool_imap_unordered(p, square, in, 1, 0, NULL, &n, NULL),
        mp_pool_imap(p, square, in, 1, 0, NULL, &n, NULL),
        mp_pool_starmap(p, NULL, pair, out, 1, 0, NULL),
        mp_pool_starmap(p, minus, NULL, out, 1, 0, NULL),
        mp_pool_apply(p, NULL, 1, NULL),
        mp_pool_apply_async(p, NULL, 1, NULL, NULL, NULL, NULL),
        mp_pool_map_async(p, NULL, in, out, 1, 0, NULL, NULL, NULL, NULL),
        mp_pool_map_async(p, square, in, NULL, 1, 0, NULL, NULL, NULL, NULL),
        mp_pool_starmap(NULL, minus, pair, out, 1, 0, NULL),
        mp_pool_imap_unordered(NULL, square, in, 1, 0, count_item, &n, NULL),
        mp_pool_imap_unordered(p, NULL, in, 1, 0, count_item, &n, NULL),
        mp_pool_imap(NULL, square, in, 1, 0, count_item, &n, NULL),
        mp_pool_imap(p, NULL, in, 1, 0, count_item, &n, NULL),
        mp_pool_apply(NULL, square, 1, NULL),
        mp_pool_apply_async(NULL, square, 1, NULL, NULL, NULL, NULL),
        mp_pool_map_async(NULL, square, in, out, 1, 0, NULL, NULL, NULL, NULL),
        mp_result_get(NULL, 0, NULL),
        mp_result_get(res, -2, NULL),
        mp_pool_close(NULL),
        mp_pool_join(NULL),
        mp_pool_terminate(NULL)};
    // What succeeds returns 0, as pools.h says: a second terminate, which
    // has nothing left to do, the destroy of a terminated pool, and the
    // free of a handle, a NULL one too.
    int ends[] = {mp_pool_terminate(p), mp_pool_terminate(p),
                  mp_pool_destroy(p), mp_result_free(res),
                  mp_result_free(NULL)};
    const char *end_what[] = {
        "mp_pool_terminate(p)", "mp_pool_terminate(p) again, once terminated",
        "mp_pool_destroy(p) of a terminated pool",
        "mp_result_free(res) of its ended task", "mp_result_free(NULL)"};
    fl_expect_int(mp_pool_destroy(NULL), 0, "mp_pool_destroy(NULL)",
                  "Like free(NULL), it does nothing.");
    for (size_t i = 0; i < sizeof got / sizeof got[0]; i++)
        ck_assert_msg(got[i] == -EINVAL,
                      "%s returned %s; expected -22 (-EINVAL), before "
                      "anything reaches a worker",
                      what[i], fl_ret(got[i]));
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++)
        ck_assert_msg(ends[i] == 0,
                      "%s returned %s; expected 0: it succeeds, and "
                      "success returns 0 (NULL does nothing, like free)",
                      end_what[i], fl_ret(ends[i]));
    struct null_calls *f = shared(sizeof *f);
    fl_child c;
    fl_run_in_child(null_calls_refused, f, 1000, 0, &c);
    int on = f->on, bad = 0;
    while (bad < NULL_CALLS && f->got[bad] == -EINVAL)
        bad++;
    int ret = bad < NULL_CALLS ? f->got[bad] : 0;
    munmap(f, sizeof *f);
    ck_assert_msg(c.returned && on == NULL_CALLS,
                  "%s, count 1, %s%s; expected -22 (-EINVAL) at once. A "
                  "NULL array with items to read or results to write is "
                  "refused before anything reaches a worker: sent from "
                  "NULL, the chunk fails, its worker is lost and the next "
                  "one too, for ever; results read into NULL crash.",
                  null_call[on < NULL_CALLS ? on : 0],
                  c.timed_out  ? "never returned"
                  : c.returned ? "was not reached"
                               : "crashed the process with ",
                  c.timed_out || c.returned ? "" : fl_signame(c.status));
    ck_assert_msg(bad == NULL_CALLS,
                  "%s, count 1, returned %s; expected -22 (-EINVAL), "
                  "before anything reaches a worker",
                  null_call[bad < NULL_CALLS ? bad : 0], fl_ret(ret));
}

// In a child (join would wait for ever for a job counted out but never
// in): a map_async of no items, with no handle, then close and join.
static int
empty_map_async_then_join(void *arg)
{
    (void)arg;
    mp_pool *p = NULL;
    if (mp_pool_create(&p, 1) != 0)
        return 1;
    int r =
        mp_pool_map_async(p, square, NULL, NULL, 0, 0, NULL, NULL, NULL, NULL);
    mp_pool_close(p);
    if (r == 0)
        r = mp_pool_join(p);
    mp_pool_destroy(p);
    return r;
}

FL_TEST(test_mp_pool_map_of_no_items_returns_0)
{
    mp_pool *p = pool_of(2);
    int n = 0;
    struct calls c = {0, 0, -1, 0};
    mp_result *res = NULL;
    long v = -1;
    int r[] = {
        mp_pool_map(p, square, NULL, NULL, 0, 0, NULL),
        mp_pool_imap_unordered(p, square, NULL, 0, 0, count_item, &n, NULL),
        mp_pool_imap(p, square, NULL, 0, 0, count_item, &n, NULL),
        mp_pool_starmap(p, minus, NULL, NULL, 0, 0, NULL),
        mp_pool_map_async(p, square, NULL, NULL, 0, 0, on_value, on_error, &c,
                          &res)};
    int g = r[4] == 0 ? mp_result_get(res, 1000, &v) : r[4];
    mp_result_free(r[4] == 0 ? res : NULL);
    // One item, the next limit: it is run, like any other count.
    long one = 7, o1 = 0, o2 = 0;
    struct mp_pair pair = {9, 2};
    int n1 = 0;
    int r1[] = {
        mp_pool_map(p, square, &one, &o1, 1, 0, NULL),
        mp_pool_imap_unordered(p, square, &one, 1, 0, count_item, &n1, NULL),
        mp_pool_imap(p, square, &one, 1, 0, count_item, &n1, NULL),
        mp_pool_starmap(p, minus, &pair, &o2, 1, 0, NULL)};
    mp_pool_destroy(p);
    const char *what[] = {"map", "imap_unordered", "imap", "starmap",
                          "map_async"};
    for (int i = 0; i < 5; i++)
        ck_assert_msg(r[i] == 0 && n == 0,
                      "%s of 0 items returned %s (%d callbacks); expected 0 "
                      "at once, as Python's map([]) gives []. Careful: the "
                      "chunksize rule gives 0 for 0 items, and a chunk of 0 "
                      "items never ends.",
                      what[i], fl_ret(r[i]), n);
    ck_assert_msg(g == 0 && v == 0 && c.ok == 1 && c.value == 0,
                  "map_async of 0 items, then get(res, 1 s): %s with %ld, "
                  "and the callback ran %d time(s) (last with %ld); "
                  "expected 0 with 0, and the callback once with 0. A map "
                  "of no items has nothing to hand out: it is done at once, "
                  "callback included.",
                  fl_ret(g), v, c.ok, c.value);
    ck_assert_msg(r1[0] == 0 && r1[1] == 0 && r1[2] == 0 && r1[3] == 0 &&
                      o1 == 49 && n1 == 2 && o2 == 7,
                  "with one item, map of square [7] returned %s with [%ld], "
                  "imap_unordered and imap %s and %s with %d callbacks in "
                  "all, starmap of minus [(9, 2)] %s with [%ld]; expected 0 "
                  "with [49], 0 and 0 with 2 callbacks, 0 with [7]. Only a "
                  "map of no items returns at once: one item is run as any "
                  "other count.",
                  fl_ret(r1[0]), o1, fl_ret(r1[1]), fl_ret(r1[2]), n1,
                  fl_ret(r1[3]), o2);
    fl_child j;
    fl_run_in_child(empty_map_async_then_join, NULL, 1000, 0, &j);
    ck_assert_msg(j.returned && j.value == 0,
                  "map_async of 0 items (no handle), then close and join: "
                  "%s%s; expected 0 at once. The job of no items is "
                  "finished at once, and finish takes one off the count of "
                  "pending jobs: count it pending first, as enqueue does, "
                  "or the count wraps round and join waits for ever.",
                  j.returned ? "returned " : "join never returned",
                  j.returned ? fl_ret(j.value) : "");
}

/* --------------------------------------------------------------- apply */

static int
fails_with_edom(long x, long *result)
{
    (void)x;
    (void)result;
    return -EDOM;
}

FL_TEST(test_mp_pool_apply_waits_for_the_result)
{
    mp_pool *p = pool_of(2);
    long v = 0, v2 = 12345; // a failed apply must leave v2 alone
    int r1 = mp_pool_apply(p, square, 7, &v);
    int r2 = mp_pool_apply(p, fails_with_edom, 7, &v2);
    int r3 = mp_pool_apply(p, square, 3, NULL); // the result not wanted
    mp_pool_destroy(p);
    ck_assert_msg(r1 == 0 && v == 49,
                  "apply(square, 7) returned %s with %ld; expected 0 with 49",
                  fl_ret(r1), v);
    fl_expect_int(r2, -EDOM, "apply of a task that returns -EDOM",
                  "The task's error is apply's return value.");
    ck_assert_msg(v2 == 12345,
                  "apply of a task that failed with -EDOM wrote %ld to "
                  "*value, which held 12345: a failed apply leaves *value "
                  "untouched (it receives the result only on success)",
                  v2);
    fl_expect_int(r3, 0, "apply(square, 3, value NULL)",
                  "value may be NULL: the caller does not want the result. "
                  "Store it only if value is not NULL.");
}

// Two tasks that can only both finish if they run at the same time: each
// gives the other's token, then waits for its own.
static int
rendezvous(long x, long *result)
{
    give_token(x == 0 ? started[1] : token[1]);
    int r = wait_token(x == 0 ? token[0] : started[0]);
    *result = x;
    return r < 0 ? -ETIMEDOUT : 0;
}

FL_TEST(test_mp_pool_apply_async_runs_tasks_at_the_same_time)
{
    pipe_or_fail(token);
    pipe_or_fail(started);
    mp_pool *p = pool_of(2);
    mp_result *a = NULL, *b = NULL;
    long t0 = fl_now_ms();
    int sa = mp_pool_apply_async(p, rendezvous, 0, NULL, NULL, NULL, &a);
    long ms = fl_now_ms() - t0;
    int sb = mp_pool_apply_async(p, rendezvous, 1, NULL, NULL, NULL, &b);
    int ga = sa == 0 ? mp_result_get(a, -1, NULL) : sa;
    int gb = sb == 0 ? mp_result_get(b, -1, NULL) : sb;
    mp_result_free(a);
    mp_result_free(b);
    mp_pool_destroy(p);
    pipe_close(token);
    pipe_close(started);
    ck_assert_msg(sa == 0 && sb == 0,
                  "mp_pool_apply_async returned %s and %s; expected 0",
                  fl_ret(sa), fl_ret(sb));
    ck_assert_msg(ms < WAIT_MS,
                  "the first apply_async took %ld ms to return: it waited "
                  "for its task, which waits for the second task. apply "
                  "blocks; apply_async submits and returns at once.",
                  ms);
    ck_assert_msg(ga == 0 && gb == 0,
                  "two tasks that must run at the same time got %s and %s; "
                  "expected 0 and 0. Hand a submitted task to an idle "
                  "worker at once.",
                  fl_ret(ga), fl_ret(gb));
}

FL_TEST(test_mp_pool_apply_async_calls_the_callback_exactly_once)
{
    struct calls c = {0, 0, 0, 0};
    mp_pool *p = pool_of(2);
    mp_result *res = NULL;
    long v = 0;
    int s = mp_pool_apply_async(p, square, 7, on_value, on_error, &c, &res);
    int g1 = s == 0 ? mp_result_get(res, -1, &v) : s;
    int g2 = s == 0 ? mp_result_get(res, -1, &v) : s;
    mp_pool_close(p);
    mp_pool_join(p);
    mp_result_free(res);
    mp_pool_destroy(p);
    ck_assert_msg(g1 == 0 && g2 == 0 && v == 49,
                  "apply_async(square, 7) then get, twice: %s and %s with "
                  "%ld; expected 0 with 49 each time",
                  fl_ret(g1), fl_ret(g2), v);
    ck_assert_msg(c.ok == 1 && c.value == 49 && c.failed == 0,
                  "after two gets and a join, the callback ran %d time(s) "
                  "(last with %ld) and the error callback %d; expected the "
                  "callback once, with 49. Call it when the task ends, in "
                  "one place, never again from get.",
                  c.ok, c.value, c.failed);
}

FL_TEST(test_mp_pool_apply_async_calls_the_error_callback_exactly_once)
{
    struct calls c = {0, 0, 0, 0};
    mp_pool *p = pool_of(2);
    mp_result *res = NULL;
    int s = mp_pool_apply_async(p, fails_with_edom, 7, on_value, on_error, &c,
                                &res);
    long v = 12345; // a failed get must leave it alone
    int g1 = s == 0 ? mp_result_get(res, -1, &v) : s;
    int g2 = s == 0 ? mp_result_get(res, -1, NULL) : s;
    mp_pool_close(p);
    mp_pool_join(p);
    mp_result_free(res);
    mp_pool_destroy(p);
    ck_assert_msg(g1 == -EDOM && g2 == -EDOM,
                  "get of a task that fails with -EDOM, twice: %s and %s",
                  fl_ret(g1), fl_ret(g2));
    ck_assert_msg(c.failed == 1 && c.err == -EDOM && c.ok == 0,
                  "the error callback ran %d time(s) (last with %s) and the "
                  "callback %d; expected the error callback once, with "
                  "-EDOM, and never the callback",
                  c.failed, fl_ret(c.err), c.ok);
    ck_assert_msg(v == 12345,
                  "get of a task that failed with -EDOM wrote %ld to *value, "
                  "which held 12345: a failed get leaves *value untouched "
                  "(it receives a result only on success)",
                  v);
}

FL_TEST(test_mp_pool_apply_async_without_a_handle_still_calls_back)
{
    struct calls c = {0, 0, 0, 0};
    mp_pool *p = pool_of(2);
    int s = mp_pool_apply_async(p, square, 9, on_value, on_error, &c, NULL);
    mp_pool_close(p);
    int j = mp_pool_join(p);
    mp_pool_destroy(p);
    ck_assert_msg(s == 0 && j == 0 && c.ok == 1 && c.value == 81,
                  "apply_async(square, 9) with no handle returned %s, join "
                  "%s, and the callback ran %d time(s) with %ld; expected "
                  "0, 0, once with 81%s",
                  fl_ret(s), fl_ret(j), c.ok, c.value,
                  s == 0 && j == 0 && c.ok == 0
                      ? ". Nobody calls get on a task without a handle: did "
                        "join end the workers without first waiting for the "
                        "tasks still queued? It must wait for every one, "
                        "calling back as each ends. Or is the callback of a "
                        "task without a handle never called?"
                      : "");
}

/* ----------------------------------------------------------------- get */

// A task that waits until the test opens its gate (a token), or WAIT_MS.
static int
gated(long x, long *result)
{
    give_token(started[1]);
    wait_token(token[0]);
    *result = x;
    return 0;
}

// A pool of 1 whose one task waits for a token (gated): the pool in *p,
// the task's result returned.
static mp_result *
gated_task(mp_pool **p)
{
    pipe_or_fail(token);
    pipe_or_fail(started);
    *p = pool_of(1);
    mp_result *res = NULL;
    int s = mp_pool_apply_async(*p, gated, 5, NULL, NULL, NULL, &res);
    ck_assert_msg(s == 0, "apply_async returned %s", fl_ret(s));
    return res;
}

// Free res, destroy p, close the gate's pipes.
static void
gated_done(mp_pool *p, mp_result *res)
{
    mp_result_free(res);
    mp_pool_destroy(p);
    pipe_close(token);
    pipe_close(started);
}

FL_TEST(test_mp_result_get_times_out_on_a_slow_task)
{
    pipe_or_fail(token);
    pipe_or_fail(started);
    mp_pool *p = pool_of(2);
    mp_result *res = NULL, *quick = NULL;
    long v = 0;
    long t0 = fl_now_ms();
    int s = mp_pool_apply_async(p, gated, 5, NULL, NULL, NULL, &res);
    long submit_ms = fl_now_ms() - t0;
    int g0 = s == 0 ? mp_result_get(res, 1, &v) : s; // the least timeout
    // The code's clock 50 ms short of a whole second: a time in ms that
    // wraps each second (tv_sec / 1000 for tv_sec * 1000) finds 1000 ms
    // left at every look after it, and never times out.
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    fl_clock_mono_later_at(0, (1950 - now.tv_nsec / 1000000) % 1000);
    t0 = fl_now_ms();
    int g1 = s == 0 ? mp_result_get(res, 100, &v) : s;
    long ms = fl_now_ms() - t0;
    fl_fault_reset();
    // A task on the other worker ends while the slow one runs on: its
    // get does not wait for the slow one.
    long qv = 0;
    int qs = mp_pool_apply_async(p, square, 4, NULL, NULL, NULL, &quick);
    int qg = qs == 0 ? mp_result_get(quick, 1000, &qv) : qs;
    mp_result_free(qs == 0 ? quick : NULL);
    int busy = s == 0 ? mp_result_free(res) : -EBUSY;
    if (busy == 0)
        res = NULL; // it was freed: touch it no more
    give_token(token[1]);
    int g2 = res != NULL ? mp_result_get(res, -1, &v) : busy;
    gated_done(p, res);
    ck_assert_msg(submit_ms < WAIT_MS - 500,
                  "apply_async took %ld ms to return: it waited for its "
                  "task, which runs until the test lets it go (or %d ms). "
                  "apply_async submits and returns at once.",
                  submit_ms, WAIT_MS);
    ck_assert_msg(g1 == -ETIMEDOUT && ms >= 50 && ms < 2000,
                  "get(res, 100 ms) of a task that runs until the test lets "
                  "it go returned %s after %ld ms; expected -110 "
                  "(-ETIMEDOUT) after about 100 ms. Wait for the time LEFT "
                  "until a deadline, and give up when it is past.",
                  fl_ret(g1), ms);
    fl_expect_int(g0, -ETIMEDOUT,
                  "get(res, 1 ms) of a task that runs until the test lets "
                  "it go",
                  "1 ms is a timeout like any other: work out the time "
                  "left for every timeout above 0, and give up once it is "
                  "0");
    ck_assert_msg(qg == 0 && qv == 16,
                  "in a pool of 2, one task ran until the test let it go; "
                  "get(res, 1 s) of a square(4) submitted meanwhile gave "
                  "%s with %ld; expected 0 with 16 at once. get waits for "
                  "ITS task only, not for every task of the pool.",
                  fl_ret(qg), qv);
    fl_expect_int(busy, -EBUSY, "mp_result_free of a task still running",
                  "The pool still points at its record: refuse to free it.");
    ck_assert_msg(g2 == 0 && v == 5,
                  "after a timeout, get(res, -1) returned %s with %ld; "
                  "expected 0 with 5: a timeout leaves the task running",
                  fl_ret(g2), v);
}

// A ticking clock: SIGALRM every millisecond, without SA_RESTART, so
// that every blocked poll, read or send in the pool's process fails with
// EINTR.  (Timers are not inherited by fork: the workers do not tick.)
static volatile sig_atomic_t ticks;

static void
on_tick(int sig)
{
    (void)sig;
    ticks++;
}

static void
ticking(int on)
{
    struct sigaction sa = {.sa_handler = on ? on_tick : SIG_IGN};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every_ms = {{0, on ? 1000 : 0}, {0, on ? 1000 : 0}};
    setitimer(ITIMER_REAL, &every_ms, NULL);
}

// Work for 20 ms (a task that takes time, not a wait for anything).
static int
busy_20_ms(long x, long *result)
{
    long end = fl_now_ms() + 20;
    while (fl_now_ms() < end)
        ;
    *result = x;
    return 0;
}

FL_TEST(test_mp_pool_map_goes_on_when_signals_interrupt)
{
    size_t n = 1000000; // 8 MB each way: sends and reads block
    long *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    ck_assert_msg(in != NULL && out != NULL, "malloc failed");
    for (size_t i = 0; i < n; i++)
        in[i] = (long)i;
    mp_pool *p = pool_of(2);
    ticking(1);
    int r1 = mp_pool_map(p, square, in, out, n, 0, NULL);
    int r2 = mp_pool_map(p, busy_20_ms, in, out + n - 4, 4, 1, NULL);
    ticking(0);
    mp_pool_destroy(p);
    int ok = out[n - 5] == (long)(n - 5) * (long)(n - 5);
    for (int i = 0; i < 4; i++)
        ok &= out[n - 4 + i] == i;
    free(in);
    free(out);
    ck_assert_msg(r1 == 0 && r2 == 0 && ok,
                  "with SIGALRM arriving every millisecond (%d ticks), map "
                  "returned %s and %s%s; expected 0 and 0. A signal handler "
                  "makes poll, read and send fail with EINTR: that is no "
                  "error. Poll again for the time left; the I/O helpers "
                  "already retry.",
                  (int)ticks, fl_ret(r1), fl_ret(r2),
                  ok ? ""
                     : ", with wrong results (a signal that cuts a send "
                       "short makes it return the count it sent: send the "
                       "rest, from where it stopped)");
    // The ticks rarely catch a send before it has sent a byte (then it
    // returns the count, not EINTR), or a read with nothing yet to read:
    // make EINTR certain.  The worker's first read (its chunk) and send
    // (its answer), armed before its fork and disarmed in the pool's
    // process after; then the pool's first send (the chunk) and read.
    static const char *const sends[6] = {"sendmsg", "send", "write",
                                         "writev",  "read", "recv"};
    long in3[3] = {1, 2, 3}, o1[3] = {0}, o2[3] = {0};
    fl_fault_reset();
    for (int i = 0; i < 6; i++)
        fl_fault_eintr(sends[i], 1);
    p = pool_of(1);
    fl_fault_reset();
    int w = mp_pool_map(p, square, in3, o1, 3, 3, NULL);
    for (int i = 0; i < 6; i++)
        fl_fault_eintr(sends[i], 1);
    int q = mp_pool_map(p, square, in3, o2, 3, 3, NULL);
    long forks = fl_fault_calls("fork");
    fl_fault_reset();
    mp_pool_destroy(p);
    ck_assert_msg(w == 0 && o1[2] == 9,
                  "a worker's first read (its chunk) and first send (its "
                  "answer) failed with EINTR, and map returned %s%s; "
                  "expected 0. EINTR is no error: read again (read_full "
                  "does) and send again (send_all does), do not end the "
                  "worker.",
                  fl_ret(w), w == 0 ? " with wrong results" : "");
    ck_assert_msg(q == 0 && o2[2] == 9 && forks == 0,
                  "the pool's first send (a chunk) and first read (its "
                  "answer) failed with EINTR; map returned %s after %ld "
                  "fork(s), expected 0 after none. EINTR is no error: send "
                  "again (send_all does) and read again (read_full does); "
                  "it does not mean the worker died, to be killed and "
                  "replaced.",
                  fl_ret(q), forks);
    // A signal during a send that has sent some bytes makes it return
    // that count: the rest must follow, from where it stopped.  The pool's
    // first sendmsg here sends 32 bytes: the header (three words) and the
    // first item, and stops inside the items' piece.
    long in4[3] = {2, 3, 4}, o3[3] = {0};
    p = pool_of(1);
    fl_fault_short("sendmsg", 1, 32);
    int s = mp_pool_map(p, square, in4, o3, 3, 3, NULL);
    long cut = fl_fault_fired("sendmsg");
    fl_fault_reset();
    mp_pool_destroy(p);
    ck_assert_msg(s == 0 && o3[0] == 4 && o3[1] == 9 && o3[2] == 16,
                  "the pool's send of a chunk [2, 3, 4] came up short (%ld "
                  "cut) after the header and one item; map returned %s "
                  "with [%ld, %ld, %ld], expected 0 with [4, 9, 16]. A "
                  "short send is no error: send the rest, from the byte "
                  "after the last one sent, not the whole piece again.",
                  cut, fl_ret(s), o3[0], o3[1], o3[2]);
    // The pool's first read (an answer's header) comes up short after 4
    // bytes: the rest of the header and the results are still there.
    long o4[3] = {0};
    p = pool_of(1);
    fl_fault_short("read", 1, 4);
    s = mp_pool_map(p, square, in4, o4, 3, 3, NULL);
    cut = fl_fault_fired("read");
    fl_fault_reset();
    mp_pool_destroy(p);
    ck_assert_msg(s == 0 && o4[0] == 4 && o4[1] == 9 && o4[2] == 16,
                  "the pool's read of an answer's header came up short (%ld "
                  "cut) after 4 bytes; map of [2, 3, 4] returned %s with "
                  "[%ld, %ld, %ld], expected 0 with [4, 9, 16]. A short "
                  "read is no error: read the rest, len - got bytes at buf "
                  "+ got, never len again (that reads past the buffer).",
                  cut, fl_ret(s), o4[0], o4[1], o4[2]);
}

/* ------------------------------------------------------- imap_unordered */

// The callbacks an imap made, in the order it made them.
#define ORDER_MAX 128
struct order {
    size_t seen[ORDER_MAX];
    long value[ORDER_MAX];
    int n;
};

static void
note_item(size_t index, long value, void *ctx)
{
    struct order *o = ctx;
    if (o->n < ORDER_MAX) {
        o->seen[o->n] = index;
        o->value[o->n] = value;
    }
    o->n++;
}

// Item 0 waits until item 2 runs: 2 workers, chunks of 1.  Item 1 is
// always back first.
static int
zero_waits_for_two(long x, long *result)
{
    if (x == 0 && wait_token(token[0]) < 0)
        return -ETIMEDOUT;
    if (x == 2)
        give_token(token[1]);
    *result = x * x;
    return 0;
}

FL_TEST(test_mp_pool_imap_unordered_hands_results_in_completion_order)
{
    pipe_or_fail(token);
    mp_pool *p = pool_of(2);
    long in[5] = {0, 1, 2, 3, 4};
    struct order o;
    memset(&o, 0, sizeof o);
    int r = mp_pool_imap_unordered(p, zero_waits_for_two, in, 5, 0, note_item,
                                   &o, NULL);
    mp_pool_destroy(p);
    pipe_close(token);
    fl_expect_int(r, 0, "imap_unordered of 5 items", "");
    int each_once = o.n == 5, right = 1;
    for (int i = 0; i < 5 && i < o.n; i++) {
        right &= o.value[i] == (long)(o.seen[i] * o.seen[i]);
        for (int j = 0; j < i; j++)
            each_once &= o.seen[i] != o.seen[j];
    }
    ck_assert_msg(each_once && right,
                  "the callback ran %d times; expected once for each of the "
                  "5 items, with its own index and value",
                  o.n);
    ck_assert_msg(o.seen[0] == 1,
                  "item 0 finished after item 1, yet the first result handed "
                  "over was item %zu's; expected item 1's. imap_unordered "
                  "hands each chunk's results over as the chunk comes back, "
                  "not in input order.",
                  o.seen[0]);
}

/* ------------------------------------------------- close, join, terminate */

FL_TEST(test_mp_pool_close_refuses_new_tasks)
{
    mp_pool *p = pool_of(2);
    long in[2] = {1, 2}, out[2];
    int n = 0;
    mp_result *res = NULL;
    int c = mp_pool_close(p);
    mp_result *res2 = NULL;
    struct mp_pair pairs[2] = {{1, 2}, {3, 4}};
    int got[] = {
        mp_pool_map(p, square, in, out, 2, 0, NULL),
        mp_pool_imap_unordered(p, square, in, 2, 0, count_item, &n, NULL),
        mp_pool_apply(p, square, 1, NULL),
        mp_pool_apply_async(p, square, 1, NULL, NULL, NULL, &res),
        mp_pool_imap(p, square, in, 2, 0, count_item, &n, NULL),
        mp_pool_starmap(p, minus, pairs, out, 2, 0, NULL),
        mp_pool_map_async(p, square, in, out, 2, 0, NULL, NULL, NULL, &res2),
        mp_pool_map(p, square, NULL, NULL, 0, 0, NULL),
        mp_pool_imap(p, square, NULL, 0, 0, count_item, &n, NULL),
        mp_pool_starmap(p, minus, NULL, NULL, 0, 0, NULL)};
    const char *what[] = {"map",
                          "imap_unordered",
                          "apply",
                          "apply_async",
                          "imap",
                          "starmap",
                          "map_async",
                          "map of 0 items",
                          "imap of 0 items",
                          "starmap of 0 items"};
    if (got[3] == 0)
        mp_result_get(res, -1, NULL);
    if (got[6] == 0)
        mp_result_get(res2, -1, NULL);
    mp_result_free(got[3] == 0 ? res : NULL);
    mp_result_free(got[6] == 0 ? res2 : NULL);
    mp_pool_join(p);
    mp_pool_destroy(p);
    fl_expect_int(c, 0, "mp_pool_close", "");
    for (size_t i = 0; i < sizeof got / sizeof got[0]; i++)
        ck_assert_msg(got[i] == -EINVAL,
                      "%s on a closed pool returned %s; expected -22 "
                      "(-EINVAL), Python's \"ValueError: Pool not running\" "
                      "(Pool.map([]) too). Check the closed flag in every "
                      "call that submits, before the count of items.",
                      what[i], fl_ret(got[i]));
}

FL_TEST(test_mp_pool_join_refuses_a_pool_not_closed)
{
    mp_pool *p = pool_of(2);
    int j = mp_pool_join(p);
    int live, zombies;
    children(&live, &zombies, NULL, 0);
    mp_pool_destroy(p);
    fl_expect_int(j, -EINVAL, "mp_pool_join of a pool not closed",
                  "Python raises ValueError: close (or terminate) first, so "
                  "that no task can arrive once join has started.");
    fl_expect_int(live, 2, "workers left after the refused join",
                  "A refused join changes nothing.");
}

FL_TEST(test_mp_pool_join_runs_every_queued_task)
{
    struct calls c = {0, 0, 0, 0};
    mp_pool *p = pool_of(2);
    int s = 0;
    for (long i = 1; i <= 6; i++) // 2 run at once, 4 wait in the queue
        s |= mp_pool_apply_async(p, square, i, on_value, on_error, &c, NULL);
    mp_pool_close(p);
    int j = mp_pool_join(p);
    mp_pool_destroy(p);
    ck_assert_msg(s == 0 && j == 0,
                  "apply_async returned %s, join %s; expected 0", fl_ret(s),
                  fl_ret(j));
    ck_assert_msg(c.ok == 6,
                  "6 tasks were submitted (4 of them waiting in the queue) "
                  "before close; after join, %d callbacks had run, expected "
                  "6. Join waits for every task submitted: it keeps handing "
                  "queued tasks to workers until none is left.",
                  c.ok);
}

FL_TEST(test_mp_pool_join_reaps_every_worker)
{
    // A child of the caller's own, ended before the pool is made: the
    // caller reaps it, not the pool.
    pid_t mine = fl_raw_child(7, 0);
    ck_assert_msg(until_exited(mine, 5000) == 0, "a raw child did not end");
    mp_pool *p = pool_of(3);
    pid_t pids[8];
    int live, zombies;
    children(&live, &zombies, pids, 8);
    mp_pool_close(p);
    int j = mp_pool_join(p);
    int code = fl_reap_code(mine);
    int gone = 0, left_zombie = 0;
    for (int i = 0; i < live && i < 8; i++) {
        gone += !fl_alive(pids[i]) && !fl_zombie(pids[i]);
        left_zombie += fl_zombie(pids[i]);
    }
    mp_pool_destroy(p);
    fl_expect_int(j, 0, "mp_pool_join of a closed pool", "");
    ck_assert_msg(code == 7,
                  "the caller had a child of its own (it exited with 7 "
                  "before the pool was made); after join, the caller's "
                  "waitpid of it gave %d, expected 7: the pool reaped it. "
                  "Reap each worker by its own pid, waitpid(w->pid), never "
                  "waitpid(-1) or wait(): the caller's other children are "
                  "not the pool's.",
                  code);
    ck_assert_msg(left_zombie == 0,
                  "after join, %d worker(s) were zombies: waitpid each "
                  "worker once its channel is shut",
                  left_zombie);
    ck_assert_msg(live == 3 && gone == 3,
                  "after join, %d of the %d workers were gone; expected "
                  "all: join ends every worker and reaps it",
                  gone, live);
}

static int
two_pools(void *arg)
{
    (void)arg;
    mp_pool *a = NULL, *b = NULL;
    if (mp_pool_create(&a, 2) != 0 || mp_pool_create(&b, 2) != 0)
        return 1;
    mp_pool_close(a);
    int j = mp_pool_join(a);
    mp_pool_destroy(a);
    mp_pool_destroy(b);
    return j == 0 ? 0 : 2;
}

FL_TEST(test_mp_pool_join_ends_workers_while_another_pool_exists)
{
    fl_child res;
    fl_run_in_child(two_pools, NULL, 5000, 0, &res);
    if (res.timed_out)
        fl_kill_children();
    ck_assert_msg(!res.timed_out,
                  "pool A, then pool B were made; join of A had not "
                  "returned 5 s later. B's workers were forked after A's, "
                  "so each holds a copy of A's ends: close() drops the "
                  "pool's copy only, and A's workers never see EOF. "
                  "shutdown(fd, SHUT_WR) ends the stream for every copy.");
    ck_assert_msg(res.returned && res.value == 0,
                  "making two pools and joining the first failed (%s %d)",
                  res.returned ? "returned" : "ended with",
                  res.returned ? res.value : res.status);
}

// Start n gated tasks on p and wait until each has started.
static void
start_gated(mp_pool *p, int n, struct calls *c, mp_result **res)
{
    for (int i = 0; i < n; i++) {
        long t0 = fl_now_ms();
        int s =
            mp_pool_apply_async(p, gated, i, on_value, on_error, c, &res[i]);
        long ms = fl_now_ms() - t0;
        ck_assert_msg(s == 0, "apply_async returned %s", fl_ret(s));
        ck_assert_msg(ms < WAIT_MS - 500,
                      "apply_async took %ld ms to return: it waited for its "
                      "task, which runs until the test ends it (or %d ms). "
                      "apply_async submits and returns at once.",
                      ms, WAIT_MS);
    }
    for (int i = 0; i < 2 && i < n; i++) { // the two that run
        char b;
        struct pollfd pf = {.fd = started[0], .events = POLLIN};
        ck_assert_msg(poll(&pf, 1, 5000) == 1 && read(started[0], &b, 1) == 1,
                      "a task submitted with apply_async had not started "
                      "5 s later");
    }
}

FL_TEST(test_mp_pool_terminate_ends_busy_workers_at_once)
{
    pipe_or_fail(token);
    pipe_or_fail(started);
    mp_pool *p = pool_of(2);
    mp_result *res[2];
    struct calls c = {0, 0, 0, 0};
    start_gated(p, 2, &c, res);
    long t0 = fl_now_ms();
    int t = mp_pool_terminate(p);
    long ms = fl_now_ms() - t0;
    int live, zombies;
    children(&live, &zombies, NULL, 0);
    int j = mp_pool_join(p);
    mp_pool_destroy(p);
    mp_result_free(res[0]);
    mp_result_free(res[1]);
    pipe_close(token);
    pipe_close(started);
    fl_expect_int(t, 0, "mp_pool_terminate", "");
    ck_assert_msg(ms < 1000,
                  "terminate took %ld ms while both workers ran a task; "
                  "expected it at once. Kill every worker (SIGKILL), busy "
                  "or not, before reaping any: closing the channels only "
                  "ends idle workers.",
                  ms);
    ck_assert_msg(live == 0 && zombies == 0,
                  "after terminate, %d workers still ran and %d were "
                  "zombies: kill and reap every one",
                  live, zombies);
    fl_expect_int(j, 0, "mp_pool_join after mp_pool_terminate",
                  "Terminate closes the pool and reaps the workers: join "
                  "has nothing left to do, and returns 0 at once.");
}

FL_TEST(test_mp_pool_terminate_cancels_unfinished_tasks)
{
    pipe_or_fail(token);
    pipe_or_fail(started);
    mp_pool *p = pool_of(2);
    mp_result *res[3];
    struct calls c = {0, 0, 0, 0};
    start_gated(p, 3, &c, res); // 2 run, 1 waits in the queue
    // and one more, without a handle: the pool frees it once it ends
    int o = mp_pool_apply_async(p, square, 4, on_value, on_error, &c, NULL);
    mp_pool_terminate(p);
    int g[3];
    for (int i = 0; i < 3; i++) {
        g[i] = mp_result_get(res[i], 0, NULL);
        mp_result_free(res[i]);
    }
    mp_pool_destroy(p);
    pipe_close(token);
    pipe_close(started);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(g[i] == -ECANCELED,
                      "after terminate, get of task %d (%s) returned %s; "
                      "expected -125 (-ECANCELED) at once. Python's get "
                      "hangs for ever here: end every unfinished job.",
                      i, i < 2 ? "running" : "queued", fl_ret(g[i]));
    fl_expect_int(o, 0, "apply_async with no handle (res NULL)", "");
    ck_assert_msg(c.failed == 4 && c.err == -ECANCELED && c.ok == 0,
                  "terminate ended 4 tasks (the last one queued had no "
                  "handle); the error callback ran %d time(s) (last with "
                  "%s) and the callback %d; expected the error callback 4 "
                  "times with -ECANCELED",
                  c.failed, fl_ret(c.err), c.ok);
}

// Item 0 succeeds, item 1 fails at once; the others wait for the gate.
static int
fails_then_gated(long x, long *result)
{
    if (x == 1)
        return -EDOM;
    if (x == 0) {
        *result = 0;
        return 0;
    }
    return gated(x, result);
}

FL_TEST(test_mp_pool_terminate_keeps_an_items_error)
{
    pipe_or_fail(token);
    pipe_or_fail(started);
    struct calls c = {0, 0, 0, 0};
    mp_pool *p = pool_of(1);
    long in[5] = {0, 1, 2, 3, 4}, out[5];
    mp_result *res = NULL;
    int s = mp_pool_map_async(p, fails_then_gated, in, out, 5, 1, on_value,
                              on_error, &c, &res);
    ck_assert_msg(s == 0, "map_async returned %s", fl_ret(s));
    // One worker: item 2 starts only once the pool has taken in item 1's
    // error.  Then items 3 and 4 wait in the queue.
    struct pollfd pf = {.fd = started[0], .events = POLLIN};
    long end = fl_now_ms() + WAIT_MS;
    while (poll(&pf, 1, 0) == 0 && fl_now_ms() < end)
        mp_result_get(res, 10, NULL);
    mp_pool_terminate(p);
    int g = mp_result_get(res, 0, NULL);
    mp_result_free(res);
    mp_pool_destroy(p);
    pipe_close(token);
    pipe_close(started);
    ck_assert_msg(g == -EDOM && c.failed == 1 && c.err == -EDOM,
                  "item 1 of a map_async of 5 failed with -EDOM, then "
                  "terminate cancelled item 2 (running) and items 3 and 4 "
                  "(queued); get returned %s and the error callback ran %d "
                  "time(s), last with %s; expected -33 (-EDOM) and once "
                  "with it. A map's error is its LOWEST failing item's: "
                  "terminate notes -ECANCELED at the items it cancels, "
                  "after item 1, and must not overwrite the error the job "
                  "has.",
                  fl_ret(g), c.failed, fl_ret(c.err));
}

FL_TEST(test_mp_pool_destroy_ends_a_pool_not_joined)
{
    pipe_or_fail(token);
    pipe_or_fail(started);
    mp_pool *p = pool_of(2);
    mp_result *res[2];
    struct calls c = {0, 0, 0, 0};
    start_gated(p, 2, &c, res);
    long t0 = fl_now_ms();
    mp_pool_destroy(p);
    long ms = fl_now_ms() - t0;
    int live, zombies;
    children(&live, &zombies, NULL, 0);
    int g = mp_result_get(res[0], 0, NULL);
    mp_result_free(res[0]);
    mp_result_free(res[1]);
    pipe_close(token);
    pipe_close(started);
    ck_assert_msg(ms < 1000 && live == 0 && zombies == 0,
                  "destroy of a pool with two busy workers took %ld ms and "
                  "left %d running and %d zombies; expected it to terminate "
                  "the pool at once, as leaving Python's `with Pool()` "
                  "block does",
                  ms, live, zombies);
    fl_expect_int(g, -ECANCELED, "get after destroy of a busy pool",
                  "Destroy terminates: unfinished tasks are cancelled, and "
                  "their handles still answer.");
}

// The pool's process ends without destroying its pool: its workers must
// not outlive it.
static int
abandon_pool(void *arg)
{
    pid_t *pids = arg;
    mp_pool *p = NULL;
    // Each worker's first read (its first chunk's header) fails with
    // EINTR, as if a signal came while it waited: it reads again, and
    // errno still says EINTR when that read later returns 0, at EOF.
    fl_fault_eintr("read", 1);
    int r = mp_pool_create(&p, 2);
    fl_fault_reset();
    if (r != 0)
        return 1;
    int live, zombies;
    children(&live, &zombies, pids, 2);
    return live == 2 ? 0 : 2;
}

FL_TEST(test_mp_pool_workers_exit_when_the_pool_process_dies)
{
    pid_t *pids = shared(2 * sizeof *pids);
    fl_child res;
    fl_run_in_child(abandon_pool, pids, 5000, 0, &res);
    ck_assert_msg(res.returned && res.value == 0,
                  "a child that made a pool of 2 did not see 2 workers");
    // The orphaned workers are now children of the test (a subreaper).
    int stuck = 0;
    for (int i = 0; i < 2; i++) {
        int fd = (int)syscall(SYS_pidfd_open, pids[i], 0);
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (fd >= 0 && poll(&pf, 1, 3000) == 0)
            stuck++;
        if (fd >= 0)
            close(fd);
    }
    fl_kill_children();
    munmap(pids, 2 * sizeof *pids);
    ck_assert_msg(stuck == 0,
                  "the pool's process ended without destroying its pool; "
                  "3 s later %d of its 2 workers still ran (each had "
                  "read again after an EINTR). A worker must exit when its "
                  "channel reaches EOF: the pool's end closes when the "
                  "pool's process dies. read() returning 0 is EOF whatever "
                  "errno says: errno is only meaningful after a -1.",
                  stuck);
}

/* ------------------------------------------- failures, signals, clocks */

// mp_pool_create(&p, 2) with every call of fn failing in turn: each
// failure is reported as -err, with *pool untouched, and leaves no worker,
// descriptor, mapping or heap block behind.
static void
walk_pool_create(const char *fn, int err)
{
    FL_FAULT_WALK (fn, err, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        mp_pool *p = NULL;
        int r = mp_pool_create(&p, 2);
        int fired = fl_fault_fired(fn) > 0;
        char what[128];
        snprintf(what, sizeof what,
                 "mp_pool_create(&p, 2) with its call %d of %s() failing "
                 "with %s",
                 k, fn, strerrorname_np(err));
        if (fired) {
            if (r == 0)
                mp_pool_destroy(p);
            fl_expect_int(r, -err, what,
                          "return minus the errno of the call that failed");
            ck_assert_msg(p == NULL, "%s: set *pool though it failed", what);
        } else {
            fl_expect_int(r, 0, "mp_pool_create(&p, 2)", "");
            mp_pool_destroy(p);
        }
        fl_expect_no_leak(&s, what);
    }
}

FL_TEST(test_mp_pool_create_leaks_nothing_when_any_call_it_makes_fails)
{
    // A worker already started when a later step fails must be killed,
    // reaped, and its channel closed: mp_pool_destroy of the half-made
    // pool, not a bare return.
    walk_pool_create("fork", EAGAIN);
    walk_pool_create("socketpair", EMFILE);
    walk_pool_create("calloc", ENOMEM);
    walk_pool_create("malloc", ENOMEM);
    // A shared anonymous mapping is a file of the kernel's own: mmap can
    // fail with ENFILE as well as ENOMEM, and its errno is the one to give.
    walk_pool_create("mmap", ENFILE);
    // 65 workers: their slots, 64 bytes each, take two pages, and a munmap
    // of less than the size mapped leaves the second one mapped.  fork
    // fails at once, so no worker starts; the first run may grow the heap.
    long grew = 0;
    for (int run = 0; run < 2; run++) {
        fl_fault_reset();
        fl_fault_fail_from("fork", 1, EAGAIN);
        long before = fl_vm_pages();
        mp_pool *p = NULL;
        int r = mp_pool_create(&p, 65);
        grew = fl_vm_pages() - before;
        fl_fault_reset();
        fl_expect_int(r, -EAGAIN, "mp_pool_create(&p, 65) with fork failing",
                      "");
    }
    ck_assert_msg(grew == 0,
                  "mp_pool_create(&p, 65) with fork failing left the process "
                  "%ld page(s) bigger: munmap the slots with the size you "
                  "gave mmap, n * sizeof(struct slot) (65 slots of 64 bytes "
                  "take two pages), not the size of one slot.",
                  grew);
}

struct get_call {
    mp_result *res;
    int timeout_ms;
    long value;
};

static int
get_call(void *arg)
{
    struct get_call *g = arg;
    return mp_result_get(g->res, g->timeout_ms, &g->value);
}

static void
release_gated(void *arg)
{
    (void)arg;
    give_token(token[1]);
}

FL_TEST(test_mp_result_get_keeps_its_deadline_when_signals_interrupt)
{
    mp_pool *p;
    mp_result *res = gated_task(&p);
    struct get_call g = {res, 50, 0};
    fl_storm_result fin, inf;
    // A wait that a signal hit only late proves nothing: on a host so
    // busy that the storm's first signal lands 60 ms on, a get that gives
    // up at its first EINTR lasts 60 ms too.  A right get lasts its 50 ms
    // whatever the signals: wait again while few landed, 5 times at most.
    for (int run = 0;
         run < 5 && (run == 0 || (fin.signals < 10 && fin.ret == -ETIMEDOUT &&
                                  fin.elapsed_ms >= 48));
         run++) {
        fl_clock_mono_just_past_a_second(); // a clock in whole s shows
        fl_storm_call(get_call, &g, 500, &fin);
    }
    fl_fault_reset();
    g.timeout_ms = -1;
    fl_storm_hold(get_call, release_gated, &g, 500, 50, &inf);
    if (inf.early)
        give_token(token[1]);
    int g2 = mp_result_get(res, -1, &g.value);
    mp_result_free(res);
    // The longest finite wait, INT_MAX ms, on a clock 25 days on: its
    // deadline, now plus INT_MAX, is past what an int holds.  A second
    // gated task, the token taken back first.
    char c;
    struct pollfd pf = {.fd = token[0], .events = POLLIN};
    while (poll(&pf, 1, 0) == 1 && read(token[0], &c, 1) == 1)
        ;
    res = NULL;
    int s = mp_pool_apply_async(p, gated, 6, NULL, NULL, NULL, &res);
    ck_assert_msg(s == 0, "apply_async returned %s", fl_ret(s));
    fl_storm_result big;
    g.res = res;
    g.timeout_ms = INT_MAX;
    fl_clock_mono_later_at(0, 25LL * 24 * 3600 * 1000);
    fl_storm_hold(get_call, release_gated, &g, 500, 50, &big);
    fl_fault_reset();
    if (big.early)
        give_token(token[1]);
    mp_result_get(res, -1, NULL);
    gated_done(p, res);
    ck_assert_msg(fin.ret == -ETIMEDOUT && fin.elapsed_ms >= 48 &&
                      fin.elapsed_ms < 1500,
                  "get(res, 50 ms) of a task still running, with a signal "
                  "every 0.5 ms (%ld caught), returned %s after %ld ms; "
                  "expected -110 (-ETIMEDOUT) after 50 ms. A poll that "
                  "fails with EINTR woke the wait early: it is not a "
                  "timeout. Poll again for the time left until the "
                  "deadline, taken once before the loop.",
                  fin.signals, fl_ret(fin.ret), fin.elapsed_ms);
    ck_assert_msg(!inf.early && inf.ret == 0 && g2 == 0,
                  "get(res, -1) under signals (%ld caught) returned %s "
                  "after %ld ms, %s; expected 0 once the task was let go "
                  "after 50 ms. -1 waits with no limit: a signal makes no "
                  "deadline of it.",
                  inf.signals, fl_ret(inf.ret), inf.elapsed_ms,
                  inf.early ? "before the task was let go" : "when let go");
    ck_assert_msg(!big.early && big.ret == 0,
                  "get(res, INT_MAX) under signals (%ld caught), on a "
                  "monotonic clock 25 days after boot, returned %s after "
                  "%ld ms, %s; expected 0 once the task was let go after "
                  "50 ms. now + INT_MAX ms overflows an int: keep the "
                  "deadline and the time left in a long long.",
                  big.signals, fl_ret(big.ret), big.elapsed_ms,
                  big.early ? "before the task was let go" : "when let go");
}

static void
release_gated_late(void)
{
    if (write(token[1], "t", 1) < 0)
        token[1] = -1;
}

// A signal at 20 ms whose handler runs 60 ms, past get's 50 ms: the poll
// fails with EINTR after the deadline; 300 ms later the task is let go.
FL_TEST(test_mp_result_get_times_out_when_a_handler_outlasts_the_deadline)
{
    mp_pool *p;
    mp_result *res = gated_task(&p);
    long v = 0, t0 = fl_now_ms();
    fl_late_signal(20, 60, release_gated_late, 300);
    int r = mp_result_get(res, 50, &v);
    long took = fl_now_ms() - t0;
    fl_late_signal_off();
    if (r == -ETIMEDOUT)
        give_token(token[1]);
    int r2 = mp_result_get(res, -1, &v);
    gated_done(p, res);
    ck_assert_msg(r == -ETIMEDOUT && r2 == 0,
                  "get(res, 50 ms) of a task still running, interrupted at "
                  "20 ms by a signal whose handler ran for 60 ms, returned "
                  "%s after %ld ms; expected -110 (-ETIMEDOUT) once the "
                  "handler returned. %s",
                  fl_ret(r), took,
                  r == 0 ? "It went on waiting until the task was let go: "
                           "when EINTR comes after the deadline, the time "
                           "left is negative, and poll takes a negative "
                           "timeout as no limit. Clamp it to 0."
                         : "");
}

FL_TEST(test_mp_result_get_keeps_its_deadline_when_the_wall_clock_jumps)
{
    mp_pool *p;
    mp_result *res = gated_task(&p);
    long v = 0;
    fl_fault_reset();
    fl_clock_jump_at(1, 3600); // an hour forward, once the deadline is set
    long t0 = fl_now_ms();
    int g = mp_result_get(res, 50, &v);
    long ms = fl_now_ms() - t0;
    fl_fault_reset();
    give_token(token[1]);
    int g2 = mp_result_get(res, -1, &v);
    gated_done(p, res);
    ck_assert_msg(g == -ETIMEDOUT && ms >= 48,
                  "get(res, 50 ms), with the wall clock set an hour "
                  "forward while it waited, returned %s after %ld ms; "
                  "expected -110 (-ETIMEDOUT) after 50 ms. Measure "
                  "deadlines on CLOCK_MONOTONIC, which never jumps: "
                  "CLOCK_REALTIME moves when the clock is set.",
                  fl_ret(g), ms);
    fl_expect_int(g2, 0, "get(res, -1) once the task was let go", "");
}

// In a child with a CPU budget: an apply whose answer cannot be read
// (read fails with EIO, every time), then a join whose waitpid fails with
// ECHILD (as when the caller's own SIGCHLD handler reaped the workers).
// Only EINTR is worth a retry: a loop that retries any failure spins.
static int
errors_other_than_eintr(void *arg)
{
    volatile int *in_join = arg;
    mp_pool *p = NULL;
    if (mp_pool_create(&p, 2) != 0)
        return 1;
    long v = 0;
    fl_cpu_budget(150);
    fl_fault_fail_from("read", 1, EIO);
    int a = mp_pool_apply(p, square, 3, &v);
    fl_fault_reset();
    if (a != -EPIPE)
        return 2;
    mp_pool_close(p);
    *in_join = 1;
    fl_fault_fail_from("waitpid", 1, ECHILD);
    int j = mp_pool_join(p);
    fl_fault_reset();
    fl_cpu_budget(0);
    mp_pool_destroy(p);
    return j == 0 ? 0 : 3;
}

FL_TEST(test_mp_pool_join_reaps_every_worker_when_signals_interrupt)
{
    fl_child res;
    int *in_join = shared(sizeof *in_join);
    fl_run_in_child(errors_other_than_eintr, in_join, 2500, 0, &res);
    fl_kill_children(); // the workers join could not reap
    const char *what = *in_join ? "join with every waitpid failing (ECHILD: "
                                  "the workers reaped by someone else)"
                                : "apply(square, 3) with every read of its "
                                  "answer failing (EIO)";
    munmap(in_join, sizeof *in_join);
    ck_assert_msg(res.returned,
                  "in a pool of 2, %s %s. Call again only after EINTR; any "
                  "other failure is final, and a loop that retries it "
                  "spins.",
                  what,
                  res.status == SIGPROF ? "spun: 150 ms of CPU, no return"
                  : res.timed_out       ? "hung: no return after 2.5 s"
                                        : "made the process die");
    ck_assert_msg(res.value != 2,
                  "apply(square, 3) with every read of its answer failing "
                  "(EIO) did not return -32 (-EPIPE): a read that fails is "
                  "a broken channel, the worker's loss.");
    ck_assert_msg(res.value != 3,
                  "mp_pool_join with every waitpid failing (ECHILD: the "
                  "workers reaped by someone else) did not return 0: a "
                  "worker already gone is no error of the join.");
    ck_assert_msg(res.value == 0, "a pool of 2 could not be made");
    for (int nth = 1; nth <= 3; nth++) {
        mp_pool *p = pool_of(3);
        pid_t pids[8];
        int live, zombies;
        children(&live, &zombies, pids, 8);
        mp_pool_close(p);
        fl_fault_reset();
        fl_fault_eintr("waitpid", nth);
        int j = mp_pool_join(p);
        long fired = fl_fault_fired("waitpid");
        fl_fault_reset();
        int left_zombie = 0;
        for (int i = 0; i < live && i < 8; i++) {
            // It exits once its channel is shut: wait for that, bounded.
            int fd = (int)syscall(SYS_pidfd_open, pids[i], 0);
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            if (fd >= 0) {
                while (poll(&pf, 1, WAIT_MS) < 0 && errno == EINTR)
                    ;
                close(fd);
            }
            left_zombie += fl_zombie(pids[i]);
        }
        mp_pool_destroy(p);
        fl_kill_children();
        fl_expect_int(j, 0, "mp_pool_join with a waitpid interrupted", "");
        ck_assert_msg(fired == 1 && left_zombie == 0,
                      "when waitpid number %d of join failed with EINTR, "
                      "%d worker(s) were left zombies: waitpid again on "
                      "EINTR (a signal arrived, the worker is still there "
                      "to reap)",
                      nth, left_zombie);
    }
}

// In a child whose stdout is a pipe (full buffering): a line printed and
// not yet flushed, then a pool that starts workers and ends them.
static int
print_then_pool(void *arg)
{
    (void)arg;
    FILE *log = tmpfile(); // a file of the caller's: fully buffered too
    if (log == NULL)
        return 4;
    printf("printed once, before the pool\n");
    fprintf(log, "logged once, before the pool\n");
    mp_pool *p = NULL;
    if (mp_pool_create(&p, 3) != 0)
        return 1;
    long in[6] = {1, 2, 3, 4, 5, 6}, out[6];
    int r = mp_pool_map(p, square, in, out, 6, 1, NULL);
    mp_pool_close(p);
    mp_pool_join(p);
    mp_pool_destroy(p);
    fflush(stdout);
    int logged = lines_in(log, "logged once, before the pool");
    fclose(log);
    return r != 0 ? 2 : logged != 1 ? 3 : 0;
}

FL_TEST(test_mp_pool_workers_do_not_print_the_callers_output_again)
{
    fl_child res;
    fl_run_in_child(print_then_pool, NULL, 5000, 1, &res);
    if (!res.returned)
        fl_kill_children();
    ck_assert_msg(!res.returned || res.value != 3,
                  "a line written to a file (tmpfile(), fully buffered by "
                  "stdio) before mp_pool_create was in it more than once "
                  "after join: fflush(NULL) before each fork, not "
                  "fflush(stdout): every stream's buffer is copied into "
                  "the workers, and each writes it again when it exits");
    ck_assert_msg(res.returned && res.value == 0,
                  "a pool made, used and joined in a child: %s",
                  res.returned ? "tmpfile, create or map failed"
                               : "it did not return");
    int count = 0;
    for (const char *q = res.out;
         (q = strstr(q, "printed once, before the pool")) != NULL; q++)
        count++;
    ck_assert_msg(count == 1,
                  "a line printed (to a pipe, so still in stdio's buffer) "
                  "before mp_pool_create came out %d times: fflush(NULL) "
                  "before each fork, or every worker inherits the buffer "
                  "and writes it again when it exits",
                  count);
}

// Open descriptors of process pid.
static int
fds_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

FL_TEST(test_mp_pool_workers_hold_only_their_own_channel)
{
    pipe_or_fail(token);
    pipe_or_fail(started);
    int stdin_made = fcntl(0, F_GETFD) < 0; // a stdin for workers to keep
    if (stdin_made)
        ck_assert_msg(open("/dev/null", O_RDONLY) == 0,
                      "the test could not open /dev/null as its stdin");
    int mine = fds_of(getpid()) - 1; // not the directory fds_of reads
    mp_pool *p = pool_of(4);
    // The first worker dies; its replacement is forked while the three
    // others exist, and must close their ends too.
    int died = mp_pool_apply(p, dies_at_7, 7, NULL);
    ck_assert_msg(died == -EPIPE,
                  "apply of a task that kills its worker returned %s, "
                  "expected -32 (-EPIPE)",
                  fl_ret(died));
    // Once each worker runs a task, it is past its start-up closes.
    mp_result *res[4] = {NULL};
    for (int i = 0; i < 4; i++)
        mp_pool_apply_async(p, gated, i, NULL, NULL, NULL, &res[i]);
    char c;
    for (int i = 0; i < 4; i++)
        ck_assert_msg(wait_token(started[0]) == 0 &&
                          read(started[0], &c, 1) == 1,
                      "only %d of 4 tasks started on a pool of 4", i);
    pid_t pids[8];
    int live, zombies, most = 0, least = 1 << 30;
    children(&live, &zombies, pids, 8);
    for (int i = 0; i < live && i < 8; i++) {
        int n = fds_of(pids[i]);
        most = n > most ? n : most;
        least = n < least ? n : least;
    }
    give_token(token[1]);
    for (int i = 0; i < 4; i++) {
        mp_result_get(res[i], -1, NULL);
        mp_result_free(res[i]);
    }
    mp_pool_destroy(p);
    pipe_close(token);
    pipe_close(started);
    if (stdin_made)
        close(0);
    ck_assert_msg(live == 4 && most <= mine + 1,
                  "a worker of a pool of 4 held %d descriptors; the test "
                  "held %d before the pool, so a worker should hold those "
                  "and its own end of its channel, %d in all (one worker "
                  "had died and been replaced). In the child, close the "
                  "pool's ends of EVERY other worker that exists, not only "
                  "of those in the slots before it: fork copied them all.",
                  most, mine, mine + 1);
    ck_assert_msg(least == mine + 1,
                  "a worker of a pool of 4 held %d descriptors; the test "
                  "held %d before the pool (stdin at 0 among them), so a "
                  "worker should hold those and its own end of its channel, "
                  "%d in all. It closed one that is not a pool's end: a slot "
                  "with no worker yet (pid 0) has no channel, and its fd is "
                  "0, the caller's stdin. Close the ends of the workers that "
                  "exist only.",
                  least, mine, mine + 1);
}

// Record each index and value handed to the callback (up to ITEMS).
#define ITEMS 1100
struct seen_all {
    int count[ITEMS];
    int bad;
};

static void
note_every_item(size_t index, long value, void *ctx)
{
    struct seen_all *s = ctx;
    if (index >= ITEMS || value != (long)(index * index))
        s->bad++;
    else
        s->count[index]++;
}

FL_TEST(test_mp_pool_imap_unordered_numbers_items_of_a_big_chunk)
{
    static long in[ITEMS];
    static struct seen_all s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < ITEMS; i++)
        in[i] = i;
    mp_pool *p = pool_of(2);
    // One chunk of 1100 results: more than one read's worth.
    int r = mp_pool_imap_unordered(p, square, in, ITEMS, ITEMS, note_every_item,
                                   &s, NULL);
    mp_pool_destroy(p);
    fl_expect_int(r, 0, "imap_unordered of 1100 items in one chunk", "");
    int missing = 0;
    for (int i = 0; i < ITEMS; i++)
        missing += s.count[i] != 1;
    ck_assert_msg(s.bad == 0 && missing == 0,
                  "imap_unordered of 1100 items in one chunk: %d calls "
                  "with a wrong index or value, %d items not seen exactly "
                  "once. When the results are read in pieces, item j of a "
                  "piece is index start + (items of the pieces before) + j.",
                  s.bad, missing);
}

// Item 1 closes every descriptor of its worker but 0-2, its channel
// too, and waits: the worker lives on, but its channel is at EOF.
static int
closes_its_channel_at_1(long x, long *result)
{
    if (x == 1) {
        syscall(SYS_close_range, 3, ~0U, 0);
        for (;;)
            pause();
    }
    *result = x;
    return 0;
}

static int
channel_closed_scenario(void *arg)
{
    size_t *failed = arg;
    mp_pool *p = NULL;
    if (mp_pool_create(&p, 1) != 0)
        return 1;
    long in[3] = {0, 1, 2}, out[3];
    int r = mp_pool_map(p, closes_its_channel_at_1, in, out, 3, 1, failed);
    mp_pool_destroy(p);
    return r;
}

FL_TEST(test_mp_pool_map_reports_a_task_that_closes_its_channel)
{
    size_t *failed = shared(sizeof *failed);
    *failed = 999;
    fl_child res;
    fl_run_in_child(channel_closed_scenario, failed, 4000, 0, &res);
    if (res.timed_out)
        fl_kill_children();
    ck_assert_msg(!res.timed_out,
                  "item 1 closed its worker's channel and then waited for "
                  "ever; mp_pool_map had not returned 4 s later. EOF on a "
                  "channel does not mean that the worker has ended: kill it "
                  "(SIGKILL) before waitpid, or the pool waits for ever");
    ck_assert_msg(res.returned && res.value == -EPIPE && *failed == 1,
                  "item 1 closed its worker's channel; map %s at index %zu, "
                  "expected -32 (-EPIPE) at 1",
                  res.returned ? fl_ret(res.value) : "did not return", *failed);
    munmap(failed, sizeof *failed);
}

static int
replacement_fails_scenario(void *arg)
{
    (void)arg;
    mp_pool *p = NULL;
    fl_fault_reset();
    if (mp_pool_create(&p, 2) != 0)
        return 1;
    fl_fault_fail("fork", 3, EAGAIN); // the dead worker's replacement
    if (mp_pool_apply(p, dies_at_7, 7, NULL) != -EPIPE)
        return 2;
    long in[20], out[20];
    for (int i = 0; i < 20; i++)
        in[i] = i;
    int r = mp_pool_map(p, square, in, out, 20, 0, NULL);
    for (int i = 0; r == 0 && i < 20; i++)
        if (out[i] != (long)i * i)
            r = 3;
    // A child of the caller's own has ended, unreaped: join must leave it
    // alone, though one of its slots holds no worker.
    fl_fault_reset();
    pid_t mine = fl_raw_child(7, 0);
    if (until_exited(mine, 3000) != 0)
        r = r == 0 ? 5 : r;
    mp_pool_close(p);
    int j = mp_pool_join(p);
    int code = fl_reap_code(mine);
    mp_pool_destroy(p);
    if (r == 0 && (j != 0 || code != 7))
        r = 4;
    return r;
}

FL_TEST(test_mp_pool_map_goes_on_when_a_dead_worker_cannot_be_replaced)
{
    fl_child res;
    fl_run_in_child(replacement_fails_scenario, NULL, 4000, 0, &res);
    if (res.timed_out)
        fl_kill_children();
    ck_assert_msg(!res.timed_out,
                  "in a pool of 2, the first worker died and fork() failed "
                  "for its replacement; a map on the other worker had not "
                  "returned 4 s later. The empty slot's pollfd has fd -1, "
                  "which poll() skips: poll all n entries, never only as "
                  "many as there are live workers");
    ck_assert_msg(res.returned && res.value == 0,
                  "in a pool of 2 whose first worker died and could not be "
                  "replaced, map %s %d, expected 0 (%s)",
                  res.returned ? "returned" : "ended with",
                  res.returned ? res.value : res.status,
                  res.returned && res.value == 2
                      ? "the apply of the dying task did not give -EPIPE"
                  : res.returned && res.value == 4
                      ? "map was fine; then close and join gave an error or "
                        "reaped a child of the caller's own, which had "
                        "exited with 7. A slot with no worker (pid 0) has "
                        "nobody to reap: waitpid(0) means any child of the "
                        "caller's process group"
                      : "the other worker must run every chunk");
}

static long replaced_value;

static void
note_value(long value, void *ctx)
{
    (void)ctx;
    replaced_value = value;
}

FL_TEST(test_mp_pool_join_replaces_a_worker_that_dies_meanwhile)
{
    mp_pool *p = pool_of(1);
    mp_result *dies = NULL;
    replaced_value = -1;
    // The only worker dies on the first task; the second waits its turn.
    ck_assert(mp_pool_apply_async(p, dies_at_7, 7, NULL, NULL, NULL, &dies) ==
              0);
    ck_assert(mp_pool_apply_async(p, square, 3, note_value, NULL, NULL, NULL) ==
              0);
    mp_pool_close(p);
    int r = mp_pool_join(p);
    long got = 0;
    int d = mp_result_get(dies, 0, &got);
    mp_result_free(dies);
    mp_pool_destroy(p);
    fl_expect_int(d, -EPIPE, "mp_result_get of the task that killed its worker",
                  "");
    ck_assert_msg(r == 0 && replaced_value == 9,
                  "a pool of 1 was closed with two tasks; the first killed "
                  "the worker during join, and join returned %s with the "
                  "second task's callback value %ld, expected 0 and 9. "
                  "Mark the pool stopped only after the wait for its tasks: "
                  "until then, a worker that dies is replaced, as Python's "
                  "pool does while tasks remain",
                  fl_ret(r), replaced_value);
}

// In a child whose stdout is a pipe (full buffering): tasks print a line
// each, in the workers, and the pool is joined.
static int
tasks_print(void *arg)
{
    (void)arg;
    task_log = tmpfile(); // a file of the caller's: fully buffered
    if (task_log == NULL)
        return 4;
    mp_pool *p = NULL;
    if (mp_pool_create(&p, 2) != 0)
        return 1;
    long in[6] = {1, 2, 3, 4, 5, 6}, out[6];
    int r = mp_pool_map(p, prints_its_item, in, out, 6, 1, NULL);
    mp_pool_close(p);
    mp_pool_join(p);
    mp_pool_destroy(p);
    int logged = lines_in(task_log, "task logged item");
    fclose(task_log);
    task_log = NULL;
    return r != 0 ? 2 : logged != 6 ? 3 : 0;
}

FL_TEST(test_mp_pool_workers_flush_what_their_tasks_print)
{
    fl_child res;
    fl_run_in_child(tasks_print, NULL, 5000, 1, &res);
    if (!res.returned)
        fl_kill_children();
    ck_assert_msg(!res.returned || res.value != 3,
                  "6 tasks each wrote a line to a file of the caller's "
                  "(tmpfile(), fully buffered by stdio); after join, not "
                  "all 6 were in it. _exit does not flush stdio: the worker "
                  "must fflush(NULL), every stream, not only stdout, "
                  "before it calls _exit.");
    ck_assert_msg(res.returned && res.value == 0,
                  "a pool made, used and joined in a child: %s",
                  res.returned ? "tmpfile, create or map failed"
                               : "it did not return");
    int count = 0;
    for (const char *q = res.out; (q = strstr(q, "task ran item")) != NULL; q++)
        count++;
    ck_assert_msg(count == 6,
                  "6 tasks each printed a line (to a pipe, so into the "
                  "worker's stdio buffer); after join, %d line(s) had come "
                  "out, expected 6. _exit does not flush stdio: the worker "
                  "must fflush(NULL) before it calls _exit, or what its "
                  "tasks printed is lost.",
                  count);
}

FL_TEST(test_mp_pool_imap_unordered_hands_out_one_item_at_a_time_by_default)
{
    ran_in = shared(100 * sizeof *ran_in);
    mp_pool *p = pool_of(2);
    long in[100];
    for (int i = 0; i < 100; i++)
        in[i] = i;
    int n = 0;
    int r =
        mp_pool_imap_unordered(p, note_pid, in, 100, 0, count_item, &n, NULL);
    mp_pool_destroy(p);
    pid_t first = ran_in[0], second = ran_in[1];
    munmap(ran_in, 100 * sizeof *ran_in);
    ck_assert_msg(r == 0 && n == 100,
                  "imap_unordered of 100 items returned %s with %d "
                  "callbacks; expected 0 with 100",
                  fl_ret(r), n);
    ck_assert_msg(first != second,
                  "imap_unordered of 100 items on 2 idle workers, chunksize "
                  "0: items 0 and 1 ran in the same worker, as if in one "
                  "chunk; with chunks of 1 item, item 1 goes to the other "
                  "idle worker. For imap_unordered, chunksize 0 means chunks "
                  "of 1, Python's default there, not map's rule.");
}

FL_TEST(test_mp_result_get_with_timeout_0_collects_an_answer_already_sent)
{
    mp_pool *p = pool_of(1);
    pid_t pid[1] = {0};
    int live, zombies;
    children(&live, &zombies, pid, 1);
    ck_assert_msg(live == 1, "a pool of 1 has %d workers", live);
    // Until the worker waits for its first chunk, asleep 20 ms in a row: a
    // worker seen 'S' once may still be starting (then the sleep counted
    // below would be that of its first wait, and the get would look before
    // the worker had the task, and fail a pool that is right).
    fl_proc_idles(pid[0], 20);
    long asleep = fl_proc_sleeps(pid[0]);
    mp_result *res = NULL;
    int s = mp_pool_apply_async(p, square, 7, NULL, NULL, NULL, &res);
    ck_assert_msg(s == 0, "apply_async returned %s", fl_ret(s));
    // Once the worker sleeps again (it waits for its next chunk), its
    // answer has been sent: the first get(res, 0) must take it in, and
    // give it, not -ETIMEDOUT for a task that is done by then.
    char st = fl_proc_sleeps_again(pid[0], asleep, WAIT_MS);
    long v = 0;
    int g = mp_result_get(res, 0, &v);
    mp_pool_destroy(p); // (a task still running is cancelled: then free)
    mp_result_free(res);
    ck_assert_msg(g == 0 && v == 49,
                  "apply_async(square, 7) on a pool of 1; once the worker "
                  "had %s, the first get(res, 0) returned %s with %ld; "
                  "expected 0 with 49. A timeout of 0 still looks: pump the "
                  "pool once (poll with 0) and take in what has come back, "
                  "then give -ETIMEDOUT only if the task is still not done "
                  "(look again after the pump).",
                  st == 'S' ? "sent its answer and waited for more"
                            : "not been handed the task (apply_async "
                              "started it on no idle worker)",
                  fl_ret(g), v);
}

FL_TEST(test_mp_result_get_fails_when_no_worker_is_left)
{
    fl_fault_reset();
    mp_pool *p = pool_of(1);
    fl_fault_fail("fork", 2, EAGAIN); // the dead worker's replacement
    int died = mp_pool_apply(p, dies_at_7, 7, NULL);
    mp_result *res = NULL;
    int s = mp_pool_apply_async(p, square, 3, NULL, NULL, NULL, &res);
    long t0 = fl_now_ms();
    int g = s == 0 ? mp_result_get(res, 100, NULL) : s;
    long ms = fl_now_ms() - t0;
    fl_fault_reset();
    // (Only then: a pool that still has no worker would wait for ever.)
    int m = g == -EAGAIN
                ? mp_pool_map(p, square, (long[]){1}, (long[]){0}, 1, 0, NULL)
                : -EINVAL;
    mp_pool_destroy(p);
    mp_result_free(s == 0 ? res : NULL);
    fl_expect_int(died, -EPIPE, "apply of a task that kills its worker", "");
    ck_assert_msg(g == -EAGAIN,
                  "the only worker of a pool died and fork() failed for its "
                  "replacement; then get(res, 100 ms) of a queued task "
                  "returned %s after %ld ms; expected -11 (-EAGAIN) at "
                  "once. With no worker left, poll has nothing to watch: "
                  "it would wait for ever (or until the timeout) for a "
                  "task nobody can run. Return -EAGAIN from pump and "
                  "terminate the pool.",
                  fl_ret(g), ms);
    fl_expect_int(m, -EINVAL, "map after the pool lost its last worker",
                  "A pool with no worker left is terminated: closed.");
    // The same loss inside join: it must say so, not report every task
    // done.
    p = pool_of(1);
    fl_fault_fail("fork", 2, EAGAIN);
    mp_result *r7 = NULL, *r3 = NULL;
    int a7 = mp_pool_apply_async(p, dies_at_7, 7, NULL, NULL, NULL, &r7);
    int a3 = mp_pool_apply_async(p, square, 3, NULL, NULL, NULL, &r3);
    int j =
        a7 == 0 && a3 == 0 && mp_pool_close(p) == 0 ? mp_pool_join(p) : -ENOSYS;
    fl_fault_reset();
    mp_pool_destroy(p);
    mp_result_free(a7 == 0 ? r7 : NULL);
    mp_result_free(a3 == 0 ? r3 : NULL);
    ck_assert_msg(j == -EAGAIN,
                  "join of a closed pool of 1 whose worker died on its first "
                  "task, fork() failing for the replacement, with a second "
                  "task queued, returned %s; expected -11 (-EAGAIN): that "
                  "task never ran. Pass on the error of the wait in join.",
                  fl_ret(j));
    // And inside map: item 0 kills the only worker, item 1 has nobody
    // left to run it.
    p = pool_of(1);
    fl_fault_fail("fork", 2, EAGAIN);
    long in[2] = {7, 3}, out[2] = {0, 0};
    int m2 = mp_pool_map(p, dies_at_7, in, out, 2, 1, NULL);
    fl_fault_reset();
    mp_pool_destroy(p);
    fl_expect_int(m2, -EAGAIN,
                  "map of [7, 3] in chunks of 1 on a pool of 1 whose worker "
                  "died on item 7, fork() failing for the replacement",
                  "item 3 never ran: pass on the error of the wait (run_job "
                  "returns it), not the job's outcome");
}

/* ----------------------------------------------- imap, starmap, map_async */

static long
squared(long i)
{
    return i * i;
}

static long
ten_times_plus_1(long i)
{
    return 10 * i + 1;
}

// The first call at which the callbacks in o differ from items 0, 1, ...
// in order, each with the value value_of(index); o->n if none does.
static int
first_out_of_order(const struct order *o, long (*value_of)(long))
{
    int i = 0;
    while (i < o->n && i < ORDER_MAX && o->seen[i] == (size_t)i &&
           o->value[i] == value_of(i))
        i++;
    return i;
}

// Fail unless the callbacks in o were given items 0 to n - 1, in order,
// each with value_of(its index), and no other; what the test did and why
// it expects that go into the message.
static void
expect_in_order(const struct order *o, int n, long (*value_of)(long),
                const char *what, const char *why)
{
    int k = first_out_of_order(o, value_of);
    char seen[96] = "";
    if (k < o->n && k < ORDER_MAX)
        snprintf(seen, sizeof seen, ", call %d with item %zu and %ld", k,
                 o->seen[k], o->value[k]);
    ck_assert_msg(o->n == n && k == n,
                  "%s: imap made %d callbacks%s; expected %d, items 0 to %d "
                  "in input order, each with its result, and no more. %s",
                  what, o->n, seen, n, n - 1, why);
}

// Item 1 waits until the callback has been given item 0 (GATE_MS at most).
static int
one_waits_for_the_callback_of_0(long x, long *result)
{
    if (x == 1 && wait_token_for(token[0], GATE_MS) < 0)
        return -ETIMEDOUT;
    *result = x * x;
    return 0;
}

static void
note_item_then_open_at_0(size_t index, long value, void *ctx)
{
    note_item(index, value, ctx);
    if (index == 0)
        give_token(token[1]);
}

FL_TEST(test_mp_pool_imap_hands_over_item_0_while_item_1_still_runs)
{
    pipe_or_fail(token);
    mp_pool *p = pool_of(2);
    long in[4] = {0, 1, 2, 3};
    struct order o;
    memset(&o, 0, sizeof o);
    int r = mp_pool_imap(p, one_waits_for_the_callback_of_0, in, 4, 0,
                         note_item_then_open_at_0, &o, NULL);
    mp_pool_destroy(p);
    pipe_close(token);
    ck_assert_msg(r != -ETIMEDOUT,
                  "item 1 waited %d ms, in vain, for imap to hand item 0's "
                  "result to the callback: imap held it back while item 1 "
                  "ran. Hand each result over as soon as it and every one "
                  "before it are in, not after the whole map.",
                  GATE_MS);
    fl_expect_int(r, 0, "imap of 4 items", "");
    expect_in_order(&o, 4, squared, "imap(square) of 4 items", "");
}

FL_TEST(test_mp_pool_imap_keeps_input_order_when_later_items_finish_first)
{
    pipe_or_fail(token);
    mp_pool *p = pool_of(2);
    long in[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    struct order o;
    memset(&o, 0, sizeof o);
    int r = mp_pool_imap(p, late_first, in, 8, 2, note_item, &o, NULL);
    mp_pool_destroy(p);
    pipe_close(token);
    ck_assert_msg(r != -ETIMEDOUT,
                  "item 0 waited %d ms for item 4 to start, in vain: item 4 "
                  "is in the third chunk, which must go to the worker that "
                  "finished the second one while the first worker is still "
                  "busy.",
                  WAIT_MS);
    fl_expect_int(r, 0, "imap of 8 items, chunks of 2", "");
    expect_in_order(&o, 8, ten_times_plus_1,
                    "the chunk [2, 3] finished before [0, 1]",
                    "imap_unordered hands results over as chunks come back; "
                    "imap holds a chunk that comes back early until every "
                    "chunk before it is in.");
}

// Chunks of 4, and 7, 8 and 9 items: the last chunk is short by one, full,
// or a single item.
FL_TEST(test_mp_pool_imap_hands_over_every_item_at_chunk_boundaries)
{
    mp_pool *p = pool_of(2);
    long in[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    for (int n = 7; n <= 9; n++) {
        struct order o;
        memset(&o, 0, sizeof o);
        int r = mp_pool_imap(p, square, in, (size_t)n, 4, note_item, &o, NULL);
        char what[64];
        snprintf(what, sizeof what, "imap of %d items in chunks of 4", n);
        fl_expect_int(r, 0, what, "");
        expect_in_order(&o, n, squared, what,
                        "The last chunk ends at count, not a chunksize "
                        "further: hand over each of its items, and none "
                        "past it.");
    }
    mp_pool_destroy(p);
}

// Item 1 fails at once; item 0 waits until item 2 runs, which is once the
// pool has taken in item 1's error: 2 workers, chunks of 1.  So the chunk
// before the failing one comes back after it.
static int
fails_at_1_before_0(long x, long *result)
{
    if (x == 1)
        return -EDOM;
    if (x == 0 && wait_token(token[0]) < 0)
        return -ETIMEDOUT;
    if (x == 2)
        give_token(token[1]);
    *result = x * x;
    return 0;
}

FL_TEST(test_mp_pool_imap_stops_before_the_first_failing_item)
{
    mp_pool *p = pool_of(2);
    long in[100];
    for (int i = 0; i < 100; i++)
        in[i] = i;
    struct order o;
    memset(&o, 0, sizeof o);
    size_t failed = 999;
    int r = mp_pool_imap(p, fails_at_37, in, 100, 0, note_item, &o, &failed);
    mp_pool_destroy(p);
    pipe_or_fail(token); // before the pool: its workers wait on it
    p = pool_of(2);
    struct order o1;
    memset(&o1, 0, sizeof o1);
    size_t failed1 = 999;
    int r1 = mp_pool_imap(p, fails_at_1_before_0, in, 3, 1, note_item, &o1,
                          &failed1);
    pipe_close(token);
    mp_pool_destroy(p);
    ck_assert_msg(r == -EDOM && failed == 37,
                  "imap of 100 items where item 37 returns -EDOM returned "
                  "%s at index %zu; expected -33 (-EDOM) at 37",
                  fl_ret(r), failed);
    expect_in_order(&o, 37, squared, "item 37 of 100 failed (chunks of 1)",
                    "Python's imap yields every result before the failing "
                    "item's chunk, then raises: stop at the chunk that holds "
                    "the job's error, whose place in out holds no result.");
    ck_assert_msg(r1 == -EDOM && failed1 == 1,
                  "imap of 3 items where item 1 returns -EDOM returned %s at "
                  "index %zu; expected -33 (-EDOM) at 1",
                  fl_ret(r1), failed1);
    expect_in_order(&o1, 1, squared,
                    "item 1 of 3 failed before item 0 was back (chunks of 1)",
                    "Item 0's chunk ends where item 1's begins: a failure "
                    "at an item the chunk ends before does not hold it back. "
                    "Stop only at the chunk that holds the error.");
}

FL_TEST(test_mp_pool_imap_and_map_async_fail_cleanly_without_memory)
{
    mp_pool *p = pool_of(1);
    long in[3] = {1, 2, 3}, out[3];
    int n = 0;
    FL_FAULT_WALK ("malloc", ENOMEM, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        n = 0;
        int r = mp_pool_imap(p, square, in, 3, 0, count_item, &n, NULL);
        int fired = fl_fault_fired("malloc") > 0;
        fl_expect_int(r, fired ? -ENOMEM : 0,
                      fired ? "imap with malloc failing" : "imap of 3 items",
                      "");
        ck_assert_msg(n == (fired ? 0 : 3), "imap made %d callbacks", n);
        fl_expect_no_leak(&s, "imap of 3 items");
    }
    // Room for no results is no room: malloc(0) may give NULL (here, as
    // any malloc failing), and imap of no items has nothing to hold.
    fl_fault_reset();
    fl_fault_fail_from("malloc", 1, ENOMEM);
    n = 0;
    int r0 = mp_pool_imap(p, square, in, 0, 0, count_item, &n, NULL);
    fl_fault_reset();
    fl_expect_int(r0, 0, "imap of 0 items, with malloc returning NULL",
                  "malloc(0) may return NULL, which is no failure: there "
                  "were no results to hold. -ENOMEM only if count > 0.");
    fl_expect_int(n, 0, "callbacks made by imap of 0 items", "");
    FL_FAULT_WALK ("calloc", ENOMEM, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        mp_result *res = NULL;
        int r =
            mp_pool_map_async(p, square, in, out, 3, 0, NULL, NULL, NULL, &res);
        int fired = fl_fault_fired("calloc") > 0;
        int g = r == 0 ? mp_result_get(res, -1, NULL) : r;
        mp_result_free(r == 0 ? res : NULL);
        fl_expect_int(g, fired ? -ENOMEM : 0,
                      fired ? "map_async with calloc failing"
                            : "map_async of 3 items, then get",
                      "");
        fl_expect_no_leak(&s, "map_async of 3 items, then get and free");
    }
    // apply_async makes its job on the heap too.
    FL_FAULT_WALK ("calloc", ENOMEM, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        mp_result *res = NULL;
        long v = 0;
        int r = mp_pool_apply_async(p, square, 5, NULL, NULL, NULL, &res);
        int fired = fl_fault_fired("calloc") > 0;
        int g = r == 0 ? mp_result_get(res, -1, &v) : r;
        mp_result_free(r == 0 ? res : NULL);
        fl_expect_int(g, fired ? -ENOMEM : 0,
                      fired ? "apply_async with calloc failing"
                            : "apply_async(square, 5), then get",
                      fired ? "calloc returned NULL: return -ENOMEM (not "
                              "-1, which reads as -EPERM)"
                            : "");
        ck_assert_msg(fired || v == 25, "apply_async(square, 5): get gave %ld",
                      v);
        fl_expect_no_leak(&s, "apply_async(square, 5), then get and free");
    }
    mp_pool_destroy(p);
}

// In a child (a mistake in the length of a chunk leaves its worker waiting
// for more, and the map with it): starmap of 10 pairs (i, 100 + i), in
// chunks of 3, then by Python's rule; results into shared memory.
static int
starmap_pairs(void *arg)
{
    long *out = arg;
    mp_pool *p = NULL;
    if (mp_pool_create(&p, 2) != 0)
        return 1;
    struct mp_pair in[10];
    for (int i = 0; i < 10; i++)
        in[i] = (struct mp_pair){i, 100 + i};
    int r = mp_pool_starmap(p, minus, in, out, 10, 3, NULL);
    if (r == 0)
        r = mp_pool_starmap(p, minus, in, out + 10, 10, 0, NULL);
    mp_pool_destroy(p);
    return r;
}

FL_TEST(test_mp_pool_starmap_calls_the_task_with_each_pair_in_order)
{
    long *out = shared(20 * sizeof *out);
    fl_child res;
    fl_run_in_child(starmap_pairs, out, 3000, 0, &res);
    if (!res.returned)
        fl_kill_children();
    ck_assert_msg(!res.timed_out,
                  "starmap of 10 pairs had not returned after 3 s. Does "
                  "each chunk carry two longs per pair, count * 2 * "
                  "sizeof(long) bytes? A worker that reads more than was "
                  "sent waits for ever.");
    ck_assert_msg(res.returned && res.value == 0,
                  "starmap of 10 pairs %s %s; expected 0",
                  res.returned ? "returned" : "ended with",
                  res.returned ? fl_ret(res.value) : fl_signame(res.status));
    int bad = 0;
    while (bad < 20 && out[bad] == -100)
        bad++;
    long got = bad < 20 ? out[bad] : 0;
    munmap(out, 20 * sizeof *out);
    ck_assert_msg(bad == 20,
                  "starmap(minus, [(i, 100 + i) for i in range(10)]) in "
                  "chunks of %s gave %ld for pair %d; expected %d - %d = "
                  "-100. %s",
                  bad < 10 ? "3" : "2 (Python's rule)", got, bad % 10, bad % 10,
                  100 + bad % 10,
                  got == 100 ? "The task got the pair's members swapped: "
                               "fn2(a, b) takes the first one first."
                             : "Chunk k starts at pair k * chunksize: in "
                               "longs, twice that, as its length is.");
}

// Item 0 of a map waits until the test opens the gate (GATE_MS at most;
// -ETIME if it stays shut).
static int
gated_at_0(long x, long *result)
{
    if (x == 0 && wait_token_for(token[0], GATE_MS) < 0)
        return -ETIME;
    *result = x * x;
    return 0;
}

FL_TEST(test_mp_pool_map_async_returns_at_once_and_calls_back_once)
{
    pipe_or_fail(token);
    struct calls c = {0, 0, 0, 0};
    mp_pool *p = pool_of(2);
    long in[6] = {0, 1, 2, 3, 4, 5}, out[6] = {0}, v = 0;
    mp_result *res = NULL;
    long t0 = fl_now_ms();
    int s = mp_pool_map_async(p, gated_at_0, in, out, 6, 1, on_value, on_error,
                              &c, &res);
    long ms = fl_now_ms() - t0;
    give_token(token[1]);
    int g1 = s == 0 ? mp_result_get(res, -1, &v) : s;
    int g2 = s == 0 ? mp_result_get(res, -1, &v) : s;
    mp_pool_close(p);
    mp_pool_join(p);
    mp_result_free(s == 0 ? res : NULL);
    mp_pool_destroy(p);
    pipe_close(token);
    fl_expect_int(s, 0, "mp_pool_map_async of 6 items", "");
    ck_assert_msg(ms < GATE_MS - 200,
                  "map_async took %ld ms to return: it waited for its map, "
                  "whose item 0 waits for the test to open a gate once "
                  "map_async has returned. map_async submits the map and "
                  "returns at once; get waits.",
                  ms);
    int right = 1;
    for (int i = 0; i < 6; i++)
        right &= out[i] == (long)i * i;
    ck_assert_msg(g1 == 0 && g2 == 0 && v == 6 && right,
                  "map_async(square, 6 items) then get, twice: %s and %s "
                  "with %ld, and out %s; expected 0 with 6 (the count) each "
                  "time, and the squares in out",
                  fl_ret(g1), fl_ret(g2), v, show(out, 6));
    ck_assert_msg(c.ok == 1 && c.value == 6 && c.failed == 0,
                  "after two gets and a join, the callback ran %d time(s) "
                  "(last with %ld) and the error callback %d; expected the "
                  "callback once, with 6: once for the whole map, not once "
                  "per chunk",
                  c.ok, c.value, c.failed);
}

// Item 0 fails at once; item 1 waits until item 2 runs, which is once the
// pool has taken in item 0's answer: 2 workers, chunks of 1.  So chunks
// that succeed come back after the one that failed.
static int
fails_before_the_rest(long x, long *result)
{
    if (x == 0)
        return -EDOM;
    if (x == 1 && wait_token(token[0]) < 0)
        return -ETIMEDOUT;
    if (x == 2)
        give_token(token[1]);
    *result = x;
    return 0;
}

FL_TEST(test_mp_pool_map_async_hands_an_items_error_to_get)
{
    pipe_or_fail(token);
    struct calls c = {0, 0, 0, 0};
    mp_pool *p = pool_of(2);
    long in[3] = {0, 1, 2}, out[3], v = 99;
    mp_result *res = NULL;
    int s = mp_pool_map_async(p, fails_before_the_rest, in, out, 3, 1, on_value,
                              on_error, &c, &res);
    int g = s == 0 ? mp_result_get(res, -1, &v) : s;
    mp_result_free(s == 0 ? res : NULL);
    mp_pool_destroy(p);
    pipe_close(token);
    ck_assert_msg(g == -EDOM,
                  "item 0 of a map_async of 3 fails with -EDOM, and items 1 "
                  "and 2 succeed after it; get returned %s, expected -33 "
                  "(-EDOM). An item's error stays the job's whatever the "
                  "chunks back after it say: note it, never overwrite it "
                  "with a later chunk's outcome.",
                  fl_ret(g));
    ck_assert_msg(c.failed == 1 && c.err == -EDOM && c.ok == 0,
                  "the error callback ran %d time(s) (last with %s) and the "
                  "callback %d; expected the error callback once, with "
                  "-EDOM, once every chunk was back",
                  c.failed, fl_ret(c.err), c.ok);
}

// A worker killed while it sends a big answer: the pool has part of it.
#define BIG_ANSWER (1 << 17) // 1 MiB of results: more than a socket holds

// Kill the one worker of a pool of 1 once it is asleep: it has its whole
// chunk, and nothing else blocks it but the send of its answer, which the
// socket cannot hold while the pool reads none of it.
static void
kill_the_answering_worker(void)
{
    pid_t pid = 0;
    int live, zombies;
    children(&live, &zombies, &pid, 1);
    ck_assert_msg(live == 1 && fl_proc_idles(pid, 20),
                  "the worker of a pool of 1 (%d live) did not settle into "
                  "the send of its answer",
                  live);
    kill(pid, SIGKILL);
    ck_assert_msg(until_exited(pid, 5000) == 0, "SIGKILL failed");
}

static void
kills_at_the_first_item(size_t index, long value, void *ctx)
{
    (void)index;
    (void)value;
    int *kills = ctx;
    if ((*kills)++ == 0)
        kill_the_answering_worker();
}

FL_TEST(test_mp_pool_reports_a_worker_killed_mid_answer)
{
    long *in = malloc(BIG_ANSWER * sizeof *in);
    long *out = malloc(BIG_ANSWER * sizeof *out);
    ck_assert_msg(in != NULL && out != NULL, "malloc failed");
    for (long i = 0; i < BIG_ANSWER; i++)
        in[i] = i;
    // map_async: nobody reads the answer until get.
    mp_pool *p = pool_of(1);
    mp_result *res = NULL;
    int s = mp_pool_map_async(p, square, in, out, BIG_ANSWER, BIG_ANSWER, NULL,
                              NULL, NULL, &res);
    ck_assert_msg(s == 0, "map_async returned %s", fl_ret(s));
    kill_the_answering_worker();
    long v = 0;
    int g = mp_result_get(res, -1, &v);
    mp_result_free(res);
    // imap_unordered: the first item's callback kills the worker.
    int kills = 0;
    size_t failed = 0;
    int r = mp_pool_imap_unordered(p, square, in, BIG_ANSWER, BIG_ANSWER,
                                   kills_at_the_first_item, &kills, &failed);
    mp_pool_destroy(p);
    free(in);
    free(out);
    ck_assert_msg(g == -EPIPE,
                  "a worker was killed while it sent the answer to a chunk "
                  "of %d items, after the header and part of the results; "
                  "get of the map_async returned %s, expected -32 "
                  "(-EPIPE). Fewer bytes than the results' length before "
                  "EOF is a death, not an answer: read_full returns a "
                  "short count there, which must be checked.",
                  BIG_ANSWER, fl_ret(g));
    ck_assert_msg(r == -EPIPE && failed == BIG_ANSWER - 1,
                  "a worker was killed while it sent the answer to a chunk "
                  "of %d items, in imap_unordered's first callback; imap "
                  "returned %s (failed %zu), expected -32 (-EPIPE) at %d. "
                  "A piece of results that ends early is a death: check "
                  "each read_full's count, not only for an error.",
                  BIG_ANSWER, fl_ret(r), failed, BIG_ANSWER - 1);
}

FL_TEST(test_mp_result_get_of_a_map_keeps_its_deadline_when_signals_interrupt)
{
    pipe_or_fail(token);
    mp_pool *p = pool_of(2);
    long in[6] = {0, 1, 2, 3, 4, 5}, out[6];
    mp_result *res = NULL;
    int s =
        mp_pool_map_async(p, gated_at_0, in, out, 6, 1, NULL, NULL, NULL, &res);
    ck_assert_msg(s == 0, "map_async returned %s", fl_ret(s));
    struct get_call g = {res, 50, 0};
    fl_storm_result fin, inf;
    fl_clock_mono_just_past_a_second(); // a clock in whole s shows
    fl_storm_call(get_call, &g, 500, &fin);
    fl_fault_reset();
    g.timeout_ms = -1;
    fl_storm_hold(get_call, release_gated, &g, 500, 50, &inf);
    if (inf.early)
        give_token(token[1]);
    int g2 = mp_result_get(res, -1, &g.value);
    mp_result_free(res);
    mp_pool_destroy(p);
    pipe_close(token);
    ck_assert_msg(fin.ret == -ETIMEDOUT && fin.elapsed_ms >= 48 &&
                      fin.elapsed_ms < 1000,
                  "get(res, 50 ms) of a map_async whose item 0 is held, "
                  "with a signal every 0.5 ms (%ld caught), returned %s "
                  "after %ld ms; expected -110 (-ETIMEDOUT) after 50 ms. "
                  "Chunks coming back and signals both wake the wait: "
                  "neither restarts the timeout. Poll for the time left "
                  "until the deadline, taken once before the loop.",
                  fin.signals, fl_ret(fin.ret), fin.elapsed_ms);
    ck_assert_msg(!inf.early && inf.ret == 0 && g2 == 0 && g.value == 6,
                  "get(res, -1) of a map_async under signals (%ld caught) "
                  "returned %s after %ld ms, %s, with %ld; expected 0 with "
                  "6 once item 0 was let go after 50 ms",
                  inf.signals, fl_ret(inf.ret), inf.elapsed_ms,
                  inf.early ? "before item 0 was let go" : "when let go",
                  g.value);
}

static const fl_case cases[] = {
    FL_CASE(test_mp_pool_map_gives_the_classic_results, 10),
    FL_CASE(test_mp_pool_map_keeps_results_in_input_order, 10),
    FL_CASE(test_mp_pool_map_groups_items_by_the_default_chunksize, 10),
    FL_CASE(test_mp_pool_map_uses_the_chunksize_given, 10),
    FL_CASE(test_mp_pool_map_runs_chunks_bigger_than_the_ones_before, 10),
    FL_CASE(test_mp_pool_map_reports_a_failing_item_with_its_index, 10),
    FL_CASE(test_mp_pool_map_reports_the_lowest_failing_index, 10),
    FL_CASE(test_mp_pool_map_works_again_after_an_error, 10),
    FL_CASE(test_mp_pool_map_blames_the_item_of_a_worker_faster_than_the_pool,
            10),
    FL_CASE(test_mp_pool_map_blames_the_item_a_second_worker_died_on, 10),
    FL_CASE(test_mp_pool_map_reports_a_worker_killed_mid_task, 15),
    FL_CASE(test_mp_pool_map_replaces_a_dead_worker, 15),
    FL_CASE(test_mp_pool_apply_works_after_an_idle_worker_died, 10),
    FL_CASE(test_mp_pool_create_starts_the_workers, 10),
    FL_CASE(test_mp_pool_create_fails_cleanly_when_out_of_descriptors, 10),
    FL_CASE(test_mp_pool_calls_reject_bad_arguments, 10),
    FL_CASE(test_mp_pool_map_of_no_items_returns_0, 10),
    FL_CASE(test_mp_pool_apply_waits_for_the_result, 10),
    FL_CASE(test_mp_pool_apply_async_runs_tasks_at_the_same_time, 10),
    FL_CASE(test_mp_pool_apply_async_calls_the_callback_exactly_once, 10),
    FL_CASE(test_mp_pool_apply_async_calls_the_error_callback_exactly_once, 10),
    FL_CASE(test_mp_pool_apply_async_without_a_handle_still_calls_back, 10),
    FL_CASE(test_mp_result_get_times_out_on_a_slow_task, 10),
    FL_CASE(test_mp_pool_map_goes_on_when_signals_interrupt, 10),
    FL_CASE(test_mp_pool_imap_unordered_hands_results_in_completion_order, 10),
    FL_CASE(test_mp_pool_close_refuses_new_tasks, 10),
    FL_CASE(test_mp_pool_join_refuses_a_pool_not_closed, 10),
    FL_CASE(test_mp_pool_join_runs_every_queued_task, 10),
    FL_CASE(test_mp_pool_join_reaps_every_worker, 10),
    FL_CASE(test_mp_pool_join_ends_workers_while_another_pool_exists, 15),
    FL_CASE(test_mp_pool_terminate_ends_busy_workers_at_once, 10),
    FL_CASE(test_mp_pool_terminate_cancels_unfinished_tasks, 10),
    FL_CASE(test_mp_pool_terminate_keeps_an_items_error, 10),
    FL_CASE(test_mp_pool_destroy_ends_a_pool_not_joined, 10),
    FL_CASE(test_mp_pool_workers_exit_when_the_pool_process_dies, 15),
    FL_CASE(test_mp_pool_create_leaks_nothing_when_any_call_it_makes_fails, 15),
    FL_CASE(test_mp_result_get_keeps_its_deadline_when_signals_interrupt, 10),
    FL_CASE(test_mp_result_get_times_out_when_a_handler_outlasts_the_deadline,
            5),
    FL_CASE(test_mp_result_get_keeps_its_deadline_when_the_wall_clock_jumps,
            10),
    FL_CASE(test_mp_pool_join_reaps_every_worker_when_signals_interrupt, 10),
    FL_CASE(test_mp_pool_workers_do_not_print_the_callers_output_again, 10),
    FL_CASE(test_mp_pool_workers_hold_only_their_own_channel, 10),
    FL_CASE(test_mp_pool_map_reports_a_task_that_closes_its_channel, 10),
    FL_CASE(test_mp_pool_map_goes_on_when_a_dead_worker_cannot_be_replaced, 10),
    FL_CASE(test_mp_pool_join_replaces_a_worker_that_dies_meanwhile, 10),
    FL_CASE(test_mp_pool_imap_unordered_numbers_items_of_a_big_chunk, 10),
    FL_CASE(test_mp_pool_workers_flush_what_their_tasks_print, 10),
    FL_CASE(test_mp_pool_imap_unordered_hands_out_one_item_at_a_time_by_default,
            10),
    FL_CASE(test_mp_result_get_with_timeout_0_collects_an_answer_already_sent,
            10),
    FL_CASE(test_mp_result_get_fails_when_no_worker_is_left, 10),
    FL_CASE(test_mp_pool_imap_hands_over_item_0_while_item_1_still_runs, 10),
    FL_CASE(test_mp_pool_imap_keeps_input_order_when_later_items_finish_first,
            10),
    FL_CASE(test_mp_pool_imap_hands_over_every_item_at_chunk_boundaries, 10),
    FL_CASE(test_mp_pool_imap_stops_before_the_first_failing_item, 10),
    FL_CASE(test_mp_pool_imap_and_map_async_fail_cleanly_without_memory, 10),
    FL_CASE(test_mp_pool_starmap_calls_the_task_with_each_pair_in_order, 10),
    FL_CASE(test_mp_pool_map_async_returns_at_once_and_calls_back_once, 10),
    FL_CASE(test_mp_pool_map_async_hands_an_items_error_to_get, 10),
    FL_CASE(test_mp_pool_reports_a_worker_killed_mid_answer, 10),
    FL_CASE(
        test_mp_result_get_of_a_map_keeps_its_deadline_when_signals_interrupt,
        10),
};

FL_MAIN("09_pools", cases)
