#!/usr/bin/env bash
# The whole test suite: every crate against SQLite, then again against PostgreSQL
# when DATABASE_URL points to one (each test gets its own schema there).
set -euo pipefail
cd "$(dirname "$0")/.."

if cargo nextest --version >/dev/null 2>&1; then
    profile=default
    [ "${CI:-}" = "true" ] && profile=ci
    run() { cargo nextest run --workspace --no-fail-fast --profile "$profile"; }
else
    echo "cargo-nextest not found; using cargo test (install it with: cargo install cargo-nextest)"
    run() { cargo test --workspace --no-fail-fast; }
fi

# The email tests need a real SMTP server: aiosmtpd (PyPI), started by the tests; the
# saved-card tests need localstripe (PyPI), a stateful Stripe, started by the tests too.
for module in aiosmtpd localstripe; do
    if ! python3 -c "import $module" 2>/dev/null; then
        echo "==> installing $module for the tests (python3 -m pip install $module)"
        python3 -m pip install --quiet --disable-pip-version-check "$module"
    fi
done

# The browser tests need playwright-core (npm) and Debian's chromium; without them they are
# skipped (outside CI). chromium is the developer's to install.
browser=crates/billing/tests/browser
if [ ! -d "$browser/node_modules" ] && command -v npm >/dev/null 2>&1; then
    echo "==> installing playwright-core for the browser tests (npm ci --prefix $browser)"
    npm ci --prefix "$browser" --no-audit --no-fund --silent
fi
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
    echo "chromium not found: the browser tests will be skipped (apt-get install chromium, or set CHROMIUM_PATH)"
fi

echo "==> test suite on SQLite"
NPB_TEST_ENGINE=sqlite run

case "${DATABASE_URL:-}" in
    postgres://*|postgresql://*)
        echo "==> test suite on PostgreSQL (${DATABASE_URL%%@*}@...)"
        NPB_TEST_ENGINE=postgres run
        ;;
    *)
        echo "==> DATABASE_URL is not a PostgreSQL URL: PostgreSQL pass skipped"
        echo "    (run DATABASE_URL=postgres://postgres@127.0.0.1:5432/test scripts/test.sh for both engines)"
        ;;
esac

echo "==> documentation examples"
cargo test --workspace --doc --quiet
