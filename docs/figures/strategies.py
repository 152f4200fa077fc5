from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import skconstrain

# the comparison table of this page, as printed by compare_strategies.py
page = Path(skconstrain.__file__).parents[1] / "docs" / "user_guide" / "strategies.md"
text = page.read_text().split("```text", 1)[1].split("```", 1)[0]
ratios = {}
for block in text.strip().split("\n\n"):
    lines = block.strip().splitlines()
    problem = lines[0].strip()
    for line in lines[3:]:
        name, _, _, vs_best = line.split()[:4]
        ratios.setdefault(name, {})[problem] = float(vs_best.rstrip("x"))
problems = list(next(iter(ratios.values())).keys())
problems = sorted({p for r in ratios.values() for p in r}, key=text.index)
fig, ax = plt.subplots(figsize=(9, 3))
width = 0.8 / len(ratios)
for i, (name, row) in enumerate(sorted(ratios.items())):
    x = np.arange(len(problems)) + i * width
    ax.bar(x, [row.get(p, np.nan) for p in problems], width, label=name)
ax.set_xticks(np.arange(len(problems)) + 0.4 - width / 2, problems)
ax.set(ylabel="test MSE / best", ylim=(0.9, 1.5))
ax.axhline(1, color="k", lw=0.6)
ax.legend(ncol=4, fontsize=7)
fig.tight_layout()
