#!/usr/bin/env bash
# The interface's translations (README "Translations"), with pybabel and babel.cfg:
#   scripts/translations.sh extract [FILE]  every wrapped string into translations/messages.pot (or FILE)
#   scripts/translations.sh update          extract, then merge new and changed strings into each .po
#   scripts/translations.sh compile         each .po into the .mo the app reads (committed with it)
set -euo pipefail
cd "$(dirname "$0")/.."
pybabel=.venv/bin/pybabel
case "${1:-}" in
  extract)
    # _l: lazy_gettext (web/forms.py), lazy_pgettext: names with a context, N_: messages.py's marker
    "$pybabel" --quiet extract -F babel.cfg -k _l -k lazy_pgettext:1c,2 -k N_ --no-location --sort-output \
      --project Moodlens --ignore-dirs='.* _* tests training bench migrations instance' \
      -o "${2:-translations/messages.pot}" . ;;
  update)
    "$0" extract
    "$pybabel" --quiet update -i translations/messages.pot -d translations --width 120 --ignore-obsolete ;;
  compile)
    "$pybabel" --quiet compile -d translations ;;
  *)
    echo "usage: $0 extract [FILE] | update | compile" >&2
    exit 2 ;;
esac
