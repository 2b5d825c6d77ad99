// demo_futures.c - the classic ProcessPoolExecutor example, with the
// lesson's functions.
//
// The Python original, from the documentation of concurrent.futures:
//
//     PRIMES = [
//         112272535095293,
//         112582705942171,
//         112272535095293,
//         115280095190773,
//         115797848077099,
//         1099726899285419]
//
//     def is_prime(n):
//         if n < 2:
//             return False
//         if n == 2:
//             return True
//         if n % 2 == 0:
//             return False
//
//         sqrt_n = int(math.floor(math.sqrt(n)))
//         for i in range(3, sqrt_n + 1, 2):
//             if n % i == 0:
//                 return False
//         return True
//
//     def main():
//         with concurrent.futures.ProcessPoolExecutor() as executor:
//             for number, prime in zip(PRIMES, executor.map(is_prime,
//                                                           PRIMES)):
//                 print('%d is prime: %s' % (number, prime))
//
// Its output is the same every run: map gives the results in input order,
// whichever worker finishes first.  Here mp_executor_map does the same,
// and the executor's workers are one per CPU, as Python's default.
#include "futures.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const long primes[] = {
    112272535095293, 112582705942171, 112272535095293,
    115280095190773, 115797848077099, 1099726899285419,
};

#define COUNT ((int)(sizeof primes / sizeof primes[0]))

static int
is_prime(long n, long *result)
{
    *result = 0;
    if (n < 2)
        return 0;
    if (n == 2 || n == 3) {
        *result = 1;
        return 0;
    }
    if (n % 2 == 0)
        return 0;
    for (long i = 3; i <= n / i; i += 2) // i <= sqrt(n), in integers
        if (n % i == 0)
            return 0;
    *result = 1;
    return 0;
}

static int
fail(const char *what, int err)
{
    fprintf(stderr, "%s: %s%s\n", what, strerror(err < 0 ? -err : err),
            err == -ENOSYS ? ": fill in the TODO(16)s in "
                             "lessons/16_futures/futures.c first"
                           : "");
    return 1;
}

int
main(void)
{
    mp_executor *ex;
    int r = mp_executor_create(&ex, 0);
    if (r < 0)
        return fail("mp_executor_create", r);
    long prime[COUNT];
    r = mp_executor_map(ex, is_prime, primes, prime, COUNT, -1);
    mp_executor_free(ex);
    if (r != 0)
        return fail("mp_executor_map", r);
    for (int i = 0; i < COUNT; i++)
        printf("%ld is prime: %s\n", primes[i], prime[i] ? "True" : "False");
    return 0;
}
