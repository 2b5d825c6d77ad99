// build.c - a lesson's test programs, built from the submission's one file
// without trusting it.
//
// From the submission the grader takes only lessons/NN_topic/topic.c.  It
// is read by the sandbox uid, not by root, through a directory opened
// without following any link, and it must be a regular file of at most
// 1 MiB: a link to /etc/shadow, a FIFO or /dev/zero is refused with a
// message, never followed, never waited on.  It is compiled and linked
// by the sandbox uid in the sandbox (sandbox.c), against pristine copies of
// the headers and the prebuilt test objects, in this directory layout:
//
//   DIR/            root's, group: the sandbox uid, mode 0750
//     inc/lessons/  the course's headers
//     objs/         the test objects, the harness, wrap.syms
//     b/            the sandbox's: topic.c, topic.o, the programs as linked
//     run/          root's copies of the programs, what the tests run
//
// Before linking, the student's object is read with nm and readelf, and
// refused when it could run code outside the tests or take the harness's
// place: constructors and destructors (.init_array, .ctors...), ifuncs,
// names that begin with an underscore, definitions of a C library,
// libcrypto, Check or harness name, or references to a Check or harness
// name.  Then its calls to the functions in tests/wrap.syms are renamed
// (objcopy), so that tests can make them fail (fault injection) without
// touching the harness's own calls.
#define _GNU_SOURCE
#include "grader.h"
#include "sandbox.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef FL_CSTD
#define FL_CSTD "-std=c11 -D_POSIX_C_SOURCE=200809L"
#endif
#ifndef FL_CHECK_LIBS
#define FL_CHECK_LIBS "-pthread -lcheck -lrt -lm -lsubunit -lcrypto"
#endif
#ifndef FL_STUDENT_CFLAGS
#define FL_STUDENT_CFLAGS FL_CSTD " -Wall -Wextra -Werror -pedantic -O2 -g"
#endif
#ifndef FL_CHECK_CFLAGS
#define FL_CHECK_CFLAGS "-pthread"
#endif

// The sanitizer pass: AddressSanitizer and UndefinedBehaviorSanitizer,
// every report fatal (tests/sanitize.c turns it into a sentence).
#define SAN_FLAGS                                                              \
    "-fsanitize=address,undefined -fno-sanitize-recover=all "                  \
    "-fno-omit-frame-pointer"
#define BUILD_WALL_MS 60000
#define OUT_CAP 65536
#define NM_CAP (8 << 20)
#define SUB_MAX (1 << 20)   // the largest lesson file taken
#define BIN_MAX (256 << 20) // the largest test program copied
#define MAX_ARGS 96

static char *env_build[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C",
                            NULL};

/* ------------------------------------------------------------ helpers */

// A directory of the layout: root's, readable by the sandbox's group.
static int
make_shared_dir(const char *path)
{
    if (mkdir(path, 0750) < 0 && errno != EEXIST)
        return -1;
    return sb_get_mode() == SB_USER ? 0 : chown(path, 0, sb_uid());
}

// Copy a trusted file (the course's) into the layout, readable by group.
static int
copy_trusted(const char *from, const char *to, mode_t m)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), rc = -1;
    int out =
        in < 0 ? -1
               : open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                      m);
    char buf[65536];
    ssize_t n;
    if (out >= 0) {
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n)
                break;
        rc = n == 0 ? 0 : -1;
        if (sb_get_mode() != SB_USER && fchown(out, 0, sb_uid()) < 0)
            rc = -1;
    }
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) < 0)
        rc = -1;
    return rc;
}

// Split a flags string ("-pthread -lcheck ...") into argv slots.
static int
add_words(char **argv, int n, char *words)
{
    for (char *w = strtok(words, " "); w != NULL && n < MAX_ARGS - 1;
         w = strtok(NULL, " "))
        argv[n++] = w;
    return n;
}

// Run a build step; 0, or -1 with what it printed (or why it died) in *log.
static int
run_step(char **argv, sb_kind kind, const char *bind, const char *cwd,
         size_t cap, char **log)
{
    sb_spec s = {.argv = argv,
                 .envp = env_build,
                 .kind = kind,
                 .bind = bind,
                 .cwd = cwd,
                 .wall_ms = BUILD_WALL_MS,
                 .out_cap = cap};
    sb_result r;
    *log = NULL;
    if (sb_run(&s, &r) < 0) {
        *log = strdup("the grader could not start the compiler");
        return -1;
    }
    int ok = r.exited && r.status == 0;
    if (!ok && r.timed_out)
        *log = strdup("the compiler ran out of time: is a file included "
                      "that never ends (/dev/zero), or a macro that "
                      "expands for ever?");
    else if (!ok && !r.exited)
        *log = strdup("the compiler was killed for using too much memory "
                      "or time: a macro that expands without end, or a "
                      "huge file included?");
    else if (!ok &&
             (strstr(r.out, "memory exhausted") != NULL ||
              strstr(r.out, "out of memory") != NULL) &&
             asprintf(log,
                      "the compiler ran out of memory (1 GiB): a macro "
                      "that expands without end, or a huge file included?\n"
                      "%s",
                      r.out) < 0)
        *log = NULL;
    else if (*log == NULL) {
        *log = r.out;
        r.out = NULL;
    }
    sb_free(&r);
    return ok ? 0 : -1;
}

/* ---------------------------------------------- the submission's file */

struct take {
    int dirfd;          // the submission's lessons/NN_topic
    const char *name;   // topic.c
    const char *b;      // the build directory, the sandbox's
    const char *lesson; // NN_topic
    int fd;             // -1, or the file, opened by root (see take_file)
};

// In the sandbox: copy the file, refusing anything but a small regular
// file; the result says what was wrong (see take_message).
static int
take_call(void *arg)
{
    struct take *t = arg;
    int in =
        t->fd >= 0
            ? t->fd
            : openat(t->dirfd, t->name,
                     O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (in < 0)
        return errno == ENOENT   ? 10
               : errno == ELOOP  ? 11
               : errno == EACCES ? 14
                                 : 15;
    struct stat st;
    if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode))
        return 12;
    if (st.st_nlink != 1)
        return 18; // a hard link could be another user's file
    if (st.st_size > SUB_MAX)
        return 13;
    static char buf[SUB_MAX + 1];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf && (n = read(in, buf + len, sizeof buf - len)) > 0)
        len += (size_t)n;
    if (len > SUB_MAX)
        return 13;
    char to[PATH_MAX + 256];
    snprintf(to, sizeof to, "%s/lessons", t->b);
    if (mkdir(to, 0700) < 0)
        return 16;
    snprintf(to, sizeof to, "%s/lessons/%s", t->b, t->lesson);
    if (mkdir(to, 0700) < 0)
        return 16;
    snprintf(to, sizeof to, "%s/lessons/%s/%s", t->b, t->lesson, t->name);
    int out =
        open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    return out >= 0 && write(out, buf, len) == (ssize_t)len && close(out) == 0
               ? 0
               : 16;
}

static char *
take_message(int code, const char *file)
{
    char *msg = NULL;
    const char *what =
        code == 10   ? "is missing from the submission"
        : code == 11 ? "is a symbolic link: submit the file itself"
        : code == 12 ? "is not a regular file (a directory, a FIFO or a "
                       "device): submit the file itself"
        : code == 13 ? "is larger than 1 MiB: a lesson file is far smaller; "
                       "is it the right file?"
        : code == 14 ? "cannot be read by the grader's sandbox user: make it "
                       "readable by everyone (chmod a+r, and a+x on its "
                       "directories)"
        : code == 17 ? "is in a directory that is a symbolic link or not a "
                       "directory: submit the lessons/ tree itself"
        : code == 18 ? "is a hard link to another file: submit a copy of "
                       "its own"
                     : "could not be read";
    if (asprintf(&msg, "%s %s.", file, what) < 0)
        return NULL;
    return msg;
}

// The submission's lessons/NN_topic, opened without following any link.
static int
open_lesson_dir(const char *lesson)
{
    int root = open(opt.submission, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return -1;
    char rel[128];
    snprintf(rel, sizeof rel, "lessons/%s", lesson);
    struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                           .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH |
                                      RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof how);
    if (fd < 0 && errno == ENOSYS) { // before Linux 5.6: one step at a time
        int mid = openat(root, "lessons",
                         O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        fd = mid < 0 ? -1
                     : openat(mid, lesson,
                              O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (mid >= 0)
            close(mid);
    }
    if (fd < 0 && errno == ENOENT && opt.loose) // files uploaded loose
        return root;
    int saved = errno;
    close(root);
    errno = saved;
    return fd;
}

// A file the sandbox may not read (a root instructor's clone made with
// umask 077, say) is opened by root for the sandbox to read from, and only
// when that is harmless: reached without any link (the directory was
// opened with RESOLVE_NO_SYMLINKS, the name with O_NOFOLLOW), looked at
// through O_PATH before it is opened (no device or FIFO is ever opened),
// a regular file of one link (a hard link could be /etc/shadow) and at
// most SUB_MAX bytes.  The sandbox does the copying.  -1 and *code if not.
static int
root_open(int dirfd, const char *name, int *code)
{
    struct stat st;
    char proc[64];
    int path = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (path < 0 || fstat(path, &st) < 0) {
        *code = errno == ELOOP ? 11 : 15;
        if (path >= 0)
            close(path);
        return -1;
    }
    *code = !S_ISREG(st.st_mode)   ? 12
            : st.st_nlink != 1     ? 18
            : st.st_size > SUB_MAX ? 13
                                   : 0;
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", path);
    int fd =
        *code ? -1 : open(proc, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0 && *code == 0)
        *code = 15;
    close(path);
    return fd;
}

// Copy the student's file into b/lessons/NN/ as the sandbox uid.
static char *
take_file(gr_lesson *l, const char *b)
{
    char file[256], name[128];
    snprintf(name, sizeof name, "%s.c", topic_of(l->name));
    snprintf(file, sizeof file, "lessons/%s/%s", l->name, name);
    int dirfd = open_lesson_dir(l->name);
    if (dirfd < 0)
        return take_message(errno == ENOENT ? 10 : 17, file);
    struct take t = {dirfd, name, b, l->name, -1};
    int rc = sb_call(take_call, &t);
    if (rc == 14) { // not readable by the sandbox: see root_open
        t.fd = root_open(dirfd, name, &rc);
        if (t.fd >= 0) {
            rc = sb_call(take_call, &t);
            close(t.fd);
        }
    }
    close(dirfd);
    return rc == 0 ? NULL : take_message(rc, file);
}

/* ------------------------------------------------ names it may not use */

typedef struct {
    char *name;
    const char *from; // "the C library", "the test harness or Check"
    int own;          // 1: the tests' own (may not be referenced either)
} known;

static known *names;
static size_t nnames, cap_names, sys_names;

static int
known_cmp(const void *a, const void *b)
{
    return strcmp(((const known *)a)->name, ((const known *)b)->name);
}

static void
add_name(const char *name, const char *from, int own)
{
    if (nnames == cap_names) {
        cap_names = cap_names ? 2 * cap_names : 4096;
        known *grown = realloc(names, cap_names * sizeof *grown);
        if (grown == NULL)
            return;
        names = grown;
    }
    names[nnames++] = (known){strdup(name), from, own};
}

// Add the global names nm prints for path ("name type ..." lines).
static void
add_names(const char *path, int dynamic, const char *from, int own)
{
    char *argv[] = {"nm",
                    "-P",
                    "-g",
                    "--defined-only",
                    dynamic ? "-D" : "--no-sort",
                    (char *)path,
                    NULL};
    char *log;
    if (run_step(argv, SB_TRUSTED, NULL, "/", NM_CAP, &log) < 0) {
        free(log);
        return;
    }
    for (char *line = strtok(log, "\n"); line != NULL;
         line = strtok(NULL, "\n")) {
        line[strcspn(line, " @")] = '\0';
        if (line[0] == '\0' || strchr(line, ':') != NULL)
            continue; // an archive member's header
        add_name(line, from, own);
    }
    free(log);
}

// A library's file, as the compiler finds it ("libc.so.6"); "" if none.
static void
find_library(const char *file, char *path, size_t size)
{
    char cc[64], arg[160], *log;
    snprintf(cc, sizeof cc, "%s", opt.cc);
    snprintf(arg, sizeof arg, "-print-file-name=%s", file);
    char *argv[] = {cc, arg, NULL};
    path[0] = '\0';
    if (run_step(argv, SB_TRUSTED, NULL, "/", 4096, &log) == 0 &&
        log[0] == '/') {
        log[strcspn(log, "\n")] = '\0';
        if (access(log, R_OK) == 0)
            snprintf(path, size, "%s", log);
    }
    free(log);
}

// Names from a list the build made (objdir/tests/NAME.names); 0 if none.
static int
read_names(const char *name, const char *from, int own)
{
    char path[PATH_MAX + 64], line[512];
    snprintf(path, sizeof path, "%s/tests/%s.names", opt.objdir, name);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] != '\0')
            add_name(line, from, own);
    }
    fclose(f);
    return 1;
}

// Where names of libcrypto come from, in the grader's messages.
#define CRYPTO_FROM "OpenSSL's libcrypto"

// The libraries' names, once: libc and libm, libcrypto (lesson 11's
// HMACs: callable, not to be defined) and each -lX of Check's.
static void
system_names(void)
{
    char path[PATH_MAX], libs[] = FL_CHECK_LIBS, file[80];
    if (sys_names > 0)
        return;
    if (read_names("libc", "the C library", 0) &&
        read_names("check", "Check, the test framework", 1) &&
        read_names("crypto", CRYPTO_FROM, 0)) {
        sys_names = nnames;
        return;
    }
    static const char *libc[] = {"libc.so.6", "libm.so.6"};
    for (int i = 0; i < 2; i++) {
        find_library(libc[i], path, sizeof path);
        if (path[0])
            add_names(path, 1, "the C library", 0);
    }
    for (char *w = strtok(libs, " "); w != NULL; w = strtok(NULL, " ")) {
        if (strncmp(w, "-l", 2) != 0 || strcmp(w, "-lm") == 0 ||
            strcmp(w, "-lrt") == 0)
            continue;
        if (strcmp(w, "-lcrypto") == 0) { // a library to call, like libc
            find_library("libcrypto.so", path, sizeof path);
            if (path[0])
                add_names(path, 1, CRYPTO_FROM, 0);
            continue;
        }
        static const char *ext[] = {".a", ".so"};
        for (int e = 0; e < 2; e++) {
            snprintf(file, sizeof file, "lib%s%s", w + 2, ext[e]);
            find_library(file, path, sizeof path);
            if (path[0]) {
                add_names(path, e == 1, "Check, the test framework", 1);
                break;
            }
        }
    }
    sys_names = nnames;
}

// The names a course object defines, from the list the build made
// beside it (objdir/tests/[NN_topic/]NAME.names); 0 if there is none.
static int
course_names(const char *lesson, const char *obj)
{
    char name[256];
    snprintf(name, sizeof name, "%s%s%.*s", lesson ? lesson : "",
             lesson ? "/" : "", (int)(strlen(obj) - 2), obj);
    return read_names(name, "the tests or their harness", 1);
}

// The names the lesson's test objects define (they change per lesson).
static void
lesson_names(const char *objs, const char *lesson)
{
    for (size_t i = sys_names; i < nnames; i++)
        free(names[i].name);
    nnames = sys_names;
    DIR *d = opendir(objs);
    struct dirent *e;
    char path[PATH_MAX + 256];
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".o") != 0)
            continue;
        int test = strncmp(e->d_name, "check_", 6) == 0;
        if (strncmp(e->d_name, "hidden-", 7) != 0 &&
            course_names(test ? lesson : NULL, e->d_name))
            continue;
        snprintf(path, sizeof path, "%s/%s", objs, e->d_name);
        add_names(path, 0, "the tests or their harness", 1);
    }
    if (d != NULL)
        closedir(d);
    qsort(names, nnames, sizeof *names, known_cmp);
}

// The names the hidden tests' objects define, added to the lesson's.
static void
hidden_names(const char *dir)
{
    char path[PATH_MAX + 256];
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "hidden-", 7) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        add_names(path, 0, "the tests or their harness", 1);
    }
    if (d != NULL)
        closedir(d);
    qsort(names, nnames, sizeof *names, known_cmp);
}

static const known *
lookup(const char *name)
{
    known key = {(char *)name, NULL, 0};
    return bsearch(&key, names, nnames, sizeof *names, known_cmp);
}

/* ------------------------------------------------- inspecting the object */

// What is wrong with one global symbol of the student's object, or NULL.
static char *
judge_symbol(const char *name, char type, const char *file)
{
    char *msg = NULL;
    int undefined = type == 'U' || type == 'w' || type == 'v';
    const known *k = lookup(name);
    int n = 0;
    if (undefined && k != NULL && k->own)
        n = asprintf(&msg,
                     "%s uses %s, which belongs to %s, not to the "
                     "lesson: a lesson file may call the C library only.",
                     file, name, k->from);
    else if (undefined)
        return NULL;
    else if (strcmp(name, "main") == 0)
        n = asprintf(&msg,
                     "%s defines main: the test program has its own. "
                     "Keep your experiments in another file.",
                     file);
    else if (type == 'i')
        n = asprintf(&msg,
                     "%s defines %s as an indirect function (ifunc), "
                     "whose resolver runs before main: not allowed in a "
                     "lesson file.",
                     file, name);
    else if (name[0] == '_')
        n = asprintf(&msg,
                     "%s defines %s: names that begin with an "
                     "underscore belong to the C library and the compiler. "
                     "Rename it, or make it static.",
                     file, name);
    else if (k != NULL)
        n = asprintf(&msg,
                     "%s defines %s, a name of %s: the tests would "
                     "call yours instead. Rename it, or make it static.",
                     file, name, k->from);
    return n < 0 ? NULL : msg;
}

// Judge readelf's symbol table lines ("N: value size TYPE BIND VIS NDX
// NAME").  Visibility does not matter: a hidden definition still binds
// the other objects' references within the test program.
static char *
judge_symbols(char *re, const char *file)
{
    int in_table = 0;
    for (char *line = strtok(re, "\n"); line != NULL;
         line = strtok(NULL, "\n")) {
        char type[32], bind[32], vis[32], ndx[32], name[512];
        if (strncmp(line, "Symbol table", 12) == 0)
            in_table = 1;
        if (!in_table || sscanf(line,
                                " %*d: %*s %*s %31s %31s %31s %31s "
                                "%511s",
                                type, bind, vis, ndx, name) != 5)
            continue;
        name[strcspn(name, "@")] = '\0';
        int ifunc = strcmp(type, "IFUNC") == 0;
        // A local symbol names nothing outside the object; only a local
        // ifunc runs code (its resolver, before main).
        if (strcmp(bind, "LOCAL") == 0 && !ifunc)
            continue;
        char kind = strcmp(ndx, "UND") == 0 ? 'U' : ifunc ? 'i' : 'T';
        char *msg = judge_symbol(name, kind, file);
        if (msg != NULL)
            return msg;
    }
    return NULL;
}

// Sections whose code runs before main or after exit.  The sanitized
// object's own constructor, which registers its globals, is allowed (gcc
// puts it in .init_array.00099, clang in .init_array.1): a student's that
// hides there (behind __SANITIZE_ADDRESS__) can only pass the sanitizer's
// runs, and a test passes only when its plain run does.
static int
runs_outside(const char *name, const char *type, int san)
{
    static const char *san_own[] = {".init_array.00099", ".fini_array.00099",
                                    ".init_array.1", ".fini_array.1"};
    for (size_t i = 0; san && i < sizeof san_own / sizeof san_own[0]; i++)
        if (strcmp(name, san_own[i]) == 0)
            return 0;
    static const char *bad[] = {".init_array", ".fini_array", ".preinit_array",
                                ".ctors",      ".dtors",      ".init",
                                ".fini"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = strlen(bad[i]);
        if (strncmp(name, bad[i], n) == 0 &&
            (name[n] == '\0' || name[n] == '.'))
            return 1;
    }
    // Code for the linker's plugin to compile (LTO) has symbols that nm
    // does not show us: the object must be plain machine code.
    if (strncmp(name, ".gnu.lto_", 9) == 0)
        return 2;
    return strstr(type, "INIT_ARRAY") != NULL ||
           strstr(type, "FINI_ARRAY") != NULL;
}

static char *
judge_sections(char *re, const char *file, int san)
{
    for (char *line = strtok(re, "\n"); line != NULL;
         line = strtok(NULL, "\n")) {
        char *p = strstr(line, "] "), name[256], type[64];
        if (p == NULL || sscanf(p + 2, "%255s %63s", name, type) != 2)
            continue;
        int why = runs_outside(name, type, san);
        char *msg = NULL;
        if (why == 1 && asprintf(&msg,
                                 "%s has a constructor or destructor "
                                 "(section %s): code that runs before main or "
                                 "after exit is not allowed in a lesson file, "
                                 "since it would run outside the tests.",
                                 file, name) < 0)
            return NULL;
        if (why == 2 && asprintf(&msg,
                                 "%s holds code for the linker to "
                                 "compile (section %s): a lesson file must be "
                                 "compiled by the grader alone.",
                                 file, name) < 0)
            return NULL;
        if (why != 0)
            return msg;
    }
    return NULL;
}

// Refuse the object (a message) or accept it (NULL): one readelf for
// its sections and its symbols, locals included.
static char *
inspect(const char *dir, const char *b, const char *file, char *obj, int san)
{
    char *log, *problem = NULL;
    char *re[] = {"readelf", "-W", "-S", "-s", obj, NULL};
    if (run_step(re, SB_BUILD, dir, b, NM_CAP, &log) < 0) {
        free(log);
        return strdup("the grader could not read the compiled object");
    }
    char *copy = strdup(log);
    problem = copy == NULL ? NULL : judge_sections(copy, file, san);
    free(copy);
    if (problem == NULL)
        problem = judge_symbols(log, file);
    free(log);
    return problem;
}

/* ------------------------------------------------------------ building */

// The course's files the build needs, as root's copies in DIR/inc, objs.
static int
lay_out(gr_lesson *l, const char *dir)
{
    const char *t = topic_of(l->name);
    char from[PATH_MAX], to[PATH_MAX * 2], sub[PATH_MAX + 64];
    static const char *parts[] = {"inc", "inc/lessons", "objs", "run"};
    if (make_shared_dir(dir) < 0)
        return -1;
    for (int i = 0; i < 4; i++) {
        snprintf(sub, sizeof sub, "%s/%s", dir, parts[i]);
        if (make_shared_dir(sub) < 0)
            return -1;
    }
    snprintf(sub, sizeof sub, "%s/inc/lessons/%s", dir, l->name);
    if (make_shared_dir(sub) < 0)
        return -1;
    snprintf(from, sizeof from, "%s/lessons/%s/%s.h", opt.course, l->name, t);
    snprintf(to, sizeof to, "%s/%s.h", sub, t);
    if (copy_trusted(from, to, 0640) < 0)
        return -1;
    // The headers every lesson may use (lessons/mp_ipc.h), as "../x.h".
    snprintf(from, sizeof from, "%s/lessons", opt.course);
    DIR *d = opendir(from);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".h") != 0)
            continue;
        snprintf(sub, sizeof sub, "%s/lessons/%s", opt.course, e->d_name);
        snprintf(to, sizeof to, "%s/inc/lessons/%s", dir, e->d_name);
        copy_trusted(sub, to, 0640);
    }
    if (d != NULL)
        closedir(d);
    return 0;
}

// The prebuilt objects: the lesson's tests, the harness and its helpers.
static int
lay_objects(gr_lesson *l, const char *dir)
{
    const char *t = topic_of(l->name);
    char from[PATH_MAX], to[PATH_MAX * 2];
    static const char *shared[] = {"harness.o", "stress.o", "sanitize.o"};
    snprintf(from, sizeof from, "%s/tests/%s/check_%s.o", opt.objdir, l->name,
             t);
    snprintf(to, sizeof to, "%s/objs/check_%s.o", dir, t);
    if (copy_trusted(from, to, 0640) < 0)
        return -1;
    // The tests built with ASan, for the sanitizer pass (if made).
    snprintf(from, sizeof from, "%s/tests/%s/check_%s.san.o", opt.objdir,
             l->name, t);
    snprintf(to, sizeof to, "%s/objs/check_%s.san.o", dir, t);
    if (copy_trusted(from, to, 0640) < 0 && opt.sanitize && gr_notice == NULL)
        gr_notice = "the tests were not built with ASan (make builds "
                    "check_*.san.o for make grade and make test), so the "
                    "sanitizer pass sees the student's code only: a write "
                    "past a test's own array goes unseen.";
    for (int i = 0; i < 3; i++) {
        snprintf(from, sizeof from, "%s/tests/%s", opt.objdir, shared[i]);
        snprintf(to, sizeof to, "%s/objs/%s", dir, shared[i]);
        if (copy_trusted(from, to, 0640) < 0 && i == 0)
            return -1; // the harness is needed; the others may not exist
    }
    snprintf(from, sizeof from, "%s/tests/wrap.syms", opt.course);
    snprintf(to, sizeof to, "%s/objs/wrap.syms", dir);
    copy_trusted(from, to, 0640);
    return 0;
}

// An instructor's hidden tests, compiled as the grader (they are trusted).
static char *
compile_hidden(gr_lesson *l, const char *dir)
{
    char hdir[PATH_MAX], src[PATH_MAX * 2], obj[PATH_MAX * 2], *log = NULL;
    char inc1[PATH_MAX + 8], inc2[PATH_MAX + 8];
    char cstd[] = FL_CSTD, cflags[] = FL_CHECK_CFLAGS;
    snprintf(hdir, sizeof hdir, "%s/%s", opt.hidden, l->name);
    snprintf(src, sizeof src, "%s/hidden", dir);
    if (mkdir(src, 0700) < 0 && errno != EEXIST)
        return strdup("the grader could not make a directory for the "
                      "hidden tests");
    snprintf(inc1, sizeof inc1, "-I%s/lessons/%s", opt.course, l->name);
    snprintf(inc2, sizeof inc2, "-I%s/tests", opt.course);
    DIR *d = opendir(hdir);
    struct dirent *e;
    int n = 0;
    while (d != NULL && (e = readdir(d)) != NULL && log == NULL) {
        size_t len = strlen(e->d_name);
        if (len < 3 || strcmp(e->d_name + len - 2, ".c") != 0)
            continue;
        snprintf(src, sizeof src, "%s/%s", hdir, e->d_name);
        snprintf(obj, sizeof obj, "%s/hidden/hidden-%d.o", dir, n++);
        char *cc[MAX_ARGS] = {opt.cc};
        int k = add_words(cc, 1, cstd);
        k = add_words(cc, k, cflags);
        char *rest[] = {inc1, inc2, "-c", src, "-o", obj, NULL};
        for (int i = 0; rest[i] != NULL; i++)
            cc[k++] = rest[i];
        cc[k] = NULL;
        if (run_step(cc, SB_TRUSTED, NULL, "/", OUT_CAP, &log) == 0) {
            free(log);
            log = NULL;
        }
    }
    if (d != NULL)
        closedir(d);
    if (log == NULL && n == 0)
        return strdup("the hidden tests have a points file but no .c file");
    return log;
}

// Compile the student's file in b (as the sandbox) into obj, with the
// sanitizers when san; NULL or the errors.
static char *
compile_student(gr_lesson *l, const char *dir, const char *b, char *obj,
                int san)
{
    char src[PATH_MAX], inc[PATH_MAX], flags[] = FL_STUDENT_CFLAGS, *log;
    char sanflags[] = SAN_FLAGS;
    snprintf(src, sizeof src, "lessons/%s/%s.c", l->name, topic_of(l->name));
    snprintf(inc, sizeof inc, "-I../inc/lessons/%s", l->name);
    char *cc[MAX_ARGS] = {opt.cc};
    int n = add_words(cc, 1, flags);
    if (san)
        n = add_words(cc, n, sanflags);
    else
        cc[n++] = "-g0"; // no one reads the plain pass's debug info: faster
    if (opt.quick_build)
        cc[n++] = "-Og"; // (the last -O wins) see tests/grade_mutant.sh
    char *rest[] = {inc, "-c", src, "-o", obj, NULL};
    for (int i = 0; rest[i] != NULL; i++)
        cc[n++] = rest[i];
    cc[n] = NULL;
    if (run_step(cc, SB_BUILD, dir, b, OUT_CAP, &log) == 0) {
        free(log);
        return NULL;
    }
    return log;
}

// Link the objects named by pattern ("check_fork.o" or "hidden-") with the
// student's object into b/bin; NULL or the errors.
static char *
link_program(const char *dir, const char *b, const char *tests, char *obj,
             const char *bin, int san)
{
    char cstd[] = FL_CSTD, cflags[] = FL_CHECK_CFLAGS, libs[] = FL_CHECK_LIBS;
    char objs[PATH_MAX + 8], *log, paths[16][300];
    char *ld[MAX_ARGS] = {opt.cc};
    int n = add_words(ld, 1, cstd), np = 0;
    n = add_words(ld, n, cflags);
    snprintf(objs, sizeof objs, "%s/objs", dir);
    DIR *d = opendir(objs);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL && np < 16) {
        const char *f = e->d_name;
        size_t len = strlen(f);
        int test = strncmp(f, tests, strlen(tests)) == 0;
        int shared = strcmp(f, "harness.o") == 0 ||
                     strcmp(f, "stress.o") == 0 || strcmp(f, "sanitize.o") == 0;
        if (len < 3 || strcmp(f + len - 2, ".o") != 0 || !(test || shared))
            continue;
        snprintf(paths[np], sizeof paths[0], "../objs/%s", f);
        ld[n++] = paths[np++];
    }
    if (d != NULL)
        closedir(d);
    if (san)
        ld[n++] = "-fsanitize=address,undefined"; // its reports need lines
    else
        ld[n++] = "-Wl,--strip-debug";
    ld[n++] = obj;
    ld[n++] = "-o";
    ld[n++] = (char *)bin;
    ld[add_words(ld, n, libs)] = NULL;
    if (run_step(ld, SB_BUILD, dir, b, OUT_CAP, &log) == 0) {
        free(log);
        return NULL;
    }
    return log;
}

int
install_trusted(const char *from, const char *to)
{
    return copy_trusted(from, to, 0750);
}

// Root's copy of a program the sandbox linked: never through a link.
static int
install(const char *b, const char *name, const char *run)
{
    int bfd = open(b, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int in =
        bfd < 0
            ? -1
            : openat(bfd, name,
                     O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    char to[PATH_MAX + 128];
    int rc = -1;
    snprintf(to, sizeof to, "%s/%s", run, name);
    if (in >= 0 && fstat(in, &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size <= BIN_MAX) {
        char procfd[64];
        snprintf(procfd, sizeof procfd, "/proc/self/fd/%d", in);
        rc = copy_trusted(procfd, to, 0750);
    }
    if (in >= 0)
        close(in);
    if (bfd >= 0)
        close(bfd);
    return rc;
}

// Compile, check and rename one variant's object (plain, or sanitized):
// topic.o or topic.san.o in b.  NULL or the problem.
static char *
make_object(gr_lesson *l, const char *dir, const char *b, int san)
{
    char file[256], obj[32], path[PATH_MAX + 16];
    snprintf(file, sizeof file, "lessons/%s/%s.c", l->name, topic_of(l->name));
    snprintf(obj, sizeof obj, "topic%s.o", san ? ".san" : "");
    char *problem = compile_student(l, dir, b, obj, san);
    // (--quick-build, make test's mutants: the course's own code, whose
    // object no one needs to read for forged verdicts.)
    if (problem == NULL && !opt.quick_build)
        problem = inspect(dir, b, file, obj, san);
    if (problem != NULL)
        return problem;
    // The calls are renamed only when the wrappers are there to take them.
    snprintf(path, sizeof path, "%s/objs/stress.o", dir);
    if (access(path, R_OK) == 0) {
        char *oc[] = {"objcopy", "--redefine-syms=../objs/wrap.syms", obj,
                      NULL},
             *log;
        if (run_step(oc, SB_BUILD, dir, b, OUT_CAP, &log) < 0)
            return log;
        free(log);
    }
    return NULL;
}

// Link a variant's test program (tests "check_TOPIC.o" or "hidden-") as
// NAME[.san] into DIR/run.  NULL or the problem.
static char *
link_variant(const char *dir, const char *b, const char *tests,
             const char *name, int san)
{
    char bin[160], obj[32], run[PATH_MAX + 8];
    snprintf(bin, sizeof bin, "%s%s", name, san ? ".san" : "");
    snprintf(obj, sizeof obj, "topic%s.o", san ? ".san" : "");
    snprintf(run, sizeof run, "%s/run", dir);
    char *problem = link_program(dir, b, tests, obj, bin, san);
    if (problem == NULL && install(b, bin, run) < 0)
        problem = strdup("the grader could not take the linked test program");
    return problem;
}

// The hidden tests' objects wait in DIR/hidden, root's alone, while the
// student's file is compiled (an #include of one would print its strings
// into the compiler's errors); only the link needs them in DIR/objs.
static int
reveal_hidden(const char *dir)
{
    char from[PATH_MAX + 8], a[PATH_MAX * 2], to[PATH_MAX * 2];
    snprintf(from, sizeof from, "%s/hidden", dir);
    DIR *d = opendir(from);
    struct dirent *e;
    int n = 0;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "hidden-", 7) != 0)
            continue;
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(to, sizeof to, "%s/objs/%s", dir, e->d_name);
        n += copy_trusted(a, to, 0640) == 0;
    }
    if (d != NULL)
        closedir(d);
    return n > 0 ? 0 : -1;
}

static char *
sanitized(char *problem)
{
    char *msg = NULL;
    if (problem != NULL &&
        asprintf(&msg,
                 "Built with AddressSanitizer and UBSan (make grade's "
                 "second pass), the lesson does not build:\n%s",
                 problem) < 0)
        msg = NULL;
    free(problem);
    return msg;
}

// Whether this compiler builds with the sanitizers at all (libasan and
// libubsan installed): if not, the pass is skipped with a notice, rather
// than failing every lesson for the machine's sake.  Asked once, and only
// when a sanitized build failed (up front, it was a compile and a link,
// some 0.05 CPU-s, for every grading with the pass).
static int
sanitizers_work(void)
{
    static int known = -1;
    char src[PATH_MAX + 16], bin[PATH_MAX + 16], *log;
    if (known >= 0)
        return known;
    snprintf(src, sizeof src, "%s/probe.c", gr_workdir);
    snprintf(bin, sizeof bin, "%s/probe", gr_workdir);
    FILE *f = fopen(src, "we");
    if (f != NULL) {
        fputs("int main(void) { return 0; }\n", f);
        fclose(f);
    }
    char *cc[] = {opt.cc, "-fsanitize=address,undefined", src, "-o", bin, NULL};
    known = run_step(cc, SB_TRUSTED, NULL, "/", OUT_CAP, &log) == 0;
    if (!known) {
        opt.sanitize = 0;
        gr_notice = "the sanitizer pass was skipped: this compiler cannot "
                    "build with -fsanitize=address,undefined (install "
                    "libasan and libubsan, e.g. with make deps)";
    }
    free(log);
    unlink(src);
    unlink(bin);
    return known;
}

// A sanitized build step's problem, or NULL (and *san 0, the pass off)
// when the compiler cannot build with the sanitizers at all.
static char *
san_step(char *problem, int *san)
{
    if (problem != NULL && !sanitizers_work()) {
        free(problem);
        *san = 0;
        return NULL;
    }
    return sanitized(problem);
}

// Both objects first, then every link: nothing of the hidden tests is
// within the sandbox's reach while the student's file is compiled.
static char *
compile_and_link(gr_lesson *l, const char *dir, const char *b)
{
    char test[160], santest[PATH_MAX + 200], name[160];
    int san = opt.sanitize;
    snprintf(test, sizeof test, "check_%s.o", topic_of(l->name));
    snprintf(name, sizeof name, "check_%s", topic_of(l->name));
    // The sanitizer pass links the tests built with ASan where they are.
    snprintf(santest, sizeof santest, "%s/objs/check_%s.san.o", dir,
             topic_of(l->name));
    if (access(santest, R_OK) == 0)
        snprintf(santest, sizeof santest, "check_%s.san.o", topic_of(l->name));
    else
        snprintf(santest, sizeof santest, "%s", test);
    char *problem = make_object(l, dir, b, 0);
    if (problem == NULL && san)
        problem = san_step(make_object(l, dir, b, 1), &san);
    if (problem == NULL)
        problem = link_variant(dir, b, test, name, 0);
    if (problem == NULL && san)
        problem = san_step(link_variant(dir, b, santest, name, 1), &san);
    if (problem != NULL || !l->nhidden)
        return problem;
    if (reveal_hidden(dir) < 0)
        return strdup("the grader could not lay out the hidden tests");
    problem = link_variant(dir, b, "hidden-", "check_hidden", 0);
    if (problem == NULL && san)
        problem =
            san_step(link_variant(dir, b, "hidden-", "check_hidden", 1), &san);
    return problem;
}

char *
build_lesson(gr_lesson *l, const char *dir)
{
    char b[PATH_MAX + 8], objs[PATH_MAX + 8];
    if (lay_out(l, dir) < 0 || lay_objects(l, dir) < 0)
        return strdup("the grader could not lay out the course's files: "
                      "is --course or --objdir wrong, or `make grader` not "
                      "run?");
    if (l->nhidden) {
        char *problem = compile_hidden(l, dir);
        if (problem != NULL)
            return problem;
    }
    // The names only inspect() reads, which --quick-build skips (make
    // test's mutants: some 4000 names read and sorted, each grading).
    if (!opt.quick_build) {
        snprintf(objs, sizeof objs, "%s/objs", dir);
        system_names();
        lesson_names(objs, l->name);
        snprintf(objs, sizeof objs, "%s/hidden", dir);
        hidden_names(objs);
    }
    snprintf(b, sizeof b, "%s/b", dir);
    if (sb_give(b) < 0)
        return strdup("the grader could not make a build directory");
    char *problem = take_file(l, b);
    if (problem == NULL)
        problem = compile_and_link(l, dir, b);
    sb_rmtree(b, 1);
    return gr_clean(problem); // the compiler quotes the student's source
}
