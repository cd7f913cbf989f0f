#!/usr/bin/env bash
# A pesim sweep as a Slurm job array: task K runs shard K/N (0-based).
#
#   sbatch deploy/slurm-sweep.sh
#   # when all tasks are done:
#   cat sweeps/pacing/shard-{0..7}/sweep.csv > pacing.csv
#
#SBATCH --job-name=pesim-sweep
#SBATCH --array=0-7            # N = 8 shards, indices 0..7
#SBATCH --cpus-per-task=2
#SBATCH --mem=1G
#SBATCH --time=01:00:00
#SBATCH --output=sweeps/pacing/slurm-%A_%a.log
set -euo pipefail

N=8
I=${SLURM_ARRAY_TASK_ID}
mkdir -p sweeps/pacing
pesim sweep scenarios/shop.yaml \
  --set pureconnect.pacing_rate_ms=3000,4000,5000 \
  --set workgroups.sales.agents.0.count=2,4,6,8 \
  --runs 20 \
  --threads "${SLURM_CPUS_PER_TASK}" \
  --shard "${I}/${N}" \
  --out "sweeps/pacing/shard-${I}"
