"""Run every benchmark of bench/ in turn (`make bench`); figures go to bench/RESULTS.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    ["raw_ingest.py", "--mib", "1024", "--runs", "3"],
    ["small_jobs.py", "--jobs", "1000"],
    ["ipp_bench.py", "--seconds", "5", "--runs", "3"],
    ["snmp_bench.py", "--seconds", "3", "--runs", "3"],
]

if __name__ == "__main__":
    for args in BENCHMARKS:
        print(f"$ python bench/{' '.join(args)}", flush=True)
        subprocess.run([sys.executable, str(HERE / args[0]), *args[1:]], check=True, cwd=HERE)
        print(flush=True)
