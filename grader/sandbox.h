// sandbox.h - run one untrusted program, contained, and clean up after it.
#ifndef FORKLINGS_SANDBOX_H
#define FORKLINGS_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

/// What to run and within which limits.
typedef struct {
    char *const *argv;   ///< program and arguments (argv[0] is a path)
    char *const *envp;   ///< the whole environment of the program
    const char *cwd;     ///< working directory
    int wall_ms;         ///< wall-clock limit
    int untrusted;       ///< 1: drop to the sandbox uid (as root), tight
                         ///< rlimits, verdict channel on fd 3
    const char *prefix;  ///< the run's IPC prefix, removed afterwards
    size_t out_cap;      ///< bytes of stdout+stderr kept
} sb_spec;

/// What happened.
typedef struct {
    int exited;          ///< 1: exited (status), 0: killed (status = signal)
    int status;
    int timed_out;       ///< killed at the wall-clock limit
    char *out;           ///< captured stdout and stderr, NUL-terminated
    size_t out_len;
    size_t out_dropped;  ///< bytes beyond out_cap, read and dropped
    char *verdicts;      ///< what arrived on fd 3, NUL-terminated
    int leftovers;       ///< processes killed after the program ended
} sb_result;

/// Sandbox uids for graders running as root: one per grader at a time, so
/// at most this many graders run at once on a machine.
#define SB_UID_SLOTS 200

/// Become a subreaper; as root, claim an unused sandbox uid.  Call once.
/// Returns 0, or -1 with a message on stderr.
int sb_init(void);

/// The uid untrusted programs run as (the grader's own when not root).
uid_t sb_uid(void);

/// Run spec contained; fill res (free with sb_free).  Returns 0, or -1 if
/// the program could not be started at all.
int sb_run(const sb_spec *spec, sb_result *res);

void sb_free(sb_result *res);

/// Make a fresh private directory in /tmp; for_sandbox: one that the
/// sandbox uid owns and may write.  Returns a malloc'd path or NULL.
char *sb_mkdtemp(const char *tag, int for_sandbox);

/// Remove a directory tree, whatever its permissions.
void sb_rmtree(const char *path);

/// Release the sandbox uid and kill anything still running.
void sb_finish(void);

#endif
