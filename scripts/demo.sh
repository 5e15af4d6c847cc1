#!/usr/bin/env bash
# The demo (`make demo`): a local federation of real processes for one branch of Sichuan
# (四川省 > 广安市 > 广安区 > 浓洄街道 > two villages), enrolled through the CLI; the real
# Guang'an district catalog imported at the county and replicated down to the villages; items
# opened to errands by the county (its 代办事项清单); a village agent's errand filed for a
# resident, handled at the county after a custody move, and delivered and evaluated back at the
# village; seen at the province as an outline without personal data; a refusal
# without reasons caught by electronic supervision and a 差评 rectified, both seen at the
# province; a joint review (并联审批) by three county departments and the city at once; the
# province's figures, a level down, a recount, last month signed off bottom-up
# and the HTML report; every log verified. It starts afresh each time and stops
# every node it started (by pid) when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
Y=".venv/bin/yiwang"
export COLUMNS="${COLUMNS:-120}"
export YIWANG_LANG="${YIWANG_LANG:-zh_CN}"  # the operators' language; YIWANG_LANG=en make demo for English
SIM="demo-data"
CATALOG="../shared/data/catalog_sichuan_511602.csv"
[ -f "$CATALOG" ] || { echo "demo: $CATALOG is missing (the shared data folder sits beside the repository)" >&2; exit 1; }
PROVINCE="$SIM/510000000000" CITY="$SIM/511600000000" COUNTY="$SIM/511602000000"
TOWNSHIP="$SIM/511602001000" VILLAGE="$SIM/511602001001"
ITEM="511A0138600000-511602000000-000-115113010833722043-1-00"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_until() {  # wait_until SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  for _ in $(seq 1 "$limit"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "demo: timed out waiting for $what" >&2; return 1
}
case_no() { .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["case_no"])'; }

rm -rf "$SIM"
step "Start the federation: six nodes, each child enrolled with a one-time token from its parent"
$Y sim --dir "$SIM" --branch 511602001000 --detach
trap '$Y sim stop --dir "$SIM" >/dev/null' EXIT
wait_until 30 "the village link" sh -c "$Y status -d $VILLAGE --json | grep -q '\"connected\"'"
$Y status -d "$COUNTY"

step "Each office's operators get accounts with roles; the log records who acted"
echo "demo-pass-01" | $Y users add 窗口-王 --role clerk --role reviewer --role decider --password-stdin -d "$COUNTY"
echo "demo-pass-02" | $Y users add 代办员-李 --role agent --role clerk --password-stdin -d "$VILLAGE"
$Y users list -d "$COUNTY"

step "The county imports its real catalog (1,135 items); the villages receive it over the links"
$Y catalog import "$CATALOG" -d "$COUNTY"
wait_until 60 "the catalog at the village" $Y catalog show "$ITEM" -d "$VILLAGE" --json
$Y catalog show "$ITEM" -d "$VILLAGE"

step "The county opens items to village agents' errands (its 代办事项清单); the list reaches the villages"
$Y catalog errands open "$ITEM" 511A0138000000-511602000000-000-115113010833722043-1-00 -d "$COUNTY"
wait_until 60 "the errand list at the village" sh -c "$Y catalog errands list -d $VILLAGE --csv | grep -q $ITEM"
$Y catalog errands list -d "$VILLAGE"

step "The village agent files an errand for a resident who consented; the data is sealed there and the case offered to the county"
V_CASE=$(YIWANG_ACTOR=代办员-李 $Y case file --item "$ITEM" --agent 代办员-李 --consent --name "李四" --id 440524188001010014 --phone 13900000000 -d "$VILLAGE" --json | case_no)
echo "filed $V_CASE at 翠屏路社区 as an errand of 代办员-李, custody offered to 广安区"

step "The county takes custody (the applicant's bundle follows, re-sealed for it), accepts, decides, and hands the result back"
wait_until 60 "the offer at the county" sh -c "$Y case show $V_CASE -d $COUNTY --json | grep -q '\"offered_to\": \"511602000000\"'"
export YIWANG_ACTOR=窗口-王
$Y case take "$V_CASE" -d "$COUNTY"
wait_until 60 "the bundle at the county" sh -c "$Y case show $V_CASE --reveal -d $COUNTY --json | grep -q applicant"
$Y case accept "$V_CASE" --material 体检表 -d "$COUNTY"
$Y case supplement "$V_CASE" --material 体检表 -d "$COUNTY"
$Y case decide "$V_CASE" --approve --result-ref "教资认定-2026-0001" -d "$COUNTY"
$Y case offer "$V_CASE" --to 511602001001 --purpose result -d "$COUNTY"

step "Back at the village: take the result, deliver it to the resident, record the evaluation (好差评)"
wait_until 60 "the result at the village" sh -c "$Y case show $V_CASE -d $VILLAGE --json | grep -q '\"offered_to\": \"511602001001\"'"
export YIWANG_ACTOR=代办员-李
$Y case take "$V_CASE" -d "$VILLAGE"
$Y case deliver "$V_CASE" -d "$VILLAGE"
$Y case evaluate "$V_CASE" --level 1 -d "$VILLAGE"
$Y case show "$V_CASE" -d "$VILLAGE"

unset YIWANG_ACTOR

step "The province holds the case as an outline: status, timeline, custody, no personal data"
wait_until 60 "the evaluation at the province" sh -c "$Y case show $V_CASE -d $PROVINCE --json | grep -q evaluated"
$Y case show "$V_CASE" -d "$PROVINCE"
$Y case list -d "$PROVINCE"

step "Electronic supervision: a refusal at the county without reasons is carded by the county's scan and seen at the province"
export YIWANG_ACTOR=窗口-王
C_CASE=$($Y case file --item "$ITEM" --name "王五" --id 440524188001010014 -d "$COUNTY" --json | case_no)
$Y case reject "$C_CASE" --reason "不行" -d "$COUNTY"
unset YIWANG_ACTOR
$Y alarms scan -d "$COUNTY"
wait_until 60 "the alarm at the province" sh -c "$Y alarms supervision --rule reasons -d $PROVINCE --json | grep -q $C_CASE"
$Y alarms supervision -d "$PROVINCE"

step "好差评: the resident rates the refusal 非常不满意 (extra materials); the county calls back and rectifies"
YIWANG_ACTOR=窗口-王 $Y case evaluate "$C_CASE" --level 5 --cause extra_materials -d "$COUNTY"
YIWANG_ACTOR=窗口-王 $Y review callback "$C_CASE" --note "已电话回访, 说明补正要求" -d "$COUNTY"
YIWANG_ACTOR=窗口-王 $Y review rectify "$C_CASE" --note "窗口一次性告知清单已更新" -d "$COUNTY"
wait_until 60 "the rectification at the province" sh -c "$Y review list -d $PROVINCE --json | .venv/bin/python -c 'import json, sys; sys.exit(not any(t[\"rectified_at\"] for t in json.load(sys.stdin)))'"
$Y review list -d "$PROVINCE"

step "并联审批: an enterprise investment item reviewed by three county departments and the city at once; one disagrees, the county denies"
JOINT="511Z07001006-511602000000-000-11511301008778183N-1-09"
cat > "$SIM/joint.json" <<JSON
[{"basic_code": "511Z07001006", "implementation_code": "$JOINT", "name": "企业投资项目核准（联审）",
  "power_type": "01", "department": "区经信局", "dept_credit_code": "11511301008778183N",
  "division_code": "511602000000", "service_objects": ["2"], "legal_limit_days": 45,
  "joint_review": {"reviewers": [
    {"department": "11511301008778183N", "name": "区经信局", "limit_days": 5},
    {"department": "11511301008778255F", "name": "区住建局", "limit_days": 5},
    {"department": "11511301008778423H", "name": "区农业农村局", "limit_days": 5},
    {"department": "11511301008778490F", "name": "市卫健委", "node": "city", "limit_days": 10}]}}]
JSON
$Y catalog import "$SIM/joint.json" -d "$COUNTY"
echo "demo-pass-04" | $Y users add 卫健-孙 --role reviewer --password-stdin -d "$CITY"
export YIWANG_ACTOR=窗口-王
J_CASE=$($Y case file --item "$JOINT" --kind 2 --name "广安某实业有限公司" --id 91110000600037341L -d "$COUNTY" --json | case_no)
$Y case accept "$J_CASE" -d "$COUNTY"
$Y joint request "$J_CASE" -d "$COUNTY"
$Y joint answer "$J_CASE" --department 11511301008778183N --verdict agree -d "$COUNTY"
$Y joint answer "$J_CASE" --department 11511301008778255F --verdict disagree --reasons "选址不符合国土空间规划" -d "$COUNTY"
$Y joint answer "$J_CASE" --department 11511301008778423H --verdict agree -d "$COUNTY"
wait_until 60 "the request at the city" sh -c "$Y joint queue -d $CITY --json | grep -q $J_CASE"
YIWANG_ACTOR=卫健-孙 $Y joint answer "$J_CASE" --department 11511301008778490F --verdict agree_forward --forward-to "省卫生健康委" -d "$CITY"
wait_until 60 "the city's opinion at the county" sh -c "$Y joint show $J_CASE -d $COUNTY --json | grep -q agree_forward"
$Y case decide "$J_CASE" --approve -d "$COUNTY" || echo "(refused, as it must be: a reasoned 不同意 stands unless the county takes the responsibility)"
$Y case decide "$J_CASE" --deny --reason "选址不符合国土空间规划（区住建局联审意见）" -d "$COUNTY"
unset YIWANG_ACTOR
$Y joint show "$J_CASE" -d "$COUNTY"
wait_until 60 "the decision at the province" sh -c "$Y case show $J_CASE -d $PROVINCE --json | grep -q denied"
$Y stats reviewers -d "$PROVINCE"

step "The province's figures, counted as entries arrive: the whole province, then a level down, then a recount from the log"
MONTH=$(TZ=Asia/Shanghai date +%Y-%m)
$Y stats --period "$MONTH" -d "$PROVINCE"
$Y stats --period "$MONTH" --by --division 511602000000 -d "$PROVINCE"
$Y stats verify -d "$PROVINCE"

step "Last month's figures signed off bottom-up: the city is refused before its county, then every tier signs"
LAST=$(TZ=Asia/Shanghai date -d "$(TZ=Asia/Shanghai date +%Y-%m-01) -1 day" +%Y-%m)
$Y stats sign --period "$LAST" -d "$CITY" || echo "(refused, as it must be: the county has not signed)"
for node in 511602001001 511602001002 511602001000 511602000000 511600000000 510000000000; do
  # a parent's sign-off is refused until its children's have reached it over the links
  wait_until 60 "the sign-off of $node" $Y stats sign --period "$LAST" -d "$SIM/$node"
done
$Y stats status --period "$LAST" -d "$PROVINCE"

step "The province's report for this month: one HTML file in Chinese, charts inline, nothing fetched"
$Y report --period "$MONTH" --out "$SIM/report.html" -d "$PROVINCE"

step "The consoles (yiwang run's web port, in Chinese): the county's workbench, the village agent's errands, the province's supervision"
echo "demo-pass-03" | $Y users add 监察-赵 --role supervisor --password-stdin -d "$PROVINCE"
PEEK=".venv/bin/python scripts/console_peek.py"
W_CASE=$(YIWANG_ACTOR=窗口-王 $Y case file --item "$ITEM" --name "赵六" --id 440524188001010014 -d "$COUNTY" --json | case_no)
YIWANG_ACTOR=窗口-王 $Y case accept "$W_CASE" --material 体检表 -d "$COUNTY" >/dev/null
$PEEK "$COUNTY" 窗口-王 demo-pass-01 "/work?q=review" "/cases/$W_CASE"
$PEEK "$VILLAGE" 代办员-李 demo-pass-02 /errands
$PEEK "$PROVINCE" 监察-赵 demo-pass-03 /supervision
for node in "$COUNTY" "$VILLAGE" "$PROVINCE"; do
  echo "open http://$(.venv/bin/python -c 'import json, sys; print(json.load(open(sys.argv[1]))["web"])' "$node/run.json")/ in a browser ($(basename "$node"))"
done

step "Who runs what: each node announced its yiwang version, and the province sees all six"
wait_until 60 "six versions at the province" sh -c "$Y versions -d $PROVINCE --json | .venv/bin/python -c 'import json, sys; sys.exit(len(json.load(sys.stdin)) != 6)'"
$Y versions -d "$PROVINCE"

step "Every node's log verifies (the province checks every relayed chain and signed head)"
for node in "$SIM"/5*; do $Y audit verify -d "$node" --json | .venv/bin/python -c "import json, sys; r = json.load(sys.stdin); print('$node', 'ok' if r['ok'] else 'BAD', sum(s['entries'] for s in r['streams']), 'entries')"; done

