#!/bin/sh
# A software WebGPU adapter for the webgpu backend's tests on a machine without a GPU: Mesa's
# lavapipe (Vulkan on the CPU) from Debian bookworm-backports, unpacked into a private folder.
#
#   sh scripts/webgpu-adapter.sh          # sets it up (idempotent), prints the folder
#   eval "$(sh scripts/webgpu-adapter.sh --env)"   # also exports VK_ICD_FILENAMES, LD_LIBRARY_PATH
#
# Folder: $KEOPS_TS_LAVAPIPE, else ${XDG_CACHE_HOME:-~/.cache}/keops-ts/lavapipe. The backend
# finds it there by itself (src/backends/webgpu/adapter.ts), so the exports are only for other
# programs. Nothing outside that folder changes: the packages are fetched with `apt-get download`
# through a private sources list and state folder (bookworm-backports is not configured on a
# stock bookworm machine, and stock bookworm's lavapipe 22.3 is refused by Dawn), and unpacked
# with dpkg-deb -x. Only when a library lavapipe links to is missing (libLLVM15 and friends,
# normally present) are those installed with apt-get from bookworm.
# Skipped (exit 0) with KEOPS_TEST_WEBGPU=0, or where apt-get/dpkg-deb do not exist (not Debian).
set -e
[ "$KEOPS_TEST_WEBGPU" = 0 ] && exit 0
DIR="${KEOPS_TS_LAVAPIPE:-${XDG_CACHE_HOME:-$HOME/.cache}/keops-ts/lavapipe}"
ARCH_TRIPLE=x86_64-linux-gnu
print_env() {
  echo "export VK_ICD_FILENAMES=\"$DIR/lvp_icd.json\""
  echo "export LD_LIBRARY_PATH=\"$DIR\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\""
}
if [ -f "$DIR/lvp_icd.json" ] && [ -f "$DIR/libvulkan.so.1" ] && [ -f "$DIR/libvulkan_lvp.so" ]; then
  if [ "$1" = "--env" ]; then print_env; else echo "$DIR"; fi
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "scripts/webgpu-adapter.sh: no apt-get/dpkg-deb here; set VK_ICD_FILENAMES to a Vulkan driver for the webgpu tests, or KEOPS_TEST_WEBGPU=0" >&2
  exit 0
fi
[ "$(dpkg --print-architecture)" = amd64 ] || { echo "scripts/webgpu-adapter.sh: only amd64 is set up here" >&2; exit 0; }
WORK="$DIR.tmp.$$"
rm -rf "$WORK"
mkdir -p "$WORK/state/lists/partial" "$WORK/cache/archives/partial" "$WORK/debs" "$WORK/root"
trap 'rm -rf "$WORK"' EXIT
cat >"$WORK/sources.list" <<EOF
deb http://deb.debian.org/debian bookworm-backports main
deb http://deb.debian.org/debian bookworm main
EOF
APT="-o Dir::Etc::SourceList=$WORK/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State=$WORK/state -o Dir::Cache=$WORK/cache -o Debug::NoLocking=1"
[ "$(id -u)" = 0 ] && APT="$APT -o APT::Sandbox::User=root"
# shellcheck disable=SC2086
apt-get $APT update -qq
# shellcheck disable=SC2086
(cd "$WORK/debs" && apt-get $APT download -qq mesa-vulkan-drivers/bookworm-backports libvulkan1/bookworm)
for f in "$WORK"/debs/*.deb; do dpkg-deb -x "$f" "$WORK/root"; done
LIB="$WORK/root/usr/lib/$ARCH_TRIPLE"
mkdir -p "$WORK/out"
cp "$LIB/libvulkan_lvp.so" "$WORK/out/"
cp -P "$LIB"/libvulkan.so.1* "$WORK/out/"
# the ICD manifest, with the driver's absolute path
API=$(sed -n 's/.*"api_version": *"\([^"]*\)".*/\1/p' "$WORK/root/usr/share/vulkan/icd.d/lvp_icd.json")
printf '{\n  "file_format_version": "1.0.0",\n  "ICD": { "library_path": "%s", "api_version": "%s" }\n}\n' "$DIR/libvulkan_lvp.so" "${API:-1.3.0}" >"$WORK/out/lvp_icd.json"
# libraries lavapipe links to that this machine lacks: install them from bookworm (root or sudo)
MISSING=$(LD_LIBRARY_PATH="$WORK/out" ldd "$WORK/out/libvulkan_lvp.so" | sed -n 's/^\s*\(\S*\) => not found.*/\1/p')
if [ -n "$MISSING" ]; then
  # mesa-vulkan-drivers' dependencies, as bookworm packages
  PKGS="libllvm15 libdrm2 libdrm-amdgpu1 libelf1 libexpat1 libwayland-client0 libx11-xcb1 libxcb-dri3-0 libxcb-present0 libxcb-randr0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxcb1 libxshmfence1 libzstd1 zlib1g"
  echo "scripts/webgpu-adapter.sh: lavapipe needs $(echo $MISSING): installing $PKGS" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  # shellcheck disable=SC2086
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS
fi
mkdir -p "$(dirname "$DIR")"
rm -rf "$DIR"
mv "$WORK/out" "$DIR"
if [ "$1" = "--env" ]; then print_env; else echo "$DIR"; fi
