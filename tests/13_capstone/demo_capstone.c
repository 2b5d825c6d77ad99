// demo_capstone.c - the classic "parallel work" examples, with the lesson's
// functions: primes counted by 1, 2 and 4 workers, and "parallel web
// scraping" against a slow server on 127.0.0.1.
//
// The Python originals:
//
//     with Pool(4) as pool:
//         print(sum(pool.map(primes_in_block, range(200))))
//
//     def scrape(url):
//         r = requests.get(url)
//         return url, r.status_code
//
//     with Pool(processes=3) as pool:
//         for url, status in pool.map(scrape, urls):
//             print(url, status)
//
// Where they mislead.  One URL that raises (a refused connection, a DNS
// error) loses the whole map: pool.map re-raises the first exception and
// the other results are gone; here each URL gets its own status or
// -errno.  requests.get has no timeout unless given one, so one server
// that never answers holds a worker for ever.  And processes are the
// wrong tool for work that waits: a worker waiting for a server uses no
// CPU, so 8 workers on 2 cores fetch 8 slow pages about 8 times as fast
// as 1, and a Python thread waiting for a socket releases the GIL, so
// ThreadPoolExecutor serves such work too.  The timings go to stderr:
// they change in every run.
#include "capstone.h"
#include "slow_server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCKS 200   // primes below BLOCKS * MP_BLOCK
#define PAGES 8      // pages to fetch
#define DELAY_MS 100 // how long the server waits before each answer

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
failed(const char *what, int r)
{
    fprintf(stderr, "%s: %s%s\n", what, strerror(-r),
            r == -ENOSYS ? ": fill in the TODO(13)s in "
                           "lessons/13_capstone/capstone.c first"
                         : "");
    return 1;
}

/* ---------------------------------------------------------------- primes */

static int
count_primes(void)
{
    long in[BLOCKS], out[BLOCKS], serial = 0;
    double t0 = now_ms();
    for (int i = 0; i < BLOCKS; i++) {
        in[i] = i;
        serial += mp_primes_in_block(i);
    }
    fprintf(stderr, "(serial: %.0f ms", now_ms() - t0);
    printf("primes below %d, in %d blocks of %d:\n", BLOCKS * MP_BLOCK, BLOCKS,
           MP_BLOCK);
    printf("  %-13s %ld\n", "serial", serial);
    struct {
        int k, threads;
        const char *name;
    } runs[] = {{1, 0, "1 process"},
                {2, 0, "2 processes"},
                {4, 0, "4 processes"},
                {4, 1, "4 threads"}};
    for (int r = 0; r < 4; r++) {
        t0 = now_ms();
        int err = runs[r].threads ? mp_thread_map(runs[r].k, mp_primes_in_block,
                                                  in, out, BLOCKS, 1)
                                  : mp_par_map(runs[r].k, mp_primes_in_block,
                                               in, out, BLOCKS, 1);
        if (err < 0) {
            fprintf(stderr, ")\n");
            return failed(runs[r].threads ? "mp_thread_map" : "mp_par_map",
                          err);
        }
        long total = 0;
        for (int i = 0; i < BLOCKS; i++)
            total += out[i];
        fprintf(stderr, ", %s: %.0f ms", runs[r].name, now_ms() - t0);
        printf("  %-13s %ld\n", runs[r].name, total);
    }
    fprintf(stderr, ")\n");
    return 0;
}

/* -------------------------------------------------------------- scrape */

static int
scrape(void)
{
    int port, stop;
    pid_t server = slow_server_start(DELAY_MS, &port, &stop);
    if (server < 0) {
        perror("demo: server");
        return 1;
    }
    char bufs[PAGES][64];
    const char *urls[PAGES];
    for (int i = 0; i < PAGES; i++) {
        snprintf(bufs[i], sizeof bufs[i], "http://127.0.0.1:%d/page/%d", port,
                 i + 1);
        urls[i] = bufs[i];
    }
    printf("%d pages from a server that waits %d ms before each answer, "
           "fetched by 1, 2 and 8 workers:\n",
           PAGES, DELAY_MS);
    int ks[] = {1, 2, 8}, err = 0;
    mp_fetch_result res[3][PAGES];
    fprintf(stderr, "(");
    for (int r = 0; r < 3 && err >= 0; r++) {
        double t0 = now_ms();
        err = mp_fetch_all(urls, PAGES, ks[r], res[r]);
        fprintf(stderr, "%s%d worker%s: %.0f ms", r ? ", " : "", ks[r],
                ks[r] > 1 ? "s" : "", now_ms() - t0);
    }
    fprintf(stderr, ")\n");
    close(stop);
    waitpid(server, NULL, 0);
    if (err < 0)
        return failed("mp_fetch_all", err);
    for (int i = 0; i < PAGES; i++) {
        int same = 1;
        for (int r = 0; r < 2; r++)
            same &= res[r][i].status == res[2][i].status &&
                    res[r][i].bytes == res[2][i].bytes;
        printf("  %d  %5ld bytes  %s%s\n", res[2][i].status, res[2][i].bytes,
               urls[i], same ? "" : "  (1, 2 and 8 workers disagree)");
    }
    return 0;
}

int
main(void)
{
    if (count_primes() != 0)
        return 1;
    return scrape();
}
