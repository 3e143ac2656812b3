#!/usr/bin/env bash
# Prints the path of the SoftHSM2 PKCS#11 module on this machine.
set -euo pipefail
for p in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
         /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
  if [ -f "$p" ]; then echo "$p"; exit 0; fi
done
echo "libsofthsm2.so not found: apt-get install -y softhsm2" >&2
exit 1
