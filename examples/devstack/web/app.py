"""The dev stack's web application.

GET /        increments a counter in Redis, writes a row to MariaDB, and returns
             both values as JSON: {"hits": <redis counter>, "visits": <rows>}.
GET /health  200 when both Redis and MariaDB answer.
"""

import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pymysql
import redis

cache = redis.Redis(host=os.environ.get("REDIS_HOST", "cache"), port=6379, socket_timeout=5)


def db():
    return pymysql.connect(
        host=os.environ.get("DB_HOST", "db"),
        user=os.environ["DB_USER"],
        password=os.environ["DB_PASSWORD"],
        database=os.environ["DB_NAME"],
        connect_timeout=5,
        autocommit=True,
    )


def create_table(deadline_seconds=60):
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            with db() as conn, conn.cursor() as cur:
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS visits ("
                    " id INT AUTO_INCREMENT PRIMARY KEY,"
                    " at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)"
                )
            return
        except pymysql.MySQLError as err:
            if time.monotonic() > deadline:
                raise
            print(f"waiting for the database: {err}", file=sys.stderr)
            time.sleep(1)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            if self.path == "/health":
                cache.ping()
                with db() as conn, conn.cursor() as cur:
                    cur.execute("SELECT 1")
                self.reply(200, {"status": "ok"})
            elif self.path == "/":
                hits = cache.incr("hits")
                with db() as conn, conn.cursor() as cur:
                    cur.execute("INSERT INTO visits () VALUES ()")
                    cur.execute("SELECT COUNT(*) FROM visits")
                    (visits,) = cur.fetchone()
                self.reply(200, {"hits": hits, "visits": visits})
            else:
                self.reply(404, {"error": f"no such page: {self.path}"})
        except (redis.RedisError, pymysql.MySQLError) as err:
            self.reply(503, {"error": str(err)})

    def log_request(self, code="-", size="-"):
        if self.path != "/health":
            super().log_request(code, size)

    def reply(self, status, body):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    # As PID 1 the default action of SIGTERM is to ignore it: stop on it explicitly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    create_table()
    server = ThreadingHTTPServer(("0.0.0.0", 8000), Handler)
    print("web: listening on :8000", flush=True)
    server.serve_forever()
