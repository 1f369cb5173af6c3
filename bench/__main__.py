"""``python -m bench``: every benchmark in turn, with the time each took."""

import subprocess
import sys
import time

from bench.harness import REPO

BENCHMARKS = ("proxy_throughput", "streaming", "list_integrations", "refresh_once",
              "record_filters")


def main() -> None:
    started = time.monotonic()
    failed = []
    for name in BENCHMARKS:
        begun = time.monotonic()
        done = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=REPO,
                              check=False)
        print(f"  ({name}: {time.monotonic() - begun:.0f} s)", flush=True)
        if done.returncode != 0:
            failed.append(name)
    print(f"\nall benchmarks: {time.monotonic() - started:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
