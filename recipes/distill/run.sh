#!/usr/bin/env bash
# Distil a WaveGlow vocoder into an IAF student (Parallel WaveNet's probability density
# distillation), then compare the two on the held-out test clips.
#
#   recipes/distill/run.sh --teacher CKPT [--stage N] [--stop-stage M] [--conf FILE]
#                          [--db-root DIR] [--exp DIR] [--dump DIR] [--ngpu N] [...]
#
# Stages (relative paths are taken from the current directory):
#   1  split the corpus and cache the test-set log-mels (recipes/ljspeech/run.sh stage 1 with
#      --conf; skip it with --stage 2 --dump TEACHER_EXP/dump to reuse the teacher's split)
#   2  train the student: `waveflow train --config CONF data.teacher=CKPT ...` (task: distill;
#      resumes from the latest checkpoint in --exp)
#   3  synthesize the test mels with the teacher and with the student (sigma --sigma)
#   4  evaluate both (`waveflow evaluate`: EXP/eval/metrics.json and the listening report
#      EXP/eval/report.html) and write EXP/eval/summary.json: the student's
#      synthesis speed against its teacher's, log-mel distances, the teacher's NLL of each
# The teacher is a native (`task: waveglow`) or NVIDIA WaveGlow checkpoint trained on the mel
# front end of --conf's data.mel (e.g. the `make demo` vocoder exp/demo/best.pt).
set -euo pipefail

recipe_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

stage=1
stop_stage=4
teacher=""
conf=${recipe_dir}/conf/student.yaml
db_root=data/demo-ljspeech
exp=exp/distill
dump=""           # default: EXP/dump
ngpu=0            # 0: CPU; 1: one GPU
sigma=0.6         # synthesis temperature of both models
train_args=""     # extra `waveflow train` overrides, e.g. "train.steps=1000"
metrics=mel,mrstft  # stage 4 `waveflow evaluate --metrics`

usage() {
    sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    cat <<USAGE

Options (defaults):
  --teacher CKPT (required) --stage ${stage} --stop-stage ${stop_stage} --conf ${conf}
  --db-root ${db_root} --exp ${exp} --dump EXP/dump --ngpu ${ngpu} --sigma ${sigma}
  --train-args "K=V ..." --metrics ${metrics}
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
                stage | stop_stage | teacher | conf | db_root | exp | dump | ngpu | sigma | \
                    train_args | metrics) ;;
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
if [ -z "${teacher}" ]; then
    echo "run.sh: error: --teacher CKPT is required (a WaveGlow checkpoint, e.g. exp/demo/best.pt)" >&2
    exit 2
fi
if [ ! -f "${teacher}" ]; then
    echo "run.sh: error: teacher checkpoint ${teacher} not found" >&2
    exit 1
fi

dump=${dump:-${exp}/dump}
waveflow=${WAVEFLOW:-waveflow}
if ! command -v "${waveflow}" > /dev/null; then
    echo "run.sh: error: '${waveflow}' not found: activate the waveflow environment" \
        "(source .venv/bin/activate) or set WAVEFLOW=/path/to/waveflow" >&2
    exit 2
fi
python=$(dirname "$(command -v "${waveflow}")")/python
[ -x "${python}" ] || python=python3
python=${PYTHON:-${python}}
device=cpu
[ "${ngpu}" -gt 0 ] && device=cuda

runs() { [ "${stage}" -le "$1" ] && [ "${stop_stage}" -ge "$1" ]; }
begin() {
    echo "=== stage $1: $2"
    stage_start=${SECONDS}
}
done_in() { echo "=== stage $1 done in $((SECONDS - stage_start)) s"; }

if runs 1; then
    begin 1 "split and test-set mels"
    WAVEFLOW=${waveflow} "${recipe_dir}/../ljspeech/run.sh" --stage 1 --stop-stage 1 \
        --conf "${conf}" --db-root "${db_root}" --exp "${exp}" --dump "${dump}"
    done_in 1
fi

if runs 2; then
    begin 2 "distillation (teacher ${teacher}, exp dir ${exp})"
    # shellcheck disable=SC2206  # train_args is a list of KEY=VALUE words
    overrides=(
        "data.teacher=${teacher}"
        "data.root=${db_root}"
        "data.train_files=${dump}/train.txt"
        "data.valid_files=${dump}/valid.txt"
        "data.test_files=${dump}/test.txt"
        "train.exp_dir=${exp}"
        ${train_args}
    )
    "${waveflow}" train --config "${conf}" --resume --device "${device}" "${overrides[@]}"
    done_in 2
fi

if runs 3; then
    begin 3 "synthesis of the test set by the teacher and the student (sigma ${sigma})"
    for model in teacher student; do
        checkpoint=${teacher}
        [ "${model}" = student ] && checkpoint=${exp}/best.pt
        "${waveflow}" synthesize --checkpoint "${checkpoint}" "${dump}/mels/test" \
            --out "${exp}/wav/test/${model}" --sigma "${sigma}" --device "${device}"
    done
    done_in 3
fi

if runs 4; then
    begin 4 "evaluation"
    # One evaluation of both: metrics (EXP/eval/metrics.json, one record per model) and the
    # listening report EXP/eval/report.html.
    "${waveflow}" evaluate --ref "${dump}/wav/test" --gen "teacher=${exp}/wav/test/teacher" \
        --gen "student=${exp}/wav/test/student" --metrics "${metrics}" \
        --json "${exp}/eval/metrics.json" --html "${exp}/eval/report.html" --config "${conf}" \
        --title "Listening report: IAF student and its WaveGlow teacher, test set, sigma ${sigma}"
    echo
    echo "Summary (${exp}/eval/summary.json):"
    "${python}" "${recipe_dir}/local/distill_report.py" --teacher "${teacher}" \
        --student "${exp}/best.pt" --ref "${dump}/wav/test" --mels "${dump}/mels/test" \
        --teacher-gen "${exp}/wav/test/teacher" --student-gen "${exp}/wav/test/student" \
        --sigma "${sigma}" --device "${device}" --json "${exp}/eval/summary.json"
    done_in 4
fi
