"""`aviary export` read back by the real tools: TensorBoard's event reader and MLflow's client.
Every exported value must equal the same column of `aviary logs --csv`."""
import json
import subprocess

import numpy as np
import pytest

from conftest import logs_csv


def numeric(value):
    try:
        return float(value)
    except ValueError:
        return None


def test_tensorboard_reads_every_round_scalar(aviary, finished_run, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "tb"
    result = subprocess.run([aviary, "export", str(finished_run), "--tensorboard", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    events = EventAccumulator(str(out))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"clean_accuracy", "clean_loss", "update_norm", "accepted"} <= tags
    rows = logs_csv(aviary, finished_run)
    assert len(rows) == 3
    compared = 0
    for tag in tags:
        assert tag in rows[0], f"exported scalar {tag} is not a column of aviary logs --csv"
        by_step = {e.step: e.value for e in events.Scalars(tag)}
        expected = {int(r["round"]): numeric(r[tag]) for r in rows if r[tag] != ""}
        assert by_step.keys() == expected.keys(), tag
        for step, value in expected.items():
            # TensorBoard keeps scalars as 32-bit floats: the CSV's value, rounded to float32.
            assert by_step[step] == np.float32(value), (tag, step, by_step[step], value)
            compared += 1
    assert compared >= 3 * 4


def test_mlflow_client_reads_params_metrics_and_verdict(aviary, finished_run, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    # MLflow 3 keeps its file store in maintenance mode: reading one needs this opt-in.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")

    store = tmp_path / "mlruns"
    result = subprocess.run([aviary, "export", str(finished_run), "--mlflow", str(store)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    client = MlflowClient(tracking_uri=store.as_uri())
    experiment = client.get_experiment_by_name("aviary")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "tiny"
    assert run.data.tags["aviary.status"] == "completed"
    assert run.data.tags["aviary.verdict"] == "completed"

    with open(finished_run / "aggregation.jsonl") as f:
        config = json.loads(f.readline())["config"]
    assert run.data.params["merge.strategy"] == config["merge.strategy"] == "fedavg"
    assert run.data.params["run.rounds"] == "3"
    assert len(run.data.params) == len([k for k in config if "[" not in k])

    rows = logs_csv(aviary, finished_run)
    assert {"clean_accuracy", "clean_loss", "update_norm", "accepted"} <= run.data.metrics.keys()
    compared = 0
    for column in run.data.metrics:
        assert column in rows[0], f"exported metric {column} is not a column of aviary logs --csv"
        expected = {int(r["round"]): numeric(r[column]) for r in rows if r[column] != ""}
        history = client.get_metric_history(run.info.run_id, column)
        # MLflow keeps doubles: exactly the CSV's values.
        assert {m.step: m.value for m in history} == expected, column
        compared += len(expected)
    assert compared >= 3 * 4


def test_mlflow_export_twice_is_one_run(aviary, finished_run, tmp_path, monkeypatch):
    """Exporting a run again replaces its MLflow run (same run id, from run_start.run_id)."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store = tmp_path / "mlruns"
    outputs = []
    for _ in range(2):
        result = subprocess.run([aviary, "export", str(finished_run), "--mlflow", str(store)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        outputs.append(result.stdout)
    assert "replaced the earlier export" not in outputs[0]
    assert "replaced the earlier export of this run" in outputs[1], outputs[1]
    client = MlflowClient(tracking_uri=store.as_uri())
    experiment = client.get_experiment_by_name("aviary")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    with open(finished_run / "aggregation.jsonl") as f:
        run_id = json.loads(f.readline())["run_id"]
    assert runs[0].info.run_id == run_id.removeprefix("run-")
    rows = logs_csv(aviary, finished_run)
    # One point per round, not two: the second export did not append to the first.
    assert len(client.get_metric_history(runs[0].info.run_id, "accepted")) == len(rows)
    assert [m.value for m in client.get_metric_history(runs[0].info.run_id, "lost")] == [float(r["lost"]) for r in rows]
