// check_shared_memory.c - tests for lesson 08: Value, Array and SharedMemory.
//
// Children are started with the raw fork and report through their exit
// status; the test process judges.  Groups of children ("crowds") wait at
// a gate, a pipe the test closes once all are forked, so that they run at
// the same time; a crowd that is still running after a generous deadline is
// killed and reported (a lock that never wakes its waiters).
//
// A lost update is a race, and a race shows only when it happens.  So the
// race tests make it happen on every run: between its read and its write,
// each increment waits (up to a millisecond) until some other process has
// read the value too.  Code that holds the lock from the read to the write
// makes every such wait run out: no other process can read meanwhile, and
// the count is exact.  Code that lets go of the lock in between, or never
// takes it, lets the others in, and loses updates every time.
//
// The unrelated process of the named-segment tests is this program run
// again through /proc/self/exe with PEER_FLAG: main (FL_MAIN_INIT) calls
// init(), which sends it to peer_raw() or peer_open() before any test
// runs.  It shares no memory with the test; it knows the segment's name
// from its argv, and nothing else.
#define _GNU_SOURCE
#include "shared_memory.h"
#include "harness.h"
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CROWD 8        // processes in a crowd
#define ROUNDS 16      // increments per process in the race tests
#define WINDOW_US 1000 // how long an increment waits for another reader
#define ADDS 10000     // increments per process in the counting tests
#define CROWD_LIMIT_MS 5000
#define CROWD_GRACE_MS 10000 // more, while the crowd still uses the CPU
#define PEER_FLAG "--shm-peer"
#define GREETING "hello from the creator"
#define REPLY "hello from a stranger"

/* ------------------------------------------------------------- helpers */

// mp_array_create, failing the test unless it made the array.
static mp_array *
new_array(mp_typecode type, size_t n, const void *init, int with_lock)
{
    mp_array *a = NULL;
    int r = mp_array_create(&a, type, n, init, with_lock);
    ck_assert_msg(r == 0 && a != NULL,
                  "mp_array_create(&a, '%c', %zu, %s, %d) returned %s, "
                  "expected 0 with a set",
                  (char)type, n, init ? "init" : "NULL", with_lock,
                  r == 0 ? "0 but left a NULL" : fl_ret(r));
    return a;
}

// A page of shared memory that the test and its children share, made
// here, not by the code under test.
static void *
test_shared(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(p != MAP_FAILED, "mmap failed: %s", strerror(errno));
    return p;
}

// Whether the page holding p is mapped in this process.
static int
mapped(const void *p)
{
    long page = sysconf(_SC_PAGESIZE);
    void *base = (void *)((uintptr_t)p & ~(uintptr_t)(page - 1));
    return msync(base, (size_t)page, MS_ASYNC) == 0 || errno != ENOMEM;
}

// An mp_update_fn that only counts its calls.
static void
count_calls(void *value, void *arg)
{
    (void)value;
    ++*(int *)arg;
}

/* -------------------------------------------------------------- crowds */

// CROWD children that start together and run fn(arg) each.
struct crowd {
    pid_t pid[CROWD];
    int status[CROWD]; // exit status, 128 + signal, or -1 if killed late
    int late;          // children still running at the deadline
    int failed;        // children that ended with a status other than 0
    int worst;         // the first such status
};

// The CPU time, in ms, the members from k on have used so far.
static long
crowd_cpu_ms(const struct crowd *c, int k)
{
    long sum = 0;
    for (; k < CROWD; k++) {
        long ms = fl_proc_cpu_ms(c->pid[k]);
        sum += ms > 0 ? ms : 0;
    }
    return sum;
}

static void
crowd_run(struct crowd *c, int (*fn)(void *), void *arg)
{
    int gate[2];
    memset(c, 0, sizeof *c);
    ck_assert_msg(pipe(gate) == 0, "pipe failed: %s", strerror(errno));
    fflush(NULL);
    for (int k = 0; k < CROWD; k++) {
        c->pid[k] = fork();
        ck_assert_msg(c->pid[k] >= 0, "fork failed: %s", strerror(errno));
        if (c->pid[k] == 0) {
            char b;
            close(gate[1]);
            while (read(gate[0], &b, 1) < 0 && errno == EINTR)
                ; // EOF: every child is forked, go
            _exit(fn(arg));
        }
    }
    close(gate[0]);
    close(gate[1]); // the start
    long long deadline = fl_now_us() + CROWD_LIMIT_MS * 1000LL;
    long long last_call = deadline + CROWD_GRACE_MS * 1000LL;
    for (int k = 0; k < CROWD; k++) {
        int fd = (int)syscall(SYS_pidfd_open, c->pid[k], 0);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long long left = (deadline - fl_now_us()) / 1000;
        int done = fd >= 0 && poll(&p, 1, left > 0 ? (int)left : 0) == 1;
        // Past the deadline, on a loaded host (or in the slower sanitizer
        // pass), the crowd may still be at work: it is given time while
        // its members still use the CPU.  Members that used none in 300
        // ms wait for a wake-up that is not coming.
        long cpu = crowd_cpu_ms(c, k);
        while (!done && fd >= 0 && fl_now_us() < last_call) {
            done = poll(&p, 1, 300) == 1;
            long now = crowd_cpu_ms(c, k);
            if (now == cpu)
                break;
            cpu = now;
        }
        if (fd >= 0)
            close(fd);
        if (!done) {
            kill(c->pid[k], SIGKILL);
            c->late++;
        }
        c->status[k] = fl_reap_code(c->pid[k]);
        if (!done)
            c->status[k] = -1;
        else if (c->status[k] != 0 && c->failed++ == 0)
            c->worst = c->status[k];
    }
}

// Fail the test if some child of the crowd hung or failed.  what says
// what each child did; codes explains the statuses 1, 2, 3.
static void
crowd_ok(const struct crowd *c, const char *what, const char *codes)
{
    ck_assert_msg(c->late == 0,
                  "%d of %d processes that %s were still running after "
                  "%d ms and were killed: waiting for a lock that nobody "
                  "holds? A mutex in shared memory must be "
                  "PTHREAD_PROCESS_SHARED, or a waiter in one process may "
                  "never be woken by an unlock in another.",
                  c->late, CROWD, what, CROWD_LIMIT_MS);
    ck_assert_msg(c->failed == 0,
                  "%d of %d processes that %s failed; the first ended with "
                  "%s %d (%s)",
                  c->failed, CROWD, what, c->worst > 128 ? "signal" : "status",
                  c->worst > 128 ? c->worst - 128 : c->worst,
                  c->worst > 128 ? fl_signame(c->worst - 128) : codes);
}

/* --------------------------------------------- widening the race window */

// Shared by a crowd: how many reads its members have made so far.
struct race {
    _Atomic int reads;
    mp_value *v;
};

static struct race *
race_new(mp_value *v)
{
    struct race *r = test_shared(sizeof *r);
    atomic_init(&r->reads, 0);
    r->v = v;
    return r;
}

// Called between a read and its write: count this read, then wait until
// another process reads too, or WINDOW_US have passed.  Under a lock held
// from the read to the write, nobody can read meanwhile: the wait runs out.
static void
widen(struct race *r)
{
    int mine = atomic_fetch_add(&r->reads, 1) + 1;
    long long end = fl_now_us() + WINDOW_US;
    while (atomic_load(&r->reads) == mine && fl_now_us() < end)
        sched_yield();
}

// A crowd member: ROUNDS increments as get, then set, with the window
// widened in between.  1: mp_value_get failed; 2: mp_value_set failed.
static int
get_then_set(void *arg)
{
    struct race *r = arg;
    for (int k = 0; k < ROUNDS; k++) {
        int32_t x = 0;
        if (mp_value_get(r->v, &x) != 0)
            return 1;
        widen(r);
        x++;
        if (mp_value_set(r->v, &x) != 0)
            return 2;
    }
    return 0;
}

// An mp_update_fn: increment an int32_t, with the window widened.
static void
slow_increment(void *value, void *arg)
{
    int32_t x;
    memcpy(&x, value, sizeof x);
    widen(arg);
    x++;
    memcpy(value, &x, sizeof x);
}

// A crowd member: ROUNDS increments through mp_value_update.
static int
update_slowly(void *arg)
{
    struct race *r = arg;
    for (int k = 0; k < ROUNDS; k++)
        if (mp_value_update(r->v, slow_increment, r) != 0)
            return 1;
    return 0;
}

// Run a race crowd on a fresh int32 value; return the final count.
static int32_t
race(int with_lock, int (*member)(void *), const char *what, const char *codes)
{
    mp_value *v;
    int32_t zero = 0, got = -1;
    int r = mp_value_create(&v, MP_INT32, &zero, with_lock);
    ck_assert_msg(r == 0,
                  "mp_value_create(&v, MP_INT32, &zero, %d) "
                  "returned %s, expected 0",
                  with_lock, fl_ret(r));
    struct race *rc = race_new(v);
    struct crowd c;
    crowd_run(&c, member, rc);
    int g = mp_value_get(v, &got);
    mp_value_destroy(v);
    munmap(rc, sizeof *rc);
    crowd_ok(&c, what, codes);
    ck_assert_msg(g == 0, "mp_value_get returned %s", fl_ret(g));
    return got;
}

/* ------------------------------------------------------ the peer process */

// Run this program again as an unrelated process: argv is PEER_FLAG, the
// mode, the segment's name and its size.  Its exit status, or 128 + the
// signal that killed it.
static int
run_peer(const char *mode, const char *name, size_t size)
{
    char len[32];
    snprintf(len, sizeof len, "%zu", size);
    char *argv[] = {"check_shared_memory", PEER_FLAG, (char *)mode,
                    (char *)name,          len,       NULL};
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed: %s", strerror(errno));
    if (pid == 0) {
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    return fl_reap_code(pid);
}

// The peer, mode "raw": open the segment with raw calls, check its size
// and the creator's greeting, and reply at offset 100.
static int
peer_raw(const char *name, size_t size)
{
    int fd = shm_open(name, O_RDWR, 0);
    if (fd < 0)
        return 2;
    struct stat st;
    if (fstat(fd, &st) < 0 || (size_t)st.st_size != size)
        return 3;
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return 3;
    int ok = memcmp(p, GREETING, sizeof GREETING) == 0 && p[size - 1] == 'Z';
    memcpy(p + 100, REPLY, sizeof REPLY);
    munmap(p, size);
    return ok ? 0 : 4;
}

// The peer, mode "open": map the segment with mp_shm_open, check its size
// and the greeting, and reply at offset 100.
static int
peer_open(const char *name, size_t size)
{
    mp_shm s;
    memset(&s, 0, sizeof s);
    if (mp_shm_open(&s, name) != 0 || s.buf == NULL)
        return 2;
    char *p = s.buf;
    int code = s.size != size                              ? 3
               : memcmp(p, GREETING, sizeof GREETING) != 0 ? 4
               : p[size - 1] != 'Z'                        ? 4
                                                           : 0;
    if (code != 3)
        memcpy(p + 100, REPLY, sizeof REPLY);
    if (mp_shm_close(&s) != 0)
        return 5;
    return code;
}

static void
init(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], PEER_FLAG) == 0) {
        size_t size = (size_t)strtoull(argv[4], NULL, 10);
        _exit(strcmp(argv[2], "raw") == 0 ? peer_raw(argv[3], size)
                                          : peer_open(argv[3], size));
    }
}

static const char *
peer_says(int st)
{
    switch (st) {
    case 0:
        return "it saw the segment and replied";
    case 2:
        return "it could not open the segment by its name";
    case 3:
        return "the segment's size was not the size it was created with";
    case 4:
        return "it did not find the creator's bytes in it";
    case 5:
        return "mp_shm_close failed";
    case 127:
        return "it could not be started (exec of /proc/self/exe failed)";
    default:
        return st > 128 ? fl_signame(st - 128) : "it failed";
    }
}

/* ---------------------------------------------------------- typecodes */

FL_TEST(test_mp_typecode_size_gives_each_types_size)
{
    int i = mp_typecode_size(MP_INT32), q = mp_typecode_size(MP_INT64);
    int d = mp_typecode_size(MP_DOUBLE), x = mp_typecode_size('x');
    ck_assert_msg(i == 4 && q == 8 && d == 8,
                  "mp_typecode_size gave %s for MP_INT32, %s for MP_INT64, "
                  "%s for MP_DOUBLE; expected 4, 8, 8: sizeof(int32_t), "
                  "sizeof(int64_t), sizeof(double)",
                  fl_ret(i), fl_ret(q), fl_ret(d));
    fl_expect_int(x, -EINVAL, "mp_typecode_size('x')",
                  "only 'i', 'q' and 'd' are typecodes here");
}

/* ------------------------------------------------------------- create */

FL_TEST(test_mp_array_create_copies_the_initial_values)
{
    // On the heap, exactly 5 elements long: the sanitizer pass sees a
    // copy that reads past its end (8 bytes an element, say).
    int32_t *init = malloc(5 * sizeof *init), got[5] = {9, 9, 9, 9, 9};
    ck_assert(init != NULL);
    for (int k = 0; k < 5; k++)
        init[k] = k;
    mp_array *a = new_array(MP_INT32, 5, init, 1);
    mp_array *z = new_array(MP_DOUBLE, 3, NULL, 1);
    long len = mp_array_len(a), zlen = mp_array_len(z);
    int r = 0;
    for (int k = 0; k < 5 && r == 0; k++)
        r = mp_array_get(a, (size_t)k, &got[k]);
    double zero[3] = {1, 1, 1};
    for (int k = 0; k < 3 && r == 0; k++)
        r = mp_array_get(z, (size_t)k, &zero[k]);
    mp_array_destroy(a);
    mp_array_destroy(z);
    ck_assert_msg(len == 5 && zlen == 3,
                  "mp_array_len gave %s and %s, expected 5 and 3", fl_ret(len),
                  fl_ret(zlen));
    ck_assert_msg(r == 0, "mp_array_get returned %s", fl_ret(r));
    int same = memcmp(got, init, sizeof got) == 0;
    free(init);
    ck_assert_msg(same,
                  "Array('i', [0, 1, 2, 3, 4]) holds [%d, %d, %d, %d, %d] "
                  "as mp_array_get reads it: copy the n initial elements "
                  "in, and find element i at i * 4 bytes",
                  got[0], got[1], got[2], got[3], got[4]);
    ck_assert_msg(zero[0] == 0 && zero[1] == 0 && zero[2] == 0,
                  "Array('d', 3), made with a NULL init, holds [%g, %g, "
                  "%g] as mp_array_get reads it (into doubles set to 1); "
                  "expected zeros, 8 bytes each",
                  zero[0], zero[1], zero[2]);
}

FL_TEST(test_mp_array_create_rejects_bad_arguments)
{
    mp_array *a = NULL;
    fl_fault_reset(); // counts the code's mmap and munmap calls
    int r1 = mp_array_create(NULL, MP_INT32, 4, NULL, 1);
    int r2 = mp_array_create(&a, 'x', 4, NULL, 1);
    int r3 = mp_array_create(&a, 'f', 4, NULL, 0);
    long maps = fl_fault_calls("mmap"), unmaps = fl_fault_calls("munmap");
    ck_assert_msg(r1 == -EINVAL && r2 == -EINVAL && r3 == -EINVAL,
                  "mp_array_create with a NULL ap, typecode 'x' and "
                  "typecode 'f' returned %s, %s, %s; expected -EINVAL each "
                  "time, before mapping anything",
                  fl_ret(r1), fl_ret(r2), fl_ret(r3));
    ck_assert_msg(maps == unmaps,
                  "mp_array_create with a NULL ap, typecode 'x' and "
                  "typecode 'f' returned -EINVAL, but mapped %ld time(s) "
                  "and unmapped %ld: the pages are lost for good. Check "
                  "the arguments before mmap.",
                  maps, unmaps);
}

FL_TEST(test_mp_array_create_refuses_a_size_that_overflows)
{
    mp_array *a = NULL;
    // n * 8 is 2^64 + 8: in a size_t it wraps around to 8.
    size_t wraps = SIZE_MAX / 8 + 2;
    int r1 = mp_array_create(&a, MP_INT64, wraps, NULL, 1);
    if (r1 == 0)
        mp_array_destroy(a);
    int r2 = mp_array_create(&a, MP_INT64, SIZE_MAX / 16, NULL, 1);
    if (r2 == 0)
        mp_array_destroy(a);
    ck_assert_msg(r1 == -ENOMEM,
                  "mp_array_create(&a, MP_INT64, SIZE_MAX / 8 + 2, ...) "
                  "returned %s, expected -ENOMEM. n * 8 does not fit in a "
                  "size_t: it wraps around to a small number, and a small "
                  "mapping would be handed out for a huge array. Check "
                  "n against (SIZE_MAX - header) / size first.",
                  fl_ret(r1));
    fl_expect_int(r2, -ENOMEM, "mp_array_create of 2^60 int64 elements",
                  "when mmap fails, return -errno");
}

FL_TEST(test_mp_array_calls_reject_a_null_array)
{
    int32_t x = 1;
    int r[8] = {
        (int)mp_array_len(NULL),   mp_array_get(NULL, 0, &x),
        mp_array_set(NULL, 0, &x), mp_array_update(NULL, 0, count_calls, &x),
        mp_array_add(NULL, 0, &x), mp_array_lock(NULL),
        mp_array_unlock(NULL),     mp_array_destroy(NULL)};
    static const char *names[8] = {
        "mp_array_len", "mp_array_get",  "mp_array_set",    "mp_array_update",
        "mp_array_add", "mp_array_lock", "mp_array_unlock", "mp_array_destroy"};
    for (int k = 0; k < 8; k++)
        ck_assert_msg(r[k] == -EINVAL,
                      "%s with a NULL array returned %s, expected -EINVAL",
                      names[k], fl_ret(r[k]));
    ck_assert_msg(mp_array_data(NULL) == NULL,
                  "mp_array_data(NULL) should be NULL");
}

/* ------------------------------------------------------------ sharing */

struct pick {
    mp_array *a;
    size_t i;
    int32_t x;
};

// Child: set element i to x.  1 if mp_array_set failed.
static int
set_in_child(void *arg)
{
    struct pick *p = arg;
    return mp_array_set(p->a, p->i, &p->x) != 0;
}

FL_TEST(test_mp_array_set_in_a_child_is_seen_by_the_parent)
{
    static const int32_t init[4] = {10, 20, 30, 40};
    mp_array *a = new_array(MP_INT32, 4, init, 1);
    struct pick p = {a, 2, 1234};
    int st = fl_reap_code(fl_raw_start(set_in_child, &p));
    int32_t got = -1, next = -1;
    int r = mp_array_get(a, 2, &got);
    mp_array_get(a, 3, &next);
    mp_array_destroy(a);
    ck_assert_msg(st == 0, "in the child, mp_array_set failed (status %d)", st);
    ck_assert_msg(next == 40,
                  "setting element 2 of the int32 array [10, 20, 30, 40] "
                  "changed element 3 to %d: copy a->size bytes (4 for an "
                  "int32) into the element, not the size of a bigger type",
                  (int)next);
    ck_assert_msg(r == 0 && got == 1234,
                  "a child set element 2 to 1234 and exited; the parent "
                  "then read %d (mp_array_get returned %s). The child's "
                  "write never reached the parent: MAP_PRIVATE (or malloc) "
                  "gives each process its own copy after fork(). Map the "
                  "array MAP_SHARED | MAP_ANONYMOUS.",
                  got, fl_ret(r));
}

/* ------------------------------------------------------------- bounds */

FL_TEST(test_mp_array_set_refuses_an_index_past_the_end)
{
    int32_t init[4] = {10, 11, 12, 13}, x = 99, got[4];
    mp_array *a = new_array(MP_INT32, 4, init, 1);
    int r1 = mp_array_set(a, 4, &x);
    int r2 = mp_array_set(a, SIZE_MAX, &x);
    int r3 = mp_array_set(a, 0, NULL);
    memcpy(got, mp_array_data(a), sizeof got);
    mp_array_destroy(a);
    ck_assert_msg(r1 == -ERANGE && r2 == -ERANGE,
                  "on an array of 4 elements, mp_array_set at index 4 "
                  "returned %s and at SIZE_MAX %s; expected -ERANGE (an "
                  "IndexError). Without the check, it writes past the end "
                  "of the array, into whatever lies there.",
                  fl_ret(r1), fl_ret(r2));
    fl_expect_int(r3, -EINVAL, "mp_array_set(a, 0, NULL)",
                  "a NULL value is -EINVAL");
    ck_assert_msg(memcmp(got, init, sizeof got) == 0,
                  "the refused writes changed the array to [%d, %d, %d, %d]",
                  got[0], got[1], got[2], got[3]);
}

FL_TEST(test_mp_array_get_refuses_an_index_past_the_end)
{
    mp_array *a = new_array(MP_INT64, 3, NULL, 0);
    int64_t out = 77;
    int r1 = mp_array_get(a, 3, &out);
    int r2 = mp_array_get(a, SIZE_MAX, &out);
    int r3 = mp_array_get(NULL, 0, &out);
    mp_array_destroy(a);
    mp_array *e = new_array(MP_INT64, 0, NULL, 0);
    int r4 = mp_array_get(e, 0, &out);
    mp_array_destroy(e);
    ck_assert_msg(r4 == -ERANGE && out == 77,
                  "on an empty array (n = 0), mp_array_get at index 0 "
                  "returned %s and out became %lld; expected -ERANGE, out "
                  "left at 77. Compare i >= n: with i > n - 1, n - 1 wraps "
                  "around to SIZE_MAX when n is 0, and every index passes",
                  fl_ret(r4), (long long)out);
    ck_assert_msg(r1 == -ERANGE && r2 == -ERANGE && out == 77,
                  "on an array of 3 elements, mp_array_get at index 3 "
                  "returned %s and at SIZE_MAX %s, and out became %lld; "
                  "expected -ERANGE, out left at 77. Check the index "
                  "before the copy.",
                  fl_ret(r1), fl_ret(r2), (long long)out);
    fl_expect_int(r3, -EINVAL, "mp_array_get(NULL, 0, &out)",
                  "a NULL array is -EINVAL");
}

FL_TEST(test_mp_array_update_refuses_an_index_past_the_end)
{
    mp_array *a = new_array(MP_INT32, 2, NULL, 1);
    int calls = 0, one = 1;
    int r1 = mp_array_update(a, 2, count_calls, &calls);
    int r2 = mp_array_add(a, 2, &one);
    int r3 = mp_array_update(a, 0, NULL, NULL);
    mp_array_destroy(a);
    ck_assert_msg(r1 == -ERANGE && r2 == -ERANGE && calls == 0,
                  "on an array of 2 elements, mp_array_update at index 2 "
                  "returned %s (and called the function %d time(s)), and "
                  "mp_array_add %s; expected -ERANGE, with no call",
                  fl_ret(r1), calls, fl_ret(r2));
    fl_expect_int(r3, -EINVAL, "mp_array_update(a, 0, NULL, NULL)",
                  "a NULL function is -EINVAL");
}

// One call with a NULL where a value's address goes, in a child: a
// call that writes or reads through it crashes there, not the test.
struct null_call {
    mp_array *a;
    int which; // 0 get, 1 set, 2 add, 3 update
};

static int
call_with_null(void *arg)
{
    struct null_call *c = arg;
    switch (c->which) {
    case 0:
        return mp_array_get(c->a, 0, NULL);
    case 1:
        return mp_array_set(c->a, 0, NULL);
    case 2:
        return mp_array_add(c->a, 0, NULL);
    default:
        return mp_array_update(c->a, 0, NULL, NULL);
    }
}

FL_TEST(test_mp_array_calls_reject_a_null_value_pointer)
{
    static const char *calls[] = {
        "mp_array_get(a, 0, NULL)", "mp_array_set(a, 0, NULL)",
        "mp_array_add(a, 0, NULL)", "mp_array_update(a, 0, NULL, NULL)"};
    mp_array *a = new_array(MP_INT32, 2, NULL, 1);
    for (int k = 0; k < 4; k++) {
        struct null_call c = {a, k};
        fl_child res;
        fl_run_in_child(call_with_null, &c, 2000, 0, &res);
        if (!res.returned || res.value != -EINVAL)
            mp_array_destroy(a);
        ck_assert_msg(res.returned,
                      "%s %s%s: the pointer was used as it was. Check "
                      "every pointer argument for NULL (-EINVAL) before "
                      "using it, the array's and the value's alike",
                      calls[k],
                      res.timed_out ? "never returned"
                      : res.exited  ? "ended the process"
                                    : "was killed by ",
                      res.timed_out || res.exited ? ""
                                                  : fl_signame(res.status));
        fl_expect_int(res.value, -EINVAL, calls[k],
                      "a NULL value (out, value, delta, fn) is -EINVAL");
    }
    mp_array_destroy(a);
}

// A child's whole life: take the array's lock, let it go.
static int
lock_and_let_go(void *arg)
{
    mp_array *a = arg;
    if (mp_array_lock(a) != 0)
        return 1;
    return mp_array_unlock(a) != 0 ? 2 : 0;
}

// Whether another process takes the array's lock at once: 1 if it does,
// 0 if it goes to sleep waiting for it (seen asleep 20 ms in a row: the
// lock is held), -1 if it failed otherwise.
static int
free_for_another(mp_array *a)
{
    pid_t pid = fl_raw_start(lock_and_let_go, a);
    long end = fl_now_ms() + 3000, since = -1;
    int waits = 0;
    char st;
    while ((st = fl_proc_state(pid)) != 'Z' && st != 0 && !waits) {
        long now = fl_now_ms();
        if (st != 'S')
            since = -1;
        else if (since < 0)
            since = now;
        waits = (since >= 0 && now - since >= 20) || now >= end;
        sched_yield();
    }
    if (waits)
        kill(pid, SIGKILL);
    int code = fl_reap_code(pid);
    return waits ? 0 : code == 0 ? 1 : -1;
}

FL_TEST(test_mp_array_calls_let_go_of_the_lock_when_they_fail)
{
    static const char *calls[] = {"mp_array_get", "mp_array_set",
                                  "mp_array_update", "mp_array_add"};
    static const size_t bad[] = {2, SIZE_MAX};
    mp_array *a = new_array(MP_INT32, 2, NULL, 1);
    int32_t x = 1;
    int calls_made = 0;
    for (int b = 0; b < 2; b++)
        for (int k = 0; k < 4; k++) {
            int r = k == 0   ? mp_array_get(a, bad[b], &x)
                    : k == 1 ? mp_array_set(a, bad[b], &x)
                    : k == 2
                        ? mp_array_update(a, bad[b], count_calls, &calls_made)
                        : mp_array_add(a, bad[b], &x);
            int taken = free_for_another(a);
            if (taken != 1)
                mp_array_destroy(a);
            char what[96];
            snprintf(what, sizeof what, "%s at index %s of an array of 2",
                     calls[k], b == 0 ? "2" : "SIZE_MAX");
            fl_expect_int(r, -ERANGE, what, "");
            ck_assert_msg(taken == 1,
                          "%s returned -ERANGE, and then another process "
                          "%s. The call returned without letting go of "
                          "the lock it took: check the index before taking "
                          "the lock, or let go on every return",
                          what,
                          taken == 0 ? "waited for the lock: nobody should "
                                       "hold it"
                                     : "failed to take the lock and let it go");
        }
    // When taking the lock fails (made to, here), each call returns minus
    // the error and touches nothing.
    static const char *locking[] = {"mp_array_lock", "mp_array_get",
                                    "mp_array_set", "mp_array_update",
                                    "mp_array_add"};
    int32_t seven = 7;
    mp_array_set(a, 0, &seven);
    for (int k = 0; k < 5; k++) {
        int32_t one = 1, got = -1, now = 0;
        calls_made = 0;
        fl_fault_reset();
        fl_fault_fail("pthread_mutex_lock", 1, EAGAIN);
        int r = k == 0   ? mp_array_lock(a)
                : k == 1 ? mp_array_get(a, 0, &got)
                : k == 2 ? mp_array_set(a, 0, &one)
                : k == 3 ? mp_array_update(a, 0, count_calls, &calls_made)
                         : mp_array_add(a, 0, &one);
        int fired = fl_fault_fired("pthread_mutex_lock") > 0;
        fl_fault_reset();
        if (!fired) // it took the lock some other way: nothing to judge
            continue;
        mp_array_get(a, 0, &now);
        char what[96];
        snprintf(what, sizeof what,
                 "%s with pthread_mutex_lock failing with EAGAIN", locking[k]);
        if (r != -EAGAIN)
            mp_array_destroy(a);
        fl_expect_int(r, -EAGAIN, what,
                      "return minus the error pthread_mutex_lock returns "
                      "(the errno value itself, not -1)");
        ck_assert_msg(got == -1 && now == 7 && calls_made == 0,
                      "%s returned -EAGAIN but %s: without the lock, "
                      "touch nothing",
                      what,
                      got != -1  ? "wrote to out"
                      : now != 7 ? "changed the element"
                                 : "called fn");
    }
    mp_array_destroy(a);
}

/* -------------------------------------------------------------- types */

FL_TEST(test_mp_array_set_stores_doubles_as_a_c_array_of_double)
{
    mp_array *a = new_array(MP_DOUBLE, 5, NULL, 1);
    double want[5] = {0.25, -1.5, 3.125, 1e300, -0.0}, got[5] = {0};
    int r = 0;
    for (int k = 0; k < 5 && r == 0; k++)
        r = mp_array_set(a, (size_t)k, &want[k]);
    const double *raw = mp_array_data(a);
    int same = raw != NULL && memcmp(raw, want, sizeof want) == 0;
    for (int k = 0; k < 5 && r == 0; k++)
        r = mp_array_get(a, (size_t)k, &got[k]);
    mp_array_destroy(a);
    ck_assert_msg(r == 0, "mp_array_set or mp_array_get returned %s",
                  fl_ret(r));
    ck_assert_msg(memcmp(got, want, sizeof want) == 0,
                  "set [0.25, -1.5, 3.125, 1e300, -0] in an 'd' array, got "
                  "back [%g, %g, %g, %g, %g]: copy all 8 bytes of each "
                  "double, at 8 bytes per element",
                  got[0], got[1], got[2], got[3], got[4]);
    ck_assert_msg(same,
                  "the values read back fine, but mp_array_data() is not a "
                  "C array of 5 doubles holding them: element i must lie "
                  "i * 8 bytes after element 0 (count in bytes, not "
                  "elements, when the pointer is a char *)");
}

FL_TEST(test_mp_array_set_keeps_all_64_bits_of_an_int64)
{
    mp_array *a = new_array(MP_INT64, 3, NULL, 0);
    int64_t want[3] = {INT64_C(1) << 40, -(INT64_C(1) << 50) - 7, INT64_MAX},
            got[3] = {0};
    int r = 0;
    for (int k = 0; k < 3 && r == 0; k++)
        r = mp_array_set(a, (size_t)k, &want[k]);
    for (int k = 0; k < 3 && r == 0; k++)
        r = mp_array_get(a, (size_t)k, &got[k]);
    mp_array_destroy(a);
    ck_assert_msg(r == 0, "mp_array_set or mp_array_get returned %s",
                  fl_ret(r));
    ck_assert_msg(memcmp(got, want, sizeof want) == 0,
                  "set [2^40, -2^50 - 7, INT64_MAX] in a 'q' array, got back "
                  "[%lld, %lld, %lld]: an int64 element is 8 bytes",
                  (long long)got[0], (long long)got[1], (long long)got[2]);
}

FL_TEST(test_mp_array_add_adds_in_the_arrays_type)
{
    double dinit[2] = {0.5, 1.5}, dd = 0.25, dgot[2] = {0};
    int64_t qinit[2] = {0, INT64_MAX}, qd = INT64_C(1) << 40, qone = 1;
    int64_t qgot = 0, qmax = 0;
    int32_t imax = INT32_MAX, one = 1, igot = 0;
    mp_array *d = new_array(MP_DOUBLE, 2, dinit, 1);
    mp_array *q = new_array(MP_INT64, 2, qinit, 1);
    mp_array *i = new_array(MP_INT32, 1, &imax, 1);
    int r[4] = {mp_array_add(d, 1, &dd), mp_array_add(q, 0, &qd),
                mp_array_add(i, 0, &one), mp_array_add(q, 1, &qone)};
    mp_array_get(d, 0, &dgot[0]);
    mp_array_get(d, 1, &dgot[1]);
    mp_array_get(q, 0, &qgot);
    mp_array_get(q, 1, &qmax);
    mp_array_get(i, 0, &igot);
    mp_array_destroy(d);
    mp_array_destroy(q);
    mp_array_destroy(i);
    ck_assert_msg(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 0,
                  "mp_array_add returned %s, %s, %s, %s; expected 0",
                  fl_ret(r[0]), fl_ret(r[1]), fl_ret(r[2]), fl_ret(r[3]));
    ck_assert_msg(dgot[0] == 0.5 && dgot[1] == 1.75,
                  "adding 0.25 to element 1 of Array('d', [0.5, 1.5]) gave "
                  "[%g, %g], expected [0.5, 1.75]",
                  dgot[0], dgot[1]);
    ck_assert_msg(qgot == qd, "adding 2^40 to a 'q' zero gave %lld",
                  (long long)qgot);
    ck_assert_msg(igot == INT32_MIN,
                  "adding 1 to an 'i' INT32_MAX gave %d, expected INT32_MIN "
                  "(it wraps around)",
                  igot);
    ck_assert_msg(qmax == INT64_MIN,
                  "adding 1 to a 'q' INT64_MAX gave %lld, expected INT64_MIN "
                  "(it wraps around)",
                  (long long)qmax);
}

/* ------------------------------------------------------------ destroy */

FL_TEST(test_mp_array_destroy_unmaps_the_memory)
{
    mp_array *a = new_array(MP_INT32, 100, NULL, 1);
    void *data = mp_array_data(a);
    ck_assert_msg(data != NULL, "mp_array_data returned NULL");
    int r = mp_array_destroy(a);
    int still = mapped(data), null = mp_array_destroy(NULL);
    ck_assert_msg(r == 0, "mp_array_destroy returned %s", fl_ret(r));
    ck_assert_msg(!still,
                  "after mp_array_destroy, the array's memory is still "
                  "mapped: munmap() the whole mapping, or every array made "
                  "and destroyed leaks its pages");
    fl_expect_int(null, -EINVAL, "mp_array_destroy(NULL)", "");
    // A munmap that fails (made to, here) is an error the caller is told.
    mp_array *raw = new_array(MP_INT32, 100, NULL, 0);
    fl_fault_reset();
    fl_fault_fail("munmap", 1, ENOMEM);
    int failed = mp_array_destroy(raw);
    int fired = fl_fault_fired("munmap") > 0;
    fl_fault_reset();
    int again = fired ? mp_array_destroy(raw) : 0;
    ck_assert_msg(fired, "mp_array_destroy never called munmap");
    fl_expect_int(failed, -ENOMEM,
                  "mp_array_destroy with munmap failing with ENOMEM",
                  "return -errno when munmap fails: the caller must not be "
                  "told the memory is gone while it is still mapped");
    fl_expect_int(again, 0, "mp_array_destroy after a failed one", "");
}

/* --------------------------------------------------------------- locks */

#define GET 2  // struct locker's set: the child calls mp_array_get
#define LOCK 3 // the child calls mp_array_lock, reads element 0, unlocks

struct locker {
    mp_array *a;
    int set;        // the child calls 1: mp_array_set(7), 0: mp_array_add(1),
                    // GET: mp_array_get, LOCK: mp_array_lock
    int started[2]; // the child says it is about to make its call
    int done[2];    // the child writes the call's result here
};

static int
call_when_free(void *arg)
{
    struct locker *l = arg;
    int32_t x = l->set ? 7 : 1;
    close(l->started[0]);
    close(l->done[0]);
    if (write(l->started[1], "s", 1) != 1)
        return 1;
    int r[2] = {l->set == LOCK  ? mp_array_lock(l->a)
                : l->set == GET ? mp_array_get(l->a, 0, &x)
                : l->set        ? mp_array_set(l->a, 0, &x)
                                : mp_array_add(l->a, 0, &x)};
    if (l->set == LOCK && r[0] == 0) { // read it while holding the lock
        memcpy(&x, mp_array_data(l->a), sizeof x);
        mp_array_unlock(l->a);
    }
    r[1] = x; // what get read
    return write(l->done[1], r, sizeof r) == sizeof r ? 0 : 1;
}

// Hold the lock while a child calls mp_array_add or mp_array_set; write
// 41 meanwhile, then let go.  The child's call must wait for the lock.
static void
while_locked(int set)
{
    const char *call = set == LOCK  ? "mp_array_lock"
                       : set == GET ? "mp_array_get"
                       : set        ? "mp_array_set"
                                    : "mp_array_add";
    struct locker l = {.set = set};
    l.a = new_array(MP_INT32, 1, NULL, 1);
    ck_assert(pipe(l.started) == 0 && pipe(l.done) == 0);
    int r = mp_array_lock(l.a);
    ck_assert_msg(r == 0, "mp_array_lock returned %s, expected 0", fl_ret(r));
    pid_t pid = fl_raw_start(call_when_free, &l);
    close(l.started[1]);
    close(l.done[1]);
    char c;
    ck_assert(read(l.started[0], &c, 1) == 1);
    // While we hold the lock, the child's call must wait: it goes to sleep
    // (in the lock) with `done` still silent.  A call that takes no lock
    // never sleeps: it answers.  (Watched, not timed: 2 s at most.)
    struct pollfd p = {.fd = l.done[0], .events = POLLIN};
    int early = 0;
    for (long end = fl_now_ms() + 2000; fl_now_ms() < end;) {
        if ((early = poll(&p, 1, 0) == 1) || fl_proc_state(pid) == 'S')
            break;
        poll(NULL, 0, 1);
    }
    early = early || poll(&p, 1, 0) == 1;
    int32_t *data = mp_array_data(l.a), got = 0;
    int32_t want = set == GET || set == LOCK ? 41 : set ? 7 : 42;
    if (data != NULL)
        *data = 41; // no lock needed: we hold it
    int u = mp_array_unlock(l.a);
    int res[2] = {-1, 0}, late = poll(&p, 1, 5000) != 1;
    ssize_t n = late ? 0 : read(l.done[0], res, sizeof res);
    if (late)
        kill(pid, SIGKILL);
    fl_reap_code(pid);
    mp_array_get(l.a, 0, &got);
    mp_array_destroy(l.a);
    close(l.started[0]);
    close(l.done[0]);
    ck_assert_msg(!early,
                  "the test held the array's lock, yet a child's %s "
                  "finished (it returned %s): it must wait for the lock "
                  "(pthread_mutex_lock, not pthread_mutex_trylock), and "
                  "mp_array_lock must take it too",
                  call, n == sizeof res ? fl_ret(res[0]) : "?");
    fl_expect_int(u, 0, "mp_array_unlock by the holder", "");
    ck_assert_msg(!late,
                  "the test let go of the lock, yet the child's %s was "
                  "still waiting for it 5 s later: the unlock never reached "
                  "the child. Is the lock in memory the child shares "
                  "(MAP_SHARED), and PTHREAD_PROCESS_SHARED?",
                  call);
    ck_assert_msg(n == sizeof res && res[0] == 0 && got == want,
                  "once the lock was free the child's %s returned %s and "
                  "the value is %d; expected 0 and %d",
                  call, n == sizeof res ? fl_ret(res[0]) : "nothing", got,
                  want);
    ck_assert_msg(set != GET || res[1] == 41,
                  "the child's mp_array_get read %d, expected 41, the value "
                  "the lock's holder wrote before letting go. Hold the lock "
                  "around the copy out, or a get reads halfway through "
                  "another process's update",
                  res[1]);
}

// mp_array_add, then mp_array_lock, in a child while the test holds the
// lock: each must wait for it (pthread_mutex_lock, not trylock).
FL_TEST(test_mp_array_lock_keeps_other_processes_out)
{
    while_locked(0);
    while_locked(LOCK);
}

FL_TEST(test_mp_array_set_waits_while_another_process_holds_the_lock)
{
    while_locked(1);
}

FL_TEST(test_mp_array_get_waits_while_another_process_holds_the_lock)
{
    while_locked(GET);
}

/* Stopped right after an unlock.  A child arms fl_fault_stop_after on its
 * first pthread_mutex_unlock, then calls get, set or add on element 0: it
 * stops itself the moment that unlock returns.  The test then sees what
 * the call did while it held the lock, and nothing of what it does after:
 * a copy made after the unlock is a copy made without the lock. */

struct stopper {
    mp_array *a;
    int op;     // 0: mp_array_add(1), 1: mp_array_set(7), GET: mp_array_get
    int out[2]; // the call's result and the value get read
};

static int
call_then_stop(void *arg)
{
    struct stopper *st = arg;
    int32_t x = st->op == 1 ? 7 : 1;
    fl_fault_reset();
    fl_fault_stop_after("pthread_mutex_unlock", 1);
    int r[2] = {st->op == GET ? mp_array_get(st->a, 0, &x)
                : st->op      ? mp_array_set(st->a, 0, &x)
                              : mp_array_add(st->a, 0, &x)};
    r[1] = x;
    return write(st->out[1], r, sizeof r) == sizeof r ? 0 : 1;
}

// 1 once pid has stopped itself, 0 if it ended first (or ran 3 s).
static int
until_stopped(pid_t pid)
{
    for (long end = fl_now_ms() + 3000; fl_now_ms() < end;) {
        char s = fl_proc_state(pid);
        if (s == 'T')
            return 1;
        if (s == 'Z' || s == 0)
            return 0;
        sched_yield();
    }
    return 0;
}

FL_TEST(test_mp_array_calls_copy_before_they_let_go_of_the_lock)
{
    static const char *const names[] = {"mp_array_add(a, 0, &1)",
                                        "mp_array_set(a, 0, &7)",
                                        "mp_array_get(a, 0, &x)"};
    for (int op = 0; op <= GET; op++) {
        int32_t five = 5, seen = 0;
        struct stopper st = {.a = new_array(MP_INT32, 1, &five, 1), .op = op};
        ck_assert(pipe(st.out) == 0);
        pid_t pid = fl_raw_start(call_then_stop, &st);
        close(st.out[1]);
        int stopped = until_stopped(pid);
        int32_t *data = mp_array_data(st.a);
        int l = mp_array_lock(st.a); // free: the call has let go of it
        memcpy(&seen, data, sizeof seen);
        if (op == GET) // a write the get must not see
            memcpy(data, &(int32_t){99}, sizeof(int32_t));
        if (l == 0)
            mp_array_unlock(st.a);
        kill(pid, SIGCONT);
        int res[2] = {-1, 0};
        int got = fl_readable_within(st.out[0], 3000) &&
                  read(st.out[0], res, sizeof res) == sizeof res;
        if (!got)
            kill(pid, SIGKILL);
        fl_reap_code(pid);
        close(st.out[0]);
        mp_array_destroy(st.a);
        fl_expect_int(l, 0, "mp_array_lock, after the call let go of it", "");
        ck_assert_msg(got && res[0] == 0, "%s on Array('i', [5]) %s", names[op],
                      got ? fl_ret(res[0]) : "never returned: killed");
        int32_t want = op == 0 ? 6 : op == 1 ? 7 : 5;
        ck_assert_msg(!stopped || op == GET || seen == want,
                      "%s on Array('i', [5]) had let go of the lock, and "
                      "the element was still %d, expected %d: it wrote the "
                      "element after its unlock, without the lock. Copy "
                      "in, then let go.",
                      names[op], seen, want);
        ck_assert_msg(!stopped || op != GET || res[1] == 5,
                      "%s on Array('i', [5]) had let go of the lock; the "
                      "test then took it and wrote 99, and the get read "
                      "%d, expected 5: it copied the element out after its "
                      "unlock, without the lock. Copy out, then let go.",
                      names[op], res[1]);
    }
}

// In a child, since a mutex that is not recursive deadlocks here.
static int
relock(void *arg)
{
    mp_array *a = arg;
    int32_t x = 0, seven = 7;
    if (mp_array_lock(a) != 0)
        return 1;
    if (mp_array_get(a, 0, &x) != 0 || mp_array_set(a, 0, &seven) != 0)
        return 2;
    if (mp_array_add(a, 0, &seven) != 0 || mp_array_lock(a) != 0)
        return 3;
    if (mp_array_unlock(a) != 0 || mp_array_unlock(a) != 0)
        return 4;
    if (mp_array_unlock(a) != -EPERM)
        return 5;
    return mp_array_get(a, 0, &x) == 0 && x == 14 ? 0 : 6;
}

FL_TEST(test_mp_array_lock_can_be_taken_again_by_its_holder)
{
    mp_array *a = new_array(MP_INT32, 1, NULL, 1);
    fl_child res;
    fl_run_in_child(relock, a, 2000, 0, &res);
    mp_array_destroy(a);
    ck_assert_msg(!res.timed_out,
                  "holding the lock (mp_array_lock), the process called "
                  "mp_array_get and was still waiting 2 s later: for "
                  "itself. Make the mutex PTHREAD_MUTEX_RECURSIVE, like "
                  "Python's get_lock(), an RLock: `with v.get_lock(): "
                  "v.value += 1` takes it twice.");
    ck_assert_msg(res.returned,
                  "lock, get, set, add, lock, unlock, unlock ended the "
                  "process (%s %d)",
                  res.exited ? "status" : "signal", res.status);
    ck_assert_msg(res.value == 0, "holding the lock: %s",
                  res.value == 1   ? "mp_array_lock failed"
                  : res.value == 2 ? "mp_array_get or mp_array_set failed"
                  : res.value == 3 ? "mp_array_add or a second "
                                     "mp_array_lock failed"
                  : res.value == 4 ? "unlocking twice after locking twice "
                                     "failed"
                  : res.value == 5 ? "a third unlock, of a lock no longer "
                                     "held, did not give -EPERM"
                                   : "the value was not 7 + 7");
}

FL_TEST(test_mp_array_lock_is_refused_on_a_raw_array)
{
    int32_t init = 5, x = 0, one = 1;
    mp_array *a = new_array(MP_INT32, 1, &init, 0);
    int calls = 0;
    int r[4] = {mp_array_lock(a), mp_array_unlock(a),
                mp_array_update(a, 0, count_calls, &calls),
                mp_array_add(a, 0, &one)};
    int s = mp_array_set(a, 0, &init), g = mp_array_get(a, 0, &x);
    mp_array_destroy(a);
    ck_assert_msg(r[0] == -ENOLCK && r[1] == -ENOLCK && r[2] == -ENOLCK &&
                      r[3] == -ENOLCK && calls == 0,
                  "on a RawArray (with_lock 0), mp_array_lock, "
                  "mp_array_unlock, mp_array_update and mp_array_add "
                  "returned %s, %s, %s, %s; expected -ENOLCK each time. "
                  "There is no lock, and an update without one is a race.",
                  fl_ret(r[0]), fl_ret(r[1]), fl_ret(r[2]), fl_ret(r[3]));
    ck_assert_msg(s == 0 && g == 0 && x == 5,
                  "on a RawArray, mp_array_set returned %s and mp_array_get "
                  "%s with %d; expected 0, 0 and 5: they work, unlocked",
                  fl_ret(s), fl_ret(g), x);
}

/* ------------------------------------------------------------- races */

FL_TEST(test_mp_value_set_after_get_loses_updates_without_a_lock)
{
    int32_t got =
        race(0, get_then_set, "incremented a RawValue with get then set",
             "1: get failed, 2: set failed");
    ck_assert_msg(got > 0,
                  "%d processes each incremented a RawValue %d times; the "
                  "parent reads %d: no child's write reached it. Map the "
                  "value MAP_SHARED, not MAP_PRIVATE.",
                  CROWD, ROUNDS, got);
    ck_assert_msg(got < CROWD * ROUNDS,
                  "%d increments as get-then-set with no lock, each one "
                  "waiting for another process to read meanwhile, gave "
                  "%d: none was lost, which cannot be if the processes "
                  "share the value and mp_value_get takes no lock",
                  CROWD * ROUNDS, got);
}

FL_TEST(test_mp_value_set_after_get_loses_updates_even_with_a_lock_on_each)
{
    int32_t got = race(1, get_then_set, "incremented a Value with get then set",
                       "1: get failed, 2: set failed");
    ck_assert_msg(got > 0,
                  "%d processes each incremented a Value %d times; the "
                  "parent reads %d: no child's write reached it. Map the "
                  "value MAP_SHARED, not MAP_PRIVATE.",
                  CROWD, ROUNDS, got);
    // This is what the classic `arr[i] += 1` does: each step is locked,
    // the update is not.  This test passes when updates ARE lost.
    ck_assert_msg(got < CROWD * ROUNDS,
                  "%d increments as a locked get, then a locked set, gave "
                  "%d: none was lost. Between the two, another process "
                  "should have read the same old value (each increment "
                  "waited for one to): does mp_value_get keep the lock "
                  "after it returns?",
                  CROWD * ROUNDS, got);
}

FL_TEST(test_mp_value_update_holds_the_lock_from_read_to_write)
{
    int32_t got = race(1, update_slowly, "incremented with mp_value_update",
                       "1: mp_value_update failed");
    ck_assert_msg(got > 0,
                  "%d processes each made %d increments through "
                  "mp_value_update; the parent reads %d: no child's update "
                  "reached it. Map the value MAP_SHARED, not MAP_PRIVATE.",
                  CROWD, ROUNDS, got);
    ck_assert_msg(got == CROWD * ROUNDS,
                  "%d processes x %d increments through mp_value_update "
                  "gave %d, expected %d: %d updates were lost. Each "
                  "increment waited, on purpose, for another process to "
                  "read the value while it was being updated. Take the lock "
                  "ONCE, before the read, and let go after the write: a "
                  "lock around the read and another around the write lets "
                  "another process in between.",
                  CROWD, ROUNDS, got, CROWD * ROUNDS, CROWD * ROUNDS - got);
}

static int
add_many(void *arg)
{
    int32_t one = 1;
    for (int k = 0; k < ADDS; k++)
        if (mp_value_add(arg, &one) != 0)
            return 1;
    return 0;
}

FL_TEST(test_mp_value_add_is_exact_from_8_processes)
{
    mp_value *v;
    int32_t zero = 0, got = -1;
    int r = mp_value_create(&v, MP_INT32, &zero, 1);
    ck_assert_msg(r == 0, "mp_value_create returned %s", fl_ret(r));
    struct crowd c;
    crowd_run(&c, add_many, v);
    mp_value_get(v, &got);
    mp_value_destroy(v);
    crowd_ok(&c, "called mp_value_add", "1: mp_value_add failed");
    ck_assert_msg(got == CROWD * ADDS,
                  "%d processes x %d calls of mp_value_add(v, &one) gave "
                  "%d, expected %d%s",
                  CROWD, ADDS, got, CROWD * ADDS,
                  got == 0 ? ": no child's add reached the parent (is the "
                             "memory MAP_SHARED?)"
                           : ": updates were lost. Hold the lock from the "
                             "read to the write.");
}

static int
atomic_adds(void *arg)
{
    int64_t *counter = (int64_t *)arg + 1;
    for (int k = 0; k < ADDS; k++)
        __atomic_add_fetch(counter, 1, __ATOMIC_SEQ_CST);
    return 0;
}

FL_TEST(test_mp_array_data_takes_atomic_increments_from_8_processes)
{
    mp_array *a = new_array(MP_INT64, 2, NULL, 0);
    int64_t *data = mp_array_data(a);
    ck_assert_msg(data != NULL && (uintptr_t)data % 64 == 0,
                  "mp_array_data returned %p: expected an address aligned "
                  "to 64 bytes (DATA_OFFSET past the mapping's start, on "
                  "the next 64-byte boundary after the header), for int64 "
                  "elements and atomic operations",
                  (void *)data);
    struct crowd c;
    crowd_run(&c, atomic_adds, data);
    int64_t got = -1;
    mp_array_get(a, 1, &got);
    mp_array_destroy(a);
    crowd_ok(&c, "added atomically", "");
    ck_assert_msg(got == CROWD * ADDS,
                  "%d processes x %d atomic increments of element 1 of a "
                  "RawArray, through mp_array_data, gave %lld, expected %d: "
                  "%s",
                  CROWD, ADDS, (long long)got, CROWD * ADDS,
                  got == 0 ? "the children's memory is not the parent's "
                             "(MAP_SHARED?)"
                           : "is mp_array_data the shared elements, and "
                             "mp_array_get reading element 1 there?");
}

/* ------------------------------------------------------ named segments */

// The name mp_shm_create should make from base.
static void
expected_name(char *buf, size_t size, const char *base)
{
    snprintf(buf, size, "/%s%s", fl_ipc_prefix(), base);
}

// Remove what a test made, whatever the code under test did: no name is
// left behind for the next test.
static void
cleanup(mp_shm *s, const char *base)
{
    char want[MP_SHM_NAME_MAX];
    if (s->buf != NULL && s->size > 0)
        munmap(s->buf, s->size);
    s->buf = NULL;
    if (s->name[0] == '/')
        shm_unlink(s->name);
    expected_name(want, sizeof want, base);
    shm_unlink(want);
}

// Whether /dev/shm holds name; its size in *size.
static int
in_dev_shm(const char *name, off_t *size)
{
    char path[MP_SHM_NAME_MAX + 16];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm%s", name);
    if (stat(path, &st) != 0)
        return 0;
    if (size != NULL)
        *size = st.st_size;
    return 1;
}

// Fail, after cleaning up, unless the segment mp_shm_create made is as big
// as its mapping: touching a mapping past the end of its object is SIGBUS.
static void
check_sized(mp_shm *s, const char *base)
{
    off_t size = -1;
    in_dev_shm(s->name, &size);
    if (size >= 0 && (size_t)size >= s->size && s->buf != NULL)
        return;
    size_t want = s->size;
    char name[MP_SHM_NAME_MAX];
    snprintf(name, sizeof name, "%s", s->name);
    cleanup(s, base);
    ck_assert_msg(0,
                  "mp_shm_create mapped %zu bytes, but %s holds %lld: "
                  "touching the mapping would kill the process with "
                  "SIGBUS. ftruncate(fd, size) before mmap.",
                  want, name, (long long)size);
}

FL_TEST(test_mp_shm_create_names_the_segment_with_the_run_prefix)
{
    mp_shm s;
    memset(&s, 0, sizeof s);
    char want[MP_SHM_NAME_MAX];
    expected_name(want, sizeof want, "named");
    int r = mp_shm_create(&s, "named", 5000);
    off_t size = -1;
    int there = in_dev_shm(want, &size);
    char got[MP_SHM_NAME_MAX];
    snprintf(got, sizeof got, "%s", s.name);
    size_t len = s.size;
    int mapped_ok = s.buf != NULL;
    cleanup(&s, "named");
    ck_assert_msg(r == 0, "mp_shm_create(&s, \"named\", 5000) returned %s",
                  fl_ret(r));
    ck_assert_msg(strcmp(got, want) == 0,
                  "the segment is named \"%s\", expected \"%s\": make the "
                  "name with mp_ipc_name(), which adds the run's prefix. "
                  "A name made by hand is the same in every run and in "
                  "every student's tests, and a crashed run's segment is "
                  "never cleaned up.",
                  got, want);
    ck_assert_msg(there && size == 5000 && len == 5000 && mapped_ok,
                  "after mp_shm_create(&s, \"named\", 5000), /dev/shm%s %s "
                  "(size %lld), s.size is %zu and s.buf is %s; expected a "
                  "5000-byte segment, mapped%s",
                  want, there ? "exists" : "does not exist", (long long)size,
                  len, mapped_ok ? "set" : "NULL",
                  size == 0 ? ". A new object has 0 bytes: ftruncate(fd, "
                              "size) before mmap."
                            : "");
}

#define SIZED (3 * 4096 + 100)

// In a child, since touching an unsized segment kills with SIGBUS.
static int
touch_every_byte(void *arg)
{
    mp_shm *s = arg;
    if (mp_shm_create(s, "sized", SIZED) != 0 || s->size != SIZED)
        return 1;
    memset(s->buf, 0xab, SIZED);
    unsigned char *p = s->buf;
    return p[0] == 0xab && p[SIZED - 1] == 0xab ? 0 : 2;
}

FL_TEST(test_mp_shm_create_sizes_the_segment_before_mapping_it)
{
    mp_shm *s = test_shared(sizeof *s);
    memset(s, 0, sizeof *s);
    fl_child res;
    fl_run_in_child(touch_every_byte, s, 3000, 0, &res);
    char name[MP_SHM_NAME_MAX];
    snprintf(name, sizeof name, "%s", s->name);
    s->buf = NULL; // the child's mapping, gone with it
    cleanup(s, "sized");
    munmap(s, sizeof *s);
    ck_assert_msg(res.exited || res.status != SIGBUS,
                  "writing to the %d bytes of a new segment killed the "
                  "process with SIGBUS: the shared memory object %s has "
                  "0 bytes. shm_open() makes it empty and mmap() does not "
                  "grow it: ftruncate(fd, size) before mapping.",
                  SIZED, name);
    ck_assert_msg(res.returned && res.value == 0,
                  "mp_shm_create(&s, \"sized\", %d), then writing every "
                  "byte: %s",
                  SIZED,
                  !res.returned    ? fl_signame(res.status)
                  : res.value == 1 ? "mp_shm_create failed or set the "
                                     "wrong size"
                                   : "the bytes written did not read back");
}

FL_TEST(test_mp_shm_create_refuses_a_name_that_exists)
{
    mp_shm s, t;
    memset(&s, 0, sizeof s);
    memset(&t, 0, sizeof t);
    int r1 = mp_shm_create(&s, "twice", 4096);
    ck_assert_msg(r1 == 0, "the first mp_shm_create returned %s", fl_ret(r1));
    check_sized(&s, "twice");
    memcpy(s.buf, GREETING, sizeof GREETING);
    int r2 = mp_shm_create(&t, "twice", 8192);
    off_t size = -1;
    in_dev_shm(s.name, &size);
    int kept = memcmp(s.buf, GREETING, sizeof GREETING) == 0;
    if (r2 == 0 && t.buf != NULL)
        munmap(t.buf, t.size);
    cleanup(&s, "twice");
    ck_assert_msg(r2 == -EEXIST,
                  "a second mp_shm_create with the same name returned %s, "
                  "expected -EEXIST. Open with O_CREAT | O_EXCL: without "
                  "O_EXCL you silently share (and resize) a segment that "
                  "somebody else made.",
                  fl_ret(r2));
    ck_assert_msg(kept && size == 4096,
                  "the refused create changed the first segment (its size "
                  "is now %lld): leave it alone, and do not unlink a name "
                  "you did not make",
                  (long long)size);
}

FL_TEST(test_mp_shm_create_rejects_bad_arguments)
{
    mp_shm s;
    memset(&s, 0, sizeof s);
    int r[4] = {mp_shm_create(NULL, "bad", 10), mp_shm_create(&s, NULL, 10),
                mp_shm_create(&s, "a/b", 10), 0};
    fl_fault_reset();
    r[3] = mp_shm_create(&s, "zero", 0);
    long opens = fl_fault_calls("shm_open");
    cleanup(&s, "bad");
    cleanup(&s, "zero");
    ck_assert_msg(r[0] == -EINVAL && r[1] == -EINVAL && r[2] == -EINVAL &&
                      r[3] == -EINVAL,
                  "mp_shm_create with a NULL shm, a NULL base, the base "
                  "\"a/b\" and a size of 0 returned %s, %s, %s, %s; "
                  "expected -EINVAL each time",
                  fl_ret(r[0]), fl_ret(r[1]), fl_ret(r[2]), fl_ret(r[3]));
    ck_assert_msg(opens == 0,
                  "mp_shm_create with a size of 0 called shm_open %ld "
                  "time(s): check the arguments before you make a name "
                  "(Python's "
                  "SharedMemory(create=True, size=0) raises ValueError "
                  "before it creates anything); a size of 0 left to mmap "
                  "puts a name in /dev/shm for a while, and a name that "
                  "exists gives -EEXIST instead",
                  opens);
    // Just past the limit: 1 byte is a good size.  And descriptor 0 is a
    // descriptor like any other: with it free, shm_open returns it, to the
    // create and then to the open.
    mp_shm one, other;
    memset(&one, 0, sizeof one);
    memset(&other, 0, sizeof other);
    int saved = dup(0);
    ck_assert(saved >= 0);
    close(0);
    int c = mp_shm_create(&one, "one", 1);
    int o = c == 0 ? mp_shm_open(&other, one.name) : -1;
    dup2(saved, 0);
    close(saved);
    int shared = 0;
    if (c == 0 && o == 0 && one.size == 1 && other.size == 1) {
        *(volatile char *)one.buf = 'k';
        shared = *(volatile char *)other.buf == 'k';
    }
    if (o == 0)
        munmap(other.buf, other.size);
    cleanup(&one, "one");
    ck_assert_msg(c == 0 && o == 0 && shared,
                  "with descriptor 0 free, mp_shm_create of a 1-byte "
                  "segment returned %s, then mp_shm_open of it %s%s; "
                  "expected 0 and 0, and one byte both see. Only a size "
                  "of 0 is refused (st_size too); and shm_open fails with "
                  "-1, not 0: descriptor 0 is the lowest free one, and "
                  "good.",
                  fl_ret(c), c == 0 ? fl_ret(o) : "(not called)",
                  c == 0 && o == 0 && !shared ? ", but the byte is not shared"
                                              : "");
}

// In a child: mp_shm_create of 4 GiB and 4 KiB where files may not pass
// 4 KiB.  Cut to 32 bits (an int), the size is 4 KiB, which fits.
static int
create_too_big(void *arg)
{
    mp_shm *s = arg;
    struct rlimit small = {4096, 4096};
    signal(SIGXFSZ, SIG_IGN); // or ftruncate kills the process
    if (setrlimit(RLIMIT_FSIZE, &small) != 0)
        return 1;
    return mp_shm_create(s, "toobig", ((size_t)1 << 32) + 4096);
}

FL_TEST(test_mp_shm_create_leaves_no_name_when_it_fails)
{
    mp_shm *s = test_shared(sizeof *s);
    memset(s, 0, sizeof *s);
    fl_child res;
    fl_run_in_child(create_too_big, s, 3000, 0, &res);
    char want[MP_SHM_NAME_MAX];
    expected_name(want, sizeof want, "toobig");
    int left = in_dev_shm(want, NULL);
    s->buf = NULL; // the child's mapping, if any, went with it
    cleanup(s, "toobig");
    munmap(s, sizeof *s);
    ck_assert_msg(res.returned,
                  "mp_shm_create, with files limited to 4 KiB, ended the "
                  "process (%s)",
                  res.exited ? "it exited" : fl_signame(res.status));
    fl_expect_int(res.value, -EFBIG,
                  "mp_shm_create of 4 GiB + 4 KiB with RLIMIT_FSIZE at 4 KiB",
                  "ftruncate fails with EFBIG: return -errno, and give it "
                  "the whole size_t (an off_t), never an int");
    ck_assert_msg(!left,
                  "mp_shm_create failed, yet it left %s in /dev/shm: when a "
                  "step after shm_open fails, close the descriptor and "
                  "shm_unlink the name (one fail: label)",
                  want);
}

#define SHARED_SIZE 10000

FL_TEST(test_mp_shm_create_is_seen_by_an_unrelated_process)
{
    mp_shm s;
    memset(&s, 0, sizeof s);
    int r = mp_shm_create(&s, "stranger", SHARED_SIZE);
    ck_assert_msg(r == 0 && s.buf != NULL,
                  "mp_shm_create(&s, \"stranger\", %d) returned %s",
                  SHARED_SIZE, fl_ret(r));
    check_sized(&s, "stranger");
    char *p = s.buf;
    memcpy(p, GREETING, sizeof GREETING);
    p[SHARED_SIZE - 1] = 'Z';
    int st = run_peer("raw", s.name, SHARED_SIZE);
    char reply[sizeof REPLY];
    memcpy(reply, p + 100, sizeof reply);
    reply[sizeof reply - 1] = '\0';
    char name[MP_SHM_NAME_MAX];
    snprintf(name, sizeof name, "%s", s.name);
    cleanup(&s, "stranger");
    ck_assert_msg(st == 0,
                  "another program, knowing only the name %s, opened it "
                  "with shm_open and mmap: %s. Map the segment MAP_SHARED, "
                  "after ftruncate to its size.",
                  name, peer_says(st));
    ck_assert_msg(strcmp(reply, REPLY) == 0,
                  "the other program wrote \"%s\" into the segment; the "
                  "creator's mapping shows \"%s\": is it MAP_SHARED?",
                  REPLY, reply);
}

#define OPENED_SIZE (3 * 4096 + 5)

FL_TEST(test_mp_shm_open_maps_a_segment_another_process_made)
{
    char name[MP_SHM_NAME_MAX];
    expected_name(name, sizeof name, "opened");
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_msg(fd >= 0, "shm_open failed: %s", strerror(errno));
    ck_assert(ftruncate(fd, OPENED_SIZE) == 0);
    char *p =
        mmap(NULL, OPENED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    ck_assert(p != MAP_FAILED);
    memcpy(p, GREETING, sizeof GREETING);
    p[OPENED_SIZE - 1] = 'Z';
    int st = run_peer("open", name, OPENED_SIZE);
    int replied = memcmp(p + 100, REPLY, sizeof REPLY) == 0;
    munmap(p, OPENED_SIZE);
    shm_unlink(name);
    ck_assert_msg(st == 0,
                  "another program called mp_shm_open(&s, \"%s\") on a "
                  "segment of %d bytes: %s%s",
                  name, OPENED_SIZE, peer_says(st),
                  st == 3 ? ": fstat() the descriptor and map st_size bytes"
                          : "");
    ck_assert_msg(replied,
                  "the other program's write through mp_shm_open's mapping "
                  "did not reach this process: map it MAP_SHARED");
}

FL_TEST(test_mp_shm_open_rejects_names_it_cannot_open)
{
    mp_shm s;
    memset(&s, 0, sizeof s);
    // A name longer than the whole mp_shm: copied before its length is
    // checked, it runs past the struct into the guard after it.
    char name[MP_SHM_NAME_MAX], longer[sizeof(mp_shm) + 48];
    struct {
        mp_shm shm;
        unsigned char guard[64];
    } g;
    memset(&g, 0x7e, sizeof g);
    expected_name(name, sizeof name, "nobody");
    memset(longer, 'x', sizeof longer - 1);
    longer[0] = '/';
    longer[sizeof longer - 1] = '\0';
    int r1 = mp_shm_open(&s, name);
    if (r1 == 0)
        cleanup(&s, "nobody");
    int r2 = mp_shm_open(NULL, name), r3 = mp_shm_open(&s, NULL);
    int r4 = mp_shm_open(&g.shm, longer);
    int guarded = 1;
    for (size_t i = 0; i < sizeof g.guard; i++)
        guarded &= g.guard[i] == 0x7e;
    fl_expect_int(r1, -ENOENT, "mp_shm_open of a name nobody created",
                  "open without O_CREAT: only the creator creates");
    ck_assert_msg(r2 == -EINVAL && r3 == -EINVAL,
                  "mp_shm_open with a NULL shm and a NULL name returned %s "
                  "and %s, expected -EINVAL",
                  fl_ret(r2), fl_ret(r3));
    fl_expect_int(r4, -ENAMETOOLONG,
                  "mp_shm_open of a name longer than MP_SHM_NAME_MAX",
                  "check the length before copying it into shm->name");
    ck_assert_msg(guarded,
                  "mp_shm_open of a name of %zu characters returned %s, but "
                  "wrote past the end of the mp_shm it was given: check "
                  "the length BEFORE copying the name into shm->name, not "
                  "after the copy has overflowed it",
                  sizeof longer - 1, fl_ret(r4));
}

static int
close_null(void *arg)
{
    (void)arg;
    return mp_shm_close(NULL);
}

FL_TEST(test_mp_shm_close_unmaps_but_keeps_the_name)
{
    mp_shm s;
    memset(&s, 0, sizeof s);
    // Two pages and a byte: three pages mapped, the last one for a single
    // byte, which a length rounded down to whole pages (or one short)
    // leaves mapped.
    size_t size = 2 * (size_t)sysconf(_SC_PAGESIZE) + 1;
    int r = mp_shm_create(&s, "closed", size);
    ck_assert_msg(r == 0, "mp_shm_create returned %s", fl_ret(r));
    char *buf = s.buf;
    s.buf = buf + 1; // not a page's start: munmap refuses it
    int bad = mp_shm_close(&s);
    int kept = s.buf == buf + 1;
    s.buf = buf;
    // munmap failing with another errno (ENOMEM: splitting a mapping
    // needs memory), made by the harness: passed on as it came.
    fl_fault_reset();
    fl_fault_fail("munmap", 1, ENOMEM);
    int nomem = mp_shm_close(&s);
    fl_fault_reset();
    int kept2 = s.buf == buf;
    s.buf = buf;
    int c = mp_shm_close(&s);
    int still = mapped(buf), last = mapped(buf + size - 1);
    int named = in_dev_shm(s.name, NULL);
    int again = mp_shm_close(&s);
    if (last)
        munmap(buf, size);
    cleanup(&s, "closed");
    ck_assert_msg(c == 0 && s.buf == NULL && !still && !last,
                  "mp_shm_close of a %zu-byte segment returned %s, s.buf "
                  "is %s, its first page is %s and its last page %s; "
                  "expected 0, NULL and every page unmapped: munmap the "
                  "whole size the segment was mapped with (shm->size)",
                  size, fl_ret(c), s.buf ? "set" : "NULL",
                  still ? "still mapped" : "unmapped",
                  last ? "still mapped" : "unmapped");
    ck_assert_msg(named,
                  "mp_shm_close removed the name: closing is not "
                  "unlinking. Another process may still open the segment "
                  "(Python's close() and unlink() are two calls too).");
    fl_expect_int(again, -EINVAL, "mp_shm_close of a closed segment",
                  "buf is NULL once closed");
    ck_assert_msg(bad == -EINVAL && kept,
                  "mp_shm_close with shm->buf one byte into its mapping "
                  "returned %s and %s buf; expected -EINVAL with buf kept. "
                  "munmap refuses an address that does not start a page: "
                  "when it fails, return -errno and leave buf as it is, "
                  "or the caller is told the segment is closed while it is "
                  "still mapped.",
                  fl_ret(bad), kept ? "kept" : "changed");
    ck_assert_msg(nomem == -ENOMEM && kept2,
                  "mp_shm_close with munmap failing with ENOMEM returned %s "
                  "and %s buf; expected -ENOMEM with buf kept: return "
                  "minus the errno munmap set, not always -EINVAL",
                  fl_ret(nomem), kept2 ? "kept" : "changed");
    fl_child res; // in a child: a close that reads through NULL crashes
    fl_run_in_child(close_null, NULL, 2000, 0, &res);
    ck_assert_msg(res.returned && res.value == -EINVAL,
                  "mp_shm_close(NULL) %s %s, expected -EINVAL: check shm "
                  "before looking at shm->buf",
                  res.returned ? "returned" : "ended the process:",
                  res.returned    ? fl_ret(res.value)
                  : res.timed_out ? "it hung"
                  : res.exited    ? "it exited"
                                  : fl_signame(res.status));
}

FL_TEST(test_mp_shm_unlink_removes_the_name_but_not_the_mapping)
{
    mp_shm s;
    memset(&s, 0, sizeof s);
    int r = mp_shm_create(&s, "unlinked", 4096);
    ck_assert_msg(r == 0, "mp_shm_create returned %s", fl_ret(r));
    check_sized(&s, "unlinked");
    errno = EIO; // left by some earlier call: a success does not clear it
    int u = mp_shm_unlink(&s);
    int named = in_dev_shm(s.name, NULL);
    int fd = shm_open(s.name, O_RDWR, 0);
    if (fd >= 0)
        close(fd);
    memcpy(s.buf, GREETING, sizeof GREETING); // still ours to use
    int kept = memcmp(s.buf, GREETING, sizeof GREETING) == 0;
    int u2 = mp_shm_unlink(&s);
    fl_fault_reset();
    fl_fault_fail("shm_unlink", 1, EACCES); // not the caller's to remove
    int u3 = mp_shm_unlink(&s);
    fl_fault_reset();
    int c = mp_shm_close(&s);
    cleanup(&s, "unlinked");
    fl_expect_int(u, 0, "mp_shm_unlink, called with errno holding EIO",
                  "shm_unlink returns 0 on success and -1 on failure, and "
                  "a success leaves errno as it was: test the return value "
                  "(< 0), not errno or <= 0");
    ck_assert_msg(!named && fd < 0,
                  "after mp_shm_unlink, %s is still in /dev/shm: call "
                  "shm_unlink(). The segment outlives every process that "
                  "used it until its name is removed.",
                  s.name);
    ck_assert_msg(kept && c == 0,
                  "after unlinking, the mapping should still work until "
                  "mp_shm_close (which returned %s)",
                  fl_ret(c));
    fl_expect_int(u2, -ENOENT, "a second mp_shm_unlink",
                  "return -errno when shm_unlink fails");
    fl_expect_int(u3, -EACCES,
                  "mp_shm_unlink with shm_unlink failing with "
                  "EACCES",
                  "return minus the errno shm_unlink set, not always "
                  "-ENOENT");
    fl_expect_int(mp_shm_unlink(NULL), -EINVAL, "mp_shm_unlink(NULL)", "");
}

/* ------------------------------------------------ limits and failures */

FL_TEST(test_mp_array_create_refuses_a_size_whose_header_overflows)
{
    // n * size fits in a size_t; the header added to it does not.
    mp_array *a = NULL;
    int r1 = mp_array_create(&a, MP_INT64, SIZE_MAX / 8, NULL, 1);
    if (r1 == 0)
        mp_array_destroy(a);
    int r2 = mp_array_create(&a, MP_INT32, SIZE_MAX / 4, NULL, 0);
    if (r2 == 0)
        mp_array_destroy(a);
    ck_assert_msg(r1 == -ENOMEM && r2 == -ENOMEM,
                  "mp_array_create(&a, MP_INT64, SIZE_MAX / 8, ...) and "
                  "(&a, MP_INT32, SIZE_MAX / 4, ...) returned %s and %s, "
                  "expected -ENOMEM. n * size fits in a size_t, but the "
                  "header added to it wraps around to a tiny mapping: "
                  "compare n with (SIZE_MAX - header) / size, not with "
                  "SIZE_MAX / size.",
                  fl_ret(r1), fl_ret(r2));
}

FL_TEST(test_mp_array_create_reports_the_errno_of_a_failed_mmap)
{
    static const int errs[] = {ENOMEM, EAGAIN, ENFILE};
    for (int k = 0; k < 3; k++) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        fl_fault_reset();
        fl_fault_fail("mmap", 1, errs[k]);
        mp_array *a = NULL;
        int r = mp_array_create(&a, MP_INT32, 4, NULL, 1);
        int fired = fl_fault_fired("mmap") > 0;
        fl_fault_reset();
        if (r == 0)
            mp_array_destroy(a);
        ck_assert_msg(fired, "mp_array_create never called mmap: the "
                             "array must be MAP_SHARED | MAP_ANONYMOUS "
                             "memory");
        char what[96];
        snprintf(what, sizeof what, "mp_array_create with mmap failing with %s",
                 strerrorname_np(errs[k]));
        fl_expect_int(r, -errs[k], what,
                      "return -errno when mmap gives MAP_FAILED, whatever "
                      "errno is: it says why, ENOMEM is only one reason");
        fl_expect_no_leak(&s, what);
    }
}

// mp_array_create of an Array (with its lock) with pthread_mutex_init
// failing: minus its error number, *ap not set, the mapping unmapped (the
// wrappers count mmap and munmap).  Two error numbers: not a constant.
FL_TEST(test_mp_array_create_leaks_nothing_when_its_lock_cannot_be_made)
{
    static const int errs[] = {EAGAIN, ENOMEM};
    // 4 pages of elements and the header's: a munmap of the header alone
    // (sizeof *a) frees one page and leaves 4 mapped.
    size_t n = (size_t)sysconf(_SC_PAGESIZE);
    for (int e = 0; e < 2; e++) {
        FL_FAULT_WALK ("pthread_mutex_init", errs[e], k) {
            fl_snapshot s;
            fl_snapshot_take(&s);
            mp_array *a = NULL;
            long before = fl_vm_pages();
            int r = mp_array_create(&a, MP_INT32, n, NULL, 1);
            long grown = fl_vm_pages() - before;
            long maps = fl_fault_calls("mmap");
            long unmaps = fl_fault_calls("munmap");
            char what[128];
            snprintf(what, sizeof what,
                     "mp_array_create(&a, MP_INT32, %zu, NULL, 1) with its "
                     "call %d of pthread_mutex_init() failing with %s",
                     n, k, strerrorname_np(errs[e]));
            if (fl_fault_fired("pthread_mutex_init") > 0) {
                fl_expect_int(r, -errs[e], what,
                              "pthread_mutex_init returns its error number "
                              "(it does not set errno): return minus it");
                ck_assert_msg(a == NULL,
                              "%s: it failed but set *ap: set "
                              "it only on success",
                              what);
                ck_assert_msg(unmaps == maps,
                              "%s: it mapped %ld time(s) and unmapped %ld. "
                              "When init_lock fails, munmap the array.",
                              what, maps, unmaps);
                ck_assert_msg(grown < 2,
                              "%s: the process has %ld more pages mapped "
                              "than before the call. It unmapped only part "
                              "of the array: munmap the whole length it "
                              "mapped, not sizeof the header.",
                              what, grown);
            } else {
                fl_expect_int(r, 0, "mp_array_create(&a, MP_INT32, n, NULL, 1)",
                              "");
                mp_array_destroy(a);
            }
            fl_expect_no_leak(&s, what);
        }
    }
    // A RawArray has no lock to make: a failing pthread_mutex_init is no
    // reason for its create to fail.
    fl_fault_reset();
    fl_fault_fail_from("pthread_mutex_init", 1, EAGAIN);
    mp_array *raw = NULL;
    int r = mp_array_create(&raw, MP_INT32, 4, NULL, 0);
    fl_fault_reset();
    fl_expect_int(r, 0,
                  "mp_array_create(&a, MP_INT32, 4, NULL, 0), a RawArray, "
                  "with pthread_mutex_init failing",
                  "a RawArray has no lock: make one only when with_lock is "
                  "set");
    mp_array_destroy(raw);
}

FL_TEST(test_mp_array_destroy_unmaps_every_page)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t n = (size_t)page; // 4 pages of int32, and the header's
    mp_array *a = new_array(MP_INT32, n, NULL, 1);
    char *data = mp_array_data(a);
    ck_assert_msg(data != NULL, "mp_array_data returned NULL");
    char *last = data + (n - 1) * 4;
    int r = mp_array_destroy(a);
    int first = mapped(data), still = mapped(last);
    if (still)
        munmap((void *)((uintptr_t)data & ~(uintptr_t)(page - 1)),
               (size_t)(last - data) + (size_t)page);
    fl_expect_int(r, 0, "mp_array_destroy", "");
    ck_assert_msg(!first && !still,
                  "after mp_array_destroy of a %zu-element int32 array, "
                  "its first page is %s and its last page is %s: munmap the "
                  "whole mapping, header and elements (the length kept in "
                  "the header, read before the header is gone), not "
                  "sizeof the header",
                  n, first ? "mapped" : "unmapped",
                  still ? "still mapped" : "unmapped");
}

FL_TEST(test_mp_array_update_changes_only_its_element)
{
    int32_t init[3] = {1, 0x5a5a5a5a, 0x5a5a5a5a}, one = 1, got[3] = {0};
    mp_array *a = new_array(MP_INT32, 3, init, 1);
    int r = mp_array_add(a, 0, &one);
    int32_t *data = mp_array_data(a);
    memcpy(got, data, sizeof got);
    mp_array_destroy(a);
    fl_expect_int(r, 0, "mp_array_add(a, 0, &1)", "");
    ck_assert_msg(got[0] == 2 && got[1] == 0x5a5a5a5a && got[2] == 0x5a5a5a5a,
                  "adding 1 to element 0 of Array('i', [1, 0x5a5a5a5a, "
                  "0x5a5a5a5a]) gave [%d, %#x, %#x]: copy a->size bytes "
                  "back into the element, not sizeof the local copy (a "
                  "union as big as the largest type)",
                  got[0], (unsigned)got[1], (unsigned)got[2]);
}

/* ---------------------------------------------- the edge of the mapping */

// An array whose last element ends at, just before, or just past the end
// of a page: what edge_calls is given, in memory it shares with the test
// so that the step it reached survives a crash.
struct edge {
    mp_typecode type;
    size_t n;
    int step; // the call edge_calls is in: see edge_steps
};

static const char *const edge_steps[] = {
    "mp_array_create, copying n initial values from a heap array of "
    "exactly n",
    "a read of the last element's first and last bytes",
    "mp_array_get of the last element, into a heap object of exactly its "
    "size",
    "mp_array_set of the last element",
    "mp_array_add to the last element, of a delta in a heap object of "
    "exactly its size",
    "mp_array_get of the last element after the add",
    "mp_array_destroy",
};

// Value k of the edge's type, in out (8 bytes of room).
static void
edge_value(mp_typecode type, long k, void *out)
{
    int32_t i = (int32_t)k;
    int64_t q = k;
    double d = (double)k;
    if (type == MP_INT32)
        memcpy(out, &i, sizeof i);
    else if (type == MP_INT64)
        memcpy(out, &q, sizeof q);
    else
        memcpy(out, &d, sizeof d);
}

// In a child: the calls of edge_steps on the last element.  0, or
// 10 + the step whose answer was wrong.
static int
edge_calls(void *arg)
{
    struct edge *e = arg;
    size_t size = e->type == MP_INT32 ? 4 : 8, n = e->n;
    unsigned char *init = malloc(n * size), *out = malloc(size), want[8];
    unsigned char *delta = malloc(size);
    if (init == NULL || out == NULL || delta == NULL)
        return 9;
    for (size_t k = 0; k < n; k++)
        edge_value(e->type, (long)k + 1, init + k * size);
    mp_array *a = NULL;
    fl_fault_reset();
    fl_mmap_guard(1); // past each mapping the code makes, a page that faults
    e->step = 0;
    if (mp_array_create(&a, e->type, n, init, 1) != 0 || a == NULL)
        return 10;
    fl_mmap_guard(0);
    e->step = 1;
    volatile unsigned char *last = mp_array_data(a);
    last += (n - 1) * size;
    unsigned char bytes = last[0] ^ last[size - 1]; // faults past the end
    (void)bytes;
    e->step = 2;
    edge_value(e->type, (long)n, want);
    if (mp_array_get(a, n - 1, out) != 0 || memcmp(out, want, size) != 0)
        return 12;
    e->step = 3;
    edge_value(e->type, 40, want);
    if (mp_array_set(a, n - 1, want) != 0)
        return 13;
    e->step = 4;
    edge_value(e->type, 2, delta);
    if (mp_array_add(a, n - 1, delta) != 0)
        return 14;
    e->step = 5;
    edge_value(e->type, 42, want);
    if (mp_array_get(a, n - 1, out) != 0 || memcmp(out, want, size) != 0)
        return 15;
    e->step = 6;
    if (mp_array_destroy(a) != 0)
        return 16;
    free(init);
    free(out);
    free(delta);
    return 0;
}

// The elements end where a page ends (n), an element before it (n - 1)
// and an element past it (n + 1): the mapping must hold the header with
// its padding and every element, and no call may touch a byte past the
// last element, for past the mapping's end there is no memory at all.
FL_TEST(test_mp_array_calls_reach_the_last_element_at_a_page_edge)
{
    long page = sysconf(_SC_PAGESIZE);
    mp_array *probe = new_array(MP_INT32, 1, NULL, 1);
    size_t off = (uintptr_t)mp_array_data(probe) & (uintptr_t)(page - 1);
    mp_array_destroy(probe);
    struct edge *e = test_shared(sizeof *e);
    static const mp_typecode types[] = {MP_INT32, MP_INT64, MP_DOUBLE};
    for (int t = 0; t < 3; t++) {
        size_t size = types[t] == MP_INT32 ? 4 : 8;
        size_t at_edge = (2 * (size_t)page - off) / size; // ends on page 2
        for (size_t n = at_edge - 1; n <= at_edge + 1; n++) {
            *e = (struct edge){types[t], n, -1};
            fl_child res;
            fl_run_in_child(edge_calls, e, 3000, 0, &res);
            int step =
                res.returned && res.value >= 10 ? res.value - 10 : e->step;
            const char *call =
                step >= 0 && step <= 6 ? edge_steps[step] : "the test's setup";
            int ok = res.returned && res.value == 0;
            if (!ok)
                munmap(e, sizeof *e);
            const char *where = n < at_edge    ? "an element before"
                                : n == at_edge ? "exactly at"
                                               : "an element past";
            ck_assert_msg(
                ok || res.returned,
                "Array('%c') of %zu elements, the last ending %s "
                "the end of a page, a page that faults after "
                "the mapping: %s %s. %s",
                (char)types[t], n, where, call,
                res.timed_out ? "was still running 3 s later"
                              : fl_signame(res.status),
                step == 0   ? "Either the mapping is too short for its "
                              "elements (map DATA_OFFSET + n * size bytes, "
                              "the header with its padding, not sizeof "
                              "the header), or the copy of the initial "
                              "values runs past them (n * size bytes)."
                : step == 1 ? "The last element lies past the end of the "
                              "mapping: map DATA_OFFSET + n * size bytes, "
                              "the header with its padding, not sizeof "
                              "the header."
                            : "It touched memory past the last element, "
                              "past the mapping's end: copy a->size bytes "
                              "in and out of an element, never sizeof a "
                              "union or of the largest type.");
            ck_assert_msg(ok,
                          "Array('%c') of %zu elements, the last ending %s "
                          "the end of a page: %s gave a wrong answer",
                          (char)types[t], n, where, call);
        }
    }
    munmap(e, sizeof *e);
}

/* ------------------------------------------------------------- threads */

// Two arrays, two threads: the test's update of a waits, inside its fn,
// until the other thread has updated b from start to end.  Each update
// has its own array and its own lock: neither may see the other's value.
struct two {
    mp_array *a, *b;
    sem_t inside; // the test's fn has begun
    sem_t b_done; // the thread's update of b has returned
    int rb;       // what it returned
    int waited;   // 1 if the fn gave up waiting for it
};

static void
add_one(void *value, void *arg)
{
    (void)arg;
    int64_t x;
    memcpy(&x, value, sizeof x);
    x++;
    memcpy(value, &x, sizeof x);
}

// The test's fn: let the thread go, wait for its whole update of b, then
// add one to the value it was given.
static void
add_one_after_b(void *value, void *arg)
{
    struct two *t = arg;
    sem_post(&t->inside);
    struct timespec d;
    clock_gettime(CLOCK_REALTIME, &d);
    d.tv_sec += 2;
    int r;
    while ((r = sem_timedwait(&t->b_done, &d)) < 0 && errno == EINTR)
        ;
    t->waited = r < 0;
    add_one(value, NULL);
}

static void *
update_b(void *arg)
{
    struct two *t = arg;
    while (sem_wait(&t->inside) < 0 && errno == EINTR)
        ;
    t->rb = mp_array_update(t->b, 0, add_one, NULL);
    sem_post(&t->b_done);
    return NULL;
}

// A thread's mp_array_add to c, made while the test holds c's lock: it
// sleeps in the lock, its delta given, until the test lets go.
struct add_held {
    mp_array *c;
    sem_t started; // tid is set
    pid_t tid;
    int r;
};

static void *
add_to_held(void *arg)
{
    struct add_held *h = arg;
    h->tid = gettid();
    sem_post(&h->started);
    int64_t one = 1;
    h->r = mp_array_add(h->c, 0, &one);
    return NULL;
}

// The thread's add to c sleeps in c's lock while the test adds 1000 to d:
// what the thread asked for must still be what it adds.
static void
add_while_another_waits(void)
{
    int64_t c0 = 100, d0 = 5, c1 = -1, d1 = -1, thousand = 1000;
    struct add_held h = {.c = new_array(MP_INT64, 1, &c0, 1)};
    mp_array *d = new_array(MP_INT64, 1, &d0, 1);
    sem_init(&h.started, 0, 0);
    int rl = mp_array_lock(h.c);
    pthread_t th;
    ck_assert_msg(pthread_create(&th, NULL, add_to_held, &h) == 0,
                  "pthread_create failed");
    while (sem_wait(&h.started) < 0 && errno == EINTR)
        ;
    int asleep = fl_proc_idles(h.tid, 20); // in c's lock
    int rd = mp_array_add(d, 0, &thousand);
    if (rl == 0)
        mp_array_unlock(h.c);
    pthread_join(th, NULL);
    mp_array_get(h.c, 0, &c1);
    mp_array_get(d, 0, &d1);
    mp_array_destroy(h.c);
    mp_array_destroy(d);
    sem_destroy(&h.started);
    ck_assert_msg(rl == 0 && asleep,
                  "a thread's mp_array_add to an array whose lock the test "
                  "held (mp_array_lock returned %s) did not wait for the "
                  "lock",
                  fl_ret(rl));
    ck_assert_msg(h.r == 0 && rd == 0 && c1 == 101 && d1 == 1005,
                  "a thread's mp_array_add(c, 0, 1) waited for c's lock "
                  "while another thread did mp_array_add(d, 0, 1000) on a "
                  "different array; they returned %s and %s, and c went "
                  "from 100 to %lld, d from 5 to %lld: expected 101 and "
                  "1005. What an add is asked to do must stay its own "
                  "while it waits: a local struct add_arg, not a static "
                  "one that every add in the process shares.",
                  fl_ret(h.r), fl_ret(rd), (long long)c1, (long long)d1);
}

FL_TEST(test_mp_array_update_of_two_arrays_by_two_threads_keeps_each)
{
    int64_t a0 = 100, b0 = 5, a1 = -1, b1 = -1;
    struct two t = {.a = new_array(MP_INT64, 1, &a0, 1),
                    .b = new_array(MP_INT64, 1, &b0, 1)};
    sem_init(&t.inside, 0, 0);
    sem_init(&t.b_done, 0, 0);
    pthread_t th;
    ck_assert_msg(pthread_create(&th, NULL, update_b, &t) == 0,
                  "pthread_create failed");
    int ra = mp_array_update(t.a, 0, add_one_after_b, &t);
    if (ra != 0) // the fn never ran: let the thread go
        sem_post(&t.inside);
    pthread_join(th, NULL);
    mp_array_get(t.a, 0, &a1);
    mp_array_get(t.b, 0, &b1);
    mp_array_destroy(t.a);
    mp_array_destroy(t.b);
    sem_destroy(&t.inside);
    sem_destroy(&t.b_done);
    ck_assert_msg(ra == 0 && t.rb == 0,
                  "mp_array_update returned %s on array a and %s on array "
                  "b, expected 0 and 0",
                  fl_ret(ra), fl_ret(t.rb));
    ck_assert_msg(a1 == 101 && b1 == 6,
                  "one thread added 1 to Array('q', [100]) with "
                  "mp_array_update, its fn waiting; meanwhile another "
                  "thread added 1 to Array('q', [5]), a different array. "
                  "They then held %lld and %lld, expected 101 and 6. The "
                  "copy of the element an update works on must be its "
                  "own: a local variable, not a static or global one that "
                  "every update in the process shares.%s",
                  (long long)a1, (long long)b1,
                  t.waited ? " (And the update of b waited for a's lock: "
                             "each array has its own.)"
                           : "");
    add_while_another_waits();
}

// mp_shm_create with every call of fn failing in turn: each failure is
// reported as -err, and leaves no descriptor, mapping or name behind.
static void
walk_shm_create(const char *fn, int err)
{
    FL_FAULT_WALK (fn, err, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        mp_shm shm;
        memset(&shm, 0, sizeof shm);
        int r = mp_shm_create(&shm, "walk", 8192);
        int fired = fl_fault_fired(fn) > 0;
        char what[128];
        snprintf(what, sizeof what,
                 "mp_shm_create(&shm, \"walk\", 8192) with its call %d of "
                 "%s() failing with %s",
                 k, fn, strerrorname_np(err));
        if (fired) {
            void *buf = shm.buf;
            if (r == 0 && shm.buf != NULL)
                munmap(shm.buf, shm.size);
            fl_expect_int(r, -err, what,
                          "return minus the errno of the call that failed");
            ck_assert_msg(buf == NULL,
                          "%s: it failed, yet set shm.buf to %p. Set the "
                          "buf output only once mmap has succeeded: "
                          "MAP_FAILED is not NULL, and a caller that "
                          "cleans up with mp_shm_close(&shm) when shm.buf "
                          "is set would munmap it",
                          what, buf);
            char want[MP_SHM_NAME_MAX];
            expected_name(want, sizeof want, "walk");
            int left = in_dev_shm(want, NULL);
            shm_unlink(want);
            ck_assert_msg(!left,
                          "%s: it left %s in /dev/shm. Once shm_open has "
                          "made the name, every later failure must "
                          "shm_unlink it (and close the descriptor): one "
                          "fail: label, unwinding in reverse",
                          what, want);
        } else {
            fl_expect_int(r, 0, "mp_shm_create(&shm, \"walk\", 8192)", "");
            mp_shm_close(&shm);
            mp_shm_unlink(&shm);
        }
        fl_expect_no_leak(&s, what);
    }
}

FL_TEST(test_mp_shm_create_leaks_nothing_when_any_call_it_makes_fails)
{
    walk_shm_create("shm_open", EMFILE);
    walk_shm_create("ftruncate", ENOSPC);
    walk_shm_create("mmap", ENOMEM);
    walk_shm_create("mmap", EAGAIN);
}

// mp_shm_open of name with every call of fn failing in turn.
static void
walk_shm_open(const char *name, const char *fn, int err)
{
    FL_FAULT_WALK (fn, err, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        mp_shm t;
        memset(&t, 0, sizeof t);
        int r = mp_shm_open(&t, name);
        int fired = fl_fault_fired(fn) > 0;
        if (r == 0)
            munmap(t.buf, t.size);
        char what[128];
        snprintf(what, sizeof what,
                 "mp_shm_open with its call %d of %s() failing with %s", k, fn,
                 strerrorname_np(err));
        if (fired) {
            fl_expect_int(r, -err, what,
                          "return minus the errno of the call that failed, "
                          "after closing what is open");
            ck_assert_msg(t.buf == NULL,
                          "%s: it failed, yet set shm.buf to %p. Set the "
                          "buf output only once mmap has succeeded: "
                          "MAP_FAILED is not NULL",
                          what, t.buf);
        } else
            fl_expect_int(r, 0, "mp_shm_open of a segment that exists", "");
        fl_expect_no_leak(&s, what);
    }
}

FL_TEST(test_mp_shm_open_leaks_nothing_when_any_call_it_makes_fails)
{
    char name[MP_SHM_NAME_MAX], empty[MP_SHM_NAME_MAX];
    expected_name(name, sizeof name, "walked");
    expected_name(empty, sizeof empty, "empty");
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_msg(fd >= 0 && ftruncate(fd, 8192) == 0, "shm_open failed: %s",
                  strerror(errno));
    close(fd);
    int efd = shm_open(empty, O_RDWR | O_CREAT | O_EXCL, 0600);
    ck_assert_msg(efd >= 0, "shm_open failed: %s", strerror(errno));
    close(efd);
    walk_shm_open(name, "shm_open", EMFILE);
    walk_shm_open(name, "mmap", ENOMEM);
    walk_shm_open(name, "mmap", EAGAIN);
    walk_shm_open(name, "fstat", EIO);
    fl_snapshot s;
    fl_snapshot_take(&s);
    mp_shm t;
    memset(&t, 0, sizeof t);
    int r = mp_shm_open(&t, empty);
    if (r == 0)
        munmap(t.buf, t.size);
    shm_unlink(name);
    shm_unlink(empty);
    fl_expect_int(r, -EINVAL, "mp_shm_open of a segment of 0 bytes",
                  "fstat gives its size: 0 is -EINVAL");
    fl_expect_no_leak(&s, "mp_shm_open of a segment of 0 bytes (which "
                          "must close its descriptor before returning "
                          "-EINVAL)");
}

FL_TEST(test_mp_shm_open_takes_names_up_to_the_limit)
{
    // MP_SHM_NAME_MAX counts the NUL: a name of MP_SHM_NAME_MAX - 1
    // characters fits (the test makes that segment), one of
    // MP_SHM_NAME_MAX or more does not.  The mp_shm is full of junk
    // beforehand, as a caller's stack variable may be: what mp_shm_open
    // stores must not depend on what was there.
    static const size_t lens[] = {MP_SHM_NAME_MAX - 1, MP_SHM_NAME_MAX,
                                  MP_SHM_NAME_MAX + 1};
    static const int want[] = {0, -ENAMETOOLONG, -ENAMETOOLONG};
    for (int k = 0; k < 3; k++) {
        struct {
            mp_shm shm;
            char guard[16];
        } g;
        char name[MP_SHM_NAME_MAX + 2];
        memset(&g, 0x7e, sizeof g);
        memset(name, 'x', lens[k]);
        name[lens[k]] = '\0';
        if (k == 0) { // the run's prefix, so that the grader can sweep it
            int n = snprintf(name, sizeof name, "/%s", fl_ipc_prefix());
            name[n] = 'x';
            int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
            ck_assert_msg(fd >= 0 && ftruncate(fd, 4096) == 0,
                          "shm_open of a %zu-character name failed: %s",
                          lens[k], strerror(errno));
            close(fd);
        }
        name[0] = '/';
        int r = mp_shm_open(&g.shm, name);
        int named = r == 0 && memchr(g.shm.name, '\0', MP_SHM_NAME_MAX) &&
                    strcmp(g.shm.name, name) == 0;
        size_t size = g.shm.size;
        int guarded = g.guard[0] == 0x7e && g.guard[15] == 0x7e;
        int u = r == 0 && named ? mp_shm_unlink(&g.shm) : 0;
        if (r == 0)
            munmap(g.shm.buf, g.shm.size);
        if (k == 0)
            shm_unlink(name);
        char what[96];
        snprintf(what, sizeof what, "mp_shm_open of a name of %zu characters",
                 lens[k]);
        fl_expect_int(r, want[k], what,
                      "shm->name holds MP_SHM_NAME_MAX bytes, its NUL "
                      "included: refuse a name whose strlen is "
                      ">= MP_SHM_NAME_MAX, and only those");
        if (r != 0)
            continue;
        ck_assert_msg(named && guarded,
                      "%s: shm->name %s. Copy the whole name, its NUL "
                      "included (strcpy, or memcpy of strlen + 1 bytes), "
                      "into shm->name and nothing past it",
                      what,
                      !guarded ? "was copied past the end of the struct"
                               : "is not that name, ended by a NUL: what "
                                 "the struct held before shows through");
        ck_assert_msg(size == 4096 && u == 0,
                      "%s: shm->size is %zu (expected 4096, the segment's "
                      "size from fstat), and mp_shm_unlink then returned %s "
                      "(expected 0)",
                      what, size, fl_ret(u));
    }
}

// A base that makes the name longer than shm->name holds is refused, and
// no segment is made under a name cut short.
// mp_shm_create with a base of len 'b's; 0 or its error.  A segment it
// made is removed again.
static int
create_with_base_of(size_t len)
{
    char base[MP_SHM_NAME_MAX + 1];
    memset(base, 'b', len);
    base[len] = '\0';
    mp_shm s;
    memset(&s, 0, sizeof s);
    int r = mp_shm_create(&s, base, 4096);
    if (r == 0) {
        munmap(s.buf, s.size);
        shm_unlink(s.name);
    }
    return r;
}

// The name is "/" + prefix + base: at MP_SHM_NAME_MAX - 1 characters it
// fits shm->name with its NUL, one more does not, nor does a base of
// MP_SHM_NAME_MAX characters alone.
FL_TEST(test_mp_shm_create_refuses_a_base_too_long_for_the_name)
{
    size_t fits = MP_SHM_NAME_MAX - 2 - strlen(fl_ipc_prefix());
    int at = create_with_base_of(fits), past = create_with_base_of(fits + 1);
    int r = create_with_base_of(MP_SHM_NAME_MAX);
    fl_expect_int(r, -ENAMETOOLONG,
                  "mp_shm_create with a base of MP_SHM_NAME_MAX characters",
                  r == 0 ? "it made a segment under a name cut short: check "
                           "mp_ipc_name's result and return its "
                           "-ENAMETOOLONG before shm_open"
                         : "the name does not fit in shm->name: return "
                           "mp_ipc_name's -ENAMETOOLONG");
    fl_expect_int(past, -ENAMETOOLONG,
                  "mp_shm_create with a base one character too long for "
                  "shm->name",
                  "the name and its NUL need MP_SHM_NAME_MAX + 1 bytes");
    fl_expect_int(at, 0,
                  "mp_shm_create with a base that makes a name of exactly "
                  "MP_SHM_NAME_MAX - 1 characters",
                  "with its NUL the name fills shm->name exactly, and fits: "
                  "give mp_ipc_name all of sizeof shm->name");
}

FL_TEST(test_mp_shm_create_makes_a_segment_only_its_owner_may_use)
{
    mp_shm s;
    memset(&s, 0, sizeof s);
    int r = mp_shm_create(&s, "private", 4096);
    ck_assert_msg(r == 0, "mp_shm_create returned %s", fl_ret(r));
    char path[MP_SHM_NAME_MAX + 16];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm%s", s.name);
    int ok = stat(path, &st) == 0;
    cleanup(&s, "private");
    ck_assert_msg(ok, "stat %s failed: %s", path, strerror(errno));
    ck_assert_msg((st.st_mode & 0777) == 0600,
                  "the segment has mode %04o, expected 0600: shm_open's "
                  "third argument is the mode, and anything wider lets "
                  "every user on the machine read or write your memory",
                  (unsigned)(st.st_mode & 0777));
}

static const fl_case cases[] = {
    FL_CASE(test_mp_typecode_size_gives_each_types_size, 5),
    FL_CASE(test_mp_array_create_copies_the_initial_values, 5),
    FL_CASE(test_mp_array_create_rejects_bad_arguments, 5),
    FL_CASE(test_mp_array_create_refuses_a_size_that_overflows, 5),
    FL_CASE(test_mp_array_calls_reject_a_null_array, 5),
    FL_CASE(test_mp_array_set_in_a_child_is_seen_by_the_parent, 5),
    FL_CASE(test_mp_array_set_refuses_an_index_past_the_end, 5),
    FL_CASE(test_mp_array_get_refuses_an_index_past_the_end, 5),
    FL_CASE(test_mp_array_update_refuses_an_index_past_the_end, 5),
    FL_CASE(test_mp_array_calls_reject_a_null_value_pointer, 5),
    FL_CASE(test_mp_array_calls_let_go_of_the_lock_when_they_fail, 5),
    FL_CASE(test_mp_array_set_stores_doubles_as_a_c_array_of_double, 5),
    FL_CASE(test_mp_array_set_keeps_all_64_bits_of_an_int64, 5),
    FL_CASE(test_mp_array_add_adds_in_the_arrays_type, 5),
    FL_CASE(test_mp_array_destroy_unmaps_the_memory, 5),
    FL_CASE(test_mp_array_lock_keeps_other_processes_out, 10),
    FL_CASE(test_mp_array_set_waits_while_another_process_holds_the_lock, 10),
    FL_CASE(test_mp_array_lock_can_be_taken_again_by_its_holder, 5),
    FL_CASE(test_mp_array_calls_copy_before_they_let_go_of_the_lock, 5),
    FL_CASE(test_mp_array_lock_is_refused_on_a_raw_array, 5),
    FL_CASE(test_mp_value_set_after_get_loses_updates_without_a_lock, 15),
    FL_CASE(test_mp_value_set_after_get_loses_updates_even_with_a_lock_on_each,
            15),
    FL_CASE(test_mp_value_update_holds_the_lock_from_read_to_write, 15),
    FL_CASE(test_mp_value_add_is_exact_from_8_processes, 15),
    FL_CASE(test_mp_array_data_takes_atomic_increments_from_8_processes, 15),
    FL_CASE(test_mp_shm_create_names_the_segment_with_the_run_prefix, 5),
    FL_CASE(test_mp_shm_create_sizes_the_segment_before_mapping_it, 5),
    FL_CASE(test_mp_shm_create_refuses_a_name_that_exists, 5),
    FL_CASE(test_mp_shm_create_rejects_bad_arguments, 5),
    FL_CASE(test_mp_shm_create_leaves_no_name_when_it_fails, 5),
    FL_CASE(test_mp_shm_create_is_seen_by_an_unrelated_process, 5),
    FL_CASE(test_mp_shm_open_maps_a_segment_another_process_made, 5),
    FL_CASE(test_mp_shm_open_rejects_names_it_cannot_open, 5),
    FL_CASE(test_mp_shm_close_unmaps_but_keeps_the_name, 5),
    FL_CASE(test_mp_shm_unlink_removes_the_name_but_not_the_mapping, 5),
    FL_CASE(test_mp_array_create_refuses_a_size_whose_header_overflows, 5),
    FL_CASE(test_mp_array_create_reports_the_errno_of_a_failed_mmap, 5),
    FL_CASE(test_mp_array_create_leaks_nothing_when_its_lock_cannot_be_made, 5),
    FL_CASE(test_mp_array_destroy_unmaps_every_page, 5),
    FL_CASE(test_mp_array_update_changes_only_its_element, 5),
    FL_CASE(test_mp_array_calls_reach_the_last_element_at_a_page_edge, 5),
    FL_CASE(test_mp_array_update_of_two_arrays_by_two_threads_keeps_each, 5),
    FL_CASE(test_mp_shm_create_leaks_nothing_when_any_call_it_makes_fails, 5),
    FL_CASE(test_mp_shm_open_leaks_nothing_when_any_call_it_makes_fails, 5),
    FL_CASE(test_mp_shm_open_takes_names_up_to_the_limit, 5),
    FL_CASE(test_mp_shm_create_refuses_a_base_too_long_for_the_name, 5),
    FL_CASE(test_mp_array_get_waits_while_another_process_holds_the_lock, 10),
    FL_CASE(test_mp_shm_create_makes_a_segment_only_its_owner_may_use, 5),
};

FL_MAIN_INIT("08_shared_memory", cases, init)
