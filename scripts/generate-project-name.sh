#!/usr/bin/env bash
# Print a stable tracker project name: MODEL-xxxxx, where xxxxx are the first
# five hex digits of the MD5 of "<short host>-<first IPv4, dots as dashes>-<dir>".
# Same algorithm as kconf/projectname.py (a test checks they agree).
set -euo pipefail

usage() {
	echo "usage: $(basename "$0") MODEL [ignored...]" >&2
	echo "  prints MODEL-xxxxx for this machine and the current directory" >&2
	exit 2
}

[ $# -ge 1 ] || usage
case "$1" in -h|--help) usage ;; esac

model=$(printf '%s' "$1" | tr -cd 'A-Za-z0-9-')
if [ -z "$model" ]; then
	echo "$(basename "$0"): invalid model name '$1': use letters, digits and '-'" >&2
	exit 2
fi

host=$(hostname 2>/dev/null || uname -n)
host=${host%%.*}

ip=""
for token in $(hostname -I 2>/dev/null || true); do
	if [[ $token =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
		ip=$token
		break
	fi
done
if [ -z "$ip" ]; then
	ip=$(ip -4 -o addr show scope global 2>/dev/null |
		sed -n 's/.* inet \([0-9.]*\)\/.*/\1/p' | head -n 1 || true)
fi
ip=${ip:-0.0.0.0}

dir=$(basename "$PWD")
sum=$(echo "$host-${ip//./-}-$dir" | md5sum)
echo "$model-${sum:0:5}"
