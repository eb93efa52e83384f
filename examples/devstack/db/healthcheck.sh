#!/bin/sh
# Healthy once the application's user can log in and query its database.
exec mariadb --protocol=tcp -h 127.0.0.1 -u"$MARIADB_USER" -p"$MARIADB_PASSWORD" \
  -e 'SELECT 1' "$MARIADB_DATABASE" > /dev/null
