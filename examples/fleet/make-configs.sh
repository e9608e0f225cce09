#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Makes the keys and configs of a fleet of relays that share one Redis and forward to each other
# (docs/fleet.md): for each relay NAME given, DIR/NAME.key (a new identity, kept when it exists)
# and DIR/NAME.json, whose fleet.peers lists every relay's ID. Run once before the relays start
# (compose.yaml runs it in its `keys` service); running it again keeps the identities.
#
#   make-configs.sh DIR REDIS_URL PEER_URI_TEMPLATE NAME...
#
# PEER_URI_TEMPLATE is the address peers dial, with NAME replaced by the relay's name, e.g.
# tcp://relay-NAME:4027 (a listener on the fleet's internal network).
set -eu
if [ "$#" -lt 4 ]; then
  echo "usage: $0 DIR REDIS_URL PEER_URI_TEMPLATE NAME..." >&2
  exit 2
fi
dir=$1
redis=$2
template=$3
shift 3
portal=${PORTAL:-portal}
mkdir -p "$dir"
ids=""
for name in "$@"; do
  key="$dir/$name.key"
  [ -f "$key" ] || "$portal" keygen --out "$key" > /dev/null
  id=$("$portal" id --key "$key")
  ids="$ids${ids:+, }\"$id\""
  echo "$name: $id"
done
for name in "$@"; do
  peer_uri=$(printf '%s' "$template" | sed "s/NAME/$name/g")
  tmp="$dir/.$name.json.tmp"
  cat > "$tmp" <<JSON
{
  "identity_key_file": "$dir/$name.key",
  "directory": {"name": "redis", "settings": {"url": "$redis", "key_prefix": "portal:"}},
  "fleet": {"peer_uri": "$peer_uri", "peers": [$ids], "heartbeat_ms": 5000}
}
JSON
  mv "$tmp" "$dir/$name.json"
done
