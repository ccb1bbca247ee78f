#!/usr/bin/env bash
# Installs everything activekd and its tests need into the current Python environment.
# Idempotent: a second run only checks. Used by the README's two commands and by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# Fashion-MNIST for the offline demo and the end-to-end tests (Debian package; skipped if present).
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null \
      || echo "setup: could not install dataset-fashion-mnist; pass --data-root or go online" >&2
  else
    echo "setup: not root; install dataset-fashion-mnist yourself or pass --data-root" >&2
  fi
fi

# PyTorch: the pinned pair lies on this project's machines' disk; elsewhere pip downloads it.
if ! "$PY" -c "import torch, torchvision" >/dev/null 2>&1; then
  "$PY" -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
fi
"$PY" -m pip install -q -e ".[test]"
