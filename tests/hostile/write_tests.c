// write_tests.c - hostile submission for the grader's self-test: tries to
// overwrite the test program and its directory.
pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    char exe[4096] = "", path[4200];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -EIO;
    exe[n] = '\0';
    // Replace the test program with one that exits 0, and drop a file
    // next to it: both must fail, and neither may earn a point.
    unlink(exe);
    int fd = open(exe, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd >= 0) {
        dprintf(fd, "#!/bin/sh\nexit 0\n");
        close(fd);
    }
    snprintf(path, sizeof path, "%s/planted", dirname(exe));
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0)
        close(fd);
    return -EPERM;
}
