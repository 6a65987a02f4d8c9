#!/usr/bin/env python3
"""nn.py: spool's example training script, a small multi-layer perceptron that
regresses one column of a CSV on the others. Plain Python 3, standard library
only, so it runs wherever python3 does.

It is the script the seed article's sample job names ("scriptName": "nn.py").
A runner starts it with the job JSON as its first argument (with no argument it
reads the job from stdin). It prints progress lines, then the outcome as its
last line of stdout:

    {"status": 200, "jobId": "...", "loss": 0.31, "metric": 0.44, "trainLoss": 0.12, ...}

What the numbers mean (all in the original units of the dependent variable):
  loss       mean squared error on rows the network was not trained on
  metric     mean absolute error on those same held-out rows
  trainLoss  mean squared error on the training rows (all but the held-out
             ones), predicted without dropout
The held-out rows are a test split (testSplit) for a normal job; with
"crossValidateOnly": true they are each of k folds in turn, and loss, metric
and trainLoss are the means over the folds, listed in foldLosses, foldMetrics
and foldTrainLosses. The weight penalties (l1, l2) are not part of any of them.

The job (keys are optional unless marked required):
  dataFileName          required: a CSV file in the data directory
                        ($SPOOL_DATA_DIR, else ../../data from this file, the
                        repository's data/); a name only, no '/' and no '..'.
                        A header row of column names, then numbers only.
  dependentVariable     required: the column to predict (the seed's spelling
                        "depedentVariable" is accepted too)
  independentVariables  the input columns (default: all the other columns)
  hiddenLayers          list of {"activation": relu|tanh|sigmoid|linear|elu,
                        "widthModifier": w, "dropout": p}: a layer of
                        round(w * number of inputs) units (at least 1) whose
                        outputs are dropped with probability p while training
                        (default: relu x2, then relu x1)
  lastLayerActivator    activation of the output unit (default, or "": linear)
  optimizer             sgd | rmsprop | adam (default adam)
  learningRate          default 0.01
  l1, l2                penalties l1*sum|w| + l2*sum w^2 over the weights (not
                        the biases) added to the training loss, as Keras's
                        regularizers do (default 0)
  epochs                default 100
  batchSize             default 32; capped at the number of training rows
  patienceRate          early stopping, off by default: training stops once
                        the monitored loss has not improved on its best by
                        more than this fraction (0.05 = 5%) for `patience`
                        epochs in a row; the weights are those of the last
                        epoch run. The monitored loss is the MSE on a
                        validation part of the training rows (validationSplit),
                        never on the held-out rows that loss/metric report on.
  patience              epochs without improvement before stopping (default 10)
  validationSplit       fraction of the training rows set aside to monitor for
                        early stopping (default 0.1; 0 monitors the training
                        loss itself). Unused without patienceRate.
  scalerType            standard | minmax (default standard): inputs and target
                        are scaled with statistics of the training rows only;
                        the network learns the scaled target, and every loss
                        it reports is converted back to original units
  seed                  integer (default 1): the same job gives the same outcome
  testSplit             fraction of rows held out for a normal job (default 0.2)
  crossValidateOnly     true: k-fold cross-validation instead of one split
  crossValidationFolds  k (default 5)
  loss                  "mse" (the only training loss; the seed names it)
  progressEvery         a progress line every N epochs (default: about 10 a fit)
The seed's other keys (projectName, pcaComponents, slowLearningRate, ...) and
those runners add (callbackAddress, assignmentId, spool, and the
sweep name spoolctl sweep adds) are ignored; any other
key is ignored with a warning on stderr, since it is most likely a typo.

The outcome's jobId is the job's "_id" (as the seed passes it), else its
"jobId", else $SPOOL_JOB_ID, else null.

Exit status: 0 with status 200. 2 with status 400: the job itself is wrong
(invalid JSON, a bad value, an unknown column, a missing data file, or
hyper-parameters that make training diverge), so running it again cannot
help. 1 with status 500: anything unexpected (an unreadable file, a bug); the
traceback goes to stderr, the outcome line still to stdout.
"""

import csv
import json
import math
import os
import random
import re
import sys
import time
import traceback
from dataclasses import dataclass
from operator import mul

JOB_MAX_BYTES = 1 << 20          # spool's own ceiling on a job document
ACTIVATION_NAMES = ("relu", "tanh", "sigmoid", "linear", "elu")
OPTIMIZERS = ("sgd", "rmsprop", "adam")
SCALERS = ("standard", "minmax")
DEFAULT_LAYERS = ({"activation": "relu", "widthModifier": 2.0, "dropout": 0.0},
                  {"activation": "relu", "widthModifier": 1.0, "dropout": 0.0})
MAX_LAYERS = 16
MAX_WIDTH = 4096

# Keys the seed's sample job carries, or a runner adds, that this script has no
# use for: accepted silently. Anything else unknown earns a warning.
IGNORED_KEYS = frozenset((
    "_id", "jobId", "scriptName", "projectName", "callbackAddress", "sweep",
    "assignmentId", "spool", "crossValidationCrossingType", "slowLearningRate",
    "pcaComponents", "extraTreesKeepThreshd", "saveWeightsOnlyAtEnd",
    "minDependentVarValue", "maxDependentVarValue"))
USED_KEYS = frozenset((
    "dataFileName", "dependentVariable", "depedentVariable",
    "independentVariables", "hiddenLayers", "lastLayerActivator", "optimizer",
    "learningRate", "l1", "l2", "epochs", "batchSize", "patienceRate",
    "patience", "validationSplit", "scalerType", "seed", "testSplit",
    "crossValidateOnly", "crossValidationFolds", "loss", "progressEvery"))


class JobError(Exception):
    """A failure to report as the outcome: 400 = the job is wrong, 500 = not."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


# ---- the job ----------------------------------------------------------------

@dataclass(frozen=True)
class LayerSpec:
    activation: str
    width_modifier: float
    dropout: float


@dataclass(frozen=True)
class Config:
    """The job's hyper-parameters, checked."""
    data_file: str
    target: str
    inputs: tuple            # column names, or None for "all the others"
    layers: tuple            # of LayerSpec
    last_activation: str
    optimizer: str
    learning_rate: float
    l1: float
    l2: float
    epochs: int
    batch_size: int
    patience_rate: float     # None: no early stopping
    patience: int
    validation_split: float
    scaler: str
    seed: int
    test_split: float
    cross_validate: bool
    folds: int
    progress_every: int      # 0: about ten lines a fit


def read_job_text(argv, stdin):
    """The job text: the first argument, as the seed passes it, else stdin."""
    if len(argv) > 1:
        return argv[1]
    text = stdin.read(JOB_MAX_BYTES + 1)
    if len(text) > JOB_MAX_BYTES:
        raise JobError("job on stdin is larger than %d bytes" % JOB_MAX_BYTES)
    return text


def parse_job(text):
    """The job object; NaN and Infinity are refused as the JSON spec does."""
    def no_constants(name):
        raise ValueError("%s is not JSON" % name)
    try:
        job = json.loads(text, parse_constant=no_constants)
    except ValueError as e:
        raise JobError("job is not valid JSON: %s" % e) from None
    if not isinstance(job, dict):
        raise JobError("job must be a JSON object, not %s" % type(job).__name__)
    return job


def job_id_of(job, text, env):
    """The id to put in the outcome, so the boss can file it by jobId alone."""
    if isinstance(job, dict):
        for key in ("_id", "jobId"):
            value = job.get(key)
            if isinstance(value, dict) and "$oid" in value:   # Mongo's export form
                value = value["$oid"]
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                return value
    elif text:
        # Invalid JSON: still try to name the job the error belongs to.
        m = re.search(r'"(?:_id|jobId)"\s*:\s*(?:ObjectId\(\s*)?"([^"\\]{1,200})"', text)
        if m:
            return m.group(1)
    return env.get("SPOOL_JOB_ID") or None


def _number(job, key, default, minimum=None, maximum=None, integer=False,
            above=None):
    """job[key] as a number within bounds, or default when absent or null."""
    value = job.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise JobError("%s must be a number, not %s" % (key, json.dumps(value)))
    if integer:
        if value != int(value):
            raise JobError("%s must be a whole number, not %s" % (key, value))
        value = int(value)
    if minimum is not None and value < minimum:
        raise JobError("%s must be at least %s, not %s" % (key, minimum, value))
    if above is not None and value <= above:
        raise JobError("%s must be more than %s, not %s" % (key, above, value))
    if maximum is not None and value > maximum:
        raise JobError("%s must be at most %s, not %s" % (key, maximum, value))
    return value


def _choice(job, key, default, choices):
    value = job.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str) or value.lower() not in choices:
        raise JobError("%s must be one of %s, not %s"
                       % (key, ", ".join(choices), json.dumps(value)))
    return value.lower()


def _layer_spec(i, layer):
    where = "hiddenLayers[%d]" % i
    if not isinstance(layer, dict):
        raise JobError("%s must be an object" % where)
    spec = dict(layer)
    try:
        activation = _choice(spec, "activation", "relu", ACTIVATION_NAMES)
        width = _number(spec, "widthModifier", 1.0, above=0, maximum=MAX_WIDTH)
        dropout = _number(spec, "dropout", 0.0, minimum=0, maximum=0.95)
    except JobError as e:
        raise JobError("%s.%s" % (where, e)) from None
    return LayerSpec(activation, float(width), float(dropout))


def _data_file(job):
    name = job.get("dataFileName")
    if name is None:
        raise JobError("dataFileName is missing")
    if not isinstance(name, str) or not name:
        raise JobError("dataFileName must be a file name")
    # Jobs come from anyone who can submit: keep them inside the data directory.
    if "/" in name or "\\" in name or ".." in name or "\0" in name:
        raise JobError("dataFileName must be a plain file name in the data "
                       "directory, without '/' or '..': %s" % json.dumps(name))
    return name


def _target(job):
    names = [job[k] for k in ("dependentVariable", "depedentVariable") if k in job]
    if not names:
        raise JobError("dependentVariable is missing")
    if len(names) == 2 and names[0] != names[1]:
        raise JobError("dependentVariable and depedentVariable disagree: %s, %s"
                       % (json.dumps(names[0]), json.dumps(names[1])))
    if not isinstance(names[0], str) or not names[0]:
        raise JobError("dependentVariable must be a column name")
    return names[0]


def _inputs(job):
    cols = job.get("independentVariables")
    if cols is None:
        return None
    if not isinstance(cols, list) or not cols \
            or not all(isinstance(c, str) for c in cols):
        raise JobError("independentVariables must be a non-empty list of column names")
    return tuple(cols)


def _layers(job):
    layers = job.get("hiddenLayers")
    if layers is None:
        layers = DEFAULT_LAYERS
    if not isinstance(layers, (list, tuple)) or len(layers) > MAX_LAYERS:
        raise JobError("hiddenLayers must be a list of at most %d layers" % MAX_LAYERS)
    return tuple(_layer_spec(i, layer) for i, layer in enumerate(layers))


def _early_stopping(job):
    rate = _number(job, "patienceRate", None, minimum=0)
    if rate is not None and rate >= 1:
        raise JobError("patienceRate is a fraction, less than 1, not %s" % rate)
    return rate


def make_config(job):
    """Check every key the script uses; the first bad one is the error."""
    if job.get("loss") not in (None, "", "mse"):
        raise JobError("loss must be \"mse\" (the only training loss), not %s"
                       % json.dumps(job["loss"]))
    cv = job.get("crossValidateOnly", False)
    if cv is None:
        cv = False
    if not isinstance(cv, bool):
        raise JobError("crossValidateOnly must be true or false")
    seed = job.get("seed", 1)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise JobError("seed must be an integer, not %s" % json.dumps(seed))
    return Config(
        data_file=_data_file(job),
        target=_target(job),
        inputs=_inputs(job),
        layers=_layers(job),
        last_activation=_choice(job, "lastLayerActivator", "linear", ACTIVATION_NAMES),
        optimizer=_choice(job, "optimizer", "adam", OPTIMIZERS),
        learning_rate=float(_number(job, "learningRate", 0.01, above=0, maximum=10)),
        l1=float(_number(job, "l1", 0.0, minimum=0)),
        l2=float(_number(job, "l2", 0.0, minimum=0)),
        epochs=_number(job, "epochs", 100, minimum=1, maximum=1000000, integer=True),
        batch_size=_number(job, "batchSize", 32, minimum=1, integer=True),
        patience_rate=_early_stopping(job),
        patience=_number(job, "patience", 10, minimum=1, integer=True),
        validation_split=float(_number(job, "validationSplit", 0.1, minimum=0, maximum=0.5)),
        scaler=_choice(job, "scalerType", "standard", SCALERS),
        seed=seed,
        test_split=float(_number(job, "testSplit", 0.2, above=0, maximum=0.5)),
        cross_validate=cv,
        folds=_number(job, "crossValidationFolds", 5, minimum=2, maximum=100, integer=True),
        progress_every=_number(job, "progressEvery", 0, minimum=0, integer=True),
    )


def unknown_keys(job):
    return sorted(k for k in job if k not in USED_KEYS and k not in IGNORED_KEYS)


# ---- the data ---------------------------------------------------------------

def data_dir(env):
    # realpath: a scripts directory may hold a symlink to this file, and the
    # data lives beside the real one.
    here = os.path.dirname(os.path.realpath(__file__))
    return env.get("SPOOL_DATA_DIR") or os.path.normpath(os.path.join(here, "..", "..", "data"))


def load_csv(directory, name):
    """(header, rows of floats). 400 for what the job got wrong, 500 otherwise."""
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        raise JobError("data file %s not found in %s" % (json.dumps(name), directory))
    if not os.path.isfile(path):
        raise JobError("data file %s is not a regular file" % json.dumps(name))
    try:
        with open(path, newline="", encoding="utf-8") as f:
            lines = [row for row in csv.reader(f) if row and any(c.strip() for c in row)]
    except UnicodeDecodeError:
        raise JobError("data file %s is not a UTF-8 text CSV" % json.dumps(name)) from None
    except (OSError, csv.Error) as e:
        raise JobError("cannot read data file %s: %s" % (json.dumps(name), e), 500) from None
    if len(lines) < 2:
        raise JobError("data file %s has no data rows" % json.dumps(name))
    header = [c.strip() for c in lines[0]]
    rows = []
    for lineno, row in enumerate(lines[1:], start=2):
        if len(row) != len(header):
            raise JobError("%s line %d: %d fields, the header has %d"
                           % (name, lineno, len(row), len(header)))
        try:
            values = [float(v) for v in row]
        except ValueError:
            raise JobError("%s line %d: not all numbers" % (name, lineno)) from None
        if not all(math.isfinite(v) for v in values):
            raise JobError("%s line %d: NaN or infinite value" % (name, lineno))
        rows.append(values)
    return header, rows


def select_columns(header, rows, cfg):
    """(input names, X, y): the job's columns, or a 400 naming what exists."""
    def index(col, role):
        if col not in header:
            raise JobError("%s %s is not a column of %s (columns: %s)"
                           % (role, json.dumps(col), cfg.data_file, ", ".join(header)))
        return header.index(col)
    t = index(cfg.target, "dependent variable")
    names = cfg.inputs if cfg.inputs is not None else [h for h in header if h != cfg.target]
    cols = [index(c, "independent variable") for c in names]
    if t in cols:
        raise JobError("%s is both the dependent variable and an input" % cfg.target)
    if not cols:
        raise JobError("%s has no column left to use as input" % cfg.data_file)
    X = [[row[c] for c in cols] for row in rows]
    y = [row[t] for row in rows]
    return list(names), X, y


@dataclass(frozen=True)
class Scaler:
    """Per-column affine map fitted on training rows: scaled = (v - center) / scale."""
    centers: tuple
    scales: tuple

    @classmethod
    def fit(cls, kind, rows):
        cols = list(zip(*rows))
        if kind == "minmax":
            centers = [min(c) for c in cols]
            spans = [max(c) - min(c) for c in cols]
        else:
            centers = [sum(c) / len(c) for c in cols]
            spans = [math.sqrt(sum((v - m) ** 2 for v in c) / len(c))
                     for c, m in zip(cols, centers)]
        # A constant column carries no information; leave it centred, unscaled.
        return cls(tuple(centers), tuple(s if s > 0 else 1.0 for s in spans))

    def transform(self, rows):
        return [[(v - c) / s for v, c, s in zip(row, self.centers, self.scales)]
                for row in rows]


# ---- the network ------------------------------------------------------------
#
# Matrices are lists of rows; a batch is a list of samples. The inner loops are
# sum(map(mul, a, b)), the fastest dot product plain CPython has.

def _relu(zs):
    return [z if z > 0.0 else 0.0 for z in zs]


def _relu_back(gs, zs, _hs):
    return [g if z > 0.0 else 0.0 for g, z in zip(gs, zs)]


def _tanh(zs):
    return list(map(math.tanh, zs))


def _tanh_back(gs, _zs, hs):
    return [g * (1.0 - h * h) for g, h in zip(gs, hs)]


def _sigmoid(zs):
    # exp(-z) overflows below z = -709; the sigmoid is 0 there anyway.
    return [1.0 / (1.0 + math.exp(-z)) if z > -500.0 else 0.0 for z in zs]


def _sigmoid_back(gs, _zs, hs):
    return [g * h * (1.0 - h) for g, h in zip(gs, hs)]


def _linear(zs):
    return zs


def _linear_back(gs, _zs, _hs):
    return gs


def _elu(zs):
    return [z if z > 0.0 else math.expm1(z) for z in zs]


def _elu_back(gs, zs, hs):
    return [g if z > 0.0 else g * (h + 1.0) for g, z, h in zip(gs, zs, hs)]


# name: (activation of a row, gradient wrt z given the gradient wrt its output)
ACTIVATIONS = {
    "relu": (_relu, _relu_back),
    "tanh": (_tanh, _tanh_back),
    "sigmoid": (_sigmoid, _sigmoid_back),
    "linear": (_linear, _linear_back),
    "elu": (_elu, _elu_back),
}


class Layer:
    """A dense layer: weights[j][i] joins input i to unit j."""
    __slots__ = ("weights", "biases", "activation", "dropout")

    def __init__(self, n_in, n_out, activation, dropout, rng):
        # He's range for relu/elu keeps activations from shrinking layer after
        # layer; Glorot's suits the saturating and linear ones.
        if activation in ("relu", "elu"):
            limit = math.sqrt(6.0 / n_in)
        else:
            limit = math.sqrt(6.0 / (n_in + n_out))
        self.weights = [[rng.uniform(-limit, limit) for _ in range(n_in)]
                        for _ in range(n_out)]
        self.biases = [0.0] * n_out
        self.activation = activation
        self.dropout = dropout


def hidden_widths(cfg, n_inputs):
    # Half up, not Python's round-half-to-even: 1.5 x 13 inputs is 20 units.
    return [min(MAX_WIDTH, max(1, int(spec.width_modifier * n_inputs + 0.5)))
            for spec in cfg.layers]


def build_network(n_inputs, cfg, rng):
    """Hidden layers as the job says, then one output unit."""
    layers, n_in = [], n_inputs
    for spec, width in zip(cfg.layers, hidden_widths(cfg, n_inputs)):
        layers.append(Layer(n_in, width, spec.activation, spec.dropout, rng))
        n_in = width
    layers.append(Layer(n_in, 1, cfg.last_activation, 0.0, rng))
    return layers


def forward(layers, X, rng=None):
    """(outputs, caches) for the batch X. With rng, the network is training:
    dropout applies (inverted, so nothing changes at prediction time) and the
    caches hold what backward needs."""
    caches = []
    A = X
    for layer in layers:
        Z = [[sum(map(mul, x, w)) + b for w, b in zip(layer.weights, layer.biases)]
             for x in A]
        act = ACTIVATIONS[layer.activation][0]
        H = [act(z) for z in Z]
        mask = None
        if rng is not None and layer.dropout > 0.0:
            keep = 1.0 - layer.dropout
            mask = [[1.0 / keep if rng.random() < keep else 0.0 for _ in h] for h in H]
            out = [list(map(mul, h, m)) for h, m in zip(H, mask)]
        else:
            out = H
        if rng is not None:
            caches.append((A, Z, H, mask))
        A = out
    return A, caches


def backward(layers, caches, d_out, l1, l2):
    """Gradients [(dW, db) per layer] of the batch loss whose gradient with
    respect to the network's output is d_out, plus the weight penalties."""
    grads = [None] * len(layers)
    G = d_out
    for k in range(len(layers) - 1, -1, -1):
        layer = layers[k]
        A, Z, H, mask = caches[k]
        if mask is not None:
            G = [list(map(mul, g, m)) for g, m in zip(G, mask)]
        act_back = ACTIVATIONS[layer.activation][1]
        dZ = [act_back(g, z, h) for g, z, h in zip(G, Z, H)]
        dZ_t = list(zip(*dZ))
        A_t = list(zip(*A))
        dW = [[sum(map(mul, dz, a)) for a in A_t] for dz in dZ_t]
        if l1 or l2:
            dW = [[g + l1 * ((w > 0.0) - (w < 0.0)) + 2.0 * l2 * w
                   for g, w in zip(grow, wrow)]
                  for grow, wrow in zip(dW, layer.weights)]
        grads[k] = (dW, [sum(dz) for dz in dZ_t])
        if k > 0:   # the first layer's input is the data: no gradient needed
            W_t = list(zip(*layer.weights))
            G = [[sum(map(mul, dz, w)) for w in W_t] for dz in dZ]
    return grads


def predict(layers, X):
    out, _ = forward(layers, X)
    return [o[0] for o in out]


# ---- optimizers -------------------------------------------------------------
#
# Each updates one vector of parameters (a weight row or a bias vector) given
# its gradient and its own state, and returns the new vector.

RHO, BETA1, BETA2, EPS = 0.9, 0.9, 0.999, 1e-7    # Keras's defaults


def _sgd(params, grads, state, lr, t):
    return [p - lr * g for p, g in zip(params, grads)]


def _rmsprop(params, grads, state, lr, t):
    v = state.get("v") or [0.0] * len(params)
    v = [RHO * vi + (1.0 - RHO) * g * g for vi, g in zip(v, grads)]
    state["v"] = v
    return [p - lr * g / (math.sqrt(vi) + EPS) for p, g, vi in zip(params, grads, v)]


def _adam(params, grads, state, lr, t):
    m = state.get("m") or [0.0] * len(params)
    v = state.get("v") or [0.0] * len(params)
    m = [BETA1 * mi + (1.0 - BETA1) * g for mi, g in zip(m, grads)]
    v = [BETA2 * vi + (1.0 - BETA2) * g * g for vi, g in zip(v, grads)]
    state["m"], state["v"] = m, v
    # Bias correction folded into the step size: early moments start at zero.
    lr_t = lr * math.sqrt(1.0 - BETA2 ** t) / (1.0 - BETA1 ** t)
    return [p - lr_t * mi / (math.sqrt(vi) + EPS) for p, mi, vi in zip(params, m, v)]


UPDATES = {"sgd": _sgd, "rmsprop": _rmsprop, "adam": _adam}


class Optimizer:
    """One optimizer's state for one network."""

    def __init__(self, name, lr):
        self.update = UPDATES[name]
        self.lr = lr
        self.t = 0
        self.state = {}      # (layer, row or "b") -> that vector's moments

    def step(self, layers, grads):
        self.t += 1
        for k, (layer, (dW, db)) in enumerate(zip(layers, grads)):
            layer.weights = [self.update(w, g, self.state.setdefault((k, j), {}),
                                         self.lr, self.t)
                             for j, (w, g) in enumerate(zip(layer.weights, dW))]
            layer.biases = self.update(layer.biases, db,
                                       self.state.setdefault((k, "b"), {}),
                                       self.lr, self.t)


# ---- training and scoring ---------------------------------------------------

def mse(pred, y):
    return sum((p - t) ** 2 for p, t in zip(pred, y)) / len(y)


def mae(pred, y):
    return sum(abs(p - t) for p, t in zip(pred, y)) / len(y)


@dataclass
class Fit:
    layers: list
    epochs: int
    stopped_early: bool


def train(cfg, X, y, rng, progress):
    """Fit a new network to scaled rows X and scaled targets y.
    progress(epoch, train_mse, monitored_mse or None) is called every epoch."""
    early = cfg.patience_rate is not None
    if early and cfg.validation_split > 0 and len(X) >= 10:
        n_val = max(1, int(len(X) * cfg.validation_split + 0.5))
        X_val, y_val, X, y = X[:n_val], y[:n_val], X[n_val:], y[n_val:]
    else:
        X_val = y_val = None
    layers = build_network(len(X[0]), cfg, rng)
    opt = Optimizer(cfg.optimizer, cfg.learning_rate)
    n = len(X)
    batch = min(cfg.batch_size, n)
    best, waited = math.inf, 0
    order = list(range(n))
    for epoch in range(1, cfg.epochs + 1):
        rng.shuffle(order)
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            out, caches = forward(layers, [X[i] for i in idx], rng)
            diff = [o[0] - y[i] for o, i in zip(out, idx)]
            total += sum(d * d for d in diff)
            scale = 2.0 / len(idx)          # d(mean squared error)/d(output)
            grads = backward(layers, caches, [[scale * d] for d in diff],
                             cfg.l1, cfg.l2)
            opt.step(layers, grads)
        train_mse = total / n
        if not math.isfinite(train_mse):
            raise JobError("training diverged at epoch %d (loss became %s): "
                           "try a lower learningRate" % (epoch, train_mse))
        monitored = mse(predict(layers, X_val), y_val) if X_val else None
        progress(epoch, train_mse, monitored)
        if early:
            current = train_mse if monitored is None else monitored
            if current < best * (1.0 - cfg.patience_rate):
                best, waited = current, 0
            else:
                waited += 1
                if waited >= cfg.patience:
                    return Fit(layers, epoch, True)
    return Fit(layers, cfg.epochs, False)


def fit_and_score(cfg, X, y, train_idx, test_idx, rng, say, label):
    """Train on train_idx, score on test_idx; every figure in original units."""
    x_scaler = Scaler.fit(cfg.scaler, [X[i] for i in train_idx])
    y_scaler = Scaler.fit(cfg.scaler, [[y[i]] for i in train_idx])
    y_scale, y_center = y_scaler.scales[0], y_scaler.centers[0]

    def scaled(idx):
        return (x_scaler.transform([X[i] for i in idx]),
                [(y[i] - y_center) / y_scale for i in idx])

    X_tr, y_tr = scaled(train_idx)
    X_te, _ = scaled(test_idx)
    every = cfg.progress_every or max(1, cfg.epochs // 10)
    # The scaling is affine, so a scaled MSE times scale^2 is the MSE in units.
    units = y_scale * y_scale

    def progress(epoch, train_mse, monitored):
        if epoch % every == 0 or epoch == cfg.epochs:
            line = "%sepoch %d/%d train_mse %.6g" % (label, epoch, cfg.epochs,
                                                     train_mse * units)
            if monitored is not None:
                line += " val_mse %.6g" % (monitored * units)
            say(line)

    fit = train(cfg, X_tr, y_tr, rng, progress)

    def unscaled(Xs):
        return [p * y_scale + y_center for p in predict(fit.layers, Xs)]

    y_te = [y[i] for i in test_idx]
    pred_te = unscaled(X_te)
    pred_tr = unscaled(X_tr)
    score = {
        "loss": mse(pred_te, y_te),
        "metric": mae(pred_te, y_te),
        "trainLoss": mse(pred_tr, [y[i] for i in train_idx]),
        "epochs": fit.epochs,
        "stoppedEarly": fit.stopped_early,
    }
    if not all(math.isfinite(score[k]) for k in ("loss", "metric", "trainLoss")):
        raise JobError("training diverged (predictions are not finite): "
                       "try a lower learningRate")
    say("%sheld-out mse %.6g mae %.6g, train mse %.6g, %d epochs%s"
        % (label, score["loss"], score["metric"], score["trainLoss"], fit.epochs,
           " (stopped early)" if fit.stopped_early else ""))
    return score


def fit_rng(cfg, fold):
    # One stream per fit, so a fold's result does not depend on the others.
    return random.Random(cfg.seed * 1000003 + fold)


def holdout(cfg, X, y, say):
    n = len(X)
    perm = random.Random(cfg.seed).sample(range(n), n)
    n_test = max(1, int(n * cfg.test_split + 0.5))
    if n - n_test < 2:
        raise JobError("too few rows (%d) to hold %d out for testing" % (n, n_test))
    score = fit_and_score(cfg, X, y, perm[n_test:], perm[:n_test],
                          fit_rng(cfg, 0), say, "")
    score.update(trainRows=n - n_test, testRows=n_test)
    return score


def cross_validate(cfg, X, y, say):
    n, k = len(X), cfg.folds
    if n < 2 * k:
        raise JobError("too few rows (%d) for %d folds" % (n, k))
    perm = random.Random(cfg.seed).sample(range(n), n)
    folds = [perm[f::k] for f in range(k)]      # sizes differ by one at most
    scores = []
    for f, test_idx in enumerate(folds):
        train_idx = [i for g, fold in enumerate(folds) if g != f for i in fold]
        scores.append(fit_and_score(cfg, X, y, train_idx, test_idx,
                                    fit_rng(cfg, f + 1), say,
                                    "fold %d/%d: " % (f + 1, k)))

    def column(key):
        return [s[key] for s in scores]

    losses = column("loss")
    mean = sum(losses) / k
    return {
        "loss": mean,
        "metric": sum(column("metric")) / k,
        "trainLoss": sum(column("trainLoss")) / k,
        "lossStd": math.sqrt(sum((v - mean) ** 2 for v in losses) / k),
        "folds": k,
        "foldLosses": losses,
        "foldMetrics": column("metric"),
        "foldTrainLosses": column("trainLoss"),
        "foldEpochs": column("epochs"),
        "epochs": max(column("epochs")),
        "stoppedEarly": any(column("stoppedEarly")),
    }


def describe(cfg, names, n_rows, n_inputs):
    """The run's first progress line: what is trained on what, and how."""
    widths = [n_inputs] + hidden_widths(cfg, n_inputs) + [1]
    acts = [s.activation for s in cfg.layers] + [cfg.last_activation]
    how = ("%d-fold cross-validation" % cfg.folds if cfg.cross_validate
           else "%g held out" % cfg.test_split)
    return ("predicting %s from %d columns of %s (%d rows, %s); network %s (%s); "
            "%s lr %g, l1 %g, l2 %g, %d epochs, batch %d, %s scaling, seed %d"
            % (cfg.target, len(names), cfg.data_file, n_rows, how,
               "-".join(map(str, widths)), "/".join(acts), cfg.optimizer,
               cfg.learning_rate, cfg.l1, cfg.l2, cfg.epochs, cfg.batch_size,
               cfg.scaler, cfg.seed))


def run(job, env, say):
    """The outcome fields of a successful run (status and jobId aside)."""
    cfg = make_config(job)
    for key in unknown_keys(job):
        print("nn.py: ignoring unknown job key %s" % json.dumps(key), file=sys.stderr)
    header, rows = load_csv(data_dir(env), cfg.data_file)
    names, X, y = select_columns(header, rows, cfg)
    say(describe(cfg, names, len(rows), len(names)))
    started = time.monotonic()
    score = cross_validate(cfg, X, y, say) if cfg.cross_validate else holdout(cfg, X, y, say)
    score["dependentVariable"] = cfg.target
    score["seconds"] = time.monotonic() - started
    return score


# ---- the outcome ------------------------------------------------------------

def _round(value):
    """Six significant digits: enough to rank runs, short enough to read."""
    if isinstance(value, float):
        return float("%.6g" % value)
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


def outcome_line(status, job_id, fields):
    outcome = {"status": status, "jobId": job_id}
    outcome.update((k, _round(v)) for k, v in fields.items())
    return json.dumps(outcome, allow_nan=False)


def main(argv, stdin, env):
    def say(line):
        print(line, flush=True)

    job, text = None, None
    try:
        text = read_job_text(argv, stdin)
        job = parse_job(text)
        fields = run(job, env, say)
        status = 200
    except JobError as e:
        status, fields = e.status, {"error": str(e)}
        print("nn.py: %s" % e, file=sys.stderr)
    except Exception as e:      # never only a traceback: the boss needs an outcome
        traceback.print_exc()
        status, fields = 500, {"error": "unexpected error: %s: %s" % (type(e).__name__, e)}
    print(outcome_line(status, job_id_of(job, text, env), fields), flush=True)
    return {200: 0, 400: 2}.get(status, 1)


if __name__ == "__main__":
    sys.exit(main(sys.argv, sys.stdin, os.environ))
