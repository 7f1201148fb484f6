"""Named configurations that reproduce the seeds' and the book's experiments.

Each recipe is a TOML text: ``name``, ``description`` (what it reproduces), ``expected`` (the
published result, and the one measured with ffnn) and the settings of :mod:`ffnn.config`, or
``extends = "BASE"`` and the settings in which it differs from recipe BASE.
``ffnn recipes`` lists them; ``ffnn recipes show NAME`` prints one; ``ffnn train --recipe NAME``
runs it.
"""

from __future__ import annotations

import sys
from typing import Any

from ffnn.errors import SettingError
from ffnn.settings import check, in_recipe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_RECIPES = {
    "nielsen-ch1": """
name = "nielsen-ch1"
description = "Nielsen, chapter 1 (seed 003's network.py): 784-30-10 sigmoid, quadratic cost, N(0,1) weights, SGD eta 3.0, batch 10, 30 epochs on the first 50,000 training images."
expected = "book: 95.42 % at its best epoch. ffnn over seeds 0-5: final 94.58-95.65 %, mean 95.08 % (after epoch 0: 64.7-91.5 %); this recipe fixes seed 2, the one nearest the mean: 90.94 % after epoch 0, 95.09 % final"
dataset = "mnist"
validation = 10000
seed = 2
sizes = [784, 30, 10]
activation = "sigmoid"
cost = "quadratic"
init = "normal"
epochs = 30
batch_size = 10
eta = 3.0
""",
    "nielsen-ch1-100": """
name = "nielsen-ch1-100"
description = "Nielsen, chapter 1, with 100 hidden neurons: 784-100-10, otherwise as nielsen-ch1."
expected = "book: 96.59 %; ffnn (seed 0): 96.35 % final, 96.49 % best"
dataset = "mnist"
validation = 10000
sizes = [784, 100, 10]
activation = "sigmoid"
cost = "quadratic"
init = "normal"
epochs = 30
batch_size = 10
eta = 3.0
""",
    "nielsen-ch3": """
name = "nielsen-ch3"
description = "Nielsen, chapter 3 (network2.py): 784-100-10 sigmoid with the cross-entropy cost (binary, on sigmoid outputs), N(0,1/n_in) weights, L2 lambda 5.0, eta 0.5, batch 10, 60 epochs on 50,000 training images."
expected = "book: about 98 %; ffnn (seed 0): 97.55 % final, 97.89 % best"
dataset = "mnist"
validation = 10000
sizes = [784, 100, 10]
activation = "sigmoid"
cost = "binary_cross_entropy"
init = "scaled_normal"
epochs = 60
batch_size = 10
eta = 0.5
lmbda = 5.0
""",
    "seed-000": """
name = "seed-000"
description = "Seed 000 exactly as written: 784-392-196-10 sigmoid, quadratic cost, rand*0.01 weights and biases, learning rate 0.003, 200 'epochs' that each draw ONE random mini-batch of 32 (6,400 examples seen in all, a tenth of one real epoch). With weights that small every hidden unit starts at sigma(~0.02) = 0.5, the output layer sees nearly the same input for every image, and 200 steps of size 0.003 on the quadratic cost (whose gradient is damped by sigma' <= 1/4 in each of 3 layers) barely move it: the network learns the class frequencies, not the digits."
expected = "ffnn (seed 0): 11.35 %, i.e. it answers '1' (the most frequent digit) for every image"
dataset = "mnist"
sizes = [784, 392, 196, 10]
activation = "sigmoid"
cost = "quadratic"
init = "seed000"
epochs = 200
batch_size = 32
eta = 0.003
batches_per_epoch = 1
""",
    "seed-000-fixed": """
name = "seed-000-fixed"
description = "Seed 000's network 784-392-196-10 (sigmoid, quadratic cost) trained properly: N(0,1/n_in) weights, every epoch a full pass over the shuffled training set in batches of 32, eta 3.0, 10 epochs."
expected = "ffnn (seed 0): 97.07 %"
dataset = "mnist"
validation = 10000
sizes = [784, 392, 196, 10]
activation = "sigmoid"
cost = "quadratic"
init = "scaled_normal"
epochs = 10
batch_size = 32
eta = 3.0
""",
    "mlp-best": """
name = "mlp-best"
description = "The most accurate fully connected MNIST network ffnn trains here in 20 minutes, without augmentation: 784-1024-1024-10 ReLU, softmax + cross-entropy, He init, dropout 0.5 on the hidden layers and 0.2 on the inputs (inverted), max-norm 3.5 on every neuron's weights, Nesterov momentum 0.9, eta 0.05 with a 1-epoch warm-up and a cosine decay to 0, batch 128, 150 epochs on all 60,000 training images (the final epoch is reported: no test-set model selection)."
expected = "literature: dropout MLPs about 98.8 %; ffnn, seeds 0-2: 98.90 / 98.85 / 98.85 % final (mean 98.87 %), 18 minutes alone; 784-800-800-10 for 120 epochs gave 98.75 / 98.85 / 98.78 % (mean 98.79 %)"
dataset = "mnist"
epochs = 150
sizes = [784, 1024, 1024, 10]
activation = "relu"
cost = "cross_entropy"
init = "he"
batch_size = 128
eta = 0.05
optimizer = "nesterov"
momentum = 0.9
schedule = "cosine"
warmup_epochs = 1
dropout = 0.5
input_dropout = 0.2
max_norm = 3.5
""",
    "mlp-augmented": """
name = "mlp-augmented"
extends = "mlp-best"
description = "The network and training of mlp-best, narrower (784-800-800-10, so that 300 epochs fit in the hour: 40 minutes here) and trained on distorted digits: every batch is randomly shifted (up to 2 px), rotated (10 degrees), scaled (10 %) and elastically distorted (alpha 8, sigma 4) on the fly, 300 epochs."
expected = "literature: an MLP with elastic distortions, 99.3 % (Simard et al. 2003); ffnn, seeds 0-2: 99.27 / 99.30 / 99.35 % final (mean 99.31 %), 40 minutes alone"
sizes = [784, 800, 800, 10]
epochs = 300
augment = "elastic"
""",
    "vanishing-gradient": """
name = "vanishing-gradient"
description = "Why deep sigmoid networks learn slowly (seed 003's 'gradient dampening'): 784-30-30-30-30-10 sigmoid, quadratic cost, N(0,1) weights, eta 0.1, batch 10, 5 epochs. ffnn plot draws gradient_norms.png: the first layer's gradient is orders of magnitude smaller than the last layer's. Compare vanishing-gradient-relu."
expected = "first-layer gradient norm at least 10x below the last layer's throughout; see docs/guide.md"
dataset = "mnist"
sizes = [784, 30, 30, 30, 30, 10]
activation = "sigmoid"
cost = "quadratic"
init = "normal"
epochs = 5
batch_size = 10
eta = 0.1
""",
    "vanishing-gradient-relu": """
name = "vanishing-gradient-relu"
description = "The same depth as vanishing-gradient with ReLU hidden layers, He weights and a softmax + cross-entropy output: the gradient reaches the first layer undiminished."
expected = "first- and last-layer gradient norms of the same order; see docs/guide.md"
dataset = "mnist"
sizes = [784, 30, 30, 30, 30, 10]
activation = "relu"
cost = "cross_entropy"
init = "he"
epochs = 5
batch_size = 10
eta = 0.1
""",
    "punnen-toy": """
name = "punnen-toy"
description = "Seed 002's four examples (inputs [0,0,1] [0,1,1] [1,0,1] [1,1,1], targets 0 1 1 0 as its code trains), 3-4-1 sigmoid, quadratic cost, full batch, 1,000 iterations at the seed's learning rate 1 on the summed gradient = eta 4 on ffnn's mean gradient."
expected = "all four outputs within 0.1 of their targets (the seed prints 0.028 0.925 0.925 0.090)"
dataset = "punnen"
sizes = [3, 4, 1]
activation = "sigmoid"
cost = "quadratic"
init = "normal"
epochs = 1000
batch_size = 4
eta = 4.0
""",
    "xor": """
name = "xor"
description = "XOR, which no perceptron can learn: 2-4-2 sigmoid hidden layer, softmax output with cross-entropy, full batch, eta 2.0, 500 epochs."
expected = "100 % (all four points)"
dataset = "xor"
sizes = [2, 4, 2]
activation = "sigmoid"
cost = "cross_entropy"
init = "normal"
epochs = 500
batch_size = 4
eta = 2.0
""",
}


def names() -> list[str]:
    """The recipes' names, in the order they are listed."""
    return list(_RECIPES)


def text(name: str) -> str:
    """The recipe's TOML text."""
    if name not in _RECIPES:
        raise SettingError(f"unknown recipe {name!r}; known: {', '.join(_RECIPES)} (see: ffnn recipes).")
    return _RECIPES[name].lstrip()


def info(name: str) -> dict[str, Any]:
    """The whole recipe table, description and expected result included."""
    table: dict[str, Any] = tomllib.loads(text(name))
    return table


def settings(name: str) -> dict[str, Any]:
    """The recipe's settings alone (the keys of :data:`ffnn.config.DEFAULTS`).

    A recipe with ``extends = "BASE"`` takes BASE's settings and overrides the ones it names.
    """
    table = info(name)
    own = {k: v for k, v in table.items() if k not in ("name", "description", "expected", "extends")}
    base = settings(table["extends"]) if "extends" in table else {}
    return check({**base, **own}, in_recipe(name))
