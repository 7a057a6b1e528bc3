"""Issue 20's mixed-federation target: the Fashion-MNIST MLP (784-200-200-10, 10 IID clients, 1
epoch, batch 32, lr 0.05, FedAvg, 20 rounds) run twice under `aviary run`: all 10 clients in 2
`aviary-client` processes, then 5 in one `aviary-client` process and 5 in one Python process
(the torch adapter, tools/apps/fmnist_mlp.py, on the same split: `aviary partition --export`).
The server evaluates the same built-in model in both; prints the test accuracy per round and
the difference of the means over the last 5 rounds.

    .venv/bin/python tools/mixed_federation.py [--aviary .build/release/aviary] [--rounds 20]"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

TOPOLOGY = """[run]
name = "{name}"
rounds = {rounds}
[seeds]
partition = 1
sampling = 2
training = 3
[data]
dataset = "fashion-mnist"
clients = 10
partition = "iid"
[model]
kind = "mlp"
hidden = [200, 200]
[train]
local_epochs = 1
batch_size = 32
learning_rate = 0.05
[merge]
strategy = "fedavg"
[server]
clients_per_round = 10
min_clients = 10
eval_every = 1
[processes]
{processes}
"""


def accuracies(run):
    records = [json.loads(line) for line in (run / "aggregation.jsonl").read_text().splitlines() if line.strip()]
    return [r["eval"]["clean_accuracy"] for r in records if r.get("event") == "round" and "eval" in r]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--aviary", default=str(ROOT / ".build" / "release" / "aviary"))
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--work", type=pathlib.Path, default=pathlib.Path("/tmp/aviary-mixed"))
    a = p.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", AVIARY_SPLIT=str(a.work / "split.npz"),
               PYTHONPATH=os.pathsep.join([str(ROOT / "tools" / "apps"), str(ROOT / "python"), os.environ.get("PYTHONPATH", "")]))
    swift = a.work / "swift.toml"
    swift.write_text(TOPOLOGY.format(name="all-swift", rounds=a.rounds, processes="client_processes = 2"))
    mixed = a.work / "mixed.toml"
    command = json.dumps([sys.executable, "-m", "aviary_client", "--app", "fmnist_mlp:app"])
    mixed.write_text(TOPOLOGY.format(name="mixed", rounds=a.rounds,
                                     processes=f"client_processes = 1\ncommand = {command}\ncount = 1"))
    subprocess.run([a.aviary, "partition", str(swift), "--export", str(a.work / "split.npz")], check=True, env=env,
                   cwd=a.work, capture_output=True)
    results = {}
    for label, topo in (("all Swift (2 aviary-client processes)", swift), ("mixed (5 Swift + 5 Python clients)", mixed)):
        print(f"{label} …", flush=True)
        done = subprocess.run([a.aviary, "run", str(topo), "--overwrite"], env=env, cwd=a.work, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"aviary run {topo} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        results[label] = accuracies(a.work / "runs" / ("all-swift" if topo == swift else "mixed"))
    means = {}
    for label, accs in results.items():
        means[label] = sum(accs[-5:]) / len(accs[-5:])
        print(f"{label}: test accuracy per round {' '.join(f'{x:.4f}' for x in accs)}; mean of the last 5 {means[label]:.4f}")
    first, second = means.values()
    print(f"difference of the last-5 means (mixed − all Swift): {second - first:+.4f} (target: within ±0.02)")


if __name__ == "__main__":
    main()
