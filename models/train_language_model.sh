#!/usr/bin/env bash
# Reproduces models/language.ftz, kabar's own language-ID model (see
# language.md), and optionally its dev-set reports.
#
#   models/train_language_model.sh [--output FILE] [--eval_dir DIR] \
#       [DATASETS_DIR [KABAR_TRAIN]]
#
#   DATASETS_DIR  holds sib200/ and masakhanews/ (default: ../shared/datasets
#                 relative to the repository root)
#   KABAR_TRAIN   the kabar-train binary (default: build/bin/kabar-train)
#   --output      where to write the model (default: models/language.ftz)
#   --eval_dir    also write the dev-set reports shown in language.md there:
#                 SET_dev.{kabar,lid176,combined}.{md,json} for SET sib200
#                 (one sentence per text) and masakhanews (articles): the
#                 model alone, lid.176 alone and both combined, the last two
#                 as kabar-classify answers (needs models/lid.176.ftz)
#
# Labels are kabar language codes: every language name goes through
# models/language_codes.tsv. Training uses one thread and a fixed seed, so
# the same kabar-train build on the same data writes a byte-identical file
# (fastText is only reproducible with one thread).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
output=$repo/models/language.ftz
eval_dir=""
positional=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --output) output=$2; shift 2 ;;
    --output=*) output=${1#*=}; shift ;;
    --eval_dir) eval_dir=$2; shift 2 ;;
    --eval_dir=*) eval_dir=${1#*=}; shift ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) positional+=("$1"); shift ;;
  esac
done
datasets=${positional[0]:-$repo/../shared/datasets}
kabar_train=${positional[1]:-$repo/build/bin/kabar-train}
codes=$repo/models/language_codes.tsv

die() { echo "train_language_model.sh: $*" >&2; exit 1; }
[[ -x $kabar_train ]] || die "no kabar-train at $kabar_train (build it: cmake --build build --target kabar-train)"
[[ -f $datasets/sib200/train.tsv ]] || die "no SIB-200 data under $datasets/sib200"
[[ -d $datasets/masakhanews ]] || die "no MasakhaNEWS data under $datasets/masakhanews"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Each MasakhaNEWS language by its FLORES-200 code, so one table maps both
# datasets (pcm_Latn, Naija, is not in FLORES; the table adds it).
declare -A flores=(
  [amh]=amh_Ethi [eng]=eng_Latn [fra]=fra_Latn [hau]=hau_Latn
  [ibo]=ibo_Latn [lin]=lin_Latn [lug]=lug_Latn [orm]=gaz_Latn
  [pcm]=pcm_Latn [run]=run_Latn [sna]=sna_Latn [som]=som_Latn
  [swa]=swh_Latn [tir]=tir_Ethi [xho]=xho_Latn [yor]=yor_Latn
)
# Languages with a train split train on it and report on dev. The others
# have only dev.tsv: the same half of it as the topic model (stratified by
# topic, seed 1) trains, the other half is what we report on.
with_train=(ibo lin lug orm pcm run sna som xho yor)
dev_only=(amh eng fra hau swa tir)
for lang in "${dev_only[@]}"; do
  "$kabar_train" split --input="$datasets/masakhanews/$lang/dev.tsv" \
    --fraction=0.5 --seed=1 --label_field=category \
    --output_first="$work/$lang.train.tsv" \
    --output_second="$work/$lang.eval.tsv" >/dev/null
done

# Language ID needs far fewer articles than topics do: a third of each
# train split (stratified by topic, seed 1) is plenty and keeps training
# time down (the articles would otherwise be 60% of the words).
for lang in "${with_train[@]}"; do
  "$kabar_train" split --input="$datasets/masakhanews/$lang/train.tsv" \
    --fraction=0.34 --seed=1 --label_field=category \
    --output_first="$work/$lang.train.tsv" \
    --output_second="$work/$lang.unused.tsv" >/dev/null
done

train_inputs=(--input="$datasets/sib200/train.tsv")
sib_dev=(--input="$datasets/sib200/dev.tsv")
masakhanews_dev=()
for lang in "${with_train[@]}"; do
  train_inputs+=(--input="${flores[$lang]}=$work/$lang.train.tsv")
  masakhanews_dev+=(--input="${flores[$lang]}=$datasets/masakhanews/$lang/dev.tsv")
done
for lang in "${dev_only[@]}"; do
  train_inputs+=(--input="${flores[$lang]}=$work/$lang.train.tsv")
  masakhanews_dev+=(--input="${flores[$lang]}=$work/$lang.eval.tsv")
done
mapping=(--text_fields=headline,text --lang_field=lang --label_from_lang
         --label_map="$codes")

mkdir -p "$(dirname "$output")"
"$kabar_train" train "${train_inputs[@]}" "${mapping[@]}" \
  --epoch=5 --lr=0.8 --dim=16 --word_ngrams=1 --minn=2 --maxn=5 \
  --min_count=5 --bucket=900000 --loss=softmax --shuffle \
  --seed=1 --threads=1 --verbose=1 \
  --quantize --max_bytes=20000000 \
  --output="$output"

if [[ -n $eval_dir ]]; then
  mkdir -p "$eval_dir"
  lid176=$repo/models/lid.176.ftz
  topic=$repo/models/topic.ftz
  [[ -f $lid176 ]] || die "no $lid176 (run models/fetch_models.sh)"
  for set in sib200 masakhanews; do
    inputs=("${sib_dev[@]}")
    [[ $set == masakhanews ]] && inputs=("${masakhanews_dev[@]}")
    for format in text json; do
      ext=md
      [[ $format == json ]] && ext=json
      # kabar's model alone, lid.176 alone as kabar-classify serves it, and
      # both combined as kabar-classify serves them (default thresholds).
      "$kabar_train" eval --model="$output" "${inputs[@]}" "${mapping[@]}" \
        --format=$format --output="$eval_dir/${set}_dev.kabar.$ext"
      "$kabar_train" eval --model= --lid_model="$lid176" --topic_model="$topic" \
        "${inputs[@]}" "${mapping[@]}" \
        --format=$format --output="$eval_dir/${set}_dev.lid176.$ext"
      "$kabar_train" eval --model="$output" --lid_model="$lid176" \
        --topic_model="$topic" "${inputs[@]}" "${mapping[@]}" \
        --format=$format --output="$eval_dir/${set}_dev.combined.$ext"
    done
  done
  echo "reports in $eval_dir"
fi
sha256sum "$output"
