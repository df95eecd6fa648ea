#!/usr/bin/env bash
# Publishes N bench rules through the rules API. usage: bench/publish-rules.sh BASE_URL API_KEY COUNT basket|order
# Each rule: a total threshold and a line-item SKU condition (basket/order), a flat points outcome; a tenth of
# the basket rules also give a voucher. Rules spread over 500 SKUs, so a 50-line basket matches a few dozen.
set -euo pipefail
base=$1; key=$2; count=$3; type=$4
rule() {
  local i=$1 total
  if [ "$type" = basket ]; then total=basket.total; else total=order.total; fi
  local outcome="{\"type\":\"points\",\"points\":$((i % 50 + 1))}"
  if [ "$type" = basket ] && [ $((i % 10)) = 0 ]; then outcome="$outcome,{\"type\":\"voucher\",\"discount\":{\"percent\":5},\"appliesTo\":\"basket\"}"; fi
  printf '{"name":"bench-%s-%d","eventType":"%s","status":"active","priority":%d,"conditions":{"all":[{"field":"%s","op":"gte","value":%d},{"item":{"field":"sku","op":"eq","value":"SKU-%d"}}]},"outcomes":[%s]}' \
    "$type" "$i" "$type" "$i" "$total" $((i % 300)) $((i % 500)) "$outcome"
}
export -f rule; export type
seq 1 "$count" | xargs -P 4 -I{} bash -c 'rule {} | curl -fs -o /dev/null -H "Authorization: Bearer '"$key"'" -H "Content-Type: application/json" --data-binary @- '"$base"'/api/v1/rules || echo "rule {} refused" >&2'
echo "published $count $type rules"
