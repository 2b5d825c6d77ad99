// bench_10.c - make bench: lesson 10's daemonic child, started and reaped.
//
// `bench_10 daemon_start_join N` starts N daemonic children, one after the
// other, through mp_start(target, arg, 1), reaps each with waitpid and
// prints the rate in starts per second: the C side of Python's
// Process(target=noop, daemon=True).start(); join().  The target returns
// at once, with the exit status its arg holds (0).  A status other than 0
// exits 1, printing nothing: 1 (MP_EXIT_ORPHANED) would mean that the
// child found its parent gone and never ran the target.  The limit beside
// it is bench_01 raw_fork: fork, _exit and waitpid called directly.
#include "daemons.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
noop(void *arg)
{
    return *(const int *)arg;
}

// n daemonic children started and reaped; the rate per second, or -1.
static double
daemon_start_join(long n)
{
    int zero = 0, status;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        pid_t pid = mp_start(noop, &zero, 1);
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            return -1;
    }
    return n / (now() - t0);
}

int
main(int argc, char **argv)
{
    long n = argc == 3 ? atol(argv[2]) : 0;
    if (argc != 3 || n < 1 || strcmp(argv[1], "daemon_start_join") != 0) {
        fprintf(stderr, "usage: bench_10 daemon_start_join N\n");
        return 2;
    }
    double rate = daemon_start_join(n);
    if (rate < 0) {
        fprintf(stderr,
                "bench_10 %s: a start failed, or a child did not "
                "exit with 0\n",
                argv[1]);
        return 1;
    }
    printf("%.0f\n", rate);
    return 0;
}
