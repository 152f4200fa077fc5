import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from skconstrain.keras import ops

# one score of the box [-1, 1] under each head, and its derivative
z = tf.Variable(np.linspace(-3, 3, 601))
with tf.GradientTape(persistent=True) as tape:
    outs = {
        '"project": clip': ops.project(z, "box", lower=-1.0, upper=1.0),
        '"activation": -1 + 2 sigmoid': ops.activate(z, "box", lower=-1.0, upper=1.0),
        '"post": identity while training': z * 1.0,
    }
fig, axes = plt.subplots(1, 2, figsize=(9, 2.8))
for name, out in outs.items():
    axes[0].plot(z.numpy(), out.numpy(), label=name)
    axes[1].plot(z.numpy(), tape.gradient(out, z).numpy(), label=name)
axes[0].set(xlabel="score", ylabel="prediction")
axes[1].set(xlabel="score", ylabel="d prediction / d score")
axes[0].legend(fontsize=7)
fig.tight_layout()
