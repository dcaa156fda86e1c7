#!/usr/bin/env bash
# Print "y" if variable VAR was given on the make command line or in the
# environment (make exports command-line variables to its recipes), else "n".
set -euo pipefail

if [ $# -ne 1 ] || [[ ! $1 =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
	echo "usage: $(basename "$0") VAR   (prints y if VAR is set, else n)" >&2
	exit 2
fi

if [ -n "${!1:-}" ]; then
	echo y
else
	echo n
fi
