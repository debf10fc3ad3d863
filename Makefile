# tmdflow: the two set-up commands are `make demo` and `make test` (see README.md).
# Both install what is missing (Debian packages, cmake/install_deps.sh), configure and build into
# build/ (executable build/bin/tmdflow), then run the demo workflow or every test.
# Off Debian (no apt-get) the package step only lists what CMake needs; NO_DEPS=1 skips it
# (e.g. `module load ...; make build NO_DEPS=1`). `make install PREFIX=DIR` installs the build.
BUILD   ?= build
JOBS    ?= $(shell nproc)
RANKS   ?= 2
DEMO_OUT ?= demo_out
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release
NO_DEPS ?=
PREFIX  ?= /usr/local

.PHONY: all deps configure build demo test slurm-test bench install clean sanitize-build sanitize-test fuzz-build fuzz fuzz-smoke

all: build

deps:
ifeq ($(NO_DEPS),)
	@sh cmake/install_deps.sh
else
	@echo "tmdflow: NO_DEPS=$(NO_DEPS): not checking Debian packages"
endif

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/bin/tmdflow-mpiexec $(RANKS) $(BUILD)/bin/tmdflow run workflows/demo.ini --output $(DEMO_OUT)/demo.h5
	@$(BUILD)/bin/tmdflow validate $(DEMO_OUT)/demo.h5
	@echo
	@echo "Demo outputs:"
	@echo "  products (HDF5, EMD 1.0):  $(abspath $(DEMO_OUT))/demo.h5"
	@echo "  figures (PNG):             $(abspath $(DEMO_OUT))/figures/ (what each shows: captions.txt)"
	@sed 's/^/    /' $(DEMO_OUT)/figures/captions.txt

# ctest says only "Skipped": the reasons, which the skipped tests print as "SKIPPED: why".
SKIP_REASONS = grep -h '^SKIPPED:' $(BUILD)/Testing/Temporary/LastTest.log 2>/dev/null | sort -u || true

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) || { $(SKIP_REASONS); exit 1; }
	@$(SKIP_REASONS)
	$(MAKE) sanitize-test fuzz-smoke

# Only the tests that submit tmdflow to a real one-node Slurm (slurm/ci/up.sh; label slurm).
slurm-test: build
	cd $(BUILD) && ctest --output-on-failure -L slurm || { $(SKIP_REASONS); exit 1; }
	@$(SKIP_REASONS)

bench: build
	sh benchmarks/run.sh $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# A second tree built by clang with AddressSanitizer and UBSan (a report fails the test), without
# LibTorch or benchmarks: the unit and MPI tests (sanitize-test) and libFuzzer over every reader
# of foreign input (fuzz: FUZZ_RUNS inputs each; fuzz-smoke: FUZZ_SMOKE_RUNS or FUZZ_SMOKE_SECONDS
# each, whichever comes first, in make test).
ASAN_BUILD      ?= build-asan
ASAN_FLAGS      ?= -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
                   "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" "-DCMAKE_C_FLAGS_DEBUG=-O1 -g1" \
                   -DTMDFLOW_SANITIZE=ON -DTMDFLOW_FUZZ=ON -DTMDFLOW_WITH_TORCH=OFF -DTMDFLOW_BUILD_BENCHMARKS=OFF
FUZZ_RUNS       ?= 100000
FUZZ_SMOKE_RUNS ?= 3000
FUZZ_SMOKE_SECONDS ?= 20

$(ASAN_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(ASAN_BUILD) $(ASAN_FLAGS)

sanitize-build: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target tmdflow_unit_tests tmdflow_mpi_tests

sanitize-test: sanitize-build
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L sanitize

fuzz-build: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target fuzzers

fuzz: fuzz-build
	sh tests/fuzz/run.sh $(ASAN_BUILD) $(FUZZ_RUNS)

fuzz-smoke: fuzz-build
	FUZZ_MAX_SECONDS=$(FUZZ_SMOKE_SECONDS) sh tests/fuzz/run.sh $(ASAN_BUILD) $(FUZZ_SMOKE_RUNS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(DEMO_OUT)
