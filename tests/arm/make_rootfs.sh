#!/usr/bin/env bash
# Build (once) and cache a Debian bookworm arm64 root filesystem with Python 3.11, a venv holding the
# aarch64 wheels of tlfseg's `edge` extra from PyPI, and this project installed in it (editable, so that
# `sync` refreshes the code and the bundled model without reinstalling anything).
#
#   tests/arm/make_rootfs.sh build [SUITE]   # debootstrap + venv + project; skips the steps already done
#   tests/arm/make_rootfs.sh sync [SUITE]    # copy the current working tree into the rootfs (and
#                                             # reinstall if pyproject.toml changed since the last install)
#   tests/arm/make_rootfs.sh path [SUITE]    # print where the rootfs lives
#
# SUITE: bookworm (default; Debian 12, Python 3.11, the base of Raspberry Pi OS bookworm) or trixie
# (Debian 13, Python 3.13, the base of Raspberry Pi OS trixie). One rootfs per suite.
# The cache lives outside the repository: $TLFSEG_ARM_CACHE, default ~/.cache/tlfseg-arm (~800 MB).
# Needs root, debootstrap and qemu-user-static (installed with apt-get when missing) and network access
# to the Debian archive (the mirror the host's apt uses) and PyPI. Takes 5-10 minutes on 2 cores.
# Building needs binfmt_misc for the aarch64 programs debootstrap and pip start; the script registers
# qemu-aarch64 for the build and unregisters it afterwards if it was not registered before. Running the
# conformance programs never goes through binfmt: tests/arm/conformance.py calls qemu explicitly with
# a pinned -cpu (binfmt would give `-cpu max`, with SVE and i8mm, which no Raspberry Pi has).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT="$(cd "$HERE/../.." && pwd)"
CACHE="${TLFSEG_ARM_CACHE:-$HOME/.cache/tlfseg-arm}"
SUITE="${2:-bookworm}"
ROOT="$CACHE/rootfs-$SUITE-arm64"
VENV=/opt/tlfseg-venv
SRC=/opt/tlfseg/src
BUILD_CPU=cortex-a72 # the CPU model that pip and the Debian maintainer scripts run on during the build
NICE=(nice -n 10)

log() { printf '[make_rootfs %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

need_root() { [ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot and mounts)"; }

ensure_tools() {
    local missing=()
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
    [ ${#missing[@]} = 0 ] && return
    log "installing ${missing[*]} with apt-get"
    "${NICE[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${NICE[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The Debian mirror the host's apt already uses (deb822 or one-line format); $TLFSEG_ARM_MIRROR overrides.
debian_mirror() {
    if [ -n "${TLFSEG_ARM_MIRROR:-}" ]; then
        echo "$TLFSEG_ARM_MIRROR"
        return
    fi
    local uri
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs:[[:space:]]*//p' |
        tr ' ' '\n' | grep -E '/debian/?$' | head -n1 || true)
    [ -n "$uri" ] || uri=$(grep -hE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '{for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) {print $i; exit}}' | grep -E '/debian/?$' | head -n1 || true)
    [ -n "$uri" ] || die "no Debian mirror found in the host's apt sources; set TLFSEG_ARM_MIRROR"
    echo "$uri"
}

BINFMT=/proc/sys/fs/binfmt_misc
REGISTERED_BY_US=0
binfmt_on() {
    [ -e "$BINFMT/register" ] || mount -t binfmt_misc binfmt_misc "$BINFMT" || die "cannot mount binfmt_misc"
    [ -e "$BINFMT/qemu-aarch64" ] && return
    local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [ -r "$conf" ] || die "$conf missing (qemu-user-static not installed?)"
    log "registering qemu-aarch64 with binfmt_misc for the build"
    grep -v '^#' "$conf" >"$BINFMT/register"
    REGISTERED_BY_US=1
}
binfmt_off() {
    if [ "$REGISTERED_BY_US" = 1 ] && [ -e "$BINFMT/qemu-aarch64" ]; then
        echo -1 >"$BINFMT/qemu-aarch64"
        log "unregistered qemu-aarch64 from binfmt_misc"
    fi
}

# Run a command inside the rootfs as aarch64, clean environment, host CA bundle, Pi-4 CPU model.
in_root() {
    nice -n 10 chroot "$1" /usr/bin/env -i HOME=/root LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        QEMU_CPU="$BUILD_CPU" SSL_CERT_FILE=/etc/ssl/certs/host-ca.crt PIP_CERT=/etc/ssl/certs/host-ca.crt \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 "${@:2}"
}

export BUILD_CPU VENV
export -f in_root
with_mounts() { # with_mounts ROOT CMD...: /proc and /dev inside ROOT, in a private mount namespace
    local root=$1
    shift
    unshare -m --propagation private -- bash -c '
        set -e
        root=$1; shift
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        "$@"' _ "$root" "$@"
}

sync_project() { # copy the working tree (tracked and untracked, not ignored) into ROOT$SRC
    local root=$1 dest="$1$SRC"
    [ -d "$root" ] || die "no rootfs at $root: run '$0 build' first"
    rm -rf "$dest"
    mkdir -p "$dest"
    (cd "$PROJECT" && git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
        [ -e "$f" ] && printf '%s\0' "$f"
    done | tar --null -T - -cf - | tar -xf - -C "$dest")
    [ -e "$dest/README.md" ] || : >"$dest/README.md" # pyproject names it as the readme; metadata only
}

pyproject_sum() { sha256sum "$PROJECT/pyproject.toml" | cut -d' ' -f1; }

# pip-install the synced project with its 'edge' extra (binfmt must be on: pip starts aarch64 programs)
install_project() {
    local root=$1
    log "installing the project and its 'edge' extra from PyPI (aarch64 wheels)"
    with_mounts "$root" in_root "$root" "$VENV/bin/python" -m pip install -q --only-binary=numpy,opencv-python-headless,ai-edge-litert \
        -e "$SRC[edge]" >"$CACHE/pip-$SUITE.log" 2>&1 || die "pip install failed; see $CACHE/pip-$SUITE.log"
    with_mounts "$root" in_root "$root" "$VENV/bin/python" -m pip freeze --exclude-editable >"$root/.tlfseg-freeze.txt"
    pyproject_sum >"$root/.tlfseg-pyproject.sha256"
    log "installed: $(tr '\n' ' ' <"$root/.tlfseg-freeze.txt")"
}

# sync, and reinstall when pyproject.toml (the extra's pins, entry points) changed since the last install
sync() {
    need_root
    sync_project "$ROOT"
    if [ "$(cat "$ROOT/.tlfseg-pyproject.sha256" 2>/dev/null)" != "$(pyproject_sum)" ]; then
        log "pyproject.toml changed since the rootfs was installed"
        binfmt_on
        trap binfmt_off EXIT
        install_project "$ROOT"
    fi
}

build() {
    need_root
    ensure_tools
    [ -f "$ROOT/.tlfseg-ready" ] && {
        log "ready: $ROOT"
        return
    }
    local work="$ROOT.partial"
    mkdir -p "$CACHE"
    binfmt_on
    trap binfmt_off EXIT
    export QEMU_CPU="$BUILD_CPU"
    if [ ! -f "$work/.stamp-debootstrap" ]; then
        rm -rf "$work"
        local mirror
        mirror=$(debian_mirror)
        log "debootstrap $SUITE arm64 from $mirror into $work (about 5 minutes)"
        "${NICE[@]}" debootstrap --arch=arm64 --variant=minbase \
            --include=python3,python3-venv,ca-certificates "$SUITE" "$work" "$mirror" >"$CACHE/debootstrap-$SUITE.log" 2>&1 ||
            die "debootstrap failed; see $CACHE/debootstrap-$SUITE.log"
        touch "$work/.stamp-debootstrap"
    fi
    cp /usr/bin/qemu-aarch64-static "$work/usr/bin/"
    cp -L /etc/ssl/certs/ca-certificates.crt "$work/etc/ssl/certs/host-ca.crt"
    cp -L /etc/resolv.conf "$work/etc/resolv.conf" 2>/dev/null || true
    if [ ! -f "$work/.stamp-venv" ]; then
        log "python venv at $VENV"
        rm -rf "${work:?}$VENV"
        with_mounts "$work" in_root "$work" /usr/bin/python3 -m venv "$VENV"
        touch "$work/.stamp-venv"
    fi
    sync_project "$work"
    install_project "$work"
    rm -rf "$ROOT"
    mv "$work" "$ROOT"
    date -u +%FT%TZ >"$ROOT/.tlfseg-ready"
    log "ready: $ROOT ($(du -sh "$ROOT" | cut -f1))"
}

case "${1:-build}" in
build) build ;;
sync) sync ;;
path) echo "$ROOT" ;;
*) die "usage: $0 [build|sync|path] [bookworm|trixie]" ;;
esac
