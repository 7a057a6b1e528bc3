# Aviary — the two commands of the quick start are `make demo` and `make test`.
# Both first make sure the system packages exist: as root they are installed with apt-get,
# otherwise the exact apt-get line is printed and make stops.

SWIFT        ?= swift
CONFIG       ?= release
BUILD_DIR    := .build/$(CONFIG)
AVIARY       := $(BUILD_DIR)/aviary
TOPOLOGY     ?= topologies/quickstart.toml

# Debian package → a file it installs (how we tell it is present without dpkg-query races).
DEB_PACKAGES := libzmq3-dev:/usr/include/zmq.h \
                libopenblas-dev:/usr/include/x86_64-linux-gnu/cblas.h \
                zlib1g-dev:/usr/include/zlib.h \
                dataset-fashion-mnist:/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
# Only the tests need these (compose validation).
DEB_TEST_PACKAGES := docker-compose:/usr/bin/docker-compose

.PHONY: all setup setup-test build demo test bench experiments clean help

all: build

help:
	@echo "make demo         install missing packages, build (release), run $(TOPOLOGY)"
	@echo "make test         install missing packages, run the test suite"
	@echo "make bench        speed benchmarks (aviary bench)"
	@echo "make experiments  long runs that are not part of the tests"

setup:
	@sh .ci/ensure-packages $(DEB_PACKAGES)

setup-test: setup
	@sh .ci/ensure-packages $(DEB_TEST_PACKAGES)
	@sh .ci/ensure-python-numpy

build: setup
	$(SWIFT) build -c $(CONFIG)

demo: build
	$(AVIARY) run $(TOPOLOGY) --overwrite

test: setup-test
	export OPENBLAS_NUM_THREADS=1; \
	$(SWIFT) test -c $(CONFIG)

bench: build
	$(AVIARY) bench all

# The runs whose numbers the README reports (minutes, not part of the tests).
EXPERIMENTS := topologies/benchmark-fmnist-iid.toml topologies/benchmark-fmnist-iid-pgd.toml \
               topologies/fmnist-dirichlet.toml topologies/fmnist-dirichlet-pgd.toml \
               topologies/fmnist-dirichlet-pgd-mwa.toml

experiments: build
	@for t in $(EXPERIMENTS); do $(AVIARY) run $$t --overwrite || exit 1; done

clean:
	rm -rf .build runs
