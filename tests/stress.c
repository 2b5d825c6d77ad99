// stress.c - faults, signal storms and clock jumps for the code under test.
//
// Why this exists: the mistakes this course is about hide on the paths a
// calm machine never takes.  pipe() fails with EMFILE after malloc has
// succeeded, and the handle leaks; a read returns 3 bytes of a 4-byte
// header; a signal lands in the middle of poll() and the timeout restarts;
// the wall clock steps back an hour during a sem_timedwait.  A test that
// waits for those to happen by themselves waits for ever, so this file
// makes them happen on purpose, on the call a test chooses, in the way
// SQLite's test harness fails its nth malloc and nth I/O call.
//
// How: the Makefile (and the grader) rename the undefined symbols of the
// code under test with `objcopy --redefine-syms=tests/wrap.syms`, so its
// call to fork() is a call to fl_wrap_fork() below, which counts it and
// either fails it or calls the real fork().  Only that object is renamed:
// the test's own calls, the harness's, Check's and libc's inner calls
// (stdio's malloc, say) go straight to libc.  Each wrapper keeps its
// function's contract exactly when no fault is armed, so code that passes
// without faults passes with the wrappers.
//
// What it trades:
//  - Only calls the code under test makes by name are seen.  A call made
//    through a function pointer taken in libc, or from inside libc (fopen's
//    open, getline's malloc), is neither counted nor faulted.
//  - State lives in plain process memory, so a child forked by the code
//    inherits the counters and armed faults and counts on its own: the
//    parent never sees a child's calls.  That is what a per-process fault
//    means, and it is fork-safe without locks: counters are lock-free
//    atomics, safe from several threads and in a signal handler.
//  - The heap is counted with malloc_usable_size, not with a header in
//    front of each block, so a block may move between the code and libc or
//    the test (strdup there, free here) without a crash; the price is that
//    such a block skews the count, which fl_heap_live documents.
//  - The storm's timer aims at one thread (SIGEV_THREAD_ID, Linux): the
//    call the test makes is the one interrupted, not a helper thread's.
#define _GNU_SOURCE
#include "stress.h"
#include "sanitize.h"
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* --------------------------------------------------------- the functions */

// Every function tests/wrap.syms renames, in the same spelling.
// clang-format off
#define FL_FUNCS(X)                                                            \
    X(fork) X(pipe) X(pipe2) X(socketpair) X(socket) X(connect) X(accept)      \
    X(accept4) X(bind) X(listen) X(shutdown) X(mmap) X(munmap) X(ftruncate)    \
    X(shm_open) X(shm_unlink) X(unlink) X(open) X(close) X(dup) X(dup2)        \
    X(fcntl) X(eventfd) X(chdir) X(malloc) X(calloc) X(realloc) X(strdup)      \
    X(free) X(read) X(write) X(readv) X(writev) X(send) X(recv) X(sendmsg)     \
    X(recvmsg) X(waitpid) X(wait) X(poll) X(nanosleep) X(sigtimedwait)         \
    X(kill) X(sigaction) X(sem_open) X(sem_wait) X(sem_timedwait) X(sem_post)  \
    X(mq_open) X(mq_send) X(mq_receive) X(mq_timedsend) X(mq_timedreceive)     \
    X(posix_spawn) X(execv) X(execve) X(execvp) X(pthread_create)              \
    X(pthread_cond_timedwait) X(setsid) X(clock_gettime) X(time)               \
    X(gettimeofday) X(exit) X(_exit) X(fstat) X(pthread_mutex_init)            \
    X(pthread_cond_init) X(pthread_mutex_unlock) X(getrandom) X(sysconf)      \
    X(pthread_mutex_lock) X(sem_init) X(syscall) X(sigprocmask)              \
    X(pthread_sigmask) X(pthread_cond_destroy) X(pthread_cond_wait)          \
    X(pthread_cond_signal) X(pthread_cond_broadcast)                        \
    X(posix_spawn_file_actions_addclose)                                       \
    X(posix_spawn_file_actions_adddup2)
// clang-format on

enum fn_id {
#define FL_ID(n) FN_##n,
    FL_FUNCS(FL_ID)
#undef FL_ID
        FN_COUNT
};

static const char *const fn_names[FN_COUNT] = {
#define FL_NAME(n) #n,
    FL_FUNCS(FL_NAME)
#undef FL_NAME
};

// Functions whose calls can be cut short, and those that can block.
static const char *const transfers =
    " read write readv writev send recv sendmsg recvmsg ";
static const char *const blocking =
    " read write readv writev send recv sendmsg recvmsg waitpid wait poll "
    "accept accept4 connect sem_wait sem_timedwait sigtimedwait nanosleep "
    "mq_send mq_receive mq_timedsend mq_timedreceive ";
// Functions after whose call the process can stop itself.
static const char *const stoppable =
    " pthread_mutex_unlock connect unlink fcntl sendmsg ";

enum { K_NONE, K_FAIL, K_FROM, K_SHORT, K_STOP, K_SIGNAL };

// One function's counter and armed fault.  The test arms it (kind last,
// so that a wrapper that sees the kind sees the rest) while the code under
// test may run in other threads.
struct fault {
    atomic_long calls;
    atomic_long fired;
    atomic_int kind;
    long nth;
    long last; // the last call that fails: nth, but for fl_fault_eintr_run
    int err;
    size_t max;
    long long later_ms; // fl_fault_eintr_late: the clock moves when it fires
};

static struct fault faults[FN_COUNT];
static atomic_long wall_reads;
static atomic_llong wall_offset;  // seconds added to the wall clock
static atomic_long jump_after;    // reads that still see the old clock
static atomic_llong jump_seconds; // the pending jump, 0 for none
static atomic_int mono_whole_ms;  // 1: CLOCK_MONOTONIC in whole ms
static atomic_long mono_reads;    // reads of CLOCK_MONOTONIC
static atomic_long mono_after;    // reads that still see it unmoved
static atomic_llong mono_ms;      // then it is this many ms later
static atomic_long fake_cpus;     // what sysconf says of the CPUs, 0: the truth
static atomic_long poll_longest = -1; // fl_poll_longest, -1: no poll yet
static atomic_long heap_blocks;
static atomic_llong heap_bytes;

// fl_mmap_guard: the code's mappings made while it is on, each followed
// by a PROT_NONE page; a munmap that reaches a mapping's end removes its
// guard too.  A small table, guarded by a spin lock (threads may map).
#define GUARDS 64
static atomic_int guard_on;
static atomic_flag guard_busy = ATOMIC_FLAG_INIT;
static struct {
    char *start; // the mapping; its guard page starts at start + len
    size_t len;  // its length, rounded up to whole pages
} guards[GUARDS];

static enum fn_id
lookup(const char *fn)
{
    for (int i = 0; i < FN_COUNT; i++)
        if (strcmp(fn_names[i], fn) == 0)
            return (enum fn_id)i;
    ck_abort_msg("stress: no wrapper for %s(): add it to tests/wrap.syms "
                 "and to FL_FUNCS in tests/stress.c",
                 fn);
    return FN_COUNT;
}

// Whether the word fn is in the space-separated list.
static int
listed(const char *list, const char *fn)
{
    char word[64];
    snprintf(word, sizeof word, " %s ", fn);
    return strstr(list, word) != NULL;
}

// Arm calls nth to last of fn (a K_FAIL; other kinds fire at nth only,
// or from it on, K_FROM).
static void
arm_calls(const char *fn, int kind, int nth, int last, int err, size_t max)
{
    struct fault *f = &faults[lookup(fn)];
    // No ck_assert_msg when all is well: its mark point needs a running
    // test, and a program run again (a fork server) arms a fault first.
    if (nth < 1)
        ck_abort_msg("stress: call numbers start at 1, not %d", nth);
    atomic_store(&f->kind, K_NONE);
    f->nth = nth;
    f->last = last;
    f->err = err;
    f->max = max;
    f->later_ms = 0;
    atomic_store(&f->fired, 0);
    atomic_store(&f->kind, kind);
}

static void
arm(const char *fn, int kind, int nth, int err, size_t max)
{
    arm_calls(fn, kind, nth, nth, err, max);
}

void
fl_fault_reset(void)
{
    for (int i = 0; i < FN_COUNT; i++) {
        atomic_store(&faults[i].kind, K_NONE);
        atomic_store(&faults[i].calls, 0);
        atomic_store(&faults[i].fired, 0);
    }
    atomic_store(&wall_reads, 0);
    atomic_store(&wall_offset, 0);
    atomic_store(&jump_seconds, 0);
    atomic_store(&jump_after, 0);
    atomic_store(&mono_whole_ms, 0);
    atomic_store(&mono_ms, 0);
    atomic_store(&mono_reads, 0);
    atomic_store(&guard_on, 0);
    atomic_store(&fake_cpus, 0);
    atomic_store(&poll_longest, -1);
}

void
fl_fault_fail(const char *fn, int nth, int err)
{
    arm(fn, K_FAIL, nth, err, 0);
}

void
fl_fault_fail_from(const char *fn, int nth, int err)
{
    arm(fn, K_FROM, nth, err, 0);
}

void
fl_fault_short(const char *fn, int nth, size_t max)
{
    ck_assert_msg(listed(transfers, fn) && max > 0,
                  "stress: fl_fault_short(\"%s\", %d, %zu): only a transfer "
                  "(%s) can be cut short, to at least 1 byte",
                  fn, nth, max, transfers);
    arm(fn, K_SHORT, nth, 0, max);
}

void
fl_fault_eintr(const char *fn, int nth)
{
    ck_assert_msg(listed(blocking, fn),
                  "stress: fl_fault_eintr(\"%s\"): only a blocking call "
                  "(%s) is interrupted by a signal",
                  fn, blocking);
    arm(fn, K_FAIL, nth, EINTR, 0);
}

void
fl_fault_eintr_run(const char *fn, int nth, int count)
{
    fl_fault_eintr(fn, nth); // (its check of fn)
    if (count < 1)
        ck_abort_msg("stress: fl_fault_eintr_run(\"%s\", %d, %d): at least "
                     "one call",
                     fn, nth, count);
    arm_calls(fn, K_FAIL, nth, nth + count - 1, EINTR, 0);
}

void
fl_fault_eintr_late(const char *fn, int nth, long long ms)
{
    ck_assert_msg(ms >= 0,
                  "stress: fl_fault_eintr_late(\"%s\", %d, %lld): "
                  "the clock only moves on",
                  fn, nth, ms);
    fl_fault_eintr(fn, nth);
    faults[lookup(fn)].later_ms = ms;
}

void
fl_fault_stop_after(const char *fn, int nth)
{
    ck_assert_msg(listed(stoppable, fn),
                  "stress: fl_fault_stop_after(\"%s\"): only%s can stop the "
                  "process after it",
                  fn, stoppable);
    arm(fn, K_STOP, nth, 0, 0);
}

void
fl_fault_signal_before(const char *fn, int nth, int sig)
{
    arm(fn, K_SIGNAL, nth, sig, 0);
}

long
fl_fault_calls(const char *fn)
{
    return atomic_load(&faults[lookup(fn)].calls);
}

long
fl_fault_fired(const char *fn)
{
    return atomic_load(&faults[lookup(fn)].fired);
}

long
fl_poll_longest(void)
{
    return atomic_load(&poll_longest);
}

int
fl_fault_walk_begin(const char *fn, int err)
{
    fl_fault_reset();
    fl_fault_fail(fn, 1, err);
    return 1;
}

int
fl_fault_walk_next(const char *fn, int err, int k)
{
    // Fewer than k calls: the armed call never came, the run was clean.
    int over = fl_fault_calls(fn) < k || k >= FL_WALK_MAX;
    fl_fault_reset();
    if (over)
        return 0;
    fl_fault_fail(fn, k + 1, err);
    return k + 1;
}

/* ------------------------------------------------------ inside a wrapper */

// Count a call of id and say what to do with it: 1 to fail it with *err,
// 0 to call the real function with at most *cap bytes.  (A stop after the
// call is 1 with *err 0: the wrapper makes the call, then stops.)
static int
intercept(enum fn_id id, int *err, size_t *cap)
{
    struct fault *f = &faults[id];
    long n = atomic_fetch_add(&f->calls, 1) + 1;
    int kind = atomic_load(&f->kind);
    if (kind == K_NONE || n < f->nth ||
        (kind == K_FAIL ? n > f->last : kind != K_FROM && n != f->nth))
        return 0;
    atomic_fetch_add(&f->fired, 1);
    if (f->later_ms > 0) { // fl_fault_eintr_late: every later read moved
        atomic_store(&mono_ms, 0);
        atomic_store(&mono_after, atomic_load(&mono_reads));
        atomic_store(&mono_ms, f->later_ms);
    }
    if (kind == K_SHORT) {
        if (*cap > f->max)
            *cap = f->max;
        return 0;
    }
    if (kind == K_SIGNAL) {
        raise(f->err);
        return 0;
    }
    *err = kind == K_STOP ? 0 : f->err;
    return 1;
}

// The start of a wrapper whose function fails with `fail` and errno.
#define INTERCEPT(name, fail)                                                  \
    do {                                                                       \
        int e_;                                                                \
        size_t c_ = SIZE_MAX;                                                  \
        if (intercept(FN_##name, &e_, &c_)) {                                  \
            errno = e_;                                                        \
            return (fail);                                                     \
        }                                                                      \
    } while (0)

// The start of a wrapper whose function returns an error number.
#define INTERCEPT_RET(name)                                                    \
    do {                                                                       \
        int e_;                                                                \
        size_t c_ = SIZE_MAX;                                                  \
        if (intercept(FN_##name, &e_, &c_))                                    \
            return e_;                                                         \
    } while (0)

// The start of a transfer's wrapper: fail it, or set cap_ for a short one.
#define INTERCEPT_IO(name)                                                     \
    int e_;                                                                    \
    size_t cap_ = SIZE_MAX;                                                    \
    if (intercept(FN_##name, &e_, &cap_)) {                                    \
        errno = e_;                                                            \
        return -1;                                                             \
    }

#define MIN(a, b) ((a) < (b) ? (a) : (b))

// Copy iov[0..cnt) into out (room for 64), keeping at most cap bytes.
// Returns the new count.
static int
trim_iov(const struct iovec *iov, int cnt, size_t cap, struct iovec *out)
{
    int n = 0;
    for (; n < cnt && n < 64 && cap > 0; n++) {
        out[n] = iov[n];
        out[n].iov_len = MIN(iov[n].iov_len, cap);
        cap -= out[n].iov_len;
    }
    return n > 0 ? n : MIN(cnt, 1);
}

static void
heap_count(void *p, int sign)
{
    if (p == NULL)
        return;
    atomic_fetch_add(&heap_blocks, sign);
    atomic_fetch_add(&heap_bytes, sign * (long long)malloc_usable_size(p));
}

// Seconds to add to a wall clock read that is being made now.
static long long
wall_read(void)
{
    long n = atomic_fetch_add(&wall_reads, 1) + 1;
    long long off = atomic_load(&wall_offset);
    if (n > atomic_load(&jump_after))
        off += atomic_load(&jump_seconds);
    return off;
}

/* -------------------------------------------------------------- wrappers */

// The wrappers are called only by renamed objects, never by name from C:
// they have no header, and are not static so that the linker finds them.

pid_t
fl_wrap_fork(void)
{
    INTERCEPT(fork, -1);
    return fork();
}

int
fl_wrap_pipe(int fds[2])
{
    INTERCEPT(pipe, -1);
    return pipe(fds);
}

int
fl_wrap_pipe2(int fds[2], int flags)
{
    INTERCEPT(pipe2, -1);
    return pipe2(fds, flags);
}

int
fl_wrap_socketpair(int domain, int type, int proto, int sv[2])
{
    INTERCEPT(socketpair, -1);
    return socketpair(domain, type, proto, sv);
}

int
fl_wrap_socket(int domain, int type, int proto)
{
    INTERCEPT(socket, -1);
    return socket(domain, type, proto);
}

// What an int local holds when the code never set it: student code is
// built with -ftrivial-auto-var-init=pattern, which fills it with 0xfe
// bytes (a wider local, cut to an int, too).  A plain build would pass
// whatever the stack held, another descriptor of the caller's perhaps;
// the kernel refuses this one, and a close that fails goes unseen.
#define NEVER_SET ((int)0xfefefefe)

static void
never_set(const char *call, const char *what, int v)
{
    if (v == NEVER_SET)
        fl_misuse("%s was given the %s %d (0xfefefefe): the bytes a local "
                  "the code never set holds in this build. Set every %s "
                  "before it is used, on every path (an error path too): a "
                  "plain build would pass whatever the stack held, perhaps "
                  "another descriptor or process of the caller's.",
                  call, what, v, what);
}

// May stop the process once connected, as pthread_mutex_unlock's wrapper.
int
fl_wrap_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    never_set("connect", "descriptor", fd);
    int e_;
    size_t c_ = SIZE_MAX;
    int hit = intercept(FN_connect, &e_, &c_);
    if (hit && e_ != 0) {
        errno = e_;
        return -1;
    }
    int r = connect(fd, addr, len);
    if (hit) { // a stop after the call: see what it did, nothing after
        int saved = errno;
        raise(SIGSTOP);
        errno = saved;
    }
    return r;
}

int
fl_wrap_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    never_set("accept", "descriptor", fd);
    INTERCEPT(accept, -1);
    return accept(fd, addr, len);
}

int
fl_wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    never_set("accept4", "descriptor", fd);
    INTERCEPT(accept4, -1);
    return accept4(fd, addr, len, flags);
}

int
fl_wrap_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    never_set("bind", "descriptor", fd);
    INTERCEPT(bind, -1);
    return bind(fd, addr, len);
}

int
fl_wrap_listen(int fd, int backlog)
{
    never_set("listen", "descriptor", fd);
    INTERCEPT(listen, -1);
    return listen(fd, backlog);
}

int
fl_wrap_shutdown(int fd, int how)
{
    never_set("shutdown", "descriptor", fd);
    INTERCEPT(shutdown, -1);
    return shutdown(fd, how);
}

void *
fl_wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    INTERCEPT(mmap, MAP_FAILED);
    if (!atomic_load(&guard_on) || addr != NULL || len == 0 ||
        (flags & MAP_FIXED) != 0)
        return mmap(addr, len, prot, flags, fd, off);
    // Reserve the mapping and one page more, all PROT_NONE, then put the
    // real mapping over the start of it: the page after stays a guard.
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t whole = (len + page - 1) / page * page;
    char *r = mmap(NULL, whole + page, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return mmap(addr, len, prot, flags, fd, off);
    void *p = mmap(r, len, prot, flags | MAP_FIXED, fd, off);
    if (p == MAP_FAILED) {
        int e = errno;
        munmap(r, whole + page);
        errno = e;
        return MAP_FAILED;
    }
    while (atomic_flag_test_and_set(&guard_busy))
        ;
    int i = 0;
    while (i < GUARDS && guards[i].start != NULL)
        i++;
    if (i < GUARDS) {
        guards[i].start = r;
        guards[i].len = whole;
    }
    atomic_flag_clear(&guard_busy);
    if (i == GUARDS) // no room to remember it: no guard
        munmap(r + whole, page);
    return p;
}

int
fl_wrap_munmap(void *addr, size_t len)
{
    INTERCEPT(munmap, -1);
    int r = munmap(addr, len);
    if (r != 0)
        return r;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *end = (char *)addr + (len + page - 1) / page * page;
    while (atomic_flag_test_and_set(&guard_busy))
        ;
    for (int i = 0; i < GUARDS; i++)
        if (guards[i].start != NULL && (char *)addr >= guards[i].start &&
            end == guards[i].start + guards[i].len) {
            munmap(end, page); // the mapping's end is gone: its guard too
            guards[i].start = NULL;
        }
    atomic_flag_clear(&guard_busy);
    return 0;
}

int
fl_wrap_ftruncate(int fd, off_t len)
{
    never_set("ftruncate", "descriptor", fd);
    INTERCEPT(ftruncate, -1);
    return ftruncate(fd, len);
}

int
fl_wrap_fstat(int fd, struct stat *st)
{
    never_set("fstat", "descriptor", fd);
    INTERCEPT(fstat, -1);
    return fstat(fd, st);
}

int
fl_wrap_shm_open(const char *name, int flags, mode_t mode)
{
    INTERCEPT(shm_open, -1);
    return shm_open(name, flags, mode);
}

int
fl_wrap_shm_unlink(const char *name)
{
    INTERCEPT(shm_unlink, -1);
    return shm_unlink(name);
}

int
fl_wrap_unlink(const char *path)
{
    int e_;
    size_t c_ = SIZE_MAX;
    int hit = intercept(FN_unlink, &e_, &c_);
    if (hit && e_ != 0) {
        errno = e_;
        return -1;
    }
    int r = unlink(path);
    if (hit) { // a stop after the call, as in fl_wrap_connect
        int saved = errno;
        raise(SIGSTOP);
        errno = saved;
    }
    return r;
}

int
fl_wrap_open(const char *path, int flags, ...)
{
    INTERCEPT(open, -1);
    mode_t mode = 0;
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return open(path, flags, mode);
}

int
fl_wrap_close(int fd)
{
    never_set("close", "descriptor", fd);
    INTERCEPT(close, -1);
    return close(fd);
}

int
fl_wrap_dup(int fd)
{
    never_set("dup", "descriptor", fd);
    INTERCEPT(dup, -1);
    return dup(fd);
}

int
fl_wrap_dup2(int fd, int to)
{
    never_set("dup2", "descriptor", fd);
    never_set("dup2", "descriptor", to);
    INTERCEPT(dup2, -1);
    return dup2(fd, to);
}

int
fl_wrap_fcntl(int fd, int cmd, ...)
{
    never_set("fcntl", "descriptor", fd);
    int e_;
    size_t c_ = SIZE_MAX;
    int hit = intercept(FN_fcntl, &e_, &c_);
    if (hit && e_ != 0) {
        errno = e_;
        return -1;
    }
    // The third argument is an int or a pointer, as glibc reads it.
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    int r = fcntl(fd, cmd, arg);
    if (hit) { // a stop after the call, as in fl_wrap_connect
        int saved = errno;
        raise(SIGSTOP);
        errno = saved;
    }
    return r;
}

int
fl_wrap_eventfd(unsigned int value, int flags)
{
    INTERCEPT(eventfd, -1);
    return eventfd(value, flags);
}

int
fl_wrap_chdir(const char *path)
{
    INTERCEPT(chdir, -1);
    return chdir(path);
}

void *
fl_wrap_malloc(size_t size)
{
    INTERCEPT(malloc, NULL);
    void *p = malloc(size);
    heap_count(p, 1);
    return p;
}

void *
fl_wrap_calloc(size_t n, size_t size)
{
    INTERCEPT(calloc, NULL);
    void *p = calloc(n, size);
    heap_count(p, 1);
    return p;
}

void *
fl_wrap_realloc(void *old, size_t size)
{
    INTERCEPT(realloc, NULL);
    long long before = old ? (long long)malloc_usable_size(old) : 0;
    void *p = realloc(old, size);
    if (p == NULL && (size > 0 || old == NULL))
        return NULL; // failed: the old block is untouched
    atomic_fetch_add(&heap_blocks, (p != NULL) - (old != NULL));
    atomic_fetch_add(&heap_bytes,
                     (p ? (long long)malloc_usable_size(p) : 0) - before);
    return p;
}

char *
fl_wrap_strdup(const char *s)
{
    INTERCEPT(strdup, NULL);
    char *p = strdup(s);
    heap_count(p, 1);
    return p;
}

void
fl_wrap_free(void *p)
{
    int e_;
    size_t c_ = SIZE_MAX;
    intercept(FN_free, &e_, &c_); // counted; free cannot fail
    heap_count(p, -1);
    free(p);
}

ssize_t
fl_wrap_read(int fd, void *buf, size_t len)
{
    never_set("read", "descriptor", fd);
    INTERCEPT_IO(read);
    return read(fd, buf, MIN(len, cap_));
}

ssize_t
fl_wrap_write(int fd, const void *buf, size_t len)
{
    never_set("write", "descriptor", fd);
    INTERCEPT_IO(write);
    return write(fd, buf, MIN(len, cap_));
}

ssize_t
fl_wrap_readv(int fd, const struct iovec *iov, int cnt)
{
    never_set("readv", "descriptor", fd);
    INTERCEPT_IO(readv);
    struct iovec v[64];
    if (cap_ == SIZE_MAX)
        return readv(fd, iov, cnt);
    return readv(fd, v, trim_iov(iov, cnt, cap_, v));
}

ssize_t
fl_wrap_writev(int fd, const struct iovec *iov, int cnt)
{
    never_set("writev", "descriptor", fd);
    INTERCEPT_IO(writev);
    struct iovec v[64];
    if (cap_ == SIZE_MAX)
        return writev(fd, iov, cnt);
    return writev(fd, v, trim_iov(iov, cnt, cap_, v));
}

ssize_t
fl_wrap_send(int fd, const void *buf, size_t len, int flags)
{
    never_set("send", "descriptor", fd);
    INTERCEPT_IO(send);
    return send(fd, buf, MIN(len, cap_), flags);
}

ssize_t
fl_wrap_recv(int fd, void *buf, size_t len, int flags)
{
    never_set("recv", "descriptor", fd);
    INTERCEPT_IO(recv);
    return recv(fd, buf, MIN(len, cap_), flags);
}

// May stop the process once sent, as connect's wrapper: the peer has the
// bytes, and the code has done nothing after the send yet.
ssize_t
fl_wrap_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    never_set("sendmsg", "descriptor", fd);
    int e_;
    size_t cap_ = SIZE_MAX;
    int hit = intercept(FN_sendmsg, &e_, &cap_);
    if (hit && e_ != 0) {
        errno = e_;
        return -1;
    }
    struct iovec v[64];
    struct msghdr m = *msg;
    if (cap_ != SIZE_MAX) {
        m.msg_iov = v;
        m.msg_iovlen =
            (size_t)trim_iov(msg->msg_iov, (int)msg->msg_iovlen, cap_, v);
    }
    ssize_t r = sendmsg(fd, &m, flags);
    if (hit) {
        int saved = errno;
        raise(SIGSTOP);
        errno = saved;
    }
    return r;
}

ssize_t
fl_wrap_recvmsg(int fd, struct msghdr *msg, int flags)
{
    never_set("recvmsg", "descriptor", fd);
    INTERCEPT_IO(recvmsg);
    if (cap_ == SIZE_MAX)
        return recvmsg(fd, msg, flags);
    struct iovec v[64], *keep = msg->msg_iov;
    size_t keep_len = msg->msg_iovlen;
    msg->msg_iovlen = (size_t)trim_iov(keep, (int)keep_len, cap_, v);
    msg->msg_iov = v;
    ssize_t n = recvmsg(fd, msg, flags);
    msg->msg_iov = keep; // the caller's array, as it gave it
    msg->msg_iovlen = keep_len;
    return n;
}

pid_t
fl_wrap_waitpid(pid_t pid, int *status, int options)
{
    never_set("waitpid", "pid", pid);
    INTERCEPT(waitpid, -1);
    return waitpid(pid, status, options);
}

pid_t
fl_wrap_wait(int *status)
{
    INTERCEPT(wait, -1);
    return wait(status);
}

int
fl_wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
    long ms = timeout < 0 ? LONG_MAX : timeout;
    for (long was = atomic_load(&poll_longest);
         ms > was && !atomic_compare_exchange_weak(&poll_longest, &was, ms);)
        continue;
    INTERCEPT(poll, -1);
    // Bits 0x4000 and up are no event a program can ask for (the kernel's
    // own): events never set holds them (0xfefe, student code's locals).
    // (An entry with a negative fd is ignored, events and all.)
    for (nfds_t i = 0; fds != NULL && i < n && i < 4096; i++)
        never_set("poll", "pollfd fd", fds[i].fd);
    for (nfds_t i = 0; fds != NULL && i < n && i < 4096; i++)
        if (fds[i].fd >= 0 && (unsigned short)fds[i].events >= 0x4000) {
            fl_misuse("poll was given a pollfd (entry %lu of %lu) whose "
                      "events, 0x%hx, was never set: it held whatever the "
                      "stack held. Set fd and events (POLLIN, POLLOUT) of "
                      "every entry you pass.",
                      (unsigned long)i, (unsigned long)n,
                      (unsigned short)fds[i].events);
            break;
        }
    return poll(fds, n, timeout);
}

int
fl_wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
    INTERCEPT(nanosleep, -1);
    return nanosleep(req, rem);
}

// Signals 32 and 33 are the C library's own: sigemptyset, sigfillset and
// sigaddset never put them in a set, so a set that holds one was never
// made by them.  Its bytes are what the stack held: the course builds
// student code with -ftrivial-auto-var-init=pattern (0xfe bytes).
static int
unmade_set(const sigset_t *set)
{
    unsigned long w;
    memcpy(&w, set, sizeof w);
    return (w >> 31 & 3) != 0; // bit n-1 is signal n
}

static void
check_set(const char *fn, const char *what, const sigset_t *set)
{
    if (set != NULL && unmade_set(set))
        fl_misuse("%s was given a signal set (%s) that was never "
                  "initialised: it held whatever the stack held. Start "
                  "every sigset_t with sigemptyset() (or sigfillset()), "
                  "then sigaddset() the signals you mean.",
                  fn, what);
}

int
fl_wrap_sigtimedwait(const sigset_t *set, siginfo_t *info,
                     const struct timespec *timeout)
{
    INTERCEPT(sigtimedwait, -1);
    check_set("sigtimedwait", "its first argument", set);
    return sigtimedwait(set, info, timeout);
}

int
fl_wrap_kill(pid_t pid, int sig)
{
    never_set("kill", "pid", pid);
    INTERCEPT(kill, -1);
    return kill(pid, sig);
}

int
fl_wrap_sigaction(int sig, const struct sigaction *sa, struct sigaction *old)
{
    INTERCEPT(sigaction, -1);
    // Every flag a program can mean, and the C library's SA_RESTORER.
    const unsigned long known = SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO |
                                SA_ONSTACK | SA_RESTART | SA_NODEFER |
                                SA_RESETHAND | 0x04000000UL | 0x00000400UL |
                                0x00000800UL | 0x20000000UL;
    if (sa != NULL && ((unsigned long)(unsigned)sa->sa_flags & ~known) != 0)
        fl_misuse("sigaction(%s) was given sa_flags 0x%x, bits that are no "
                  "flag: the struct sigaction was never initialised, and "
                  "its sa_flags held whatever the stack held. Set sa_flags "
                  "(0, or the flags you mean), or start from "
                  "struct sigaction sa = {0}.",
                  fl_signame(sig), (unsigned)sa->sa_flags);
    if (sa != NULL)
        check_set("sigaction", "sa_mask", &sa->sa_mask);
    return sigaction(sig, sa, old);
}

int
fl_wrap_sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    INTERCEPT(sigprocmask, -1);
    check_set("sigprocmask", "its second argument", set);
    return sigprocmask(how, set, old);
}

int
fl_wrap_pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    INTERCEPT_RET(pthread_sigmask);
    check_set("pthread_sigmask", "its second argument", set);
    return pthread_sigmask(how, set, old);
}

sem_t *
fl_wrap_sem_open(const char *name, int flags, ...)
{
    INTERCEPT(sem_open, SEM_FAILED);
    mode_t mode = 0;
    unsigned value = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        value = va_arg(ap, unsigned);
        va_end(ap);
    }
    return sem_open(name, flags, mode, value);
}

int
fl_wrap_sem_wait(sem_t *sem)
{
    INTERCEPT(sem_wait, -1);
    return sem_wait(sem);
}

int
fl_wrap_sem_timedwait(sem_t *sem, const struct timespec *deadline)
{
    INTERCEPT(sem_timedwait, -1);
    return sem_timedwait(sem, deadline);
}

int
fl_wrap_sem_post(sem_t *sem)
{
    INTERCEPT(sem_post, -1);
    return sem_post(sem);
}

int
fl_wrap_sem_init(sem_t *sem, int pshared, unsigned value)
{
    INTERCEPT(sem_init, -1);
    return sem_init(sem, pshared, value);
}

mqd_t
fl_wrap_mq_open(const char *name, int flags, ...)
{
    INTERCEPT(mq_open, (mqd_t)-1);
    mode_t mode = 0;
    struct mq_attr *attr = NULL;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        attr = va_arg(ap, struct mq_attr *);
        va_end(ap);
    }
    return mq_open(name, flags, mode, attr);
}

int
fl_wrap_mq_send(mqd_t q, const char *msg, size_t len, unsigned prio)
{
    INTERCEPT(mq_send, -1);
    return mq_send(q, msg, len, prio);
}

ssize_t
fl_wrap_mq_receive(mqd_t q, char *msg, size_t len, unsigned *prio)
{
    INTERCEPT(mq_receive, -1);
    return mq_receive(q, msg, len, prio);
}

int
fl_wrap_mq_timedsend(mqd_t q, const char *msg, size_t len, unsigned prio,
                     const struct timespec *deadline)
{
    INTERCEPT(mq_timedsend, -1);
    return mq_timedsend(q, msg, len, prio, deadline);
}

ssize_t
fl_wrap_mq_timedreceive(mqd_t q, char *msg, size_t len, unsigned *prio,
                        const struct timespec *deadline)
{
    INTERCEPT(mq_timedreceive, -1);
    return mq_timedreceive(q, msg, len, prio, deadline);
}

int
fl_wrap_posix_spawn(pid_t *pid, const char *path,
                    const posix_spawn_file_actions_t *actions,
                    const posix_spawnattr_t *attr, char *const argv[],
                    char *const envp[])
{
    INTERCEPT_RET(posix_spawn);
    return posix_spawn(pid, path, actions, attr, argv, envp);
}

// The file actions return an errno value too (ENOMEM: no room for one
// more action), which a spawn must not go on without.
int
fl_wrap_posix_spawn_file_actions_addclose(posix_spawn_file_actions_t *fa,
                                          int fd)
{
    INTERCEPT_RET(posix_spawn_file_actions_addclose);
    return posix_spawn_file_actions_addclose(fa, fd);
}

int
fl_wrap_posix_spawn_file_actions_adddup2(posix_spawn_file_actions_t *fa, int fd,
                                         int to)
{
    INTERCEPT_RET(posix_spawn_file_actions_adddup2);
    return posix_spawn_file_actions_adddup2(fa, fd, to);
}

int
fl_wrap_execv(const char *path, char *const argv[])
{
    INTERCEPT(execv, -1);
    return execv(path, argv);
}

int
fl_wrap_execve(const char *path, char *const argv[], char *const envp[])
{
    INTERCEPT(execve, -1);
    return execve(path, argv, envp);
}

int
fl_wrap_execvp(const char *file, char *const argv[])
{
    INTERCEPT(execvp, -1);
    return execvp(file, argv);
}

int
fl_wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                       void *(*fn)(void *), void *arg)
{
    INTERCEPT_RET(pthread_create);
    return pthread_create(t, attr, fn, arg);
}

// The attributes of the last mutex initialised (fl_mutex_attrs_seen).
static _Atomic int seen_pshared = -1, seen_robust = -1;

void
fl_mutex_attrs_seen(int *pshared, int *robust)
{
    *pshared = atomic_load(&seen_pshared);
    *robust = atomic_load(&seen_robust);
}

int
fl_wrap_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
    int ps = PTHREAD_PROCESS_PRIVATE, rb = PTHREAD_MUTEX_STALLED;
    if (a != NULL && (pthread_mutexattr_getpshared(a, &ps) != 0 ||
                      pthread_mutexattr_getrobust(a, &rb) != 0))
        ps = rb = -1;
    atomic_store(&seen_pshared, ps);
    atomic_store(&seen_robust, rb);
    INTERCEPT_RET(pthread_mutex_init);
    return pthread_mutex_init(m, a);
}

int
fl_wrap_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
    INTERCEPT_RET(pthread_cond_init);
    return pthread_cond_init(c, a);
}

int
fl_wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
    INTERCEPT_RET(pthread_mutex_lock);
    return pthread_mutex_lock(m);
}

// Never fails; may stop the process once the mutex is unlocked, so that a
// test sees what the code did before its unlock, and nothing after it.
int
fl_wrap_pthread_mutex_unlock(pthread_mutex_t *m)
{
    int e_;
    size_t c_ = SIZE_MAX;
    int stop = intercept(FN_pthread_mutex_unlock, &e_, &c_);
    int r = pthread_mutex_unlock(m);
    if (stop) {
        int saved = errno;
        raise(SIGSTOP);
        errno = saved;
    }
    return r;
}

// glibc's pthread_cond_destroy leaves a condition working, so one
// destroyed too early (an error path's cleanup run on success) would go
// unseen.  It marks the condition, though: bit 2 of __wrefs, which only
// destroy sets and init clears ("waiters must wake destroy").
static int
cond_used_gone(const char *call, pthread_cond_t *c)
{
#ifdef __GLIBC__
    if (c == NULL ||
        (atomic_load((_Atomic unsigned *)&c->__data.__wrefs) & 4u) == 0)
        return 0;
    fl_misuse("%s was given a condition variable already destroyed by "
              "pthread_cond_destroy. Destroy a condition only when nothing "
              "will use it again (in the destroy function, or when a later "
              "step of its init failed), and check which branch runs on "
              "success.",
              call);
    return 1;
#else
    (void)call;
    (void)c;
    return 0;
#endif
}

int
fl_wrap_pthread_cond_destroy(pthread_cond_t *c)
{
    cond_used_gone("pthread_cond_destroy", c);
    INTERCEPT_RET(pthread_cond_destroy);
    return pthread_cond_destroy(c);
}

int
fl_wrap_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    cond_used_gone("pthread_cond_wait", c);
    INTERCEPT_RET(pthread_cond_wait);
    return pthread_cond_wait(c, m);
}

int
fl_wrap_pthread_cond_signal(pthread_cond_t *c)
{
    cond_used_gone("pthread_cond_signal", c);
    INTERCEPT_RET(pthread_cond_signal);
    return pthread_cond_signal(c);
}

int
fl_wrap_pthread_cond_broadcast(pthread_cond_t *c)
{
    cond_used_gone("pthread_cond_broadcast", c);
    INTERCEPT_RET(pthread_cond_broadcast);
    return pthread_cond_broadcast(c);
}

int
fl_wrap_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                               const struct timespec *deadline)
{
    cond_used_gone("pthread_cond_timedwait", c);
    INTERCEPT_RET(pthread_cond_timedwait);
    return pthread_cond_timedwait(c, m, deadline);
}

pid_t
fl_wrap_setsid(void)
{
    INTERCEPT(setsid, -1);
    return setsid();
}

ssize_t
fl_wrap_getrandom(void *buf, size_t len, unsigned int flags)
{
    INTERCEPT(getrandom, -1);
    return getrandom(buf, len, flags);
}

// syscall(2), for the calls with no glibc wrapper (pidfd_open,
// close_range, pidfd_send_signal, or a student's futex).  Declared with
// six arguments, not variadic: on x86-64 and arm64 a variadic call passes
// them where a plain one does (the sixth on the stack on x86-64; a call
// with fewer leaves what was there, passed on unread), and six is as many
// as any system call takes.  Until a
// fault is armed on it, it touches no stack and counts nothing: it jumps
// to syscall(), so that code under test that reads an uninitialised
// local (a mutant of lesson 10 does) finds what it found unwrapped.
// The slow path of fl_wrap_syscall, apart so that the fast one needs no
// stack frame: a fault is armed on syscall.
static __attribute__((noinline)) long
syscall_watched(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    INTERCEPT(syscall, -1);
    return syscall(nr, a1, a2, a3, a4, a5, a6);
}

long
fl_wrap_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    if (atomic_load_explicit(&faults[FN_syscall].kind, memory_order_relaxed) !=
        K_NONE)
        return syscall_watched(nr, a1, a2, a3, a4, a5, a6);
    return syscall(nr, a1, a2, a3, a4, a5, a6);
}

long
fl_wrap_sysconf(int name)
{
    INTERCEPT(sysconf, -1);
    long cpus = atomic_load(&fake_cpus);
    // 8 more configured than online, as with CPUs taken offline: code
    // that counts the configured ones shows.
    if (cpus != 0 && name == _SC_NPROCESSORS_ONLN)
        return cpus;
    if (cpus != 0 && name == _SC_NPROCESSORS_CONF)
        return cpus + 8;
    return sysconf(name);
}

void
fl_cpus_fake(long cpus)
{
    atomic_store(&fake_cpus, cpus);
}

int
fl_wrap_clock_gettime(clockid_t clk, struct timespec *ts)
{
    INTERCEPT(clock_gettime, -1);
    int r = clock_gettime(clk, ts);
    if (r == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE))
        ts->tv_sec += (time_t)wall_read();
    if (r == 0 && clk == CLOCK_MONOTONIC && atomic_load(&mono_whole_ms))
        ts->tv_nsec -= ts->tv_nsec % 1000000;
    if (r == 0 && clk == CLOCK_MONOTONIC &&
        atomic_fetch_add(&mono_reads, 1) >= atomic_load(&mono_after)) {
        long long ms = atomic_load(&mono_ms);
        long long ns = ts->tv_nsec + ms % 1000 * 1000000; // > -1e9
        long long sec = ms / 1000 + ns / 1000000000;
        ns %= 1000000000;
        if (ns < 0) { // ms < 0: earlier, and C divides towards 0
            ns += 1000000000;
            sec--;
        }
        ts->tv_sec += (time_t)sec;
        ts->tv_nsec = (long)ns;
    }
    return r;
}

time_t
fl_wrap_time(time_t *out)
{
    INTERCEPT(time, (time_t)-1);
    time_t t = time(NULL) + (time_t)wall_read();
    if (out != NULL)
        *out = t;
    return t;
}

int
fl_wrap_gettimeofday(struct timeval *tv, void *tz)
{
    INTERCEPT(gettimeofday, -1);
    int r = gettimeofday(tv, tz);
    if (r == 0 && tv != NULL)
        tv->tv_sec += (time_t)wall_read();
    return r;
}

void
fl_wrap_exit(int status)
{
    int e_;
    size_t c_ = SIZE_MAX;
    intercept(FN_exit, &e_, &c_); // counted; exit cannot fail
    fl_san_child_exit();          // a child's leaks, in a sanitizer build
    exit(status);
}

void
fl_wrap__exit(int status)
{
    int e_;
    size_t c_ = SIZE_MAX;
    intercept(FN__exit, &e_, &c_);
    fl_san_child_exit();
    _exit(status);
}

long long
fl_heap_live(long *blocks)
{
    if (blocks != NULL)
        *blocks = atomic_load(&heap_blocks);
    return atomic_load(&heap_bytes);
}

/* ------------------------------------------------------------ the clock */

void
fl_clock_jump(long long seconds)
{
    atomic_fetch_add(&wall_offset, seconds);
}

void
fl_clock_jump_at(int nth_read, long long seconds)
{
    atomic_store(&jump_seconds, 0);
    atomic_store(&jump_after, nth_read);
    atomic_store(&jump_seconds, seconds);
}

long
fl_clock_reads(void)
{
    return atomic_load(&wall_reads);
}

void
fl_clock_mono_later_at(int nth_read, long long ms)
{
    atomic_store(&mono_ms, 0);
    atomic_store(&mono_after, nth_read);
    atomic_store(&mono_reads, 0);
    atomic_store(&mono_ms, ms);
}

void
fl_mmap_guard(int on)
{
    atomic_store(&guard_on, on != 0);
}

void
fl_clock_mono_just_past_a_second(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long frac = t.tv_nsec / 1000000;
    fl_clock_mono_later_at(0, (1010 - frac) % 1000);
}

void
fl_clock_mono_whole_ms(int on)
{
    atomic_store(&mono_whole_ms, on != 0);
}

int
fl_clock_mono_to_a_whole_second(void)
{
    struct timespec t;
    long phase;
    do {
        clock_gettime(CLOCK_MONOTONIC, &t);
        phase = t.tv_nsec / 1000000;
    } while (phase < 60 || phase >= 950 || t.tv_nsec % 1000000 >= 500000);
    fl_fault_reset();
    fl_clock_mono_whole_ms(1);
    return (int)(2000 - phase);
}

/* ------------------------------------------------------------ snapshots */

// Add the entries of dir that start with pre, as "dir/name".
static void
snap_names_in(fl_snapshot *s, const char *dir, const char *pre)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && s->nnames < FL_SNAP_NAMES)
        if (strncmp(e->d_name, pre, strlen(pre)) == 0)
            snprintf(s->names[s->nnames++], sizeof s->names[0], "%s/%s", dir,
                     e->d_name);
    closedir(d);
}

void
fl_snapshot_take(fl_snapshot *s)
{
    char sem[96];
    snprintf(sem, sizeof sem, "sem.%s", fl_ipc_prefix());
    fl_open_fds(s->fds, FL_SNAP_FDS);
    s->npids = fl_children_of(getpid(), s->pids, FL_SNAP_PIDS);
    s->nnames = 0;
    snap_names_in(s, "/dev/shm", fl_ipc_prefix());
    snap_names_in(s, "/dev/shm", sem);
    snap_names_in(s, "/dev/mqueue", fl_ipc_prefix());
    s->heap_bytes = fl_heap_live(&s->heap_blocks);
}

static int
has_pid(const fl_snapshot *s, pid_t pid)
{
    for (int i = 0; i < s->npids; i++)
        if (s->pids[i] == pid)
            return 1;
    return 0;
}

static int
has_name(const fl_snapshot *s, const char *name)
{
    for (int i = 0; i < s->nnames; i++)
        if (strcmp(s->names[i], name) == 0)
            return 1;
    return 0;
}

// Append a sentence to msg, bounded by size.
static void
say(char *msg, size_t size, const char *fmt, ...)
{
    size_t len = strlen(msg);
    if (len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + len, size - len, fmt, ap);
    va_end(ap);
}

static int
diff_fds(const fl_snapshot *s, const fl_snapshot *now, char *msg, size_t n)
{
    int found = 0;
    for (int fd = 0; fd < FL_SNAP_FDS; fd++) {
        if (s->fds[fd] == now->fds[fd])
            continue;
        found++;
        if (s->fds[fd]) {
            say(msg, n,
                "descriptor %d was open before and is closed now: "
                "close only what you opened. ",
                fd);
            continue;
        }
        char target[128];
        say(msg, n,
            "descriptor %d (%s) was left open: on a failure, "
            "close what was opened before it. ",
            fd, fl_fd_target(fd, target, sizeof target));
    }
    return found;
}

int
fl_snapshot_diff(const fl_snapshot *s, char *msg, size_t size)
{
    fl_snapshot now;
    fl_snapshot_take(&now);
    msg[0] = '\0';
    int found = diff_fds(s, &now, msg, size);
    for (int i = 0; i < now.npids; i++) {
        if (has_pid(s, now.pids[i]))
            continue;
        found++;
        say(msg, size,
            fl_zombie(now.pids[i])
                ? "child %d is a zombie: wait for it. "
                : "child %d is still running: end it and wait "
                  "for it. ",
            (int)now.pids[i]);
    }
    for (int i = 0; i < now.nnames; i++)
        if (!has_name(s, now.names[i])) {
            say(msg, size, "%s was left behind: unlink it. ", now.names[i]);
            found++;
        }
    if (now.heap_blocks > s->heap_blocks) {
        say(msg, size,
            "%ld heap block(s) (%lld bytes) were allocated and "
            "not freed: free them on the failure path. ",
            now.heap_blocks - s->heap_blocks, now.heap_bytes - s->heap_bytes);
        found++;
    }
    return found;
}

void
fl_snapshot_restore(const fl_snapshot *s)
{
    fl_snapshot now;
    fl_snapshot_take(&now);
    for (int fd = 0; fd < FL_SNAP_FDS; fd++)
        if (now.fds[fd] && !s->fds[fd])
            close(fd);
    for (int i = 0; i < now.npids; i++)
        if (!has_pid(s, now.pids[i])) {
            kill(now.pids[i], SIGKILL);
            while (waitpid(now.pids[i], NULL, 0) < 0 && errno == EINTR)
                ;
        }
    for (int i = 0; i < now.nnames; i++)
        if (!has_name(s, now.names[i]))
            unlink(now.names[i]);
}

/* ---------------------------------------------------------------- storms */

static atomic_long storm_signals;
static int storm_on;
static timer_t storm_timer;
static struct sigaction storm_old;
static sigset_t storm_old_mask;

// Only counts: a lock-free atomic is safe here, and errno is untouched.
static void
on_storm(int sig)
{
    (void)sig;
    atomic_fetch_add(&storm_signals, 1);
}

void
fl_storm_start(long interval_us)
{
    ck_assert_msg(!storm_on, "stress: a storm is already running");
    ck_assert_msg(interval_us > 0, "stress: storm interval %ld us",
                  interval_us);
    struct sigaction sa = {.sa_handler = on_storm}; // no SA_RESTART
    sigemptyset(&sa.sa_mask);
    ck_assert_msg(sigaction(FL_STORM_SIGNAL, &sa, &storm_old) == 0,
                  "stress: sigaction: %s", strerror(errno));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, FL_STORM_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, &storm_old_mask);
    struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID,
                          .sigev_signo = FL_STORM_SIGNAL};
    ev._sigev_un._tid = gettid(); // this thread, not a helper
    ck_assert_msg(timer_create(CLOCK_MONOTONIC, &ev, &storm_timer) == 0,
                  "stress: timer_create: %s", strerror(errno));
    atomic_store(&storm_signals, 0);
    storm_on = 1;
    struct timespec every = {interval_us / 1000000,
                             interval_us % 1000000 * 1000};
    struct itimerspec it = {every, every};
    ck_assert_msg(timer_settime(storm_timer, 0, &it, NULL) == 0,
                  "stress: timer_settime: %s", strerror(errno));
}

long
fl_storm_stop(void)
{
    if (!storm_on)
        return 0;
    timer_delete(storm_timer);
    storm_on = 0;
    long n = atomic_load(&storm_signals);
    // A signal still queued lands on the old disposition; SIGURG's default
    // is to ignore it.
    sigaction(FL_STORM_SIGNAL, &storm_old, NULL);
    pthread_sigmask(SIG_SETMASK, &storm_old_mask, NULL);
    return n;
}

void
fl_storm_call(int (*fn)(void *), void *arg, long interval_us,
              fl_storm_result *res)
{
    memset(res, 0, sizeof *res);
    long t0 = fl_now_ms();
    fl_storm_start(interval_us);
    res->ret = fn(arg);
    res->signals = fl_storm_stop();
    res->elapsed_ms = fl_now_ms() - t0;
}

struct hold {
    void (*release)(void *);
    void *arg;
    long end; // when to release, on fl_now_ms's clock
    atomic_int returned;
    int early;
};

// The helper thread of fl_storm_hold: wait, judge, release.
static void *
holder(void *p)
{
    struct hold *h = p;
    for (long left; (left = h->end - fl_now_ms()) > 0;)
        poll(NULL, 0, (int)left);
    h->early = atomic_load(&h->returned);
    h->release(h->arg);
    return NULL;
}

void
fl_storm_hold(int (*fn)(void *), void (*release)(void *), void *arg,
              long interval_us, int hold_ms, fl_storm_result *res)
{
    // One clock for the hold and the elapsed time, read before the thread
    // starts: else a late start of the call made elapsed_ms short of
    // hold_ms under load (142 of 150 ms, seen).
    long t0 = fl_now_ms();
    struct hold h = {.release = release, .arg = arg, .end = t0 + hold_ms};
    pthread_t t;
    int e = pthread_create(&t, NULL, holder, &h);
    ck_assert_msg(e == 0, "stress: pthread_create: %s", strerror(e));
    fl_storm_call(fn, arg, interval_us, res);
    atomic_store(&h.returned, 1);
    pthread_join(t, NULL);
    res->early = h.early;
    res->elapsed_ms = fl_now_ms() - t0;
}

/* ------------------------------------------------ helpers tests share */

pid_t
fl_raw_start(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_msg(pid >= 0, "fork failed: %s", strerror(errno));
    if (pid == 0)
        _exit(fn(arg));
    return pid;
}

// The child of fl_raw_child: how[0] is the exit code, how[1] the signal.
static int
end_as_told(void *arg)
{
    const int *how = arg;
    if (how[1] != 0) {
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none); // no core file from SIGSEGV
        signal(how[1], SIG_DFL);
        raise(how[1]);
    }
    return how[0];
}

pid_t
fl_raw_child(int code, int sig)
{
    int how[2] = {code, sig}; // the child has its own copy
    return fl_raw_start(end_as_told, how);
}

int
fl_reap(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return st;
}

int
fl_reap_code(pid_t pid)
{
    int st = fl_reap(pid);
    if (st == -1)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int
fl_raw_wait(pid_t pid, const char *hint)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ck_assert_msg(errno == EINTR, "waitpid(%d) failed (%s)%s%s", (int)pid,
                      strerror(errno), hint[0] ? ": " : "", hint);
    return st;
}

static int ticks[2] = {-1, -1};

static void
on_tick(int sig)
{
    (void)sig;
    int saved = errno;
    if (write(ticks[1], "t", 1) < 0) // full pipe: the tick is not needed
        errno = saved;
    errno = saved;
}

void
fl_ticks_start(void)
{
    ck_assert_msg(pipe(ticks) == 0, "pipe failed");
    struct sigaction sa = {.sa_handler = on_tick}; // no SA_RESTART
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every_ms = {{0, 1000}, {0, 1000}};
    setitimer(ITIMER_REAL, &every_ms, NULL);
}

void
fl_ticks_stop(void)
{
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_IGN);
    close(ticks[0]);
    close(ticks[1]);
    ticks[0] = ticks[1] = -1;
}

static volatile sig_atomic_t late_runs;
static long late_nap_ms;
static void (*late_rescue)(void);
static struct sigaction late_old; // SIGALRM's handler before

static void
on_late(int sig)
{
    (void)sig;
    int saved = errno;
    int run = late_runs++;
    if (run == 0)
        poll(NULL, 0, (int)late_nap_ms); // the handler outlasts the deadline
    else if (run == 1 && late_rescue != NULL)
        late_rescue();
    errno = saved;
}

void
fl_late_signal(long at_ms, long nap_ms, void (*rescue)(void), long rescue_ms)
{
    late_runs = 0;
    late_nap_ms = nap_ms;
    late_rescue = rescue;
    struct sigaction sa = {.sa_handler = on_late}; // no SA_RESTART
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &late_old);
    // The second expiry comes rescue_ms after the first (the interval),
    // and the handler does nothing after that.
    long every = rescue != NULL ? rescue_ms : 0;
    struct itimerval t = {{every / 1000, (every % 1000) * 1000},
                          {at_ms / 1000, (at_ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &t, NULL);
}

void
fl_late_signal_off(void)
{
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &late_old, NULL);
}

int
fl_ticks_fd(void)
{
    return ticks[0];
}

int
fl_ticks_write_fd(void)
{
    return ticks[1];
}

int
fl_stay_on_this_cpu(void)
{
    int cpu = sched_getcpu();
    cpu_set_t one;
    CPU_ZERO(&one);
    if (cpu < 0)
        return -1;
    CPU_SET(cpu, &one);
    return sched_setaffinity(0, sizeof one, &one);
}

static int
cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double
fl_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return v[n / 2];
}

void
fl_until_ended(pid_t pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    ck_assert_msg(fd >= 0, "pidfd_open(%d) failed: %s", (int)pid,
                  strerror(errno));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
    close(fd);
}

int
fl_readable_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
        ;
    return n == 1;
}

/* -------------------------------------------------------------- the gate */

void
fl_gate_new(fl_gate *g, int code, int limit_ms)
{
    ck_assert_msg(pipe(g->fd) == 0, "pipe failed: %s", strerror(errno));
    g->code = code;
    g->limit_ms = limit_ms;
}

int
fl_gate_wait(fl_gate *g)
{
    close(g->fd[1]); // or EOF could never come
    struct pollfd p = {.fd = g->fd[0], .events = POLLIN};
    long end = fl_now_ms() + g->limit_ms;
    int left = g->limit_ms, n;
    while ((n = poll(&p, 1, left)) < 0 && errno == EINTR)
        if (g->limit_ms >= 0) // wait for the time left
            left = end > fl_now_ms() ? (int)(end - fl_now_ms()) : 0;
    close(g->fd[0]);
    g->fd[0] = g->fd[1] = -1;
    return n > 0 ? 0 : -1;
}

int
fl_gate_child(void *gate)
{
    fl_gate *g = gate;
    fl_gate_wait(g);
    return g->code;
}

void
fl_gate_open(fl_gate *g)
{
    if (g->fd[1] >= 0)
        close(g->fd[1]);
    g->fd[1] = -1;
}

void
fl_gate_free(fl_gate *g)
{
    fl_gate_open(g);
    if (g->fd[0] >= 0)
        close(g->fd[0]);
    g->fd[0] = -1;
}

/* --------------------------------------------------- raw reads and writes */

int
fl_write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

// Read into buf until len bytes, EOF, an error or (timeout_ms >= 0) a
// wait for data longer than timeout_ms; *got receives the count.  0 at len
// bytes or EOF, -1 for an error or a timeout.
static int
read_until(int fd, void *buf, size_t len, int timeout_ms, size_t *got)
{
    *got = 0;
    while (*got < len) {
        if (timeout_ms >= 0 && !fl_readable_within(fd, timeout_ms))
            return -1;
        ssize_t n = read(fd, (char *)buf + *got, len - *got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -1 : 0;
        *got += (size_t)n;
    }
    return 0;
}

ssize_t
fl_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
    size_t got;
    return read_until(fd, buf, len, timeout_ms, &got) < 0 ? -1 : (ssize_t)got;
}

size_t
fl_read_all(int fd, void *buf, size_t size)
{
    size_t got;
    read_until(fd, buf, size, -1, &got);
    return got;
}

size_t
fl_read_text(int fd, char *buf, size_t size)
{
    size_t got = fl_read_all(fd, buf, size - 1);
    buf[got] = '\0';
    return got;
}

void
fl_put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

uint32_t
fl_get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

int
fl_frame_write(int fd, const void *msg, size_t len)
{
    unsigned char h[FL_FRAME_HEADER];
    fl_put_be32(h, (uint32_t)len);
    return fl_write_full(fd, h, sizeof h) == 0 ? fl_write_full(fd, msg, len)
                                               : -1;
}

ssize_t
fl_frame_read(int fd, unsigned char *buf, size_t cap, int timeout_ms)
{
    ssize_t n = fl_read_full(fd, buf, FL_FRAME_HEADER, timeout_ms);
    if (n <= 0)
        return n;
    size_t len = fl_get_be32(buf);
    if (n < FL_FRAME_HEADER || len == 0 || len + FL_FRAME_HEADER > cap)
        return -1;
    n = fl_read_full(fd, buf + FL_FRAME_HEADER, len, timeout_ms);
    return n == (ssize_t)len ? (ssize_t)(FL_FRAME_HEADER + len) : -1;
}
