import matplotlib.pyplot as plt
import numpy as np

from skconstrain.keras import ops

# scores (a, 0, 0) through the simplex's projection and its softmax map
a = np.linspace(-3, 3, 301)
scores = np.column_stack([a, np.zeros_like(a), np.zeros_like(a)])
fig, axes = plt.subplots(1, 2, figsize=(9, 2.8), sharey=True)
for ax, (name, out) in zip(
    axes,
    [
        ("project_simplex", ops.project(scores, "simplex")),
        ("activate (softmax)", ops.activate(scores, "simplex")),
    ],
    strict=True,
):
    out = np.asarray(out)
    for k in range(3):
        ax.plot(a, out[:, k], label=f"output {k}")
    ax.set(title=name, xlabel="first score (others 0)")
axes[0].set_ylabel("output")
axes[0].legend(fontsize=7)
fig.tight_layout()
