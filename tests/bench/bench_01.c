// bench_01.c - make bench: lesson 01's reference code, and the OS limit.
//
// `bench_01 OP N` runs OP N times and prints one line: the rate in
// operations per second.  start_join is mp_fork_call + mp_waitpid of a
// child that returns at once; raw_fork is the same with fork, _exit and
// waitpid called directly: the limit the lesson's code is measured by.
#include "fork.h"
#include "bench.h"

#include <sys/wait.h>
#include <unistd.h>

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
    for (long i = 0; i < n; i++)
        if (mp_waitpid(mp_fork_call(noop, NULL)) != 0)
            return -1;
    return bench_now() - t0;
}

static double
raw_fork(long n)
{
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(0);
        if (pid < 0 || waitpid(pid, NULL, 0) != pid)
            return -1;
    }
    return bench_now() - t0;
}

int
main(int argc, char **argv)
{
    static const struct bench_op ops[] = {
        {"start_join", start_join},
        {"raw_fork", raw_fork},
        {NULL, NULL},
    };
    return bench_main(argc, argv, ops, "start_join|raw_fork");
}
