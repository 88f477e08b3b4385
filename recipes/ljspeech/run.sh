#!/usr/bin/env bash
# WaveGlow on LJSpeech-1.1: download, prepare, train, synthesize, evaluate.
#
#   recipes/ljspeech/run.sh [--stage N] [--stop-stage M] [--conf FILE] [--db-root DIR]
#                           [--exp DIR] [--dtype fp32|bf16|fp16] [--ngpu N] [...]
#
# Stages (run from any directory; relative paths are taken from the current directory):
#   0  download LJSpeech-1.1 to --db-root and check its SHA-256 (skipped if metadata.csv exists)
#   1  split the corpus, write DUMP/{train,valid,test}.txt, cache the test-set log-mels
#   2  train (`waveflow train`, resumes from the latest checkpoint in --exp if there is one)
#   3  synthesize the test set from its mels (sigma --sigma), plus a Griffin-Lim baseline
#   4  evaluate: held-out NLL (bits/sample), log-mel distance, real-time factor, and the full
#      `waveflow evaluate` metrics table of WaveGlow and of Griffin-Lim; writes
#      EXP/eval/summary.json, metrics.json (one record per system), the reference / generated /
#      difference log-mel PNGs of every test clip (EXP/eval/plots/{waveglow,griffin_lim}) and
#      the listening report EXP/eval/report.html (+ report_files/: players, PNGs, metrics)
# The `waveflow` command of the active environment is used (override with WAVEFLOW=...).
set -euo pipefail

recipe_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ----------------------------------------------------------------------------- options
stage=0
stop_stage=4
conf=${recipe_dir}/conf/waveglow.yaml
db_root=downloads/LJSpeech-1.1
exp=exp/ljspeech_waveglow
dump=""           # default: EXP/dump
dtype=fp32        # training precision: fp32, bf16 or fp16
ngpu=1            # 0: CPU; 1: one GPU; N > 1: torchrun --nproc_per_node=N
n_valid=""        # split sizes and seed; default: data.n_valid, data.n_test, data.split_seed
n_test=""         # of --conf (ignored with the --*-list options)
split_seed=""
train_list=""     # external file lists (Tacotron2 style `wavs/ID.wav|text`, or one id a line)
valid_list=""
test_list=""
checkpoint=""     # stages 3-4; default: EXP/best.pt (lowest validation loss)
sigma=0.6         # synthesis temperature
griffin_lim=true  # stage 3: also render the Griffin-Lim baseline
train_args=""     # extra `waveflow train` overrides, e.g. "train.steps=1000 train.lr=2e-4"
metrics=mel,mrstft,pesq,stoi,mcd,f0  # stage 4 `waveflow evaluate --metrics`

usage() {
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    cat <<USAGE

Options (defaults):
  --stage ${stage} --stop-stage ${stop_stage} --conf ${conf}
  --db-root ${db_root} --exp ${exp} --dump EXP/dump --dtype ${dtype} --ngpu ${ngpu}
  --n-valid N --n-test N --split-seed N (default: data.n_valid, data.n_test, data.split_seed)
  --train-list FILE --valid-list FILE --test-list FILE (all three, instead of the split)
  --checkpoint EXP/best.pt --sigma ${sigma} --griffin-lim ${griffin_lim} --train-args "K=V ..."
  --metrics ${metrics}
USAGE
}

while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help)
            usage
            exit 0
            ;;
        --*)
            name=${1#--}
            name=${name//-/_}
            case "${name}" in
                stage | stop_stage | conf | db_root | exp | dump | dtype | ngpu | n_valid | \
                    n_test | split_seed | train_list | valid_list | test_list | checkpoint | \
                    sigma | griffin_lim | train_args | metrics) ;;
                *)
                    echo "run.sh: error: unknown option $1 (see --help)" >&2
                    exit 2
                    ;;
            esac
            if [ $# -lt 2 ]; then
                echo "run.sh: error: option $1 needs a value" >&2
                exit 2
            fi
            printf -v "${name}" '%s' "$2"
            shift 2
            ;;
        *)
            echo "run.sh: error: unexpected argument $1 (see --help)" >&2
            exit 2
            ;;
    esac
done

for number in "${stage}" "${stop_stage}" "${ngpu}"; do
    if ! [[ "${number}" =~ ^[0-9]+$ ]]; then
        echo "run.sh: error: --stage, --stop-stage and --ngpu take integers, got '${number}'" >&2
        exit 2
    fi
done
case "${dtype}" in fp32 | bf16 | fp16) ;; *)
    echo "run.sh: error: --dtype must be fp32, bf16 or fp16, got '${dtype}'" >&2
    exit 2
    ;;
esac
case "${griffin_lim}" in true | false) ;; *)
    echo "run.sh: error: --griffin-lim must be true or false, got '${griffin_lim}'" >&2
    exit 2
    ;;
esac

dump=${dump:-${exp}/dump}
checkpoint=${checkpoint:-${exp}/best.pt}
waveflow=${WAVEFLOW:-waveflow}
if ! command -v "${waveflow}" > /dev/null; then
    echo "run.sh: error: '${waveflow}' not found: activate the waveflow environment" \
        "(source .venv/bin/activate) or set WAVEFLOW=/path/to/waveflow" >&2
    exit 2
fi
# The local/ scripts run with the Python of the environment that provides `waveflow`.
python=$(dirname "$(command -v "${waveflow}")")/python
[ -x "${python}" ] || python=python3
python=${PYTHON:-${python}}

runs() { [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; }
begin() {
    echo "=== stage $1: $2"
    stage_start=${SECONDS}
}
done_in() { echo "=== stage $1 done in $((SECONDS - stage_start)) s"; }

device=cpu
[ "${ngpu}" -gt 0 ] && device=cuda

# ---------------------------------------------------------------------------- stage 0
if runs 0; then
    begin 0 "data download"
    "${recipe_dir}/local/download_ljspeech.sh" "${db_root}"
    done_in 0
fi

# ---------------------------------------------------------------------------- stage 1
if runs 1; then
    begin 1 "split and test-set mels"
    split=()
    [ -n "${n_valid}" ] && split+=(--n-valid "${n_valid}")
    [ -n "${n_test}" ] && split+=(--n-test "${n_test}")
    [ -n "${split_seed}" ] && split+=(--seed "${split_seed}")
    if [ -n "${train_list}${valid_list}${test_list}" ]; then
        split=(--train-list "${train_list}" --valid-list "${valid_list}" --test-list "${test_list}")
    fi
    "${python}" "${recipe_dir}/local/prepare_data.py" --db-root "${db_root}" --dump "${dump}" \
        --conf "${conf}" "${split[@]}"
    done_in 1
fi

# ---------------------------------------------------------------------------- stage 2
if runs 2; then
    begin 2 "training (exp dir ${exp}, tensorboard --logdir ${exp}/tb)"
    # shellcheck disable=SC2206  # train_args is a list of KEY=VALUE words
    overrides=(
        "data.root=${db_root}"
        "data.train_files=${dump}/train.txt"
        "data.valid_files=${dump}/valid.txt"
        "data.test_files=${dump}/test.txt"
        "train.exp_dir=${exp}"
        ${train_args}
    )
    launcher=("${waveflow}")
    if [ "${ngpu}" -gt 1 ]; then
        launcher=(torchrun --standalone --nproc_per_node="${ngpu}" "$(command -v "${waveflow}")")
    fi
    # --resume: continue from the latest checkpoint in EXP if there is one, else start afresh.
    "${launcher[@]}" train --config "${conf}" --resume --dtype "${dtype}" --device "${device}" \
        "${overrides[@]}"
    done_in 2
fi

# ---------------------------------------------------------------------------- stage 3
if runs 3; then
    begin 3 "synthesis of the test set from its mels (sigma ${sigma})"
    if [ ! -f "${checkpoint}" ]; then
        echo "run.sh: error: checkpoint ${checkpoint} not found (run stage 2 first)" >&2
        exit 1
    fi
    "${waveflow}" synthesize --checkpoint "${checkpoint}" "${dump}/mels/test" \
        --out "${exp}/wav/test/waveglow" --sigma "${sigma}" --device "${device}"
    if [ "${griffin_lim}" = true ]; then
        "${waveflow}" copy-synthesis --griffin-lim "${dump}/wav/test" \
            --out "${exp}/wav/test/griffin_lim"
    fi
    done_in 3
fi

# ---------------------------------------------------------------------------- stage 4
if runs 4; then
    begin 4 "evaluation"
    # One evaluation of every system: metrics, PNGs (plots/<system>/) and the listening report.
    systems=(--gen "waveglow=${exp}/wav/test/waveglow")
    baseline=()
    plots=${exp}/eval/plots/waveglow
    if [ "${griffin_lim}" = true ]; then
        systems+=(--gen "griffin_lim=${exp}/wav/test/griffin_lim")
        baseline=(--baseline "${exp}/wav/test/griffin_lim")
        plots=${exp}/eval/plots
    fi
    echo "The test set against its recordings (WaveGlow; Griffin-Lim on the same mels):"
    "${waveflow}" evaluate --ref "${dump}/wav/test" "${systems[@]}" --metrics "${metrics}" \
        --json "${exp}/eval/metrics.json" --plots "${plots}" \
        --html "${exp}/eval/report.html" --config "${conf}" \
        --title "Listening report: $(basename "${exp}"), test set, sigma ${sigma}"
    echo
    echo "Summary (${exp}/eval/summary.json):"
    "${python}" "${recipe_dir}/local/summary.py" --checkpoint "${checkpoint}" \
        --ref "${dump}/wav/test" --mels "${dump}/mels/test" --gen "${exp}/wav/test/waveglow" \
        "${baseline[@]}" --sigma "${sigma}" --device "${device}" --json "${exp}/eval/summary.json"
    echo
    echo "generated test audio: ${exp}/wav/test/waveglow (Griffin-Lim: ${exp}/wav/test/griffin_lim)"
    echo "spectrograms (reference / generated / difference): ${exp}/eval/plots/"
    echo "listening report:     ${exp}/eval/report.html (open it in a browser; no server needed)"
    echo "TensorBoard logs:     tensorboard --logdir ${exp}/tb"
    done_in 4
fi
