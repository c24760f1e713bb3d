#!/usr/bin/env python3
"""Runs a command and prints its wall time and peak RssAnon/RssFile/VmRSS (sampled every 20 ms
from /proc/<pid>/status): the memory-mapped database counts in VmRSS but is page cache."""
import subprocess, sys, time, re
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
peak = {"RssAnon":0, "RssFile":0, "VmRSS":0}
t0=time.time()
while p.poll() is None:
    try:
        s=open(f"/proc/{p.pid}/status").read()
        for k in peak:
            m=re.search(rf"{k}:\s+(\d+)", s)
            if m: peak[k]=max(peak[k], int(m.group(1)))
    except FileNotFoundError:
        pass
    time.sleep(0.02)
print(f"wall {time.time()-t0:.2f} s, rc {p.returncode}, peak KiB: {peak}")
