# bbchain: `make run` starts a master with the browser miner on http://127.0.0.1:8000,
# `make test` runs every check CI runs.
WASM_TARGET := wasm32-unknown-unknown
WASM_OUT := target/$(WASM_TARGET)/release/bbchain_miner_wasm.wasm
PORT ?= 8000

.PHONY: setup wasm build run test lint test-rust

setup:
	bash scripts/setup.sh

# The browser miner: the core crate's scan loop compiled to wasm, plus wasm-bindgen's JS glue in web/pkg.
# simd128 turns on sha2's WebAssembly SIMD backend: about 1.17x faster in Chromium (docs/BENCHMARKS.md).
WASM_RUSTFLAGS := -C target-feature=+simd128

# Browsers without WebAssembly SIMD get a second build without it (web/pkg-scalar), in its own
# target dir so the two builds do not overwrite each other.
WASM_SCALAR_OUT := target/wasm-scalar/$(WASM_TARGET)/release/bbchain_miner_wasm.wasm

wasm:
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$(WASM_RUSTFLAGS)" \
		cargo build -p bbchain-miner-wasm --release --target $(WASM_TARGET)
	cargo build -p bbchain-miner-wasm --release --target $(WASM_TARGET) --target-dir target/wasm-scalar
	$(MAKE) --no-print-directory web/pkg/bbchain_miner_wasm_bg.wasm web/pkg-scalar/bbchain_miner_wasm_bg.wasm

# Only when the wasm changed: rewriting web/pkg would make the release binary embed it again.
web/pkg/bbchain_miner_wasm_bg.wasm: $(WASM_OUT)
	wasm-bindgen --target web --no-typescript --out-dir web/pkg $(WASM_OUT)

web/pkg-scalar/bbchain_miner_wasm_bg.wasm: $(WASM_SCALAR_OUT)
	wasm-bindgen --target web --no-typescript --out-dir web/pkg-scalar $(WASM_SCALAR_OUT)

# The wasm first: the release binary embeds web/ (with web/pkg) at compile time.
build: wasm
	cargo build --release -p bbchain

run: setup build
	./target/release/bbchain --start-master --port $(PORT)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

test-rust:
	cargo build -p bbchain-core --target $(WASM_TARGET) --no-default-features
	cargo build -p bbchain
	cargo test --workspace

test: lint wasm test-rust
