# Aviary — the two commands of the quick start are `make demo` and `make test`.
# Both first make sure the system packages exist: as root they are installed with apt-get,
# otherwise the exact apt-get line is printed and make stops.

SWIFT        ?= swift
CONFIG       ?= release
BUILD_DIR    := .build/$(CONFIG)
AVIARY       := $(BUILD_DIR)/aviary
TOPOLOGY     ?= topologies/quickstart.toml
PREFIX       ?= /usr/local
BINDIR       := $(DESTDIR)$(PREFIX)/bin
EXECUTABLES  := aviary aviary-server aviary-client
BUILD_COMMIT := Sources/CBuildInfo/build_commit.h

# Debian package → a file it installs (how we tell it is present without dpkg-query races).
DEB_PACKAGES := libzmq3-dev:/usr/include/zmq.h \
                libopenblas-dev:/usr/include/x86_64-linux-gnu/cblas.h \
                zlib1g-dev:/usr/include/zlib.h \
                libisal-dev:/usr/include/isa-l/crc.h \
                libgcrypt20-dev:/usr/include/gcrypt.h \
                dataset-fashion-mnist:/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
# Only the tests need these (compose validation, rendering the report in a browser, the
# multi-host test's namespaces, lossy links and delay relay, the hostile peer of
# HostilePeerTests, the single-node Slurm cluster, PyTorch (CPU) for the Python SDK's torch tests).
# Chromium is installed without recommends, so its usual font comes along explicitly.
DEB_TEST_PACKAGES := docker-compose:/usr/bin/docker-compose \
                     chromium:/usr/bin/chromium \
                     fonts-liberation:/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf \
                     iproute2:/sbin/tc \
                     nftables:/usr/sbin/nft \
                     python3:/usr/bin/python3 \
                     python3-venv:/usr/share/doc/python3-venv \
                     python3-zmq:/usr/lib/python3/dist-packages/zmq/__init__.py \
                     python3-torch:/usr/lib/python3/dist-packages/torch/__init__.py \
                     munge:/usr/sbin/munged \
                     slurm-wlm:/usr/sbin/slurmd

.PHONY: all setup setup-test build build-info install demo test venv bench experiments scale clean help

all: build

help:
	@echo "make demo         install missing packages, build (release), run $(TOPOLOGY)"
	@echo "make install      build, then copy $(EXECUTABLES) to $(BINDIR) (PREFIX, DESTDIR)"
	@echo "make test         install missing packages, run the test suite"
	@echo "make scale        the README's scale runs (100,000, 1,000 and 1,000,000 clients; 100,000 buffered)"
	@echo "make bench        speed benchmarks (aviary bench)"
	@echo "make experiments  the studies of docs/RESULTS.md (sweeps, 3 seeds; regenerates the file)"

setup:
	@sh .ci/ensure-packages $(DEB_PACKAGES)

setup-test: setup
	@sh .ci/ensure-packages $(DEB_TEST_PACKAGES)
	@sh .ci/ensure-python-numpy

# The commit for `--version`, in a git-ignored header that Sources/CBuildInfo/build_info.c
# falls back from when absent (a plain `swift build`, a tarball). Rewritten only when it
# changes (then the .c is touched so SwiftPM recompiles it), so an unchanged tree does not rebuild.
build-info:
	@c=$$(git describe --always --dirty --abbrev=12 2>/dev/null) || exit 0; \
	line="#define AVIARY_BUILD_COMMIT \"$$c\""; \
	[ "$$(cat $(BUILD_COMMIT) 2>/dev/null)" = "$$line" ] || { echo "$$line" > $(BUILD_COMMIT); touch Sources/CBuildInfo/build_info.c; }

build: setup build-info
	$(SWIFT) build -c $(CONFIG)

install: build
	install -d $(BINDIR)
	install -m 755 $(addprefix $(BUILD_DIR)/,$(EXECUTABLES)) $(BINDIR)/

demo: build
	$(AVIARY) run $(TOPOLOGY) --overwrite

# The Python test venv: TensorBoard and MLflow read `aviary export`'s files back (Tests/Python);
# the Python client SDK (python/, `pip install ./python`, with pyzmq and safetensors) is
# installed into it and reinstalled when its sources change. Google's dp-accounting is the
# reference the DP accountant is checked against (Tests/Python/test_accountant.py).
# Debian's python3, with its system packages visible (python3-torch for later tests); NumPy
# stays below 2 there, as Debian's packages are built against 1.x. Rebuilt when this Makefile
# changes; a clean clone (or CI) creates it here. git ignores .venv/.
VENV            := .venv
VENV_PYTHON     := $(VENV)/bin/python
PYTHON_PACKAGES := 'numpy<2' pytest tensorboard mlflow pyzmq safetensors dp-accounting
SDK_SOURCES     := python/pyproject.toml $(wildcard python/aviary_client/*.py)

venv: $(VENV)/.installed $(VENV)/.sdk-installed

$(VENV)/.installed: Makefile
	@echo "aviary: creating the Python test venv in $(VENV) ($(PYTHON_PACKAGES))"
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check $(PYTHON_PACKAGES)
	@touch $@

$(VENV)/.sdk-installed: $(VENV)/.installed $(SDK_SOURCES)
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check ./python
	@touch $@

# swift test, then pytest (Tests/Python, configured by pytest.ini) against the same build; both
# run even when the first fails, and make fails when either did.
test: setup-test venv
	@export OPENBLAS_NUM_THREADS=1; status=0; \
	$(SWIFT) test -c $(CONFIG) || status=$$?; \
	AVIARY=$(AVIARY) $(VENV_PYTHON) -m pytest || status=$$?; \
	exit $$status

# The engine beside PyTorch on the same core (tools/bench_torch.py, alternating rounds) when
# Debian's python3-torch is installed (`make setup-test` installs it); otherwise it says so.
bench: build
	$(AVIARY) bench all
	@if /usr/bin/python3 -c 'import torch' 2>/dev/null; then \
	  /usr/bin/python3 tools/bench_torch.py --aviary $(AVIARY); \
	else \
	  echo "aviary: PyTorch side by side skipped: /usr/bin/python3 cannot import torch (apt-get install python3-torch)"; \
	fi

# docs/RESULTS.md: the studies of topologies/experiments/plan.toml, 3 seeds each, as sweeps into
# runs/exp-*; an interrupted `make experiments` resumes (completed runs are skipped). The file is
# then written from the logs with the suite's wall time. SEEDS and PARALLEL can be overridden.
# The checkpoint-merging study needs no sweep of its own: `aviary results` merges the saved
# checkpoints of runs/exp-mwa-baselines (keeping the scores in each run's evals/).
# A sweep with a failed or degraded run (Krum refusing rounds once the norm bound has rejected
# enough attackers, say) does not stop the others: its runs are data too, and docs/RESULTS.md
# counts them per group (`seeds` completed/run). make still exits non-zero, naming the sweeps.
SEEDS    ?= 1,2,3
PARALLEL ?= 2
SWEEP    := exp_sweep
CKPT_MERGE := --set merge.checkpoints.window=10 --set merge.checkpoints.metric=val_loss
NONIID     := --set data.partition=dirichlet --set data.alpha=0.3
# Krum's f and trimmed mean's β for topologies/byzantine.toml's grid (the file leaves them out).
BYZANTINE  := --set merge.byzantine=3 --set merge.trim_beta=0.3
# The asynchronous study on topologies/heterogeneous.toml's devices, over about 10 simulated
# minutes each: sync FedAvg for 30 rounds of 20 s; FedBuff (uniform weights × (1 + s)^-0.5,
# K = 10) for as many server updates as fill those minutes at concurrency 20 (140) and 50 (450),
# with MWA weights instead at 20; FedAsync (K = 1, concurrency 20, 1,400 updates). Evaluations
# about every 20 simulated seconds in each (eval_every), so times to a target compare.
ASYNC      := --set server.mode=buffered --set merge.strategy=uniform --set server.staleness=polynomial --set server.buffer_size=10

experiments: build
	@start=$$(date +%s); failed=""; \
	exp_sweep() { $(AVIARY) sweep --seeds $(SEEDS) --parallel $(PARALLEL) "$$@" || failed="$$failed $$3"; }; \
	$(SWEEP) topologies/fmnist-dirichlet.toml --name exp-partition --grid data.partition=iid,dirichlet,shards; \
	$(SWEEP) topologies/fmnist-dirichlet-pgd.toml --name exp-adversarial --grid adversarial.mode=none,pgd; \
	$(SWEEP) topologies/fmnist-dirichlet-pgd-mwa.toml --name exp-mwa-baselines $(CKPT_MERGE) --grid merge.strategy=fedavg,uniform; \
	$(SWEEP) topologies/fmnist-dirichlet-pgd-mwa.toml --name exp-mwa $(CKPT_MERGE) \
	    --grid merge.metric=train_loss,adv_loss,local_steps --grid merge.penalty=0.5,1,2; \
	$(SWEEP) topologies/compression.toml --name exp-compression --grid compression.encoding=f32,f16,int8,topk; \
	$(SWEEP) topologies/byzantine.toml --name exp-byzantine-none $(BYZANTINE) --set attackers.kind=none \
	    --grid merge.strategy=fedavg,median,trimmed-mean,krum; \
	$(SWEEP) topologies/byzantine.toml --name exp-byzantine $(BYZANTINE) --grid merge.strategy=fedavg,median,trimmed-mean,krum \
	    --grid attackers.kind=sign_flip,scale,gaussian,label_flip,alie --grid attackers.fraction=0.1,0.3; \
	$(SWEEP) topologies/byzantine.toml --name exp-byzantine-noniid-none $(NONIID) $(BYZANTINE) --set attackers.kind=none \
	    --grid merge.strategy=fedavg,median,trimmed-mean,krum; \
	$(SWEEP) topologies/byzantine.toml --name exp-byzantine-noniid $(NONIID) $(BYZANTINE) --grid merge.strategy=fedavg,median,trimmed-mean,krum \
	    --grid attackers.kind=sign_flip,scale,alie --grid attackers.fraction=0.1,0.3; \
	$(SWEEP) topologies/byzantine-dirichlet-50.toml --name exp-byzantine-50-none --set attackers.kind=none \
	    --grid merge.strategy=fedavg,median,trimmed-mean,krum,mwa; \
	$(SWEEP) topologies/byzantine-dirichlet-50.toml --name exp-byzantine-50 --grid merge.strategy=fedavg,median,trimmed-mean,krum,mwa \
	    --grid attackers.kind=sign_flip,scale,alie,ipm; \
	$(SWEEP) topologies/heterogeneous.toml --name exp-heterogeneous --grid system.straggler_policy=drop,stale; \
	$(SWEEP) topologies/heterogeneous.toml --name exp-async-sync --set run.rounds=30 --grid system.straggler_policy=drop,stale; \
	$(SWEEP) topologies/heterogeneous.toml --name exp-async-fedbuff-20 $(ASYNC) --set server.concurrency=20 --set run.rounds=140 \
	    --set server.eval_every=4 --grid merge.strategy=uniform,mwa; \
	$(SWEEP) topologies/heterogeneous.toml --name exp-async-fedbuff-50 $(ASYNC) --set server.concurrency=50 --set run.rounds=450 --set server.eval_every=15; \
	$(SWEEP) topologies/heterogeneous.toml --name exp-async-fedasync $(ASYNC) --set server.concurrency=20 --set server.buffer_size=1 \
	    --set run.rounds=1400 --set server.eval_every=50; \
	$(SWEEP) topologies/fmnist-dp.toml --name exp-dp --grid privacy.noise_multiplier=0,0.5,0.8,1.2 --grid privacy.clipping=fixed,adaptive; \
	$(SWEEP) topologies/fmnist-dp.toml --name exp-dp-mwa --set merge.strategy=mwa --grid privacy.noise_multiplier=0,0.5,0.8,1.2; \
	$(AVIARY) results topologies/experiments/plan.toml -o docs/RESULTS.md --command "make experiments" --suite-seconds $$(( $$(date +%s) - start )) || exit 1; \
	if [ -n "$$failed" ]; then echo "make experiments: sweeps with failed or degraded runs:$$failed (see their logs)" >&2; exit 1; fi

# The README's "Scale" figures: 100,000 synthetic clients, 1,000 Fashion-MNIST clients in 8
# processes, 1,000,000 synthetic clients (sync, 1,000 per round) and 100,000 in buffered mode
# with 1,000 in flight (aviary run prints peak memory; the logs hold server time and memory per
# round and the registration notes).
SCALE := topologies/scale-100k.toml topologies/scale-fmnist-1k.toml topologies/scale-1m.toml topologies/scale-100k-buffered.toml

scale: build
	@for t in $(SCALE); do $(AVIARY) run $$t --overwrite || exit 1; done

clean:
	rm -rf .build runs $(VENV)
