// bench_01.c - make bench: lesson 01's reference code, and the OS limit.
//
// `bench_01 OP N` runs OP N times and prints one line: the rate in
// operations per second.  start_join is mp_fork_call + mp_waitpid of a
// child that returns at once; raw_fork is the same with fork, _exit and
// waitpid called directly: the limit the lesson's code is measured by.
#include "fork.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int
noop(void *arg)
{
    (void)arg;
    return 0;
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    long n = atol(argv[2]);
    double t0 = now();
    for (long i = 0; i < n; i++) {
        if (strcmp(argv[1], "start_join") == 0) {
            if (mp_waitpid(mp_fork_call(noop, NULL)) != 0)
                return 1;
        } else if (strcmp(argv[1], "raw_fork") == 0) {
            pid_t pid = fork();
            if (pid == 0)
                _exit(0);
            if (pid < 0 || waitpid(pid, NULL, 0) != pid)
                return 1;
        } else {
            return 2;
        }
    }
    printf("%.0f\n", n / (now() - t0));
    return 0;
}
