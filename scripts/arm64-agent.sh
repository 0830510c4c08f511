#!/usr/bin/env bash
# The prunefront agent in an arm64 Debian root on this machine (emulated by qemu-user where the
# host is not arm64): what a Jetson or a Raspberry Pi runs, without one. Speed under emulation
# means nothing; function does (the agent's own requirements, aarch64 wheels, no torch).
#
#   scripts/arm64-agent.sh check                   can this machine run arm64 binaries? (exit 3: no,
#                                                  and why)
#   scripts/arm64-agent.sh prepare DIR             build DIR/root once (cached; needs root, network)
#   scripts/arm64-agent.sh run DIR [AGENT OPTIONS] serve in the foreground (for tests and scripts)
#   scripts/arm64-agent.sh start DIR [OPTIONS]     serve in the background, print "listening on ..."
#   scripts/arm64-agent.sh stop DIR                stop the agent that `start` started
#   scripts/arm64-agent.sh exec DIR COMMAND...     run a command in the root (its venv first on PATH)
#
# The root holds Debian's python3 (3.11 in bookworm) and a venv at /opt/prunefront with only
# requirements-agent.txt installed (numpy, onnxruntime). This checkout's `prunefront` package is
# bind-mounted read-only into it when the agent starts, so the code served is the code here and
# a code change never invalidates the cache. Agent options are `python -m prunefront.agent`'s;
# defaults: --host 127.0.0.1 --port 0 and the token in DIR/root/var/lib/prunefront/agent-token.
# `--sensor-root HOST_DIR` bind-mounts a fake sysfs tree (read-only) and points the agent at it;
# without it the root has no /sys, so energy is unavailable with the reason. Mounts live in a
# private mount namespace and vanish with the agent.
set -euo pipefail

SUITE=${ARM64_SUITE:-bookworm}
MIRROR=${ARM64_MIRROR:-http://deb.debian.org/debian}
HERE=$(cd "$(dirname "$0")/.." && pwd)
REQUIREMENTS="$HERE/requirements-agent.txt"
VENV=/opt/prunefront
SRC=/opt/prunefront-src
SENSORS=/opt/prunefront-sensors
# Where the kernel's binfmt handlers are, and this machine's architecture (tests override both).
BINFMT=${ARM64_BINFMT_MISC:-/proc/sys/fs/binfmt_misc}
MACHINE=${ARM64_HOST_MACHINE:-$(uname -m)}

die() { echo "arm64-agent: $*" >&2; exit 2; }

# Why this machine cannot run arm64 binaries, or nothing (exit 0) when it can.
why_not_arm64() {
  case $MACHINE in aarch64|arm64) return 0 ;; esac
  local handler=$BINFMT/qemu-aarch64
  if [ ! -e "$BINFMT/status" ]; then
    echo "binfmt_misc is not mounted at $BINFMT (mount -t binfmt_misc binfmt_misc $BINFMT)"
  elif [ ! -e "$handler" ]; then
    echo "no qemu-aarch64 binfmt handler registered (apt-get install qemu-user-static binfmt-support)"
  elif ! grep -qx enabled "$handler"; then
    echo "the qemu-aarch64 binfmt handler is disabled (update-binfmts --enable qemu-aarch64)"
  elif ! grep -q '^flags:.*F' "$handler"; then
    echo "the qemu-aarch64 binfmt handler lacks the F flag, so it cannot run inside a chroot (use Debian's qemu-user-static)"
  else
    return 0
  fi
  return 3
}

# Register qemu's handler when we may (root, packages installed) and it is not there yet.
enable_binfmt() {
  [ "$(id -u)" = 0 ] || return 0
  [ "$BINFMT" = /proc/sys/fs/binfmt_misc ] || return 0
  if [ ! -e "$BINFMT/status" ]; then
    mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null || true
  fi
  if command -v update-binfmts >/dev/null && [ ! -e "$BINFMT/qemu-aarch64" ]; then
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  fi
}

need_root() { [ "$(id -u)" = 0 ] || die "$command needs root (debootstrap, chroot and mounts): sudo $0 $command ..."; }

stamp_of() {  # what the cached root was built from; a change rebuilds the venv
  { echo "$SUITE $MIRROR"; cat "$REQUIREMENTS"; } | sha256sum | cut -d' ' -f1
}

prepare() {
  local dir=$1 root=$1/root
  need_root
  enable_binfmt
  local why; why=$(why_not_arm64) || die "cannot run arm64 binaries: $why"
  local stamp; stamp=$(stamp_of)
  if [ -f "$root/.prunefront-agent" ] && [ "$(cat "$root/.prunefront-agent")" = "$stamp" ]; then
    echo "arm64 root ready (cached): $root"
    return 0
  fi
  mkdir -p "$dir"
  if [ ! -f "$dir/debootstrap.done" ]; then  # an interrupted debootstrap starts again
    command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
    rm -rf "$root"
    echo "debootstrap $SUITE arm64 into $root (several minutes under emulation)" >&2
    debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv \
      "$SUITE" "$root" "$MIRROR" >"$dir/debootstrap.log" 2>&1 \
      || { tail -20 "$dir/debootstrap.log" >&2; die "debootstrap failed (log: $dir/debootstrap.log)"; }
    touch "$dir/debootstrap.done"
  fi
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # pip inside the root trusts what pip here trusts (a TLS-inspecting proxy's CA included).
  local cert=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
  local certopt=()
  if [ -f "$cert" ]; then
    cp "$cert" "$root/etc/prunefront-host-ca.crt"
    certopt=(--cert /etc/prunefront-host-ca.crt)
  fi
  cp "$REQUIREMENTS" "$root/tmp/requirements-agent.txt"
  echo "installing requirements-agent.txt into $VENV inside the root (aarch64 wheels)" >&2
  rm -rf "${root:?}$VENV"
  chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root PIP_CONFIG_FILE=/dev/null \
    /bin/sh -c "python3 -m venv $VENV && $VENV/bin/pip install -q --disable-pip-version-check ${certopt[*]} -r /tmp/requirements-agent.txt" \
    || die "installing the agent's requirements in the root failed"
  echo "$stamp" >"$root/.prunefront-agent"
  echo "arm64 root ready: $root"
}

# Exec "$@" inside the root at $1, in a private mount namespace that dies with it: /proc, this
# checkout's package (read-only) and, when $SENSOR_DIR is set, a fake sysfs tree (read-only).
# No /sys: no host sensor leaks in. ONNX Runtime's cpuinfo then warns that it cannot read the
# CPU lists (harmless; giving it the host's x86 lists under emulation makes it crash).
in_root() {
  local dir=$1; shift
  local root=$dir/root
  need_root
  enable_binfmt
  local why; why=$(why_not_arm64) || die "cannot run arm64 binaries: $why"
  [ -f "$root/.prunefront-agent" ] || die "no prepared root in $dir (run: $0 prepare $dir)"
  [ "$(cat "$root/.prunefront-agent")" = "$(stamp_of)" ] \
    || die "the root in $dir was prepared for another requirements-agent.txt (run: $0 prepare $dir)"
  mkdir -p "$root$SRC/prunefront" "$root$SENSORS" "$root/proc" "$root/var/lib/prunefront"
  local sensor_mount=":"
  if [ -n "${SENSOR_DIR:-}" ]; then
    sensor_mount="mount --bind '$SENSOR_DIR' '$root$SENSORS' && mount -o remount,bind,ro '$root$SENSORS'"
  fi
  exec unshare --mount --propagation private --fork --kill-child=SIGTERM /bin/sh -c "
    mount -t proc proc '$root/proc' &&
    mount --bind '$HERE/prunefront' '$root$SRC/prunefront' &&
    mount -o remount,bind,ro '$root$SRC/prunefront' &&
    $sensor_mount &&
    exec chroot '$root' /usr/bin/env -i PATH=$VENV/bin:/usr/bin:/bin HOME=/root \
      PYTHONPATH=$SRC PYTHONDONTWRITEBYTECODE=1 "'"$@"' sh "$@"
}

# Serve the agent in the foreground inside the root.
run() {
  local dir=$1; shift
  local args=() token=/var/lib/prunefront/agent-token host=127.0.0.1 port=0
  SENSOR_DIR=""
  while [ $# -gt 0 ]; do
    case $1 in
      --sensor-root) SENSOR_DIR=$(cd "$2" && pwd); shift 2 ;;
      --token-file) token=$2; shift 2 ;;
      --host) host=$2; shift 2 ;;
      --port) port=$2; shift 2 ;;
      *) args+=("$1"); shift ;;
    esac
  done
  [ -z "$SENSOR_DIR" ] || args+=(--sensor-root "$SENSORS")
  in_root "$dir" python -m prunefront.agent --host "$host" --port "$port" \
    --token-file "$token" ${args[@]+"${args[@]}"}
}

start() {
  local dir=$1; shift
  local out=$dir/agent.out log=$dir/agent.log
  [ ! -f "$dir/agent.pid" ] || ! kill -0 "$(cat "$dir/agent.pid")" 2>/dev/null \
    || die "an agent is already running (pid $(cat "$dir/agent.pid")): $0 stop $dir"
  : >"$out"
  setsid "$0" run "$dir" "$@" >"$out" 2>"$log" &
  echo $! >"$dir/agent.pid"
  for _ in $(seq 600); do  # the first start under emulation takes a few seconds
    if grep -q '^listening on' "$out"; then
      cat "$out"
      echo "token: $dir/root/var/lib/prunefront/agent-token; log: $log" >&2
      return 0
    fi
    kill -0 "$(cat "$dir/agent.pid")" 2>/dev/null || { cat "$log" >&2; die "the agent exited"; }
    sleep 0.2
  done
  stop "$dir"; die "the agent did not listen within 120 s (log: $log)"
}

stop() {
  local dir=$1 pid
  [ -f "$dir/agent.pid" ] || die "no agent started from $dir"
  pid=$(cat "$dir/agent.pid")
  kill -TERM -- "-$pid" 2>/dev/null || true  # its process group: unshare, sh and the agent
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  rm -f "$dir/agent.pid"
  echo "stopped"
}

command=${1:-}
case $command in
  check)
    why=$(why_not_arm64) || { echo "$why"; exit 3; }
    # As root, also what serving needs: a private mount namespace (a container may forbid it).
    if [ "$(id -u)" = 0 ] && ! err=$(unshare --mount --propagation private true 2>&1); then
      echo "cannot create a mount namespace for the chroot ($err): a container without CAP_SYS_ADMIN?"
      exit 3
    fi
    echo "arm64 binaries run here ($MACHINE)" ;;
  exec)
    [ $# -ge 3 ] || die "usage: $0 exec DIR COMMAND [ARGS]"
    dir=$(cd "$2" 2>/dev/null && pwd) || die "no folder $2 (prepare it first: $0 prepare $2)"
    shift 2
    in_root "$dir" "$@" ;;
  prepare|run|start|stop)
    [ $# -ge 2 ] || die "usage: $0 $command DIR"
    dir=$(mkdir -p "$2" && cd "$2" && pwd); shift 2
    "$command" "$dir" "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 2 ;;
esac
