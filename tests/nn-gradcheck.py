#!/usr/bin/env python3
"""Checks nn.py's backpropagation against finite differences, for every
activation, with the l1/l2 penalties on: the analytic gradient of the batch
loss must match (loss(w + h) - loss(w - h)) / 2h for every weight and bias.
Usage: nn-gradcheck.py PATH/TO/nn.py   (exit 0 when all agree)"""
import importlib.util
import random
import sys


def load(path):
    sys.dont_write_bytecode = True      # no __pycache__ in the repository
    spec = importlib.util.spec_from_file_location("nn", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def batch_loss(nn, layers, X, y, l1, l2):
    """The loss backward differentiates: batch MSE plus the weight penalties."""
    pred = nn.predict(layers, X)
    penalty = sum(l1 * abs(w) + l2 * w * w
                  for layer in layers for row in layer.weights for w in row)
    return nn.mse(pred, y) + penalty


def check(nn, activation, l1, l2):
    rng = random.Random(7)
    X = [[rng.uniform(-2, 2) for _ in range(4)] for _ in range(6)]
    y = [rng.uniform(-1, 1) for _ in range(6)]
    spec = nn.LayerSpec(activation, 1.5, 0.0)
    cfg = nn.Config(data_file="-", target="-", inputs=None, layers=(spec, spec),
                    last_activation=activation, optimizer="sgd",
                    learning_rate=0.1, l1=l1, l2=l2, epochs=1, batch_size=6,
                    patience_rate=None, patience=1, validation_split=0,
                    scaler="standard", seed=1, test_split=0.2,
                    cross_validate=False, folds=5, progress_every=0)
    layers = nn.build_network(4, cfg, rng)
    for layer in layers:     # nonzero biases, so relu units are not all alike
        layer.biases = [rng.uniform(-0.5, 0.5) for _ in layer.biases]
    out, caches = nn.forward(layers, X, random.Random(1))
    d_out = [[2.0 * (o[0] - t) / len(y)] for o, t in zip(out, y)]
    grads = nn.backward(layers, caches, d_out, l1, l2)
    h, worst = 1e-6, 0.0
    for layer, (dW, db) in zip(layers, grads):
        cells = [(row, i, g) for row, grow in zip(layer.weights, dW)
                 for i, g in enumerate(grow)]
        cells += [(layer.biases, i, g) for i, g in enumerate(db)]
        for vec, i, g in cells:
            keep = vec[i]
            vec[i] = keep + h
            up = batch_loss(nn, layers, X, y, l1, l2)
            vec[i] = keep - h
            down = batch_loss(nn, layers, X, y, l1, l2)
            vec[i] = keep
            numeric = (up - down) / (2 * h)
            worst = max(worst, abs(numeric - g) / max(1.0, abs(numeric)))
    return worst


def main():
    nn = load(sys.argv[1])
    bad = 0
    for activation in nn.ACTIVATION_NAMES:
        for l1, l2 in ((0.0, 0.0), (0.01, 0.02)):
            worst = check(nn, activation, l1, l2)
            ok = worst < 1e-5
            bad += not ok
            print("%s %s l1=%g l2=%g: worst relative error %.2g"
                  % ("ok" if ok else "BAD", activation, l1, l2, worst))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
