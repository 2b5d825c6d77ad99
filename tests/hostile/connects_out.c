// connects_out.c - hostile submission: reaches for the network, a server on
// the machine's loopback (selftest.sh listens on @PORT@) and a public
// address, and fails so that what it got is shown.
#include <arpa/inet.h>
#include <sys/socket.h>

static void
reach(const char *ip, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0)
        fprintf(stderr, "connected to %s:%d\n", ip, port);
    if (s >= 0)
        close(s);
}

pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    reach("127.0.0.1", @PORT @);
    _exit(3);
}
