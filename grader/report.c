// report.c - the grader's two outputs: a table for people, JSON for
// Gradescope.
#include "grader.h"
#include "sandbox.h"

#include <stdio.h>
#include <string.h>

static int
lesson_points(const gr_lesson *l, int earned)
{
    int sum = 0;
    for (size_t i = 0; i < l->ntests; i++)
        sum += (!earned || l->tests[i].passed) ? l->tests[i].points : 0;
    return sum;
}

// Print text wrapped at about 76 columns, each line indented; newlines in
// the text are kept, and so are the spaces that begin a line (a compiler's
// excerpt, a trace's tree).
static void
wrapped(const char *text, const char *indent)
{
    int col = 0, lead = 1; // lead: nothing but spaces yet on this line
    printf("%s", indent);
    for (const char *p = text; *p;) {
        if (*p == '\n') {
            printf("\n%s", indent);
            col = 0;
            lead = 1;
            p++;
            continue;
        }
        if (*p == ' ') {
            if (lead) {
                putchar(' ');
                col++;
            }
            p++;
            continue;
        }
        size_t word = strcspn(p, " \n");
        if (!lead && col + 1 + (int)word > 68) {
            printf("\n%s", indent);
            col = 0;
        } else if (!lead) {
            putchar(' ');
            col++;
        }
        printf("%.*s", (int)word, p);
        col += (int)word;
        lead = 0;
        p += word;
    }
    putchar('\n');
}

static void
print_problem(const char *problem)
{
    // A compiler's output keeps its own layout; show its first lines.
    int lines = 0;
    for (const char *p = problem; *p && lines < 20; lines++) {
        size_t len = strcspn(p, "\n");
        printf("      %.*s\n", (int)len, p);
        p += len + (p[len] == '\n');
    }
}

// "Lesson 03: start methods: ..." -> "start methods: ...": the table's
// first column already names the lesson.
static const char *
short_title(const char *title)
{
    const char *colon = strstr(title, ": ");
    return strncmp(title, "Lesson ", 7) == 0 && colon != NULL ? colon + 2
                                                              : title;
}

// Column widths that fit every lesson's name and title.
static void
widths(const gr_lesson *ls, size_t n, int *name, int *title)
{
    *name = 8;
    *title = 12;
    for (size_t i = 0; i < n; i++) {
        int a = (int)strlen(ls[i].name),
            b = (int)strlen(short_title(ls[i].title));
        *name = a > *name ? a : *name;
        *title = b > *title ? b : *title;
    }
}

static int
lesson_done(const gr_lesson *l)
{
    return l->problem == NULL && lesson_points(l, 1) == lesson_points(l, 0);
}

static const char *
lesson_status(const gr_lesson *l)
{
    return lesson_done(l)            ? "done"
           : l->problem              ? "does not build"
           : lesson_points(l, 1) > 0 ? "in progress"
                                     : "to do";
}

// One line per lesson: name, title, points and where it stands.
static void
print_table(const gr_lesson *ls, size_t n, const gr_lesson *current)
{
    int wn, wt;
    widths(ls, n, &wn, &wt);
    for (size_t i = 0; i < n; i++)
        printf("  %-*s  %-*s %4d/%-4d %s%s\n", wn, ls[i].name, wt,
               short_title(ls[i].title), lesson_points(&ls[i], 1),
               lesson_points(&ls[i], 0), lesson_status(&ls[i]),
               &ls[i] == current ? "   <- now" : "");
}

void
report_list(gr_lesson *ls, size_t n)
{
    int wn, wt;
    for (size_t i = 0; i < n; i++)
        read_title(&ls[i]);
    widths(ls, n, &wn, &wt);
    for (size_t i = 0; i < n; i++)
        printf("  %-*s  %-*s  lessons/%s/README.md\n", wn, ls[i].name, wt,
               short_title(ls[i].title), ls[i].name);
}

static void
print_failure(const gr_lesson *l, size_t j, int color)
{
    const char *red = color ? "\033[31m" : "", *off = color ? "\033[0m" : "";
    const gr_test *t = &l->tests[j];
    long cause = failure_cause(l, j);
    printf("   %sFAIL%s %-54s %2d/%d%s\n", red, off, t->name, 0, t->points,
           t->hidden ? " (hidden)" : "");
    if (cause >= 0)
        printf("        probably a consequence of %s above; fix that "
               "first.\n",
               l->tests[cause].name);
    wrapped(t->message ? t->message : "(no verdict)", "        ");
    if (!t->hidden)
        printf("        read: lessons/%s/%s   hint: make hint L=%.2s\n",
               l->name, t->ref, l->name);
}

static void
print_lesson(const gr_lesson *l, int verbose, int color)
{
    const char *green = color ? "\033[32m" : "", *red = color ? "\033[31m" : "",
               *bold = color ? "\033[1m" : "", *off = color ? "\033[0m" : "";
    int got = lesson_points(l, 1), max = lesson_points(l, 0);
    printf("%s%s  %s  %d/%d%s\n", bold, l->name, short_title(l->title), got,
           max, off);
    if (l->problem != NULL) {
        printf("   %sdoes not build%s: fix this first\n", red, off);
        print_problem(l->problem);
        return;
    }
    for (size_t i = 0; i < l->ntests; i++) {
        const gr_test *t = &l->tests[i];
        if (!t->passed)
            print_failure(l, i, color);
        else if (verbose)
            printf("   %sPASS%s %-54s %2d/%d%s\n", green, off, t->name,
                   t->points, t->points, t->hidden ? " (hidden)" : "");
    }
}

#define MORE_NAMES 8 // failures named one a line after the first, at most

// The first lesson that does not pass, in detail: its build problem or its
// first failure in full, the rest of its failures one line each.
static void
print_current(const gr_lesson *l, int color)
{
    size_t first = l->ntests, shown = 0, more = 0;
    printf("\n== %s: %s\n", l->name, l->title);
    if (l->problem != NULL) {
        printf("   It does not build: fix this first.\n");
        print_problem(l->problem);
        return;
    }
    for (size_t i = 0; i < l->ntests; i++) {
        if (l->tests[i].passed)
            continue;
        if (first == l->ntests) {
            first = i;
            print_failure(l, i, color);
        } else if (shown < MORE_NAMES) {
            long c = failure_cause(l, i);
            printf("   FAIL %s%s\n", l->tests[i].name,
                   c >= 0 ? "  (probably follows from the first)" : "");
            shown++;
        } else {
            more++;
        }
    }
    if (more > 0)
        printf("   ... and %zu more\n", more);
}

static void
print_next(const gr_lesson *l)
{
    printf("\nNext: read lessons/%s/README.md, fix lessons/%s/%s.c, then\n"
           "  make check L=%.2s   (every test of this lesson, in full)\n"
           "  make watch          (tests it again each time you save)\n"
           "Every failure of every lesson: make grade ALL=1, or "
           "results.json.\n",
           l->name, l->name, topic_of(l->name), l->name);
}

void
report_terminal(const gr_lesson *ls, size_t n, int verbose, int color)
{
    int got = 0, max = 0, passed = 0, failed = 0;
    const gr_lesson *current = NULL;
    for (size_t i = 0; i < n; i++) {
        got += lesson_points(&ls[i], 1);
        max += lesson_points(&ls[i], 0);
        for (size_t j = 0; j < ls[i].ntests; j++) {
            passed += ls[i].tests[j].passed;
            failed += !ls[i].tests[j].passed;
        }
        if (current == NULL && !lesson_done(&ls[i]))
            current = &ls[i];
    }
    if (verbose || opt.all) {
        for (size_t i = 0; i < n; i++)
            print_lesson(&ls[i], verbose, color);
    } else {
        print_table(ls, n, current);
        if (current != NULL) {
            print_current(current, color);
            print_next(current);
        }
    }
    printf("\nGraded in sandbox mode \"%s\": %s.\n", sb_mode_name(),
           sb_mode_text());
    if (gr_notice != NULL)
        printf("Note: %s\n", gr_notice);
    printf("\nScore: %d/%d\n", got, max);
    printf("%d passed, %d failed\n", passed, failed);
}

// The length of the valid UTF-8 sequence at p (1-4), or 0 if it is not
// one: overlong forms, surrogates and values past U+10FFFF are not.
static int
utf8_len(const unsigned char *p)
{
    int n = p[0] < 0x80             ? 1
            : (p[0] & 0xe0) == 0xc0 ? 2
            : (p[0] & 0xf0) == 0xe0 ? 3
            : (p[0] & 0xf8) == 0xf0 ? 4
                                    : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    unsigned c = n == 1   ? p[0]
                 : n == 2 ? p[0] & 0x1fu
                 : n == 3 ? p[0] & 0x0fu
                          : p[0] & 0x07u;
    for (int i = 1; i < n; i++)
        c = c << 6 | (p[i] & 0x3fu);
    static const unsigned least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (n == 0 || c < least[n] || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
        return 0;
    return n;
}

// A JSON string; bytes that are not UTF-8 (code under test prints what it
// likes) become U+FFFD, so the file is always valid.
static void
json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_len(p);
        if (n == 0) {
            fputs("\\ufffd", f);
            p++;
            continue;
        }
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fwrite(p, 1, (size_t)n, f);
        p += n;
    }
    fputc('"', f);
}

static void
json_test(FILE *f, const gr_lesson *l, size_t j, int first)
{
    const gr_test *t = &l->tests[j];
    long cause = failure_cause(l, j);
    char name[256], out[8192], after[256] = "";
    if (cause >= 0)
        snprintf(after, sizeof after,
                 "Probably a consequence of %s, "
                 "which failed before it: fix that first.\n",
                 l->tests[cause].name);
    snprintf(name, sizeof name, "%s: %s", l->name, t->name);
    if (t->passed)
        snprintf(out, sizeof out, "passed");
    else if (l->problem != NULL)
        snprintf(out, sizeof out, "The lesson does not build:\n%s", l->problem);
    else
        snprintf(out, sizeof out, "%s%s\nRead: lessons/%s/%s", after,
                 t->message ? t->message : "(no verdict)", l->name, t->ref);
    fprintf(f, "%s\n    {\"name\": ", first ? "" : ",");
    json_string(f, name);
    fprintf(f,
            ", \"score\": %d, \"max_score\": %d, \"status\": \"%s\", "
            "\"visibility\": \"%s\", \"output\": ",
            t->passed ? t->points : 0, t->points,
            t->passed ? "passed" : "failed", t->hidden ? "hidden" : "visible");
    json_string(f, out);
    fputc('}', f);
}

int
report_json(const char *path, const gr_lesson *ls, size_t n, double seconds)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int got = 0, max = 0, first = 1;
    for (size_t i = 0; i < n; i++) {
        got += lesson_points(&ls[i], 1);
        max += lesson_points(&ls[i], 0);
    }
    fprintf(f,
            "{\n  \"score\": %d,\n  \"max_score\": %d,\n"
            "  \"execution_time\": %.2f,\n  \"visibility\": \"visible\",\n"
            "  \"extra_data\": {\"sandbox\": \"%s\"},\n  \"output\": ",
            got, max, seconds, sb_mode_name());
    char mode[1000];
    snprintf(mode, sizeof mode, "Graded in sandbox mode \"%s\": %s.%s%s",
             sb_mode_name(), sb_mode_text(), gr_notice ? " Note: " : "",
             gr_notice ? gr_notice : "");
    json_string(f, mode);
    fprintf(f, ",\n  \"tests\": [");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < ls[i].ntests; j++, first = 0)
            json_test(f, &ls[i], j, first);
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

int
report_tsv(const char *path, const gr_lesson *ls, size_t n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "L\t%s\t%d\t%d\n", ls[i].name, lesson_points(&ls[i], 1),
                lesson_points(&ls[i], 0));
        // Whether the lesson's file was taken and built: a test that did
        // not pass because nothing ran is told apart from one that failed.
        fprintf(f, "B\t%s\t%d\n", ls[i].name, ls[i].problem == NULL);
        for (size_t j = 0; j < ls[i].ntests; j++)
            fprintf(f, "T\t%s\t%s\t%d\n", ls[i].name, ls[i].tests[j].name,
                    ls[i].tests[j].passed);
    }
    return fclose(f) == 0 ? 0 : -1;
}

void
report_progress(const gr_lesson *ls, size_t n, int table)
{
    int got = 0, max = 0, done = 0;
    if (table)
        print_table(ls, n, NULL);
    for (size_t i = 0; i < n; i++) {
        got += lesson_points(&ls[i], 1);
        max += lesson_points(&ls[i], 0);
        done += lesson_done(&ls[i]);
    }
    char bar[41];
    int filled = max ? 40 * got / max : 0;
    for (int i = 0; i < 40; i++)
        bar[i] = i < filled ? '#' : '-';
    bar[40] = '\0';
    printf("%sProgress: [%s] %d/%zu lessons done, %d/%d points\n",
           table ? "\n" : "", bar, done, n, got, max);
}
