#!/usr/bin/env bash
# Run chapters' `book` profile on one GPU machine, seeds in parallel, and store the outputs.
#
#   SR_DATA=... SRBOOK_COMMIT=<sha> scripts/book_on_gpu.sh OUTDIR NOTEBOOK[:SKIP,SKIP] ...
#
# Stage 1 trains every seed of every chapter at once, one process per (chapter, seed): the
# chapter notebook itself with `seeds=[k]`, so there is no second copy of its training code.
# Small SR networks leave a GPU mostly idle, so several processes keep it busier than one
# chapter training its seeds in turn (though they take turns on it: see below). Stage 2 runs each whole chapter with every seed through
# scripts/run_section.py (sections after ':' keep their stored outputs): its trainings resume
# from the finished checkpoints, so it only scores, plots and writes the outputs back. The
# printed training minutes are stage 1's, measured while the processes shared the GPU.
# Measured on 2026-11-30 (one H200, 16 cores): with Chapters 3 and 5 at once (six processes),
# Chapter 5's three seeds finished inside 395 s, while Chapter 3's were still in their Table 1
# trainings (at least 2,300 of 22,500 iterations done each): give Chapter 3 a call of its own, and
# time one seed alone first, since processes that share a GPU take turns on it.
# SRBOOK_COMMIT names the commit of the sent tree (the machine may hold an older .git, or none).
set -uo pipefail
out=$(realpath "${1:?usage: book_on_gpu.sh OUTDIR NOTEBOOK[:SKIP,...] ...}"); shift
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out/logs"
export SRBOOK_STATIC=1 TQDM_DISABLE=1 PYTHONUNBUFFERED=1
# one run id for every process of this call: seeds trained in stage 1 count as "trained in this
# run" when stage 2 resumes them (sr_lib.records)
export SRBOOK_RUN="${SRBOOK_RUN:-gpu$(date +%s)}"
seeds=${SEEDS:-"0 1 2"}
profile=${PROFILE:-book}  # smoke: a quick local try of this script
python=${PYTHON:-python3}
stage1_limit=${STAGE1_LIMIT:-420}

cd "$root/notebooks"
start=$(date +%s)
pids=()
for spec in "$@"; do
    nb=${spec%%:*}
    for seed in $seeds; do
        OMP_NUM_THREADS=2 timeout "$stage1_limit" "$python" -m papermill "$nb" \
            "/tmp/stage1_${nb%.ipynb}_seed$seed.ipynb" -p profile "$profile" -y "seeds: [$seed]" \
            --cwd . --log-output > "$out/logs/stage1_${nb%.ipynb}_seed$seed.log" 2>&1 &
        pids+=("$!:${nb}:seed$seed")
    done
done
failed=0
for p in "${pids[@]}"; do
    wait "${p%%:*}"; rc=$?
    echo "stage 1 ${p#*:}: exit $rc after $(( $(date +%s) - start )) s"
    [ "$rc" -eq 0 ] || failed=1
done
if [ "$failed" -ne 0 ]; then
    echo "stage 1 failed: the checkpoints written so far stay under notebooks/runs/"
    exit 1
fi

pids=()
for spec in "$@"; do
    nb=${spec%%:*}; skips=()
    if [ "$spec" != "$nb" ]; then
        IFS=, read -ra names <<< "${spec#*:}"
        for s in "${names[@]}"; do skips+=(--skip "$s"); done
    fi
    OMP_NUM_THREADS=8 "$python" "$root/scripts/run_section.py" "$nb" all "${skips[@]}" \
        --profile "$profile" > "$out/logs/stage2_${nb%.ipynb}.log" 2>&1 &
    pids+=("$!:$nb")
done
for p in "${pids[@]}"; do
    wait "${p%%:*}"; rc=$?
    echo "stage 2 ${p#*:}: exit $rc after $(( $(date +%s) - start )) s"
    [ "$rc" -eq 0 ] && cp "${p#*:}" "$out/"
done
