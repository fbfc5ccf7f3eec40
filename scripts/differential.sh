#!/usr/bin/env bash
# The differential test of address normalization (#14): installs the pinned reference
# libraries from PyPI and runs scripts/differential.py against .build/debug/hush. Fails on any
# misread (Hush and the reference both accept an address and key it differently).
# Run after `swift test`; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
HUSH=${HUSH:-.build/debug/hush}
python3 -m pip install -q --disable-pip-version-check "phonenumbers==9.0.43" "idna==3.13" "email-validator==2.4.0"
[ -x "$HUSH" ] || swift build --product hush
python3 scripts/differential.py --hush "$HUSH" "$@"
