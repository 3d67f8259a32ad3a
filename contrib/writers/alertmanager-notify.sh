#!/bin/sh
# SPDX-License-Identifier: MIT
# NotificationExec program for collectd's exec plugin: posts the alec
# plugin's fleet notifications to Alertmanager's API (v2, POST
# /api/v2/alerts) as the alerts of contrib/prometheus/alec.rules.yml, with
# the same names and labels, for sites without Prometheus:
#
#   WARNING  -> AlecEmitterDeviates  severity=warning
#   FAILURE  -> AlecEmitterFailure   severity=critical
#   a fleet shift (meta Kind fleet-shift) -> AlecFleetShift severity=warning
#   labels group (plugin instance), host, channel (type-type_instance);
#   annotations summary (the message), score, value, median, mad, peers
#   OKAY     -> the same alerts posted again with endsAt = now: resolved
#
# Usage (notifications-alertmanager.conf):
#   NotificationExec "nobody:nogroup" "/usr/share/collectd-alec/alertmanager-notify.sh" "http://127.0.0.1:9093"
#
# collectd notifications are edges (one on entry, one OKAY on exit) while
# Alertmanager expects a firing alert to be posted again and again and ends
# it resolve_timeout after the last post. So an entry is posted with an
# endsAt ALEC_AM_HOLD seconds ahead (default 86400; the optional second
# argument): the alert stays firing until the OKAY, or until then when the
# OKAY never comes (collectd restarted, notification lost). Prometheus
# re-evaluates instead: prefer contrib/prometheus/alec.rules.yml where
# Prometheus runs. Other notifications (other plugins, priority frames) are
# ignored. Needs curl; exits 0 when Alertmanager is unreachable (exec would
# only log it) after writing the reason to stderr (collectd's log).
set -u
url=${1:?usage: alertmanager-notify.sh ALERTMANAGER_URL [HOLD_SECONDS]}
hold=${2:-${ALEC_AM_HOLD:-86400}}
severity="" time="" host="" plugin="" pinst="" type="" tinst="" kind=""
score="" value="" median="" mad="" peers="" message=""
in_headers=1
while IFS= read -r line || [ -n "$line" ]; do
  if [ "$in_headers" -eq 1 ]; then
    if [ -z "$line" ]; then
      in_headers=0
      continue
    fi
    key=${line%%:*}
    val=${line#*:}
    val=${val# }
    case "$key" in
      Severity) severity=$val ;;
      Time) time=$val ;;
      Host) host=$val ;;
      Plugin) plugin=$val ;;
      PluginInstance) pinst=$val ;;
      Type) type=$val ;;
      TypeInstance) tinst=$val ;;
      Kind) kind=$val ;;
      Score) score=$val ;;
      CurrentValue) value=$val ;;
      FleetMedian) median=$val ;;
      FleetMAD) mad=$val ;;
      Peers) peers=$val ;;
    esac
  else
    message="$message${message:+ }$line"
  fi
done
[ "$plugin" = alec ] || exit 0
case "$kind" in emitter | fleet-shift) ;; *) exit 0 ;; esac

# A JSON string: backslash and quote escaped, control characters dropped.
js() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"; }
rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.%3NZ; }

now=$(date +%s)
case "$time" in '' | *[!0-9.]*) time=$now ;; esac
channel=$type${tinst:+-$tinst}

# "key":"value" pairs of the non-empty values: $1 key, $2 value, ...
pairs() {
  sep=""
  while [ $# -ge 2 ]; do
    [ -n "$2" ] && printf '%s"%s":%s' "$sep" "$1" "$(js "$2")" && sep=","
    shift 2
  done
}

# One alert object: $1 alertname, $2 severity, $3 endsAt (RFC 3339).
alert() {
  printf '{"labels":{%s},"annotations":{%s},"startsAt":"%s","endsAt":"%s"}' \
    "$(pairs alertname "$1" severity "$2" group "$pinst" host "$host" channel "$channel")" \
    "$(pairs summary "$message" score "$score" value "$value" median "$median" mad "$mad" peers "$peers")" \
    "$(rfc3339 "$time")" "$3"
}

ends=$(rfc3339 "$((now + hold))")
past=$(rfc3339 "$time")
case "$kind:$severity" in
  emitter:WARNING) body="[$(alert AlecEmitterDeviates warning "$ends")]" ;;
  emitter:FAILURE) body="[$(alert AlecEmitterFailure critical "$ends")]" ;;
  # Either may be firing (WARNING then FAILURE): end both. The startsAt of
  # a resolution is ignored for an alert Alertmanager has.
  emitter:OKAY) body="[$(alert AlecEmitterDeviates warning "$past"),$(alert AlecEmitterFailure critical "$past")]" ;;
  fleet-shift:OKAY) body="[$(alert AlecFleetShift warning "$past")]" ;;
  fleet-shift:*) body="[$(alert AlecFleetShift warning "$ends")]" ;;
  *) exit 0 ;;
esac

if ! err=$(printf '%s' "$body" | curl -s -S -f -m 5 -X POST -H 'Content-Type: application/json' \
  --data-binary @- "${url%/}/api/v2/alerts" 2>&1); then
  echo "alertmanager-notify: POST ${url%/}/api/v2/alerts failed: $err" >&2
fi
exit 0
