"""The integration page's total, remembered by each gunicorn process between changes
(integrations/totals.py), follows a change made through another process: every process
counts again once the change generation has moved (docs/decisions.md, "Performance")."""

from __future__ import annotations

import requests

from tests.support.hub_database import plain_url, wait_until
from tests.support.served_hub import production_hub


def test_every_process_counts_again_after_a_change(tmp_path, backend, new_database_url):
    with production_hub(tmp_path, DATABASE_URL=plain_url(new_database_url(backend))) as hub:
        auth = {"Authorization": f"Bearer {hub.token}"}

        def create(name: str) -> None:
            answer = requests.post(f"{hub.base}/api/integrations", headers=auth, timeout=10,
                                   json={"name": name, "type": "custom", "authType": "none"})
            assert answer.status_code == 201, answer.text

        def totals() -> set[int]:
            """The totals a dozen requests answer, a connection each: both processes
            take some, and each remembers what it counted."""
            found = set()
            for _ in range(12):
                answer = requests.get(f"{hub.base}/api/integrations?limit=1", timeout=10,
                                      headers={**auth, "Connection": "close"})
                assert answer.status_code == 200, answer.text
                found.add(answer.json()["total"])
            return found

        create("First")
        wait_until(lambda: totals() == {1}, "every process to count the first integration")
        create("Second")  # made by one process; the other learns of it by the generation
        wait_until(lambda: totals() == {2}, "every process to count the second integration")
        create("Third")
        wait_until(lambda: totals() == {3}, "every process to count the third integration")
