#!/usr/bin/env bash
# CI: builds the Debian package, installs it on this machine, starts the service (with
# systemctl when systemd runs, else the unit's ExecStart as the unit's user, with its
# Environment and WorkingDirectory), checks /ready, the first admin's password in the
# log and the files in the state directory, stops it and purges the package, its state
# directory and its user, so the machine is left as it was. Needs root. Re-runnable: a
# package left by an earlier run of this script is purged first. It refuses to touch a
# nextpanel-bill that it did not install itself.
set -euo pipefail
cd "$(dirname "$0")/.."

# The cargo-deb release this script installs when cargo-deb is missing (builds with the
# Rust of .ci/run from crates.io, with its own Cargo.lock).
CARGO_DEB_VERSION=3.8.0
PKG=nextpanel-bill
SERVICE=nextpanel-bill
SVC_USER=nextpanel-bill
STATE_DIR=/var/lib/nextpanel-bill
CONFIG=/etc/nextpanel-bill/nextpanel-bill.toml
# Present while a nextpanel-bill installed by this script may be on the machine.
MARKER=/var/tmp/nextpanel-bill-ci-install-check
export DEBIAN_FRONTEND=noninteractive

fail() {
    echo "ci-install-check: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || fail "must run as root (it installs a package and creates a system user)"

systemd_running() { [ -d /run/systemd/system ]; }

package_present() {
    dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'
}

# Stops the unit and removes the package, its state and its user; the marker goes only
# when all of that worked (each step returns on failure: `set -e` is off inside `||`).
remove_everything() {
    if systemd_running; then
        systemctl stop "$SERVICE" 2>/dev/null || true
    fi
    # A service an interrupted run started (its pid is in the marker).
    local old_pid
    old_pid=$(cat "$MARKER" 2>/dev/null || true)
    if [ -n "$old_pid" ] && [ "$(ps -o comm= -p "$old_pid" 2>/dev/null)" = nextpanel-bill ]; then
        echo "stopping the service an earlier run left running (pid $old_pid)"
        kill -TERM "$old_pid" 2>/dev/null || true
        for _ in $(seq 1 30); do
            [ "$(ps -o comm= -p "$old_pid" 2>/dev/null)" = nextpanel-bill ] || break
            sleep 1
        done
        kill -KILL "$old_pid" 2>/dev/null || true
    fi
    if package_present; then
        dpkg --purge "$PKG" || return 1
    fi
    rm -rf "$STATE_DIR" || return 1
    if getent passwd "$SVC_USER" >/dev/null; then
        userdel "$SVC_USER" || return 1
    fi
    if getent group "$SVC_USER" >/dev/null; then
        groupdel "$SVC_USER" || return 1
    fi
    rm -f "$MARKER"
}

server_pid=""
server_log=""
finished=false
on_exit() {
    local rc=$?
    if [ "$finished" = true ]; then
        return
    fi
    echo "==> FAILED (exit $rc); cleaning up" >&2
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in 1 2 3 4 5; do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ -n "$server_log" ] && [ -f "$server_log" ]; then
        echo "---- last lines of the service log ($server_log)" >&2
        tail -n 60 "$server_log" >&2 || true
    elif systemd_running; then
        journalctl -u "$SERVICE" --no-pager -n 60 >&2 || true
    fi
    if [ -f "$MARKER" ]; then
        remove_everything || echo "cleanup incomplete: the next run purges the rest" >&2
    fi
}
trap on_exit EXIT

echo "==> leftovers of an earlier run"
if package_present || [ -e "$STATE_DIR" ] || getent passwd "$SVC_USER" >/dev/null; then
    [ -f "$MARKER" ] || fail "a nextpanel-bill package, $STATE_DIR or the $SVC_USER user exists and was not installed by this script; refusing to purge it (remove it by hand on a CI machine)"
    echo "purging what an earlier run left"
    remove_everything
else
    echo "none"
fi

# The example configuration's address must be free; checked again below with the
# installed configuration, but failing here saves the build.
example_listen=$(sed -nE 's/^listen *= *"([^"]+)".*/\1/p' packaging/nextpanel-bill.toml | head -n1)
if [ -n "$example_listen" ] && [ -n "$(ss -Hltn "sport = :${example_listen##*:}")" ]; then
    ss -ltnp "sport = :${example_listen##*:}" >&2 || true
    fail "port ${example_listen##*:} (listen = \"$example_listen\" in packaging/nextpanel-bill.toml) is already taken; stop what listens there and run again"
fi

echo "==> cargo-deb"
started=$SECONDS
if ! cargo deb --version >/dev/null 2>&1; then
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
    echo "installed cargo-deb in $((SECONDS - started)) s"
fi
cargo deb --version

echo "==> package: build (packaging/build-deb.sh)"
started=$SECONDS
deb=$(bash packaging/build-deb.sh | tail -n1)
[ -f "$deb" ] || fail "build-deb.sh printed no package path"
echo "built $deb in $((SECONDS - started)) s"
dpkg-deb --field "$deb" Package Version Architecture Depends
dpkg-deb --contents "$deb"

echo "==> package: install"
touch "$MARKER"
if ! dpkg --force-confnew -i "$deb"; then
    echo "installing the missing dependencies"
    apt-get update -qq
    apt-get install -y -f -qq
fi
[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$PKG")" = "ii " ] || fail "$PKG is not installed and configured"

echo "==> package: files"
unit=$(dpkg -L "$PKG" | grep -E "/systemd/system/$SERVICE\.service$" | head -n1)
[ -n "$unit" ] || fail "the package has no systemd unit"
for f in /usr/bin/nextpanel-bill "$unit" /lib/systemd/system/$SERVICE.service "$CONFIG" \
    /usr/share/doc/nextpanel-bill/examples/nextpanel-bill.toml \
    /usr/share/bash-completion/completions/nextpanel-bill \
    /usr/share/zsh/vendor-completions/_nextpanel-bill \
    /usr/share/fish/vendor_completions.d/nextpanel-bill.fish; do
    [ -s "$f" ] || fail "$f is missing or empty"
    echo "ok  $f"
done
dpkg-query -W -f='${Conffiles}\n' "$PKG" | grep -q " $CONFIG " || fail "$CONFIG is not a conffile"
[ "$(stat -c '%U:%G %a' "$CONFIG")" = "root:$SVC_USER 640" ] ||
    fail "$CONFIG is $(stat -c '%U:%G %a' "$CONFIG"), expected root:$SVC_USER 640"
bash -c 'source /usr/share/bash-completion/completions/nextpanel-bill && complete -p nextpanel-bill' >/dev/null ||
    fail "the bash completion does not load"
if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify "$unit"
    echo "ok  systemd-analyze verify $unit"
fi

echo "==> package: user and state directory"
getent passwd "$SVC_USER" || fail "no $SVC_USER user"
[ "$(getent passwd "$SVC_USER" | cut -d: -f6)" = "$STATE_DIR" ] || fail "$SVC_USER's home is not $STATE_DIR"
[ "$(getent passwd "$SVC_USER" | cut -d: -f7)" = /usr/sbin/nologin ] || fail "$SVC_USER may log in"
[ "$(stat -c '%U:%G %a' "$STATE_DIR")" = "$SVC_USER:$SVC_USER 750" ] ||
    fail "$STATE_DIR is $(stat -c '%U:%G %a' "$STATE_DIR"), expected $SVC_USER:$SVC_USER 750"

# How the unit runs the service, read from the installed unit (one value per line;
# Environment= words are split on blanks, quotes are not interpreted).
unit_values() { sed -n "s/^$1=//p" "$unit"; }
workdir=$(unit_values WorkingDirectory | tail -n1)
unit_user=$(unit_values User | tail -n1)
unit_umask=$(unit_values UMask | tail -n1)
read -r -a exec_start <<<"$(unit_values ExecStart | tail -n1)"
[ "$unit_user" = "$SVC_USER" ] || fail "the unit runs as '$unit_user', not $SVC_USER"
[ -n "$workdir" ] && [ "${#exec_start[@]}" -gt 0 ] || fail "the unit has no WorkingDirectory or ExecStart"
service_env=(
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    HOME="$(getent passwd "$SVC_USER" | cut -d: -f6)"
    USER="$SVC_USER" LOGNAME="$SVC_USER" SHELL=/usr/sbin/nologin
)
unit_env=()
file_env_keys=()
while IFS= read -r line; do
    read -r -a words <<<"$line"
    unit_env+=("${words[@]}")
done < <(unit_values Environment)
service_env+=("${unit_env[@]}")
while IFS= read -r file; do
    file=${file#-}
    [ -r "$file" ] || continue
    while IFS= read -r line; do
        case "$line" in '' | '#'* | ';'*) continue ;; esac
        value=${line#*=}
        value=${value#\"}
        value=${value%\"}
        service_env+=("${line%%=*}=$value")
        file_env_keys+=("${line%%=*}")
    done <"$file"
done < <(unit_values EnvironmentFile)
echo "unit: user $unit_user, directory $workdir, umask ${unit_umask:-default}, command ${exec_start[*]}"
echo "unit environment: ${unit_env[*]:-none}; from EnvironmentFile: ${file_env_keys[*]:-none}"

# Runs a command as systemd would run the unit's (without its sandbox). It changes
# directory and umask, then execs: call it only in a subshell, as $(as_service ...) or
# as_service ... & (then $! is the service's own pid).
as_service() {
    cd "$workdir"
    [ -z "$unit_umask" ] || umask "$unit_umask"
    exec setpriv --reuid="$SVC_USER" --regid="$SVC_USER" --init-groups --no-new-privs \
        --inh-caps=-all --bounding-set=-all env -i "${service_env[@]}" "$@"
}

echo "==> effective configuration (nextpanel-bill config, as $SVC_USER)"
effective=$(as_service "${exec_start[0]}" config)
listen=$(sed -nE 's/^listen *= *"([^"]+)".*/\1/p' <<<"$effective" | head -n1)
[ -n "$listen" ] || listen=$(sed -nE 's/^listen *= *"([^"]+)".*/\1/p' "$CONFIG" | head -n1)
[ -n "$listen" ] || fail "cannot tell the listen address from 'nextpanel-bill config' or $CONFIG"
port=${listen##*:}
host=${listen%:*}
case "$host" in 0.0.0.0 | '[::]' | '') host=127.0.0.1 ;; esac
echo "listen = $listen"
if [ -n "$(ss -Hltn "sport = :$port")" ]; then
    ss -ltnp "sport = :$port" >&2 || true
    fail "port $port (listen = \"$listen\" in $CONFIG) is already taken; stop what listens there and run again"
fi

echo "==> start the service"
if systemd_running; then
    since=$(date '+%Y-%m-%d %H:%M:%S')
    systemctl daemon-reload
    systemctl start "$SERVICE"
    service_log() { journalctl -u "$SERVICE" --since "$since" --no-pager -o cat; }
else
    server_log=$(mktemp /tmp/nextpanel-bill-ci-serve.XXXXXX.log)
    chmod 0600 "$server_log"
    echo "systemd is not running (PID 1 is $(ps -p 1 -o comm=)): running '${exec_start[*]}' as $SVC_USER in $workdir, log $server_log"
    as_service "${exec_start[@]}" >"$server_log" 2>&1 </dev/null &
    server_pid=$!
    echo "$server_pid" >"$MARKER"
    service_log() { cat "$server_log"; }
fi

echo "==> GET http://$host:$port/ready (up to 60 s)"
answer=""
for _ in $(seq 1 60); do
    if answer=$(curl -fsS --max-time 2 "http://$host:$port/ready" 2>/dev/null); then
        break
    fi
    answer=""
    if [ -n "$server_pid" ]; then
        kill -0 "$server_pid" 2>/dev/null || fail "the service exited before it was ready"
    elif systemctl is-failed --quiet "$SERVICE"; then
        fail "the unit failed before it was ready"
    fi
    sleep 1
done
[ -n "$answer" ] || fail "http://$host:$port/ready did not answer 2xx within 60 s"
echo "$answer"
if [ -n "$server_pid" ]; then
    [ "$(ps -o uid=,comm= -p "$server_pid" | awk '{print $1, $2}')" = "$(id -u "$SVC_USER") nextpanel-bill" ] ||
        fail "process $server_pid is not nextpanel-bill running as $SVC_USER: $(ps -o user=,args= -p "$server_pid")"
fi

echo "==> first admin's password in the log"
log_text=$(service_log)
grep -q 'created the first admin account' <<<"$log_text" || fail "the log does not say the first admin was created"
grep -qE '^ *password: [^ ]{10,}$' <<<"$log_text" || fail "the log has no generated admin password"
grep -E '^ *(email|password):' <<<"$log_text" | sed -E 's/(password: ).*/\1(hidden)/'

echo "==> state directory"
ls -la "$STATE_DIR"
for f in "$STATE_DIR/nextpanel-bill.db" "$STATE_DIR/nextpanel-bill.key"; do
    [ -s "$f" ] || fail "$f was not created"
    [ "$(stat -c '%U:%G %a' "$f")" = "$SVC_USER:$SVC_USER 600" ] ||
        fail "$f is $(stat -c '%U:%G %a' "$f"), expected $SVC_USER:$SVC_USER 600"
    echo "ok  $f $(stat -c '%U:%G %a' "$f")"
done

echo "==> stop the service"
if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid"
    for _ in $(seq 1 30); do
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 1
    done
    kill -0 "$server_pid" 2>/dev/null && fail "the service did not stop within 30 s of SIGTERM"
    if wait "$server_pid"; then status=0; else status=$?; fi
    server_pid=""
    [ "$status" = 0 ] || fail "the service exited with status $status on SIGTERM"
else
    systemctl stop "$SERVICE"
    ! systemctl is-failed --quiet "$SERVICE" || fail "the unit failed when stopped"
fi
echo "stopped cleanly"

echo "==> purge the package, its state directory and its user"
remove_everything
! package_present || fail "$PKG is still installed"
[ ! -e /usr/bin/nextpanel-bill ] && [ ! -e "$unit" ] && [ ! -e "$CONFIG" ] ||
    fail "files are left after the purge"
[ -z "$server_log" ] || rm -f "$server_log"
finished=true
echo "==> Debian package: OK"
