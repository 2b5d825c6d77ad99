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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
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
                  "the proxy set%s",
                  address, fl_ret(r),
                  r == -EPROTO ? ": the handshake failed. Its messages are "
                                 "frames too, a 4-byte big-endian length "
                                 "and then the body"
                  : r == -EPIPE || r == -ECONNRESET
                      ? ": the server closed the connection during the "
                        "handshake, or died (of SIGPIPE? send with "
                        "MSG_NOSIGNAL)"
                      : "");
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

/* ------------------------------------ the handshake, the test's way */

// The test's side of the handshake, written apart from the lesson's (with
// OpenSSL's HMAC, as Python's hmac module), so that a raw client or a
// fake server passes it, and each side of the lesson's is judged alone.

#define PLEN (sizeof MP_DIGEST_PREFIX - 1) // "{sha256}"
#define CHLEN (sizeof MP_CHALLENGE - 1)    // "#CHALLENGE#"
#define HS_FRAME (MP_FRAME_HEADER + MP_AUTH_MSG_MAX + 64)

// The key the raw clients and fake servers use: this process's, loaded
// by load_key() in the test's process before it forks them.
static unsigned char tkey[MP_AUTHKEY_MAX];
static size_t tkeylen;

static void
load_key(void)
{
    int n = mp_get_authkey(tkey, sizeof tkey);
    ck_assert_msg(n > 0 && n <= MP_AUTHKEY_MAX,
                  "mp_get_authkey returned %s, expected the length of the "
                  "process's key (%d random bytes unless one was set)",
                  fl_ret(n), MP_AUTHKEY_LEN);
    tkeylen = (size_t)n;
}

// A fake server's listening socket at the "fake" address (path, 108
// bytes), with the test's key loaded for the handshakes it will fake.
static int
listen_as_fake(char *path)
{
    ck_assert(mp_ipc_path(path, 108, "fake") > 0);
    unlink(path);
    int lfd = raw_socket_at(path, 1);
    ck_assert_msg(lfd >= 0, "could not listen: %s", strerror(errno));
    load_key();
    return lfd;
}

// Read one handshake frame's body into body (HS_FRAME bytes); its length,
// 0 at EOF, or -1.
static ssize_t
hs_read(int fd, unsigned char *body)
{
    unsigned char frame[HS_FRAME];
    ssize_t n = fl_frame_read(fd, frame, sizeof frame, WAIT_MS);
    if (n <= 0)
        return n;
    memcpy(body, frame + MP_FRAME_HEADER, (size_t)n - MP_FRAME_HEADER);
    return n - MP_FRAME_HEADER;
}

// The HMAC of m[0..len) under key with md into out; the digest's length.
static size_t
test_hmac(const EVP_MD *md, const void *key, size_t keylen,
          const unsigned char *m, size_t len, unsigned char *out)
{
    unsigned int n = 0;
    ck_assert(HMAC(md, key, (int)keylen, m, len, out, &n) != NULL);
    return n;
}

// Python 3.12's answer to the challenge c[0..clen): "{sha256}" and the
// HMAC-SHA256 of c, into out; its length.
static size_t
sha_answer(const void *key, size_t keylen, const unsigned char *c, size_t clen,
           unsigned char *out)
{
    memcpy(out, MP_DIGEST_PREFIX, PLEN);
    return PLEN + test_hmac(EVP_sha256(), key, keylen, c, clen, out + PLEN);
}

// Whether body[0..n) is the word w.
static int
is_word(const unsigned char *body, ssize_t n, const char *w)
{
    return n == (ssize_t)strlen(w) && memcmp(body, w, (size_t)n) == 0;
}

// As a client: answer the challenge on fd with key.  0 if welcomed.
static int
hs_answer(int fd, const void *key, size_t keylen)
{
    unsigned char c[HS_FRAME], out[HS_FRAME];
    ssize_t n = hs_read(fd, c);
    if (n < (ssize_t)CHLEN || memcmp(c, MP_CHALLENGE, CHLEN) != 0)
        return -1;
    size_t len = sha_answer(key, keylen, c + CHLEN, (size_t)n - CHLEN, out);
    if (fl_frame_write(fd, out, len) < 0)
        return -1;
    n = hs_read(fd, c);
    return is_word(c, n, MP_WELCOME) ? 0 : -1;
}

// A challenge as Python 3.12 makes it, into c; its length.
static size_t
make_challenge(unsigned char *c)
{
    memcpy(c, MP_CHALLENGE MP_DIGEST_PREFIX, CHLEN + PLEN);
    ck_assert(getrandom(c + CHLEN + PLEN, MP_CHALLENGE_LEN, 0) ==
              MP_CHALLENGE_LEN);
    return CHLEN + PLEN + MP_CHALLENGE_LEN;
}

// As a server: challenge the peer on fd.  0 if it answered with key.
static int
hs_deliver(int fd, const void *key, size_t keylen)
{
    unsigned char c[HS_FRAME], a[HS_FRAME], want[HS_FRAME];
    size_t len = make_challenge(c);
    if (fl_frame_write(fd, c, len) < 0)
        return -1;
    ssize_t n = hs_read(fd, a);
    size_t w = sha_answer(key, keylen, c + CHLEN, len - CHLEN, want);
    int ok = n == (ssize_t)w && memcmp(a, want, w) == 0;
    const char *word = ok ? MP_WELCOME : MP_FAILURE;
    if (fl_frame_write(fd, word, strlen(word)) < 0)
        return -1;
    return ok ? 0 : -1;
}

// A raw client's handshake, with the loaded key: 0 if both ways passed.
static int
hs_client(int fd)
{
    return hs_answer(fd, tkey, tkeylen) == 0 &&
                   hs_deliver(fd, tkey, tkeylen) == 0
               ? 0
               : -1;
}

// A fake server's handshake, with the loaded key.
static int
hs_server(int fd)
{
    return hs_deliver(fd, tkey, tkeylen) == 0 &&
                   hs_answer(fd, tkey, tkeylen) == 0
               ? 0
               : -1;
}

// A raw client of the manager at path, authenticated.
static int
raw_client_at(const char *path)
{
    load_key();
    int fd = raw_socket_at(path, 0);
    ck_assert_msg(fd >= 0, "could not connect: %s", strerror(errno));
    ck_assert_msg(hs_client(fd) == 0,
                  "a raw client holding the process's key failed the "
                  "handshake with the server: it must send MP_CHALLENGE "
                  "MP_DIGEST_PREFIX and %d random bytes, welcome the "
                  "answer \"{sha256}\" + HMAC-SHA256(key, what followed "
                  "MP_CHALLENGE), then answer the client's challenge so",
                  MP_CHALLENGE_LEN);
    return fd;
}

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

// The same, with the request's sendmsg failing with ECONNRESET (the
// server reset the connection); a send that is not sendmsg meets the
// dead server by itself.
static int
len_reset(void *arg)
{
    fl_fault_reset(); // count from here
    fl_fault_fail("sendmsg", 1, ECONNRESET);
    return len_with_sigpipe(arg);
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

static void
say_atexit(void)
{
    printf("atexit|");
}

// In a child whose stdout is a pipe (fully buffered), with an atexit
// handler: print, then start a manager whose server cannot bind (a file
// is at the address).  The server is a copy of this process: it must
// neither print the buffered bytes again nor run the handler.
static int
start_after_printf(void *arg)
{
    (void)arg;
    atexit(say_atexit);
    printf("before|");
    mp_manager *m = NULL;
    int r = mp_manager_start(&m);
    if (r == 0)
        mp_manager_shutdown(m, NULL);
    return r;
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
    fl_child c = {0};
    int r_word = -1, kept_word = 0;
    if (r == -EADDRINUSE && kept) {
        fl_run_in_child(start_after_printf, NULL, WAIT_MS, 1, &c);
        // The same, with the server's ready word failing too (EIO): its
        // bind() made no file, so it removes none.
        fl_fault_reset();
        fl_fault_fail("write", 1, EIO);
        m = NULL;
        r_word = mp_manager_start(&m);
        fl_fault_reset();
        if (r_word == 0)
            mp_manager_shutdown(m, NULL);
        kept_word = exists(path);
    }
    unlink(path);
    ck_assert_msg(r == 0 || m == NULL,
                  "mp_manager_start returned %s but set *mgr (to a handle "
                  "it had freed): set *mgr only once the server listens",
                  fl_ret(r));
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
    fl_expect_int(r_word, -EPIPE,
                  "mp_manager_start with a file at the address and the "
                  "server's write of its word failing (EIO)",
                  "the caller reads EOF where the word was due");
    ck_assert_msg(kept_word,
                  "mp_manager_start with a file at the address (bind() "
                  "failed) and the server's write of its word failing "
                  "removed the file: the server unlinks the path only when "
                  "its own bind() made the file (lfd >= 0), never someone "
                  "else's");
    ck_assert_msg(c.returned && c.value == -EADDRINUSE,
                  "in a child, mp_manager_start with a file at the address "
                  "%s, expected -EADDRINUSE",
                  how(&c));
    ck_assert_msg(fl_count_of(c.out, "before|") == 1 &&
                      fl_count_of(c.out, "atexit|") == 0,
                  "a process printed \"before|\" (stdout a pipe, so "
                  "buffered) and registered an atexit handler that prints "
                  "\"atexit|\", then called mp_manager_start, whose server "
                  "could not bind; the output was \"%s\". %s",
                  c.out,
                  fl_count_of(c.out, "before|") != 1
                      ? "The server, a copy of the caller, printed the "
                        "caller's buffered bytes again: fflush(NULL) BEFORE "
                        "fork(), never after (the child would flush them "
                        "too)"
                      : "The server ran the caller's atexit handlers: it "
                        "must end with _exit(), on its failure path too, "
                        "never exit()");
}

FL_TEST(test_mp_manager_start_and_shutdown_reject_a_null_handle)
{
    int r = mp_manager_start(NULL);
    int s = mp_manager_shutdown(NULL, NULL);
    pid_t pid = mp_manager_pid(NULL);
    const char *a = mp_manager_address(NULL);
    fl_expect_int(r, -EINVAL, "mp_manager_start(NULL)",
                  "Check the argument before forking a server nobody "
                  "could stop");
    fl_expect_int(s, -EINVAL, "mp_manager_shutdown(NULL, NULL)", "");
    fl_expect_int(pid, -EINVAL, "mp_manager_pid(NULL)",
                  "a NULL handle has no server: -EINVAL, never 0 (kill(0, "
                  "sig) signals the caller's whole process group)");
    ck_assert_msg(a == NULL,
                  "mp_manager_address(NULL) returned \"%s\", "
                  "expected NULL",
                  a);
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
    mp_proxy *p = NULL;
    int c = mp_manager_connect(path, &p);
    fl_expect_int(r, -ENAMETOOLONG, "mp_manager_start with a 160-byte TMPDIR",
                  "A socket's path must fit in sun_path, 108 bytes: "
                  "mp_ipc_path says so, pass its error on");
    fl_expect_int(c, -ENAMETOOLONG, "mp_manager_connect to a 162-byte path",
                  "Check the length against sizeof sun_path before "
                  "copying: strcpy would write past the end");
    // At the edge: a TMPDIR that makes the address exactly 107 bytes, the
    // longest that fits with its NUL.  The server listens there.
    char base[108];
    const char *parent = saved != NULL ? saved : "/tmp";
    int tail = mp_ipc_path(base, sizeof base, "manager");
    ck_assert(tail > 0);
    tail -= (int)strlen(parent); // "/" PREFIX "manager"
    int k = 107 - tail - (int)strlen(parent) - 1;
    if (k < 1) {
        free(saved);
        return; // TMPDIR itself is too long to make such a directory
    }
    snprintf(dir, sizeof dir, "%s/%.*s", parent, k,
             "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
             "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
    ck_assert_msg(mkdir(dir, 0700) == 0 || errno == EEXIST,
                  "could not make %s: %s", dir, strerror(errno));
    setenv("TMPDIR", dir, 1);
    ck_assert(mp_ipc_path(path, sizeof path, "manager") == 107);
    m = NULL;
    r = mp_manager_start(&m);
    c = -1;
    if (r == 0) {
        p = NULL;
        c = mp_manager_connect(path, &p);
        if (c == 0)
            mp_proxy_close(p);
        mp_manager_shutdown(m, NULL);
    }
    unlink(path);
    rmdir(dir);
    if (saved != NULL)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
    fl_expect_int(r, 0, "mp_manager_start at an address of 107 bytes",
                  "sun_path holds 108 bytes, the NUL included: a path of "
                  "107 fits (refuse only strlen >= sizeof sun_path), in the "
                  "server as in the proxy");
    fl_expect_int(c, 0, "mp_manager_connect to a server at 107 bytes", "");
}

/* ----------------------------------------------- mp_manager_connect */

// A listening socket that never accepts, and the thread whose connect
// waits on it.
struct silent {
    int lfd;
    pid_t caller;
};

// Once the caller has slept 20 ms in a row (in its wait for a challenge
// that never comes), or has returned and waits for this thread, the
// silent server goes: the client its backlog held sees EOF.
static void *
silent_server_goes(void *arg)
{
    struct silent *s = arg;
    fl_proc_idles(s->caller, 20);
    close(s->lfd);
    return NULL;
}

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
    // A server that listens but has not spoken yet, busy with another
    // client: the client waits as long as it takes (Python's Client has
    // no timeout), here until the server goes, once the client sleeps.
    // The code's clock is ten minutes late after its first read, so that
    // any finite deadline taken at that read is past at once: a client
    // with one returns -ETIMEDOUT before it ever sleeps, whatever the
    // load.
    struct silent s = {raw_socket_at(path, 1), (pid_t)syscall(SYS_gettid)};
    ck_assert(s.lfd >= 0);
    pthread_t t;
    ck_assert(pthread_create(&t, NULL, silent_server_goes, &s) == 0);
    fl_fault_reset();
    fl_clock_mono_later_at(1, 600000);
    int slow = mp_manager_connect(path, &p);
    fl_fault_reset();
    pthread_join(t, NULL);
    if (slow == 0)
        mp_proxy_close(p);
    unlink(path);
    fl_expect_int(none, -ENOENT, "mp_manager_connect with no socket file",
                  "Return -errno from connect(): ENOENT, no server");
    fl_expect_int(dead, -ECONNREFUSED,
                  "mp_manager_connect to a socket file nobody listens on",
                  "Return -errno from connect(): ECONNREFUSED, the server "
                  "is dead. Close the socket and free the proxy on failure.");
    fl_expect_int(slow, -EPIPE,
                  "mp_manager_connect to a server that had not challenged "
                  "it yet, then went",
                  "wait until the server speaks or goes: the client's "
                  "handshake has no deadline (-1), as Python's Client. "
                  "-ETIMEDOUT means a deadline passed (the code's clock "
                  "was made late): only the server limits a client's time "
                  "(MP_AUTH_TIMEOUT_MS), and shutdown its own");
}

FL_TEST(test_mp_manager_connect_and_requests_reject_null_arguments)
{
    mp_proxy *p = NULL;
    int r1 = mp_manager_connect(NULL, &p);
    int r2 = mp_manager_connect(manager_path(), NULL);
    int r3 = mp_dict_len(NULL);
    int r4 = mp_proxy_close(NULL);
    ck_assert_msg(r1 == -EINVAL && r2 == -EINVAL,
                  "mp_manager_connect(NULL, &p) returned %s and "
                  "mp_manager_connect(address, NULL) %s; expected -EINVAL "
                  "for both",
                  fl_ret(r1), fl_ret(r2));
    fl_expect_int(r3, -EINVAL, "mp_dict_len(NULL)",
                  "request() checks the proxy before using it");
    fl_expect_int(r4, 0, "mp_proxy_close(NULL)",
                  "closing no proxy does nothing and succeeds, as free(NULL) "
                  "does: return 0, not an error");
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
    OK(mp_dict_set(p, mp_float(0.0), mp_int(1)));
    OK(mp_dict_set(p, mp_float(-0.0), mp_int(2))); // the same key: 0.0 == -0.0
    mp_value v[5];
    int r[5] = {mp_dict_get(p, mp_int(1), &v[0]), 0, 0, 0, 0};
    char one[8] = "";
    if (r[0] == 0 && v[0].type == MP_STR) // valid until the next call
        snprintf(one, sizeof one, "%s", v[0].s);
    r[1] = mp_dict_get(p, mp_str("1"), &v[1]);
    r[2] = mp_dict_get(p, mp_float(0.25), &v[2]);
    r[3] = mp_dict_get(p, mp_none(), &v[3]);
    r[4] = mp_dict_get(p, mp_float(0.0), &v[4]);
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
    ck_assert_msg(r[4] == 0 && v[4].type == MP_INT && v[4].i == 2 && n == 5,
                  "d[0.0] = 1, then d[-0.0] = 2, then mp_dict_get(0.0) "
                  "returned %s (%lld) and the dict held %d keys; expected "
                  "2, in 5 keys. 0.0 == -0.0, so they are one key (Python "
                  "prints {0.0: 2}): compare floats with ==, not their "
                  "bytes (memcmp), which differ in the sign bit",
                  fl_ret(r[4]),
                  r[4] == 0 && v[4].type == MP_INT ? v[4].i : -1LL, n);
}

// Ask the server to stop, as mp_manager_shutdown does, and wait for it to
// end without a grace period, 6 s at most; then mp_manager_shutdown
// reaps it.  In the sanitizer pass a server checks its heap for leaks as
// it exits, which on a loaded machine outlasts MP_MANAGER_GRACE_MS: the
// server, killed half way, would report nothing, and a leak in it would
// be caught only when it was fast.
static void
stop_unhurried(mp_manager *m)
{
    pid_t pid = server_of(m);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int fd = raw_client_at(manager_path());
    unsigned char op = MP_OP_SHUTDOWN;
    int sent = fl_frame_write(fd, &op, 1);
    close(fd);
    if (sent == 0 && pfd >= 0)
        fl_readable_within(pfd, 6000);
    if (pfd >= 0)
        close(pfd);
    stop(m);
}

FL_TEST(test_mp_dict_get_gives_enoent_for_a_missing_key)
{
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    mp_value v;
    int never = mp_dict_get(p, mp_str("nope"), &v);
    // A key after "k": deleting "k" moves it down, over "k"'s entry, so
    // a server that forgets to free the deleted key, or its string value,
    // leaks it (the sanitizer pass checks the server's memory when it
    // ends: see stop_unhurried).
    OK(mp_dict_set(p, mp_str("k"), mp_str("deleted")));
    // A string value replaced: a server that forgets to free the old one
    // leaks it.
    OK(mp_dict_set(p, mp_str("after"), mp_str("replaced")));
    OK(mp_dict_set(p, mp_str("after"), mp_str("kept")));
    // Keys that begin like a stored one, or that a stored one begins
    // like, are other keys.
    int longer = mp_dict_get(p, mp_str("kk"), &v);
    int shorter = mp_dict_get(p, mp_str("af"), &v);
    OK(mp_dict_del(p, mp_str("k")));
    // Delete from a dict of every size from 1 to 16 keys, so that one
    // delete comes when the table is exactly full, whatever its growth:
    // a memmove of one entry too many reads past it (the sanitizer pass).
    int full = 0;
    for (long long i = 0; i < 16 && full == 0; i++) {
        full = mp_dict_set(p, mp_int(100 + i), mp_int(i));
        if (full == 0)
            full = mp_dict_del(p, mp_int(100));
        if (full == 0)
            full = mp_dict_set(p, mp_int(100), mp_int(0));
    }
    int gone = mp_dict_get(p, mp_str("k"), &v);
    int again = mp_dict_del(p, mp_str("k"));
    int null = mp_dict_get(p, mp_str("k"), NULL);
    mp_proxy_close(p);
    stop_unhurried(m);
    ck_assert_msg(never == -ENOENT && gone == -ENOENT && again == -ENOENT,
                  "mp_dict_get of a key never set returned %s, of a deleted "
                  "key %s, and a second del %s; expected -ENOENT each time "
                  "(Python's KeyError): return the server's status",
                  fl_ret(never), fl_ret(gone), fl_ret(again));
    ck_assert_msg(longer == -ENOENT && shorter == -ENOENT,
                  "with the keys 'k' and 'after' stored, mp_dict_get('kk') "
                  "returned %s and mp_dict_get('af') %s, expected -ENOENT: "
                  "two strings are the same key only when they are equal "
                  "to their ends (strcmp), not when one begins the other",
                  fl_ret(longer), fl_ret(shorter));
    fl_expect_int(null, -EINVAL, "mp_dict_get(p, key, NULL)",
                  "Check the out pointer");
    fl_expect_int(full, 0, "mp_dict_set and mp_dict_del of int keys",
                  "deleting the first of 1 to 16 keys, then setting it "
                  "again, must work at every size");
}

FL_TEST(test_mp_dict_repr_prints_floats_and_strings_like_python)
{
    static const char want[] =
        "{-7: 1.0, \"it's\": 1e+16, 'a\"b': -0.5, None: 0.1, "
        "2.5: 'tab\\there\\r\\n', 1e-05: 'back\\\\slash', "
        "'x': 1000000000000000.0, 'y': -inf, 'z': '\\x01\\x7f', "
        "0.30000000000000004: 0.0001, 'q': 'it\\'s \"x\"', 'n': nan}";
    mp_manager *m = start();
    mp_proxy *p = proxy(m);
    char empty[8] = "", got[320] = "", small[8];
    int r0 = mp_dict_repr(p, empty, sizeof empty);
    OK(mp_dict_set(p, mp_int(-7), mp_float(1.0)));
    OK(mp_dict_set(p, mp_str("it's"), mp_float(1e16)));
    OK(mp_dict_set(p, mp_str("a\"b"), mp_float(-0.5)));
    OK(mp_dict_set(p, mp_none(), mp_float(0.1)));
    OK(mp_dict_set(p, mp_float(2.5), mp_str("tab\there\r\n")));
    OK(mp_dict_set(p, mp_float(1e-5), mp_str("back\\slash")));
    OK(mp_dict_set(p, mp_str("x"), mp_float(1e15)));
    OK(mp_dict_set(p, mp_str("y"), mp_float(-HUGE_VAL)));
    OK(mp_dict_set(p, mp_str("z"), mp_str("\x01\x7f")));
    OK(mp_dict_set(p, mp_float(0.1 + 0.2), mp_float(1e-4)));
    OK(mp_dict_set(p, mp_str("q"), mp_str("it's \"x\"")));
    OK(mp_dict_set(p, mp_str("n"), mp_float(NAN)));
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
                  "prints 1.0, %%g prints 1; up to 17 digits, plain from "
                  "1e-4). Strings: say_str, in quotes, \\t \\n \\r as such, "
                  "other control characters and DEL (0x7f) as \\x escapes; "
                  "in double quotes only when they hold a ' and no \".",
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
    int null_get = mp_list_get(p, 0, NULL);
    int null_repr = mp_list_repr(p, NULL, 64);
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
    ck_assert_msg(null_get == -EINVAL && null_repr == -EINVAL,
                  "mp_list_get(p, 0, NULL) returned %s and mp_list_repr(p, "
                  "NULL, 64) %s, expected -EINVAL: check the out pointer "
                  "before the request",
                  fl_ret(null_get), fl_ret(null_repr));
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
        if (r->down[i] < 0 || hs_server(r->down[i]) < 0)
            return "a client failed the handshake with the relay, which "
                   "holds the same key: mp_manager_connect must answer the "
                   "challenge, then challenge the server";
        r->up[i] = raw_socket_at(server, 0);
        if (r->up[i] < 0 || hs_client(r->up[i]) < 0)
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
    load_key();
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
    long long now[2] = {-42, -42}; // left alone on failure
    int s = mp_dict_incr(p, mp_str("s"), 1, &now[0]);
    int up = mp_dict_incr(p, mp_str("max"), 1, &now[1]);
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
    ck_assert_msg(now[0] == -42 && now[1] == -42,
                  "mp_dict_incr returned %s and %s but wrote *now (%lld, "
                  "%lld): store the new value only on success",
                  fl_ret(s), fl_ret(up), now[0], now[1]);
}

// The server out of memory: a fault armed before mp_manager_start is
// inherited by the server at fork (stress.h), so its own calls fail.  Its
// first realloc (the dict's first 8 entries) works, every later one
// fails, and so does its third strdup: each failed op must be -ENOMEM,
// store nothing, and free what it had copied (the sanitizer pass checks
// the server's memory as it ends: stop_unhurried).
FL_TEST(test_mp_manager_reports_a_server_out_of_memory)
{
    fl_fault_reset();
    fl_fault_fail_from("realloc", 2, ENOMEM);
    fl_fault_fail("strdup", 3, ENOMEM);
    mp_manager *m = start();
    fl_fault_reset(); // this process's calls: no fault
    mp_proxy *p = proxy(m);
    for (long long i = 0; i < 8; i++)
        OK(mp_dict_set(p, mp_int(i), mp_int(i))); // realloc 1: 8 entries
    long long now = -42;
    int incr = mp_dict_incr(p, mp_int(8), 5, &now); // realloc 2 fails
    // The value's copy (strdup 1) is made, then realloc 3 fails.
    int grow = mp_dict_set(p, mp_int(8), mp_str("value"));
    int append = mp_list_append(p, 1); // realloc 4 fails
    OK(mp_dict_del(p, mp_int(0)));     // room for one entry
    // strdup 2 copies the value, strdup 3 (the key's copy) fails.
    int key = mp_dict_set(p, mp_str("key"), mp_str("value"));
    mp_value v = mp_none();
    int got = mp_dict_get(p, mp_int(8), &v);
    int dlen = mp_dict_len(p), llen = mp_list_len(p);
    mp_proxy_close(p);
    stop_unhurried(m);
    ck_assert_msg(incr == -ENOMEM && now == -42,
                  "mp_dict_incr of a new key when the server could not "
                  "grow its dict returned %s and set *now to %lld; "
                  "expected -ENOMEM, *now left alone: dict_put failed "
                  "(out of memory), so return its status, not the sum",
                  fl_ret(incr), now);
    ck_assert_msg(grow == -ENOMEM && key == -ENOMEM && append == -ENOMEM,
                  "when the server ran out of memory, mp_dict_set returned "
                  "%s (dict full) and %s (no copy of the key), "
                  "mp_list_append %s; expected -ENOMEM: the op's status is "
                  "what dict_put or list_push returned",
                  fl_ret(grow), fl_ret(key), fl_ret(append));
    ck_assert_msg(got == -ENOENT && dlen == 7 && llen == 0,
                  "after the failed ops the dict had %d keys (key 8: %s) "
                  "and the list %d items; expected 7, -ENOENT and 0: a "
                  "failed op stores nothing",
                  dlen, fl_ret(got), llen);
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
    int fd = raw_client_at(manager_path());
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
    int fd = raw_client_at(manager_path());
    long long st[sizeof ops];
    for (size_t i = 0; i + 1 < sizeof ops; i++) {
        unsigned char body[2] = {ops[i], 'Z'}; // 'Z' is no type
        st[i] = raw_status(fd, body, sizeof body);
    }
    // A string whose length says 1 and that has no 0 after its byte.
    static const unsigned char nul[] = {'S', 's', 0, 0, 0, 1, 'a', 'b'};
    long long no_nul = raw_status(fd, nul, sizeof nul);
    // The same key, a value after it: a whole request but for that 0.
    static const unsigned char nul2[] = {'S', 's', 0, 0, 0, 1, 'a', 'b', 'N'};
    long long no_nul2 = raw_status(fd, nul2, sizeof nul2);
    // A string whose length says 2, its 0, but a 0 inside it too: C would
    // read it as "a", a key the client never sent.
    static const unsigned char inner[] = {'S', 's', 0, 0, 0, 2, 'a', 0, 0, 'N'};
    long long nul_inside = raw_status(fd, inner, sizeof inner);
    // A string whose length says 100, with 2 bytes left in the body: its
    // bytes cannot be taken (take_bytes gives NULL), so nothing is there
    // to look at.
    static const unsigned char cut[] = {'S', 's', 0, 0, 0, 100, 'a', 0};
    long long cut_str = raw_status(fd, cut, sizeof cut);
    if (cut_str != -EPROTO) {
        close(fd);
        mp_manager_shutdown(m, NULL);
        ck_abort_msg("a string whose length says 100, with 2 bytes after it in "
                     "the request, got %s, expected -EPROTO: when take_bytes "
                     "finds too few bytes it returns NULL, which must not be "
                     "read (check s != NULL first)",
                     cut_str == -10000   ? "the connection closed"
                     : cut_str == -20000 ? "no reply with a status (the "
                                           "server crashed?)"
                                         : fl_ret(cut_str));
    }
    // l.append(None): a value, but not the MP_INT the op takes.
    static const unsigned char none[] = {'a', 'N'};
    long long not_int = raw_status(fd, none, sizeof none);
    // l.append(5), then l[0] = 9 with a byte too many: refused, and the
    // list keeps 5.
    static const unsigned char five[] = {'a', 'i', 0, 0, 0, 0, 0, 0, 0, 5};
    long long appended = raw_status(fd, five, sizeof five);
    static const unsigned char set_extra[] = {
        's', 'i', 0, 0, 0, 0, 0, 0, 0, 0, 'i', 0, 0, 0, 0, 0, 0, 0, 9, 'N'};
    long long set_long = raw_status(fd, set_extra, sizeof set_extra);
    unsigned char zero[MP_FRAME_HEADER] = {0, 0, 0, 0}; // an empty frame
    ck_assert(raw_send(fd, zero, sizeof zero) == 0);
    char c;
    int eof = fl_readable_within(fd, WAIT_MS) && read(fd, &c, 1) <= 0;
    close(fd);
    mp_proxy *p = proxy(m);
    int n = mp_dict_len(p);
    long long item = -1;
    int got = mp_list_get(p, 0, &item);
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
    ck_assert_msg(no_nul == -EPROTO && no_nul2 == -EPROTO,
                  "a string without its 0 byte got %s, and followed by a "
                  "value %s; expected -EPROTO for both: the byte after a "
                  "string's length must be its 0",
                  fl_ret(no_nul), fl_ret(no_nul2));
    ck_assert_msg(nul_inside == -EPROTO,
                  "a string of length 2 whose first byte after 'a' is a 0 "
                  "got %s, expected -EPROTO: a string with a 0 inside is "
                  "malformed (take_value checks for one with memchr)",
                  fl_ret(nul_inside));
    ck_assert_msg(not_int == -EPROTO,
                  "a list append whose argument is None, not an int, got "
                  "%s, expected -EPROTO: take_int refuses a value of "
                  "another type",
                  fl_ret(not_int));
    ck_assert_msg(eof, "after a frame of length 0 the server should close "
                       "the connection: recv_frame returns -EPROTO");
    fl_expect_int(n, 0, "mp_dict_len after the bad requests",
                  "Nothing may have been stored");
    ck_assert_msg(appended == 0 && set_long == -EPROTO && got == 0 && item == 5,
                  "after l.append(5) (%s) and l[0] = 9 with a byte too many "
                  "(%s), l[0] is %lld (%s); expected -EPROTO for the set and "
                  "5 kept: a malformed request changes nothing, so check it "
                  "whole before storing",
                  fl_ret(appended), fl_ret(set_long), item, fl_ret(got));
}

FL_TEST(test_mp_manager_refuses_a_frame_over_the_limit)
{
    mp_manager *m = start();
    pid_t pid = server_of(m);
    int fd = raw_client_at(manager_path());
    // A header that announces one byte too many, then a little of it.
    unsigned char msg[MP_FRAME_HEADER + 16] = {0};
    fl_put_be32(msg, MP_MANAGER_MSG_MAX + 1);
    ck_assert(raw_send(fd, msg, sizeof msg) == 0);
    char c;
    int eof = fl_readable_within(fd, WAIT_MS) && read(fd, &c, 1) <= 0;
    close(fd);
    // Headers of 2^31 + 16 and 2^16 + 16 bytes, then 16 bytes: a length
    // decoded from the wrong bytes (head[0] twice, or head[1] twice) is
    // 16, and those 16 bytes are served as a request.  The first has its
    // top bit set: decoded in size_t, as the given code does; shifted as
    // an int (head[0] << 24), a byte of 128 or more overflows into the
    // sign bit, undefined behaviour that the sanitizer pass reports.
    static const uint32_t huge[] = {0x80000010u, 0x00010010u};
    int eof_top = 0, eof_mid = 0;
    for (int i = 0; eof && i < 2; i++) {
        fd = raw_client_at(manager_path());
        fl_put_be32(msg, huge[i]);
        ck_assert(raw_send(fd, msg, sizeof msg) == 0);
        *(i == 0 ? &eof_top : &eof_mid) =
            fl_readable_within(fd, WAIT_MS) && read(fd, &c, 1) <= 0;
        close(fd);
    }
    fl_child res = {0};
    if (eof && eof_top && eof_mid) {
        mp_proxy *p = proxy(m);
        fl_run_in_child(len_with_sigpipe, p, WAIT_MS, 0, &res);
        mp_proxy_close(p);
    }
    int alive = fl_alive(pid);
    if (!eof || !eof_top || !eof_mid)
        kill(pid, SIGKILL);
    mp_manager_shutdown(m, NULL);
    ck_assert_msg(eof,
                  "a client sent a header announcing %d bytes (more than "
                  "MP_MANAGER_MSG_MAX), then stopped: the server should "
                  "close that connection at once, without reading the "
                  "body. recv_frame: over the limit, return -EMSGSIZE "
                  "before reading on.",
                  MP_MANAGER_MSG_MAX + 1);
    ck_assert_msg(eof_top && eof_mid,
                  "a client sent a header announcing %s bytes, then 16 "
                  "bytes: the server should close that connection at once. "
                  "Decode the length in size_t from each of the 4 bytes in "
                  "turn, (size_t)head[0] << 24 | (size_t)head[1] << 16 | "
                  "(size_t)head[2] << 8 | head[3]: a byte read twice takes "
                  "a length over the limit for 16",
                  eof_top ? "2^16 + 16" : "2^31 + 16");
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
    int fd = raw_client_at(manager_path());
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
    if (alive && c != 0) { // the connection ended: is the server ending?
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        alive = pfd >= 0 && !fl_readable_within(pfd, WAIT_MS / 5);
        if (pfd >= 0)
            close(pfd);
    }
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

// A fake server: accept three times; the first and the third time read
// the request and close, the second close with the request unread.
static int
hang_up(void *arg)
{
    int lfd = *(int *)arg;
    unsigned char buf[FRAME_CAP];
    for (int i = 0; i < 3; i++) {
        if (!fl_readable_within(lfd, WAIT_MS))
            return 1;
        int c = accept(lfd, NULL, NULL);
        if (c < 0 || hs_server(c) < 0 || !fl_readable_within(c, WAIT_MS))
            return 2;
        if (i != 1 && fl_frame_read(c, buf, sizeof buf, WAIT_MS) <= 0)
            return 3;
        close(c);
    }
    return 0;
}

// In a child: mp_dict_len on the proxy, its first read interrupted by a
// signal (EINTR) before the reply, or the EOF, comes.
static int
len_after_eintr(void *arg)
{
    fl_fault_reset(); // count from here
    fl_fault_eintr("read", 1);
    return mp_dict_len(arg);
}

FL_TEST(test_mp_dict_len_gives_epipe_when_the_server_hangs_up)
{
    char path[108];
    int lfd = listen_as_fake(path);
    pid_t pid = fl_raw_start(hang_up, &lfd);
    close(lfd); // once the fake server has gone, connect() is refused
    int r[3];
    fl_child res = {0};
    for (int i = 0; i < 3; i++) {
        mp_proxy *p = proxy_to(path);
        // The third time in a child, whose first read a signal interrupts:
        // the EOF then comes after an EINTR, and errno still says EINTR.
        if (i == 2)
            fl_run_in_child(len_after_eintr, p, WAIT_MS, 0, &res);
        r[i] = i == 2 ? (res.returned ? res.value : 1) : mp_dict_len(p);
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
    ck_assert_msg(r[2] == -EPIPE,
                  "mp_dict_len when the server read the request and closed, "
                  "the client's first read interrupted by a signal (EINTR), "
                  "%s, expected -EPIPE, as without the signal.%s",
                  how(&res),
                  res.timed_out
                      ? " A read that returns 0 is EOF, whatever errno says: "
                        "errno keeps the EINTR of the read before it (a "
                        "successful call never clears errno), so test n < 0 "
                        "before errno == EINTR, or read_full retries EOF for "
                        "ever"
                      : "");
}

// A fake server: accept five times, read the request, and answer with a
// frame cut short: in its header, 3 bytes into its body, right after its
// header; then twice with the header and 3 bytes, as the client's read
// fails (the test's fault).
static int
cut_short(void *arg)
{
    int lfd = *(int *)arg;
    unsigned char buf[FRAME_CAP], part[MP_FRAME_HEADER + 3] = {0};
    fl_put_be32(part, 18); // the length of a whole reply to MP_OP_DICT_LEN
    for (int i = 0; i < 5; i++) {
        if (!fl_readable_within(lfd, WAIT_MS))
            return 1;
        int c = accept(lfd, NULL, NULL);
        if (c < 0 || hs_server(c) < 0 ||
            fl_frame_read(c, buf, sizeof buf, WAIT_MS) <= 0)
            return 2;
        size_t len = i == 0 ? 2 : i == 2 ? MP_FRAME_HEADER : sizeof part;
        // (The client whose read fails may have closed already.)
        if (fl_write_full(c, part, len) < 0 && i < 3)
            return 3;
        close(c);
    }
    // A sixth client: a whole reply of 71 bytes (status 0 and a string of
    // 56), then, to its next request, a header cut after 2 bytes.
    unsigned char whole[MP_FRAME_HEADER + 71] = {0};
    fl_put_be32(whole, 71);
    whole[MP_FRAME_HEADER] = MP_INT; // the status, 0
    whole[MP_FRAME_HEADER + 9] = MP_STR;
    fl_put_be32(whole + MP_FRAME_HEADER + 10, 56);
    memset(whole + MP_FRAME_HEADER + 14, 'a', 56); // and its NUL
    // (The test judges this one by what its client got.)
    int c = fl_readable_within(lfd, WAIT_MS) ? accept(lfd, NULL, NULL) : -1;
    if (c >= 0 && hs_server(c) == 0 &&
        fl_frame_read(c, buf, sizeof buf, WAIT_MS) > 0 &&
        fl_write_full(c, whole, sizeof whole) == 0 &&
        fl_frame_read(c, buf, sizeof buf, WAIT_MS) > 0)
        fl_write_full(c, part, 2);
    if (c >= 0)
        close(c);
    return 0;
}

FL_TEST(test_mp_dict_len_gives_eproto_when_a_reply_is_cut_short)
{
    char path[108];
    int lfd = listen_as_fake(path);
    pid_t pid = fl_raw_start(cut_short, &lfd);
    close(lfd);
    int r[5];
    for (int i = 0; i < 5; i++) {
        mp_proxy *p = proxy_to(path);
        fl_fault_reset(); // count from here: the reply's reads
        if (i >= 3)       // the header's read, then the body's
            fl_fault_fail("read", i - 2, EIO);
        r[i] = mp_dict_len(p);
        fl_fault_reset();
        mp_proxy_close(p);
    }
    mp_proxy *p = NULL;
    mp_value v;
    int got = mp_manager_connect(path, &p), cut = got;
    if (got == 0) {
        got = mp_dict_get(p, mp_str("x"), &v);
        cut = mp_dict_get(p, mp_str("x"), &v);
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
    fl_expect_int(r[2], -EPROTO,
                  "mp_dict_len when the reply stopped right after its "
                  "header",
                  "A header, then EOF, is a frame cut short too: the body "
                  "read gave 0 of the bytes announced, -EPROTO, not EOF");
    ck_assert_msg(r[3] == -EIO && r[4] == -EIO,
                  "mp_dict_len returned %s when read() failed (EIO) on the "
                  "reply's header and %s when it failed on its body; "
                  "expected -EIO both times. A failed read is no EOF: "
                  "recv_frame passes its -errno on, and request() returns "
                  "it (only EOF and ECONNRESET mean -EPIPE)",
                  fl_ret(r[3]), fl_ret(r[4]));
    fl_expect_int(got, 0, "mp_dict_get answered a string of 56 bytes", "");
    fl_expect_int(cut, -EPROTO,
                  "the next mp_dict_get on that proxy, its reply's header "
                  "cut after 2 bytes",
                  "recv_frame returns -EPROTO, minus: a positive EPROTO (71) "
                  "passes for a frame of 71 bytes, and the last reply, 71 "
                  "bytes still in the buffer, is taken for this one");
}

FL_TEST(test_mp_dict_len_gives_epipe_when_the_server_was_killed)
{
    mp_manager *m = start();
    pid_t pid = server_of(m);
    mp_proxy *p = proxy(m);
    OK(mp_dict_set(p, mp_str("x"), mp_int(1)));
    kill(pid, SIGKILL);
    fl_until_ended(pid);
    fl_child res, reset;
    fl_run_in_child(len_with_sigpipe, p, WAIT_MS, 0, &res);
    fl_run_in_child(len_reset, p, WAIT_MS, 0, &reset);
    mp_proxy_close(p);
    mp_manager_shutdown(m, NULL);
    ck_assert_msg(res.returned && res.value == -EPIPE,
                  "the server was killed; then a client's mp_dict_len %s, "
                  "expected -EPIPE. %s.",
                  how(&res), SIGPIPE_HINT);
    ck_assert_msg(reset.returned && reset.value == -EPIPE,
                  "mp_dict_len whose request's send failed with ECONNRESET "
                  "%s, expected -EPIPE: a connection reset means the "
                  "server has gone, as EPIPE does",
                  how(&reset));
}

/* ------------------------------------------------ mp_manager_shutdown */

struct stopped {
    pid_t caller, server;
};

// Wait (WAIT_MS at most) until the server has stopped itself and the
// caller sleeps, or the server has ended; return the server's state.
static char
until_caller_sleeps(const struct stopped *s)
{
    long end = fl_now_ms() + WAIT_MS;
    char st;
    while ((st = fl_proc_state(s->server)) != 'T' && st != 'Z' && st != 0 &&
           fl_now_ms() < end)
        poll(NULL, 0, 1);
    while (st == 'T' && fl_proc_state(s->caller) != 'S' && fl_now_ms() < end) {
        poll(NULL, 0, 1);
        st = fl_proc_state(s->server);
    }
    return st;
}

// Once the server has stopped, continue it 200 ms after the caller sleeps
// (in the poll of the grace period, for a correct shutdown), or when the
// server was killed; WAIT_MS at most.
static void *
continue_when_caller_sleeps(void *arg)
{
    struct stopped *s = arg;
    char st = until_caller_sleeps(s);
    // Time that must pass, not a wait for an event: a grace period of a
    // few milliseconds (MP_MANAGER_GRACE_MS / 1000, taken for seconds)
    // kills the server before it is continued; 2 s do not.
    long hold = fl_now_ms() + 200;
    while (st == 'T' && fl_now_ms() < hold) {
        poll(NULL, 0, 5);
        st = fl_proc_state(s->server);
    }
    kill(s->server, SIGCONT);
    return NULL;
}

// The server stops itself after its unlink of the socket file, still
// cleaning up when shutdown looks; it goes on once shutdown waits.
FL_TEST(test_mp_manager_shutdown_stops_the_server_and_removes_its_socket)
{
    fl_fault_reset();
    fl_fault_stop_after("unlink", 1); // in the server: it inherits this
    mp_manager *m = start();
    fl_fault_reset();
    pid_t pid = server_of(m);
    mp_proxy *p = proxy(m);
    OK(mp_list_append(p, 1));
    mp_proxy_close(p);
    struct stopped s = {(pid_t)syscall(SYS_gettid), pid};
    pthread_t t;
    ck_assert(pthread_create(&t, NULL, continue_when_caller_sleeps, &s) == 0);
    int code = -1000;
    int r = mp_manager_shutdown(m, &code);
    pthread_join(t, NULL);
    int left = exists(manager_path());
    unlink(manager_path());
    fl_expect_int(r, 0, "mp_manager_shutdown", "");
    ck_assert_msg(!fl_alive(pid), "the server is still running");
    ck_assert_msg(code != -SIGKILL,
                  "the server was killed (exit code -9) while it was still "
                  "cleaning up after MP_OP_SHUTDOWN: give it its grace "
                  "period, MP_MANAGER_GRACE_MS, to end (wait_readable on a "
                  "pidfd) before SIGKILL");
    ck_assert_msg(code == 0,
                  "the server's exit code was %d, expected 0: it should "
                  "stop on the MP_OP_SHUTDOWN request and end with "
                  "_exit(0), within MP_MANAGER_GRACE_MS",
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

static int lowest_free_fd(pid_t pid);

// The watchdog of the test below: it kills the server unless the test
// closes its end of the pipe within WAIT_MS / 3, and then returns 1.
struct watchdog {
    int fds[2];
    pid_t server;
};

static int
kill_unless_told(void *arg)
{
    struct watchdog *w = arg;
    close(w->fds[1]);
    if (fl_readable_within(w->fds[0], WAIT_MS / 3))
        return 0;
    kill(w->server, SIGKILL);
    return 1;
}

FL_TEST(test_mp_manager_shutdown_kills_the_server_when_it_has_no_pidfd)
{
    mp_manager *m = start();
    struct watchdog w = {.server = server_of(m)};
    ck_assert_msg(pipe(w.fds) == 0, "pipe() failed: %s", strerror(errno));
    pid_t dog = fl_raw_start(kill_unless_told, &w);
    close(w.fds[0]);
    // No descriptor left to this process: shutdown can neither connect nor
    // open the server's pidfd, so it has no way to ask or to watch it.
    struct rlimit old, full;
    getrlimit(RLIMIT_NOFILE, &old);
    full = (struct rlimit){(rlim_t)lowest_free_fd(getpid()), old.rlim_max};
    ck_assert_msg(setrlimit(RLIMIT_NOFILE, &full) == 0,
                  "setrlimit() failed: %s", strerror(errno));
    int code = -1000;
    int r = mp_manager_shutdown(m, &code);
    setrlimit(RLIMIT_NOFILE, &old);
    close(w.fds[1]);
    int dog_killed = fl_reap_code(dog);
    unlink(manager_path());
    ck_assert_msg(dog_killed == 0,
                  "with no descriptor to spare (neither the connection nor "
                  "the pidfd could be made), mp_manager_shutdown waited "
                  "for a server it never asked to stop, until the test "
                  "killed it %d ms later. No pidfd: kill the server at "
                  "once, as when its grace is over",
                  WAIT_MS / 3);
    fl_expect_int(r, 0, "mp_manager_shutdown with no descriptor to spare",
                  "no connection, no pidfd: kill the server, then reap it");
    ck_assert_msg(code == -SIGKILL,
                  "with no descriptor to spare, the server's exit code was "
                  "%d, expected -9: no pidfd, so kill it with SIGKILL",
                  code);
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

// In a child of the test, which did not start the server: shut it down.
// 0 if that gave -ECHILD, left *exitcode alone and freed the handle.
static int
shutdown_elsewhere(void *m)
{
    long before = 0, after = 0;
    fl_heap_live(&before);
    int code = -1000;
    int r = mp_manager_shutdown(m, &code);
    fl_heap_live(&after);
    if (r != -ECHILD)
        return r == 0 ? 1 : r;
    return code != -1000 ? 2 : after >= before ? 3 : 0;
}

FL_TEST(test_mp_manager_shutdown_from_another_process_gives_echild)
{
    mp_manager *m = start();
    fl_child c;
    fl_run_in_child(shutdown_elsewhere, m, WAIT_MS, 0, &c);
    int code = -1000;
    int r = mp_manager_shutdown(m, &code); // the server's parent reaps it
    unlink(manager_path());
    ck_assert_msg(c.returned, "mp_manager_shutdown in a child that did not "
                              "start the server did not return");
    ck_assert_msg(c.value == 0 || c.value == 2 || c.value == 3,
                  "mp_manager_shutdown in a child that did not start the "
                  "server returned %s, expected -ECHILD: only the server's "
                  "parent can reap it (waitpid fails with ECHILD: return "
                  "-errno)",
                  c.value == 1 ? "0" : fl_ret(c.value));
    ck_assert_msg(c.value != 2,
                  "mp_manager_shutdown failing with -ECHILD wrote *exitcode: "
                  "the server was not reaped, so there is no exit code to "
                  "give; leave it alone");
    ck_assert_msg(c.value != 3,
                  "mp_manager_shutdown failing with -ECHILD did not free the "
                  "handle: it is freed on every way out, errors too");
    fl_expect_int(r, 0, "mp_manager_shutdown by the server's parent, after",
                  "");
}

struct never_answers {
    pid_t caller, server;
    pthread_t thread; // the caller's
    int sockets;      // the caller's sockets before shutdown
    long connects;    // its connect() calls before shutdown
    int gave_up;      // 1 once it closed its connection to the server
    int killed;       // 1 if it killed the server itself
};

// The sockets this process has open.
static int
sockets_open(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    char path[300], link[64];
    while (d != NULL && (e = readdir(d)) != NULL) {
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, link, sizeof link - 1);
        n += len > 7 && strncmp(link, "socket:", 7) == 0;
    }
    if (d != NULL)
        closedir(d);
    return n;
}

// A handler that does nothing: a signal caught by it interrupts a system
// call (EINTR) instead of killing the process.
static void
on_usr1(int sig)
{
    (void)sig;
}

// Once the caller has connected, closed that connection (given the
// handshake up) and sleeps, move the code's clock past the grace period
// and interrupt the caller's wait until it kills the stopped server.
// WAIT_MS at most; then kill it here.
static void *
hurry_when_caller_gives_up(void *arg)
{
    struct never_answers *s = arg;
    long end = fl_now_ms() + WAIT_MS;
    while (fl_now_ms() < end && !s->gave_up) {
        if (fl_fault_calls("connect") > s->connects &&
            sockets_open() <= s->sockets && fl_proc_state(s->caller) == 'S')
            s->gave_up = 1;
        else
            poll(NULL, 0, 1);
    }
    if (s->gave_up)
        fl_clock_mono_later_at(0, 30000);
    char st = fl_proc_state(s->server);
    while (s->gave_up && st != 'Z' && st != 0 && fl_now_ms() < end) {
        pthread_kill(s->thread, SIGUSR1);
        poll(NULL, 0, 2);
        st = fl_proc_state(s->server);
    }
    s->killed = st == 'Z' || st == 0;
    if (!s->killed)
        kill(s->server, SIGKILL);
    return NULL;
}

// A server that never answers (stopped) must not hold shutdown up: it
// gives the handshake MP_MANAGER_GRACE_MS, then the server as long to
// end, then kills it.  The code's clock jumps 10 s ahead after its first
// read, so that the handshake's deadline is over at once, and 30 s once
// it waits for the server to end, interrupted by signals.
FL_TEST(test_mp_manager_shutdown_gives_up_a_server_that_never_answers)
{
    mp_manager *m = start();
    pid_t pid = server_of(m);
    kill(pid, SIGSTOP);
    long end = fl_now_ms() + WAIT_MS;
    while (fl_proc_state(pid) != 'T' && fl_now_ms() < end)
        poll(NULL, 0, 1);
    struct sigaction sa = {.sa_handler = on_usr1}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    fl_fault_reset();
    struct never_answers s = {(pid_t)syscall(SYS_gettid),
                              pid,
                              pthread_self(),
                              sockets_open(),
                              fl_fault_calls("connect"),
                              0,
                              0};
    fl_clock_mono_later_at(1, 10000);
    pthread_t t;
    ck_assert(pthread_create(&t, NULL, hurry_when_caller_gives_up, &s) == 0);
    int code = -1000;
    int r = mp_manager_shutdown(m, &code);
    fl_fault_reset();
    pthread_join(t, NULL);
    sigaction(SIGUSR1, &old, NULL);
    unlink(manager_path());
    ck_assert_msg(s.gave_up,
                  "mp_manager_shutdown waited for ever for the handshake of "
                  "a server that never answered (it was stopped): the "
                  "shutdown connection is authenticated each way within "
                  "MP_MANAGER_GRACE_MS, not -1, so that a hung server is "
                  "killed instead of hanging the caller");
    ck_assert_msg(s.killed,
                  "mp_manager_shutdown never killed a server that was still "
                  "running when MP_MANAGER_GRACE_MS had passed (a signal "
                  "interrupted the wait): wait_readable on a pidfd for the "
                  "grace period, then kill(pid, SIGKILL), or a hung server "
                  "hangs the caller in waitpid for ever");
    fl_expect_int(r, 0, "mp_manager_shutdown of a server that never answered",
                  "");
    ck_assert_msg(code == -SIGKILL,
                  "the server that never answered had exit code %d, expected "
                  "-9 (killed)",
                  code);
}

/* ------------------------- error paths, EINTR and limits (issue 13) */

// Start a manager with the nth call of fn failing with err (in the caller
// or, for a call only the server makes, in the server, which inherits the
// fault at fork).  Fails the test unless start gave -err (or want, when
// it is not 0), left no descriptor, child, heap block or socket file.
// Said after what failed: how the test runs start_failing.
static const char *start_context = "";

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
    char what[256];
    snprintf(what, sizeof what, "mp_manager_start with %s() failing (%s)%s", fn,
             strerror(err), start_context);
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

// In a child that ignores SIGCHLD (its children are reaped for it, and
// waitpid fails with ECHILD once they end): start a manager whose server
// fails.
static int
start_ignoring_sigchld(void *arg)
{
    (void)arg;
    signal(SIGCHLD, SIG_IGN);
    mp_manager *m = NULL;
    int r = mp_manager_start(&m);
    if (r == 0)
        mp_manager_shutdown(m, NULL);
    return r;
}

FL_TEST(test_mp_manager_start_reaps_a_failed_server_despite_eintr)
{
    unlink(manager_path());
    int busy = raw_socket_at(manager_path(), 1);
    ck_assert_msg(busy >= 0, "could not listen at %s: %s", manager_path(),
                  strerror(errno));
    // The caller's own child, older than the server and already ended:
    // wait() or waitpid(-1) would take it first.
    pid_t mine = fl_raw_start(exit_7, NULL);
    fl_until_ended(mine);
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
    int st;
    pid_t w = waitpid(mine, &st, WNOHANG);
    ck_assert_msg(w == mine && WIFEXITED(st) && WEXITSTATUS(st) == 7,
                  "mp_manager_start, failing, reaped a child of the caller "
                  "that was not the server (waitpid(%d) then failed: %s). "
                  "Reap the server's pid only: never wait() or "
                  "waitpid(-1, ...).",
                  (int)mine, strerror(errno));
    fl_expect_no_leak(&s, "a failed mp_manager_start with EINTR");
    fl_child ign;
    fl_run_in_child(start_ignoring_sigchld, NULL, WAIT_MS, 0, &ign);
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
    ck_assert_msg(ign.returned && ign.value == -EADDRINUSE,
                  "in a process that ignores SIGCHLD, mp_manager_start at an "
                  "address in use %s; expected -EADDRINUSE. There the "
                  "server is reaped by the kernel and waitpid fails with "
                  "ECHILD: retry it only while it fails with EINTR",
                  how(&ign));
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

// The calls of mp_manager_connect that can fail, and how: the handshake's
// too, each of its waits, reads and sends.
static const struct {
    const char *fn;
    int err;
} connect_faults[] = {
    {"malloc", ENOMEM}, {"socket", EMFILE}, {"connect", ECONNREFUSED},
    {"poll", ENOMEM},   {"read", EIO},      {"sendmsg", ENOBUFS}};

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
    // mp_proxy_close with close() failing: -errno, and the proxy freed.
    // The fault keeps the socket open; it took the lowest number free.
    fl_snapshot s;
    fl_snapshot_take(&s);
    int fd = open("/dev/null", O_RDONLY);
    close(fd);
    mp_proxy *p = NULL;
    OK(mp_manager_connect(mp_manager_address(m), &p));
    fl_fault_reset(); // count from here
    fl_fault_fail("close", 1, EIO);
    int r = mp_proxy_close(p);
    fl_fault_reset();
    if (fcntl(fd, F_GETFD) >= 0)
        close(fd);
    fl_expect_int(r, -EIO, "mp_proxy_close with close() failing (EIO)",
                  "return minus close()'s errno, saved before free() (free "
                  "may change errno), not close()'s -1");
    fl_expect_no_leak(&s, "mp_proxy_close with close() failing: free the "
                          "proxy even then");
    stop(m);
}

// A program started without stdin: descriptor 0 is free, so the first
// descriptor each step makes (the pipe's read end, the server's socket, a
// proxy's socket, the pidfd) is 0, one like any other: ">= 0", not "> 0".
FL_TEST(test_mp_manager_works_with_stdin_closed)
{
    int in = fcntl(0, F_DUPFD_CLOEXEC, 3);
    close(0);
    start_context = ", with stdin closed (descriptor 0 is free, so the "
                    "first one made is 0: a valid descriptor, >= 0, not > 0)";
    start_failing("fork", EAGAIN, 0,
                  "with stdin closed, the pipe's read end is descriptor 0: "
                  "close it on failure too (ready[0] >= 0, not > 0)");
    start_failing("write", EIO, -EPIPE,
                  "with stdin closed, the server's listening socket is "
                  "descriptor 0: close it and unlink the file when the word "
                  "cannot be sent (lfd >= 0, not > 0)");
    start_context = "";
    mp_manager *m = start();
    fl_snapshot s;
    fl_snapshot_take(&s);
    mp_proxy *p = NULL;
    int r = mp_manager_connect("/nonexistent/forklings-manager", &p);
    fl_expect_int(r, -ENOENT, "mp_manager_connect to no socket file", "");
    fl_expect_no_leak(&s, "mp_manager_connect failing with stdin closed "
                          "(its socket was descriptor 0: close it)");
    p = proxy(m); // descriptor 0
    OK(mp_list_append(p, 7));
    long long x = 0;
    OK(mp_list_get(p, -1, &x));
    fl_expect_int((int)x, 7, "mp_list_get(p, -1) on a proxy at descriptor 0",
                  "");
    mp_proxy_close(p);
    int code = -1000;
    r = mp_manager_shutdown(m, &code); // its proxy, then its pidfd, are 0
    int zero_left = fcntl(0, F_GETFD) >= 0;
    if (zero_left)
        close(0);
    if (in >= 0) {
        dup2(in, 0);
        close(in);
    }
    fl_expect_int(r, 0, "mp_manager_shutdown with stdin closed", "");
    ck_assert_msg(code == 0,
                  "with stdin closed, mp_manager_shutdown gave the exit "
                  "code %d, expected 0: its pidfd is descriptor 0, a valid "
                  "one (pfd >= 0): wait on it for the grace period before "
                  "SIGKILL",
                  code);
    ck_assert_msg(!zero_left, "with stdin closed, mp_manager_shutdown left "
                              "descriptor 0 open: its pidfd, or the socket "
                              "of its own connection, is 0 and must be "
                              "closed too");
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

// In a child: set "cut" with the request's sendmsg cut short 2 bytes into
// the body, as a signal can cut it; 0 if it worked and was cut.
static int
set_cut_in_body(void *arg)
{
    fl_fault_reset(); // count from here
    fl_fault_short("sendmsg", 1, MP_FRAME_HEADER + 2);
    int r = mp_dict_set(arg, mp_str("cut"), mp_str("sent in two parts"));
    return r < 0 ? r : fl_fault_fired("sendmsg") > 0 ? 0 : 1000;
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
    int len = mp_dict_len(p);
    // The reply's limit: {'k': 'v...'} is 9 + n characters, and the reply
    // holds the status (9 bytes), then the text's type, length and NUL
    // (6): n = 4072 fits to the byte, 4073 does not.  The first set's
    // send is cut short after 3 bytes, as a signal can cut a sendmsg.
    char *text = malloc(8192);
    ck_assert(text != NULL);
    int set[2], repr[2];
    long short_sends = 0;
    for (int i = 0; i < 2; i++) {
        size_t n = MP_MANAGER_MSG_MAX - 24 + (size_t)i;
        memset(big, 'v', n);
        big[n] = '\0';
        fl_fault_reset();
        if (i == 0)
            fl_fault_short("sendmsg", 1, 3);
        set[i] = mp_dict_set(p, mp_str("k"), mp_str(big));
        short_sends += fl_fault_fired("sendmsg");
        fl_fault_reset();
        repr[i] = mp_dict_repr(p, text, 8192);
    }
    int shape = repr[0] == MP_MANAGER_MSG_MAX - 15 &&
                strncmp(text, "{'k': 'vvv", 10) == 0 &&
                strcmp(text + repr[0] - 5, "vvv'}") == 0;
    // A send cut short in the body, not in the header: the rest of the
    // body, and only that, must follow.
    fl_child cut;
    fl_run_in_child(set_cut_in_body, p, WAIT_MS, 0, &cut);
    mp_value got = mp_none();
    int get = cut.returned && cut.value == 0
                  ? mp_dict_get(p, mp_str("cut"), &got)
                  : -ENOSYS;
    int same = get == 0 && got.type == MP_STR &&
               strcmp(got.s, "sent in two parts") == 0;
    free(text);
    free(big);
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
    ck_assert_msg(set[0] == 0,
                  "mp_dict_set of a value of 4072 bytes%s returned %s, "
                  "expected 0. %s",
                  short_sends ? ", its sendmsg cut short after 3 bytes," : "",
                  fl_ret(set[0]),
                  short_sends ? "After a partial send, go on from the first "
                                "byte not sent: move iov_base on as well as "
                                "iov_len down, or the bytes sent go again"
                              : "");
    fl_expect_int(set[1], 0, "mp_dict_set of a value of 4073 bytes", "");
    ck_assert_msg(repr[0] == MP_MANAGER_MSG_MAX - 15 && shape,
                  "mp_dict_repr of {'k': 4072 v's}, a text of 4081 bytes "
                  "that fills a reply to the byte, returned %s%s; expected "
                  "4081 and the text",
                  fl_ret(repr[0]),
                  repr[0] == MP_MANAGER_MSG_MAX - 15 ? " but not the text"
                                                     : "");
    fl_expect_int(repr[1], -EMSGSIZE,
                  "mp_dict_repr of {'k': 4073 v's}, a text one byte over "
                  "what a reply holds after its status",
                  "the result has room for MP_MANAGER_MSG_MAX - STATUS_SIZE "
                  "bytes, not MP_MANAGER_MSG_MAX: a result that fits only "
                  "without the status is cut from the reply, which then "
                  "holds the status 0 and nothing");
    ck_assert_msg(cut.returned && cut.value == 0 && same,
                  "mp_dict_set whose sendmsg was cut short 2 bytes into the "
                  "body (after the whole header) %s%s, expected 0 and the "
                  "value stored. After a partial send, send_full goes on "
                  "while any iovec is left (cnt > 0), the body's rest "
                  "from the first byte not sent, or the server waits for "
                  "it and the client for a reply that never comes",
                  how(&cut),
                  !cut.returned || cut.value != 0 ? ""
                  : get != 0                      ? "; the get then failed"
                                                  : "; the get then gave "
                                                    "another value");
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
    mp_proxy *p[CLIENTS + 1] = {NULL};
    int bad = -1, r = 0;
    for (int i = 0; i < CLIENTS; i++) {
        r = mp_manager_connect(mp_manager_address(m), &p[i]);
        if (r == 0)
            r = mp_dict_incr(p[i], mp_str("n"), 1, NULL);
        if (r != 0 && bad < 0)
            bad = i;
    }
    // The server closes a client it has no room for before the handshake:
    // the connect itself fails, not the first request.
    int extra = mp_manager_connect(mp_manager_address(m), &p[CLIENTS]);
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
                  "a 65th client's mp_manager_connect while 64 are connected",
                  "A client the table has no room for is closed at once, "
                  "before the handshake, so that its connect sees EOF "
                  "(-EPIPE): check for room first (n < 1 + MAX_CLIENTS; "
                  "keeping it writes past the end of the pollfd array), "
                  "then admit() (admitted, then dropped, it was told "
                  "welcome for nothing)");
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
    int mine = fds_of(getpid()); // the server inherited these
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
    ck_assert_msg(before <= mine + 2,
                  "the server, serving one client, held %d descriptors: %d "
                  "more than the caller's %d, which it inherited, its "
                  "listening socket and the client. Close what it no longer "
                  "needs: the write end of the ready pipe once the word is "
                  "written (and the read end at once).",
                  before, before - mine - 2, mine);
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

// A raw client's handshake and MP_OP_DICT_LEN on the connection *arg:
// 0 if both worked, else -EPIPE.
static int
raw_len_of(void *arg)
{
    int fd = *(int *)arg;
    unsigned char op = MP_OP_DICT_LEN;
    if (hs_client(fd) < 0)
        return -EPIPE; // the server closed the connection, or has ended
    return raw_status(fd, &op, 1) == 0 ? 0 : -EPIPE;
}

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
    // The kernel queues b; accept() cannot take it, so b's handshake waits.
    load_key();
    int b = raw_socket_at(manager_path(), 0);
    ck_assert_msg(b >= 0, "could not connect: %s", strerror(errno));
    fl_child old_client, new_client = {0};
    // A fifth of the usual wait: a server out of descriptors spins on
    // poll() and accept() (the listening socket stays readable), right or
    // wrong, so it is always running and answers a client within
    // microseconds when right; a wrong one burns a core for the whole
    // wait, and there are two such mutants.
    fl_run_in_child(len_of, a, EMFILE_WAIT_MS, 0, &old_client);
    mp_proxy_close(a); // gives the server a descriptor back
    if (old_client.returned && old_client.value == 0)
        fl_run_in_child(raw_len_of, &b, EMFILE_WAIT_MS, 0, &new_client);
    prlimit(pid, RLIMIT_NOFILE, &old, NULL);
    if (old_client.timed_out || new_client.timed_out)
        kill(pid, SIGKILL); // or shutdown waits for it too
    close(b);
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
FL_TEST(test_mp_manager_shutdown_keeps_its_grace_when_the_wall_clock_jumps)
{
    mp_manager *m = start();
    // Shutdown authenticates first: count the polls and wall clock reads
    // of a handshake, so that the faults below land in the grace period.
    fl_fault_reset();
    mp_proxy_close(proxy(m));
    long polls = fl_fault_calls("poll"), before = fl_clock_reads();
    struct stopped s = {(pid_t)syscall(SYS_gettid), server_of(m)};
    kill(s.server, SIGSTOP);
    long end = fl_now_ms() + WAIT_MS;
    while (fl_proc_state(s.server) != 'T' && fl_now_ms() < end)
        poll(NULL, 0, 1);
    // The grace period's first poll is interrupted; every read of the wall
    // clock after the first is an hour later.
    fl_fault_reset();
    fl_fault_eintr("poll", (int)polls + 1);
    fl_clock_jump_at((int)before + 1, 3600);
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

// Continue the stopped server as soon as the caller sleeps: in the grace
// period's poll, for a shutdown that still has time left.
static void *
continue_once_caller_sleeps(void *arg)
{
    struct stopped *s = arg;
    until_caller_sleeps(s);
    kill(s->server, SIGCONT);
    return NULL;
}

#define GRACE_SPENT_MS 1300 // of MP_MANAGER_GRACE_MS, by a late signal

// The server stops itself after its unlink, still cleaning up; the grace
// period's first poll is interrupted late, as if 1300 ms had passed: 700 ms
// of MP_MANAGER_GRACE_MS are left, and a shutdown that waits for them sees
// the server end.  A grace of 1 s (Python's join) or 500 ms has none left.
FL_TEST(test_mp_manager_shutdown_gives_the_server_its_whole_grace_period)
{
    fl_fault_reset();
    fl_fault_stop_after("unlink", 1); // in the server: it inherits this
    mp_manager *m = start();
    fl_fault_reset();
    mp_proxy_close(proxy(m)); // count the polls of a handshake
    long polls = fl_fault_calls("poll");
    struct stopped s = {(pid_t)syscall(SYS_gettid), server_of(m)};
    fl_fault_reset();
    fl_fault_eintr_late("poll", (int)polls + 1, GRACE_SPENT_MS);
    pthread_t t;
    ck_assert(pthread_create(&t, NULL, continue_once_caller_sleeps, &s) == 0);
    int code = -1000;
    int r = mp_manager_shutdown(m, &code);
    pthread_join(t, NULL);
    fl_fault_reset();
    unlink(manager_path());
    fl_expect_int(r, 0, "mp_manager_shutdown", "");
    ck_assert_msg(code == 0,
                  "the server, slow to stop, was %s (exit code %d) when a "
                  "signal interrupted the grace period %d ms into it: "
                  "MP_MANAGER_GRACE_MS is %d ms, so %d ms were left. Wait "
                  "for the whole grace period (not Python's 1 s, nor "
                  "MP_AUTH_TIMEOUT_MS), and after EINTR for the time left",
                  code == -SIGKILL ? "killed" : "not stopped cleanly", code,
                  GRACE_SPENT_MS, MP_MANAGER_GRACE_MS,
                  MP_MANAGER_GRACE_MS - GRACE_SPENT_MS);
}

/* ------------------------------------------ the server waits, asleep */

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
        size_t len;      // of body; 0: a frame header announcing 0 bytes
        size_t announce; // the length in the header, if not 0: else len
    } r[15];
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
        if (c < 0 || hs_server(c) < 0 ||
            fl_frame_read(c, buf, sizeof buf, WAIT_MS) <= 0)
            return 2;
        fl_put_be32(head, (uint32_t)(b->r[i].announce ? b->r[i].announce
                                                      : b->r[i].len));
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
    struct bad_replies b = {.n = 15};
    reply_int(&b, 0, 0); // status 0, the value 7, and a byte too many
    reply_int(&b, 0, 7);
    b.r[0].body[b.r[0].len++] = MP_NONE;
    reply_int(&b, 1, 1); // a status that is no -errno, then a value
    reply_int(&b, 1, 7);
    // r[2]: a frame of 0 bytes
    b.r[3].announce = MP_MANAGER_MSG_MAX + 1; // a header only, over the limit
    reply_int(&b, 4, 0); // status 0 and the value 7, whole, but the header
    reply_int(&b, 4, 7); // announced a byte more: the frame is cut short
    b.r[4].announce = b.r[4].len + 1;
    reply_int(&b, 5, 0); // to mp_list_get: status 0, 7 and a byte too many
    reply_int(&b, 5, 7);
    b.r[5].body[b.r[5].len++] = MP_NONE;
    reply_int(&b, 6, 0); // to mp_dict_len: status 0 and a count of -5
    reply_int(&b, 6, -5);
    reply_int(&b, 7, -(1LL << 32)); // a status whose low 32 bits are 0
    reply_int(&b, 7, 7);
    reply_int(&b, 8, 0); // to mp_dict_set: status 0 and a byte too many
    b.r[8].body[b.r[8].len++] = MP_NONE;
    reply_int(&b, 9, 0); // to mp_dict_repr: status 0 and an int, no text
    reply_int(&b, 9, 7);
    reply_int(&b, 10, -4095); // the lowest -errno: passed on as it is
    reply_int(&b, 11, -4096); // one below it: no -errno
    reply_int(&b, 11, 7);
    reply_int(&b, 12, 0); // to mp_dict_len: INT_MAX, then INT_MAX + 1
    reply_int(&b, 12, INT_MAX);
    reply_int(&b, 13, 0);
    reply_int(&b, 13, (long long)INT_MAX + 1);
    reply_int(&b, 14, 0); // to mp_dict_repr: status 0, 'ab', a byte more
    static const unsigned char ab[] = {MP_STR, 0, 0, 0, 2, 'a', 'b', 0, 'N'};
    memcpy(b.r[14].body + b.r[14].len, ab, sizeof ab);
    b.r[14].len += sizeof ab;
    char path[108];
    b.lfd = listen_as_fake(path);
    pid_t pid = fl_raw_start(answer_badly, &b);
    close(b.lfd);
    int r[15], kept = 1;
    char text[32];
    for (int i = 0; i < 15; i++) {
        mp_proxy *p = proxy_to(path);
        mp_value v = mp_int(-99);
        long long x;
        r[i] = i == 5                         ? mp_list_get(p, 0, &x)
               : i == 6 || i == 12 || i == 13 ? mp_dict_len(p)
               : i == 8            ? mp_dict_set(p, mp_str("x"), mp_int(1))
               : i == 9 || i == 14 ? mp_dict_repr(p, text, sizeof text)
                                   : mp_dict_get(p, mp_str("x"), &v);
        if (i == 0)
            kept = v.type == MP_INT && v.i == -99;
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
    ck_assert_msg(kept,
                  "mp_dict_get returned %s for a reply with a byte too "
                  "many, but wrote *value anyway: store the value only "
                  "once the reply is known to be whole",
                  fl_ret(r[0]));
    fl_expect_int(r[5], -EPROTO,
                  "mp_list_get when the reply held status 0, the value and "
                  "one byte more",
                  "int_result must read the reply whole too");
    fl_expect_int(r[8], -EPROTO,
                  "mp_dict_set when the reply held status 0 and one byte "
                  "more",
                  "a set's reply is the status alone: no_result must read "
                  "it whole too");
    fl_expect_int(r[9], -EPROTO,
                  "mp_dict_repr when the reply held status 0 and an int",
                  "a repr's result is an MP_STR: check the value's type "
                  "before reading its string");
    fl_expect_int(r[14], -EPROTO,
                  "mp_dict_repr when the reply held status 0, the text 'ab' "
                  "and one byte more",
                  "text_result must read the reply whole too, and check the "
                  "value's type: both");
    fl_expect_int(r[6], -EPROTO,
                  "mp_dict_len when the reply held status 0 and the count -5",
                  "a count is 0 to INT_MAX: a negative one would pass for "
                  "a -errno");
    fl_expect_int(r[1], -EPROTO, "mp_dict_get when the reply's status was 1",
                  "A status is 0 or a -errno (-4095 to -1): anything else "
                  "is no valid reply, not an answer to pass on");
    fl_expect_int(r[10], -4095, "mp_dict_get when the reply's status was -4095",
                  "-4095 is the lowest -errno, a status to pass on as it is");
    fl_expect_int(r[11], -EPROTO,
                  "mp_dict_get when the reply's status was -4096",
                  "A status is 0 or a -errno, -4095 to -1: -4096 is one "
                  "below them, no valid reply");
    fl_expect_int(r[12], INT_MAX,
                  "mp_dict_len when the reply held status 0 and INT_MAX",
                  "a count is 0 to INT_MAX, INT_MAX included");
    fl_expect_int(r[13], -EPROTO,
                  "mp_dict_len when the reply held status 0 and INT_MAX + 1",
                  "a count over INT_MAX does not fit the int returned");
    fl_expect_int(r[7], -EPROTO,
                  "mp_dict_get when the reply's status was -2^32",
                  "A status is an MP_INT, 8 bytes: check its range as a long "
                  "long, before any cast to int (which keeps its low 32 "
                  "bits, 0 here)");
    fl_expect_int(r[2], -EPROTO,
                  "mp_dict_get when the reply was a frame of 0 bytes",
                  "A frame's length is 1 to MP_MANAGER_MSG_MAX: a length of "
                  "0 is no frame (-EPROTO), and not EOF");
    fl_expect_int(r[3], -EPROTO,
                  "mp_dict_get when the reply's header announced "
                  "MP_MANAGER_MSG_MAX + 1 bytes",
                  "recv_frame refuses it with -EMSGSIZE, but for a reply "
                  "that means the server sent no valid reply: -EPROTO");
    fl_expect_int(r[4], -EPROTO,
                  "mp_dict_get when the reply held status 0 and a whole "
                  "value, then EOF, one byte short of the length its header "
                  "announced",
                  "a frame with fewer body bytes than its header announced "
                  "is cut short (-EPROTO), even when what came reads as a "
                  "reply: compare what read_full got with the length");
}

/* ------------------------------------------------------------ authkeys */

// In a child with no key yet: mp_manager_start with getrandom failing.
static int
start_with_no_key(void *arg)
{
    (void)arg;
    fl_fault_reset();
    fl_fault_fail("getrandom", 1, EAGAIN);
    mp_manager *m = NULL;
    int r = mp_manager_start(&m);
    fl_fault_reset();
    if (r == 0)
        mp_manager_shutdown(m, NULL);
    return r;
}

// In a child with no key yet: mp_manager_connect with getrandom failing.
static int
connect_with_no_key(void *arg)
{
    (void)arg;
    fl_fault_reset();
    fl_fault_fail("getrandom", 1, EAGAIN);
    mp_proxy *p = NULL;
    int r = mp_manager_connect(manager_path(), &p);
    fl_fault_reset();
    if (r == 0)
        mp_proxy_close(p);
    return r;
}

FL_TEST(test_mp_set_authkey_takes_1_to_mp_authkey_max_bytes)
{
    unsigned char k[MP_AUTHKEY_MAX + 1], got[MP_AUTHKEY_MAX];
    for (size_t i = 0; i < sizeof k; i++)
        k[i] = (unsigned char)(i * 7); // a 0 byte first: keys are bytes
    // No key yet: getrandom failing makes none, and EINTR is no failure.
    // Nor can a manager start, or a proxy connect, without a key: each
    // fails with getrandom's errno, before it forks or connects.  (Each
    // in a child of its own, which has no key either: this process's
    // state stays as it was for the checks below.)
    fl_child started, connected;
    fl_run_in_child(start_with_no_key, NULL, 8000, 0, &started);
    fl_run_in_child(connect_with_no_key, NULL, 8000, 0, &connected);
    fl_expect_int(started.returned ? started.value : -EIO, -EAGAIN,
                  "mp_manager_start with no key yet and getrandom failing "
                  "(EAGAIN)",
                  "make_authkey's error is the answer: check it before the "
                  "fork, and return it");
    fl_expect_int(connected.returned ? connected.value : -EIO, -EAGAIN,
                  "mp_manager_connect with no key yet and getrandom failing "
                  "(EAGAIN)",
                  "make_authkey's error is the answer: check it, and return "
                  "it before connecting");
    fl_fault_reset();
    fl_fault_fail("getrandom", 1, ENOSYS);
    int failed = mp_get_authkey(got, sizeof got);
    fl_fault_reset();
    fl_fault_fail("getrandom", 1, EINTR);
    int retried = mp_get_authkey(got, sizeof got);
    long calls = fl_fault_calls("getrandom");
    fl_fault_reset();
    fl_expect_int(failed, -ENOSYS,
                  "mp_get_authkey with getrandom failing (ENOSYS)",
                  "minus the errno of the getrandom that failed");
    ck_assert_msg(calls > 0,
                  "after getrandom failed, the next mp_get_authkey returned "
                  "%s without calling getrandom: the failed key was kept, "
                  "bytes anyone can guess (zeros). Set authkey_len only "
                  "once getrandom has filled the key",
                  fl_ret(retried));
    fl_expect_int(retried, MP_AUTHKEY_LEN,
                  "mp_get_authkey with getrandom interrupted once (EINTR)",
                  "EINTR is no failure: call getrandom again");
    int none = mp_set_authkey(NULL, 4), empty = mp_set_authkey(k, 0);
    int over = mp_set_authkey(k, MP_AUTHKEY_MAX + 1);
    int max = mp_set_authkey(k, MP_AUTHKEY_MAX);
    int n_max = mp_get_authkey(got, sizeof got);
    int same = n_max == MP_AUTHKEY_MAX && memcmp(got, k, MP_AUTHKEY_MAX) == 0;
    int small = mp_get_authkey(got, MP_AUTHKEY_MAX - 1);
    // A 1-byte key alone in its block: a copy of more than len bytes
    // reads past it (the sanitizer pass).
    unsigned char *one_byte = malloc(1);
    ck_assert(one_byte != NULL);
    *one_byte = k[1];
    int one = mp_set_authkey(one_byte, 1);
    free(one_byte);
    int n_one = mp_get_authkey(got, sizeof got);
    int null_buf = mp_get_authkey(NULL, 8);
    fl_expect_int(none, -EINVAL, "mp_set_authkey(NULL, 4)", "no key");
    fl_expect_int(empty, -EINVAL, "mp_set_authkey(key, 0)",
                  "an empty key proves nothing: Python's Listener skips "
                  "the handshake for one, silently");
    fl_expect_int(over, -EINVAL, "mp_set_authkey of MP_AUTHKEY_MAX + 1 bytes",
                  "the key must fit in the process's buffer: check len "
                  "before the memcpy");
    fl_expect_int(max, 0, "mp_set_authkey of MP_AUTHKEY_MAX bytes",
                  "MP_AUTHKEY_MAX bytes fit exactly");
    ck_assert_msg(same,
                  "after mp_set_authkey of %d bytes beginning with a 0 "
                  "byte, mp_get_authkey returned %s and %s the key: copy "
                  "len bytes with memcpy, not a string",
                  MP_AUTHKEY_MAX, fl_ret(n_max),
                  same ? "the same" : "not the same");
    fl_expect_int(small, -ERANGE, "mp_get_authkey into one byte too few",
                  "a key that does not fit is -ERANGE, not cut short");
    fl_expect_int(one, 0, "mp_set_authkey of 1 byte", "1 byte is a key");
    fl_expect_int(n_one, 1, "mp_get_authkey after a 1-byte key",
                  "the length is the last key's, not the first's");
    ck_assert_msg(got[0] == k[1], "after a 1-byte key, mp_get_authkey gave "
                                  "another byte");
    fl_expect_int(null_buf, -EINVAL, "mp_get_authkey(NULL, 8)", "no buffer");
}

// A child's authkey, written to the pipe *arg.
static int
report_key(void *arg)
{
    unsigned char k[MP_AUTHKEY_MAX];
    int n = mp_get_authkey(k, sizeof k);
    if (n != MP_AUTHKEY_LEN)
        return 1;
    return write(*(int *)arg, k, (size_t)n) == n ? 0 : 2;
}

// The key of a child forked now, from the pipe p.
static void
key_of_child(int *p, unsigned char *k)
{
    pid_t pid = fl_raw_start(report_key, &p[1]);
    int st = fl_reap_code(pid);
    ck_assert_msg(st == 0,
                  "in a child, mp_get_authkey did not return %d bytes "
                  "(status %d)",
                  MP_AUTHKEY_LEN, st);
    ck_assert(read(p[0], k, MP_AUTHKEY_LEN) == MP_AUTHKEY_LEN);
}

FL_TEST(test_mp_get_authkey_is_random_and_inherited_by_children)
{
    int p[2];
    ck_assert(pipe(p) == 0);
    unsigned char a[MP_AUTHKEY_LEN], b[MP_AUTHKEY_LEN], c[MP_AUTHKEY_LEN];
    unsigned char mine[MP_AUTHKEY_MAX + 8]; // room to spare, marked with Z
    memset(mine, 'Z', sizeof mine);
    key_of_child(p, a); // this process has no key yet: each child makes one
    key_of_child(p, b);
    // This process's first call, into one byte too few: the key is made
    // first, and then it does not fit.
    int small = mp_get_authkey(mine, MP_AUTHKEY_LEN - 1);
    int n = mp_get_authkey(mine, sizeof mine);
    key_of_child(p, c); // made after this process's: inherited
    close(p[0]);
    close(p[1]);
    fl_expect_int(small, -ERANGE,
                  "a process's first mp_get_authkey, into MP_AUTHKEY_LEN - 1 "
                  "bytes",
                  "make the key first, then compare its length with size: "
                  "before it is made its length is 0, and the copy writes "
                  "past the caller's buffer");
    fl_expect_int(n, MP_AUTHKEY_LEN, "mp_get_authkey with no key set",
                  "the default key is MP_AUTHKEY_LEN random bytes");
    size_t z = MP_AUTHKEY_LEN;
    while (z < sizeof mine && mine[z] == 'Z')
        z++;
    ck_assert_msg(z == sizeof mine,
                  "mp_get_authkey into a buffer of MP_AUTHKEY_MAX + 8 bytes "
                  "returned %s but wrote byte %zu, past the key's %d: copy "
                  "the key's length, not size",
                  fl_ret(n), z, MP_AUTHKEY_LEN);
    ck_assert_msg(memcmp(a, b, sizeof a) != 0,
                  "two children forked before any key was made got the "
                  "same key: the default key must come from getrandom(2), "
                  "not be a constant or rand() (which starts the same in "
                  "every process)");
    ck_assert_msg(memcmp(mine, c, sizeof c) == 0,
                  "a child forked after the parent's key was made has "
                  "another key: keep the key in a static buffer, made "
                  "once, so that fork copies it (Python's children inherit "
                  "current_process().authkey)");
}

/* ---------------------------------------------- mp_deliver_challenge */

// How the test's peer answers a challenge in one round.
enum answer_how {
    A_RIGHT,      // "{sha256}" + the right HMAC-SHA256
    A_MD5,        // Python 3.11's: the bare right HMAC-MD5
    A_OTHER_KEY,  // "{sha256}" + the HMAC under another key
    A_FLIP_FIRST, // the right answer, its digest's first byte changed
    A_FLIP_LAST,  // ... its last byte changed
    A_AFTER_NUL,  // ... the byte after its first 0 byte, if it has one
    A_SHORT,      // the right answer without its last byte: N - 1
    A_LONG,       // the right answer and one byte more: N + 1
    A_MAX,        // MP_AUTH_MSG_MAX bytes
    A_PREFIX,     // "{sha999}" and the right HMAC-SHA256
    A_HUGE,       // a header of MP_AUTH_MSG_MAX + 1 bytes, and the bytes
    A_EMPTY,      // a frame of 0 bytes
    A_HUGE16,     // a header of 2^16 + N bytes, then the right answer (N)
    A_HUGE24,     // a header of 2^24 + N bytes, then the right answer (N)
};

// What the peer saw in one round.
struct round {
    unsigned char challenge[HS_FRAME];
    ssize_t len;  // of the challenge
    char verdict; // 'W', 'F', '?' (another frame), '-' (none)
    char changed; // A_AFTER_NUL: 1 if a byte after a 0 was changed
};

struct answerer {
    int fd, report;
    int other; // the test's end, closed in the peer: EOF must reach it
    const enum answer_how *how;
    int n;
};

// The answer to c[0..clen) as told, into a; its length.
static size_t
answer_as(enum answer_how how, const unsigned char *c, size_t clen,
          unsigned char *a, char *changed)
{
    unsigned char other[MP_AUTHKEY_MAX];
    memcpy(other, tkey, tkeylen);
    other[0] ^= 0x5a;
    if (how == A_MD5)
        return test_hmac(EVP_md5(), tkey, tkeylen, c, clen, a);
    size_t n =
        sha_answer(how == A_OTHER_KEY ? other : tkey, tkeylen, c, clen, a);
    unsigned char *zero = memchr(a + PLEN, 0, MP_DIGEST_LEN - 1);
    *changed = how == A_AFTER_NUL && zero != NULL;
    if (*changed)
        zero[1] ^= 0xff;
    if (how == A_FLIP_FIRST || how == A_FLIP_LAST)
        a[how == A_FLIP_FIRST ? PLEN : n - 1] ^= 0x01;
    if (how == A_LONG)
        a[n++] = 0;
    if (how == A_PREFIX)
        memcpy(a, "{sha999}", PLEN);
    if (how == A_MAX)
        memset(a + n, 'x', MP_AUTH_MSG_MAX - n);
    return how == A_SHORT ? n - 1 : how == A_MAX ? MP_AUTH_MSG_MAX : n;
}

// The peer that answers: each round, read a challenge, answer it as told,
// read the verdict, and report the round on the pipe.
static int
answerer(void *arg)
{
    struct answerer *a = arg;
    close(a->other);
    for (int i = 0; i < a->n; i++) {
        struct round r = {.verdict = '-'};
        unsigned char ans[HS_FRAME], v[HS_FRAME];
        r.len = hs_read(a->fd, r.challenge);
        if (r.len < (ssize_t)CHLEN)
            return 1;
        size_t n = answer_as(a->how[i], r.challenge + CHLEN,
                             (size_t)r.len - CHLEN, ans, &r.changed);
        if (a->how[i] == A_HUGE) {
            unsigned char big[MP_FRAME_HEADER + MP_AUTH_MSG_MAX + 1] = {0};
            fl_put_be32(big, MP_AUTH_MSG_MAX + 1);
            fl_write_full(a->fd, big, sizeof big);
        } else if (a->how[i] == A_EMPTY) {
            unsigned char empty[MP_FRAME_HEADER] = {0};
            fl_write_full(a->fd, empty, sizeof empty);
            ssize_t m = hs_read(a->fd, v); // EOF: nothing was sent
            r.verdict = is_word(v, m, MP_FAILURE) ? 'F' : m > 0 ? '?' : '-';
        } else if (a->how[i] == A_HUGE16 || a->how[i] == A_HUGE24) {
            unsigned char big[MP_FRAME_HEADER + HS_FRAME];
            int shift = a->how[i] == A_HUGE16 ? 16 : 24;
            fl_put_be32(big, (1u << shift) + (uint32_t)n);
            memcpy(big + MP_FRAME_HEADER, ans, n);
            fl_write_full(a->fd, big, MP_FRAME_HEADER + n);
        } else if (fl_frame_write(a->fd, ans, n) == 0) { // else: gone
            ssize_t m = hs_read(a->fd, v);
            r.verdict = is_word(v, m, MP_WELCOME)   ? 'W'
                        : is_word(v, m, MP_FAILURE) ? 'F'
                        : m > 0                     ? '?'
                                                    : '-';
        }
        if (write(a->report, &r, sizeof r) != sizeof r)
            return 3;
    }
    return 0;
}

// Run mp_deliver_challenge n times against a peer that answers as told;
// each return value into ret, each round's record into r.
static void
deliver_rounds(const enum answer_how *how, int n, int timeout_ms, int *ret,
               struct round *r)
{
    int sv[2], p[2];
    load_key();
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    ck_assert(pipe(p) == 0);
    struct answerer a = {sv[1], p[1], sv[0], how, n};
    pid_t pid = fl_raw_start(answerer, &a);
    close(sv[1]);
    close(p[1]);
    for (int i = 0; i < n; i++)
        ret[i] = mp_deliver_challenge(sv[0], tkey, tkeylen, timeout_ms);
    close(sv[0]);
    int st = fl_reap_code(pid);
    for (int i = 0; i < n; i++)
        if (read(p[0], &r[i], sizeof r[i]) != sizeof r[i])
            ck_abort_msg("round %d of %d: the peer got no challenge it "
                         "could answer (status %d): send one frame, "
                         "MP_CHALLENGE MP_DIGEST_PREFIX and %d random bytes",
                         i + 1, n, st, MP_CHALLENGE_LEN);
    close(p[0]);
}

static const char *
verdict_name(char v)
{
    return v == 'W'   ? "MP_WELCOME"
           : v == 'F' ? "MP_FAILURE"
           : v == '?' ? "another frame"
                      : "nothing";
}

FL_TEST(test_mp_deliver_challenge_welcomes_the_right_answer)
{
    static const enum answer_how how[] = {A_RIGHT, A_RIGHT, A_MD5};
    int ret[3];
    struct round r[3];
    deliver_rounds(how, 3, WAIT_MS, ret, r);
    size_t want = CHLEN + PLEN + MP_CHALLENGE_LEN;
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(r[i].len == (ssize_t)want &&
                          memcmp(r[i].challenge, MP_CHALLENGE MP_DIGEST_PREFIX,
                                 CHLEN + PLEN) == 0,
                      "the challenge was %zd bytes, expected %zu: "
                      "MP_CHALLENGE, MP_DIGEST_PREFIX, then "
                      "MP_CHALLENGE_LEN random bytes, as Python 3.12 sends",
                      r[i].len, want);
        ck_assert_msg(ret[i] == 0 && r[i].verdict == 'W',
                      "answered %s, mp_deliver_challenge returned %s and "
                      "sent %s; expected 0 and MP_WELCOME. The answer is "
                      "%s of what followed MP_CHALLENGE (the prefix too)",
                      how[i] == A_MD5 ? "with Python 3.11's bare HMAC-MD5"
                                      : "rightly",
                      fl_ret(ret[i]), verdict_name(r[i].verdict),
                      how[i] == A_MD5 ? "HMAC-MD5 (16 bytes, no prefix)"
                                      : "\"{sha256}\" + HMAC-SHA256");
    }
    ck_assert_msg(memcmp(r[0].challenge, r[1].challenge, (size_t)r[0].len),
                  "two challenges were the same: each needs new random "
                  "bytes from getrandom(2), or an answer seen once can be "
                  "replayed");
}

// A child's challenge: deliver once on *arg, whose peer is the test.
static int
deliver_once(void *arg)
{
    return -mp_deliver_challenge(*(int *)arg, tkey, tkeylen, WAIT_MS);
}

FL_TEST(test_mp_deliver_challenge_differs_in_every_process)
{
    unsigned char c[2][HS_FRAME], a[HS_FRAME], v[HS_FRAME];
    ssize_t n[2];
    load_key();
    for (int i = 0; i < 2; i++) { // two children forked from one state
        int sv[2];
        ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        pid_t pid = fl_raw_start(deliver_once, &sv[1]);
        close(sv[1]);
        n[i] = hs_read(sv[0], c[i]);
        if (n[i] >= (ssize_t)CHLEN) {
            size_t len = sha_answer(tkey, tkeylen, c[i] + CHLEN,
                                    (size_t)n[i] - CHLEN, a);
            fl_frame_write(sv[0], a, len);
            hs_read(sv[0], v);
        }
        close(sv[0]);
        int st = fl_reap_code(pid);
        ck_assert_msg(n[i] > (ssize_t)CHLEN && st == 0,
                      "a child's mp_deliver_challenge %s",
                      st == 0 ? "sent no challenge"
                              : "did not welcome the right answer");
    }
    ck_assert_msg(n[0] != n[1] || memcmp(c[0], c[1], (size_t)n[0]) != 0,
                  "two processes forked from the same parent sent the same "
                  "challenge: rand() without a seed, or any generator "
                  "whose state fork copies, repeats itself in every "
                  "child. Use getrandom(2)");
    // getrandom failing (EAGAIN): no challenge goes out, half random or
    // not at all; the call fails with its errno.
    int sv[2];
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fl_fault_reset();
    fl_fault_fail("getrandom", 1, EAGAIN);
    int r = mp_deliver_challenge(sv[0], tkey, tkeylen, 0);
    long fired = fl_fault_fired("getrandom");
    fl_fault_reset();
    int sent = fl_readable_within(sv[1], 0);
    close(sv[0]);
    close(sv[1]);
    if (fired > 0)
        ck_assert_msg(r == -EAGAIN && !sent,
                      "mp_deliver_challenge with getrandom failing (EAGAIN) "
                      "returned %s%s; expected -EAGAIN and no challenge "
                      "sent. A challenge whose bytes did not come (zeros, "
                      "the stack's leftovers) can be guessed: check "
                      "fill_random's result before sending",
                      fl_ret(r), sent ? " and sent a challenge" : "");
}

// Every way of comparing digests wrongly fails one round or another, and
// which comes first depends on where the random digests hold 0 bytes:
// each failure says all of them.
#define COMPARE_HINT                                                           \
    "Compare all MP_DIGEST_LEN bytes of the digest with CRYPTO_memcmp: not "   \
    "a prefix of them (the last byte counts too), and not with strcmp or "     \
    "strncmp, which stop at the first 0 byte (a digest is bytes, 0 bytes "     \
    "too)"

FL_TEST(test_mp_deliver_challenge_refuses_a_wrong_answer_with_failure)
{
    enum { NUL_ROUNDS = 160 };
    enum answer_how how[3 + NUL_ROUNDS] = {A_OTHER_KEY, A_FLIP_FIRST,
                                           A_FLIP_LAST};
    for (int i = 3; i < 3 + NUL_ROUNDS; i++)
        how[i] = A_AFTER_NUL;
    static int ret[3 + NUL_ROUNDS];
    static struct round r[3 + NUL_ROUNDS];
    deliver_rounds(how, 3 + NUL_ROUNDS, WAIT_MS, ret, r);
    static const char *what[] = {
        "an HMAC under another key",
        "the right digest with its first byte changed",
        "the right digest with its last byte changed",
    };
    for (int i = 0; i < 3; i++)
        ck_assert_msg(ret[i] == -EACCES && r[i].verdict == 'F',
                      "answered with %s, mp_deliver_challenge returned %s "
                      "and sent %s; expected -EACCES and MP_FAILURE "
                      "(Python's AuthenticationError: a wrong key). %s",
                      what[i], fl_ret(ret[i]), verdict_name(r[i].verdict),
                      COMPARE_HINT);
    int changed = 0;
    for (int i = 3; i < 3 + NUL_ROUNDS; i++) {
        changed += r[i].changed;
        int want = r[i].changed ? -EACCES : 0;
        ck_assert_msg(ret[i] == want,
                      "answered with %s, mp_deliver_challenge returned %s, "
                      "expected %s. %s",
                      r[i].changed ? "the right digest with the byte after "
                                     "its first 0 byte changed"
                                   : "the right digest",
                      fl_ret(ret[i]), fl_ret(want), COMPARE_HINT);
    }
    ck_assert_msg(changed > 0,
                  "in %d rounds no digest had a 0 byte: "
                  "are the challenges random?",
                  NUL_ROUNDS);
    // A wrong answer whose MP_FAILURE cannot be sent (the second sendmsg
    // fails, once the challenge went whole with the first): the call
    // still says the key was wrong.  The answer is in the socket before
    // the call: no peer process.
    int sv[2];
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    unsigned char wrong[PLEN + MP_DIGEST_LEN];
    memcpy(wrong, MP_DIGEST_PREFIX, PLEN);
    memset(wrong + PLEN, 0x5a, MP_DIGEST_LEN);
    ck_assert(fl_frame_write(sv[1], wrong, sizeof wrong) == 0);
    fl_fault_reset();
    fl_fault_fail("sendmsg", 2, EPIPE);
    int unsent = mp_deliver_challenge(sv[0], tkey, tkeylen, WAIT_MS);
    int fired = (int)fl_fault_fired("sendmsg");
    fl_fault_reset();
    close(sv[0]);
    unsigned char c[HS_FRAME];
    int challenged = hs_read(sv[1], c) > (ssize_t)CHLEN; // then the verdict's
    close(sv[1]);                                        // send failed
    ck_assert_msg(!fired || !challenged || unsent == -EACCES,
                  "answered with a wrong digest, and sending MP_FAILURE "
                  "failed with EPIPE: mp_deliver_challenge returned %s, "
                  "expected -EACCES. The verdict is the answer's: return "
                  "the send's error only when the answer was right (the "
                  "peer may never learn it failed, but the caller must)",
                  fl_ret(unsent));
}

FL_TEST(test_mp_deliver_challenge_refuses_answers_of_the_wrong_size)
{
    static const enum answer_how how[] = {A_SHORT, A_LONG, A_MAX, A_PREFIX,
                                          A_HUGE};
    static const char *what[] = {
        "\"{sha256}\" and one byte too few (N - 1)",
        "\"{sha256}\", the digest and one byte more (N + 1)",
        "MP_AUTH_MSG_MAX bytes",
        "\"{sha999}\" and the right HMAC-SHA256 (40 bytes)",
        "a frame of MP_AUTH_MSG_MAX + 1 bytes",
    };
    static const char *hint[] = {
        "An answer of neither digest's length is no answer: check the "
        "length before comparing, and refuse it with MP_FAILURE",
        "An answer of 40 bytes names its digest: refuse any prefix but "
        "MP_DIGEST_PREFIX (memcmp it), as Python refuses a digest it does "
        "not know, with MP_FAILURE",
        "A frame over MP_AUTH_MSG_MAX is refused unread: its length is "
        "checked before the body is read into a buffer of that size",
    };
    int ret[5];
    struct round r[5];
    deliver_rounds(how, 5, WAIT_MS, ret, r);
    for (int i = 0; i < 5; i++) {
        char want = i < 4 ? 'F' : '-';
        ck_assert_msg(ret[i] == -EPROTO && r[i].verdict == want,
                      "answered with %s, mp_deliver_challenge returned %s "
                      "and sent %s; expected -EPROTO and %s. %s",
                      what[i], fl_ret(ret[i]), verdict_name(r[i].verdict),
                      verdict_name(want), hint[i < 3 ? 0 : i - 2]);
    }
    // An empty frame, which is sent nothing (the peer then sees EOF), and
    // headers of 2^16 + N and 2^24 + N bytes, then the right answer (N
    // bytes), each the last round of its exchange (the body stays
    // unread): a length decoded from one header byte twice is N.
    static const enum answer_how last[] = {A_EMPTY, A_HUGE16, A_HUGE24};
    deliver_rounds(&last[0], 1, WAIT_MS, ret, r);
    ck_assert_msg(ret[0] == -EPROTO && r[0].verdict == '-',
                  "answered with a frame of 0 bytes, mp_deliver_challenge "
                  "returned %s and sent %s; expected -EPROTO and nothing: "
                  "recv_msg refuses a length of 0 as it refuses one over "
                  "MP_AUTH_MSG_MAX, a frame that is no message",
                  fl_ret(ret[0]), verdict_name(r[0].verdict));
    for (int i = 1; i < 3; i++) {
        deliver_rounds(&last[i], 1, WAIT_MS, ret, r);
        ck_assert_msg(ret[0] == -EPROTO && r[0].verdict == '-',
                      "answered with a header announcing 2^%d + %d bytes "
                      "and then the right answer (%d bytes), "
                      "mp_deliver_challenge returned %s and sent %s; "
                      "expected -EPROTO and nothing. Decode the length from "
                      "each of the 4 header bytes in turn, (size_t)head[0] "
                      "<< 24 | (size_t)head[1] << 16 | ...: a byte read "
                      "twice takes that header for %d bytes",
                      i == 1 ? 16 : 24, (int)(PLEN + MP_DIGEST_LEN),
                      (int)(PLEN + MP_DIGEST_LEN), fl_ret(ret[0]),
                      verdict_name(r[0].verdict), (int)(PLEN + MP_DIGEST_LEN));
    }
}

// fl_storm_call's function: deliver to a peer that never answers.
static int
deliver_to_silent(void *arg)
{
    return mp_deliver_challenge(*(int *)arg, tkey, tkeylen, 300);
}

// fl_storm_hold's wait: deliver with no deadline (-1) to a peer that
// answers nothing until released.
static int
deliver_for_ever(void *arg)
{
    return mp_deliver_challenge(((int *)arg)[0], tkey, tkeylen, -1);
}

// fl_storm_hold's release: the peer hangs up, an EOF the wait ends on.
static void
peer_hangs_up(void *arg)
{
    close(((int *)arg)[1]);
}

// In a child: deliver with a timeout of 0 to a peer that never answers.
static int
deliver_polling(void *arg)
{
    return mp_deliver_challenge(*(int *)arg, tkey, tkeylen, 0);
}

// In a child: deliver (timeout 200 ms) to a peer that never answers, the
// monotonic clock 10 s later after the code's first read of it: the
// deadline is past by the first wait.
static int
deliver_late(void *arg)
{
    fl_fault_reset();
    fl_clock_mono_later_at(1, 10000);
    return mp_deliver_challenge(*(int *)arg, tkey, tkeylen, 200);
}

// In a child, under a storm: deliver (timeout 200 ms) to a peer that
// never answers, the monotonic clock 10 s later after its third read (the
// one wait_readable takes its deadline from): the first wait is cut by a
// signal, and the time left is then below 0.
static int
deliver_late_interrupted(void *arg)
{
    fl_fault_reset();
    fl_clock_mono_later_at(3, 10000);
    fl_storm_start(500);
    int r = mp_deliver_challenge(*(int *)arg, tkey, tkeylen, 200);
    fl_storm_stop();
    return r;
}

// In a child: deliver (timeout 100 ms) to a peer that never answers, the
// first wait interrupted by one signal (EINTR) and no other: the wait
// after it is for the time left.
static int
deliver_interrupted_once(void *arg)
{
    fl_fault_reset();
    fl_fault_eintr("poll", 1);
    return mp_deliver_challenge(*(int *)arg, tkey, tkeylen, 100);
}

FL_TEST(test_mp_deliver_challenge_keeps_its_deadline_under_signals)
{
    int sv[2];
    load_key();
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fl_storm_result res;
    fl_fault_reset();
    fl_clock_jump_at(1, 3600); // the wall clock an hour on, after one read
    fl_clock_mono_just_past_a_second(); // a clock in whole s shows
    fl_storm_call(deliver_to_silent, &sv[0], 500, &res);
    fl_fault_reset();
    unsigned char c[HS_FRAME];
    ssize_t n = hs_read(sv[1], c); // the challenge, sent before the wait
    fl_child now;                  // a timeout of 0: a poll, at once
    fl_run_in_child(deliver_polling, &sv[0], 500, 0, &now);
    fl_child late; // the time left is below 0 by the first wait
    fl_run_in_child(deliver_late, &sv[0], 500, 0, &late);
    fl_child cut; // a signal, then the time left is below 0
    fl_run_in_child(deliver_late_interrupted, &sv[0], 500, 0, &cut);
    fl_child once; // one signal, then a wait for the time left
    fl_run_in_child(deliver_interrupted_once, &sv[0], 1000, 0, &once);
    close(sv[0]);
    close(sv[1]);
    // No deadline: signals must not turn it into one.
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fl_storm_result ever;
    fl_storm_hold(deliver_for_ever, peer_hangs_up, sv, 500, 50, &ever);
    close(sv[0]);
    ck_assert_msg(n > 0, "mp_deliver_challenge sent no challenge");
    ck_assert_msg(now.returned && now.value == -ETIMEDOUT,
                  "mp_deliver_challenge with a timeout of 0, to a peer that "
                  "has not answered, %s; expected -ETIMEDOUT at once. A "
                  "timeout of 0 polls: only -1 waits for ever (a deadline "
                  "of now, and the time left past it is 0, never negative)",
                  how_within(&now, 500));
    ck_assert_msg(late.returned && late.value == -ETIMEDOUT,
                  "mp_deliver_challenge(timeout 200 ms), the process not "
                  "run for 10 s (on CLOCK_MONOTONIC) once it had its "
                  "deadline, %s; expected -ETIMEDOUT at once. The time "
                  "left past the deadline is 0, never negative: poll() "
                  "takes a negative timeout as for ever",
                  how_within(&late, 500));
    ck_assert_msg(cut.returned && cut.value == -ETIMEDOUT,
                  "mp_deliver_challenge(timeout 200 ms) under signals, its "
                  "deadline past (on CLOCK_MONOTONIC) when a signal cut its "
                  "first wait, %s; expected -ETIMEDOUT at once. After EINTR "
                  "the time left past the deadline is 0, never negative: "
                  "poll() takes a negative timeout as for ever",
                  how_within(&cut, 500));
    ck_assert_msg(once.returned && once.value == -ETIMEDOUT,
                  "mp_deliver_challenge(timeout 100 ms) to a peer that "
                  "never answers, its first poll interrupted by one signal "
                  "(EINTR), %s; expected -ETIMEDOUT after 100 ms. After "
                  "EINTR, poll again for the time left, deadline - now, "
                  "never for the deadline itself (a time since boot)",
                  how_within(&once, 1000));
    fl_expect_int(res.ret, -ETIMEDOUT,
                  "mp_deliver_challenge(timeout 300 ms) to a peer that "
                  "never answers, under a signal storm",
                  "an interrupted wait (EINTR) waits again for the time "
                  "left; once the deadline is past, -ETIMEDOUT");
    ck_assert_msg(res.elapsed_ms >= 280 && res.elapsed_ms < 1500,
                  "with a deadline of 300 ms it returned after %ld ms "
                  "(%ld signals), the wall clock jumping an hour: a "
                  "deadline on CLOCK_MONOTONIC, not CLOCK_REALTIME (which "
                  "jumps), counted once for the whole exchange, not "
                  "restarted after each signal",
                  res.elapsed_ms, res.signals);
    ck_assert_msg(!ever.early && ever.ret == -EPIPE,
                  "mp_deliver_challenge(timeout -1) under a signal storm "
                  "returned %s %s, expected -EPIPE once the peer hung up: "
                  "a wait for ever stays for ever after EINTR (only a "
                  "timeout above 0 has a time left to count down)",
                  fl_ret(ever.ret),
                  ever.early ? "before the peer hung up" : "after it");
}

// In a child: mp_answer_challenge on *fd with the test's key, its first
// read interrupted by a signal (EINTR).
static int
answer_after_eintr(void *arg)
{
    load_key();
    fl_fault_reset(); // count from here
    fl_fault_eintr("read", 1);
    return mp_answer_challenge(*(int *)arg, tkey, tkeylen, WAIT_MS);
}

FL_TEST(test_mp_deliver_challenge_retries_reads_a_signal_interrupted)
{
    static const enum answer_how right[] = {A_RIGHT};
    int ret[1];
    struct round r[1];
    fl_fault_reset();
    fl_fault_eintr("read", 1);
    fl_fault_eintr("poll", 2);
    fl_fault_eintr("sendmsg", 1); // the challenge's send, in send_full
    deliver_rounds(right, 1, WAIT_MS, ret, r);
    long fired = fl_fault_fired("read") + fl_fault_fired("poll");
    fl_fault_reset();
    ck_assert_msg(fired > 0, "mp_deliver_challenge called neither read() "
                             "nor poll() to wait for the answer");
    fl_expect_int(ret[0], 0,
                  "mp_deliver_challenge whose sendmsg, read and poll were "
                  "interrupted by a signal (EINTR), the answer right",
                  "EINTR is no answer and no error: send, read (or poll) "
                  "again, against the same deadline");
    // A peer that has closed: the read after the interrupted one is EOF,
    // and errno still says EINTR (a call that succeeds leaves it alone).
    int sv[2];
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    close(sv[1]);
    fl_child eof;
    fl_run_in_child(answer_after_eintr, &sv[0], WAIT_MS, 0, &eof);
    close(sv[0]);
    ck_assert_msg(eof.returned && eof.value == -EPIPE,
                  "mp_answer_challenge on a connection the peer had closed, "
                  "its first read interrupted by a signal (EINTR), %s; "
                  "expected -EPIPE.%s",
                  how(&eof),
                  !eof.returned || eof.value == -ETIMEDOUT
                      ? " A read that returns 0 is EOF, whatever errno "
                        "says: errno keeps the EINTR of the read before it, "
                        "so test n < 0 before errno == EINTR, or read_by "
                        "retries EOF for ever"
                      : "");
}

// A peer that sends len bytes of an answer's frame, waits for the
// challenge and leaves it unread: its end closes with data unread, so
// the kernel reports ECONNRESET to the other end, not EOF.
struct cutter {
    int fd, other;
    size_t len;
};

static int
cut_and_close(void *arg)
{
    struct cutter *c = arg;
    close(c->other);
    unsigned char f[MP_FRAME_HEADER + PLEN] = {0};
    fl_put_be32(f, PLEN + MP_DIGEST_LEN);
    memcpy(f + MP_FRAME_HEADER, MP_DIGEST_PREFIX, PLEN);
    if (fl_write_full(c->fd, f, c->len) < 0)
        return 1;
    return fl_readable_within(c->fd, WAIT_MS) ? 0 : 2;
}

FL_TEST(test_mp_deliver_challenge_gives_epipe_when_the_peer_resets)
{
    static const size_t cut[] = {2, MP_FRAME_HEADER + 5};
    static const char *where[] = {"header", "body"};
    int ret[2];
    load_key();
    for (int i = 0; i < 2; i++) {
        int sv[2];
        ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        struct cutter c = {sv[1], sv[0], cut[i]};
        pid_t pid = fl_raw_start(cut_and_close, &c);
        close(sv[1]);
        ret[i] = mp_deliver_challenge(sv[0], tkey, tkeylen, WAIT_MS);
        close(sv[0]);
        fl_reap_code(pid);
    }
    for (int i = 0; i < 2; i++)
        ck_assert_msg(ret[i] == -EPIPE,
                      "the peer closed in the middle of its answer's %s, "
                      "the challenge unread, and mp_deliver_challenge "
                      "returned %s; expected -EPIPE. With bytes unread the "
                      "kernel reports ECONNRESET, not EOF: the peer has gone "
                      "either way, in the header or in the body",
                      where[i], fl_ret(ret[i]));
    // The send of the challenge failing with ECONNRESET (the peer reset
    // the connection: sendmsg reports it too).  The peer's end is closed,
    // so a send that is not sendmsg fails with EPIPE by itself.
    int sv[2];
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    close(sv[1]);
    fl_fault_reset(); // count from here
    fl_fault_fail("sendmsg", 1, ECONNRESET);
    int reset = mp_deliver_challenge(sv[0], tkey, tkeylen, WAIT_MS);
    fl_fault_reset();
    close(sv[0]);
    fl_expect_int(reset, -EPIPE,
                  "mp_deliver_challenge when sending the challenge failed "
                  "with ECONNRESET",
                  "a connection reset means the peer has gone, as EPIPE "
                  "does: sending a handshake message too, return -EPIPE");
}

FL_TEST(test_mp_deliver_and_answer_challenge_refuse_bad_arguments)
{
    static unsigned char big[MP_AUTHKEY_MAX + 1];
    int sv[2];
    load_key();
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    close(sv[1]); // a call that goes ahead fails at once, -EPIPE
    const struct {
        int fd;
        const void *key;
        size_t len;
        int timeout_ms;
        const char *what;
    } bad[] = {
        {-1, tkey, tkeylen, WAIT_MS, "fd -1"},
        {sv[0], NULL, tkeylen, WAIT_MS, "a NULL key"},
        {sv[0], tkey, 0, WAIT_MS, "an empty key (keylen 0)"},
        {sv[0], big, MP_AUTHKEY_MAX + 1, WAIT_MS,
         "a key of MP_AUTHKEY_MAX + 1 bytes"},
        {sv[0], tkey, tkeylen, -2, "a timeout of -2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int d = mp_deliver_challenge(bad[i].fd, bad[i].key, bad[i].len,
                                     bad[i].timeout_ms);
        int a = mp_answer_challenge(bad[i].fd, bad[i].key, bad[i].len,
                                    bad[i].timeout_ms);
        ck_assert_msg(d == -EINVAL && a == -EINVAL,
                      "with %s, mp_deliver_challenge returned %s and "
                      "mp_answer_challenge %s; expected -EINVAL from both. "
                      "Check the arguments first: a descriptor, a key of 1 "
                      "to MP_AUTHKEY_MAX bytes (an empty key proves "
                      "nothing), a timeout of -1 or more",
                      bad[i].what, fl_ret(d), fl_ret(a));
    }
    int d = mp_deliver_challenge(sv[0], big, MP_AUTHKEY_MAX, WAIT_MS);
    int a = mp_answer_challenge(sv[0], big, MP_AUTHKEY_MAX, WAIT_MS);
    // The other valid ends: a key of 1 byte, and descriptor 0 (a socket
    // may get it where stdin is closed); the socket moves to 0 for that.
    int d1 = mp_deliver_challenge(sv[0], big, 1, WAIT_MS);
    int a1 = mp_answer_challenge(sv[0], big, 1, WAIT_MS);
    int in = dup(0);
    ck_assert(in >= 0 && dup2(sv[0], 0) == 0);
    int d0 = mp_deliver_challenge(0, tkey, tkeylen, WAIT_MS);
    int a0 = mp_answer_challenge(0, tkey, tkeylen, WAIT_MS);
    dup2(in, 0);
    close(in);
    close(sv[0]);
    ck_assert_msg(d == -EPIPE && a == -EPIPE,
                  "with a key of MP_AUTHKEY_MAX bytes and a peer that has "
                  "closed, mp_deliver_challenge returned %s and "
                  "mp_answer_challenge %s; expected -EPIPE from both: a "
                  "key of MP_AUTHKEY_MAX bytes is valid (<=, not <)",
                  fl_ret(d), fl_ret(a));
    ck_assert_msg(d1 == -EPIPE && a1 == -EPIPE,
                  "with a key of 1 byte and a peer that has closed, "
                  "mp_deliver_challenge returned %s and mp_answer_challenge "
                  "%s; expected -EPIPE from both: a key of 1 byte is valid "
                  "(keylen > 0, not > 1)",
                  fl_ret(d1), fl_ret(a1));
    ck_assert_msg(d0 == -EPIPE && a0 == -EPIPE,
                  "on descriptor 0, a socket whose peer has closed, "
                  "mp_deliver_challenge returned %s and mp_answer_challenge "
                  "%s; expected -EPIPE from both: 0 is a descriptor like "
                  "any other, only a negative fd is invalid (fd >= 0, not "
                  "> 0)",
                  fl_ret(d0), fl_ret(a0));
}

/* ----------------------------------------------- mp_answer_challenge */

// How the test's peer challenges in one round.
enum challenge_how {
    C_SHA,      // Python 3.12's challenge; then MP_WELCOME
    C_LEGACY,   // Python 3.11's: 20 bytes, no prefix; then MP_WELCOME
    C_MAX,      // "{sha256}" and random bytes: MP_AUTH_MSG_MAX in all
    C_FAILURE,  // Python 3.12's; then MP_FAILURE (the peer's key differs)
    C_BAD_WORD, // Python 3.12's; then "#WELCOME#!"
    C_CUT_FAIL, // Python 3.12's; then "#FAILURE" (MP_FAILURE but its last)
    C_BYE_WORD, // Python 3.12's; then "#GOODBYE#", as long as either word
    C_CUT_WORD, // Python 3.12's; then "#WELCOME" (MP_WELCOME but its last)
    C_NO_MAGIC, // "#CHALLENGX#" and the rest
    C_SHORT,    // MP_CHALLENGE and 19 bytes
    C_UNKNOWN,  // MP_CHALLENGE "{sha999}" and 40 bytes
    C_HUGE,     // a frame of MP_AUTH_MSG_MAX + 1 bytes
};

struct challenger {
    int fd, report;
    int other; // the test's end, closed in the peer
    const enum challenge_how *how;
    int n;
};

// The challenge for how, into c; its length.
static size_t
challenge_as(enum challenge_how how, unsigned char *c)
{
    size_t n = make_challenge(c);
    if (how == C_LEGACY) {
        ck_assert(getrandom(c + CHLEN, 20, 0) == 20);
        return CHLEN + 20;
    }
    if (how == C_MAX) {
        ck_assert(getrandom(c + n, MP_AUTH_MSG_MAX - n, 0) ==
                  (ssize_t)(MP_AUTH_MSG_MAX - n));
        return MP_AUTH_MSG_MAX;
    }
    if (how == C_NO_MAGIC)
        c[9] = 'X';
    if (how == C_UNKNOWN)
        memcpy(c + CHLEN, "{sha999}", PLEN);
    if (how == C_HUGE) {
        memset(c + n, 'h', MP_AUTH_MSG_MAX + 1 - n);
        return MP_AUTH_MSG_MAX + 1;
    }
    return how == C_SHORT ? CHLEN + 19 : n;
}

// The peer that challenges: each round, send a challenge as told, and for
// a valid one read the answer and judge it; report 'R' (the right
// answer), 'X' (a wrong one), 'N' (none: for an invalid challenge).
// Then, once the test has closed its end, report how many bytes came that
// no round read: answers to invalid challenges.  (The test may close its
// end with a frame unread, a refused one, while the peer still writes it:
// that round and the rest are reported '-', and the count still made.)
static int
challenger(void *arg)
{
    struct challenger *p = arg;
    close(p->other);
    int gone = 0; // the test's end was closed: no more rounds
    for (int i = 0; i < p->n; i++) {
        unsigned char c[HS_FRAME], a[HS_FRAME], want[HS_FRAME];
        size_t len = challenge_as(p->how[i], c);
        char seen = '-';
        gone = gone || fl_frame_write(p->fd, c, len) < 0;
        if (gone) {
            if (write(p->report, &seen, 1) != 1)
                return 3;
            continue;
        }
        seen = 'N';
        if (p->how[i] <= C_CUT_WORD) {
            ssize_t n = hs_read(p->fd, a);
            size_t w =
                p->how[i] == C_LEGACY
                    ? test_hmac(EVP_md5(), tkey, tkeylen, c + CHLEN,
                                len - CHLEN, want)
                    : sha_answer(tkey, tkeylen, c + CHLEN, len - CHLEN, want);
            seen = n == (ssize_t)w && memcmp(a, want, w) == 0 ? 'R' : 'X';
            enum challenge_how h = p->how[i];
            const char *word = h == C_FAILURE || h == C_CUT_FAIL ? MP_FAILURE
                               : h == C_BAD_WORD                 ? "#WELCOME#!"
                               : h == C_BYE_WORD                 ? "#GOODBYE#"
                                                                 : MP_WELCOME;
            size_t wlen = strlen(word) - (h == C_CUT_WORD || h == C_CUT_FAIL);
            gone = fl_frame_write(p->fd, word, wlen) < 0;
        }
        if (write(p->report, &seen, 1) != 1)
            return 3;
    }
    unsigned char rest[HS_FRAME];
    size_t stray = fl_read_all(p->fd, rest, sizeof rest);
    if (write(p->report, &stray, sizeof stray) != sizeof stray)
        return 4;
    return 0;
}

// Run mp_answer_challenge n times against a peer that challenges as told.
// Returns the bytes the peer got that no round read: answers it never
// asked for.
static size_t
answer_rounds(const enum challenge_how *how, int n, int *ret, char *seen)
{
    int sv[2], p[2];
    load_key();
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    ck_assert(pipe(p) == 0);
    struct challenger c = {sv[1], p[1], sv[0], how, n};
    pid_t pid = fl_raw_start(challenger, &c);
    close(sv[1]);
    close(p[1]);
    for (int i = 0; i < n; i++)
        ret[i] = mp_answer_challenge(sv[0], tkey, tkeylen, WAIT_MS);
    close(sv[0]);
    fl_reap_code(pid);
    for (int i = 0; i < n; i++)
        if (read(p[0], &seen[i], 1) != 1)
            seen[i] = '-';
    size_t stray = 0;
    if (read(p[0], &stray, sizeof stray) != sizeof stray)
        stray = 0;
    close(p[0]);
    return stray;
}

FL_TEST(test_mp_answer_challenge_answers_python_3_12_and_3_11)
{
    static const enum challenge_how how[] = {C_SHA, C_LEGACY, C_MAX};
    static const char *what[] = {
        "Python 3.12's challenge (\"{sha256}\" and 40 bytes)",
        "Python 3.11's challenge (20 bytes, no prefix)",
        "a challenge of MP_AUTH_MSG_MAX bytes",
    };
    int ret[4];
    char seen[4];
    answer_rounds(how, 3, ret, seen);
    // Python 3.12's challenge again, both sides with a key of 1 byte: a
    // key may be as short as that, shorter than "{sha256}".
    ck_assert(mp_set_authkey("k", 1) == 0);
    answer_rounds(how, 1, &ret[3], &seen[3]);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(ret[i] == 0 && seen[i] == 'R',
                      "to %s mp_answer_challenge returned %s, and its "
                      "answer was %s; expected 0 and the right answer: %s "
                      "of every byte after MP_CHALLENGE",
                      what[i], fl_ret(ret[i]),
                      seen[i] == 'R'   ? "right"
                      : seen[i] == 'X' ? "wrong"
                                       : "missing",
                      i == 1 ? "the bare HMAC-MD5 (16 bytes)"
                             : "\"{sha256}\" and the HMAC-SHA256");
    ck_assert_msg(ret[3] == 0 && seen[3] == 'R',
                  "with a key of 1 byte, to Python 3.12's challenge "
                  "mp_answer_challenge returned %s, and its answer was %s; "
                  "expected 0 and the right answer. Whether the challenge "
                  "names its digest depends on the challenge's bytes "
                  "(clen and its prefix), never on the key's length",
                  fl_ret(ret[3]), seen[3] == 'R' ? "right" : "not right");
}

FL_TEST(test_mp_answer_challenge_believes_only_mp_welcome)
{
    static const enum challenge_how how[] = {C_FAILURE, C_BAD_WORD, C_CUT_WORD,
                                             C_CUT_FAIL, C_BYE_WORD};
    int ret[5];
    char seen[5];
    answer_rounds(how, 5, ret, seen);
    fl_expect_int(ret[0], -EACCES,
                  "mp_answer_challenge when the peer answered MP_FAILURE",
                  "the peer has another key: only the side that challenged "
                  "knows whether the answer was right, so read its verdict "
                  "before returning 0");
    fl_expect_int(ret[1], -EPROTO,
                  "mp_answer_challenge when the peer answered \"#WELCOME#!\"",
                  "the verdict is MP_WELCOME exactly, all of its bytes and "
                  "no more");
    fl_expect_int(ret[2], -EPROTO,
                  "mp_answer_challenge when the peer answered \"#WELCOME\" "
                  "(MP_WELCOME without its last byte)",
                  "compare the verdict's length with strlen(MP_WELCOME) "
                  "too: a memcmp of the n bytes received takes any prefix "
                  "of MP_WELCOME for it");
    fl_expect_int(ret[3], -EPROTO,
                  "mp_answer_challenge when the peer answered \"#FAILURE\" "
                  "(MP_FAILURE without its last byte)",
                  "only MP_FAILURE exactly is -EACCES: compare its length "
                  "and all its bytes, as for MP_WELCOME");
    fl_expect_int(ret[4], -EPROTO,
                  "mp_answer_challenge when the peer answered \"#GOODBYE#\" "
                  "(as long as MP_FAILURE)",
                  "only MP_FAILURE exactly is -EACCES: a word of its length "
                  "is not it unless its bytes are (memcmp them)");
}

FL_TEST(test_mp_answer_challenge_answers_no_malformed_challenge)
{
    static const enum challenge_how how[] = {C_NO_MAGIC, C_SHORT, C_UNKNOWN,
                                             C_HUGE};
    static const char *what[] = {
        "a challenge that does not begin with MP_CHALLENGE",
        "MP_CHALLENGE and 19 bytes (Python's least is 20)",
        "MP_CHALLENGE \"{sha999}\" and 40 bytes",
        "a frame of MP_AUTH_MSG_MAX + 1 bytes",
    };
    int ret[4];
    char seen[4];
    size_t stray = answer_rounds(how, 4, ret, seen);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(ret[i] == -EPROTO,
                      "to %s mp_answer_challenge returned %s, expected "
                      "-EPROTO, answering nothing%s",
                      what[i], fl_ret(ret[i]),
                      i == 3 ? ": check the length before reading the "
                               "body into a buffer of MP_AUTH_MSG_MAX"
                             : "");
    ck_assert_msg(stray == 0,
                  "mp_answer_challenge sent %zu bytes to the four malformed "
                  "challenges above, and returned -EPROTO only when it read "
                  "the next one as its verdict: a malformed challenge is "
                  "answered with nothing. MP_CHALLENGE and 19 bytes is "
                  "malformed even when they begin with \"{sha256}\": check "
                  "that at least 20 bytes follow MP_CHALLENGE before "
                  "answering",
                  stray);
    // A challenge cut short, then EOF: in its header, and in its body
    // after more than 20 bytes past MP_CHALLENGE (enough to answer, had
    // it been whole).  The peer's bytes are all in the socket before the
    // call, and its end is closed: no peer process, nothing to wait for.
    // And a challenge whose header announces 2^32 - 1 bytes: its top
    // bit set, the length decoded in size_t (an int shifted into its sign
    // bit is undefined behaviour, which the sanitizer pass reports).
    static const char *where[] = {"its header (2 bytes)",
                                  "its body (30 bytes after MP_CHALLENGE)", ""};
    for (int i = 0; i < 3; i++) {
        int sv[2];
        ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        unsigned char f[MP_FRAME_HEADER + HS_FRAME];
        size_t len = make_challenge(f + MP_FRAME_HEADER);
        fl_put_be32(f, i == 2 ? 0xffffffffu : (uint32_t)len);
        size_t cut = i == 0   ? 2
                     : i == 1 ? MP_FRAME_HEADER + CHLEN + 30
                              : MP_FRAME_HEADER + len;
        ck_assert(fl_write_full(sv[1], f, cut) == 0);
        close(sv[1]);
        int r = mp_answer_challenge(sv[0], tkey, tkeylen, WAIT_MS);
        close(sv[0]);
        ck_assert_msg(r == -EPROTO || i == 2,
                      "to a challenge cut short in %s, after which the peer "
                      "closed, mp_answer_challenge returned %s, expected "
                      "-EPROTO: a frame cut short is malformed (-EPIPE is "
                      "EOF before its first byte). Compare the bytes read "
                      "with the length wanted, the header's 4 and the "
                      "body's; never answer what came of a cut frame",
                      where[i], fl_ret(r));
        ck_assert_msg(r == -EPROTO,
                      "to a challenge whose header announces 2^32 - 1 "
                      "bytes, mp_answer_challenge returned %s, expected "
                      "-EPROTO: over MP_AUTH_MSG_MAX, refused unread. "
                      "Decode the length in size_t ((size_t)head[0] << 24 "
                      "| ...), not in an int, which that byte overflows",
                      fl_ret(r));
    }
}

// A peer slow to challenge, as the code's clock sees it: the challenge
// is in the socket before the call, and every read of CLOCK_MONOTONIC
// after the first (the deadline's) is LATE_MS later.  No verdict ever
// comes.  (A real delay, a child that waited, made the reference fail
// under a load of 23: its fork and its nap ran late.)
#define LATE_MS 950

FL_TEST(test_mp_answer_challenge_keeps_one_deadline_for_the_exchange)
{
    enum { TIMEOUT_MS = 1000 };
    int sv[2];
    load_key();
    ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    unsigned char c[HS_FRAME], a[HS_FRAME];
    size_t len = make_challenge(c);
    ck_assert(fl_frame_write(sv[1], c, len) == 0);
    fl_clock_mono_later_at(1, LATE_MS);
    long t0 = fl_now_ms();
    int r = mp_answer_challenge(sv[0], tkey, tkeylen, TIMEOUT_MS);
    long took = fl_now_ms() - t0;
    fl_fault_reset();
    close(sv[0]);
    ssize_t answered = hs_read(sv[1], a);
    close(sv[1]);
    ck_assert_msg(answered > 0, "the peer got no answer to its challenge");
    fl_expect_int(r, -ETIMEDOUT,
                  "mp_answer_challenge(timeout 1000 ms) when the challenge "
                  "came after 950 ms and no verdict ever came",
                  "nothing by the deadline is -ETIMEDOUT");
    ck_assert_msg(took < (TIMEOUT_MS - LATE_MS) * 10,
                  "the challenge came after %d ms (as your clock saw it), "
                  "the verdict never, and mp_answer_challenge(timeout %d "
                  "ms) waited %ld ms more for it, not the %d left: one "
                  "deadline for the whole exchange, computed once "
                  "(deadline_of), not a new timeout for the verdict",
                  LATE_MS, TIMEOUT_MS, took, TIMEOUT_MS - LATE_MS);
}

// Each read of the lesson's side of a handshake, in turn, gets 1 byte: a
// message comes in pieces, and read_by must ask for what is still
// missing, len - got bytes at buf + got, never len again.
FL_TEST(test_mp_handshake_reads_messages_that_come_in_pieces)
{
    mp_manager *m = start();
    load_key();
    fl_fault_reset();
    mp_proxy_close(proxy(m)); // count the reads of a handshake
    long reads = fl_fault_calls("read");
    for (int k = 1; k <= reads; k++) {
        int fd = raw_socket_at(manager_path(), 0);
        ck_assert_msg(fd >= 0, "could not connect: %s", strerror(errno));
        fl_fault_reset();
        fl_fault_short("read", k, 1);
        int r = mp_answer_challenge(fd, tkey, tkeylen, WAIT_MS);
        if (r == 0)
            r = mp_deliver_challenge(fd, tkey, tkeylen, WAIT_MS);
        fl_fault_reset();
        close(fd);
        char what[96];
        snprintf(what, sizeof what,
                 "the client's side of a handshake, its read %d getting 1 "
                 "byte",
                 k);
        fl_expect_int(r, 0, what,
                      "a read may return part of a message: read_by loops "
                      "for the len - got bytes still missing, into buf + "
                      "got (not len bytes again: that reads into the next "
                      "message, and past the buffer)");
    }
    stop(m);
}

/* ----------------------------------------- the manager authenticates */

// A client with another key: connect, and return what connect said.
static int
connect_with_other_key(void *arg)
{
    unsigned char k[MP_AUTHKEY_LEN];
    memset(k, 'k', sizeof k);
    if (mp_set_authkey(k, sizeof k) < 0)
        return 1;
    mp_proxy *p = NULL;
    int r = mp_manager_connect(arg, &p);
    mp_proxy_close(p);
    return r;
}

FL_TEST(test_mp_manager_refuses_a_client_with_another_key)
{
    mp_manager *m = start();
    fl_child other;
    fl_run_in_child(connect_with_other_key, (void *)manager_path(), WAIT_MS, 0,
                    &other);
    // A raw client with another key: what does the server send it?
    load_key();
    tkey[0] ^= 0xff;
    int fd = raw_socket_at(manager_path(), 0);
    ck_assert(fd >= 0);
    int r = hs_answer(fd, tkey, tkeylen);
    // Refused, it goes on as if it had not been: it challenges the server,
    // welcomes whatever comes back, and sends a request.
    unsigned char c[HS_FRAME], buf[HS_FRAME];
    size_t len = make_challenge(c);
    fl_frame_write(fd, c, len);
    hs_read(fd, buf);
    fl_frame_write(fd, MP_WELCOME, strlen(MP_WELCOME));
    unsigned char req[MP_FRAME_HEADER + 1] = {0, 0, 0, 1, MP_OP_DICT_LEN};
    raw_send(fd, req, sizeof req);
    ssize_t after = hs_read(fd, buf);
    close(fd);
    mp_proxy *p = proxy(m); // the right key
    int n = mp_dict_len(p);
    mp_proxy_close(p);
    stop(m);
    ck_assert_msg(other.returned && other.value == -EACCES,
                  "a client whose key differs from the server's: "
                  "mp_manager_connect %s, expected -EACCES. The server "
                  "must send MP_FAILURE and close; the client, reading "
                  "MP_FAILURE, returns -EACCES",
                  how_within(&other, WAIT_MS));
    ck_assert_msg(r < 0 && after <= 0,
                  "a raw client with another key was %s, then went on: it "
                  "challenged the server, sent MP_WELCOME itself, and a "
                  "request, which was %s; expected MP_FAILURE and the "
                  "connection closed, its request unread. The server's "
                  "verdict on the client's answer decides, whatever the "
                  "client sends afterwards",
                  r < 0 ? "refused" : "welcomed",
                  after > 0 ? "answered" : "not answered");
    fl_expect_int(n, 0, "a right client's mp_dict_len after those",
                  "a refused client must not stop the server");
}

FL_TEST(test_mp_manager_reads_no_request_before_the_handshake)
{
    mp_manager *m = start();
    pid_t pid = server_of(m);
    int fd = raw_socket_at(manager_path(), 0);
    ck_assert(fd >= 0);
    // Requests at once, with no answer to the challenge: a set of "x",
    // then a shutdown, in one write (the server may close at the first).
    unsigned char set[] = {0,      0, 0,      0, MP_OP_DICT_SET,
                           MP_STR, 0, 0,      0, 1,
                           'x',    0, MP_INT, 0, 0,
                           0,      0, 0,      0, 0,
                           1};
    fl_put_be32(set, sizeof set - MP_FRAME_HEADER);
    unsigned char both[sizeof set + 5];
    memcpy(both, set, sizeof set);
    memcpy(both + sizeof set, (unsigned char[]){0, 0, 0, 1, MP_OP_SHUTDOWN}, 5);
    ck_assert(raw_send(fd, both, sizeof both) == 0); // in one write
    unsigned char f[3][HS_FRAME];
    ssize_t n[3];
    for (int i = 0; i < 2; i++)
        n[i] = hs_read(fd, f[i]);
    // Then the end: EOF (or a reset, the shutdown request being unread).
    n[2] = fl_readable_within(fd, WAIT_MS) ? hs_read(fd, f[2]) : 1;
    close(fd);
    int alive = fl_alive(pid);
    mp_proxy *p = NULL;
    int len = alive ? mp_manager_connect(manager_path(), &p) : -ESRCH;
    if (len == 0)
        len = mp_dict_len(p);
    mp_proxy_close(p);
    mp_manager_shutdown(m, NULL);
    ck_assert_msg(n[0] > (ssize_t)CHLEN &&
                      memcmp(f[0], MP_CHALLENGE, CHLEN) == 0,
                  "a new client's first frame from the server was not a "
                  "challenge: the server must challenge every client "
                  "before it reads a request");
    ck_assert_msg(is_word(f[1], n[1], MP_FAILURE) && n[2] <= 0,
                  "a client that sent a request where its answer was due "
                  "got %s, then %s; expected MP_FAILURE, then EOF: a "
                  "client that fails the handshake is closed",
                  is_word(f[1], n[1], MP_FAILURE) ? "MP_FAILURE"
                  : n[1] > 0                      ? "another frame"
                                                  : "nothing",
                  n[2] <= 0 ? "the end" : "no end");
    ck_assert_msg(alive && len == 0,
                  "after that client's set and shutdown, the server was "
                  "%s and len(d) was %s; expected alive and 0: nothing a "
                  "client sends before the handshake is read as a request",
                  alive ? "alive" : "gone", fl_ret(len));
}

// Connect and ask len(d): 0 if both worked.
static int
connect_and_len(void *arg)
{
    mp_proxy *p = NULL;
    int r = mp_manager_connect(arg, &p);
    if (r == 0)
        r = mp_dict_len(p) < 0 ? -EPIPE : 0;
    mp_proxy_close(p);
    return r;
}

FL_TEST(test_mp_manager_serves_others_while_a_client_never_answers)
{
    mp_manager *m = start();
    int silent = raw_socket_at(manager_path(), 0); // queued first
    ck_assert(silent >= 0);
    fl_child other;
    long t0 = fl_now_ms();
    fl_run_in_child(connect_and_len, (void *)manager_path(), WAIT_MS, 0,
                    &other);
    long took = fl_now_ms() - t0;
    unsigned char c[HS_FRAME];
    ssize_t first = hs_read(silent, c);
    // (Once the other client failed, the server is stuck: skip the wait.)
    ssize_t then = other.returned && other.value == 0 ? hs_read(silent, c) : 1;
    close(silent);
    // A client that answers, is welcomed, and never sends its challenge:
    // the server's second half has a deadline too.
    load_key();
    int quiet = raw_socket_at(manager_path(), 0);
    ck_assert(quiet >= 0);
    int welcomed = hs_answer(quiet, tkey, tkeylen) == 0;
    char byte;
    int closed = welcomed &&
                 fl_readable_within(quiet, 2 * MP_AUTH_TIMEOUT_MS) &&
                 read(quiet, &byte, 1) <= 0;
    close(quiet); // (so that a server stuck on it can stop)
    stop(m);
    // The silent client holds the other MP_AUTH_TIMEOUT_MS, and no longer:
    // 3 times that leaves room for a loaded machine, not for the 2 s of
    // MP_MANAGER_GRACE_MS.
    ck_assert_msg(other.returned && other.value == 0 &&
                      took < 3 * MP_AUTH_TIMEOUT_MS,
                  "one client connected and never answered the challenge; "
                  "then another client's connect and mp_dict_len %s "
                  "(after %ld ms), expected 0 within MP_AUTH_TIMEOUT_MS "
                  "(%d ms) or so. The server waits for an answer with a "
                  "deadline, MP_AUTH_TIMEOUT_MS (not another constant), "
                  "never for ever",
                  how_within(&other, WAIT_MS), took, MP_AUTH_TIMEOUT_MS);
    ck_assert_msg(first > 0 && then <= 0,
                  "the client that never answered got %s then %s; expected "
                  "its challenge, then the connection closed",
                  first > 0 ? "a challenge" : "nothing",
                  then > 0 ? "another frame" : "EOF");
    ck_assert_msg(welcomed && closed,
                  "a client that answered the server's challenge %s and "
                  "then never sent its own was %s after %d ms; expected "
                  "the connection closed after MP_AUTH_TIMEOUT_MS (%d ms): "
                  "the server's mp_answer_challenge in admit() has its "
                  "deadline too, never -1",
                  welcomed ? "rightly" : "(not welcomed)",
                  closed ? "closed" : "still connected", 2 * MP_AUTH_TIMEOUT_MS,
                  MP_AUTH_TIMEOUT_MS);
}

// A fake server with another key: it welcomes any answer (it cannot tell)
// and answers the client's challenge with its own key.
static int
impostor(void *arg)
{
    int lfd = *(int *)arg;
    unsigned char c[HS_FRAME], a[HS_FRAME];
    if (!fl_readable_within(lfd, WAIT_MS))
        return 1;
    int fd = accept(lfd, NULL, NULL);
    size_t len = make_challenge(c);
    if (fd < 0 || fl_frame_write(fd, c, len) < 0 || hs_read(fd, a) <= 0 ||
        fl_frame_write(fd, MP_WELCOME, strlen(MP_WELCOME)) < 0)
        return 2;
    tkey[0] ^= 0xff;
    hs_answer(fd, tkey, tkeylen); // refused, if the client checks
    close(fd);
    return 0;
}

FL_TEST(test_mp_manager_connect_refuses_a_server_with_another_key)
{
    char path[108];
    int lfd = listen_as_fake(path);
    pid_t pid = fl_raw_start(impostor, &lfd);
    close(lfd);
    fl_child res;
    fl_run_in_child(connect_and_len, path, WAIT_MS, 0, &res);
    kill(pid, SIGKILL);
    fl_reap(pid);
    unlink(path);
    ck_assert_msg(res.returned && res.value == -EACCES,
                  "a server that welcomed the client's answer but could "
                  "not answer the client's challenge (another key): "
                  "mp_manager_connect %s, expected -EACCES. The handshake "
                  "is mutual: after answering, the client challenges the "
                  "server (mp_deliver_challenge), or whoever listens at "
                  "the address gets its requests",
                  how_within(&res, WAIT_MS));
}

// A child forked before its parent made a key: once told (a byte on the
// pipe go), it connects with a key of its own.  Minus what connect said.
static int
connect_when_told(void *arg)
{
    int *go = arg;
    char c;
    close(go[1]);
    if (fl_read_full(go[0], &c, 1, WAIT_MS) != 1)
        return 1;
    mp_proxy *p = NULL;
    int r = mp_manager_connect(manager_path(), &p);
    mp_proxy_close(p);
    return -r;
}

// mp_manager_shutdown in a thread, so that the test can watch the server.
struct stopping {
    mp_manager *m;
    int r, code;
};

static void *
shutdown_in_thread(void *arg)
{
    struct stopping *s = arg;
    s->r = mp_manager_shutdown(s->m, &s->code);
    return NULL;
}

FL_TEST(test_mp_manager_authenticates_with_the_key_it_was_started_with)
{
    int go[2];
    ck_assert(pipe(go) == 0);
    pid_t kid = fl_raw_start(connect_when_told, go); // no key made yet
    close(go[0]);
    unsigned char k[MP_AUTHKEY_MAX];
    for (size_t i = 0; i < sizeof k; i++)
        k[i] = (unsigned char)(i * 13 + 1);
    OK(mp_set_authkey(k, sizeof k)); // the longest key
    mp_manager *m = start();
    pid_t pid = server_of(m);
    mp_proxy *p = NULL;
    int len = mp_manager_connect(manager_path(), &p);
    if (len == 0)
        len = mp_dict_len(p);
    mp_proxy_close(p);
    int sent = write(go[1], "g", 1) == 1;
    close(go[1]);
    int other = sent ? reap_within(kid, WAIT_MS) : -1;
    // Another key now: shutdown still uses the manager's.  Watched for a
    // second at most: a server that is not asked to stop is killed then.
    OK(mp_set_authkey(k, 1));
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    ck_assert(pfd >= 0);
    struct stopping s = {m, -1000, -1000};
    pthread_t t;
    ck_assert(pthread_create(&t, NULL, shutdown_in_thread, &s) == 0);
    int ended = fl_readable_within(pfd, 1000);
    if (!ended)
        kill(pid, SIGKILL);
    pthread_join(t, NULL);
    close(pfd);
    ck_assert_msg(len == 0,
                  "with a key of MP_AUTHKEY_MAX bytes set before "
                  "mp_manager_start, mp_manager_connect and mp_dict_len "
                  "returned %s; expected 0. Keys have 1 to MP_AUTHKEY_MAX "
                  "bytes (<=, not <), and every side uses the key's own "
                  "length, authkey_len, not MP_AUTHKEY_LEN",
                  fl_ret(len));
    ck_assert_msg(other == EACCES,
                  "a process forked before its parent made a key, so with "
                  "a key of its own, connected to its parent's manager: "
                  "mp_manager_connect ended with status %d, expected %d "
                  "(-EACCES: refused). mp_manager_connect makes the "
                  "process's key first (make_authkey), as mp_get_authkey "
                  "does",
                  other, EACCES);
    ck_assert_msg(s.r == 0 && s.code == 0 && ended,
                  "after the caller set another key, mp_manager_shutdown "
                  "returned %s with exit code %d, the server %s; expected "
                  "0, 0, at once. Shutdown authenticates with the key the "
                  "manager was started with, kept in the handle with its "
                  "length (authkey_len), not with the process's key now",
                  fl_ret(s.r), s.code,
                  ended ? "ended" : "still running a second later");
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
    FL_CASE(test_mp_manager_reports_a_server_out_of_memory, 10),
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
    FL_CASE(test_mp_manager_shutdown_kills_the_server_when_it_has_no_pidfd, 10),
    FL_CASE(test_mp_manager_shutdown_reaps_only_the_server, 10),
    FL_CASE(test_mp_manager_shutdown_from_another_process_gives_echild, 10),
    FL_CASE(test_mp_manager_shutdown_gives_up_a_server_that_never_answers, 10),
    FL_CASE(test_mp_manager_start_leaks_nothing_when_a_step_fails, 10),
    FL_CASE(test_mp_manager_start_reaps_a_failed_server_despite_eintr, 10),
    FL_CASE(test_mp_manager_shutdown_reaps_the_server_despite_eintr, 10),
    FL_CASE(test_mp_manager_connect_leaks_nothing_when_a_step_fails, 10),
    FL_CASE(test_mp_manager_works_with_stdin_closed, 10),
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
    FL_CASE(test_mp_manager_shutdown_gives_the_server_its_whole_grace_period,
            10),
    FL_CASE(test_mp_manager_server_sleeps_while_no_client_asks, 10),
    FL_CASE(test_mp_manager_server_keeps_serving_after_a_signal, 10),
    FL_CASE(test_mp_dict_get_refuses_a_reply_that_is_not_one_value, 10),
    FL_CASE(test_mp_set_authkey_takes_1_to_mp_authkey_max_bytes, 10),
    FL_CASE(test_mp_get_authkey_is_random_and_inherited_by_children, 10),
    FL_CASE(test_mp_deliver_challenge_welcomes_the_right_answer, 10),
    FL_CASE(test_mp_deliver_challenge_differs_in_every_process, 10),
    FL_CASE(test_mp_deliver_challenge_refuses_a_wrong_answer_with_failure, 10),
    FL_CASE(test_mp_deliver_challenge_refuses_answers_of_the_wrong_size, 10),
    FL_CASE(test_mp_deliver_challenge_keeps_its_deadline_under_signals, 10),
    FL_CASE(test_mp_deliver_challenge_retries_reads_a_signal_interrupted, 10),
    FL_CASE(test_mp_deliver_challenge_gives_epipe_when_the_peer_resets, 10),
    FL_CASE(test_mp_deliver_and_answer_challenge_refuse_bad_arguments, 10),
    FL_CASE(test_mp_answer_challenge_answers_python_3_12_and_3_11, 10),
    FL_CASE(test_mp_answer_challenge_believes_only_mp_welcome, 10),
    FL_CASE(test_mp_answer_challenge_answers_no_malformed_challenge, 10),
    FL_CASE(test_mp_answer_challenge_keeps_one_deadline_for_the_exchange, 10),
    FL_CASE(test_mp_handshake_reads_messages_that_come_in_pieces, 10),
    FL_CASE(test_mp_manager_refuses_a_client_with_another_key, 10),
    FL_CASE(test_mp_manager_reads_no_request_before_the_handshake, 10),
    FL_CASE(test_mp_manager_serves_others_while_a_client_never_answers, 10),
    FL_CASE(test_mp_manager_connect_refuses_a_server_with_another_key, 10),
    FL_CASE(test_mp_manager_authenticates_with_the_key_it_was_started_with, 10),
};

FL_MAIN("11_managers", cases)
