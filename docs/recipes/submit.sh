#!/bin/bash
# Counts DATA in SHARDS array tasks, then merges the parts into counts.json and prints the weights
# in the merge job's log. Run it from an empty folder (the tasks write parts/ there), with
# fastweights on PATH: the jobs inherit this shell's environment, as sbatch passes it on.
#   submit.sh DATA SHARDS [COUNT OPTIONS...]      e.g. submit.sh /data/masks 16 --ignore-index 255
set -euo pipefail
here=$(dirname "$0")
data=${1:?usage: submit.sh DATA SHARDS [COUNT OPTIONS...]}
export SHARDS=${2:?usage: submit.sh DATA SHARDS [COUNT OPTIONS...]}
shift 2
count=$(sbatch --parsable --array="0-$((SHARDS - 1))" "$here/count-array.sbatch" "$data" "$@")
count=${count%%;*} # --parsable prints "jobid" or "jobid;cluster"
merge=$(sbatch --parsable --dependency="afterok:$count" "$here/merge.sbatch")
echo "counting in job $count ($SHARDS tasks), then merging in job ${merge%%;*}"
