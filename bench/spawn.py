"""Run a command from a small process and write its wall time and peak RSS: `spawn.py OUT -- ARGV...`.

Linux carries a process's peak RSS across fork and exec: a child forked from the benchmark (hundreds of MB
once it holds a 500 MB log) starts with the benchmark's peak as its own. Forked from this interpreter
(about 10 MB, started with -I -S), the command's ru_maxrss is its own. OUT gets "SECONDS MAXRSS_KIB".
"""

import os
import sys
import time

out, argv = sys.argv[1], sys.argv[3:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(out, "w") as f:
    f.write(f"{seconds:.6f} {usage.ru_maxrss}\n")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
