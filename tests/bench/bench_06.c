// bench_06.c - make bench: lesson 06's Lock, uncontended, against its mutex.
//
// `bench_06 OP N` acquires and releases a lock N times in one process, no
// other process wanting it, and prints the rate in acquire+release pairs per
// second.  lock goes through mp_lock_acquire(lock, -1) and mp_lock_release,
// as Python's lock.acquire(); lock.release() does; raw_mutex calls
// pthread_mutex_lock and pthread_mutex_unlock on the robust, process-shared
// mutex the lesson builds on: the limit the lesson's code is measured by.
#define _GNU_SOURCE
#include "locks.h"
#include "bench.h"

#include <pthread.h>
#include <sys/mman.h>

static double
lock(long n)
{
    double t0 = bench_now();
    mp_lock *lk;
    if (mp_lock_create(&lk, 0) < 0)
        return -1;
    for (long i = 0; i < n; i++)
        if (mp_lock_acquire(lk, -1) != 0 || mp_lock_release(lk) != 0)
            return -1;
    return mp_lock_destroy(lk) == 0 ? bench_now() - t0 : -1;
}

// The same kind of mutex as locks.c makes, in shared memory as there.
static pthread_mutex_t *
robust_mutex(void)
{
    pthread_mutex_t *m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    pthread_mutexattr_t a;
    if (pthread_mutexattr_init(&a) != 0 ||
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
        pthread_mutex_init(m, &a) != 0)
        return NULL;
    pthread_mutexattr_destroy(&a);
    return m;
}

static double
raw_mutex(long n)
{
    double t0 = bench_now();
    pthread_mutex_t *m = robust_mutex();
    if (m == NULL)
        return -1;
    for (long i = 0; i < n; i++)
        if (pthread_mutex_lock(m) != 0 || pthread_mutex_unlock(m) != 0)
            return -1;
    return bench_now() - t0;
}

int
main(int argc, char **argv)
{
    static const struct bench_op ops[] = {
        {"lock", lock},
        {"raw_mutex", raw_mutex},
        {NULL, NULL},
    };
    return bench_main(argc, argv, ops, "lock|raw_mutex");
}
