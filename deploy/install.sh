#!/usr/bin/env bash
# deploy/install.sh: the one way incident-bot is installed, by the images and by CI alike.
#
#   deploy/install.sh VENV_DIR bot      # the bot: `pip install .` (no torch)
#   deploy/install.sh VENV_DIR worker   # the model worker: `pip install '.[worker]'` (CPU torch)
#
# It creates a fresh virtual environment at VENV_DIR with $PYTHON (default python3), installs the
# package from this checkout into it, and checks the result: `incident-bot --help` runs, the bot has
# no torch (DESIGN.md: the bot process never imports it), and the worker's torch is the CPU build.
# deploy/bot.Dockerfile and deploy/worker.Dockerfile RUN this script, and so does CI, so an image
# and a CI run install the same way.
#
# pip reads its options from the environment, so the package index is the caller's choice: the
# worker image sets PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu, where CPU-only torch
# wheels live (torch from PyPI alone pulls gigabytes of CUDA libraries). Set ALLOW_CUDA_TORCH=1 to
# accept a CUDA build of torch on purpose.
set -euo pipefail

usage() {
    echo "usage: $0 VENV_DIR bot|worker" >&2
    exit 2
}

[ "$#" -eq 2 ] || usage
venv=$1
role=$2
case "$role" in
    bot) extras="" ;;
    worker) extras="[worker]" ;;
    *) usage ;;
esac

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --no-cache-dir --disable-pip-version-check "${source_dir}${extras}"

# The console script resolves and its parser builds.
"$venv/bin/incident-bot" --help >/dev/null

case "$role" in
    bot)
        if "$venv/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)'; then
            echo "$0: torch is installed in the bot's environment; it belongs to the worker extra only" >&2
            exit 1
        fi
        ;;
    worker)
        cuda=$("$venv/bin/python" -c 'import torch; print(torch.version.cuda or "")')
        if [ -n "$cuda" ] && [ "${ALLOW_CUDA_TORCH:-0}" != 1 ]; then
            echo "$0: torch was installed with CUDA $cuda; point PIP_EXTRA_INDEX_URL at the CPU wheels" \
                "(https://download.pytorch.org/whl/cpu) or set ALLOW_CUDA_TORCH=1" >&2
            exit 1
        fi
        ;;
esac

echo "installed incident-bot ($role) into $venv"
