#!/usr/bin/env bash
# Secrets for `docker compose up`, which has no fallback for them and refuses to start without them.
#
#   deploy/local/compose_env.sh [FILE]   # default: .env beside docker-compose.yml
#
# Appends a random value for each of CREDENTIALS_ENCRYPTION_KEY, ACTIVATOR_DEV_API_KEY and
# POSTGRES_PASSWORD that FILE does not set yet (mode 0600); values already there are kept, so a second
# run changes nothing (a new CREDENTIALS_ENCRYPTION_KEY would make stored credentials unreadable).
# Prints the names it wrote on stderr, never a value: read the dev API key from the file.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
file="${1:-$root/.env}"

random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

umask 077
touch "$file"
chmod 600 "$file"
# A last line without its newline would run into the first value appended.
if [ -s "$file" ] && [ -n "$(tail -c 1 "$file")" ]; then echo >>"$file"; fi
add() {
  if ! grep -q "^$1=" "$file"; then
    printf '%s=%s\n' "$1" "$2" >>"$file"
    echo "compose_env: wrote $1 to $file" >&2
  fi
}
add CREDENTIALS_ENCRYPTION_KEY "$(random_hex 32)"
add ACTIVATOR_DEV_API_KEY "act_$(random_hex 24)"
# Hex: it goes into DATABASE_URL unescaped.
add POSTGRES_PASSWORD "$(random_hex 24)"
if git -C "$(dirname "$file")" rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  && ! git -C "$(dirname "$file")" check-ignore -q "$file"; then
  echo "compose_env: $file is not ignored by git: add it to .gitignore so the secrets stay out of commits" >&2
fi
