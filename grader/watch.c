// watch.c - `make watch`: re-check the current lesson each time it is saved.
//
// The student loop, as rustlings has it: grade everything once, show the
// progress bar, then keep to the first lesson that does not pass yet.  Its
// first failing test is shown with what to do next; every save of the
// lesson's file re-grades it (contained, as always), and a lesson that
// passes hands over to the next.  Saves are seen with inotify on the
// lesson's directory (editors often write a new file and rename it over
// the old one); where inotify is refused, the file is polled instead.
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

#define POLL_MS 500    // the fallback's look at the file
#define SETTLE_MS 150  // editors write in bursts: let a save finish

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

// A file's identity and age, to notice a save without inotify.
static void
stamp(const char *path, struct stat *st)
{
    if (stat(path, st) < 0)
        memset(st, 0, sizeof *st);
}

static int
changed(const struct stat *a, const struct stat *b)
{
    return a->st_ino != b->st_ino || a->st_size != b->st_size ||
           a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
           a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

// Block until path is saved again.
static void
wait_for_save(const char *dir, const char *file)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    struct stat before, now;
    stamp(path, &before);
    int in = inotify_init1(IN_CLOEXEC);
    int wd = in < 0 ? -1
                    : inotify_add_watch(in, dir, IN_CLOSE_WRITE | IN_MOVED_TO |
                                                     IN_CREATE | IN_ATTRIB);
    for (;;) {
        struct pollfd p = {wd >= 0 ? in : -1, POLLIN, 0};
        if (poll(&p, 1, POLL_MS) > 0) {
            char buf[4096];
            if (read(in, buf, sizeof buf) < 0 && errno != EINTR)
                wd = -1; // fall back to polling
        }
        stamp(path, &now);
        if (changed(&before, &now))
            break;
    }
    // Let the editor finish: wait until the file holds still.
    for (long quiet = now_ms() + SETTLE_MS; now_ms() < quiet;) {
        struct stat later;
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

int
watch_lessons(gr_lesson *ls, size_t n, const char *submission)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < n; i++)
        grade_lesson(&ls[i]);
    report_progress(ls, n, 1);
    for (size_t cur = 0;; cur++) {
        while (cur < n && complete(&ls[cur]))
            cur++;
        if (cur == n) {
            printf("\nEvery lesson passes. Well done!\n");
            return 0;
        }
        show_lesson(&ls[cur]);
        char dir[PATH_MAX + 80], file[128];
        snprintf(dir, sizeof dir, "%s/lessons/%s", submission, ls[cur].name);
        snprintf(file, sizeof file, "%s.c", strchr(ls[cur].name, '_') + 1);
        while (!complete(&ls[cur])) {
            printf("Waiting for a save of lessons/%s/%s ...\n", ls[cur].name,
                   file);
            wait_for_save(dir, file);
            printf("\nSaved: testing %s again.\n", ls[cur].name);
            lesson_clear(&ls[cur]);
            grade_lesson(&ls[cur]);
            if (!complete(&ls[cur]))
                show_lesson(&ls[cur]);
        }
        printf("\n%s passes! ", ls[cur].name);
        report_progress(ls, n, 0);
        if (cur + 1 < n)
            printf("Next: read lessons/%s/README.md\n", ls[cur + 1].name);
    }
}
