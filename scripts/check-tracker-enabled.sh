#!/usr/bin/env bash
# Print "y" if tracker NAME is enabled by a TRACKER value, else "n".
# TRACKER is none, trackio, wandb, tensorboard, both, or a comma list of
# those (items trimmed, whole names only). A bad value is an error (exit 2).
set -euo pipefail

readonly known="trackio wandb tensorboard"

usage() {
	echo "usage: $(basename "$0") NAME \"\$TRACKER\"   (NAME: ${known// /, })" >&2
	exit 2
}

[ $# -eq 2 ] || usage
name=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')
[[ " $known " == *" $name "* ]] || usage

enabled=" "
IFS=',' read -r -a items <<<"$2"
[ ${#items[@]} -gt 0 ] || { echo "$(basename "$0"): empty TRACKER value; use none, $known, both or a comma list" >&2; exit 2; }
for raw in "${items[@]}"; do
	item=$(printf '%s' "$raw" | tr -d '[:space:]' | tr '[:upper:]' '[:lower:]')
	case "$item" in
	none) ;;
	both) enabled+="trackio wandb " ;;
	trackio|wandb|tensorboard) enabled+="$item " ;;
	*)
		echo "$(basename "$0"): unknown tracker '$raw' in TRACKER='$2'; use none, ${known// /, }, both or a comma list" >&2
		exit 2
		;;
	esac
done

if [[ $enabled == *" $name "* ]]; then
	echo y
else
	echo n
fi
