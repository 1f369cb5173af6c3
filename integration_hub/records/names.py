"""What a records model may be called: one rule for the store, imports and syncs."""

import re

# \Z, not $: $ also matches before a final newline, so "contacts\n" would pass.
MODEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
