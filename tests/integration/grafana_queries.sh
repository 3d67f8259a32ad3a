#!/bin/bash
# SPDX-License-Identifier: MIT
# Every InfluxQL query of the Grafana dashboards in contrib/grafana/*.json
# (panel targets and template variable queries) runs against an InfluxDB
# fed by collectd with the shipped configurations and the spike fleet (the
# fixture of writers_influxdb.sh) and must return data. The template
# variables are substituted twice: with one emitter (emitter 5, group hall)
# and with Grafana's "All" value (.*); Grafana's $timeFilter and
# $__interval become "time > now() - 15m" and 1s. A query naming a variable
# the test does not know fails, as does a dashboard that does not parse or
# has a target that is not a raw InfluxQL query.
IT_LIMIT=180
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/writers_lib.sh"

wr_require influxd influx curl python3
it_require_plugin
it_mktemp

dashboards=$(ls "$IT_SRCDIR"/contrib/grafana/*.json 2>/dev/null)
[ -n "$dashboards" ] || it_fail "no dashboard in contrib/grafana"

# One query per line: "<dashboard>\t<where>\t<query with variables>".
python3 - "$IT_TMP/queries.tsv" $dashboards <<'EOF' || it_fail "cannot extract the queries (see above)"
import json
import os
import sys

out = open(sys.argv[1], "w")
bad = 0
for path in sys.argv[2:]:
    name = os.path.basename(path)
    d = json.load(open(path))
    ids = set()

    def panels(ps):
        for p in ps:
            yield p
            yield from panels(p.get("panels", []))

    for p in panels(d.get("panels", [])):
        if p.get("id") in ids:
            print(f"{name}: panel id {p.get('id')} used twice")
            bad += 1
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        if g.get("x", 0) + g.get("w", 0) > 24:
            print(f"{name}: panel {p.get('title')!r} wider than the grid")
            bad += 1
        for t in p.get("targets", []):
            q = t.get("query", "")
            if not t.get("rawQuery") or not q.strip():
                print(f"{name}: panel {p.get('title')!r} target {t.get('refId')}: not a raw InfluxQL query")
                bad += 1
                continue
            where = f"panel {p.get('title')!r} {t.get('refId')}"
            out.write(f"{name}\t{where}\t{' '.join(q.split())}\n")
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            if isinstance(q, dict):
                q = q.get("query", "")
            out.write(f"{name}\tvariable ${v.get('name')}\t{' '.join(str(q).split())}\n")
sys.exit(1 if bad else 0)
EOF
it_say "$(wc -l <"$IT_TMP/queries.tsv") queries in $(echo "$dashboards" | wc -w) dashboard(s)"

wr_influx_start
wr_influx_fleet
# Rates need two points per series: let a few read intervals pass.
wr_influx_wait "SELECT count(\"value\") FROM \"alec_value\" WHERE \"type\" = 'alec_score'
  AND \"host\" = '$WR_HOST_TARGET'" 5 15
sleep 2

# Substitutes the variables of query $1; set $2: "one" or "all".
substitute() {
  local q=$1 emitter group
  if [ "$2" = one ]; then
    emitter=$WR_HOST_TARGET
    group=$WR_GROUP
  else
    emitter='.*'
    group='.*'
  fi
  printf '%s' "$q" | sed \
    -e 's/\$timeFilter/time > now() - 15m/g; s/\${timeFilter}/time > now() - 15m/g' \
    -e 's/\$__interval\b/1s/g; s/\${__interval}/1s/g' \
    -e "s/\\\$collector\\b/$WR_RECEIVER/g; s/\\\${collector}/$WR_RECEIVER/g" \
    -e "s/\\\$emitter\\b/$emitter/g; s/\\\${emitter}/$emitter/g" \
    -e "s/\\\$group\\b/$group/g; s/\\\${group}/$group/g"
}

n=0
while IFS="$(printf '\t')" read -r dash where query; do
  for set in one all; do
    q=$(substitute "$query" "$set")
    # Anything left like $name or ${name} is a variable the test ignores
    # ("$/" ends a regular expression).
    if printf '%s' "$q" | grep -q -E '\$[A-Za-z_{]|\[\['; then
      it_check_fail "$dash $where: unknown variable in: $q"
      continue
    fi
    res=$(wr_influx_query "$q")
    rows=$(printf '%s\n' "$res" | grep -v -E '^(name,|$)' | grep -c . || true)
    if printf '%s' "$res" | grep -q '^ERR'; then
      it_check_fail "$dash $where ($set): $(printf '%s' "$res" | grep '^ERR' | head -n 1) in: $q"
    elif [ "$rows" -eq 0 ]; then
      it_check_fail "$dash $where ($set): no result for: $q"
    else
      n=$((n + 1))
      [ "${WR_VERBOSE:-0}" = 1 ] && it_say "$where ($set): $rows rows"
    fi
  done
done <"$IT_TMP/queries.tsv"
it_say "$n query runs returned data"

# A few results that must be exact, via the dashboard's own queries.
state_query=$(awk -F '\t' '$2 ~ /Current state/ && $3 ~ /alec_anomaly/ { print $3; exit }' "$IT_TMP/queries.tsv")
if [ -n "$state_query" ]; then
  st=$(wr_influx_query "$(substitute "$state_query" one)" | grep -v '^name,' | awk -F, '{ print $NF }' | head -n 1)
  if [ "$st" = 2 ]; then
    it_ok "table 'Current state': $WR_HOST_TARGET in state 2 (failure)"
  else
    it_check_fail "table 'Current state': $WR_HOST_TARGET state '$st', want 2"
  fi
fi
anom_query=$(awk -F '\t' '$2 ~ /Anomalous emitters/ { print $3; exit }' "$IT_TMP/queries.tsv")
if [ -n "$anom_query" ]; then
  a=$(wr_influx_query "$(substitute "$anom_query" one)" | awk -F, '{ print $NF }' | head -n 1)
  if [ "$a" = 1 ]; then
    it_ok "stat 'Anomalous emitters': 1"
  else
    it_check_fail "stat 'Anomalous emitters': '$a', want 1"
  fi
fi

it_stop
[ "$IT_STATUS" -eq 0 ] || it_check_fail "collectd exited with status $IT_STATUS"
wr_influx_stop
[ "$IT_FAILED" -eq 0 ] || exit 1
exit 0
