# stmae — the two commands of the README:
#   make run    set up, build (release) and pre-train a tiny MAE on the built-in synthetic video data set
#   make test   set up, build and run every test
# Other targets: setup, build, bench, fixtures.
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)
RUN_ARGS ?=

.PHONY: run test setup build bench fixtures

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

fixtures: setup
	PYTHONPATH=.torch:reference python3 scripts/make_engine_fixtures.py
	PYTHONPATH=.torch:reference python3 reference/make_model_fixtures.py
	PYTHONPATH=.torch:reference python3 reference/make_finetune_fixtures.py
	PYTHONPATH=.torch:reference python3 reference/make_recipe_fixtures.py
	PYTHONPATH=.torch:reference:.pylibs python3 reference/make_family_fixtures.py
	PYTHONPATH=.torch:.pylibs:reference python3 reference/make_eval_views_fixture.py
