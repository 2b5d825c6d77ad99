"""bench.py - make bench: the Python multiprocessing side.

`python3 bench.py OP N` runs OP N times and prints the rate in operations
per second, as the C benchmarks do, for the same work.
"""
import multiprocessing as mp
import sys
import time


def noop():
    pass


def start_join(n):
    for _ in range(n):
        p = mp.Process(target=noop)
        p.start()
        p.join()


MIB = 1 << 20


def sender(conn, n):
    msg = b"x" * MIB
    for _ in range(n):
        conn.send_bytes(msg)


def pipe_stream(n):
    a, b = mp.Pipe(duplex=False)
    p = mp.Process(target=sender, args=(b, n))
    p.start()
    b.close()
    for _ in range(n):
        a.recv_bytes()
    p.join()


OPS = {"start_join": start_join, "pipe_stream": pipe_stream}

if __name__ == "__main__":
    mp.set_start_method("fork")  # the method the lessons build first
    op, n = sys.argv[1], int(sys.argv[2])
    t0 = time.perf_counter()
    OPS[op](n)
    print(round(n / (time.perf_counter() - t0)))
