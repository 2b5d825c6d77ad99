// managers.c - lesson 11: a manager's server process, and its proxies.
//
// Your task: make the functions below work as managers.h describes.  The
// parts marked "given" are written for you: lesson 04's loops for whole
// reads and writes, the encoding of values, the server's dict and list,
// Python's repr of floats and strings, most of the proxy calls, and the
// HMAC itself (OpenSSL's libcrypto: no cryptography is yours to write; the
// handshake around it is).  Read
// lessons/11_managers/README.md first; `make check L=11` tests your code,
// `make hint L=11` gives one more hint each time you run it.
#define _DEFAULT_SOURCE // syscall(), for pidfd_open, is not in POSIX
#include "managers.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 // the same number on every architecture
#endif

#define MAX_CLIENTS 64 // connections the server serves at once
#define STATUS_SIZE 9  // bytes of the status at the head of a reply
#define PATH_CAP sizeof(((struct sockaddr_un *)NULL)->sun_path)

struct mp_manager {
    pid_t pid;                         // the server process, a child
    char path[PATH_CAP];               // the server's socket
    unsigned char key[MP_AUTHKEY_MAX]; // the server's authkey, for shutdown
    size_t keylen;
};

struct mp_proxy {
    int fd;                                  // connected to the server
    unsigned char reply[MP_MANAGER_MSG_MAX]; // the last reply's body
};

/* ------------------------------------------- given: lesson 04's loops */

// Milliseconds on a clock that never jumps.
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

// Send every byte that iov[0..cnt) describes on socket fd, with
// sendmsg(fd, ..., flags).  Returns 0, or -errno.  May change iov.
static int
send_full(int fd, struct iovec *iov, int cnt, int flags)
{
    while (cnt > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
        ssize_t n = sendmsg(fd, &m, flags);
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

// Wait until fd is readable, for at most timeout_ms (-1: for ever).
// Returns 1, 0 when the time is up, or -errno.  After EINTR it waits for
// the time left, not the whole timeout again.
static int
wait_readable(int fd, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
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

/* -------------------------------------------------------------- frames */

// Send one frame on socket fd: the body's length in MP_FRAME_HEADER
// bytes, big-endian, then the body.  Returns 0, or -errno (-EPIPE: the
// peer has gone).
static int
send_frame(int fd, const void *body, size_t len)
{
    // TODO(11): the header is len, most significant byte first.  Send
    // header and body with ONE send_full of two iovecs, with the flag
    // MSG_NOSIGNAL: when the peer has gone, send then fails with EPIPE;
    // without the flag the kernel first kills this process with SIGPIPE
    // (a client whose server died, or the server, when a client dies).
    (void)fd;
    (void)body;
    (void)len;
    (void)send_full; // use this helper, then delete this line
    return -ENOSYS;
}

// Receive one frame's body from fd into buf.  Returns the body's length
// (> 0), 0 at EOF before a frame, or -errno: -EMSGSIZE when the header
// announces more than cap bytes (the body is left unread), -EPROTO for a
// length of 0 or a frame cut short.
static ssize_t
recv_frame(int fd, void *buf, size_t cap)
{
    // TODO(11): read_full the header.  Nothing at all: EOF, return 0.
    // Part of it: the peer closed mid-frame, -EPROTO.
    // TODO(11): decode the length.  Over cap: return -EMSGSIZE at once,
    // WITHOUT reading the body (never trust a length a peer announces: a
    // server would block for, or overflow with, 2 GiB).  0: -EPROTO.
    // TODO(11): read_full exactly len bytes into buf.  A stream socket
    // keeps no boundaries: one read() may return half a request, or two
    // requests at once.  Fewer than len bytes: -EPROTO.
    (void)fd;
    (void)buf;
    (void)cap;
    (void)read_full; // use this helper, then delete this line
    return -ENOSYS;
}

/* ------------------------------------------------------ authentication */

// This process's authkey, Python's current_process().authkey.  A fork
// child gets a copy of it, as a Python child inherits its parent's.
static unsigned char authkey[MP_AUTHKEY_MAX];
static size_t authkey_len; // 0: none made yet

// Fill buf with len random bytes from the kernel.  Returns 0, or -errno.
static int
fill_random(void *buf, size_t len)
{
    // TODO(11): getrandom(2) until len bytes have come (EINTR: again).
    // Never rand(), time() or a buffer made once and kept: a challenge an
    // eavesdropper has seen answered before can be answered again by
    // replaying the answer.
    (void)buf;
    (void)len;
    return -ENOSYS;
}

// Make this process's random authkey unless it has one.
static int
make_authkey(void)
{
    if (authkey_len > 0)
        return 0;
    int r = fill_random(authkey, MP_AUTHKEY_LEN);
    if (r == 0)
        authkey_len = MP_AUTHKEY_LEN;
    return r;
}

int
mp_set_authkey(const void *key, size_t len)
{
    // TODO(11): refuse a NULL key, an empty one or one over MP_AUTHKEY_MAX
    // with -EINVAL; else copy it into authkey.
    (void)key;
    (void)len;
    return -ENOSYS;
}

int
mp_get_authkey(void *buf, size_t size)
{
    // TODO(11): refuse a NULL buf (-EINVAL); make_authkey(); a key longer
    // than size: -ERANGE; else copy it and return its length.
    (void)buf;
    (void)size;
    (void)make_authkey; // use this helper, then delete this line
    return -ENOSYS;
}

// The HMAC of msg[0..len) under key with md (EVP_sha256() or EVP_md5()),
// into out; returns the digest's length, or -EPROTO.  OpenSSL's: HMAC is
// no code to write yourself.
static int
hmac(const EVP_MD *md, const void *key, size_t keylen, const unsigned char *msg,
     size_t len, unsigned char *out)
{
    unsigned int n = 0;
    if (HMAC(md, key, (int)keylen, msg, len, out, &n) == NULL)
        return -EPROTO;
    return (int)n;
}

// Whether the arguments of a handshake call are valid.
static int
auth_args_ok(int fd, const void *key, size_t keylen, int timeout_ms)
{
    return fd >= 0 && key != NULL && keylen > 0 && keylen <= MP_AUTHKEY_MAX &&
           timeout_ms >= -1;
}

// The deadline for timeout_ms from now, on CLOCK_MONOTONIC; -1: none.
static long long
deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

// Read len bytes from fd by deadline (-1: none).  Returns how many
// (fewer only at EOF), -ETIMEDOUT, or -errno.
static ssize_t
read_by(int fd, void *buf, size_t len, long long deadline)
{
    // TODO(11): for each read, first wait_readable for the time left
    // until the deadline (-1: for ever; past it: 0, never a negative
    // number, which poll() takes as "for ever").  Nothing by then:
    // -ETIMEDOUT.  read() failing with EINTR: again, against the same
    // deadline.  A plain read() would let a client that never answers
    // hold the server for ever.
    (void)fd;
    (void)buf;
    (void)len;
    (void)deadline;
    return -ENOSYS;
}

// Receive one handshake message into buf (MP_AUTH_MSG_MAX bytes) by
// deadline.  Returns its length (> 0), or -errno: -EPIPE at EOF (or a
// reset: the peer closed with our bytes unread), -EPROTO for an empty,
// cut or over-long frame (left unread), -ETIMEDOUT.
static ssize_t
recv_msg(int fd, unsigned char *buf, long long deadline)
{
    // TODO(11): as recv_frame, with read_by: the header, then the length,
    // over MP_AUTH_MSG_MAX refused BEFORE reading the body into buf (it
    // holds MP_AUTH_MSG_MAX bytes: a longer body overflows it).
    (void)fd;
    (void)buf;
    (void)deadline;
    (void)read_by; // use this helper, then delete this line
    return -ENOSYS;
}

// Send a handshake message: -EPIPE when the peer has gone.
static int
send_msg(int fd, const void *msg, size_t len)
{
    int r = send_frame(fd, msg, len);
    return r == -ECONNRESET ? -EPIPE : r;
}

// Whether answer[0..n) is the right answer to the challenge c[0..clen)
// under key: 0, -EACCES (a digest, but the wrong one) or -EPROTO (no
// digest at all).
static int
check_answer(const void *key, size_t keylen, const unsigned char *c,
             size_t clen, const unsigned char *answer, size_t n)
{
    // TODO(11): which digest: MP_MD5_DIGEST_LEN bytes are Python 3.11's
    // bare HMAC-MD5 (EVP_md5()); MP_DIGEST_PREFIX and MP_DIGEST_LEN bytes
    // are HMAC-SHA256 (EVP_sha256()); any other length: -EPROTO.  Compute
    // the right digest with hmac() and compare ALL its bytes with
    // CRYPTO_memcmp: not strcmp or strncmp (a digest is bytes, NULs too:
    // they stop at the first), not fewer bytes than the digest has, and
    // not memcmp, whose time tells how many leading bytes were right.
    (void)key;
    (void)keylen;
    (void)c;
    (void)clen;
    (void)answer;
    (void)n;
    return -ENOSYS;
}

int
mp_deliver_challenge(int fd, const void *key, size_t keylen, int timeout_ms)
{
    // TODO(11): refuse bad arguments (auth_args_ok) with -EINVAL.  Build
    // the challenge MP_CHALLENGE, MP_DIGEST_PREFIX, then MP_CHALLENGE_LEN
    // bytes from fill_random, new for every call, and send_msg it.
    // TODO(11): recv_msg the answer by the deadline (an error: return it,
    // sending nothing).  check_answer it against what followed
    // MP_CHALLENGE, then send MP_WELCOME if it was right, else
    // MP_FAILURE, and return check_answer's verdict: the send's error
    // only when the answer was right.
    (void)fd;
    (void)key;
    (void)keylen;
    (void)timeout_ms;
    (void)auth_args_ok; // use these helpers,
    (void)deadline_of;  // then delete
    (void)recv_msg;     // these
    (void)send_msg;     // five
    (void)check_answer; // lines
    return -ENOSYS;
}

// The answer to the challenge c[0..clen) under key, into out; returns its
// length, or -EPROTO for a challenge of no known form.
static int
make_answer(const void *key, size_t keylen, const unsigned char *c, size_t clen,
            unsigned char *out)
{
    size_t plen = strlen(MP_DIGEST_PREFIX);
    if (clen == 20) // Python 3.11's challenge: a bare HMAC-MD5
        return hmac(EVP_md5(), key, keylen, c, clen, out);
    if (clen <= plen || memcmp(c, MP_DIGEST_PREFIX, plen) != 0)
        return -EPROTO;
    memcpy(out, MP_DIGEST_PREFIX, plen);
    int n = hmac(EVP_sha256(), key, keylen, c, clen, out + plen);
    return n < 0 ? n : (int)plen + n;
}

int
mp_answer_challenge(int fd, const void *key, size_t keylen, int timeout_ms)
{
    // TODO(11): refuse bad arguments with -EINVAL.  recv_msg the
    // challenge; it must start with MP_CHALLENGE and have at least 20
    // bytes after it, else -EPROTO (answer nothing).  make_answer over
    // the bytes after MP_CHALLENGE and send_msg it.
    // TODO(11): recv_msg the verdict by the same deadline: MP_WELCOME
    // exactly is 0, MP_FAILURE -EACCES, anything else -EPROTO.  Never
    // return 0 before the verdict: only the challenger knows whether the
    // answer was right.
    (void)fd;
    (void)key;
    (void)keylen;
    (void)timeout_ms;
    (void)make_answer; // use this helper, then delete this line
    return -ENOSYS;
}

/* ------------------------------------------ given: encoding of values */

// A body being built (put_*) or read (take_*).  The first error sticks:
// build or read everything, then look at err once.
struct wire {
    unsigned char *buf;
    size_t len; // building: bytes so far; reading: the body's length
    size_t at;  // reading: the next byte
    size_t cap; // building: room in buf
    int err;    // 0, -EMSGSIZE (out of room), -EPROTO (malformed) or
                // -EINVAL (a NULL string)
};

static struct wire
wire_out(unsigned char *buf, size_t cap)
{
    struct wire w = {buf, 0, 0, cap, 0};
    return w;
}

static struct wire
wire_in(unsigned char *buf, size_t len)
{
    struct wire w = {buf, len, 0, len, 0};
    return w;
}

static void
put_bytes(struct wire *w, const void *p, size_t n)
{
    if (w->err == 0 && n > w->cap - w->len)
        w->err = -EMSGSIZE;
    if (w->err != 0)
        return;
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

// The low n bytes of x, most significant first.
static void
put_be(struct wire *w, uint64_t x, size_t n)
{
    unsigned char b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(x >> (8 * (n - 1 - i)));
    put_bytes(w, b, n);
}

static void
put_value(struct wire *w, mp_value v)
{
    unsigned char type = (unsigned char)v.type;
    uint64_t bits;
    put_bytes(w, &type, 1);
    switch (v.type) {
    case MP_NONE:
        break;
    case MP_INT:
        put_be(w, (uint64_t)v.i, 8);
        break;
    case MP_FLOAT:
        memcpy(&bits, &v.f, sizeof bits);
        put_be(w, bits, 8);
        break;
    case MP_STR:
        if (v.s == NULL) {
            w->err = w->err ? w->err : -EINVAL;
            break;
        }
        put_be(w, strlen(v.s), 4);
        put_bytes(w, v.s, strlen(v.s) + 1); // with its NUL
        break;
    default:
        w->err = w->err ? w->err : -EINVAL;
    }
}

// The next n bytes, or NULL (and err) if there are fewer.
static const unsigned char *
take_bytes(struct wire *w, size_t n)
{
    if (w->err == 0 && n > w->len - w->at)
        w->err = -EPROTO;
    if (w->err != 0)
        return NULL;
    w->at += n;
    return w->buf + w->at - n;
}

static uint64_t
take_be(struct wire *w, size_t n)
{
    const unsigned char *b = take_bytes(w, n);
    uint64_t x = 0;
    for (size_t i = 0; b != NULL && i < n; i++)
        x = x << 8 | b[i];
    return x;
}

// A long long from its two's complement bits, portably.
static long long
to_signed(uint64_t x)
{
    return x <= INT64_MAX ? (long long)x : -(long long)~x - 1;
}

// The next value.  A string points into the body itself, which holds its
// NUL; a string with a NUL inside, or without its NUL, is malformed.
static mp_value
take_value(struct wire *w)
{
    mp_value v = mp_none();
    const unsigned char *type = take_bytes(w, 1), *s;
    uint64_t bits, n;
    switch (type == NULL ? MP_NONE : *type) {
    case MP_NONE:
        break;
    case MP_INT:
        v = mp_int(to_signed(take_be(w, 8)));
        break;
    case MP_FLOAT:
        bits = take_be(w, 8);
        v = mp_float(0.0);
        memcpy(&v.f, &bits, sizeof bits);
        break;
    case MP_STR:
        n = take_be(w, 4);
        s = take_bytes(w, (size_t)n + 1);
        if (s != NULL && (s[n] != '\0' || memchr(s, '\0', (size_t)n)))
            w->err = -EPROTO;
        v = mp_str((const char *)s);
        break;
    default:
        w->err = w->err ? w->err : -EPROTO;
    }
    return v;
}

// The next value, which must be an MP_INT.
static long long
take_int(struct wire *w)
{
    mp_value v = take_value(w);
    if (w->err == 0 && v.type != MP_INT)
        w->err = -EPROTO;
    return v.i;
}

// Whether w was read to its end without an error: a message with bytes
// left over, or missing, is malformed.
static int
whole(const struct wire *w)
{
    return w->err == 0 && w->at == w->len;
}

/* ------------------------ given: the shared objects, in the server only */

// The manager's dict and list.  They live in the server process: clients
// reach them only through requests.  The dict keeps insertion order, as
// Python's does; its strings are the server's own copies.
struct entry {
    mp_value key, value;
};
static struct entry *dict;
static size_t dict_len, dict_cap;
static long long *list;
static size_t list_len, list_cap;

static int
same_value(mp_value a, mp_value b)
{
    if (a.type != b.type)
        return 0;
    if (a.type == MP_INT)
        return a.i == b.i;
    if (a.type == MP_FLOAT)
        return a.f == b.f;
    return a.type != MP_STR || strcmp(a.s, b.s) == 0;
}

// The index of key in the dict, or -1.
static long
dict_find(mp_value key)
{
    for (size_t i = 0; i < dict_len; i++)
        if (same_value(dict[i].key, key))
            return (long)i;
    return -1;
}

// Give *v a copy of its string of its own: the request it came in is
// about to be overwritten.
static int
own(mp_value *v)
{
    if (v->type == MP_STR && (v->s = strdup(v->s)) == NULL)
        return -ENOMEM;
    return 0;
}

static void
disown(mp_value *v)
{
    if (v->type == MP_STR)
        free((char *)v->s);
}

// d[key] = value: a new key goes at the end, an old one keeps its place.
static int
dict_put(mp_value key, mp_value value)
{
    long i = dict_find(key);
    if (own(&value) < 0)
        return -ENOMEM;
    if (i >= 0) {
        disown(&dict[i].value);
        dict[i].value = value;
        return 0;
    }
    if (dict_len == dict_cap) {
        size_t cap = dict_cap ? 2 * dict_cap : 8;
        struct entry *e = realloc(dict, cap * sizeof *e);
        if (e == NULL) {
            disown(&value);
            return -ENOMEM;
        }
        dict = e;
        dict_cap = cap;
    }
    if (own(&key) < 0) {
        disown(&value);
        return -ENOMEM;
    }
    dict[dict_len].key = key;
    dict[dict_len++].value = value;
    return 0;
}

static void
dict_remove(size_t i)
{
    disown(&dict[i].key);
    disown(&dict[i].value);
    memmove(&dict[i], &dict[i + 1], (dict_len - i - 1) * sizeof dict[0]);
    dict_len--;
}

static int
list_push(long long x)
{
    if (list_len == list_cap) {
        size_t cap = list_cap ? 2 * list_cap : 16;
        long long *l = realloc(list, cap * sizeof *l);
        if (l == NULL)
            return -ENOMEM;
        list = l;
        list_cap = cap;
    }
    list[list_len++] = x;
    return 0;
}

// A Python index into the list (negative: from the end), or -ERANGE.
static long
list_index(long long i)
{
    if (i < 0)
        i += (long long)list_len;
    return i >= 0 && i < (long long)list_len ? (long)i : -ERANGE;
}

/* -------------------------- given: Python's repr of floats and strings */

// Text being built; the first error sticks (-EMSGSIZE: out of room).
struct text {
    char *s;
    size_t len, cap;
    int err;
};

// Append to t, printf-style.
static void
say(struct text *t, const char *fmt, ...)
{
    if (t->err != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len)
        t->err = -EMSGSIZE;
    else
        t->len += (size_t)n;
}

// Python's repr of a float: the fewest digits that read back as the same
// double; plain from 1e-4 up to 1e16, with ".0" when it would look like
// an int; scientific outside that range.  0.25, 1.0, 1e+16, 1e-05.
static void
say_float(struct text *t, double f)
{
    if (isnan(f) || isinf(f)) {
        say(t, "%s", isnan(f) ? "nan" : f < 0 ? "-inf" : "inf");
        return;
    }
    char sci[32], plain[64];
    int digits = 0;
    do {
        digits++;
        snprintf(sci, sizeof sci, "%.*e", digits - 1, f);
    } while (digits < 17 && strtod(sci, NULL) != f);
    int exp = atoi(strchr(sci, 'e') + 1);
    if (exp < -4 || exp >= 16) {
        say(t, "%s", sci);
        return;
    }
    int decimals = digits - 1 - exp;
    snprintf(plain, sizeof plain, "%.*f", decimals > 0 ? decimals : 0, f);
    say(t, "%s%s", plain, strchr(plain, '.') != NULL ? "" : ".0");
}

// Python's repr of a string: in single quotes, or in double quotes when
// it holds a single quote and no double one; backslashes, that quote and
// control characters escaped.  '1', "it's", 'tab\there'.
static void
say_str(struct text *t, const char *s)
{
    char q = strchr(s, '\'') != NULL && strchr(s, '"') == NULL ? '"' : '\'';
    say(t, "%c", q);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == q || *p == '\\')
            say(t, "\\%c", *p);
        else if (*p == '\n' || *p == '\r' || *p == '\t')
            say(t, "\\%c", *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't');
        else if (*p < 0x20 || *p == 0x7f)
            say(t, "\\x%02x", *p);
        else
            say(t, "%c", *p);
    }
    say(t, "%c", q);
}

/* ---------------------------------------------------------------- repr */

// Append Python's repr of v: None, 2, 0.25, '1'.
static void
say_value(struct text *t, mp_value v)
{
    // TODO(11): by type: MP_NONE is None; an int with %lld; a float with
    // say_float, not %f or %g (Python prints 0.25 and 1.0; C's %f prints
    // 0.250000 and %g prints 1); a string with say_str, in quotes: '1'
    // and 1 must not look alike.
    (void)t;
    (void)v;
    (void)say_float; // use these helpers, then delete
    (void)say_str;   // these two lines
}

// Append the dict as Python prints it: {1: '1', '2': 2, 0.25: None}.
static void
say_dict(struct text *t)
{
    // TODO(11): "{", each entry in order as key, ": ", value, with ", "
    // between entries (none after the last), then "}".  Empty: {}.
    (void)t;
    (void)say_value; // use this helper, then delete this line
}

// Append the list as Python prints it: [9, 8, 7].
static void
say_list(struct text *t)
{
    // TODO(11): "[", the ints with ", " between them, "]".  Empty: [].
    (void)t;
}

/* -------------- the server's operations (given, but incr and reverse) */

// Each operation reads its arguments from args, puts its result (if it
// has one) in result, and returns the status: 0, or -errno.  The server
// runs one at a time, start to end: no other request can come between.

static int
op_dict_set(struct wire *args, struct wire *result)
{
    mp_value key = take_value(args), value = take_value(args);
    (void)result;
    return whole(args) ? dict_put(key, value) : -EPROTO;
}

static int
op_dict_get(struct wire *args, struct wire *result)
{
    mp_value key = take_value(args);
    if (!whole(args))
        return -EPROTO;
    long i = dict_find(key);
    if (i < 0)
        return -ENOENT;
    put_value(result, dict[i].value);
    return 0;
}

static int
op_dict_del(struct wire *args, struct wire *result)
{
    mp_value key = take_value(args);
    (void)result;
    if (!whole(args))
        return -EPROTO;
    long i = dict_find(key);
    if (i < 0)
        return -ENOENT;
    dict_remove((size_t)i);
    return 0;
}

static int
op_dict_len(struct wire *args, struct wire *result)
{
    put_value(result, mp_int((long long)dict_len));
    return whole(args) ? 0 : -EPROTO;
}

// d[key] = d.get(key, 0) + delta, all in the server, in one request.
static int
op_dict_incr(struct wire *args, struct wire *result)
{
    mp_value key = take_value(args);
    long long delta = take_int(args);
    if (!whole(args))
        return -EPROTO;
    // TODO(11): look the key up (dict_find); a missing key counts as 0.  A
    // value that is not an MP_INT: -EINVAL (Python's TypeError).  Check
    // for overflow BEFORE adding (signed overflow is undefined behaviour
    // in C, and delta is whatever a client sent): -EOVERFLOW.  Store the
    // sum with dict_put, then put it in result as an MP_INT.
    (void)key;
    (void)delta;
    (void)result;
    return -ENOSYS;
}

static int
op_dict_repr(struct wire *args, struct wire *result)
{
    char buf[MP_MANAGER_MSG_MAX];
    struct text t = {buf, 0, sizeof buf, 0};
    if (!whole(args))
        return -EPROTO;
    say_dict(&t);
    put_value(result, mp_str(buf));
    return t.err;
}

static int
op_list_append(struct wire *args, struct wire *result)
{
    long long x = take_int(args);
    (void)result;
    return whole(args) ? list_push(x) : -EPROTO;
}

static int
op_list_get(struct wire *args, struct wire *result)
{
    long i = list_index(take_int(args));
    if (!whole(args))
        return -EPROTO;
    if (i < 0)
        return (int)i;
    put_value(result, mp_int(list[i]));
    return 0;
}

static int
op_list_set(struct wire *args, struct wire *result)
{
    long i = list_index(take_int(args));
    long long x = take_int(args);
    (void)result;
    if (!whole(args))
        return -EPROTO;
    if (i < 0)
        return (int)i;
    list[i] = x;
    return 0;
}

static int
op_list_len(struct wire *args, struct wire *result)
{
    put_value(result, mp_int((long long)list_len));
    return whole(args) ? 0 : -EPROTO;
}

// l.reverse(), in place.
static int
op_list_reverse(struct wire *args, struct wire *result)
{
    (void)result;
    if (!whole(args))
        return -EPROTO;
    // TODO(11): swap list[0] with the last item, list[1] with the one
    // before it, and so on, and stop at the middle: going on to the end
    // swaps every pair back.
    return -ENOSYS;
}

static int
op_list_repr(struct wire *args, struct wire *result)
{
    char buf[MP_MANAGER_MSG_MAX];
    struct text t = {buf, 0, sizeof buf, 0};
    if (!whole(args))
        return -EPROTO;
    say_list(&t);
    put_value(result, mp_str(buf));
    return t.err;
}

static const struct {
    mp_op op;
    int (*run)(struct wire *args, struct wire *result);
} ops[] = {
    {MP_OP_DICT_SET, op_dict_set},         {MP_OP_DICT_GET, op_dict_get},
    {MP_OP_DICT_DEL, op_dict_del},         {MP_OP_DICT_LEN, op_dict_len},
    {MP_OP_DICT_INCR, op_dict_incr},       {MP_OP_DICT_REPR, op_dict_repr},
    {MP_OP_LIST_APPEND, op_list_append},   {MP_OP_LIST_GET, op_list_get},
    {MP_OP_LIST_SET, op_list_set},         {MP_OP_LIST_LEN, op_list_len},
    {MP_OP_LIST_REVERSE, op_list_reverse}, {MP_OP_LIST_REPR, op_list_repr},
};

// Carry out the request body req[0..len) (len >= 1) and build the reply
// in reply: the status, then the result.  Returns 1 for a shutdown
// request, which gets no reply, else 0.
static int
handle(unsigned char *req, size_t len, struct wire *reply)
{
    struct wire args = wire_in(req, len);
    unsigned char buf[MP_MANAGER_MSG_MAX];
    struct wire result = wire_out(buf, sizeof buf - STATUS_SIZE);
    int op = *take_bytes(&args, 1), status = -EPROTO; // unknown op
    if (op == MP_OP_SHUTDOWN)
        return 1;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if ((int)ops[i].op == op)
            status = ops[i].run(&args, &result);
    if (status == 0)
        status = result.err;
    put_value(reply, mp_int(status));
    if (status == 0)
        put_bytes(reply, result.buf, result.len);
    return 0;
}

/* ---------------------------------------------------------- the server */

// Make the listening socket at path.  Returns it, or -errno.
static int
server_listen(const char *path)
{
    // TODO(11): a sockaddr_un (AF_UNIX) with path in sun_path: check
    // first that it fits (-ENAMETOOLONG).  socket(AF_UNIX, SOCK_STREAM,
    // 0), bind(), listen(fd, MAX_CLIENTS).  Never unlink() the path
    // before bind(): a file there belongs to a running server, or is a
    // dead one's that its owner must remove; bind() failing with
    // EADDRINUSE is the answer.  On failure close the socket (and unlink
    // the file if bind() made it), and return -errno.
    (void)path;
    return -ENOSYS;
}

// Serve one request from client fd.  Returns 1 after a shutdown request,
// 0 when the client may send more, -1 when its connection is over.
static int
serve_request(int fd)
{
    // TODO(11): recv_frame into req.  0 (EOF: the client closed) or an
    // error (-EMSGSIZE: a frame over MP_MANAGER_MSG_MAX, refused; its body
    // was never read, so this connection cannot go on): return -1.
    // TODO(11): handle() it, building the reply in a wire over rep; a
    // shutdown request gets no reply: return 1.  Else send_frame the
    // reply; if that fails (the client has died: -EPIPE), return -1.
    (void)fd;
    (void)recv_frame; // use these helpers, then delete
    (void)handle;     // these two lines
    return -1;
}

// Authenticate a new client, both ways, with the server's authkey: 0 if
// it holds the key.
static int
admit(int fd)
{
    // TODO(11): mp_deliver_challenge, then mp_answer_challenge (the
    // client's challenge to the server), each within MP_AUTH_TIMEOUT_MS:
    // with no limit, one client that connects and says nothing would stop
    // the server for every other client, for ever.
    (void)fd;
    return -ENOSYS;
}

// The server's loop: poll() the listening socket and every client at
// once, accept new clients, serve each request as it comes, until a
// shutdown request.
static void
serve(int lfd)
{
    // TODO(11): a pollfd array: fds[0] is the listening socket, then the
    // clients, at most MAX_CLIENTS, all for POLLIN.  For ever: poll() all
    // of them without a timeout (EINTR: poll again; another failure:
    // return).
    // TODO(11): then serve_request each client with an event (POLLIN, or
    // POLLHUP when it hung up): 1 means shutdown, return; -1 means close
    // it and drop it from fds, by moving the last entry into its place
    // (walk from the end, so that entry was served already).
    // TODO(11): then, if the listening socket has an event, accept() the
    // client, add it to fds, and poll again: the server accepts new
    // clients while old ones stay connected.  Serving one client until it
    // leaves makes the next one hang.  No room in fds: close it (that
    // client sees EOF).  Room: admit() it first, and close it unread if it
    // fails: a request from a client not yet authenticated is never read.
    (void)lfd;
    (void)serve_request; // use these helpers, then delete
    (void)admit;         // these two lines
}

// The server process: listen, say so on `ready`, serve, clean up, _exit.
static void
server_main(const char *path, int ready)
{
    // TODO(11): server_listen(path), THEN write its result on ready as
    // one int: 0 once listening, else the positive errno.  A word sent
    // before listen() lets the caller's clients connect to nothing, and
    // hides a bind() that failed.  Close ready.  If listening failed, or
    // the word could not be written, end with _exit(1) (unlink the file
    // if listening worked).
    // TODO(11): serve(); after a shutdown request, close the listening
    // socket, unlink(path) (a socket file outlives its process: nobody
    // else will remove it), and end with _exit(0), never exit() or return:
    // this is a forked copy of the caller.
    (void)path;
    (void)ready;
    (void)server_listen; // use these helpers, then delete
    (void)serve;         // these two lines
    _exit(1);
}

/* --------------------------------------------------------- the manager */

int
mp_manager_start(mp_manager **mgr)
{
    // TODO(11): reject a NULL mgr with -EINVAL.  malloc the handle and
    // write the address into it: mp_ipc_path(path, size, "manager").
    // make_authkey() BEFORE the fork, and keep a copy in the handle: the
    // server is a copy of this process and takes its key, and shutdown
    // needs it even if the caller sets another key later.
    // TODO(11): a pipe for the server's word, fflush(NULL), fork().  In
    // the child: close the read end, then server_main (it never returns).
    // TODO(11): in the parent, close the write end FIRST: if the server
    // dies before its word, EOF must come, and our own copy of the write
    // end would hold it off for ever.  Then read_full one int.  0: the
    // server listens; set *mgr, return 0.  Otherwise the server has ended
    // or is ending: reap it (waitpid on its pid, EINTR: again) and return
    // minus the errno it sent, or -EPIPE if it sent nothing.
    (void)mgr;
    (void)server_main; // use this helper, then delete this line
    return -ENOSYS;
}

const char *
mp_manager_address(const mp_manager *mgr)
{
    return mgr != NULL ? mgr->path : NULL;
}

pid_t
mp_manager_pid(const mp_manager *mgr)
{
    return mgr != NULL ? mgr->pid : -EINVAL;
}

static int connect_with(const char *address, const void *key, size_t keylen,
                        int timeout_ms, mp_proxy **proxy);

int
mp_manager_shutdown(mp_manager *mgr, int *exitcode)
{
    // TODO(11): reject a NULL mgr with -EINVAL.
    // TODO(11): ask the server to stop: connect_with its address and key
    // within MP_MANAGER_GRACE_MS (a server that hangs must not hang us),
    // send_frame the one byte MP_OP_SHUTDOWN, close that proxy.  If the
    // connection fails, the server is dead already: go on.
    // TODO(11): give it MP_MANAGER_GRACE_MS to end, without reaping it:
    // wait_readable on a pidfd (syscall(SYS_pidfd_open, pid, 0)), which
    // turns readable when the process ends; close the pidfd.  Still
    // running then (or no pidfd): kill(pid, SIGKILL).
    // TODO(11): reap that pid, and no other: waitpid(pid, &status, 0),
    // never wait() or waitpid(-1, ...), which may take one of the
    // caller's own children.  EINTR: again; another failure: -errno.  The
    // exit code is Python's (-signal if killed) and goes to *exitcode
    // unless it is NULL.  Not 0: the server could not remove its socket
    // file, so unlink it here.  Free the handle in every case.
    (void)mgr;
    (void)exitcode;
    (void)wait_readable; // use this helper, then delete this line
    return -ENOSYS;
}

/* ------------------------------------------------------------- proxies */

// Connect to the server at address; authenticate with key both ways,
// each way within timeout_ms (-1: for ever).
static int
connect_with(const char *address, const void *key, size_t keylen,
             int timeout_ms, mp_proxy **proxy)
{
    // TODO(11): reject a NULL address or proxy with -EINVAL, and an
    // address too long for sun_path with -ENAMETOOLONG.  malloc the proxy,
    // make a socket(AF_UNIX, SOCK_STREAM, 0) and connect() it to the
    // address.  On failure close the socket and free the proxy (one fail:
    // label), and return -errno: ENOENT is "no socket file" (no server,
    // or shut down), ECONNREFUSED "a file but nobody listening" (a dead
    // server's).  Set *proxy only on success.
    // TODO(11): authenticate, the client's way round: the server speaks
    // first, so mp_answer_challenge, then mp_deliver_challenge (a client
    // that only answers talks to whoever listens at the address), each
    // within timeout_ms.  Either fails: go to fail and return its error.
    (void)address;
    (void)key;
    (void)keylen;
    (void)timeout_ms;
    (void)proxy;
    return -ENOSYS;
}

int
mp_manager_connect(const char *address, mp_proxy **proxy)
{
    // TODO(11): make_authkey(), then connect_with this process's authkey,
    // with no time limit (-1), as Python's Client.
    (void)address;
    (void)proxy;
    (void)connect_with; // use this helper, then delete this line
    return -ENOSYS;
}

int
mp_proxy_close(mp_proxy *proxy)
{
    // TODO(11): NULL: nothing to do, return 0.  Else close the socket and
    // free the proxy, even when close() fails; return 0 or -errno.
    (void)proxy;
    return -ENOSYS;
}

// Send the request body req on p's connection and wait for the reply,
// which lands in p->reply.  Returns the reply's status (0, or -errno from
// the server) with *result set to read the rest of the reply from, or
// -errno.
static int
request(mp_proxy *p, struct wire *req, struct wire *result)
{
    // TODO(11): reject a NULL p with -EINVAL.  A request that could not be
    // built (req->err: -EMSGSIZE, too long; -EINVAL, a NULL string) is
    // refused before anything is sent: return req->err.
    // TODO(11): send_frame the body.  -ECONNRESET means, like -EPIPE,
    // that the server has gone: return -EPIPE.
    // TODO(11): recv_frame the reply into p->reply.  EOF (0) where a
    // reply was due, or -ECONNRESET (the server closed with our request
    // unread), mean the server has gone: -EPIPE, never a reply.
    // -EMSGSIZE or -EPROTO: -EPROTO.  Another error: return it.
    // TODO(11): *result = wire_in over the reply; take_int the status.
    // A broken reply (result->err), or a status that is not 0 or a
    // -errno (-4095 to -1): -EPROTO.  Else return the status.
    (void)p;
    (void)req;
    (void)result;
    (void)send_frame; // use this helper, then delete this line
    return -ENOSYS;
}

/* ---------------- given: the operations as requests, but get and incr */

// A request body for op, in buf.
static struct wire
begin(unsigned char *buf, mp_op op)
{
    struct wire w = wire_out(buf, MP_MANAGER_MSG_MAX);
    unsigned char b = (unsigned char)op;
    put_bytes(&w, &b, 1);
    return w;
}

// Send req; its result is nothing.
static int
no_result(mp_proxy *proxy, struct wire *req)
{
    struct wire res;
    int r = request(proxy, req, &res);
    return r < 0 ? r : whole(&res) ? 0 : -EPROTO;
}

// Send req; its result is one MP_INT, returned as *x.
static int
int_result(mp_proxy *proxy, struct wire *req, long long *x)
{
    struct wire res;
    int r = request(proxy, req, &res);
    if (r < 0)
        return r;
    *x = take_int(&res);
    return whole(&res) ? 0 : -EPROTO;
}

// Send an op without arguments whose result is a count.
static int
count_result(mp_proxy *proxy, mp_op op)
{
    unsigned char buf[MP_MANAGER_MSG_MAX];
    struct wire req = begin(buf, op);
    long long x;
    int r = int_result(proxy, &req, &x);
    return r < 0 ? r : x >= 0 && x <= INT_MAX ? (int)x : -EPROTO;
}

// Send an op without arguments whose result is a string; copy it to buf.
static int
text_result(mp_proxy *proxy, mp_op op, char *buf, size_t size)
{
    unsigned char b[MP_MANAGER_MSG_MAX];
    struct wire req = begin(b, op), res;
    if (buf == NULL)
        return -EINVAL;
    int r = request(proxy, &req, &res);
    if (r < 0)
        return r;
    mp_value v = take_value(&res);
    if (!whole(&res) || v.type != MP_STR)
        return -EPROTO;
    size_t n = strlen(v.s);
    if (n >= size)
        return -ERANGE;
    memcpy(buf, v.s, n + 1);
    return (int)n;
}

int
mp_dict_set(mp_proxy *proxy, mp_value key, mp_value value)
{
    unsigned char buf[MP_MANAGER_MSG_MAX];
    struct wire req = begin(buf, MP_OP_DICT_SET);
    put_value(&req, key);
    put_value(&req, value);
    return no_result(proxy, &req);
}

int
mp_dict_get(mp_proxy *proxy, mp_value key, mp_value *value)
{
    // TODO(11): reject a NULL value with -EINVAL.  Build the request
    // (begin with MP_OP_DICT_GET, put_value the key) and send it with
    // request().  A status below 0 is the answer (-ENOENT: no such key).
    // Else the result is one value: take_value it (a string points into
    // the proxy's reply buffer); not read whole: -EPROTO.  Store it.
    (void)proxy;
    (void)key;
    (void)value;
    return -ENOSYS;
}

int
mp_dict_del(mp_proxy *proxy, mp_value key)
{
    unsigned char buf[MP_MANAGER_MSG_MAX];
    struct wire req = begin(buf, MP_OP_DICT_DEL);
    put_value(&req, key);
    return no_result(proxy, &req);
}

int
mp_dict_len(mp_proxy *proxy)
{
    return count_result(proxy, MP_OP_DICT_LEN);
}

int
mp_dict_incr(mp_proxy *proxy, mp_value key, long long delta, long long *now)
{
    // TODO(11): ONE request, MP_OP_DICT_INCR with the key and
    // mp_int(delta): the server adds (int_result sends it and reads the
    // new value).  Not mp_dict_get then mp_dict_set: another client's
    // request can come between those two, and one of the two updates is
    // lost.  On success store the new value in *now, unless now is NULL.
    (void)proxy;
    (void)key;
    (void)delta;
    (void)now;
    return -ENOSYS;
}

int
mp_dict_repr(mp_proxy *proxy, char *buf, size_t size)
{
    return text_result(proxy, MP_OP_DICT_REPR, buf, size);
}

int
mp_list_append(mp_proxy *proxy, long long value)
{
    unsigned char buf[MP_MANAGER_MSG_MAX];
    struct wire req = begin(buf, MP_OP_LIST_APPEND);
    put_value(&req, mp_int(value));
    return no_result(proxy, &req);
}

int
mp_list_get(mp_proxy *proxy, long long index, long long *value)
{
    unsigned char buf[MP_MANAGER_MSG_MAX];
    struct wire req = begin(buf, MP_OP_LIST_GET);
    if (value == NULL)
        return -EINVAL;
    put_value(&req, mp_int(index));
    return int_result(proxy, &req, value);
}

int
mp_list_set(mp_proxy *proxy, long long index, long long value)
{
    unsigned char buf[MP_MANAGER_MSG_MAX];
    struct wire req = begin(buf, MP_OP_LIST_SET);
    put_value(&req, mp_int(index));
    put_value(&req, mp_int(value));
    return no_result(proxy, &req);
}

int
mp_list_len(mp_proxy *proxy)
{
    return count_result(proxy, MP_OP_LIST_LEN);
}

int
mp_list_reverse(mp_proxy *proxy)
{
    unsigned char buf[MP_MANAGER_MSG_MAX];
    struct wire req = begin(buf, MP_OP_LIST_REVERSE);
    return no_result(proxy, &req);
}

int
mp_list_repr(mp_proxy *proxy, char *buf, size_t size)
{
    return text_result(proxy, MP_OP_LIST_REPR, buf, size);
}
