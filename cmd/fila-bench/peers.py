#!/usr/bin/env python3
"""Build the README's fila vs BullMQ vs asynq table from one run's outputs.

  python3 cmd/fila-bench/peers.py fila.json[,more.json] bullmq.json asynq.json [fila-idle.json bullmq-mem.txt]

fila.json comes from `fila-bench -redis ... -runs 3 -json` (several files,
comma-separated, are read as one: e.g. a run with -prefetch 1); bullmq.json and
asynq.json from ../shared/bench (OUT_JSON); bullmq-mem.txt from mem_idle.js.
"""
import json, re, sys

fila = [r for name in sys.argv[1].split(",") for r in json.load(open(name))]
bull = json.load(open(sys.argv[2]))["results"]
asyn = json.load(open(sys.argv[3]))["results"]
idle = json.load(open(sys.argv[4])) if len(sys.argv) > 4 else []
mem = open(sys.argv[5]).read() if len(sys.argv) > 5 else ""

def f(scenario, variant=None, conc=None, backend="redis", key="jobs_per_sec", prefetch=0):
    for r in fila + idle:
        if r["backend"] != backend or r["scenario"] != scenario or r.get("prefetch", 0) != prefetch:
            continue
        if variant and variant not in r.get("variant", ""):
            continue
        if conc is not None and r["concurrency"] != conc:
            continue
        return r[key] if key in r else r.get("extra", {}).get(key)
    return None

def b(k):
    return bull.get(k, {}).get("median")

def a(prefix):
    for k, v in asyn.items():
        if k.startswith(prefix):
            return v.get("median")
    return None

def num(x, unit=""):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}{unit}"
    return f"{x:.2f}{unit}"

def ratio(x, y):
    return f"{x / y:.2f}x" if x and y else "-"

rows = [
    ("add, one at a time (jobs/s)", f("add", "sequential"), b("a_add_sequential"), a("a_enqueue_sequential")),
    ("add, 50 in flight (jobs/s)", f("add", "50 producers"), b("b2_add_50_in_flight"), a("b2_enqueue_50")),
    ("bulk add, 1,000 per call (jobs/s)", f("add-bulk", "1000"), b("b_addBulk_1000"), None),
    ("process, conc 1, remove (jobs/s)", f("process", "remove", 1), b("c_proc_c1_removeOnComplete"), a("c_proc_c1_delete")),
    ("process, conc 10, remove (jobs/s)", f("process", "remove", 10), b("c_proc_c10_removeOnComplete"), a("c_proc_c10_delete")),
    ("process, conc 50, remove (jobs/s)", f("process", "remove", 50), b("c_proc_c50_removeOnComplete"), a("c_proc_c50_delete")),
    ("process, conc 100, remove (jobs/s; peers: their conc 50)", f("process", "remove", 100), b("c_proc_c50_removeOnComplete"), a("c_proc_c50_delete")),
    ("process, conc 1, remove, Prefetch 1 (jobs/s)", f("process", "remove", 1, prefetch=1), b("c_proc_c1_removeOnComplete"), a("c_proc_c1_delete")),
    ("process, conc 1, keep (jobs/s)", f("process", "keep", 1), b("c_proc_c1_keep"), a("c_proc_c1_retention")),
    ("process, conc 1, keep, Prefetch 1 (jobs/s)", f("process", "keep", 1, prefetch=1), b("c_proc_c1_keep"), a("c_proc_c1_retention")),
    ("process, conc 50, keep (jobs/s)", f("process", "keep", 50), b("c_proc_c50_keep"), a("c_proc_c50_retention")),
]
print("| case | fila | BullMQ 6.7 | asynq 0.26 | fila / BullMQ | fila / asynq |")
print("|---|---|---|---|---|---|")
for name, x, y, z in rows:
    print(f"| {name} | {num(x)} | {num(y)} | {num(z)} | {ratio(x, y)} | {ratio(x, z)} |")
lat = (f("latency", key="start_p50_ms"), f("latency", key="start_p99_ms"), f("latency", key="p50_ms"), f("latency", key="p99_ms"))
print(f"| idle worker, add to start p50 / p99 (ms) | {num(lat[0])} / {num(lat[1])} | {num(b('d_latency_p50_entry'))} / {num(b('d_latency_p99_entry'))} | - | | |")
print(f"| idle worker, add to completed p50 / p99 (ms) | {num(lat[2])} / {num(lat[3])} | {num(b('d_latency_p50'))} / {num(b('d_latency_p99'))} | - | | |")
m = re.search(r"bytes_per_waiting_job (\d+)", mem)
i = re.search(r"idle_commands_per_min ([\d.]+)", mem)
print(f"| Redis bytes per waiting job, 100-byte payload | {num(f('memory', key='redis_bytes_per_job'))} | {m.group(1) if m else '-'} | - | | |")
print(f"| commands per minute, idle worker, conc 10 | {num(f('idle', key='commands_per_min'))} | {i.group(1) if i else '-'} | - | | |")
