// sysv_and_var_tmp.c - hostile submission: leaves SysV shared memory, a
// semaphore set and a message queue, and large files in /var/tmp and /tmp.
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

pid_t
mp_fork_call(mp_target target, void *arg)
{
    shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    static const char *dirs[] = {"/var/tmp", "/tmp"};
    for (int i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/forklings-hostile-%d", dirs[i],
                 (int)getpid());
        int fd = open(path, O_CREAT | O_WRONLY, 0644);
        if (fd >= 0) {
            ftruncate(fd, 8 << 20);
            close(fd);
        }
    }
    _exit(0);
}
