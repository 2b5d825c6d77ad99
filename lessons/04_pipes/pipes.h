// pipes.h - lesson 04: Pipe and Connection, messages over pipe and socketpair.
#ifndef FORKLINGS_PIPES_H
#define FORKLINGS_PIPES_H

#include <stddef.h>
#include <sys/types.h>

/**
 * @file pipes.h
 * @brief Lesson 04: a pair of connections that carry whole messages
 *        between processes, over a pipe (one-way) or a socketpair (duplex).
 *
 * Python equivalent:
 * @code{.py}
 * from multiprocessing import Pipe, Process
 * a, b = Pipe(duplex=True)          # Pipe(False): a receives, b sends
 * p = Process(target=f, args=(b,)); p.start(); b.close()
 * a.send_bytes(b"ping")
 * if a.poll(0.5):                   # seconds in Python, ms here
 *     msg = a.recv_bytes()          # EOFError at EOF: 0 here
 * a.close(); p.join()
 * @endcode
 *
 * Each message travels as a frame: a header of #MP_FRAME_HEADER bytes
 * holding the message's length as a big-endian unsigned number (the format
 * of Python's Connection for messages under 2 GiB), then the message.
 */

/// Bytes in a frame's header: the message length, big-endian.
#define MP_FRAME_HEADER 4

/// The longest message: 2^31 - 1 bytes, as Python's 4-byte header allows.
#define MP_MSG_MAX 0x7fffffffUL

/// One end of a pipe made by mp_pipe(): an opaque handle.
typedef struct mp_conn mp_conn;

/**
 * @brief A function to run in a child process with its end of a pipe.
 * @param conn the child's end, given to mp_conn_fork() as `give`.
 * @param arg  the pointer given to mp_conn_fork().
 * @return the child's exit status (only the low 8 bits survive).
 */
typedef int (*mp_conn_target)(mp_conn *conn, void *arg);

/**
 * @brief Make a connected pair of ends, like Python's `Pipe(duplex)`.
 *
 * With duplex set, the ends are the two sides of a Unix socketpair and
 * each can send and receive.  Without it, they are the two ends of a
 * pipe: `*a` can only receive and `*b` can only send, as in Python.
 *
 * @param duplex 1 for two-way ends (socketpair), 0 for one-way (pipe).
 * @param a      receives the first end (the reading end when one-way).
 * @param b      receives the second end (the writing end when one-way).
 * @return 0, with both ends set; on failure neither is set and nothing
 *         is left open.
 * @retval -EINVAL a or b is NULL.
 * @retval -EMFILE the process has too many descriptors open.
 * @retval -ENFILE the system has too many descriptors open.
 * @retval -ENOMEM no memory for the handles.
 * @note Both ends belong to the caller.  After a fork, each process must
 *       close the end it does not use (mp_conn_fork() does it), or EOF
 *       never arrives: an end stays open while any process holds a copy.
 */
int mp_pipe(int duplex, mp_conn **a, mp_conn **b);

/**
 * @brief Send one message, whole: a frame header, then the bytes.
 *
 * Blocks until every byte is written.  Short writes and signals (EINTR)
 * are handled inside: the caller sees the whole message sent or an error.
 *
 * @param conn an end that can send.
 * @param buf  the message.
 * @param len  its length, 1 to #MP_MSG_MAX bytes.
 * @return 0 once the whole frame is written.
 * @retval -EINVAL conn or buf is NULL, or len is 0 (an empty message would
 *         read as EOF).
 * @retval -EMSGSIZE len is over #MP_MSG_MAX.
 * @retval -EBADF conn is the receiving end of a one-way pipe.
 * @retval -EPIPE every receiving end is closed.  The process is not killed
 *         by SIGPIPE and its SIGPIPE disposition and signal mask are left
 *         as they were.
 * @note A frame of at most `PIPE_BUF` bytes (header included) is written
 *       to a one-way pipe in one go: frames from several processes sharing
 *       the sending end never interleave.  Longer frames may.
 */
int mp_send_bytes(mp_conn *conn, const void *buf, size_t len);

/**
 * @brief Receive one message, whole, into the caller's buffer.
 *
 * Blocks until a whole message has arrived or the sender has gone.
 * Short reads and signals (EINTR) are handled inside.
 *
 * @param conn an end that can receive.
 * @param buf  where to put the message.
 * @param cap  the size of buf.
 * @return the message's length (> 0), or 0 at EOF: every sending end is
 *         closed and no message is left.
 * @retval -EINVAL conn or buf is NULL.
 * @retval -EMSGSIZE the message is longer than cap.  It is read and thrown
 *         away, so the next call gets the next message; buf is left
 *         untouched (Python's recv_bytes_into leaves its buffer so too).
 * @retval -EPROTO the sender closed in the middle of a frame (a truncated
 *         message), or the header holds a length of 0 or over #MP_MSG_MAX.
 * @retval -EBADF conn is the sending end of a one-way pipe.
 * @note Blocks for ever if a sending end stays open in some process that
 *       will never send, the caller included: close the ends you do not use.
 */
ssize_t mp_recv_bytes(mp_conn *conn, void *buf, size_t cap);

/**
 * @brief Wait until a message (or EOF) can be received, like `poll`.
 *
 * @param conn       an end that can receive.
 * @param timeout_ms how long to wait: -1 for ever, 0 to just look.
 * @return 1 when mp_recv_bytes() will not block for the start of a
 *         message (one has begun to arrive, or the sender has closed: it
 *         then returns 0), 0 when the timeout expired first.
 * @retval -EINVAL conn is NULL or timeout_ms is below -1.
 * @note Signals that interrupt the wait do not end it early nor make it
 *       longer: the timeout is a deadline.
 */
int mp_poll(mp_conn *conn, int timeout_ms);

/**
 * @brief The file descriptor under an end, like `Connection.fileno()`.
 * @param conn an end.
 * @return the descriptor (>= 0), which stays owned by conn.
 * @retval -EINVAL conn is NULL.
 */
int mp_conn_fileno(mp_conn *conn);

/**
 * @brief Close an end and free its handle, like `Connection.close()`.
 * @param conn an end, or NULL (nothing is done).
 * @return 0, or minus the errno of a failed close(); the handle is freed
 *         and the descriptor released either way.
 * @retval -EBADF the descriptor had already been closed behind the handle.
 * @retval -EIO   an I/O error was reported by close().
 * @note Closes only this process's copy: the peer sees EOF (or EPIPE) once
 *       every process holding a copy has closed it.
 */
int mp_conn_close(mp_conn *conn);

/**
 * @brief Start a child that runs `target(give, arg)`, each process
 *        keeping only its own end.
 *
 * Like `Process(target=f, args=(give,)).start()` followed by
 * `give.close()` in the parent.  The child closes its copy of `keep`,
 * runs the target, closes `give`, flushes stdio and ends with `_exit()`
 * with the target's return value.  The parent closes `give` (its handle is
 * freed: do not use it again) and returns.  The caller waits for the child.
 *
 * @param keep   the parent's end, closed in the child.
 * @param give   the child's end, closed in the parent.
 * @param target what the child runs; must not be NULL.
 * @param arg    passed to target unchanged.
 * @return the child's pid, in the parent only.
 * @retval -EINVAL keep, give or target is NULL, or keep is give.
 * @retval -EAGAIN fork() failed: too many processes (both ends stay open).
 * @retval -ENOMEM fork() failed: not enough memory.
 * @note The target must not close `conn`: mp_conn_fork() does, after it.
 * @note Without those two closes EOF never arrives: the child would hold
 *       the parent's end open, and the parent the child's.
 */
pid_t mp_conn_fork(mp_conn *keep, mp_conn *give, mp_conn_target target,
                   void *arg);

#endif
