"""Issue 20's bad input at `aviary validate`: an external model's init file that is not
safetensors, or that holds no float tensor, is refused naming the file (exit non-zero)."""
import subprocess

import numpy as np
import pytest

from sdk_harness import topology


@pytest.mark.parametrize("content, says", [
    ("text", "safetensors"),
    ("integers", "float tensor"),
], ids=["not-safetensors", "no-float-tensor"])
def test_a_bad_init_file_is_refused_at_validate(aviary, tmp_path, content, says):
    init = tmp_path / "init.safetensors"
    if content == "text":
        init.write_text("this is not a safetensors file\n")
    else:
        from safetensors.numpy import save_file
        save_file({"bn.num_batches_tracked": np.zeros((), np.int64)}, str(init))
    topo = topology(tmp_path, "bad", clients=2, rounds=1, model='kind = "external"\nparameters = "init.safetensors"')
    out = subprocess.run([aviary, "validate", str(topo)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0, out.stdout
    text = out.stdout + out.stderr
    assert str(init) in text and says in text, text


def test_a_good_init_file_passes_validate_and_names_the_evaluation(aviary, tmp_path):
    from safetensors.numpy import save_file
    save_file({"fc.weight": np.zeros((10, 60), np.float32), "fc.bias": np.zeros(10, np.float32)}, str(tmp_path / "init.safetensors"))
    topo = topology(tmp_path, "good", clients=2, rounds=1, model='kind = "external"\nparameters = "init.safetensors"',
                    extra='[evaluation]\nmode = "federated"\n')
    out = subprocess.run([aviary, "validate", str(topo)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 float tensors" in out.stdout and "evaluation: federated" in out.stdout, out.stdout
