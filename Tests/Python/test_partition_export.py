"""`aviary partition --export` read by `aviary_client.load_partition`: a built-in dataset's
split (Fashion-MNIST, Dirichlet) and a user's own label array (`--labels`). The Swift side checks
that the archive holds the indices its clients use (PartitionExportTests); this side checks that
numpy reads the archive and the reader returns each client's slices."""
import pathlib
import subprocess

import numpy as np
import pytest

import aviary_client

FASHION = "/usr/share/datasets/fashion-mnist"


def run(aviary, *args, cwd):
    return subprocess.run([aviary, "partition", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def check_archive(path, clients, pool):
    with np.load(path) as archive:
        assert sorted(archive.files) == ["test_indices", "test_offsets", "train_indices", "train_offsets"]
        assert all(archive[name].dtype == np.int64 for name in archive.files)
        whole = {s: (archive[f"{s}_indices"], archive[f"{s}_offsets"]) for s in ("train", "test")}
    assert aviary_client.partition.partition_clients(path) == clients
    seen = []
    for c in range(clients):
        train, test = aviary_client.load_partition(path, c)
        for split, got in (("train", train), ("test", test)):
            indices, offsets = whole[split]
            assert np.array_equal(got, indices[offsets[c]:offsets[c + 1]])
        seen += [train, test]
    every = np.concatenate(seen)
    assert len(np.unique(every)) == len(every), "no sample belongs to two clients or both splits"
    assert every.min() >= 0 and every.max() < pool
    with pytest.raises(IndexError):
        aviary_client.load_partition(path, clients)
    return seen


def test_labels_partitioned_by_dirichlet(aviary, tmp_path):
    labels = np.repeat(np.arange(5), 200)  # 1,000 samples of 5 classes
    np.random.default_rng(0).shuffle(labels)
    np.save(tmp_path / "labels.npy", labels)
    out = run(aviary, "--labels", "labels.npy", "--clients", "8", "--partition", "dirichlet", "--alpha", "0.1",
              "--export", "split.npz", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "indices: split.npz (8 clients, 1000 samples)" in out.stdout
    splits = check_archive(tmp_path / "split.npz", 8, 1000)
    # α = 0.1 is far from IID: most clients hold mostly one class.
    dominant = [np.bincount(labels[np.concatenate(splits[2 * c:2 * c + 2])], minlength=5).max()
                / max(1, len(np.concatenate(splits[2 * c:2 * c + 2]))) for c in range(8)]
    assert np.median(dominant) > 0.5, dominant
    again = run(aviary, "--labels", "labels.npy", "--clients", "8", "--partition", "dirichlet", "--alpha", "0.1",
                "--export", "again.npz", cwd=tmp_path)
    assert again.returncode == 0 and (tmp_path / "again.npz").read_bytes() == (tmp_path / "split.npz").read_bytes()


def test_bad_labels_options_are_refused(aviary, tmp_path):
    np.save(tmp_path / "labels.npy", np.arange(10) % 2)
    out = run(aviary, "--labels", "labels.npy", "--clients", "2", "--partition", "dirichlet", "--alpha=-1",
              "--export", "x.npz", cwd=tmp_path)
    assert out.returncode != 0 and "data.alpha" in out.stderr, out.stderr
    out = run(aviary, "--labels", "labels.npy", "--clients", "2", cwd=tmp_path)
    assert out.returncode != 0 and "--export" in out.stderr, out.stderr


@pytest.mark.skipif(not any(pathlib.Path(FASHION).glob("train-labels-idx1-ubyte*")),
                    reason=f"Fashion-MNIST not found in {FASHION} (apt-get install dataset-fashion-mnist)")
def test_a_topology_split_of_fashion_mnist(aviary, tmp_path):
    (tmp_path / "t.toml").write_text(f"""
[run]
name = "split"
[data]
dataset = "fashion-mnist"
directory = "{FASHION}"
clients = 10
partition = "dirichlet"
alpha = 0.3
""")
    out = run(aviary, "t.toml", "--export", "split.npz", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    check_archive(tmp_path / "split.npz", 10, 60000)
