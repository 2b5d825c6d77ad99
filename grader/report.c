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
// the text are kept.
static void
wrapped(const char *text, const char *indent)
{
    int col = 0;
    printf("%s", indent);
    for (const char *p = text; *p;) {
        if (*p == ' ' || *p == '\n') {
            if (*p++ == '\n') {
                printf("\n%s", indent);
                col = 0;
            }
            continue;
        }
        size_t word = strcspn(p, " \n");
        if (col > 0 && col + 1 + (int)word > 68) {
            printf("\n%s", indent);
            col = 0;
        } else if (col > 0) {
            putchar(' ');
            col++;
        }
        printf("%.*s", (int)word, p);
        col += (int)word;
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

static void
print_lesson(const gr_lesson *l, int verbose, int color)
{
    const char *red = color ? "\033[31m" : "", *green = color ? "\033[32m" : "",
               *bold = color ? "\033[1m" : "", *off = color ? "\033[0m" : "";
    int got = lesson_points(l, 1), max = lesson_points(l, 0);
    printf("%s%-10s %-48s %3d/%d%s\n", bold, l->name, l->title, got, max,
           off);
    if (l->problem != NULL) {
        printf("   %sdoes not build%s: fix this first\n", red, off);
        print_problem(l->problem);
        return;
    }
    for (size_t i = 0; i < l->ntests; i++) {
        const gr_test *t = &l->tests[i];
        if (t->passed && !verbose)
            continue;
        printf("   %s%s%s %-54s %2d/%d%s\n", t->passed ? green : red,
               t->passed ? "PASS" : "FAIL", off, t->name,
               t->passed ? t->points : 0, t->points,
               t->hidden ? " (hidden)" : "");
        if (t->passed)
            continue;
        wrapped(t->message ? t->message : "(no verdict)", "        ");
        if (!t->hidden)
            printf("        read: lessons/%s/%s   hint: make hint L=%.2s\n",
                   l->name, t->ref, l->name);
    }
}

void
report_terminal(const gr_lesson *ls, size_t n, int verbose, int color)
{
    int got = 0, max = 0, passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        print_lesson(&ls[i], verbose, color);
        got += lesson_points(&ls[i], 1);
        max += lesson_points(&ls[i], 0);
        for (size_t j = 0; j < ls[i].ntests; j++) {
            passed += ls[i].tests[j].passed;
            failed += !ls[i].tests[j].passed;
        }
    }
    printf("\nGraded in sandbox mode \"%s\": %s.\n", sb_mode_name(),
           sb_mode_text());
    printf("\nScore: %d/%d\n", got, max);
    printf("%d passed, %d failed\n", passed, failed);
}

// The length of the valid UTF-8 sequence at p (1-4), or 0 if it is not
// one: overlong forms, surrogates and values past U+10FFFF are not.
static int
utf8_len(const unsigned char *p)
{
    int n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2
          : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    unsigned c = n == 1 ? p[0] : n == 2 ? p[0] & 0x1fu
               : n == 3 ? p[0] & 0x0fu : p[0] & 0x07u;
    for (int i = 1; i < n; i++)
        c = c << 6 | (p[i] & 0x3fu);
    static const unsigned least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (n == 0 || c < least[n] || (c >= 0xd800 && c <= 0xdfff) ||
        c > 0x10ffff)
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
json_test(FILE *f, const gr_lesson *l, const gr_test *t, int first)
{
    char name[256], out[8192];
    snprintf(name, sizeof name, "%s: %s", l->name, t->name);
    if (t->passed)
        snprintf(out, sizeof out, "passed");
    else if (l->problem != NULL)
        snprintf(out, sizeof out, "The lesson does not build:\n%s",
                 l->problem);
    else
        snprintf(out, sizeof out, "%s\nRead: lessons/%s/%s",
                 t->message ? t->message : "(no verdict)", l->name, t->ref);
    fprintf(f, "%s\n    {\"name\": ", first ? "" : ",");
    json_string(f, name);
    fprintf(f, ", \"score\": %d, \"max_score\": %d, \"status\": \"%s\", "
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
    fprintf(f, "{\n  \"score\": %d,\n  \"max_score\": %d,\n"
               "  \"execution_time\": %.2f,\n  \"visibility\": \"visible\",\n"
               "  \"extra_data\": {\"sandbox\": \"%s\"},\n  \"output\": ",
            got, max, seconds, sb_mode_name());
    char mode[600];
    snprintf(mode, sizeof mode, "Graded in sandbox mode \"%s\": %s.",
             sb_mode_name(), sb_mode_text());
    json_string(f, mode);
    fprintf(f, ",\n  \"tests\": [");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < ls[i].ntests; j++, first = 0)
            json_test(f, &ls[i], &ls[i].tests[j], first);
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
        for (size_t j = 0; j < ls[i].ntests; j++)
            fprintf(f, "T\t%s\t%s\t%d\n", ls[i].name, ls[i].tests[j].name,
                    ls[i].tests[j].passed);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int
lesson_done(const gr_lesson *l)
{
    return l->problem == NULL && lesson_points(l, 1) == lesson_points(l, 0);
}

void
report_progress(const gr_lesson *ls, size_t n, int table)
{
    int got = 0, max = 0, done = 0;
    for (size_t i = 0; i < n; i++) {
        int g = lesson_points(&ls[i], 1), m = lesson_points(&ls[i], 0);
        if (table)
            printf("  %-10s %-46s %3d/%-3d %s\n", ls[i].name, ls[i].title, g,
                   m, lesson_done(&ls[i]) ? "done"
                   : ls[i].problem    ? "does not build"
                   : g > 0            ? "in progress"
                                      : "to do");
        got += g;
        max += m;
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
