// show.c - a trace for the terminal: the tree, each channel's holders, the
// problems; the short form for a failing test; the normalised form.
//
// Everything fits 80 columns.  The normalised form (--norm) keeps only
// what does not depend on the scheduler: each process's own acts in its
// own order, with P numbers for pids and no times.  The order of acts of
// two processes is left out on purpose: it changes from run to run.
#include "trace.h"

#include <string.h>

static double
ms(const struct tr_trace *tr, double t)
{
    return (t - tr->t_start) * 1000.0;
}

static void
list(const struct tr_trace *tr, const int *who, int n, int self, char *buf,
     size_t size)
{
    char w[16];
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s%s",
                                 i ? ", " : "", tr_who(tr, who[i], w),
                                 who[i] == self ? " (itself)" : "");
    if (n == 0)
        snprintf(buf, size, "nobody");
}

// How process @p ended, in words.
static void
ending(const struct tr_trace *tr, int p, char *buf, size_t size)
{
    const struct tr_proc *pr = &tr->p[p];
    if (pr->died < 0) {
        snprintf(buf, size, "still running when the trace ended");
        return;
    }
    if (pr->sig)
        snprintf(buf, size, "killed by signal %d", pr->sig);
    else
        snprintf(buf, size, "exit %d", pr->code);
    for (int i = 0; i < tr->ne; i++)
        if (tr->e[i].kind == EV_EXIT && tr->e[i].proc == p && tr->e[i].text[0])
            snprintf(buf, size, "killed by %s", tr->e[i].text);
}

// Who reaped @p, or what became of it.
static void
fate(const struct tr_trace *tr, int p, char *buf, size_t size, int norm)
{
    const struct tr_proc *pr = &tr->p[p];
    char w[16], w2[16];
    if (pr->thread) {
        snprintf(buf, size, "thread of %s", tr_who(tr, pr->leader, w));
        return;
    }
    size_t n = 0;
    if (pr->orphan_to != TR_NONE)
        n = (size_t)snprintf(
            buf, size, "ORPHAN: %s ended first; adopted by %s%s",
            tr_who(tr, pr->parent, w), tr_who(tr, pr->orphan_to, w2),
            pr->orphan_to >= 0 ? " (subreaper)" : "");
    if (pr->died < 0)
        snprintf(buf + n, size - n, "%snever ended", n ? "; " : "");
    else if (pr->reaper == TR_TRACER)
        snprintf(buf + n, size - n, "reaped by the tracer");
    else if (pr->reaper >= 0 && norm)
        snprintf(buf + n, size - n, "%sreaped by %s", n ? "; " : "",
                 tr_who(tr, pr->reaper, w));
    else if (pr->reaper >= 0)
        snprintf(buf + n, size - n, "%sreaped by %s %.1f ms later",
                 n ? "; " : "", tr_who(tr, pr->reaper, w),
                 (pr->reaped_at - pr->died) * 1000);
    else if (pr->orphan_to != TR_NONE)
        ; // its adopter is outside the trace
    else
        snprintf(buf + n, size - n, "ZOMBIE: never reaped by %s",
                 tr_who(tr, pr->parent, w));
}

// ", still holding pipe#1 write end, ..." after an exit.
static void
kept(const struct tr_trace *tr, const struct tr_event *e, char *buf,
     size_t size)
{
    char c[16];
    for (int i = 0; i < e->nkept; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "%s%s %s", i ? ", " : ", still holding ",
                 tr_chan_name(tr, e->kept_chan[i], c),
                 tr_end_name(tr, e->kept_chan[i], e->kept_end[i]));
    }
}

static void describe_in(const struct tr_trace *tr, const struct tr_event *e,
                        char *buf, size_t size, int brief);

// One event, in words (no times; pids as P numbers).
static void
describe(const struct tr_trace *tr, const struct tr_event *e, char *buf,
         size_t size)
{
    describe_in(tr, e, buf, size, 0);
}

// @brief: for the channel's own view, which names the channel already.
static void
describe_in(const struct tr_trace *tr, const struct tr_event *e, char *buf,
            size_t size, int brief)
{
    char w[16], c[16] = "", held[160];
    switch (e->kind) {
    case EV_FORK:
        snprintf(buf, size, "%s %s",
                 tr->p[e->other].thread  ? "thread"
                 : tr->p[e->other].vfork ? "vfork"
                                         : "fork",
                 tr_who(tr, e->other, w));
        break;
    case EV_EXEC:
        snprintf(buf, size, "exec %s", e->text);
        break;
    case EV_SETSID:
        snprintf(buf, size, "setsid: a new session and group");
        break;
    case EV_SETPGID:
        snprintf(buf, size, "setpgid: %s joins the group of %s",
                 tr_who(tr, e->other, w), tr_who(tr, e->fd2, c));
        break;
    case EV_SUBREAPER:
        snprintf(buf, size, "becomes a child subreaper");
        break;
    case EV_CHAN:
        if (brief) {
            snprintf(buf, size, "%s: fd %d, fd %d",
                     tr->c[e->chan].sock ? "socketpair" : "pipe", e->fd,
                     e->fd2);
            break;
        }
        snprintf(buf, size, "%s %s: fd %d %s, fd %d %s",
                 tr->c[e->chan].sock ? "socketpair" : "pipe",
                 tr_chan_name(tr, e->chan, c), e->fd,
                 tr_end_name(tr, e->chan, 0), e->fd2,
                 tr_end_name(tr, e->chan, 1));
        break;
    case EV_DUP:
        if (brief) {
            snprintf(buf, size, "dup fd %d to fd %d", e->fd, e->fd2);
            break;
        }
        snprintf(buf, size, "dup fd %d to fd %d (%s %s)", e->fd, e->fd2,
                 tr_chan_name(tr, e->chan, c),
                 tr_end_name(tr, e->chan, e->end));
        break;
    case EV_CLOSE:
    case EV_EXECCLOSE:
        if (brief) {
            snprintf(buf, size, "%s fd %d",
                     e->kind == EV_CLOSE ? "close" : "exec closes", e->fd);
            break;
        }
        snprintf(buf, size, "%s fd %d (%s %s)",
                 e->kind == EV_CLOSE ? "close" : "exec closes", e->fd,
                 tr_chan_name(tr, e->chan, c),
                 tr_end_name(tr, e->chan, e->end));
        break;
    case EV_EOF:
        snprintf(buf, size, "%s fd %d (%s %s): EOF", e->text, e->fd,
                 tr_chan_name(tr, e->chan, c),
                 tr_end_name(tr, e->chan, e->end));
        break;
    case EV_WAIT:
    case EV_STUCK:
        list(tr, e->hold, e->nhold, e->proc, held, sizeof held);
        if (brief) {
            snprintf(buf, size, "%s fd %d %s; %s held by %s", e->text, e->fd,
                     e->kind == EV_STUCK ? "never returned" : "waited",
                     tr->c[e->chan].sock ? "the other end" : "write end", held);
            break;
        }
        snprintf(buf, size, "%s fd %d (%s %s) %s; %s held by %s", e->text,
                 e->fd, tr_chan_name(tr, e->chan, c),
                 tr_end_name(tr, e->chan, e->end),
                 e->kind == EV_STUCK ? "never returned" : "waited",
                 tr->c[e->chan].sock ? "the other end" : "write end", held);
        break;
    case EV_KILL:
        snprintf(buf, size, "kill %s %s",
                 e->other >= 0 ? tr_who(tr, e->other, w) : "(pid outside)",
                 e->text);
        break;
    case EV_SIGNAL:
        snprintf(buf, size, "got %s", e->text);
        break;
    case EV_REAP:
        snprintf(buf, size, "reaps %s", tr_who(tr, e->other, w));
        break;
    case EV_EXIT:
        if (e->status < 0)
            snprintf(buf, size, "killed by %s",
                     e->text[0] ? e->text : "a signal");
        else
            snprintf(buf, size, "exit %d", e->status);
        if (!brief)
            kept(tr, e, buf, size);
        break;
    default:
        buf[0] = '\0';
    }
}

// ---------------------------------------------------------------- tree

static int
depth(const struct tr_trace *tr, int p)
{
    int d = 0;
    for (int q = tr->p[p].parent; q >= 0; q = tr->p[q].parent)
        d++;
    return d;
}

// The processes in P order.
static int
by_num(const struct tr_trace *tr, int num)
{
    for (int p = 0; p < tr->np; p++)
        if (tr->p[p].num == num)
            return p;
    return 0;
}

static int
last_child(const struct tr_trace *tr, int p)
{
    for (int c = p + 1; c < tr->np; c++)
        if (tr->p[c].parent == tr->p[p].parent)
            return 0;
    return 1;
}

static void
tree_line(const struct tr_trace *tr, int p, char *buf, size_t size, int times)
{
    char prefix[64] = "", end[64], what[160];
    int d = depth(tr, p);
    size_t n = 0;
    for (int i = 1; i < d && n + 4 < sizeof prefix; i++)
        n += (size_t)snprintf(prefix + n, sizeof prefix - n, "  ");
    if (d > 0)
        snprintf(prefix + n, sizeof prefix - n, "%s",
                 last_child(tr, p) ? "└─" : "├─");
    const struct tr_proc *pr = &tr->p[p];
    ending(tr, p, end, sizeof end);
    fate(tr, p, what, sizeof what, 0);
    char head[64];
    snprintf(head, sizeof head, "%sP%d %d %s", prefix, pr->num, (int)pr->pid,
             pr->thread ? "(thread)" : pr->name);
    // Box-drawing characters take three bytes and one column.
    int cols = 0;
    for (const char *s = head; *s; s++)
        cols += ((unsigned char)*s & 0xc0) != 0x80;
    if (times)
        snprintf(buf, size, "%s%*s %7.1f %7.1f  %s; %s", head,
                 cols < 26 ? 26 - cols : 0, "", ms(tr, pr->born),
                 ms(tr, pr->died >= 0 ? pr->died : tr->t_end), end, what);
    else
        snprintf(buf, size, "%s  %s; %s", head, end, what);
}

static void
show_tree(const struct tr_trace *tr, FILE *out)
{
    char line[512];
    fprintf(out,
            "Processes (P, pid, program)    born   ended (ms)  how it ended\n");
    for (int num = 1; num <= tr->np; num++) {
        tree_line(tr, by_num(tr, num), line, sizeof line, 1);
        // Too long for 80 columns: what became of it on a line of its own.
        char *semi = strstr(line, "; ");
        int cols = 0;
        for (const char *c = line; *c; c++)
            cols += ((unsigned char)*c & 0xc0) != 0x80; // UTF-8: one a glyph
        if (cols > 79 && semi != NULL) {
            *semi = '\0';
            fprintf(out, "%s\n%8s%s\n", line, "", semi + 2);
        } else {
            fprintf(out, "%s\n", line);
        }
    }
}

// ---------------------------------------------------------------- chans

static void
show_chan(const struct tr_trace *tr, FILE *out, int c)
{
    char name[16], w[16], r[160], wr[160], what[200];
    fprintf(out, "\n%s made by %s\n       ms  by  %-28s %-14s %s\n",
            tr_chan_name(tr, c, name), tr_who(tr, tr->c[c].creator, w), "what",
            tr->c[c].sock ? "end A" : "read end",
            tr->c[c].sock ? "end B" : "write end");
    int i = 0, j = 0;
    for (;;) {
        while (i < tr->nh && tr->h[i].chan != c)
            i++;
        while (j < tr->ne &&
               !(tr->e[j].chan == c &&
                 (tr->e[j].kind == EV_WAIT || tr->e[j].kind == EV_STUCK)))
            j++;
        if (i == tr->nh && j == tr->ne)
            break;
        if (j < tr->ne && (i == tr->nh || tr->e[j].t0 < tr->h[i].t)) {
            const struct tr_event *e = &tr->e[j++];
            describe_in(tr, e, what, sizeof what, 1);
            fprintf(out, "! %7.1f  %-3s %s", ms(tr, e->t0),
                    tr_who(tr, e->proc, w), what);
            if (e->kind == EV_WAIT)
                fprintf(out, " (%.1f ms)", (e->t1 - e->t0) * 1000);
            fprintf(out, "\n");
            continue;
        }
        const struct tr_hold *h = &tr->h[i++];
        describe_in(tr, &tr->e[h->ev], what, sizeof what, 1);
        list(tr, h->who[0], h->n[0], -9, r, sizeof r);
        list(tr, h->who[1], h->n[1], -9, wr, sizeof wr);
        fprintf(out, "  %7.1f  %-3s %-28.28s %-14s %s\n", ms(tr, h->t),
                tr_who(tr, h->proc, w), what, r, wr);
    }
}

// ---------------------------------------------------------------- problems

static int kept_while_waited(const struct tr_trace *tr,
                             const struct tr_event *exit);

static int
problems(const struct tr_trace *tr, char lines[][200], int max)
{
    int n = 0;
    char w[16], what[200], end[64];
    if (tr->timed_out > 0)
        snprintf(lines[n++], 200,
                 "still running after %.0f s: trace killed"
                 " all it traced (SIGKILL)",
                 tr->timed_out);
    for (int num = 1; num <= tr->np && n < max; num++) {
        int p = by_num(tr, num);
        const struct tr_proc *pr = &tr->p[p];
        if (pr->thread)
            continue;
        if (pr->died >= 0 && pr->reaper == TR_NONE &&
            pr->orphan_to == TR_NONE) {
            snprintf(lines[n++], 200,
                     "P%d ended (%s) but %s never reaped it:"
                     " a zombie",
                     pr->num, (ending(tr, p, end, sizeof end), end),
                     tr_who(tr, pr->parent, w));
        } else if (pr->orphan_to != TR_NONE && n < max) {
            fate(tr, p, what, sizeof what, 1);
            snprintf(lines[n++], 200, "P%d %s", pr->num, what);
        }
        if (pr->died < 0 && n < max)
            snprintf(lines[n++], 200,
                     "P%d was still running when the trace"
                     " ended",
                     pr->num);
    }
    for (int i = 0; i < tr->ne && n < max; i++) {
        const struct tr_event *e = &tr->e[i];
        int self = 0;
        for (int k = 0; k < e->nhold; k++)
            self |= e->hold[k] == e->proc;
        // A read cut short by a signal that a traced process sent (a pool's
        // terminate) is on purpose; one that only the end of the trace
        // (or a timeout) ended is the problem.
        int sent = 0;
        for (int k = 0; k < tr->ne; k++)
            sent |= tr->e[k].kind == EV_KILL && tr->e[k].other == e->proc;
        (void)self;
        if (e->kind == EV_STUCK && !sent) {
            describe(tr, e, what, sizeof what);
            snprintf(lines[n++], 200, "%s %s", tr_who(tr, e->proc, w), what);
        } else if (e->kind == EV_EXIT && e->nkept) {
            int waiter = kept_while_waited(tr, e);
            char w2[16];
            if (waiter >= 0) {
                what[0] = '\0';
                kept(tr, e, what, sizeof what);
                snprintf(lines[n++], 200,
                         "%s kept to its exit:%s, while %s "
                         "waited on the other end",
                         tr_who(tr, e->proc, w),
                         what + strlen(", still holding"),
                         tr_who(tr, waiter, w2));
            }
        }
    }
    return n;
}

// A process that another one waited for, on a channel whose end it kept
// until it exited (the classic missing close): the waiter, or TR_NONE.
static int
kept_while_waited(const struct tr_trace *tr, const struct tr_event *exit)
{
    for (int k = 0; k < exit->nkept; k++)
        for (int i = 0; i < tr->ne; i++) {
            const struct tr_event *e = &tr->e[i];
            if ((e->kind != EV_WAIT && e->kind != EV_STUCK) ||
                e->chan != exit->kept_chan[k] || e->proc == exit->proc)
                continue;
            for (int h = 0; h < e->nhold; h++)
                if (e->hold[h] == exit->proc)
                    return e->proc;
        }
    return TR_NONE;
}

static void
show_problems(const struct tr_trace *tr, FILE *out)
{
    static char lines[64][200];
    int n = problems(tr, lines, 64);
    fprintf(out, "\n%s\n", n ? "Problems" : "No zombie, orphan or stuck read.");
    for (int i = 0; i < n; i++)
        fprintf(out, "  %s\n", lines[i]);
}

void
tr_show(const struct tr_trace *tr, FILE *out, const char *title)
{
    fprintf(out, "trace: %s\n\n", title);
    show_tree(tr, out);
    if (tr->nc > 0)
        fprintf(out, "\nPipes and sockets: who holds each end after each"
                     " change (! a read waited)\n");
    for (int c = 0; c < tr->nc; c++)
        show_chan(tr, out, c);
    show_problems(tr, out);
    if (tr->truncated)
        fprintf(out, "(the trace was too long: its end is left out)\n");
}

void
tr_short(const struct tr_trace *tr, FILE *out, int max)
{
    static char lines[64][200];
    int np = problems(tr, lines, 64 < max ? 64 : max);
    int room = max - 1 - (np ? np + 1 : 0), shown = 0;
    char line[512];
    fprintf(out, "trace: %d process%s, %d pipe%s or socket%s\n", tr->np,
            tr->np == 1 ? "" : "es", tr->nc, tr->nc == 1 ? "" : "s",
            tr->nc == 1 ? "" : "s");
    for (int num = 1; num <= tr->np && shown < room; num++, shown++) {
        if (shown == room - 1 && num < tr->np) {
            fprintf(out, "  ... %d more\n", tr->np - num + 1);
            break;
        }
        tree_line(tr, by_num(tr, num), line, sizeof line, 0);
        fprintf(out, "  %.76s\n", line);
    }
    if (np)
        fprintf(out, "problems:\n");
    for (int i = 0; i < np && i < max - 2; i++)
        fprintf(out, "  %.76s\n", lines[i]);
}

void
tr_norm(const struct tr_trace *tr, FILE *out)
{
    char end[64], what[200], w[16];
    for (int num = 1; num <= tr->np; num++) {
        int p = by_num(tr, num);
        const struct tr_proc *pr = &tr->p[p];
        ending(tr, p, end, sizeof end);
        fate(tr, p, what, sizeof what, 1);
        fprintf(out, "P%d%s%s: %s; %s\n", pr->num,
                pr->parent >= 0 ? " child of " : "",
                pr->parent >= 0 ? tr_who(tr, pr->parent, w) : "", end, what);
        // A wait's length is the scheduler's; a signal can arrive in any
        // order against the rest: both stay out of this form.  A process
        // that a signal stopped (or made leave) did so wherever the
        // scheduler had it: how many descriptors it had closed by then is
        // chance too, so its descriptor acts stay out as well.
        int signalled = pr->sig != 0;
        for (int i = 0; i < tr->ne; i++)
            signalled |= tr->e[i].proc == p && tr->e[i].kind == EV_SIGNAL;
        for (int i = 0; i < tr->ne; i++) {
            const struct tr_event *e = &tr->e[i];
            if (e->proc != p || e->kind == EV_WAIT || e->kind == EV_SIGNAL)
                continue;
            if (signalled && (e->kind == EV_CLOSE || e->kind == EV_DUP ||
                              e->kind == EV_EOF || e->kind == EV_STUCK))
                continue;
            struct tr_event copy = *e;
            if (signalled)
                copy.nkept = 0;
            describe(tr, &copy, what, sizeof what);
            fprintf(out, "  %s\n", what);
        }
    }
}
