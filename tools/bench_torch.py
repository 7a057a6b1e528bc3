#!/usr/bin/env python3
"""The native engine beside PyTorch on the same core, side by side in one sitting.

For each model and batch size, every round measures PyTorch (in this process, 1 thread) and then
`aviary bench train` (a subprocess, 1 BLAS thread) on the same model, so load from other
processes on a shared machine hits both alike. Reports medians and the median of the per-round
ratios, beside the engine's efficiency against its own same-run sgemm probe.

The PyTorch models are built here to match the engine's exactly (the parameter counts are
checked): McMahan's CNN, the GroupNorm ResNet-20 for 3×32×32 (bias-free convolutions, 2 groups,
1×1 projection shortcuts), and LEAF's Shakespeare model (embedding 8, 2-layer LSTM 256, last
step, linear). Training step: forward, cross-entropy, backward, plain SGD, on synthetic inputs.

    /usr/bin/python3 tools/bench_torch.py --aviary .build/release/aviary [--models cnn,resnet20,lstm]

Needs torch (Debian's python3-torch; `make bench` runs it when /usr/bin/python3 can import it).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class McMahanCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(64 * 7 * 7, 512)
        self.fc2 = nn.Linear(512, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class Block(nn.Module):
    def __init__(self, cin, cout, stride, groups):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.gn1 = nn.GroupNorm(groups, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.gn2 = nn.GroupNorm(groups, cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.GroupNorm(groups, cout))

    def forward(self, x):
        out = self.gn2(self.conv2(F.relu(self.gn1(self.conv1(x)))))
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))


class ResNet(nn.Module):
    def __init__(self, depth=20, width=16, groups=2, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.gn1 = nn.GroupNorm(groups, width)
        blocks, cin = [], width
        for stage in range(3):
            cout = width << stage
            for b in range(n):
                blocks.append(Block(cin, cout, 2 if stage > 0 and b == 0 else 1, groups))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.gn1(self.conv1(x))))
        return self.fc(x.mean(dim=(2, 3)))


class CharLSTM(nn.Module):
    def __init__(self, vocabulary=80, embedding=8, hidden=256, layers=2):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, embedding)
        self.lstm = nn.LSTM(embedding, hidden, layers, batch_first=True)
        self.fc = nn.Linear(hidden, vocabulary)

    def forward(self, x):
        out, _ = self.lstm(self.embedding(x))
        return self.fc(out[:, -1])


MODELS = {
    "cnn": (McMahanCNN, lambda b: torch.rand(b, 1, 28, 28), 10),
    "resnet8": (lambda: ResNet(depth=8), lambda b: torch.rand(b, 3, 32, 32), 10),
    "resnet20": (lambda: ResNet(depth=20), lambda b: torch.rand(b, 3, 32, 32), 10),
    "lstm": (CharLSTM, lambda b: torch.randint(0, 80, (b, 80)), 80),
}


def torch_rate(name, batch, seconds, slices=5):
    """Median samples/s of full training steps over `slices` timed slices."""
    make, inputs, classes = MODELS[name]
    torch.manual_seed(1)
    model = make()
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-4)
    pool = [(inputs(batch), torch.randint(0, classes, (batch,))) for _ in range(4)]

    def step(i):
        x, y = pool[i % len(pool)]
        optimiser.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimiser.step()

    for i in range(3):
        step(i)
    rates, i = [], 0
    for _ in range(slices):
        start, calls = time.perf_counter(), 0
        while time.perf_counter() - start < seconds / slices:
            step(i)
            i += 1
            calls += 1
        rates.append(calls * batch / (time.perf_counter() - start))
    return statistics.median(rates), sum(p.numel() for p in model.parameters())


def aviary_row(aviary, name, batch, seconds):
    """The engine's row from `aviary bench train` (1 BLAS thread)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([aviary, "bench", "train", "--models", name, "--threads", "1", "--batches", str(batch),
                          "--seconds", str(seconds)], capture_output=True, text=True, env=env, check=True).stdout
    for line in out.splitlines():
        cells = line.split()
        if cells and cells[0] == name:
            return {"parameters": int(cells[1]), "samples_per_second": float(cells[4]),
                    "efficiency": float(cells[7].rstrip("%")) / 100}
    raise RuntimeError(f"`aviary bench train --models {name}` printed no row for {name}:\n{out}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--aviary", required=True, help="the aviary binary (e.g. .build/release/aviary)")
    p.add_argument("--models", default="cnn,resnet20,lstm")
    p.add_argument("--batches", default="32,64")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (medians over them)")
    p.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    torch.set_num_threads(1)
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        p.error(f"--models: unknown {', '.join(unknown)} (use {', '.join(MODELS)})")
    batches = [int(b) for b in args.batches.split(",") if b]

    results = []
    for name in models:
        for batch in batches:
            engine, reference, ratios, efficiency, counts = [], [], [], [], None
            for _ in range(args.rounds):
                t, torch_params = torch_rate(name, batch, args.seconds)
                row = aviary_row(args.aviary, name, batch, args.seconds)
                if row["parameters"] != torch_params:
                    sys.exit(f"{name}: the PyTorch model has {torch_params} parameters and the engine's "
                             f"{row['parameters']}; they are not the same model, so no ratio is reported")
                counts = torch_params
                engine.append(row["samples_per_second"])
                reference.append(t)
                ratios.append(row["samples_per_second"] / t)
                efficiency.append(row["efficiency"])
            results.append({"model": name, "batch": batch, "parameters": counts,
                            "aviary_samples_per_second": statistics.median(engine),
                            "torch_samples_per_second": statistics.median(reference),
                            "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                            "aviary_sgemm_efficiency": statistics.median(efficiency)})
            r = results[-1]
            print(f"{name:9} batch {batch:3}  {counts:>9,} params  aviary {r['aviary_samples_per_second']:8.0f} samples/s "
                  f"({100 * r['aviary_sgemm_efficiency']:.0f}% of sgemm)  torch {torch.__version__} "
                  f"{r['torch_samples_per_second']:8.0f}  ratio {r['ratio']:.2f}× "
                  f"(rounds {r['ratio_min']:.2f}–{r['ratio_max']:.2f})", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "rounds": args.rounds, "seconds": args.seconds,
                       "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
