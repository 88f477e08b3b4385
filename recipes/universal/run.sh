#!/usr/bin/env bash
# The default vocoder shipped with waveflow: WaveGlow on five languages of Debian's Asterisk
# prompts (asterisk-core-sounds-{en,es,fr,it,ru}-g722, CC-BY-SA-3.0 / CC-BY-3.0), offline.
#
#   recipes/universal/run.sh [--stage N] [--stop-stage M] [--conf FILE] [--db DIR] [--dump DIR]
#                            [--exp-root DIR] [--heldout-lang ru] [--ngpu N] [...]
#
# Stages (run from the repository root; relative paths are taken from the current directory):
#   0  corpus: decode the installed Debian packages into DB (LJSpeech layout), write the
#      per-language test lists (same prompts in every language), the held-out-language lists
#      and DUMP/stats.json (local/prepare_data.py)
#   1  train the held-out-language model on four languages (EXP_ROOT/no_<H>; resumes)
#   2  evaluate it: copy synthesis of every language's test clips, Griffin-Lim reference,
#      STOI / PESQ / log-mel L1 / MR-STFT per language, RTF on --rtf-threads threads
#      (EXP_ROOT/no_<H>/eval/table.md and table.json)
#   3  train the shipped model on all five languages (EXP_ROOT/all; resumes)
#   4  evaluate it the same way (EXP_ROOT/all/eval/table.md)
#   5  package EXP_ROOT/all/best.pt (or --package-checkpoint) as waveflow/audio/formats/weights/
#      universal.pt + universal.sha256 (stripped, fp16 when harmless, <= 25 MB)
# The corpus is made at the sample rate of --conf's front end (data.mel): 22050 Hz for
# conf/universal.yaml, the prompts' native 16000 Hz for conf/asterisk16k.yaml (stage 5, the
# shipped 22050 Hz default vocoder, is refused at other rates). Stages 2 and 4 also write one
# listening report per language (EXP/eval/report_<lang>.html).
# The `waveflow` command of the active environment is used (override with WAVEFLOW=...).
set -euo pipefail

recipe_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "${recipe_dir}/../.." && pwd)

# ----------------------------------------------------------------------------- options
stage=0
stop_stage=5
conf=${recipe_dir}/conf/universal.yaml
db=downloads/asterisk-universal
dump=""                 # default: EXP_ROOT/dump
exp_root=exp/universal
sounds_root=/usr/share/asterisk/sounds
docs_root=/usr/share/doc
langs=en,es,fr,it,ru
heldout_lang=ru         # left out of the stage-1 model (see docs/parts/pretrained.md: why ru)
n_test=20               # test clips per language
n_valid=5               # validation clips per language
seed=1234
dtype=fp32              # training precision: fp32, bf16 or fp16
ngpu=0                  # 0: CPU; 1: one GPU; N > 1: torchrun --nproc_per_node=N
train_args=""           # extra `waveflow train` overrides, e.g. "train.steps=1000"
sigma=0.6               # synthesis temperature
metrics=stoi,pesq,mel,mrstft,f0
rtf_threads=2
package_checkpoint=""   # stage 5; default: EXP_ROOT/all/best.pt
package_dtype=auto      # auto: fp16 if it changes the synthesis by less than -30 dB
weights_dir=${repo_root}/waveflow/audio/formats/weights

usage() {
    sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    cat <<USAGE

Options (defaults):
  --stage ${stage} --stop-stage ${stop_stage} --conf ${conf}
  --db ${db} --dump EXP_ROOT/dump --exp-root ${exp_root}
  --sounds-root ${sounds_root} --docs-root ${docs_root} --langs ${langs}
  --heldout-lang ${heldout_lang} --n-test ${n_test} --n-valid ${n_valid} --seed ${seed}
  --dtype ${dtype} --ngpu ${ngpu} --train-args "K=V ..." --sigma ${sigma}
  --metrics ${metrics} --rtf-threads ${rtf_threads}
  --package-checkpoint EXP_ROOT/all/best.pt --package-dtype ${package_dtype}
  --weights-dir ${weights_dir}
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
                stage | stop_stage | conf | db | dump | exp_root | sounds_root | docs_root | \
                    langs | heldout_lang | n_test | n_valid | seed | dtype | ngpu | train_args | \
                    sigma | metrics | rtf_threads | package_checkpoint | package_dtype | \
                    weights_dir) ;;
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

for number in "${stage}" "${stop_stage}" "${ngpu}" "${rtf_threads}"; do
    if ! [[ "${number}" =~ ^[0-9]+$ ]]; then
        echo "run.sh: error: --stage, --stop-stage, --ngpu and --rtf-threads take integers," \
            "got '${number}'" >&2
        exit 2
    fi
done
case ",${langs}," in *",${heldout_lang},"*) ;; *)
    echo "run.sh: error: --heldout-lang ${heldout_lang} is not one of --langs ${langs}" >&2
    exit 2
    ;;
esac

dump=${dump:-${exp_root}/dump}
waveflow=${WAVEFLOW:-waveflow}
if ! command -v "${waveflow}" > /dev/null; then
    echo "run.sh: error: '${waveflow}' not found: activate the waveflow environment" \
        "(source .venv/bin/activate) or set WAVEFLOW=/path/to/waveflow" >&2
    exit 2
fi
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
four_langs=$(echo ",${langs}," | sed "s/,${heldout_lang},/,/; s/^,//; s/,$//")

need_lists() {
    if [ ! -f "${dump}/train.txt" ]; then
        echo "run.sh: error: ${dump}/train.txt not found (run stage 0 first)" >&2
        exit 1
    fi
}

# train EXP TRAIN_LIST VALID_LIST: `waveflow train`, resuming from the latest checkpoint.
train() {
    need_lists
    # shellcheck disable=SC2206  # train_args is a list of KEY=VALUE words
    local overrides=(
        "data.root=${db}"
        "data.train_files=$2"
        "data.valid_files=$3"
        "data.test_files=${dump}/test.txt"
        "train.exp_dir=$1"
        ${train_args}
    )
    local launcher=("${waveflow}")
    if [ "${ngpu}" -gt 1 ]; then
        launcher=(torchrun --standalone --nproc_per_node="${ngpu}" "$(command -v "${waveflow}")")
    fi
    "${launcher[@]}" train --config "${conf}" --resume --dtype "${dtype}" --device "${device}" \
        "${overrides[@]}"
}

# The corpus rate: the sample rate of --conf's front end (data.mel, presets expanded).
if [ ! -f "${conf}" ]; then
    echo "run.sh: error: --conf ${conf} not found" >&2
    exit 2
fi
sample_rate=$("${python}" - "${conf}" <<'PY'
import sys

import yaml

from waveflow.audio.data.features import MelConfig

with open(sys.argv[1], encoding="utf-8") as file:
    data = (yaml.safe_load(file) or {}).get("data") or {}
print(MelConfig.from_dict(data.get("mel") or {}).sample_rate)
PY
)

# evaluate EXP UNSEEN_LANGS: copy synthesis of every test clip by the model (EXP/wav) and by
# Griffin-Lim (DUMP/griffin_lim, rendered once), metrics per language, RTF, table.
evaluate() {
    need_lists
    local exp=$1 checkpoint=$1/best.pt
    if [ ! -f "${checkpoint}" ]; then
        echo "run.sh: error: checkpoint ${checkpoint} not found (train it first)" >&2
        exit 1
    fi
    local refs=() lang
    for lang in ${langs//,/ }; do refs+=("${dump}/ref/${lang}"); done
    "${waveflow}" copy-synthesis --checkpoint "${checkpoint}" "${refs[@]}" --out "${exp}/wav" \
        --sigma "${sigma}" --device "${device}"
    if [ ! -f "${dump}/griffin_lim.done" ]; then
        "${waveflow}" copy-synthesis --griffin-lim "${refs[@]}" --out "${dump}/griffin_lim" \
            --sample-rate "${sample_rate}"
        touch "${dump}/griffin_lim.done"
    fi
    "${python}" "${recipe_dir}/local/evaluate.py" --ref-root "${dump}/ref" --gen "${exp}/wav" \
        --baseline "${dump}/griffin_lim" --out "${exp}/eval" --langs "${langs}" --unseen "$2" \
        --metrics "${metrics}" --checkpoint "${checkpoint}" --threads "${rtf_threads}" \
        --sigma "${sigma}" --sample-rate "${sample_rate}"
}

# ---------------------------------------------------------------------------- stage 0
if runs 0; then
    begin 0 "corpus from the Debian packages (${langs})"
    "${python}" "${recipe_dir}/local/prepare_data.py" --db "${db}" --dump "${dump}" \
        --sounds-root "${sounds_root}" --docs-root "${docs_root}" --langs "${langs}" \
        --heldout-lang "${heldout_lang}" --n-test "${n_test}" --n-valid "${n_valid}" \
        --seed "${seed}" --sample-rate "${sample_rate}"
    done_in 0
fi

# ---------------------------------------------------------------------------- stage 1
if runs 1; then
    begin 1 "training without ${heldout_lang} (${exp_root}/no_${heldout_lang})"
    train "${exp_root}/no_${heldout_lang}" "${dump}/train_no_${heldout_lang}.txt" \
        "${dump}/valid_no_${heldout_lang}.txt"
    done_in 1
fi

# ---------------------------------------------------------------------------- stage 2
if runs 2; then
    begin 2 "evaluation of the model trained on ${four_langs}"
    evaluate "${exp_root}/no_${heldout_lang}" "${heldout_lang}"
    done_in 2
fi

# ---------------------------------------------------------------------------- stage 3
if runs 3; then
    begin 3 "training on all of ${langs} (${exp_root}/all)"
    train "${exp_root}/all" "${dump}/train.txt" "${dump}/valid.txt"
    done_in 3
fi

# ---------------------------------------------------------------------------- stage 4
if runs 4; then
    begin 4 "evaluation of the model trained on ${langs}"
    evaluate "${exp_root}/all" ""
    done_in 4
fi

# ---------------------------------------------------------------------------- stage 5
if runs 5; then
    begin 5 "packaging into ${weights_dir}"
    if [ "${sample_rate}" != 22050 ]; then
        echo "run.sh: error: stage 5 packages the default vocoder, a 22050 Hz (Tacotron2) model;" \
            "--conf ${conf} trains at ${sample_rate} Hz: use EXP_ROOT/all/best.pt as --checkpoint" >&2
        exit 1
    fi
    package_checkpoint=${package_checkpoint:-${exp_root}/all/best.pt}
    "${python}" "${recipe_dir}/local/package.py" --checkpoint "${package_checkpoint}" \
        --weights-dir "${weights_dir}" --dtype "${package_dtype}" \
        --ref "${dump}/ref/${langs%%,*}" --sigma "${sigma}"
    done_in 5
fi
