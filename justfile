# Build everything and run the demo sync.
demo *args:
    cargo run --release -- demo {{args}}

# Run all the tests.
test:
    cargo test --workspace

# Formatting and lints, as CI expects them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Build the guest component alone, for packaging.
guest:
    cargo build --release --target wasm32-wasip2 -p pcosync-guest
    @echo target/wasm32-wasip2/release/pcosync_guest.wasm

# Check the built-in guest loads (twice: compile, then from the cache).
check:
    cargo run --release -- check
    cargo run --release -- check

# Benchmarks: sync requests and CPU against the minimum; PCO capability throughput and pacing;
# the performance table (1,000, 10,000 and 50,000 synced people; PERF_SIZES=1000,10000 for fewer).
bench:
    cargo bench -p pcosync --bench sync_requests
    cargo bench -p pcosync --bench pco_throughput
    cargo bench -p pcosync --bench perf_table

# Serve the local Rock and PCO sandboxes with a ready configuration in /tmp/pcosync-sandbox.
sandbox people="500":
    cargo run --release -p pcosync-sandbox -- --people {{people}} --write-config /tmp/pcosync-sandbox/pcosync.toml

# The plugin lifecycle: its tests, then first vs cached start, instantiation, install -> next run.
plugins:
    cargo test -p pcosync --test plugin --test plugin_schema --test daemon
    cargo bench -p pcosync --bench plugin_lifecycle

# The chaos suite: sync and import under injected faults, the real binary killed (SIGKILL) at
# random points, then run clean; prints the figures, exits non-zero on any broken invariant.
# Replay a failing scenario with `just chaos 1 SEED`.
chaos scenarios="150" seed="1":
    cargo run --release -p pcosync-chaos -- --scenarios {{scenarios}} --seed {{seed}}
