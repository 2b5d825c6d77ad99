// interpose_hmac.c - hostile submission: defines HMAC, OpenSSL's, which the
// test programs link (lesson 11's tests compute the right answers of its
// handshake with it): a lesson file's own HMAC would answer for them.
#include <stddef.h>

unsigned char *
HMAC(const void *md, const void *key, int keylen, const unsigned char *d,
     size_t n, unsigned char *out, unsigned int *outlen)
{
    (void)md;
    (void)key;
    (void)keylen;
    (void)d;
    (void)n;
    *outlen = 0;
    return out;
}

pid_t
mp_fork_call(mp_target target, void *arg)
{
    return honest_fork_call(target, arg);
}
