// mp_ipc.h - names for named IPC objects, with the run's prefix.
#ifndef FORKLINGS_MP_IPC_H
#define FORKLINGS_MP_IPC_H

/**
 * @file mp_ipc.h
 * @brief Names for shared memory, semaphores, message queues and sockets.
 *
 * Named IPC objects outlive the process that made them: a program that
 * crashes before shm_unlink() leaves its object in /dev/shm until the
 * machine restarts.  Every lesson that names an object takes the name from
 * here.  The name starts with the run's prefix (the FORKLINGS_PREFIX
 * environment variable, set by the tests and the grader), so that whatever
 * a crashed run left behind can be found and removed.  This file is given:
 * you use it, you do not edit it.
 *
 * Python equivalent: `multiprocessing.shared_memory.SharedMemory(name=...)`
 * and the names `multiprocessing` makes up for its semaphores
 * (`/mp-XXXXXXXX`).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/**
 * @brief The run's prefix: FORKLINGS_PREFIX, or "fl.PID." when unset.
 * @param buf  where to write it.
 * @param size bytes in buf.
 * @return the length written (>= 0).
 * @retval -ENAMETOOLONG buf is too small.
 */
static inline int
mp_ipc_prefix(char *buf, size_t size)
{
    const char *p = getenv("FORKLINGS_PREFIX");
    int n = p != NULL && *p != '\0'
                ? snprintf(buf, size, "%s", p)
                : snprintf(buf, size, "fl.%d.", (int)getpid());
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : n;
}

/**
 * @brief A name for shm_open(), sem_open() or mq_open(): "/PREFIXbase".
 * @param buf  where to write the name.
 * @param size bytes in buf (NAME_MAX + 1 is always enough).
 * @param base what the object is, e.g. "counter"; no slash.
 * @return the length of the name (>= 0).
 * @retval -ENAMETOOLONG buf is too small.
 * @note Call it in the process that creates the object and pass the name
 *       to the others; a process started later computes the same name only
 *       if it has the same FORKLINGS_PREFIX.
 */
static inline int
mp_ipc_name(char *buf, size_t size, const char *base)
{
    char prefix[128];
    if (mp_ipc_prefix(prefix, sizeof prefix) < 0)
        return -ENAMETOOLONG;
    int n = snprintf(buf, size, "/%s%s", prefix, base);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : n;
}

/**
 * @brief A path for a Unix-domain socket: "TMPDIR/PREFIXbase".
 * @param buf  where to write the path.
 * @param size bytes in buf (sizeof of sockaddr_un's sun_path, 108).
 * @param base what the socket is, e.g. "manager"; no slash.
 * @return the length of the path (>= 0).
 * @retval -ENAMETOOLONG the path does not fit.
 */
static inline int
mp_ipc_path(char *buf, size_t size, const char *base)
{
    char prefix[128];
    const char *dir = getenv("TMPDIR");
    if (mp_ipc_prefix(prefix, sizeof prefix) < 0)
        return -ENAMETOOLONG;
    int n = snprintf(buf, size, "%s/%s%s", dir != NULL ? dir : "/tmp", prefix,
                     base);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : n;
}

#endif
