#!/usr/bin/env bash
# Copies PySODMetrics' example predictions and masks (examples/test_data in a clone of its repository) to
# .cache/pysodmetrics, where test/sod/evaluate-reference.test.ts finds them. Nothing is downloaded here.
set -euo pipefail
src="${1:?usage: scripts/pysodmetrics-data.sh PYSODMETRICS_CLONE [DEST]}"
dest="${2:-.cache/pysodmetrics}"
mkdir -p "$dest/preds" "$dest/masks"
cp "$src"/examples/test_data/preds/*.png "$dest/preds/"
cp "$src"/examples/test_data/masks/*.png "$dest/masks/"
echo "copied $(ls "$dest/preds" | wc -l) predictions and $(ls "$dest/masks" | wc -l) masks to $dest"
