"""The torch adapter against the peer benchmark (issue 20's "Targets"), in one sitting:
10 × 6,000 Fashion-MNIST (IID), MLP 784-200-200-10, 1 local epoch, batch 32, SGD lr 0.05, 5 rounds,
one thread per process. Runs the peers' plain PyTorch loop and Flower (from a copy of the peers
folder set up as its README says; their code is run, never copied) and this SDK's torch adapter
(aviary_client.torch.TorchClient.fit for each client, then the sample-weighted average), and
prints per-round medians, the ratios and the test accuracy per round.

    .venv/bin/python tools/bench_python.py --peers /tmp/peers [--repeats 2] [--skip-flower]

Two measurements of the SDK:
- in process: the adapter's local training and parameter exchange (numpy in and out of the
  module), the clients one after another in this process;
- `--server`: the whole federation under `aviary run`, with `aviary-server` and the 10 clients in
  2 `python -m aviary_client` processes (tools/apps/fmnist_mlp.py): the wire, the f32 encoding and
  the server's merge are in these numbers. The round time is the log's `duration_seconds`; the
  test accuracy is each round's checkpoint evaluated here afterwards. It also runs the federation
  with 1 process and again with 2, and compares the final checkpoints byte for byte.

    .venv/bin/python tools/bench_python.py --peers /tmp/peers --server --aviary .build/release/aviary"""
import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "Tests" / "Python"))


def run_peer(peers, script, extra, out):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    python = str(peers / "venv-deb" / "bin" / "python")
    cmd = [python, script, "--data", "fmnist", "--json", str(out), *extra]
    subprocess.run(cmd, cwd=peers, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.read_text())


def run_adapter(rounds, seed=0, groups=1):
    """The adapter's federation in this process; `groups` stands for client processes: clients
    k ≡ g (mod groups) share group g's module. Returns the rounds and the final model's SHA-256."""
    import numpy as np
    import torch

    from torch_support import fashion_mnist, mlp
    from aviary_client.torch import ClientData, TorchClient, evaluate_stats, export_parameters

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    x, y = fashion_mnist("train")
    xt, yt = fashion_mnist("test")
    test = (torch.from_numpy(xt), torch.from_numpy(yt))
    shards = np.array_split(np.random.default_rng(seed).permutation(60000), 10)
    raw = {"trainingSeed": seed, "training": {"localEpochs": 1, "batchSize": 32, "optimizer": {"learningRate": 0.05}},
           "adversarial": {"mode": "none"}}
    models = [mlp() for _ in range(groups)]
    model = models[0]
    clients = [TorchClient(models[k % groups], ClientData(train=(torch.from_numpy(x[s]), torch.from_numpy(y[s]))), k, raw)
               for k, s in enumerate(shards)]
    global_model = export_parameters(model)
    out = []
    for r in range(1, rounds + 1):
        t0 = time.perf_counter()
        results = [c.fit({k: v.copy() for k, v in global_model.items()}, {"round": float(r)}) for c in clients]
        total = sum(n for _, n, _ in results)
        global_model = {k: sum(p[k].astype(np.float64) * (n / total) for p, n, _ in results).astype(np.float32)
                        for k in global_model}
        seconds = time.perf_counter() - t0
        from aviary_client.torch import load_parameters
        load_parameters(model, global_model)
        out.append({"round": r, "round_s": seconds, "test_acc": evaluate_stats(model, test, 1000).accuracy})
        print(json.dumps(out[-1]), flush=True)
    import hashlib
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(global_model[k]).tobytes() for k in sorted(global_model)))
    return {"rounds": out, "sha256": digest.hexdigest()}


def run_server(aviary, rounds, processes, directory):
    """The benchmark federation under `aviary run` with `processes` Python client processes.
    Returns its rounds (log duration, test accuracy of the round's checkpoint) and the final
    checkpoint's bytes."""
    import numpy as np
    import torch
    from safetensors.numpy import load_file

    from aviary_client.torch import evaluate_stats, load_parameters

    sys.path.insert(0, str(ROOT / "tools" / "apps"))
    import fmnist_mlp

    directory.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT / "tools" / "apps"), str(ROOT / "python"),
                                           os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, "-m", "aviary_client", "init-model", "fmnist_mlp:make_model", "-o",
                    str(directory / "init.safetensors")], env=env, check=True, capture_output=True)
    (directory / "bench.toml").write_text(f"""[run]
name = "bench-python"
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
kind = "external"
parameters = "init.safetensors"
[train]
local_epochs = 1
batch_size = 32
learning_rate = 0.05
[merge]
strategy = "fedavg"
[server]
clients_per_round = 10
min_clients = 10
checkpoint_every = 1
[processes]
command = [{json.dumps(sys.executable)}, "-m", "aviary_client", "--app", "fmnist_mlp:app"]
count = {processes}
""")
    run_dir = directory / "runs"  # [run] output's default, under the working directory
    done = subprocess.run([aviary, "run", str(directory / "bench.toml"), "--overwrite"],
                          env=env, capture_output=True, text=True, cwd=directory)
    if done.returncode != 0:
        raise SystemExit(f"aviary run failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    run = run_dir / "bench-python"
    records = [json.loads(line) for line in (run / "aggregation.jsonl").read_text().splitlines() if line.strip()]
    torch.set_num_threads(1)
    model = fmnist_mlp.make_model()
    xt, yt = fmnist_mlp.read_idx("test")
    test = (torch.from_numpy(xt), torch.from_numpy(yt))
    out = []
    for r in (x for x in records if x.get("event") == "round"):
        load_parameters(model, load_file(str(run / "checkpoints" / f"round-{r['round']:04d}.safetensors")))
        out.append({"round": r["round"], "round_s": r["duration_seconds"],
                    "test_acc": evaluate_stats(model, test, 1000).accuracy})
        print(json.dumps(out[-1]), flush=True)
    final = (run / "checkpoints" / f"round-{rounds:04d}.safetensors").read_bytes()
    return {"rounds": out, "final": final, "processes": processes}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--peers", type=pathlib.Path, required=True, help="A set-up copy of the peers folder.")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=2, help="Alternating runs of the plain loop and the adapter.")
    p.add_argument("--skip-flower", action="store_true")
    p.add_argument("--json", type=pathlib.Path, help="Write all figures here.")
    p.add_argument("--server", action="store_true",
                   help="Also (alternating with the plain loop) the federation under `aviary run`, 2 client processes.")
    p.add_argument("--aviary", default=str(ROOT / ".build" / "release" / "aviary"))
    p.add_argument("--work", type=pathlib.Path, default=pathlib.Path("/tmp/aviary-bench-python"))
    a = p.parse_args()
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at start",
               "command": " ".join(sys.argv)}
    # Alternate the two (plain, adapter, plain, adapter, …) so that load from other processes on
    # the machine falls on both alike; the medians are over every round of every repeat.
    results["plain"], results["adapter"] = {"rounds": []}, {"rounds": [], "sha256": []}
    for repeat in range(a.repeats):
        print(f"plain PyTorch loop (repeat {repeat + 1}) …", flush=True)
        plain = run_peer(a.peers, "plain_fedavg_torch.py", ["--rounds", str(a.rounds), "--robust-n", "0"],
                         a.peers / "bench-plain.json")
        results["plain"]["rounds"] += plain["rounds"]
        print(f"torch adapter (repeat {repeat + 1}) …", flush=True)
        adapter = run_adapter(a.rounds)
        results["adapter"]["rounds"] += adapter["rounds"]
        results["adapter"]["sha256"].append(adapter["sha256"])
        if a.server:
            print(f"aviary run, 2 Python client processes (repeat {repeat + 1}) …", flush=True)
            served = run_server(a.aviary, a.rounds, 2, a.work / f"server-{repeat}")
            results.setdefault("server", {"rounds": [], "final": []})
            results["server"]["rounds"] += served["rounds"]
            results["server"]["final"].append(served["final"])
    print("torch adapter, the clients in 2 groups (2 modules, as 2 processes would hold) …", flush=True)
    grouped = run_adapter(a.rounds, groups=2)
    results["final_sha256"] = {"adapter runs": results["adapter"].pop("sha256"), "2 groups": grouped["sha256"]}
    if not a.skip_flower:
        print("Flower …", flush=True)
        results["flower"] = run_peer(a.peers, "flower_sim.py", ["--rounds", str(a.rounds), "--cpus-per-client", "1"],
                                     a.peers / "bench-flower.json")
    if a.server:
        print("aviary run, 1 Python client process (the final checkpoint must not change) …", flush=True)
        single = run_server(a.aviary, a.rounds, 1, a.work / "server-one")
        import hashlib
        finals = results["server"].pop("final") + [single["final"]]
        results["server"]["final_sha256"] = [hashlib.sha256(f).hexdigest() for f in finals]
    results["load_at_end"] = os.getloadavg()[0]
    median = {k: statistics.median(r["round_s"] for r in results[k]["rounds"])
              for k in ("plain", "adapter", "server", "flower") if k in results}
    print(f"machine: {results['machine']}; load at end {results['load_at_end']:.1f}")
    for k, m in median.items():
        accs = " ".join(f"{r['test_acc']:.4f}" for r in results[k]["rounds"][:a.rounds])
        print(f"{k:8s} median round {m:7.2f} s   test accuracy per round: {accs}")
    print(f"adapter / plain PyTorch: {median['adapter'] / median['plain']:.3f}")
    if "flower" in median:
        print(f"adapter / Flower:        {median['adapter'] / median['flower']:.3f}")
    if "server" in median:
        print(f"aviary run (2 processes) / plain PyTorch: {median['server'] / median['plain']:.3f}")
        if "flower" in median:
            print(f"aviary run (2 processes) / Flower:        {median['server'] / median['flower']:.3f}")
        finals = results["server"]["final_sha256"]
        print(f"aviary run final checkpoint SHA-256 {finals[0][:16]}…; identical over {len(finals)} runs "
              f"(2, 2, …, 1 processes): {len(set(finals)) == 1}")
    hashes = results["final_sha256"]["adapter runs"] + [results["final_sha256"]["2 groups"]]
    print(f"final model SHA-256: {hashes[0][:16]}…; the same in all {len(hashes)} adapter runs (1 and 2 groups): {len(set(hashes)) == 1}")
    if a.json:
        a.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
