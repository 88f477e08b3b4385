#!/usr/bin/env bash
# NICE, RealNVP, spline and MAF flows on 2-D toy densities (two moons, checkerboard): the
# tutorial pictures.
#   ./run.sh                                   # conf/realnvp_moons.yaml: train, then plots
#   ./run.sh --conf conf/nice_checkerboard.yaml
#   ./run.sh --conf conf/spline_checkerboard.yaml   # also maf_moons, maf_spline_checkerboard
#   ./run.sh --stage 2                         # plots of an existing experiment
#   ./run.sh --train-args "train.steps=500"    # config overrides
# Stages: 1 train, 2 plots (density.png, samples.png) and held-out NLL. The points are
# generated from a seed (no download).
set -euo pipefail
cd "$(dirname "$0")"

stage=1
stop_stage=2
conf=conf/realnvp_moons.yaml
expdir=""                             # experiment folder (default: exp/TAG)
tag=""                                # experiment name (default: the config's name)
train_args=""                         # extra KEY=VALUE config overrides for stage 1
n_samples=2000
waveflow=${WAVEFLOW:-waveflow}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --stage) stage=$2; shift 2 ;;
        --stop-stage) stop_stage=$2; shift 2 ;;
        --conf) conf=$2; shift 2 ;;
        --tag) tag=$2; shift 2 ;;
        --exp) expdir=$2; shift 2 ;;
        --train-args) train_args=$2; shift 2 ;;
        --n-samples) n_samples=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 1 ;;
    esac
done
[[ -n "$tag" ]] || tag=$(basename "$conf" .yaml)
[[ -n "$expdir" ]] || expdir=exp/$tag

if [[ $stage -le 1 && $stop_stage -ge 1 ]]; then
    echo "stage 1: training $conf -> $expdir"
    # shellcheck disable=SC2086  # train_args holds several KEY=VALUE words
    "$waveflow" train --config "$conf" --exp-dir "$expdir" $train_args
fi

ckpt=$expdir/best.pt
[[ -f $ckpt ]] || ckpt=$(ls "$expdir"/ckpt_*.pt 2>/dev/null | tail -n 1 || true)

if [[ $stage -le 2 && $stop_stage -ge 2 ]]; then
    echo "stage 2: density and samples of $ckpt in $expdir/plots"
    "$waveflow" sample --checkpoint "$ckpt" --out "$expdir/plots" --n "$n_samples" \
        --temperatures 1.0 | tee "$expdir/plots.log"
fi
