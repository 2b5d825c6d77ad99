// bench.h - what the make bench programs share: the clock, `OP N`, the rate.
//
// Each tests/bench/bench_NN.c is one program, linked with lesson NN's
// solution, that bench.sh runs as `bench_NN OP N`.  The contract is the same
// for all of them, so it is written once, here:
//
//  - OP names what to measure and N how many times to do it (N >= 1);
//  - on success the program prints one line on stdout, the rate as a whole
//    number (`printf("%.0f\n", rate)`), and exits 0;
//  - bad usage (no N, N < 1, an OP it does not know) prints a usage line on
//    stderr and exits 2;
//  - work that failed or whose result was wrong prints a message on stderr,
//    nothing on stdout, and exits 1: a wrong answer fast is no answer.
//
// A program lists its operations in a table of struct bench_op and hands it
// to bench_main.  Each operation starts and stops the clock itself, with
// bench_now, so that it alone decides what is measured: bench_09 starts its
// pool before the clock and joins it after, bench_05 times the whole
// exchange, the fork and the reaping included.  A program whose OPs carry a
// parameter (bench_09's and bench_13's cpu_wK) parses them itself and uses
// the smaller pieces: bench_n, bench_usage and bench_report.
//
// Included by one .c per program: everything is `static inline`, so that a
// program that does not use a function is not warned about it.
#ifndef FORKLINGS_BENCH_H
#define FORKLINGS_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/// One operation a program measures: `bench_NN name N` calls run(N).
struct bench_op {
    const char *name;      ///< OP on the command line
    double (*run)(long n); ///< do the work n times: the seconds that took,
                           ///< or < 0 if the work failed or was wrong
};

/**
 * @brief Now, in seconds, on CLOCK_MONOTONIC: subtract two of them.
 * @return seconds since an arbitrary start, to the nanosecond.
 */
static inline double
bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/**
 * @brief The program's name for its messages: argv[0] without its directory.
 * @param argv main's argv.
 * @return "bench_NN", as bench.sh calls it.
 */
static inline const char *
bench_prog(char **argv)
{
    if (argv[0] == NULL) // argc == 0: exec gave it no name
        return "bench";
    const char *slash = strrchr(argv[0], '/');
    return slash != NULL ? slash + 1 : argv[0];
}

/**
 * @brief N, from `bench_NN OP N`.
 * @param argc main's argc.
 * @param argv main's argv.
 * @return N, if there are exactly two arguments and N is a whole number
 *         >= 1; 0 otherwise.
 */
static inline long
bench_n(int argc, char **argv)
{
    if (argc != 3)
        return 0;
    char *end;
    long n = strtol(argv[2], &end, 10);
    return *end == '\0' && n >= 1 ? n : 0;
}

/**
 * @brief Say how to call the program, on stderr.
 * @param argv main's argv.
 * @param ops  the OPs it knows, e.g. "queue_stream|raw_pipe".
 * @return 2, the exit code for bad usage.
 */
static inline int
bench_usage(char **argv, const char *ops)
{
    fprintf(stderr, "usage: %s %s N\n", bench_prog(argv), ops);
    return 2;
}

/**
 * @brief Print the rate on stdout, or say that the work failed, on stderr.
 * @param argv main's argv (argv[1] is the OP).
 * @param rate operations per second; < 0: the work failed or was wrong.
 * @return 0 when the rate was printed, 1 when the work failed.
 */
static inline int
bench_report(char **argv, double rate)
{
    if (rate < 0) {
        fprintf(stderr, "%s %s: the work failed or was wrong\n",
                bench_prog(argv), argv[1]);
        return 1;
    }
    printf("%.0f\n", rate);
    return 0;
}

/**
 * @brief The whole main of a program with a table of operations: run OP
 *        N times and report its rate, N / the seconds it took.
 * @param argc  main's argc.
 * @param argv  main's argv: `bench_NN OP N`.
 * @param ops   the operations, ended by one whose name is NULL.
 * @param usage the OPs, for the usage line, e.g. "queue_stream|raw_pipe".
 * @return main's exit code: 0, the rate printed; 1, the work failed or
 *         was wrong; 2, bad usage or an OP that is not in ops.
 */
static inline int
bench_main(int argc, char **argv, const struct bench_op *ops, const char *usage)
{
    long n = bench_n(argc, argv);
    for (; n > 0 && ops->name != NULL; ops++)
        if (strcmp(argv[1], ops->name) == 0) {
            double t = ops->run(n);
            return bench_report(argv, t < 0 ? -1 : n / t);
        }
    return bench_usage(argv, usage);
}

#endif
