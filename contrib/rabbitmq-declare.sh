#!/bin/sh
# SPDX-License-Identifier: MIT
# Declares the RabbitMQ objects of a sharded collectd-alec deployment
# (docs/SCALING.md) through the management plugin's HTTP API:
#
#   <prefix>.uplinks   exchange, type x-consistent-hash, durable: spreads the
#                      devices (their routing keys) over the shard queues,
#                      each device always to the same queue
#   <source> -> <prefix>.uplinks   exchange-to-exchange binding with the
#                      network server's uplink routing keys (ChirpStack:
#                      application.*.device.*.event.up on amq.topic)
#   <prefix>.shard.<i> queue, durable, x-single-active-consumer (a standby
#                      receiver on the same queue takes over when the active
#                      one disconnects), x-queue-type classic or quorum
#   <prefix>.uplinks -> <prefix>.shard.<i>   binding, routing key = weight
#
# Every request is an idempotent PUT/POST: run it again to add shards
# (--shards N --first K declares shards K..N-1 only). Needs curl and the
# rabbitmq_management and rabbitmq_consistent_hash_exchange plugins.
#
# usage: rabbitmq-declare.sh [--url http://127.0.0.1:15672] [--user guest]
#          [--password guest] [--vhost /] [--prefix alec] [--shards 3]
#          [--first 0] [--weight 10] [--source amq.topic]
#          [--binding 'application.*.device.*.event.up'] [--queue-type classic]
#          [--no-single-active-consumer] [--list]
set -eu
url=http://127.0.0.1:15672 user=guest password=guest vhost=/ prefix=alec shards=3 first=0 weight=10
source=amq.topic binding='application.*.device.*.event.up' qtype=classic sac=true list=no
while [ $# -gt 0 ]; do
  case $1 in
    --url) url=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    --password) password=$2; shift 2 ;;
    --vhost) vhost=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --first) first=$2; shift 2 ;;
    --weight) weight=$2; shift 2 ;;
    --source) source=$2; shift 2 ;;
    --binding) binding=$2; shift 2 ;;
    --queue-type) qtype=$2; shift 2 ;;
    --no-single-active-consumer) sac=false; shift ;;
    --list) list=yes; shift ;;
    -h|--help) sed -n '3,28p' "$0"; exit 0 ;;
    *) echo "rabbitmq-declare: unknown option $1" >&2; exit 2 ;;
  esac
done
case $qtype in classic|quorum) ;; *) echo "rabbitmq-declare: --queue-type classic|quorum" >&2; exit 2 ;; esac
case $shards$first$weight in *[!0-9]*) echo "rabbitmq-declare: --shards, --first, --weight take integers" >&2; exit 2 ;; esac
command -v curl >/dev/null 2>&1 || { echo "rabbitmq-declare: curl not found" >&2; exit 1; }

# The vhost as one path segment ("/" is %2F).
v=$(printf '%s' "$vhost" | sed 's|%|%25|g; s|/|%2F|g')

api() { # METHOD PATH [JSON]
  out=$(curl -sS -m 15 -u "$user:$password" -X "$1" -H 'content-type: application/json' \
    ${3:+-d "$3"} -w '\n%{http_code}' "$url/api$2") || { echo "rabbitmq-declare: $1 $2: $out" >&2; exit 1; }
  code=$(printf '%s' "$out" | tail -n 1)
  case $code in
    2??) ;;
    *) echo "rabbitmq-declare: $1 $2: HTTP $code: $(printf '%s' "$out" | sed '$d')" >&2; exit 1 ;;
  esac
}

if [ "$list" = yes ]; then
  curl -sS -m 15 -u "$user:$password" "$url/api/bindings/$v" | tr '{' '\n' | grep "\"source\":\"$prefix" || true
  exit 0
fi

api PUT "/exchanges/$v/$prefix.uplinks" '{"type":"x-consistent-hash","durable":true,"auto_delete":false,"arguments":{}}'
api POST "/bindings/$v/e/$source/e/$prefix.uplinks" "{\"routing_key\":\"$binding\",\"arguments\":{}}"
i=$first
while [ "$i" -lt "$shards" ]; do
  q=$prefix.shard.$i
  if [ "$qtype" = quorum ]; then
    # Quorum queues are always durable and replicated over the cluster.
    args="{\"x-queue-type\":\"quorum\",\"x-single-active-consumer\":$sac}"
  else
    args="{\"x-queue-type\":\"classic\",\"x-single-active-consumer\":$sac}"
  fi
  api PUT "/queues/$v/$q" "{\"durable\":true,\"auto_delete\":false,\"arguments\":$args}"
  # The consistent-hash exchange reads the binding's routing key as the
  # queue's weight (its share of the hash ring).
  api POST "/bindings/$v/e/$prefix.uplinks/q/$q" "{\"routing_key\":\"$weight\",\"arguments\":{}}"
  echo "rabbitmq-declare: $q (weight $weight) bound to $prefix.uplinks"
  i=$((i + 1))
done
