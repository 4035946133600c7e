# Portcullis — the two commands of the README are `make demo` and `make test`.
SWIFT ?= swift
# System packages the build, the tests and the demo need (installed when missing).
# nginx is the ALB stand-in of make demo and of the ALB scenario tests; python3-venv / python3-pip hold schemathesis
# (PyPI, in .build/venv), which checks the admin API against docs/openapi.json.
APT_PACKAGES := libssl-dev libsqlite3-dev libpcre2-dev zlib1g-dev pkg-config openssl curl python3 nginx python3-venv python3-pip
# The reference peers of the benchmarks (make bench).
BENCH_PACKAGES := haproxy wrk

.PHONY: deps build debug test soak demo bench fuzz clean schemathesis

deps:
	@./scripts/ensure-packages.sh $(APT_PACKAGES)

debug: deps
	$(SWIFT) build --product portcullis

build: deps
	$(SWIFT) build -c release --product portcullis

test: deps schemathesis
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	PORTCULLIS_CONTRACT_TEST=1 $(SWIFT) test --skip-build --filter SchemathesisTests

# The long variants of the fault tests (bounded: about 10 minutes on 2 cores): 50 rounds of kill -9 of the control
# plane during concurrent admin writes, the control plane down 60 s under load, a data plane of `up` killed under
# 20 s of load; the outage's load is wrk's (installed when missing). Figures are the `[soak]` lines.
# SOAK_ROUNDS / SOAK_OUTAGE change the first two; SOAK_SEED repeats a run's random choices.
SOAK_ROUNDS ?= 50
SOAK_OUTAGE ?= 60
soak: deps
	@./scripts/ensure-packages.sh wrk
	$(SWIFT) build --build-tests
	{ PORTCULLIS_SOAK=1 PORTCULLIS_SOAK_ROUNDS=$(SOAK_ROUNDS) PORTCULLIS_SOAK_OUTAGE_SECONDS=$(SOAK_OUTAGE) \
	  $(if $(SOAK_SEED),PORTCULLIS_SOAK_SEED=$(SOAK_SEED)) \
	  $(SWIFT) test --skip-build --filter 'CrashSoakTests|OutageLoadTests|DataPlaneFaultTests'; \
	  echo $$? > .build/soak.status; } 2>&1 | tee .build/soak.log
	@grep '^\[soak\]' .build/soak.log; exit $$(cat .build/soak.status)

# The admin API's contract test (IntegrationTests/SchemathesisTests, run alone after the rest: it loads the machine
# for a minute or two) needs .build/venv/bin/st.
schemathesis: deps
	./scripts/ensure-schemathesis.sh .build/venv

# The debug build: the one make test builds too, so the two commands of the README compile the product once.
demo: debug
	PORTCULLIS_BIN=.build/debug/portcullis ./scripts/demo.sh

bench: build
	@./scripts/ensure-packages.sh $(BENCH_PACKAGES)
	$(SWIFT) build -c release --product nio-relay
	./Benchmarks/proxy
	./Benchmarks/config-swap
	./Benchmarks/admin-writes
	./Benchmarks/propagation
	$(SWIFT) run -c release router-bench 100000 500000
	$(SWIFT) run -c release snapshot-bench 100000 10000 5
	$(SWIFT) run -c release certverify-bench 3

# Fuzzing (docs/fuzzing.md): the libFuzzer build of portcullis-fuzz in its own scratch path, then every target for
# FUZZ_SECONDS (or only FUZZ_TARGETS), reporting executions per target.
FUZZ_SECONDS ?= 120
FUZZ_TARGETS ?=

fuzz: deps
	PORTCULLIS_FUZZ=1 $(SWIFT) build --scratch-path .build-fuzz --product portcullis-fuzz
	./scripts/fuzz.sh .build-fuzz/debug/portcullis-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf .build .build-fuzz .portcullis
