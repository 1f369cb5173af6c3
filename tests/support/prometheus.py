"""Reading samples out of the Prometheus text format, for tests."""

from __future__ import annotations


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample (0 when it is not there yet)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        sample_name, _, label_text = metric.partition("{")
        got = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
        if sample_name == name and got == wanted:
            return float(value)
    return 0.0
