"""The machine a benchmark ran on, for the line every figure carries: CPU model with family and model numbers.

``platform.processor()`` is empty or just "x86_64" on Linux, so the name comes from ``lscpu``.
"""

from __future__ import annotations

import platform
import subprocess


def cpu_model() -> str:
    """E.g. 'AMD EPYC 7B13 (family 25 model 1)'; the architecture alone where lscpu is missing."""
    try:
        listing = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return platform.machine()
    fields = {key.strip(): value.strip() for key, value in (line.split(":", 1) for line in listing.splitlines() if ":" in line)}
    if "Model name" not in fields:
        return platform.machine()
    return f"{fields['Model name']} (family {fields.get('CPU family', '?')} model {fields.get('Model', '?')})"
