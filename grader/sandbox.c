// sandbox.c - containment for untrusted compilers and test programs.
//
// The grader runs code written by people who are learning to fork, and now
// and then by people trying to cheat, so it meets fork bombs, infinite
// loops, daemons that setsid away, output floods, programs that kill every
// process they can, and code that reads or plants files.  Each run here:
//
//   - starts in its own process group with rlimits on CPU, address space,
//     file size, open files, core files and processes, no new privileges,
//     and a wall clock; the grader is a subreaper, so orphans and setsid
//     daemons become its children and are killed and reaped afterwards;
//   - as root, runs under a sandbox uid of its own (claimed in a directory
//     only root can write), in a cgroup that caps the whole submission's
//     memory, processes and CPU share; and where the kernel allows it
//     (SB_NS), in namespaces of its own: PID (kill(-1) and /proc see only
//     the run; when its init ends, everything in it ends), IPC (SysV and
//     POSIX queues), network (loopback only), and mount: a root made of
//     read-only /usr and /etc, a few devices, size-capped tmpfs on /tmp,
//     /var/tmp and /dev/shm, and the one directory of the run's files;
//   - without namespaces, ends with a sweep of what the run left: as root,
//     everything the sandbox uid owns in the shared temporary directories
//     and SysV IPC, removed by a child that is the sandbox uid (so no link
//     it planted can steer root); without root, only names that carry the
//     run's prefix, since the student's other files are the student's.
//
// What it trades: without root there is no second uid, so a program that
// calls kill(-1, SIGKILL) can reach the student's own processes, and files
// the student owns cannot be protected from the student's code.  The README
// lists these honest limits, and every report names the mode it graded in.
#define _GNU_SOURCE
#include "sandbox.h"

#include "contract.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UID_BASE 61000 // sandbox uids: UID_BASE .. UID_BASE + UID_SLOTS - 1
#define UID_SLOTS SB_UID_SLOTS
#define CLAIM_DIR "/run/forklings" // root only: who holds which uid
#define NPROC_MARGIN 256
#define VERDICT_CAP 65536
#define CG_ROOT "/sys/fs/cgroup"
#define CG_MEMORY "1073741824" // a submission's memory, all its runs
#define CG_PIDS "768"          // a submission's processes at once

static sb_mode mode = SB_USER;
static uid_t run_uid;    // who untrusted code runs as
static int lock_fd = -1; // held while we own run_uid
static int held_fd = -1; // locked while our workdir is in use
static char lock_path[64];
static char tmp_base[512] = "/tmp"; // TMPDIR: where workdirs go
static char root_dir[600];          // SB_NS: an empty mount point for the root
static char work_dir[600];          // the grader's workdir, once made
static int net_fd = -1;             // SB_NS: the network every run joins
static char cgroups[4][128];        // the cgroup directories we made
static int ncgroups;
static char why_not_ns[160]; // why SB_NS was not used, for the report

/* ------------------------------------------------------------- helpers */

static long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

// Parse /proc/PID/status for the real uid; -1 if the process is gone.
static long
uid_of(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return -1;
    long uid = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "Uid: %ld", &uid) == 1)
            break;
    fclose(f);
    return uid;
}

// Read a small file (from /proc or /sys) into buf as a string; its
// length, or -1 if it could not be read or was empty.
static ssize_t
read_text(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return n;
}

static pid_t
ppid_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_text(path, buf, sizeof buf) < 0)
        return -1;
    char *p = strrchr(buf, ')'); // the command may hold ')' and spaces
    int ppid;
    return p != NULL && sscanf(p + 1, " %*c %d", &ppid) == 1 ? ppid : -1;
}

// Whether pid is a process that has not ended: a zombie has (a grader
// killed by SIGKILL stays one until its parent reaps it).
static int
running(pid_t pid)
{
    char path[64], buf[512], state = 'X';
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_text(path, buf, sizeof buf) < 0)
        return 0;
    char *p = strrchr(buf, ')');
    return p != NULL && sscanf(p + 1, " %c", &state) == 1 && state != 'Z' &&
           state != 'X';
}

// Call fn(pid, ctx) for every process; stop early when fn returns nonzero.
static void
each_process(int (*fn)(pid_t, void *), void *ctx)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (isdigit((unsigned char)e->d_name[0]) &&
            fn((pid_t)atoi(e->d_name), ctx))
            break;
    closedir(d);
}

static int
count_uid(pid_t pid, void *ctx)
{
    long *c = ctx; // c[0]: the uid, c[1]: the count of its tasks
    if (uid_of(pid) != c[0])
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        c[1] += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    return 0;
}

// The number of tasks (threads count: RLIMIT_NPROC counts them) of uid.
static long
tasks_of(uid_t uid)
{
    long c[2] = {(long)uid, 0};
    each_process(count_uid, c);
    return c[1];
}

static int
write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* ----------------------------------------------------------- the uid */

// The claims directory: root's alone, or nobody may trust what is in it.
static int
claim_dir(void)
{
    struct stat st;
    if (mkdir(CLAIM_DIR, 0700) < 0 && errno != EEXIST)
        return -1;
    if (lstat(CLAIM_DIR, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 ||
        (st.st_mode & 022) != 0) {
        fprintf(stderr,
                "grader: %s must be a directory only root can "
                "write\n",
                CLAIM_DIR);
        return -1;
    }
    return 0;
}

// As root, claim a uid in the sandbox range that no grader holds and no
// process uses; the lock file keeps concurrent graders apart.
static int
claim_uid(void)
{
    if (claim_dir() < 0)
        return -1;
    for (int i = 0; i < UID_SLOTS; i++) {
        uid_t uid = UID_BASE + (uid_t)i;
        snprintf(lock_path, sizeof lock_path, CLAIM_DIR "/uid-%u.lock",
                 (unsigned)uid);
        int fd =
            open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && tasks_of(uid) == 0) {
            lock_fd = fd;
            run_uid = uid;
            return 0;
        }
        close(fd);
    }
    fprintf(stderr, "grader: no free sandbox uid in %d..%d\n", UID_BASE,
            UID_BASE + UID_SLOTS - 1);
    return -1;
}

/* -------------------------------------------------------- the cgroup */

// One cgroup per grader (so per submission): its runs share a memory cap,
// a process cap, and one share of the CPU among all the graders.  cgroup
// v1 keeps a hierarchy per controller; v2 one for all.
static int
cgroup_make(const char *hier, const char *file, const char *value)
{
    char dir[128], path[192];
    snprintf(dir, sizeof dir, CG_ROOT "%s/forklings", hier);
    mkdir(dir, 0755);
    snprintf(dir, sizeof dir, CG_ROOT "%s/forklings/g%d", hier, (int)getpid());
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -1;
    snprintf(cgroups[ncgroups++], sizeof cgroups[0], "%s", dir);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return value == NULL ? 0 : write_file(path, value);
}

// SIGKILL to every task of the group dir until it has none (or a bound).
// A task cannot leave the group (its files are root's), so each pid read
// there is one of the dead grader's runs, and cannot have been reused.
static void
cgroup_kill_tasks(const char *dir)
{
    char path[480], buf[4096];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    for (int round = 0; round < 100; round++) {
        ssize_t n = read_text(path, buf, sizeof buf);
        if (n <= 0)
            return;
        for (char *p = buf; *p != '\0';) {
            char *end;
            long pid = strtol(p, &end, 10);
            if (end == p)
                break;
            if (pid > 1)
                kill((pid_t)pid, SIGKILL);
            p = end + (*end == '\n');
        }
        struct timespec ms = {0, 1000000}; // let SIGKILL land, then reread
        nanosleep(&ms, NULL);
    }
}

// Remove the groups of graders that died without removing their own, and
// end what their runs left running (a grader killed by SIGKILL: its runs
// without namespaces do not die with it).
static void
cgroup_tidy(const char *hier)
{
    char dir[128], sub[400];
    snprintf(dir, sizeof dir, CG_ROOT "%s/forklings", hier);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        int pid = e->d_name[0] == 'g' ? atoi(e->d_name + 1) : 0;
        if (pid > 0 && !running(pid)) {
            snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
            // Its zombies may keep it a while (the machine's init reaps
            // them): a later grader removes it then.
            if (rmdir(sub) < 0 && errno == EBUSY) {
                cgroup_kill_tasks(sub);
                rmdir(sub);
            }
        }
    }
    if (d != NULL)
        closedir(d);
}

// The dead graders' groups, before a uid is claimed: a uid whose tasks
// were left running is free again once they are gone.
static void
cgroup_tidy_all(void)
{
    struct stat st;
    if (stat(CG_ROOT "/pids", &st) == 0) { // v1
        cgroup_tidy("/pids");
        cgroup_tidy("/memory");
        cgroup_tidy("/cpu");
    } else if (stat(CG_ROOT "/cgroup.controllers", &st) == 0) {
        cgroup_tidy("");
    }
}

static int
cgroup_init(void)
{
    struct stat st;
    if (stat(CG_ROOT "/pids", &st) == 0) { // v1
        if (cgroup_make("/pids", "pids.max", CG_PIDS) == 0 &&
            cgroup_make("/memory", "memory.limit_in_bytes", CG_MEMORY) == 0 &&
            cgroup_make("/cpu", "cpu.shares", "1024") == 0)
            return 0;
    } else if (stat(CG_ROOT "/cgroup.controllers", &st) == 0) { // v2
        char path[200];
        write_file(CG_ROOT "/forklings/cgroup.subtree_control",
                   "+pids +memory +cpu");
        if (cgroup_make("", "pids.max", CG_PIDS) == 0) {
            snprintf(path, sizeof path, "%s/memory.max", cgroups[0]);
            if (write_file(path, CG_MEMORY) == 0)
                return 0;
        }
    }
    for (int i = ncgroups - 1; i >= 0; i--)
        rmdir(cgroups[i]);
    ncgroups = 0;
    return -1;
}

// Put the calling process (and so all it will start) in our cgroup.
static void
cgroup_join(void)
{
    char path[200], pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    for (int i = 0; i < ncgroups; i++) {
        snprintf(path, sizeof path, "%s/cgroup.procs", cgroups[i]);
        write_file(path, pid);
    }
}

// How many tasks our cgroup holds (pids.current), or -1 without one.  No
// process of a run can leave the cgroup (its files are root's), so when
// it is empty, nothing of the runs is left, and no scan of /proc is due.
static long
cgroup_tasks(void)
{
    char path[200], buf[32];
    if (ncgroups == 0)
        return -1;
    snprintf(path, sizeof path, "%s/pids.current", cgroups[0]);
    return read_text(path, buf, sizeof buf) < 0 ? -1 : atol(buf);
}

static void
cgroup_finish(void)
{
    for (int i = ncgroups - 1; i >= 0; i--)
        for (int tries = 0;
             rmdir(cgroups[i]) < 0 && errno == EBUSY && tries < 200; tries++) {
            struct timespec ms = {0, 5000000}; // the last exits land
            nanosleep(&ms, NULL);
        }
    ncgroups = 0;
}

/* ----------------------------------------------------- the namespaces */

static int
mkdirs(const char *root, const char *sub, mode_t m)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, sub);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    return mkdir(path, m) < 0 && errno != EEXIST ? -1 : 0;
}

// Show host directory src at root/dst, read-only unless rw.
static int
mount_bind(const char *root, const char *src, const char *dst, int rw)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, dst);
    if (mkdirs(root, dst, 0755) < 0 ||
        mount(src, path, NULL, MS_BIND | MS_REC, NULL) < 0)
        return -1;
    unsigned long f = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV;
    return mount(NULL, path, NULL, f | (rw ? 0 : MS_RDONLY), NULL);
}

static int
fresh(const char *root, const char *dst, const char *fs, const char *opts)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, dst);
    if (mkdirs(root, dst, 0755) < 0)
        return -1;
    return mount(fs, path, fs, MS_NOSUID | MS_NODEV, opts);
}

// A device node of the host, bound onto a file in the new /dev.
static int
device(const char *root, const char *name)
{
    char path[1024], src[64];
    snprintf(path, sizeof path, "%s/dev/%s", root, name);
    snprintf(src, sizeof src, "/dev/%s", name);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    close(fd);
    return mount(src, path, NULL, MS_BIND, NULL);
}

// /bin, /lib...: a link on a merged-/usr system, else a read-only bind.
static int
top_dir(const char *root, const char *name)
{
    char src[64], path[1024], target[256];
    struct stat st;
    snprintf(src, sizeof src, "/%s", name);
    if (lstat(src, &st) < 0)
        return 0;
    if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlink(src, target, sizeof target - 1);
        if (n < 0)
            return -1;
        target[n] = '\0';
        snprintf(path, sizeof path, "%s/%s", root, name);
        return symlink(target, path);
    }
    return S_ISDIR(st.st_mode) ? mount_bind(root, src, name, 0) : 0;
}

static int
loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    int ok = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 &&
             (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) == 0);
    if (s >= 0)
        close(s);
    return ok ? 0 : -1;
}

// In the run's init (PID 1 of new namespaces): build its root and enter
// it.  The run sees /usr and /etc read-only, its own /tmp, /var/tmp,
// /dev/shm, /dev/mqueue and /proc, and bind at the same path as outside.
static int
enter_root(const char *bind_dir, int rw)
{
    const char *r = root_dir;
    static const char *tops[] = {"bin",   "sbin",  "lib",
                                 "lib32", "lib64", "libx32"};
    static const char *devs[] = {"null", "zero", "full", "random", "urandom"};
    char path[1024];
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("forklings", r, "tmpfs", MS_NOSUID | MS_NODEV,
              "size=1m,mode=0755") < 0 ||
        mount_bind(r, "/usr", "usr", 0) < 0 ||
        mount_bind(r, "/etc", "etc", 0) < 0)
        return -1;
    for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++)
        if (top_dir(r, tops[i]) < 0)
            return -1;
    if (fresh(r, "dev", "tmpfs", "size=64k,mode=0755") < 0)
        return -1;
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++)
        if (device(r, devs[i]) < 0)
            return -1;
    snprintf(path, sizeof path, "%s/dev/fd", r);
    if (symlink("/proc/self/fd", path) < 0 ||
        fresh(r, "dev/shm", "tmpfs", "size=64m,mode=1777") < 0 ||
        fresh(r, "dev/mqueue", "mqueue", NULL) < 0 ||
        fresh(r, "tmp", "tmpfs", "size=64m,mode=1777") < 0 ||
        fresh(r, "var/tmp", "tmpfs", "size=16m,mode=1777") < 0 ||
        fresh(r, "proc", "proc", NULL) < 0 ||
        (bind_dir != NULL && mount_bind(r, bind_dir, bind_dir + 1, rw) < 0))
        return -1;
    mount_bind(r, "/sys/devices/system/cpu", "sys/devices/system/cpu", 0);
    if (chdir(r) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
        umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        return -1;
    mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, NULL);
    sethostname("forklings", 9);
    return loopback_up();
}

// Whether namespaces work here: try them in a child that builds a root.
static int
probe_namespaces(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID |
                    CLONE_NEWUTS) < 0)
            _exit(1);
        pid_t init = fork();
        if (init == 0)
            _exit(enter_root(NULL, 0) < 0 ? 2 : 0);
        int st;
        while (waitpid(init, &st, 0) < 0 && errno == EINTR)
            ;
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 3);
    }
    int st = 0;
    while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int code = pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 3;
    if (code != 0)
        snprintf(why_not_ns, sizeof why_not_ns, "%s",
                 code == 1 ? "the kernel refused new namespaces"
                           : "a private root could not be mounted");
    return code == 0 ? 0 : -1;
}

int
sb_init(void)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
        perror("grader: PR_SET_CHILD_SUBREAPER");
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    const char *t = getenv("TMPDIR");
    if (t != NULL && t[0] == '/')
        snprintf(tmp_base, sizeof tmp_base, "%s", t);
    run_uid = getuid();
    if (geteuid() != 0)
        return 0;
    mode = SB_UID;
    // The sandbox uid must reach its build directories under TMPDIR: a
    // TMPDIR only root may enter (/tmp/user/0, say) would fail them all.
    struct stat st;
    if (stat(tmp_base, &st) < 0 || !(st.st_mode & S_IXOTH))
        snprintf(tmp_base, sizeof tmp_base, "/tmp");
    cgroup_tidy_all();
    if (claim_uid() < 0)
        return -1;
    cgroup_init(); // without it, each process still has its rlimits
    const char *want = getenv("FORKLINGS_SANDBOX");
    if (want != NULL && strcmp(want, "uid") == 0)
        snprintf(why_not_ns, sizeof why_not_ns, "FORKLINGS_SANDBOX=uid");
    return 0;
}

// One network namespace, loopback alone, for all the runs of this grader
// (of one submission), kept by a descriptor: a new one a run cost about a
// millisecond to make and more to tear down, and no socket outlives its
// run, since no process does.  The grader steps in to make it and back.
static void
make_net(void)
{
    int host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (host < 0)
        return;
    if (unshare(CLONE_NEWNET) == 0) {
        if (loopback_up() == 0)
            net_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (setns(host, CLONE_NEWNET) < 0) {
            fprintf(stderr,
                    "grader: cannot return to the host's network: "
                    "%s\n",
                    strerror(errno));
            exit(2);
        }
    }
    close(host);
}

// Whether namespaces worked for a grader since the machine booted: the
// probe (a whole run's setup) is then spared, once a grader, some 8 ms.
// The note is root's, in the claims directory only root can write.
#define NS_NOTE CLAIM_DIR "/namespaces-work"

static int
boot_id(char *buf, size_t size)
{
    ssize_t n = read_text("/proc/sys/kernel/random/boot_id", buf, size);
    return n > 0 ? 0 : -1;
}

static int
namespaces_known(void)
{
    char now[64], noted[64];
    int fd = open(NS_NOTE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, noted, sizeof noted - 1);
    close(fd);
    if (n <= 0 || boot_id(now, sizeof now) < 0)
        return 0;
    noted[n] = '\0';
    return strcmp(noted, now) == 0;
}

static void
namespaces_remember(void)
{
    char now[64];
    if (namespaces_known() || boot_id(now, sizeof now) < 0)
        return;
    int fd = open(NS_NOTE ".new",
                  O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    int ok = write(fd, now, strlen(now)) == (ssize_t)strlen(now);
    if (close(fd) == 0 && ok)
        rename(NS_NOTE ".new", NS_NOTE);
}

// The namespaces need an empty directory to mount the run's root on: the
// grader's workdir holds one.
static void
set_root_dir(const char *workdir)
{
    snprintf(root_dir, sizeof root_dir, "%s/.root", workdir);
    if (mode != SB_UID || why_not_ns[0] != '\0' || mkdir(root_dir, 0700) < 0)
        return;
    if (namespaces_known() || probe_namespaces() == 0) {
        mode = SB_NS;
        make_net();
        namespaces_remember();
    }
}

sb_mode
sb_get_mode(void)
{
    return mode;
}

const char *
sb_mode_name(void)
{
    return mode == SB_NS ? "namespaces" : mode == SB_UID ? "uid" : "user";
}

const char *
sb_mode_text(void)
{
    static char text[400];
    if (mode == SB_NS) {
        snprintf(text, sizeof text,
                 "root: each build and test in its own PID, mount, IPC and "
                 "network namespaces, as a sandbox uid%s",
                 ncgroups ? ", the submission in a cgroup capping its "
                            "memory, processes and CPU share"
                          : "; no cgroup could be made, so rlimits cap "
                            "each process alone");
        return text;
    }
    if (mode == SB_UID) {
        snprintf(text, sizeof text,
                 "root without namespaces (%s): tests run as a sandbox uid "
                 "with rlimits%s; they see the machine's files that every "
                 "user may read",
                 why_not_ns[0] ? why_not_ns : "not available",
                 ncgroups ? ", in a cgroup" : "");
        return text;
    }
    return "not root: tests run as you with rlimits; code under test can "
           "reach your other processes and files (see the README's honest "
           "limits)";
}

uid_t
sb_uid(void)
{
    return run_uid;
}

/* ------------------------------------------------------------ killing */

static int
kill_my_child(pid_t pid, void *ctx)
{
    int *n = ctx;
    if (ppid_of(pid) == getpid()) {
        kill(pid, SIGKILL);
        (*n)++;
    }
    return 0;
}

struct marked {
    const char *needle; // "FORKLINGS_PREFIX=<prefix>"
    size_t len;
    int n;
};

// Without root, a process of this run is known by its environment.
static int
kill_marked(pid_t pid, void *ctx)
{
    struct marked *m = ctx;
    char path[64], buf[8192];
    if (pid == getpid() || uid_of(pid) != (long)run_uid)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t len = read(fd, buf, sizeof buf);
    close(fd);
    for (ssize_t i = 0; i + (ssize_t)m->len <= len; i++)
        if ((i == 0 || buf[i - 1] == '\0') &&
            memcmp(buf + i, m->needle, m->len) == 0) {
            kill(pid, SIGKILL);
            m->n++;
            break;
        }
    return 0;
}

static int
drop(void)
{
    return setgroups(0, NULL) == 0 && setgid(run_uid) == 0 &&
                   setuid(run_uid) == 0
               ? 0
               : -1;
}

// As root: a helper with the sandbox uid sends SIGKILL to every process
// that uid owns, in one kill(-1).
static void
kill_uid(void)
{
    pid_t h = fork();
    if (h == 0) {
        if (drop() == 0)
            kill(-1, SIGKILL);
        _exit(0);
    }
    while (h > 0 && waitpid(h, NULL, 0) < 0 && errno == EINTR)
        ;
}

// The tasks of the runs still alive: the cgroup's count when there is one
// (no process of a run can leave it), else those the sandbox uid has.
static long
tasks_left(void)
{
    long n = cgroup_tasks();
    return n >= 0 ? n : tasks_of(run_uid);
}

// Kill and reap every descendant; return how many processes were killed.
// A cgroup says in one read whether anything of the runs is left, and
// having no child at all (ECHILD) spares the search for ours: /proc is
// searched only when one of them cannot answer.  (At the end of a make
// test, with some 300 processes on the machine, six searches a grader
// were 20 ms of its time.)
static int
kill_everything(pid_t pgid, const char *prefix)
{
    char needle[128];
    snprintf(needle, sizeof needle, FL_PREFIX_ENV "=%s", prefix);
    struct marked m = {needle, strlen(needle), 0};
    int killed = 0, dropping = mode != SB_USER;
    if (pgid > 0)
        kill(-pgid, SIGKILL);
    for (int round = 0; round < 10000; round++) {
        int n = 0;
        if (dropping && tasks_left() > 0)
            kill_uid();
        // Our children only: none (ECHILD) spares the search.
        if (waitpid(-1, NULL, WNOHANG) >= 0 || errno != ECHILD)
            each_process(kill_my_child, &n);
        if (!dropping && prefix[0] != '\0')
            each_process(kill_marked, &m);
        killed += n;
        // Reap what died; the orphans of the dead become our children.
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (n == 0 && m.n == 0 && waitpid(-1, NULL, WNOHANG) < 0 &&
            (!dropping || tasks_left() == 0))
            break;
        m.n = 0;
        struct timespec ms = {0, 1000000}; // let SIGKILL land, then rescan
        nanosleep(&ms, NULL);
    }
    return killed;
}

/* ---------------------------------------------------------- IPC, files */

// Remove what dirfd/name holds without following a link: a directory's
// entries first, each opened with O_NOFOLLOW relative to its parent.
static void
remove_at(int dirfd, const char *name)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno != EISDIR)
        return;
    int fd =
        openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    fchmod(fd, 0700); // the run may have taken its own rights away
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            remove_at(fd, e->d_name);
    closedir(d);
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

static int
rmtree_call(void *arg)
{
    const char *path = arg;
    char *slash = strrchr(path, '/');
    if (slash == NULL)
        return 1;
    char parent[4096];
    snprintf(parent, sizeof parent, "%.*s", (int)(slash - path), path);
    int fd = open(parent[0] ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    remove_at(fd, slash + 1);
    close(fd);
    return 0;
}

void
sb_rmtree(const char *path, int as_sandbox)
{
    if (as_sandbox && mode != SB_USER)
        sb_call(rmtree_call, (void *)path);
    else
        rmtree_call((void *)path);
}

// Remove the entries of dir that are ours: as the sandbox uid (SB_UID),
// whatever it owns; otherwise only names with the run's prefix.
static void
sweep(const char *dir, const char *prefix)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    char sem[160];
    snprintf(sem, sizeof sem, "sem.%s", prefix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            st.st_uid != getuid())
            continue;
        int named =
            prefix[0] && (strncmp(e->d_name, prefix, strlen(prefix)) == 0 ||
                          strncmp(e->d_name, sem, strlen(sem)) == 0);
        if (named || mode == SB_UID)
            remove_at(fd, e->d_name);
    }
    closedir(d);
}

// SysV objects the sandbox uid made (SB_UID: it owns nothing else).
static void
sweep_sysv(void)
{
    static const char *kinds[] = {"/proc/sysvipc/shm", "/proc/sysvipc/sem",
                                  "/proc/sysvipc/msg"};
    for (int k = 0; k < 3; k++) {
        FILE *f = fopen(kinds[k], "re");
        char line[512];
        while (f != NULL && fgets(line, sizeof line, f) != NULL) {
            long key, id;
            if (sscanf(line, "%ld %ld", &key, &id) != 2)
                continue;
            if (k == 0)
                shmctl((int)id, IPC_RMID, NULL);
            else if (k == 1)
                semctl((int)id, 0, IPC_RMID);
            else
                msgctl((int)id, IPC_RMID, NULL);
        }
        if (f != NULL)
            fclose(f);
    }
}

static int
sweep_call(void *arg)
{
    const char *prefix = arg;
    sweep("/dev/shm", prefix);
    sweep("/dev/mqueue", prefix);
    sweep(tmp_base, prefix);
    if (mode == SB_UID) {
        sweep("/tmp", prefix);
        sweep("/var/tmp", prefix);
        sweep_sysv(); // IPC_RMID succeeds only on what this uid owns
    }
    return 0;
}

// After a run without namespaces: what it left in the shared places.
static void
remove_ipc(const char *prefix)
{
    if (mode == SB_UID)
        sb_call(sweep_call, (void *)prefix);
    else if (prefix[0] != '\0')
        sweep_call((void *)prefix);
}

// The workdirs of graders that died without removing them (SIGKILL, the
// OOM killer, a machine's reset): each holds a file "held", locked for as
// long as its grader lives (the lock goes with the last process, in any
// PID namespace).  Only ours, only those: a directory we cannot lock is
// alive or not a grader's.
static void
tidy_workdirs(void)
{
    int fd = open(tmp_base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "forklings-grade.", 16) != 0)
            continue;
        struct stat st;
        int w = openat(fd, e->d_name,
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int h = w < 0 ? -1 : openat(w, "held", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (h >= 0 && fstat(w, &st) == 0 && st.st_uid == geteuid() &&
            flock(h, LOCK_EX | LOCK_NB) == 0)
            remove_at(fd, e->d_name);
        if (h >= 0)
            close(h);
        if (w >= 0)
            close(w);
    }
    if (d != NULL)
        closedir(d);
    else if (fd >= 0)
        close(fd);
}

char *
sb_workdir(void)
{
    char tmpl[600];
    tidy_workdirs();
    snprintf(tmpl, sizeof tmpl, "%s/forklings-grade.XXXXXX", tmp_base);
    if (mkdtemp(tmpl) == NULL)
        return NULL;
    // Locked before it is named "held": no other grader's tidy_workdirs
    // can find it unlocked.
    int w = open(tmpl, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    held_fd = w < 0 ? -1
                    : openat(w, "held.new",
                             O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                             0600);
    int named = held_fd >= 0 && flock(held_fd, LOCK_EX | LOCK_NB) == 0 &&
                renameat(w, "held.new", w, "held") == 0;
    if (w >= 0)
        close(w);
    if (!named || (mode != SB_USER &&
                   (chown(tmpl, 0, run_uid) < 0 || chmod(tmpl, 0750) < 0))) {
        sb_rmtree(tmpl, 0);
        return NULL;
    }
    set_root_dir(tmpl);
    snprintf(work_dir, sizeof work_dir, "%s", tmpl);
    return strdup(tmpl);
}

int
sb_give(const char *dir)
{
    if (mkdir(dir, 0700) < 0)
        return -1;
    return mode == SB_USER ? 0 : chown(dir, run_uid, run_uid);
}

/* ------------------------------------------------------------ running */

static void
set_limit(int resource, rlim_t value)
{
    struct rlimit r = {value, value};
    setrlimit(resource, &r);
}

static void
limit_untrusted(sb_kind kind, int sanitized)
{
    rlim_t nproc =
        mode != SB_USER ? 512 : (rlim_t)(tasks_of(run_uid) + NPROC_MARGIN);
    set_limit(RLIMIT_CPU, kind == SB_BUILD ? 60 : 20); // seconds, per process
    if (!sanitized)
        set_limit(RLIMIT_AS, 1024UL << 20); // a macro bomb, a memory hog
    set_limit(RLIMIT_FSIZE, 64UL << 20);    // also caps shm ftruncate
    set_limit(RLIMIT_NOFILE, 256);
    set_limit(RLIMIT_CORE, 0);
    set_limit(RLIMIT_NPROC, nproc);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); // no setuid program helps
}

// Close descriptors from to to (inclusive); a loop where close_range is
// not there.
static void
close_upto(unsigned from, unsigned to)
{
    if (from > to || syscall(SYS_close_range, from, to, 0) == 0)
        return;
    for (unsigned fd = from; fd <= to && fd < 1024; fd++)
        close((int)fd);
}

// Wire fds 0-2 (and FL_RESULT_FD) and close the rest.
static int
wire_fds(int out, int verdicts, int keep)
{
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        return -1;
    if (verdicts >= 0 && dup2(verdicts, FL_RESULT_FD) < 0)
        return -1;
    // The rest in at most two calls (close_range, Linux 5.9), not a call a
    // descriptor: a thousand closes a run were a tenth of the grader's time.
    unsigned first = verdicts >= 0 ? FL_RESULT_FD + 1 : 3;
    if (keep >= (int)first) {
        close_upto(first, (unsigned)keep - 1);
        first = (unsigned)keep + 1;
    }
    close_upto(first, ~0U);
    return 0;
}

// The program itself: limits, the sandbox uid, then exec.
static void
exec_program(const sb_spec *s, const char *cwd)
{
    if (s->kind == SB_TRUSTED) {
        set_limit(RLIMIT_CPU, 120);
        set_limit(RLIMIT_CORE, 0);
    } else {
        pid_t parent = getppid();
        limit_untrusted(s->kind, s->sanitized);
        if (mode != SB_USER && drop() < 0)
            _exit(126);
        // A change of uid clears the parent-death signal: set it again,
        // or a program run without namespaces outlives a killed grader.
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(126);
    }
    if (chdir(cwd) < 0) {
        dprintf(2, "cannot enter %s: %s\n", cwd, strerror(errno));
        _exit(126);
    }
    execvpe(s->argv[0], s->argv, s->envp);
    dprintf(2, "cannot run %s: %s\n", s->argv[0], strerror(errno));
    _exit(127);
}

// The run's PID 1: build the root, start the program, reap everything,
// and report the program's wait status on st_fd.  Its death ends the
// namespace, and with it every process the program started.
static void
run_init(const sb_spec *s, const char *cwd, int st_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int rw = s->kind == SB_BUILD;
    if (enter_root(s->bind, rw) < 0) {
        dprintf(2, "grader: cannot build the sandbox: %s\n", strerror(errno));
        _exit(126);
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(st_fd);
        setpgid(0, 0);
        exec_program(s, cwd);
    }
    int st = 0, got;
    pid_t p;
    while ((p = wait(&got)) != -1 || errno == EINTR)
        if (p == pid) {
            st = got;
            break;
        }
    if (write(st_fd, &st, sizeof st) != (ssize_t)sizeof st)
        _exit(125);
    _exit(0);
}

struct init_arg {
    const sb_spec *s;
    const char *cwd;
    int out, verdicts, st_fd;
};

// Where the run's init starts (its own copy: no CLONE_VM).
static char init_stack[128 * 1024] __attribute__((aligned(16)));

// In SB_NS, the run's init, cloned by the grader straight into the new
// namespaces: a process fewer a run than a child that unshares and forks
// it.  PID 1 there: cgroup_join's pid is read in its own namespace.
static int
init_main(void *p)
{
    const struct init_arg *a = p;
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL); // a dead grader ends its runs
    cgroup_join();
    if (net_fd >= 0 && setns(net_fd, CLONE_NEWNET) < 0)
        _exit(126);
    int st_fd = fcntl(a->st_fd, F_DUPFD_CLOEXEC, 100);
    if (st_fd < 0 || wire_fds(a->out, a->verdicts, st_fd) < 0)
        _exit(126);
    run_init(a->s, a->cwd, st_fd);
    return 0;
}

// The child the grader forks without namespaces (or for a trusted step):
// it is the program.
static void
child(const sb_spec *s, const char *cwd, int out, int verdicts)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL); // a dead grader ends its runs
    if (s->kind != SB_TRUSTED)
        cgroup_join();
    if (wire_fds(out, verdicts, -1) < 0)
        _exit(126);
    exec_program(s, cwd);
}

// Append what fd has to *buf (keeping at most cap bytes); 0 at EOF.
static int
drain(int fd, char **buf, size_t *len, size_t cap, size_t *dropped)
{
    char chunk[16384];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN;
    if (n == 0)
        return 0;
    size_t keep = *len < cap ? cap - *len : 0;
    if (keep > (size_t)n)
        keep = (size_t)n;
    if (keep > 0) {
        char *grown = realloc(*buf, *len + keep + 1);
        if (grown == NULL)
            return 1;
        *buf = grown;
        memcpy(*buf + *len, chunk, keep);
        *len += keep;
        (*buf)[*len] = '\0';
    }
    if (dropped != NULL)
        *dropped += (size_t)n - keep;
    return 1;
}

struct io {
    int out, ver; // read ends, -1 once at EOF
    size_t ver_len;
};

static void
pump(struct io *io, sb_result *r, size_t cap, int pfd, long deadline,
     int exited)
{
    while (io->out >= 0 || io->ver >= 0) {
        struct pollfd p[3] = {{io->out, POLLIN, 0},
                              {io->ver, POLLIN, 0},
                              {exited ? -1 : pfd, POLLIN, 0}};
        long left = deadline - now_ms();
        if (left <= 0)
            return;
        if (poll(p, 3, (int)left) < 0 && errno != EINTR)
            return;
        if (p[0].revents &&
            !drain(io->out, &r->out, &r->out_len, cap, &r->out_dropped)) {
            close(io->out);
            io->out = -1;
        }
        if (p[1].revents &&
            !drain(io->ver, &r->verdicts, &io->ver_len, VERDICT_CAP, NULL)) {
            close(io->ver);
            io->ver = -1;
        }
        if (p[2].revents)
            return; // the program ended: stop waiting for its daemons
    }
}

// A private working directory for a test without namespaces: inside the
// grader's workdir, so that a grader killed mid-run leaves nothing that
// the next grader's tidy_workdirs would not remove.
static char *
private_dir(void)
{
    char tmpl[700];
    if (work_dir[0] != '\0')
        snprintf(tmpl, sizeof tmpl, "%s/run.XXXXXX", work_dir);
    else
        snprintf(tmpl, sizeof tmpl, "%s/forklings-run.XXXXXX", tmp_base);
    if (mkdtemp(tmpl) == NULL)
        return NULL;
    if (mode != SB_USER && chown(tmpl, run_uid, run_uid) < 0) {
        rmdir(tmpl);
        return NULL;
    }
    return strdup(tmpl);
}

// The environment, with HOME and TMPDIR naming the run's directory.
static char **
test_env(char *const *envp, const char *dir, char *home, char *tmp, size_t size)
{
    size_t n = 0;
    while (envp[n] != NULL)
        n++;
    char **env = calloc(n + 3, sizeof *env);
    if (env == NULL)
        return NULL;
    memcpy(env, envp, n * sizeof *env);
    snprintf(home, size, "HOME=%s", dir);
    snprintf(tmp, size, "TMPDIR=%s", dir);
    env[n] = home;
    env[n + 1] = tmp;
    return env;
}

// Wait for the grader's child (pfd) until the deadline; kill it after.
static void
finish_child(pid_t pid, int pfd, long deadline, sb_result *r, int *st)
{
    struct pollfd p = {pfd, POLLIN, 0};
    long left;
    while ((left = deadline - now_ms()) > 0 && poll(&p, 1, (int)left) < 0 &&
           errno == EINTR)
        ;
    if (waitpid(pid, st, WNOHANG) != pid) {
        r->timed_out = 1;
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, st, 0) < 0 && errno == EINTR)
            ;
    }
}

int
sb_run(const sb_spec *s, sb_result *r)
{
    memset(r, 0, sizeof *r);
    int ns = mode == SB_NS && s->kind != SB_TRUSTED;
    char *dir = NULL, home[700], tmp[700];
    sb_spec spec = *s;
    char **env = NULL;
    if (s->kind == SB_TEST && s->cwd == NULL) {
        dir = ns ? strdup("/tmp") : private_dir();
        env =
            dir != NULL ? test_env(s->envp, dir, home, tmp, sizeof home) : NULL;
        if (env == NULL) {
            if (dir != NULL && !ns)
                sb_rmtree(dir, 1);
            free(dir);
            return -1;
        }
        spec.envp = env;
    }
    const char *cwd = dir != NULL ? dir : s->cwd;
    int out[2], ver[2] = {-1, -1}, st[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) < 0 ||
        (s->verdicts && pipe2(ver, O_CLOEXEC) < 0) ||
        (ns && pipe2(st, O_CLOEXEC) < 0))
        return -1;
    fflush(NULL);
    pid_t pid;
    if (ns) {
        struct init_arg a = {&spec, cwd, out[1], ver[1], st[1]};
        pid = clone(init_main, init_stack + sizeof init_stack,
                    CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWUTS |
                        (net_fd >= 0 ? 0 : CLONE_NEWNET) | SIGCHLD,
                    &a);
    } else if ((pid = fork()) == 0) {
        close(out[0]);
        if (ver[0] >= 0)
            close(ver[0]);
        child(&spec, cwd, out[1], ver[1]);
    }
    if (pid < 0)
        return -1;
    setpgid(pid, pid); // the child does it too: whichever runs first
    close(out[1]);
    if (ver[1] >= 0)
        close(ver[1]);
    if (st[1] >= 0)
        close(st[1]);
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct io io = {out[0], ver[0], 0};
    int status = 0;
    long deadline = now_ms() + s->wall_ms;
    pump(&io, r, s->out_cap, pfd, deadline, 0);
    finish_child(pid, pfd, deadline, r, &status);
    if (ns) { // the program's own status came from its init
        int got;
        fcntl(st[0], F_SETFL, O_NONBLOCK);
        if (read(st[0], &got, sizeof got) == (ssize_t)sizeof got)
            status = got;
        else
            status = SIGKILL; // its init was killed: so was it
        close(st[0]);
    }
    r->exited = WIFEXITED(status);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
    if (s->kind != SB_TRUSTED)
        r->leftovers = kill_everything(pid, s->prefix ? s->prefix : "");
    pump(&io, r, s->out_cap, pfd, now_ms() + 2000, 1);
    if (io.out >= 0)
        close(io.out);
    if (io.ver >= 0)
        close(io.ver);
    if (pfd >= 0)
        close(pfd);
    if (s->kind == SB_TEST && !ns)
        remove_ipc(s->prefix != NULL ? s->prefix : "");
    if (dir != NULL && !ns)
        sb_rmtree(dir, 1);
    free(dir);
    free(env);
    if (r->out == NULL)
        r->out = strdup("");
    if (r->verdicts == NULL)
        r->verdicts = strdup("");
    return 0;
}

void
sb_free(sb_result *r)
{
    free(r->out);
    free(r->verdicts);
    r->out = r->verdicts = NULL;
}

int
sb_call(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        set_limit(RLIMIT_CPU, 20);
        set_limit(RLIMIT_CORE, 0);
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if (mode != SB_USER && drop() < 0)
            _exit(126);
        _exit(fn(arg) & 0x7f);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) < 126 ? WEXITSTATUS(st) : -1;
}

void
sb_kill_all(void)
{
    kill_everything(0, "");
}

void
sb_finish(void)
{
    kill_everything(0, "");
    cgroup_finish();
    if (root_dir[0] != '\0') {
        rmdir(root_dir);
        root_dir[0] = '\0';
    }
    if (held_fd >= 0) {
        close(held_fd); // (the workdir is gone by now)
        held_fd = -1;
    }
    if (lock_fd >= 0) {
        unlink(lock_path);
        close(lock_fd);
        lock_fd = -1;
    }
}
