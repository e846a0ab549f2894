#!/bin/sh
# postrm of the schoolcard .deb. The schools' databases are never touched: each user's
# lives in their own home (~/.local/share/schoolcard/school.sqlite by default, with its
# logs/, reports/ and diagnostics/ folders beside it), and removing or purging the
# program leaves them for the next install or for a backup.
set -e

case "$1" in
  remove|purge)
    if command -v udevadm >/dev/null 2>&1; then
      udevadm control --reload-rules >/dev/null 2>&1 || true
    fi
    echo "schoolcard: removed. The school databases were NOT deleted: they stay in each user's ~/.local/share/schoolcard/ (or wherever --db pointed). Delete that folder by hand only if the data is no longer needed."
    ;;
esac

exit 0
