// demo_shared_memory.c - the classic Value and Array example, in C.
//
// The Python original:
//
//     def increment(counter):
//         with counter.get_lock():
//             counter.value += 1
//
//     def modify_array(arr):
//         for i in range(len(arr)):
//             arr[i] += 1
//
//     counter = Value('i', 0)          # 5 processes run increment
//     ...
//     print("Counter:", counter.value)
//     arr = Array('i', range(5))       # 5 processes run modify_array
//     ...
//     print("Array:", arr[:])
//
// The counter is right: its whole update runs under one hold of the lock.
// The array is not.  `arr[i] += 1` on a synchronized Array is a locked
// read, then a locked write: between the two, another process can read the
// same old value, and one of the two increments is lost.  The seed prints
// [5, 6, 7, 8, 9] only because each child is done long before the next one
// has started.  Here each increment is one mp_array_add: the read and the
// write under one hold of the lock.  Then, on stderr, the classic version
// (mp_array_get, then mp_array_set) runs with enough work to show the race.
#include "shared_memory.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPROC 5
#define RACERS 4
#define RACE_ROUNDS 100000

static int
increment(void *arg)
{
    int32_t one = 1;
    return mp_value_add(arg, &one) == 0 ? 0 : 1;
}

static int
modify_array(void *arg)
{
    int32_t one = 1;
    for (long i = 0; i < mp_array_len(arg); i++)
        if (mp_array_add(arg, (size_t)i, &one) != 0)
            return 1;
    return 0;
}

// `arr[0] += 1` as Python's synchronized Array does it: get, then set.
static int
racy_increments(void *arg)
{
    for (int k = 0; k < RACE_ROUNDS; k++) {
        int32_t x;
        if (mp_array_get(arg, 0, &x) != 0)
            return 1;
        x++;
        if (mp_array_set(arg, 0, &x) != 0)
            return 1;
    }
    return 0;
}

// Run fn(arg) in n children at once and wait for them all; 0 if all
// ended with status 0.
static int
run_children(int n, int (*fn)(void *), void *arg)
{
    pid_t pids[RACERS > NPROC ? RACERS : NPROC];
    int bad = 0;
    fflush(NULL);
    for (int k = 0; k < n; k++) {
        pids[k] = fork();
        if (pids[k] < 0)
            return -1;
        if (pids[k] == 0)
            _exit(fn(arg));
    }
    for (int k = 0; k < n; k++) {
        int st;
        while (waitpid(pids[k], &st, 0) < 0)
            if (errno != EINTR)
                return -1;
        bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    return bad;
}

static int
fail(const char *what, int r)
{
    fprintf(stderr, "%s: %s%s\n", what, strerror(-r),
            r == -ENOSYS ? ": fill in the TODO(08)s in "
                           "lessons/08_shared_memory/shared_memory.c first"
                         : "");
    return 1;
}

int
main(void)
{
    mp_value *counter;
    int32_t zero = 0, n = -1;
    int r = mp_value_create(&counter, MP_INT32, &zero, 1);
    if (r != 0)
        return fail("mp_value_create", r);
    if (run_children(NPROC, increment, counter) != 0 ||
        (r = mp_value_get(counter, &n)) != 0)
        return fail("the counter", r != 0 ? r : -ECHILD);
    printf("Counter: %d\n", n);
    mp_value_destroy(counter);

    int32_t init[NPROC] = {0, 1, 2, 3, 4}, got[NPROC];
    mp_array *arr;
    if ((r = mp_array_create(&arr, MP_INT32, NPROC, init, 1)) != 0)
        return fail("mp_array_create", r);
    if (run_children(NPROC, modify_array, arr) != 0)
        return fail("the array", -ECHILD);
    for (int i = 0; i < NPROC; i++)
        mp_array_get(arr, (size_t)i, &got[i]);
    printf("Array: [%d, %d, %d, %d, %d]\n", got[0], got[1], got[2], got[3],
           got[4]);

    mp_array_set(arr, 0, &zero);
    if (run_children(RACERS, racy_increments, arr) == 0 &&
        mp_array_get(arr, 0, &n) == 0)
        fprintf(stderr,
                "(arr[0] += 1 as get then set, %d processes x %d times: "
                "%d, not %d)\n",
                RACERS, RACE_ROUNDS, n, RACERS * RACE_ROUNDS);
    mp_array_destroy(arr);
    return 0;
}
