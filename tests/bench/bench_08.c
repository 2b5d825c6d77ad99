// bench_08.c - make bench: lesson 08's locked Value, contended, and an atomic.
//
// `bench_08 OP N` has two child processes add 1 to one shared counter, N/2
// times each, both at once, checks that the counter ends at N and prints
// the rate in increments per second.  counter goes through mp_value_add on
// a Value with its lock, as Python's `with v.get_lock(): v.value += 1`
// does; atomic_add adds with one atomic instruction and no lock at all: the
// hardware's limit for a counter that two processes share.
#define _DEFAULT_SOURCE // MAP_ANONYMOUS: not POSIX
#include "shared_memory.h"
#include "bench.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static mp_value *value;
static atomic_long *word;

static void
add_locked(long n)
{
    int32_t one = 1;
    for (long i = 0; i < n / 2; i++)
        if (mp_value_add(value, &one) != 0)
            _exit(1);
    _exit(0);
}

static void
add_atomic(long n)
{
    for (long i = 0; i < n / 2; i++)
        atomic_fetch_add(word, 1);
    _exit(0);
}

// Start two children running add(n), wait for both: 0 if both exited
// with 0.
static int
run_two(void (*add)(long), long n)
{
    pid_t pid[2];
    for (int k = 0; k < 2; k++) {
        pid[k] = fork();
        if (pid[k] < 0)
            return 1;
        if (pid[k] == 0)
            add(n);
    }
    int bad = 0, status;
    for (int k = 0; k < 2; k++)
        if (waitpid(pid[k], &status, 0) != pid[k] || status != 0)
            bad = 1;
    return bad;
}

static double
counter(long n)
{
    double t0 = bench_now();
    if (mp_value_create(&value, MP_INT32, NULL, 1) < 0)
        return -1;
    int32_t total;
    if (run_two(add_locked, n) || mp_value_get(value, &total) != 0 ||
        total != (int32_t)(n / 2 * 2))
        return -1;
    return mp_value_destroy(value) == 0 ? bench_now() - t0 : -1;
}

static double
atomic_add(long n)
{
    double t0 = bench_now();
    word = mmap(NULL, sizeof *word, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (word == MAP_FAILED)
        return -1;
    atomic_init(word, 0);
    if (run_two(add_atomic, n) || atomic_load(word) != n / 2 * 2)
        return -1;
    return bench_now() - t0;
}

int
main(int argc, char **argv)
{
    static const struct bench_op ops[] = {
        {"counter", counter},
        {"atomic_add", atomic_add},
        {NULL, NULL},
    };
    return bench_main(argc, argv, ops, "counter|atomic_add");
}
