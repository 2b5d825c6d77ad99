// watch.c - `make watch`: re-check the current lesson each time it is saved.
//
// The student loop, as rustlings has it: grade everything once, show the
// progress bar, then keep to the first lesson that does not pass yet.  Its
// first failing test is shown with what to do next; every save of the
// lesson's file re-grades it (contained, as always), and a lesson that
// passes hands over to the next.  Saves are seen with inotify on the
// lesson's directory (editors often write a new file and rename it over
// the old one); where inotify is refused, the file is polled instead.
// Each lesson's file is stamped (identity, age, content) before it is
// graded, and compared with that stamp before the loop waits or moves on:
// a save made while the first grade ran is graded at once, and a lesson
// saved while another was current is graded again when its turn comes.
#define _GNU_SOURCE
#include "grader.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 500   // the fallback's look at the file
#define SETTLE_MS 150 // editors write in bursts: let a save finish

static int
complete(const gr_lesson *l)
{
    for (size_t i = 0; i < l->ntests; i++)
        if (!l->tests[i].passed)
            return 0;
    return l->problem == NULL;
}

static void
show_lesson(const gr_lesson *l)
{
    const char *t = strchr(l->name, '_') + 1;
    printf("\n== %s: %s\n", l->name, l->title);
    if (l->problem != NULL) {
        printf("It does not build yet:\n%s\n", l->problem);
    } else {
        for (size_t i = 0; i < l->ntests; i++) {
            const gr_test *f = &l->tests[i];
            if (f->passed)
                continue;
            printf("Next to fix: %s\n  %s\n  Read lessons/%s/%s\n", f->name,
                   f->message ? f->message : "(no verdict)", l->name, f->ref);
            break;
        }
    }
    printf("\nEdit lessons/%s/%s.c and save: the tests run again.\n"
           "Stuck? make hint L=%.2s   Stop: Ctrl-C\n",
           l->name, t, l->name);
    fflush(stdout);
}

static long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

// What a lesson's file was when it was last graded: its identity, age and
// content, taken *before* grading, so that a save made while the tests ran
// (a first grade of every lesson takes half a minute) is never missed.
typedef struct {
    struct stat st;
    unsigned long long hash;
} stamp_t;

static void
stamp(const char *path, stamp_t *s)
{
    if (stat(path, &s->st) < 0)
        memset(&s->st, 0, sizeof s->st);
    s->hash = hash_file(path, 0);
}

static int
changed(const stamp_t *a, const stamp_t *b)
{
    return a->st.st_ino != b->st.st_ino || a->st.st_size != b->st.st_size ||
           a->st.st_mtim.tv_sec != b->st.st_mtim.tv_sec ||
           a->st.st_mtim.tv_nsec != b->st.st_mtim.tv_nsec || a->hash != b->hash;
}

static void
lesson_file(const char *submission, const gr_lesson *l, char *dir, size_t dsize,
            char *file, size_t fsize)
{
    snprintf(dir, dsize, "%s/lessons/%s", submission, l->name);
    snprintf(file, fsize, "%s.c", topic_of(l->name));
}

// Block until the file differs from what was graded (at once if it
// already does).
static void
wait_for_save(const char *dir, const char *file, const stamp_t *graded)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    stamp_t now;
    int in = inotify_init1(IN_CLOEXEC);
    int wd = in < 0 ? -1
                    : inotify_add_watch(in, dir,
                                        IN_CLOSE_WRITE | IN_MOVED_TO |
                                            IN_CREATE | IN_ATTRIB);
    // Look after the watch is set: a save between the two is seen either way.
    for (stamp(path, &now); !changed(graded, &now); stamp(path, &now)) {
        struct pollfd p = {wd >= 0 ? in : -1, POLLIN, 0};
        if (poll(&p, 1, POLL_MS) > 0) {
            char buf[4096];
            if (read(in, buf, sizeof buf) < 0 && errno != EINTR)
                wd = -1; // fall back to polling
        }
    }
    // Let the editor finish: wait until the file holds still.
    for (long quiet = now_ms() + SETTLE_MS; now_ms() < quiet;) {
        stamp_t later;
        poll(NULL, 0, 50);
        stamp(path, &later);
        if (changed(&now, &later)) {
            now = later;
            quiet = now_ms() + SETTLE_MS;
        }
    }
    if (in >= 0)
        close(in);
}

// Grade a lesson, its file's stamp taken first.
static void
grade(gr_lesson *l, const char *submission, stamp_t *graded)
{
    char dir[PATH_MAX + 80], file[128], path[PATH_MAX + 210];
    lesson_file(submission, l, dir, sizeof dir, file, sizeof file);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    stamp(path, graded);
    lesson_clear(l);
    grade_lesson_cached(l);
}

// Whether a lesson passes, graded again first if its file changed since.
static int
passes_now(gr_lesson *l, const char *submission, stamp_t *graded)
{
    char dir[PATH_MAX + 80], file[128], path[PATH_MAX + 210];
    stamp_t now;
    lesson_file(submission, l, dir, sizeof dir, file, sizeof file);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    stamp(path, &now);
    if (changed(graded, &now)) {
        printf("\n%s changed since it was graded: testing it again.\n",
               l->name);
        grade(l, submission, graded);
        if (complete(l))
            printf("%s passes!\n", l->name);
    }
    return complete(l);
}

// The first lesson at or after from that does not pass (those before it
// were passing when last seen), or n.
static size_t
next_to_do(gr_lesson *ls, size_t n, size_t from, const char *submission,
           stamp_t *graded)
{
    while (from < n && passes_now(&ls[from], submission, &graded[from]))
        from++;
    return from;
}

int
watch_lessons(gr_lesson *ls, size_t n, const char *submission)
{
    static stamp_t graded[64];
    if (n > sizeof graded / sizeof *graded)
        n = sizeof graded / sizeof *graded;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < n; i++)
        grade(&ls[i], submission, &graded[i]);
    report_progress(ls, n, 1);
    for (size_t cur = next_to_do(ls, n, 0, submission, graded); cur < n;) {
        char dir[PATH_MAX + 80], file[128];
        show_lesson(&ls[cur]);
        lesson_file(submission, &ls[cur], dir, sizeof dir, file, sizeof file);
        while (!complete(&ls[cur])) {
            printf("Waiting for a save of lessons/%s/%s ...\n", ls[cur].name,
                   file);
            wait_for_save(dir, file, &graded[cur]);
            printf("\nSaved: testing %s again.\n", ls[cur].name);
            grade(&ls[cur], submission, &graded[cur]);
            if (!complete(&ls[cur]))
                show_lesson(&ls[cur]);
        }
        printf("\n%s passes! ", ls[cur].name);
        report_progress(ls, n, 0);
        size_t next = next_to_do(ls, n, cur + 1, submission, graded);
        if (next < n && next > cur + 1)
            printf("Next: %s (%s already passes%s): read lessons/%s/"
                   "README.md\n",
                   ls[next].name, ls[cur + 1].name,
                   next > cur + 2 ? ", and the ones after it" : "",
                   ls[next].name);
        else if (next < n)
            printf("Next: %s: read lessons/%s/README.md\n", ls[next].name,
                   ls[next].name);
        cur = next;
    }
    printf("\nEvery lesson passes. Well done!\n");
    return 0;
}
