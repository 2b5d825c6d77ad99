// bench_09.c - make bench: lesson 09's Pool: map and apply_async.
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
// The CPU-bound speedup is bench_13's: lesson 13 maps a CPU-bound kernel.
#include "pools.h"
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int
square(long x, long *result)
{
    *result = x * x;
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
    return bench_main(argc, argv, ops,
                      "map_default|map_chunk1|apply_async|raw_roundtrip");
}
