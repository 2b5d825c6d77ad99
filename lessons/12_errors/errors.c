// errors.c - lesson 12: errors carried to the parent, SIGCHLD, SIGINT/SIGTERM.
//
// Your task: make the functions below work as errors.h describes.  Three
// parts, each with its helpers first: a worker's error record and exit
// code, a SIGCHLD handler that reaps every child, and names removed on
// SIGINT/SIGTERM.  Read lessons/12_errors/README.md first; `make check
// L=12` tests your code, `make hint L=12` gives one more hint each time.
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

// Python's exit code from a raw wait status: the exit status, or minus
// the signal that killed the child.  Async-signal-safe: pure arithmetic.
static int
exitcode(int status)
{
    // TODO(12): WIFSIGNALED: minus WTERMSIG (a segfault is -11, abort()
    // -6); else WEXITSTATUS.  WEXITSTATUS alone reads a crash as a
    // success.  (No WUNTRACED anywhere here: a child is never "stopped".)
    (void)status;
    return -ENOSYS;
}

// Read len bytes from fd into buf, unless EOF comes first.
// Returns how many were read (fewer than len only at EOF), or -errno.
static ssize_t
read_full(int fd, void *buf, size_t len)
{
    // TODO(12): call read() until len bytes are in; 0 means EOF: return
    // the count so far.  -1 with EINTR: a signal handler ran, read again.
    // Any other failure: return -errno.
    (void)fd;
    (void)buf;
    (void)len;
    return -ENOSYS;
}

// Write len bytes to fd, going on after EINTR.  Returns 0, or -errno.
static int
write_full(int fd, const void *buf, size_t len)
{
    // TODO(12): call write() until every byte has gone; EINTR: write
    // again; any other failure: return -errno.  Hand it the whole record
    // at once: a write of up to PIPE_BUF bytes to a pipe is never split
    // nor mixed with another process's write.
    (void)fd;
    (void)buf;
    (void)len;
    return -ENOSYS;
}

// Big-endian 32-bit numbers into and out of a record (given).
static void
put32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static unsigned long
get32(const unsigned char *p)
{
    return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 |
           (unsigned long)p[2] << 8 | (unsigned long)p[3];
}

/* ------------------------------------------------- errors to the parent */

// In the worker: send the record for (index, msg) to fd.  0 or -errno.
static int
send_record(int fd, int index, const char *msg)
{
    // TODO(12): the record is MP_ERR_HEADER bytes (put32 the message's
    // length, then the index) and the message without its NUL, at most
    // MP_ERR_MAX - 1 bytes (strnlen: the task may have filled msg to the
    // brim).  Build it in ONE buffer and write_full it in one go: two
    // writes let another worker's record in between.
    (void)fd;
    (void)index;
    (void)msg;
    (void)put32; // use these helpers, then delete these lines
    (void)write_full;
    return -ENOSYS;
}

pid_t
mp_run_worker(mp_task fn, int index, void *arg, int err_fd)
{
    // TODO(12): reject a NULL fn or a negative index with -EINVAL, and an
    // err_fd that is not open (fcntl(err_fd, F_GETFD) fails) with -EBADF,
    // before forking.
    // TODO(12): fflush(NULL), then fork(); -1: return -errno.
    // TODO(12): in the child, run fn(index, arg, msg, sizeof msg) with
    // msg a buffer of MP_ERR_MAX bytes holding "".  Flush stdio.  On
    // success, _exit(0).  On failure, send_record to err_fd, then
    // _exit(1), as Python after an uncaught exception: the exit code
    // alone says THAT it failed, only the record says WHY.
    // TODO(12): in the parent, return the child's pid.
    (void)fn;
    (void)index;
    (void)arg;
    (void)err_fd;
    (void)send_record; // use this helper, then delete this line
    return -ENOSYS;
}

// Read one record from fd into e.  1: got one; 0: EOF before a record;
// -EPROTO: EOF inside one, or a length over MP_ERR_MAX - 1; or -errno.
static int
recv_record(int fd, mp_error *e)
{
    // TODO(12): read_full the header; no byte at all is EOF (0), some but
    // not all is -EPROTO.  get32 the length and the index; a length over
    // MP_ERR_MAX - 1 is -EPROTO.  read_full the message into e->message,
    // -EPROTO if it is cut short, and end it with a NUL.
    (void)fd;
    (void)e;
    (void)get32; // use these helpers, then delete these lines
    (void)read_full;
    return -ENOSYS;
}

// Read fd to EOF and throw the bytes away, so that a writer blocked on a
// full pipe can finish and exit (given).
static void
drain(int fd)
{
    char sink[4096];
    while (read_full(fd, sink, sizeof sink) == (ssize_t)sizeof sink)
        ;
}

// Wait for one child and give its exit code.  0 or -errno.
static int
reap_one(pid_t pid, int *code)
{
    // TODO(12): waitpid(pid, &status, 0) again while it fails with EINTR.
    // If it fails with ECHILD, the SIGCHLD handler may have reaped the
    // child first: take the code from mp_reaper_lookup (save errno before
    // calling it).  Otherwise -errno.  Decode the status with exitcode().
    (void)pid;
    (void)code;
    (void)exitcode; // use this helper, then delete this line
    return -ENOSYS;
}

int
mp_collect(int err_fd, const pid_t *pids, int n, int *codes, mp_error *errs,
           int max_errs)
{
    // TODO(12): -EINVAL for a negative err_fd, n or max_errs; a NULL pids
    // or codes when n > 0; a NULL errs when max_errs > 0; a pid that is
    // not positive (to waitpid, 0 and -1 mean "any child").
    // TODO(12): FIRST read records with recv_record until EOF, storing
    // the first max_errs and counting all.  On a bad record, drain the
    // pipe to EOF and remember the error.  Only THEN reap: a worker
    // blocked writing into a full pipe (64 KiB) never exits, so a wait
    // before the reads would wait for ever.
    // TODO(12): reap every pid with reap_one into codes[i]
    // (MP_EXITCODE_NONE where it fails), even after an error.  Return the
    // bad record's error, else the first reap error, else the count.
    (void)err_fd;
    (void)pids;
    (void)n;
    (void)codes;
    (void)errs;
    (void)max_errs;
    (void)recv_record; // use these helpers, then delete these lines
    (void)drain;
    (void)reap_one;
    return -ENOSYS;
}

/* ------------------------------------------------------ SIGCHLD reaper */

// The handler's table: filled by the handler, read with SIGCHLD blocked.
static struct {
    pid_t pid;
    int code;
} reaped[MP_REAPER_MAX];
static volatile sig_atomic_t nreaped; // records in the table
static struct sigaction old_chld;     // the action before install
static int reaper_on;

// Reap every child that has ended, recording each.  Called by the
// handler, so only async-signal-safe calls.
static void
reap_all(void)
{
    // TODO(12): waitpid(-1, &status, WNOHANG) in a loop until it returns
    // 0 (children left, none ended) or -1 (ECHILD: none left).  ONE
    // SIGCHLD may stand for many children: signals are not queued, so
    // reaping one per signal leaves zombies.  Never block: without
    // WNOHANG the handler would wait for a child still running.  Record
    // each pid and exitcode() in reaped[nreaped++] while there is room.
    (void)reaped;
    (void)exitcode; // use this helper, then delete this line
}

static void
on_sigchld(int sig)
{
    // TODO(12): save errno, reap_all, put errno back: the handler runs
    // between any two instructions of the main flow, maybe between a
    // failed call and the line that reads its errno, and reap_all's last
    // waitpid sets errno to ECHILD.  No printf here: it is not
    // async-signal-safe (write() is).
    (void)sig;
    (void)reap_all; // use this helper, then delete this line
}

// Block SIGCHLD, keeping the old mask in old: while it is blocked, the
// handler cannot run, and the table is ours (given).
static void
block_sigchld(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, old);
}

int
mp_reaper_install(void)
{
    // TODO(12): with SIGCHLD blocked (the handler must not run half-way
    // through): empty the table (nreaped = 0); install on_sigchld with
    // sigaction, sa_mask empty, flags SA_RESTART (a read in the main flow
    // goes on when a child ends, instead of failing with EINTR) and
    // SA_NOCLDSTOP (no signal for a stopped child).  Not SA_RESETHAND,
    // nor signal(): the handler must stay for the next children.  Keep
    // the old action in old_chld the first time only.  Then reap_all once:
    // children that ended before now sent a SIGCHLD nobody caught.
    // Restore the mask.  sigaction failing: -errno.
    (void)on_sigchld; // use this handler, then delete this line
    return -ENOSYS;
}

int
mp_reaper_uninstall(void)
{
    // TODO(12): -EINVAL unless installed; else put old_chld back.
    (void)reaper_on;
    (void)old_chld;
    return -ENOSYS;
}

int
mp_reaper_count(void)
{
    // TODO(12): nreaped, read with SIGCHLD blocked.
    (void)nreaped;
    (void)block_sigchld; // use this helper, then delete this line
    return -ENOSYS;
}

int
mp_reaper_lookup(pid_t pid, int *code)
{
    // TODO(12): -EINVAL for pid <= 0 or a NULL code.  With SIGCHLD
    // blocked (or the handler could change the table under you), search
    // the table from the newest record back: a pid may be reused.
    (void)pid;
    (void)code;
    return -ENOSYS;
}

/* ------------------------------------------- cleanup on SIGINT/SIGTERM */

static struct {
    char name[MP_SHM_NAME_MAX];
    pid_t owner; // the process that registered it, the only one to unlink
} names[MP_CLEANUP_MAX];
static int nnames;
static int self_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_signal; // the signal that came, or 0
static struct sigaction old_int, old_term;

static void
on_stop(int sig)
{
    // TODO(12): only what is async-signal-safe: record sig in
    // stop_signal (a volatile sig_atomic_t, the one type a handler may
    // safely set) and write() one byte to self_pipe[1], so that a poll()
    // on mp_signal_fd() wakes even if the signal came just before it
    // started.  The pipe is non-blocking: when full, the byte is not
    // needed.  Keep errno as it was.
    (void)sig;
    (void)stop_signal;
}

// Make the self-pipe and install on_stop for SIGINT and SIGTERM.
static int
install_stop(void)
{
    // TODO(12): pipe(), then both ends O_NONBLOCK (fcntl F_SETFL): a
    // handler that blocks on a full pipe never returns.  FD_CLOEXEC too.
    // sigaction on_stop for SIGINT and SIGTERM, keeping the old actions
    // in old_int and old_term, with flags 0 (no SA_RESTART: a blocked
    // read returns EINTR so the main flow can look at the flag).
    (void)self_pipe;
    (void)old_int;
    (void)old_term;
    (void)on_stop; // use this handler, then delete this line
    return -ENOSYS;
}

int
mp_cleanup_on_signal(const char *name)
{
    // TODO(12): -EINVAL for NULL or a name not starting with '/';
    // -ENAMETOOLONG if it does not fit in MP_SHM_NAME_MAX bytes.
    // TODO(12): a name this process registered already: return 0.  A
    // full table: -ENOSPC.  On the first call, install_stop().  Then copy
    // the name with its owner, getpid(): a forked child inherits the
    // table, and must not unlink its parent's objects.
    (void)name;
    (void)names;
    (void)nnames;
    (void)install_stop; // use this helper, then delete this line
    return -ENOSYS;
}

int
mp_signal_fd(void)
{
    // TODO(12): the self-pipe's read end, or -EBADF if there is none.
    return -ENOSYS;
}

int
mp_signal_check(void)
{
    // TODO(12): empty the self-pipe (read until it fails: it is
    // non-blocking).  No signal in stop_signal: return 0.
    // TODO(12): shm_unlink every name this process owns: here, in the
    // main flow, any call is allowed.  Then restore the default action
    // (sigaction with SIG_DFL: while on_stop is installed, raising the
    // signal only calls it again) and raise(sig), and unblock sig in case
    // the caller blocked it.  Never exit(): the parent would read "exited
    // with 0" where the truth is "killed by SIGTERM".
    return -ENOSYS;
}

int
mp_cleanup_cancel(void)
{
    // TODO(12): nothing registered: return 0.  Else put old_int and
    // old_term back, close both ends of the self-pipe (set them to -1),
    // forget the names, clear stop_signal.
    return -ENOSYS;
}
