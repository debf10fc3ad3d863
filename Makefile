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

.PHONY: all deps configure build demo test bench install clean

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

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	sh benchmarks/run.sh $(BUILD)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(DEMO_OUT)
