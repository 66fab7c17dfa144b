#!/usr/bin/env bash
# Writes Tests/TrainingTests/Fixtures/legacy/: checkpoints written by stmae as it was BEFORE the architecture
# restructuring (issue 23), which LegacyCheckpointTests loads with today's code, bit for bit.
#
#   legacy/pretrain/checkpoint-last.{json,safetensors,optim.safetensors}  `stmae pretrain`, stopped by --max_steps 2
#   legacy/finetune/checkpoint-last.{json,safetensors,optim.safetensors}  `stmae finetune` from that pre-training
#                                                                          checkpoint, stopped by --max_steps 2
#   legacy/MANIFEST.txt                                                    sha256 of each file (sha256sum format)
#
# The writer is the OLD stmae: commit 51bfa67 (`5a57b49^`, the last commit before the restructuring began at
# 5a57b49), built from a detached scratch worktree with that commit's own build (SwiftPM, libtorch from `.torch/`,
# which that commit's Package.swift links; this checkout's `.torch` from scripts/setup.sh serves). Today's code
# cannot write these files, so the script is deliberately not in the Makefile's FIXTURE_SCRIPTS (`make fixtures`
# regenerates fixtures from the current code and its Python references): regenerating replaces the evidence that old
# files still load. Run it only to re-create lost fixtures, then commit them with the script's log. A second run writes
# equivalent files, not identical ones: the old training steps are not bit-reproducible run to run (the losses of
# two runs on one machine differed in the 5th digit), so the tests compare today's loaders with the committed files,
# whose sha256 MANIFEST.txt pins.
#
# Usage: bash scripts/make_legacy_checkpoints.sh   (from a checkout with `.torch/`; needs git, swift, sha256sum)
#   LEGACY_SRC=DIR: build in DIR, an existing checkout of that commit (its `.build` is reused), not a new worktree.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
COMMIT=51bfa6704a8a51b68b0cdc9e21b3713a9af9fec6  # 5a57b49^
export PATH=/opt/swift/usr/bin:$PATH

[ -f .torch/torch/lib/libtorch_cpu.so ] || { echo "needs .torch/ (bash scripts/setup.sh)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/stmae-legacy-XXXXXX)
SRC=${LEGACY_SRC:-$WORK/src}
cleanup() {
    [ -n "${LEGACY_SRC:-}" ] || git -C "$REPO" worktree remove --force "$SRC" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# 1. the old stmae, built as that commit built it (`swift build`; only the stmae product)
if [ -n "${LEGACY_SRC:-}" ]; then
    [ "$(git -C "$SRC" rev-parse HEAD)" = "$COMMIT" ] || { echo "$SRC is not at $COMMIT" >&2; exit 1; }
    [ -z "$(git -C "$SRC" status --porcelain --untracked-files=no)" ] || { echo "$SRC has changes" >&2; exit 1; }
else
    git worktree add --detach "$SRC" "$COMMIT"
fi
[ -e "$SRC/.torch" ] || ln -s "$REPO/.torch" "$SRC/.torch"
[ -f "$SRC/Package.resolved" ] || [ ! -f Package.resolved ] || cp Package.resolved "$SRC/"
(cd "$SRC" && swift build --product stmae)
STMAE=$SRC/.build/debug/stmae

# 2. two tiny runs on the old built-in synthetic data set (generated under $STMAE_DATA), relative output folders so
#    the sidecars hold no absolute paths. The sizes keep each checkpoint (weights + AdamW state) under ~100 KB.
export STMAE_DATA=$WORK/data
cd "$WORK"
SIZES=(--img_size 16 --patch_size 4 --num_frames 4 --t_patch_size 2 --sampling_rate 2 --embed_dim 16 --depth 1
    --num_heads 1 --num_workers 1 --threads 1 --log_every 1 --seed 7)
"$STMAE" pretrain "${SIZES[@]}" --decoder_embed_dim 16 --decoder_depth 1 --decoder_num_heads 1 \
    --batch_size_per_gpu 2 --repeat_aug 1 --epochs 1 --max_steps 2 --output_dir pretrain
"$STMAE" finetune "${SIZES[@]}" --finetune pretrain/checkpoint-last.json --batch_size 2 --epochs 1 --max_steps 2 \
    --output_dir finetune

# 3. the checkpoint files (only those) into the fixtures, with their sha256
OUT=$REPO/Tests/TrainingTests/Fixtures/legacy
rm -rf "$OUT"
for run in pretrain finetune; do
    mkdir -p "$OUT/$run"
    cp "$run"/checkpoint-last.json "$run"/checkpoint-last.safetensors "$run"/checkpoint-last.optim.safetensors \
        "$OUT/$run/"
done
(cd "$OUT" && sha256sum pretrain/* finetune/* >MANIFEST.txt)
echo "wrote $OUT (stmae $COMMIT):"
du -ab "$OUT"
