// check_pipes.c - tests for lesson 04: mp_pipe and the Connection calls.
//
// Where a test can judge one function alone, the other side of the pipe is
// raw test code: frames are written and read with plain write() and read()
// on mp_conn_fileno(), and children are started with the raw fork.  Every
// wait has a bound: a mistake that would block for ever (EOF that never
// comes) is shown with a poll that times out, or in a child that is killed.
#define _GNU_SOURCE
#include "pipes.h"
#include "harness.h"
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEED "Hello from the sender process!"
#define WORKER "Hello from worker"
#define MIB (1 << 20)

/* ------------------------------------------------------------- helpers */

// mp_pipe, failing the test unless it made both ends.
static void
pair(int duplex, mp_conn **a, mp_conn **b)
{
    *a = *b = NULL;
    int r = mp_pipe(duplex, a, b);
    ck_assert_msg(r == 0 && *a != NULL && *b != NULL,
                  "mp_pipe(%d, &a, &b) returned %s%s, expected 0 with both "
                  "ends set",
                  duplex, fl_ret(r), r == 0 ? " but left an end NULL" : "");
}

// The descriptor under an end, failing the test if there is none.
static int
fd_of(mp_conn *c)
{
    int fd = mp_conn_fileno(c);
    ck_assert_msg(fd >= 0,
                  "mp_conn_fileno returned %s, expected the end's "
                  "descriptor: the tests write raw frames through it",
                  fl_ret(fd));
    return fd;
}

// The raw frames of stress.h are this lesson's.
_Static_assert(FL_FRAME_HEADER == MP_FRAME_HEADER, "frame headers differ");

// stress.h's raw writes, by the names that a failed ck_assert prints
// ("Assertion 'raw_write(fd_of(b), h, sizeof h) == 0' failed").
static int
raw_write(int fd, const void *buf, size_t len)
{
    return fl_write_full(fd, buf, len);
}

static int
raw_frame(int fd, const void *msg, size_t len)
{
    return fl_frame_write(fd, msg, len);
}

// A reproducible pattern that repeats neither every 256 bytes nor ever.
static void
fill(unsigned char *p, size_t len, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1u;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (unsigned char)(x >> 16);
    }
}

// Index of the first byte where a and b differ, or -1.
static long
first_diff(const unsigned char *a, const unsigned char *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i])
            return (long)i;
    return -1;
}

static unsigned char *
xmalloc(size_t len)
{
    unsigned char *p = malloc(len);
    ck_assert_msg(p != NULL, "malloc(%zu) failed", len);
    return p;
}

// In a raw child: close this process's copy of an end it does not use.
static void
child_close(mp_conn *c)
{
    int fd = mp_conn_fileno(c);
    if (fd >= 0)
        close(fd);
}

static void
stop(pid_t pid)
{
    kill(pid, SIGKILL);
    fl_reap_code(pid);
}

// Whether fd has an event for a reader right now (data or EOF).
static int
readable_now(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

// In a child of a ticking test: wait for n ticks (at least n ms).
static void
wait_ticks(int n)
{
    char c;
    for (int got = 0; got < n;) {
        ssize_t r = read(fl_ticks_fd(), &c, 1);
        if (r == 0)
            return; // the clock was stopped: the test is over
        got += r == 1;
    }
}

#define EINTR_HINT                                                             \
    "a signal handler ran (this test keeps a timer ticking, without "          \
    "SA_RESTART) and a system call failed with EINTR: call it again"

/* -------------------------------------------------------------- mp_pipe */

// The raw child of the seed test: the sender, then the worker.
static int
seed_child(void *arg)
{
    mp_conn **ends = arg;
    char buf[64] = "";
    child_close(ends[0]); // the parent's end
    if (mp_send_bytes(ends[1], SEED, strlen(SEED)) != 0)
        return 1;
    ssize_t n = mp_recv_bytes(ends[1], buf, sizeof buf - 1);
    if (n != 4 || memcmp(buf, "ping", 4) != 0)
        return 2;
    return mp_send_bytes(ends[1], WORKER, strlen(WORKER)) == 0 ? 0 : 3;
}

FL_TEST(test_mp_pipe_duplex_carries_the_classic_messages_both_ways)
{
    mp_conn *ends[2];
    pair(1, &ends[0], &ends[1]);
    pid_t pid = fl_raw_start(seed_child, ends);
    mp_conn_close(ends[1]); // the child's end: a child that fails gives EOF
    char seed[64] = "", reply[64] = "";
    ssize_t n1 = mp_recv_bytes(ends[0], seed, sizeof seed - 1);
    int sent = mp_send_bytes(ends[0], "ping", 4);
    ssize_t n2 =
        sent == 0 ? mp_recv_bytes(ends[0], reply, sizeof reply - 1) : -1;
    mp_conn_close(ends[0]);
    int st = fl_reap_code(pid);
    ck_assert_msg(n1 == (ssize_t)strlen(SEED) && strcmp(seed, SEED) == 0,
                  "the child sent \"%s\"; the parent's mp_recv_bytes "
                  "returned %s with \"%s\"",
                  SEED, fl_ret(n1), seed);
    ck_assert_msg(sent == 0 && st == 0,
                  "the parent sent \"ping\" back (mp_send_bytes returned "
                  "%s); the child %s. Both ends of a duplex pipe (a "
                  "socketpair) send and receive.",
                  fl_ret(sent),
                  st == 2   ? "did not receive it whole"
                  : st == 3 ? "could not reply"
                  : st == 0 ? "was fine"
                            : "failed");
    ck_assert_msg(n2 == (ssize_t)strlen(WORKER) && strcmp(reply, WORKER) == 0,
                  "the child replied \"%s\"; the parent received %s: \"%s\"",
                  WORKER, fl_ret(n2), reply);
}

FL_TEST(test_mp_pipe_one_way_carries_messages_from_b_to_a)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    char buf[64] = "";
    int sent = mp_send_bytes(b, SEED, strlen(SEED));
    ssize_t n = sent == 0 ? mp_recv_bytes(a, buf, sizeof buf - 1) : -1;
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(sent == 0,
                  "mp_send_bytes on b of a one-way pipe returned %s, "
                  "expected 0. As in Python's Pipe(False), a receives and b "
                  "sends: pipe() gives fds[0] to read (a), fds[1] to write "
                  "(b).",
                  fl_ret(sent));
    ck_assert_msg(n == (ssize_t)strlen(SEED) && strcmp(buf, SEED) == 0,
                  "sent \"%s\" on b; mp_recv_bytes on a returned %s: \"%s\"",
                  SEED, fl_ret(n), buf);
}

FL_TEST(test_mp_pipe_one_way_refuses_the_wrong_direction)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    char buf[8];
    sigset_t before, after;
    sigprocmask(SIG_BLOCK, NULL, &before);
    int sent = mp_send_bytes(a, "x", 1);
    sigprocmask(SIG_SETMASK, &before, &after);
    ssize_t got = mp_recv_bytes(b, buf, sizeof buf);
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(sent == -EBADF && got == -EBADF,
                  "on a one-way pipe, mp_send_bytes(a) returned %s and "
                  "mp_recv_bytes(b) returned %s; expected -EBADF for both. "
                  "Pipe(False) is one-way: use pipe(), whose ends cannot "
                  "be used the wrong way, not a socketpair.",
                  fl_ret(sent), fl_ret(got));
    ck_assert_msg(!sigismember(&after, SIGPIPE),
                  "mp_send_bytes failed with EBADF and left SIGPIPE blocked "
                  "in the caller's mask, which was not blocked before: "
                  "restore the old mask whatever the write gave, not only "
                  "after EPIPE.");
}

FL_TEST(test_mp_pipe_rejects_null_pointers)
{
    mp_conn *a = NULL, *b = NULL;
    int r1 = mp_pipe(1, NULL, &b);
    int r2 = mp_pipe(0, &a, NULL);
    ck_assert_msg(r1 == -EINVAL && r2 == -EINVAL,
                  "mp_pipe(1, NULL, &b) returned %s and mp_pipe(0, &a, NULL) "
                  "%s; expected -EINVAL for both, before anything is made",
                  fl_ret(r1), fl_ret(r2));
}

// In a child: mp_pipe with no descriptor left.  0 if both kinds fail
// with -EMFILE and leave the ends untouched; else what went wrong.
static int
pipe_without_fds(void *arg)
{
    (void)arg;
    int lowest = open("/dev/null", O_RDONLY); // the lowest free number
    close(lowest);
    struct rlimit lim, old;
    getrlimit(RLIMIT_NOFILE, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)lowest; // every number below it is in use
    setrlimit(RLIMIT_NOFILE, &lim);
    mp_conn *a = NULL, *b = NULL;
    int r1 = mp_pipe(0, &a, &b);
    int r2 = mp_pipe(1, &a, &b);
    setrlimit(RLIMIT_NOFILE, &old);
    if (r1 != -EMFILE)
        return r1;
    if (r2 != -EMFILE)
        return r2;
    return a == NULL && b == NULL ? 0 : 1;
}

FL_TEST(test_mp_pipe_gives_emfile_when_out_of_descriptors)
{
    fl_child res;
    fl_run_in_child(pipe_without_fds, NULL, 3000, 0, &res);
    ck_assert_msg(res.returned,
                  "mp_pipe, out of descriptors, ended the process (%s)",
                  res.exited ? "it exited" : fl_signame(res.status));
    ck_assert_msg(res.value != 1,
                  "mp_pipe failed but set *a or *b: set them only once "
                  "both ends are made");
    fl_expect_int(res.value, 0,
                  "mp_pipe with no descriptor left (RLIMIT_NOFILE)",
                  "when pipe() or socketpair() fails, free what was "
                  "allocated (one fail: label) and return -errno, here "
                  "-EMFILE");
}

/* ------------------------------------------------ framing: send, recv */

FL_TEST(test_mp_send_bytes_frames_each_message_with_its_length)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    int r1 = mp_send_bytes(b, "Hello", 5);
    int r2 = mp_send_bytes(b, "pipe", 4);
    unsigned char got[64] = {0};
    int fd = fd_of(a);
    ssize_t n = readable_now(fd) ? read(fd, got, sizeof got) : 0;
    mp_conn_close(a);
    mp_conn_close(b);
    static const unsigned char want[] = {0, 0, 0, 5, 'H', 'e', 'l', 'l', 'o',
                                         0, 0, 0, 4, 'p', 'i', 'p', 'e'};
    ck_assert_msg(r1 == 0 && r2 == 0, "mp_send_bytes returned %s and %s",
                  fl_ret(r1), fl_ret(r2));
    ck_assert_msg(n == (ssize_t)sizeof want && memcmp(got, want, n) == 0,
                  "sent \"Hello\" then \"pipe\"; the pipe held %zd bytes "
                  "(expected 17: each message after a 4-byte big-endian "
                  "length, 00 00 00 05 Hello 00 00 00 04 pipe). Without a "
                  "length the reader cannot tell where a message ends: a "
                  "pipe is a stream of bytes.",
                  n);
    // Every byte of the header counts: a length of 0x01020304 bytes (16
    // MiB of zero pages, never touched).  The sending end does not block:
    // the send stops (EAGAIN) once the pipe is full, the header in front.
    size_t big = 0x01020304;
    void *zeros = mmap(NULL, big, PROT_READ,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ck_assert_msg(zeros != MAP_FAILED, "mmap failed");
    pair(0, &a, &b);
    fcntl(fd_of(b), F_SETFL, O_NONBLOCK);
    int r3 = mp_send_bytes(b, zeros, big);
    unsigned char head[MP_FRAME_HEADER] = {0};
    n = read(fd_of(a), head, sizeof head);
    munmap(zeros, big);
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(n == (ssize_t)sizeof head && head[0] == 1 && head[1] == 2 &&
                      head[2] == 3 && head[3] == 4,
                  "a message of 0x01020304 bytes (sent to a full pipe, "
                  "%s) began with the header %02x %02x %02x %02x; expected "
                  "01 02 03 04, the length most significant byte first: "
                  "len >> 24, len >> 16, len >> 8, len, each cut to a byte",
                  fl_ret(r3), head[0], head[1], head[2], head[3]);
}

FL_TEST(test_mp_recv_bytes_keeps_message_boundaries)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    static const char *msgs[] = {"one", "two", SEED};
    unsigned char wire[128];
    size_t at = 0;
    for (int i = 0; i < 3; i++) { // three frames in ONE raw write
        fl_put_be32(wire + at, (uint32_t)strlen(msgs[i]));
        memcpy(wire + at + MP_FRAME_HEADER, msgs[i], strlen(msgs[i]));
        at += MP_FRAME_HEADER + strlen(msgs[i]);
    }
    ck_assert(raw_write(fd_of(b), wire, at) == 0);
    mp_conn_close(b); // all three are in the pipe
    char got[3][64] = {""};
    ssize_t n[3];
    for (int i = 0; i < 3; i++)
        n[i] = mp_recv_bytes(a, got[i], sizeof got[i] - 1);
    mp_conn_close(a);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(n[i] == (ssize_t)strlen(msgs[i]) &&
                          strcmp(got[i], msgs[i]) == 0,
                      "three framed messages arrived in one burst; call %d "
                      "of mp_recv_bytes returned %s \"%s\", expected \"%s\". "
                      "Read the 4-byte header, then exactly that many bytes.",
                      i + 1, fl_ret(n[i]), got[i], msgs[i]);
}

FL_TEST(test_mp_recv_bytes_takes_a_message_that_fills_the_buffer)
{
    // Limits at cap - 1 and cap: both fit (cap + 1 is the test of skip).
    mp_conn *a, *b;
    pair(0, &a, &b);
    char buf[8];
    ssize_t n[2];
    for (int i = 0; i < 2; i++) {
        size_t len = sizeof buf - 1 + (size_t)i;
        ck_assert(fl_frame_write(fd_of(b), "abcdefgh", len) == 0);
        n[i] = mp_recv_bytes(a, buf, sizeof buf);
    }
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(
        n[0] == (ssize_t)sizeof buf - 1 && n[1] == (ssize_t)sizeof buf,
        "with a buffer of %zu bytes, a message of %zu bytes gave "
        "%s and one of %zu bytes gave %s; expected their lengths. "
        "A message fits when len <= cap: only len > cap is "
        "-EMSGSIZE.",
        sizeof buf, sizeof buf - 1, fl_ret(n[0]), sizeof buf, fl_ret(n[1]));
}

// Raw writer of one 1 MiB frame, in odd-sized pieces, then "end".
static int
big_frame_writer(void *arg)
{
    mp_conn **ends = arg;
    int fd = mp_conn_fileno(ends[1]);
    child_close(ends[0]);
    unsigned char *msg = xmalloc(MIB), h[MP_FRAME_HEADER];
    fill(msg, MIB, 1);
    fl_put_be32(h, MIB);
    if (raw_write(fd, h, sizeof h) < 0)
        return 1;
    for (size_t at = 0; at < MIB; at += 7777)
        if (raw_write(fd, msg + at, MIB - at < 7777 ? MIB - at : 7777) < 0)
            return 1;
    return raw_frame(fd, "end", 3) < 0;
}

FL_TEST(test_mp_recv_bytes_reads_a_1_mib_message_whole)
{
    mp_conn *ends[2];
    pair(0, &ends[0], &ends[1]);
    fd_of(ends[1]);
    pid_t pid = fl_raw_start(big_frame_writer, ends);
    mp_conn_close(ends[1]);
    unsigned char *got = xmalloc(MIB + 16), *want = xmalloc(MIB);
    fill(want, MIB, 1);
    memset(got, 0, MIB + 16);
    ssize_t n = mp_recv_bytes(ends[0], got, MIB + 16);
    long bad = n == MIB ? first_diff(got, want, MIB) : -1;
    char end[8] = "";
    ssize_t n2 = n == MIB ? mp_recv_bytes(ends[0], end, sizeof end - 1) : 0;
    mp_conn_close(ends[0]);
    fl_reap_code(pid);
    ck_assert_msg(n == MIB,
                  "a 1 MiB message came through a pipe that holds 64 KiB; "
                  "mp_recv_bytes returned %s, expected %d. One read() "
                  "returns what the pipe holds: loop until every byte is in.",
                  fl_ret(n), MIB);
    ck_assert_msg(bad < 0,
                  "the 1 MiB message differs from what was sent at byte %ld: "
                  "each read must go on where the last one stopped",
                  bad);
    ck_assert_msg(n2 == 3 && strcmp(end, "end") == 0,
                  "after the 1 MiB message, the next one (\"end\") came as "
                  "%s \"%s\": the big message was not read to its end",
                  fl_ret(n2), end);
}

// Raw reader of one frame of want_len bytes, in small pieces.  0: whole;
// 1: bad header; 2: cut short (EOF); 3: wrong bytes.
static int
check_frame(int fd, size_t want_len, unsigned seed)
{
    unsigned char h[MP_FRAME_HEADER], want_h[MP_FRAME_HEADER];
    fl_put_be32(want_h, (uint32_t)want_len);
    if (fl_read_full(fd, h, sizeof h, -1) != sizeof h ||
        memcmp(h, want_h, 4) != 0)
        return 1;
    unsigned char *got = xmalloc(want_len), *want = xmalloc(want_len);
    fill(want, want_len, seed);
    for (size_t at = 0; at < want_len;) {
        size_t chunk = want_len - at < 1000 ? want_len - at : 1000;
        ssize_t n = fl_read_full(fd, got + at, chunk, -1);
        if (n < (ssize_t)chunk)
            return 2;
        at += chunk;
    }
    return memcmp(got, want, want_len) == 0 ? 0 : 3;
}

static const char *
frame_problem(int st)
{
    switch (st) {
    case 0:
        return "it arrived whole";
    case 1:
        return "its header was not 4 bytes of length, big-endian";
    case 2:
        return "the frame was cut short: the sender stopped before the end";
    case 3:
        return "its bytes differ from what was sent";
    default:
        return "the reader failed";
    }
}

// Read one 1 MiB frame once the sender (the test) sleeps: it has filled
// the pipe or socket and waits for room, or it gave up and waits for us.
static int
big_frame_reader(void *arg)
{
    mp_conn **ends = arg;
    child_close(ends[1]);
    while (fl_proc_state(getppid()) != 'S')
        sched_yield();
    return check_frame(mp_conn_fileno(ends[0]), MIB, 2);
}

FL_TEST(test_mp_send_bytes_writes_a_1_mib_message_whole)
{
    unsigned char *msg = xmalloc(MIB);
    fill(msg, MIB, 2);
    for (int duplex = 0; duplex < 2; duplex++) {
        mp_conn *ends[2];
        pair(duplex, &ends[0], &ends[1]);
        fd_of(ends[0]);
        pid_t pid = fl_raw_start(big_frame_reader, ends);
        mp_conn_close(ends[0]); // a reader that gives up gives EPIPE
        int r = mp_send_bytes(ends[1], msg, MIB);
        mp_conn_close(ends[1]);
        int st = fl_reap_code(pid);
        ck_assert_msg(r == 0 && st == 0,
                      "mp_send_bytes of 1 MiB through a %s returned %s, "
                      "and for the reader in another process %s. Write the "
                      "header and the message in one writev, and loop until "
                      "every byte has gone%s.",
                      duplex ? "socketpair" : "64 KiB pipe", fl_ret(r),
                      frame_problem(st),
                      r == -EAGAIN ? ": a send that waits for room in a "
                                     "full socket (no MSG_DONTWAIT)"
                                   : "");
    }
    free(msg);
}

/* ---------------------------------------------------------- signals */

#define SLOW_LEN 200000

// Raw writer of one frame in three parts, ticks apart.
static int
slow_writer(void *arg)
{
    mp_conn **ends = arg;
    int fd = mp_conn_fileno(ends[1]);
    child_close(ends[0]);
    close(fl_ticks_write_fd()); // so that the clock's EOF can reach us
    unsigned char *msg = xmalloc(SLOW_LEN), h[MP_FRAME_HEADER];
    fill(msg, SLOW_LEN, 3);
    fl_put_be32(h, SLOW_LEN);
    wait_ticks(10); // the reader waits for the header, interrupted
    if (raw_write(fd, h, sizeof h) < 0)
        return 1;
    wait_ticks(10);
    if (raw_write(fd, msg, SLOW_LEN / 2) < 0)
        return 1;
    wait_ticks(10); // the reader waits mid-message, interrupted
    return raw_write(fd, msg + SLOW_LEN / 2, SLOW_LEN - SLOW_LEN / 2) < 0;
}

FL_TEST(test_mp_recv_bytes_retries_when_a_signal_interrupts)
{
    mp_conn *ends[2];
    pair(0, &ends[0], &ends[1]);
    unsigned char *got = xmalloc(SLOW_LEN), *want = xmalloc(SLOW_LEN);
    fill(want, SLOW_LEN, 3);
    fd_of(ends[1]);
    fl_ticks_start();
    pid_t pid = fl_raw_start(slow_writer, ends);
    mp_conn_close(ends[1]);
    ssize_t n = mp_recv_bytes(ends[0], got, SLOW_LEN);
    fl_ticks_stop();
    mp_conn_close(ends[0]);
    fl_reap_code(pid);
    ck_assert_msg(n == SLOW_LEN && first_diff(got, want, SLOW_LEN) < 0,
                  "a message of %d bytes arrived in three parts while "
                  "signals kept coming; mp_recv_bytes returned %s%s. %s",
                  SLOW_LEN, fl_ret(n),
                  n == SLOW_LEN ? " with the wrong bytes" : "",
                  n == -EINTR ? EINTR_HINT
                              : "Loop on read() until the whole message "
                                "is in, and call it again after EINTR.");
}

// Raw reader of one 1 MiB frame that starts only once the writer is stuck.
static int
late_reader(void *arg)
{
    mp_conn **ends = arg;
    child_close(ends[1]);
    close(fl_ticks_write_fd());
    wait_ticks(10); // meanwhile the writer fills the pipe and is interrupted
    return check_frame(mp_conn_fileno(ends[0]), MIB, 4);
}

FL_TEST(test_mp_send_bytes_finishes_when_a_signal_interrupts)
{
    mp_conn *ends[2];
    pair(0, &ends[0], &ends[1]);
    unsigned char *msg = xmalloc(MIB);
    fill(msg, MIB, 4);
    fd_of(ends[0]);
    fl_ticks_start();
    pid_t pid = fl_raw_start(late_reader, ends);
    mp_conn_close(ends[0]); // a reader that gives up gives EPIPE
    int r = mp_send_bytes(ends[1], msg, MIB);
    fl_ticks_stop();
    mp_conn_close(ends[1]); // a short frame now ends in EOF for the reader
    int st = fl_reap_code(pid);
    ck_assert_msg(r == 0 && st == 0,
                  "mp_send_bytes of 1 MiB while signals kept coming returned "
                  "%s, and for the reader %s. %s",
                  fl_ret(r), frame_problem(st),
                  r == -EINTR ? EINTR_HINT
                              : "A signal that arrives while the pipe is "
                                "full cuts the write short: writev returns "
                                "how much went. Step over it and write the "
                                "rest, until every byte has gone.");
}

/* -------------------------------------------------- SIGPIPE and EPIPE */

// In a child: send on b, whose peer is closed, with SIGPIPE's default
// action (death) in force, as in a program that never touched it.
static int
send_to_closed_peer(void *arg)
{
    mp_conn *b = arg;
    signal(SIGPIPE, SIG_DFL); // the harness ignores it: undo that
    return mp_send_bytes(b, SEED, strlen(SEED));
}

static void
expect_epipe(int duplex)
{
    mp_conn *a, *b;
    pair(duplex, &a, &b);
    mp_conn_close(a); // before the fork: no copy of it is left anywhere
    fl_child res;
    fl_run_in_child(send_to_closed_peer, b, 3000, 0, &res);
    mp_conn_close(b);
    const char *how =
        duplex ? "send with sendmsg(..., MSG_NOSIGNAL)"
               : "block SIGPIPE around the write (pthread_sigmask), and "
                 "after EPIPE take the pending SIGPIPE with sigtimedwait "
                 "before restoring the mask";
    ck_assert_msg(res.exited || res.status != SIGPIPE,
                  "mp_send_bytes to a %s whose other end is closed killed "
                  "the process with SIGPIPE; expected -EPIPE. To survive "
                  "without changing SIGPIPE's disposition, %s.",
                  duplex ? "socketpair" : "pipe", how);
    ck_assert_msg(res.returned && res.value == -EPIPE,
                  "mp_send_bytes to a %s whose other end is closed: "
                  "expected -EPIPE, got %s",
                  duplex ? "socketpair" : "pipe",
                  res.returned ? fl_ret(res.value)
                  : res.exited ? "an exit"
                               : fl_signame(res.status));
}

FL_TEST(test_mp_send_bytes_gives_epipe_when_the_reader_has_closed)
{
    expect_epipe(0);
}

FL_TEST(test_mp_send_bytes_gives_epipe_when_the_duplex_peer_has_closed)
{
    expect_epipe(1);
}

// In a child: after an EPIPE, SIGPIPE must be as the caller left it:
// default action, not blocked.  0 if so; 2: no EPIPE; 3: disposition
// changed; 4: left blocked.
static int
sigpipe_after_epipe(void *arg)
{
    mp_conn *b = arg;
    sigset_t none, mask;
    struct sigaction dfl = {.sa_handler = SIG_DFL}, now;
    sigemptyset(&dfl.sa_mask);
    sigemptyset(&none);
    sigaction(SIGPIPE, &dfl, NULL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int r = mp_send_bytes(b, "x", 1);
    sigaction(SIGPIPE, NULL, &now);
    sigprocmask(SIG_BLOCK, NULL, &mask);
    if (r != -EPIPE)
        return 2;
    if (now.sa_handler != SIG_DFL)
        return 3;
    return sigismember(&mask, SIGPIPE) ? 4 : 0;
}

static const char *
sigpipe_problem(int code)
{
    switch (code) {
    case 2:
        return "mp_send_bytes did not return -EPIPE";
    case 3:
        return "its disposition was changed (to SIG_IGN?). It belongs to "
               "the caller: block SIGPIPE around the write instead";
    case 4:
        return "it was left blocked: restore the old mask after the write";
    default:
        return "?";
    }
}

FL_TEST(test_mp_send_bytes_leaves_sigpipe_as_it_found_it)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    mp_conn_close(a);
    fl_child res;
    fl_run_in_child(sigpipe_after_epipe, b, 3000, 0, &res);
    mp_conn_close(b);
    ck_assert_msg(res.returned && res.value == 0,
                  "a program with SIGPIPE at its default action called "
                  "mp_send_bytes on a pipe whose reader had closed. After "
                  "the call, SIGPIPE should be as before; instead %s%s.",
                  res.returned ? sigpipe_problem(res.value)
                               : "the process was killed by ",
                  res.returned ? "" : fl_signame(res.status));
}

/* -------------------------------------------------- truncated frames */

FL_TEST(test_mp_recv_bytes_reports_a_truncated_message)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    unsigned char part[MP_FRAME_HEADER + 10];
    fl_put_be32(part, 100); // says 100 bytes, then only 10 come
    memcpy(part + MP_FRAME_HEADER, "0123456789", 10);
    ck_assert(raw_write(fd_of(b), part, sizeof part) == 0);
    mp_conn_close(b); // the sender dies mid-message
    char buf[128];
    ssize_t n = mp_recv_bytes(a, buf, sizeof buf);
    mp_conn_close(a);
    fl_expect_int(n, -EPROTO,
                  "mp_recv_bytes of a frame that announced 100 bytes, then "
                  "10 bytes and EOF",
                  "a message is whole or it is an error: returning the 10 "
                  "bytes would pass a broken message off as a good one");
    pair(0, &a, &b);
    ck_assert(raw_write(fd_of(b), part, MP_FRAME_HEADER) == 0);
    mp_conn_close(b); // the sender dies between header and message
    n = mp_recv_bytes(a, buf, sizeof buf);
    mp_conn_close(a);
    fl_expect_int(n, -EPROTO,
                  "mp_recv_bytes of a frame that announced 100 bytes, then "
                  "EOF before any of them",
                  "a header and then EOF is a truncated message: 0 means EOF "
                  "before a frame begins, and this one had begun");
}

FL_TEST(test_mp_recv_bytes_reports_a_truncated_message_too_big_to_fit)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    unsigned char part[MP_FRAME_HEADER + 10];
    fl_put_be32(part, 100);
    memcpy(part + MP_FRAME_HEADER, "0123456789", 10);
    ck_assert(raw_write(fd_of(b), part, sizeof part) == 0);
    mp_conn_close(b);
    char buf[4];
    ssize_t n = mp_recv_bytes(a, buf, sizeof buf);
    mp_conn_close(a);
    fl_expect_int(n, -EPROTO,
                  "mp_recv_bytes into 4 bytes of a frame that announced 100 "
                  "bytes, then 10 bytes and EOF",
                  "skipping a message too big for the buffer also meets "
                  "the EOF: the frame is truncated, -EPROTO");
    pair(0, &a, &b);
    ck_assert(raw_write(fd_of(b), part, MP_FRAME_HEADER) == 0);
    mp_conn_close(b); // the sender dies between header and message
    n = mp_recv_bytes(a, buf, sizeof buf);
    mp_conn_close(a);
    fl_expect_int(n, -EPROTO,
                  "mp_recv_bytes into 4 bytes of a frame that announced 100 "
                  "bytes, then EOF before any of them",
                  "the skip meets the EOF at its very first read: that is "
                  "a truncated frame too, not the EOF between messages");
}

FL_TEST(test_mp_recv_bytes_rejects_a_frame_with_a_bad_length)
{
    // MP_MSG_MAX + 1 is the first length too long.  The writer stays open
    // and the reader does not block: a bad header must be refused from
    // its 4 bytes alone, not after reading (or skipping) a body of 2 GiB
    // that is not there (that read fails with EAGAIN here).  MP_MSG_MAX
    // itself is a good length: that frame is skipped, and the skip meets
    // the missing body (EAGAIN), which is no -EPROTO.
    static const uint32_t bad[] = {0, (uint32_t)MP_MSG_MAX + 1,
                                   (uint32_t)MP_MSG_MAX};
    ssize_t n[3];
    for (int i = 0; i < 3; i++) {
        mp_conn *a, *b;
        pair(0, &a, &b);
        unsigned char h[MP_FRAME_HEADER + 4];
        fl_put_be32(h, bad[i]);
        memcpy(h + MP_FRAME_HEADER, "abcd", 4);
        ck_assert(raw_write(fd_of(b), h, sizeof h) == 0);
        fcntl(fd_of(a), F_SETFL, O_NONBLOCK);
        char buf[16];
        n[i] = mp_recv_bytes(a, buf, sizeof buf);
        mp_conn_close(a);
        mp_conn_close(b);
    }
    ck_assert_msg(n[0] == -EPROTO && n[1] == -EPROTO,
                  "a header of length 0 gave %s and one of MP_MSG_MAX + 1 "
                  "(2^31) gave %s; expected -EPROTO for both, from the "
                  "header alone: no frame of ours has those lengths (0 is "
                  "refused by the sender, and the most is MP_MSG_MAX), so "
                  "the stream is not ours or out of step.%s",
                  fl_ret(n[0]), fl_ret(n[1]),
                  n[1] == -EAGAIN ? " It went on to read the body: check "
                                    "len > MP_MSG_MAX before any read."
                                  : "");
    ck_assert_msg(n[2] != -EPROTO,
                  "a header of length MP_MSG_MAX, the longest message "
                  "there may be, gave -EPROTO: it is a good frame, too "
                  "big for the buffer (its skip then finds no body here, "
                  "-EAGAIN). Refuse len > MP_MSG_MAX only, as "
                  "mp_send_bytes does");
}

FL_TEST(test_mp_recv_bytes_rejects_null_arguments)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    char buf[4];
    ssize_t r1 = mp_recv_bytes(NULL, buf, sizeof buf);
    ssize_t r2 = mp_recv_bytes(a, NULL, sizeof buf);
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(r1 == -EINVAL && r2 == -EINVAL,
                  "mp_recv_bytes with a NULL conn returned %s, with a NULL "
                  "buffer %s; expected -EINVAL for both, before any read",
                  fl_ret(r1), fl_ret(r2));
}

FL_TEST(test_mp_recv_bytes_reports_a_truncated_header)
{
    for (size_t cut = 1; cut < MP_FRAME_HEADER; cut++) {
        mp_conn *a, *b;
        pair(0, &a, &b);
        ck_assert(raw_write(fd_of(b), "\0\0\0", cut) == 0);
        mp_conn_close(b); // the sender dies in the middle of the header
        char buf[128];
        ssize_t n = mp_recv_bytes(a, buf, sizeof buf);
        mp_conn_close(a);
        ck_assert_msg(n == -EPROTO,
                      "mp_recv_bytes after %zu of the header's 4 bytes, "
                      "then EOF, returned %s; expected -71 (-EPROTO). EOF "
                      "is 0 only between messages; in the middle of a "
                      "header it is a truncated frame, even after 1 byte",
                      cut, fl_ret(n));
    }
}

/* ---------------------------------------------------------------- EOF */

FL_TEST(test_mp_recv_bytes_returns_0_at_eof)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    ck_assert(raw_frame(fd_of(b), "last", 4) == 0);
    mp_conn_close(b); // the only sending end
    char buf[16] = "";
    ssize_t n1 = mp_recv_bytes(a, buf, sizeof buf - 1);
    ssize_t n2 = mp_recv_bytes(a, buf, sizeof buf - 1);
    ssize_t n3 = mp_recv_bytes(a, buf, sizeof buf - 1);
    // A successful read() leaves errno alone: here it still holds the
    // EINTR of the caller's last interrupted call.  From the 8th read on,
    // every read fails with EIO, so a loop that takes the EOF for an
    // EINTR ends instead of spinning for ever.
    fl_fault_reset();
    fl_fault_fail_from("read", 8, EIO);
    errno = EINTR;
    ssize_t n4 = mp_recv_bytes(a, buf, sizeof buf - 1);
    long reads = fl_fault_calls("read");
    fl_fault_reset();
    mp_conn_close(a);
    ck_assert_msg(n1 == 4 && strcmp(buf, "last") == 0,
                  "a message sent before the close must still arrive: "
                  "got %s",
                  fl_ret(n1));
    ck_assert_msg(n2 == 0 && n3 == 0,
                  "after the last message, with every sending end closed, "
                  "mp_recv_bytes returned %s, then %s; expected 0 (EOF), "
                  "each time. read() returns 0 at EOF; no header byte at all "
                  "is EOF, not an error.",
                  fl_ret(n2), fl_ret(n3));
    ck_assert_msg(n4 == 0 && reads == 1,
                  "at EOF, called with errno holding EINTR (left by an "
                  "earlier interrupted call), mp_recv_bytes returned %s "
                  "after %ld read() calls; expected 0 after one. A read "
                  "that returns 0 does not set errno: look at errno only "
                  "when read() returned -1, or the EOF is taken for an "
                  "EINTR left over and read again for ever.",
                  fl_ret(n4), reads);
}

FL_TEST(test_mp_recv_bytes_skips_a_message_too_big_for_the_buffer)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    ck_assert(raw_frame(fd_of(b), "0123456789", 10) == 0);
    ck_assert(raw_frame(fd_of(b), "01234", 5) == 0); // cap + 1
    ck_assert(raw_frame(fd_of(b), "zero", 4) == 0);
    ck_assert(raw_frame(fd_of(b), "z", 1) == 0); // its last byte is its first
    ck_assert(raw_frame(fd_of(b), "ok", 2) == 0);
    mp_conn_close(b);
    char buf[4] = {'x', 'x', 'x', 'x'}, after1[4];
    ssize_t n1 = mp_recv_bytes(a, buf, 4);
    memcpy(after1, buf, sizeof after1);
    char room[8]; // room for the byte too many: a wrong read is seen
    ssize_t n5 = mp_recv_bytes(a, room, 4);
    ssize_t n0 = mp_recv_bytes(a, buf, 0); // no room at all: still skipped
    ssize_t n01 = mp_recv_bytes(a, buf, 0);
    ssize_t n2 = mp_recv_bytes(a, buf, 4);
    mp_conn_close(a);
    ck_assert_msg(n1 == -EMSGSIZE,
                  "mp_recv_bytes of a 10-byte message into 4 bytes returned "
                  "%s; expected -EMSGSIZE",
                  fl_ret(n1));
    ck_assert_msg(memcmp(after1, "xxxx", 4) == 0,
                  "mp_recv_bytes of a 10-byte message into 4 bytes gave "
                  "-EMSGSIZE and left \"%.4s\" in the buffer, which held "
                  "\"xxxx\"; expected it untouched. A message that does "
                  "not fit is thrown away whole, none of it in buf, as "
                  "Python's recv_bytes_into leaves its buffer: skip it "
                  "from its first byte.",
                  after1);
    ck_assert_msg(n5 == -EMSGSIZE,
                  "mp_recv_bytes of a 5-byte message into 4 bytes returned "
                  "%s; expected -EMSGSIZE: one byte over cap does not fit "
                  "(len > cap), and reading it would write past the buffer",
                  fl_ret(n5));
    ck_assert_msg(n0 == -EMSGSIZE,
                  "mp_recv_bytes of a 4-byte message with cap 0 returned "
                  "%s; expected -EMSGSIZE: a cap of 0 is no error, every "
                  "message is too long for it (read and thrown away); "
                  "-EINVAL is for a NULL conn or buf only",
                  fl_ret(n0));
    ck_assert_msg(n01 == -EMSGSIZE,
                  "mp_recv_bytes of a 1-byte message with cap 0 returned "
                  "%s; expected -EMSGSIZE",
                  fl_ret(n01));
    ck_assert_msg(n2 == 2 && memcmp(buf, "ok", 2) == 0,
                  "after the messages that did not fit (the last one of a "
                  "single byte, with cap 0), the next one (\"ok\") came as "
                  "%s: read and throw away the rest of a message that does "
                  "not fit, down to its last byte, so that the next header "
                  "is where the next read starts",
                  fl_ret(n2));
    // A message far bigger than any buffer skip may read it into: 1 MiB,
    // from a writer child (the pipe holds 64 KiB), then "end".
    mp_conn *ends[2];
    pair(0, &ends[0], &ends[1]);
    fd_of(ends[1]);
    pid_t pid = fl_raw_start(big_frame_writer, ends);
    mp_conn_close(ends[1]);
    char small[16], end[8] = "";
    ssize_t nb = mp_recv_bytes(ends[0], small, sizeof small);
    ssize_t ne = mp_recv_bytes(ends[0], end, sizeof end - 1);
    mp_conn_close(ends[0]);
    fl_reap_code(pid);
    ck_assert_msg(nb == -EMSGSIZE && ne == 3 && strcmp(end, "end") == 0,
                  "mp_recv_bytes of a 1 MiB message into 16 bytes returned "
                  "%s, then the next message (\"end\") came as %s; expected "
                  "-EMSGSIZE, then 3: skip reads the message in pieces no "
                  "bigger than its own buffer (min(len, sizeof sink)), "
                  "until all of it is gone",
                  fl_ret(nb), fl_ret(ne));
}

FL_TEST(test_mp_send_bytes_rejects_an_empty_or_oversized_message)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    char one = 'x';
    int empty = mp_send_bytes(b, &one, 0);
    int huge = mp_send_bytes(b, &one, (size_t)MP_MSG_MAX + 1); // not read
    int null = mp_send_bytes(NULL, &one, 1);
    int nobuf = mp_send_bytes(b, NULL, 1);
    int wrote = readable_now(fd_of(a));
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(empty == -EINVAL && huge == -EMSGSIZE && null == -EINVAL,
                  "mp_send_bytes of 0 bytes returned %s (expected -EINVAL: "
                  "an empty message would read as EOF), of MP_MSG_MAX + 1 "
                  "bytes %s (expected -EMSGSIZE: the length must fit the "
                  "header), with a NULL conn %s (expected -EINVAL)",
                  fl_ret(empty), fl_ret(huge), fl_ret(null));
    ck_assert_msg(nobuf == -EINVAL && !wrote,
                  "mp_send_bytes(b, NULL, 1) returned %s%s; expected "
                  "-EINVAL with nothing written: check buf for NULL with "
                  "conn, before the header goes (writev may send the "
                  "header, then fail with EFAULT on the message, leaving "
                  "half a frame in the pipe)",
                  fl_ret(nobuf), wrote ? " and wrote to the pipe" : "");
    ck_assert_msg(!wrote, "a refused message still wrote to the pipe: check "
                          "the arguments before writing anything");
}

/* ------------------------------------------------------- PIPE_BUF */

#define WRITERS 4
#define PER_WRITER 200
#define SMALL_MAX (PIPE_BUF - MP_FRAME_HEADER)

struct small_job {
    mp_conn *a, *b;
    int id;
};

// Message seq of writer id: its length, then id, seq and a pattern.
static size_t
small_msg(unsigned char *m, int id, int seq)
{
    size_t len = 8 + (size_t)(seq * 997 + id * 131) % (SMALL_MAX - 7);
    if (seq % 4 == 0)
        len = SMALL_MAX; // a whole PIPE_BUF frame: still atomic
    fill(m, len, (unsigned)(id * 100000 + seq));
    m[0] = (unsigned char)id;
    m[1] = (unsigned char)(seq >> 8);
    m[2] = (unsigned char)seq;
    return len;
}

static int
small_writer(void *arg)
{
    struct small_job *job = arg;
    unsigned char m[SMALL_MAX];
    child_close(job->a);
    for (int seq = 0; seq < PER_WRITER; seq++) {
        size_t len = small_msg(m, job->id, seq);
        if (mp_send_bytes(job->b, m, len) != 0)
            return 1;
    }
    return 0;
}

// Check one message from the shared pipe; NULL if it is the next one of
// its writer, else what is wrong with it.
static const char *
small_check(const unsigned char *got, ssize_t n, int *next)
{
    unsigned char want[SMALL_MAX];
    if (n < 8)
        return "a message shorter than any that was sent";
    int id = got[0], seq = got[1] << 8 | got[2];
    if (id < 1 || id > WRITERS || seq != next[id])
        return "a message that no writer sent next";
    size_t len = small_msg(want, id, seq);
    if ((size_t)n != len || memcmp(got, want, len) != 0)
        return "a message mixed with bytes of another";
    next[id]++;
    return NULL;
}

FL_TEST(test_mp_send_bytes_keeps_small_frames_whole_with_several_writers)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    struct small_job jobs[WRITERS];
    pid_t pids[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        jobs[i] = (struct small_job){a, b, i + 1};
        pids[i] = fl_raw_start(small_writer, &jobs[i]);
    }
    mp_conn_close(b);
    int next[WRITERS + 1] = {0};
    unsigned char got[SMALL_MAX];
    const char *bad = NULL;
    ssize_t n = 0;
    int i;
    for (i = 0; i < WRITERS * PER_WRITER && bad == NULL; i++) {
        n = mp_recv_bytes(a, got, sizeof got);
        bad = n < 0 ? "an error" : small_check(got, n, next);
    }
    mp_conn_close(a); // any writer still busy now gets EPIPE
    for (int w = 0; w < WRITERS; w++)
        if (bad != NULL)
            stop(pids[w]);
        else
            fl_reap_code(pids[w]);
    ck_assert_msg(bad == NULL,
                  "%d processes sent %d messages each, of up to %d bytes, "
                  "through one pipe. Message %d (mp_recv_bytes returned %s) "
                  "was %s. A write of at most PIPE_BUF (%d) bytes to a pipe "
                  "is atomic: send each frame, header and message, in ONE "
                  "writev, or another writer's bytes get in between.",
                  WRITERS, PER_WRITER, SMALL_MAX, i, fl_ret(n), bad, PIPE_BUF);
}

/* A frame that cannot fit must not be begun.  Fill the pipe until only 4
 * bytes are free in its last page: a header written on its own fits there,
 * a whole frame of at most PIPE_BUF bytes cannot, so an atomic writev
 * blocks with nothing written.  This makes the window the several-writers
 * test waits for happen on every run. */
struct one_frame {
    mp_conn *a, *b;
};

static int
send_one_frame(void *arg)
{
    struct one_frame *f = arg;
    unsigned char m[100];
    child_close(f->a);
    memset(m, 'm', sizeof m);
    return mp_send_bytes(f->b, m, sizeof m) == 0 ? 0 : 1;
}

FL_TEST(test_mp_send_bytes_writes_header_and_message_at_once)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    int wfd = fd_of(b), rfd = fd_of(a);
    int size = fcntl(wfd, F_GETPIPE_SZ);
    ck_assert_msg(size > 4, "F_GETPIPE_SZ failed: %s", strerror(errno));
    unsigned char *junk = calloc(1, (size_t)size);
    ck_assert_msg(junk != NULL &&
                      write(wfd, junk, (size_t)size - 4) == size - 4,
                  "could not fill the pipe");
    free(junk);
    struct one_frame f = {a, b};
    pid_t pid = fl_raw_start(send_one_frame, &f);
    // Until it is blocked in its write.
    while (fl_proc_state(pid) != 'S' && !fl_zombie(pid))
        sched_yield();
    int queued = -1;
    ioctl(rfd, FIONREAD, &queued);
    stop(pid);
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(queued == size - 4,
                  "with 4 bytes free in the pipe, mp_send_bytes of a 100-byte "
                  "message wrote %d bytes and waited for the rest: the 4-byte "
                  "header went in on its own, so another writer's frame can "
                  "come between it and its message. Send header and message "
                  "in ONE writev: a write of at most PIPE_BUF bytes to a pipe "
                  "is all or nothing.",
                  queued - (size - 4));
}

/* ------------------------------------------------------------ speed */

#define STREAM_MSGS 16 // 1 MiB messages per timed run
#define STREAM_RUNS 7  // timed runs of each kind, alternating
#define STREAM_FLOOR 4 // framed may take at most 4 times raw (25%)

// One timed run: a child writes STREAM_MSGS messages of 1 MiB, raw or
// framed, and the parent reads them.  Returns the time in us from the go
// to the last byte; a run that passes `budget` stops early and returns an
// estimate of its whole time.  -1 on a wrong result.
static long long
timed_run(int framed, long long budget, const unsigned char *src,
          unsigned char *dst)
{
    int p[2], go[2];
    mp_conn *a = NULL, *b = NULL;
    ck_assert(pipe(go) == 0);
    if (framed) {
        pair(0, &a, &b);
        p[0] = fd_of(a);
        p[1] = fd_of(b);
    } else {
        ck_assert(pipe(p) == 0);
    }
    fflush(NULL);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        char c;
        close(p[0]);
        close(go[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(1);
        for (int i = 0; i < STREAM_MSGS; i++)
            if (framed ? mp_send_bytes(b, src, MIB) != 0
                       : raw_write(p[1], src, MIB) != 0)
                _exit(1);
        _exit(0);
    }
    if (framed)
        mp_conn_close(b);
    else
        close(p[1]);
    close(go[0]);
    int done = 0, ok = 1;
    long long t0 = fl_now_us(), t = 0;
    ck_assert(write(go[1], "g", 1) == 1);
    while (done < STREAM_MSGS && ok && (t = fl_now_us() - t0) <= budget) {
        ssize_t n = framed ? mp_recv_bytes(a, dst, MIB)
                           : fl_read_full(p[0], dst, MIB, -1);
        ok = n == MIB;
        done++;
        t = fl_now_us() - t0;
    }
    ok = ok && (!framed || done < STREAM_MSGS || memcmp(dst, src, MIB) == 0);
    if (framed)
        mp_conn_close(a);
    else
        close(p[0]);
    close(go[1]);
    if (done < STREAM_MSGS || !ok)
        stop(pid);
    else
        ok = fl_reap_code(pid) == 0;
    return !ok ? -1 : t * STREAM_MSGS / (done ? done : 1);
}

// Raw and framed runs alternate, and each framed run is compared with the
// raw run just before it: a machine that is busy for a while slows both.
FL_TEST(test_mp_send_bytes_streams_1_mib_messages_near_pipe_speed)
{
    // Whether the scheduler puts a pipe's reader and writer on one core or
    // on two changes its speed several times over, from one run to the
    // next: that would swamp the comparison.
    fl_stay_on_this_cpu();
    unsigned char *src = xmalloc(MIB), *dst = xmalloc(MIB);
    fill(src, MIB, 5);
    memset(dst, 0, MIB); // touch every page before timing
    double raw[STREAM_RUNS], framed[STREAM_RUNS], ratio[STREAM_RUNS];
    int slow = 0, runs = 0;
    while (runs < STREAM_RUNS && slow <= STREAM_RUNS / 2) {
        long long r = timed_run(0, 60000000, src, dst);
        ck_assert_msg(r > 0, "the raw pipe run failed");
        // Slack for a loaded machine; the byte-a-time mistake is far over.
        long long budget = STREAM_FLOOR * r + 50000;
        long long f = timed_run(1, budget, src, dst);
        ck_assert_msg(f > 0,
                      "streaming %d messages of 1 MiB through "
                      "mp_send_bytes and mp_recv_bytes did not deliver them "
                      "whole",
                      STREAM_MSGS);
        raw[runs] = r / 1e3;
        framed[runs] = f / 1e3;
        ratio[runs] = 100.0 * r / f;
        slow += ratio[runs] < 100.0 / STREAM_FLOOR;
        runs++;
    }
    double pct = fl_median(ratio, runs);
    ck_assert_msg(pct >= 100.0 / STREAM_FLOOR,
                  "%d MiB through a raw pipe took %.1f ms; through "
                  "mp_send_bytes and mp_recv_bytes %.1f ms (medians of %d "
                  "alternating runs): %.1f%% of raw, expected at least "
                  "%d%%. Send header and message in one writev, read the "
                  "message straight into the caller's buffer, and never a "
                  "byte at a time.",
                  STREAM_MSGS, fl_median(raw, runs), fl_median(framed, runs),
                  runs, pct, 100 / STREAM_FLOOR);
}

/* -------------------------------------------------------------- mp_poll */

struct poll_result {
    mp_conn *a;     // the end to poll
    int timeout_ms; // the timeout to give mp_poll
    int ticking;    // 1: keep signals coming while mp_poll waits
    int r;          // what mp_poll returned
    long long ms;   // how long it took
    int jump;       // 1: the first poll() fails with EINTR, and the wall
                    // clock is an hour ahead from the second reading on
};

static int
poll_child(void *arg)
{
    struct poll_result *res = arg;
    if (res->ticking) {
        fl_ticks_start();
        // CLOCK_MONOTONIC as on a machine up for 25 days: its seconds
        // times 1000 no longer fit in an int (now_ms keeps long long).
        // And 10 ms past a whole second: a now_ms that runs backwards
        // within a second (its milliseconds subtracted) moves the
        // deadline away until the next second, 990 ms on.
        fl_clock_mono_later_at(0, 25LL * 24 * 3600 * 1000 +
                                      (1010 - fl_now_ms() % 1000) % 1000);
    }
    if (res->jump) {
        fl_fault_reset();
        fl_fault_eintr("poll", 1);
        fl_clock_jump_at(1, 3600);
    }
    long long t0 = fl_now_us();
    res->r = mp_poll(res->a, res->timeout_ms);
    res->ms = (fl_now_us() - t0) / 1000;
    if (res->ticking)
        fl_ticks_stop();
    return 0;
}

// mp_poll(a, timeout_ms) run in a child, since a wrong one may wait for
// ever.  Fails the test if it was still waiting after 3 s, or crashed.
static struct poll_result
poll_in_child(mp_conn *a, int timeout_ms, int ticking, const char *hint)
{
    struct poll_result *res = mmap(NULL, sizeof *res, PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(res != MAP_FAILED, "mmap failed");
    *res = (struct poll_result){a, timeout_ms, ticking, -1000, -1, 0};
    fl_child child;
    fl_run_in_child(poll_child, res, 3000, 0, &child);
    struct poll_result got = *res;
    munmap(res, sizeof *res);
    ck_assert_msg(!child.timed_out,
                  "mp_poll(a, %d)%s was still waiting after 3 s: %s",
                  timeout_ms, ticking ? " with signals arriving" : "", hint);
    ck_assert_msg(child.returned, "mp_poll(a, %d) ended the process (%s)",
                  timeout_ms,
                  child.exited ? "it exited" : fl_signame(child.status));
    return got;
}

static void
expect_timeout(int ticking, const char *hint)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    struct poll_result got = poll_in_child(a, 100, ticking, hint);
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(got.r == 0 && got.ms >= 90 && got.ms < 800,
                  "mp_poll(a, 100)%s on a pipe where nothing comes returned "
                  "%s after %lld ms; expected 0 after about 100 ms. %s",
                  ticking ? " with signals arriving" : "", fl_ret(got.r),
                  got.ms,
                  got.r == -EINTR ? EINTR_HINT
                  : got.ms >= 800 ? "The wait went on past its deadline: "
                                    "is the time left taken from one "
                                    "deadline, on a clock that only goes "
                                    "forward (now_ms, given: seconds times "
                                    "1000 PLUS the milliseconds)?"
                                  : hint);
}

FL_TEST(test_mp_poll_returns_0_when_the_timeout_expires)
{
    expect_timeout(0, "pass the timeout, in ms, to poll()");
}

FL_TEST(test_mp_poll_keeps_its_deadline_when_signals_interrupt)
{
    expect_timeout(1, "after EINTR, poll again for the time left until the "
                      "deadline, not the whole timeout: restarted each "
                      "time, it never ends while signals keep coming");
}

// Raw child holding a copy of the sending end until told to go.
static int
hold_copy(void *arg)
{
    int *go = arg;
    char c;
    close(go[1]);
    return read(go[0], &c, 1) < 0; // returns on a byte or on EOF
}

FL_TEST(test_mp_poll_sees_no_eof_while_a_copy_of_the_write_end_is_open)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    int go[2];
    ck_assert(pipe(go) == 0);
    pid_t pid = fl_raw_start(hold_copy, go); // it has a copy of b
    close(go[0]);
    mp_conn_close(b); // the parent's copy; the child's is still open
    struct poll_result early = poll_in_child(a, 100, 0,
                                             "pass the timeout, "
                                             "in ms, to poll()");
    ck_assert(write(go[1], "g", 1) == 1);
    fl_reap_code(pid); // now no copy is left
    struct poll_result late = poll_in_child(a, 2000, 0, "");
    char buf[8];
    ssize_t n = late.r == 1 ? mp_recv_bytes(a, buf, sizeof buf) : -1;
    close(go[1]);
    mp_conn_close(a);
    ck_assert_msg(early.r == 0,
                  "while a child still held a copy of the sending end, "
                  "mp_poll(a, 100) returned %s; expected 0 (timeout): there "
                  "is no message and no EOF yet",
                  fl_ret(early.r));
    ck_assert_msg(late.r == 1 && n == 0,
                  "once every copy of the sending end was closed, mp_poll "
                  "returned %s and mp_recv_bytes %s; expected 1, then 0 "
                  "(EOF): poll reports POLLHUP as readable",
                  fl_ret(late.r), fl_ret(n));
}

FL_TEST(test_mp_poll_returns_1_when_a_message_is_waiting)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    ck_assert(raw_frame(fd_of(b), "x", 1) == 0);
    int now = mp_poll(a, 0), ever = mp_poll(a, -1);
    int bad = mp_poll(a, -2), null = mp_poll(NULL, 0);
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(now == 1 && ever == 1,
                  "with a message waiting, mp_poll(a, 0) returned %s and "
                  "mp_poll(a, -1) %s; expected 1 for both, at once",
                  fl_ret(now), fl_ret(ever));
    fl_expect_int(bad, -EINVAL, "mp_poll(a, -2)",
                  "-1 means for ever; below that is not a timeout");
    fl_expect_int(null, -EINVAL, "mp_poll(NULL, 0)",
                  "a NULL end is refused before it is used");
    // A duplex end can always be written to: only a message (or EOF)
    // makes it readable.
    pair(1, &a, &b);
    int none = mp_poll(a, 0);
    ck_assert(raw_frame(fd_of(b), "x", 1) == 0);
    int one = mp_poll(a, 0);
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(none == 0 && one == 1,
                  "on a duplex pair, mp_poll(a, 0) returned %s with nothing "
                  "sent and %s with a message waiting; expected 0, then 1. "
                  "Poll for POLLIN only: a socket is nearly always writable, "
                  "so POLLOUT says nothing about a message to receive.",
                  fl_ret(none), fl_ret(one));
}

/* ------------------------------------------------- under stress */

// mp_pipe(duplex) with the kth call of fn failing with err, for every k:
// each failure is reported as -err with nothing set and nothing leaked
// (descriptor or handle), and the run past the last call succeeds.
static void
walk_mp_pipe(int duplex, const char *fn, int err)
{
    FL_FAULT_WALK (fn, err, k) {
        fl_snapshot s;
        fl_snapshot_take(&s);
        mp_conn *a = NULL, *b = NULL;
        int r = mp_pipe(duplex, &a, &b);
        char what[96];
        int fired = fl_fault_fired(fn) > 0;
        if (fired)
            snprintf(what, sizeof what,
                     "mp_pipe(%d, &a, &b) with its call "
                     "%d of %s() failing with %s",
                     duplex, k, fn, strerrorname_np(err));
        else
            snprintf(what, sizeof what, "mp_pipe(%d, &a, &b)", duplex);
        if (fired) {
            fl_expect_int(r, -err, what,
                          "return minus the errno of the "
                          "call that failed");
            ck_assert_msg(a == NULL && b == NULL,
                          "%s: set *a or *b; set "
                          "them only once both ends are made",
                          what);
        } else {
            fl_expect_int(r, 0, what, "");
            mp_conn_close(a);
            mp_conn_close(b);
        }
        fl_expect_no_leak(&s, what);
    }
}

FL_TEST(test_mp_pipe_leaks_nothing_when_any_call_it_makes_fails)
{
    // Whichever calls the code makes: a walk over one it never calls ends
    // after its first, clean, run.
    walk_mp_pipe(0, "malloc", ENOMEM);
    walk_mp_pipe(1, "malloc", ENOMEM);
    walk_mp_pipe(0, "calloc", ENOMEM);
    walk_mp_pipe(0, "pipe", EMFILE);
    walk_mp_pipe(0, "pipe2", EMFILE);
    walk_mp_pipe(1, "socketpair", ENFILE);
    fl_expect_int(fl_fault_calls("malloc"), 0, "after the walks", "");
}

// Receive the frame "Hello pipe" with the nth read cut to one byte (cut)
// or failing with EINTR; *fired is whether the read came.
static void
recv_with_fault(int cut, int nth, int *fired)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    ck_assert(raw_frame(fd_of(b), "Hello pipe", 10) == 0);
    char got[16] = "";
    fl_fault_reset();
    if (cut)
        fl_fault_short("read", nth, 1);
    else
        fl_fault_eintr("read", nth);
    ssize_t n = mp_recv_bytes(a, got, sizeof got - 1);
    *fired = fl_fault_fired("read") > 0;
    fl_fault_reset();
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(n == 10 && strcmp(got, "Hello pipe") == 0,
                  "with its read() call %d %s, mp_recv_bytes returned %s "
                  "\"%s\"; expected 10 \"Hello pipe\". %s",
                  nth, cut ? "returning 1 byte only" : "failing with EINTR",
                  fl_ret(n), got,
                  !cut ? EINTR_HINT
                       : "A read returns what is there, perhaps less than "
                         "asked, even of the 4-byte header: read again for "
                         "the rest.");
}

// Each read a frame takes, in turn, cut short, then interrupted.
FL_TEST(test_mp_recv_bytes_takes_a_frame_whole_from_short_and_eintr_reads)
{
    for (int cut = 1; cut >= 0; cut--)
        for (int nth = 1, fired = 1; fired && nth < 64; nth++)
            recv_with_fault(cut, nth, &fired);
}

// mp_recv_bytes of "Hello pipe" into cap bytes with its kth read()
// failing with EIO, for every k: -EIO each time, then want.
static void
walk_failed_reads(size_t cap, ssize_t want)
{
    FL_FAULT_WALK ("read", EIO, k) {
        mp_conn *a, *b;
        pair(0, &a, &b);
        ck_assert(raw_frame(fd_of(b), "Hello pipe", 10) == 0);
        char got[16];
        ssize_t n = mp_recv_bytes(a, got, cap);
        int fired = fl_fault_fired("read") > 0;
        mp_conn_close(a);
        mp_conn_close(b);
        ck_assert_msg(n == (fired ? -EIO : want),
                      "mp_recv_bytes of a 10-byte message into %zu bytes "
                      "with its read() call %d %s returned %s; expected %s. "
                      "Pass on the errno of a read that failed (-errno), in "
                      "the header, the message and the bytes skipped: "
                      "-EPROTO is for a frame cut short by EOF only",
                      cap, k, fired ? "failing with EIO" : "left alone",
                      fl_ret(n), fired ? "-5 (-EIO)" : fl_ret(want));
    }
}

FL_TEST(test_mp_recv_bytes_and_mp_poll_give_the_errno_of_a_failed_call)
{
    walk_failed_reads(15, 10);       // the message fits
    walk_failed_reads(4, -EMSGSIZE); // it is read and thrown away
    mp_conn *a, *b;
    pair(0, &a, &b);
    fl_fault_fail("poll", 1, ENOMEM);
    int r = mp_poll(a, 0);
    fl_fault_reset();
    mp_conn_close(a);
    mp_conn_close(b);
    fl_expect_int(r, -ENOMEM, "mp_poll(a, 0) with poll() failing with ENOMEM",
                  "pass on the errno of a poll that failed (-errno)");
}

// The wait under the storm: mp_poll on a pipe, for ever.
static int
poll_for_ever(void *arg)
{
    mp_conn **ends = arg;
    return mp_poll(ends[0], -1);
}

// The longest finite wait, some 25 days: its deadline, now plus INT_MAX
// ms, does not fit in an int.
static int
poll_int_max(void *arg)
{
    mp_conn **ends = arg;
    return mp_poll(ends[0], INT_MAX);
}

// The release, from the storm's helper thread once the wait has lasted:
// a message on the other end.
static void
send_x(void *arg)
{
    mp_conn **ends = arg;
    if (raw_frame(mp_conn_fileno(ends[1]), "x", 1) != 0)
        abort();
}

FL_TEST(test_mp_poll_waits_for_ever_under_a_signal_storm)
{
    mp_conn *ends[2];
    pair(0, &ends[0], &ends[1]);
    fl_storm_result res;
    fl_storm_hold(poll_for_ever, send_x, ends, 500, 200, &res);
    mp_conn_close(ends[0]);
    mp_conn_close(ends[1]);
    ck_assert_msg(!res.early && res.ret == 1,
                  "mp_poll(a, -1) under a storm of %ld signals returned %s "
                  "after %ld ms, %s; expected 1, once a message came after "
                  "200 ms. %s",
                  res.signals, fl_ret(res.ret), res.elapsed_ms,
                  res.early ? "before any message came" : "after it came",
                  res.ret == -EINTR ? EINTR_HINT
                  : res.early || res.ret == 0 // (for ever timed out)
                      ? "-1 means for ever: after EINTR, poll "
                        "again with -1, not with a time left "
                        "computed from it"
                      : "");
    pair(0, &ends[0], &ends[1]);
    fl_storm_hold(poll_int_max, send_x, ends, 500, 50, &res);
    mp_conn_close(ends[0]);
    mp_conn_close(ends[1]);
    ck_assert_msg(!res.early && res.ret == 1,
                  "mp_poll(a, INT_MAX) under a storm of %ld signals "
                  "returned %s after %ld ms, %s; expected 1, once a message "
                  "came after 50 ms. %s",
                  res.signals, fl_ret(res.ret), res.elapsed_ms,
                  res.early ? "before any message came" : "after it came",
                  res.ret == -EINTR ? EINTR_HINT
                  : res.early || res.ret == 0
                      ? "now + INT_MAX ms overflows an int: keep the "
                        "deadline and the time left in a long long (as "
                        "now_ms() returns), and clamp only the time left "
                        "given to poll()"
                      : "");
}

// The frame "Hello pipe" sent through a one-way (writev) or duplex
// (sendmsg) pipe with the nth write cut to max bytes, or failing with
// EINTR (max 0); *fired is whether that write came.
static void
send_with_fault(int duplex, int nth, size_t max, int *fired)
{
    mp_conn *a, *b;
    pair(duplex, &a, &b);
    const char *fn = duplex ? "sendmsg" : "writev";
    fl_fault_reset();
    if (max > 0)
        fl_fault_short(fn, nth, max);
    else
        fl_fault_eintr(fn, nth);
    int r = mp_send_bytes(b, "Hello pipe", 10);
    *fired = fl_fault_fired(fn) > 0;
    fl_fault_reset();
    unsigned char got[32] = {0};
    int fd = fd_of(a);
    ssize_t n = r == 0 && readable_now(fd) ? read(fd, got, sizeof got) : 0;
    mp_conn_close(a);
    mp_conn_close(b);
    static const unsigned char want[] = {0,   0,   0,   10,  'H', 'e', 'l',
                                         'l', 'o', ' ', 'p', 'i', 'p', 'e'};
    ck_assert_msg(r == 0 && n == (ssize_t)sizeof want &&
                      memcmp(got, want, sizeof want) == 0,
                  "with its %s() call %d %s, mp_send_bytes of \"Hello "
                  "pipe\" on a %s pipe returned %s and the pipe held %zd "
                  "bytes; expected 0 and the 14 bytes of the frame. %s",
                  fn, nth,
                  max ? "taking only part of the bytes" : "failing with EINTR",
                  duplex ? "duplex" : "one-way", fl_ret(r), n,
                  max == 0 ? EINTR_HINT
                           : "A write may take fewer bytes than offered, "
                             "even in the middle of the header: step over "
                             "what went (the start AND the length of the "
                             "iovec it ended in) and write the rest.");
}

// Each write a frame takes, in turn, cut after 1 and after 6 bytes (in
// the header, in the message), then interrupted.
FL_TEST(test_mp_send_bytes_sends_a_frame_whole_through_short_and_eintr_writes)
{
    static const size_t cuts[] = {1, 6, 0};
    for (int duplex = 0; duplex < 2; duplex++)
        for (int c = 0; c < 3; c++)
            for (int nth = 1, fired = 1; fired && nth < 64; nth++)
                send_with_fault(duplex, nth, cuts[c], &fired);
}

// In a child with SIGPIPE at its default action: send to a pipe whose
// reader has closed, with the sigtimedwait that takes the pending SIGPIPE
// interrupted once.
static int
epipe_with_sigtimedwait_interrupted(void *arg)
{
    mp_conn *b = arg;
    signal(SIGPIPE, SIG_DFL);
    fl_fault_reset();
    fl_fault_eintr("sigtimedwait", 1);
    int r = mp_send_bytes(b, "x", 1);
    int calls = (int)fl_fault_calls("sigtimedwait");
    fl_fault_reset();
    return r == -EPIPE && calls < 2 ? 1000 + calls : r; // 1000s: no retry
}

FL_TEST(test_mp_send_bytes_takes_its_sigpipe_even_when_a_signal_interrupts)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    mp_conn_close(a);
    fl_child res;
    fl_run_in_child(epipe_with_sigtimedwait_interrupted, b, 3000, 0, &res);
    mp_conn_close(b);
    ck_assert_msg(res.returned,
                  "mp_send_bytes to a pipe whose reader had closed, with the "
                  "sigtimedwait() that takes the pending SIGPIPE failing "
                  "once with EINTR, killed the process (%s). A signal "
                  "handler may run during sigtimedwait: call it again on "
                  "EINTR, or the SIGPIPE stays pending and strikes when the "
                  "old mask is restored.",
                  res.exited ? "it exited" : fl_signame(res.status));
    fl_expect_int(res.value, -EPIPE,
                  "mp_send_bytes to a closed pipe, sigtimedwait interrupted",
                  res.value >= 1000 ? "it returned -EPIPE but called "
                                      "sigtimedwait only once: retry it on "
                                      "EINTR"
                                    : "");
}

FL_TEST(test_mp_send_bytes_accepts_a_message_of_exactly_mp_msg_max_bytes)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    mp_conn_close(a); // the kernel refuses with EPIPE before reading a byte
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(page != MAP_FAILED, "mmap failed");
    int r = mp_send_bytes(b, page, MP_MSG_MAX);
    munmap(page, 4096);
    mp_conn_close(b);
    fl_expect_int(r, -EPIPE,
                  "mp_send_bytes of MP_MSG_MAX bytes to a pipe whose reader "
                  "has closed",
                  r == -EMSGSIZE ? "MP_MSG_MAX is the longest message "
                                   "allowed, not the first one refused: "
                                   "refuse len > MP_MSG_MAX only"
                                 : "");
}

/* ----------------------------------------------------- mp_conn_fork */

static int
send_seed(mp_conn *conn, void *arg)
{
    (void)arg;
    return mp_send_bytes(conn, SEED, strlen(SEED)) == 0 ? 7 : 1;
}

// What the child's end was, for report_at_exit: its descriptor, and the
// heap blocks live while the target ran.
static int give_fd = -1, exit_report = -1;
static long blocks_in_target;

static int
send_seed_noting_its_end(mp_conn *conn, void *arg)
{
    give_fd = mp_conn_fileno(conn);
    fl_heap_live(&blocks_in_target);
    return send_seed(conn, arg);
}

// SIGUSR1 handler, run in the child just before its _exit: 'c' if the
// child's end is closed and freed, 'o' if its descriptor is still open,
// 'l' if only its handle is left on the heap.
static void
report_at_exit(int sig)
{
    (void)sig;
    long blocks = 0;
    fl_heap_live(&blocks);
    char c = fcntl(give_fd, F_GETFD) >= 0 ? 'o'
             : blocks >= blocks_in_target ? 'l'
                                          : 'c';
    (void)!write(exit_report, &c, 1);
}

FL_TEST(test_mp_conn_fork_runs_the_target_with_the_childs_end)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    int rep[2];
    ck_assert(pipe(rep) == 0);
    exit_report = rep[1];
    struct sigaction sa = {.sa_handler = report_at_exit}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    fl_fault_reset();
    fl_fault_signal_before("_exit", 1, SIGUSR1); // in the child
    pid_t pid = mp_conn_fork(a, b, send_seed_noting_its_end, NULL);
    fl_fault_reset();
    sigaction(SIGUSR1, &old, NULL);
    close(rep[1]);
    char at_exit = 0;
    if (read(rep[0], &at_exit, 1) != 1)
        at_exit = 0;
    close(rep[0]);
    ck_assert_msg(pid > 0, "mp_conn_fork returned %s, expected a pid",
                  fl_ret(pid));
    char buf[64] = "";
    ssize_t n = mp_recv_bytes(a, buf, sizeof buf - 1);
    mp_conn_close(a);
    int st = fl_reap_code(pid);
    ck_assert_msg(n == (ssize_t)strlen(SEED) && strcmp(buf, SEED) == 0,
                  "the target sent \"%s\" on its end; the parent received "
                  "%s \"%s\"",
                  SEED, fl_ret(n), buf);
    fl_expect_int(st, 7, "the child's exit status",
                  "the child ends with _exit(target(give, arg))");
    ck_assert_msg(at_exit != 'o' && at_exit != 'l',
                  "when the child called _exit, its own end (give) %s. "
                  "After the target returns, the child closes give with "
                  "mp_conn_close (descriptor and handle), then flushes "
                  "stdio: a flush that blocks on a full stdout must not "
                  "keep the peer from seeing EOF.",
                  at_exit == 'o' ? "was still open"
                                 : "was closed but its handle not freed");
}

static int
do_nothing(mp_conn *conn, void *arg)
{
    (void)conn;
    (void)arg;
    return 0;
}

FL_TEST(test_mp_conn_fork_closes_the_childs_end_in_the_parent)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    pid_t pid = mp_conn_fork(a, b, do_nothing, NULL);
    ck_assert_msg(pid > 0, "mp_conn_fork returned %s, expected a pid",
                  fl_ret(pid));
    fl_reap_code(pid); // the child, and its copy of b, are gone
    int eof = readable_now(fd_of(a));
    char buf[8];
    ssize_t n = eof ? mp_recv_bytes(a, buf, sizeof buf) : -1;
    mp_conn_close(a);
    ck_assert_msg(eof && n == 0,
                  "the child has exited, yet the parent sees no EOF on its "
                  "end: the parent still holds the child's end (a copy of "
                  "the sending end). mp_conn_fork must close give in the "
                  "parent.");
}

// Blocks the code under test had on the heap just before mp_conn_fork.
static long blocks_at_fork;

// Target: once told the parent closed its end, is EOF there at once?  And
// was the parent's end freed here, not only its descriptor closed?
static int
sees_eof(mp_conn *conn, void *arg)
{
    int *go = arg;
    char c;
    long blocks = 0;
    fl_heap_live(&blocks);
    if (read(go[0], &c, 1) != 1)
        return 2;
    int fd = mp_conn_fileno(conn);
    if (!readable_now(fd))
        return 1; // no EOF: somebody still holds the other end
    if (read(fd, &c, 1) != 0)
        return 3;
    return blocks < blocks_at_fork ? 0 : 4;
}

FL_TEST(test_mp_conn_fork_closes_the_parents_end_in_the_child)
{
    mp_conn *a, *b;
    pair(1, &a, &b);
    int go[2];
    ck_assert(pipe(go) == 0);
    fl_heap_live(&blocks_at_fork);
    pid_t pid = mp_conn_fork(a, b, sees_eof, go);
    ck_assert_msg(pid > 0, "mp_conn_fork returned %s, expected a pid",
                  fl_ret(pid));
    mp_conn_close(a); // the parent's end: now no copy should be left
    ck_assert(write(go[1], "g", 1) == 1);
    int st = fl_reap_code(pid);
    close(go[0]);
    close(go[1]);
    ck_assert_msg(st == 0, "the parent closed its end, yet the child %s. %s",
                  st == 1   ? "saw no EOF on its own"
                  : st == 4 ? "still had keep's handle on its heap"
                            : "failed",
                  st == 1   ? "The child still holds a copy of the parent's "
                              "end: mp_conn_fork must close keep in the "
                              "child, or a child reading until EOF blocks for "
                              "ever."
                  : st == 4 ? "A leak in the child, for the target's whole "
                              "life: close keep with mp_conn_close, which "
                              "frees the handle too, not with close() of "
                              "its descriptor alone."
                            : "");
}

// mp_conn_fork with fork() failing with err: -err, and both ends still
// open and the caller's, as they were.
static void
expect_fork_failure(int err)
{
    mp_conn *a, *b;
    pair(1, &a, &b);
    fl_snapshot s;
    fl_snapshot_take(&s);
    fl_fault_reset();
    fl_fault_fail("fork", 1, err);
    pid_t r = mp_conn_fork(a, b, do_nothing, NULL);
    fl_fault_reset();
    char diff[1024];
    int changed = fl_snapshot_diff(&s, diff, sizeof diff);
    ck_assert_msg(changed == 0,
                  "mp_conn_fork with fork() failing (%s) changed what the "
                  "process holds: %s. When fork fails there is no child: "
                  "both ends stay open and belong to the caller, who may "
                  "retry or close them.",
                  strerrorname_np(err), diff);
    char buf[8] = "";
    int sent = mp_send_bytes(b, "ok", 2);
    ssize_t n = sent == 0 ? mp_recv_bytes(a, buf, sizeof buf - 1) : -1;
    mp_conn_close(a);
    mp_conn_close(b);
    char what[80];
    snprintf(what, sizeof what, "mp_conn_fork with fork() failing with %s",
             strerrorname_np(err));
    fl_expect_int(r, -err, what, "return minus fork's errno");
    ck_assert_msg(sent == 0 && n == 2,
                  "after mp_conn_fork failed, the ends no longer carry a "
                  "message (send %s, receive %s): leave them as they were",
                  fl_ret(sent), fl_ret(n));
}

FL_TEST(test_mp_conn_fork_leaves_both_ends_open_when_fork_fails)
{
    expect_fork_failure(EAGAIN);
    expect_fork_failure(ENOMEM);
}

// In a child whose output is captured: a line buffered (not yet written)
// in a fully buffered stream, then mp_conn_fork and the child's end.
static int
buffered_line_then_fork(void *arg)
{
    (void)arg;
    FILE *f = fdopen(dup(STDOUT_FILENO), "w");
    if (f == NULL || setvbuf(f, NULL, _IOFBF, 4096) != 0)
        return 2;
    fputs("buffered before the fork\n", f);
    mp_conn *a, *b;
    if (mp_pipe(0, &a, &b) != 0)
        return 3;
    pid_t pid = mp_conn_fork(a, b, do_nothing, NULL);
    if (pid > 0)
        fl_reap_code(pid);
    mp_conn_close(a);
    fclose(f);
    return pid > 0 ? 0 : 1;
}

FL_TEST(test_mp_conn_fork_prints_output_buffered_before_it_once)
{
    fl_child res;
    fl_run_in_child(buffered_line_then_fork, NULL, 3000, 1, &res);
    ck_assert_msg(res.returned && res.value == 0,
                  "a process that buffered a line and called mp_conn_fork "
                  "%s",
                  !res.returned ? "did not return" : "saw mp_conn_fork fail");
    int times = 0;
    for (const char *p = res.out; (p = strstr(p, "buffered before")); p++)
        times++;
    ck_assert_msg(times == 1,
                  "a line buffered in a stdio stream before mp_conn_fork "
                  "came out %d times; expected once. fork() copies the "
                  "unwritten buffer into the child, which writes it again "
                  "when it flushes: fflush(NULL) before fork().",
                  times);
}

FL_TEST(test_mp_conn_fork_rejects_null_arguments)
{
    mp_conn *a, *b;
    pair(1, &a, &b);
    pid_t r[4] = {mp_conn_fork(NULL, b, do_nothing, NULL),
                  mp_conn_fork(a, NULL, do_nothing, NULL),
                  mp_conn_fork(a, b, NULL, NULL),
                  mp_conn_fork(a, a, do_nothing, NULL)};
    for (int i = 0; i < 4; i++)
        if (r[i] > 0)
            fl_reap_code(r[i]);
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(r[0] == -EINVAL && r[1] == -EINVAL && r[2] == -EINVAL &&
                      r[3] == -EINVAL,
                  "mp_conn_fork with a NULL keep, a NULL give, a NULL "
                  "target, and keep == give returned %s, %s, %s, %s; "
                  "expected -EINVAL each time, before forking",
                  fl_ret(r[0]), fl_ret(r[1]), fl_ret(r[2]), fl_ret(r[3]));
}

/* ----------------------------------------------------- mp_conn_close */

FL_TEST(test_mp_conn_close_releases_the_descriptor)
{
    mp_conn *a, *b;
    pair(1, &a, &b);
    int fd = fd_of(a);
    int r = mp_conn_close(a);
    int still_open = fcntl(fd, F_GETFD) >= 0;
    mp_conn_close(b);
    int null = mp_conn_close(NULL);
    ck_assert_msg(r == 0 && !still_open,
                  "mp_conn_close returned %s and descriptor %d is %s; "
                  "expected 0 and closed",
                  fl_ret(r), fd, still_open ? "still open" : "closed");
    fl_expect_int(null, 0, "mp_conn_close(NULL)",
                  "like free(NULL), closing nothing does nothing");
    fl_expect_int(mp_conn_fileno(NULL), -EINVAL, "mp_conn_fileno(NULL)",
                  "a NULL end has no descriptor: -EINVAL, not -1 (which "
                  "reads as -EPERM)");
}

FL_TEST(test_mp_conn_close_frees_the_handle_even_when_close_fails)
{
    fl_snapshot s;
    fl_snapshot_take(&s);
    mp_conn *a, *b;
    pair(0, &a, &b);
    int fd = fd_of(a);
    fl_fault_reset();
    fl_fault_fail("close", 1, EIO);
    int r = mp_conn_close(a);
    fl_fault_reset();
    close(fd); // the failed close() did not run: close it for the test
    mp_conn_close(b);
    fl_expect_int(r, -EIO, "mp_conn_close with close() failing with EIO",
                  "return minus close's errno");
    fl_expect_no_leak(&s, "mp_conn_close with close() failing with EIO "
                          "(free the handle whatever close() says: the "
                          "caller cannot use it again)");
    // Linux releases the descriptor even when close() fails with EINTR:
    // a second close() would close whatever took its number meanwhile.
    pair(0, &a, &b);
    fd = fd_of(a);
    fl_fault_reset();
    fl_fault_fail("close", 1, EINTR);
    r = mp_conn_close(a);
    int calls = (int)fl_fault_calls("close");
    fl_fault_reset();
    close(fd);
    mp_conn_close(b);
    ck_assert_msg(r == -EINTR && calls == 1,
                  "mp_conn_close with close() failing with EINTR returned "
                  "%s after %d calls of close(); expected -EINTR after one. "
                  "Never call close() again on the same descriptor: it is "
                  "released even when close() fails, EINTR included, and "
                  "its number may already be another file's.",
                  fl_ret(r), calls);
}

static volatile sig_atomic_t sigpipe_caught;

static void
note_sigpipe(int sig)
{
    (void)sig;
    sigpipe_caught = 1;
}

// In a child: a caller with a handler for SIGPIPE (not blocked) sends to
// a pipe whose reader is open; a SIGPIPE comes (from another process, say)
// right before the writev, while mp_send_bytes has SIGPIPE blocked.  The
// write succeeds: that SIGPIPE is the caller's, and its handler runs once
// the old mask is back.  0 if it ran; 2: the send failed; 7: it was taken.
static int
sigpipe_during_a_good_send(void *arg)
{
    mp_conn *b = arg;
    struct sigaction sa = {.sa_handler = note_sigpipe};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    sigpipe_caught = 0;
    fl_fault_reset();
    fl_fault_signal_before("writev", 1, SIGPIPE);
    fl_fault_signal_before("write", 1, SIGPIPE);
    int r = mp_send_bytes(b, "x", 1);
    fl_fault_reset();
    if (r != 0)
        return 2;
    return sigpipe_caught ? 0 : 7;
}

// In a child: a caller with SIGPIPE blocked, a handler, and one SIGPIPE
// of its own pending, sends to a pipe whose reader has closed.  0 if
// SIGPIPE is still blocked and pending, unhandled; 2: no EPIPE; 5: the
// handler ran (unblocked); 6: left blocked but no longer pending.
static int
blocked_sigpipe_after_epipe(void *arg)
{
    mp_conn *b = arg;
    struct sigaction sa = {.sa_handler = note_sigpipe}, now;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    sigset_t pipe_set, mask, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_set, NULL);
    raise(SIGPIPE); // the caller's own, pending
    int r = mp_send_bytes(b, "x", 1);
    sigprocmask(SIG_BLOCK, NULL, &mask);
    sigpending(&pending);
    sigaction(SIGPIPE, NULL, &now);
    if (r != -EPIPE)
        return 2;
    if (sigpipe_caught || !sigismember(&mask, SIGPIPE))
        return 5;
    return sigismember(&pending, SIGPIPE) ? 0 : 6;
}

FL_TEST(test_mp_send_bytes_leaves_a_blocked_pending_sigpipe_alone)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    mp_conn_close(a);
    fl_child res;
    fl_run_in_child(blocked_sigpipe_after_epipe, b, 3000, 0, &res);
    mp_conn_close(b);
    ck_assert_msg(
        res.returned && res.value == 0,
        "a program that had SIGPIPE blocked, and one SIGPIPE of "
        "its own pending, called mp_send_bytes on a pipe whose "
        "reader had closed. After the call SIGPIPE should still "
        "be blocked and pending; instead %s.",
        !res.returned    ? "the process died"
        : res.value == 2 ? "mp_send_bytes did not return -EPIPE"
        : res.value == 5 ? "it was unblocked and its handler ran: put back "
                           "the old mask (SIG_SETMASK), do not SIG_UNBLOCK"
        : res.value == 6 ? "the pending one was taken: it was pending before "
                           "the write (sigpending), so it is not yours to "
                           "take with sigtimedwait"
                         : "?");
    // A send that succeeds raised no SIGPIPE: one that came meanwhile is
    // the caller's, to be handled once the old mask is back.
    pair(0, &a, &b);
    fl_run_in_child(sigpipe_during_a_good_send, b, 3000, 0, &res);
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(
        res.returned && res.value == 0,
        "a program with a handler for SIGPIPE called mp_send_bytes on a "
        "pipe whose reader was open, and a SIGPIPE came (from another "
        "process) while the call had SIGPIPE blocked: %s.",
        !res.returned    ? "the process died"
        : res.value == 2 ? "mp_send_bytes failed"
        : res.value == 7 ? "its handler never ran: mp_send_bytes took that "
                           "SIGPIPE with sigtimedwait though its write "
                           "succeeded. Take one only when the write failed "
                           "with EPIPE (the kernel raised it then), and none "
                           "was pending before"
                         : "?");
}

// In the child of mp_conn_fork: print without flushing.
// arg is a second stream on the same pipe as stdout.
static int
print_unflushed(mp_conn *conn, void *arg)
{
    (void)conn;
    fputs("printed by the child\n", stdout); // a pipe: fully buffered
    fputs("and on another stream\n", arg);
    return 0;
}

static int
fork_a_printing_child(void *arg)
{
    (void)arg;
    mp_conn *a, *b;
    FILE *other = fdopen(dup(1), "w");
    if (other == NULL || mp_pipe(0, &a, &b) != 0)
        return 3;
    pid_t pid = mp_conn_fork(a, b, print_unflushed, other);
    int code = pid > 0 ? fl_reap_code(pid) : -1;
    mp_conn_close(a);
    fclose(other);
    return pid > 0 && code == 0 ? 0 : 1;
}

FL_TEST(test_mp_conn_fork_child_flushes_what_the_target_printed)
{
    fl_child res;
    fl_run_in_child(fork_a_printing_child, NULL, 3000, 1, &res);
    ck_assert_msg(res.returned && res.value == 0,
                  "a process whose mp_conn_fork child prints %s",
                  !res.returned ? "did not return"
                                : "saw mp_conn_fork or its child fail");
    ck_assert_msg(strstr(res.out, "printed by the child") != NULL,
                  "the child's target printed a line to stdout (a pipe, so "
                  "fully buffered) and returned; the output was \"%s\". "
                  "_exit() throws away what stdio still holds: the child "
                  "must fflush(NULL) before _exit().",
                  res.out);
    ck_assert_msg(strstr(res.out, "and on another stream") != NULL,
                  "the child's target printed a line to stdout and one to "
                  "another stdio stream; the output was \"%s\", without the "
                  "second. fflush(stdout) flushes one stream: fflush(NULL) "
                  "flushes every stream before _exit().",
                  res.out);
}

static volatile sig_atomic_t sigusr1_caught;

static void
note_sigusr1(int sig)
{
    (void)sig;
    sigusr1_caught = 1;
}

// In a child: a caller with SIGUSR1 blocked, a handler, and one SIGUSR1
// pending sends a message.  0 if SIGUSR1 stayed blocked throughout; 2 if
// the send failed; 3 if the handler ran.
static int
send_with_sigusr1_blocked(void *arg)
{
    (void)arg;
    mp_conn *a, *b;
    if (mp_pipe(0, &a, &b) != 0)
        return 2;
    struct sigaction sa = {.sa_handler = note_sigusr1};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    raise(SIGUSR1); // pending until the caller unblocks it
    int r = mp_send_bytes(b, "x", 1);
    int caught = sigusr1_caught;
    mp_conn_close(a);
    mp_conn_close(b);
    return r != 0 ? 2 : caught ? 3 : 0;
}

FL_TEST(test_mp_send_bytes_keeps_the_callers_blocked_signals_blocked)
{
    fl_child res;
    fl_run_in_child(send_with_sigusr1_blocked, NULL, 3000, 0, &res);
    ck_assert_msg(res.returned && res.value == 0,
                  "a program that had SIGUSR1 blocked, with one pending, "
                  "called mp_send_bytes on a pipe; %s",
                  !res.returned ? "the process died"
                  : res.value == 2
                      ? "the send failed"
                      : "SIGUSR1's handler ran during the call: the mask "
                        "was replaced by one that holds SIGPIPE alone. Add "
                        "SIGPIPE to the caller's mask (SIG_BLOCK), do not "
                        "set it (SIG_SETMASK).");
}

FL_TEST(test_mp_poll_keeps_its_deadline_when_the_wall_clock_jumps)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    struct poll_result *res = mmap(NULL, sizeof *res, PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(res != MAP_FAILED, "mmap failed");
    *res = (struct poll_result){a, 100, 0, -1000, -1, 1};
    fl_child child;
    fl_run_in_child(poll_child, res, 3000, 0, &child);
    struct poll_result got = *res;
    munmap(res, sizeof *res);
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(child.returned && got.r == 0 && got.ms >= 90,
                  "mp_poll(a, 100) on a pipe where nothing comes, its first "
                  "poll() interrupted (EINTR) and the wall clock an hour "
                  "ahead from then on, returned %s after %lld ms; expected "
                  "0 after about 100 ms: the deadline is on "
                  "CLOCK_REALTIME, which jumps; measure it on "
                  "CLOCK_MONOTONIC",
                  child.returned ? fl_ret(got.r) : "nothing", got.ms);
}

// The child of the late-signal test: mp_poll(a, 300) whose first poll()
// fails with EINTR as if it had blocked for 1 s (every later read of
// CLOCK_MONOTONIC by the lesson's code is 1 s on): its deadline has
// passed, so it must return 0 at once, without sleeping again.  A byte
// into done[1] right before the call, and one as soon as it returns
// (before the process's exit, which the sanitizer's leak check makes
// slow).  0: returned 0 without a sleep; 1: not 0; 3: it slept again.
struct late_poll {
    mp_conn *a;
    int done[2];
};

static int
poll_eintr_late(void *arg)
{
    struct late_poll *lp = arg;
    close(lp->done[0]);
    if (write(lp->done[1], "s", 1) < 0)
        return 2;
    fl_fault_reset();
    fl_fault_eintr_late("poll", 1, 1000);
    long slept = fl_proc_sleeps(getpid());
    int r = mp_poll(lp->a, 300);
    // A sleep is a voluntary context switch: one more, it slept again.
    int again = fl_proc_sleeps(getpid()) != slept;
    fl_fault_reset();
    if (write(lp->done[1], "r", 1) < 0)
        return 2;
    return r != 0 ? 1 : again ? 3 : 0;
}

FL_TEST(test_mp_poll_returns_when_a_signal_comes_after_its_deadline)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    struct late_poll lp = {a, {-1, -1}};
    ck_assert(pipe(lp.done) == 0);
    pid_t pid = fl_raw_start(poll_eintr_late, &lp);
    close(lp.done[1]);
    // The signal comes after the deadline, exactly: the wait is over,
    // whatever the load (an earlier version stopped the child in its
    // poll with SIGSTOP, which a loaded machine could miss).
    char ready = 0;
    if (fl_readable_within(lp.done[0], 10000) &&
        read(lp.done[0], &ready, 1) != 1)
        ready = 0;
    ck_assert_msg(ready == 's', "the child did not reach mp_poll in 10 s");
    int ended = fl_readable_within(lp.done[0], 2000);
    if (!ended)
        kill(pid, SIGKILL);
    int code = fl_reap_code(pid);
    close(lp.done[0]);
    mp_conn_close(a);
    mp_conn_close(b);
    ck_assert_msg(ended,
                  "mp_poll(a, 300), interrupted by a signal (EINTR) after "
                  "its deadline had passed, was still waiting 2 s later: "
                  "the time left was below 0, and poll() takes a negative "
                  "timeout for 'wait for ever'. Clamp the time left at 0");
    ck_assert_msg(code != 3,
                  "mp_poll(a, 300), interrupted by a signal (EINTR) after "
                  "its deadline had passed, went back to sleep in poll() "
                  "instead of returning 0 at once: it found time left. Keep "
                  "one deadline, taken before the first poll(), and the time "
                  "left as deadline minus now on CLOCK_MONOTONIC: clock() "
                  "and the CPU-time clocks do not move while the process "
                  "sleeps");
    ck_assert_msg(code == 0,
                  "mp_poll(a, 300) on a pipe where nothing comes, "
                  "interrupted after its deadline, did not return 0 (the "
                  "child's code %d)",
                  code);
}

// In a child: a program that has SIGPIPE blocked, none pending, sends to
// a pipe whose reader has closed.  0: -EPIPE, still blocked, and the
// SIGPIPE the write raised taken; 2: not -EPIPE; 5: the handler ran or
// SIGPIPE was unblocked; 6: a SIGPIPE left pending.
static int
blocked_sigpipe_none_pending(void *arg)
{
    mp_conn *b = arg;
    struct sigaction sa = {.sa_handler = note_sigpipe};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    sigset_t pipe_set, mask, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_set, NULL);
    int r = mp_send_bytes(b, "x", 1);
    sigprocmask(SIG_BLOCK, NULL, &mask);
    sigpending(&pending);
    if (r != -EPIPE)
        return 2;
    if (sigpipe_caught || !sigismember(&mask, SIGPIPE))
        return 5;
    return sigismember(&pending, SIGPIPE) ? 6 : 0;
}

FL_TEST(test_mp_send_bytes_takes_its_sigpipe_when_sigpipe_is_blocked)
{
    mp_conn *a, *b;
    pair(0, &a, &b);
    mp_conn_close(a);
    fl_child res;
    fl_run_in_child(blocked_sigpipe_none_pending, b, 3000, 0, &res);
    mp_conn_close(b);
    ck_assert_msg(res.returned && res.value == 0,
                  "a program that had SIGPIPE blocked, none pending, called "
                  "mp_send_bytes on a pipe whose reader had closed. After "
                  "the call SIGPIPE should be blocked and not pending; "
                  "instead %s.",
                  !res.returned    ? "the process died"
                  : res.value == 2 ? "mp_send_bytes did not return -EPIPE"
                  : res.value == 5 ? "its handler ran, or it was unblocked"
                  : res.value == 6
                      ? "the SIGPIPE the write raised was left pending: "
                        "take it unless one was PENDING before the write "
                        "(sigpending), not merely blocked (the old mask)"
                      : "?");
}

static const fl_case cases[] = {
    FL_CASE(test_mp_pipe_duplex_carries_the_classic_messages_both_ways, 5),
    FL_CASE(test_mp_pipe_one_way_carries_messages_from_b_to_a, 5),
    FL_CASE(test_mp_pipe_one_way_refuses_the_wrong_direction, 5),
    FL_CASE(test_mp_pipe_rejects_null_pointers, 5),
    FL_CASE(test_mp_pipe_gives_emfile_when_out_of_descriptors, 5),
    FL_CASE(test_mp_send_bytes_frames_each_message_with_its_length, 5),
    FL_CASE(test_mp_recv_bytes_keeps_message_boundaries, 5),
    FL_CASE(test_mp_recv_bytes_takes_a_message_that_fills_the_buffer, 5),
    FL_CASE(test_mp_recv_bytes_reads_a_1_mib_message_whole, 5),
    FL_CASE(test_mp_send_bytes_writes_a_1_mib_message_whole, 5),
    FL_CASE(test_mp_recv_bytes_retries_when_a_signal_interrupts, 5),
    FL_CASE(test_mp_send_bytes_finishes_when_a_signal_interrupts, 5),
    FL_CASE(test_mp_send_bytes_gives_epipe_when_the_reader_has_closed, 5),
    FL_CASE(test_mp_send_bytes_gives_epipe_when_the_duplex_peer_has_closed, 5),
    FL_CASE(test_mp_send_bytes_leaves_sigpipe_as_it_found_it, 5),
    FL_CASE(test_mp_recv_bytes_reports_a_truncated_message, 5),
    FL_CASE(test_mp_recv_bytes_reports_a_truncated_message_too_big_to_fit, 5),
    FL_CASE(test_mp_recv_bytes_reports_a_truncated_header, 5),
    FL_CASE(test_mp_recv_bytes_rejects_a_frame_with_a_bad_length, 5),
    FL_CASE(test_mp_recv_bytes_returns_0_at_eof, 5),
    FL_CASE(test_mp_recv_bytes_skips_a_message_too_big_for_the_buffer, 5),
    FL_CASE(test_mp_send_bytes_rejects_an_empty_or_oversized_message, 5),
    FL_CASE(test_mp_recv_bytes_rejects_null_arguments, 5),
    FL_CASE(test_mp_send_bytes_writes_header_and_message_at_once, 5),
    FL_CASE(test_mp_send_bytes_keeps_small_frames_whole_with_several_writers,
            10),
    FL_CASE(test_mp_send_bytes_streams_1_mib_messages_near_pipe_speed, 15),
    FL_CASE(test_mp_poll_returns_0_when_the_timeout_expires, 5),
    FL_CASE(test_mp_poll_keeps_its_deadline_when_signals_interrupt, 5),
    FL_CASE(test_mp_poll_keeps_its_deadline_when_the_wall_clock_jumps, 5),
    FL_CASE(test_mp_poll_returns_when_a_signal_comes_after_its_deadline, 5),
    FL_CASE(test_mp_send_bytes_takes_its_sigpipe_when_sigpipe_is_blocked, 5),
    FL_CASE(test_mp_poll_returns_1_when_a_message_is_waiting, 5),
    FL_CASE(test_mp_poll_sees_no_eof_while_a_copy_of_the_write_end_is_open, 10),
    FL_CASE(test_mp_conn_fork_runs_the_target_with_the_childs_end, 5),
    FL_CASE(test_mp_conn_fork_closes_the_childs_end_in_the_parent, 5),
    FL_CASE(test_mp_conn_fork_closes_the_parents_end_in_the_child, 5),
    FL_CASE(test_mp_conn_fork_rejects_null_arguments, 5),
    FL_CASE(test_mp_conn_close_releases_the_descriptor, 5),
    FL_CASE(test_mp_pipe_leaks_nothing_when_any_call_it_makes_fails, 10),
    FL_CASE(test_mp_recv_bytes_takes_a_frame_whole_from_short_and_eintr_reads,
            10),
    FL_CASE(test_mp_recv_bytes_and_mp_poll_give_the_errno_of_a_failed_call, 5),
    FL_CASE(test_mp_poll_waits_for_ever_under_a_signal_storm, 5),
    FL_CASE(
        test_mp_send_bytes_sends_a_frame_whole_through_short_and_eintr_writes,
        10),
    FL_CASE(test_mp_send_bytes_takes_its_sigpipe_even_when_a_signal_interrupts,
            5),
    FL_CASE(test_mp_send_bytes_accepts_a_message_of_exactly_mp_msg_max_bytes,
            5),
    FL_CASE(test_mp_conn_fork_leaves_both_ends_open_when_fork_fails, 5),
    FL_CASE(test_mp_conn_fork_prints_output_buffered_before_it_once, 5),
    FL_CASE(test_mp_conn_close_frees_the_handle_even_when_close_fails, 5),
    FL_CASE(test_mp_send_bytes_leaves_a_blocked_pending_sigpipe_alone, 5),
    FL_CASE(test_mp_conn_fork_child_flushes_what_the_target_printed, 5),
    FL_CASE(test_mp_send_bytes_keeps_the_callers_blocked_signals_blocked, 5),
};

FL_MAIN("04_pipes", cases)
