#!/usr/bin/env bash
# Remove LightBox's services, broker config and program files.
#
#   sudo deploy/uninstall.sh [--purge] [--remove-users] [--keep-discovery]
#
# Keeps /etc/lightbox (settings, backups, generated secrets) unless --purge.
# Once the services are stopped it removes the box from Home Assistant
# (`lightbox decommission`) unless --keep-discovery. Debian packages
# (mosquitto, ...) stay installed: other things may use them.
set -euo pipefail

PURGE=0
REMOVE_USERS=0
DECOMMISSION=1
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) PURGE=1; REMOVE_USERS=1; shift ;;
    --remove-users) REMOVE_USERS=1; shift ;;
    --keep-discovery) DECOMMISSION=0; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "uninstall.sh: run as root" >&2; exit 1; }

step() { echo "==> $1"; }
gone() { echo "  - removed $1"; }
LB=/opt/lightbox/venv/bin/lightbox
SETTINGS=/etc/lightbox/settings.json
HAVE_SYSTEMD=0
[ -d /run/systemd/system ] && HAVE_SYSTEMD=1

step "Services"
UNITS=(lightbox.target lightbox-engine.service lightbox-bridge.service)
if [ $HAVE_SYSTEMD -eq 1 ]; then
  systemctl stop "${UNITS[@]}" 2>/dev/null || true
fi
# After the engine stopped: a running engine would publish its discovery again.
if [ $DECOMMISSION -eq 1 ] && [ -x "$LB" ] && [ -f "$SETTINGS" ]; then
  step "Removing the box from Home Assistant (discovery and retained topics)"
  "$LB" decommission --settings "$SETTINGS" \
    || echo "  ! decommission failed (broker down?): remove the device in Home Assistant by hand"
fi
systemctl disable --quiet "${UNITS[@]}" 2>/dev/null || true
for f in /etc/systemd/system/lightbox.target /etc/systemd/system/lightbox-engine.service \
         /etc/systemd/system/lightbox-bridge.service /etc/systemd/system/lightbox-engine.service.d; do
  if [ -e "$f" ]; then rm -rf "$f"; gone "$f"; fi
done
if [ $HAVE_SYSTEMD -eq 1 ]; then
  systemctl daemon-reload
  systemctl reset-failed "${UNITS[@]}" 2>/dev/null || true
fi

step "Broker configuration"
MQ_CHANGED=0
for f in /etc/mosquitto/conf.d/lightbox.conf /etc/mosquitto/conf.d/lightbox-tls.conf \
         /etc/mosquitto/lightbox; do
  if [ -e "$f" ]; then rm -rf "$f"; gone "$f"; MQ_CHANGED=1; fi
done
if [ $MQ_CHANGED -eq 1 ] && [ $HAVE_SYSTEMD -eq 1 ] && systemctl is-active --quiet mosquitto; then
  systemctl restart mosquitto || true
fi

step "Program files"
for f in /etc/logrotate.d/lightbox /usr/local/bin/lightbox /opt/lightbox; do
  if [ -e "$f" ] || [ -L "$f" ]; then rm -rf "$f"; gone "$f"; fi
done

if [ $PURGE -eq 1 ]; then
  step "Purging settings, secrets, state and logs"
  for f in /etc/lightbox /var/lib/lightbox /var/lib/lightbox-bridge /var/log/lightbox \
           /etc/modprobe.d/lightbox-blacklist-snd.conf; do
    if [ -e "$f" ]; then rm -rf "$f"; gone "$f"; fi
  done
else
  echo "  - kept /etc/lightbox (settings, backups, secrets) and /var/lib/lightbox: --purge removes them"
fi

if [ $REMOVE_USERS -eq 1 ]; then
  step "Users"
  for u in lightbox-bridge lightbox; do
    if id -u "$u" >/dev/null 2>&1; then userdel "$u"; gone "user $u"; fi
    if getent group "$u" >/dev/null; then groupdel "$u" 2>/dev/null || true; fi
  done
fi
echo
echo "LightBox removed."
