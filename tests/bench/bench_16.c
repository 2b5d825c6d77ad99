// bench_16.c - make bench: lesson 16's executor, submit + result.
//
// `bench_16 submit_result N` submits N trivial calls (x * x), one after
// the other, each waited for with mp_future_result, and prints the round
// trips per second: the C side of Python's ex.submit(fn, x).result().  The
// executor is started before the clock starts and freed after it stops,
// as bench.py does with ProcessPoolExecutor: what is timed is the work,
// not the forks.  The limit beside it is bench_09's raw_roundtrip, a
// 16-byte request and reply over a bare socketpair.
#include "futures.h"
#include "bench.h"

static int
square(long x, long *result)
{
    *result = x * x;
    return 0;
}

static double
submit_result(long n)
{
    mp_executor *ex;
    if (mp_executor_create(&ex, 0) < 0)
        return -1;
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        mp_future *f;
        long v = -1;
        if (mp_executor_submit(ex, square, i, &f) < 0)
            return -1;
        int r = mp_future_result(f, -1, &v);
        mp_future_free(f);
        if (r != 0 || v != i * i)
            return -1;
    }
    double t = bench_now() - t0;
    mp_executor_free(ex);
    return t;
}

int
main(int argc, char **argv)
{
    static const struct bench_op ops[] = {
        {"submit_result", submit_result},
        {NULL, NULL},
    };
    return bench_main(argc, argv, ops, "submit_result");
}
