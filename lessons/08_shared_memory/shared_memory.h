// shared_memory.h - lesson 08: Value, Array and named shared memory.
#ifndef FORKLINGS_SHARED_MEMORY_H
#define FORKLINGS_SHARED_MEMORY_H

#include <stddef.h>

/**
 * @file shared_memory.h
 * @brief Lesson 08: typed values and arrays in memory that processes
 *        share, each with an optional lock stored beside it, and named
 *        segments that unrelated processes open by name.
 *
 * Python equivalent:
 * @code{.py}
 * from multiprocessing import Value, Array, RawValue, RawArray
 * from multiprocessing.shared_memory import SharedMemory
 * counter = Value('i', 0)               # lock=True: an RLock beside it
 * with counter.get_lock():              # the whole update under one lock
 *     counter.value += 1
 * arr = Array('d', [0.5, 1.5])          # Array('i', 10): ten zeros
 * raw = RawArray('q', 4)                # no lock at all
 * shm = SharedMemory(create=True, size=4096)   # a name in /dev/shm
 * other = SharedMemory(name=shm.name)   # another process, by name
 * other.close(); shm.close(); shm.unlink()
 * @endcode
 *
 * Values cross this API as pointers to C objects of the element's type:
 * an `int32_t` for #MP_INT32, an `int64_t` for #MP_INT64, a `double` for
 * #MP_DOUBLE.  Errors are negative errno values; an index past the end is
 * `-ERANGE` (Python's IndexError), never a read or write past the end.
 */

/// The type of the elements of an array, named by Python's typecodes.
typedef enum {
    MP_INT32 = 'i',  ///< int32_t, Python's 'i' (a C int)
    MP_INT64 = 'q',  ///< int64_t, Python's 'q' (a C long long)
    MP_DOUBLE = 'd', ///< double, Python's 'd'
} mp_typecode;

/// An array of typed elements in shared memory, with or without a lock.
/// The handle, the lock and the elements all lie in the shared mapping.
typedef struct mp_array mp_array;

/**
 * @brief A function that computes an element's new value from its old one.
 * @param value points to the element's value, of the array's type: read
 *              it, and store the new value there.
 * @param arg   the pointer given to mp_array_update().
 * @note It runs with the array's lock held: keep it short, and do not wait
 *       there for another process that needs the same lock.
 */
typedef void (*mp_update_fn)(void *value, void *arg);

/**
 * @brief The size of one element of a type, like `ctypes.sizeof`.
 * @param type a typecode.
 * @return 4 for #MP_INT32, 8 for #MP_INT64 and #MP_DOUBLE.
 * @retval -EINVAL type is not one of the three.
 */
int mp_typecode_size(mp_typecode type);

/**
 * @brief Create an array in anonymous shared memory, like Python's
 *        `Array(typecode, size_or_initializer, lock)`.
 *
 * Processes forked after this call share the elements and the lock; what
 * one of them writes, all of them read.  Unrelated processes cannot reach
 * it (see mp_shm_create()), and there is no name to remove afterwards.
 *
 * @param ap        where to store the new array; must not be NULL.
 * @param type      the elements' type.
 * @param n         the number of elements (0 is allowed: an empty array).
 * @param init      n elements of the type to copy in, or NULL for zeros.
 * @param with_lock 1 for an Array, with a lock (a recursive mutex that
 *                  processes share); 0 for a RawArray, with none.
 * @return 0, with *ap set.
 * @retval -EINVAL ap is NULL or type is unknown.
 * @retval -ENOMEM n elements do not fit in memory (or in a size_t).
 * @retval -EAGAIN (or another error number) pthread_mutex_init() failed
 *                 (with_lock): minus what it returned; nothing is left
 *                 mapped.
 * @note Create it before fork(): a child shares only the arrays that
 *       existed when it was forked.
 */
int mp_array_create(mp_array **ap, mp_typecode type, size_t n, const void *init,
                    int with_lock);

/**
 * @brief The number of elements, like `len(arr)`.
 * @param a the array.
 * @return n, as given to mp_array_create().
 * @retval -EINVAL a is NULL.
 */
long mp_array_len(mp_array *a);

/**
 * @brief The elements themselves, like a RawArray or `arr.get_obj()`.
 *
 * A C array of n elements of the array's type, aligned for it and for
 * atomic operations (`__atomic_add_fetch`, C11 `atomic_fetch_add`).
 * Reads and writes through it take no lock.
 *
 * @param a the array.
 * @return a pointer to element 0, or NULL if a is NULL.
 */
void *mp_array_data(mp_array *a);

/**
 * @brief Read element i, like `x = arr[i]`: under the lock, if any.
 * @param a   the array.
 * @param i   the index, 0 to n - 1.
 * @param out where to store the value: a C object of the array's type.
 * @return 0.
 * @retval -EINVAL a or out is NULL.
 * @retval -ERANGE i is n or more; out is left as it was.
 */
int mp_array_get(mp_array *a, size_t i, void *out);

/**
 * @brief Write element i, like `arr[i] = x`: under the lock, if any.
 * @param a     the array.
 * @param i     the index, 0 to n - 1.
 * @param value the new value: a C object of the array's type.
 * @return 0.
 * @retval -EINVAL a or value is NULL.
 * @retval -ERANGE i is n or more; nothing is written.
 * @note A get then a set is NOT an update: another process may write
 *       between them, and its write is lost.  Use mp_array_update().
 */
int mp_array_set(mp_array *a, size_t i, const void *value);

/**
 * @brief Read, modify and write element i, all under one hold of the
 *        lock, like `with arr.get_lock(): arr[i] = fn(arr[i])`.
 *
 * No other update, get or set of the array can come between the read and
 * the write, so updates from many processes never lose one another.
 *
 * @param a   an array with a lock.
 * @param i   the index, 0 to n - 1.
 * @param fn  computes the new value from the old one.
 * @param arg passed to fn.
 * @return 0.
 * @retval -EINVAL a or fn is NULL.
 * @retval -ERANGE i is n or more; fn is not called.
 * @retval -ENOLCK the array has no lock (a RawArray): a read-modify-write
 *                 without one is a race, so none is done.
 */
int mp_array_update(mp_array *a, size_t i, mp_update_fn fn, void *arg);

/**
 * @brief Add to element i under the lock, like
 *        `with arr.get_lock(): arr[i] += delta`.
 * @param a     an array with a lock.
 * @param i     the index, 0 to n - 1.
 * @param delta the amount to add: a C object of the array's type.  Integers
 *              wrap around on overflow, as in two's complement.
 * @return 0.
 * @retval -EINVAL a or delta is NULL.
 * @retval -ERANGE i is n or more; nothing changes.
 * @retval -ENOLCK the array has no lock (a RawArray).
 */
int mp_array_add(mp_array *a, size_t i, const void *delta);

/**
 * @brief Take the array's lock, like `arr.get_lock().acquire()`.
 *
 * The lock is recursive, like Python's RLock: its holder may call
 * mp_array_get(), mp_array_set(), mp_array_update() and mp_array_lock()
 * again without waiting for itself.  So a caller can make several
 * operations one: lock, get, set, get, unlock.
 *
 * @param a an array with a lock.
 * @return 0 once the caller holds the lock.
 * @retval -EINVAL a is NULL.
 * @retval -ENOLCK the array has no lock (Python's RawArray has no
 *                 get_lock()).
 * @note The holder is a thread: a child forked while its parent holds the
 *       lock does not hold it.  A process that dies holding it leaves it
 *       held for ever (lesson 06 shows the robust mutex that fixes that).
 */
int mp_array_lock(mp_array *a);

/**
 * @brief Release the array's lock: once for each mp_array_lock().
 * @param a an array with a lock, held by the caller.
 * @return 0.
 * @retval -EINVAL a is NULL.
 * @retval -ENOLCK the array has no lock.
 * @retval -EPERM  the caller does not hold the lock.
 */
int mp_array_unlock(mp_array *a);

/**
 * @brief Destroy the array and unmap its memory.
 * @param a the array; unusable afterwards, in this process.
 * @return 0.
 * @retval -EINVAL a is NULL.
 * @note Call it once in each process that is done with the array, after
 *       every process that might hold its lock has let go.  A child that
 *       just exits loses its mapping with it.
 */
int mp_array_destroy(mp_array *a);

/* --------------------------------------------------------------- Value */

/// A Value is an Array of one element: `v.value` is element 0.
typedef struct mp_array mp_value;

/**
 * @brief Create a value, like `Value(typecode, init, lock)` or RawValue.
 * @param vp        where to store the new value; must not be NULL.
 * @param type      its type.
 * @param init      its first value, of the type, or NULL for 0.
 * @param with_lock 1 for a Value (with a lock), 0 for a RawValue.
 * @return 0, with *vp set; errors as mp_array_create().
 */
static inline int
mp_value_create(mp_value **vp, mp_typecode type, const void *init,
                int with_lock)
{
    return mp_array_create(vp, type, 1, init, with_lock);
}

/**
 * @brief Read the value, like `x = v.value`.
 * @param v   the value.
 * @param out where to store it.
 * @return 0; errors as mp_array_get().
 */
static inline int
mp_value_get(mp_value *v, void *out)
{
    return mp_array_get(v, 0, out);
}

/**
 * @brief Write the value, like `v.value = x`.
 * @param v     the value.
 * @param value the new value.
 * @return 0; errors as mp_array_set().
 */
static inline int
mp_value_set(mp_value *v, const void *value)
{
    return mp_array_set(v, 0, value);
}

/**
 * @brief Update the value under one hold of its lock.
 * @param v   a value with a lock.
 * @param fn  computes the new value from the old one.
 * @param arg passed to fn.
 * @return 0; errors as mp_array_update().
 */
static inline int
mp_value_update(mp_value *v, mp_update_fn fn, void *arg)
{
    return mp_array_update(v, 0, fn, arg);
}

/**
 * @brief Add to the value under its lock, like
 *        `with v.get_lock(): v.value += delta`.
 * @param v     a value with a lock.
 * @param delta the amount to add, of the value's type.
 * @return 0; errors as mp_array_add().
 */
static inline int
mp_value_add(mp_value *v, const void *delta)
{
    return mp_array_add(v, 0, delta);
}

/**
 * @brief Take the value's lock, like `v.get_lock().acquire()`.
 * @param v a value with a lock.
 * @return 0; errors as mp_array_lock().
 */
static inline int
mp_value_lock(mp_value *v)
{
    return mp_array_lock(v);
}

/**
 * @brief Release the value's lock.
 * @param v a value whose lock the caller holds.
 * @return 0; errors as mp_array_unlock().
 */
static inline int
mp_value_unlock(mp_value *v)
{
    return mp_array_unlock(v);
}

/**
 * @brief The value itself, for lock-free access: a RawValue's memory.
 * @param v the value.
 * @return a pointer to it, of the value's type; NULL if v is NULL.
 */
static inline void *
mp_value_ptr(mp_value *v)
{
    return mp_array_data(v);
}

/**
 * @brief Destroy the value and unmap its memory.
 * @param v the value.
 * @return 0; errors as mp_array_destroy().
 */
static inline int
mp_value_destroy(mp_value *v)
{
    return mp_array_destroy(v);
}

/* ------------------------------------------------------ named segments */

/// Bytes for a segment's name, its terminating NUL included.
#define MP_SHM_NAME_MAX 256

/// A named shared-memory segment, like Python's `SharedMemory`.
typedef struct {
    char name[MP_SHM_NAME_MAX]; ///< "/PREFIXbase", as shm_open() takes it
    void *buf;                  ///< the mapped bytes, shared with others
    size_t size;                ///< bytes in buf
} mp_shm;

/**
 * @brief Create a named segment of size bytes, zeroed, and map it, like
 *        `SharedMemory(create=True, size=size)`.
 *
 * The name is made by mp_ipc_name() from base, so it carries the run's
 * prefix: another process opens the segment with mp_shm_open() and that
 * name (shm->name), and knows nothing else.
 *
 * @param shm  filled in: the name, the mapping and its size.
 * @param base what the segment is, e.g. "counter"; no slash.
 * @param size its size in bytes, more than 0.
 * @return 0.
 * @retval -EINVAL shm or base is NULL, base holds a '/', or size is 0.
 * @retval -ENAMETOOLONG the name does not fit in #MP_SHM_NAME_MAX.
 * @retval -EEXIST a segment of that name exists already (it is left
 *                 alone, as Python's FileExistsError leaves it).
 * @retval -EFBIG size is over the file-size limit (RLIMIT_FSIZE).
 * @note The segment outlives the process: it stays in /dev/shm until
 *       mp_shm_unlink() removes its name, even after every process that
 *       used it has ended.  On failure, no name is left behind.
 */
int mp_shm_create(mp_shm *shm, const char *base, size_t size);

/**
 * @brief Open and map an existing segment by its name, like
 *        `SharedMemory(name=name)`.
 * @param shm  filled in: the name, the mapping and its size, which is the
 *             size its creator gave.
 * @param name the segment's full name, "/PREFIXbase", as mp_shm_create()
 *             stored it in shm->name.
 * @return 0.
 * @retval -EINVAL shm or name is NULL, or the segment has size 0.
 * @retval -ENAMETOOLONG name does not fit in #MP_SHM_NAME_MAX.
 * @retval -ENOENT no segment has that name.
 * @note Any other failure (of shm_open(), fstat() or mmap()) is minus its
 *       errno, with the descriptor closed.
 */
int mp_shm_open(mp_shm *shm, const char *name);

/**
 * @brief Unmap the segment in this process, like `shm.close()`.
 *
 * The name stays: other processes may still open it.
 *
 * @param shm a segment made by mp_shm_create() or mp_shm_open(); its buf
 *            is NULL afterwards.
 * @return 0.
 * @retval -EINVAL shm is NULL or not mapped.
 */
int mp_shm_close(mp_shm *shm);

/**
 * @brief Remove the segment's name, like `shm.unlink()`.
 *
 * Mappings stay valid until each process closes its own; the memory is
 * freed once the name is gone and nobody maps it.  Call it once, in one
 * process, when no other process needs to open the segment any more.
 *
 * @param shm a segment made by mp_shm_create() or mp_shm_open().
 * @return 0.
 * @retval -EINVAL shm is NULL.
 * @retval -ENOENT the name was already removed.
 */
int mp_shm_unlink(mp_shm *shm);

#endif
