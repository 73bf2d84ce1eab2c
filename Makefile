# mqttids — make help lists the targets.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/mqttids
PKGS  := ./...
# Debian packages the tests drive as real peers (broker, clients, oracle, Kafka reader, capture, nftables, replayer).
DEB_PKGS := tshark mosquitto mosquitto-clients kcat tcpdump nftables tcpreplay iproute2 wireshark-common
DEB_CMDS := tshark mosquitto mosquitto_pub mosquitto_sub mosquitto_ctrl kcat tcpdump nft tcpreplay ip mergecap
GEN_PKGS := clang llvm libbpf-dev
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: help build demo test test-short deps bench fuzz eval generate check-generate lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

build: ## build bin/mqttids
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mqttids

demo: build ## replay the bundled capture with the built-in rules: alerts on stdout, summary on stderr
	./$(BIN) replay testdata/demo/demo.pcap

deps: ## install what the tests need when it is missing (Debian packages, Go modules)
	@missing=""; for c in $(DEB_CMDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: missing:$$missing — installing $(DEB_PKGS)"; \
	  if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends $(DEB_PKGS) >/dev/null || { echo "deps: apt-get install failed" >&2; exit 1; }; \
	fi
	@$(GO) mod download

test: deps ## install what is missing, then vet, check formatting and run every test
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 14m $(PKGS)

test-short: ## unit tests only (no brokers, namespaces or external tools)
	$(GO) test -short -count=1 $(PKGS)

bench: ## benchmarks: codec, reassembly, end-to-end replay on a synthetic capture
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s ./decode/ ./capture/ ./detect/ ./rules/
	$(GO) run ./tools/synthpcap -o /tmp/mqttids-bench.pcap -packets 1000000 -flows 1000 -reorder 0.03
	$(MAKE) build
	@echo "== raw pcap read floor vs capture replay (GOMAXPROCS=1)"
	MQTTIDS_BENCH_PCAP=/tmp/mqttids-bench.pcap GOMAXPROCS=1 $(GO) test ./capture -run '^$$' -bench 'ReadFloor|Replay' -benchtime 2x
	@echo "== mqttids replay with the built-in rules (GOMAXPROCS=1)"
	GOMAXPROCS=1 /usr/bin/time -f '%e s wall, %M KB peak RSS' ./$(BIN) replay -q --stats /tmp/mqttids-bench.stats.json /tmp/mqttids-bench.pcap >/dev/null
	@grep -E '"packets_per_s"|"elapsed_s"' /tmp/mqttids-bench.stats.json
	@if command -v suricata >/dev/null; then echo "== suricata -r, one thread, MQTT parser, no rules, no EVE (includes ~0.3 s start-up)"; \
	  mkdir -p /tmp/mqttids-bench-suri; /usr/bin/time -f '%e s wall' suricata -r /tmp/mqttids-bench.pcap -l /tmp/mqttids-bench-suri --runmode single -k none -S /dev/null \
	    --set outputs.1.eve-log.enabled=no --set outputs.0.fast.enabled=no 2>&1 | tail -1; \
	else echo "(suricata not installed: bookworm-backports, apt-get install -t bookworm-backports suricata)"; fi

fuzz: ## short, bounded native fuzzing of every decoder and of the EVE string escaper
	@for p in ./decode/ ./internal/eve/; do \
	  for f in $$($(GO) test -list '^Fuzz' $$p | grep ^Fuzz); do \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$p || exit 1; done; done

eval: build ## replay every scenario and print expected vs detected per scenario
	$(GO) run ./tools/eval -bin ./$(BIN) testdata/scenarios

generate: ## rebuild the eBPF objects with clang (bpf2go); installs clang/llvm/libbpf-dev if missing
	@command -v clang >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq $(GEN_PKGS) >/dev/null; }
	$(GO) generate ./bpf/...

check-generate: generate ## CI: the committed bpf2go output is current
	git diff --exit-code -- bpf/

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)

clean: ## remove build output
	rm -rf bin
