#!/usr/bin/env python3
# Each receive thread's (rx-*) run time and run-queue wait (time runnable but waiting for a CPU), once a second, from
# /proc/<pid>/task/<tid>/schedstat, for SECONDS seconds. Used beside perf/lab-bench.sh, e.g.:
#   perf/lab-bench.sh -d 12 --only "conns latency" --paths "afpacket afpacket-abp0" & perf/sched-wait.py 75
import os, time, sys
def find():
    for p in os.listdir('/proc'):
        if not p.isdigit(): continue
        try:
            for t in os.listdir(f'/proc/{p}/task'):
                c=open(f'/proc/{p}/task/{t}/comm').read().strip()
                if c.startswith('rx-'): yield (p,t,c)
        except Exception: pass
end=time.time()+float(sys.argv[1]); prev={}
while time.time()<end:
    now=time.time(); out=[]
    for p,t,c in find():
        try: r,w,n=map(int,open(f'/proc/{p}/task/{t}/schedstat').read().split())
        except Exception: continue
        if (p,t) in prev:
            pr,pw,pt=prev[(p,t)]
            out.append(f"{c}:run={100*(r-pr)/1e9/(now-pt):.0f}% wait={100*(w-pw)/1e9/(now-pt):.0f}%")
        prev[(p,t)]=(r,w,now)
    if out: print(time.strftime('%H:%M:%S'), ' '.join(out), flush=True)
    time.sleep(1)
