"""What a records model and a data field may be called: one rule for the store, imports,
syncs and filters."""

import re

# \Z, not $: $ also matches before a final newline, so "contacts\n" would pass.
MODEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
# A data field a filter, sort, sum or field list may name (fullmatch).
FIELD_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
