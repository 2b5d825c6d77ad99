// svg.c - a trace as an SVG timeline: one lane per process, arrows for
// fork and reap, markers for exits and signals, pipe ends under the lanes.
//
// Time runs left to right on an ordinal scale: each distinct moment gets a
// step of its own, with its time in ms written on the axis.  A demo that
// forks in microseconds and then sleeps a second would otherwise be a pile
// of arrows at one edge and a long empty line.
#include "trace.h"

#include <stdlib.h>
#include <string.h>

#define LEFT 190
#define TOP 70
#define LANE 40
#define BAR 7

static double *ticks;
static int nticks;
static double step;

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void
add_tick(double t)
{
    if (t >= 0)
        ticks[nticks++] = t;
}

static void
make_scale(const struct tr_trace *tr)
{
    ticks = malloc(sizeof *ticks *
                   (size_t)(4 * tr->np + 2 * tr->ne + 2 * tr->ns + 2));
    if (ticks == NULL)
        exit(1);
    for (int p = 0; p < tr->np; p++) {
        add_tick(tr->p[p].born);
        add_tick(tr->p[p].died);
        add_tick(tr->p[p].reaper >= 0 ? tr->p[p].reaped_at : -1);
    }
    for (int i = 0; i < tr->ne; i++) {
        add_tick(tr->e[i].t0);
        add_tick(tr->e[i].kind == EV_WAIT ? tr->e[i].t1 : -1);
    }
    for (int i = 0; i < tr->ns; i++) {
        add_tick(tr->s[i].from);
        add_tick(tr->s[i].to);
    }
    add_tick(tr->t_end);
    qsort(ticks, (size_t)nticks, sizeof *ticks, cmp_double);
    int n = 0;
    for (int i = 0; i < nticks; i++)
        if (n == 0 || ticks[i] > ticks[n - 1] + 1e-7)
            ticks[n++] = ticks[i];
    nticks = n;
    step = nticks > 1 ? 700.0 / (nticks - 1) : 700;
    if (step > 46)
        step = 46;
    if (step < 12)
        step = 12;
}

static double
x(double t)
{
    int lo = 0, hi = nticks - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (ticks[mid] + 1e-7 < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return LEFT + 20 + lo * step;
}

// ---------------------------------------------------------------- lanes

static int lane_y[TR_MAXP];
static int bar_of[TR_MAXP][TR_MAXC][2]; // row under the lane, from 1

static int
layout(const struct tr_trace *tr)
{
    int y = TOP + 20;
    memset(bar_of, 0, sizeof bar_of);
    for (int num = 1; num <= tr->np; num++) {
        int p = 0;
        while (tr->p[p].num != num)
            p++;
        lane_y[p] = y;
        // One row per end it ever held, in channel order, read end first.
        int rows = 0;
        for (int c = 0; c < tr->nc; c++)
            for (int e = 0; e < 2; e++)
                for (int i = 0; i < tr->ns && bar_of[p][c][e] == 0; i++)
                    if (tr->s[i].proc == p && tr->s[i].chan == c &&
                        tr->s[i].end == e)
                        bar_of[p][c][e] = ++rows;
        y += LANE + rows * (BAR + 4);
    }
    return y;
}

// Labels above a lane take the first of two rows that is free there, so
// that "exec", "sends SIGTERM" and "exit 0" at nearby moments do not overlap.
static double label_end[TR_MAXP][2];

static void
label(FILE *out, int p, double at, const char *cls, const char *fmt,
      const char *a, const char *b)
{
    char text[96];
    snprintf(text, sizeof text, fmt, a, b);
    double width = 6.7 * (double)strlen(text);
    int row = at >= label_end[p][0] + 12   ? 0
              : at >= label_end[p][1] + 12 ? 1
                                           : -1;
    if (row < 0 && strcmp(cls, "bad") != 0)
        return; // no room: the marker stays, the other lane says the rest
    if (row < 0)
        row = 0;
    label_end[p][row] = at + width;
    fprintf(out, "<text x='%.1f' y='%d' class='%s'>%s</text>\n", at,
            lane_y[p] - 9 - 12 * row, cls, text);
}

static const char *const colours[] = {"#1f77b4", "#d62728", "#2ca02c",
                                      "#9467bd", "#8c564b", "#e377c2",
                                      "#17becf", "#bcbd22"};

static void
draw_spans(const struct tr_trace *tr, FILE *out)
{
    char name[16];
    for (int i = 0; i < tr->ns; i++) {
        const struct tr_span *s = &tr->s[i];
        const char *col = colours[tr->c[s->chan].num % 8];
        double y = lane_y[s->proc] + 8 +
                   (bar_of[s->proc][s->chan][s->end] - 1) * (BAR + 4);
        double x0 = x(s->from), x1 = x(s->to);
        fprintf(out,
                "<rect x='%.1f' y='%.1f' width='%.1f' height='%d' "
                "fill='%s' fill-opacity='%s'/>\n",
                x0, y, x1 - x0 < 3 ? 3 : x1 - x0, BAR, col,
                s->end && !tr->c[s->chan].sock ? "0.9" : "0.35");
        fprintf(out,
                "<text x='%d' y='%.1f' class='end' fill='%s'>%s %s</text>\n",
                LEFT - 4, y + BAR, col, tr_chan_name(tr, s->chan, name),
                tr_end_name(tr, s->chan, s->end));
    }
}

static void
draw_lane(const struct tr_trace *tr, FILE *out, int p)
{
    const struct tr_proc *pr = &tr->p[p];
    int y = lane_y[p];
    double x0 = x(pr->born), x1 = x(pr->died >= 0 ? pr->died : tr->t_end);
    fprintf(out,
            "<text x='6' y='%d' class='lab'>P%d <tspan class='pid'>%d"
            "</tspan> %.12s</text>\n",
            y + 4, pr->num, (int)pr->pid, pr->thread ? "thread" : pr->name);
    fprintf(out, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' class='%s'/>\n", x0,
            y, x1 < x0 + 2 ? x0 + 2 : x1, y, pr->thread ? "thr" : "life");
    if (pr->died < 0) {
        fprintf(out,
                "<text x='%.1f' y='%d' class='note'>still running</text>\n",
                x1 + 6, y + 4);
        return;
    }
    if (pr->thread)
        return;
    double xz = pr->reaper >= 0 ? x(pr->reaped_at) : x(tr->t_end);
    int zombie = pr->reaper == TR_NONE && pr->orphan_to == TR_NONE;
    if ((pr->reaper >= 0 && xz > x1 + 1) || zombie)
        fprintf(out,
                "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' class='zomb'/>\n",
                x1, y, xz + (zombie ? 30 : 0), y);
    if (zombie)
        fprintf(out,
                "<text x='%.1f' y='%d' class='bad'>zombie: never reaped"
                "</text>\n",
                xz + 34, y + 4);
}

static void
draw_exit(const struct tr_trace *tr, FILE *out, const struct tr_event *e)
{
    const struct tr_proc *pr = &tr->p[e->proc];
    double cx = x(e->t0);
    int y = lane_y[e->proc];
    if (pr->thread)
        return;
    if (e->status < 0) {
        fprintf(out,
                "<path d='M%.1f %d l10 10 m0 -10 l-10 10' class='kill'/>"
                "\n",
                cx - 5, y - 5);
        label(out, e->proc, cx + 2, "bad", "killed by %s%s",
              e->text[0] ? e->text : "a signal", "");
        return;
    }
    char code[16];
    snprintf(code, sizeof code, "%d", e->status);
    fprintf(out, "<circle cx='%.1f' cy='%d' r='6' fill='%s'/>\n", cx, y,
            e->status ? "#ff7f0e" : "#2ca02c");
    label(out, e->proc, cx - 12, "note", "exit %s%s", code, "");
}

static void
draw_event(const struct tr_trace *tr, FILE *out, const struct tr_event *e)
{
    double cx = x(e->t0);
    int y = lane_y[e->proc];
    switch (e->kind) {
    case EV_FORK:
        fprintf(out,
                "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' class='fork' "
                "marker-end='url(#arrow)'/>\n",
                cx, y, cx, lane_y[e->other] - 5);
        break;
    case EV_REAP:
        fprintf(out,
                "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' class='reap' "
                "marker-end='url(#arrowg)'/>\n",
                x(e->t1 > 0 ? e->t1 : e->t0), lane_y[e->other],
                x(e->t1 > 0 ? e->t1 : e->t0), y + 5);
        break;
    case EV_EXIT:
        draw_exit(tr, out, e);
        break;
    case EV_SIGNAL:
        // A signal that killed it is drawn as the kill, not twice.
        if (tr->p[e->proc].sig) {
            int same = 0;
            for (int i = 0; i < tr->ne; i++)
                same |= tr->e[i].proc == e->proc && tr->e[i].kind == EV_EXIT &&
                        strcmp(tr->e[i].text, e->text) == 0;
            if (same)
                break;
        }
        /* fall through */
    case EV_KILL: {
        char who[16] = "";
        if (e->kind == EV_KILL && e->other >= 0)
            snprintf(who, sizeof who, " to P%d", tr->p[e->other].num);
        fprintf(out, "<path d='M%.1f %d l5 -9 l5 9 z' class='sig'/>\n", cx - 5,
                y - 1);
        label(out, e->proc, cx + 6, "note",
              e->kind == EV_KILL ? "sends %s%s" : "gets %s%s", e->text, who);
        break;
    }
    case EV_SETSID:
        fprintf(out,
                "<rect x='%.1f' y='%d' width='8' height='8' class='sid'/>"
                "\n",
                cx - 4, y - 4);
        label(out, e->proc, cx + 6, "note", "setsid%s%s", "", "");
        break;
    case EV_EXEC:
        label(out, e->proc, cx, "note", "exec %.20s%s", e->text, "");
        break;
    case EV_WAIT:
    case EV_STUCK:
        fprintf(
            out,
            "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' class='wait'/>"
            "\n",
            cx, y,
            e->kind == EV_WAIT
                ? x(e->t1)
                : x(tr->p[e->proc].died >= 0 ? tr->p[e->proc].died : tr->t_end),
            y);
        label(out, e->proc, cx, e->kind == EV_STUCK ? "bad" : "note", "%s%s",
              e->text, e->kind == EV_STUCK ? " never returns" : " waits");
        break;
    default:
        break;
    }
}

static void
draw_axis(FILE *out, double t0, int y, int w)
{
    double last = -1e9;
    fprintf(out, "<line x1='%d' y1='%d' x2='%d' y2='%d' class='axis'/>\n",
            LEFT + 10, y, w - 10, y);
    for (int i = 0; i < nticks; i++) {
        double cx = LEFT + 20 + i * step;
        if (cx - last < 56 && (i != nticks - 1 || cx - last < 40))
            continue;
        last = cx;
        fprintf(out,
                "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' class='axis'/>"
                "<text x='%.1f' y='%d' class='tick'>%.1f</text>\n",
                cx, y, cx, y + 4, cx, y + 16, (ticks[i] - t0) * 1000);
    }
    fprintf(out,
            "<text x='6' y='%d' class='tick' style='text-anchor:"
            "start'>time in ms, one step per event</text>\n",
            y + 4);
}

static void
legend(FILE *out, int y)
{
    fprintf(
        out,
        "<g transform='translate(10,%d)' class='note'>"
        "<line x1='0' y1='0' x2='26' y2='0' class='life'/><text x='32' y='4'>"
        "alive</text>"
        "<line x1='80' y1='0' x2='106' y2='0' class='zomb'/><text x='112' "
        "y='4'>zombie (ended, not reaped)</text>"
        "<line x1='322' y1='-8' x2='322' y2='8' class='fork' marker-end="
        "'url(#arrow)'/><text x='330' y='4'>fork</text>"
        "<line x1='372' y1='8' x2='372' y2='-8' class='reap' marker-end="
        "'url(#arrowg)'/><text x='380' y='4'>reap</text>"
        "<circle cx='432' cy='0' r='6' fill='#2ca02c'/><text x='442' y='4'>"
        "exit</text>"
        "<path d='M482 -5 l10 10 m0 -10 l-10 10' class='kill'/><text x='498' "
        "y='4'>killed</text>"
        "<rect x='560' y='-4' width='26' height='%d' fill='#1f77b4'/>"
        "<text x='592' y='4'>holds a write end</text>"
        "<rect x='716' y='-4' width='26' height='%d' fill='#1f77b4' "
        "fill-opacity='0.35'/><text x='748' y='4'>a read end (socket: "
        "either)</text></g>\n",
        y, BAR, BAR);
}

void
tr_svg(const struct tr_trace *tr, FILE *out, const char *title)
{
    make_scale(tr);
    memset(label_end, 0, sizeof label_end);
    int h = layout(tr);
    int w = (int)(LEFT + 40 + (nticks - 1) * step + 150);
    if (w < 960)
        w = 960;
    fprintf(out,
            "<svg xmlns='http://www.w3.org/2000/svg' width='%d' "
            "height='%d' viewBox='0 0 %d %d' font-family='DejaVu Sans Mono,"
            "monospace' font-size='12'>\n",
            w, h + 60, w, h + 60);
    fprintf(out,
            "<style>.lab{font-weight:bold}.pid{fill:#777;font-weight:"
            "normal}.life{stroke:#4a6fa5;stroke-width:6}.thr{stroke:#4a6fa5;"
            "stroke-width:3;stroke-dasharray:4 3}.zomb{stroke:#d62728;"
            "stroke-width:3;stroke-dasharray:2 3}.fork{stroke:#333;"
            "stroke-width:1.5}.reap{stroke:#2ca02c;stroke-width:1.5;"
            "stroke-dasharray:5 2}.kill{stroke:#d62728;stroke-width:3}.sig{"
            "fill:#ff7f0e}.sid{fill:#9467bd}.wait{stroke:#f2c200;"
            "stroke-width:10;stroke-opacity:0.6}.note{font-size:11px;fill:"
            "#333}.bad{font-size:11px;fill:#d62728;font-weight:bold}.end{"
            "font-size:10px;text-anchor:end}.axis{stroke:#999}.tick{"
            "font-size:10px;fill:#555;text-anchor:middle}</style>\n");
    fprintf(out,
            "<defs><marker id='arrow' viewBox='0 0 10 10' refX='9' "
            "refY='5' markerWidth='7' markerHeight='7' orient='auto'><path "
            "d='M0 0 L10 5 L0 10 z' fill='#333'/></marker><marker id='arrowg' "
            "viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' "
            "markerHeight='7' orient='auto'><path d='M0 0 L10 5 L0 10 z' "
            "fill='#2ca02c'/></marker></defs>\n");
    fprintf(out, "<rect width='100%%' height='100%%' fill='white'/>\n");
    fprintf(out, "<text x='6' y='20' font-size='14' font-weight='bold'>");
    for (const char *s = title; *s; s++)
        fputs(*s == '<' ? "&lt;" : *s == '&' ? "&amp;" : (char[2]){*s, 0}, out);
    fprintf(out, "</text>\n");
    draw_axis(out, tr->t_start, TOP - 14, w);
    draw_spans(tr, out);
    for (int p = 0; p < tr->np; p++)
        draw_lane(tr, out, p);
    for (int i = 0; i < tr->ne; i++)
        draw_event(tr, out, &tr->e[i]);
    legend(out, h + 30);
    fprintf(out, "</svg>\n");
    free(ticks);
}
