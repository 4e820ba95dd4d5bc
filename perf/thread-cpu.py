#!/usr/bin/env python3
# CPU per thread over N seconds (default 5), from /proc/*/task/*/stat: the machine's shares (of one CPU each: 200 % on
# two CPUs) and the ten busiest threads. Used beside perf/lab-bench.sh, e.g. while one path's test runs:
#   perf/lab-bench.sh -d 20 --only conns --paths afpacket & sleep 30; perf/thread-cpu.py 5
import os, time, sys
def snap():
    d={}
    for p in os.listdir('/proc'):
        if not p.isdigit(): continue
        try:
            for t in os.listdir(f'/proc/{p}/task'):
                s=open(f'/proc/{p}/task/{t}/stat').read()
                comm=s[s.index('(')+1:s.rindex(')')]
                f=s[s.rindex(')')+2:].split()
                d[(p,t)]=(comm,int(f[11])+int(f[12]))
        except Exception: pass
    return d
def cpu():
    f=open('/proc/stat').readline().split()[1:]
    return [int(x) for x in f]
dur=float(sys.argv[1]) if len(sys.argv)>1 else 5
hz=os.sysconf('SC_CLK_TCK')
a=snap(); ca=cpu(); time.sleep(dur); b=snap(); cb=cpu()
tot=sum(cb)-sum(ca)
names=['user','nice','sys','idle','iowait','irq','softirq','steal']
ncpu=os.cpu_count() or 1
print(' '.join(f'{n}={100*(cb[i]-ca[i])/tot*ncpu:.0f}%' for i,n in enumerate(names)), f'(of one CPU; {100*ncpu}% total)')
rows=[]
for k,(c,t) in b.items():
    if k in a: rows.append((t-a[k][1],c,k[1]))
rows.sort(reverse=True)
for dt,c,t in rows[:10]:
    print(f'{100*dt/dur/hz:6.1f}% {c} {t}')
