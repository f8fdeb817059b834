#!/usr/bin/env bash
# Install LightBox as a systemd appliance on Raspberry Pi OS or Debian (bookworm/trixie).
#
#   sudo deploy/install.sh [--source DIR] [--driver auto|rgbmatrix|virtual|emulator]
#                          [--wheels DIR] [--lan-tls] [--no-start]
#                          [--rgbmatrix auto|build|skip] [--rgbmatrix-source DIR]
#
# Idempotent: a second run changes nothing and says so. Existing settings in
# /etc/lightbox/settings.json are kept (and validated), never overwritten;
# generated passwords and the bridge token are kept too. See docs/deployment.md.
set -euo pipefail
umask 022

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DRIVER=auto
WHEELS=""
LAN_TLS=0
START=1
RGBMATRIX=auto
RGBMATRIX_SRC=()
while [ $# -gt 0 ]; do
  case "$1" in
    --source) SRC="$(cd "$2" && pwd)"; shift 2 ;;
    --driver) DRIVER="$2"; shift 2 ;;
    --wheels) WHEELS="$(cd "$2" && pwd)"; shift 2 ;;
    --lan-tls) LAN_TLS=1; shift ;;
    --no-start) START=0; shift ;;
    --rgbmatrix) RGBMATRIX="$2"; shift 2 ;;
    --rgbmatrix-source) RGBMATRIX_SRC=(--source "$(cd "$2" && pwd)"); shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

PREFIX=/opt/lightbox
VENV=$PREFIX/venv
ETC=/etc/lightbox
SECRETS=$ETC/secrets
SETTINGS=$ETC/settings.json
MQ=/etc/mosquitto/lightbox
UNITDIR=/etc/systemd/system
LB="$VENV/bin/lightbox"

CHANGES=()
changed() { CHANGES+=("$1"); echo "  + $1"; }
note() { echo "  - $1"; }
step() { echo "==> $1"; }
die() { echo "install.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0)"
[ -f "$SRC/pyproject.toml" ] && [ -d "$SRC/appliance" ] || die "$SRC is not a LightBox source tree"
command -v apt-get >/dev/null || die "needs a Debian-based system (apt-get)"
HAVE_SYSTEMD=0
[ -d /run/systemd/system ] && HAVE_SYSTEMD=1

# put_file SRC DEST MODE OWNER:GROUP -- install only when the content or the mode differs.
put_file() {
  local src="$1" dest="$2" mode="$3" owner="$4"
  if [ -f "$dest" ] && cmp -s "$src" "$dest" \
     && [ "$(stat -c '%a %U:%G' "$dest")" = "$(printf '%o' "0$mode") $owner" ]; then
    return 1
  fi
  install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dest"
  changed "$dest"
  return 0
}

# ensure_dir DIR MODE OWNER:GROUP
ensure_dir() {
  local dir="$1" mode="$2" owner="$3" was="new"
  if [ -d "$dir" ]; then
    was=$(stat -c '%a %U:%G' "$dir")
    [ "$was" = "$(printf '%o' "0$mode") $owner" ] && return 0
  fi
  install -d -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$dir"
  # A folder made inside a setgid one inherits setgid; five digits clear it (GNU chmod).
  chmod "$(printf '%05o' "0$mode")" "$dir"
  changed "$dir/ ($was -> $mode $owner)"
}

# --------------------------------------------------------------------------------------
step "Debian packages"
want=(mosquitto mosquitto-clients logrotate python3 python3-venv openssl ca-certificates jq)
# Pillow's shared libraries (names differ between bookworm and trixie), and on ARM
# the BLAS that piwheels' numpy links against.
libs=(libjpeg62-turbo zlib1g "libpng16-16t64|libpng16-16" libopenjp2-7 "libtiff6|libtiff5"
      libwebp7 libfreetype6)
case "$(uname -m)" in arm*|aarch64) libs+=("libopenblas0-pthread|libopenblas0") ;; esac
for alt in "${libs[@]}"; do
  for p in ${alt//|/ }; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
       || apt-cache show "$p" >/dev/null 2>&1; then want+=("$p"); break; fi
  done
done
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  changed "packages: ${missing[*]}"
else
  note "all present"
fi

# --------------------------------------------------------------------------------------
step "System users"
for u in lightbox lightbox-bridge; do
  if ! id -u "$u" >/dev/null 2>&1; then
    home=/var/lib/$u
    useradd --system --user-group --home-dir "$home" --no-create-home \
            --shell /usr/sbin/nologin --comment "LightBox ${u#lightbox}" "$u"
    changed "user $u"
  fi
done
# After rgbmatrix drops to lightbox it keeps its /dev/mem mapping; gpio access for
# tools run as this user is a convenience where the group exists (Raspberry Pi OS).
if getent group gpio >/dev/null && ! id -nG lightbox | grep -qw gpio; then
  usermod -aG gpio lightbox; changed "lightbox in group gpio"
fi
note "lightbox (engine after init), lightbox-bridge (web bridge)"

# --------------------------------------------------------------------------------------
step "Python environment in $VENV"
ensure_dir "$PREFIX" 755 root:root
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  changed "$VENV"
fi
# Fingerprint of the source: reinstall only when it changed.
hash=$(cd "$SRC" && find . -type f \( -name '*.py' -o -name '*.toml' -o -name '*.md' \
         -o -path './bridge/static/*' -o -path './bridge/templates/*' -o -path './deploy/*' \) \
         -not -path './.git/*' -not -path './.venv/*' -not -path '*/__pycache__/*' \
         -not -path './build/*' -not -path './tests/*' -print0 | sort -z \
       | xargs -0 sha256sum | sha256sum | cut -c1-16)
if [ "$(cat "$PREFIX/.source-hash" 2>/dev/null)" != "$hash" ] || [ ! -x "$LB" ]; then
  pip_opts=(-q --disable-pip-version-check)
  [ -n "$WHEELS" ] && pip_opts+=(--no-index --find-links "$WHEELS")
  # A clean copy of the source: documentation links of the units point into it,
  # and pip builds from a folder nobody edits meanwhile.
  rm -rf "$PREFIX/src.new"
  mkdir -p "$PREFIX/src.new"
  (cd "$SRC" && tar --exclude=.git --exclude=.venv --exclude=__pycache__ --exclude=build \
       --exclude='*.egg-info' -cf - .) | tar -C "$PREFIX/src.new" -xf -
  rm -rf "$PREFIX/src" && mv "$PREFIX/src.new" "$PREFIX/src"
  "$VENV/bin/python" -m pip install "${pip_opts[@]}" --upgrade "$PREFIX/src"
  echo "$hash" > "$PREFIX/.source-hash"
  changed "lightbox $("$LB" --version | awk '{print $2}') installed from $SRC"
  UPGRADED=1
else
  note "lightbox $("$LB" --version | awk '{print $2}') already installed from this source"
  UPGRADED=0
fi
if [ "$(readlink /usr/local/bin/lightbox 2>/dev/null)" != "$LB" ]; then
  ln -sfn "$LB" /usr/local/bin/lightbox; changed "/usr/local/bin/lightbox"
fi
HAS_BRIDGE=0
"$VENV/bin/python" -c 'import bridge.cli' 2>/dev/null && HAS_BRIDGE=1

# --------------------------------------------------------------------------------------
step "Secrets in $SECRETS"
ensure_dir "$ETC" 2775 root:lightbox
ensure_dir "$SECRETS" 711 root:root
NEW_PASSWORD=0
# secret FILE OWNER:GROUP MODE -- generate once, then only fix ownership and mode.
secret() {
  local f="$SECRETS/$1" owner="$2" mode="$3"
  if [ ! -s "$f" ]; then
    (umask 077; "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))' > "$f")
    changed "$f (generated)"
    NEW_PASSWORD=1
  fi
  if [ "$(stat -c '%a %U:%G' "$f")" != "$mode $owner" ]; then
    chown "$owner" "$f"; chmod "$mode" "$f"
  fi
}
# The engine starts as root without CAP_DAC_OVERRIDE (gid lightbox) and reads its
# password again as user lightbox after the LED library's privilege drop: group read.
secret mqtt-engine.password root:lightbox 440
secret mqtt-bridge.password lightbox-bridge:lightbox-bridge 400
secret bridge-token lightbox-bridge:lightbox-bridge 400
secret mqtt-monitor.password root:root 400
secret mqtt-homeassistant.password root:root 400

# --------------------------------------------------------------------------------------
step "Broker (mosquitto) in $MQ"
ensure_dir "$MQ" 750 root:mosquitto
passwd="$MQ/passwd"
# This box's broker user is its device_id: the ACL's patterns give user <id> the
# topics lightbox/<id>/... and nothing of any other box (docs/deployment.md).
if ! DEVICE_ID=$("$VENV/bin/python" - "$SETTINGS" <<'PY'
import pathlib, sys
from appliance.settings import default_device_id, load
path = pathlib.Path(sys.argv[1])
print(load(path).device_id if path.exists() else default_device_id())
PY
); then
  "$LB" check-config "$SETTINGS" 2>&1 | sed 's/^/    /'
  die "existing $SETTINGS is invalid (kept as is): fix it, then run install.sh again"
fi
note "this box: device_id $DEVICE_ID, broker user $DEVICE_ID"
# Users of other boxes added by hand (a fleet on this broker) are kept; the old
# shared engine login and a former device id of this box are removed.
previous=$(cat "$MQ/box-user" 2>/dev/null || true)
stale=(lightbox-engine)
[ -n "$previous" ] && [ "$previous" != "$DEVICE_ID" ] && stale+=("$previous")
users_ok=1
for u in "$DEVICE_ID" lightbox-bridge lightbox-monitor homeassistant; do
  grep -q "^$u:" "$passwd" 2>/dev/null || users_ok=0
done
for u in "${stale[@]}"; do grep -q "^$u:" "$passwd" 2>/dev/null && users_ok=0; done
if [ $NEW_PASSWORD -eq 1 ] || [ $users_ok -eq 0 ]; then
  tmp=$(mktemp)
  [ -f "$passwd" ] && cat "$passwd" > "$tmp"
  for pair in "$DEVICE_ID:mqtt-engine" lightbox-bridge:mqtt-bridge \
              lightbox-monitor:mqtt-monitor homeassistant:mqtt-homeassistant; do
    mosquitto_passwd -b "$tmp" "${pair%%:*}" "$(head -n1 "$SECRETS/${pair##*:}.password")"
  done
  for u in "${stale[@]}"; do
    if grep -q "^$u:" "$tmp"; then mosquitto_passwd -D "$tmp" "$u"; changed "broker user $u removed"; fi
  done
  install -m 640 -o root -g mosquitto "$tmp" "$passwd"; rm -f "$tmp"
  changed "$passwd (users $DEVICE_ID, lightbox-bridge, lightbox-monitor, homeassistant)"
  MQ_CHANGED=1
else
  MQ_CHANGED=0
fi
if [ "$previous" != "$DEVICE_ID" ]; then
  echo "$DEVICE_ID" > "$MQ/box-user"; chmod 640 "$MQ/box-user"
fi
put_file "$SRC/deploy/mosquitto/acl" "$MQ/acl" 640 root:mosquitto && MQ_CHANGED=1
put_file "$SRC/deploy/mosquitto/lightbox.conf" /etc/mosquitto/conf.d/lightbox.conf 644 root:root \
  && MQ_CHANGED=1
if ! grep -Eq '^\s*persistence_location' /etc/mosquitto/mosquitto.conf 2>/dev/null; then
  echo "  ! /etc/mosquitto/mosquitto.conf sets no persistence_location: retained health is"
  echo "    saved in mosquitto's working folder; Debian's default config sets /var/lib/mosquitto/"
fi
if [ $LAN_TLS -eq 1 ]; then
  ensure_dir "$MQ/tls" 750 root:mosquitto
  if [ ! -s "$MQ/tls/server.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$(hostname)" \
      -addext "subjectAltName=DNS:$(hostname),DNS:$(hostname).local" \
      -keyout "$MQ/tls/server.key" -out "$MQ/tls/server.crt" 2>/dev/null
    chown root:mosquitto "$MQ/tls/server.key" "$MQ/tls/server.crt"
    chmod 640 "$MQ/tls/server.key"; chmod 644 "$MQ/tls/server.crt"
    changed "$MQ/tls/server.crt (self-signed, 10 years)"
  fi
  put_file "$SRC/deploy/mosquitto/lightbox-tls.conf" /etc/mosquitto/conf.d/lightbox-tls.conf \
    644 root:root && MQ_CHANGED=1
fi

# --------------------------------------------------------------------------------------
step "Settings $SETTINGS"
NEW_SETTINGS=0
# Upgrade from the shared `lightbox-engine` login (or from this box's former device
# id): the engine logs in as this box's own user. Only that one key changes (the
# password file stays); a user of your own choosing (another broker, another ACL)
# is left alone with a warning.
migrate_engine_user() {
  local user
  user=$("$VENV/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("mqtt", {}).get("username") or "")' "$SETTINGS")
  if [ "$user" = lightbox-engine ] || { [ -n "$previous" ] && [ "$user" = "$previous" ] \
                                         && [ "$user" != "$DEVICE_ID" ]; }; then
    local tmp; tmp=$(mktemp)
    "$VENV/bin/python" - "$SETTINGS" "$DEVICE_ID" > "$tmp" <<'PY'
import json, sys
data = json.load(open(sys.argv[1], encoding="utf-8"))
data["mqtt"]["username"] = sys.argv[2]
print(json.dumps(data, indent=2))
PY
    "$LB" check-config "$tmp" >/dev/null || die "migrated settings are invalid (a bug); $SETTINGS kept"
    install -m "$(stat -c '%a' "$SETTINGS")" -o root -g lightbox "$tmp" "$SETTINGS"; rm -f "$tmp"
    changed "$SETTINGS mqtt.username $user -> $DEVICE_ID (per-box broker user)"
    NEW_SETTINGS=1
  elif [ -n "$user" ] && [ "$user" != "$DEVICE_ID" ]; then
    echo "  ! mqtt.username is $user, not the device id $DEVICE_ID: the shipped ACL lets user"
    echo "    $user publish only lightbox/$user/... (kept as is: yours to decide)"
  fi
}
if [ -f "$SETTINGS" ]; then
  if ! out=$("$LB" check-config "$SETTINGS" 2>&1); then
    echo "$out" | sed 's/^/    /'
    die "existing $SETTINGS is invalid (kept as is): fix it, then run install.sh again"
  fi
  note "kept the existing file (valid)"
  migrate_engine_user
else
  tmp=$(mktemp)
  cat > "$tmp" <<EOF
{
  "device_id": "$DEVICE_ID",
  "display": {"driver": "$DRIVER", "drop_privileges": true,
              "drop_priv_user": "lightbox", "drop_priv_group": "lightbox"},
  "mqtt": {"host": "127.0.0.1", "port": 1883, "username": "$DEVICE_ID",
           "password_file": "$SECRETS/mqtt-engine.password"},
  "bridge": {"host": "0.0.0.0", "port": 5001,
             "auth_token_file": "$SECRETS/bridge-token",
             "mqtt_username": "lightbox-bridge",
             "mqtt_password_file": "$SECRETS/mqtt-bridge.password",
             "images_dir": "/var/lib/lightbox-bridge/images"},
  "logging": {"format": "json"}
}
EOF
  "$LB" check-config "$tmp" >/dev/null || die "generated settings are invalid (a bug)"
  install -m 644 -o root -g lightbox "$tmp" "$SETTINGS"; rm -f "$tmp"
  changed "$SETTINGS (new, driver $DRIVER)"
  NEW_SETTINGS=1
fi
# No secrets in the file: readable by the bridge, writable by the engine (group).
[ "$(stat -c '%a' "$SETTINGS")" = 664 ] || [ "$(stat -c '%a' "$SETTINGS")" = 644 ] \
  || { chmod 644 "$SETTINGS"; changed "$SETTINGS mode 644"; }

# --------------------------------------------------------------------------------------
step "systemd units"
UNITS_CHANGED=0
for u in lightbox-engine.service lightbox-bridge.service lightbox.target; do
  put_file "$SRC/deploy/systemd/$u" "$UNITDIR/$u" 644 root:root && UNITS_CHANGED=1
done
sdver=$(systemctl --version | awk 'NR==1{print $2}')
dropin="$UNITDIR/lightbox-engine.service.d/backoff.conf"
if [ "${sdver:-0}" -ge 254 ]; then
  put_file "$SRC/deploy/systemd/lightbox-engine.service.d/backoff.conf" "$dropin" 644 root:root \
    && UNITS_CHANGED=1
  note "systemd $sdver: exponential restart back-off (RestartSteps) enabled"
else
  if [ -e "$dropin" ]; then rm -f "$dropin"; changed "removed $dropin"; UNITS_CHANGED=1; fi
  note "systemd $sdver < 254: fixed RestartSec=10s (no RestartSteps/RestartMaxDelaySec yet)"
fi
if [ $UNITS_CHANGED -eq 1 ] && [ $HAVE_SYSTEMD -eq 1 ]; then systemctl daemon-reload; fi
to_enable=(mosquitto.service lightbox.target lightbox-engine.service)
if [ $HAS_BRIDGE -eq 1 ]; then
  to_enable+=(lightbox-bridge.service)
else
  echo "  ! this source has no web bridge (bridge.cli): lightbox-bridge.service left disabled"
fi
for u in "${to_enable[@]}"; do
  if [ "$(systemctl is-enabled "$u" 2>/dev/null)" != enabled ]; then
    systemctl enable --quiet "$u"; changed "enabled $u"
  fi
done

# --------------------------------------------------------------------------------------
step "Log rotation"
put_file "$SRC/deploy/logrotate/lightbox" /etc/logrotate.d/lightbox 644 root:root || note "unchanged"

# --------------------------------------------------------------------------------------
step "Raspberry Pi prerequisites"
model=$(cat /proc/device-tree/model 2>/dev/null | tr -d '\0' || true)
cmdline=$(cat /proc/cmdline 2>/dev/null || true)
if [[ "$model" == *"Raspberry Pi"* ]]; then
  note "$model"
  # The onboard sound uses the PWM hardware that rgbmatrix needs for flicker-free output.
  if [ ! -f /etc/modprobe.d/lightbox-blacklist-snd.conf ]; then
    printf '# LightBox: the LED matrix library needs the PWM that onboard sound uses.\nblacklist snd_bcm2835\n' \
      > /etc/modprobe.d/lightbox-blacklist-snd.conf
    changed "/etc/modprobe.d/lightbox-blacklist-snd.conf (blacklist snd_bcm2835)"
  fi
  if lsmod 2>/dev/null | grep -q '^snd_bcm2835'; then
    echo "  ! snd_bcm2835 is loaded now: reboot (also set dtparam=audio=off in /boot/firmware/config.txt)"
  fi
  [[ " $cmdline " == *" isolcpus="* ]] \
    || echo "  ! tip: add isolcpus=3 to /boot/firmware/cmdline.txt so the refresh thread has a core to itself (less flicker)"
  [[ " $cmdline " == *" cgroup_enable=memory"* ]] \
    || echo "  ! MemoryMax=512M is not enforced until you add cgroup_enable=memory to /boot/firmware/cmdline.txt and reboot"
else
  note "not a Raspberry Pi (${model:-no device-tree model}): GPIO checks skipped; driver '$DRIVER'"
fi
# hzeller's library from the pinned source into the venv (on a Pi; see deploy/rgbmatrix.sh).
rc=0
wheel_opts=()
[ -n "$WHEELS" ] && wheel_opts=(--wheels "$WHEELS")
bash "$SRC/deploy/rgbmatrix.sh" "$VENV" --mode "$RGBMATRIX" --lightbox-src "$SRC" \
  --work "$PREFIX/rgbmatrix-src" "${RGBMATRIX_SRC[@]}" "${wheel_opts[@]}" || rc=$?
case $rc in
  0) ;;
  3) changed "rgbmatrix built into $VENV"; UPGRADED=1 ;;
  *) echo "  ! building hzeller's rgbmatrix failed (above): the virtual display is used until it builds; docs/hardware.md 'Installing the library'" ;;
esac

# --------------------------------------------------------------------------------------
step "Services"
if [ $HAVE_SYSTEMD -eq 0 ]; then
  note "systemd is not running (image build or chroot): units enabled, start them at boot"
elif [ $START -eq 0 ]; then
  note "--no-start: not starting"
else
  if [ "$MQ_CHANGED" -eq 1 ]; then systemctl restart mosquitto.service; changed "restarted mosquitto"
  else systemctl start mosquitto.service; fi
  # Restart ours only when something they read changed; otherwise just make sure they run.
  if [ "$UPGRADED" -eq 1 ] || [ "$UNITS_CHANGED" -eq 1 ] || [ "$MQ_CHANGED" -eq 1 ] \
     || [ $NEW_PASSWORD -eq 1 ] || [ $NEW_SETTINGS -eq 1 ]; then
    systemctl restart lightbox-engine.service
    changed "restarted lightbox-engine"
    if [ $HAS_BRIDGE -eq 1 ]; then
      systemctl restart lightbox-bridge.service; changed "restarted lightbox-bridge"
    fi
  else
    systemctl start lightbox.target
  fi
  systemctl is-active --quiet lightbox-engine.service \
    && note "lightbox-engine: $(systemctl show -p StatusText --value lightbox-engine.service)" \
    || echo "  ! lightbox-engine is not active: journalctl -u lightbox-engine -n 50"
fi

# --------------------------------------------------------------------------------------
echo
if [ ${#CHANGES[@]} -eq 0 ]; then
  echo "LightBox is installed; nothing changed."
else
  echo "LightBox installed: ${#CHANGES[@]} change(s)."
fi
ip=$(hostname -I 2>/dev/null | awk '{print $1}')
cat <<EOF

  Web UI:        http://${ip:-$(hostname)}:5001/   (writes need the token in $SECRETS/bridge-token)
  Settings:      $SETTINGS   (validate: lightbox check-config $SETTINGS)
  Home Assistant MQTT user: homeassistant, password in $SECRETS/mqtt-homeassistant.password
  Check it all:  sudo lightbox verify --settings $SETTINGS
  Logs:          journalctl -u lightbox-engine -u lightbox-bridge -f
EOF
