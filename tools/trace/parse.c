// parse.c - an strace log (-f -ttt -T -yy) into processes, channels, events.
//
// strace prints one line per system call, but a call that another process's
// line interrupts is split into "NAME(args <unfinished ...>" and, later,
// "<... NAME resumed>rest".  The log is first read into whole records, each
// placed at the line where its call began; records are then replayed in
// that order.  A clone's child can print before the parent's clone returns,
// but never before the clone began, so the child's descriptor table is
// copied from the parent's before the child does anything.  Descriptors are
// followed in a table per process (shared by threads): pipe2 and socketpair
// make channels, dup/dup2/dup3/fcntl(F_DUPFD) copy, close/close_range and
// exec (close-on-exec) drop, exit drops all.  Only channels made inside the
// trace are followed; the rest (ld.so's files, the terminal) are ignored.
#define _GNU_SOURCE
#include "trace.h"

#include <stdlib.h>
#include <string.h>

struct rec {
    int pid;
    long seq;
    double t0, t1;
    char *text;
};

struct table {
    short chan[TR_MAXFD]; // TR_NONE: not a channel we follow
    signed char end[TR_MAXFD];
    char cloexec[TR_MAXFD];
};

static struct table tables[TR_MAXP];
static int ntables;
static double hold_since[TR_MAXP][TR_MAXC][2];

// ------------------------------------------------------------ the log

static struct rec *recs;
static size_t nrecs, caprecs;

static void
add_rec(int pid, long seq, double t0, double t1, const char *text)
{
    if (nrecs == caprecs) {
        caprecs = caprecs ? caprecs * 2 : 1024;
        recs = realloc(recs, caprecs * sizeof *recs);
        if (recs == NULL) {
            perror("trace");
            exit(1);
        }
    }
    recs[nrecs++] = (struct rec){pid, seq, t0, t1, strdup(text)};
}

// The duration strace appends with -T ("<0.000123>"), cut off the text.
static double
cut_duration(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    if (n == 0 || s[n - 1] != '>')
        return 0;
    char *lt = strrchr(s, '<');
    if (lt == NULL || lt == s || lt[-1] != ' ' || lt[1] < '0' || lt[1] > '9')
        return 0;
    double d = strtod(lt + 1, NULL);
    lt[-1] = '\0';
    return d;
}

struct pending {
    int pid;
    long seq;
    double t0;
    char *text;
};

static int
cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

// Whole records from the log, in the order their calls began.
static void
read_log(FILE *log)
{
    static struct pending pend[TR_MAXP];
    int npend = 0;
    char line[8192];
    for (long seq = 0; fgets(line, sizeof line, log) != NULL; seq++) {
        int pid, off = 0;
        double t;
        if (sscanf(line, "%d %lf %n", &pid, &t, &off) < 2 || off == 0)
            continue;
        char *s = line + off;
        double d = cut_duration(s);
        char *un = strstr(s, " <unfinished ...>");
        if (un != NULL && npend < TR_MAXP) {
            *un = '\0';
            pend[npend++] = (struct pending){pid, seq, t, strdup(s)};
            continue;
        }
        if (strncmp(s, "<... ", 5) == 0) {
            char *rest = strstr(s, " resumed>");
            int i = 0;
            while (i < npend && pend[i].pid != pid)
                i++;
            if (rest == NULL || i == npend)
                continue;
            char buf[16384];
            snprintf(buf, sizeof buf, "%s%s", pend[i].text, rest + 9);
            // -T gives the whole call's length, from when it began.
            add_rec(pid, pend[i].seq, pend[i].t0, pend[i].t0 + d, buf);
            free(pend[i].text);
            pend[i] = pend[--npend];
            continue;
        }
        add_rec(pid, seq, t, t + d, s);
    }
    // Calls that never returned: the process was killed inside them.
    for (int i = 0; i < npend; i++) {
        add_rec(pend[i].pid, pend[i].seq, pend[i].t0, -1, pend[i].text);
        free(pend[i].text);
    }
    qsort(recs, nrecs, sizeof *recs, cmp_rec);
}

// ------------------------------------------------------------ processes

static int
find_proc(const struct tr_trace *tr, pid_t pid)
{
    for (int i = tr->np - 1; i >= 0; i--)
        if (tr->p[i].pid == pid)
            return i;
    return TR_NONE;
}

static int
new_table(int copy_of)
{
    if (ntables == TR_MAXP)
        return copy_of >= 0 ? copy_of : 0;
    struct table *t = &tables[ntables];
    if (copy_of >= 0) {
        *t = tables[copy_of];
    } else {
        for (int fd = 0; fd < TR_MAXFD; fd++)
            t->chan[fd] = TR_NONE;
    }
    return ntables++;
}

static int
new_proc(struct tr_trace *tr, pid_t pid, int parent, double t)
{
    if (tr->np == TR_MAXP) {
        tr->truncated = 1;
        return TR_NONE;
    }
    int i = tr->np++;
    struct tr_proc *p = &tr->p[i];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->parent = parent;
    p->leader = i;
    p->born = t;
    p->died = -1;
    p->reaper = TR_NONE;
    p->orphan_to = TR_NONE;
    p->table = TR_NONE;
    if (parent >= 0)
        memcpy(p->name, tr->p[parent].name, sizeof p->name);
    return i;
}

static struct tr_event *
add_event(struct tr_trace *tr, int kind, int proc, const struct rec *r)
{
    if (tr->ne == TR_MAXE) {
        tr->truncated = 1;
        static struct tr_event junk;
        return &junk;
    }
    struct tr_event *e = &tr->e[tr->ne++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->proc = proc;
    e->t0 = r->t0;
    e->t1 = r->t1;
    e->other = e->chan = TR_NONE;
    return e;
}

// ------------------------------------------------------------ holders

// Whether process @p holds end @e of channel @c now.
static int
holds(const struct tr_trace *tr, int p, int c, int e)
{
    const struct tr_proc *pr = &tr->p[p];
    if (pr->thread || pr->died >= 0 || pr->table < 0)
        return 0;
    const struct table *t = &tables[pr->table];
    for (int fd = 0; fd < TR_MAXFD; fd++)
        if (t->chan[fd] == c && t->end[fd] == e)
            return 1;
    return 0;
}

static int
holders(const struct tr_trace *tr, int c, int e, int *who)
{
    int n = 0;
    for (int p = 0; p < tr->np && n < TR_MAXH; p++)
        if (holds(tr, p, c, e))
            who[n++] = p;
    return n;
}

// After process @p's act at @t (event @ev) touched channel @c: note the
// spans that began or ended, and the new holders, if they changed.
static void
touched(struct tr_trace *tr, int c, int p, int ev, double t)
{
    if (c < 0)
        return;
    int changed = 0;
    for (int q = 0; q < tr->np; q++) {
        for (int e = 0; e < 2; e++) {
            int h = holds(tr, q, c, e);
            double *since = &hold_since[q][c][e];
            if (h && *since < 0) {
                *since = t;
                changed = 1;
            } else if (!h && *since >= 0) {
                if (tr->ns < TR_MAXE)
                    tr->s[tr->ns++] = (struct tr_span){q, c, e, *since, t};
                *since = -1;
                changed = 1;
            }
        }
    }
    if (!changed || tr->nh == TR_MAXE)
        return;
    struct tr_hold *h = &tr->h[tr->nh++];
    h->t = t;
    h->chan = c;
    h->proc = p;
    h->ev = ev;
    for (int e = 0; e < 2; e++)
        h->n[e] = holders(tr, c, e, h->who[e]);
}

static void
touch_all(struct tr_trace *tr, int p, int ev, double t)
{
    for (int c = 0; c < tr->nc; c++)
        touched(tr, c, p, ev, t);
}

// ------------------------------------------------------------ calls

// Where the result begins: after the last " = " that follows the closing
// parenthesis (strace pads short calls: "setsid()        = 42").
static const char *
result(const char *s)
{
    const char *best = NULL;
    for (const char *eq = strstr(s, " = "); eq; eq = strstr(eq + 1, " = ")) {
        const char *b = eq;
        while (b > s && b[-1] == ' ')
            b--;
        if (b > s && b[-1] == ')')
            best = eq + 3;
    }
    return best;
}

static long
ret_of(const char *s)
{
    const char *r = result(s);
    if (r == NULL || *r == '?')
        return -99999;
    return strtol(r, NULL, 0);
}

// The n-th integer argument (0-based) of "name(a, b, ...)".
static long
arg_int(const char *s, int n)
{
    const char *a = strchr(s, '(');
    if (a == NULL)
        return -1;
    a++;
    for (int depth = 0; n > 0 && *a; a++) {
        if (*a == '[' || *a == '{' || *a == '(')
            depth++;
        else if (*a == ']' || *a == '}' || *a == ')')
            depth--;
        else if (*a == ',' && depth == 0 && --n == 0) {
            a++;
            break;
        }
    }
    return strtol(a, NULL, 0);
}

static struct table *
table_of(struct tr_trace *tr, int p)
{
    int t = tr->p[tr->p[p].leader].table;
    return t >= 0 ? &tables[t] : NULL;
}

static int
valid_fd(long fd)
{
    return fd >= 0 && fd < TR_MAXFD;
}

// "N<annotation>" at @s: N, the annotation into @ino, and the text after.
// An annotation may hold '>' ("UNIX-STREAM:[1->2]"): it ends at a '>'
// that a ',' or ']' follows.
static const char *
fd_annot(const char *s, int *fd, char ino[32])
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '<')
        return NULL;
    const char *a = end + 1, *z = a;
    while (*z && !(z[0] == '>' && (z[1] == ',' || z[1] == ']')))
        z++;
    if (*z == '\0')
        return NULL;
    *fd = (int)v;
    snprintf(ino, 32, "%.*s", (int)(z - a), a);
    return z + 1;
}

// "[3<pipe:[123]>, 4<pipe:[123]>]" in @s: the two fds and their inodes.
static int
fd_pair(const char *s, int fd[2], char ino[2][32])
{
    for (const char *b = strchr(s, '['); b != NULL; b = strchr(b + 1, '[')) {
        const char *n = fd_annot(b + 1, &fd[0], ino[0]);
        if (n != NULL && strncmp(n, ", ", 2) == 0 &&
            (n = fd_annot(n + 2, &fd[1], ino[1])) != NULL && *n == ']')
            return 0;
    }
    return -1;
}

static void
on_chan(struct tr_trace *tr, int p, const struct rec *r, int sock)
{
    int fd[2];
    char ino[2][32];
    struct table *t = table_of(tr, p);
    if (t == NULL || ret_of(r->text) != 0 || fd_pair(r->text, fd, ino) < 0 ||
        !valid_fd(fd[0]) || !valid_fd(fd[1]))
        return;
    if (tr->nc == TR_MAXC) {
        tr->truncated = 1;
        return;
    }
    int c = tr->nc++;
    tr->c[c] = (struct tr_chan){.sock = sock, .creator = p, .born = r->t0};
    memcpy(tr->c[c].ino, ino, sizeof ino);
    int cloexec = strstr(r->text, "CLOEXEC") != NULL;
    for (int e = 0; e < 2; e++) {
        t->chan[fd[e]] = (short)c;
        t->end[fd[e]] = (signed char)e;
        t->cloexec[fd[e]] = (char)cloexec;
    }
    struct tr_event *ev = add_event(tr, EV_CHAN, p, r);
    ev->chan = c;
    ev->fd = fd[0];
    ev->fd2 = fd[1];
    touched(tr, c, p, tr->ne - 1, r->t0);
}

static void
on_dup(struct tr_trace *tr, int p, const struct rec *r)
{
    struct table *t = table_of(tr, p);
    long old = arg_int(r->text, 0), fd = ret_of(r->text);
    if (t == NULL || !valid_fd(old) || !valid_fd(fd) || old == fd)
        return;
    int before = t->chan[fd];
    t->chan[fd] = t->chan[old];
    t->end[fd] = t->end[old];
    t->cloexec[fd] = strstr(r->text, "CLOEXEC") != NULL;
    if (t->chan[old] >= 0) {
        struct tr_event *ev = add_event(tr, EV_DUP, p, r);
        ev->chan = t->chan[old];
        ev->end = t->end[old];
        ev->fd = (int)old;
        ev->fd2 = (int)fd;
        touched(tr, t->chan[old], p, tr->ne - 1, r->t0);
    }
    touched(tr, before, p, tr->ne - 1, r->t0);
}

static void
drop_fd(struct tr_trace *tr, int p, int fd, int kind, const struct rec *r)
{
    struct table *t = table_of(tr, p);
    if (t == NULL || !valid_fd(fd) || t->chan[fd] < 0)
        return;
    int c = t->chan[fd];
    struct tr_event *ev = add_event(tr, kind, p, r);
    ev->chan = c;
    ev->end = t->end[fd];
    ev->fd = fd;
    t->chan[fd] = TR_NONE;
    touched(tr, c, p, tr->ne - 1, r->t0);
}

static void
on_close_range(struct tr_trace *tr, int p, const struct rec *r)
{
    struct table *t = table_of(tr, p);
    long lo = arg_int(r->text, 0), hi = arg_int(r->text, 1);
    if (t == NULL || ret_of(r->text) != 0 || lo < 0)
        return;
    if (hi < 0 || hi >= TR_MAXFD)
        hi = TR_MAXFD - 1;
    for (long fd = lo; fd <= hi; fd++) {
        if (strstr(r->text, "CLOSE_RANGE_CLOEXEC") != NULL)
            t->cloexec[fd] = 1;
        else
            drop_fd(tr, p, (int)fd, EV_CLOSE, r);
    }
}

static void
on_fcntl(struct tr_trace *tr, int p, const struct rec *r)
{
    struct table *t = table_of(tr, p);
    long fd = arg_int(r->text, 0);
    if (t == NULL || !valid_fd(fd))
        return;
    if (strstr(r->text, "F_DUPFD") != NULL)
        on_dup(tr, p, r);
    else if (strstr(r->text, "F_SETFD") != NULL && ret_of(r->text) == 0)
        t->cloexec[fd] = strstr(r->text, "FD_CLOEXEC") != NULL;
}

// A read that met EOF, or waited, on a channel's end.
static void
on_read(struct tr_trace *tr, int p, const struct rec *r, long fd, int poll)
{
    struct table *t = table_of(tr, p);
    if (t == NULL || !valid_fd(fd) || t->chan[fd] < 0)
        return;
    int c = t->chan[fd], e = t->end[fd], kind;
    if (r->t1 < 0)
        kind = EV_STUCK;
    else if (!poll && ret_of(r->text) == 0)
        kind = EV_EOF;
    else if (r->t1 - r->t0 > 0.002)
        kind = EV_WAIT;
    else
        return;
    struct tr_event *ev = add_event(tr, kind, p, r);
    ev->chan = c;
    ev->end = e;
    ev->fd = (int)fd;
    ev->nhold = holders(tr, c, tr->c[c].sock ? !e : 1, ev->hold);
    snprintf(ev->text, sizeof ev->text, "%.*s", (int)strcspn(r->text, "("),
             r->text);
}

static void
on_poll(struct tr_trace *tr, int p, const struct rec *r)
{
    for (const char *s = strstr(r->text, "fd="); s; s = strstr(s + 3, "fd=")) {
        long fd = strtol(s + 3, NULL, 10);
        if (s[3 + strspn(s + 3, "0123456789")] == '<')
            on_read(tr, p, r, fd, 1);
    }
}

// ------------------------------------------------------------ processes

static void
on_clone(struct tr_trace *tr, int p, const struct rec *r)
{
    long pid = ret_of(r->text);
    if (pid <= 0)
        return;
    int thread = strstr(r->text, "CLONE_THREAD") != NULL;
    int parent = thread ? p : tr->p[p].leader;
    int c = new_proc(tr, (pid_t)pid, parent, r->t0);
    if (c < 0)
        return;
    struct tr_proc *ch = &tr->p[c];
    ch->thread = thread;
    ch->vfork = strstr(r->text, "vfork") == r->text ||
                strstr(r->text, "CLONE_VFORK") != NULL;
    if (thread)
        ch->leader = tr->p[p].leader;
    int pt = tr->p[tr->p[p].leader].table;
    ch->table = strstr(r->text, "CLONE_FILES") != NULL ? pt : new_table(pt);
    struct tr_event *ev = add_event(tr, EV_FORK, p, r);
    ev->other = c;
    touch_all(tr, p, tr->ne - 1, r->t0);
}

static void
on_exec(struct tr_trace *tr, int p, const struct rec *r)
{
    if (ret_of(r->text) != 0)
        return;
    const char *q = strchr(r->text, '"');
    if (q != NULL) {
        const char *end = strchr(q + 1, '"');
        const char *base = memrchr(q + 1, '/', (size_t)(end - q - 1));
        base = base ? base + 1 : q + 1;
        snprintf(tr->p[p].name, sizeof tr->p[p].name, "%.*s", (int)(end - base),
                 base);
    }
    struct tr_event *ev = add_event(tr, EV_EXEC, p, r);
    snprintf(ev->text, sizeof ev->text, "%s", tr->p[p].name);
    struct table *t = table_of(tr, p);
    for (int fd = 0; t != NULL && fd < TR_MAXFD; fd++)
        if (t->cloexec[fd])
            drop_fd(tr, p, fd, EV_EXECCLOSE, r);
}

static void
on_reap(struct tr_trace *tr, int p, const struct rec *r)
{
    pid_t pid = 0;
    if (strncmp(r->text, "wait4", 5) == 0) {
        long v = ret_of(r->text);
        pid = v > 0 ? (pid_t)v : 0;
    } else if (ret_of(r->text) == 0 && strstr(r->text, "WNOWAIT") == NULL) {
        const char *s = strstr(r->text, "si_pid=");
        pid = s ? (pid_t)strtol(s + 7, NULL, 10) : 0;
    }
    int c = pid > 0 ? find_proc(tr, pid) : TR_NONE;
    if (c < 0)
        return;
    tr->p[c].reaper = tr->p[p].leader;
    tr->p[c].reaped_at = r->t1 > 0 ? r->t1 : r->t0;
    struct tr_event *ev = add_event(tr, EV_REAP, p, r);
    ev->other = c;
    ev->status = tr->p[c].sig ? -tr->p[c].sig : tr->p[c].code;
}

static int
sig_num(const char *name)
{
    static const char *const names[] = {
        "",        "SIGHUP",  "SIGINT",  "SIGQUIT", "SIGILL",    "SIGTRAP",
        "SIGABRT", "SIGBUS",  "SIGFPE",  "SIGKILL", "SIGUSR1",   "SIGSEGV",
        "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD",
        "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU",   "SIGURG"};
    for (int i = 1; i < (int)(sizeof names / sizeof *names); i++)
        if (strncmp(name, names[i], strlen(names[i])) == 0 &&
            !(name[strlen(names[i])] >= 'A' && name[strlen(names[i])] <= 'Z'))
            return i;
    return 0;
}

static void
on_end(struct tr_trace *tr, int p, const struct rec *r)
{
    struct tr_proc *pr = &tr->p[p];
    const char *k = strstr(r->text, "killed by ");
    pr->exited = 1;
    if (k != NULL)
        pr->sig = sig_num(k + 10);
    else
        pr->code = atoi(r->text + strlen("+++ exited with "));
    struct tr_event *ev = add_event(tr, EV_EXIT, p, r);
    ev->status = pr->sig ? -pr->sig : pr->code;
    if (k != NULL)
        snprintf(ev->text, sizeof ev->text, "%.*s", (int)strcspn(k + 10, " "),
                 k + 10);
    for (int c = 0; c < tr->nc && !pr->thread; c++)
        for (int end = 0; end < 2 && ev->nkept < 8; end++)
            if (holds(tr, p, c, end)) {
                ev->kept_chan[ev->nkept] = (short)c;
                ev->kept_end[ev->nkept++] = (signed char)end;
            }
    pr->died = r->t0;
    touch_all(tr, p, tr->ne - 1, r->t0);
}

static void
on_signal(struct tr_trace *tr, int p, const struct rec *r, int sending)
{
    const char *s = strstr(r->text, "SIG");
    if (s == NULL || strncmp(s, "SIGCHLD", 7) == 0 ||
        strncmp(s, "SIGURG", 6) == 0)
        return;
    struct tr_event *ev = add_event(tr, sending ? EV_KILL : EV_SIGNAL, p, r);
    snprintf(ev->text, sizeof ev->text, "%.*s", (int)strcspn(s, ",} )"), s);
    if (sending) {
        long pid = arg_int(r->text, strncmp(r->text, "tgkill", 6) == 0);
        ev->other = pid > 0 ? find_proc(tr, (pid_t)pid) : TR_NONE;
        ev->status = (int)pid;
    }
}

static void
on_pgrp(struct tr_trace *tr, int p, const struct rec *r, int kind)
{
    if (ret_of(r->text) < 0)
        return;
    struct tr_event *ev = add_event(tr, kind, p, r);
    if (kind == EV_SETPGID) {
        long a = arg_int(r->text, 0), b = arg_int(r->text, 1);
        ev->other = a > 0 ? find_proc(tr, (pid_t)a) : p;
        ev->fd2 = b > 0 ? find_proc(tr, (pid_t)b) : ev->other;
    }
}

static int
is(const char *text, const char *name)
{
    size_t n = strlen(name);
    return strncmp(text, name, n) == 0 && text[n] == '(';
}

static void
replay(struct tr_trace *tr, const struct rec *r)
{
    int p = find_proc(tr, r->pid);
    if (p < 0) {
        p = new_proc(tr, r->pid, TR_NONE, r->t0);
        if (p < 0)
            return;
        tr->p[p].table = new_table(TR_NONE);
    }
    const char *s = r->text;
    if (strncmp(s, "+++ ", 4) == 0)
        on_end(tr, p, r);
    else if (strncmp(s, "--- ", 4) == 0)
        on_signal(tr, p, r, 0);
    else if (is(s, "clone") || is(s, "clone3") || is(s, "fork") ||
             is(s, "vfork"))
        on_clone(tr, p, r);
    else if (is(s, "execve") || is(s, "execveat"))
        on_exec(tr, p, r);
    else if (is(s, "wait4") || is(s, "waitid"))
        on_reap(tr, p, r);
    else if (is(s, "pipe") || is(s, "pipe2"))
        on_chan(tr, p, r, 0);
    else if (is(s, "socketpair"))
        on_chan(tr, p, r, 1);
    else if (is(s, "dup") || is(s, "dup2") || is(s, "dup3"))
        on_dup(tr, p, r);
    else if (is(s, "fcntl"))
        on_fcntl(tr, p, r);
    else if (is(s, "close"))
        drop_fd(tr, p, (int)arg_int(s, 0), EV_CLOSE, r);
    else if (is(s, "close_range"))
        on_close_range(tr, p, r);
    else if (is(s, "read") || is(s, "readv") || is(s, "recvfrom") ||
             is(s, "recvmsg"))
        on_read(tr, p, r, arg_int(s, 0), 0);
    else if (is(s, "poll") || is(s, "ppoll"))
        on_poll(tr, p, r);
    else if (is(s, "kill") || is(s, "tgkill") || is(s, "tkill"))
        on_signal(tr, p, r, 1);
    else if (is(s, "setsid"))
        on_pgrp(tr, p, r, EV_SETSID);
    else if (is(s, "setpgid"))
        on_pgrp(tr, p, r, EV_SETPGID);
    else if (is(s, "prctl") && strstr(s, "PR_SET_CHILD_SUBREAPER, 1") != NULL) {
        tr->p[p].subreaper = 1;
        add_event(tr, EV_SUBREAPER, p, r);
    } else {
        // Any other call that made a descriptor ("= 5</path>") took a slot
        // that must have been free: forget what we thought was there.
        long fd = ret_of(s);
        const char *eq = result(s);
        if (valid_fd(fd) && eq != NULL && strchr(eq, '<') != NULL &&
            table_of(tr, p) != NULL)
            table_of(tr, p)->chan[fd] = TR_NONE;
    }
}

// ------------------------------------------------------------ after

// Orphans: a process whose parent ended first goes to the nearest living
// subreaper above it, else to init (outside the trace).
static void
find_orphans(struct tr_trace *tr)
{
    for (int i = 0; i < tr->np; i++) {
        struct tr_proc *p = &tr->p[i];
        if (p->thread || p->parent < 0)
            continue;
        const struct tr_proc *q = &tr->p[p->parent];
        if (q->died < 0 || (p->died >= 0 && p->died <= q->died))
            continue;
        p->orphan_to = TR_INIT;
        for (int a = q->parent; a >= 0; a = tr->p[a].parent) {
            if (tr->p[a].subreaper &&
                (tr->p[a].died < 0 || tr->p[a].died > q->died)) {
                p->orphan_to = a;
                break;
            }
        }
    }
}

// P numbers in tree order: a process, then its children in the order
// they were made (index order), depth first.
static int
number(struct tr_trace *tr, int p, int n)
{
    tr->p[p].num = n++;
    for (int c = p + 1; c < tr->np; c++)
        if (tr->p[c].parent == p)
            n = number(tr, c, n);
    return n;
}

static void
number_chans(struct tr_trace *tr)
{
    int n = 1;
    for (int num = 1; num <= tr->np; num++)
        for (int c = 0; c < tr->nc; c++)
            if (tr->p[tr->c[c].creator].num == num)
                tr->c[c].num = n++;
}

int
tr_parse(struct tr_trace *tr, FILE *log)
{
    for (int p = 0; p < TR_MAXP; p++)
        for (int c = 0; c < TR_MAXC; c++)
            hold_since[p][c][0] = hold_since[p][c][1] = -1;
    read_log(log);
    for (size_t i = 0; i < nrecs; i++)
        replay(tr, &recs[i]);
    if (tr->np == 0)
        return -1;
    tr->t_start = recs[0].t0;
    tr->t_end = tr->t_start;
    for (size_t i = 0; i < nrecs; i++) {
        double t = recs[i].t1 > recs[i].t0 ? recs[i].t1 : recs[i].t0;
        if (t > tr->t_end)
            tr->t_end = t;
    }
    // Spans still open at the end of the log end there.
    for (int p = 0; p < tr->np; p++)
        for (int c = 0; c < tr->nc; c++)
            for (int e = 0; e < 2; e++)
                if (hold_since[p][c][e] >= 0 && tr->ns < TR_MAXE)
                    tr->s[tr->ns++] = (struct tr_span){
                        p, c, e, hold_since[p][c][e], tr->t_end};
    if (tr->p[0].died >= 0 && tr->p[0].reaper == TR_NONE)
        tr->p[0].reaper = TR_TRACER;
    find_orphans(tr);
    int n = 1;
    for (int p = 0; p < tr->np; p++)
        if (tr->p[p].parent == TR_NONE)
            n = number(tr, p, n);
    number_chans(tr);
    return 0;
}

const char *
tr_who(const struct tr_trace *tr, int proc, char buf[16])
{
    if (proc == TR_TRACER)
        return "the tracer";
    if (proc == TR_INIT)
        return "init";
    if (proc < 0)
        return "nobody";
    snprintf(buf, 16, "P%d", tr->p[proc].num);
    return buf;
}

const char *
tr_chan_name(const struct tr_trace *tr, int chan, char buf[16])
{
    snprintf(buf, 16, "%s#%d", tr->c[chan].sock ? "sock" : "pipe",
             tr->c[chan].num);
    return buf;
}

const char *
tr_end_name(const struct tr_trace *tr, int chan, int end)
{
    if (tr->c[chan].sock)
        return end ? "end B" : "end A";
    return end ? "write end" : "read end";
}
