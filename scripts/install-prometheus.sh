#!/usr/bin/env bash
# Install Prometheus and promtool into ./.tools, from Debian's `prometheus` package:
# the alert rules' unit tests (promtool test rules) and the real-Prometheus
# integration test need them.
#
# The package is downloaded and unpacked (apt-get download + dpkg-deb -x), not
# installed: `apt-get install prometheus` would add a system user and start a
# server on :9090 from its init script, on a machine the tests share. Needs apt-get
# and dpkg-deb (Debian, Ubuntu); `apt-get update` runs first when the package is
# unknown to apt's lists (as root).
#
# Idempotent: if ./.tools/promtool and ./.tools/prometheus already report a version,
# nothing is done. Usage: scripts/install-prometheus.sh [DEST_DIR]  (default: <repo>/.tools)
set -euo pipefail

PACKAGE="prometheus"
EXPECTED="2."

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${1:-$ROOT/.tools}"

die() {
  echo "install-prometheus: $*" >&2
  exit 1
}

version_of() {
  "$1" --version 2>/dev/null | sed -n '1s/^[a-z]*, version \([^ ]*\).*/\1/p' || true
}

if [ -x "$DEST/promtool" ] && [ -x "$DEST/prometheus" ]; then
  have="$(version_of "$DEST/promtool")"
  if [[ "$have" == "$EXPECTED"* ]] && [[ "$(version_of "$DEST/prometheus")" == "$have" ]]; then
    echo "install-prometheus: $DEST/promtool and $DEST/prometheus are already $have"
    exit 0
  fi
  echo "install-prometheus: $DEST reports '${have:-nothing}', reinstalling"
fi

command -v apt-get >/dev/null 2>&1 || die "apt-get is required (Debian's $PACKAGE package); not a Debian-based system"
command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb is required to unpack the $PACKAGE package"

candidate() {
  apt-cache policy "$PACKAGE" 2>/dev/null | sed -n 's/^ *Candidate: *//p'
}
cand="$(candidate)"
if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
  [ "$(id -u)" = 0 ] || die "apt knows no $PACKAGE package and 'apt-get update' needs root; run it once as root"
  echo "install-prometheus: apt knows no $PACKAGE package yet: apt-get update"
  apt-get update -qq || die "apt-get update failed"
  cand="$(candidate)"
  { [ -n "$cand" ] && [ "$cand" != "(none)" ]; } || die "apt has no $PACKAGE package after apt-get update"
fi

mkdir -p "$DEST"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/install-prometheus.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# apt's download sandbox user must be able to write the folder
chmod 0777 "$WORK"

echo "install-prometheus: fetching $PACKAGE $cand from the Debian archive"
(cd "$WORK" && apt-get download -qq "$PACKAGE=$cand" >"$WORK/apt.log" 2>&1) ||
  die "apt-get download $PACKAGE=$cand failed: $(cat "$WORK/apt.log")"
deb="$(ls "$WORK"/"$PACKAGE"_*.deb 2>/dev/null | head -n 1)"
[ -n "$deb" ] || die "apt-get download produced no .deb: $(cat "$WORK/apt.log")"

dpkg-deb -x "$deb" "$WORK/root" || die "could not unpack $deb"
for tool in prometheus promtool; do
  [ -x "$WORK/root/usr/bin/$tool" ] || die "$deb has no usr/bin/$tool"
  got="$(version_of "$WORK/root/usr/bin/$tool")"
  [[ "$got" == "$EXPECTED"* ]] || die "the unpacked $tool reports '${got:-nothing}', expected ${EXPECTED}x"
  mv -f "$WORK/root/usr/bin/$tool" "$DEST/$tool"
done
echo "install-prometheus: installed prometheus and promtool $got in $DEST"
