#!/usr/bin/env bash
# Build the replica-lab container images offline, from Debian bookworm
# packages, for Docker engines that cannot pull from an image registry.
#
#   sudo docker/build-images.sh [--force]
#
# One debootstrap'd rootfs holding postgresql-15, haproxy and a POSIX shell
# is imported once; the second image only adds metadata on top of it, so
# both share a single layer. See docker/README.md.
set -euo pipefail

SUITE=bookworm
PG_IMAGE=${REPLICA_LAB_POSTGRES_IMAGE:-replica-lab/postgres:15}
HAPROXY_IMAGE=${REPLICA_LAB_HAPROXY_IMAGE:-replica-lab/haproxy:2.6}
PKGS=postgresql-15,haproxy
IMAGE_PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "error: $*" >&2; exit 1; }
step() { echo "==> $*"; step_start=$SECONDS; }
took() { echo "    ($((SECONDS - step_start))s)"; }

force=0
case "${1:-}" in
  '') ;;
  --force) force=1 ;;
  -h|--help) sed -n '2,9s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) die "unknown argument '$1' (usage: $0 [--force])" ;;
esac

# First 'deb' URL of the main archive for $SUITE/main in the apt configuration:
# one-line *.list files and deb822 *.sources files, in the order apt reads them.
find_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do
    [ -f "$f" ] || continue
    case "$f" in
      *.list) awk -v suite="$SUITE" '
        { sub(/#.*/, "") }
        $1 == "deb" {
          i = 2
          if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
          if ($(i + 1) != suite) next
          for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i; exit }
        }' "$f" ;;
      *.sources) awk -v suite="$SUITE" '
        function has(list, w) { return (" " list " ") ~ ("[ \t]" w "[ \t]") }
        function flush() {
          if (has(v["types"], "deb") && has(v["suites"], suite) &&
              has(v["components"], "main") && v["enabled"] != "no" && v["uris"] != "") {
            split(v["uris"], u, " "); print u[1]; found = 1; exit
          }
          delete v
        }
        /^[ \t]*#/ { next }
        /^[ \t]*$/ { flush(); next }
        /^[ \t]/ { v[key] = v[key] " " $0; next }
        { key = tolower($0); sub(/:.*/, "", key)
          val = $0; sub(/^[^:]*:[ \t]*/, "", val); v[key] = val }
        END { if (!found) flush() }' "$f" ;;
    esac | grep -m1 . && return 0
  done
  return 1
}

cleanup() {
  # debootstrap may leave /proc, /sys ... mounted inside the rootfs on failure.
  awk -v p="$work/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$work"
}

build_rootfs() {
  local mirror
  mirror=${REPLICA_LAB_APT_MIRROR:-$(find_mirror || true)}
  [ -n "$mirror" ] || die "no apt source for '$SUITE main' found in /etc/apt: set REPLICA_LAB_APT_MIRROR=<debian archive URL>"
  work=$(mktemp -d /var/tmp/replica-lab-images.XXXXXX)
  rootfs=$work/rootfs
  trap cleanup EXIT; trap 'exit 130' INT; trap 'exit 143' TERM

  step "debootstrap $SUITE ($PKGS) from $mirror"
  debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$rootfs" "$mirror" \
    >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed (log tail above)"; }
  took

  step "trimming rootfs and preparing postgres"
  rm -rf "$rootfs"/var/lib/postgresql/15/main "$rootfs"/etc/postgresql/15/main
  chroot "$rootfs" id postgres >/dev/null || die "no 'postgres' user in the rootfs"
  install -d -m 2775 "$rootfs/run/postgresql"
  chroot "$rootfs" chown postgres:postgres /run/postgresql
  install -d "$rootfs/usr/local/etc/haproxy"
  rm -rf "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/usr/share/lintian "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* \
    "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/cache/ldconfig/aux-cache
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'C*' ! -name locale.alias \
    -exec rm -rf {} +
  find "$rootfs/var/log" -type f -delete
  # Copied from the build host by debootstrap; docker provides its own at run time.
  rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
  echo "    rootfs size: $(du -sh "$rootfs" | cut -f1)"
  took
}

# ---- preflight -------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap needs it): try 'sudo $0'"
command -v debootstrap >/dev/null || die "debootstrap not found: run 'apt-get install debootstrap'"
command -v docker >/dev/null || die "docker CLI not found: install Docker and retry"
docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon: start it (systemctl start docker) or check DOCKER_HOST"

needed=() base=''
for img in "$PG_IMAGE" "$HAPROXY_IMAGE"; do
  if [ "$force" -eq 0 ] && docker image inspect "$img" >/dev/null 2>&1; then
    echo "==> $img already exists, skipping (use --force to rebuild)"
    # Built by this script? Then it already holds the whole rootfs: derive from it.
    label=$(docker image inspect -f '{{index .Config.Labels "replica-lab.rootfs"}}' "$img")
    [ "$label" != "$PKGS" ] || base=$img
  else
    needed+=("$img")
  fi
done
[ "${#needed[@]}" -gt 0 ] || { echo "==> nothing to do"; exit 0; }

total_start=$SECONDS
[ -n "$base" ] || build_rootfs

# ---- images ----------------------------------------------------------------
for img in "${needed[@]}"; do
  old=$(docker image inspect -f '{{.Id}}' "$img" 2>/dev/null || true)
  args=(--change 'CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]')
  [ "$img" != "$PG_IMAGE" ] || args=(--change 'CMD ["/bin/sh"]')
  if [ -z "$base" ]; then
    step "importing rootfs as $img"
    args+=(--change "ENV PATH=$IMAGE_PATH" --change 'ENV LANG=C.UTF-8'
      --change "LABEL replica-lab.rootfs=$PKGS")
    tar --numeric-owner -C "$rootfs" -c . | docker import "${args[@]}" - "$img" >/dev/null
    base=$img
  else
    step "deriving $img from $base (shared layer, own CMD)"
    cid=$(docker create "$base")
    docker commit "${args[@]}" "$cid" "$img" >/dev/null ||
      { docker rm "$cid" >/dev/null; die "docker commit failed"; }
    docker rm "$cid" >/dev/null
  fi
  # --force: drop the replaced image (refused, harmlessly, while something uses it).
  [ -z "$old" ] || [ "$old" = "$(docker image inspect -f '{{.Id}}' "$img")" ] ||
    docker image rm "$old" >/dev/null 2>&1 || true
  took
done

echo "==> done in $((SECONDS - total_start))s: ${needed[*]}"
