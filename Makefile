# stmae — the two commands of the README:
#   make run    set up, build (release) and pre-train a tiny MAE on the built-in synthetic video data set
#   make test   set up, build and run every test
# Other targets: setup, build, bench, fixtures (regenerate every test fixture), fixtures-check (compare a regeneration),
# lint (swift-format lint + lines ≤ 120 in sources, scripts and Makefile; .ci/run runs it before make test),
# ctorch (the libtorch shim only), cuda-check (build + CPU tests against the CUDA torch wheel),
# gpu-bundle / gpu-bundle-check (the GPU check folder).
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)
# SwiftPM finds libstmae_ctorch.so (the C ABI over libtorch, scripts/build_ctorch.sh) through this pkg-config file.
export PKG_CONFIG_PATH := $(CURDIR)/.build-ctorch/pkgconfig$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))
RUN_ARGS ?=

.PHONY: run test setup build bench fixture-deps fixtures fixtures-check ctorch cuda-check gpu-bundle gpu-bundle-check

setup:
	@bash scripts/setup.sh

build: setup
	swift build -c release --product stmae

run: build
	.build/release/stmae pretrain $(RUN_ARGS)

test: setup
	swift build --build-tests
	swift test --skip-build

bench: build
	.build/release/stmae bench $(RUN_ARGS)

# Every fixture under Tests/*/Fixtures and the script that writes it (PyTorch references in reference/, scripts/).
# Not here: Tests/TrainingTests/Fixtures/legacy/, checkpoints written by an older stmae (issue 23) that today's code
# must keep loading. scripts/make_legacy_checkpoints.sh builds that commit to write them; regenerating them from today's
# code would prove nothing, so `make fixtures` leaves them alone (and compare_fixtures.py skips them).
FIXTURE_SCRIPTS := scripts/make_engine_fixtures.py scripts/make_tensorfiles_fixtures.py \
	reference/make_model_fixtures.py reference/make_decmask_fixture.py reference/make_family_fixtures.py \
	reference/make_finetune_fixtures.py reference/make_recipe_fixtures.py reference/make_eval_views_fixture.py \
	reference/make_gradscaler_fixture.py
FIXTURE_PY := PYTHONPATH=.torch:.pylibs:reference python3

# family_hog's generator compares with scikit-image's HOG: installed into .pylibs/ (beside transformers) when missing.
fixture-deps: setup
	@$(FIXTURE_PY) -c "import skimage" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check \
	  --target .pylibs scikit-image 2>/dev/null || python3 -m pip install -q --disable-pip-version-check \
	  --break-system-packages --target .pylibs scikit-image

fixtures: fixture-deps
	set -e; for s in $(FIXTURE_SCRIPTS); do echo "== $$s"; $(FIXTURE_PY) $$s; done

# Regenerates every fixture into a temporary tree and compares it with the committed files
# (scripts/compare_fixtures.py): checks that each fixture has a generator and still matches it, without rewriting
# CPU-dependent bits in Tests/.
fixtures-check: fixture-deps
	set -e; out=$$(mktemp -d); trap 'rm -rf $$out' EXIT; \
	for s in $(FIXTURE_SCRIPTS); do echo "== $$s"; STMAE_FIXTURES_ROOT=$$out $(FIXTURE_PY) $$s; done; \
	$(FIXTURE_PY) scripts/compare_fixtures.py $$out

lint:
	bash scripts/lint.sh

# The shim alone (setup runs it too): TORCH_DIR=<a torch package folder> builds against another PyTorch.
ctorch:
	bash scripts/build_ctorch.sh

cuda-check: setup
	bash scripts/check_cuda_build.sh

# gpu-bundle/: stmae-gpucheck (static Swift stdlib), the shim's sources, the references, scripts/gpu-check.sh.
gpu-bundle: setup
	bash scripts/make_gpu_bundle.sh

# The bundle rehearsed here on the CPU (tiny sizes; shim without the CPU kernels, as a CUDA build): every JSON line
# must report ok.
gpu-bundle-check: gpu-bundle
	PYTHONPATH=$(CURDIR)/.torch STMAE_GPU_CHECK_DEVICE=cpu STMAE_CPU_KERNELS=OFF bash gpu-bundle/gpu-check.sh
