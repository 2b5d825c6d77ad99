// text.c - text that came from a submission, made safe to show.
//
// Compiler errors quote the student's source, and failure messages quote
// what the code under test printed: both reach the instructor's terminal,
// the class summary and results.json.  A submission could put terminal
// escape sequences there (to rewrite the screen, set the window title or
// write the clipboard) or bytes that are not UTF-8.  gr_clean keeps
// printable text, newlines and tabs, and valid UTF-8 other than the C1
// controls, and turns every other byte into '?'.
#include "grader.h"

#include <stddef.h>

// The length of the valid UTF-8 sequence at p (1-4) that is not a control
// character, or 0.
static int
printable_len(const unsigned char *p)
{
    if (p[0] >= 0x20 && p[0] < 0x7f)
        return 1;
    int n = (p[0] & 0xe0) == 0xc0   ? 2
            : (p[0] & 0xf0) == 0xe0 ? 3
            : (p[0] & 0xf8) == 0xf0 ? 4
                                    : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    unsigned c = n == 2 ? p[0] & 0x1fu : n == 3 ? p[0] & 0x0fu : p[0] & 0x07u;
    for (int i = 1; i < n; i++)
        c = c << 6 | (p[i] & 0x3fu);
    static const unsigned least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (n == 0 || c < least[n] || c <= 0x9f || (c >= 0xd800 && c <= 0xdfff) ||
        c > 0x10ffff)
        return 0; // overlong, a C1 control, a surrogate, past U+10FFFF
    return n;
}

char *
gr_clean(char *s)
{
    if (s == NULL)
        return NULL;
    for (unsigned char *p = (unsigned char *)s; *p;) {
        int n = *p == '\n' || *p == '\t' ? 1 : printable_len(p);
        if (n == 0)
            *p++ = '?';
        else
            p += n;
    }
    return s;
}
