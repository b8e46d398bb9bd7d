#!/usr/bin/env bash
# Fuzzes the API from its own OpenAPI document with schemathesis (PyPI): the release of
# `nextpanel-bill serve` on a fresh SQLite database, signed in as an admin (an API key,
# so a fuzzed logout cannot end the session) and again as a customer. Every operation,
# a bounded number of examples each, with the checks that no answer is a server error
# and that every status, content type and body matches the document.
#
#   scripts/fuzz.sh [path to the nextpanel-bill binary]
#
# FUZZ_EXAMPLES (default 20) bounds the examples per operation; FUZZ_SEED (default a
# fixed one, so CI is repeatable) picks the generated data.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/debug/nextpanel-bill}"
examples="${FUZZ_EXAMPLES:-20}"
seed="${FUZZ_SEED:-20261202}"
if ! python3 -c "import schemathesis" 2>/dev/null; then
    echo "==> installing schemathesis (python3 -m pip install schemathesis)"
    python3 -m pip install --quiet --disable-pip-version-check schemathesis
fi
# Through the interpreter, so a scripts directory missing from PATH does not matter.
schemathesis() { python3 -m schemathesis.cli "$@"; }
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
stripe_port=$(free_port)
# A Stripe stand-in, so the payment operations run as in production instead of
# answering 503 (not configured): every create answers an object, every read 404.
cat >"$work/stripe.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Stripe(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.answer(200, {"id": "obj_fuzz", "url": "https://checkout.example/pay/fuzz", "status": "succeeded",
                          "amount": 100, "currency": "usd"})
    def do_GET(self):
        self.answer(404, {"error": {"type": "invalid_request_error", "message": "No such object"}})
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Stripe).serve_forever()
PY
python3 "$work/stripe.py" "$stripe_port" &
stripe=$!
cat >"$work/nextpanel-bill.toml" <<TOML
stripe_secret_key = "sk_test_fuzz"
stripe_webhook_secret = "whsec_fuzz"
stripe_api_base = "http://127.0.0.1:$stripe_port"
payment_sweep_interval_secs = 0
TOML
base="http://127.0.0.1:$port"
password="fuzz-admin-password-1"
# Its own SQLite file, named by the flag (which wins over the environment): CI exports
# DATABASE_URL for the PostgreSQL tests, and a shared database could hold an earlier run's
# schema.
(
    cd "$work"
    NEXTPANEL_BILL_ADMIN_PASSWORD="$password" NEXTPANEL_BILL_MASTER_KEY="$(printf '7%.0s' $(seq 64))" \
        RUST_LOG=warn exec "$OLDPWD/$bin" serve --listen "127.0.0.1:$port" --health-interval 0 \
        --database "sqlite://$work/fuzz.db" \
        --billing-interval 0 --reconcile-interval 0 --usage-poll-interval 0
) >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server $stripe 2>/dev/null || true; rm -rf "$work"' EXIT
# Up to 60 s: a debug build on a busy machine migrates and seeds slowly. A server that
# never answers fails here, with its log, rather than later on an empty login answer.
up=false
for _ in $(seq 1 600); do
    if curl -fsS "$base/health" >/dev/null 2>&1; then
        up=true
        break
    fi
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
if [ "$up" != true ]; then
    echo "==> the server did not answer /health; its log:"
    cat "$work/serve.log"
    exit 1
fi
json() { python3 -c "import sys, json; print(json.load(sys.stdin)$1)"; }
token=$(curl -fsS -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\": \"admin@example.com\", \"password\": \"$password\"}" | json "['access_token']")
admin_key=$(curl -fsS -X POST "$base/api/v1/api-keys" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -d '{"name": "fuzz"}' | json "['api_key']")
curl -fsS -X POST "$base/api/v1/customers" -H "authorization: Bearer $admin_key" -H 'content-type: application/json' \
    -d '{"email": "fuzz@example.com", "full_name": "Fuzz", "password": "fuzz-customer-password"}' >/dev/null

run() {
    local who="$1" credential="$2"
    echo "==> schemathesis as $who ($examples examples per operation)"
    # Excluded: the calls that end the credential the run itself uses. Run from the work
    # directory, so schemathesis keeps its cache there and not in the repository.
    (cd "$work" && schemathesis run "$base/api/openapi.json" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --header "Authorization: Bearer $credential" \
        --max-examples "$examples" \
        --seed "$seed" \
        --exclude-path /api/v1/auth/logout \
        --exclude-path-regex '^/api/v1/(api-keys|auth/sessions)/' \
        --request-timeout 10 \
        --no-color)
}
status=0
run admin "$admin_key" || status=1
# The customer signs in only now: the admin run may have ended every session (DELETE
# /users/{id}/sessions) of every user.
customer=$(curl -fsS -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email": "fuzz@example.com", "password": "fuzz-customer-password"}' | json "['access_token']")
run customer "$customer" || status=1
if [ "$status" -ne 0 ]; then
    echo "==> server log"
    tail -n 50 "$work/serve.log"
fi
exit "$status"
