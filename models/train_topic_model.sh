#!/usr/bin/env bash
# Reproduces models/topic.ftz, kabar's default topic model (see topic.md).
#
#   models/train_topic_model.sh [--output FILE] [--eval_dir DIR] \
#       [DATASETS_DIR [KABAR_TRAIN]]
#
#   DATASETS_DIR  holds sib200/ and masakhanews/ (default: ../shared/datasets
#                 relative to the repository root)
#   KABAR_TRAIN   the kabar-train binary (default: build/bin/kabar-train)
#   --output      where to write the model (default: models/topic.ftz)
#   --eval_dir    also write the dev-set reports shown in topic.md there
#                 (sib200_dev.md, masakhanews_dev.md and .json twins)
#
# Training uses one thread and a fixed seed, so the same kabar-train build
# on the same data writes a byte-identical file (fastText is only
# reproducible with one thread). It takes about 7 CPU-minutes on one core.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
output=$repo/models/topic.ftz
eval_dir=""
positional=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --output) output=$2; shift 2 ;;
    --output=*) output=${1#*=}; shift ;;
    --eval_dir) eval_dir=$2; shift 2 ;;
    --eval_dir=*) eval_dir=${1#*=}; shift ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) positional+=("$1"); shift ;;
  esac
done
datasets=${positional[0]:-$repo/../shared/datasets}
kabar_train=${positional[1]:-$repo/build/bin/kabar-train}

die() { echo "train_topic_model.sh: $*" >&2; exit 1; }
[[ -x $kabar_train ]] || die "no kabar-train at $kabar_train (build it: make -C build kabar-train)"
[[ -f $datasets/sib200/train.tsv ]] || die "no SIB-200 data under $datasets/sib200"
[[ -d $datasets/masakhanews ]] || die "no MasakhaNEWS data under $datasets/masakhanews"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# MasakhaNEWS calls it technology; SIB-200 (and kabar) science/technology.
printf 'technology\tscience/technology\n' >"$work/label_map.tsv"

# MasakhaNEWS languages with a train split train on it and report on dev.
# The others have only dev.tsv: half of it (stratified, seed 1) trains,
# the other half is what we report on.
with_train=(ibo lin lug orm pcm run sna som xho yor)
dev_only=(amh eng fra hau swa tir)
for lang in "${dev_only[@]}"; do
  "$kabar_train" split --input="$datasets/masakhanews/$lang/dev.tsv" \
    --fraction=0.5 --seed=1 --label_field=category \
    --output_first="$work/$lang.train.tsv" \
    --output_second="$work/$lang.eval.tsv"
done

# Each MasakhaNEWS file is label-balanced by the square root of its
# imbalance (%0.5, see `kabar-train train --help`): rare labels such as
# religion and technology are repeated, which lifts macro-F1.
readonly MASAKHANEWS_WEIGHT="%0.5"
train_inputs=(--input="$datasets/sib200/train.tsv")
sib_dev=(--input="$datasets/sib200/dev.tsv")
masakhanews_dev=()
for lang in "${with_train[@]}"; do
  train_inputs+=(--input="$lang=$datasets/masakhanews/$lang/train.tsv$MASAKHANEWS_WEIGHT")
  masakhanews_dev+=(--input="$lang=$datasets/masakhanews/$lang/dev.tsv")
done
for lang in "${dev_only[@]}"; do
  train_inputs+=(--input="$lang=$work/$lang.train.tsv$MASAKHANEWS_WEIGHT")
  masakhanews_dev+=(--input="$lang=$work/$lang.eval.tsv")
done

mkdir -p "$(dirname "$output")"
"$kabar_train" train "${train_inputs[@]}" \
  --text_fields=headline,text --label_field=category --lang_field=lang \
  --label_map="$work/label_map.tsv" \
  --epoch=10 --lr=0.5 --dim=16 --word_ngrams=2 --minn=4 --maxn=4 \
  --min_count=1 --bucket=2000000 --loss=softmax \
  --seed=1 --threads=1 --verbose=1 \
  --quantize --max_bytes=8000000 --retrain_epoch=3 \
  --output="$output"

if [[ -n $eval_dir ]]; then
  mkdir -p "$eval_dir"
  for format in text json; do
    ext=md
    [[ $format == json ]] && ext=json
    "$kabar_train" eval --model="$output" "${sib_dev[@]}" \
      --label_map="$work/label_map.tsv" --format=$format \
      --output="$eval_dir/sib200_dev.$ext"
    "$kabar_train" eval --model="$output" "${masakhanews_dev[@]}" \
      --label_map="$work/label_map.tsv" --format=$format \
      --output="$eval_dir/masakhanews_dev.$ext"
  done
  echo "reports in $eval_dir"
fi
sha256sum "$output"
