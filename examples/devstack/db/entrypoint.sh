#!/bin/sh
# Initialises the data directory on first start, then runs MariaDB with an init
# file that (idempotently) sets the root password and creates the application's
# database and user from the MARIADB_* environment variables.
set -eu
: "${MARIADB_ROOT_PASSWORD:?set MARIADB_ROOT_PASSWORD}"
: "${MARIADB_DATABASE:=app}" "${MARIADB_USER:=app}" "${MARIADB_PASSWORD:?set MARIADB_PASSWORD}"

mkdir -p /run/mysqld
chown mysql:mysql /run/mysqld /var/lib/mysql
if [ ! -d /var/lib/mysql/mysql ]; then
  echo "entrypoint: initialising the data directory"
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db \
    --auth-root-authentication-method=normal > /dev/null
fi

sql_quote() { printf "%s" "$1" | sed "s/'/''/g"; }
init=/run/mysqld/init.sql
umask 077
cat > "$init" <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED BY '$(sql_quote "$MARIADB_ROOT_PASSWORD")';
CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;
CREATE USER IF NOT EXISTS '$(sql_quote "$MARIADB_USER")'@'%' IDENTIFIED BY '$(sql_quote "$MARIADB_PASSWORD")';
ALTER USER '$(sql_quote "$MARIADB_USER")'@'%' IDENTIFIED BY '$(sql_quote "$MARIADB_PASSWORD")';
GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$(sql_quote "$MARIADB_USER")'@'%';
SQL
chown mysql:mysql "$init"

if [ "$1" = mariadbd ]; then
  shift
  exec mariadbd --user=mysql --datadir=/var/lib/mysql --bind-address=0.0.0.0 \
    --skip-name-resolve --init-file="$init" "$@"
fi
exec "$@"
