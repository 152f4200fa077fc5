import matplotlib.pyplot as plt

from skconstrain.datasets import load_age_structure, load_auto_mpg, load_glucose

fig, axes = plt.subplots(1, 3, figsize=(12, 3))
X, Y = load_age_structure(age_groups=[0, 15, 65], as_frame=True, return_X_y=True)
for column in Y.columns:
    axes[0].scatter(X["fertility"], Y[column], s=2, label=column)
axes[0].set(xlabel="fertility", ylabel="share", title="load_age_structure")
axes[0].legend(fontsize=7, markerscale=4)
mpg = load_auto_mpg(as_frame=True)
axes[1].scatter(mpg.data["weight"], mpg.target, s=4)
axes[1].set(xlabel="weight (pounds)", ylabel="mpg", title="load_auto_mpg")
glucose = load_glucose(as_frame=True)
day = glucose.frame.iloc[5000:5288]
axes[2].plot(day.index, day["glucose"], lw=1)
axes[2].set(ylabel="mg/dL", title="load_glucose (one day)")
axes[2].tick_params(axis="x", labelrotation=30, labelsize=7)
fig.tight_layout()
