#!/usr/bin/env bash
# Glow on Fashion-MNIST (1 channel, 28x28 zero-padded to 32x32).
#   ./run.sh                          # all stages with conf/glow_small.yaml (a short CPU run)
#   ./run.sh --stage 2 --stop-stage 3 # evaluate and sample an existing experiment
#   ./run.sh --conf conf/glow.yaml    # the bigger GPU config
#   ./run.sh --train-args "train.steps=500"   # config overrides
#   ./run.sh --device cuda            # device of every stage (default: auto)
# Stages: 0 data, 1 train, 2 evaluate (test bits/dim), 3 sample (PNG grids).
set -euo pipefail
cd "$(dirname "$0")"

stage=0
stop_stage=3
conf=conf/glow_small.yaml
db_root=downloads/fashion_mnist       # where the four *-ubyte.gz files go
system_copy=/usr/share/datasets/fashion-mnist   # Debian's dataset-fashion-mnist package
expdir=""                             # experiment folder (default: exp/TAG)
tag=""                                # experiment name (default: the config's name)
train_args=""                         # extra KEY=VALUE config overrides for stage 1
device=auto                           # auto, cpu or cuda (training, evaluation, sampling)
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
    echo "stage 0: data in $db_root"
    mkdir -p "$db_root"
    if [[ -f "$system_copy/t10k-labels-idx1-ubyte.gz" ]]; then
        # The Debian copy is recompressed (other MD5s than the upstream files); the loader
        # checks the IDX headers and sizes instead.
        for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
                 t10k-labels-idx1-ubyte; do
            ln -sf "$system_copy/$f.gz" "$db_root/$f.gz"
        done
    else
        python -c "from waveflow.image.download import download_dataset as d; \
d('fashion_mnist', '$db_root')"
    fi
fi

if [[ $stage -le 1 && $stop_stage -ge 1 ]]; then
    echo "stage 1: training $conf -> $expdir"
    # shellcheck disable=SC2086  # train_args holds several KEY=VALUE words
    "$waveflow" train --config "$conf" --exp-dir "$expdir" data.root="$db_root" \
        train.device="$device" $train_args
fi

ckpt=$expdir/best.pt
[[ -f $ckpt ]] || ckpt=$(ls "$expdir"/ckpt_*.pt 2>/dev/null | tail -n 1 || true)

if [[ $stage -le 2 && $stop_stage -ge 2 ]]; then
    echo "stage 2: test bits/dim of $ckpt"
    "$waveflow" evaluate --checkpoint "$ckpt" --data-root "$db_root" --split test \
        --batch-size 500 --device "$device" --json "$expdir/test_bpd.json"
fi

if [[ $stage -le 3 && $stop_stage -ge 3 ]]; then
    echo "stage 3: samples, interpolation and manipulation in $expdir/samples"
    "$waveflow" sample --checkpoint "$ckpt" --out "$expdir/samples" --data-root "$db_root" \
        --temperatures 0,0.5,0.7,1.0 --n 64 --interpolate --manipulate --device "$device"
fi
