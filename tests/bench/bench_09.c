// bench_09.c - make bench: lesson 09's Pool: map, apply_async, CPU speedup.
//
// `bench_09 OP N` prints one rate per run, as the other benchmarks do.  The
// pool is started before the clock starts and joined after it stops, as
// bench.py does with Python's Pool: what is timed is the work, not the
// forks.
//   map_default  map of N trivial tasks (x * x), default chunks, in maps
//                of a million items at most: tasks/s
//   map_chunk1   the same with chunksize 1: one message each way per task
//   apply_async  N apply_async + get round trips, one after the other: /s
//   raw_roundtrip  N 16-byte requests and replies over a raw socketpair to
//                a child: the OS's limit for apply_async's round trip
//   cpu_wK       K = 1..4 workers: map of N CPU-bound work items, blocks
//                0..N-1 of lesson 13's kernel, chunks of one block, as
//                bench_13 and bench.py do: blocks/s.  The speedup over
//                cpu_w1 is the point: bench_13 measures it for lesson 13's
//                capstone; this stands in until that is built.
//   raw_wK       the same N blocks dealt out among K forked processes, no
//                pool, no messages: the speedup the machine itself allows.
#define _DEFAULT_SOURCE // MAP_ANONYMOUS: not POSIX
#include "pools.h"
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int
square(long x, long *result)
{
    *result = x * x;
    return 0;
}

static int
is_prime(long x)
{
    if (x < 2)
        return 0;
    if (x % 2 == 0)
        return x == 2;
    for (long d = 3; d * d <= x; d += 2)
        if (x % d == 0)
            return 0;
    return 1;
}

// One CPU-bound work item: count the primes in block b, the numbers from
// b * 1000 up to (b + 1) * 1000, by trial division.  Lesson 13's kernel,
// mp_primes_in_block, line for line, and bench.py's: later blocks cost
// more, so N blocks are the same work whoever counts them.
static int
primes_in_block(long b, long *count)
{
    long c = 0;
    for (long x = b * 1000; x < (b + 1) * 1000; x++)
        c += is_prime(x);
    *count = c;
    return 0;
}

// The items of one map: 0, 1, 2, ..., at most MAX_MAP of them.
#define MAX_MAP 1000000L

// The time mp_pool_map takes over n items with nworkers workers, or -1: in
// maps of MAX_MAP items (8 MB each way) at most, as bench.py does, so that
// a large n measures the pool, not how fast memory is past the caches.
// The pool first: items made before the fork would be copy-on-write pages
// shared with the workers, and each result written would copy one.
static double
timed_map(long n, int nworkers, mp_task fn, size_t chunksize)
{
    mp_pool *pool;
    if (mp_pool_create(&pool, nworkers) < 0)
        return -1;
    long m = n < MAX_MAP ? n : MAX_MAP;
    long *v = malloc((size_t)m * sizeof *v);
    if (v == NULL)
        return -1;
    int rc = 0;
    double t = 0;
    for (long done = 0; rc == 0 && done < n; done += m) {
        long count = n - done < m ? n - done : m;
        for (long i = 0; i < count; i++)
            v[i] = i;
        double t0 = bench_now();
        rc = mp_pool_map(pool, fn, v, v, (size_t)count, chunksize, NULL);
        t += bench_now() - t0;
        if (fn == square && v[count - 1] != (count - 1) * (count - 1))
            rc = -1;
    }
    mp_pool_close(pool);
    mp_pool_join(pool);
    mp_pool_destroy(pool);
    free(v);
    return rc == 0 ? t : -1;
}

static double
map_default(long n)
{
    return timed_map(n, 0, square, 0);
}

static double
map_chunk1(long n)
{
    return timed_map(n, 0, square, 1);
}

static double
apply_async(long n)
{
    mp_pool *pool;
    if (mp_pool_create(&pool, 0) < 0)
        return -1;
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        mp_result *res;
        long v;
        if (mp_pool_apply_async(pool, square, i, NULL, NULL, NULL, &res) ||
            mp_result_get(res, -1, &v) != 0 || v != i * i ||
            mp_result_free(res) != 0)
            return -1;
    }
    double t = bench_now() - t0;
    mp_pool_close(pool);
    mp_pool_join(pool);
    mp_pool_destroy(pool);
    return t;
}

// A child that answers each 16-byte request with 16 bytes, as a worker
// answers a one-item chunk.  MSG_WAITALL: recv returns the whole request.
static double
raw_roundtrip(long n)
{
    int sv[2];
    long msg[2] = {0, 0};
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(sv[0]);
        while (recv(sv[1], msg, sizeof msg, MSG_WAITALL) == sizeof msg)
            if (send(sv[1], msg, sizeof msg, 0) != sizeof msg)
                _exit(1);
        _exit(0);
    }
    close(sv[1]); // the child sees EOF when we close sv[0]
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        if (send(sv[0], msg, sizeof msg, 0) != sizeof msg ||
            recv(sv[0], msg, sizeof msg, MSG_WAITALL) != sizeof msg)
            return -1;
    double t = bench_now() - t0;
    close(sv[0]);
    int status;
    return waitpid(pid, &status, 0) == pid && status == 0 ? t : -1;
}

// What the children of raw() compute: stored, so that it is computed.
static volatile long sink;

// K children, each counting its share of the n items, nothing said to
// anyone: the speedup that the cores (shared or not) allow this kernel.
static double
raw(long n, int k)
{
    double t0 = bench_now();
    for (int w = 0; w < k; w++) {
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            long sum = 0, c;
            for (long i = w; i < n; i += k)
                sum += primes_in_block(i, &c) == 0 ? c : 0;
            sink = sum;
            _exit(0);
        }
    }
    int status, bad = 0;
    for (int w = 0; w < k; w++)
        if (wait(&status) < 0 || status != 0)
            bad = 1;
    return bad ? -1 : bench_now() - t0;
}

// cpu_wK and raw_wK carry K in their name; the other OPs are in ops.
int
main(int argc, char **argv)
{
    static const struct bench_op ops[] = {
        {"map_default", map_default},
        {"map_chunk1", map_chunk1},
        {"apply_async", apply_async},
        {"raw_roundtrip", raw_roundtrip},
        {NULL, NULL},
    };
    long n = bench_n(argc, argv);
    int k = 0;
    double t;
    if (n > 0 && sscanf(argv[1], "cpu_w%d", &k) == 1 && k > 0)
        t = timed_map(n, k, primes_in_block, 1);
    else if (n > 0 && sscanf(argv[1], "raw_w%d", &k) == 1 && k > 0)
        t = raw(n, k);
    else
        return bench_main(argc, argv, ops,
                          "map_default|map_chunk1|apply_async|raw_roundtrip|"
                          "cpu_wK|raw_wK");
    return bench_report(argv, t < 0 ? -1 : n / t);
}
