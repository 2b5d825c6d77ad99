// squats_names.c - hostile submission: plants names with other runs'
// prefixes in /dev/shm, found in other processes' environments or guessed,
// so that their tests see names they did not make.
pid_t
mp_fork_call(mp_target target, void *arg)
{
    char path[256], env[8192];
    for (int pid = 1; pid < 1 << 16; pid++) {
        snprintf(path, sizeof path, "/proc/%d/environ", pid);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, env, sizeof env - 1);
        close(fd);
        for (ssize_t i = 0; i + 17 < n; i++)
            if (memcmp(env + i, "FORKLINGS_PREFIX=", 17) == 0) {
                snprintf(path, sizeof path, "/dev/shm/%.60sx", env + i + 17);
                close(open(path, O_CREAT | O_WRONLY, 0666));
            }
    }
    for (int g = 0; g < 4096; g++) {
        snprintf(path, sizeof path, "/dev/shm/fl.%d.%d.x", g, g % 40);
        close(open(path, O_CREAT | O_WRONLY, 0666));
    }
    return honest_fork_call(target, arg);
}
