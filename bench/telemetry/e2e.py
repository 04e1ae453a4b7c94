#!/usr/bin/env python3
"""End-to-end telemetry throughput: Leader + Helper + N endpoints on loopback (see run)."""
import json, os, socket, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
D = os.path.join(ROOT, "target", "release", "detente")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 500
FAM = 1024

def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

with tempfile.TemporaryDirectory() as t:
    policy = os.path.join(t, "policy.json")
    json.dump({"version": 1, "task": "bench", "families": [f"Fam.F{i}" for i in range(FAM)],
               "max_weight": 16, "rules": {"families-detected": True}}, open(policy, "w"))
    lp, hp = port(), port()
    out = os.path.join(t, "net")
    subprocess.run([D, "telemetry", "setup", out, "--leader", f"http://127.0.0.1:{lp}/", "--helper",
                    f"http://127.0.0.1:{hp}/", "--policy", policy, "--min-batch", "100",
                    "--tokens-per-day", "1"], check=True, stdout=subprocess.DEVNULL)
    srv = [subprocess.Popen([D, "serve", "--listen", f"127.0.0.1:{p}", "--telemetry", os.path.join(out, r)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p, r in [(lp, "leader"), (hp, "helper")]]
    for p in (lp, hp):
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", p)).close(); break
            except OSError:
                time.sleep(0.05)
    creds = [l.split("\t")[1] for l in subprocess.run([D, "telemetry", "enroll", os.path.join(out, "leader"), "--name", "ep", "--count", str(N)],
                                                      check=True, capture_output=True, text=True).stdout.splitlines()]
    obs = []
    for e in range(N):
        o = os.path.join(t, f"obs-{e}.json")
        json.dump({"detections": [f"Fam.F{(e * 7 + k * 131) % FAM}-1" for k in range(e % 8)], "scanned": 1}, open(o, "w"))
        obs.append(o)
    task = os.path.join(out, "task.json")
    c0 = [cpu(s.pid) for s in srv]
    t0 = time.perf_counter()
    def send(e):
        r = subprocess.run([D, "telemetry", "send", "--task", task, "--policy", policy, "--observed", obs[e],
                            "--dir", os.path.join(t, f"ep-{e}"), "--day", "20000", "--credential", creds[e]],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"send {e}: {r.stderr}")
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(send, range(N)))
    wall = time.perf_counter() - t0
    c1 = [cpu(s.pid) for s in srv]
    size = os.path.getsize(os.path.join(t, "ep-0", "outbox.jsonl"))
    for s in srv:
        s.terminate(); s.wait()
    lc, hc = c1[0] - c0[0], c1[1] - c0[1]
    print(json.dumps({"endpoints": N, "wall_s": round(wall, 2), "reports_per_s": round(N / wall, 1),
                      "leader_cpu_ms_per_report": round(lc / N * 1000, 3), "helper_cpu_ms_per_report": round(hc / N * 1000, 3),
                      "leader_reports_per_cpu_s": round(N / lc, 1) if lc else None,
                      "helper_reports_per_cpu_s": round(N / hc, 1) if hc else None,
                      "outbox_record_bytes": size}))
