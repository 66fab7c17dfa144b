# stmae — the two commands of the README:
#   make run    set up, build (release) and pre-train a tiny MAE on the built-in synthetic video data set
#   make test   set up, build and run every test
# Other targets: setup, build, bench, fixtures (regenerate every test fixture), fixtures-check (compare a regeneration),
# lint (swift-format lint + lines ≤ 120 in sources, scripts and Makefile; .ci/run runs it before make test).
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)
RUN_ARGS ?=

.PHONY: run test setup build bench fixture-deps fixtures fixtures-check

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
