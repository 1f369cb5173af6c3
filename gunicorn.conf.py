"""gunicorn settings; every value can be overridden from the environment.

Threads rather than many processes: the hub's work is waiting on upstreams and
the database, so a few processes with several threads each keep memory low
while serving many slow proxied calls at once. See docs/deployment.md.
"""

import multiprocessing
import os

bind = os.environ.get("HUB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("HUB_WORKERS", min(4, multiprocessing.cpu_count())))
worker_class = "gthread"
threads = int(os.environ.get("HUB_THREADS", "8"))
timeout = int(os.environ.get("HUB_WORKER_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# Trust X-Forwarded-* only from these addresses (nginx on the same machine by default);
# the app's ProxyFix applies HUB_TRUSTED_PROXIES hops on top.
forwarded_allow_ips = os.environ.get("HUB_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = os.environ.get("HUB_ACCESS_LOG", "-")
errorlog = "-"
