# shellcheck shell=bash
# Shared set-up for the make-*-captures.sh scripts: two network namespaces joined by a veth
# pair, processes started in their own sessions and stopped by PID, everything removed on
# exit. Source it, then call ns_pair. Not run by CI.
#
#   NSC=fsxc NSS=fsxs CIP=10.X.0.1 SIP=10.X.0.2 DEVC=fx-c DEVS=fx-s
#   source "$HERE/netns.sh"
#   ns_need tcpdump:tcpdump ethtool:ethtool ...   # command:package, installed when missing
#   ns_pair                                        # namespaces, veth (offloads off), addresses
#   start NAME CMD...                              # background, own session, log in $WORK
#   C CMD... / S CMD...                            # run in the client / server namespace
#   wait_listen PORT [tcp|udp]                     # until something listens in the server's
#   stop_capture PID                               # SIGINT a tcpdump and wait for it
# Nothing is sent outside the two namespaces.

log() { printf '== %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root: sudo bash $0"

ns_need() {  # ns_need cmd:package...
  local need=() p
  for p in "$@"; do
    command -v "${p%%:*}" >/dev/null || [[ -x /usr/sbin/${p%%:*} ]] || need+=("${p#*:}")
  done
  if ((${#need[@]})); then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
  fi
}

PIDS=()
WORK=$(mktemp -d /tmp/fs-capture.XXXXXX)
chmod 755 "$WORK"
ns_cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  # Whatever still runs in the namespaces: servers that daemonise out of the process group
  # they were started in (Postfix's master, for one).
  local ns left
  for ns in "$NSC" "$NSS"; do
    left=$(ip netns pids "$ns" 2>/dev/null) || continue
    [[ -n $left ]] || continue
    # shellcheck disable=SC2086  # $left is a list of PIDs
    kill -TERM $left 2>/dev/null || true
    sleep 0.5
    left=$(ip netns pids "$ns" 2>/dev/null) || continue
    # shellcheck disable=SC2086
    [[ -z $left ]] || kill -KILL $left 2>/dev/null || true
  done
  ip netns del "$NSC" 2>/dev/null || true
  ip netns del "$NSS" 2>/dev/null || true
  # A script's own clean-up (users, /etc/netns files), when it defines one.
  if declare -F ns_extra_cleanup >/dev/null; then ns_extra_cleanup; fi
  [[ -n ${KEEP_WORK:-} ]] || rm -rf "$WORK"  # KEEP_WORK=1: keep the servers' logs and files
}
trap ns_cleanup EXIT
trap 'exit 130' INT TERM

start() {  # start NAME CMD...: own session, PID remembered (last one in $LAST_PID)
  local name=$1; shift
  setsid "$@" >"$WORK/$name.log" 2>&1 </dev/null &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}
C() { ip netns exec "$NSC" "$@"; }
S() { ip netns exec "$NSS" "$@"; }
wait_listen() {  # wait_listen PORT [tcp|udp]
  local flag=-Hlnt
  [[ ${2:-tcp} == udp ]] && flag=-Hlnu
  for _ in $(seq 1 100); do
    [[ -n $(S ss "$flag" "sport = :$1") ]] && return 0
    sleep 0.1
  done
  die "nothing listens on $1"
}
stop_capture() {  # stop_capture PID: tcpdump writes its last packets on SIGINT
  kill -INT -- "-$1" 2>/dev/null || true
  for _ in $(seq 1 50); do [[ -e /proc/$1 ]] || break; sleep 0.1; done
}

# nginx.conf pieces whose files stay in $WORK: the main context with events, and (inside
# http {}) the temporary paths. Used as $(nginx_main) and $(nginx_temp_paths) in a heredoc.
nginx_main() {
  printf 'worker_processes 1;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/nginx-error.log;\nevents { worker_connections 64; }\n' "$WORK" "$WORK"
}
nginx_temp_paths() {
  mkdir -p "$WORK/tmp"
  local t
  for t in client_body proxy fastcgi uwsgi scgi; do printf '  %s_temp_path %s/tmp/%s;\n' "$t" "$WORK" "${t%_body}"; done
}

# Golden TSV files, read by tests/integration/records.py (check_golden_tsv): gold_start
# CAPTURE SCRIPT opens $GOLD in $WORK with its header; gold KEY MSGID FIELD VALUE appends a
# line; iana NAME spells OpenSSL's cipher NAME as IANA does.
gold_start() {
  GOLD=$WORK/golden.tsv
  {
    printf '# Golden fields of %s (%s).\n' "$1" "$2"
    printf '# key (server port#n-th connection[/certificate position])\tmsgid\tfield\tvalue\n'
    printf '# msgid "session": the session record; "tls": "absent" when no tls record may exist.\n'
  } >"$GOLD"
}
gold() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$GOLD"; }
iana() { openssl ciphers -stdname "$1" | awk -v n="$1" '$3 == n {print $1; exit}'; }

ns_pair() {
  ip netns del "$NSC" 2>/dev/null || true
  ip netns del "$NSS" 2>/dev/null || true
  ip netns add "$NSC"
  ip netns add "$NSS"
  ip -n "$NSC" link set lo up
  ip -n "$NSS" link set lo up
  ip link add "$DEVC" netns "$NSC" type veth peer name "$DEVS" netns "$NSS"
  C ethtool -K "$DEVC" tx off rx off tso off gso off gro off >/dev/null
  S ethtool -K "$DEVS" tx off rx off tso off gso off gro off >/dev/null
  ip -n "$NSC" addr add "$CIP/24" dev "$DEVC"
  ip -n "$NSS" addr add "$SIP/24" dev "$DEVS"
  ip -n "$NSC" link set "$DEVC" up
  ip -n "$NSS" link set "$DEVS" up
}
