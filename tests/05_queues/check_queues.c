// check_queues.c - tests for lesson 05: the bounded queue between processes.
//
// Children are raw forks that report through memory the test maps
// MAP_SHARED itself, so that a broken queue cannot hide its own failure.
// Nothing here sleeps to synchronise: the tests wait on pidfds, or poll
// /proc until a child is asleep in the queue (state S) or stopped (T).
#define _GNU_SOURCE
#include "queues.h"
#include "harness.h"
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG 64 // max_msg of the small queues, and their buffers

/* ------------------------------------------------------------- helpers */

// A queue from mp_queue_create, or a failed test.
static mp_queue *
make(size_t maxsize, size_t max_msg)
{
    mp_queue *q = NULL;
    int rc = mp_queue_create(&q, maxsize, max_msg);
    ck_assert_msg(rc == 0 && q != NULL,
                  "mp_queue_create(&q, %zu, %zu) returned %s%s, expected 0 "
                  "and a queue",
                  maxsize, max_msg, fl_ret(rc),
                  rc == 0 ? " but left q NULL" : "");
    return q;
}

// Memory that the test shares with its children, for their reports.
static void *
shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(p != MAP_FAILED, "mmap failed: %s", strerror(errno));
    return p;
}

// Python's p.join(timeout): wait at most ms for pid to end.  Its exit code
// (minus the signal that killed it) once reaped, or -ETIMEDOUT while it
// still runs.
static int
join(pid_t pid, int ms)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    ck_assert_msg(fd >= 0, "pidfd_open(%d) failed: %s", (int)pid,
                  strerror(errno));
    struct pollfd p = {fd, POLLIN, 0};
    long end = fl_now_ms() + ms;
    int n;
    do {
        long left = end - fl_now_ms();
        n = poll(&p, 1, left > 0 ? (int)left + 1 : 0);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n == 0)
        return -ETIMEDOUT;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ck_assert_msg(errno == EINTR, "waitpid: %s", strerror(errno));
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

// Poll /proc until pid is in one of the states in want ("S", "SZ"...);
// the state seen, or 0 if it never was within 3 s.
static char
await_state(pid_t pid, const char *want)
{
    long end = fl_now_ms() + 3000;
    for (;;) {
        char s = fl_proc_state(pid);
        if (s != 0 && strchr(want, s) != NULL)
            return s;
        if (fl_now_ms() > end)
            return 0;
        sched_yield();
    }
}

// Wait until pid settles asleep: 'S' once it is seen asleep 20 ms in a
// row (fl_proc_idles), 'Z' if it ended, 'R' if it never settled (it spins,
// or polls in naps).  One 'S' read is not enough: a spinning child reads
// 'S' now and then for a moment, and a child can sleep for a moment before
// its call begins (a fork's page faults).
static char
await_asleep(pid_t pid)
{
    if (fl_proc_idles(pid, 20))
        return 'S';
    char s = fl_proc_state(pid);
    return s == 'Z' || s == 0 ? 'Z' : 'R';
}

// End every child and fail the test with msg.
#define FAIL_KILLING(...)                                                      \
    do {                                                                       \
        fl_kill_children();                                                    \
        ck_abort_msg(__VA_ARGS__);                                             \
    } while (0)

// One queue call made in a child, with what it returned and how long it
// took: lives in shared memory so that the parent can read it.
struct call {
    mp_queue *q;
    int timeout_ms;
    char msg[MSG]; // in: what to put; out: what get got
    size_t len;    // in: the length to put
    long rc;       // what the call returned
    double ms;     // how long it took
};

static struct call *
new_call(mp_queue *q, int timeout_ms, const char *msg)
{
    struct call *c = shared(sizeof *c);
    c->q = q;
    c->timeout_ms = timeout_ms;
    c->rc = -1000000; // never returned
    if (msg != NULL) {
        c->len = strlen(msg);
        memcpy(c->msg, msg, c->len);
    }
    return c;
}

static int
do_put(void *arg)
{
    struct call *c = arg;
    long long t0 = fl_now_us();
    c->rc = mp_queue_put(c->q, c->msg, c->len, c->timeout_ms);
    c->ms = (double)(fl_now_us() - t0) / 1e3;
    return 0;
}

static int
do_get(void *arg)
{
    struct call *c = arg;
    long long t0 = fl_now_us();
    c->rc = (long)mp_queue_get(c->q, c->msg, sizeof c->msg, c->timeout_ms);
    c->ms = (double)(fl_now_us() - t0) / 1e3;
    return 0;
}

// Put the string s, which must succeed at once.
static void
put_now(mp_queue *q, const char *s)
{
    int rc = mp_queue_put(q, s, strlen(s), 0);
    ck_assert_msg(rc == 0,
                  "mp_queue_put(q, \"%s\", %zu, 0) on a queue with room "
                  "returned %s, expected 0",
                  s, strlen(s), fl_ret(rc));
}

// Get a message within timeout_ms and fail unless it is the string want.
static void
get_expect(mp_queue *q, const char *want, int timeout_ms, const char *hint)
{
    char buf[MSG + 1];
    ssize_t n = mp_queue_get(q, buf, MSG, timeout_ms);
    size_t wl = strlen(want);
    if (n >= 0 && n <= MSG)
        buf[n] = '\0';
    ck_assert_msg(n == (ssize_t)wl && memcmp(buf, want, wl) == 0,
                  "mp_queue_get expected \"%s\" (%zu bytes), got %s%s%s%s. %s",
                  want, wl, fl_ret(n), n >= 0 ? " bytes \"" : "",
                  n >= 0 && n <= MSG ? buf : "", n >= 0 ? "\"" : "", hint);
}

/* ------------------------------------------------------------- create */

FL_TEST(test_mp_queue_create_rejects_bad_sizes)
{
    mp_queue *q = NULL;
    int no_q = mp_queue_create(NULL, 4, MSG);
    int no_size = mp_queue_create(&q, 0, MSG);
    int no_msg = mp_queue_create(&q, 4, 0);
    ck_assert_msg(no_q == -EINVAL && no_size == -EINVAL && no_msg == -EINVAL,
                  "mp_queue_create(NULL, 4, 64) gave %s, (&q, 0, 64) gave "
                  "%s and (&q, 4, 0) gave %s; expected -EINVAL for each: "
                  "check qp, maxsize and max_msg before mapping anything",
                  fl_ret(no_q), fl_ret(no_size), fl_ret(no_msg));
}

FL_TEST(test_mp_queue_create_refuses_sizes_that_overflow)
{
    // 2^60 messages of 16 bytes (8 + 8) are 2^64 bytes: 0 in a size_t.
    mp_queue *q = NULL;
    size_t many = (SIZE_MAX >> 4) + 1;
    int rc = mp_queue_create(&q, many, 8);
    if (rc == 0)
        mp_queue_destroy(q);
    fl_expect_int(rc, -ENOMEM, "mp_queue_create(&q, 2^60, 8)",
                  "maxsize * (header + max_msg) overflows a size_t and "
                  "wraps to a tiny size; check before multiplying (is "
                  "slot > (SIZE_MAX - sizeof(mp_queue)) / maxsize?)");
    rc = mp_queue_create(&q, 1, SIZE_MAX - 2);
    if (rc == 0)
        mp_queue_destroy(q);
    fl_expect_int(rc, -ENOMEM, "mp_queue_create(&q, 1, SIZE_MAX - 2)",
                  "header + max_msg overflows a size_t too");
    // A ring of SIZE_MAX - 16 bytes fits a size_t; the struct before it
    // does not.
    rc = mp_queue_create(&q, 1, SIZE_MAX - 24);
    if (rc == 0)
        mp_queue_destroy(q);
    fl_expect_int(rc, -ENOMEM, "mp_queue_create(&q, 1, SIZE_MAX - 24)",
                  "the ring, 1 * (8 + SIZE_MAX - 24) bytes, fits a size_t, "
                  "but sizeof(mp_queue) added to it wraps around: leave "
                  "room for the struct in the check (is slot > (SIZE_MAX - "
                  "sizeof(mp_queue)) / maxsize?)");
}

/* ----------------------------------------------------------- put, get */

FL_TEST(test_mp_queue_put_then_get_returns_the_same_bytes)
{
    mp_queue *q = make(4, MSG);
    char big[MSG + 1];
    for (int i = 0; i < MSG; i++)
        big[i] = (char)('a' + i % 26);
    big[MSG] = '\0';
    put_now(q, "hello");
    put_now(q, big);
    put_now(q, "!");
    get_expect(q, "hello", 0, "messages come out first in, first out");
    get_expect(q, big, 0, "a message of exactly max_msg bytes must fit");
    get_expect(q, "!", 0, "messages come out first in, first out");
    mp_queue_destroy(q);
}

FL_TEST(test_mp_queue_put_refuses_a_message_larger_than_max_msg)
{
    mp_queue *q = make(4, 16);
    char buf[32] = "seventeen bytes!!";
    int rc = mp_queue_put(q, buf, 17, 0);
    ssize_t left = mp_queue_get(q, buf, sizeof buf, 0);
    fl_expect_int(rc, -EMSGSIZE, "mp_queue_put of 17 bytes, max_msg 16",
                  "check len against max_msg before taking the lock, as "
                  "mq_send does");
    fl_expect_int(left, -EAGAIN, "mp_queue_get(timeout 0) after the refusal",
                  "a refused message must not be queued");
    mp_queue_destroy(q);
    q = make(1, 16);
    put_now(q, "x"); // full: a message that fits would wait for room
    int full = mp_queue_put(q, buf, 17, 0);
    mp_queue_destroy(q);
    fl_expect_int(full, -EMSGSIZE,
                  "mp_queue_put of 17 bytes, max_msg 16, on a full queue "
                  "(timeout 0)",
                  "a message that can never fit is refused at once, before "
                  "any wait for room (-EAGAIN says \"full, try later\", "
                  "and later would never do): check len before you lock "
                  "and wait");
}

FL_TEST(test_mp_queue_get_refuses_a_buffer_smaller_than_max_msg)
{
    mp_queue *q = make(4, 16);
    put_now(q, "abc");
    char buf[16];
    ssize_t n = mp_queue_get(q, buf, 15, 0);
    fl_expect_int(n, -EMSGSIZE, "mp_queue_get with cap 15, max_msg 16",
                  "the buffer must hold any message (cap >= max_msg), as "
                  "mq_receive asks; check before waiting");
    get_expect(q, "abc", 0, "a refused get must leave the message queued");
    ssize_t empty = mp_queue_get(q, buf, 15, 0);
    mp_queue_destroy(q);
    fl_expect_int(empty, -EMSGSIZE,
                  "mp_queue_get with cap 15, max_msg 16, on an empty queue "
                  "(timeout 0)",
                  "a buffer too small is refused at once, before any wait "
                  "for a message (-EAGAIN says \"empty, try later\", and "
                  "with -1 it would wait for a message it must refuse): "
                  "check cap before you lock and wait");
}

FL_TEST(test_mp_queue_put_rejects_bad_arguments)
{
    mp_queue *q = make(4, MSG);
    int no_q = mp_queue_put(NULL, "x", 1, 0);
    int no_buf = mp_queue_put(q, NULL, 1, 0); // (NULL, 0) is the sentinel
    int bad_t = mp_queue_put(q, "x", 1, -2);
    char buf[MSG];
    ssize_t left = mp_queue_get(q, buf, MSG, 0);
    ck_assert_msg(no_q == -EINVAL && no_buf == -EINVAL && bad_t == -EINVAL,
                  "mp_queue_put(NULL, \"x\", 1, 0) gave %s, (q, NULL, 1, 0) "
                  "gave %s and (q, \"x\", 1, -2) gave %s; expected -EINVAL "
                  "for each (-1 is the only negative timeout)",
                  fl_ret(no_q), fl_ret(no_buf), fl_ret(bad_t));
    fl_expect_int(left, -EAGAIN, "mp_queue_get(timeout 0) after the refusals",
                  "a refused put must not queue anything");
    mp_queue_destroy(q);
}

FL_TEST(test_mp_queue_get_rejects_bad_arguments)
{
    mp_queue *q = make(4, MSG);
    put_now(q, "kept");
    char buf[MSG];
    ssize_t no_q = mp_queue_get(NULL, buf, MSG, 0);
    ssize_t no_buf = mp_queue_get(q, NULL, MSG, 0);
    ssize_t bad_t = mp_queue_get(q, buf, MSG, -2);
    ck_assert_msg(no_q == -EINVAL && no_buf == -EINVAL && bad_t == -EINVAL,
                  "mp_queue_get(NULL, buf, 64, 0) gave %s, (q, NULL, 64, 0) "
                  "gave %s and (q, buf, 64, -2) gave %s; expected -EINVAL "
                  "for each (-1 is the only negative timeout)",
                  fl_ret(no_q), fl_ret(no_buf), fl_ret(bad_t));
    get_expect(q, "kept", 0, "a refused get must not take a message");
    mp_queue_destroy(q);
}

// Byte k of message i: a pattern that shows where bytes came from.
static unsigned char
pattern(unsigned i, size_t k)
{
    return (unsigned char)(i * 131u + (unsigned)k * 7u + (unsigned)(k >> 8));
}

// Where msg differs from message i from byte `from` to n, or -1.
static long
mismatch(const unsigned char *msg, unsigned i, size_t from, size_t n)
{
    for (size_t k = from; k < n; k++)
        if (msg[k] != pattern(i, k))
            return (long)k;
    return -1;
}

// A check run in a child, since a corrupt ring can make get copy a wild
// length and crash: what went wrong, in shared memory.
struct verdict {
    mp_queue *q;
    size_t max; // a max_msg, for the checks that need one
    char msg[1024];
};

static int
fail_with(struct verdict *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof v->msg, fmt, ap);
    va_end(ap);
    return 1;
}

// Run fn(v) in a child with a new queue in v->q; fail with its verdict,
// or with `crashed` if it died.  The child may not use ck_assert.
static void
judge_in_child(int (*fn)(void *), size_t maxsize, size_t max_msg,
               const char *crashed)
{
    struct verdict *v = shared(sizeof *v);
    v->q = make(maxsize, max_msg);
    fl_child r;
    fl_run_in_child(fn, v, 4000, 0, &r);
    if (!r.returned)
        ck_abort_msg("%s (the child %s %s)", crashed,
                     r.timed_out ? "was still running after" : "was killed by",
                     r.timed_out ? "4 s" : fl_signame(r.status));
    ck_assert_msg(r.value == 0, "%s", v->msg);
    mp_queue_destroy(v->q);
}

#define HOLD_N 5
#define HOLD_SIZE 100

static int
fill_and_drain(void *arg)
{
    struct verdict *v = arg;
    mp_queue *q = v->q;
    unsigned char buf[HOLD_SIZE];
    for (unsigned i = 0; i < HOLD_N; i++) {
        for (size_t k = 0; k < HOLD_SIZE; k++)
            buf[k] = pattern(i, k);
        int rc = mp_queue_put(q, buf, HOLD_SIZE, 0);
        if (rc != 0)
            return fail_with(v,
                             "put %u of 5 (100 bytes each) into a queue made "
                             "for 5 messages of 100 bytes returned %s, "
                             "expected 0",
                             i + 1, fl_ret(rc));
    }
    int over = mp_queue_put(q, "x", 1, 0);
    if (over != -EAGAIN)
        return fail_with(v,
                         "a sixth put (timeout 0) into a queue made for 5 "
                         "returned %s, expected -EAGAIN: the queue is full "
                         "when count == maxsize (an off-by-one lets one more "
                         "in)",
                         fl_ret(over));
    for (unsigned i = 0; i < HOLD_N; i++) {
        ssize_t n = mp_queue_get(q, buf, HOLD_SIZE, 0);
        long bad = n == HOLD_SIZE ? mismatch(buf, i, 0, HOLD_SIZE) : 0;
        if (n != HOLD_SIZE || bad >= 0)
            return fail_with(v,
                             "message %u of 5 came back as %s bytes%s%ld: "
                             "the ring must have room for maxsize messages of "
                             "max_msg bytes AND their length headers, or later "
                             "puts overwrite earlier ones",
                             i + 1, fl_ret(n),
                             bad >= 0 ? ", wrong from byte " : "",
                             bad >= 0 ? bad : 0L);
    }
    return 0;
}

// The mapping of /proc/self/maps that holds p: 1 and [*start, *end), or 0.
// read(), not stdio, which would allocate (and maybe map) while we look.
static int
mapping_of(const void *p, uintptr_t *start, uintptr_t *end)
{
    static char buf[1 << 17];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    ck_assert_msg(fd >= 0, "cannot open /proc/self/maps");
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 &&
           (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    for (char *line = buf; *line != '\0';) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a <= (uintptr_t)p &&
            (uintptr_t)p < b) {
            *start = a;
            *end = b;
            return 1;
        }
        char *nl = strchr(line, '\n');
        line = nl != NULL ? nl + 1 : line + strlen(line);
    }
    return 0;
}

// A queue whose mapping ends at an inaccessible page, *guard, so that a
// byte written past its end faults at once instead of landing in whatever
// mapping lies above it.  Anonymous mappings go top-down: a guard page
// mapped first usually has the queue's mapping right below it; where an
// older hole took one of them, try again (the holes fill up).
static mp_queue *
make_guarded(size_t maxsize, size_t max_msg, char **guard)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *missed[16];
    mp_queue *q = NULL;
    int tries = 0;
    while (q == NULL && tries < 16) {
        char *g = mmap(NULL, page, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        ck_assert_msg(g != MAP_FAILED, "mmap failed: %s", strerror(errno));
        q = make(maxsize, max_msg);
        uintptr_t start, end;
        if (mapping_of(q, &start, &end) && end == (uintptr_t)g) {
            *guard = g;
        } else {
            mp_queue_destroy(q);
            q = NULL;
            missed[tries++] = g;
        }
    }
    while (tries > 0)
        munmap(missed[--tries], page);
    ck_assert_msg(q != NULL, "could not place a guard page after a queue's "
                             "mapping (the test's fault, not yours)");
    return q;
}

// A full message in a queue for one message of a page less 16 bytes: its
// ring is the page less 8 bytes, and the struct makes the mapping two
// pages; a mapping sized for a pointer (sizeof *qp, 8 bytes) and the ring
// is one page, and the message runs past its end.
static int
fill_a_page(void *arg)
{
    struct verdict *v = arg;
    size_t max = (size_t)sysconf(_SC_PAGESIZE) - 16;
    static unsigned char buf[1 << 16];
    for (size_t k = 0; k < max; k++)
        buf[k] = pattern(7, k);
    int rc = mp_queue_put(v->q, buf, max, 0);
    if (rc != 0)
        return fail_with(v,
                         "a put of max_msg (%zu) bytes into an empty "
                         "queue returned %s",
                         max, fl_ret(rc));
    ssize_t n = mp_queue_get(v->q, buf, max, 0);
    if (n != (ssize_t)max || mismatch(buf, 7, 0, max) >= 0)
        return fail_with(v,
                         "a message of max_msg (%zu) bytes came back as %s "
                         "bytes, not as it went in",
                         max, fl_ret(n));
    return 0;
}

// The max_msg whose queue of one message fills its mapping to the last
// byte (a page less the struct and a length header), found by asking
// /proc/self/maps how long queues of one message are.
static size_t
max_msg_filling_a_page(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), lo = 1, hi = page;
    while (hi - lo > 1) { // a queue for lo fits a page, for hi does not
        size_t mid = lo + (hi - lo) / 2;
        mp_queue *q = make(1, mid);
        uintptr_t start = 0, end = 0;
        mapping_of(q, &start, &end);
        mp_queue_destroy(q);
        if (end - start == page)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

// Messages through a queue of one whose ring ends where its mapping does.
// Two of max_msg bytes: the second goes at the ring's start again.  Then
// one 3 bytes short leaves the next length header 3 bytes before the
// ring's end, and one of a byte leaves the next message's bytes running
// 6 bytes past it: a copy that does not stop at the ring's end (n bytes
// from head or tail, where only the first part fits) touches the page
// after the mapping.
static int
wrap_at_the_mapping_end(void *arg)
{
    struct verdict *v = arg;
    size_t max = v->max;
    const size_t len[6] = {max, max, max - 3, max, 1, max};
    static unsigned char buf[1 << 16];
    for (unsigned i = 0; i < 6; i++) {
        for (size_t k = 0; k < len[i]; k++)
            buf[k] = pattern(i, k);
        int rc = mp_queue_put(v->q, buf, len[i], 0);
        ssize_t n = rc == 0 ? mp_queue_get(v->q, buf, max, 0) : rc;
        if (n != (ssize_t)len[i] || mismatch(buf, i, 0, len[i]) >= 0)
            return fail_with(v,
                             "message %u (%zu bytes, max_msg %zu), put into "
                             "an empty queue of 1 and got back, came back "
                             "as %s bytes, not as it went in",
                             i + 1, len[i], max, fl_ret(n));
    }
    return 0;
}

FL_TEST(test_mp_queue_put_holds_maxsize_messages_of_max_msg_bytes)
{
    judge_in_child(fill_and_drain, HOLD_N, HOLD_SIZE,
                   "reading back 5 messages of 100 bytes from a full queue "
                   "of 5 crashed: a length header was overwritten, so get "
                   "copied a wild length. The ring needs maxsize * (HDR + "
                   "max_msg) bytes");
    long page = sysconf(_SC_PAGESIZE);
    struct verdict *v = shared(sizeof *v);
    char *guard = NULL;
    v->q = make_guarded(1, (size_t)page - 16, &guard);
    fl_child r;
    fl_run_in_child(fill_a_page, v, 4000, 0, &r);
    if (!r.returned)
        ck_abort_msg("a put of %ld bytes into mp_queue_create(&q, 1, %ld) "
                     "wrote past the end of the queue's mapping (the child "
                     "%s %s): map the struct AND the ring, sizeof(mp_queue) "
                     "+ maxsize * (HDR + max_msg) bytes. sizeof *qp is the "
                     "size of a pointer, 8 bytes, not of the struct",
                     page - 16, page - 16,
                     r.timed_out ? "was still running after" : "was killed by",
                     r.timed_out ? "4 s" : fl_signame(r.status));
    ck_assert_msg(r.value == 0, "%s", v->msg);
    mp_queue_destroy(v->q);
    munmap(guard, (size_t)page);
    // A queue whose mapping is exactly a page: a ring taken for longer
    // than maxsize * (HDR + max_msg) runs into the guard page.
    v->max = max_msg_filling_a_page();
    v->q = make_guarded(1, v->max, &guard);
    fl_run_in_child(wrap_at_the_mapping_end, v, 4000, 0, &r);
    if (!r.returned)
        ck_abort_msg("messages through mp_queue_create(&q, 1, %zu), "
                     "whose mapping is one page, were copied past the end "
                     "of the mapping (the child %s %s): the ring is "
                     "maxsize * (HDR + max_msg) bytes after the struct, "
                     "and ring_size, where head and tail wrap to 0, is that "
                     "and no more (not the whole mapping); a message or "
                     "header that wraps is copied in two parts, the first "
                     "stopping at the ring's end, in put and in get",
                     v->max,
                     r.timed_out ? "was still running after" : "was killed by",
                     r.timed_out ? "4 s" : fl_signame(r.status));
    ck_assert_msg(r.value == 0, "%s", v->msg);
    mp_queue_destroy(v->q);
    munmap(guard, (size_t)page);
    munmap(v, sizeof *v);
}

#define WRAP_SIZE 50

static int
wrap_around(void *arg)
{
    // Odd lengths move every message, and its length header, across the
    // ring's end sooner or later.
    struct verdict *v = arg;
    mp_queue *q = v->q;
    unsigned char buf[WRAP_SIZE];
    unsigned next_put = 0;
    for (unsigned i = 0; i < 600; i++) {
        while (next_put < i + 2) {
            size_t n = 1 + (next_put * 7u) % WRAP_SIZE;
            for (size_t k = 0; k < n; k++)
                buf[k] = pattern(next_put, k);
            int rc = mp_queue_put(q, buf, n, 0);
            if (rc != 0)
                return fail_with(v,
                                 "put %u (2 messages queued, maxsize 3) "
                                 "returned %s",
                                 next_put, fl_ret(rc));
            next_put++;
        }
        size_t want = 1 + (i * 7u) % WRAP_SIZE;
        ssize_t n = mp_queue_get(q, buf, WRAP_SIZE, 0);
        long bad = n == (ssize_t)want ? mismatch(buf, i, 0, want) : 0;
        if (n != (ssize_t)want || bad >= 0)
            return fail_with(v,
                             "message %u (%zu bytes) came back as %s bytes"
                             "%s%ld. A message, or its length, that runs past "
                             "the end of the ring continues at its start: copy "
                             "it in two parts, both ways, and wrap head and "
                             "tail",
                             i, want, fl_ret(n),
                             bad >= 0 ? ", wrong from byte " : "",
                             bad >= 0 ? bad : 0L);
    }
    return 0;
}

#define SPLIT_SIZE 300 // a length of 2 bytes: 44 and 1

// In a queue of 3 messages of 300 bytes, whose ring is 3 * (HDR + 300)
// bytes, messages of 300, 300 and 299 bytes leave the next header 1 byte
// before the ring's end: its low byte there, the others at the start.  A
// header read in one piece reads those from past the end (44, not 300).
static int
header_across_the_end(void *arg)
{
    struct verdict *v = arg;
    static const size_t len[4] = {SPLIT_SIZE, SPLIT_SIZE, SPLIT_SIZE - 1,
                                  SPLIT_SIZE};
    unsigned char buf[SPLIT_SIZE];
    for (unsigned i = 0; i < 4; i++) {
        for (size_t k = 0; k < len[i]; k++)
            buf[k] = pattern(i, k);
        int rc = mp_queue_put(v->q, buf, len[i], 0);
        ssize_t n = rc == 0 ? mp_queue_get(v->q, buf, SPLIT_SIZE, 0) : rc;
        long bad = n == (ssize_t)len[i] ? mismatch(buf, i, 0, len[i]) : 0;
        if (n != (ssize_t)len[i] || bad >= 0)
            return fail_with(v,
                             "message %u (%zu bytes), put into an empty queue "
                             "of 3 messages of 300 bytes and got back, came "
                             "back as %s bytes%s%ld%s",
                             i + 1, len[i], fl_ret(n),
                             bad >= 0 ? ", wrong from byte " : "",
                             bad >= 0 ? bad : 0L,
                             i < 3 ? ""
                                   : ". Its length header started 1 byte "
                                     "before the ring's end: the header "
                                     "wraps too, copy it in two parts as "
                                     "the bytes");
    }
    return 0;
}

FL_TEST(test_mp_queue_get_reassembles_messages_that_wrap_around)
{
    judge_in_child(wrap_around, 3, WRAP_SIZE,
                   "putting and getting 600 messages of 1 to 50 bytes "
                   "through a queue of 3 crashed: a message or length that "
                   "runs past the end of the ring was read from beyond it. "
                   "Copy in two parts, and wrap head and tail");
    judge_in_child(header_across_the_end, 3, SPLIT_SIZE,
                   "a message of 300 bytes whose length header started 1 "
                   "byte before the ring's end crashed the get: the header "
                   "wraps too, copy it in two parts as the bytes");
}

/* ------------------------------------------------------------ timeouts */

// Run c's call in a child (at most 4 s) and fail if it never returned.
static void
call_in_child(int (*fn)(void *), struct call *c, const char *what)
{
    fl_child r;
    fl_run_in_child(fn, c, 4000, 0, &r);
    if (r.timed_out)
        ck_abort_msg("%s was still blocked after 4 s. A deadline read from "
                     "CLOCK_REALTIME lies decades ahead on CLOCK_MONOTONIC, "
                     "the clock the condition variable waits on; and a "
                     "timeout of 0 must not wait at all",
                     what);
    ck_assert_msg(r.returned, "%s: the child %s %d", what,
                  r.exited ? "exited with" : "was killed by signal", r.status);
}

FL_TEST(test_mp_queue_put_polls_a_full_queue)
{
    mp_queue *q = make(1, MSG);
    put_now(q, "fills it");
    struct call *c = new_call(q, 0, "one more");
    call_in_child(do_put, c, "mp_queue_put(timeout 0) on a full queue");
    fl_expect_int(c->rc, -EAGAIN, "mp_queue_put(timeout 0) on a full queue",
                  "a poll of a full queue returns -EAGAIN at once (Python's "
                  "queue.Full), without waiting");
    ck_assert_msg(c->ms < 1000,
                  "the poll took %.0f ms: timeout 0 must not wait", c->ms);
    mp_queue_destroy(q);
}

FL_TEST(test_mp_queue_get_polls_an_empty_queue)
{
    mp_queue *q = make(4, MSG);
    struct call *c = new_call(q, 0, NULL);
    call_in_child(do_get, c, "mp_queue_get(timeout 0) on an empty queue");
    fl_expect_int(c->rc, -EAGAIN, "mp_queue_get(timeout 0) on an empty queue",
                  "a poll of an empty queue returns -EAGAIN at once "
                  "(Python's queue.Empty), without waiting");
    ck_assert_msg(c->ms < 1000,
                  "the poll took %.0f ms: timeout 0 must not wait", c->ms);
    mp_queue_destroy(q);
}

#define TIMEOUT 100 // ms, for the tests of timeouts

static void
expect_timeout(struct call *c, const char *what)
{
    fl_expect_int(c->rc, -ETIMEDOUT, what,
                  "when the deadline passes with the queue still full (or "
                  "empty), return -ETIMEDOUT");
    ck_assert_msg(c->ms >= TIMEOUT - 5,
                  "%s returned after %.1f ms, before its %d ms had passed. "
                  "pthread_cond_timedwait takes an ABSOLUTE time: now + "
                  "timeout on the condition's clock, set to CLOCK_MONOTONIC "
                  "with pthread_condattr_setclock (a relative time, or a "
                  "deadline on another clock, lies in the past)",
                  what, c->ms, TIMEOUT);
    ck_assert_msg(c->ms < TIMEOUT + 2500,
                  "%s returned after %.0f ms, long after its %d ms: is the "
                  "deadline computed once, before the loop, on "
                  "CLOCK_MONOTONIC?",
                  what, c->ms, TIMEOUT);
}

FL_TEST(test_mp_queue_put_times_out_on_a_full_queue)
{
    mp_queue *q = make(1, MSG);
    put_now(q, "fills it");
    struct call *c = new_call(q, TIMEOUT, "one more");
    call_in_child(do_put, c, "mp_queue_put(timeout 100 ms) on a full queue");
    expect_timeout(c, "mp_queue_put(timeout 100 ms) on a full queue");
    mp_queue_destroy(q);
}

// The code's CLOCK_MONOTONIC 9 s behind (fl_clock_mono_later_at): a
// timeout of 9100 ms, now + 9100 ms read on that clock, ends 100 ms from
// the real now; a deadline that adds the timeout's seconds twice lies 9 s
// later.
#define LONG_SHIFT 9000
#define LONG_TIMEOUT (LONG_SHIFT + TIMEOUT)

FL_TEST(test_mp_queue_get_times_out_on_an_empty_queue)
{
    mp_queue *q = make(4, MSG);
    struct call *c = new_call(q, TIMEOUT, NULL);
    call_in_child(do_get, c, "mp_queue_get(timeout 100 ms) on an empty queue");
    expect_timeout(c, "mp_queue_get(timeout 100 ms) on an empty queue");
    c = new_call(q, LONG_TIMEOUT, NULL);
    fl_fault_reset();
    fl_clock_mono_later_at(0, -LONG_SHIFT); // the child inherits it
    fl_child r;
    fl_run_in_child(do_get, c, 1000, 0, &r);
    fl_fault_reset();
    ck_assert_msg(r.returned && c->rc == -ETIMEDOUT,
                  "mp_queue_get(timeout %d ms) on an empty queue, its "
                  "CLOCK_MONOTONIC read %d ms early, should time out 100 ms "
                  "later; it %s %s. The deadline is now + timeout_ms, once: "
                  "timeout_ms / 1000 seconds plus (timeout_ms %% 1000) "
                  "milliseconds; adding all of timeout_ms as nanoseconds on "
                  "top of the seconds counts them twice. (Or it polls: naps "
                  "and reads the clock again, instead of sleeping on the "
                  "condition variable with pthread_cond_timedwait until "
                  "that deadline.)",
                  LONG_TIMEOUT, LONG_SHIFT,
                  r.timed_out  ? "was still waiting after"
                  : r.returned ? "returned"
                               : "was killed by",
                  r.timed_out  ? "1 s"
                  : r.returned ? fl_ret(c->rc)
                               : fl_signame(r.status));
    mp_queue_destroy(q);
}

/* --------------------------------------------------- across processes */

FL_TEST(test_mp_queue_put_in_a_child_reaches_the_parent)
{
    mp_queue *q = make(4, MSG);
    struct call *c = new_call(q, 0, "from the child");
    pid_t pid = fl_raw_start(do_put, c);
    int code = join(pid, 3000);
    if (code == -ETIMEDOUT)
        FAIL_KILLING("a child's put into an empty queue never returned");
    fl_expect_int(c->rc, 0, "the child's mp_queue_put into an empty queue", "");
    get_expect(q, "from the child", 2000,
               "the queue must live in memory that parent and child share: "
               "mmap it MAP_SHARED | MAP_ANONYMOUS before fork. A "
               "MAP_PRIVATE (or malloc'd) queue is copied on write, so the "
               "child wrote into its own copy");
    mp_queue_destroy(q);
}

// Start c's call in a child and wait until it is asleep in the queue.
// naps_ok: a call that polls in naps is let through once seen asleep (a
// join may; its tests under signals and clock jumps judge the naps).
static pid_t
start_blocked_or_napping(int (*fn)(void *), struct call *c, const char *what,
                         int naps_ok)
{
    pid_t pid = fl_raw_start(fn, c);
    char s = await_asleep(pid);
    if (s == 'R' && naps_ok)
        s = await_state(pid, "SZ");
    if (s == 'Z') {
        join(pid, 3000);
        FAIL_KILLING("%s should block, but it returned at once (returned %s)",
                     what, fl_ret(c->rc));
    }
    if (s != 'S')
        FAIL_KILLING("%s should block, but it never settled asleep: it "
                     "spins, or polls in naps, instead of sleeping on the "
                     "condition variable (pthread_cond_wait, under the lock)",
                     what);
    return pid;
}

static pid_t
start_blocked(int (*fn)(void *), struct call *c, const char *what)
{
    return start_blocked_or_napping(fn, c, what, 0);
}

FL_TEST(test_mp_queue_get_wakes_when_a_message_arrives)
{
    mp_queue *q = make(4, MSG);
    struct call *c = new_call(q, -1, NULL);
    pid_t pid =
        start_blocked(do_get, c, "mp_queue_get(timeout -1) on an empty queue");
    put_now(q, "wake up");
    if (join(pid, 3000) == -ETIMEDOUT)
        FAIL_KILLING("a child waiting in mp_queue_get never woke up after "
                     "the parent's put. After adding a message, signal "
                     "not_empty when a getter waits (count the waiters "
                     "while they wait); and only a condition variable "
                     "made PTHREAD_PROCESS_SHARED wakes another process");
    ck_assert_msg(c->rc == 7 && memcmp(c->msg, "wake up", 7) == 0,
                  "the woken get returned %s (\"%.*s\"), expected 7 "
                  "(\"wake up\")",
                  fl_ret(c->rc), c->rc > 0 && c->rc <= MSG ? (int)c->rc : 0,
                  c->msg);
    mp_queue_destroy(q);
}

FL_TEST(test_mp_queue_put_wakes_when_room_appears)
{
    mp_queue *q = make(1, MSG);
    put_now(q, "first");
    struct call *c = new_call(q, -1, "second");
    pid_t pid =
        start_blocked(do_put, c, "mp_queue_put(timeout -1) on a full queue");
    get_expect(q, "first", 0, "");
    if (join(pid, 3000) == -ETIMEDOUT)
        FAIL_KILLING("a child waiting in mp_queue_put on a full queue never "
                     "woke up after the parent's get made room. After "
                     "taking a message, signal not_full when a putter "
                     "waits; and make the condition PTHREAD_PROCESS_SHARED");
    fl_expect_int(c->rc, 0, "the woken put", "");
    get_expect(q, "second", 0, "");
    mp_queue_destroy(q);
}

// Steal the wake-up of a child waiting in the queue: stop it, wake it
// (a put for a getter, a get for a putter), undo that at once, and let
// it run again.  It must find its condition false and wait again.
static void
steal_wakeup(pid_t pid, struct call *c, mp_queue *q, int getter)
{
    const char *what = getter ? "mp_queue_get" : "mp_queue_put";
    kill(pid, SIGSTOP);
    ck_assert_msg(await_state(pid, "T") == 'T', "the child never stopped");
    if (getter) { // give it a message, then take it back
        put_now(q, "stolen");
        get_expect(q, "stolen", 0, "");
    } else { // a putter: make room, then fill it again
        get_expect(q, "first", 0, "");
        put_now(q, "stealer");
    }
    kill(pid, SIGCONT);
    char s = await_asleep(pid);
    if (s == 'R')
        FAIL_KILLING("%s never settled asleep again after a wake-up whose "
                     "%s had been taken by another process: it spins "
                     "instead of waiting on the condition variable again",
                     what, getter ? "message" : "room");
    if (s != 'S')
        FAIL_KILLING("%s returned %s after a wake-up whose %s had been "
                     "taken by another process before it ran. Wake-ups are "
                     "hints: test the condition in a while loop around "
                     "pthread_cond_wait, never in an if",
                     what, fl_ret(c->rc), getter ? "message" : "room");
}

FL_TEST(test_mp_queue_get_waits_again_after_a_stolen_wakeup)
{
    mp_queue *q = make(4, MSG);
    struct call *c = new_call(q, -1, NULL);
    pid_t pid = start_blocked(do_get, c, "mp_queue_get on an empty queue");
    steal_wakeup(pid, c, q, 1);
    put_now(q, "second");
    if (join(pid, 3000) == -ETIMEDOUT)
        FAIL_KILLING("the getter never woke up for the second message (a "
                     "wake-up was lost): "
                     "after a put, signal not_empty while a getter waits, "
                     "on a mutex and conditions made PTHREAD_PROCESS_SHARED "
                     "(without it no other process can wake it)");
    ck_assert_msg(c->rc == 6 && memcmp(c->msg, "second", 6) == 0,
                  "the getter returned %s, expected 6 (\"second\")",
                  fl_ret(c->rc));
    mp_queue_destroy(q);
}

FL_TEST(test_mp_queue_put_waits_again_after_a_stolen_wakeup)
{
    mp_queue *q = make(1, MSG);
    put_now(q, "first");
    struct call *c = new_call(q, -1, "second");
    pid_t pid = start_blocked(do_put, c, "mp_queue_put on a full queue");
    steal_wakeup(pid, c, q, 0);
    get_expect(q, "stealer", 0, "");
    if (join(pid, 3000) == -ETIMEDOUT)
        FAIL_KILLING("the putter never woke up when room appeared again: "
                     "after a get, signal not_full while a putter waits, "
                     "on a mutex and conditions made PTHREAD_PROCESS_SHARED "
                     "(without it no other process can wake it)");
    fl_expect_int(c->rc, 0, "the putter's mp_queue_put", "");
    get_expect(q, "second", 0, "");
    mp_queue_destroy(q);
}

// A timed get and a timed put whose wake-ups are all stolen: Python's
// q.get(timeout=t) gives up after about t in all, however often it is
// woken.  A call that waits a whole timeout again after each wake-up never
// gives up while the wake-ups keep coming, and here they come every
// millisecond or so, far more often than the 100 ms timeout.
#define ROBBED_TIMEOUT 100 // ms, the timeout of the calls robbed
#define ROBBED_SLACK 500   // ms they may take past it before the test ends
#define ROBBED_RUNS 8      // runs at most, until one proves its point

struct robbed {         // a child waiting in a timed call, and its queue
    const char *what;   // the call, as the messages name it
    const char *lack;   // what it waits for: "message" or "room"
    const char *python; // the same call in Python
    struct call *c;
    int getter; // 1: get on an empty queue; 0: put on a full one
    pid_t pid;
    long long t0;      // when the test started it (fl_now_us)
    long long ran;     // when it last went on: started, or SIGCONT
    long long longest; // the longest it went on without a stop, in us
    int steals;        // wake-ups stolen from it
    int done;          // it has returned (a zombie now)
};

// r, which went on at r->ran, is seen stopped or ended now.
static void
seen_stopped(struct robbed *r)
{
    long long t = fl_now_us() - r->ran;
    r->longest = t > r->longest ? t : r->longest;
}

// Wait until r sleeps in the queue, its lock released, or has returned.
// woken: r was just woken (else just started).
static void
until_asleep(struct robbed *r, int woken)
{
    char s = await_state(r->pid, "SZ");
    if (s == 0 && woken)
        FAIL_KILLING("%s neither slept again nor returned within 3 s of a "
                     "wake-up whose %s another process had taken: test the "
                     "condition again and wait again, in a while loop",
                     r->what, r->lack);
    if (s == 0)
        FAIL_KILLING("%s neither slept nor returned within 3 s: it must "
                     "wait on the condition variable",
                     r->what);
    r->done = s == 'Z';
    if (r->done)
        seen_stopped(r);
}

// Stop r, give it a wake-up and take that back before r can run (a
// message put and got again, or room made and filled again); r stays
// stopped.  Marks r done instead if it had returned.
static void
rob(struct robbed *r)
{
    kill(r->pid, SIGSTOP);
    char s = await_state(r->pid, "TZ");
    seen_stopped(r);
    r->done = s == 'Z';
    if (r->done)
        return;
    if (s != 'T')
        FAIL_KILLING("%s never stopped for SIGSTOP", r->what);
    if (r->getter) {
        put_now(r->c->q, "stolen");
        get_expect(r->c->q, "stolen", 0, "");
    } else {
        get_expect(r->c->q, "full", 0, "");
        put_now(r->c->q, "full");
    }
    r->steals++;
}

// Rob both calls again and again, each time once both sleep again, until
// both have returned or `end` (fl_now_ms) has come.
static void
rob_until(struct robbed *r, long end)
{
    while (!(r[0].done && r[1].done) && fl_now_ms() < end) {
        for (int i = 0; i < 2; i++)
            if (!r[i].done)
                rob(&r[i]);
        for (int i = 0; i < 2; i++) {
            r[i].ran = fl_now_us();
            if (!r[i].done)
                kill(r[i].pid, SIGCONT);
        }
        for (int i = 0; i < 2; i++)
            if (!r[i].done)
                until_asleep(&r[i], 1);
    }
}

// One run: a get on an empty queue and a put on a full one, each with a
// timeout of 100 ms, robbed until they return.  Fails the test if one
// outlives its deadline by ROBBED_SLACK.  Whether the run proved that the
// deadline holds: a call that waits a whole timeout again after each
// wake-up can time out only after going on 100 ms without a stop and a
// theft, which only a loaded machine that keeps the test off the CPU
// allows.
static int
robbed_run(void)
{
    struct robbed r[2] = {
        {.what = "mp_queue_get(timeout 100 ms) on an empty queue",
         .lack = "message",
         .python = "q.get(timeout=0.1)",
         .c = new_call(make(4, MSG), ROBBED_TIMEOUT, NULL),
         .getter = 1},
        {.what = "mp_queue_put(timeout 100 ms) on a full queue",
         .lack = "room",
         .python = "q.put(item, timeout=0.1)",
         .c = new_call(make(1, MSG), ROBBED_TIMEOUT, "late")},
    };
    put_now(r[1].c->q, "full");
    // Not start_blocked: on a loaded machine a call may time out before the
    // test sees it asleep, which proves nothing but is no failure.
    for (int i = 0; i < 2; i++) {
        r[i].t0 = r[i].ran = fl_now_us();
        r[i].pid = fl_raw_start(r[i].getter ? do_get : do_put, r[i].c);
        until_asleep(&r[i], 0);
    }
    rob_until(r, fl_now_ms() + ROBBED_TIMEOUT + ROBBED_SLACK);
    int proved = 1;
    for (int i = 0; i < 2; i++) {
        if (!r[i].done)
            FAIL_KILLING("%s was still waiting after %lld ms: its deadline "
                         "was lost. The test stole %d wake-ups from it "
                         "(another process took the %s first), and each "
                         "one started a whole timeout again. Compute the "
                         "deadline once, before the wait loop, and wait for "
                         "that same deadline after every wake-up: Python's "
                         "%s gives up after 0.1 s in all",
                         r[i].what, (fl_now_us() - r[i].t0) / 1000, r[i].steals,
                         r[i].lack, r[i].python);
        join(r[i].pid, 3000);
        fl_expect_int(r[i].c->rc, -ETIMEDOUT, r[i].what,
                      "every wake-up it had was stolen, so at its deadline "
                      "it must return -ETIMEDOUT");
        ck_assert_msg(r[i].c->ms >= ROBBED_TIMEOUT - 5,
                      "%s, its wake-ups stolen, returned after %.1f ms, "
                      "before its %d ms had passed",
                      r[i].what, r[i].c->ms, ROBBED_TIMEOUT);
        proved &= r[i].longest < ROBBED_TIMEOUT * 1000LL;
        mp_queue_destroy(r[i].c->q);
    }
    return proved;
}

// A run that proved nothing is made again: about one in four, beside two
// processes that hog both CPUs; each costs the reference 100 ms or so.
// No new run starts after ROBBED_BUDGET: on a machine loaded enough to
// prove nothing eight times, eight runs (the sanitizer's slower forks
// among them) could outlast the test's own time limit, and a run that
// proves nothing is no failure.
#define ROBBED_BUDGET 6000 // ms
FL_TEST(test_mp_queue_get_and_put_time_out_despite_stolen_wakeups)
{
    long end = fl_now_ms() + ROBBED_BUDGET;
    for (int run = 0; run < ROBBED_RUNS && fl_now_ms() < end; run++)
        if (robbed_run())
            break;
}

// Start a call in a child, wait till it sleeps in the queue; 0 if it
// returned at once instead.
static pid_t
start_sleeping(int (*fn)(void *), struct call *c)
{
    pid_t pid = fl_raw_start(fn, c);
    if (await_asleep(pid) != 'Z')
        return pid; // one that spins instead is for start_blocked to name
    join(pid, 3000);
    return 0;
}

// start_sleeping for a call with a short timeout: on a loaded host this
// process may not run again before the call has slept its whole timeout
// out (-ETIMEDOUT after timeout_ms).  That call did nothing wrong: it is
// made again with four times the timeout, at most twice; c->timeout_ms
// says the timeout of the call that sleeps.
static pid_t
start_sleeping_within(int (*fn)(void *), struct call *c)
{
    int first = c->timeout_ms;
    for (;;) {
        pid_t pid = start_sleeping(fn, c);
        if (pid != 0 || c->rc != -ETIMEDOUT || c->ms < c->timeout_ms ||
            c->timeout_ms >= first * 16)
            return pid;
        c->timeout_ms *= 4;
    }
}

// A message whose copy into the ring stops half-way, the lock held: its
// page is unreadable, and the handler of the fault makes it readable and
// stops the process (state T) until the test continues it.
static char *late_page;

static void
stop_in_the_copy(int sig)
{
    (void)sig;
    mprotect(late_page, (size_t)sysconf(_SC_PAGESIZE), PROT_READ);
    kill(getpid(), SIGSTOP);
}

static int
put_from_an_unreadable_page(void *arg)
{
    struct call *c = arg;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    late_page = mmap(NULL, page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (late_page == MAP_FAILED)
        return 1;
    memcpy(late_page, "late", 4);
    struct sigaction sa = {.sa_handler = stop_in_the_copy};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0 ||
        mprotect(late_page, page, PROT_NONE) != 0)
        return 1;
    c->rc = mp_queue_put(c->q, late_page, 4, 0);
    return 0;
}

// A child whose put stops in its copy of the message, holding q's lock
// until the test continues it (SIGCONT); its pid, and in *put its call
// (what the put returns).
static pid_t
putter_stopped_in_its_copy(mp_queue *q, struct call **put)
{
    struct call *p = *put = new_call(q, 0, NULL);
    pid_t pp = fl_raw_start(put_from_an_unreadable_page, p);
    if (await_state(pp, "TZ") != 'T')
        FAIL_KILLING("a put whose message lay on an unreadable page never "
                     "stopped in its copy (it returned %s): does "
                     "mp_queue_put copy the message into the ring itself?",
                     fl_ret(p->rc));
    return pp;
}

// Spin until pid sleeps again (more than `slept` sleeps) or ends, at most
// 3 s; its state letter then.
static char
await_sleep_after(pid_t pid, long slept)
{
    long end = fl_now_ms() + 3000;
    for (;;) {
        long n = fl_proc_sleeps(pid); // first the count, then the state
        char st = fl_proc_state(pid);
        if ((st == 'S' && n > slept) || st == 'Z' || st == 0 ||
            fl_now_ms() > end)
            return st;
        sched_yield();
    }
}

// A getter times out while a putter holds the lock, the message half
// copied; when the getter has the lock back, the message is there.  The
// timeout is no reason to leave it: the queue is not empty, so get
// returns it (a put's room likewise).
FL_TEST(test_mp_queue_get_takes_a_message_that_came_as_it_timed_out)
{
    mp_queue *q = make(2, MSG);
    struct call *g = new_call(q, 100, NULL);
    pid_t gp = start_sleeping_within(do_get, g);
    if (gp == 0)
        FAIL_KILLING("mp_queue_get(timeout %d ms) on an empty queue "
                     "returned %s after %.1f ms; expected it to wait",
                     g->timeout_ms, fl_ret(g->rc), g->ms);
    long slept = fl_proc_sleeps(gp);
    struct call *p;
    pid_t pp = putter_stopped_in_its_copy(q, &p);
    // The getter's deadline passes; it wakes and sleeps again, on the
    // lock the stopped putter holds.  (A getter that ends instead was
    // not waiting for that lock: then there is nothing to judge.)
    char st = await_sleep_after(gp, slept);
    kill(pp, SIGCONT);
    if (join(pp, 3000) == -ETIMEDOUT || join(gp, 3000) == -ETIMEDOUT)
        FAIL_KILLING("the putter or the getter never ended once the putter "
                     "was continued: one waits for a wake-up or a lock the "
                     "other released. Across processes that takes a mutex "
                     "and conditions made PTHREAD_PROCESS_SHARED (a private "
                     "one never wakes another process), and a put that "
                     "signals not_empty");
    fl_expect_int(p->rc, 0, "the put that held the lock", "");
    if (st == 'S')
        ck_assert_msg(g->rc == 4 && memcmp(g->msg, "late", 4) == 0,
                      "mp_queue_get(timeout %d ms) timed out while a put "
                      "held the lock; by the time it had the lock back the "
                      "message was in the queue, yet it returned %s. "
                      "pthread_cond_timedwait's ETIMEDOUT is no answer: "
                      "look at the queue again, under the lock, and take "
                      "the message if one is there (queue.Empty only if "
                      "it is still empty)",
                      g->timeout_ms, fl_ret(g->rc));
    mp_queue_destroy(q);
}

/* ---------------------------------------------- producers and consumers */

static int
seed_producer(void *arg)
{
    mp_queue *q = arg;
    char item[8];
    for (int i = 0; i < 5; i++) {
        int n = snprintf(item, sizeof item, "%d", i);
        if (mp_queue_put(q, item, (size_t)n, -1) != 0)
            return 1;
    }
    return mp_queue_put(q, NULL, 0, -1) != 0; // the sentinel
}

static void
print_consumed(const void *msg, size_t len, void *arg)
{
    (void)arg;
    printf("Consumed %.*s\n", (int)len, (const char *)msg);
}

static int
seed_consumer(void *arg)
{
    return (int)mp_queue_consume(arg, print_consumed, NULL);
}

FL_TEST(test_mp_queue_consume_prints_consumed_0_to_4)
{
    mp_queue *q = make(8, 16);
    pid_t producer = fl_raw_start(seed_producer, q);
    fl_child r;
    fl_run_in_child(seed_consumer, q, 3000, 1, &r);
    int code = join(producer, 3000);
    if (code == -ETIMEDOUT || r.timed_out)
        FAIL_KILLING("the consumer %s and the producer %s: did "
                     "mp_queue_consume stop at the empty message?",
                     r.timed_out ? "never returned" : "returned",
                     code == -ETIMEDOUT ? "never ended" : "ended");
    fl_expect_int(code, 0, "the producer's exit code (0: its puts worked)", "");
    ck_assert_msg(r.returned && r.value == 5 &&
                      strcmp(r.out, "Consumed 0\nConsumed 1\nConsumed 2\n"
                                    "Consumed 3\nConsumed 4\n") == 0,
                  "expected mp_queue_consume to return 5 after printing "
                  "\"Consumed 0\" to \"Consumed 4\" in order; it returned "
                  "%s and printed \"%s\"",
                  r.returned ? fl_ret(r.value) : "nothing", r.out);
    mp_queue_destroy(q);
}

static void
print_bar(const void *msg, size_t len, void *arg)
{
    (void)arg;
    printf("%.*s|", (int)len, (const char *)msg);
}

static int
bar_consumer(void *arg)
{
    return (int)mp_queue_consume(arg, print_bar, NULL);
}

FL_TEST(test_mp_queue_consume_stops_at_its_sentinel)
{
    mp_queue *q = make(8, 16);
    put_now(q, "a");
    put_now(q, "b");
    put_now(q, "");
    put_now(q, "c");
    put_now(q, "");
    fl_child r;
    fl_run_in_child(bar_consumer, q, 3000, 1, &r);
    if (r.timed_out)
        ck_abort_msg("mp_queue_consume never returned (it printed \"%s\"): "
                     "it must stop at the first empty message",
                     r.out);
    ck_assert_msg(r.returned && r.value == 2 && strcmp(r.out, "a|b|") == 0,
                  "with \"a\", \"b\", a sentinel, \"c\", a sentinel queued, "
                  "mp_queue_consume should hand \"a\" and \"b\" to fn and "
                  "return 2; it returned %s and fn saw \"%s\" (printed with "
                  "| after each)",
                  r.returned ? fl_ret(r.value) : "nothing", r.out);
    get_expect(q, "c", 0,
               "consume must take its own sentinel and leave "
               "the next messages for the next consumer");
    get_expect(q, "", 0, "");
    char buf[16];
    ssize_t left = mp_queue_get(q, buf, sizeof buf, 0);
    mp_queue_destroy(q);
    fl_expect_int(left, -EAGAIN,
                  "mp_queue_get(timeout 0) once all 5 messages, 2 of them "
                  "sentinels, were taken",
                  "a sentinel is a message like any other: taking it counts "
                  "it out of the queue");
}

struct consumed {
    mp_queue *q;
    long ret;     // what mp_queue_consume returned
    char seen[8]; // the messages fn saw, concatenated
};

static void
remember(const void *msg, size_t len, void *arg)
{
    struct consumed *c = arg;
    size_t used = strlen(c->seen);
    if (used + len < sizeof c->seen)
        memcpy(c->seen + used, msg, len);
}

static int
remembering_consumer(void *arg)
{
    struct consumed *c = arg;
    c->ret = mp_queue_consume(c->q, remember, c);
    return 0;
}

// Its CLOCK_MONOTONIC an hour behind: a get with any finite timeout up to
// an hour, its deadline taken on that clock, has timed out already.
// Waiting with -1, consume reads no clock.
static int
consumer_an_hour_behind(void *arg)
{
    fl_clock_mono_later_at(0, -3600 * 1000LL);
    return remembering_consumer(arg);
}

FL_TEST(test_mp_queue_consume_waits_for_the_sentinel_on_an_empty_queue)
{
    struct consumed *c = shared(sizeof *c);
    c->q = make(4, 16);
    c->ret = -1000;
    pid_t pid = fl_raw_start(consumer_an_hour_behind, c);
    // Asleep for 20 ms in a row, not seen asleep once: a child can sleep
    // for a moment before its get begins (a fork's page faults).
    if (!fl_proc_idles(pid, 20)) {
        join(pid, 3000);
        FAIL_KILLING("mp_queue_consume on an empty queue returned %s before "
                     "any sentinel came. %s",
                     fl_ret(c->ret),
                     c->ret == -ETIMEDOUT
                         ? "Its get gave up after a finite timeout (an "
                           "hour at most): consume waits as long as it "
                           "takes, with timeout -1, like Python's "
                           "iter(q.get, None)"
                         : "An empty queue does not mean the producers are "
                           "done (they may not have started): wait with "
                           "timeout -1, and stop only at the sentinel, "
                           "never on `while not q.empty()`");
    }
    put_now(c->q, "x");
    put_now(c->q, "y");
    put_now(c->q, "");
    if (join(pid, 3000) == -ETIMEDOUT)
        FAIL_KILLING("mp_queue_consume, waiting on an empty queue, never "
                     "returned after x, y and its sentinel were put: does "
                     "put signal not_empty while a getter waits?");
    ck_assert_msg(c->ret == 2 && strcmp(c->seen, "xy") == 0,
                  "mp_queue_consume returned %s after seeing \"%s\"; "
                  "expected 2 after \"xy\"%s",
                  fl_ret(c->ret), c->seen,
                  c->ret == -ETIMEDOUT
                      ? ". Its get gave up after a finite timeout: consume "
                        "waits as long as it takes, with timeout -1"
                      : "");
    mp_queue_destroy(c->q);
}

// A consumer's buffer must hold the largest message the queue takes:
// note whether fn saw the 16 bytes put.
static void
check_full_size(const void *msg, size_t len, void *arg)
{
    struct consumed *c = arg;
    int ok = len == 16 && memcmp(msg, "0123456789abcdef", 16) == 0;
    c->seen[0] = ok ? 'y' : 'n';
}

static int
consume_full_size(void *arg)
{
    struct consumed *c = arg;
    c->ret = mp_queue_consume(c->q, check_full_size, c);
    return 0;
}

#define HUGE_MSG (64 << 20) // max_msg beyond any stack: 64 MB

static void
note_huge(const void *msg, size_t len, void *arg)
{
    struct consumed *c = arg;
    c->seen[0] = len == 1 && *(const char *)msg == 'x' ? 'y' : 'n';
}

// consume of a queue whose max_msg is larger than the stack may grow (a
// limit of 8 MB, the usual, whatever the grader set).
static int
consume_huge(void *arg)
{
    struct consumed *c = arg;
    struct rlimit stack = {8 << 20, 8 << 20};
    setrlimit(RLIMIT_STACK, &stack);
    c->ret = mp_queue_consume(c->q, note_huge, c);
    return 0;
}

FL_TEST(test_mp_queue_consume_takes_a_message_of_max_msg_bytes)
{
    struct consumed *c = shared(sizeof *c);
    c->q = make(2, 16);
    c->ret = -1000;
    ck_assert(mp_queue_put(c->q, "0123456789abcdef", 16, 0) == 0);
    ck_assert(mp_queue_put(c->q, NULL, 0, 0) == 0);
    fl_child r;
    fl_run_in_child(consume_full_size, c, 3000, 0, &r);
    ck_assert_msg(r.returned && c->ret == 1 && c->seen[0] == 'y',
                  "mp_queue_consume of one message of exactly max_msg (16) "
                  "bytes, then the sentinel, %s %s, and its function %s. "
                  "Its buffer must hold max_msg bytes, the cap it gives to "
                  "mp_queue_get: malloc(max_msg), no less (a byte less, and "
                  "a full message is written past its end)",
                  r.timed_out ? "never returned," : "returned",
                  r.returned ? fl_ret(c->ret) : "nothing (it crashed)",
                  c->seen[0] == 'y' ? "saw the 16 bytes"
                                    : "did not see the 16 bytes put");
    mp_queue_destroy(c->q);
    // max_msg of 64 MB: a queue of 2 slots maps 128 MB, untouched but its
    // first page; the buffer must come from malloc, not the stack.
    c->q = make(2, HUGE_MSG);
    c->ret = -1000;
    c->seen[0] = 0;
    ck_assert(mp_queue_put(c->q, "x", 1, 0) == 0);
    ck_assert(mp_queue_put(c->q, NULL, 0, 0) == 0);
    fl_run_in_child(consume_huge, c, 3000, 1, &r);
    ck_assert_msg(r.returned && c->ret == 1 && c->seen[0] == 'y',
                  "mp_queue_consume of a queue whose max_msg is 64 MB, with "
                  "an 8 MB stack, %s %s. Its buffer of max_msg bytes must "
                  "come from malloc, not the stack (an array sized by "
                  "max_msg overflows the stack, and there is no -ENOMEM "
                  "to give)",
                  r.timed_out ? "never returned," : "returned",
                  r.returned ? fl_ret(c->ret) : "nothing (it crashed)");
    mp_queue_destroy(c->q);
}

FL_TEST(test_mp_queue_consume_rejects_a_null_queue_or_function)
{
    mp_queue *q = make(4, 16);
    long no_q = mp_queue_consume(NULL, print_bar, NULL);
    long no_fn = mp_queue_consume(q, NULL, NULL);
    ck_assert_msg(no_q == -EINVAL && no_fn == -EINVAL,
                  "mp_queue_consume(NULL, fn, NULL) gave %s and (q, NULL, "
                  "NULL) gave %s; expected -EINVAL for both",
                  fl_ret(no_q), fl_ret(no_fn));
    mp_queue_destroy(q);
}

// 3 producers x 1000 items, 2 consumers, one sentinel each.  The race
// window is widened on purpose: items are kilobytes long, so copying one
// takes a while, and producers and consumers do little else (each
// producer's bytes are computed once), so that two processes are in
// put or get at the same moment many times in every run.
#define PRODUCERS 3
#define CONSUMERS 2
#define ITEMS 1000
#define ITEM_MAX 16384
#define ITEM_HEAD (2 * sizeof(int)) // the producer, the item's number
#define NOT_DONE LONG_MIN

struct job { // what a producer or writer child is to do
    mp_queue *q;
    int id;
};

// A starting gate: children forked after fl_gate_new wait in
// fl_gate_wait until the parent opens it, and then all start at once.
static fl_gate gate;

struct tally { // one consumer's view, in shared memory
    mp_queue *q;
    unsigned char seen[PRODUCERS][ITEMS];
    int last[PRODUCERS];
    long items, torn, disorder, strange;
    long ret; // what mp_queue_consume returned, NOT_DONE until then
};

// Each producer's bytes, made before the fork: a torn item shows another
// producer's bytes, or the wrong length.
static unsigned char payload[PRODUCERS][ITEM_MAX];

static void
make_payloads(void)
{
    for (int p = 0; p < PRODUCERS; p++)
        for (size_t k = 0; k < ITEM_MAX; k++)
            payload[p][k] = (unsigned char)(p * 89 + (int)k * 13 + 1);
}

static size_t
item_len(int p, int i)
{
    return ITEM_HEAD + 8192 + (size_t)((i * 37 + p * 101) % 8000);
}

static int
producer(void *arg)
{
    const struct job *j = arg;
    int p = j->id;
    unsigned char *buf = payload[p];
    memcpy(buf, &p, sizeof p);
    fl_gate_wait(&gate);
    for (int i = 0; i < ITEMS; i++) {
        memcpy(buf + sizeof p, &i, sizeof i);
        if (mp_queue_put(j->q, buf, item_len(p, i), -1) != 0)
            return 2;
    }
    return 0;
}

static void
count_item(const void *msg, size_t len, void *arg)
{
    struct tally *t = arg;
    const unsigned char *m = msg;
    int p, i;
    if (len < ITEM_HEAD) {
        t->strange++;
        return;
    }
    memcpy(&p, m, sizeof p);
    memcpy(&i, m + sizeof p, sizeof i);
    if (p < 0 || p >= PRODUCERS || i < 0 || i >= ITEMS) {
        t->strange++;
        return;
    }
    t->torn +=
        len != item_len(p, i) ||
        memcmp(m + ITEM_HEAD, payload[p] + ITEM_HEAD, len - ITEM_HEAD) != 0;
    t->items++;
    t->disorder += i <= t->last[p];
    t->last[p] = i;
    if (t->seen[p][i] < 255)
        t->seen[p][i]++;
}

static int
consumer(void *arg)
{
    struct tally *t = arg;
    t->ret = mp_queue_consume(t->q, count_item, t);
    return 0;
}

// Join every pid by the deadline; how many were still running (killed).
static int
join_all(pid_t *pids, int n, long deadline, int *codes)
{
    int late = 0;
    for (int i = 0; i < n; i++) {
        long left = deadline - fl_now_ms();
        codes[i] = join(pids[i], left > 0 ? (int)left : 0);
        late += codes[i] == -ETIMEDOUT;
    }
    return late;
}

// The queue has room for 512 messages, so that the producers almost never
// wait for room: they put at the same time, which is what widens the window
// for a put that copies outside the lock.  With room for 8, each get let
// one producer in at a time, and on a loaded machine the mutant that copies
// unlocked went uncaught in 5 of 30 runs; with 512, in none of 80.
FL_TEST(test_mp_queue_put_from_3_producers_to_2_consumers_loses_nothing)
{
    mp_queue *q = make(512, ITEM_MAX);
    struct tally *t = shared(sizeof(struct tally) * CONSUMERS);
    make_payloads();
    struct job jobs[PRODUCERS];
    pid_t cons[CONSUMERS], prod[PRODUCERS];
    int ccode[CONSUMERS], pcode[PRODUCERS];
    for (int c = 0; c < CONSUMERS; c++) {
        t[c].q = q;
        t[c].ret = NOT_DONE;
        for (int p = 0; p < PRODUCERS; p++)
            t[c].last[p] = -1;
        cons[c] = fl_raw_start(consumer, &t[c]);
    }
    fl_gate_new(&gate, 0, -1);
    for (int p = 0; p < PRODUCERS; p++) {
        jobs[p] = (struct job){q, p};
        prod[p] = fl_raw_start(producer, &jobs[p]);
    }
    fl_gate_free(&gate); // opens it: the producers start together
    long deadline = fl_now_ms() + 5000;
    int late = join_all(prod, PRODUCERS, deadline, pcode);
    int producers_late = late;
    int early = -1, early_code = 0; // a consumer that ended with no sentinel
    for (int c = 0; c < CONSUMERS && early < 0; c++)
        if (fl_zombie(cons[c]) || t[c].ret != NOT_DONE)
            early = c;
    if (early >= 0)
        early_code = join(cons[early], 1000);
    for (int c = 0; c < CONSUMERS && !late && early < 0; c++)
        late = mp_queue_put(q, NULL, 0, 3000) != 0; // one sentinel each
    if (!late && early < 0)
        late = join_all(cons, CONSUMERS, deadline, ccode);
    if (late || early >= 0)
        fl_kill_children();
    long lost = 0, dup = 0, torn = 0, disorder = 0, strange = 0;
    int first_p = -1, first_i = -1;
    for (int p = 0; p < PRODUCERS; p++)
        for (int i = 0; i < ITEMS; i++) {
            int seen = t[0].seen[p][i] + t[1].seen[p][i];
            if (seen > 1 && first_p < 0) {
                first_p = p;
                first_i = i;
            }
            lost += seen == 0;
            dup += seen > 1;
        }
    for (int c = 0; c < CONSUMERS; c++) {
        torn += t[c].torn;
        disorder += t[c].disorder;
        strange += t[c].strange;
    }
    char first[64] = "";
    if (first_p >= 0)
        snprintf(first, sizeof first, " (the first: producer %d item %d)",
                 first_p, first_i);
    ck_assert_msg(dup + torn + disorder + strange == 0 &&
                      (late || early >= 0 || lost == 0),
                  "3 producers x 1000 items to 2 consumers: %ld torn, %ld "
                  "duplicated%s, %ld out of their producer's order, %ld "
                  "unrecognisable, %ld never arrived%s. Every read and write "
                  "of the ring, head, tail and count must happen with the "
                  "mutex held, from the wait to the signal, and the wait "
                  "must be a while loop",
                  torn, dup, first, disorder, strange, lost,
                  late || early >= 0 ? " (then the test stopped: a torn length "
                                       "can read as a sentinel nobody sent)"
                                     : "");
    ck_assert_msg(early < 0,
                  "consumer %d ended (%s) after %ld items, before any "
                  "sentinel was "
                  "put: %s. A get that goes on while the queue is still "
                  "empty (an if instead of a while around the wait) reads "
                  "stale bytes as a length; so does a ring written outside "
                  "the lock",
                  early + 1, early_code < 0 ? fl_signame(-early_code) : "exit",
                  early >= 0 ? t[early].items : 0L,
                  early_code < 0 ? "a get copied a wild length"
                                 : "a get handed it an empty message nobody "
                                   "sent");
    ck_assert_msg(!producers_late,
                  "the producers had not finished after 5 s, although every "
                  "item that arrived was whole: a wake-up was lost. Signal "
                  "after every put and get when someone waits, and make the "
                  "mutex and both conditions PTHREAD_PROCESS_SHARED");
    ck_assert_msg(!late,
                  "the producers finished and one sentinel per consumer was "
                  "put, but the consumers had not ended 5 s after the start: "
                  "does mp_queue_consume stop at its sentinel (and take no "
                  "other)? Or was a wake-up lost (signal not_empty after "
                  "every put while someone waits)?");
    for (int p = 0; p < PRODUCERS; p++)
        fl_expect_int(pcode[p], 0, "a producer's exit code (2: a put failed)",
                      "");
    ck_assert_msg(t[0].ret + t[1].ret == PRODUCERS * ITEMS,
                  "the consumers' mp_queue_consume returned %s and %s, "
                  "expected a total of 3000",
                  fl_ret(t[0].ret), fl_ret(t[1].ret));
    mp_queue_destroy(q);
}

// Writers of 16 KiB messages, far larger than PIPE_BUF (4 KiB).
#define WRITERS 4
#define BIG 16384
#define BIGS 40

static int
big_writer(void *arg)
{
    const struct job *j = arg;
    static unsigned char buf[BIG];
    fl_gate_wait(&gate);
    for (unsigned i = 0; i < BIGS; i++) {
        unsigned id = (unsigned)j->id * 1000 + i;
        for (size_t k = 0; k < BIG; k++)
            buf[k] = pattern(id, k);
        memcpy(buf, &id, sizeof id);
        if (mp_queue_put(j->q, buf, BIG, -1) != 0)
            return 2;
    }
    return 0;
}

// What the reader of the large messages found, in shared memory.
struct big_report {
    mp_queue *q;
    int got;         // messages read, whole and in order
    long rc;         // what a failed get returned
    unsigned writer; // the last message's writer and number
    unsigned msg;
    long torn_at; // where that message was torn
    int due;      // the number that writer's next message should have had
};

static int
big_reader(void *arg)
{
    struct big_report *r = arg;
    static unsigned char buf[BIG];
    int next[WRITERS] = {0};
    for (; r->got < WRITERS * BIGS; r->got++) {
        ssize_t n = mp_queue_get(r->q, buf, BIG, 5000);
        if (n != BIG) {
            r->rc = n;
            return 1;
        }
        unsigned id;
        memcpy(&id, buf, sizeof id);
        r->writer = id / 1000;
        r->msg = id % 1000;
        r->torn_at =
            r->writer < WRITERS ? mismatch(buf, id, sizeof id, BIG) : 0;
        if (r->torn_at >= 0)
            return 2;
        r->due = next[r->writer]++;
        if (r->due != (int)r->msg)
            return 3;
    }
    return 0;
}

FL_TEST(test_mp_queue_put_never_tears_large_messages)
{
    struct big_report *r = shared(sizeof *r);
    mp_queue *q = r->q = make(4, BIG);
    struct job jobs[WRITERS];
    pid_t pids[WRITERS];
    int codes[WRITERS];
    fl_gate_new(&gate, 0, -1);
    for (int i = 0; i < WRITERS; i++) {
        jobs[i] = (struct job){q, i};
        pids[i] = fl_raw_start(big_writer, &jobs[i]);
    }
    fl_gate_free(&gate);
    int code = join(fl_raw_start(big_reader, r), 8000);
    if (code != 0)
        fl_kill_children();
    const char *lock = "Copy each message in and out with the mutex held, the "
                       "whole of it: a pipe keeps writes of up to PIPE_BUF "
                       "bytes whole, only a lock keeps any size whole";
    if (code == -ETIMEDOUT)
        ck_abort_msg("4 writers x 40 messages of 16 KiB: the reader had read "
                     "%d of 160 after 8 s. A lost wake-up, or a torn length "
                     "header read as the wrong size. %s",
                     r->got, lock);
    if (code < 0)
        ck_abort_msg("the reader was killed by %s after %d of 160 messages "
                     "of 16 KiB: a torn length header makes get copy past "
                     "the buffer. %s",
                     fl_signame(-code), r->got, lock);
    if (code == 1)
        ck_abort_msg("message %d of 160 (16 KiB each): get (timeout 5 s) "
                     "returned %s. A lost wake-up (see the ..._wakes_... "
                     "tests) or a deadline in the past (see the timeout "
                     "tests)?",
                     r->got + 1, fl_ret(r->rc));
    if (code == 2)
        ck_abort_msg("message %d of 160 (16 KiB each) is torn at byte %ld "
                     "(writer %u's message %u, by its first bytes): another "
                     "writer's bytes got into it. %s",
                     r->got + 1, r->torn_at, r->writer, r->msg, lock);
    if (code == 3)
        ck_abort_msg("writer %u's message %u arrived when its message %d was "
                     "due: messages were lost, doubled or reordered. %s, and "
                     "wait in a while loop",
                     r->writer, r->msg, r->due, lock);
    if (join_all(pids, WRITERS, fl_now_ms() + 3000, codes) > 0)
        FAIL_KILLING("a writer never ended after all its messages were read");
    mp_queue_destroy(q);
}

/* ------------------------------------------- join before drain: deadlock */

#define CARRY_HINT                                                             \
    "The deadline's tv_nsec must stay below 1000000000 (one second): when "    \
    "now's nanoseconds plus the timeout's reach it, carry one second into "    \
    "tv_sec and take a billion off tv_nsec, or pthread_cond_timedwait "        \
    "refuses the deadline with EINVAL"

#define LONGEST_HINT                                                           \
    "INT_MAX ms is 24 days: compute the deadline in long (or time_t) "         \
    "arithmetic, seconds and nanoseconds apart (timeout_ms / 1000, then "      \
    "(long)(timeout_ms % 1000) * 1000000). timeout_ms * 1000000 in int "       \
    "overflows past 2147 ms: undefined behaviour, in practice a deadline "     \
    "in the past"

static int
ten_puts(void *arg)
{
    mp_queue *q = arg;
    for (int i = 0; i < 10; i++)
        if (mp_queue_put(q, &i, sizeof i, -1) != 0)
            return 2;
    return 0;
}

FL_TEST(test_mp_queue_put_blocks_a_producer_until_the_queue_is_drained)
{
    mp_queue *q = make(4, MSG);
    pid_t pid = fl_raw_start(ten_puts, q);
    char s = await_state(pid, "SZ");
    // Python's p.join(timeout=0.2) before reading the queue.
    int code = s == 'S' ? join(pid, 200) : join(pid, 3000);
    if (code != -ETIMEDOUT)
        FAIL_KILLING("a producer putting 10 messages into a queue of 4 ended "
                     "(exit code %d) before anyone read: put with timeout -1 "
                     "must block while the queue is full. That block is why "
                     "joining a producer before draining its queue deadlocks",
                     code);
    char buf[MSG];
    int i = -1;
    for (int want = 0; want < 10; want++) {
        ssize_t n = mp_queue_get(q, buf, MSG, 3000);
        memcpy(&i, buf, sizeof i);
        if (n == -ETIMEDOUT)
            FAIL_KILLING("draining the queue, message %d of 10 never came: "
                         "the producer blocked in put was not woken when "
                         "get made room (signal not_full while a putter "
                         "waits), or get's 3 s deadline is wrong",
                         want);
        if (n == -EINVAL)
            FAIL_KILLING("draining message %d of 10: mp_queue_get(timeout "
                         "3000 ms) on an empty queue returned -EINVAL: the "
                         "deadline it gave pthread_cond_timedwait was not a "
                         "time. %s. Or: %s",
                         want, CARRY_HINT, LONGEST_HINT);
        if (n != sizeof i || i != want)
            FAIL_KILLING("draining message %d of 10: mp_queue_get returned %s "
                         "(value %d), expected 4 bytes (value %d)",
                         want, fl_ret(n), i, want);
    }
    code = join(pid, 3000);
    if (code == -ETIMEDOUT)
        FAIL_KILLING("the queue was drained but the producer still waits in "
                     "put: get must signal not_full when a putter waits");
    fl_expect_int(code, 0, "the producer's exit code once drained", "");
    mp_queue_destroy(q);
}

/* ---------------------------------------------------- snapshots, speed */

FL_TEST(test_mp_queue_qsize_counts_the_messages)
{
    mp_queue *q = make(4, MSG);
    long before = mp_queue_qsize(q);
    put_now(q, "1");
    put_now(q, "2");
    put_now(q, "3");
    long three = mp_queue_qsize(q);
    char buf[MSG];
    mp_queue_get(q, buf, MSG, 0);
    long two = mp_queue_qsize(q);
    long none = mp_queue_qsize(NULL);
    ck_assert_msg(before == 0 && three == 3 && two == 2 && none == -EINVAL,
                  "mp_queue_qsize gave %s when empty, %s after 3 puts, %s "
                  "after a get, %s for NULL; expected 0, 3, 2, -EINVAL",
                  fl_ret(before), fl_ret(three), fl_ret(two), fl_ret(none));
    mp_queue_destroy(q);
}

FL_TEST(test_mp_queue_empty_is_true_only_without_messages)
{
    mp_queue *q = make(4, MSG);
    int before = mp_queue_empty(q);
    put_now(q, "x");
    int with = mp_queue_empty(q);
    char buf[MSG];
    mp_queue_get(q, buf, MSG, 0);
    int after = mp_queue_empty(q);
    int none = mp_queue_empty(NULL);
    ck_assert_msg(before == 1 && with == 0 && after == 1 && none == -EINVAL,
                  "mp_queue_empty gave %s when empty, %s with a message, %s "
                  "after the get, %s for NULL; expected 1, 0, 1, -EINVAL",
                  fl_ret(before), fl_ret(with), fl_ret(after), fl_ret(none));
    mp_queue_destroy(q);
    // Two messages of max_msg bytes fill a queue of 2 to its last byte:
    // the ring's write position has come round to its read position.
    q = make(2, MSG);
    char big[MSG + 1];
    memset(big, 'b', MSG);
    big[MSG] = '\0';
    put_now(q, big);
    put_now(q, big);
    int full = mp_queue_empty(q);
    mp_queue_destroy(q);
    fl_expect_int(full, 0,
                  "mp_queue_empty of a queue of 2 holding 2 messages of "
                  "max_msg bytes",
                  "a ring filled to its last byte has its write position "
                  "back at its read position, as when it is empty: count "
                  "the messages, do not compare head and tail");
}

#define ROUNDS 1000 // round trips of the ping-pong test

struct pingpong {
    mp_queue *ping, *pong;
    int to[2], from[2]; // the pipes for the same game
};

static int
echo_queue(void *arg)
{
    struct pingpong *g = arg;
    char b[8];
    for (int i = 0; i < ROUNDS; i++)
        if (mp_queue_get(g->ping, b, 8, -1) != 1 ||
            mp_queue_put(g->pong, b, 1, -1) != 0)
            return 2;
    return 0;
}

static int
echo_pipe(void *arg)
{
    struct pingpong *g = arg;
    char b;
    close(g->to[1]);
    close(g->from[0]);
    for (int i = 0; i < ROUNDS; i++)
        if (read(g->to[0], &b, 1) != 1 || write(g->from[1], &b, 1) != 1)
            return 2;
    return 0;
}

// In a child: a put that stops (SIGSTOP) just before its unlock, so that
// it holds the queue's lock until the test lets it go on.
static int
put_stopped_holding_the_lock(void *arg)
{
    fl_fault_reset();
    fl_fault_signal_before("pthread_mutex_unlock", 1, SIGSTOP);
    return do_put(arg);
}

// What a reader of the queue calls, in a child: c->timeout_ms says which.
static int
do_reader(void *arg)
{
    struct call *c = arg;
    switch (c->timeout_ms) {
    case 0:
        c->rc = mp_queue_qsize(c->q);
        break;
    case 1:
        c->rc = mp_queue_empty(c->q);
        break;
    case 2:
        c->rc = mp_queue_unfinished(c->q);
        break;
    default:
        c->rc = mp_queue_join(c->q, 0);
        break;
    }
    return 0;
}

// qsize, empty, unfinished and join read the queue with its lock held:
// while another process holds it, each waits.  One that skips the lock
// but unlocks afterwards (its pthread_mutex_lock line lost) returns at
// once, and its unlock frees the lock of the process that holds it.
FL_TEST(test_mp_queue_snapshots_and_join_wait_for_the_lock)
{
    static const char *names[] = {"mp_queue_qsize", "mp_queue_empty",
                                  "mp_queue_unfinished", "mp_queue_join"};
    mp_queue *q = make(4, MSG);
    put_now(q, "a task"); // unfinished: join(q, 0) would wait
    struct call *holder = new_call(q, 0, "b");
    pid_t h = fl_raw_start(put_stopped_holding_the_lock, holder);
    if (await_state(h, "TZ") != 'T')
        FAIL_KILLING("test setup: a put never stopped before its unlock");
    for (int i = 0; i < 4; i++) {
        struct call *c = new_call(q, i, NULL);
        pid_t r = fl_raw_start(do_reader, c);
        char s = await_asleep(r);
        if (s != 'S') {
            join(r, 3000);
            FAIL_KILLING("%s returned %s while another process held the "
                         "queue's lock; expected it to wait for the lock. "
                         "Take the lock (pthread_mutex_lock) before you read "
                         "the queue: an unlock without it frees the lock of "
                         "the process that holds it",
                         names[i], fl_ret(c->rc));
        }
        kill(r, SIGKILL);
        join(r, 3000);
    }
    kill(h, SIGCONT);
    if (join(h, 3000) != 0 || holder->rc != 0)
        FAIL_KILLING("the put that held the lock did not end with 0 once "
                     "let go on (returned %s)",
                     fl_ret(holder->rc));
    mp_queue_destroy(q);
}

// Milliseconds for ROUNDS round trips through the queues (or pipes).
static double
play(struct pingpong *g, int queues)
{
    pid_t pid = fl_raw_start(queues ? echo_queue : echo_pipe, g);
    if (!queues) {
        close(g->to[0]);
        close(g->from[1]);
    }
    long long t0 = fl_now_us();
    char b[8] = "x";
    long rc = 1;
    for (int i = 0; i < ROUNDS && rc == 1; i++) {
        if (!queues)
            rc = write(g->to[1], b, 1) == 1 && read(g->from[0], b, 1) == 1;
        else if ((rc = mp_queue_put(g->ping, b, 1, 5000)) == 0)
            rc = mp_queue_get(g->pong, b, 8, 5000);
    }
    double ms = (double)(fl_now_us() - t0) / 1e3;
    if (!queues) {
        close(g->to[1]);
        close(g->from[0]);
    }
    if (rc != 1 || join(pid, 5000) != 0)
        FAIL_KILLING("the %s ping-pong failed: a put or a get (timeout 5 s) "
                     "returned %s. A lost wake-up (see the ..._wakes_... "
                     "tests) or a deadline in the past (see the timeout "
                     "tests)?",
                     queues ? "queue" : "pipe", fl_ret(rc));
    return ms;
}

FL_TEST(test_mp_queue_get_wakes_as_fast_as_a_pipe)
{
    struct pingpong g = {make(1, 8), make(1, 8), {-1, -1}, {-1, -1}};
    ck_assert_msg(pipe(g.to) == 0 && pipe(g.from) == 0, "pipe failed");
    double pipe_ms = play(&g, 0);
    double queue_ms = play(&g, 1);
    ck_assert_msg(queue_ms < 500 || queue_ms < 10 * pipe_ms,
                  "%d round trips took %.0f ms through two queues, %.0f ms "
                  "through two pipes: a waiting process must sleep on the "
                  "condition variable and be woken by the signal, not poll "
                  "with sleeps",
                  ROUNDS, queue_ms, pipe_ms);
    mp_queue_destroy(g.ping);
    mp_queue_destroy(g.pong);
}

/* -------------------------------------------------------------- destroy */

// The shared mappings in /proc/self/maps: the lines whose permissions end
// in 's'.  A queue is one; the sanitizer's allocator, which may map more
// of its own memory at any call, maps only private ones, so a count of
// every line would move by itself.  read(), not stdio, which would
// allocate while we count.
static int
mappings(void)
{
    static char buf[1 << 16];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    ck_assert_msg(fd >= 0, "cannot open /proc/self/maps");
    int shared = 0, field = 0, col = 0; // field 1: the permissions
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                field = col = 0;
            } else if (buf[i] == ' ' && field < 2) {
                field++;
                col = 0;
            } else if (field == 1 && col++ == 3) {
                shared += buf[i] == 's';
            }
        }
    close(fd);
    return shared;
}

// How many of the pages of [p, p + len) are still mapped.
static size_t
pages_mapped(const void *p, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), mapped = 0;
    for (size_t off = 0; off < len; off += page) {
        unsigned char in_core;
        if (mincore((char *)p + off, 1, &in_core) == 0 || errno != ENOMEM)
            mapped++;
    }
    return mapped;
}

#define BIG_MSG (3 * 4096) // max_msg of a queue that spans several pages

FL_TEST(test_mp_queue_destroy_unmaps_the_queue)
{
    free(malloc(64)); // so that malloc's own first mapping comes before
    // A ring of several pages and a bit; then a ring of exactly one page,
    // which the struct before it pushes into a second page.
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    static const size_t sizes[][2] = {{4, BIG_MSG}, {1, 0}};
    for (int i = 0; i < 2; i++) {
        size_t maxsize = sizes[i][0];
        size_t max_msg = i == 0 ? sizes[i][1] : page - 8;
        int before = mappings();
        mp_queue *q = make(maxsize, max_msg);
        int during = mappings();
        uintptr_t start = (uintptr_t)q, end = start + page;
        mapping_of(q, &start, &end);
        int rc = mp_queue_destroy(q);
        int after = mappings();
        size_t left = pages_mapped((void *)start, end - start);
        fl_expect_int(rc, 0, "mp_queue_destroy of a queue", "");
        ck_assert_msg(
            after == before && left == 0,
            "the process had %d shared mappings before mp_queue_create("
            "&q, %zu, %zu), %d with the queue, %d after "
            "mp_queue_destroy, and %zu of the queue's %zu pages "
            "were still mapped: munmap the whole mapping, the "
            "struct AND its ring (the size given to mmap, saved "
            "in the queue), not sizeof *q nor the ring alone",
            before, maxsize, max_msg, during, after, left,
            (size_t)(end - start) / page);
    }
    int none = mp_queue_destroy(NULL);
    fl_expect_int(none, -EINVAL, "mp_queue_destroy(NULL)", "");
    // A munmap that fails must be reported (the queue, still mapped, is
    // unmapped here by hand).
    mp_queue *q = make(1, MSG);
    uintptr_t start = (uintptr_t)q, end = start + page;
    mapping_of(q, &start, &end);
    fl_fault_reset();
    fl_fault_fail("munmap", 1, EINVAL);
    int rc = mp_queue_destroy(q);
    long fired = fl_fault_fired("munmap");
    fl_fault_reset();
    if (fired > 0)
        munmap((void *)start, end - start);
    fl_expect_int(rc, -EINVAL,
                  "mp_queue_destroy with munmap() failing with EINVAL",
                  "munmap's failure reaches the caller: check its -1 and "
                  "return -errno");
}

/* ---------------------------------------------------------- under stress */

// mp_queue_create of a queue of several pages with every call of fn
// failing in turn: each failure is -err, leaves *qp alone, and leaves
// nothing behind, every mapping it made unmapped, every page of it (the
// wrappers count mmap and munmap; /proc/self/maps counts what is left).
// Its ring is exactly 4 pages, so that the struct before it pushes the
// mapping into a fifth, which an munmap of the ring's size leaves.
// hint: the likely mistake.
static void
walk_create(const char *fn, int err, const char *hint)
{
    size_t msg = (size_t)sysconf(_SC_PAGESIZE) - sizeof(size_t);
    FL_FAULT_WALK (fn, err, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        mp_queue *q = NULL;
        int before = mappings();
        int rc = mp_queue_create(&q, 4, msg);
        int after = mappings();
        long maps = fl_fault_calls("mmap") - fl_fault_fired("mmap");
        long unmaps = fl_fault_calls("munmap");
        char what[128];
        snprintf(what, sizeof what,
                 "mp_queue_create(&q, 4, %zu) with its call %d of %s() "
                 "failing with %s",
                 msg, k, fn, strerrorname_np(err));
        if (fl_fault_fired(fn) > 0) {
            fl_expect_int(rc, -err, what, hint);
            ck_assert_msg(q == NULL,
                          "%s: it failed but set *qp: set it only "
                          "on success",
                          what);
            ck_assert_msg(unmaps == maps,
                          "%s: it mapped %ld time(s) and unmapped %ld. On "
                          "every way out after the mmap, munmap the queue.",
                          what, maps, unmaps);
            ck_assert_msg(
                after == before,
                "%s: the process had %d shared mappings before and %d "
                "after. munmap the whole mapping, the size given "
                "to mmap, not sizeof *q nor the ring's size (the "
                "struct comes before the ring)",
                what, before, after);
        } else {
            fl_expect_int(rc, 0, "mp_queue_create(&q, 4, page - 8)", "");
            mp_queue_destroy(q);
        }
        fl_expect_no_leak(&s, what);
    }
}

FL_TEST(test_mp_queue_create_leaks_nothing_when_any_call_it_makes_fails)
{
    walk_create("mmap", ENOMEM,
                "mmap reports failure with MAP_FAILED, not NULL: compare "
                "with MAP_FAILED and return -errno");
    static const char pthread_hint[] =
        "a pthread_*_init returns its error number (it does not set "
        "errno): return minus it, after undoing what was made";
    walk_create("pthread_mutex_init", EAGAIN, pthread_hint);
    walk_create("pthread_cond_init", EAGAIN, pthread_hint);
}

static void
count_msgs(const void *msg, size_t len, void *arg)
{
    (void)msg;
    (void)len;
    ++*(long *)arg;
}

FL_TEST(test_mp_queue_consume_frees_its_buffer_and_reports_enomem)
{
    mp_queue *q = make(4, MSG);
    FL_FAULT_WALK ("malloc", ENOMEM, k) {
        put_now(q, "item");
        ck_assert(mp_queue_put(q, NULL, 0, 0) == 0); // the sentinel
        fl_snapshot s;
        fl_snapshot_take(&s);
        long seen = 0;
        long n = mp_queue_consume(q, count_msgs, &seen);
        int fired = fl_fault_fired("malloc") > 0;
        fl_expect_no_leak(&s, "mp_queue_consume (free the buffer it "
                              "allocated, on every way out)");
        if (fired) {
            fl_expect_int(n, -ENOMEM, "mp_queue_consume with malloc failing",
                          "check malloc's result and return -ENOMEM before "
                          "getting anything");
            get_expect(q, "item", 0, "a consume that failed took nothing");
            ck_assert(mp_queue_get(q, (char[MSG]){0}, MSG, 0) == 0);
        } else {
            fl_expect_int(n, 1,
                          "mp_queue_consume of one item, then a "
                          "sentinel",
                          "");
        }
    }
    mp_queue_destroy(q);
}

FL_TEST(test_mp_queue_get_keeps_its_timeout_when_the_wall_clock_jumps)
{
    mp_queue *q = make(4, MSG);
    struct call *c = new_call(q, 100, NULL);
    fl_fault_reset();
    fl_clock_jump(-3600); // the child inherits it: its wall clock is 1 h back
    call_in_child(do_get, c, "mp_queue_get(timeout 100 ms)");
    fl_fault_reset();
    fl_expect_int(c->rc, -ETIMEDOUT,
                  "mp_queue_get(timeout 100 ms) on an "
                  "empty queue, the wall clock set back "
                  "an hour",
                  "");
    ck_assert_msg(c->ms >= 95,
                  "with the wall clock set back an hour, mp_queue_get "
                  "(timeout 100 ms) gave up after %.1f ms. Its deadline was "
                  "read from CLOCK_REALTIME, the clock anyone may set: take "
                  "it from CLOCK_MONOTONIC, and make the condition wait on "
                  "that clock (pthread_condattr_setclock)",
                  c->ms);
    mp_queue_destroy(q);
}

// In a child: a get whose deadline falls exactly on a second.  The code
// reads CLOCK_MONOTONIC in whole milliseconds (fl_clock_mono_whole_ms);
// the child, 60 to 950 ms into a second and early in its millisecond,
// waits 2 s less that phase: now + timeout has tv_nsec of exactly a
// billion, which must be carried too (>=, not >).
static int
do_get_to_a_whole_second(void *arg)
{
    struct call *c = arg;
    c->timeout_ms = fl_clock_mono_to_a_whole_second(); // 1051..1940
    return do_get(c);
}

// 999 ms ends 999000000 ns after now: unless now is in the first
// millisecond of a second, tv_nsec passes a billion and must be carried.
FL_TEST(test_mp_queue_get_and_put_carry_nanoseconds_into_seconds)
{
    mp_queue *q = make(1, MSG);
    for (int i = 0; i < 2; i++) {
        struct call *g = new_call(q, 999, NULL);
        pid_t gp = start_sleeping(do_get, g);
        if (gp == 0)
            FAIL_KILLING("mp_queue_get(timeout 999 ms) on an empty queue "
                         "returned %s at once; expected it to wait. %s",
                         fl_ret(g->rc), CARRY_HINT);
        put_now(q, "first");
        if (join(gp, 3000) == -ETIMEDOUT)
            FAIL_KILLING("mp_queue_get(timeout 999 ms) never woke up for a "
                         "put");
        fl_expect_int(g->rc, 5, "mp_queue_get(timeout 999 ms), woken by a put",
                      "");
    }
    struct call *w = new_call(q, 0, NULL);
    pid_t wp = start_sleeping(do_get_to_a_whole_second, w);
    if (wp == 0)
        FAIL_KILLING("mp_queue_get(timeout %d ms) on an empty queue, now + "
                     "timeout exactly on a second (tv_nsec a billion before "
                     "the carry), returned %s at once; expected it to wait. "
                     "Carry when tv_nsec >= 1000000000, not only when it is "
                     "greater. %s",
                     w->timeout_ms, fl_ret(w->rc), CARRY_HINT);
    put_now(q, "first");
    if (join(wp, 3000) == -ETIMEDOUT)
        FAIL_KILLING("mp_queue_get(timeout %d ms) never woke up for a put",
                     w->timeout_ms);
    fl_expect_int(w->rc, 5,
                  "mp_queue_get, its deadline on a whole second, "
                  "woken by a put",
                  "");
    put_now(q, "fills it");
    for (int i = 0; i < 2; i++) {
        struct call *p = new_call(q, 999, "second");
        pid_t pp = start_sleeping(do_put, p);
        if (pp == 0)
            FAIL_KILLING("mp_queue_put(timeout 999 ms) on a full queue "
                         "returned %s at once; expected it to wait. %s",
                         fl_ret(p->rc), CARRY_HINT);
        get_expect(q, i == 0 ? "fills it" : "second", 0, "");
        if (join(pp, 3000) == -ETIMEDOUT)
            FAIL_KILLING("mp_queue_put(timeout 999 ms) never woke up for a "
                         "get");
        fl_expect_int(p->rc, 0, "mp_queue_put(timeout 999 ms), woken by a get",
                      "");
    }
    get_expect(q, "second", 0, "");
    mp_queue_destroy(q);
}

// The longest timeout, INT_MAX ms, is still a wait: a getter and a putter
// sleep until the other side comes.
FL_TEST(test_mp_queue_get_and_put_wait_with_the_longest_timeout)
{
    mp_queue *q = make(1, MSG);
    struct call *g = new_call(q, INT_MAX, NULL);
    pid_t gp = start_sleeping(do_get, g);
    if (gp == 0)
        FAIL_KILLING("mp_queue_get(timeout INT_MAX) on an empty queue "
                     "returned %s at once; expected it to wait. %s%s",
                     fl_ret(g->rc), g->rc == -EINVAL ? CARRY_HINT ". Or: " : "",
                     LONGEST_HINT);
    put_now(q, "first");
    if (join(gp, 3000) == -ETIMEDOUT)
        FAIL_KILLING("mp_queue_get(timeout INT_MAX) never woke up for a put");
    fl_expect_int(g->rc, 5, "mp_queue_get(timeout INT_MAX), woken by a put",
                  "");
    put_now(q, "fills it");
    struct call *p = new_call(q, INT_MAX, "second");
    pid_t pp = start_sleeping(do_put, p);
    if (pp == 0)
        FAIL_KILLING("mp_queue_put(timeout INT_MAX) on a full queue "
                     "returned %s at once; expected it to wait. %s%s",
                     fl_ret(p->rc), p->rc == -EINVAL ? CARRY_HINT ". Or: " : "",
                     LONGEST_HINT);
    get_expect(q, "fills it", 0, "");
    if (join(pp, 3000) == -ETIMEDOUT)
        FAIL_KILLING("mp_queue_put(timeout INT_MAX) never woke up for a get");
    fl_expect_int(p->rc, 0, "mp_queue_put(timeout INT_MAX), woken by a get",
                  "");
    get_expect(q, "second", 0, "");
    mp_queue_destroy(q);
}

// Two children wait in the queue (getters, or putters on a full queue);
// stopped, so that neither runs before the test has made two messages (or
// two rooms); each must then be woken.
static void
expect_both_woken(int getters)
{
    mp_queue *q = make(2, MSG);
    if (!getters) {
        put_now(q, "a");
        put_now(q, "b");
    }
    struct call *c[2];
    pid_t pid[2];
    for (int i = 0; i < 2; i++) {
        c[i] = new_call(q, -1, getters ? NULL : "c");
        pid[i] = start_blocked(getters ? do_get : do_put, c[i],
                               getters ? "mp_queue_get on an empty queue"
                                       : "mp_queue_put on a full queue");
    }
    for (int i = 0; i < 2; i++) {
        kill(pid[i], SIGSTOP);
        ck_assert_msg(await_state(pid[i], "T") == 'T', "a child never stopped");
    }
    for (int i = 0; i < 2; i++)
        if (getters)
            put_now(q, "x");
        else
            get_expect(q, i == 0 ? "a" : "b", 0, "");
    int hung = 0;
    for (int i = 0; i < 2; i++)
        kill(pid[i], SIGCONT);
    for (int i = 0; i < 2; i++)
        hung += join(pid[i], 3000) == -ETIMEDOUT;
    if (hung)
        FAIL_KILLING("two processes waited in %s; the test %s twice while "
                     "they could not run yet, and %d of them never woke up "
                     "(a lost wake-up). "
                     "Signal %s after EVERY %s while someone waits, not only "
                     "when the queue was %s: the first waiter may not have "
                     "run yet when the second %s comes",
                     getters ? "mp_queue_get" : "mp_queue_put",
                     getters ? "put a message" : "took a message", hung,
                     getters ? "not_empty" : "not_full",
                     getters ? "put" : "get", getters ? "empty" : "full",
                     getters ? "message" : "room");
    mp_queue_destroy(q);
}

FL_TEST(test_mp_queue_put_wakes_a_getter_for_each_message)
{
    expect_both_woken(1);
}

FL_TEST(test_mp_queue_get_wakes_a_putter_for_each_room)
{
    expect_both_woken(0);
}

/* ------------------------------------------------------ task_done, join */

// JoinableQueue: each put adds an unfinished task, each task_done takes
// one away, and join waits until none is left.

static int
do_join(void *arg)
{
    struct call *c = arg;
    long long t0 = fl_now_us();
    c->rc = mp_queue_join(c->q, c->timeout_ms);
    c->ms = (double)(fl_now_us() - t0) / 1e3;
    return 0;
}

static void
task_done_now(mp_queue *q, const char *when)
{
    int rc = mp_queue_task_done(q);
    ck_assert_msg(rc == 0, "mp_queue_task_done %s returned %s, expected 0",
                  when, fl_ret(rc));
}

static void
expect_unfinished(mp_queue *q, long want, const char *when)
{
    long n = mp_queue_unfinished(q);
    ck_assert_msg(n == want,
                  "mp_queue_unfinished %s gave %s, expected %ld: each put "
                  "that succeeds adds one task, each task_done takes one "
                  "away, and nothing else changes the count%s",
                  when, fl_ret(n), want,
                  n < 0 && n != -EINVAL && n != -ENOSYS
                      ? " (a negative count: it went below zero and wrapped)"
                      : "");
}

#define JOIN_LIMIT_MS 1000 // the longest a join of 100 ms or less may take

// A join made in a child, at most limit_ms; fails the test if it was
// still waiting then (what: the call, why: the likely mistake).
static void
join_in_child(struct call *c, int limit_ms, const char *what, const char *why)
{
    fl_child r;
    fl_run_in_child(do_join, c, limit_ms, 0, &r);
    if (r.timed_out)
        ck_abort_msg("%s was still waiting after %d ms. %s", what, limit_ms,
                     why);
    ck_assert_msg(r.returned, "%s: the child %s %d", what,
                  r.exited ? "exited with" : "was killed by signal", r.status);
}

// Whether pid, asleep with `slept` sleeps before a wake-up was sent, was
// left asleep: a futex wake-up makes a process runnable before the waker's
// call returns, so one still asleep with no more sleeps than before was
// not woken (one woken that blocks again, on the mutex, has one more).
// One that looks so is watched 20 ms more: a join that polls in naps of a
// millisecond is between two naps, and sees the count at 0 at the next;
// that mistake is for the tests under signals to name, not this one.
static int
not_woken(pid_t pid, long slept)
{
    long n = fl_proc_sleeps(pid); // first the count, then the state
    if (fl_proc_state(pid) != 'S' || n != slept)
        return 0;
    fl_proc_sleeps_again(pid, slept, 20);
    n = fl_proc_sleeps(pid);
    return fl_proc_state(pid) == 'S' && n == slept;
}

FL_TEST(test_mp_queue_join_rejects_bad_arguments)
{
    mp_queue *q = make(4, MSG);
    int no_q = mp_queue_join(NULL, 0);
    int bad_t = mp_queue_join(q, -2);
    int no_done = mp_queue_task_done(NULL);
    long no_count = mp_queue_unfinished(NULL);
    ck_assert_msg(no_q == -EINVAL && bad_t == -EINVAL && no_done == -EINVAL &&
                      no_count == -EINVAL,
                  "mp_queue_join(NULL, 0) gave %s, (q, -2) gave %s, "
                  "mp_queue_task_done(NULL) gave %s and "
                  "mp_queue_unfinished(NULL) gave %s; expected -EINVAL for "
                  "each (-1 is the only negative timeout)",
                  fl_ret(no_q), fl_ret(bad_t), fl_ret(no_done),
                  fl_ret(no_count));
    mp_queue_destroy(q);
}

FL_TEST(test_mp_queue_unfinished_counts_puts_that_succeeded)
{
    mp_queue *q = make(2, 16);
    expect_unfinished(q, 0, "of a new queue");
    put_now(q, "a");
    put_now(q, "b");
    expect_unfinished(q, 2, "after 2 puts");
    int full = mp_queue_put(q, "c", 1, 0);
    int timed = mp_queue_put(q, "c", 1, 10);
    int big = mp_queue_put(q, "seventeen bytes!!", 17, 0);
    ck_assert_msg(full == -EAGAIN && timed == -ETIMEDOUT && big == -EMSGSIZE,
                  "puts into a full queue returned %s (timeout 0), %s "
                  "(timeout 10 ms) and %s (17 bytes, max_msg 16); expected "
                  "-EAGAIN, -ETIMEDOUT, -EMSGSIZE",
                  fl_ret(full), fl_ret(timed), fl_ret(big));
    long n = mp_queue_unfinished(q);
    fl_expect_int(n, 2, "mp_queue_unfinished after 2 puts and 3 refused",
                  "a put that failed queued nothing, so it adds no task: "
                  "count the task with the message, only when the put "
                  "succeeds (join would wait for ever for a task nobody "
                  "can take)");
    get_expect(q, "a", 0, "");
    expect_unfinished(q, 2, "after a get (get does not finish a task)");
    task_done_now(q, "after a get");
    expect_unfinished(q, 1, "after 2 puts and 1 task_done");
    put_now(q, "");
    fl_expect_int(mp_queue_unfinished(q), 2,
                  "mp_queue_unfinished after an empty message was put",
                  "An empty message (the sentinel) is a message like any "
                  "other, and a task: Python's put(None) counts one, and "
                  "the consumer that takes it calls task_done");
    mp_queue_destroy(q);
}

// A task_done in a child that stops (state T) right after its first
// unlock, until continued: exits 0 if it returned 0, 1 for -EINVAL.
static int
do_task_done(void *arg)
{
    fl_fault_reset();
    fl_fault_stop_after("pthread_mutex_unlock", 1);
    int rc = mp_queue_task_done(arg);
    return rc == 0 ? 0 : rc == -EINVAL ? 1 : 2;
}

#define RACERS 3 // task_done callers, one more than the tasks

// RACERS task_done calls at once, for one task and one more put: each
// waits for the lock a put holds (stopped in its copy), so that whatever
// a task_done looks at before it locks, it looks at before the put ends;
// and each stops after its first unlock, so that a check made in one
// locked section and a decrement in another see no other's decrement.
// Two may succeed, the third must be refused, and the count stay at 0.
static void
racing_task_dones(void)
{
    mp_queue *q = make(4, MSG);
    put_now(q, "job");
    struct call *p;
    pid_t pp = putter_stopped_in_its_copy(q, &p);
    pid_t tp[RACERS];
    for (int i = 0; i < RACERS; i++) {
        tp[i] = fl_raw_start(do_task_done, q);
        await_asleep(tp[i]); // asleep on the lock, or done
    }
    kill(pp, SIGCONT);
    for (int i = 0; i < RACERS; i++)
        await_state(tp[i], "TZ"); // stopped after its first unlock, or done
    for (int i = 0; i < RACERS; i++)
        kill(tp[i], SIGCONT);
    int ok = 0, refused = 0;
    for (int i = 0; i < RACERS; i++) {
        int code = join(tp[i], 3000);
        ok += code == 0;
        refused += code == 1;
    }
    if (join(pp, 3000) == -ETIMEDOUT)
        FAIL_KILLING("a put stopped in its copy never ended once continued");
    long left = mp_queue_unfinished(q);
    ck_assert_msg(ok == 2 && refused == 1 && left == 0,
                  "%d mp_queue_task_done at once, for 1 task and a put "
                  "that held the lock: %d returned 0, %d -EINVAL, and "
                  "mp_queue_unfinished is %ld; expected 2, 1 and 0. Check "
                  "for 0 and decrement in one locked section: a task_done "
                  "that checks before it locks (or under a lock it lets go "
                  "of) decrements a count that others took to 0 "
                  "meanwhile, and it wraps round",
                  RACERS, ok, refused, left);
    mp_queue_destroy(q);
}

FL_TEST(test_mp_queue_task_done_refuses_more_calls_than_puts)
{
    mp_queue *q = make(4, MSG);
    put_now(q, "1");
    put_now(q, "2");
    put_now(q, "3");
    for (int i = 0; i < 3; i++)
        get_expect(q, i == 0 ? "1" : i == 1 ? "2" : "3", 0, "");
    task_done_now(q, "1 of 3");
    task_done_now(q, "2 of 3");
    expect_unfinished(q, 1, "after 3 puts and 2 task_done");
    task_done_now(q, "3 of 3");
    expect_unfinished(q, 0, "after 3 puts and 3 task_done");
    int over = mp_queue_task_done(q);
    fl_expect_int(over, -EINVAL, "a 4th mp_queue_task_done after 3 puts",
                  "called more times than messages were put, task_done "
                  "must refuse (Python raises ValueError: task_done() "
                  "called too many times) and leave the count at 0: check "
                  "for 0 before you decrement");
    // The refusal is over: the lock must be free again (the put in a
    // child: a lock kept would block this process for ever).
    struct call *p = new_call(q, 0, "4");
    fl_child r;
    fl_run_in_child(do_put, p, 1000, 0, &r);
    ck_assert_msg(!r.timed_out && p->rc == 0,
                  "after a refused mp_queue_task_done, a put (timeout 0) "
                  "%s: task_done refused without unlocking the mutex. "
                  "Unlock on every way out, the refusal's too",
                  r.timed_out ? "never returned" : fl_ret(p->rc));
    expect_unfinished(q, 1, "after the refused 4th task_done and a put");
    mp_queue_destroy(q);
    racing_task_dones();
}

FL_TEST(test_mp_queue_join_waits_for_task_done_not_for_an_empty_queue)
{
    mp_queue *q = make(4, MSG);
    put_now(q, "job");
    get_expect(q, "job", 0, ""); // the queue is empty, the task is not done
    struct call *p = new_call(q, 0, NULL), *c = new_call(q, 50, NULL);
    join_in_child(p, JOIN_LIMIT_MS, "mp_queue_join(q, 0)",
                  "A timeout of 0 polls.");
    join_in_child(c, JOIN_LIMIT_MS, "mp_queue_join(q, 50)",
                  "Give the wait a deadline: now + timeout_ms on "
                  "CLOCK_MONOTONIC");
    static const char why[] =
        "join waits until every message put has been marked done with "
        "task_done, not until the queue is empty: the consumer that took "
        "the last message may still be working on it. Wait while the "
        "count of unfinished tasks is above 0";
    fl_expect_int(p->rc, -EAGAIN,
                  "mp_queue_join(q, 0) on an empty queue whose one message "
                  "was taken but not marked done",
                  why);
    fl_expect_int(c->rc, -ETIMEDOUT,
                  "mp_queue_join(q, 50) on an empty queue whose one message "
                  "was taken but not marked done",
                  why);
    task_done_now(q, "of the message taken");
    expect_unfinished(q, 0, "once it is done");
    mp_queue_destroy(q);
}

#define JOIN_TIMEOUT 100 // ms, for the tests of join's timeout

FL_TEST(test_mp_queue_join_times_out_while_a_task_is_unfinished)
{
    mp_queue *q = make(4, MSG);
    put_now(q, "job");
    struct call *c = new_call(q, JOIN_TIMEOUT, NULL);
    join_in_child(c, JOIN_LIMIT_MS,
                  "mp_queue_join(q, 100) with a task unfinished",
                  "Hand the timeout to the wait: pthread_cond_timedwait "
                  "with an absolute deadline, now + timeout_ms on "
                  "CLOCK_MONOTONIC; only -1 waits for ever");
    fl_expect_int(c->rc, -ETIMEDOUT,
                  "mp_queue_join(q, 100) with a task unfinished",
                  "a join that gave up must say so. (Python's join has no "
                  "timeout, and Process.join(timeout) returns None either "
                  "way; here the return value tells.)");
    ck_assert_msg(c->ms >= JOIN_TIMEOUT - 5 && c->ms < JOIN_TIMEOUT + 1000,
                  "mp_queue_join(q, 100) with a task unfinished returned "
                  "after %.1f ms. The deadline is absolute and on the "
                  "condition's clock: all_done, like not_empty and not_full, "
                  "needs pthread_condattr_setclock(CLOCK_MONOTONIC) and "
                  "PTHREAD_PROCESS_SHARED",
                  c->ms);
    // The join is over: the lock it waited with must be free again.
    struct call *p = new_call(q, 0, "after");
    fl_child r;
    fl_run_in_child(do_put, p, 1000, 0, &r);
    ck_assert_msg(!r.timed_out && p->rc == 0,
                  "after mp_queue_join(q, 100) timed out, a put (timeout 0) "
                  "%s: the join returned without unlocking the mutex. "
                  "Unlock on every way out, the timeout's too",
                  r.timed_out ? "never returned" : fl_ret(p->rc));
    mp_queue_destroy(q);
}

FL_TEST(test_mp_queue_join_waits_for_messages_no_consumer_has_taken)
{
    mp_queue *q = make(4, MSG);
    put_now(q, "a");
    put_now(q, "b");
    put_now(q, "c");
    struct call *c = new_call(q, -1, NULL);
    pid_t pid =
        start_blocked_or_napping(do_join, c,
                                 "mp_queue_join(q, -1), with 3 messages put "
                                 "and none taken yet (no consumer started: "
                                 "count each task in put, not in get),",
                                 1);
    get_expect(q, "a", 0, "");
    get_expect(q, "b", 0, "");
    get_expect(q, "c", 0, "");
    task_done_now(q, "1 of 3");
    task_done_now(q, "2 of 3");
    // Woken or not (a broadcast at each task_done is no mistake), it must
    // settle asleep again: one 'S' read would take a joiner that woke only
    // to wait again for one that returned.
    char s = await_asleep(pid);
    long slept = fl_proc_sleeps(pid);
    task_done_now(q, "3 of 3");
    if (not_woken(pid, slept) || join(pid, 3000) == -ETIMEDOUT)
        FAIL_KILLING("a process waiting in mp_queue_join never woke up after "
                     "the last task_done. When the count reaches 0 and a "
                     "joiner waits, broadcast all_done (the joiners' "
                     "condition, not not_empty), made PTHREAD_PROCESS_SHARED "
                     "like the others");
    ck_assert_msg(s == 'S',
                  "mp_queue_join(q, -1) returned %s with one task "
                  "unfinished; it must wait until the count is 0",
                  fl_ret(c->rc));
    fl_expect_int(c->rc, 0, "mp_queue_join(q, -1) after the last task_done",
                  "");
    mp_queue_destroy(q);
}

#define JOINERS 3

FL_TEST(test_mp_queue_task_done_wakes_every_joiner)
{
    mp_queue *q = make(4, MSG);
    put_now(q, "last");
    get_expect(q, "last", 0, "");
    pid_t pid[JOINERS];
    long slept[JOINERS];
    int code[JOINERS], hung = 0;
    for (int i = 0; i < JOINERS; i++)
        pid[i] = start_blocked_or_napping(
            do_join, new_call(q, -1, NULL),
            "mp_queue_join(q, -1) with a task unfinished", 1);
    for (int i = 0; i < JOINERS; i++)
        slept[i] = fl_proc_sleeps(pid[i]);
    task_done_now(q, "of the last task");
    for (int i = 0; i < JOINERS; i++)
        hung += not_woken(pid[i], slept[i]);
    if (hung == 0)
        hung = join_all(pid, JOINERS, fl_now_ms() + 3000, code);
    if (hung > 0)
        FAIL_KILLING("%d processes waited in mp_queue_join; the last "
                     "task_done woke %d of them, and %d slept on. Wake them "
                     "all with pthread_cond_broadcast: pthread_cond_signal "
                     "wakes one (Python's task_done calls notify_all)",
                     JOINERS, JOINERS - hung, hung);
    mp_queue_destroy(q);
}

#define JOIN_STORM_US 300 // a signal every 300 us during the storm tests
#define JOIN_HOLD_MS 30   // how long join(-1) must wait under the storm

struct stormed { // a join under a storm, in a child; the result shared
    mp_queue *q;
    fl_storm_result res;
};

static int
join_for_ever(void *arg)
{
    return mp_queue_join(arg, -1);
}

static void
finish_the_task(void *arg)
{
    mp_queue_task_done(arg);
}

static int
hold_join_in_a_storm(void *arg)
{
    struct stormed *st = arg;
    fl_storm_hold(join_for_ever, finish_the_task, st->q, JOIN_STORM_US,
                  JOIN_HOLD_MS, &st->res);
    return 0;
}

FL_TEST(test_mp_queue_join_waits_for_ever_under_a_signal_storm)
{
    struct stormed *st = shared(sizeof *st);
    st->q = make(4, MSG);
    st->res.ret = -1000000;
    put_now(st->q, "job");
    fl_child r;
    fl_run_in_child(hold_join_in_a_storm, st, 2000, 0, &r);
    ck_assert_msg(r.returned && st->res.ret == 0 && !st->res.early,
                  "mp_queue_join(q, -1) with a task unfinished, while a "
                  "signal arrived every %d us, and a task_done after %d "
                  "ms: it %s %s%s; expected 0 after the task_done. -1 "
                  "means for ever: a signal handler that ran is no reason "
                  "to stop waiting (pthread_cond_wait never fails with "
                  "EINTR; a nanosleep does, and must be retried)",
                  JOIN_STORM_US, JOIN_HOLD_MS,
                  r.returned ? "returned" : "never returned",
                  r.returned ? fl_ret(st->res.ret) : "",
                  st->res.early ? " BEFORE the task_done" : "");
    mp_queue_destroy(st->q);
}

static int
join_50(void *arg)
{
    return mp_queue_join(arg, 50);
}

// Besides the signals, every nanosleep the code makes fails with EINTR at
// once, as if a signal came in each: a join that polls in naps and counts
// them ends after 50 of them in no time, however loaded the machine (the
// storm alone could not always cut naps short enough to show it).  The
// reference makes no nanosleep.
static int
join_in_a_storm(void *arg)
{
    struct stormed *st = arg;
    fl_fault_reset();
    fl_fault_fail_from("nanosleep", 1, EINTR);
    fl_storm_call(join_50, st->q, JOIN_STORM_US, &st->res);
    fl_fault_reset();
    return 0;
}

FL_TEST(test_mp_queue_join_keeps_its_deadline_under_a_signal_storm)
{
    struct stormed *st = shared(sizeof *st);
    st->q = make(4, MSG);
    st->res.ret = -1000000;
    put_now(st->q, "job");
    fl_child r;
    fl_run_in_child(join_in_a_storm, st, JOIN_LIMIT_MS, 0, &r);
    ck_assert_msg(r.returned && st->res.ret == -ETIMEDOUT &&
                      st->res.elapsed_ms >= 45 && st->res.elapsed_ms < 400,
                  "mp_queue_join(q, 50) with a task unfinished, while a "
                  "signal arrived every %d us (%ld caught): it %s %s after "
                  "%ld ms; expected -ETIMEDOUT after 50 ms. Signals must "
                  "neither end the wait early nor start its deadline "
                  "again: take the deadline once, absolute, on "
                  "CLOCK_MONOTONIC, and wait until that same deadline "
                  "(naps counted one per millisecond end early when a "
                  "signal cuts each nap short)",
                  JOIN_STORM_US, st->res.signals,
                  r.returned ? "returned" : "never returned",
                  r.returned ? fl_ret(st->res.ret) : "",
                  r.returned ? st->res.elapsed_ms : (long)JOIN_LIMIT_MS);
    mp_queue_destroy(st->q);
}

// A join of JOIN_CLOCK_MS while the wall clock the code sees goes back an
// hour: from the start (a deadline read once from CLOCK_REALTIME lies an
// hour behind the real one), or after the first read (a loop that reads
// CLOCK_REALTIME again to see whether the deadline has passed sees it an
// hour away).
#define JOIN_CLOCK_MS 60

static int
join_while_the_clock_jumps(void *arg)
{
    struct call *c = arg;
    fl_fault_reset();
    if (c->len == 0)
        fl_clock_jump(-3600);
    else
        fl_clock_jump_at(1, -3600);
    return do_join(c);
}

FL_TEST(test_mp_queue_join_keeps_its_timeout_when_the_wall_clock_jumps)
{
    mp_queue *q = make(4, MSG);
    put_now(q, "job");
    for (int at_first_read = 0; at_first_read < 2; at_first_read++) {
        struct call *c = new_call(q, JOIN_CLOCK_MS, NULL);
        c->len = (size_t)at_first_read;
        fl_child r;
        fl_run_in_child(join_while_the_clock_jumps, c, JOIN_LIMIT_MS, 0, &r);
        ck_assert_msg(
            r.returned && c->rc == -ETIMEDOUT && c->ms >= JOIN_CLOCK_MS - 5,
            "mp_queue_join(q, %d) with a task unfinished, the "
            "wall clock set back an hour %s: it %s %s after %.1f "
            "ms; expected -ETIMEDOUT after %d ms. Its deadline "
            "was measured on CLOCK_REALTIME, the clock anyone "
            "may set: take it from CLOCK_MONOTONIC, and wait on "
            "that clock",
            JOIN_CLOCK_MS,
            at_first_read ? "after the first time it read the "
                            "clock"
                          : "before it started",
            r.returned ? "returned" : "never returned",
            r.returned ? fl_ret(c->rc) : "",
            r.returned ? c->ms : (double)JOIN_LIMIT_MS, JOIN_CLOCK_MS);
    }
    mp_queue_destroy(q);
}

// A worker that dies between get and task_done: its task stays
// unfinished, and only a join with a timeout notices.
static int
take_and_die(void *arg)
{
    char buf[MSG];
    mp_queue_get(arg, buf, MSG, 0);
    raise(SIGKILL);
    return 0;
}

static int
take_and_finish(void *arg)
{
    char buf[MSG];
    if (mp_queue_get(arg, buf, MSG, 0) < 0)
        return 1;
    return mp_queue_task_done(arg) != 0;
}

FL_TEST(test_mp_queue_join_times_out_when_a_worker_dies_before_task_done)
{
    mp_queue *q = make(4, MSG);
    put_now(q, "first");
    put_now(q, "second");
    fl_child dead, done;
    fl_run_in_child(take_and_die, q, 1000, 0, &dead);
    fl_run_in_child(take_and_finish, q, 1000, 0, &done);
    ck_assert_msg(!dead.exited && dead.status == SIGKILL && done.returned &&
                      done.value == 0,
                  "a worker that took a message and was killed, and one "
                  "that took the other and called task_done: the second "
                  "returned %d (0: its get and task_done worked)",
                  done.value);
    expect_unfinished(q, 1, "after 2 puts, 2 gets and 1 task_done");
    struct call *c = new_call(q, JOIN_TIMEOUT, NULL);
    join_in_child(c, JOIN_LIMIT_MS,
                  "mp_queue_join(q, 100), a task never to be done",
                  "A worker died between get and task_done: Python's join "
                  "waits for ever here; yours has a deadline, keep it");
    fl_expect_int(c->rc, -ETIMEDOUT,
                  "mp_queue_join(q, 100) with the queue empty and the task "
                  "of a dead worker unfinished",
                  "the queue is empty but a task is not done: join waits "
                  "for the count of unfinished tasks, and times out");
    // The parent, which reaped the dead worker, finishes its task for it.
    task_done_now(q, "for the dead worker");
    fl_expect_int(mp_queue_join(q, 0), 0,
                  "mp_queue_join(q, 0) once the parent did the dead "
                  "worker's task_done",
                  "");
    mp_queue_destroy(q);
}

// N workers x M items: join returns once the last task is done, and not
// before, which a shared counter shows (each worker counts an item before
// its task_done).
#define WORKERS 3
#define WORK_ITEMS 300

struct work {
    mp_queue *q;
    long done;       // items worked on, counted before their task_done
    long refused;    // task_done calls that failed
    long at_join[2]; // done when join returned, and unfinished then
};

static int
worker(void *arg)
{
    struct work *w = arg;
    char buf[MSG];
    ssize_t n;
    do {
        n = mp_queue_get(w->q, buf, MSG, -1);
        if (n > 0)
            __atomic_add_fetch(&w->done, 1, __ATOMIC_SEQ_CST);
        if (n >= 0 && mp_queue_task_done(w->q) != 0) // the sentinel's too
            __atomic_add_fetch(&w->refused, 1, __ATOMIC_SEQ_CST);
    } while (n > 0);
    return n < 0;
}

FL_TEST(test_mp_queue_join_returns_after_the_last_task_done)
{
    struct work *w = shared(sizeof *w);
    w->q = make(8, MSG);
    pid_t pid[WORKERS];
    int code[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        pid[i] = fl_raw_start(worker, w);
    int rc = 0;
    for (int i = 0; i < WORKERS * WORK_ITEMS && rc == 0; i++)
        rc = mp_queue_put(w->q, &i, sizeof i, 3000);
    for (int i = 0; i < WORKERS && rc == 0; i++)
        rc = mp_queue_put(w->q, NULL, 0, 3000); // a sentinel each
    if (rc != 0)
        FAIL_KILLING("putting 900 items and 3 sentinels for 3 workers, a "
                     "put (timeout 3 s) returned %s: the workers stopped "
                     "taking them (did one get or task_done fail?)",
                     fl_ret(rc));
    rc = mp_queue_join(w->q, 3000);
    w->at_join[0] = __atomic_load_n(&w->done, __ATOMIC_SEQ_CST);
    w->at_join[1] = mp_queue_unfinished(w->q);
    int late = join_all(pid, WORKERS, fl_now_ms() + 3000, code);
    if (late)
        fl_kill_children();
    ck_assert_msg(w->refused == 0,
                  "%ld of the workers' task_done calls were refused, "
                  "though each followed a get: a consumer took a message "
                  "before its task was counted. Count it in put, in the "
                  "same locked section that makes the message visible",
                  w->refused);
    ck_assert_msg(rc == 0 && w->at_join[0] == WORKERS * WORK_ITEMS,
                  "%d workers x %d items: mp_queue_join returned %s when "
                  "%ld items had been worked on (expected 0, when all %d "
                  "had), with %ld tasks unfinished. Join waits while the "
                  "count of unfinished tasks is above 0, and that count "
                  "goes up in put, down in task_done, always under the lock",
                  WORKERS, WORK_ITEMS, fl_ret(rc), w->at_join[0],
                  WORKERS * WORK_ITEMS, w->at_join[1]);
    ck_assert_msg(!late, "the workers had not ended 3 s after the join");
    mp_queue_destroy(w->q);
}

// A consumer that takes a message while its put is still running: the
// putter runs as SCHED_IDLE on the same CPU as the consumer, so the
// kernel hands the CPU to the consumer as soon as the put wakes it (on
// the condition, and again on the mutex when put unlocks it).  Then the
// consumer runs between any two steps of put that follow the unlock.
struct race {
    mp_queue *q;
    int cpu;
    long got, done, rc; // the consumer's get and task_done, the put's rc
};

static void
pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static int
fast_consumer(void *arg)
{
    struct race *r = arg;
    char buf[MSG];
    pin(r->cpu);
    r->got = mp_queue_get(r->q, buf, MSG, -1);
    r->done = mp_queue_task_done(r->q);
    return 0;
}

static int
slow_putter(void *arg)
{
    struct race *r = arg;
    pin(r->cpu);
    struct sched_param sp = {0};
    // Refused (a seccomp filter, say), the race is merely unlikely.
    sched_setscheduler(0, SCHED_IDLE, &sp);
    r->rc = mp_queue_put(r->q, "x", 1, -1);
    return 0;
}

FL_TEST(test_mp_queue_put_counts_the_task_before_a_consumer_can_take_it)
{
    struct race *r = shared(sizeof *r);
    r->q = make(4, MSG);
    r->cpu = sched_getcpu();
    r->got = r->done = r->rc = -1000000;
    pid_t cons = fl_raw_start(fast_consumer, r);
    if (await_asleep(cons) != 'S')
        FAIL_KILLING("mp_queue_get(q, -1) on an empty queue never slept");
    pid_t put = fl_raw_start(slow_putter, r);
    if (join(put, 3000) == -ETIMEDOUT || join(cons, 3000) == -ETIMEDOUT)
        FAIL_KILLING("a put and the consumer it woke never both ended");
    fl_expect_int(r->rc, 0, "the put", "");
    fl_expect_int(r->got, 1, "the consumer's get", "");
    fl_expect_int(r->done, 0,
                  "the task_done of a consumer that took the message the "
                  "moment put released the lock",
                  "the message was visible before its task was counted: "
                  "count the unfinished task in put, in the same locked "
                  "section that adds the message, before the unlock (and "
                  "before the signal)");
    expect_unfinished(r->q, 0, "after the put, the get and the task_done");
    mp_queue_destroy(r->q);
}

static const fl_case cases[] = {
    FL_CASE(test_mp_queue_create_rejects_bad_sizes, 5),
    FL_CASE(test_mp_queue_create_refuses_sizes_that_overflow, 5),
    FL_CASE(test_mp_queue_put_then_get_returns_the_same_bytes, 5),
    FL_CASE(test_mp_queue_put_refuses_a_message_larger_than_max_msg, 5),
    FL_CASE(test_mp_queue_get_refuses_a_buffer_smaller_than_max_msg, 5),
    FL_CASE(test_mp_queue_put_rejects_bad_arguments, 5),
    FL_CASE(test_mp_queue_get_rejects_bad_arguments, 5),
    FL_CASE(test_mp_queue_put_holds_maxsize_messages_of_max_msg_bytes, 5),
    FL_CASE(test_mp_queue_get_reassembles_messages_that_wrap_around, 5),
    FL_CASE(test_mp_queue_put_polls_a_full_queue, 8),
    FL_CASE(test_mp_queue_get_polls_an_empty_queue, 8),
    FL_CASE(test_mp_queue_put_times_out_on_a_full_queue, 8),
    FL_CASE(test_mp_queue_get_times_out_on_an_empty_queue, 8),
    FL_CASE(test_mp_queue_put_in_a_child_reaches_the_parent, 8),
    FL_CASE(test_mp_queue_get_wakes_when_a_message_arrives, 8),
    FL_CASE(test_mp_queue_put_wakes_when_room_appears, 8),
    FL_CASE(test_mp_queue_get_waits_again_after_a_stolen_wakeup, 10),
    FL_CASE(test_mp_queue_put_waits_again_after_a_stolen_wakeup, 10),
    FL_CASE(test_mp_queue_get_and_put_time_out_despite_stolen_wakeups, 10),
    FL_CASE(test_mp_queue_get_takes_a_message_that_came_as_it_timed_out, 10),
    FL_CASE(test_mp_queue_consume_prints_consumed_0_to_4, 8),
    FL_CASE(test_mp_queue_consume_stops_at_its_sentinel, 8),
    FL_CASE(test_mp_queue_consume_waits_for_the_sentinel_on_an_empty_queue, 8),
    FL_CASE(test_mp_queue_consume_rejects_a_null_queue_or_function, 5),
    FL_CASE(test_mp_queue_put_from_3_producers_to_2_consumers_loses_nothing,
            15),
    FL_CASE(test_mp_queue_put_never_tears_large_messages, 12),
    FL_CASE(test_mp_queue_put_blocks_a_producer_until_the_queue_is_drained, 10),
    FL_CASE(test_mp_queue_qsize_counts_the_messages, 5),
    FL_CASE(test_mp_queue_empty_is_true_only_without_messages, 5),
    FL_CASE(test_mp_queue_snapshots_and_join_wait_for_the_lock, 5),
    FL_CASE(test_mp_queue_get_wakes_as_fast_as_a_pipe, 15),
    FL_CASE(test_mp_queue_destroy_unmaps_the_queue, 5),
    FL_CASE(test_mp_queue_create_leaks_nothing_when_any_call_it_makes_fails, 5),
    FL_CASE(test_mp_queue_consume_frees_its_buffer_and_reports_enomem, 5),
    FL_CASE(test_mp_queue_get_keeps_its_timeout_when_the_wall_clock_jumps, 5),
    FL_CASE(test_mp_queue_get_and_put_wait_with_the_longest_timeout, 10),
    FL_CASE(test_mp_queue_get_and_put_carry_nanoseconds_into_seconds, 10),
    FL_CASE(test_mp_queue_consume_takes_a_message_of_max_msg_bytes, 5),
    FL_CASE(test_mp_queue_put_wakes_a_getter_for_each_message, 10),
    FL_CASE(test_mp_queue_get_wakes_a_putter_for_each_room, 10),
    FL_CASE(test_mp_queue_join_rejects_bad_arguments, 5),
    FL_CASE(test_mp_queue_unfinished_counts_puts_that_succeeded, 5),
    FL_CASE(test_mp_queue_task_done_refuses_more_calls_than_puts, 5),
    FL_CASE(test_mp_queue_join_times_out_while_a_task_is_unfinished, 5),
    FL_CASE(test_mp_queue_join_waits_for_task_done_not_for_an_empty_queue, 5),
    FL_CASE(test_mp_queue_join_waits_for_messages_no_consumer_has_taken, 8),
    FL_CASE(test_mp_queue_task_done_wakes_every_joiner, 8),
    FL_CASE(test_mp_queue_join_waits_for_ever_under_a_signal_storm, 5),
    FL_CASE(test_mp_queue_join_keeps_its_deadline_under_a_signal_storm, 5),
    FL_CASE(test_mp_queue_join_keeps_its_timeout_when_the_wall_clock_jumps, 8),
    FL_CASE(test_mp_queue_join_times_out_when_a_worker_dies_before_task_done,
            5),
    FL_CASE(test_mp_queue_put_counts_the_task_before_a_consumer_can_take_it, 8),
    FL_CASE(test_mp_queue_join_returns_after_the_last_task_done, 10),
};

FL_MAIN("05_queues", cases)
