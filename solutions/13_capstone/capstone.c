// capstone.c - lesson 13: parallel work over processes and threads, measured.
//
// Your task: make the functions below work as capstone.h describes.  Read
// lessons/13_capstone/README.md first; `make check L=13` tests your code,
// `make hint L=13` gives one more hint each time you run it.
//
// How the work is shared out.  Every version here runs the same loop in
// each of its workers, share_out(): take the next chunk of items from a
// counter that all the workers share, do each item, store its result at
// the item's own index, and go on until the counter has passed the last
// item.  Nobody decides in advance who does what: a worker that drew cheap
// items comes back sooner and takes more.  mp_par_map and mp_fetch_all put
// the counter and the results in memory shared with forked workers;
// mp_thread_map keeps them in its own memory, which its threads share.
//
// The kernel, the I/O helpers and the URL parser are written for you.
// Start with share_out and map_item, then run_processes and mp_par_map,
// then mp_thread_map, then http_get and mp_fetch_all.
#define _DEFAULT_SOURCE // MAP_ANONYMOUS: not POSIX
#include "capstone.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------ the kernel (given) */

static int
is_prime(long x)
{
    if (x < 2)
        return 0;
    if (x % 2 == 0)
        return x == 2;
    for (long d = 3; d * d <= x; d += 2)
        if (x % d == 0)
            return 0;
    return 1;
}

long
mp_primes_in_block(long block)
{
    long count = 0;
    for (long x = block * MP_BLOCK; x < (block + 1) * MP_BLOCK; x++)
        count += is_prime(x);
    return count;
}

/* ---------------------------------------------------------- the state */

// What the workers of one call share.  Processes: in a MAP_SHARED mapping
// made before the forks, results right after it.  Threads: on the
// caller's stack.  The workers only read it, except next, which they all
// advance at once: it must be atomic.
struct share {
    atomic_size_t next; // the first item that no worker has taken yet
    size_t n;           // items in all
    size_t chunk;       // items a worker takes at a time, at least 1
    // Does item i and stores its result: map_item or fetch_item.
    void (*item)(struct share *s, size_t i);
    mp_kernel fn;            // map: the kernel
    const long *in;          // map: the items
    long *out;               // map: where item i's result goes
    const char *const *urls; // fetch: the URLs
    mp_fetch_result *res;    // fetch: where URL i's result goes
};

// Make s share out n items, chunk at a time, doing each with item().
static void
share_init(struct share *s, size_t n, size_t chunk,
           void (*item)(struct share *, size_t))
{
    memset(s, 0, sizeof *s);
    atomic_init(&s->next, 0);
    s->n = n;
    s->chunk = chunk;
    s->item = item;
}

/* -------------------------------------------------- sharing the work */

// Do map item i: run the kernel on in[i], store the result for item i.
static void
map_item(struct share *s, size_t i)
{
    // TODO(13): out[i] = fn(in[i]).  At index i, the item's own: not at
    // "the next free place", which is the order in which items happen to
    // finish, different in every run.
    s->out[i] = s->fn(s->in[i]);
}

// A worker's whole life: take chunks from s until none is left.
static void
share_out(struct share *s)
{
    // TODO(13): loop: take a chunk by advancing s->next by s->chunk with
    // ONE atomic_fetch_add, which returns the first item of your chunk.
    // A read then a write (start = next; next = start + chunk) lets two
    // workers take the same chunk.  Past the last item (start >= n): stop.
    // The last chunk may be short: stop at n, not at start + chunk.  Do
    // each item of the chunk with s->item(s, i).
    for (;;) {
        size_t start = atomic_fetch_add(&s->next, s->chunk);
        if (start >= s->n)
            return;
        size_t end = s->n - start < s->chunk ? s->n : start + s->chunk;
        for (size_t i = start; i < end; i++)
            s->item(s, i);
    }
}

// Fork nworkers processes that share s out, then reap every one.
// Returns 0, -EPIPE if a worker died, or -errno if a fork failed.
static int
run_processes(struct share *s, int nworkers)
{
    // TODO(13): calloc room for the pids (-ENOMEM).  fflush(NULL) before
    // forking.  Fork ALL the workers first: the child runs share_out(s)
    // and ends with _exit(0), never returning; the parent keeps the pid.
    // Waiting for each worker right after its fork would run them one at
    // a time.  If a fork fails, stop forking, keep -errno, and still reap
    // the workers already started (they finish the work: it is shared).
    // TODO(13): then waitpid each pid (again on EINTR).  A worker that was
    // killed by a signal or exited with a status other than 0 died with
    // items undone: remember -EPIPE, and go on reaping the others.
    pid_t *pids = calloc((size_t)nworkers, sizeof *pids);
    if (pids == NULL)
        return -ENOMEM;
    int err = 0, started = 0;
    fflush(NULL);
    while (started < nworkers) {
        pid_t pid = fork();
        if (pid < 0) {
            err = -errno;
            break;
        }
        if (pid == 0) {
            share_out(s);
            _exit(0);
        }
        pids[started++] = pid;
    }
    for (int i = 0; i < started; i++) {
        int st = 0;
        while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
            ;
        if ((!WIFEXITED(st) || WEXITSTATUS(st) != 0) && err == 0)
            err = -EPIPE;
    }
    free(pids);
    return err;
}

// The chunk size to use: chunk, or Python's rule when it is 0.
static size_t
chunk_size(size_t n, size_t chunk, int nworkers)
{
    // TODO(13): 0 means Python's rule: n divided by (4 * nworkers),
    // rounded UP (so never 0 when n > 0).
    if (chunk > 0)
        return chunk;
    size_t parts = 4 * (size_t)nworkers;
    return (n + parts - 1) / parts;
}

// How many workers to start: nworkers, but no more than there are chunks.
static int
worker_count(int nworkers, size_t n, size_t chunk)
{
    size_t chunks = n / chunk + (n % chunk != 0); // n + chunk - 1 may wrap
    return chunks < (size_t)nworkers ? (int)chunks : nworkers;
}

/* -------------------------------------------------------- processes */

int
mp_par_map(int nworkers, mp_kernel fn, const long *in, long *out, size_t n,
           size_t chunk)
{
    // TODO(13): -EINVAL for nworkers < 1, a NULL fn, or a NULL in or out
    // with n > 0.  No items: return 0, forking nothing.
    // TODO(13): mmap ONE region, PROT_READ | PROT_WRITE, MAP_SHARED |
    // MAP_ANONYMOUS, holding a struct share and then the n results
    // (failure: -errno).  MAP_SHARED before the forks, or each worker
    // writes its results into pages of its own that the parent never
    // sees.  share_init it with chunk_size() and map_item; fn and in are
    // the caller's, out is the results in the mapping.
    // TODO(13): run_processes with worker_count() workers, copy the
    // results to out, munmap, return run_processes' answer.
    if (nworkers < 1 || fn == NULL || (n > 0 && (in == NULL || out == NULL)))
        return -EINVAL;
    if (n == 0)
        return 0;
    size_t size = sizeof(struct share) + n * sizeof *out;
    struct share *s = mmap(NULL, size, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED)
        return -errno;
    share_init(s, n, chunk_size(n, chunk, nworkers), map_item);
    s->fn = fn;
    s->in = in;
    s->out = (long *)(s + 1);
    int err = run_processes(s, worker_count(nworkers, n, s->chunk));
    memcpy(out, s->out, n * sizeof *out);
    munmap(s, size);
    return err;
}

/* ---------------------------------------------------------- threads */

// A thread's start routine: share the work out, like a worker process.
static void *
thread_main(void *arg)
{
    // TODO(13): share_out(arg); return NULL.  A thread ends by returning:
    // calling exit or _exit here would end the whole process.
    share_out(arg);
    return NULL;
}

int
mp_thread_map(int nworkers, mp_kernel fn, const long *in, long *out, size_t n,
              size_t chunk)
{
    // TODO(13): the checks of mp_par_map.  Then a struct share on the
    // stack (threads share your memory: no mmap, no copy), share_init it
    // as mp_par_map does, but with out the caller's own array.
    // TODO(13): calloc worker_count() pthread_t (-ENOMEM).
    // pthread_create them ALL, each running thread_main(&s), then
    // pthread_join them all: joining each one right after creating it
    // would run them one at a time.  pthread_create returns an error
    // NUMBER (not -1 and errno): on failure stop creating, join those
    // started, return minus that number.
    if (nworkers < 1 || fn == NULL || (n > 0 && (in == NULL || out == NULL)))
        return -EINVAL;
    if (n == 0)
        return 0;
    struct share s;
    share_init(&s, n, chunk_size(n, chunk, nworkers), map_item);
    s.fn = fn;
    s.in = in;
    s.out = out;
    int count = worker_count(nworkers, n, s.chunk);
    pthread_t *t = calloc((size_t)count, sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    int err = 0, started = 0;
    for (; started < count; started++) {
        int r = pthread_create(&t[started], NULL, thread_main, &s);
        if (r != 0) {
            err = -r;
            break;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    free(t);
    return err;
}

/* ------------------------------------------ I/O helpers (given, 04) */

// Send all len bytes of buf on the socket fd.  MSG_NOSIGNAL: a peer that
// is gone gives -EPIPE, not a SIGPIPE.  Returns 0 or -errno.
static int
send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

// One read(), again on EINTR: the bytes read (0 at EOF), or -errno.
static ssize_t
read_some(int fd, char *buf, size_t len)
{
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0 || errno != EINTR)
            return n < 0 ? -errno : n;
    }
}

/* ------------------------------------------------ HTTP (parts given) */

// Split url, "http://A.B.C.D[:PORT][/path]", into an address, the host
// (for the Host header) and the path, which points into url or is "/".
// Given.  Returns 0, or -EINVAL for a URL it cannot fetch.
static int
parse_url(const char *url, struct sockaddr_in *addr, char *host, size_t hostlen,
          const char **path)
{
    if (url == NULL || strncmp(url, "http://", 7) != 0)
        return -EINVAL;
    url += 7;
    size_t len = strcspn(url, ":/");
    if (len == 0 || len >= hostlen)
        return -EINVAL;
    memcpy(host, url, len);
    host[len] = '\0';
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return -EINVAL;
    const char *p = url + len;
    long port = 80;
    if (*p == ':') {
        char *end;
        port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535)
            return -EINVAL;
        p = end;
    }
    if (*p != '/' && *p != '\0')
        return -EINVAL;
    addr->sin_port = htons((uint16_t)port);
    *path = *p == '/' ? p : "/";
    return 0;
}

// Look at the first have bytes of an answer, NUL-terminated.  Given.
// Returns the header's length, up to and including the blank line that
// ends it, with its status in *status; 0 if the blank line has not come
// yet; -EPROTO if the answer does not start as HTTP does.
static long
parse_head(const char *buf, size_t have, int *status)
{
    if (have >= 5 && strncmp(buf, "HTTP/", 5) != 0)
        return -EPROTO;
    const char *blank = strstr(buf, "\r\n\r\n");
    if (blank == NULL)
        return 0;
    if (sscanf(buf, "HTTP/%*d.%*d %d", status) != 1 || *status < 100 ||
        *status > 999)
        return -EPROTO;
    return blank + 4 - buf;
}

// Read an answer from fd until the server closes the connection.
// Returns 0 with r filled in, or -errno (-EPROTO: not HTTP, or cut short).
static int
read_answer(int fd, mp_fetch_result *r)
{
    // TODO(13): read_some into buf (keep one byte for a '\0') until
    // parse_head finds the end of the header: one read may bring a piece
    // of the header, or the header and part of the body.  The body bytes
    // that came with the header count.  Then read on, into the same buf,
    // counting, until read_some returns 0 (EOF: HTTP/1.0 ends the body by
    // closing).  ONE read is not the whole answer: a 1 MiB body comes in
    // many pieces.  Errors: read_some's -errno; EOF (or a full buf) before
    // the header's end, or parse_head's -EPROTO: -EPROTO.
    char buf[8192];
    size_t have = 0;
    long head = 0;
    while (head == 0) {
        if (have == sizeof buf - 1)
            return -EPROTO; // a header this long is not what we asked for
        ssize_t got = read_some(fd, buf + have, sizeof buf - 1 - have);
        if (got <= 0)
            return got < 0 ? (int)got : -EPROTO;
        have += (size_t)got;
        buf[have] = '\0';
        head = parse_head(buf, have, &r->status);
        if (head < 0)
            return (int)head;
    }
    r->bytes = (long)have - head;
    for (;;) {
        ssize_t got = read_some(fd, buf, sizeof buf);
        if (got <= 0)
            return (int)got;
        r->bytes += got;
    }
}

// GET url: its status and the length of its body, or -errno in status.
static mp_fetch_result
http_get(const char *url)
{
    // TODO(13): parse_url (its error is the result's status).  Format the
    // request into a buffer: "GET <path> HTTP/1.0\r\nHost: <host>\r\n\r\n"
    // (a request that does not fit: -EINVAL).  socket(AF_INET,
    // SOCK_STREAM, 0), connect to the address, send_all the request,
    // read_answer.  Every failure becomes -errno in status with bytes 0:
    // it ends this URL only, never the worker, which goes on to the next.
    // Close the socket on every path.
    mp_fetch_result r = {0, 0};
    struct sockaddr_in addr;
    char host[64], req[2048];
    const char *path;
    int err = parse_url(url, &addr, host, sizeof host, &path);
    if (err < 0)
        return (mp_fetch_result){err, 0};
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n",
                       path, host);
    if (len < 0 || (size_t)len >= sizeof req)
        return (mp_fetch_result){-EINVAL, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return (mp_fetch_result){-errno, 0};
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        err = -errno;
    else if ((err = send_all(fd, req, (size_t)len)) == 0)
        err = read_answer(fd, &r);
    close(fd);
    return err < 0 ? (mp_fetch_result){err, 0} : r;
}

/* ------------------------------------------------------------ fetch */

// Do fetch item i: GET urls[i], store its result for item i.
static void
fetch_item(struct share *s, size_t i)
{
    // TODO(13): res[i] = http_get(urls[i]).
    s->res[i] = http_get(s->urls[i]);
}

int
mp_fetch_all(const char *const *urls, size_t n, int nworkers,
             mp_fetch_result *res)
{
    // TODO(13): -EINVAL for nworkers < 1, or a NULL urls or res with
    // n > 0.  No URLs: 0.
    // TODO(13): as mp_par_map: one MAP_SHARED mapping with a struct share
    // and n results, share_init with chunks of ONE URL (each one waits
    // for a server: hand them out one by one) and fetch_item.
    // run_processes with worker_count() workers: as many as asked, up to
    // n, NOT capped at the number of cores (a worker waiting for a server
    // leaves its core to others).  Copy the results to res, count the
    // failed ones (status < 0), munmap.  Return run_processes' error if
    // it failed, else the count.
    if (nworkers < 1 || (n > 0 && (urls == NULL || res == NULL)))
        return -EINVAL;
    if (n == 0)
        return 0;
    size_t size = sizeof(struct share) + n * sizeof *res;
    struct share *s = mmap(NULL, size, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED)
        return -errno;
    share_init(s, n, 1, fetch_item);
    s->urls = urls;
    s->res = (mp_fetch_result *)(s + 1);
    int err = run_processes(s, worker_count(nworkers, n, 1));
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        res[i] = s->res[i];
        failed += res[i].status < 0;
    }
    munmap(s, size);
    return err < 0 ? err : failed;
}
