// bench_12.c - make bench: lesson 12's error record, from a worker to its
// parent.
//
// `bench_12 error_record N` does this N times, one after the other, and
// prints the rate in workers per second: make a pipe, start one worker
// with mp_run_worker whose task fails as the lesson's worker 2 does ("An
// error occurred in worker 2."), and mp_collect its error record and its
// exit code.  Each pipe serves one worker: mp_collect reads to EOF, which
// comes when the worker, the last writer, has ended.  The C side of a
// Python Process whose target raises, catches the exception in the child
// and sends str(e) through a Pipe, which the parent receives before it
// joins.  Each record's index and text and each exit code (1) are
// checked; a wrong one exits 1, printing nothing.  The limit beside it is
// bench_01 raw_fork: fork, _exit and waitpid called directly.
#include "errors.h"
#include "bench.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define INDEX 2
#define MESSAGE "An error occurred in worker 2."

// Python's `raise ValueError(f"An error occurred in worker {num}.")`.
static int
fails(int index, void *arg, char *msg, size_t cap)
{
    (void)arg;
    snprintf(msg, cap, "An error occurred in worker %d.", index);
    return -1;
}

// One worker started, its record and exit code collected: 0 if both are
// what the failing task leaves, -1 otherwise.  The worker is reaped
// either way.
static int
error_record(void)
{
    int fds[2], code;
    mp_error err;
    if (pipe(fds) < 0)
        return -1;
    pid_t pid = mp_run_worker(fails, INDEX, NULL, fds[1]);
    close(fds[1]); // or EOF never comes
    int n = pid > 0 ? mp_collect(fds[0], &pid, 1, &code, &err, 1) : -1;
    close(fds[0]);
    return n == 1 && code == 1 && err.index == INDEX &&
                   strcmp(err.message, MESSAGE) == 0
               ? 0
               : -1;
}

// n workers, one after the other; the seconds they took, or -1.
static double
error_records(long n)
{
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        if (error_record() < 0)
            return -1;
    return bench_now() - t0;
}

int
main(int argc, char **argv)
{
    static const struct bench_op ops[] = {
        {"error_record", error_records},
        {NULL, NULL},
    };
    return bench_main(argc, argv, ops, "error_record");
}
