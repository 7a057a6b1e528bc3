"""The training thread: runs the sampled clients' fit and evaluate one after another and
encodes each update in the run's encoding, so the socket loop never blocks on user code and
heartbeats flow during fit (NumPy and torch release the GIL; Python code is preempted).

Results come back as ("update", Update) / ("failure", round, client, reason) /
("eval", EvalResult) for the host to stamp with tokens and send."""
import os
import queue
import threading
import time

from . import client_work
from .messages import Update
from .privacy import PrivacyError


class Worker:
    def __init__(self, make_client, log):
        self.make_client = make_client  # client_index -> client object (cached by the host)
        self.log = log
        self.jobs = queue.Queue()
        self.results = queue.Queue()
        self.lock = threading.Lock()
        self.compressor = None
        self.table = None
        self.privacy = None
        self.pending_resumes = None
        self.pending_adopt = None
        # Written once per result so the socket loop's poll returns at once (Connection.watch).
        self.wake_fd, self._wake_write = os.pipe()
        os.set_blocking(self.wake_fd, False)
        os.set_blocking(self._wake_write, False)
        self.thread = threading.Thread(target=self._loop, name="aviary-training", daemon=True)
        self.thread.start()

    def configure(self, table, compressor, hosted, privacy=None):
        with self.lock:
            self.table = table
            self.compressor = compressor
            self.privacy = privacy
            self.pending_adopt = set(hosted)
            self.pending_resumes = None

    def adopt(self, resumes):
        """A later WELCOME of the same run; after a resume, queued jobs of the old server's
        rounds are dropped (the resumed server sends its own)."""
        with self.lock:
            if self.compressor is not None and len(resumes) > len(self.compressor.history.resumes):
                self._drain()
            self.pending_resumes = list(resumes)

    def _drain(self):
        try:
            while True:
                self.jobs.get_nowait()
        except queue.Empty:
            pass

    def enqueue(self, kind, clients, model, config):
        for c in clients:
            self.jobs.put((kind, c, model, config))

    def take_results(self):
        out = []
        try:
            while True:
                out.append(self.results.get_nowait())
        except queue.Empty:
            return out

    def _put(self, result):
        self.results.put(result)
        try:
            os.write(self._wake_write, b"!")
        except OSError:
            pass  # the pipe is full (the loop wakes anyway) or closed at exit

    def stop(self):
        self.jobs.put(None)

    def _loop(self):
        while True:
            job = self.jobs.get()
            if job is None:
                return
            kind, client_index, model, config = job
            with self.lock:
                compressor, table = self.compressor, self.table
                if self.pending_resumes is not None:
                    compressor.adopt(self.pending_resumes)
                    self.pending_resumes = None
                adopting, self.pending_adopt = self.pending_adopt, None
            started = time.monotonic()
            try:
                if adopting is not None:
                    compressor.adopt_stored(adopting)
                for e in compressor.model_arrived(model.round):
                    self.log("warning", f"old error-feedback residual not deleted: {e}")
                client = self.make_client(client_index)
                if kind == "train":
                    self._fit(client, client_index, model, config, compressor, table, started)
                else:
                    result = client_work.evaluate(client, model.parameters, table, model.round, config, client_index)
                    self._put(("eval", result, time.monotonic() - started))
            except Exception as e:  # make_client, or a residual store that failed
                reason = f"{type(e).__name__}: {e}" if not str(e).startswith("error-feedback") else str(e)
                if kind == "train":
                    self._put(("failure", model.round, client_index, reason))
                else:
                    from .messages import EvalResult
                    self._put(("eval", EvalResult(model.round, client_index, 0, 0, {}, reason), 0.0))

    def _fit(self, client, client_index, model, config, compressor, table, started):
        try:
            delta, samples, metrics = client_work.fit(client, model.parameters, table, model.round, config)
        except client_work.FitFailed as e:
            self._put(("failure", model.round, client_index, str(e)))
            return
        if self.privacy is not None:
            # clip → noise → compression (docs/PRIVACY.md): the compressor, and any
            # error-feedback residual it keeps, sees only the clipped (and noised) delta.
            try:
                metrics.update(self.privacy.apply(delta, client_index, model.round, config))
            except PrivacyError as e:
                self._put(("failure", model.round, client_index, str(e)))
                return
        payload, extra = compressor.encode(model.round, client_index, delta)
        metrics.update(extra)
        update = Update(model.round, client_index, 0, samples, metrics, payload)
        self._put(("update", update, time.monotonic() - started))
