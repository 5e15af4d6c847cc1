#!/usr/bin/env bash
# The demo: one county node on the embedded defaults (SQLite in ./demo-data), the real
# Guang'an district catalog, one case walked from filing to delivery, its timeline and the
# audit of the log. Run it with `make demo`; it starts afresh each time.
set -euo pipefail
cd "$(dirname "$0")/.."
Y=".venv/bin/yiwang"
export YIWANG_HOME="$PWD/demo-data/511602000000"
export YIWANG_ACTOR="window-01"
export COLUMNS="${COLUMNS:-120}"
rm -rf demo-data
CATALOG="../shared/data/catalog_sichuan_511602.csv"
[ -f "$CATALOG" ] || { echo "demo: $CATALOG is missing (the shared data folder sits beside the repository)" >&2; exit 1; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Create the node of 广安区 (county 511602000000)"
$Y init --code 511602000000

step "Import the real district catalog (1,135 items)"
$Y catalog import "$CATALOG"
ITEM="511A0138600000-511602000000-000-115113010833722043-1-00"
$Y catalog show "$ITEM"

step "A resident files for 教师资格认定 at the window; personal data is sealed at once"
CASE=$($Y case file --item "$ITEM" --name "张三" --id 11010519491231002X --phone 13800000000 --json \
  | .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["case_no"])')
echo "filed $CASE"

step "Accept with one material missing (容缺受理), review, supplement, decide, deliver, evaluate"
$Y case accept "$CASE" --material 体检表
$Y case review "$CASE"
$Y case supplement "$CASE" --material 体检表
$Y case decide "$CASE" --approve --result-ref "教资认定-2026-0001"
$Y case deliver "$CASE" --method window
$Y case evaluate "$CASE" --level 1

step "The case and its timeline"
$Y case show "$CASE"

step "The log verifies: every hash chain and every signed head"
$Y audit verify

step "Working days around the 2027 New Year (not covered yet: provisional)"
$Y calendar show --from 2026-12-28 --to 2027-01-05
echo
echo "demo data is in $YIWANG_HOME; try: YIWANG_HOME=$YIWANG_HOME $Y case list"
