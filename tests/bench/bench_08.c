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

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long n;
static mp_value *value;
static atomic_long *word;

static void
add_locked(void)
{
    int32_t one = 1;
    for (long i = 0; i < n / 2; i++)
        if (mp_value_add(value, &one) != 0)
            _exit(1);
    _exit(0);
}

static void
add_atomic(void)
{
    for (long i = 0; i < n / 2; i++)
        atomic_fetch_add(word, 1);
    _exit(0);
}

// Start two children running add, wait for both: 0 if both exited with 0.
static int
run_two(void (*add)(void))
{
    pid_t pid[2];
    for (int k = 0; k < 2; k++) {
        pid[k] = fork();
        if (pid[k] < 0)
            return 1;
        if (pid[k] == 0)
            add();
    }
    int bad = 0, status;
    for (int k = 0; k < 2; k++)
        if (waitpid(pid[k], &status, 0) != pid[k] || status != 0)
            bad = 1;
    return bad;
}

static int
counter(void)
{
    if (mp_value_create(&value, MP_INT32, NULL, 1) < 0)
        return 1;
    int32_t total;
    if (run_two(add_locked) || mp_value_get(value, &total) != 0 ||
        total != (int32_t)(n / 2 * 2))
        return 1;
    return mp_value_destroy(value) == 0 ? 0 : 1;
}

static int
atomic_add(void)
{
    word = mmap(NULL, sizeof *word, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (word == MAP_FAILED)
        return 1;
    atomic_init(word, 0);
    return run_two(add_atomic) || atomic_load(word) != n / 2 * 2;
}

int
main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    n = atol(argv[2]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int bad = strcmp(argv[1], "counter") == 0      ? counter()
              : strcmp(argv[1], "atomic_add") == 0 ? atomic_add()
                                                   : 2;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (bad)
        return bad;
    printf("%.0f\n",
           n / (t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9));
    return 0;
}
