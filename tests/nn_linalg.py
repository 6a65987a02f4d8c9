#!/usr/bin/env python3
"""Checks nn.py's linear algebra on random matrices, the way one would by
hand: the Jacobi eigenvectors are orthonormal and satisfy A v = lambda v;
the Cholesky solve solves; a ridge regression recovers exactly linear data
when alpha is tiny, and a large alpha shrinks it.
Usage: nn_linalg.py PATH/TO/nn.py   (exit 0 when all hold)"""
import importlib.util
import random
import sys


def load(path):
    sys.dont_write_bytecode = True      # no __pycache__ in the repository
    spec = importlib.util.spec_from_file_location("nn", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def matmul(A, B):
    return [[sum(a * b for a, b in zip(row, col)) for col in zip(*B)] for row in A]


def main():
    nn = load(sys.argv[1])
    rng = random.Random(5)
    worst = 0.0
    for n in (1, 2, 5, 13):
        M = [[rng.gauss(0, 1) for _ in range(n)] for _ in range(n + 3)]
        A = matmul(list(map(list, zip(*M))), M)          # symmetric, PSD
        values, V = nn.symmetric_eigen(A)
        AV = matmul(A, V)
        for i in range(n):                                # A v_i = lambda_i v_i
            for r in range(n):
                worst = max(worst, abs(AV[r][i] - values[i] * V[r][i]))
        VtV = matmul(list(map(list, zip(*V))), V)         # V^T V = I
        for i in range(n):
            for j in range(n):
                worst = max(worst, abs(VtV[i][j] - (i == j)))
        b = [rng.gauss(0, 1) for _ in range(n)]
        x = nn.solve_spd(A, b)
        Ax = [sum(a * v for a, v in zip(row, x)) for row in A]
        worst = max(worst, max(abs(u - v) for u, v in zip(Ax, b)))
    print("eigen and solve: worst error %.2g" % worst)
    bad = worst > 1e-8

    # Ridge: y = 2 x0 - 3 x1 + 0 x2 + 7, exactly; tiny alpha recovers it.
    X = [[rng.uniform(-5, 5), rng.uniform(0, 100), rng.gauss(0, 1)] for _ in range(40)]
    y = [2 * a - 3 * b + 7 for a, b, _ in X]
    probe = [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]
    alpha, model = nn.ridge_models(X, y, alphas=(1e-10,))[0]
    err = max(abs(p - w) for p, w in zip(model(probe), [2 - 6 + 7, 7]))
    print("ridge, exact line: worst error %.2g" % err)
    bad |= err > 1e-5
    # A real penalty shrinks: the fit is worse on the training rows than OLS.
    y_noisy = [v + rng.gauss(0, 3) for v in y]
    (_, tiny), (_, big) = nn.ridge_models(X, y_noisy, alphas=(1e-10, 10.0))
    shrunk = nn.mse(big(X), y_noisy) > nn.mse(tiny(X), y_noisy)
    print("ridge, alpha 10 fits the training rows worse than alpha 0: %s" % shrunk)
    bad |= not shrunk
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
