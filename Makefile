# Portcullis — the two commands of the README are `make demo` and `make test`.
SWIFT ?= swift
# System packages the build, the tests and the demo need (installed when missing).
# nginx is the ALB stand-in of make demo and of the ALB scenario tests.
APT_PACKAGES := libssl-dev libsqlite3-dev libpcre2-dev zlib1g-dev pkg-config openssl curl python3 nginx
# The reference peers of the benchmarks (make bench).
BENCH_PACKAGES := haproxy wrk

.PHONY: deps build debug test demo bench fuzz clean

deps:
	@./scripts/ensure-packages.sh $(APT_PACKAGES)

debug: deps
	$(SWIFT) build --product portcullis

build: deps
	$(SWIFT) build -c release --product portcullis

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

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

# Fuzzing (docs/fuzzing.md): the libFuzzer build of portcullis-fuzz in its own scratch path, then every target for
# FUZZ_SECONDS (or only FUZZ_TARGETS), reporting executions per target.
FUZZ_SECONDS ?= 120
FUZZ_TARGETS ?=

fuzz: deps
	PORTCULLIS_FUZZ=1 $(SWIFT) build --scratch-path .build-fuzz --product portcullis-fuzz
	./scripts/fuzz.sh .build-fuzz/debug/portcullis-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf .build .build-fuzz .portcullis
