// calls_harness.c - hostile submission: ends the test through the harness's
// own fl_end, skipping the test's assertions.
void fl_end(void);

pid_t
mp_fork_call(mp_target target, void *arg)
{
    (void)target;
    (void)arg;
    fl_end();
    return 1;
}
