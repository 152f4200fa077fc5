import re
from pathlib import Path

import matplotlib.pyplot as plt

import skconstrain

# the fit-time table of this page (benchmarks/bench_fit.py)
page = Path(skconstrain.__file__).parents[1] / "docs" / "user_guide" / "performance.md"
rows = [
    line.split("|")[1:-1]
    for line in page.read_text().splitlines()
    if re.match(r"\| (32|100) \| [\d ]+ \| [\d.]+ s \|", line)
]
labels = [f"h{r[0].strip()}, {r[1].strip()} rows" for r in rows]
mlp = [float(r[5].strip().rstrip("\u00d7")) for r in rows]
keras_fit = [float(r[6].strip().rstrip("\u00d7")) for r in rows]
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].barh(labels, mlp)
axes[0].axvline(1, color="k", lw=0.6)
axes[0].set(xlabel="our fit time / MLPRegressor's")
axes[1].barh(labels, keras_fit, color="C1")
axes[1].set(xlabel="Keras Model.fit's time / ours")
fig.tight_layout()
