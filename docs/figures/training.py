import matplotlib.pyplot as plt

from skconstrain import ConstrainedRegressor
from skconstrain.datasets import make_constrained_regression

X, Y = make_constrained_regression(1000, 8, 3, set="simplex", random_state=0)
reg = ConstrainedRegressor(
    hidden_layer_sizes=(32,),
    output_constraint="simplex",
    early_stopping=True,
    epochs=200,
    random_state=0,
).fit(X, Y)
fig, axes = plt.subplots(1, 2, figsize=(9, 2.8))
axes[0].plot(reg.loss_curve_, label="training loss")
axes[0].plot(reg.history_["val_loss"], label="validation loss")
axes[0].set(xlabel="epoch", yscale="log")
axes[0].legend()
axes[1].plot(reg.validation_scores_)
best = reg.validation_scores_.index(reg.best_validation_score_)
axes[1].axvline(best, color="k", ls="--", lw=0.7)
axes[1].set(
    xlabel="epoch",
    ylabel="validation R^2",
    title=f"stopped after {reg.n_iter_} epochs; best kept",
)
fig.tight_layout()
