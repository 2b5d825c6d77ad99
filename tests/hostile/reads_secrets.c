// reads_secrets.c - hostile submission: prints what it can read of the
// machine: the course's solutions, a classmate's submission (selftest.sh
// writes their paths in for @SECRET1@ and @SECRET2@), every process's
// command line, and root's files; then fails, so that the output is shown.
static void
show(const char *path)
{
    char buf[4096];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0)
        fprintf(stderr, "%s: %.*s\n", path, (int)n, buf);
    close(fd);
}

pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    show("@SECRET1@");
    show("@SECRET2@");
    show("/etc/shadow");
    for (int pid = 1; pid < 1 << 16; pid++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
        show(path);
    }
    fflush(NULL);
    _exit(3);
}
