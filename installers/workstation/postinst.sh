#!/bin/sh
# postinst of the schoolcard .deb: the udev rule for readers and relay boards takes
# effect without a reboot, and the PC/SC service (contactless readers) starts now and at
# every boot. Every step may fail without failing the install: in a container or a
# chroot there is no udev or systemd to talk to.
set -e

case "$1" in
  configure|abort-upgrade|abort-remove|abort-deconfigure)
    if command -v udevadm >/dev/null 2>&1; then
      udevadm control --reload-rules >/dev/null 2>&1 || true
      # Re-applies the rules to what is plugged in already (the tty, hidraw and usbmisc
      # nodes only, not every device of the machine).
      udevadm trigger --action=change --subsystem-match=tty --subsystem-match=hidraw \
        --subsystem-match=usbmisc >/dev/null 2>&1 || true
    fi
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      # pcscd is socket-activated on Debian: enabling the socket starts it on demand.
      systemctl enable --now pcscd.socket >/dev/null 2>&1 || true
    fi
    ;;
esac

exit 0
