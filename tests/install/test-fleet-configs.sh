#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# examples/fleet/make-configs.sh, as compose.yaml's `keys` service runs it: it makes two keys and
# two configs listing both IDs as peers, each config passes `portal-relay --check-config`, and a
# second run keeps the identities.
#   test-fleet-configs.sh SOURCE_DIR BIN_DIR PLUGIN_DIR
set -eu
src=$1
bin=$2
plugins=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
PORTAL="$bin/portal" sh "$src/examples/fleet/make-configs.sh" "$dir/fleet" \
  redis://127.0.0.1:6379/0 tcp://relay-NAME:4027 a b > "$dir/first"
a=$("$bin/portal" id --key "$dir/fleet/a.key")
b=$("$bin/portal" id --key "$dir/fleet/b.key")
for name in a b; do
  grep -q "\"peers\": \[\"$a\", \"$b\"\]" "$dir/fleet/$name.json" ||
    { echo "FAIL: $name.json does not list both IDs"; cat "$dir/fleet/$name.json"; exit 1; }
  grep -q "\"peer_uri\": \"tcp://relay-$name:4027\"" "$dir/fleet/$name.json" ||
    { echo "FAIL: $name.json has the wrong peer_uri"; exit 1; }
  "$bin/portal-relay" --plugin-dir "$plugins" --listen tcp://127.0.0.1:0 \
    --check-config "$dir/fleet/$name.json" > "$dir/check" 2>&1 ||
    { echo "FAIL: $name.json refused:"; cat "$dir/check"; exit 1; }
done
PORTAL="$bin/portal" sh "$src/examples/fleet/make-configs.sh" "$dir/fleet" \
  redis://127.0.0.1:6379/0 tcp://relay-NAME:4027 a b > "$dir/second"
cmp -s "$dir/first" "$dir/second" || { echo "FAIL: a second run changed the identities"; exit 1; }
echo "ok: $a $b"
