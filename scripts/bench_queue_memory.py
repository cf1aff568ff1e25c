#!/usr/bin/env python3
"""A master's memory with a full data queue, and again after a restart (docs/BENCHMARKS.md).

    python3 scripts/bench_queue_memory.py BBCHAIN_BINARY [COUNT]

Starts a dev-chain master (no miner, so nothing leaves the queue) on a free port with a throw-away
data dir, posts COUNT (default 20,000) entries of 4,000 bytes to POST /api/data, each client
address (127.0.x.y, loopback only) posting 15 of them so that the per-address rate limit does not
decide the outcome, then prints the answers by status, the master's resident memory (VmRSS and its
peak VmHWM from /proc/PID/status) and the data dir's size; then restarts the master on the same
data dir and prints its memory again.
"""

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter

PER_ADDRESS = 15


def start(binary, data_dir, port):
    process = subprocess.Popen(
        [binary, "--start-master", "--chain", "dev", "--port", str(port), "--data-dir", data_dir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if port == 0:
        for line in process.stderr:
            found = re.search(r"master on http://127\.0\.0\.1:(\d+)", line)
            if found:
                port = int(found.group(1))
                break
    threading_drain(process)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            status(port)
            return process, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the master did not start")


def threading_drain(process):
    import threading

    threading.Thread(target=lambda: process.stderr.read(), daemon=True).start()


def status(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/api/status")
    return json.loads(connection.getresponse().read())


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) // 1024
    return f"RSS {fields['VmRSS']} MiB (peak {fields['VmHWM']} MiB)"


def dir_size(path):
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return f"{total / 2**20:.0f} MiB on disk"


def post_all(port, count):
    answers = Counter()
    started = time.time()
    for i in range(count):
        address = 2 + i // PER_ADDRESS
        source = f"127.0.{address // 250}.{address % 250 + 2}"
        connection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=30, source_address=(source, 0)
        )
        body = json.dumps({"data": f"{i:04000}"})
        connection.request("POST", "/api/data", body, {"Content-Type": "application/json"})
        answers[connection.getresponse().status] += 1
        connection.close()
    return answers, time.time() - started


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    data_dir = tempfile.mkdtemp(prefix="bbchain-queue-memory-")
    try:
        master, port = start(binary, data_dir, 0)
        print(f"started: {memory(master.pid)}")
        answers, seconds = post_all(port, count)
        print(f"posted {count} entries of 4,000 bytes in {seconds:.1f} s: {dict(answers)}")
        print(f"queued {status(port)['pending']}: {memory(master.pid)}, {dir_size(data_dir)}")
        master.terminate()
        master.wait()
        master, port = start(binary, data_dir, port)
        print(f"restarted, {status(port)['pending']} queued: {memory(master.pid)}")
        master.terminate()
        master.wait()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
