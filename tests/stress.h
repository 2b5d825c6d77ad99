// stress.h - fault injection, signal storms, clock jumps and shared test
// helpers for every lesson's tests.
//
// The code under test is linked with its calls renamed (tests/wrap.syms:
// `fork` becomes `fl_wrap_fork`), so a test can make the student's third
// malloc fail, cut a read short, interrupt a poll, or move the wall clock,
// without touching libc, Check or the harness.  stress.c says why, and
// what it trades.
#ifndef FORKLINGS_STRESS_H
#define FORKLINGS_STRESS_H

/**
 * @file stress.h
 * @brief Stress library: faults, signal storms, clock jumps, and helpers.
 *
 * In a test, in a line or two:
 * @code
 * fl_fault_fail("pipe", 1, EMFILE);          // the next pipe() fails
 * fl_fault_short("read", 2, 3);              // 2nd read gets <= 3 bytes
 * FL_FAULT_WALK("malloc", ENOMEM, k) { ... } // fail the 1st, 2nd, ... call
 * fl_storm_start(200); ...; fl_storm_stop(); // a signal every 200 us
 * fl_clock_jump(-3600);                      // the wall clock goes back 1 h
 * @endcode
 *
 * Only calls made by the code under test (the lesson's or the solution's
 * object, renamed at link time) are counted and faulted; the test's own
 * calls, the harness's and libc's internal ones are not.  Counters and
 * faults live in plain process memory: a child forked by the code under
 * test inherits them at fork and counts on its own from there, so the
 * parent's counters never see a child's calls.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------- fault injection */

/**
 * @brief Disarm every fault and zero every call counter.
 *
 * Also cancels clock jumps (fl_clock_jump) and zeroes the count of wall
 * clock reads.  The heap counters (fl_heap_live) are not reset: they count
 * what is live, and fl_snapshot_take records them.
 */
void fl_fault_reset(void);

/**
 * @brief Make the nth call of fn, and only that one, fail.
 *
 * The call fails the way fn reports failure, without the real function
 * running: -1 with errno set to err; NULL (malloc, calloc, realloc,
 * strdup); MAP_FAILED (mmap); SEM_FAILED (sem_open); or err itself as the
 * return value (posix_spawn, pthread_create, pthread_cond_timedwait,
 * pthread_mutex_init, pthread_cond_init, pthread_mutex_lock).
 * Arming a fault on fn replaces the one armed before on fn.
 *
 * @param fn  a function named in tests/wrap.syms, "pipe" say.  An unknown
 *            name fails the test.
 * @param nth which call, 1-based, counted since fl_fault_reset.
 * @param err the errno value (or error number) the call reports.
 * @note free, exit, _exit and pthread_mutex_unlock are counted and never
 *       fail.  "syscall" counts every syscall(2) the code makes, whatever
 *       its number (pidfd_open, close_range, pidfd_send_signal), but only
 *       while a fault is armed on it: unarmed, its wrapper jumps straight
 *       to syscall() and leaves the stack as it was (it passes on six
 *       arguments after the number, no more).
 */
void fl_fault_fail(const char *fn, int nth, int err);

/**
 * @brief Make every call of fn from the nth on fail, as fl_fault_fail does.
 * @param fn  a function named in tests/wrap.syms.
 * @param nth the first call that fails, 1-based.
 * @param err the errno value (or error number) each call reports.
 */
void fl_fault_fail_from(const char *fn, int nth, int err);

/**
 * @brief Make the nth call of a transfer function move at most max bytes.
 *
 * The real function runs with a smaller count, so the transfer is a real
 * partial one: read, write, send, recv, readv, writev, sendmsg, recvmsg.
 *
 * @param fn  one of the functions above; any other fails the test.
 * @param nth which call, 1-based.
 * @param max the most bytes it may transfer (at least 1).
 */
void fl_fault_short(const char *fn, int nth, size_t max);

/**
 * @brief Make the nth call of a blocking function fail with EINTR at once.
 *
 * As if a signal handler had run while it blocked: read, write, readv,
 * writev, send, recv, sendmsg, recvmsg, waitpid, wait, poll, accept,
 * accept4, connect, sem_wait, sem_timedwait, sigtimedwait, nanosleep,
 * mq_send, mq_receive, mq_timedsend, mq_timedreceive.
 *
 * @param fn  one of the functions above; any other fails the test.
 * @param nth which call, 1-based.
 */
void fl_fault_eintr(const char *fn, int nth);

/**
 * @brief Make count calls of a blocking function in a row, from the nth,
 *        fail with EINTR at once: a handler that ran during each.
 *
 * A loop that calls again only once after EINTR fails the second time.
 *
 * @param fn    as for fl_fault_eintr.
 * @param nth   the first call that fails, 1-based.
 * @param count how many calls fail, at least 1.
 */
void fl_fault_eintr_run(const char *fn, int nth, int count);

/**
 * @brief Make the nth call of a blocking function fail with EINTR as if
 *        it had blocked for ms first: from then on, every read of
 *        CLOCK_MONOTONIC by the code under test is ms later.
 *
 * A signal late in a wait, made exact: a deadline taken before the call
 * has passed by ms when the code looks again (the time left is 0), while
 * a deadline first taken, or taken again, after the EINTR has not.
 * Replaces a pending fl_clock_mono_later_at; fl_fault_reset puts the
 * clock back.
 *
 * @param fn  as for fl_fault_eintr.
 * @param nth which call, 1-based.
 * @param ms  how long the call seems to have blocked, at least 0.
 */
void fl_fault_eintr_late(const char *fn, int nth, long long ms);

/**
 * @brief Make the process stop itself (SIGSTOP) right after the nth call
 *        of fn has returned.
 *
 * A test then sees, from another process, exactly what the code under
 * test did before that call and nothing of what it does after it: a flag
 * written after an unlock instead of before, say, or read after it; or,
 * after a connect, a peer that resets the connection before the code
 * sends anything on it; or, after a server's last unlink, a process
 * that is still cleaning up when its client looks; or, after an
 * fcntl(F_GETLK) that named a lock's holder, a holder that ends before
 * the code acts on the answer; or, after a sendmsg, a peer that acts on
 * the message before the code notes that it sent it.  The call itself
 * runs as usual (a failed call stops too); SIGCONT lets the code go on.
 *
 * @param fn  pthread_mutex_unlock, connect, unlink, fcntl or sendmsg; any
 *            other fails the test.
 * @param nth which call, 1-based.
 */
void fl_fault_stop_after(const char *fn, int nth);

/**
 * @brief Raise sig just before the nth call of fn runs; the call itself
 *        then runs as usual.
 *
 * A signal that comes at exactly that point between two of the code's
 * lines: a flag looked at before a self-pipe is emptied, say, misses the
 * signal whose byte the emptying then swallows.  The handler runs inside
 * the wrapper, before the real call, in the thread that made it.
 *
 * @param fn  a function named in tests/wrap.syms.
 * @param nth which call, 1-based.
 * @param sig the signal to raise.
 */
void fl_fault_signal_before(const char *fn, int nth, int sig);

/**
 * @brief How many times the code under test called fn.
 * @param fn a function named in tests/wrap.syms.
 * @return calls since fl_fault_reset, in this process (failed ones too).
 */
long fl_fault_calls(const char *fn);

/**
 * @brief How many calls of fn the armed fault has changed.
 * @param fn a function named in tests/wrap.syms.
 * @return calls failed, cut short or interrupted since the fault was armed.
 */
long fl_fault_fired(const char *fn);

/**
 * @brief The longest timeout the code under test gave poll().
 *
 * A wait whose time left, worked out right, is 3000 ms must not hand poll
 * more: a time left clamped to INT_MAX from the wrong variable (the ns,
 * not the ms), say, waits for ever once more than 2.1 s are left, and
 * only a test that waits that long would see it otherwise.
 *
 * @return the largest timeout (ms) of the code's poll() calls since
 *         fl_fault_reset, in this process; LONG_MAX if one was negative
 *         (for ever); -1 if it made none.
 */
long fl_poll_longest(void);

/**
 * @brief The attributes of the last mutex that the code under test gave
 *        pthread_mutex_init(), read there by its wrapper.
 *
 * For what no behaviour shows: glibc's robust mutexes wake waiters in
 * other processes even without PTHREAD_PROCESS_SHARED, which POSIX
 * requires all the same.  A NULL attr reads as the defaults.
 *
 * @param pshared receives PTHREAD_PROCESS_SHARED or _PRIVATE; -1 if no
 *                mutex was initialised (or its attr could not be read).
 * @param robust  receives PTHREAD_MUTEX_ROBUST or _STALLED; -1 likewise.
 */
void fl_mutex_attrs_seen(int *pshared, int *robust);

/**
 * @brief Start a fault walk: used by FL_FAULT_WALK.
 * @param fn  the function whose calls fail one after another.
 * @param err the errno value each failed call reports.
 * @return 1, the first call to fail.
 */
int fl_fault_walk_begin(const char *fn, int err);

/**
 * @brief Step a fault walk: used by FL_FAULT_WALK.
 *
 * The run just made had call k of fn armed to fail.  If it made fewer than
 * k calls, the fault never fired and that run was the clean one: the walk
 * is over.  Otherwise it resets the faults and arms call k + 1.
 *
 * @param fn  the function of the walk.
 * @param err the errno value.
 * @param k   the call armed for the run just made.
 * @return k + 1, or 0 when the walk is over (or after FL_WALK_MAX runs).
 */
int fl_fault_walk_next(const char *fn, int err, int k);

/// The most runs a fault walk makes.
#define FL_WALK_MAX 1000

/**
 * Run the body once with the 1st call of fn failing, then with the 2nd,
 * and so on, until a run makes fewer than k calls of fn: that last run
 * had no failure, so the body sees every failure point and then success.
 * Test fl_fault_fired(fn) in the body to tell which it is.  In the SQLite
 * style (its malloc and I/O error tests):
 * @code
 * FL_FAULT_WALK("malloc", ENOMEM, k) {
 *     fl_snapshot s;
 *     fl_snapshot_take(&s);
 *     int r = mp_pipe(0, &a, &b);
 *     if (fl_fault_fired("malloc"))
 *         fl_expect_int(r, -ENOMEM, "...", "...");
 *     else
 *         ...close a and b...
 *     fl_expect_no_leak(&s, "mp_pipe with malloc failing");
 * }
 * @endcode
 * @note Each run starts with fl_fault_reset: faults armed before the walk
 *       are disarmed.
 */
#define FL_FAULT_WALK(fn, err, k)                                              \
    for (int k = fl_fault_walk_begin((fn), (err)); k > 0;                      \
         k = fl_fault_walk_next((fn), (err), k))

/* --------------------------------------------------------- leak snapshots */

/// Descriptors a snapshot looks at: 0 to FL_SNAP_FDS - 1.
#define FL_SNAP_FDS 1024
/// Children a snapshot remembers.
#define FL_SNAP_PIDS 64
/// IPC names a snapshot remembers.
#define FL_SNAP_NAMES 32

/// What a process holds at one moment: see fl_snapshot_take.
typedef struct {
    unsigned char fds[FL_SNAP_FDS]; ///< 1 for each open descriptor
    int npids;                      ///< entries in pids
    pid_t pids[FL_SNAP_PIDS];       ///< children, running or zombie
    int nnames;                     ///< entries in names
    char names[FL_SNAP_NAMES][280]; ///< "/dev/shm/NAME" with the prefix
    long heap_blocks;               ///< fl_heap_live's blocks
    long long heap_bytes;           ///< fl_heap_live's bytes
} fl_snapshot;

/**
 * @brief Record what this process holds now.
 *
 * Its open descriptors, its children (running or zombie), the names under
 * /dev/shm and /dev/mqueue that start with fl_ipc_prefix() (semaphores
 * too: "sem.PREFIX..."), and the heap the code under test has allocated
 * and not freed (fl_heap_live).
 *
 * @param s filled in.
 */
void fl_snapshot_take(fl_snapshot *s);

/**
 * @brief Say what has been acquired, or released, since a snapshot.
 *
 * A descriptor opened or closed, a child started (running or zombie), an
 * IPC name created, heap blocks allocated and not freed: each is one
 * sentence in msg that says how to fix it.
 *
 * @param s    the snapshot taken before.
 * @param msg  receives the sentences, NUL-terminated ("" for none).
 * @param size the size of msg.
 * @return how many differences there are; 0 when nothing leaked.
 */
int fl_snapshot_diff(const fl_snapshot *s, char *msg, size_t size);

/**
 * @brief Put back what a snapshot recorded, after a leak was reported.
 *
 * Closes descriptors opened since, kills and reaps children started since,
 * unlinks IPC names created since, so that the next run of a fault walk
 * starts clean.  Heap blocks cannot be freed: the counters stay.
 *
 * @param s the snapshot taken before.
 */
void fl_snapshot_restore(const fl_snapshot *s);

/// Fail the test if anything leaked since the snapshot s, naming what the
/// code did (what); put back what leaked first, so the message is all.
#define fl_expect_no_leak(s, what)                                             \
    do {                                                                       \
        char fl_m_[2048];                                                      \
        int fl_n_ = fl_snapshot_diff((s), fl_m_, sizeof fl_m_);                \
        fl_snapshot_restore(s);                                                \
        ck_assert_msg(fl_n_ == 0, "%s: %s", (what), fl_m_);                    \
    } while (0)

/**
 * @brief What the code under test has on the heap.
 *
 * Counts allocations (malloc, calloc, realloc, strdup) minus frees made
 * by the code under test through the wrappers, in blocks and in bytes as
 * malloc_usable_size sees them.
 *
 * @param blocks receives the live blocks, or NULL.
 * @return the live bytes.
 * @note Memory the code gets from libc another way (getline, asprintf)
 *       is not counted, and freeing it makes the counts go down.
 */
long long fl_heap_live(long *blocks);

/* ---------------------------------------------------------- signal storms */

/// The storm's signal: SIGURG, which no lesson uses, whose default action
/// is to ignore it (a stray one after the storm, or one that reaches a
/// child after exec, is harmless), and which the kernel raises only for
/// out-of-band socket data with F_SETOWN, which no lesson uses either.
#define FL_STORM_SIGNAL SIGURG

/**
 * @brief Start a signal storm on the calling thread.
 *
 * FL_STORM_SIGNAL arrives every interval_us microseconds (a POSIX timer
 * aimed at this thread), caught by a handler installed without
 * SA_RESTART, so a blocking call in this thread really fails with EINTR
 * and must be retried.  The handler only counts, and keeps errno.
 *
 * @param interval_us microseconds between signals (at least 1).
 * @note Children forked during a storm inherit the handler, not the timer.
 *       One storm at a time; it fails the test if one is running.
 */
void fl_storm_start(long interval_us);

/**
 * @brief Stop the storm and restore the signal's previous disposition.
 * @return how many signals the handler caught since fl_storm_start.
 */
long fl_storm_stop(void);

/// What fl_storm_call or fl_storm_hold saw.
typedef struct {
    int ret;         ///< what the function returned
    long elapsed_ms; ///< how long it took, on CLOCK_MONOTONIC
    long signals;    ///< signals caught during the call
    int early;       ///< fl_storm_hold: 1 if it returned before release
} fl_storm_result;

/**
 * @brief Call fn(arg) under a storm, and time it: for a finite deadline.
 *
 * A wait with a timeout of T ms must return after about T ms however many
 * signals interrupt it: check res->elapsed_ms against T, and that
 * res->signals is large (the storm really hit the wait).
 *
 * @param fn          the call to make (a wait with a timeout).
 * @param arg         passed to fn.
 * @param interval_us the storm's interval.
 * @param res         filled in.
 */
void fl_storm_call(int (*fn)(void *), void *arg, long interval_us,
                   fl_storm_result *res);

/**
 * @brief Call fn(arg) under a storm and check it waits until released:
 *        for an infinite wait.
 *
 * A helper thread waits hold_ms, notes whether fn has returned (it must
 * not have: the wait is for ever), then calls release(arg), which must
 * make the wait end (write to a pipe, post a semaphore, ...).  The storm
 * hits only the calling thread.
 *
 * @param fn          the wait (with a timeout of -1, say).
 * @param release     what ends the wait; it runs in the helper thread.
 * @param arg         passed to both.
 * @param interval_us the storm's interval.
 * @param hold_ms     how long the wait must last, at least.
 * @param res         filled in; res->early is 1 if fn returned before the
 *                    release.
 */
void fl_storm_hold(int (*fn)(void *), void (*release)(void *), void *arg,
                   long interval_us, int hold_ms, fl_storm_result *res);

/* ------------------------------------------------------------ clock jumps */

/**
 * @brief Move the wall clock the code under test sees, from now on.
 *
 * clock_gettime(CLOCK_REALTIME and CLOCK_REALTIME_COARSE), time and
 * gettimeofday, called by the code under test, add the sum of every jump
 * since fl_fault_reset.  CLOCK_MONOTONIC (and every other clock) is never
 * touched, nor is the test's own view of the time.
 *
 * @param seconds how far to move it: negative goes back.
 * @note A deadline the code computes from CLOCK_REALTIME and hands to the
 *       kernel (sem_timedwait, mq_timedreceive, pthread_cond_timedwait with
 *       the default clock) is moved through the value it computed: the
 *       kernel itself keeps the real clock.  A jump of -3600 makes such a
 *       wait last an hour more, which is the bug a test wants to show.
 */
void fl_clock_jump(long long seconds);

/**
 * @brief Move the wall clock after the code's nth read of it.
 *
 * Reads 1 to nth_read see the clock as it was; every read after them sees
 * it moved by seconds: a jump in the middle of a timed wait that reads
 * the clock again to compute the time left.  Reads are counted since
 * fl_fault_reset; arming again replaces the pending jump.
 *
 * @param nth_read the last read before the jump (0: from the next read).
 * @param seconds  how far to move it.
 */
void fl_clock_jump_at(int nth_read, long long seconds);

/**
 * @brief How many times the code under test read the wall clock.
 * @return reads since fl_fault_reset (clock_gettime with a wall clock,
 *         time, gettimeofday).
 */
long fl_clock_reads(void);

/**
 * @brief Put a guard page after each mapping the code makes from now on.
 *
 * Each mmap the code under test makes without an address (and without
 * MAP_FIXED) is followed by a page that is PROT_NONE, so that reading or
 * writing a byte past the mapping's last page faults (SIGSEGV) instead of
 * reaching whatever mapping the kernel happened to put next to it.  ASan
 * does not see mappings: this is how a test catches a copy that runs past
 * the end of one.  A munmap that reaches a guarded mapping's end removes
 * its guard too.  Run the code in a child (fl_run_in_child) to see the
 * fault as a signal.  fl_fault_reset turns it off.
 *
 * @param on 1 to guard the mappings made from now on, 0 to stop.
 */
void fl_mmap_guard(int on);

/**
 * @brief Make the code's reads of CLOCK_MONOTONIC whole milliseconds.
 *
 * Each read is rounded down to its millisecond (tv_nsec a multiple of a
 * million), at most 1 ms early, as a coarse clock may be.  A test that
 * knows the millisecond the code will read can then choose a timeout
 * that puts the code's deadline exactly on a second: tv_nsec
 * 1000000000, which a carry at > instead of >= leaves there, and
 * pthread_cond_timedwait or sem_clockwait refuse with EINVAL.
 * fl_fault_reset turns it off.
 *
 * @param on 1 to round, 0 to stop.
 */
void fl_clock_mono_whole_ms(int on);

/**
 * @brief A timeout that puts the code's deadline exactly on a second.
 *
 * Spins (110 ms at most) until CLOCK_MONOTONIC is 60 to 950 ms into a
 * second and early in its millisecond, resets the faults, turns on
 * fl_clock_mono_whole_ms, and returns 2000 ms less that phase (1051 to
 * 1940): a deadline now + timeout then has tv_nsec of exactly a billion,
 * which the code must carry too (>=, not >).  Call it in the process
 * that makes the timed call, right before it.
 *
 * @return the timeout in ms.
 */
int fl_clock_mono_to_a_whole_second(void);

/**
 * @brief Make the code's reads of CLOCK_MONOTONIC after the nth one see
 *        the clock ms later, as if the process had not run for that long.
 *
 * A deadline the code computed before is then past, whatever the kernel
 * did: the time left is negative, and a wait given that number (poll()
 * takes a negative timeout as "for ever") never ends, where one given 0
 * returns at once.  Reads are counted since this call; fl_fault_reset
 * cancels it.  The kernel's own timeouts are not moved.
 *
 * A negative ms makes the reads earlier instead: with (0, -9000), an
 * absolute deadline of now + 9100 ms, handed to the kernel, is 100 ms
 * away, so a test learns cheaply that a long timeout is not counted
 * longer than it is (its whole seconds added twice, say): that wait
 * lasts 9 s more.
 *
 * @param nth_read the last read that sees the real clock (0: none).
 * @param ms       how much later every read after it is; below 0,
 *                 earlier.
 */
void fl_clock_mono_later_at(int nth_read, long long ms);

/**
 * @brief Make the code's reads of CLOCK_MONOTONIC start 10 ms past a
 *        whole second: fl_clock_mono_later_at(0, ms) with the ms that
 *        puts it there.
 *
 * A clock kept in whole seconds (tv_nsec dropped, or tv_sec alone) then
 * stands still for 990 ms, and a 50 ms deadline taken on it under a
 * signal storm lasts until the next second; started anywhere else in a
 * second, the same mistake may come out near 50 ms and pass.  Call it
 * right before the call that takes its deadline; fl_fault_reset ends it.
 */
void fl_clock_mono_just_past_a_second(void);

/**
 * @brief Make the code's sysconf(_SC_NPROCESSORS_ONLN) say the machine
 *        has this many CPUs online (and _SC_NPROCESSORS_CONF 8 more,
 *        configured but offline, so that counting those shows).
 *
 * A default pool size ("one worker per CPU, at most 16") can then be
 * tested on a machine of any size: at 1, at the cap, past it.  0 gives
 * the truth again, as fl_fault_reset does.  To make sysconf fail (-1, as
 * it may), fl_fault_fail("sysconf", n, EINVAL).
 *
 * @param cpus the count every such call returns, or 0.
 */
void fl_cpus_fake(long cpus);

/* ----------------------------------------------- helpers the tests share */

// The clock (fl_now_ms, fl_now_us) and the /proc readers (fl_proc_state,
// fl_alive, fl_zombie, fl_children_of) are the harness's: harness.h.

/**
 * @brief Start fn(arg) in a child with the raw fork, not the lesson's
 *        code; the child ends with _exit(fn(arg)).
 * @param fn  what the child runs.
 * @param arg passed to fn.
 * @return the child's pid; fails the test if fork fails.
 * @note Flushes stdio first, so the child does not print the parent's
 *       buffered output again.
 */
pid_t fl_raw_start(int (*fn)(void *), void *arg);

/**
 * @brief Wait for pid with the raw waitpid, retrying on EINTR.
 * @param pid  a child of the caller.
 * @param hint what the failure means for this lesson, appended to the
 *             message when waitpid fails ("" for none).
 * @return the wait status; fails the test if pid cannot be waited for.
 */
int fl_raw_wait(pid_t pid, const char *hint);

/**
 * @brief Start a child with the raw fork that ends as told: it exits with
 *        code or, when sig is not 0, dies of sig (leaving no core file).
 * @param code the child's exit status, when sig is 0.
 * @param sig  the signal the child raises with its default action, or 0.
 * @return the child's pid; fails the test if fork fails.
 */
pid_t fl_raw_child(int code, int sig);

/**
 * @brief Reap pid with the raw waitpid, retrying on EINTR.
 * @param pid a child of the caller.
 * @return its raw wait status, or -1 if pid cannot be waited for.
 * @note Unlike fl_raw_wait, never fails the test: for a test that judges
 *       what a failed wait means itself.
 */
int fl_reap(pid_t pid);

/**
 * @brief Reap pid as fl_reap does; its end as a shell shows it.
 * @param pid a child of the caller.
 * @return its exit status, or 128 + the signal that killed it, or -1 if
 *         pid cannot be waited for.
 */
int fl_reap_code(pid_t pid);

/**
 * @brief Start a ticking clock: SIGALRM every millisecond, one byte into
 *        the pipe fl_ticks_fd() for each tick.
 *
 * The handler is installed without SA_RESTART, so every tick makes a
 * blocked call of this process fail with EINTR; a child reading
 * fl_ticks_fd() lives for as many milliseconds as ticks it reads (it
 * should close fl_ticks_write_fd() first, so the clock's EOF reaches it).
 * @note Uses setitimer(ITIMER_REAL): not with alarm() or another SIGALRM.
 */
void fl_ticks_start(void);

/**
 * @brief Stop the ticking clock: SIGALRM ignored from then on, pipe closed.
 */
void fl_ticks_stop(void);

/**
 * @brief The reading end of the ticking clock's pipe.
 * @return the descriptor, or -1 when the clock is not running.
 */
int fl_ticks_fd(void);

/**
 * @brief The writing end of the ticking clock's pipe.
 * @return the descriptor, or -1 when the clock is not running.
 */
int fl_ticks_write_fd(void);

/**
 * @brief Interrupt a timed call AFTER its deadline: one SIGALRM at
 *        @p at_ms from now whose handler runs for @p nap_ms, so that the
 *        call fails with EINTR once its time is up.
 *
 * The classic slip there: the time left (deadline - now) is negative, and
 * poll() takes a negative timeout as "no limit", so the call waits for
 * ever instead of timing out.  Then, @p rescue_ms after the first, a
 * second SIGALRM runs @p rescue (if not NULL; it must be
 * async-signal-safe, a write() to a pipe say) to end such a wait, so that
 * the test can report it instead of hanging; or run the call in a child
 * (fl_run_in_child), whose timeout ends it.  No SA_RESTART.
 * @note Uses setitimer(ITIMER_REAL); fl_late_signal_off() after the call.
 *
 * @param at_ms     when the first SIGALRM comes, from now.
 * @param nap_ms    how long its handler runs.
 * @param rescue    what the second SIGALRM's handler calls, or NULL.
 * @param rescue_ms when the second comes, after the first.
 */
void fl_late_signal(long at_ms, long nap_ms, void (*rescue)(void),
                    long rescue_ms);

/**
 * @brief Cancel fl_late_signal: the timer stopped, SIGALRM's handler
 *        back to what it was.
 */
void fl_late_signal_off(void);

/**
 * @brief Keep the caller on the CPU it runs on now, for timing.
 * @return 0, or -1 if the affinity could not be set.
 */
int fl_stay_on_this_cpu(void);

/**
 * @brief The median of n doubles (sorts v in place).
 * @param v the values.
 * @param n how many (at least 1).
 * @return the middle value (the upper of the two middle ones for even n).
 */
double fl_median(double *v, int n);

/**
 * @brief Block until pid has ended, without reaping it: its pidfd turns
 *        readable.
 * @param pid a child of the caller, not yet reaped.
 * @note Fails the test if pid has no pidfd (it was reaped already).
 */
void fl_until_ended(pid_t pid);

/**
 * @brief Whether fd turns readable (data, EOF or an error) within ms.
 * @param fd the descriptor.
 * @param ms how long to wait, -1 for ever; a signal does not end the wait.
 * @return 1 if it did, 0 if not.
 */
int fl_readable_within(int fd, int ms);

/* -------------------------------------------------------------- the gate */

/**
 * A gate that processes wait at until the test opens it: a pipe whose
 * write end only the test keeps.  Children forked after fl_gate_new wait
 * in fl_gate_wait (or run fl_gate_child) until the test calls
 * fl_gate_open, which closes that end: every waiter reads EOF at once,
 * however many there are, and a test that fails early ends them too.
 * @code
 * fl_gate g;
 * fl_gate_new(&g, 0, 3000);               // children give up after 3 s
 * pid_t pid = fl_raw_start(fl_gate_child, &g);
 * ...                                     // the child is surely running
 * fl_gate_free(&g);                       // opens it: the child exits 0
 * @endcode
 */
typedef struct {
    int fd[2];    ///< the children read fd[0]; the test holds fd[1]
    int code;     ///< what fl_gate_child returns
    int limit_ms; ///< the longest a child waits at the gate (-1: for ever)
} fl_gate;

/**
 * @brief Make a closed gate.
 * @param g        the gate.
 * @param code     what fl_gate_child returns once through.
 * @param limit_ms how long a waiter waits at most, -1 for ever.
 * @note Fails the test if pipe fails.
 */
void fl_gate_new(fl_gate *g, int code, int limit_ms);

/**
 * @brief In a child: wait until the gate opens, or limit_ms have passed.
 *
 * Closes the child's copy of the write end first (or EOF could never
 * come), then its read end once through: the child holds no part of it.
 *
 * @param g the gate, as the child inherited it.
 * @return 0 once the gate opened, -1 if limit_ms passed first.
 */
int fl_gate_wait(fl_gate *g);

/**
 * @brief A child's whole life: fl_gate_wait, then return the gate's code.
 * @param gate the fl_gate, as a target's argument.
 * @return the gate's code.
 */
int fl_gate_child(void *gate);

/**
 * @brief Open the gate: close the test's write end, so every waiter goes.
 * @param g the gate; opening it twice does nothing.
 */
void fl_gate_open(fl_gate *g);

/**
 * @brief Open the gate if it is not yet, and close the test's read end.
 * @param g the gate; the test holds no descriptor of it afterwards.
 */
void fl_gate_free(fl_gate *g);

/* --------------------------------------------------- raw reads and writes */

/// Bytes in a frame's header, the message's length in big-endian order, as
/// MP_FRAME_HEADER in lessons 04 and 11 (their tests check that they agree).
#define FL_FRAME_HEADER 4

/**
 * @brief Write every byte with the raw write, retrying on EINTR.
 * @param fd  where to write.
 * @param buf the bytes.
 * @param len how many.
 * @return 0, or -1 if a write failed (errno says why).
 */
int fl_write_full(int fd, const void *buf, size_t len);

/**
 * @brief Read len bytes with the raw read, unless EOF comes first.
 * @param fd         where to read.
 * @param buf        receives the bytes.
 * @param len        how many.
 * @param timeout_ms how long to wait for each read's data (-1: for ever).
 * @return the count read (less than len at EOF), or -1 if a read failed or
 *         no data came within timeout_ms.
 */
ssize_t fl_read_full(int fd, void *buf, size_t len, int timeout_ms);

/**
 * @brief Read until EOF, an error, or size bytes.
 * @param fd   where to read (a pipe whose writers will all close it).
 * @param buf  receives the bytes.
 * @param size room in buf.
 * @return the count read.
 */
size_t fl_read_all(int fd, void *buf, size_t size);

/**
 * @brief Read until EOF as a string: what a child wrote into a pipe.
 * @param fd   where to read.
 * @param buf  receives the text, NUL-terminated.
 * @param size the size of buf (at least 1).
 * @return the length of the text.
 */
size_t fl_read_text(int fd, char *buf, size_t size);

/**
 * @brief Store v in 4 bytes, most significant first (a frame's header).
 * @param p where to store it.
 * @param v the value.
 */
void fl_put_be32(unsigned char *p, uint32_t v);

/**
 * @brief Load 4 bytes stored most significant first.
 * @param p the bytes.
 * @return the value.
 */
uint32_t fl_get_be32(const unsigned char *p);

/**
 * @brief Write a whole frame the raw way: the header, then the message.
 * @param fd  where to write.
 * @param msg the message.
 * @param len its length.
 * @return 0, or -1 if a write failed.
 */
int fl_frame_write(int fd, const void *msg, size_t len);

/**
 * @brief Read one whole frame the raw way, header included, into buf.
 * @param fd         where to read.
 * @param buf        receives the frame.
 * @param cap        room in buf.
 * @param timeout_ms how long to wait for each read's data (-1: for ever).
 * @return the frame's size; 0 at EOF before a header; -1 for a timeout,
 *         an error, or bytes that are no frame (an empty message, or more
 *         than cap).
 */
ssize_t fl_frame_read(int fd, unsigned char *buf, size_t cap, int timeout_ms);

#endif
