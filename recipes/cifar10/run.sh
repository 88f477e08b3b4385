#!/usr/bin/env bash
# Glow on CIFAR-10 (the paper's L=3, K=32, 512-channel model; a GPU job).
#   ./run.sh                                   # stages 0-3 with conf/glow.yaml
#   ./run.sh --conf conf/glow_cond.yaml        # class-conditional variant
#   ./run.sh --stage 2 --stop-stage 3          # evaluate and sample an existing experiment
#   ./run.sh --train-args "train.dtype=bf16"   # config overrides for stage 1
# Stages: 0 download (MD5-checked), 1 train, 2 evaluate (test bits/dim), 3 sample (PNG grids).
# Multi-GPU: run stage 1 yourself under torchrun, e.g.
#   torchrun --nproc_per_node 8 -m waveflow.cli train --config conf/glow.yaml --exp-dir exp/glow
set -euo pipefail
cd "$(dirname "$0")"

stage=0
stop_stage=3
conf=conf/glow.yaml
db_root=downloads/cifar10
expdir=""                             # experiment folder (default: exp/TAG)
tag=""
train_args=""
device=auto
waveflow=${WAVEFLOW:-waveflow}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --stage) stage=$2; shift 2 ;;
        --stop-stage) stop_stage=$2; shift 2 ;;
        --conf) conf=$2; shift 2 ;;
        --db-root) db_root=$2; shift 2 ;;
        --tag) tag=$2; shift 2 ;;
        --exp) expdir=$2; shift 2 ;;
        --train-args) train_args=$2; shift 2 ;;
        --device) device=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 1 ;;
    esac
done
[[ -n "$tag" ]] || tag=$(basename "$conf" .yaml)
[[ -n "$expdir" ]] || expdir=exp/$tag

if [[ $stage -le 0 && $stop_stage -ge 0 ]]; then
    echo "stage 0: CIFAR-10 in $db_root"
    python -c "from waveflow.image.download import download_dataset as d; d('cifar10', '$db_root')"
fi

if [[ $stage -le 1 && $stop_stage -ge 1 ]]; then
    echo "stage 1: training $conf -> $expdir"
    # shellcheck disable=SC2086  # train_args holds several KEY=VALUE words
    "$waveflow" train --config "$conf" --exp-dir "$expdir" data.root="$db_root" $train_args
fi

ckpt=$expdir/best.pt
[[ -f $ckpt ]] || ckpt=$(ls "$expdir"/ckpt_*.pt 2>/dev/null | tail -n 1 || true)

if [[ $stage -le 2 && $stop_stage -ge 2 ]]; then
    echo "stage 2: test bits/dim of $ckpt"
    "$waveflow" evaluate --checkpoint "$ckpt" --data-root "$db_root" --split test \
        --batch-size 256 --device "$device" --json "$expdir/test_bpd.json"
fi

if [[ $stage -le 3 && $stop_stage -ge 3 ]]; then
    echo "stage 3: samples, interpolation and manipulation in $expdir/samples"
    "$waveflow" sample --checkpoint "$ckpt" --out "$expdir/samples" --data-root "$db_root" \
        --temperatures 0,0.5,0.7,1.0 --n 64 --interpolate --manipulate --device "$device"
fi
