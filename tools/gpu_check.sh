#!/usr/bin/env bash
# One-call GPU check for a session that has been lent a GPU machine (issue 11), about 8 minutes
# on an H200. Every step runs with its own time limit; a failing step is recorded and the next
# one still runs. Results: OUT/gpu-<date>.json (default OUT: docs/benchmarks) with one entry per
# step (status, seconds, the benchmark sections) and the raw logs next to it in OUT/gpu-logs/.
#
#   bash tools/gpu_check.sh                # on the GPU machine
#   bash tools/gpu_check.sh --dry-run      # CPU fallback: every step, tiny sizes (the unit
#                                          # test runs this; also used when CUDA is missing)
#   bash tools/gpu_check.sh --out DIR      # write the JSON and logs under DIR
#   bash tools/gpu_check.sh --only 'synth_bf16|versus'   # only the steps matching a regex
#
# Steps: 1 the CUDA-only tests; 2 synthesis fp32/bf16/fp16 of a 10 s mel at batch 1 and 8;
# 3 the training step throughput (fp32, bf16) and a Glow training step at the paper's size
# (L=3, K=32, 512 channels, batch 64, the Glow recipe's schedule); 4 a 1-GPU torchrun run: an
# NCCL all-reduce and a short `waveflow train`; 5 the NVIDIA-equivalence check on CUDA (float64
# reference vs waveflow, then `benchmark.py versus`). The CUDA tests of step 1 include every
# synthesis path at fp32/bf16/fp16 in every grad mode (tests/test_precision_matrix.py).
# Goals on an H200: synthesis >= 10 MHz (bf16, batch 1), training >= 2M samples/s.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
OUT=docs/benchmarks
DRY=0
ONLY=.
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --out) OUT=$2; shift ;;
        --only) ONLY=$2; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$DRY" = 0 ] && ! "$PY" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
    echo "gpu_check.sh: no CUDA device; running the CPU fallback (--dry-run)" >&2
    DRY=1
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
DATE=$(date -u +%Y-%m-%d)
LOGS="$OUT/gpu-logs"
mkdir -p "$LOGS"
STEPS="$LOGS/steps.tsv"
: > "$STEPS"
if [ "$DRY" = 1 ]; then
    DEV=cpu; QUICK="--quick --no-isolate --runs 1 --warmup 0"; SECONDS_MEL=0.1; BATCHES="1 2"; TRAIN="--batch-size 2 --segment-length 2048"
    NAME="gpu-dryrun-$DATE"; LIMIT=300; STEPS_TRAIN=4
else
    DEV=cuda; QUICK=; SECONDS_MEL=10; BATCHES="1 8"; TRAIN="--batch-size 12 --segment-length 16000"
    NAME="gpu-$DATE"; LIMIT=240; STEPS_TRAIN=20
fi

# step NAME TIMEOUT COMMAND...: run, log to $LOGS/NAME.log, record status and wall time.
step() {
    local name=$1 limit=$2; shift 2
    [[ $name =~ $ONLY ]] || return 0
    local start=$SECONDS
    echo "== $name: $*" >&2
    timeout "$limit" "$@" > "$LOGS/$name.log" 2>&1
    local rc=$?
    printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - start))" >> "$STEPS"
    [ "$rc" = 0 ] || { echo "   $name failed (exit $rc); see $LOGS/$name.log" >&2; tail -n 3 "$LOGS/$name.log" >&2; }
}

# 1. CUDA-only tests (skipped without CUDA, so the fallback only collects them).
if [ "$DRY" = 1 ]; then
    step cuda_tests "$LIMIT" "$PY" -m pytest -q --collect-only -k cuda tests/test_features.py
else
    step cuda_tests "$LIMIT" "$PY" -m pytest -q -rs -k cuda tests
fi

# 2. Synthesis: every precision at batch 1 and 8 (10 s mel).
for dtype in fp32 bf16 fp16; do
    for batch in $BATCHES; do
        step "synth_${dtype}_b${batch}" "$LIMIT" "$PY" tools/benchmark.py synth $QUICK \
            --device "$DEV" --dtype "$dtype" --batch-size "$batch" --seconds "$SECONDS_MEL" \
            --json "$LOGS/synth_${dtype}_b${batch}.json"
    done
done

# 3. Training step throughput.
for dtype in fp32 bf16; do
    step "train_${dtype}" "$LIMIT" "$PY" tools/benchmark.py train $QUICK --device "$DEV" \
        --dtype "$dtype" $TRAIN --json "$LOGS/train_${dtype}.json"
done
GLOW_BATCH=64; [ "$DRY" = 1 ] && GLOW_BATCH=2
step glow_paper "$LIMIT" "$PY" tools/benchmark.py glow $QUICK --device "$DEV" \
    --batch-size "$GLOW_BATCH" --n-samples "$GLOW_BATCH" --json "$LOGS/glow_paper.json"

# 4. torchrun with one process: an NCCL (gloo on CPU) all-reduce, then a short training run.
step torchrun_allreduce "$LIMIT" "$PY" -m torch.distributed.run --standalone --nproc_per_node 1 \
    tools/bench/allreduce_check.py --device "$DEV"
step torchrun_train "$LIMIT" "$PY" -m torch.distributed.run --standalone --nproc_per_node 1 \
    -m waveflow.cli train --config recipes/ljspeech/conf/small.yaml --exp-dir "$LOGS/train-run" \
    train.steps=$STEPS_TRAIN train.device="$DEV" train.log_every=2 \
    train.valid_every=$STEPS_TRAIN train.ckpt_every=$STEPS_TRAIN train.media_every=0 \
    data.segment_length=4096

# 5. NVIDIA equivalence on the device, then the side-by-side ratios.
step nvidia_equivalence "$LIMIT" "$PY" tools/bench/equivalence_check.py --device "$DEV"
step versus "$LIMIT" "$PY" tools/benchmark.py versus $QUICK --device "$DEV" --runs 3 \
    --json "$LOGS/versus.json"

"$PY" tools/bench/gather.py "$LOGS" "$OUT/$NAME.json" --dry-run "$DRY"
