// sandbox.h - run one untrusted program, contained, and clean up after it.
#ifndef FORKLINGS_SANDBOX_H
#define FORKLINGS_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

/// How runs are contained, the strongest the machine allows.
typedef enum {
    SB_USER, ///< not root: the student's own uid, rlimits, a wall clock
    SB_UID,  ///< root: a sandbox uid of its own, rlimits, a wall clock
    SB_NS,   ///< root: SB_UID in namespaces (mount, PID, IPC, network)
} sb_mode;

/// Who runs a program.
typedef enum {
    SB_TRUSTED, ///< the grader's own tools on the course's files
    SB_BUILD,   ///< a compiler or linker on the submission: the sandbox
    SB_TEST,    ///< a test program with the submission's code: the sandbox
} sb_kind;

/// What to run and within which limits.
typedef struct {
    char *const *argv; ///< argv[0]: on PATH, or a path under bind
    char *const *envp; ///< the environment (SB_TEST: HOME and TMPDIR
                       ///< are added, naming the run's private dir)
    sb_kind kind;
    const char *bind;   ///< a directory of the run's files; in SB_NS it
                        ///< is all the run sees of the grader's files
    const char *cwd;    ///< working directory, under bind; NULL (SB_TEST):
                        ///< a fresh private directory
    int wall_ms;        ///< wall-clock limit
    int verdicts;       ///< 1: a pipe on FL_RESULT_FD, into res->verdicts
    int sanitized;      ///< built with ASan: no address-space limit (its
                        ///< shadow needs terabytes); the cgroup and the
                        ///< sanitizer's own caps bound its memory
    const char *prefix; ///< the run's IPC prefix (SB_TEST)
    size_t out_cap;     ///< bytes of stdout+stderr kept
} sb_spec;

/// What happened.
typedef struct {
    int exited; ///< 1: exited (status), 0: killed (status = signal)
    int status;
    int timed_out; ///< killed at the wall-clock limit
    char *out;     ///< captured stdout and stderr, NUL-terminated
    size_t out_len;
    size_t out_dropped; ///< bytes beyond out_cap, read and dropped
    char *verdicts;     ///< what arrived on FL_RESULT_FD, NUL-terminated
    int leftovers;      ///< processes killed after the program ended
} sb_result;

/// Sandbox uids for graders running as root: one per grader at a time, so
/// at most this many graders run at once on a machine.
#define SB_UID_SLOTS 200

/// Become a subreaper; as root, claim a sandbox uid, try namespaces and a
/// cgroup.  FORKLINGS_SANDBOX=uid skips the namespaces.  Call once.
/// Returns 0, or -1 with a message on stderr.
int sb_init(void);

/// The mode in force, and a sentence for reports saying what it means.
sb_mode sb_get_mode(void);
const char *sb_mode_name(void);
const char *sb_mode_text(void);

/// The uid untrusted programs run as (the grader's own when not root).
uid_t sb_uid(void);

/// Run spec contained; fill res (free with sb_free).  Returns 0, or -1 if
/// the program could not be started at all.
int sb_run(const sb_spec *spec, sb_result *res);

void sb_free(sb_result *res);

/// Run fn(arg) in a child as the sandbox uid, with the sandbox's limits;
/// return its result (0..125), or -1 if it crashed or could not start.
int sb_call(int (*fn)(void *), void *arg);

/// A fresh directory in TMPDIR (or /tmp) for the grader, mode 0750, with
/// the sandbox uid's group: the sandbox may read it, nobody else may.
/// Returns a malloc'd path or NULL.
char *sb_workdir(void);

/// Make dir (inside a workdir) owned by the sandbox uid, mode 0700.
int sb_give(const char *dir);

/// Remove a tree without following links; trees the sandbox may have
/// written (as_sandbox) are removed as the sandbox uid.
void sb_rmtree(const char *path, int as_sandbox);

/// Kill and reap every process the runs started.
void sb_kill_all(void);

/// Release the sandbox uid and cgroup; kill anything still running.
void sb_finish(void);

#endif
