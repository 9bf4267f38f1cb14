"""`python bench/profile_child.py OUT -m MODULE ARGS...`: run MODULE as __main__ under cProfile, every thread included.

`python -m cProfile` sees the main thread only; `copilot scan` diagnoses in a thread pool, so its main thread
just waits. Here each thread gets its own profiler and OUT gets their sum (so cumulative times add up over
threads and can exceed the wall time).
"""

import cProfile
import pstats
import runpy
import sys
import threading

out, flag, module, *args = sys.argv[1:]
if flag != "-m":
    sys.exit("usage: profile_child.py OUT -m MODULE ARGS...")
profiles: list[cProfile.Profile] = []
thread_run = threading.Thread.run


def profiled_run(self: threading.Thread) -> None:
    profile = cProfile.Profile()
    profiles.append(profile)
    profile.enable()
    try:
        thread_run(self)
    finally:
        profile.disable()


threading.Thread.run = profiled_run
main = cProfile.Profile()
sys.argv = [module, *args]
code = 0
main.enable()
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
except SystemExit as e:
    code = e.code
finally:
    main.disable()
    stats = pstats.Stats(main)
    for profile in profiles:
        profile.create_stats()
        if profile.stats:
            stats.add(profile)
    stats.dump_stats(out)
sys.exit(code)
