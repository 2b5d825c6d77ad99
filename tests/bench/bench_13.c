// bench_13.c - make bench: lesson 13's parallel map and fetcher, by workers.
//
// `bench_13 OP N` runs one measurement and prints its rate per second:
//   cpu_wK     primes in blocks 0..N-1 (mp_primes_in_block, primes below
//              N * 1000) over K worker processes, chunks of 1 block;
//              rate = blocks per second.  N = 1000: about 70 ms at K = 1.
//   static_wK  the same with ONE chunk per worker (chunk = N / K rounded
//              up): a static split, which the uneven blocks unbalance.
//   thr_wK     the same as cpu_wK over K threads (mp_thread_map).
//   raw_wK     the same N blocks dealt out among K forked processes that
//              share nothing and say nothing (block i to process i mod K):
//              no counter, no results, the speedup the machine allows.
//   pstart_wK  N maps of K items of a kernel that returns at once, over K
//              worker processes: what starting and reaping K workers
//              costs; rate = maps per second.
//   tstart_wK  the same over K threads.
//   io_wK      N / 25 URLs (at least 1) fetched by K worker processes
//              from a server on 127.0.0.1 that waits 10 ms before each
//              answer (/page/1: 1000 bytes, tests/13_capstone/
//              slow_server.h); rate = URLs per second.  N = 1000:
//              about 0.4 s at K = 1.
// K is any number from 1 to 64.  Speedup = rate(K) / rate(1), measured at
// the same N.  The work is checked: a wrong result exits 1, printing
// nothing.  The server of io_wK is started before the clock and stopped
// after it.
#include "capstone.h"
#include "bench.h"
#include "../13_capstone/slow_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define IO_DELAY_MS 10 // the server's wait before each answer

/* ------------------------------------------------------------ cpu, thr */

// Primes in blocks 0..n-1 over k workers (threads if thr), chunk given
// (0: one chunk per worker); the rate in blocks per second, or -1.
static double
cpu(long n, int k, int thr, int one_chunk_each)
{
    long *in = malloc((size_t)n * sizeof *in);
    long *out = malloc((size_t)n * sizeof *out);
    if (in == NULL || out == NULL)
        return -1;
    for (long i = 0; i < n; i++)
        in[i] = i;
    size_t chunk = one_chunk_each ? (size_t)((n + k - 1) / k) : 1;
    double t0 = bench_now();
    int r =
        thr ? mp_thread_map(k, mp_primes_in_block, in, out, (size_t)n, chunk)
            : mp_par_map(k, mp_primes_in_block, in, out, (size_t)n, chunk);
    double t = bench_now() - t0;
    // Check a sample against the serial kernel: first, middle, last.
    long at[3] = {0, n / 2, n - 1};
    for (int j = 0; j < 3 && r == 0; j++)
        if (out[at[j]] != mp_primes_in_block(at[j]))
            r = -1;
    free(in);
    free(out);
    return r == 0 ? n / t : -1;
}

/* ----------------------------------------------------------------- raw */

// What the children of raw() compute: stored, so that it is computed.
static volatile long sink;

// K children, each counting its share of blocks 0..n-1, nothing said to
// anyone; the rate in blocks per second, or -1.
static double
raw(long n, int k)
{
    double t0 = bench_now();
    for (int w = 0; w < k; w++) {
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            long sum = 0;
            for (long i = w; i < n; i += k)
                sum += mp_primes_in_block(i);
            sink = sum;
            _exit(0);
        }
    }
    int status, bad = 0;
    for (int w = 0; w < k; w++)
        if (wait(&status) < 0 || status != 0)
            bad = 1;
    return bad ? -1 : n / (bench_now() - t0);
}

/* ------------------------------------------------------ pstart, tstart */

static long
trivial(long x)
{
    return x + 1;
}

// n maps of k items, each item its own chunk; the rate in maps per second.
static double
start_cost(long n, int k, int thr)
{
    long in[64], out[64];
    for (int i = 0; i < k; i++)
        in[i] = i;
    double t0 = bench_now();
    for (long j = 0; j < n; j++) {
        int r = thr ? mp_thread_map(k, trivial, in, out, (size_t)k, 1)
                    : mp_par_map(k, trivial, in, out, (size_t)k, 1);
        if (r != 0 || out[k - 1] != k)
            return -1;
    }
    return n / (bench_now() - t0);
}

/* ------------------------------------------------------------------ io */

// Fetch n / 25 URLs over k workers; the rate in URLs per second, or -1.
static double
io(long n, int k)
{
    long count = n / 25 > 0 ? n / 25 : 1;
    int port, stop;
    pid_t server = slow_server_start(IO_DELAY_MS, &port, &stop);
    char(*bufs)[64] = malloc((size_t)count * sizeof *bufs);
    const char **urls = malloc((size_t)count * sizeof *urls);
    mp_fetch_result *res = malloc((size_t)count * sizeof *res);
    if (server < 0 || bufs == NULL || urls == NULL || res == NULL)
        return -1;
    for (long i = 0; i < count; i++) {
        snprintf(bufs[i], sizeof bufs[i], "http://127.0.0.1:%d/page/1", port);
        urls[i] = bufs[i];
    }
    double t0 = bench_now();
    int r = mp_fetch_all(urls, (size_t)count, k, res);
    double t = bench_now() - t0;
    for (long i = 0; i < count && r == 0; i++)
        if (res[i].status != 200 || res[i].bytes != SLOW_PAGE_UNIT)
            r = -1;
    close(stop);
    waitpid(server, NULL, 0);
    free(bufs);
    free(urls);
    free(res);
    return r == 0 ? count / t : -1;
}

// The OPs carry K in their name: parsed here, not through bench_main.
int
main(int argc, char **argv)
{
    const char *usage =
        "cpu_wK|static_wK|thr_wK|raw_wK|pstart_wK|tstart_wK|io_wK";
    char op[16];
    int k = 0;
    long n = bench_n(argc, argv);
    if (n < 1 || sscanf(argv[1], "%15[a-z]_w%d", op, &k) != 2 || k < 1 ||
        k > 64)
        return bench_usage(argv, usage);
    double rate;
    if (strcmp(op, "cpu") == 0)
        rate = cpu(n, k, 0, 0);
    else if (strcmp(op, "static") == 0)
        rate = cpu(n, k, 0, 1);
    else if (strcmp(op, "thr") == 0)
        rate = cpu(n, k, 1, 0);
    else if (strcmp(op, "raw") == 0)
        rate = raw(n, k);
    else if (strcmp(op, "pstart") == 0)
        rate = start_cost(n, k, 0);
    else if (strcmp(op, "tstart") == 0)
        rate = start_cost(n, k, 1);
    else if (strcmp(op, "io") == 0)
        rate = io(n, k);
    else
        return bench_usage(argv, usage);
    return bench_report(argv, rate);
}
