#!/usr/bin/env python3
"""End-to-end telemetry throughput on loopback (see run): a Leader and a Helper
(`detente serve --telemetry`, release build) and N endpoints' reports.

Phases, each aggregator's CPU time read from /proc before and after each:
  1. tokens: one upload token per report from the Leader's issuer (a blind RSA signature
     each), fetched ahead as `detente telemetry tokens` does;
  2. uploads: every report posted to the Leader with its token, C at a time, by the load
     generator (crates/telemetry/examples/telemetry_load.rs): the Leader's HTTP, token check,
     HPKE, VDAF and storage, and the Helper's aggregation jobs (HTTP, HPKE, VDAF, storage);
  3. one real endpoint (`detente telemetry send`) for the size of an outbox record.
With BENCH_TELEMETRY_POSTGRES=postgres://.../db (an admin URL), each aggregator keeps its
state in a fresh PostgreSQL database on that server instead of its SQLite file.
The load generator runs on the same machine, so the wall-clock rate is bounded by the cores
the three processes share; the per-core figures are each aggregator's reports per CPU second.
"""
import json, os, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REL = os.path.join(ROOT, "target", "release")
D = os.path.join(REL, "detente")
LOAD = os.path.join(REL, "examples", "telemetry_load")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
C = int(sys.argv[2]) if len(sys.argv) > 2 else 32
FAM = 1024
DAY = "20000"

def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def pg_cpu():
    """CPU seconds of every PostgreSQL process on this machine (the server both aggregators
    use in the PostgreSQL run; processes that ended between readings are missed)."""
    total = 0.0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if open(f"/proc/{d}/comm").read().startswith("postgres"):
                    total += cpu(d)
            except OSError:
                pass
    return total

def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

with tempfile.TemporaryDirectory() as t:
    policy = os.path.join(t, "policy.json")
    json.dump({"version": 1, "task": "bench", "families": [f"Fam.F{i}" for i in range(FAM)],
               "max_weight": 16, "rules": {"families-detected": True}}, open(policy, "w"))
    lp, hp = port(), port()
    out = os.path.join(t, "net")
    dbs = []
    pg = os.environ.get("BENCH_TELEMETRY_POSTGRES")
    if pg:
        base = pg.rsplit("/", 1)[0]
        for role in ("leader", "helper"):
            name = f"bench_{role}_{os.getpid()}"
            subprocess.run(["psql", pg, "-q", "-c", f"CREATE DATABASE {name}"], check=True)
            dbs += [f"--{role}-database", f"{base}/{name}"]
    subprocess.run([D, "telemetry", "setup", out, "--leader", f"http://127.0.0.1:{lp}/", "--helper",
                    f"http://127.0.0.1:{hp}/", "--policy", policy, "--min-batch", "100",
                    "--tokens-per-day", "64"] + dbs, check=True, stdout=subprocess.DEVNULL)
    srv = [subprocess.Popen([D, "serve", "--listen", f"127.0.0.1:{p}", "--telemetry", os.path.join(out, r)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p, r in [(lp, "leader"), (hp, "helper")]]
    for p in (lp, hp):
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", p)).close(); break
            except OSError:
                time.sleep(0.05)
    creds = os.path.join(t, "creds.tsv")
    with open(creds, "w") as f:
        subprocess.run([D, "telemetry", "enroll", os.path.join(out, "leader"), "--name", "ep", "--count",
                        str(N // 64 + 2)], check=True, stdout=f)
    task = os.path.join(out, "task.json")
    load = subprocess.Popen([LOAD, task, creds, str(N), str(C), DAY], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    def step(want):
        line = load.stdout.readline().split()
        if not line or line[0] != want:
            sys.exit(f"load generator: expected {want}, got {line} (exit {load.poll()})")
        return line[1:]
    step("built")
    c0 = [cpu(s.pid) for s in srv]
    load.stdin.write("\n"); load.stdin.flush()
    (twall,) = step("tokens")
    c1 = [cpu(s.pid) for s in srv]
    p1 = pg_cpu()
    load.stdin.write("\n"); load.stdin.flush()
    ok, wall = step("uploaded")
    c2 = [cpu(s.pid) for s in srv]
    p2 = pg_cpu()
    load.wait()
    if int(ok) != N:
        sys.exit(f"only {ok} of {N} uploads were accepted")
    # One real endpoint, for the outbox record's size.
    cred = open(creds).read().splitlines()[-1].split("\t")[1]
    obs = os.path.join(t, "obs.json")
    json.dump({"detections": [f"Fam.F{k * 131}-1" for k in range(7)], "scanned": 1}, open(obs, "w"))
    subprocess.run([D, "telemetry", "send", "--task", task, "--policy", policy, "--observed", obs,
                    "--dir", os.path.join(t, "ep"), "--day", DAY, "--credential", cred],
                   check=True, stdout=subprocess.DEVNULL)
    size = os.path.getsize(os.path.join(t, "ep", "outbox.jsonl"))
    for s in srv:
        s.terminate(); s.wait()
    tl = c1[0] - c0[0]
    lc, hc = c2[0] - c1[0], c2[1] - c1[1]
    wall = float(wall)
    print(json.dumps({"store": "postgresql" if pg else "sqlite", "reports": N, "concurrent_uploads": C, "wall_s": round(wall, 2),
                      "reports_per_s_wall": round(N / wall, 1),
                      "issuer_cpu_ms_per_token": round(tl / N * 1000, 3),
                      "issuer_tokens_per_cpu_s": round(N / tl, 1) if tl else None,
                      "leader_cpu_ms_per_report": round(lc / N * 1000, 3),
                      "helper_cpu_ms_per_report": round(hc / N * 1000, 3),
                      "leader_reports_per_cpu_s": round(N / lc, 1) if lc else None,
                      "helper_reports_per_cpu_s": round(N / hc, 1) if hc else None,
                      "postgresql_cpu_ms_per_report": round((p2 - p1) / N * 1000, 3) if pg else None,
                      "outbox_record_bytes": size}))
