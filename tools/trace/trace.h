// trace.h - the model `make trace` builds from an strace log, and its views.
//
// parse.c reads `strace -f -ttt -T -yy` output into processes, channels
// (pipes and socketpairs) and events; show.c prints them for a terminal
// (a tree, per-channel holders, problems; --short; --norm, the form kept in
// tests/NN_topic/trace.expect); svg.c draws a timeline.  Processes are
// indexed in the order they were created; P numbers (P1, P2...) are given
// once the whole log is read, in tree order, so they do not depend on
// which process the scheduler ran first.
#ifndef FL_TRACE_H
#define FL_TRACE_H

#include <stdio.h>
#include <sys/types.h>

#define TR_MAXP 256   // processes and threads
#define TR_MAXC 64    // pipes and socketpairs
#define TR_MAXE 8192  // events
#define TR_MAXH 12    // holders listed per end
#define TR_MAXFD 1024 // descriptors tracked per table
#define TR_NONE (-1)
#define TR_TRACER (-2) // reaped by the tracer (the root's parent)
#define TR_INIT (-3)   // reparented to init, outside the trace

enum tr_kind {
    EV_FORK,
    EV_EXEC,
    EV_SETSID,
    EV_SETPGID,
    EV_SUBREAPER,
    EV_CHAN,
    EV_DUP,
    EV_CLOSE,
    EV_EOF,
    EV_WAIT,
    EV_STUCK,
    EV_KILL,
    EV_SIGNAL,
    EV_REAP,
    EV_EXIT,
    EV_EXECCLOSE
};

struct tr_event {
    int kind;
    int proc;      // who did it
    double t0, t1; // start, end (t1 < 0: never returned)
    int other;     // a process: child, target, reaped one, group
    int chan, end; // a channel and its end (0 or 1)
    int fd, fd2;
    int status; // exit code, or -signal
    int nhold;  // holders of the other end, when a read waits
    int hold[TR_MAXH];
    char text[40]; // program name, signal name, syscall name
    int nkept;     // at exit: the ends it still held (exit closed them)
    short kept_chan[8];
    signed char kept_end[8];
};

struct tr_proc {
    pid_t pid;
    int parent; // index, or TR_NONE for the root
    int leader; // thread-group leader (itself unless a thread)
    int thread, vfork;
    int num;           // P number, from 1
    double born, died; // died < 0: still running at the end of the log
    int exited, code, sig;
    int reaper; // index, TR_TRACER, TR_NONE (never reaped)
    double reaped_at;
    int orphan_to; // TR_NONE, TR_INIT, or the subreaper's index
    int subreaper;
    int table; // descriptor table (shared by threads)
    char name[32];
};

struct tr_chan {
    int sock; // 0: a pipe (end 0 reads, 1 writes); 1: socketpair
    char ino[2][32];
    int creator, num;
    double born;
};

// One change of who holds a channel's ends, for the per-channel view.
struct tr_hold {
    double t;
    int chan, proc, ev; // the process whose act changed it, its event
    int n[2];
    int who[2][TR_MAXH];
};

// A span during which a process held one end of a channel (for the SVG).
struct tr_span {
    int proc, chan, end;
    double from, to;
};

struct tr_trace {
    struct tr_proc p[TR_MAXP];
    int np;
    struct tr_chan c[TR_MAXC];
    int nc;
    struct tr_event e[TR_MAXE];
    int ne;
    struct tr_hold h[TR_MAXE];
    int nh;
    struct tr_span s[TR_MAXE];
    int ns;
    double t_start, t_end;
    int truncated;    // a table was full: the trace says so
    double timed_out; // > 0: after that many seconds, trace killed it all
};

// parse.c
/// @brief Read an strace log (`-f -ttt -T -yy`) into @p tr.
/// @param tr the trace to fill (zeroed by the caller).
/// @param log the open log.
/// @return 0, or -1 when the log holds no process.
int tr_parse(struct tr_trace *tr, FILE *log);
/// @brief The name of a process ("P3"), or "tracer", "init".
const char *tr_who(const struct tr_trace *tr, int proc, char buf[16]);
/// @brief A channel's name ("pipe#1", "sock#2").
const char *tr_chan_name(const struct tr_trace *tr, int chan, char buf[16]);
/// @brief Which end, in words ("read end", "write end", "end A").
const char *tr_end_name(const struct tr_trace *tr, int chan, int end);

// show.c
/// @brief Print the full terminal view: tree, channels, problems.
void tr_show(const struct tr_trace *tr, FILE *out, const char *title);
/// @brief Print at most @p max lines: the tree and the problems.
void tr_short(const struct tr_trace *tr, FILE *out, int max);
/// @brief Print the normalised form: per process, no pids, no times.
void tr_norm(const struct tr_trace *tr, FILE *out);

// svg.c
/// @brief Write an SVG timeline of @p tr to @p out.
void tr_svg(const struct tr_trace *tr, FILE *out, const char *title);

#endif
