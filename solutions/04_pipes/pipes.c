// pipes.c - lesson 04: whole messages over pipe() and socketpair().
//
// Your task: make the functions below work as pipes.h describes.  Start
// with the helpers: each short read, short write and EINTR is handled in
// them, once.  Read lessons/04_pipes/README.md first; `make check L=04`
// tests your code, `make hint L=04` gives one more hint each time you run it.
#include "pipes.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

// One end of a pipe.  Add fields if you need them.
struct mp_conn {
    int fd;     // the pipe's end, or this side of the socketpair
    int socket; // 1 for a socketpair end: sendmsg() it with MSG_NOSIGNAL
};

/* ------------------------------------------------------------- helpers */

// Milliseconds on a clock that never jumps (given: not part of the task).
static long long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

// Read len bytes from fd into buf, unless EOF comes first.
// Returns how many were read (fewer than len only at EOF), or -errno.
static ssize_t
read_full(int fd, void *buf, size_t len)
{
    // TODO(04): call read() until len bytes are in.  One read returns what
    // is there, often less than asked (a pipe holds 64 KiB, a message may
    // be 1 MiB); 0 means EOF: stop and return the count so far.  -1 with
    // errno EINTR means a signal handler ran: read again.  Any other
    // failure: return -errno.
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

// Write all the bytes that iov[0..cnt) describes to c's descriptor.
// Returns 0, or -errno.  May change iov.
static int
write_full(mp_conn *c, struct iovec *iov, int cnt)
{
    // TODO(04): call writev() until every byte has gone.  A write may take
    // fewer bytes than offered (a signal arrived while the pipe was full):
    // step over what went (whole iovecs, then part of one) and write the
    // rest.  EINTR: write again.  Any other failure: return -errno.  To a
    // socket, use sendmsg() with MSG_NOSIGNAL instead, so that a closed
    // peer gives EPIPE rather than a SIGPIPE (a pipe has no such flag).
    while (cnt > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
        ssize_t n = c->socket ? sendmsg(c->fd, &m, MSG_NOSIGNAL)
                              : writev(c->fd, iov, cnt);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        for (; cnt > 0 && (size_t)n >= iov->iov_len; iov++, cnt--)
            n -= (ssize_t)iov->iov_len;
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

// write_full to a pipe, with SIGPIPE kept from killing the process.
static int
write_pipe(mp_conn *c, struct iovec *iov, int cnt)
{
    // TODO(04): block SIGPIPE in this thread with pthread_sigmask
    // (SIG_BLOCK, keep the old mask), and ask sigpending whether one was
    // already pending: that one is not ours to take.  Then write_full.  On
    // -EPIPE the kernel also raised SIGPIPE, now pending: take it with
    // sigtimedwait and a zero timeout, or it strikes the moment the old
    // mask is back.  Restore the old mask.  Never change SIGPIPE's
    // disposition (signal, sigaction): it belongs to the caller.
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    int e = pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    if (e != 0)
        return -e;
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    int r = write_full(c, iov, cnt);
    if (r == -EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

// Read len bytes from fd and throw them away: a message too long for the
// caller's buffer.  Returns -EMSGSIZE once they are gone, -EPROTO if EOF
// comes first, or -errno.
static ssize_t
skip(int fd, size_t len)
{
    // TODO(04): read_full into a small buffer on the stack until len
    // bytes have gone.  Fewer than asked means EOF mid-message: -EPROTO.
    char sink[4096];
    while (len > 0) {
        size_t chunk = len < sizeof sink ? len : sizeof sink;
        ssize_t n = read_full(fd, sink, chunk);
        if (n < 0)
            return n;
        if ((size_t)n < chunk)
            return -EPROTO;
        len -= chunk;
    }
    return -EMSGSIZE;
}

/* ------------------------------------------------------------- the API */

int
mp_pipe(int duplex, mp_conn **a, mp_conn **b)
{
    // TODO(04): reject a NULL a or b with -EINVAL.
    if (a == NULL || b == NULL)
        return -EINVAL;
    // TODO(04): allocate both handles (malloc), then make the descriptors.
    // Duplex: socketpair(AF_UNIX, SOCK_STREAM, 0, fds), each end reads and
    // writes.  One-way: pipe(fds); fds[0] only reads and goes to *a,
    // fds[1] only writes and goes to *b, as in Python.  On any failure
    // undo what was done, in reverse order (one fail: label), and return
    // -errno (-ENOMEM when malloc fails); set *a and *b only on success.
    int fds[2], err = -ENOMEM;
    mp_conn *x = malloc(sizeof *x);
    mp_conn *y = malloc(sizeof *y);
    if (x == NULL || y == NULL)
        goto fail;
    int r = duplex ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds) : pipe(fds);
    if (r < 0) {
        err = -errno;
        goto fail;
    }
    *x = (mp_conn){.fd = fds[0], .socket = duplex != 0};
    *y = (mp_conn){.fd = fds[1], .socket = duplex != 0};
    *a = x;
    *b = y;
    return 0;
fail:
    free(y);
    free(x);
    return err;
}

int
mp_send_bytes(mp_conn *conn, const void *buf, size_t len)
{
    // TODO(04): reject a NULL conn or buf, and len 0, with -EINVAL (an
    // empty message would read as EOF); len over MP_MSG_MAX: -EMSGSIZE.
    if (conn == NULL || buf == NULL || len == 0)
        return -EINVAL;
    if (len > MP_MSG_MAX)
        return -EMSGSIZE;
    // TODO(04): the header is len in MP_FRAME_HEADER bytes, most
    // significant first.  Send header and message with ONE writev of two
    // iovecs: no copy of the message, one system call, and a frame of at
    // most PIPE_BUF bytes stays whole when several processes write to the
    // same pipe (two writes would let another frame in between).  A pipe
    // needs write_pipe (SIGPIPE); a socket can use write_full.
    unsigned char head[MP_FRAME_HEADER] = {
        (unsigned char)(len >> 24), (unsigned char)(len >> 16),
        (unsigned char)(len >> 8), (unsigned char)len};
    struct iovec iov[2] = {{head, sizeof head}, {(void *)buf, len}};
    return conn->socket ? write_full(conn, iov, 2) : write_pipe(conn, iov, 2);
}

ssize_t
mp_recv_bytes(mp_conn *conn, void *buf, size_t cap)
{
    // TODO(04): reject a NULL conn or buf with -EINVAL.
    if (conn == NULL || buf == NULL)
        return -EINVAL;
    // TODO(04): read_full the header.  No byte at all: EOF between
    // messages, return 0.  Some but not all: the sender died mid-frame,
    // -EPROTO.  A length of 0 or over MP_MSG_MAX is no frame: -EPROTO.
    unsigned char head[MP_FRAME_HEADER];
    ssize_t n = read_full(conn->fd, head, sizeof head);
    if (n <= 0)
        return n;
    if (n < (ssize_t)sizeof head)
        return -EPROTO;
    size_t len = (size_t)head[0] << 24 | (size_t)head[1] << 16 |
                 (size_t)head[2] << 8 | (size_t)head[3];
    if (len == 0 || len > MP_MSG_MAX)
        return -EPROTO;
    // TODO(04): longer than cap: skip it, so that the next call starts at
    // the next header, and return -EMSGSIZE.
    if (len > cap)
        return skip(conn->fd, len);
    // TODO(04): read_full the message straight into buf (no copy through
    // a buffer of yours).  Fewer than len bytes: the sender closed in the
    // middle; that is -EPROTO, never a short message.
    n = read_full(conn->fd, buf, len);
    if (n < 0)
        return n;
    return (size_t)n == len ? n : -EPROTO;
}

int
mp_poll(mp_conn *conn, int timeout_ms)
{
    // TODO(04): reject a NULL conn, or timeout_ms below -1, with -EINVAL.
    if (conn == NULL || timeout_ms < -1)
        return -EINVAL;
    // TODO(04): poll() the descriptor for POLLIN with the timeout; return
    // 1 for any event (POLLHUP: the sender closed, recv returns 0 at
    // once), 0 when it timed out.  On EINTR poll again, for the time LEFT
    // until a deadline taken from now_ms() before the first poll: with the
    // full timeout each time, the wait never ends while signals keep coming.
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        struct pollfd p = {.fd = conn->fd, .events = POLLIN};
        int n = poll(&p, 1, timeout_ms);
        if (n >= 0)
            return n > 0;
        if (errno != EINTR)
            return -errno;
        if (timeout_ms > 0) {
            long long left = deadline - now_ms();
            timeout_ms = left > 0 ? (int)left : 0;
        }
    }
}

int
mp_conn_fileno(mp_conn *conn)
{
    // TODO(04): the descriptor, or -EINVAL for a NULL conn.
    if (conn == NULL)
        return -EINVAL;
    return conn->fd;
}

int
mp_conn_close(mp_conn *conn)
{
    // TODO(04): NULL: nothing to do, return 0.  Else close the descriptor
    // and free the handle, even when close() fails (the descriptor is gone
    // anyway: never call close() twice on it); return -errno on failure.
    if (conn == NULL)
        return 0;
    int r = close(conn->fd);
    int err = errno;
    free(conn);
    return r < 0 ? -err : 0;
}

pid_t
mp_conn_fork(mp_conn *keep, mp_conn *give, mp_conn_target target, void *arg)
{
    // TODO(04): reject a NULL keep, give or target, and keep == give, with
    // -EINVAL, before forking.
    if (keep == NULL || give == NULL || target == NULL || keep == give)
        return -EINVAL;
    // TODO(04): fflush(NULL), then fork().  -1: return -errno.
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        // TODO(04): in the child, close keep first: the child's copy of the
        // parent's end would keep it open, so the child would never see
        // EOF when the parent closes.  Run target(give, arg), close give,
        // flush stdio, end with _exit(status).
        mp_conn_close(keep);
        int status = target(give, arg);
        mp_conn_close(give);
        fflush(NULL);
        _exit(status);
    }
    // TODO(04): in the parent, close give: while the parent holds a copy of
    // the child's end, it never sees EOF once the child is done.  Return
    // the child's pid.
    mp_conn_close(give);
    return pid;
}
