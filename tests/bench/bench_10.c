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
#include "bench.h"

#include <sys/wait.h>

static int
noop(void *arg)
{
    return *(const int *)arg;
}

// n daemonic children started and reaped; the seconds that took, or -1.
static double
daemon_start_join(long n)
{
    int zero = 0, status;
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        pid_t pid = mp_start(noop, &zero, 1);
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            return -1;
    }
    return bench_now() - t0;
}

int
main(int argc, char **argv)
{
    static const struct bench_op ops[] = {
        {"daemon_start_join", daemon_start_join},
        {NULL, NULL},
    };
    return bench_main(argc, argv, ops, "daemon_start_join");
}
