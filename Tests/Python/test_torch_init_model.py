"""`python -m aviary_client init-model`: a torch module's names, shapes and initial values as
safetensors, floats as F32 and integer buffers as I64, reproducible from the seed."""
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="init-model needs PyTorch (Debian's python3-torch)")
safetensors_numpy = pytest.importorskip("safetensors.numpy", reason="needs the safetensors package (make venv)")

MODULE = '''
import torch
def make_model():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(4 * 26 * 26, 3))
def not_a_model():
    return 3
def no_floats():
    m = torch.nn.Module()
    m.register_buffer("count", torch.zeros(2, dtype=torch.int64))
    return m
'''


def init_model(tmp_path, *args):
    """`python -m aviary_client init-model ARGS` in tmp_path (the SDK's command line)."""
    (tmp_path / "usermodel.py").write_text(MODULE)
    return subprocess.run([sys.executable, "-m", "aviary_client", "init-model", *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)


def init_model_here(tmp_path, monkeypatch, capsys, *args):
    """The same, in this process (importing torch once is the slow part)."""
    from aviary_client.init_model import main

    (tmp_path / "usermodel.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    code = main(list(args))
    return code, capsys.readouterr().err


def test_writes_names_shapes_and_values_reproducibly(tmp_path, monkeypatch, capsys):
    r = init_model(tmp_path, "usermodel:make_model", "-o", "a.safetensors", "--seed", "5")
    assert r.returncode == 0, r.stderr
    assert init_model_here(tmp_path, monkeypatch, capsys, "usermodel:make_model", "-o", "b.safetensors", "--seed", "5")[0] == 0
    a = safetensors_numpy.load_file(str(tmp_path / "a.safetensors"))
    b = safetensors_numpy.load_file(str(tmp_path / "b.safetensors"))
    assert set(a) == {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                      "1.num_batches_tracked", "3.weight", "3.bias"}
    assert a["0.weight"].shape == (4, 1, 3, 3) and a["0.weight"].dtype == np.float32
    assert a["1.num_batches_tracked"].dtype == np.int64 and a["1.running_var"].tolist() == [1, 1, 1, 1]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert init_model_here(tmp_path, monkeypatch, capsys, "usermodel:make_model", "-o", "c.safetensors", "--seed", "6")[0] == 0
    c = safetensors_numpy.load_file(str(tmp_path / "c.safetensors"))
    assert not np.array_equal(a["0.weight"], c["0.weight"])


@pytest.mark.parametrize("factory, message", [
    ("usermodel:not_a_model", "not a torch.nn.Module"),
    ("usermodel:no_floats", "no float tensor"),
    ("usermodel:missing", "has no attribute"),
])
def test_refuses_what_is_not_a_federatable_module(tmp_path, monkeypatch, capsys, factory, message):
    code, err = init_model_here(tmp_path, monkeypatch, capsys, factory, "-o", "x.safetensors")
    assert code != 0 and message in err
    assert not (tmp_path / "x.safetensors").exists()
