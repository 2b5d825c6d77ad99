// sanitize.c - sanitizer reports turned into the sentence of a verdict.
//
// Why this exists: a heap overflow by one byte, a read of freed memory or a
// signed overflow usually passes every functional test: the byte past the
// buffer belonged to nobody who checked.  The grader's second build
// compiles the student's object with AddressSanitizer and UBSan, which do
// catch these, but a raw report is sixty lines of addresses, shadow bytes
// and runtime frames, printed by a process that then dies with an exit
// status the harness would read as "the parent took the child's path".
// This file sits between the two:
//
//   - it sets the runtimes' options from inside the program
//     (__asan_default_options and friends), so a graded run does not depend
//     on environment variables, and the student's object cannot override
//     them (the grader refuses names that start with '_');
//   - it turns each report into one sentence that names the student's file
//     and line ("wrote 1 byte past the end of the 64-byte buffer allocated
//     at lessons/04_pipes/pipes.c:120 (in mp_conn_send, ...)"), and keeps
//     it in MAP_SHARED memory made by the runner, so that a report from the
//     test process or any process forked from it survives that process's
//     death and reaches the verdict;
//   - it checks for leaks where a leak can be blamed: at the end of each
//     test in the test process, and in every process the student's code
//     made, just before it exits; only allocations with a frame in the
//     student's source count, so Check's and the harness's own memory
//     never fail a test.
//
// What it trades: reports are parsed from text, so a change of runtime
// (clang's, a newer gcc's) could change a wording; a report that cannot be
// parsed still fails the test, with a plainer sentence.  Options that
// would change how a correct program behaves are off: a segfault stays a
// SIGSEGV (handle_segv=0), as the lessons' crash tests expect, at the cost
// of ASan's stack for it.  Leak checks stop the world with ptrace; where a
// sandbox refuses that, a probe at start-up turns them off rather than let
// every test die.  A leak check runs in the process that exits, so a
// child's exit costs a few milliseconds more.  In a normal build every
// function here returns at once: the runtime's entry points are weak
// references, NULL when no sanitizer is linked.
#define _GNU_SOURCE
#include "sanitize.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------- the runtimes' hooks */

// The sanitizer runtimes' interfaces: weak, so NULL in a normal build.
extern void __asan_set_error_report_callback(void (*cb)(const char *))
    __attribute__((weak));
extern void __sanitizer_set_death_callback(void (*cb)(void))
    __attribute__((weak));
extern void __sanitizer_set_report_fd(void *fd) __attribute__((weak));
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
extern size_t __sanitizer_get_current_allocated_bytes(void)
    __attribute__((weak));
extern void __ubsan_get_current_report_data(const char **kind, const char **msg,
                                            const char **file, unsigned *line,
                                            unsigned *col, char **addr)
    __attribute__((weak));

// Defined here for the runtimes to call; they look them up by name.
const char *__asan_default_options(void);
const char *__lsan_default_options(void);
const char *__ubsan_default_options(void);
void __ubsan_on_report(void);

#define STR_(x) #x
#define STR(x) STR_(x)

// Both runtimes.  exitcode: the harness tells a sanitizer's death from an
// early exit.  handle_*=0: a crash stays the signal the lessons' tests
// expect.  color=never: the reports are parsed.
#define SAN_EXITCODE "exitcode=" STR(FL_SAN_EXIT)
#define SAN_COMMON                                                             \
    SAN_EXITCODE                                                               \
    ":halt_on_error=1:abort_on_error=0:disable_coredump=1:color=never"         \
    ":handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_sigill=0"           \
    ":handle_abort=0:allocator_may_return_null=1"

const char *
__asan_default_options(void)
{
    // Leaks are checked when this file asks, never at exit.  The memory cap
    // works without RLIMIT_AS (which ASan's shadow cannot live with): one
    // request over max_allocation_size_mb returns NULL, a process whose
    // heap passes mmap_limit_mb is stopped.  A small quarantine keeps each
    // forked process's footprint down.  No external symbolizer: gcc's
    // runtime reads DWARF itself, and a symbolizer process would be a
    // child the harness counts.  Fast unwinding on malloc: the wrappers of
    // the fault-injection build (tests/stress.c) keep their frame pointer,
    // so the frame-pointer walk reaches the student's frame behind them.
    return SAN_COMMON ":detect_leaks=1:leak_check_at_exit=0"
                      ":max_allocation_size_mb=512:mmap_limit_mb=1024"
                      ":quarantine_size_mb=64:detect_stack_use_after_return=0"
                      ":external_symbolizer_path=:print_suppressions=0";
}

const char *
__lsan_default_options(void)
{
    return "print_suppressions=0";
}

const char *
__ubsan_default_options(void)
{
    return SAN_COMMON ":print_stacktrace=1:report_error_type=1";
}

/* ------------------------------------------------------ the shared area */

#define AREA_TEXT 3072 // room for the sentences of one test
#define KEEP 3         // reports kept in full; the rest are counted
#define SENTENCE 768

// Made by the runner before any test, MAP_SHARED: every process of a test
// writes here, and the runner reads it after they have died.
struct san_area {
    pid_t test_pid;   // the test process; 0 outside a test
    int leak_checks;  // 1 if LSan can run here (ptrace allowed)
    unsigned reports; // reports made in this test (atomic)
    unsigned shown_n; // reports already delivered by fl_san_end
    size_t used;      // bytes of text (atomic)
    size_t shown;     // bytes already delivered by fl_san_end
    char text[AREA_TEXT];
};

static struct san_area *area;
static pid_t reported; // the process that last posted a report

int
fl_san_active(void)
{
    return __asan_set_error_report_callback != NULL ||
           __ubsan_get_current_report_data != NULL;
}

// Add one sentence to the area, from any process, without a lock: each
// writer reserves its bytes with one atomic add.
static void
post(const char *s)
{
    if (area == NULL) { // before any test: the lesson's setup called it
        fprintf(stderr, "\n" FL_SAN_LINE "%s\n", s);
        return;
    }
    reported = getpid();
    if (__atomic_fetch_add(&area->reports, 1, __ATOMIC_SEQ_CST) >= KEEP)
        return;
    char buf[SENTENCE + 64];
    if (area->test_pid != 0 && getpid() != area->test_pid)
        snprintf(buf, sizeof buf, "In child process %d of the test: %s ",
                 (int)getpid(), s);
    else
        snprintf(buf, sizeof buf, "%c%s ",
                 s[0] >= 'a' && s[0] <= 'z' ? s[0] - 'a' + 'A' : s[0], s + 1);
    size_t len = strlen(buf);
    size_t off = __atomic_fetch_add(&area->used, len, __ATOMIC_SEQ_CST);
    if (off + len < AREA_TEXT)
        memcpy(area->text + off, buf, len);
}

/* ------------------------------------------------ reading a report text */

// One stack frame as a message names it.
struct frame {
    char func[96]; // "mp_conn_send"
    char loc[160]; // "lessons/04_pipes/pipes.c:131"
};

static const char *const student_dirs[] = FL_SAN_STUDENT_DIRS;

// The path from its first student or tests directory on; NULL if the path
// is not the student's.
static const char *
student_path(const char *path, const char *end)
{
    for (size_t i = 0; i < sizeof student_dirs / sizeof *student_dirs; i++) {
        const char *p = strstr(path, student_dirs[i]);
        if (p != NULL && p < end)
            return p;
    }
    return NULL;
}

static void
copy_span(char *dst, size_t size, const char *from, const char *to)
{
    size_t n = (size_t)(to - from) < size - 1 ? (size_t)(to - from) : size - 1;
    memcpy(dst, from, n);
    dst[n] = '\0';
}

// Read the frame on the line at p ("    #1 0x55 in mk /x/lessons/t.c:5");
// return 2 if it is the student's, 1 if it is another frame with a source
// file outside the runtime and libc, 0 if it is neither.
static int
read_frame(const char *p, const char *eol, struct frame *f)
{
    const char *in = strstr(p, " in ");
    if (in == NULL || in > eol)
        return 0;
    const char *fn = in + 4, *sp = memchr(fn, ' ', (size_t)(eol - fn));
    if (sp == NULL || strncmp(fn, "__interceptor_", 14) == 0 ||
        strncmp(fn, "__asan", 6) == 0)
        return 0;
    const char *file = sp + 1;
    if (file[0] == '(') // no source line: "(module+0x1234)"
        return 0;
    const char *mine = student_path(file, eol);
    if (mine == NULL && strncmp(file, "../", 3) == 0)
        return 0; // glibc's own source
    const char *tests = strstr(file, "tests/");
    copy_span(f->func, sizeof f->func, fn, sp);
    copy_span(f->loc, sizeof f->loc,
              mine                   ? mine
              : tests && tests < eol ? tests
                                     : file,
              eol);
    return mine != NULL ? 2 : 1;
}

// The frame a message names from the stack whose first line is at p: the
// first in the student's code, else the first with a source file.
static int
pick_frame(const char *p, struct frame *f)
{
    struct frame other = {"", ""};
    int found = 0;
    while (p != NULL && *p != '\0') {
        const char *s = p + strspn(p, " ");
        if (*s != '#')
            break;
        const char *eol = strchrnul(s, '\n');
        struct frame here;
        int r = read_frame(s, eol, &here);
        if (r == 2) {
            *f = here;
            return 2;
        }
        if (r == 1 && !found) {
            other = here;
            found = 1;
        }
        p = *eol ? eol + 1 : eol;
    }
    if (found)
        *f = other;
    return found;
}

// The stack that follows the line containing header, or NULL.
static const char *
stack_after(const char *rep, const char *header)
{
    const char *s = strstr(rep, header);
    if (s == NULL)
        return NULL;
    s = strchr(s, '\n');
    return s ? s + 1 : NULL;
}

// The text between the first pair of single quotes after `after` in rep.
static void
quoted(const char *rep, const char *after, char *out, size_t size)
{
    const char *s = strstr(rep, after), *q1, *q2;
    snprintf(out, size, "?");
    if (s == NULL || (q1 = strchr(s, '\'')) == NULL ||
        (q2 = strchr(q1 + 1, '\'')) == NULL)
        return;
    copy_span(out, size, q1 + 1, q2);
}

/* ---------------------------------------------- AddressSanitizer errors */

// What an ASan report says, read once.
struct asan_report {
    char kind[64];        // "heap-buffer-overflow"
    char verb[8];         // "wrote" or "read"
    unsigned long size;   // bytes accessed
    unsigned long offset; // bytes away from the region
    unsigned long region; // bytes in the region
    const char *side;     // "past the end of", "before the start of", ...
    char via[32];         // "memcpy" when a libc function made the access
    struct frame at;      // where the bad access happened
    struct frame alloc;   // where the memory was allocated
    struct frame freed;   // where it was freed
};

static void
read_region(const char *rep, struct asan_report *r)
{
    const char *s = strstr(rep, " is located ");
    r->side = "outside";
    if (s == NULL)
        return;
    sscanf(s, " is located %lu", &r->offset);
    const char *eol = strchrnul(s, '\n');
    if (strstr(s, "to the right of") && strstr(s, "to the right of") < eol)
        r->side = "past the end of";
    else if (strstr(s, "to the left of") && strstr(s, "to the left of") < eol)
        r->side = "before the start of";
    else
        r->side = "inside";
    const char *b = strstr(s, "-byte region");
    if (b == NULL || b > eol)
        return;
    while (b > s && b[-1] >= '0' && b[-1] <= '9')
        b--;
    r->region = strtoul(b, NULL, 10);
}

static void
read_asan(const char *rep, struct asan_report *r)
{
    memset(r, 0, sizeof *r);
    const char *k = strstr(rep, "AddressSanitizer: ");
    if (k != NULL && strncmp(k + 18, "attempting ", 11) == 0)
        k += 11; // "attempting double-free on", "attempting free on"
    if (k != NULL)
        sscanf(k + 18, "%63s", r->kind);
    const char *acc = strstr(rep, "\nWRITE of size ");
    snprintf(r->verb, sizeof r->verb, acc ? "wrote" : "read");
    if (acc == NULL)
        acc = strstr(rep, "\nREAD of size ");
    if (acc != NULL)
        sscanf(strstr(acc, " of size "), " of size %lu", &r->size);
    else
        acc = k; // no access: the stack follows the headline
    if (acc != NULL)
        pick_frame(stack_after(acc + 1, "\n"), &r->at);
    // A libc function that the runtime intercepts made the access.
    const char *top = acc ? strstr(acc, "#0 ") : NULL, *in;
    if (top != NULL && (in = strstr(top, " in __")) != NULL &&
        in < strchrnul(top, '\n')) {
        if (strncmp(in + 4, "__interceptor_", 14) == 0)
            sscanf(in + 18, "%31s", r->via);
        else if (strncmp(in + 4, "__asan_mem", 10) == 0)
            sscanf(in + 11, "%31s", r->via); // __asan_memcpy
    }
    pick_frame(stack_after(rep, "allocated by thread"), &r->alloc);
    pick_frame(stack_after(rep, "freed by thread"), &r->freed);
    read_region(rep, r);
}

// The global a buffer overflow hit, quoted: 'table', or "text" for a
// string literal ('*.LC6' is ascii string 'text'); its size in r->region.
static void
global_variable(const char *rep, struct asan_report *r, char *name, size_t size)
{
    char bare[80];
    quoted(rep, "global variable", bare, sizeof bare);
    snprintf(name, size, "'%s'", bare);
    const char *g = strstr(rep, "global variable"), *eol;
    if (g == NULL)
        return;
    eol = strchrnul(g, '\n');
    const char *of = strstr(g, ") of size ");
    if (of != NULL && of < eol)
        r->region = strtoul(of + 10, NULL, 10);
    if (strncmp(bare, "*.LC", 4) == 0 && *eol == '\n') {
        const char *a = strstr(eol, "is ascii string '");
        if (a != NULL && a < strchrnul(eol + 1, '\n')) {
            quoted(a, "is ascii string", bare, sizeof bare);
            snprintf(name, size, "\"%s\"", bare);
        }
    }
}

// The name of the local array a stack overflow hit: on the line that ends
// "<== Memory access at offset N overflows this variable".
static void
stack_variable(const char *rep, struct asan_report *r, char *name, size_t size)
{
    const char *arrow = strstr(rep, "<== Memory access"), *line = arrow;
    snprintf(name, size, "?");
    if (arrow == NULL)
        return;
    while (line > rep && line[-1] != '\n')
        line--;
    char bare[80];
    quoted(line, "[", bare, sizeof bare);
    snprintf(name, size, "'%s'", bare);
    unsigned long from, to; // "[32, 62) 'tiny'": the array's bytes
    const char *b = strchr(line, '[');
    if (b != NULL && b < arrow && sscanf(b, "[%lu, %lu)", &from, &to) == 2 &&
        to > from)
        r->region = to - from;
    const char *eol = strchrnul(arrow, '\n'), *u = strstr(arrow, "underflows");
    r->side = u != NULL && u < eol ? "before the start of" : "past the end of";
}

// "3 bytes " for "wrote 1 byte 3 bytes past the end of"
static const char *
at_offset(const struct asan_report *r)
{
    static char buf[40];
    snprintf(buf, sizeof buf, "%lu byte%s ", r->offset,
             r->offset == 1 ? "" : "s");
    return buf;
}

static void
describe_asan(const char *rep, char *out, size_t size)
{
    struct asan_report r;
    read_asan(rep, &r);
    const char *s = r.size == 1 ? "" : "s";
    char name[96];
    if (strcmp(r.kind, "heap-buffer-overflow") == 0 && r.via[0])
        snprintf(out, size,
                 "a %s of %lu byte%s %s %s the %lu-byte buffer allocated at "
                 "%s (in %s, %s)",
                 r.via, r.size, s, r.verb,
                 r.side[0] == 'i' ? "outside" : r.side, r.region, r.alloc.loc,
                 r.at.func, r.at.loc);
    else if (strcmp(r.kind, "heap-buffer-overflow") == 0)
        snprintf(out, size,
                 "%s %lu byte%s %s%s the %lu-byte buffer allocated at %s "
                 "(in %s, %s)%s",
                 r.verb, r.size, s, r.offset ? at_offset(&r) : "", r.side,
                 r.region, r.alloc.loc, r.at.func, r.at.loc,
                 r.offset == 0 && r.side[0] == 'p' ? ": off by one?" : "");
    else if (strcmp(r.kind, "heap-use-after-free") == 0)
        snprintf(out, size,
                 "%s %lu byte%s of memory that was freed at %s (use after "
                 "free, in %s, %s); it was allocated at %s",
                 r.verb, r.size, s, r.freed.loc, r.at.func, r.at.loc,
                 r.alloc.loc);
    else if (strcmp(r.kind, "double-free") == 0)
        snprintf(out, size,
                 "freed the same memory twice (double free, in %s, %s); it "
                 "was freed first at %s and allocated at %s",
                 r.at.func, r.at.loc, r.freed.loc, r.alloc.loc);
    else if (strcmp(r.kind, "free") == 0)
        snprintf(out, size,
                 "freed a pointer that malloc never returned (in %s, %s)",
                 r.at.func, r.at.loc);
    else if (strncmp(r.kind, "stack-buffer-", 13) == 0 ||
             strcmp(r.kind, "global-buffer-overflow") == 0) {
        int local = r.kind[0] == 's';
        if (local)
            stack_variable(rep, &r, name, sizeof name);
        else
            global_variable(rep, &r, name, sizeof name);
        char whole[48] = "";
        if (r.region > 0)
            snprintf(whole, sizeof whole, "%lu-byte ", r.region);
        const char *what = local            ? "local array"
                           : name[0] == '"' ? "string literal"
                                            : "global";
        if (r.via[0])
            snprintf(out, size,
                     "a %s of %lu byte%s %s %s the %s%s %s (in %s, %s)", r.via,
                     r.size, s, r.verb, r.side, whole, what, name, r.at.func,
                     r.at.loc);
        else
            snprintf(out, size, "%s %lu byte%s %s the %s%s %s (in %s, %s)",
                     r.verb, r.size, s, r.side, whole, what, name, r.at.func,
                     r.at.loc);
    } else if (strcmp(r.kind, "stack-use-after-scope") == 0 ||
               strcmp(r.kind, "stack-use-after-return") == 0)
        snprintf(out, size,
                 "%s a local variable after its block or function ended "
                 "(%s, in %s, %s)",
                 r.verb[0] == 'w' ? "wrote to" : "read", r.kind, r.at.func,
                 r.at.loc);
    else
        snprintf(out, size, "AddressSanitizer found a %s (in %s, %s)",
                 r.kind[0] ? r.kind : "memory error",
                 r.at.func[0] ? r.at.func : "?",
                 r.at.loc[0] ? r.at.loc : "see its report on stderr");
}

static void
on_asan_report(const char *rep)
{
    char s[SENTENCE];
    describe_asan(rep, s, sizeof s - 24);
    strcat(s, " (AddressSanitizer).");
    post(s);
}

// A report before fl_san_setup (the lesson's setup registers targets
// with the student's code before any test) is read too: to stderr.
__attribute__((constructor)) static void
hook_reports_early(void)
{
    if (__asan_set_error_report_callback != NULL)
        __asan_set_error_report_callback(on_asan_report);
}

// A runtime stopped this process without a report we read (a CHECK such
// as mmap_limit_mb, or LSan unable to run).
static void
on_death(void)
{
    if (reported == getpid())
        return;
    post("a sanitizer runtime stopped the process (exit status " STR(
        FL_SAN_EXIT) ") without a report the harness could read: see "
                     "stderr; 'mmap_limit_mb' there means it allocated more "
                     "than 1 GiB.");
}

/* ---------------------------------------------------------------- UBSan */

void
__ubsan_on_report(void)
{
    if (__ubsan_get_current_report_data == NULL)
        return;
    const char *kind = "", *msg = "", *file = "?";
    unsigned line = 0, col = 0;
    char *addr = NULL, s[SENTENCE], expr[128] = "", type[64] = "";
    __ubsan_get_current_report_data(&kind, &msg, &file, &line, &col, &addr);
    const char *mine = student_path(file, file + strlen(file));
    if (mine != NULL)
        file = mine;
    // "signed integer overflow: 2147483647 + 1 cannot be represented in
    // type 'int'" (the runtime may capitalise the first letter)
    const char *ovf = strstr(msg, "igned integer overflow: ");
    if (ovf != NULL &&
        sscanf(ovf,
               "igned integer overflow: %127[^c]cannot be represented "
               "in type '%63[^']'",
               expr, type) == 2) {
        size_t len = strlen(expr);
        if (len > 0 && expr[len - 1] == ' ') // the space before "cannot"
            expr[len - 1] = '\0';
        snprintf(s, sizeof s,
                 "a signed integer overflow at %s:%u: %s cannot hold %s "
                 "(UBSan).",
                 file, line, type, expr);
    } else {
        snprintf(s, sizeof s, "undefined behaviour at %s:%u: %s (UBSan: %s).",
                 file, line, msg, kind);
    }
    post(s);
}

/* ---------------------------------------------------------------- leaks */

static char leak_text[65536]; // one LSan report, read back from a memfd

// Run LSan with its report captured into leak_text; return 1 if it found
// leaks, 0 if none, -1 if it could not run.
static int
capture_leak_check(void)
{
    if (__lsan_do_recoverable_leak_check == NULL ||
        __sanitizer_set_report_fd == NULL)
        return -1;
    // LSan's tracer is one more task and one more descriptor: if either is
    // refused the runtime dies, so make sure of both first.
    struct rlimit np, raised;
    getrlimit(RLIMIT_NPROC, &np);
    raised = np;
    raised.rlim_cur = raised.rlim_max;
    setrlimit(RLIMIT_NPROC, &raised);
    int fd = memfd_create("fl-lsan", MFD_CLOEXEC), spare = -1;
    if (fd >= 0 && (spare = dup(fd)) >= 0)
        close(spare);
    int leaked = -1;
    if (spare >= 0) {
        __sanitizer_set_report_fd((void *)(long)fd);
        leaked = __lsan_do_recoverable_leak_check() != 0;
        __sanitizer_set_report_fd((void *)(long)STDERR_FILENO);
        ssize_t n = pread(fd, leak_text, sizeof leak_text - 1, 0);
        leak_text[n > 0 ? n : 0] = '\0';
    }
    if (fd >= 0)
        close(fd);
    setrlimit(RLIMIT_NPROC, &np);
    return leaked;
}

// One sentence for the leaks in leak_text that the student's code
// allocated; 0 if there are none.
static int
describe_leaks(char *out, size_t size)
{
    unsigned long bytes, objs, total = 0, count = 0, first = 0;
    struct frame f, at = {"", ""};
    for (const char *p = leak_text; (p = strstr(p, " leak of ")) != NULL; p++) {
        if (sscanf(p, " leak of %lu byte(s) in %lu", &bytes, &objs) != 2 ||
            pick_frame(stack_after(p, "\n"), &f) != 2)
            continue;
        if (count++ == 0) {
            at = f;
            first = bytes;
        }
        total += bytes;
    }
    if (count == 0)
        return 0;
    int n = snprintf(out, size, "leaked %lu byte%s allocated at %s (in %s)",
                     first, first == 1 ? "" : "s", at.loc, at.func);
    if (count > 1 && n > 0 && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n,
                      "; %lu leaks, %lu bytes in all", count, total);
    if (n > 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n,
                 "%s: free what you allocate, on every path (LeakSanitizer).",
                 area->test_pid == getpid() ? "" : " before it exited");
    return 1;
}

static void
check_leaks(void)
{
    char s[SENTENCE];
    if (area->leak_checks && capture_leak_check() == 1 &&
        describe_leaks(s, sizeof s))
        post(s);
}

// Leak checks stop the world with ptrace; a sandbox may refuse it, and
// then LSan ends the process.  Ask once, before any test, the way LSan
// will: a task of ours attaches to this process (named with
// PR_SET_PTRACER, for Yama).  A whole leak check would answer too, but it
// scans every library's data (libubsan alone has 6 MB), some 30 ms here.
static int
probe_leak_checks(void)
{
    int go[2], st;
    if (__lsan_do_recoverable_leak_check == NULL || pipe(go) < 0)
        return 0;
    prctl(PR_SET_DUMPABLE, 1); // as the test process will be
    pid_t me = getpid();
    fflush(NULL);
    pid_t tracer = fork();
    if (tracer == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 1 ||
            ptrace(PTRACE_ATTACH, me, NULL, NULL) < 0)
            _exit(1);
        while (waitpid(me, &st, __WALL) < 0 && errno == EINTR)
            ;
        _exit(ptrace(PTRACE_DETACH, me, NULL, NULL) < 0);
    }
    close(go[0]);
    if (tracer > 0) {
        prctl(PR_SET_PTRACER, tracer); // fails harmlessly without Yama
        if (write(go[1], "x", 1) != 1)
            kill(tracer, SIGKILL);
    }
    close(go[1]);
    int ok = 0;
    while (tracer > 0 && waitpid(tracer, &st, 0) < 0 && errno == EINTR)
        ;
    if (tracer > 0)
        ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    prctl(PR_SET_PTRACER, 0);
    return ok;
}

/* ------------------------------------------------------- the harness's */

// The heap's size when this process was forked, and when the test began:
// a process whose heap has not grown since made nothing it could leak, and
// is spared a leak check (each scans every library's data, some 12 MB, and
// costs the sanitizer pass a third of its time).  It could only have lost
// a block made before, freeing one as large: in a child, a block of its
// parent's; in the test process, one of Check's or the harness's, which
// the code under test never frees.
static pid_t forked;
static size_t heap_at_fork, heap_at_begin;

static size_t
heap_now(void)
{
    return __sanitizer_get_current_allocated_bytes != NULL
               ? __sanitizer_get_current_allocated_bytes()
               : 0;
}

// Whether the heap grew since it was `then` bytes (or cannot be told).
static int
heap_grew_since(size_t then)
{
    size_t now = heap_now();
    return now == 0 || now > then;
}

static void
after_fork_in_child(void)
{
    forked = getpid();
    heap_at_fork = heap_now();
}

void
fl_san_setup(void)
{
    if (!fl_san_active() || area != NULL)
        return;
    void *m = mmap(NULL, sizeof *area, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return;
    area = m;
    if (__asan_set_error_report_callback != NULL)
        __asan_set_error_report_callback(on_asan_report);
    if (__sanitizer_set_death_callback != NULL)
        __sanitizer_set_death_callback(on_death);
    pthread_atfork(NULL, NULL, after_fork_in_child);
    int ok = probe_leak_checks();
    memset(area, 0, sizeof *area); // whatever the probe may have posted
    area->leak_checks = ok;
    if (!ok && __lsan_do_recoverable_leak_check != NULL)
        fprintf(stderr, "sanitize: leak checks are off: LeakSanitizer "
                        "cannot stop the world here (ptrace refused)\n");
}

void
fl_san_begin(void)
{
    if (area == NULL)
        return;
    int ok = area->leak_checks;
    memset(area, 0, sizeof *area);
    area->leak_checks = ok;
    area->test_pid = getpid();
    heap_at_begin = heap_now();
}

// The undelivered sentences, with a count of those not kept; NULL if none.
static const char *
undelivered(char *buf, size_t size)
{
    if (area == NULL || area->reports == area->shown_n)
        return NULL;
    size_t used = area->used < AREA_TEXT ? area->used : AREA_TEXT - 1;
    size_t from = area->shown < used ? area->shown : used;
    copy_span(buf, size, area->text + from, area->text + used);
    size_t len = strlen(buf);
    if (area->reports > KEEP && area->shown_n < KEEP && len < size)
        snprintf(buf + len, size - len, "(and %u more sanitizer reports) ",
                 area->reports - KEEP);
    return buf;
}

void
fl_san_end(char *msg, size_t size)
{
    if (area == NULL || getpid() != area->test_pid)
        return;
    if (heap_grew_since(heap_at_begin))
        check_leaks();
    char buf[AREA_TEXT + 64];
    if (undelivered(buf, sizeof buf) == NULL)
        return;
    size_t len = strlen(msg);
    if (len + 1 < size)
        snprintf(msg + len, size - len, "%s", buf);
    area->shown = area->used;
    area->shown_n = area->reports;
}

const char *
fl_san_message(void)
{
    static char buf[AREA_TEXT + 64];
    return undelivered(buf, sizeof buf);
}

int
fl_san_explain(const char *ck, char *out, size_t size)
{
    const char *san = fl_san_message();
    int v = 0, early = sscanf(ck, "Early exit with return value %d", &v) == 1 &&
                       v == FL_SAN_EXIT;
    if (san == NULL && !early)
        return 0;
    if (san == NULL)
        snprintf(out, size,
                 "A sanitizer stopped the test process (exit status %d) "
                 "without a report the harness could read: see the test "
                 "program's stderr.",
                 FL_SAN_EXIT);
    else if (early)
        snprintf(out, size, "%s", san);
    else
        snprintf(out, size, "%sThen: %s", san, ck);
    return 1;
}

void
fl_san_child_exit(void)
{
    if (area == NULL || area->test_pid == 0 || getpid() == area->test_pid)
        return;
    if (forked != getpid() || heap_grew_since(heap_at_fork))
        check_leaks();
}
