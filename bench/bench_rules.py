"""Time to load and validate the default rules (encaisse.rules.load), which Excel functions may do per call.

Run: .venv/bin/python bench/bench_rules.py
"""

import time

from encaisse.rules import DEFAULT_RULES_DIR, load

load(DEFAULT_RULES_DIR)  # first load compiles the JSON Schemas (kept per schema file version)
runs = 50
start = time.perf_counter()
for _ in range(runs):
    load(DEFAULT_RULES_DIR)
elapsed = (time.perf_counter() - start) / runs
print(f"rules.load({DEFAULT_RULES_DIR.name}/) : {elapsed * 1000:.1f} ms par chargement ({runs} chargements)")
