"""``python -m integration_hub`` is the ``integration-hub`` command."""

from integration_hub.cli import main

main()
