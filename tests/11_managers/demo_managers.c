// demo_managers.c - the classic Manager example, with the lesson's code.
//
// The Python original (the multiprocessing documentation's):
//
//     def f(d, l):
//         d[1] = '1'
//         d['2'] = 2
//         d[0.25] = None
//         l.reverse()
//
//     with Manager() as manager:
//         d = manager.dict()
//         l = manager.list(range(10))
//         p = Process(target=f, args=(d, l))
//         p.start()
//         p.join()
//         print(d)
//         print(l)
//
// It prints {1: '1', '2': 2, 0.25: None} and [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
// (older copies of the documentation show {0.25: None, 1: '1', '2': 2}:
// dicts kept no order before Python 3.7).  Where it misleads:
//  - d and l look like a dict and a list, but every operation on them is
//    a message to the server process and a wait for its answer: hundreds
//    of times slower than a local dict (the figure on stderr).
//  - d[k] += 1 through a proxy is two requests, a get and then a set.
//    Two processes can both get 5, both set 6: one update is lost, with
//    no error.  A manager does not make compound operations atomic; only
//    an operation the server does in one request is (here mp_dict_incr;
//    in Python, a method of your own type registered with
//    BaseManager.register, or a Lock around the get and the set).
//  - The child gets d and l through fork and silently makes its own
//    connection to the server.  In C that step is visible: a connection
//    shared by two processes would mix their requests, so the child
//    connects on its own (mp_manager_connect).
//  - print(d) shows a copy made by the server at that moment, not a live
//    view.
//  - The manager and its clients prove to each other that they share a key
//    (an HMAC challenge, both ways) before any request: the key authorizes,
//    it does not encrypt.  `demo serve KEY` runs a manager that Python's
//    multiprocessing.connection.Client can talk to.
#include "managers.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int
failed(const char *what, int r)
{
    fprintf(stderr, "%s: %s%s\n", what, strerror(-r),
            r == -ENOSYS ? ": fill in the TODO(11)s in "
                           "lessons/11_managers/managers.c first"
                         : "");
    return 1;
}

// The child's part, Python's f(d, l), through a connection of its own.
static int
f(const char *address)
{
    mp_proxy *p;
    if (mp_manager_connect(address, &p) < 0)
        return 1;
    int bad = mp_dict_set(p, mp_int(1), mp_str("1")) < 0 ||
              mp_dict_set(p, mp_str("2"), mp_int(2)) < 0 ||
              mp_dict_set(p, mp_float(0.25), mp_none()) < 0 ||
              mp_list_reverse(p) < 0;
    mp_proxy_close(p);
    return bad;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

// How long one round trip to the server takes, on average, in us.
static double
round_trip_us(mp_proxy *p)
{
    enum { N = 2000 };
    double t0 = now_s();
    for (int i = 0; i < N; i++)
        if (mp_dict_incr(p, mp_str("n"), 1, NULL) < 0)
            return -1;
    double us = (now_s() - t0) / N * 1e6;
    mp_dict_del(p, mp_str("n"));
    return us;
}

static int
demo(mp_manager *m, mp_proxy *p)
{
    char text[256];
    int r;
    for (int i = 0; i < 10; i++) // manager.list(range(10))
        if ((r = mp_list_append(p, i)) < 0)
            return failed("mp_list_append", r);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return failed("fork", -errno);
    if (pid == 0)
        _exit(f(mp_manager_address(m)));
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return failed("waitpid", -errno);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "(the child failed)\n");
    if ((r = mp_dict_repr(p, text, sizeof text)) < 0)
        return failed("mp_dict_repr", r);
    printf("%s\n", text);
    if ((r = mp_list_repr(p, text, sizeof text)) < 0)
        return failed("mp_list_repr", r);
    printf("%s\n", text);
    fprintf(stderr, "(one request to the server: %.1f us)\n", round_trip_us(p));
    return 0;
}

// `demo serve KEY`: a manager whose authkey is KEY, for a Python client to
// talk to (the lesson's README shows how): prints its address, and shuts
// it down at EOF on standard input.
static int
serve(const char *key)
{
    mp_manager *m;
    char buf[64];
    int r = mp_set_authkey(key, strlen(key));
    if (r == 0)
        r = mp_manager_start(&m);
    if (r < 0)
        return failed("serve", r);
    printf("%s\n", mp_manager_address(m));
    fflush(stdout);
    while (read(0, buf, sizeof buf) > 0)
        ;
    return mp_manager_shutdown(m, NULL) < 0;
}

int
main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "serve") == 0)
        return serve(argv[2]);
    mp_manager *m;
    mp_proxy *p = NULL;
    int r = mp_manager_start(&m);
    if (r < 0)
        return failed("mp_manager_start", r);
    r = mp_manager_connect(mp_manager_address(m), &p);
    int bad = r < 0 ? failed("mp_manager_connect", r) : demo(m, p);
    mp_proxy_close(p);
    pid_t server = mp_manager_pid(m);
    int code = 0;
    r = mp_manager_shutdown(m, &code);
    if (r < 0)
        return failed("mp_manager_shutdown", r);
    fprintf(stderr, "(server %d shut down with exit code %d)\n", (int)server,
            code);
    return bad;
}
