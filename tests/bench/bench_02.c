// bench_02.c - make bench: lesson 02's Process, started and joined.
//
// `bench_02 start_join N` starts and joins N processes whose target returns
// at once, through mp_process_start and mp_process_join, and prints the
// rate per second: the C side of Python's Process(target).start(); join().
#include "process.h"
#include "bench.h"

static int
noop(void *arg)
{
    (void)arg;
    return 0;
}

static double
start_join(long n)
{
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        mp_process p;
        if (mp_process_init(&p, noop, NULL, NULL) < 0 ||
            mp_process_start(&p) < 0 || mp_process_join(&p, -1) < 0 ||
            mp_process_exitcode(&p) != 0)
            return -1;
    }
    return bench_now() - t0;
}

int
main(int argc, char **argv)
{
    static const struct bench_op ops[] = {
        {"start_join", start_join},
        {NULL, NULL},
    };
    return bench_main(argc, argv, ops, "start_join");
}
