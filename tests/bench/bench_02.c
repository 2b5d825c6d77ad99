// bench_02.c - make bench: lesson 02's Process, started and joined.
//
// `bench_02 start_join N` starts and joins N processes whose target returns
// at once, through mp_process_start and mp_process_join, and prints the
// rate per second: the C side of Python's Process(target).start(); join().
#include "process.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int
noop(void *arg)
{
    (void)arg;
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "start_join") != 0)
        return 2;
    long n = atol(argv[2]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < n; i++) {
        mp_process p;
        if (mp_process_init(&p, noop, NULL, NULL) < 0 ||
            mp_process_start(&p) < 0 || mp_process_join(&p, -1) < 0 ||
            mp_process_exitcode(&p) != 0)
            return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.0f\n", n / (t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9));
    return 0;
}
