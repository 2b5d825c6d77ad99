// managers.h - lesson 11: a server process that owns a dict and a list.
#ifndef FORKLINGS_MANAGERS_H
#define FORKLINGS_MANAGERS_H

#include <stddef.h>
#include <sys/types.h>

#include "../mp_ipc.h"

/**
 * @file managers.h
 * @brief Lesson 11: a manager, a server process that owns a dict and a
 *        list, and proxies that reach them over a Unix-domain socket, one
 *        request per operation.
 *
 * Python equivalent:
 * @code{.py}
 * from multiprocessing import Manager, Process
 *
 * def f(d, l):
 *     d[1] = '1'; d['2'] = 2; d[0.25] = None
 *     l.reverse()
 *
 * with Manager() as manager:       # starts the server process
 *     d = manager.dict()           # proxies: each d[k] = v is a request
 *     l = manager.list(range(10))
 *     p = Process(target=f, args=(d, l)); p.start(); p.join()
 *     print(d)                     # {1: '1', '2': 2, 0.25: None}
 *     print(l)                     # [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
 * # leaving the block calls manager.shutdown()
 * @endcode
 *
 * The server listens on a Unix-domain stream socket at
 * `mp_ipc_path("manager")`.  Each message is a frame, as in lesson 04: a
 * 4-byte big-endian length, then that many bytes of body, 1 to
 * #MP_MANAGER_MSG_MAX.  A body is a sequence of typed values, each a type
 * byte (the mp_type) and then:
 *
 * | type       | then                                                |
 * |------------|-----------------------------------------------------|
 * | `MP_NONE`  | nothing                                             |
 * | `MP_INT`   | 8 bytes, big-endian two's complement                |
 * | `MP_FLOAT` | 8 bytes, the IEEE-754 bits, big-endian              |
 * | `MP_STR`   | a 4-byte big-endian length n, n bytes, then a 0 byte |
 *
 * Before any request, the two sides authenticate each other with a shared
 * key and an HMAC challenge, Python's handshake byte for byte (see
 * mp_deliver_challenge()): the server reads nothing else from a client
 * until then.  The key is not a cipher: what follows goes in clear.
 *
 * A request body is one op byte (an mp_op) followed by the op's
 * arguments.  A reply body is the status, an MP_INT (0 or -errno),
 * followed by the op's result when the status is 0.  #MP_OP_SHUTDOWN gets
 * no reply: the server removes its socket file and exits.
 */

/// The longest body of a frame, request or reply, in bytes.  A server
/// that believed any length a client announced could be made to allocate
/// 2 GiB by one header.
#define MP_MANAGER_MSG_MAX 4096

/// Bytes in a frame's header: the body's length, big-endian (lesson 04).
#define MP_FRAME_HEADER 4

/// How long mp_manager_shutdown() gives the server to stop, in ms, before
/// it kills it (Python's shutdown joins for 1 s, then terminates).
#define MP_MANAGER_GRACE_MS 2000

/* ------------------------------------------------------ authentication */

/// The first bytes of a challenge, as Python's connection.py spells them.
#define MP_CHALLENGE "#CHALLENGE#"
/// What the side that challenged sends when the answer was right.
#define MP_WELCOME "#WELCOME#"
/// What it sends when the answer was wrong or malformed.
#define MP_FAILURE "#FAILURE#"
/// The digest's name, before the random bytes of a challenge and before
/// the digest of an answer (Python 3.12's protocol).
#define MP_DIGEST_PREFIX "{sha256}"
/// Random bytes in a challenge, after #MP_DIGEST_PREFIX (Python 3.12
/// sends 40; Python 3.11 sent 20 without a prefix).
#define MP_CHALLENGE_LEN 40
/// Bytes of an HMAC-SHA256 digest.
#define MP_DIGEST_LEN 32
/// Bytes of an HMAC-MD5 digest: the answer of Python 3.11 and older.
#define MP_MD5_DIGEST_LEN 16
/// The longest handshake message either side reads, as Python's
/// `recv_bytes(256)`: a longer one is refused unread.
#define MP_AUTH_MSG_MAX 256
/// Bytes of the random authkey a process gets (Python's `os.urandom(32)`).
#define MP_AUTHKEY_LEN 32
/// The longest authkey mp_set_authkey() takes.
#define MP_AUTHKEY_MAX 256
/// How long the server gives a new client for each half of the handshake,
/// in ms.  The server is one process that serves one thing at a time: a
/// client that connects and never answers holds the others up this long,
/// and no longer.
#define MP_AUTH_TIMEOUT_MS 500

/// The type of a value.  Each is also the value's type byte on the wire.
typedef enum {
    MP_NONE = 'N',  ///< Python's None
    MP_INT = 'i',   ///< an int, within a long long
    MP_FLOAT = 'f', ///< a float: a C double
    MP_STR = 's',   ///< a str: a NUL-terminated string without other NULs
} mp_type;

/// A typed value: a key or a value of the dict.  Build one with mp_int(),
/// mp_float(), mp_str() or mp_none(); only the field its type names is
/// used.
typedef struct {
    mp_type type;  ///< which field below holds the value
    long long i;   ///< the value of an MP_INT
    double f;      ///< the value of an MP_FLOAT
    const char *s; ///< the value of an MP_STR, not owned by the value
} mp_value;

/// What a request asks for: the first byte of its body.  The arguments
/// and the result follow the arrow.
typedef enum {
    MP_OP_DICT_SET = 'S',     ///< key, value -> nothing
    MP_OP_DICT_GET = 'G',     ///< key -> the value, or status -ENOENT
    MP_OP_DICT_DEL = 'D',     ///< key -> nothing, or status -ENOENT
    MP_OP_DICT_LEN = 'L',     ///< -> MP_INT, the number of keys
    MP_OP_DICT_INCR = 'I',    ///< key, MP_INT delta -> MP_INT, the new value
    MP_OP_DICT_REPR = 'P',    ///< -> MP_STR, what Python's print(d) shows
    MP_OP_LIST_APPEND = 'a',  ///< MP_INT -> nothing
    MP_OP_LIST_GET = 'g',     ///< MP_INT index -> MP_INT, or status -ERANGE
    MP_OP_LIST_SET = 's',     ///< MP_INT index, MP_INT -> nothing
    MP_OP_LIST_LEN = 'l',     ///< -> MP_INT, the number of items
    MP_OP_LIST_REVERSE = 'r', ///< -> nothing; the list is reversed in place
    MP_OP_LIST_REPR = 'p',    ///< -> MP_STR, what Python's print(l) shows
    MP_OP_SHUTDOWN = 'X',     ///< -> no reply: the server stops
} mp_op;

/**
 * @brief An int value, Python's `1`.
 * @param i the int.
 * @return the value.
 */
static inline mp_value
mp_int(long long i)
{
    mp_value v = {MP_INT, i, 0.0, NULL};
    return v;
}

/**
 * @brief A float value, Python's `0.25`.
 * @param f the float.
 * @return the value.
 */
static inline mp_value
mp_float(double f)
{
    mp_value v = {MP_FLOAT, 0, f, NULL};
    return v;
}

/**
 * @brief A string value, Python's `'1'`.
 * @param s the string; it must stay valid while the value is used.
 * @return the value.
 */
static inline mp_value
mp_str(const char *s)
{
    mp_value v = {MP_STR, 0, 0.0, s};
    return v;
}

/**
 * @brief Python's `None`.
 * @return the value.
 */
static inline mp_value
mp_none(void)
{
    mp_value v = {MP_NONE, 0, 0.0, NULL};
    return v;
}

/// A running manager: the server process and its address.  Opaque.
typedef struct mp_manager mp_manager;

/// A proxy: one connection to a manager's server, through which every
/// operation on its dict and list is a request.  Opaque.
typedef struct mp_proxy mp_proxy;

/* ------------------------------------------------------ authentication */

/**
 * @brief Set this process's authkey, Python's
 *        `current_process().authkey = key`.
 *
 * The key is what a manager started afterwards, and every connection
 * made afterwards, authenticates with.  Children forked afterwards
 * inherit it.
 *
 * @param key the key's bytes, any bytes (NULs too).
 * @param len its length, 1 to #MP_AUTHKEY_MAX.
 * @return 0.
 * @retval -EINVAL key is NULL, len is 0 or over #MP_AUTHKEY_MAX.
 */
int mp_set_authkey(const void *key, size_t len);

/**
 * @brief This process's authkey, Python's `current_process().authkey`.
 *
 * Unless mp_set_authkey() set one, the first call that needs a key
 * (this one, mp_manager_start(), mp_manager_connect()) makes one of
 * #MP_AUTHKEY_LEN random bytes from getrandom(2).  A child forked after
 * that has the same key; a child forked before it makes its own.
 *
 * @param buf  receives the key.
 * @param size bytes in buf.
 * @return the key's length.
 * @retval -EINVAL buf is NULL.
 * @retval -ERANGE the key does not fit in size bytes.
 * @retval -ENOSYS no key could be made: getrandom(2) is missing (a kernel
 *                 before 3.17).  Another failure of getrandom() gives
 *                 minus its errno.
 */
int mp_get_authkey(void *buf, size_t size);

/**
 * @brief Challenge the peer on fd to prove it holds key, Python's
 *        `deliver_challenge(connection, authkey)`.
 *
 * Sends the frame #MP_CHALLENGE #MP_DIGEST_PREFIX and #MP_CHALLENGE_LEN
 * fresh random bytes (getrandom(2)), reads the answer, a frame of at most
 * #MP_AUTH_MSG_MAX bytes, and compares it in constant time with
 * #MP_DIGEST_PREFIX and HMAC-SHA256(key, what followed #MP_CHALLENGE);
 * a bare HMAC-MD5 of the same bytes (Python 3.11's answer) is accepted
 * too.  Then it sends #MP_WELCOME, or #MP_FAILURE.
 *
 * Frames are this lesson's (and Python's): a 4-byte big-endian length,
 * then the bytes.
 *
 * @param fd         a connected stream socket.
 * @param key        the shared key.
 * @param keylen     its length, 1 to #MP_AUTHKEY_MAX.
 * @param timeout_ms how long the peer has to answer, in all: -1 for ever.
 * @return 0: the peer holds key (it was sent #MP_WELCOME).
 * @retval -EACCES    the answer was a digest, but not the right one: the
 *                    peer has another key (Python's AuthenticationError).
 *                    It was sent #MP_FAILURE.
 * @retval -EPROTO    the answer was no digest.  A whole frame of the
 *                    wrong length or without the prefix was sent
 *                    #MP_FAILURE; a frame that could not be read (empty,
 *                    cut, or over #MP_AUTH_MSG_MAX bytes) was sent nothing
 *                    (Python sends #MP_FAILURE for an empty one too).
 * @retval -ETIMEDOUT no whole answer within timeout_ms.
 * @retval -EPIPE     the peer closed the connection (or sending failed
 *                    for that reason; SIGPIPE is never raised).
 * @retval -EINVAL    fd is negative, key is NULL, keylen is 0 or over
 *                    #MP_AUTHKEY_MAX, or timeout_ms is below -1.
 * @note A signal does not end the wait, and does not restart its time.
 */
int mp_deliver_challenge(int fd, const void *key, size_t keylen,
                         int timeout_ms);

/**
 * @brief Prove to the peer on fd that this side holds key, Python's
 *        `answer_challenge(connection, authkey)`.
 *
 * Reads a challenge (at most #MP_AUTH_MSG_MAX bytes, starting with
 * #MP_CHALLENGE), answers #MP_DIGEST_PREFIX and HMAC-SHA256(key, what
 * followed #MP_CHALLENGE); a challenge of 20 bytes with no prefix (Python
 * 3.11's) gets the bare HMAC-MD5 that Python 3.11 expects.  Then reads
 * the verdict.
 *
 * @param fd         a connected stream socket.
 * @param key        the shared key.
 * @param keylen     its length, 1 to #MP_AUTHKEY_MAX.
 * @param timeout_ms how long the peer has for its challenge and its
 *                   verdict, in all: -1 for ever.
 * @return 0: the peer answered #MP_WELCOME.
 * @retval -EACCES    the peer answered #MP_FAILURE: it has another key.
 * @retval -EPROTO    the challenge or the verdict was malformed (no
 *                    #MP_CHALLENGE, fewer than 20 bytes after it, an
 *                    unknown digest, over #MP_AUTH_MSG_MAX bytes, a
 *                    verdict that is neither word).  Nothing is answered
 *                    to a malformed challenge.
 * @retval -ETIMEDOUT no challenge, or no verdict, within timeout_ms.
 * @retval -EPIPE     the peer closed the connection.
 * @retval -EINVAL    as for mp_deliver_challenge().
 * @note A signal does not end the wait, and does not restart its time.
 */
int mp_answer_challenge(int fd, const void *key, size_t keylen, int timeout_ms);

/* --------------------------------------------------------- the manager */

/**
 * @brief Start a manager: fork a server process that listens on
 *        `mp_ipc_path("manager")` and owns an empty dict and an empty
 *        list, like Python's `Manager()`.
 *
 * Returns only once the server listens: a client may connect at once.
 * The server tells the caller so itself, on a pipe, after listen(); the
 * caller never sleeps and never guesses.
 *
 * The server authenticates every client before it reads a request: it
 * challenges the client (mp_deliver_challenge()), then answers the
 * client's challenge (mp_answer_challenge()), each within
 * #MP_AUTH_TIMEOUT_MS, with the caller's authkey (mp_get_authkey()) as it
 * was at this call.  A client that fails is closed, its bytes unread.
 *
 * @param mgr receives the manager's handle.
 * @return 0, with *mgr set, once the server is listening.
 * @retval -EINVAL       mgr is NULL.
 * @retval -EADDRINUSE   a file already exists at the address: a server is
 *                       running there, or a dead one left its socket.  The
 *                       file is left alone.
 * @retval -ENAMETOOLONG the address does not fit in a sockaddr_un.
 * @retval -EPIPE        the server ended before it said it was ready.
 * @retval -EMFILE       the caller has no descriptor left for the pipe.
 * @retval -EAGAIN       fork() failed: too many processes.
 * @retval -ENOMEM       no memory for the handle, or for fork().
 * @retval -ENOSYS       no authkey could be made (see mp_get_authkey()).
 * @note The server is a child of the caller, forked, and ends with _exit():
 *       only mp_manager_shutdown(), called in the same process, reaps it.
 * @note The address is fixed, so one manager runs at a time per
 *       FORKLINGS_PREFIX: a second start gives -EADDRINUSE.  (Python makes
 *       up a new address for each manager.)
 */
int mp_manager_start(mp_manager **mgr);

/**
 * @brief The address clients connect to, Python's `manager.address`.
 * @param mgr a manager.
 * @return the socket's path, owned by mgr; NULL if mgr is NULL.
 */
const char *mp_manager_address(const mp_manager *mgr);

/**
 * @brief The server's process id.
 * @param mgr a manager.
 * @return the server's pid (> 0).
 * @retval -EINVAL mgr is NULL.
 */
pid_t mp_manager_pid(const mp_manager *mgr);

/**
 * @brief Stop the server and free the handle, like Python's
 *        `manager.shutdown()`.
 *
 * Sends a #MP_OP_SHUTDOWN request on a connection of its own,
 * authenticated with the key the manager was started with, each way
 * within #MP_MANAGER_GRACE_MS: a server that never answers does not hold
 * shutdown up.  The server
 * stops accepting, removes its socket file and exits, which closes every
 * client's connection: their next request fails with -EPIPE.  A server
 * still running #MP_MANAGER_GRACE_MS later is killed.  Then the server is
 * reaped (that process only), and if it did not exit cleanly (it was
 * killed), its socket file is removed here.
 *
 * @param mgr      a manager started by this process; freed, even on error.
 * @param exitcode receives the server's exit code, the Python way: 0 after
 *                 a clean shutdown, -9 if it had been killed; may be NULL.
 * @return 0 once the server is reaped and its socket file gone.
 * @retval -EINVAL mgr is NULL.
 * @retval -ECHILD the server is not a child of the caller (shutdown from
 *                 another process).
 * @note Never reaps any other child of the caller.
 */
int mp_manager_shutdown(mp_manager *mgr, int *exitcode);

/* ----------------------------------------------------------- proxies */

/**
 * @brief Connect to a manager's server, like Python's
 *        `BaseManager(address=...).connect()`.
 *
 * Each process needs its own proxy: a connection shared by two processes
 * mixes their requests and replies.  So a child connects after fork().
 *
 * Before it returns, the connection is authenticated both ways with the
 * caller's authkey (mp_get_authkey()), as Python's `Client(address,
 * authkey=...)` does: the client answers the server's challenge
 * (mp_answer_challenge()), then challenges the server
 * (mp_deliver_challenge()), waiting as long as the server takes.
 *
 * @param address the server's socket path, mp_manager_address().
 * @param proxy   receives the proxy.
 * @return 0, with *proxy set.
 * @retval -EINVAL       address or proxy is NULL.
 * @retval -ENOENT       no socket at address: no server was started there,
 *                       or it was shut down.
 * @retval -ECONNREFUSED a socket file but no server listening: the server
 *                       died without removing it.
 * @retval -ENAMETOOLONG address does not fit in a sockaddr_un.
 * @retval -ENOMEM       no memory for the proxy.
 * @retval -EACCES       a key differs: the server refused this client's
 *                       answer, or answered this client's challenge
 *                       wrongly (Python's AuthenticationError).
 * @retval -EPROTO       the server's side of the handshake was malformed.
 * @retval -EPIPE        the server closed the connection during the
 *                       handshake (it had no room for another client).
 */
int mp_manager_connect(const char *address, mp_proxy **proxy);

/**
 * @brief Close a proxy's connection and free it.
 * @param proxy a proxy, or NULL (nothing is done).
 * @return 0, or minus the errno of a failed close(); freed either way.
 */
int mp_proxy_close(mp_proxy *proxy);

/*
 * Every operation below is one request and one reply, and shares these
 * errors:
 *   -EINVAL   proxy (or an out pointer) is NULL, or a string value is;
 *   -EMSGSIZE the request would be longer than MP_MANAGER_MSG_MAX: nothing
 *             was sent, the proxy is still usable;
 *   -EPIPE    the server has gone (shut down or died): it closed the
 *             connection before it replied;
 *   -EPROTO   the reply is not a valid message: close the proxy.
 * None of them lets SIGPIPE kill the caller.
 */

/**
 * @brief `d[key] = value`: set a key of the manager's dict.
 *
 * A new key goes at the end, an existing one keeps its place (Python's
 * dicts keep insertion order).  Keys are equal when their types and
 * values are: unlike Python, `1` and `1.0` are two keys.
 *
 * @param proxy a proxy.
 * @param key   the key, of any type.
 * @param value the value, of any type.
 * @return 0.
 * @retval -EINVAL   proxy is NULL.
 * @retval -EMSGSIZE the request would be too long (a long string).
 * @retval -EPIPE    the server has gone.
 * @retval -EPROTO   the reply was not valid.
 * @retval -ENOMEM   the server ran out of memory.
 */
int mp_dict_set(mp_proxy *proxy, mp_value key, mp_value value);

/**
 * @brief `d[key]`: get a value of the manager's dict.
 * @param proxy a proxy.
 * @param key   the key.
 * @param value receives the value.  A string points into the proxy's
 *              buffer, valid until the proxy's next call: copy it to keep
 *              it.
 * @return 0.
 * @retval -ENOENT   no such key: Python's KeyError.
 * @retval -EINVAL   proxy or value is NULL.
 * @retval -EMSGSIZE the request would be too long.
 * @retval -EPIPE    the server has gone.
 * @retval -EPROTO   the reply was not valid.
 */
int mp_dict_get(mp_proxy *proxy, mp_value key, mp_value *value);

/**
 * @brief `del d[key]`: remove a key of the manager's dict.
 * @param proxy a proxy.
 * @param key   the key.
 * @return 0.
 * @retval -ENOENT   no such key: Python's KeyError.
 * @retval -EINVAL   proxy is NULL.
 * @retval -EMSGSIZE the request would be too long.
 * @retval -EPIPE    the server has gone.
 * @retval -EPROTO   the reply was not valid.
 */
int mp_dict_del(mp_proxy *proxy, mp_value key);

/**
 * @brief `len(d)`.
 * @param proxy a proxy.
 * @return the number of keys (>= 0).
 * @retval -EINVAL proxy is NULL.
 * @retval -EPIPE  the server has gone.
 * @retval -EPROTO the reply was not valid.
 */
int mp_dict_len(mp_proxy *proxy);

/**
 * @brief `d[key] = d.get(key, 0) + delta`, done by the server in ONE
 *        request.
 *
 * Through a proxy, `d[key] += 1` is two requests, a get and then a set:
 * two processes can both get 5 and both set 6, and an update is lost.
 * The server handles one request at a time, so an increment it does
 * itself cannot be cut in two.
 *
 * @param proxy a proxy.
 * @param key   the key; a missing key counts as 0.
 * @param delta what to add.
 * @param now   receives the new value; may be NULL.
 * @return 0.
 * @retval -EINVAL    proxy is NULL, or the key holds a value that is not an
 *                    MP_INT (Python's TypeError).
 * @retval -EOVERFLOW the sum does not fit in a long long.
 * @retval -EMSGSIZE  the request would be too long.
 * @retval -EPIPE     the server has gone.
 * @retval -EPROTO    the reply was not valid.
 * @retval -ENOMEM    the server ran out of memory.
 */
int mp_dict_incr(mp_proxy *proxy, mp_value key, long long delta,
                 long long *now);

/**
 * @brief `str(d)`: the dict as Python prints it, made by the server.
 *
 * `{1: '1', '2': 2, 0.25: None}`: keys in insertion order; strings in
 * quotes, floats in Python's shortest form (`0.25`, `1.0`, `1e+16`).
 *
 * @param proxy a proxy.
 * @param buf   receives the text, NUL-terminated.
 * @param size  bytes in buf.
 * @return the text's length (without the NUL).
 * @retval -EINVAL   proxy or buf is NULL.
 * @retval -ERANGE   the text does not fit in size bytes.
 * @retval -EMSGSIZE the text would be longer than a reply can be.
 * @retval -EPIPE    the server has gone.
 * @retval -EPROTO   the reply was not valid.
 */
int mp_dict_repr(mp_proxy *proxy, char *buf, size_t size);

/**
 * @brief `l.append(value)`: add an int at the end of the manager's list.
 * @param proxy a proxy.
 * @param value the int.
 * @return 0.
 * @retval -EINVAL proxy is NULL.
 * @retval -EPIPE  the server has gone.
 * @retval -EPROTO the reply was not valid.
 * @retval -ENOMEM the server ran out of memory.
 */
int mp_list_append(mp_proxy *proxy, long long value);

/**
 * @brief `l[index]`.
 * @param proxy a proxy.
 * @param index from 0; negative counts from the end, as in Python.
 * @param value receives the int.
 * @return 0.
 * @retval -ERANGE no such index: Python's IndexError.
 * @retval -EINVAL proxy or value is NULL.
 * @retval -EPIPE  the server has gone.
 * @retval -EPROTO the reply was not valid.
 */
int mp_list_get(mp_proxy *proxy, long long index, long long *value);

/**
 * @brief `l[index] = value`.
 * @param proxy a proxy.
 * @param index from 0; negative counts from the end, as in Python.
 * @param value the int.
 * @return 0.
 * @retval -ERANGE no such index: Python's IndexError.
 * @retval -EINVAL proxy is NULL.
 * @retval -EPIPE  the server has gone.
 * @retval -EPROTO the reply was not valid.
 */
int mp_list_set(mp_proxy *proxy, long long index, long long value);

/**
 * @brief `len(l)`.
 * @param proxy a proxy.
 * @return the number of items (>= 0).
 * @retval -EINVAL proxy is NULL.
 * @retval -EPIPE  the server has gone.
 * @retval -EPROTO the reply was not valid.
 */
int mp_list_len(mp_proxy *proxy);

/**
 * @brief `l.reverse()`: reverse the list in place, in the server.
 * @param proxy a proxy.
 * @return 0.
 * @retval -EINVAL proxy is NULL.
 * @retval -EPIPE  the server has gone.
 * @retval -EPROTO the reply was not valid.
 */
int mp_list_reverse(mp_proxy *proxy);

/**
 * @brief `str(l)`: the list as Python prints it, `[9, 8, 7]`.
 * @param proxy a proxy.
 * @param buf   receives the text, NUL-terminated.
 * @param size  bytes in buf.
 * @return the text's length (without the NUL).
 * @retval -EINVAL   proxy or buf is NULL.
 * @retval -ERANGE   the text does not fit in size bytes.
 * @retval -EMSGSIZE the text would be longer than a reply can be.
 * @retval -EPIPE    the server has gone.
 * @retval -EPROTO   the reply was not valid.
 */
int mp_list_repr(mp_proxy *proxy, char *buf, size_t size);

#endif
