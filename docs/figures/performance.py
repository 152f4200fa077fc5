import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import skconstrain

# the fit-time table of this page (benchmarks/bench_fit.py): per row, the
# ratios on TensorFlow (columns 4 and 5) and on JAX (columns 7 and 8)
page = Path(skconstrain.__file__).parents[1] / "docs" / "user_guide" / "performance.md"
rows = [
    line.split("|")[1:-1]
    for line in page.read_text().splitlines()
    if re.match(r"\| (32|100) \| [\d ]+ \| [\d.]+ s \|", line)
]


def ratio(cell):
    return float(cell.strip().rstrip("\u00d7"))


labels = [f"h{r[0].strip()}, {r[1].strip()} rows" for r in rows]
at = np.arange(len(rows))
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for column, backend, shift in ((4, "TensorFlow", -0.2), (7, "JAX", 0.2)):
    axes[0].barh(at + shift, [ratio(r[column]) for r in rows], 0.4, label=backend)
    axes[1].barh(at + shift, [ratio(r[column + 1]) for r in rows], 0.4, label=backend)
axes[0].axvline(1, color="k", lw=0.6)
axes[0].set(xlabel="our fit time / MLPRegressor's", yticks=at, yticklabels=labels)
axes[1].set(xlabel="Keras Model.fit's time / ours", yticks=at, yticklabels=labels)
axes[0].legend(loc="upper right", fontsize=8)
fig.tight_layout()
