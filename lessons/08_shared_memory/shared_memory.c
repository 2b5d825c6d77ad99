// shared_memory.c - lesson 08: Value, Array and named shared memory.
//
// Your task: make the functions of shared_memory.h work.  Read
// lessons/08_shared_memory/README.md first; `make check L=08` tests your
// code, `make hint L=08` gives one more hint each time you run it.
//
// An array is one mapping of anonymous shared memory: a header (the lock,
// the type, the count) and then the elements, at an aligned offset.  The
// handle is the mapping's address, so a forked child reaches the same
// memory through the same pointer.  A named segment is the other way to
// share: a file in /dev/shm that any process can open by its name.
#define _DEFAULT_SOURCE // MAP_ANONYMOUS: not in POSIX.1-2008 (it is in 2024)
#include "shared_memory.h"
#include "../mp_ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

// The header at the start of an array's mapping.  The elements follow at
// DATA_OFFSET from its start.
struct mp_array {
    pthread_mutex_t lock; // process-shared and recursive; if with_lock
    int with_lock;        // 0 for a RawArray: no lock, no update
    mp_typecode type;     // what the elements are
    size_t size;          // bytes in one element
    size_t n;             // how many elements
    size_t map_len;       // bytes in the whole mapping, for munmap
};

// Where the elements start: past the header, on a 64-byte boundary, so
// that every element is aligned for its type and for atomic operations.
#define DATA_OFFSET ((sizeof(struct mp_array) + 63) / 64 * 64)

// One element's value, whatever its type: room for a copy of any.
typedef union {
    int32_t i;
    int64_t q;
    double d;
} element;

/* ----------------------------------------------------------- typecodes */

int
mp_typecode_size(mp_typecode type)
{
    // TODO(08): return the size of one element of the type: sizeof
    // int32_t, int64_t or double; -EINVAL for any other typecode.  The
    // trap: a wrong size shifts every element after the first and cuts
    // the ones that do not fit.
    (void)type;
    return -ENOSYS;
}

/* -------------------------------------------------------------- create */

// TODO(08): write `static int init_lock(pthread_mutex_t *lock)`: a mutex
// that processes share and that its holder may take again; return 0 or
// an errno value, as the pthread functions do.  pthread_mutexattr_init(),
// then PTHREAD_PROCESS_SHARED (pthread_mutexattr_setpshared) and
// PTHREAD_MUTEX_RECURSIVE (pthread_mutexattr_settype), each checked, then
// pthread_mutex_init(), and pthread_mutexattr_destroy() whatever
// happened.  The traps: a mutex that is not process-shared may never wake
// a waiter in another process; one that is not recursive deadlocks the
// caller of mp_array_get() that already holds the lock (Python's
// get_lock() is an RLock).

int
mp_array_create(mp_array **ap, mp_typecode type, size_t n, const void *init,
                int with_lock)
{
    // TODO(08): reject a NULL ap and an unknown type (mp_typecode_size)
    // with -EINVAL.
    // TODO(08): the mapping holds DATA_OFFSET bytes of header, then n
    // elements.  Return -ENOMEM if n * size would not fit in a size_t:
    // the product would wrap around to a small number, and the elements
    // would lie past the end of a small mapping.
    // TODO(08): mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED |
    // MAP_ANONYMOUS, -1, 0); MAP_FAILED means -errno.  The trap: malloc()
    // or MAP_PRIVATE gives each process its own copy after fork(), and
    // the children's writes never reach the parent.  The memory comes
    // zeroed.
    // TODO(08): with a lock, init_lock() it (on failure munmap and return
    // minus its value).  Fill in the header, copy the n initial elements
    // to mp_array_data(a) when init is not NULL, and store a in *ap.
    (void)ap;
    (void)type;
    (void)n;
    (void)init;
    (void)with_lock;
    return -ENOSYS;
}

long
mp_array_len(mp_array *a)
{
    // TODO(08): the number of elements; -EINVAL for a NULL a.
    (void)a;
    return -ENOSYS;
}

void *
mp_array_data(mp_array *a)
{
    // TODO(08): the address DATA_OFFSET bytes past the start of the
    // mapping (count in bytes: cast to char * first); NULL for a NULL a.
    (void)a;
    return NULL;
}

/* ------------------------------------------------------ the elements */

// TODO(08): write `static void *element_at(mp_array *a, size_t i)`: the
// address of element i.  The trap: pointer arithmetic on a void * or a
// char * counts bytes, not elements: element i starts i * a->size bytes
// after element 0.

// TODO(08): write `static int hold(mp_array *a)` and `static void
// let_go(mp_array *a)`: take and release the lock if the array has one
// (pthread_mutex_lock, pthread_mutex_unlock), do nothing for a RawArray.
// hold returns 0 or minus the pthread error.

int
mp_array_get(mp_array *a, size_t i, void *out)
{
    // TODO(08): -EINVAL for a NULL a or out; -ERANGE when i is n or more
    // (an IndexError, not a read past the end).
    // TODO(08): hold the lock, memcpy a->size bytes from element i to
    // out, let go.  The copy is why the lock is there: another process
    // must not write the element halfway through it.
    (void)a;
    (void)i;
    (void)out;
    return -ENOSYS;
}

int
mp_array_set(mp_array *a, size_t i, const void *value)
{
    // TODO(08): the same checks as mp_array_get(); then hold the lock,
    // memcpy the value into element i, let go.
    (void)a;
    (void)i;
    (void)value;
    return -ENOSYS;
}

/* ---------------------------------------------- read, modify, write */

int
mp_array_update(mp_array *a, size_t i, mp_update_fn fn, void *arg)
{
    // TODO(08): -EINVAL for a NULL a or fn, -ERANGE for an index out of
    // range, -ENOLCK for an array without a lock.
    // TODO(08): hold the lock ONCE around all three steps: copy element i
    // into a local `element`, call fn(&copy, arg), copy it back.  The
    // trap: mp_array_get() then mp_array_set() locks twice, and between
    // the two another process reads the same old value: one of the two
    // increments is lost, lock or no lock.
    (void)a;
    (void)i;
    (void)fn;
    (void)arg;
    return -ENOSYS;
}

// What add_to needs: the type of the element and the amount.
struct add_arg {
    mp_typecode type;
    const void *delta;
};

// An mp_update_fn: add *arg->delta to the value, both of arg->type.
// Integers add as unsigned numbers, which wrap around instead of
// overflowing (undefined behaviour for signed ones).  Given: use it in
// mp_array_add().
static void
add_to(void *value, void *arg)
{
    const struct add_arg *add = arg;
    element v, d;
    size_t size = add->type == MP_INT32 ? sizeof v.i : sizeof v.q;
    memcpy(&v, value, size);
    memcpy(&d, add->delta, size);
    if (add->type == MP_INT32)
        v.i = (int32_t)((uint32_t)v.i + (uint32_t)d.i);
    else if (add->type == MP_INT64)
        v.q = (int64_t)((uint64_t)v.q + (uint64_t)d.q);
    else
        v.d += d.d;
    memcpy(value, &v, size);
}

int
mp_array_add(mp_array *a, size_t i, const void *delta)
{
    // TODO(08): -EINVAL for a NULL a or delta.  Then let
    // mp_array_update() do the work, with add_to and a struct add_arg:
    // one read-modify-write, written once, under one lock.
    (void)a;
    (void)i;
    (void)delta;
    (void)add_to;
    return -ENOSYS;
}

/* ---------------------------------------------------------- the lock */

int
mp_array_lock(mp_array *a)
{
    // TODO(08): -EINVAL for a NULL a, -ENOLCK without a lock; else
    // pthread_mutex_lock(), which returns 0 or an errno value (not -1).
    (void)a;
    return -ENOSYS;
}

int
mp_array_unlock(mp_array *a)
{
    // TODO(08): the same checks; then pthread_mutex_unlock(), whose
    // EPERM says the caller does not hold a recursive mutex.
    (void)a;
    return -ENOSYS;
}

int
mp_array_destroy(mp_array *a)
{
    // TODO(08): -EINVAL for a NULL a.  pthread_mutex_destroy() the lock if
    // there is one, then munmap() the whole mapping (a->map_len bytes):
    // read the length before the header is gone.
    (void)a;
    return -ENOSYS;
}

/* ------------------------------------------------------ named segments */

// TODO(08): write `static int map_fd(mp_shm *shm, int fd, size_t size)`:
// mmap size bytes of fd, PROT_READ | PROT_WRITE, MAP_SHARED, offset 0;
// on success set shm->buf and shm->size and return 0, else -errno.  The
// mapping stays valid once fd is closed.

int
mp_shm_create(mp_shm *shm, const char *base, size_t size)
{
    // TODO(08): -EINVAL for a NULL shm or base, a base with a '/' in it
    // (strchr), or a size of 0.
    // TODO(08): make the name with mp_ipc_name(shm->name, sizeof
    // shm->name, base), never by hand: the run's prefix is how the
    // grader finds and removes what a crashed run left in /dev/shm.
    // TODO(08): shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600): O_EXCL
    // makes an existing name an error (-EEXIST) instead of a segment you
    // share, and resize, with a stranger.
    // TODO(08): ftruncate(fd, size), then map_fd(), then close(fd); on a
    // failure, unwind in reverse (one fail: label): close the fd and
    // shm_unlink the name you made.  The trap: a new object has 0 bytes;
    // mmap does not grow it, and the first touch of the mapping kills the
    // process with SIGBUS.
    (void)shm;
    (void)base;
    (void)size;
    return -ENOSYS;
}

int
mp_shm_open(mp_shm *shm, const char *name)
{
    // TODO(08): -EINVAL for a NULL shm or name; copy name into shm->name
    // (-ENAMETOOLONG if it does not fit).
    // TODO(08): shm_open(name, O_RDWR, 0), fstat() it for its size (the
    // size its creator gave: -EINVAL if 0), map_fd(), then close(fd), on
    // success and on failure alike.
    (void)shm;
    (void)name;
    return -ENOSYS;
}

int
mp_shm_close(mp_shm *shm)
{
    // TODO(08): -EINVAL for a NULL shm or a NULL shm->buf; munmap() the
    // buffer and set buf to NULL.  Do not unlink: other processes may
    // still want to open the name.
    (void)shm;
    return -ENOSYS;
}

int
mp_shm_unlink(mp_shm *shm)
{
    // TODO(08): -EINVAL for a NULL shm; shm_unlink(shm->name), -errno on
    // failure.  Without it the segment stays in /dev/shm, memory and all,
    // after every process has ended.
    (void)shm;
    return -ENOSYS;
}
