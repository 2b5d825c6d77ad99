// demo_pipes.c - the classic Pipe() examples, with the lesson's functions.
//
// The Python originals:
//
//     def sender(conn):
//         conn.send("Hello from the sender process!")
//         conn.close()
//     parent_conn, child_conn = Pipe()
//     p = Process(target=sender, args=(child_conn,)); p.start()
//     print(parent_conn.recv()); p.join()
//
//     def worker(conn):
//         conn.recv()
//         conn.send("Hello from worker")
//     ... the same, with a message sent to the worker first.
//
// Where they mislead: the parent never closes child_conn, so had it read
// until EOF (`while True: conn.recv()`), it would wait for ever on an end
// it holds itself; and if the child died before sending, recv() would hang
// instead of raising EOFError.  mp_conn_fork closes each process's unused
// end.  Also, Connection.send() pickles any object; here only bytes travel.
#include "pipes.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static int
sender(mp_conn *conn, void *arg)
{
    (void)arg;
    const char *msg = "Hello from the sender process!";
    return mp_send_bytes(conn, msg, strlen(msg)) == 0 ? 0 : 1;
}

static int
worker(mp_conn *conn, void *arg)
{
    (void)arg;
    char task[64];
    if (mp_recv_bytes(conn, task, sizeof task) <= 0)
        return 1;
    const char *msg = "Hello from worker";
    return mp_send_bytes(conn, msg, strlen(msg)) == 0 ? 0 : 1;
}

// Start target on a new pipe, print the first message the child sends
// (after sending it `first`, if given), wait for the child.  0 or -errno.
static int
run(int duplex, mp_conn_target target, const char *first)
{
    mp_conn *mine, *theirs;
    char buf[128];
    int r = mp_pipe(duplex, &mine, &theirs);
    if (r < 0)
        return r;
    pid_t pid = mp_conn_fork(mine, theirs, target, NULL);
    if (pid < 0) {
        mp_conn_close(mine);
        mp_conn_close(theirs);
        return (int)pid;
    }
    if (first != NULL)
        r = mp_send_bytes(mine, first, strlen(first));
    ssize_t n = r < 0 ? r : mp_recv_bytes(mine, buf, sizeof buf - 1);
    if (n > 0)
        printf("%.*s\n", (int)n, buf);
    mp_conn_close(mine);
    waitpid(pid, NULL, 0);
    return n > 0 ? 0 : n == 0 ? -EPIPE : (int)n;
}

int
main(void)
{
    int r = run(0, sender, NULL); // Pipe(duplex=False): the child sends
    if (r == 0)
        r = run(1, worker, "Hello from main"); // Pipe(): both ways
    if (r < 0) {
        fprintf(stderr, "demo: %s\n", strerror(-r));
        return 1;
    }
    return 0;
}
