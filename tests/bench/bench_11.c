// bench_11.c - make bench: lesson 11's manager, one request per call.
//
// `bench_11 OP N` makes N calls through one proxy, one after the other,
// and prints the rate in calls per second:
//   dict_set   mp_dict_set(proxy, mp_int(i % 100), mp_int(i)) for i = 0 to
//              N - 1: Python's d[i % 100] = i on a Manager().dict()
//   dict_incr  mp_dict_incr(proxy, key, 1, NULL) on one key: one request,
//              done by the server, where Python's d[k] = d[k] + 1 is two
// The manager is started and the proxy connected before the clock starts;
// the proxy is closed and the server shut down and reaped after it stops,
// whatever happened, so that no server and no socket file is left.  The
// work is checked through the same proxy, after the clock: the dict's
// length and the last value set, or the count; a wrong one exits 1,
// printing nothing.  The limit beside it is bench_09 raw_roundtrip: a
// 16-byte request and reply over a raw socketpair.
#include "managers.h"
#include "bench.h"

#define KEYS 100 // dict_set's keys: 0 to KEYS - 1
#define KEY 7    // dict_incr's key

// n calls through p; the seconds they took, or -1.
static double
calls(mp_proxy *p, long n, int incr)
{
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        int r = incr ? mp_dict_incr(p, mp_int(KEY), 1, NULL)
                     : mp_dict_set(p, mp_int(i % KEYS), mp_int(i));
        if (r != 0)
            return -1;
    }
    return bench_now() - t0;
}

// Whether the dict holds what n calls leave: KEYS keys at most, the last
// one set holding n - 1; or one key, counted up to n.
static int
right(mp_proxy *p, long n, int incr)
{
    long long key = incr ? KEY : (n - 1) % KEYS;
    long long want = incr ? n : n - 1;
    int keys = incr ? 1 : n < KEYS ? (int)n : KEYS;
    mp_value v;
    return mp_dict_len(p) == keys && mp_dict_get(p, mp_int(key), &v) == 0 &&
           v.type == MP_INT && v.i == want;
}

// The seconds n calls took, or -1.
static double
run(long n, int incr)
{
    mp_manager *m;
    mp_proxy *p;
    if (mp_manager_start(&m) < 0)
        return -1;
    double t = -1;
    if (mp_manager_connect(mp_manager_address(m), &p) == 0) {
        t = calls(p, n, incr);
        if (t > 0 && !right(p, n, incr))
            t = -1;
        mp_proxy_close(p);
    }
    int code;
    if (mp_manager_shutdown(m, &code) < 0 || code != 0)
        t = -1;
    return t > 0 ? t : -1;
}

static double
dict_set(long n)
{
    return run(n, 0);
}

static double
dict_incr(long n)
{
    return run(n, 1);
}

int
main(int argc, char **argv)
{
    static const struct bench_op ops[] = {
        {"dict_set", dict_set},
        {"dict_incr", dict_incr},
        {NULL, NULL},
    };
    return bench_main(argc, argv, ops, "dict_set|dict_incr");
}
