#!/usr/bin/env bash
# Copies the official U²-Net test images and U²-NetP result masks out of a U-2-Net clone into a folder
# with images/ and u2netp_results/ (default .cache/u2net-official, which git ignores), for
# test/sod/official-masks.test.ts and scripts/official-masks.ts. Works with a normal or a bare clone:
#   git clone https://github.com/xuebinqin/U-2-Net /tmp/U-2-Net
#   scripts/u2net-official-data.sh /tmp/U-2-Net [DEST]
# The images are the repository's test_data/test_images; the masks its test_data/u2netp_results,
# made by its u2net_test.py with the pretrained U²-NetP. Mind their licence before redistributing them.
set -euo pipefail
repo=${1:?usage: scripts/u2net-official-data.sh U2NET_CLONE [DEST]}
dest=${2:-.cache/u2net-official}
mkdir -p "$dest/images" "$dest/u2netp_results"
for dir in test_images u2netp_results; do
  out=$([ "$dir" = test_images ] && echo images || echo u2netp_results)
  git -C "$repo" ls-tree --name-only HEAD "test_data/$dir/" | while read -r f; do
    git -C "$repo" show "HEAD:$f" > "$dest/$out/$(basename "$f")"
  done
done
echo "$(ls "$dest/images" | wc -l) images, $(ls "$dest/u2netp_results" | wc -l) masks in $dest"
