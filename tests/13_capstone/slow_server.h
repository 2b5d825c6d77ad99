// slow_server.h - a slow HTTP/1.0 server on 127.0.0.1, for lesson 13's demo
// and for bench_13: the "web site" that the classic parallel-scraping
// example fetches from, with a latency set on purpose.
//
// One process accepts; each connection gets a forked handler that reads the
// request, waits delay_ms (the server's latency: a sleep that stands for
// the work of a real server, not a synchronisation), and answers
// `GET /page/N` with 200 and a body of 1000 * N bytes (N from 0 to 1000;
// anything else gets a body of 0 bytes).  Included by one .c per program:
// everything is `static inline`.
#ifndef FORKLINGS_SLOW_SERVER_H
#define FORKLINGS_SLOW_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/// Bytes in each kilobyte of a page's body: /page/N has N of them.
#define SLOW_PAGE_UNIT 1000

// Answer one request on fd after delay_ms.
static inline void
slow_serve_one(int fd, int delay_ms)
{
    char req[1024], body[SLOW_PAGE_UNIT];
    size_t have = 0;
    req[0] = '\0';
    while (strstr(req, "\r\n\r\n") == NULL && have < sizeof req - 1) {
        ssize_t n = read(fd, req + have, sizeof req - 1 - have);
        if (n <= 0)
            return;
        have += (size_t)n;
        req[have] = '\0';
    }
    int page = 0;
    if (sscanf(req, "GET /page/%d", &page) != 1 || page < 0 || page > 1000)
        page = 0;
    poll(NULL, 0, delay_ms); // the server's latency
    char head[128];
    memset(body, 'x', sizeof body);
    snprintf(head, sizeof head, "HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n",
             SLOW_PAGE_UNIT * page);
    send(fd, head, strlen(head), MSG_NOSIGNAL);
    for (int i = 0; i < page; i++)
        send(fd, body, sizeof body, MSG_NOSIGNAL);
}

/**
 * @brief Fork the server, listening on 127.0.0.1 on a port the kernel picks.
 * @param delay_ms how long each handler waits before it answers.
 * @param port     receives the port.
 * @param stop     receives a descriptor: close it to end the server, then
 *                 waitpid() the pid returned.
 * @return the server's pid, or -1 if the socket, the pipe or fork failed.
 */
static inline pid_t
slow_server_start(int delay_ms, int *port, int *stop)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0), p[2];
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) < 0 ||
        listen(lfd, 128) < 0 || pipe(p) < 0) {
        if (lfd >= 0)
            close(lfd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(lfd);
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[1]);
        struct pollfd fds[2] = {{.fd = lfd, .events = POLLIN},
                                {.fd = p[0], .events = POLLIN}};
        while (poll(fds, 2, -1) >= 0 && fds[1].revents == 0) {
            int fd = fds[0].revents ? accept(lfd, NULL, NULL) : -1;
            if (fd >= 0 && fork() == 0) {
                close(lfd);
                slow_serve_one(fd, delay_ms);
                _exit(0);
            }
            if (fd >= 0)
                close(fd);
            while (waitpid(-1, NULL, WNOHANG) > 0) // the handlers done
                ;
        }
        while (wait(NULL) > 0)
            ;
        _exit(0);
    }
    close(lfd);
    close(p[0]);
    *stop = p[1];
    return pid;
}

#endif
