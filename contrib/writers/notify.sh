#!/bin/sh
# SPDX-License-Identifier: MIT
# NotificationExec program for collectd's exec plugin (notifications.conf):
# reads one notification on standard input (header lines "Key: value", then
# a blank line, then the message) and writes it as one line:
#
#   <time> <SEVERITY> <host>/<plugin>-<plugin_instance>/<type>-<type_instance> \
#     [score=.. value=.. median=.. mad=.. peers=..] <message>
#
# With a file argument the line is appended to that file, otherwise it goes
# to syslog (logger, tag collectd-alec, facility daemon; FAILURE as err,
# WARNING as warning, OKAY as notice).
#
# Runs as the unprivileged user of NotificationExec; exec starts one copy per
# notification, possibly several at once: a single write of one short line
# with O_APPEND keeps the lines whole.
set -u
severity="" time="" host="" plugin="" pinst="" type="" tinst=""
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

id="$host/$plugin${pinst:+-$pinst}"
[ -n "$type" ] && id="$id/$type${tinst:+-$tinst}"
details=""
[ -n "$score" ] && details="$details score=$score"
[ -n "$value" ] && details="$details value=$value"
[ -n "$median" ] && details="$details median=$median"
[ -n "$mad" ] && details="$details mad=$mad"
[ -n "$peers" ] && details="$details peers=$peers"
out="${severity:-UNKNOWN} $id${details} $message"

if [ $# -ge 1 ] && [ -n "$1" ]; then
  printf '%s %s\n' "${time:-0}" "$out" >>"$1"
else
  case "$severity" in
    FAILURE) prio=daemon.err ;;
    WARNING) prio=daemon.warning ;;
    *) prio=daemon.notice ;;
  esac
  logger -t collectd-alec -p "$prio" -- "$out"
fi
