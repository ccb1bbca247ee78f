#!/usr/bin/env bash
# Installs what activekd needs into the current Python environment.
#   bash scripts/setup.sh          the demo and the library: Fashion-MNIST, PyTorch, activekd
#   bash scripts/setup.sh --test   also the test suite's real components: every extra, headless
#                                  chromium and a Label Studio server in its own virtualenv
# Idempotent: a second run only checks. Used by the README's two commands and by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WITH_TESTS=0
for arg in "$@"; do
  case "$arg" in
    --test) WITH_TESTS=1 ;;
    *) echo "setup: unknown option $arg (use --test for the test suite's components)" >&2; exit 2 ;;
  esac
done

apt_install() {  # apt_install PACKAGE WHAT-FAILS-WITHOUT-IT
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >/dev/null || true; APT_UPDATED=1; fi
    apt-get install -y -qq "$1" >/dev/null || echo "setup: could not install $1; $2" >&2
  else
    echo "setup: $1 missing (not root or no apt-get); $2" >&2
  fi
}

# Fashion-MNIST for the offline demo and the end-to-end tests (Debian package; skipped if present).
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  apt_install dataset-fashion-mnist "pass --data-root or go online"
fi

# PyTorch: the pinned pair lies on this project's machines' disk; elsewhere pip downloads it.
if ! "$PY" -c "import torch, torchvision" >/dev/null 2>&1; then
  "$PY" -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
fi

if [ "$WITH_TESTS" = 0 ]; then
  "$PY" -m pip install -q -e .
  exit 0
fi
"$PY" -m pip install -q -e ".[test]"

# Headless chromium (Debian's package): the report test renders report.html and screenshots it (skipped without it).
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium "the report's screenshot test will be skipped"
fi

# Label Studio server (for the labelstudio integration tests and for labeling by hand): its many
# pinned dependencies live in their own virtualenv, never in the project's environment.
LS_VERSION=1.23.2
LS_VENV=${ACTIVEKD_LABEL_STUDIO_VENV:-$HOME/.cache/activekd/label-studio-venv}
if ! "$LS_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('label-studio') != '$LS_VERSION')" >/dev/null 2>&1; then
  echo "setup: installing label-studio==$LS_VERSION into $LS_VENV (about 2 minutes)" >&2
  { "$PY" -m venv "$LS_VENV" && "$LS_VENV/bin/python" -m pip install -q "label-studio==$LS_VERSION" "sentry-sdk>=2,<3"; } \
    || echo "setup: could not install label-studio into $LS_VENV; the Label Studio tests will fail until it is" >&2
fi
