#!/usr/bin/env bash
# Generates the Python gRPC stubs (and mypy-protobuf .pyi type stubs) for protos/*.proto.
#
#   scripts/gen_protos.sh [OUT_DIR]
#
# OUT_DIR defaults to the repository root, which writes the committed stubs into protos/.
# (profiles/tests/test_protos.py generates into a temporary OUT_DIR and compares.)
# The proto path is the repository root, so the generated modules import each other as
# `from protos import userprofile_pb2`: no relative-import fix-up is needed.
#
# Environment: HELIOS_PYTHON (default $REPO/.venv/bin/python) must have grpcio-tools and
# mypy-protobuf (their protoc-gen-mypy plugins are looked up next to that interpreter).
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
PYTHON=${HELIOS_PYTHON:-$REPO/.venv/bin/python}
OUT_DIR=${1:-$REPO}

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd -- "$OUT_DIR" && pwd -P)
# protoc finds the protoc-gen-mypy / protoc-gen-mypy_grpc plugins on PATH.
PATH="$(dirname -- "$PYTHON"):$PATH"
export PATH

cd "$REPO"
shopt -s nullglob
protos=(protos/*.proto)
if [ ${#protos[@]} -eq 0 ]; then
  echo "gen_protos: no protos/*.proto found" >&2
  exit 1
fi

"$PYTHON" -m grpc_tools.protoc \
  --proto_path=. \
  --python_out="$OUT_DIR" \
  --grpc_python_out="$OUT_DIR" \
  --mypy_out="$OUT_DIR" \
  --mypy_grpc_out="$OUT_DIR" \
  "${protos[@]}"

echo "gen_protos: generated stubs for ${protos[*]} into $OUT_DIR/protos" >&2
