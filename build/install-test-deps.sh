#!/usr/bin/env bash
# Installs what the test suite needs beyond the .NET SDK, when it is missing (Debian/Ubuntu, run as root):
#  - chromium: the report test renders report.html headless to a screenshot;
#  - fonts-dejavu-core: SkiaSharp/ScottPlot draw figure text with a system font;
#  - dotnet-repl (local tool manifest dotnet-tools.json): the notebook test runs notebooks/*.ipynb headless.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
fc-list 2>/dev/null | grep -qi dejavu || missing+=(fonts-dejavu-core)
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
dotnet tool restore
