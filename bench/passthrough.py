"""The baseline: a bare Flask app passing ``/<path>`` on to one upstream with urllib3,
streaming the answer back; no authentication, database or templates.
``gunicorn -c gunicorn.conf.py bench.passthrough:app`` with ``HUB_BENCH_UPSTREAM`` set."""

import os

import urllib3
from flask import Flask, Response, request

UPSTREAM = os.environ.get("HUB_BENCH_UPSTREAM", "http://127.0.0.1:9")
pool = urllib3.PoolManager(maxsize=20, retries=False)
app = Flask(__name__)


@app.route("/healthz")
def healthz():
    return "ok"


@app.route("/<path:path>", methods=["GET", "POST"])
def passthrough(path):
    answer = pool.urlopen(request.method, f"{UPSTREAM}/{path}", body=request.get_data() or None,
                          headers={"Accept": request.headers.get("Accept", "*/*")},
                          preload_content=False, decode_content=False, redirect=False)

    def body():
        try:
            yield from answer.stream(256 * 1024, decode_content=False)  # as the hub
        finally:
            answer.release_conn()

    return Response(body(), status=answer.status, direct_passthrough=True,
                    content_type=answer.headers.get("Content-Type"))
