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

# Headless chromium (Debian's package): the report test renders report.html and screenshots it (skipped without it).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null \
      || echo "setup: could not install chromium; the report's screenshot test will be skipped" >&2
  else
    echo "setup: chromium missing (not root or no apt-get); the report's screenshot test will be skipped" >&2
  fi
fi

# PyTorch: the pinned pair lies on this project's machines' disk; elsewhere pip downloads it.
if ! "$PY" -c "import torch, torchvision" >/dev/null 2>&1; then
  "$PY" -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
fi
"$PY" -m pip install -q -e ".[test]"

# Label Studio server (for the labelstudio integration tests and for labeling by hand): its many
# pinned dependencies live in their own virtualenv, never in the project's environment.
LS_VERSION=1.23.2
LS_VENV=${ACTIVEKD_LABEL_STUDIO_VENV:-$HOME/.cache/activekd/label-studio-venv}
if ! "$LS_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('label-studio') != '$LS_VERSION')" >/dev/null 2>&1; then
  echo "setup: installing label-studio==$LS_VERSION into $LS_VENV (about 2 minutes)" >&2
  { "$PY" -m venv "$LS_VENV" && "$LS_VENV/bin/python" -m pip install -q "label-studio==$LS_VERSION"; } \
    || echo "setup: could not install label-studio into $LS_VENV; the Label Studio tests will fail until it is" >&2
fi
