// check_managers.c - tests for lesson 11: the manager's server and proxies.
//
// Most tests run the whole story, as Python's examples do: start a
// manager, connect proxies, stop it.  Where a side can be judged alone,
// the other side is raw test code speaking the protocol of managers.h: a
// raw client sends frames to the real server, a fake server answers (or
// does not answer) a real proxy.  Every wait has a bound: a server that
// never answers is shown with a deadline, not a hang.
//
// Races are made to happen on every run, not by luck: the race tests put
// a relay between the clients and the server that moves requests in
// lockstep, one from each client, then the next.
#define _GNU_SOURCE
#include "managers.h"
#include "harness.h"
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAIT_MS 3000 // how long a test waits for an answer that must come

/* ------------------------------------------------------------- helpers */

// The address every manager listens on: mp_ipc_path("manager").
static const char *
manager_path(void)
{
    static char path[108];
    ck_assert_msg(mp_ipc_path(path, sizeof path, "manager") > 0,
                  "mp_ipc_path(\"manager\") failed: TMPDIR is too long");
    return path;
}

static int
exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

// Start a manager, failing the test unless it started.  Its server runs
// with SIGPIPE's default action, as in any C program (the harness ignores
// SIGPIPE: that would hide a server killed by it).
static mp_manager *
start(void)
{
    unlink(manager_path()); // left by an earlier test that failed
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGPIPE, &dfl, &old);
    mp_manager *m = NULL;
    int r = mp_manager_start(&m);
    sigaction(SIGPIPE, &old, NULL);
    ck_assert_msg(r == 0 && m != NULL,
                  "mp_manager_start returned %s, expected 0 with the handle "
                  "set",
                  fl_ret(r));
    return m;
}

// Stop a manager, failing the test unless it stopped.
static void
stop(mp_manager *m)
{
    int r = mp_manager_shutdown(m, NULL);
    ck_assert_msg(r == 0, "mp_manager_shutdown returned %s, expected 0",
                  fl_ret(r));
}

// Connect a proxy to address, failing the test unless it connected.
static mp_proxy *
proxy_to(const char *address)
{
    mp_proxy *p = NULL;
    int r = mp_manager_connect(address, &p);
    ck_assert_msg(r == 0 && p != NULL,
                  "mp_manager_connect(\"%s\") returned %s, expected 0 with "
                  "the proxy set",
                  address, fl_ret(r));
    return p;
}

static mp_proxy *
proxy(mp_manager *m)
{
    const char *a = mp_manager_address(m);
    ck_assert_msg(a != NULL && strcmp(a, manager_path()) == 0,
                  "mp_manager_address returned \"%s\", expected \"%s\": "
                  "mp_ipc_path(path, size, \"manager\")",
                  a ? a : "(null)", manager_path());
    return proxy_to(a);
}

// Fail the test unless an operation returned 0.
#define OK(call)                                                               \
    do {                                                                       \
        int r_ = (call);                                                       \
        ck_assert_msg(r_ == 0, "%s returned %s, expected 0", #call,            \
                      fl_ret(r_));                                             \
    } while (0)

static pid_t
server_of(mp_manager *m)
{
    pid_t pid = mp_manager_pid(m);
    ck_assert_msg(pid > 0,
                  "mp_manager_pid returned %s, expected the server's "
                  "pid",
                  fl_ret(pid));
    return pid;
}

// Reap pid if it ends within ms; else kill it first.  Its exit status,
// 128 + the signal, or -2 if it had to be killed.
static int
reap_within(pid_t pid, int ms)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    ck_assert_msg(fd >= 0, "pidfd_open(%d) failed: %s", (int)pid,
                  strerror(errno));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
        ;
    close(fd);
    if (n == 0)
        kill(pid, SIGKILL);
    int st = fl_reap_code(pid);
    return n == 0 ? -2 : st;
}

/* ------------------------------------------- raw sockets and frames */

static int
raw_socket_at(const char *path, int listening)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_msg(fd >= 0, "socket failed: %s", strerror(errno));
    int r = listening ? bind(fd, (struct sockaddr *)&a, sizeof a)
                      : connect(fd, (struct sockaddr *)&a, sizeof a);
    if (r == 0 && listening)
        r = listen(fd, 16);
    if (r < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int
raw_send(int fd, const void *buf, size_t len)
{
    return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

// The raw frames of stress.h are this lesson's.
_Static_assert(FL_FRAME_HEADER == MP_FRAME_HEADER, "frame headers differ");

/* ------------------------------------------------------ in a child */

// What a call run in a child did: "returned 0", "killed the process with
// SIGPIPE", ...
static const char *
how_within(const fl_child *c, int wait_ms)
{
    static char buf[96];
    if (c->timed_out)
        snprintf(buf, sizeof buf, "got no answer within %d ms", wait_ms);
    else if (c->returned)
        snprintf(buf, sizeof buf, "returned %s", fl_ret(c->value));
    else if (c->exited)
        snprintf(buf, sizeof buf, "ended the process (exit status %d)",
                 c->status);
    else
        snprintf(buf, sizeof buf, "killed the process with %s",
                 fl_signame(c->status));
    return buf;
}

static const char *
how(const fl_child *c)
{
    return how_within(c, WAIT_MS);
}

// In a child, with SIGPIPE's default action (death) as in a C program
// that never touched it: mp_dict_len on the proxy.
static int
len_with_sigpipe(void *arg)
{
    signal(SIGPIPE, SIG_DFL);
    return mp_dict_len(arg);
}

// In a child: mp_dict_get of the key "x"; its value if an int, else -1000.
static int
get_x(void *arg)
{
    mp_value v;
    int r = mp_dict_get(arg, mp_str("x"), &v);
    return r < 0 ? r : v.type == MP_INT ? (int)v.i : -1000;
}

#define SIGPIPE_HINT                                                           \
    "A send() to a peer that has gone raises SIGPIPE, whose default "          \
    "action kills the process: send with sendmsg(..., MSG_NOSIGNAL), and "     \
    "the call fails with EPIPE instead"

/* ------------------------------------------------- mp_manager_start */

FL_TEST(test_mp_manager_start_returns_once_the_server_listens)
{
    mp_manager *m = start();
    pid_t pid = server_of(m);
    // Stopped at once, the server cannot go on to listen() now: if
    // connect() works, it was listening before start returned.
    kill(pid, SIGSTOP);
    struct stat st;
    int is_socket = lstat(manager_path(), &st) == 0 && S_ISSOCK(st.st_mode);
    int fd = raw_socket_at(manager_path(), 0);
    int err = errno;
    kill(pid, SIGCONT);
    if (fd >= 0)
        close(fd);
    const char *a = mp_manager_address(m);
    int same = a != NULL && strcmp(a, manager_path()) == 0;
    stop(m);
    ck_assert_msg(is_socket,
                  "when mp_manager_start returned, there was no socket at "
                  "%s: the server must bind() and listen() there before it "
                  "tells the caller it is ready",
                  manager_path());
    ck_assert_msg(fd >= 0,
                  "a client connecting right after mp_manager_start "
                  "returned (the server stopped at that moment) got %s. "
                  "Send the ready word after listen(): the kernel then "
                  "queues connections even while the server is not running.",
                  strerrorname_np(err));
    ck_assert_msg(same,
                  "mp_manager_address returned \"%s\", expected \"%s\": "
                  "mp_ipc_path(path, size, \"manager\")",
                  a != NULL ? a : "(null)", manager_path());
}

FL_TEST(test_mp_manager_start_reports_an_address_in_use)
{
    const char *path = manager_path();
    unlink(path);
    int f = open(path, O_CREAT | O_WRONLY, 0600); // someone else's file
    ck_assert_msg(f >= 0, "could not create %s: %s", path, strerror(errno));
    close(f);
    mp_manager *m = NULL;
    int r = mp_manager_start(&m);
    int kept = exists(path);
    if (r == 0)
        mp_manager_shutdown(m, NULL);
    unlink(path);
    ck_assert_msg(kept,
                  "mp_manager_start removed the file that was at %s. "
                  "Never unlink() before bind(): the file may be a running "
                  "server's socket, which would lose its address.",
                  path);
    fl_expect_int(r, -EADDRINUSE,
                  "mp_manager_start with a file already at the address",
                  "The server's bind() fails with EADDRINUSE and it sends "
                  "that errno on the ready pipe; the caller reaps it and "
                  "returns -EADDRINUSE. Returning 0 means the server went "
                  "on as if bind() had worked: did it unlink() the file at "
                  "the address before bind(), taking the address (it may "
                  "be a running server's socket)? Or did the ready word go "
                  "before bind() and listen() had worked?");
}

FL_TEST(test_mp_manager_start_and_shutdown_reject_a_null_handle)
{
    int r = mp_manager_start(NULL);
    int s = mp_manager_shutdown(NULL, NULL);
    fl_expect_int(r, -EINVAL, "mp_manager_start(NULL)",
                  "Check the argument before forking a server nobody "
                  "could stop");
    fl_expect_int(s, -EINVAL, "mp_manager_shutdown(NULL, NULL)", "");
}

FL_TEST(test_mp_manager_start_refuses_an_address_too_long_for_a_socket)
{
    char dir[160], path[200];
    memset(dir, 'd', sizeof dir - 1);
    dir[0] = '/';
    dir[sizeof dir - 1] = '\0';
    snprintf(path, sizeof path, "%s/x", dir);
    const char *old = getenv("TMPDIR");
    char *saved = old != NULL ? strdup(old) : NULL;
    setenv("TMPDIR", dir, 1);
    fl_snapshot s;
    fl_snapshot_take(&s);
    mp_manager *m = NULL;
    int r = mp_manager_start(&m);
    if (r == 0)
        mp_manager_shutdown(m, NULL);
    else
        fl_expect_no_leak(&s, "mp_manager_start with a 160-byte TMPDIR "
                              "(mp_ipc_path failed): free the handle on "
                              "that path too (goto fail)");
    if (saved != NULL)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
    mp_proxy *p = NULL;
    int c = mp_manager_connect(path, &p);
    fl_expect_int(r, -ENAMETOOLONG, "mp_manager_start with a 160-byte TMPDIR",
                  "A socket's path must fit in sun_path, 108 bytes: "
                  "mp_ipc_path says so, pass its error on");
    fl_expect_int(c, -ENAMETOOLONG, "mp_manager_connect to a 162-byte path",
                  "Check the length against sizeof sun_path before "
                  "copying: strcpy would write past the end");
}

/* ----------------------------------------------- mp_manager_connect */

FL_TEST(test_mp_manager_connect_fails_when_no_server_listens)
{
    const char *path = manager_path();
    unlink(path);
    mp_proxy *p = NULL;
    int none = mp_manager_connect(path, &p);
    // A socket file nobody listens on: what a killed server leaves.
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    ck_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    close(fd);
    int dead = mp_manager_connect(path, &p);
    unlink(path);
    fl_expect_int(none, -ENOENT, "mp_manager_connect with no socket file",
                  "Return -errno from connect(): ENOENT, no server");
    fl_expect_int(dead, -ECONNREFUSED,
                  "mp_manager_connect to a socket file nobody listens on",
                  "Return -errno from connect(): ECONNREFUSED, the server "
                  "is dead. Close the socket and free the proxy on failure.");
}

FL_TEST(test_mp_manager_connect_and_requests_reject_null_arguments)
{
    mp_proxy *p = NULL;
    int r1 = mp_manager_connect(NULL, &p);
    int r2 = mp_manager_connect(manager_path(), NULL);
    int r3 = mp_dict_len(NULL);
    ck_assert_msg(r1 == -EINVAL && r2 == -EINVAL,
                  "mp_manager_connect(NULL, &p) returned %s and "
                  "mp_manager_connect(address, NULL) %s; expected -EINVAL "
                  "for both",
                  fl_ret(r1), fl_ret(r2));
    fl_expect_int(r3, -EINVAL, "mp_dict_len(NULL)",
                  "request() checks the proxy before using it");
}

/* ----------------------------------------------------- the seed */

// The child of the seed: Python's f(d, l), on a connection of its own.
static int
seed_child(void *arg)
{
    mp_proxy *p;
    if (mp_manager_connect(arg, &p) < 0)
        return 1;
    int bad = mp_dict_set(p, mp_int(1), mp_str("1")) < 0 ||
              mp_dict_set(p, mp_str("2"), mp_int(2)) < 0 ||
              mp_dict_set(p, mp_float(0.25), mp_none()) < 0 ||
              mp_list_reverse(p) < 0;
    mp_proxy_close(p);
    return bad ? 2 : 0;
}

FL_TEST(test_mp_manager_shares_the_classic_dict_and_list_with_a_child)
{
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    for (int i = 0; i < 10; i++)
        OK(mp_list_append(p, i));
    pid_t pid = fl_raw_start(seed_child, (void *)mp_manager_address(m));
    int st = reap_within(pid, WAIT_MS);
    char d[128] = "", l[128] = "";
    int rd = mp_dict_repr(p, d, sizeof d);
    int rl = mp_list_repr(p, l, sizeof l);
    mp_proxy_close(p);
    stop(m);
    ck_assert_msg(st == 0,
                  "the child that sets d[1] = '1', d['2'] = 2, d[0.25] = "
                  "None and reverses the list %s",
                  st == -2  ? "got no answer within 3 s, while the parent's "
                              "proxy stayed connected: the server must serve "
                              "several clients at once"
                  : st == 1 ? "could not connect"
                            : "got an error");
    ck_assert_msg(rd > 0 && strcmp(d, "{1: '1', '2': 2, 0.25: None}") == 0,
                  "mp_dict_repr returned %s \"%s\", expected \"{1: '1', "
                  "'2': 2, 0.25: None}\": keys in insertion order, strings "
                  "in quotes, floats the Python way, None",
                  fl_ret(rd), d);
    ck_assert_msg(rl > 0 && strcmp(l, "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]") == 0,
                  "mp_list_repr returned %s \"%s\", expected \"[9, 8, 7, 6, "
                  "5, 4, 3, 2, 1, 0]\"%s",
                  fl_ret(rl), l,
                  strcmp(l, "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]") == 0
                      ? ": the parent appended 0 to 9, and after the "
                        "child's reverse returned 0 the list is still in "
                        "that order. Did the reverse swap list[i] with "
                        "list[len - 1 - i] all the way to the end, not "
                        "stopping at the middle (len / 2), so that every "
                        "pair was swapped back? Or did it do nothing?"
                      : "");
}

/* ------------------------------------------------------ the dict */

FL_TEST(test_mp_dict_get_keeps_the_types_of_keys_and_values)
{
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    OK(mp_dict_set(p, mp_int(1), mp_str("one")));
    OK(mp_dict_set(p, mp_str("1"), mp_int(-1)));
    OK(mp_dict_set(p, mp_float(0.25), mp_none()));
    OK(mp_dict_set(p, mp_none(), mp_float(-2.5)));
    mp_value v[4];
    int r[4] = {mp_dict_get(p, mp_int(1), &v[0]), 0, 0, 0};
    char one[8] = "";
    if (r[0] == 0 && v[0].type == MP_STR) // valid until the next call
        snprintf(one, sizeof one, "%s", v[0].s);
    r[1] = mp_dict_get(p, mp_str("1"), &v[1]);
    r[2] = mp_dict_get(p, mp_float(0.25), &v[2]);
    r[3] = mp_dict_get(p, mp_none(), &v[3]);
    int n = mp_dict_len(p);
    mp_proxy_close(p);
    stop(m);
    ck_assert_msg(r[0] == 0 && v[0].type == MP_STR && strcmp(one, "one") == 0,
                  "d[1] = 'one', then mp_dict_get(1) returned %s with type "
                  "'%c': expected the string 'one'",
                  fl_ret(r[0]), r[0] == 0 ? v[0].type : '?');
    ck_assert_msg(r[1] == 0 && v[1].type == MP_INT && v[1].i == -1,
                  "d['1'] = -1, then mp_dict_get('1') returned %s with type "
                  "'%c': expected the int -1. 1 and '1' are two keys.",
                  fl_ret(r[1]), r[1] == 0 ? v[1].type : '?');
    ck_assert_msg(r[2] == 0 && v[2].type == MP_NONE,
                  "d[0.25] = None, then mp_dict_get(0.25) returned %s with "
                  "type '%c': expected None",
                  fl_ret(r[2]), r[2] == 0 ? v[2].type : '?');
    ck_assert_msg(r[3] == 0 && v[3].type == MP_FLOAT && v[3].f == -2.5,
                  "d[None] = -2.5, then mp_dict_get(None) returned %s with "
                  "type '%c': expected the float -2.5",
                  fl_ret(r[3]), r[3] == 0 ? v[3].type : '?');
    fl_expect_int(n, 4, "mp_dict_len after four keys", "");
}

FL_TEST(test_mp_dict_get_gives_enoent_for_a_missing_key)
{
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    mp_value v;
    int never = mp_dict_get(p, mp_str("nope"), &v);
    OK(mp_dict_set(p, mp_str("k"), mp_int(1)));
    OK(mp_dict_del(p, mp_str("k")));
    int gone = mp_dict_get(p, mp_str("k"), &v);
    int again = mp_dict_del(p, mp_str("k"));
    int null = mp_dict_get(p, mp_str("k"), NULL);
    mp_proxy_close(p);
    stop(m);
    ck_assert_msg(never == -ENOENT && gone == -ENOENT && again == -ENOENT,
                  "mp_dict_get of a key never set returned %s, of a deleted "
                  "key %s, and a second del %s; expected -ENOENT each time "
                  "(Python's KeyError): return the server's status",
                  fl_ret(never), fl_ret(gone), fl_ret(again));
    fl_expect_int(null, -EINVAL, "mp_dict_get(p, key, NULL)",
                  "Check the out pointer");
}

FL_TEST(test_mp_dict_repr_prints_floats_and_strings_like_python)
{
    static const char want[] =
        "{-7: 1.0, \"it's\": 1e+16, 'a\"b': -0.5, None: 0.1, "
        "2.5: 'tab\\there', 1e-05: 'back\\\\slash', "
        "'x': 1000000000000000.0, 'y': -inf, 'z': '\\x01'}";
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    char empty[8] = "", got[256] = "", small[8];
    int r0 = mp_dict_repr(p, empty, sizeof empty);
    OK(mp_dict_set(p, mp_int(-7), mp_float(1.0)));
    OK(mp_dict_set(p, mp_str("it's"), mp_float(1e16)));
    OK(mp_dict_set(p, mp_str("a\"b"), mp_float(-0.5)));
    OK(mp_dict_set(p, mp_none(), mp_float(0.1)));
    OK(mp_dict_set(p, mp_float(2.5), mp_str("tab\there")));
    OK(mp_dict_set(p, mp_float(1e-5), mp_str("back\\slash")));
    OK(mp_dict_set(p, mp_str("x"), mp_float(1e15)));
    OK(mp_dict_set(p, mp_str("y"), mp_float(-HUGE_VAL)));
    OK(mp_dict_set(p, mp_str("z"), mp_str("\x01")));
    int r = mp_dict_repr(p, got, sizeof got);
    int r2 = mp_dict_repr(p, small, sizeof small);
    mp_proxy_close(p);
    stop(m);
    ck_assert_msg(r0 == 2 && strcmp(empty, "{}") == 0,
                  "the empty dict printed as %s \"%s\", expected \"{}\"",
                  fl_ret(r0), empty);
    ck_assert_msg(r == (int)strlen(want) && strcmp(got, want) == 0,
                  "mp_dict_repr returned %s, the text  %s  where Python "
                  "prints  %s  Floats: say_float, never %%f or %%g (Python "
                  "prints 1.0, %%g prints 1). Strings: say_str, in quotes.",
                  fl_ret(r), got, want);
    fl_expect_int(r2, -ERANGE, "mp_dict_repr into 8 bytes", "");
}

/* ------------------------------------------------------ the list */

// The list, read back item by item with mp_list_get, as text.
static void
list_text(mp_proxy *p, char *buf, size_t size)
{
    int n = mp_list_len(p);
    size_t at = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n && at < size; i++) {
        long long x = -1;
        int r = mp_list_get(p, i, &x);
        at += (size_t)snprintf(buf + at, size - at, "%s%lld", i ? ", " : "",
                               r == 0 ? x : -1000);
    }
    if (at < size)
        snprintf(buf + at, size - at, "]");
}

FL_TEST(test_mp_list_repr_needs_room_for_the_text_and_its_nul)
{
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    for (int i = 1; i <= 3; i++)
        OK(mp_list_append(p, i));
    // "[1, 2, 3]" is 9 characters: it needs 10 bytes with its NUL.  Sizes
    // 8, 9 and 10, each into a buffer with room to spare, marked with Z.
    int r[3];
    char buf[3][16];
    for (int k = 0; k < 3; k++) {
        memset(buf[k], 'Z', sizeof buf[k]);
        r[k] = mp_list_repr(p, buf[k], (size_t)(8 + k));
    }
    mp_proxy_close(p);
    stop(m);
    fl_expect_int(r[0], -ERANGE, "mp_list_repr of [1, 2, 3] into 8 bytes", "");
    ck_assert_msg(r[1] == -ERANGE && buf[1][9] == 'Z',
                  "mp_list_repr of [1, 2, 3] (9 characters) into 9 bytes "
                  "returned %s%s, expected -34 (-ERANGE): the text needs "
                  "size bytes for its characters AND its NUL, so refuse it "
                  "when n >= size, not n > size",
                  fl_ret(r[1]),
                  buf[1][9] != 'Z' ? " and wrote its NUL past the 9 bytes"
                                   : "");
    ck_assert_msg(r[2] == 9 && strcmp(buf[2], "[1, 2, 3]") == 0,
                  "mp_list_repr of [1, 2, 3] into 10 bytes returned %s, "
                  "expected 9 and the text",
                  fl_ret(r[2]));
}

FL_TEST(test_mp_list_reverse_reverses_in_place)
{
    static const char *want[] = {
        "[]", "[1]", "[2, 1]", "[3, 2, 1]", "[4, 3, 2, 1]", "[5, 4, 3, 2, 1]"};
    char got[6][64];
    int r[6];
    for (int n = 0; n < 6; n++) {
        // A fresh server each time: its list starts empty.
        mp_manager *m = start();
        mp_proxy *p = proxy(m);
        for (int i = 1; i <= n; i++)
            OK(mp_list_append(p, i));
        r[n] = mp_list_reverse(p);
        list_text(p, got[n], sizeof got[n]);
        mp_proxy_close(p);
        stop(m);
    }
    for (int n = 0; n < 6; n++)
        ck_assert_msg(r[n] == 0 && strcmp(got[n], want[n]) == 0,
                      "mp_list_reverse of a list of %d returned %s and "
                      "left %s, expected %s. Swap the first and the last, "
                      "moving inwards, and stop at the middle.",
                      n, fl_ret(r[n]), got[n], want[n]);
}

FL_TEST(test_mp_list_get_counts_negative_indexes_from_the_end)
{
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    for (int i = 1; i <= 3; i++)
        OK(mp_list_append(p, 10 * i));
    long long last = 0, first = 0, x;
    int r1 = mp_list_get(p, -1, &last);
    int r2 = mp_list_set(p, -3, 11);
    int r3 = mp_list_get(p, 0, &first);
    int past = mp_list_get(p, 3, &x), before = mp_list_get(p, -4, &x);
    int set_past = mp_list_set(p, 3, 1);
    int n = mp_list_len(p);
    mp_proxy_close(p);
    stop(m);
    ck_assert_msg(r1 == 0 && last == 30,
                  "l = [10, 20, 30]; l[-1] gave %s and %lld, expected 30",
                  fl_ret(r1), last);
    ck_assert_msg(r2 == 0 && r3 == 0 && first == 11,
                  "l[-3] = 11, then l[0] gave %s and %lld, expected 11",
                  fl_ret(r3), first);
    ck_assert_msg(past == -ERANGE && before == -ERANGE && set_past == -ERANGE,
                  "l[3], l[-4] and l[3] = 1 on a list of 3 returned %s, %s "
                  "and %s, expected -ERANGE (Python's IndexError)",
                  fl_ret(past), fl_ret(before), fl_ret(set_past));
    fl_expect_int(n, 3, "mp_list_len", "");
}

FL_TEST(test_mp_list_repr_gives_emsgsize_when_the_text_outgrows_a_reply)
{
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    for (int i = 0; i < 250; i++) // 250 x 21 characters: over 4096
        OK(mp_list_append(p, 1000000000000000000LL));
    char *text = malloc(8192);
    ck_assert(text != NULL);
    int r = mp_list_repr(p, text, 8192);
    int n = mp_list_len(p);
    free(text);
    mp_proxy_close(p);
    stop(m);
    fl_expect_int(r, -EMSGSIZE,
                  "mp_list_repr of a list whose text is over 5000 bytes",
                  "The text must fit in one reply: the server answers "
                  "with the status -EMSGSIZE, never a frame over the "
                  "limit");
    fl_expect_int(n, 250, "mp_list_len after that", "");
}

/* ------------------------------------------------------------ races */

#define RACERS 4
#define ROUNDS 500
#define FRAME_CAP (MP_FRAME_HEADER + MP_MANAGER_MSG_MAX)

// The relay: each client connects to it, and it opens a connection to the
// server for each.  Then, round after round, it takes ONE request from
// every client before it passes any on, and passes every reply back
// before it takes the next requests.  Whatever a client does in two
// requests, every other client's request of the same round comes between.
struct relay {
    char path[108];
    int lfd;
    int down[RACERS]; // from the clients
    int up[RACERS];   // to the server, one for each client
};

static void
relay_open(struct relay *r)
{
    ck_assert(mp_ipc_path(r->path, sizeof r->path, "relay") > 0);
    unlink(r->path);
    r->lfd = raw_socket_at(r->path, 1);
    ck_assert_msg(r->lfd >= 0, "the relay could not listen: %s",
                  strerror(errno));
    for (int i = 0; i < RACERS; i++)
        r->down[i] = r->up[i] = -1;
}

static void
relay_close(struct relay *r)
{
    for (int i = 0; i < RACERS; i++) {
        if (r->down[i] >= 0)
            close(r->down[i]);
        if (r->up[i] >= 0)
            close(r->up[i]);
    }
    close(r->lfd);
    unlink(r->path);
}

// Accept the clients, connect to the server for each; NULL or what failed.
static const char *
relay_accept(struct relay *r, const char *server)
{
    for (int i = 0; i < RACERS; i++) {
        if (!fl_readable_within(r->lfd, WAIT_MS))
            return "a client never connected to the relay: does "
                   "mp_manager_connect connect to the address it is given?";
        r->down[i] = accept(r->lfd, NULL, NULL);
        r->up[i] = raw_socket_at(server, 0);
        if (r->down[i] < 0 || r->up[i] < 0)
            return "the relay could not connect to the server";
    }
    return NULL;
}

// Move the requests in lockstep until every client has closed.
static const char *
relay_run(struct relay *r)
{
    static unsigned char buf[RACERS][FRAME_CAP];
    ssize_t len[RACERS];
    int live = RACERS, alive[RACERS];
    for (int i = 0; i < RACERS; i++)
        alive[i] = 1;
    while (live > 0) {
        for (int i = 0; i < RACERS; i++) {
            if (!alive[i])
                continue;
            len[i] = fl_frame_read(r->down[i], buf[i], FRAME_CAP, WAIT_MS);
            if (len[i] < 0)
                return "a client sent something that is no frame (4-byte "
                       "big-endian length, then the body), or nothing";
            if (len[i] == 0)
                alive[i] = 0, live--;
        }
        for (int i = 0; i < RACERS; i++)
            if (alive[i] && raw_send(r->up[i], buf[i], (size_t)len[i]) < 0)
                return "the server closed a connection";
        for (int i = 0; i < RACERS; i++) {
            if (!alive[i])
                continue;
            len[i] = fl_frame_read(r->up[i], buf[i], FRAME_CAP, WAIT_MS);
            if (len[i] <= 0)
                return "with four clients connected, each with a request "
                       "waiting, the server did not answer one of them: "
                       "it must poll() every client at once, not serve one "
                       "client until it leaves";
            if (raw_send(r->down[i], buf[i], (size_t)len[i]) < 0)
                return "a client went away mid-request";
        }
    }
    return NULL;
}

// A racing client: ROUNDS increments of "n", by mp_dict_incr or by a get
// then a set.  0, or 1: no connection, 2: an incr failed, 3: a get or set.
struct racer {
    const char *address;
    int use_incr;
};

static int
racer(void *arg)
{
    struct racer *a = arg;
    mp_proxy *p;
    if (mp_manager_connect(a->address, &p) < 0)
        return 1;
    int bad = 0;
    for (int i = 0; i < ROUNDS && !bad; i++) {
        mp_value v;
        if (a->use_incr)
            bad = mp_dict_incr(p, mp_str("n"), 1, NULL) < 0 ? 2 : 0;
        else if (mp_dict_get(p, mp_str("n"), &v) < 0 || v.type != MP_INT ||
                 mp_dict_set(p, mp_str("n"), mp_int(v.i + 1)) < 0)
            bad = 3;
    }
    mp_proxy_close(p);
    return bad;
}

// Race RACERS clients through the relay; the final value of "n".
static long long
race(int use_incr)
{
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    OK(mp_dict_set(p, mp_str("n"), mp_int(0)));
    struct relay r;
    relay_open(&r);
    struct racer a = {r.path, use_incr};
    pid_t pid[RACERS];
    for (int i = 0; i < RACERS; i++)
        pid[i] = fl_raw_start(racer, &a);
    const char *why = relay_accept(&r, mp_manager_address(m));
    if (why == NULL)
        why = relay_run(&r);
    relay_close(&r); // a client still waiting now sees EOF
    int st[RACERS];
    for (int i = 0; i < RACERS; i++)
        st[i] = fl_reap_code(pid[i]);
    mp_value v = mp_none();
    int got = mp_dict_get(p, mp_str("n"), &v);
    mp_proxy_close(p);
    stop(m);
    ck_assert_msg(why == NULL, "%s", why);
    for (int i = 0; i < RACERS; i++)
        ck_assert_msg(st[i] == 0, "racing client %d failed: %s", i,
                      st[i] == 1   ? "mp_manager_connect failed"
                      : st[i] == 2 ? "mp_dict_incr returned an error"
                      : st[i] == 3 ? "mp_dict_get or mp_dict_set failed"
                                   : "it crashed");
    ck_assert_msg(got == 0 && v.type == MP_INT,
                  "after the race, mp_dict_get(\"n\") returned %s",
                  fl_ret(got));
    return v.i;
}

FL_TEST(test_mp_dict_get_then_set_loses_updates_when_clients_race)
{
    long long n = race(0);
    ck_assert_msg(n == ROUNDS,
                  "%d clients each did d['n'] = d['n'] + 1 %d times, with "
                  "a get and then a set; the relay let every client's get "
                  "of a round through before any set. Expected %d (every "
                  "round, all four read the same value and wrote the same "
                  "sum: three updates lost), got %lld.",
                  RACERS, ROUNDS, ROUNDS, n);
}

FL_TEST(test_mp_dict_incr_loses_no_update_when_clients_race)
{
    long long n = race(1);
    ck_assert_msg(n == (long long)RACERS * ROUNDS,
                  "%d clients each called mp_dict_incr(\"n\", 1) %d times "
                  "in lockstep; expected %d, got %lld. mp_dict_incr must be "
                  "ONE request that the server carries out whole: as a get "
                  "then a set, all four clients read the same value each "
                  "round and three of four updates are lost.",
                  RACERS, ROUNDS, RACERS * ROUNDS, n);
}

FL_TEST(test_mp_dict_incr_counts_a_missing_key_from_0)
{
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    long long a = 0, b = 0;
    int r1 = mp_dict_incr(p, mp_str("a"), 5, &a);
    int r2 = mp_dict_incr(p, mp_str("a"), -7, &b);
    int r3 = mp_dict_incr(p, mp_str("a"), 1, NULL);
    mp_value v = mp_none();
    int r4 = mp_dict_get(p, mp_str("a"), &v);
    mp_proxy_close(p);
    stop(m);
    ck_assert_msg(r1 == 0 && a == 5,
                  "mp_dict_incr of a missing key by 5 returned %s with %lld, "
                  "expected 0 with 5: a missing key counts as 0",
                  fl_ret(r1), a);
    ck_assert_msg(r2 == 0 && b == -2, "then by -7: %s with %lld, expected -2",
                  fl_ret(r2), b);
    ck_assert_msg(r3 == 0 && r4 == 0 && v.type == MP_INT && v.i == -1,
                  "then by 1 with now NULL (%s), the key holds %s %lld; "
                  "expected the int -1",
                  fl_ret(r3), fl_ret(r4), v.i);
}

FL_TEST(test_mp_dict_incr_refuses_what_it_cannot_add)
{
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    OK(mp_dict_set(p, mp_str("s"), mp_str("text")));
    OK(mp_dict_set(p, mp_str("max"), mp_int(LLONG_MAX)));
    OK(mp_dict_set(p, mp_str("min"), mp_int(LLONG_MIN)));
    int s = mp_dict_incr(p, mp_str("s"), 1, NULL);
    int up = mp_dict_incr(p, mp_str("max"), 1, NULL);
    int down = mp_dict_incr(p, mp_str("min"), -1, NULL);
    mp_value v = mp_none();
    int r = mp_dict_get(p, mp_str("max"), &v);
    mp_proxy_close(p);
    stop(m);
    fl_expect_int(s, -EINVAL, "mp_dict_incr of a key holding a string",
                  "Only an MP_INT can be added to: Python's TypeError");
    ck_assert_msg(up == -EOVERFLOW && down == -EOVERFLOW,
                  "mp_dict_incr(LLONG_MAX, 1) returned %s and "
                  "mp_dict_incr(LLONG_MIN, -1) %s; expected -EOVERFLOW. "
                  "Check before adding: signed overflow is undefined "
                  "behaviour, and delta is whatever a client sent.",
                  fl_ret(up), fl_ret(down));
    ck_assert_msg(r == 0 && v.type == MP_INT && v.i == LLONG_MAX,
                  "a refused increment changed the value");
}

/* ------------------------------------------------------- the server */

FL_TEST(test_mp_manager_serves_a_second_client_while_the_first_is_connected)
{
    mp_manager *m = start();
    mp_proxy *a = proxy(m);
    OK(mp_dict_set(a, mp_str("x"), mp_int(42))); // a is being served
    mp_proxy *b = proxy(m);
    fl_child res;
    fl_run_in_child(get_x, b, WAIT_MS, 0, &res);
    if (res.timed_out)
        kill(server_of(m), SIGKILL); // or shutdown waits for it too
    mp_proxy_close(b);
    mp_proxy_close(a);
    mp_manager_shutdown(m, NULL);
    ck_assert_msg(!res.timed_out,
                  "while a first client stayed connected, a second "
                  "client's request got no answer within %d ms. The server "
                  "must poll() the listening socket and every client "
                  "together, accepting new clients as they come: a server "
                  "that serves one client until it leaves makes the next "
                  "one hang.",
                  WAIT_MS);
    ck_assert_msg(res.returned && res.value == 42,
                  "the second client's mp_dict_get(\"x\") %s, expected 42",
                  how(&res));
}

FL_TEST(test_mp_manager_answers_two_requests_sent_in_one_write)
{
    mp_manager *m = start();
    int fd = raw_socket_at(manager_path(), 0);
    ck_assert_msg(fd >= 0, "could not connect: %s", strerror(errno));
    // Two frames, each MP_OP_DICT_LEN alone, in ONE write: the server may
    // read both at once.
    unsigned char two[2 * (MP_FRAME_HEADER + 1)];
    for (int i = 0; i < 2; i++) {
        fl_put_be32(two + i * 5, 1);
        two[i * 5 + 4] = MP_OP_DICT_LEN;
    }
    ck_assert(raw_send(fd, two, sizeof two) == 0);
    unsigned char got[2][FRAME_CAP];
    ssize_t n1 = fl_frame_read(fd, got[0], FRAME_CAP, WAIT_MS);
    ssize_t n2 = n1 > 0 ? fl_frame_read(fd, got[1], FRAME_CAP, WAIT_MS) : -1;
    close(fd);
    stop(m);
    // Each reply: the header (18), the status (type, 8 bytes: 0), the
    // count (type, 8 bytes: 0).
    unsigned char want[MP_FRAME_HEADER + 18] = {0};
    fl_put_be32(want, 18);
    want[MP_FRAME_HEADER] = want[MP_FRAME_HEADER + 9] = MP_INT;
    ck_assert_msg(n1 == (ssize_t)sizeof want &&
                      memcmp(got[0], want, sizeof want) == 0 &&
                      n2 == (ssize_t)sizeof want &&
                      memcmp(got[1], want, sizeof want) == 0,
                  "two requests came in one write; the server answered "
                  "%s. A stream socket keeps no boundaries: read the 4-byte "
                  "header, then exactly that many bytes, and leave the "
                  "next request for the next read.",
                  n1 <= 0   ? "neither (no valid frame within 3 s)"
                  : n2 <= 0 ? "only one of them"
                            : "both, but not with status 0 and the count 0");
}

// Send one request body, raw; the status of its reply, or a value under
// -4095 that says what went wrong.
static long long
raw_status(int fd, const void *body, size_t len)
{
    unsigned char frame[64], reply[FRAME_CAP];
    fl_put_be32(frame, (uint32_t)len);
    memcpy(frame + MP_FRAME_HEADER, body, len);
    if (raw_send(fd, frame, MP_FRAME_HEADER + len) < 0)
        return -10000; // the server closed the connection
    ssize_t n = fl_frame_read(fd, reply, sizeof reply, WAIT_MS);
    if (n < MP_FRAME_HEADER + 9 || reply[MP_FRAME_HEADER] != MP_INT)
        return -20000; // no reply, or one without a status
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = x << 8 | reply[MP_FRAME_HEADER + 1 + i];
    return x > INT64_MAX ? -(long long)~x - 1 : (long long)x;
}

FL_TEST(test_mp_manager_answers_a_malformed_request_with_eproto)
{
    static const unsigned char ops[] = "SGDLIPagslrpq"; // q: no such op
    mp_manager *m = start();
    int fd = raw_socket_at(manager_path(), 0);
    ck_assert_msg(fd >= 0, "could not connect: %s", strerror(errno));
    long long st[sizeof ops];
    for (size_t i = 0; i + 1 < sizeof ops; i++) {
        unsigned char body[2] = {ops[i], 'Z'}; // 'Z' is no type
        st[i] = raw_status(fd, body, sizeof body);
    }
    // A string whose length says 1 and that has no 0 after its byte.
    static const unsigned char nul[] = {'S', 's', 0, 0, 0, 1, 'a', 'b'};
    long long no_nul = raw_status(fd, nul, sizeof nul);
    unsigned char zero[MP_FRAME_HEADER] = {0, 0, 0, 0}; // an empty frame
    ck_assert(raw_send(fd, zero, sizeof zero) == 0);
    char c;
    int eof = fl_readable_within(fd, WAIT_MS) && read(fd, &c, 1) <= 0;
    close(fd);
    mp_proxy *p = proxy(m);
    int n = mp_dict_len(p);
    mp_proxy_close(p);
    stop(m);
    for (size_t i = 0; i + 1 < sizeof ops; i++)
        ck_assert_msg(st[i] == -EPROTO,
                      "a request '%c' followed by a byte that is no type "
                      "got %s, expected a reply with the status -EPROTO: "
                      "the server answers a bad request and goes on",
                      ops[i],
                      st[i] == -10000   ? "the connection closed"
                      : st[i] == -20000 ? "no reply with a status"
                                        : fl_ret(st[i]));
    ck_assert_msg(no_nul == -EPROTO,
                  "a string without its 0 byte got %s, expected -EPROTO",
                  fl_ret(no_nul));
    ck_assert_msg(eof, "after a frame of length 0 the server should close "
                       "the connection: recv_frame returns -EPROTO");
    fl_expect_int(n, 0, "mp_dict_len after the bad requests",
                  "Nothing may have been stored");
}

FL_TEST(test_mp_manager_refuses_a_frame_over_the_limit)
{
    mp_manager *m = start();
    pid_t pid = server_of(m);
    int fd = raw_socket_at(manager_path(), 0);
    ck_assert_msg(fd >= 0, "could not connect: %s", strerror(errno));
    // A header that announces one byte too many, then a little of it.
    unsigned char msg[MP_FRAME_HEADER + 16] = {0};
    fl_put_be32(msg, MP_MANAGER_MSG_MAX + 1);
    ck_assert(raw_send(fd, msg, sizeof msg) == 0);
    char c;
    int eof = fl_readable_within(fd, WAIT_MS) && read(fd, &c, 1) <= 0;
    close(fd);
    fl_child res = {0};
    if (eof) {
        mp_proxy *p = proxy(m);
        fl_run_in_child(len_with_sigpipe, p, WAIT_MS, 0, &res);
        mp_proxy_close(p);
    }
    int alive = fl_alive(pid);
    if (!eof)
        kill(pid, SIGKILL);
    mp_manager_shutdown(m, NULL);
    ck_assert_msg(eof,
                  "a client sent a header announcing %d bytes (more than "
                  "MP_MANAGER_MSG_MAX), then stopped: the server should "
                  "close that connection at once, without reading the "
                  "body. recv_frame: over the limit, return -EMSGSIZE "
                  "before reading on.",
                  MP_MANAGER_MSG_MAX + 1);
    ck_assert_msg(alive && res.returned && res.value == 0,
                  "after refusing that frame, the server must serve the "
                  "others; a new client's mp_dict_len %s%s",
                  how(&res), alive ? "" : " (the server is dead)");
}

FL_TEST(test_mp_dict_set_refuses_a_request_over_the_limit)
{
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    char *big = malloc(MP_MANAGER_MSG_MAX + 1);
    ck_assert(big != NULL);
    memset(big, 'x', MP_MANAGER_MSG_MAX);
    big[MP_MANAGER_MSG_MAX] = '\0';
    int r = mp_dict_set(p, mp_str("big"), mp_str(big));
    big[4000] = '\0'; // a request of 4015 bytes: fits
    int fits = mp_dict_set(p, mp_str("big"), mp_str(big));
    mp_value v = mp_none();
    int got = mp_dict_get(p, mp_str("big"), &v);
    size_t len = got == 0 && v.type == MP_STR ? strlen(v.s) : 0;
    free(big);
    mp_proxy_close(p);
    stop(m);
    fl_expect_int(r, -EMSGSIZE,
                  "mp_dict_set with a value of MP_MANAGER_MSG_MAX bytes",
                  "A request that does not fit (req->err) is refused "
                  "before anything is sent");
    ck_assert_msg(fits == 0 && got == 0 && len == 4000,
                  "after that, setting and getting a 4000-byte string gave "
                  "%s and %s (length %zu): the refused request must leave "
                  "the proxy usable, so nothing of it may be sent",
                  fl_ret(fits), fl_ret(got), len);
}

FL_TEST(test_mp_manager_survives_a_client_that_dies_before_its_reply)
{
    mp_manager *m = start();
    pid_t pid = server_of(m);
    int fd = raw_socket_at(manager_path(), 0);
    ck_assert_msg(fd >= 0, "could not connect: %s", strerror(errno));
    unsigned char req[MP_FRAME_HEADER + 1], rep[FRAME_CAP];
    fl_put_be32(req, 1);
    req[4] = MP_OP_DICT_LEN;
    ck_assert(raw_send(fd, req, sizeof req) == 0);
    ck_assert_msg(fl_frame_read(fd, rep, sizeof rep, WAIT_MS) > 0,
                  "the server did not answer a raw MP_OP_DICT_LEN request");
    // The client sends a request and is gone before the reply: the
    // server's reply then meets a closed socket.
    kill(pid, SIGSTOP);
    ck_assert(raw_send(fd, req, sizeof req) == 0);
    close(fd);
    kill(pid, SIGCONT);
    mp_proxy *p = NULL;
    int c = mp_manager_connect(manager_path(), &p);
    fl_child res = {0};
    if (c == 0)
        fl_run_in_child(len_with_sigpipe, p, WAIT_MS, 0, &res);
    mp_proxy_close(p);
    int alive = fl_alive(pid);
    mp_manager_shutdown(m, NULL);
    ck_assert_msg(alive,
                  "a client died before the server replied to it, and the "
                  "server died too. %s: in the server too.",
                  SIGPIPE_HINT);
    ck_assert_msg(c == 0 && res.returned && res.value == 0,
                  "a client died before the server replied to it; then a "
                  "new client's mp_manager_connect returned %s and its "
                  "mp_dict_len %s, expected 0 and 0: after a failed send, "
                  "close that client and go on serving the others",
                  fl_ret(c), c == 0 ? how(&res) : "(not called)");
}

/* ------------------------------------- proxies when the server goes */

// A fake server: accept twice; the first time read the request and
// close, the second close with the request unread.
static int
hang_up(void *arg)
{
    int lfd = *(int *)arg;
    unsigned char buf[FRAME_CAP];
    for (int i = 0; i < 2; i++) {
        if (!fl_readable_within(lfd, WAIT_MS))
            return 1;
        int c = accept(lfd, NULL, NULL);
        if (c < 0 || !fl_readable_within(c, WAIT_MS))
            return 2;
        if (i == 0 && fl_frame_read(c, buf, sizeof buf, WAIT_MS) <= 0)
            return 3;
        close(c);
    }
    return 0;
}

FL_TEST(test_mp_dict_len_gives_epipe_when_the_server_hangs_up)
{
    char path[108];
    ck_assert(mp_ipc_path(path, sizeof path, "fake") > 0);
    unlink(path);
    int lfd = raw_socket_at(path, 1);
    ck_assert_msg(lfd >= 0, "could not listen: %s", strerror(errno));
    pid_t pid = fl_raw_start(hang_up, &lfd);
    close(lfd); // once the fake server has gone, connect() is refused
    int r[2];
    for (int i = 0; i < 2; i++) {
        mp_proxy *p = proxy_to(path);
        r[i] = mp_dict_len(p);
        mp_proxy_close(p);
    }
    int st = fl_reap_code(pid);
    unlink(path);
    ck_assert_msg(st == 0,
                  "the fake server got no whole request (%d): a request is a "
                  "frame, a 4-byte big-endian length and then the body",
                  st);
    fl_expect_int(r[0], -EPIPE,
                  "mp_dict_len when the server read the request and closed",
                  "EOF (recv_frame returns 0) where a reply was due means "
                  "the server has gone: -EPIPE, never a reply");
    fl_expect_int(r[1], -EPIPE,
                  "mp_dict_len when the server closed with the request "
                  "unread",
                  "The kernel then reports ECONNRESET to the client: that "
                  "too means the server has gone, -EPIPE");
}

// A fake server: accept twice, read the request, and answer with a frame
// cut short: the first time in its header, the second in its body.
static int
cut_short(void *arg)
{
    int lfd = *(int *)arg;
    unsigned char buf[FRAME_CAP], part[MP_FRAME_HEADER + 3] = {0};
    fl_put_be32(part, 18); // the length of a whole reply to MP_OP_DICT_LEN
    for (int i = 0; i < 2; i++) {
        if (!fl_readable_within(lfd, WAIT_MS))
            return 1;
        int c = accept(lfd, NULL, NULL);
        if (c < 0 || fl_frame_read(c, buf, sizeof buf, WAIT_MS) <= 0)
            return 2;
        size_t len = i == 0 ? 2 : sizeof part;
        if (fl_write_full(c, part, len) < 0)
            return 3;
        close(c);
    }
    return 0;
}

FL_TEST(test_mp_dict_len_gives_eproto_when_a_reply_is_cut_short)
{
    char path[108];
    ck_assert(mp_ipc_path(path, sizeof path, "fake") > 0);
    unlink(path);
    int lfd = raw_socket_at(path, 1);
    ck_assert_msg(lfd >= 0, "could not listen: %s", strerror(errno));
    pid_t pid = fl_raw_start(cut_short, &lfd);
    close(lfd);
    int r[2];
    for (int i = 0; i < 2; i++) {
        mp_proxy *p = proxy_to(path);
        r[i] = mp_dict_len(p);
        mp_proxy_close(p);
    }
    int st = fl_reap_code(pid);
    unlink(path);
    ck_assert_msg(st == 0, "the fake server got no whole request (%d)", st);
    fl_expect_int(r[0], -EPROTO,
                  "mp_dict_len when the reply stopped after 2 bytes of its "
                  "header",
                  "Part of a header, then EOF, is a frame cut short: "
                  "recv_frame returns -EPROTO, not 0 (0 is EOF before any "
                  "byte of a frame)");
    fl_expect_int(r[1], -EPROTO,
                  "mp_dict_len when the reply stopped 3 bytes into its body",
                  "Fewer body bytes than the header announced: -EPROTO");
}

FL_TEST(test_mp_dict_len_gives_epipe_when_the_server_was_killed)
{
    mp_manager *m = start();
    pid_t pid = server_of(m);
    mp_proxy *p = proxy(m);
    OK(mp_dict_set(p, mp_str("x"), mp_int(1)));
    kill(pid, SIGKILL);
    fl_until_ended(pid);
    fl_child res;
    fl_run_in_child(len_with_sigpipe, p, WAIT_MS, 0, &res);
    mp_proxy_close(p);
    mp_manager_shutdown(m, NULL);
    ck_assert_msg(res.returned && res.value == -EPIPE,
                  "the server was killed; then a client's mp_dict_len %s, "
                  "expected -EPIPE. %s.",
                  how(&res), SIGPIPE_HINT);
}

/* ------------------------------------------------ mp_manager_shutdown */

FL_TEST(test_mp_manager_shutdown_stops_the_server_and_removes_its_socket)
{
    mp_manager *m = start();
    pid_t pid = server_of(m);
    mp_proxy *p = proxy(m);
    OK(mp_list_append(p, 1));
    mp_proxy_close(p);
    int code = -1000;
    int r = mp_manager_shutdown(m, &code);
    int left = exists(manager_path());
    unlink(manager_path());
    fl_expect_int(r, 0, "mp_manager_shutdown", "");
    ck_assert_msg(!fl_alive(pid), "the server is still running");
    ck_assert_msg(code == 0,
                  "the server's exit code was %d, expected 0: it should "
                  "stop on the MP_OP_SHUTDOWN request and end with "
                  "_exit(0), within MP_MANAGER_GRACE_MS (-9: it was killed "
                  "because it did not)",
                  code);
    ck_assert_msg(!left,
                  "after a clean shutdown, %s is still there: a socket file "
                  "outlives its process. The server must unlink() it before "
                  "it exits; the next mp_manager_start would fail with "
                  "EADDRINUSE.",
                  manager_path());
}

FL_TEST(test_mp_manager_shutdown_makes_later_requests_fail_with_epipe)
{
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    OK(mp_dict_set(p, mp_str("x"), mp_int(1)));
    stop(m);
    fl_child res;
    fl_run_in_child(len_with_sigpipe, p, WAIT_MS, 0, &res);
    mp_proxy *q = NULL;
    int c = mp_manager_connect(manager_path(), &q);
    mp_proxy_close(q);
    int closed = mp_proxy_close(p);
    ck_assert_msg(res.returned && res.value == -EPIPE,
                  "after mp_manager_shutdown, a proxy's mp_dict_len %s, "
                  "expected -EPIPE (Python raises an error; it does not "
                  "crash). %s.",
                  how(&res), SIGPIPE_HINT);
    fl_expect_int(c, -ENOENT, "mp_manager_connect after the shutdown",
                  "The server removed its socket file: connect() fails "
                  "with ENOENT");
    fl_expect_int(closed, 0, "mp_proxy_close of that proxy", "");
}

FL_TEST(test_mp_manager_shutdown_cleans_up_after_a_killed_server)
{
    mp_manager *m = start();
    pid_t pid = server_of(m);
    kill(pid, SIGKILL);
    fl_until_ended(pid); // it could not remove its socket file
    int code = -1000;
    int r = mp_manager_shutdown(m, &code);
    int left = exists(manager_path());
    unlink(manager_path());
    fl_expect_int(r, 0, "mp_manager_shutdown of a killed server",
                  "The connection is refused: go on, reap the server");
    ck_assert_msg(code == -SIGKILL,
                  "the killed server's exit code was %d, expected -9: "
                  "Python's way, minus the signal that killed it",
                  code);
    ck_assert_msg(!left,
                  "the server was killed, so it could not remove %s; "
                  "mp_manager_shutdown must: a server that did not exit "
                  "with 0 left its socket file behind",
                  manager_path());
}

static int
exit_7(void *arg)
{
    (void)arg;
    return 7;
}

FL_TEST(test_mp_manager_shutdown_reaps_only_the_server)
{
    // The caller's own child, older than the server and already ended:
    // wait() or waitpid(-1) would take it first.
    pid_t mine = fl_raw_start(exit_7, NULL);
    fl_until_ended(mine);
    mp_manager *m = start();
    int code = -1000;
    int r = mp_manager_shutdown(m, &code);
    int st;
    pid_t w = waitpid(mine, &st, WNOHANG);
    ck_assert_msg(w == mine && WIFEXITED(st) && WEXITSTATUS(st) == 7,
                  "mp_manager_shutdown reaped a child of the caller that "
                  "was not the server (waitpid(%d) then failed: %s). Reap "
                  "the server's pid only: never wait() or waitpid(-1, ...).",
                  (int)mine, strerror(errno));
    fl_expect_int(r, 0, "mp_manager_shutdown", "");
    ck_assert_msg(code == 0, "the server's exit code was %d, expected 0%s",
                  code,
                  code == -SIGKILL ? ": it was killed when MP_MANAGER_GRACE_MS "
                                     "had passed, so it never got (or never "
                                     "obeyed) the shutdown request"
                                   : "");
}

/* ------------------------- error paths, EINTR and limits (issue 13) */

// Start a manager with the nth call of fn failing with err (in the caller
// or, for a call only the server makes, in the server, which inherits the
// fault at fork).  Fails the test unless start gave -err (or want, when
// it is not 0), left no descriptor, child, heap block or socket file.
static void
start_failing(const char *fn, int err, int want, const char *hint)
{
    unlink(manager_path());
    fl_snapshot s;
    fl_snapshot_take(&s);
    fl_fault_reset();
    fl_fault_fail(fn, 1, err);
    mp_manager *m = NULL;
    int r = mp_manager_start(&m);
    fl_fault_reset();
    if (r == 0)
        mp_manager_shutdown(m, NULL);
    int left = exists(manager_path());
    unlink(manager_path());
    char what[160];
    snprintf(what, sizeof what, "mp_manager_start with %s() failing (%s)", fn,
             strerror(err));
    fl_expect_int(r, want != 0 ? want : -err, what, hint);
    fl_expect_no_leak(&s, what);
    ck_assert_msg(!left,
                  "%s left its socket file at %s: the server must unlink "
                  "what bind() made when a later step (listen, the ready "
                  "word) fails",
                  what, manager_path());
}

FL_TEST(test_mp_manager_start_leaks_nothing_when_a_step_fails)
{
    start_failing("malloc", ENOMEM, 0,
                  "no memory for the handle: return -ENOMEM");
    start_failing("pipe", EMFILE, 0,
                  "pipe() failed: free the handle, return -errno");
    start_failing("fork", EAGAIN, 0,
                  "fork() failed: close BOTH ends of the pipe and free the "
                  "handle (goto fail), then return -errno");
    start_failing("socket", EMFILE, 0,
                  "the server's socket() failed: it sends that errno as "
                  "its word, and the caller returns minus it");
    start_failing("bind", EACCES, 0,
                  "the server's bind() failed: send its errno as the word");
    start_failing("listen", ENOBUFS, 0,
                  "the server's listen() failed after bind() made the "
                  "file: close the socket, unlink the file, send the errno");
    start_failing("write", EIO, -EPIPE,
                  "the server could not send its word: it must unlink its "
                  "file and _exit(1), and the caller, reading EOF, returns "
                  "-EPIPE");
}

FL_TEST(test_mp_manager_start_reaps_a_failed_server_despite_eintr)
{
    unlink(manager_path());
    int busy = raw_socket_at(manager_path(), 1);
    ck_assert_msg(busy >= 0, "could not listen at %s: %s", manager_path(),
                  strerror(errno));
    fl_snapshot s;
    fl_snapshot_take(&s);
    fl_fault_reset();
    fl_fault_eintr("read", 1);
    fl_fault_eintr("waitpid", 1);
    mp_manager *m = NULL;
    int r = mp_manager_start(&m);
    long waits = fl_fault_calls("waitpid");
    fl_fault_reset();
    if (r == 0)
        mp_manager_shutdown(m, NULL);
    fl_expect_no_leak(&s, "a failed mp_manager_start with EINTR");
    close(busy);
    unlink(manager_path());
    fl_expect_int(r, -EADDRINUSE,
                  "mp_manager_start at an address in use, its read and "
                  "waitpid interrupted by a signal (EINTR)",
                  "An interrupted read or waitpid is not an answer: call "
                  "it again");
    ck_assert_msg(waits >= 2,
                  "mp_manager_start called waitpid %ld time(s); the first "
                  "was interrupted (EINTR), so the failed server was never "
                  "reaped. Loop: while (waitpid(pid, ...) < 0 && errno == "
                  "EINTR);",
                  waits);
}

FL_TEST(test_mp_manager_shutdown_reaps_the_server_despite_eintr)
{
    mp_manager *m = start();
    pid_t pid = server_of(m);
    fl_fault_reset();
    fl_fault_eintr("poll", 1);
    fl_fault_eintr("waitpid", 1);
    int code = -1000;
    int r = mp_manager_shutdown(m, &code);
    fl_fault_reset();
    int zombie = fl_zombie(pid), left = exists(manager_path());
    if (zombie)
        fl_reap_code(pid);
    fl_expect_int(r, 0,
                  "mp_manager_shutdown with its poll and waitpid "
                  "interrupted by a signal (EINTR)",
                  "EINTR means 'a handler ran', not 'the server is gone': "
                  "call waitpid again");
    ck_assert_msg(!zombie, "the server was left a zombie after EINTR");
    ck_assert_msg(code == 0, "the server's exit code was %d, expected 0%s",
                  code,
                  code == -SIGKILL ? ": it was killed (SIGKILL) because "
                                     "the grace period ended at once, the "
                                     "poll interrupted; wait for the time "
                                     "left"
                                   : "");
    ck_assert_msg(!left, "the socket file is still at %s", manager_path());
}

// The calls of mp_manager_connect that can fail, and how.
static const struct {
    const char *fn;
    int err;
} connect_faults[] = {
    {"malloc", ENOMEM}, {"socket", EMFILE}, {"connect", ECONNREFUSED}};

FL_TEST(test_mp_manager_connect_leaks_nothing_when_a_step_fails)
{
    mp_manager *m = start();
    for (size_t i = 0; i < sizeof connect_faults / sizeof connect_faults[0];
         i++) {
        const char *fn = connect_faults[i].fn;
        int err = connect_faults[i].err;
        FL_FAULT_WALK (fn, err, k) {
            fl_snapshot s;
            fl_snapshot_take(&s);
            mp_proxy *p = NULL;
            int r = mp_manager_connect(mp_manager_address(m), &p);
            int fired = fl_fault_fired(fn) > 0;
            char what[128];
            snprintf(what, sizeof what,
                     "mp_manager_connect with %s() failing (%s)", fn,
                     strerror(err));
            if (fired) {
                fl_expect_int(r, -err, what,
                              "return minus the errno of the call that "
                              "failed");
            } else {
                fl_expect_int(r, 0, "mp_manager_connect", "");
                mp_proxy_close(p);
                snprintf(what, sizeof what,
                         "mp_manager_connect then mp_proxy_close");
            }
            fl_expect_no_leak(&s, what);
        }
    }
    stop(m);
}

FL_TEST(test_mp_manager_connect_takes_a_path_of_107_bytes_not_108)
{
    char path[112];
    int want[3] = {-ENOENT, -ENAMETOOLONG, -ENAMETOOLONG};
    for (int len = 107; len <= 109; len++) {
        memset(path, 'x', (size_t)len);
        path[0] = '/';
        path[len] = '\0';
        mp_proxy *p = NULL;
        int r = mp_manager_connect(path, &p);
        if (r == 0)
            mp_proxy_close(p);
        char what[96];
        snprintf(what, sizeof what,
                 "mp_manager_connect to a path of %d bytes (no such file)",
                 len);
        fl_expect_int(r, want[len - 107], what,
                      "sun_path holds 108 bytes, the NUL included: a path "
                      "of 108 bytes or more does not fit (strlen >= sizeof "
                      "sun_path), one of 107 does");
    }
}

FL_TEST(test_mp_manager_takes_a_request_of_exactly_mp_manager_msg_max_bytes)
{
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    // Set "k" to a string of n bytes: the body is 1 (op) + 7 (the key)
    // + 6 + n (the value), so n = MP_MANAGER_MSG_MAX - 14 fills it.
    size_t fill = MP_MANAGER_MSG_MAX - 14;
    char *big = malloc(fill + 2);
    ck_assert(big != NULL);
    int r[3];
    for (int i = 0; i < 3; i++) {
        memset(big, 'v', fill - 1 + (size_t)i);
        big[fill - 1 + (size_t)i] = '\0';
        r[i] = mp_dict_set(p, mp_str("k"), mp_str(big));
    }
    free(big);
    int len = mp_dict_len(p);
    mp_proxy_close(p);
    stop(m);
    ck_assert_msg(r[0] == 0 && r[1] == 0,
                  "mp_dict_set with a request body of %d and of exactly %d "
                  "(MP_MANAGER_MSG_MAX) bytes returned %s and %s, expected "
                  "0 and 0: the limit is the longest body allowed, so "
                  "recv_frame refuses len > cap, not len >= cap",
                  MP_MANAGER_MSG_MAX - 1, MP_MANAGER_MSG_MAX, fl_ret(r[0]),
                  fl_ret(r[1]));
    fl_expect_int(r[2], -EMSGSIZE, "mp_dict_set one byte over the limit",
                  "the request does not fit: refuse it before sending");
    fl_expect_int(len, 1, "mp_dict_len afterwards",
                  "the proxy must still work after those requests");
}

FL_TEST(test_mp_dict_incr_reaches_llong_max_and_llong_min_exactly)
{
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    OK(mp_dict_set(p, mp_str("hi"), mp_int(LLONG_MAX - 1)));
    OK(mp_dict_set(p, mp_str("lo"), mp_int(LLONG_MIN + 1)));
    OK(mp_dict_set(p, mp_str("mix"), mp_int(LLONG_MAX)));
    long long hi = 0, lo = 0, mix = 0;
    int r1 = mp_dict_incr(p, mp_str("hi"), 1, &hi);
    int r2 = mp_dict_incr(p, mp_str("lo"), -1, &lo);
    int r3 = mp_dict_incr(p, mp_str("mix"), LLONG_MIN, &mix);
    mp_proxy_close(p);
    stop(m);
    ck_assert_msg(r1 == 0 && hi == LLONG_MAX && r2 == 0 && lo == LLONG_MIN,
                  "LLONG_MAX - 1 plus 1 gave %s (value %lld), LLONG_MIN + 1 "
                  "minus 1 gave %s (value %lld); expected 0 with LLONG_MAX "
                  "and LLONG_MIN: a sum that reaches the limit fits. The "
                  "check is now > LLONG_MAX - delta, not >=",
                  fl_ret(r1), hi, fl_ret(r2), lo);
    ck_assert_msg(r3 == 0 && mix == -1,
                  "LLONG_MAX plus LLONG_MIN gave %s (value %lld), expected "
                  "0 with -1: adding a negative to a positive never "
                  "overflows",
                  fl_ret(r3), mix);
}

#define CLIENTS 64 // MAX_CLIENTS in the stub: clients served at once

FL_TEST(test_mp_manager_serves_64_clients_at_once_and_closes_the_65th)
{
    mp_manager *m = start();
    mp_proxy *p[CLIENTS + 1];
    int bad = -1, r = 0;
    for (int i = 0; i < CLIENTS; i++) {
        p[i] = proxy(m);
        r = mp_dict_incr(p[i], mp_str("n"), 1, NULL);
        if (r != 0 && bad < 0)
            bad = i;
    }
    p[CLIENTS] = proxy(m);
    int extra = mp_dict_len(p[CLIENTS]);
    for (int i = 0; i <= CLIENTS; i++)
        mp_proxy_close(p[i]);
    mp_proxy *q = proxy(m);
    long long n = 0;
    int after = mp_dict_incr(q, mp_str("n"), 0, &n);
    mp_proxy_close(q);
    stop(m);
    ck_assert_msg(bad < 0,
                  "with %d clients connected at once, client %d got %s: "
                  "the server's table holds MAX_CLIENTS (%d) clients after "
                  "the listening socket (1 + MAX_CLIENTS entries)",
                  CLIENTS, bad + 1, fl_ret(r), CLIENTS);
    fl_expect_int(extra, -EPIPE,
                  "a 65th client's request while 64 are connected",
                  "A client the table has no room for is closed at once, "
                  "so it sees EOF (-EPIPE); keeping it writes past the end "
                  "of the pollfd array (n < 1 + MAX_CLIENTS)");
    ck_assert_msg(after == 0 && n == CLIENTS,
                  "once they had all left, a new client's incr gave %s "
                  "(value %lld, expected %d): the server must close and "
                  "drop each client that leaves, and live on",
                  fl_ret(after), n, CLIENTS);
}

// How many descriptors pid holds, from /proc/PID/fd.
static int
fds_of(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    int n = 0;
    for (int fd = 0; fd < 1024; fd++) {
        char path[80];
        struct stat st;
        snprintf(path, sizeof path, "%s/%d", dir, fd);
        n += lstat(path, &st) == 0;
    }
    return n;
}

// mp_dict_len as an OK-or-error: 0, or its error.
static int
len_ok(mp_proxy *p)
{
    int n = mp_dict_len(p);
    return n < 0 ? n : 0;
}

FL_TEST(test_mp_manager_server_closes_each_client_that_leaves)
{
    mp_manager *m = start();
    pid_t pid = server_of(m);
    mp_proxy *a = proxy(m);
    OK(len_ok(a));
    int before = fds_of(pid);
    for (int i = 0; i < 8; i++) {
        mp_proxy *c = proxy(m);
        OK(mp_dict_incr(c, mp_str("n"), 1, NULL));
        mp_proxy_close(c);
    }
    // Two round trips: the first may be served in the same pass of poll()
    // as the last EOF, the second comes after it.
    OK(len_ok(a));
    OK(len_ok(a));
    int after = fds_of(pid);
    mp_proxy_close(a);
    stop(m);
    ck_assert_msg(after == before,
                  "the server held %d descriptors with one client, and %d "
                  "after 8 more clients had come and gone: close() each "
                  "client's socket when it leaves (EOF), not only drop it "
                  "from the poll table, or a long-lived server runs out of "
                  "descriptors",
                  before, after);
}

// In a child: mp_dict_len on the proxy.
static int
len_of(void *arg)
{
    return mp_dict_len(arg);
}

FL_TEST(test_mp_manager_serves_the_other_clients_when_one_leaves)
{
    mp_manager *m = start();
    mp_proxy *p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = proxy(m);
        OK(len_ok(p[i])); // all four are in the server's table now
    }
    mp_proxy_close(p[0]); // the first leaves: the table has a hole
    fl_child res[3];
    int bad = -1;
    for (int i = 1; i < 4; i++) {
        fl_run_in_child(len_of, p[i], WAIT_MS, 0, &res[i - 1]);
        if (bad < 0 && !(res[i - 1].returned && res[i - 1].value == 0))
            bad = i;
    }
    if (bad > 0)
        kill(server_of(m), SIGKILL); // or shutdown waits for it too
    for (int i = 1; i < 4; i++)
        mp_proxy_close(p[i]);
    mp_manager_shutdown(m, NULL);
    ck_assert_msg(
        bad<0,
            "four clients were connected and the first left; then "
            "client %d's mp_dict_len %s, expected 0. To drop a client, "
            "move the LAST entry into its place, fds[i] = fds[--n]: "
            "fds[n--] copies the stale entry past the end, and the "
            "last client is lost from the table",
            bad + 1, bad> 0
            ? how(&res[bad - 1])
            : "");
}

// The lowest descriptor number pid does not use, from /proc/PID/fd.
static int
lowest_free_fd(pid_t pid)
{
    for (int fd = 0; fd < 1024; fd++) {
        char path[80];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, fd);
        if (lstat(path, &st) < 0)
            return fd;
    }
    return 1024;
}

#define EMFILE_WAIT_MS (WAIT_MS / 5)

FL_TEST(test_mp_manager_keeps_serving_when_accept_runs_out_of_descriptors)
{
    mp_manager *m = start();
    pid_t pid = server_of(m);
    mp_proxy *a = proxy(m);
    OK(len_ok(a)); // a is in the server's table
    // The server may now open no descriptor: its next accept() fails with
    // EMFILE, and the client stays queued on the listening socket.
    struct rlimit old, full;
    ck_assert_msg(prlimit(pid, RLIMIT_NOFILE, NULL, &old) == 0,
                  "prlimit(server) failed: %s", strerror(errno));
    full = (struct rlimit){(rlim_t)lowest_free_fd(pid), old.rlim_max};
    ck_assert_msg(prlimit(pid, RLIMIT_NOFILE, &full, NULL) == 0,
                  "prlimit(server) failed: %s", strerror(errno));
    mp_proxy *b = proxy(m); // the kernel queues it; accept() cannot take it
    fl_child old_client, new_client = {0};
    // A fifth of the usual wait: a server out of descriptors spins on
    // poll() and accept() (the listening socket stays readable), right or
    // wrong, so it is always running and answers a client within
    // microseconds when right; a wrong one burns a core for the whole
    // wait, and there are two such mutants.
    fl_run_in_child(len_of, a, EMFILE_WAIT_MS, 0, &old_client);
    mp_proxy_close(a); // gives the server a descriptor back
    if (old_client.returned && old_client.value == 0)
        fl_run_in_child(len_of, b, EMFILE_WAIT_MS, 0, &new_client);
    prlimit(pid, RLIMIT_NOFILE, &old, NULL);
    if (old_client.timed_out || new_client.timed_out)
        kill(pid, SIGKILL); // or shutdown waits for it too
    mp_proxy_close(b);
    mp_manager_shutdown(m, NULL);
    ck_assert_msg(old_client.returned && old_client.value == 0,
                  "while the server was out of descriptors (accept() fails "
                  "with EMFILE, and a new client waits in the queue), a "
                  "connected client's mp_dict_len %s, expected 0. %s",
                  how_within(&old_client, EMFILE_WAIT_MS),
                  old_client.timed_out
                      ? "Do not retry accept() in a loop until it works: "
                        "go back to poll() and serve the clients you have"
                      : "A failed accept() is no reason to end the server: "
                        "skip it and poll again");
    ck_assert_msg(new_client.returned && new_client.value == 0,
                  "once a client left and gave the server a descriptor "
                  "back, the mp_dict_len of the client that waited while "
                  "accept() failed with EMFILE %s, expected 0: %s",
                  how_within(&new_client, EMFILE_WAIT_MS),
                  new_client.returned && new_client.value == -EPIPE
                      ? "the server had ended. A failed accept() is no "
                        "reason to end the server: skip it and poll again"
                      : "after a failed accept(), go back to poll() with "
                        "the listening socket still in it, and accept the "
                        "client once another leaves: do not retry accept() "
                        "in a loop, nor stop watching the listening socket");
}

// The two processes of the clock test: the test's thread, and the server
// stopped with SIGSTOP.
struct stopped {
    pid_t caller, server;
};

// Continue the server once the caller sleeps (in the poll of the grace
// period, for a correct shutdown), WAIT_MS at most.
static void *
continue_when_caller_sleeps(void *arg)
{
    struct stopped *s = arg;
    long end = fl_now_ms() + WAIT_MS;
    while (fl_proc_state(s->caller) != 'S' && fl_now_ms() < end)
        poll(NULL, 0, 1);
    kill(s->server, SIGCONT);
    return NULL;
}

FL_TEST(test_mp_manager_shutdown_keeps_its_grace_when_the_wall_clock_jumps)
{
    mp_manager *m = start();
    struct stopped s = {(pid_t)syscall(SYS_gettid), server_of(m)};
    kill(s.server, SIGSTOP);
    long end = fl_now_ms() + WAIT_MS;
    while (fl_proc_state(s.server) != 'T' && fl_now_ms() < end)
        poll(NULL, 0, 1);
    // The grace period's first poll is interrupted; every read of the wall
    // clock after the first is an hour later.
    fl_fault_reset();
    fl_fault_eintr("poll", 1);
    fl_clock_jump_at(1, 3600);
    pthread_t t;
    ck_assert(pthread_create(&t, NULL, continue_when_caller_sleeps, &s) == 0);
    int code = -1000;
    int r = mp_manager_shutdown(m, &code);
    pthread_join(t, NULL);
    long reads = fl_clock_reads();
    fl_fault_reset();
    fl_expect_int(r, 0, "mp_manager_shutdown", "");
    ck_assert_msg(code == 0,
                  "the server, slow to stop, was %s (exit code %d) when the "
                  "wall clock jumped an hour ahead during the grace period: "
                  "%s",
                  code == -SIGKILL ? "killed at once" : "not stopped cleanly",
                  code,
                  reads > 0 ? "the deadline is on CLOCK_REALTIME, which "
                              "jumps; measure it on CLOCK_MONOTONIC"
                            : "after EINTR, wait for the time left, not 0");
}

/* ------------------------------------------ the server waits, asleep */

// A handler that does nothing: a signal caught by it interrupts a system
// call (EINTR) instead of killing the process.
static void
on_usr1(int sig)
{
    (void)sig;
}

FL_TEST(test_mp_manager_server_sleeps_while_no_client_asks)
{
    mp_manager *m = start();
    pid_t pid = server_of(m);
    mp_proxy *p = proxy(m);
    OK(len_ok(p));
    int idles = fl_proc_idles(pid, 20);
    long cpu = fl_proc_cpu_ms(pid);
    mp_proxy_close(p);
    stop(m);
    ck_assert_msg(idles,
                  "with one client connected and silent, the server never "
                  "slept (it used %ld ms of CPU): it must block in poll() "
                  "with a timeout of -1, not spin with a timeout of 0 (or "
                  "a short one) around its loop",
                  cpu);
}

FL_TEST(test_mp_manager_server_keeps_serving_after_a_signal)
{
    // The server inherits this handler at fork: the signal interrupts its
    // poll() with EINTR, as SIGCHLD or a debugger's signal would.
    struct sigaction sa = {.sa_handler = on_usr1}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    mp_manager *m = start();
    sigaction(SIGUSR1, &old, NULL);
    pid_t pid = server_of(m);
    mp_proxy *p = proxy(m);
    OK(len_ok(p));
    fl_proc_idles(pid, 5); // asleep in poll(), if it ever sleeps
    kill(pid, SIGUSR1);
    fl_child res;
    fl_run_in_child(len_of, p, WAIT_MS, 0, &res);
    mp_proxy_close(p);
    if (!res.returned)
        kill(pid, SIGKILL);
    mp_manager_shutdown(m, NULL);
    ck_assert_msg(res.returned && res.value == 0,
                  "after a signal (with a handler) interrupted the server's "
                  "poll(), mp_dict_len %s, expected 0: poll() fails with "
                  "EINTR then; that is no reason to end the server, poll "
                  "again",
                  how(&res));
}

/* ------------------------------------------ replies a proxy must refuse */

// The replies of the fake server below, one per connection.
struct bad_replies {
    int lfd;
    int n;
    struct {
        unsigned char body[32];
        size_t len; // of body; 0: a frame header announcing 0 bytes
    } r[3];
};

// A fake server: for each reply, accept, read one request, answer with
// that reply as a frame, and close.
static int
answer_badly(void *arg)
{
    struct bad_replies *b = arg;
    unsigned char buf[FRAME_CAP], head[MP_FRAME_HEADER];
    for (int i = 0; i < b->n; i++) {
        if (!fl_readable_within(b->lfd, WAIT_MS))
            return 1;
        int c = accept(b->lfd, NULL, NULL);
        if (c < 0 || fl_frame_read(c, buf, sizeof buf, WAIT_MS) <= 0)
            return 2;
        fl_put_be32(head, (uint32_t)b->r[i].len);
        if (fl_write_full(c, head, sizeof head) < 0 ||
            fl_write_full(c, b->r[i].body, b->r[i].len) < 0)
            return 3;
        close(c);
    }
    return 0;
}

// Append an MP_INT to a reply's body.
static void
reply_int(struct bad_replies *b, int i, long long x)
{
    unsigned char *at = b->r[i].body + b->r[i].len;
    at[0] = MP_INT;
    fl_put_be32(at + 1, (uint32_t)((unsigned long long)x >> 32));
    fl_put_be32(at + 5, (uint32_t)x);
    b->r[i].len += 9;
}

FL_TEST(test_mp_dict_get_refuses_a_reply_that_is_not_one_value)
{
    struct bad_replies b = {.n = 3};
    reply_int(&b, 0, 0); // status 0, the value 7, and a byte too many
    reply_int(&b, 0, 7);
    b.r[0].body[b.r[0].len++] = MP_NONE;
    reply_int(&b, 1, 5); // a status that is no -errno, then a value
    reply_int(&b, 1, 7);
    // r[2]: a frame of 0 bytes
    char path[108];
    ck_assert(mp_ipc_path(path, sizeof path, "fake") > 0);
    unlink(path);
    b.lfd = raw_socket_at(path, 1);
    ck_assert_msg(b.lfd >= 0, "could not listen: %s", strerror(errno));
    pid_t pid = fl_raw_start(answer_badly, &b);
    close(b.lfd);
    int r[3];
    for (int i = 0; i < 3; i++) {
        mp_proxy *p = proxy_to(path);
        mp_value v;
        r[i] = mp_dict_get(p, mp_str("x"), &v);
        mp_proxy_close(p);
    }
    int st = fl_reap_code(pid);
    unlink(path);
    ck_assert_msg(st == 0, "the fake server got no whole request (%d)", st);
    fl_expect_int(r[0], -EPROTO,
                  "mp_dict_get when the reply held status 0, the value and "
                  "one byte more",
                  "A reply is the status and ONE value: bytes left over "
                  "mean it is not a valid message; check that the reply was "
                  "read whole (whole()), not only that the value was there");
    fl_expect_int(r[1], -EPROTO, "mp_dict_get when the reply's status was 5",
                  "A status is 0 or a -errno (-4095 to -1): anything else "
                  "is no valid reply, not an answer to pass on");
    fl_expect_int(r[2], -EPROTO,
                  "mp_dict_get when the reply was a frame of 0 bytes",
                  "A frame's length is 1 to MP_MANAGER_MSG_MAX: a length of "
                  "0 is no frame (-EPROTO), and not EOF");
}

static const fl_case cases[] = {
    FL_CASE(test_mp_manager_start_returns_once_the_server_listens, 10),
    FL_CASE(test_mp_manager_start_reports_an_address_in_use, 10),
    FL_CASE(test_mp_manager_start_and_shutdown_reject_a_null_handle, 5),
    FL_CASE(test_mp_manager_start_refuses_an_address_too_long_for_a_socket, 5),
    FL_CASE(test_mp_manager_connect_fails_when_no_server_listens, 5),
    FL_CASE(test_mp_manager_connect_and_requests_reject_null_arguments, 5),
    FL_CASE(test_mp_manager_shares_the_classic_dict_and_list_with_a_child, 10),
    FL_CASE(test_mp_dict_get_keeps_the_types_of_keys_and_values, 10),
    FL_CASE(test_mp_dict_get_gives_enoent_for_a_missing_key, 10),
    FL_CASE(test_mp_dict_repr_prints_floats_and_strings_like_python, 10),
    FL_CASE(test_mp_list_repr_needs_room_for_the_text_and_its_nul, 10),
    FL_CASE(test_mp_list_reverse_reverses_in_place, 15),
    FL_CASE(test_mp_list_get_counts_negative_indexes_from_the_end, 10),
    FL_CASE(test_mp_list_repr_gives_emsgsize_when_the_text_outgrows_a_reply,
            10),
    FL_CASE(test_mp_dict_get_then_set_loses_updates_when_clients_race, 30),
    FL_CASE(test_mp_dict_incr_loses_no_update_when_clients_race, 30),
    FL_CASE(test_mp_dict_incr_counts_a_missing_key_from_0, 10),
    FL_CASE(test_mp_dict_incr_refuses_what_it_cannot_add, 10),
    FL_CASE(test_mp_manager_serves_a_second_client_while_the_first_is_connected,
            15),
    FL_CASE(test_mp_manager_answers_two_requests_sent_in_one_write, 10),
    FL_CASE(test_mp_manager_answers_a_malformed_request_with_eproto, 10),
    FL_CASE(test_mp_manager_refuses_a_frame_over_the_limit, 15),
    FL_CASE(test_mp_dict_set_refuses_a_request_over_the_limit, 10),
    FL_CASE(test_mp_manager_survives_a_client_that_dies_before_its_reply, 10),
    FL_CASE(test_mp_dict_len_gives_epipe_when_the_server_hangs_up, 10),
    FL_CASE(test_mp_dict_len_gives_epipe_when_the_server_was_killed, 10),
    FL_CASE(test_mp_dict_len_gives_eproto_when_a_reply_is_cut_short, 10),
    FL_CASE(test_mp_manager_shutdown_stops_the_server_and_removes_its_socket,
            10),
    FL_CASE(test_mp_manager_shutdown_makes_later_requests_fail_with_epipe, 10),
    FL_CASE(test_mp_manager_shutdown_cleans_up_after_a_killed_server, 10),
    FL_CASE(test_mp_manager_shutdown_reaps_only_the_server, 10),
    FL_CASE(test_mp_manager_start_leaks_nothing_when_a_step_fails, 10),
    FL_CASE(test_mp_manager_start_reaps_a_failed_server_despite_eintr, 10),
    FL_CASE(test_mp_manager_shutdown_reaps_the_server_despite_eintr, 10),
    FL_CASE(test_mp_manager_connect_leaks_nothing_when_a_step_fails, 10),
    FL_CASE(test_mp_manager_connect_takes_a_path_of_107_bytes_not_108, 5),
    FL_CASE(test_mp_manager_takes_a_request_of_exactly_mp_manager_msg_max_bytes,
            10),
    FL_CASE(test_mp_dict_incr_reaches_llong_max_and_llong_min_exactly, 10),
    FL_CASE(test_mp_manager_serves_64_clients_at_once_and_closes_the_65th, 10),
    FL_CASE(test_mp_manager_server_closes_each_client_that_leaves, 10),
    FL_CASE(test_mp_manager_serves_the_other_clients_when_one_leaves, 10),
    FL_CASE(test_mp_manager_keeps_serving_when_accept_runs_out_of_descriptors,
            10),
    FL_CASE(test_mp_manager_shutdown_keeps_its_grace_when_the_wall_clock_jumps,
            10),
    FL_CASE(test_mp_manager_server_sleeps_while_no_client_asks, 10),
    FL_CASE(test_mp_manager_server_keeps_serving_after_a_signal, 10),
    FL_CASE(test_mp_dict_get_refuses_a_reply_that_is_not_one_value, 10),
};

FL_MAIN("11_managers", cases)
