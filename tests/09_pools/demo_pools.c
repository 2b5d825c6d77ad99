// demo_pools.c - the classic Pool examples, with the lesson's code.
//
// The Python originals:
//
//     def square(x):
//         return x * x
//
//     if __name__ == "__main__":
//         with Pool(4) as p:
//             print(p.map(square, [1, 2, 3, 4]))       # [1, 4, 9, 16]
//             print(p.map(square, [1, 2, 3, 4, 5]))    # [1, 4, 9, 16, 25]
//         with Pool(5) as p:
//             print("Pool :", p.map(square, range(5)))
//
// Where they mislead:
//  - The results come back in input order because map puts them there,
//    not because the workers finish in order: with items of unequal cost
//    they finish in any order (imap_unordered shows it).
//  - Squaring five numbers in five processes is much slower than squaring
//    them here: each item crosses two pipes.  A pool pays off when each
//    task is worth far more than the trip, or when map cuts the items into
//    chunks, as it does by default.
//  - The `if __name__ == "__main__"` guard is not Windows folklore: under
//    "spawn" and "forkserver" (macOS, and Linux from Python 3.14) each
//    worker imports the main module, and without the guard it reaches
//    Pool(...) there.  It starts nothing: Python refuses a new process
//    before the bootstrapping phase ends, the worker dies with a
//    RuntimeError, and the pool replaces it with another that dies the
//    same way, for ever.  Here the workers are forked: they never run main
//    again.
//  - `with Pool() as p:` ends with terminate(), not join(): work still
//    queued when the block ends is killed.  mp_pool_destroy does the same.
//  - If a worker dies mid-task, Python's map waits for ever.  The last part
//    of this demo kills one on purpose (the report goes to stderr).
#include "pools.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int
square(long x, long *result)
{
    *result = x * x;
    return 0;
}

// Item 3 kills the worker that runs it.
static int
square_but_die_at_3(long x, long *result)
{
    if (x == 3)
        raise(SIGKILL);
    *result = x * x;
    return 0;
}

static void
print_list(const char *label, const long *v, size_t n)
{
    printf("%s[", label);
    for (size_t i = 0; i < n; i++)
        printf("%s%ld", i ? ", " : "", v[i]);
    printf("]\n");
}

static int
failed(const char *what, int r)
{
    fprintf(stderr, "%s: %s%s\n", what, strerror(-r),
            r == -ENOSYS ? ": fill in the TODO(09)s in "
                           "lessons/09_pools/pools.c first"
                         : "");
    return 1;
}

static long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int
main(void)
{
    long in[5] = {1, 2, 3, 4, 5}, range[5] = {0, 1, 2, 3, 4}, out[5];
    mp_pool *p;
    int r = mp_pool_create(&p, 4);
    if (r < 0)
        return failed("mp_pool_create", r);
    if ((r = mp_pool_map(p, square, in, out, 4, 0, NULL)) < 0)
        return failed("mp_pool_map", r);
    print_list("", out, 4);
    if ((r = mp_pool_map(p, square, in, out, 5, 0, NULL)) < 0)
        return failed("mp_pool_map", r);
    print_list("", out, 5);
    mp_pool_destroy(p);

    if ((r = mp_pool_create(&p, 5)) < 0)
        return failed("mp_pool_create", r);
    if ((r = mp_pool_map(p, square, range, out, 5, 0, NULL)) < 0)
        return failed("mp_pool_map", r);
    print_list("Pool : ", out, 5);
    fflush(stdout);

    // What Python's Pool cannot do: survive a worker that dies mid-task.
    size_t at = 0;
    long t0 = now_ms();
    r = mp_pool_map(p, square_but_die_at_3, range, out, 5, 0, &at);
    fprintf(stderr,
            "(a worker killed while it ran item 3: map returned %d (%s) at "
            "item %zu after %ld ms; Python's Pool waits for ever)\n",
            r, strerror(-r), at, now_ms() - t0);
    r = mp_pool_map(p, square, range, out, 5, 0, NULL);
    fprintf(stderr, "(the next map, on the same pool: %s)\n",
            r == 0 ? "fine, the dead worker was replaced" : strerror(-r));
    mp_pool_close(p);
    mp_pool_join(p);
    mp_pool_destroy(p);
    return r == 0 ? 0 : 1;
}
