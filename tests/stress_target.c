// stress_target.c - code for stress_selftest to fault: built and wrapped
// (tests/wrap.syms) as a lesson's object is, so its calls are the ones
// tests/stress.c counts and fails.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Allocate a handle, make a pipe, fork a child that writes one byte, read
// it and wait.  Returns 0 or -errno.  With leaky set, the failure paths
// after malloc forget to free and close: the bug a fault walk finds.
// Where the handle escapes: an allocation only freed (or leaked) is one
// clang may remove at -O2, and with it the malloc the walk must fail.
int *volatile st_last_handle;

int
st_spawn_echo(int leaky)
{
    int *h = malloc(64), fds[2], err;
    if (h == NULL)
        return -ENOMEM;
    st_last_handle = h;
    if (pipe(fds) < 0) {
        err = -errno;
        goto fail_free;
    }
    pid_t pid = fork();
    if (pid < 0) {
        err = -errno;
        goto fail_close;
    }
    if (pid == 0) {
        close(fds[0]);
        _exit(write(fds[1], "x", 1) == 1 ? 0 : 1);
    }
    char c;
    close(fds[1]);
    ssize_t n = read(fds[0], &c, 1);
    close(fds[0]);
    free(h);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return n == 1 ? 0 : -EIO;
fail_close:
    if (!leaky) {
        close(fds[0]);
        close(fds[1]);
    }
fail_free:
    if (!leaky)
        free(h);
    return err;
}

static long
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

// Wait up to timeout_ms (-1: for ever) for fd to be readable, retrying
// on EINTR for the time left.  Returns 1, 0 on timeout, or -errno.
int
st_wait_readable(int fd, int timeout_ms)
{
    long deadline = mono_ms() + timeout_ms;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, timeout_ms);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
        if (timeout_ms > 0)
            timeout_ms = deadline > mono_ms() ? (int)(deadline - mono_ms()) : 0;
    }
}

// The same with the classic bug: the full timeout again after each EINTR.
int
st_wait_readable_restarting(int fd, int timeout_ms)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, timeout_ms);
        if (n >= 0 || errno != EINTR)
            return n >= 0 ? n : -errno;
    }
}

// Seconds on the wall clock, three ways, as the code under test sees them.
long long
st_wall_clock_gettime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

long long
st_wall_time(void)
{
    return time(NULL);
}

long long
st_wall_gettimeofday(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec;
}

long long
st_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

// Read exactly len bytes (a loop over short reads).  Returns len or -errno.
ssize_t
st_read_full(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : (ssize_t)got;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

// Unlock m, as the code under test does (a wrapped call).
int
st_unlock(pthread_mutex_t *m)
{
    return pthread_mutex_unlock(m);
}

// Connect fd to addr, as the code under test does (a wrapped call).
int
st_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    return connect(fd, addr, len);
}

// Send len bytes of buf on the socket fd with one sendmsg, as the code
// under test does (a wrapped call).
ssize_t
st_sendmsg(int fd, const void *buf, size_t len)
{
    struct iovec v = {(void *)buf, len};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
    return sendmsg(fd, &m, MSG_NOSIGNAL);
}

// Remove path, as the code under test does (a wrapped call).
int
st_unlink(const char *path)
{
    return unlink(path);
}

// Lock the whole file fd for writing with F_SETLK, as the code under test
// does (a wrapped call).
int
st_lock(int fd)
{
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    return fcntl(fd, F_SETLK, &lk);
}

// Nanoseconds on CLOCK_MONOTONIC, as the code under test sees them; -1
// for a timespec no kernel call would take (tv_nsec out of range).
long long
st_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L)
        return -1;
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Map len bytes of anonymous shared memory, and unmap them, as the code
// under test does (wrapped calls).  NULL if mmap failed.
char *
st_map(size_t len)
{
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int
st_unmap(char *p, size_t len)
{
    return munmap(p, len);
}

// The CPUs online, as the code under test sees them.
long
st_cpus(void)
{
    return sysconf(_SC_NPROCESSORS_ONLN);
}

// A pidfd for pid through syscall(2), as the lessons open one; -1 and
// errno on failure.
int
st_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

// A futex wait that uses all six arguments: a word that does not hold
// val, so the kernel answers at once, EAGAIN, or EINVAL when the sixth
// (the bitset) is 0.  -1 and errno.
int
st_futex_bitset(unsigned val, unsigned bitset)
{
    static unsigned word = 1;
    return (int)syscall(SYS_futex, &word, FUTEX_WAIT_BITSET, val, NULL, NULL,
                        bitset);
}

// Block SIGUSR2 for a moment with sigprocmask, and install SIG_IGN for it
// with sigaction: with init set, from a set and an action made as they
// should be; without, from a set never emptied and an action whose
// sa_flags was never set (what the wrappers must notice).
int
st_mask_and_action(int init)
{
    sigset_t set, old;
    struct sigaction sa, was;
    if (init) {
        sigemptyset(&set);
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
    }
    sigaddset(&set, SIGUSR2);
    sa.sa_handler = SIG_IGN;
    if (sigprocmask(SIG_BLOCK, &set, &old) < 0)
        return -errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (sigaction(SIGUSR2, &sa, &was) < 0)
        return -errno;
    sigaction(SIGUSR2, &was, NULL);
    return 0;
}

// Poll descriptor 0 for a moment, with events set or (init 0) never set.
int
st_poll_events(int init)
{
    struct pollfd p;
    p.fd = 0;
    if (init)
        p.events = POLLIN;
    return poll(&p, 1, 0) < 0 ? -errno : 0;
}

// A descriptor closed that (unless init) the code never set.  (Read
// never set on purpose: a branch that sets it would let the optimiser
// assume it always does.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
static int
close_unset(void)
{
    int fd;
    return close(fd) < 0 ? -errno : 0;
}
#pragma GCC diagnostic pop

int
st_close_never_set(int init)
{
    if (init)
        return close(-1) < 0 ? -errno : 0;
    return close_unset();
}

// A condition initialised, destroyed, then (if again) initialised anew
// before it is signalled, then destroyed: only !again is a misuse.
int
st_cond_after_destroy(int again)
{
    pthread_cond_t c;
    int r = pthread_cond_init(&c, NULL);
    if (r == 0)
        r = pthread_cond_destroy(&c);
    if (r == 0 && again)
        r = pthread_cond_init(&c, NULL);
    if (r == 0)
        r = pthread_cond_signal(&c);
    if (r == 0)
        r = pthread_cond_destroy(&c);
    return -r;
}
