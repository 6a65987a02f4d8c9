#!/usr/bin/env python3
"""nn.py: spool's example training script, a small multi-layer perceptron that
regresses one column of a CSV on the others. Plain Python 3, standard library
only, so it runs wherever python3 does.

It is the script the seed article's sample job names ("scriptName": "nn.py").
A runner starts it with the job JSON as its first argument (with no argument it
reads the job from stdin). It prints progress lines, then the outcome as its
last line of stdout:

    {"status": 200, "jobId": "...", "loss": 0.06, "metric": 0.19, "testLoss": 0.18, ...}

What the numbers mean (all in the original units of the dependent variable):
  loss        mean squared error on the validation rows: the figure to rank
              runs by (spool's leaderboard sorts by loss)
  metric      mean absolute error on the validation rows
  testLoss    mean squared error on the test rows. Nothing in a run looks at
              them before this figure (not early stopping, not the ranking,
              not the baselines' penalty), so it is the honest estimate of how
              the run does on rows it has never seen; choose runs by loss,
              then read their testLoss.
  testMetric  mean absolute error on the test rows
  trainLoss   mean squared error on the training rows, predicted without
              dropout
  baselineMeanLoss, baselineMeanTestLoss
              validation and test MSE of predicting the training rows' mean
              of the dependent variable for every row
  baselineRidgeLoss, baselineRidgeTestLoss, baselineRidgeAlpha
              the same for a ridge regression (closed form) on the inputs the
              network sees, standardised, its penalty alpha chosen among
              1e-4 ... 10 by the validation MSE (null beyond 200 inputs).
              A network whose testLoss is not below baselineRidgeTestLoss
              has learned nothing a straight line does not know.
The weight penalties (l1, l2) are not part of any of them; every prediction is
clipped to [minDependentVarValue, maxDependentVarValue] when they are given.
The outcome also says epochs (run; the most of any fold), stoppedEarly,
trainRows, validationRows, testRows, splitSeed, splitDigest (below),
networkInputs, pcaExplainedVariance (with PCA: the fraction of the scaled
inputs' variance the components keep), dependentVariable and seconds.

The split. The data rows are shuffled by splitSeed alone, never by seed, so
every job of a sweep with the same splitSeed, testSplit and data file is
tested on the same rows, and validated on the same rows when validationSplit
(or crossValidationFolds) is the same too:
  test        the first testSplit of the shuffled rows
  validation  the next validationSplit of them; with "crossValidateOnly":
              true, each of k folds of all the rows but the test rows, in turn
  train       the others
Scalers, PCA and baselines are fitted on the training rows only. With
crossValidateOnly the network is trained k times, once per fold; every figure
is then the mean over the folds, each fold's own in foldLosses, foldMetrics,
foldTestLosses and foldTrainLosses (testLoss is the mean test MSE of the k
networks). The log lists the test and validation rows (data row numbers,
1 = the first row under the header); splitDigest in the outcome names the
split, so runs with equal digests were tested and validated on equal rows.

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
                        (default: relu x2, then relu x1); the number of
                        inputs is pcaComponents when PCA is on
  lastLayerActivator    activation of the output unit (default, or "": linear)
  optimizer             sgd | rmsprop | adam (default adam)
  learningRate          default 0.01
  l1, l2                penalties l1*sum|w| + l2*sum w^2 over the weights (not
                        the biases) added to the training loss, as Keras's
                        regularizers do (default 0)
  epochs                default 100
  batchSize             default 32; capped at the number of training rows
  patienceRate          early stopping, off by default: training stops once
                        the validation MSE has not improved on its best by
                        more than this fraction (0.05 = 5%) for `patience`
                        epochs in a row; the weights are those of the last
                        epoch run. Never the test rows.
  patience              epochs without improvement before stopping (default 10)
  scalerType            standard | minmax (default standard): inputs and target
                        are scaled with statistics of the training rows only;
                        the network learns the scaled target, and every loss
                        it reports is converted back to original units
  seed                  integer (default 1): the weights' initialisation, the
                        dropout and the order of the batches; the same job
                        gives the same outcome
  splitSeed             integer (default 1): the shuffle of the rows into
                        train / validation / test, independent of seed
  testSplit             fraction of all rows in the test (default 0.2)
  validationSplit       fraction of all rows in the validation (default 0.2);
                        unused with crossValidateOnly
  crossValidateOnly     true: k-fold cross-validation of the non-test rows
                        instead of one validation split
  crossValidationFolds  k (default 5)
  crossValidationCrossingType
                        what folds are scored by: "neg_mean_squared_error"
                        (the seed's, scikit-learn's name) or "mse", which is
                        loss; any other is refused
  pcaComponents         k >= 1: the network and the ridge baseline see the
                        first k principal components of the scaled inputs
                        (fitted on the training rows; at most 100 inputs);
                        -1 (the seed's), 0 or absent: no PCA
  minDependentVarValue, maxDependentVarValue
                        bounds every prediction is clipped to before it is
                        scored (either may be given alone)
  loss                  "mse" (the only training loss; the seed names it)
  progressEvery         a progress line every N epochs (default: about 10 a fit)
  checkpointEvery       with $SPOOL_CHECKPOINT_DIR (a runner sets it): save the
                        training state there every N epochs (default 5; 0: never),
                        and resume from it when an attempt starts (a preempted
                        or timed-out run goes on where it stopped; the outcome
                        says resumedFromEpoch and epochsRun)
Refused with a 400 naming the key, because nn.py does not do what they ask
and a run that quietly did something else would be reported as this one:
  extraTreesKeepThreshd any value but 0 (feature selection by extra trees)
  slowLearningRate      any value (a second, slower learning rate)
  saveWeightsOnlyAtEnd  any value (nn.py saves no weights, only its outcome)
The seed's projectName and the keys runners add (callbackAddress,
assignmentId, spool, and the sweep name spoolctl sweep adds) are ignored; any
other key is ignored with a warning on stderr, since it is most likely a typo.

The outcome's jobId is the job's "_id" (as the seed passes it), else its
"jobId", else $SPOOL_JOB_ID, else null.

Exit status: 0 with status 200. 2 with status 400: the job itself is wrong
(invalid JSON, a bad value, an unknown column, a missing data file, or
hyper-parameters that make training diverge), so running it again cannot
help. 1 with status 500: anything unexpected (an unreadable file, a bug); the
traceback goes to stderr, the outcome line still to stdout.
"""

import csv
import dataclasses
import hashlib
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
MAX_PCA_INPUTS = 100             # Jacobi rotations cost inputs^3 per sweep
MAX_RIDGE_INPUTS = 200
RIDGE_ALPHAS = tuple(10.0 ** (k / 2.0) for k in range(-8, 3))   # 1e-4 ... 10
CV_SCORINGS = ("neg_mean_squared_error", "mse")

# Keys the seed's sample job carries, or a runner adds, that this script has no
# use for: accepted silently. Anything else unknown earns a warning.
IGNORED_KEYS = frozenset((
    "_id", "jobId", "scriptName", "projectName", "callbackAddress", "sweep",
    "assignmentId", "spool"))
USED_KEYS = frozenset((
    "dataFileName", "dependentVariable", "depedentVariable",
    "independentVariables", "hiddenLayers", "lastLayerActivator", "optimizer",
    "learningRate", "l1", "l2", "epochs", "batchSize", "patienceRate",
    "patience", "validationSplit", "scalerType", "seed", "splitSeed",
    "testSplit", "crossValidateOnly", "crossValidationFolds",
    "crossValidationCrossingType", "pcaComponents", "minDependentVarValue",
    "maxDependentVarValue", "loss", "progressEvery", "checkpointEvery",
    # checked, then refused unless off: see refusals()
    "extraTreesKeepThreshd", "slowLearningRate", "saveWeightsOnlyAtEnd"))


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
    split_seed: int = 1
    pca_components: int = 0  # 0: no PCA
    y_min: float = None      # prediction bounds, None: unbounded
    y_max: float = None
    checkpoint_every: int = 0    # epochs between saves of the training state
    checkpoint_dir: str = None   # $SPOOL_CHECKPOINT_DIR, None: no checkpoints


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


def _integer(job, key, default):
    value = job.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobError("%s must be an integer, not %s" % (key, json.dumps(value)))
    return value


def _pca(job):
    k = _number(job, "pcaComponents", 0, minimum=-1, integer=True)
    return 0 if k == -1 else k


def _bounds(job):
    lo = _number(job, "minDependentVarValue", None)
    hi = _number(job, "maxDependentVarValue", None)
    if lo is not None and hi is not None and lo >= hi:
        raise JobError("minDependentVarValue (%s) must be below "
                       "maxDependentVarValue (%s)" % (lo, hi))
    return (None if lo is None else float(lo)), (None if hi is None else float(hi))


def _splits(job):
    test = float(_number(job, "testSplit", 0.2, above=0, maximum=0.5))
    val = float(_number(job, "validationSplit", 0.2, above=0, maximum=0.5))
    if test + val > 0.8:
        raise JobError("testSplit + validationSplit must leave a fifth of the "
                       "rows to train on, not %g + %g" % (test, val))
    return test, val


def refusals(job):
    """What the job asks of the seed's nn.py that this one does not do: one
    message per key, each naming it. Empty when every such key is off."""
    found = []
    thr = job.get("extraTreesKeepThreshd")
    if thr is not None and (isinstance(thr, bool) or thr != 0):
        found.append("extraTreesKeepThreshd is %s, but nn.py has no feature "
                     "selection by extra trees (only 0 or absent, keeping every "
                     "input; pick inputs with independentVariables, or reduce "
                     "them with pcaComponents)" % json.dumps(thr))
    if job.get("slowLearningRate") is not None:
        found.append("slowLearningRate is %s, but nn.py trains at one "
                     "learningRate throughout (remove slowLearningRate)"
                     % json.dumps(job["slowLearningRate"]))
    if job.get("saveWeightsOnlyAtEnd") is not None:
        found.append("saveWeightsOnlyAtEnd is %s, but nn.py saves no weights, "
                     "only its outcome (remove saveWeightsOnlyAtEnd)"
                     % json.dumps(job["saveWeightsOnlyAtEnd"]))
    kind = job.get("crossValidationCrossingType")
    if kind not in (None, "") and kind not in CV_SCORINGS:
        found.append("crossValidationCrossingType is %s, but folds are scored "
                     "by their mean squared error, which is loss (only %s)"
                     % (json.dumps(kind), " or ".join(CV_SCORINGS)))
    return found


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
    seed = _integer(job, "seed", 1)
    test_split, validation_split = _splits(job)
    y_min, y_max = _bounds(job)
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
        validation_split=validation_split,
        scaler=_choice(job, "scalerType", "standard", SCALERS),
        seed=seed,
        test_split=test_split,
        cross_validate=cv,
        folds=_number(job, "crossValidationFolds", 5, minimum=2, maximum=100, integer=True),
        progress_every=_number(job, "progressEvery", 0, minimum=0, integer=True),
        split_seed=_integer(job, "splitSeed", 1),
        pca_components=_pca(job),
        y_min=y_min,
        y_max=y_max,
        checkpoint_every=_number(job, "checkpointEvery", 5, minimum=0, integer=True),
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


# ---- PCA and the ridge baseline ---------------------------------------------
#
# Both are small dense linear algebra on a matrix of inputs x inputs, fitted on
# the training rows: plain Python is fast enough for the tens of columns a
# CSV like the wine data has.

def _columns_mean(rows):
    n = len(rows)
    return [sum(c) / n for c in zip(*rows)]


def _gram(cols, n):
    """cols^T cols / n for a list of centred columns."""
    return [[sum(map(mul, a, b)) / n for b in cols] for a in cols]


def symmetric_eigen(A, max_sweeps=60):
    """(eigenvalues, V) of the symmetric matrix A, by cyclic Jacobi
    rotations; column i of V is the unit eigenvector of eigenvalue i."""
    n = len(A)
    A = [list(row) for row in A]
    V = [[float(i == j) for j in range(n)] for i in range(n)]
    scale = sum(A[i][i] * A[i][i] for i in range(n)) or 1.0
    for _ in range(max_sweeps):
        off = sum(A[i][j] * A[i][j] for i in range(n) for j in range(i + 1, n))
        if off <= 1e-24 * scale:
            break
        for p in range(n - 1):
            for q in range(p + 1, n):
                apq = A[p][q]
                if apq == 0.0:
                    continue
                theta = (A[q][q] - A[p][p]) / (2.0 * apq)
                t = (1.0 if theta >= 0 else -1.0) / (abs(theta) + math.sqrt(theta * theta + 1.0))
                c = 1.0 / math.sqrt(t * t + 1.0)
                s = t * c
                for row in A:                       # A <- A J
                    akp, akq = row[p], row[q]
                    row[p], row[q] = c * akp - s * akq, s * akp + c * akq
                Ap, Aq = A[p], A[q]                 # A <- J^T A
                A[p] = [c * x - s * y for x, y in zip(Ap, Aq)]
                A[q] = [s * x + c * y for x, y in zip(Ap, Aq)]
                for row in V:                       # V <- V J
                    vkp, vkq = row[p], row[q]
                    row[p], row[q] = c * vkp - s * vkq, s * vkp + c * vkq
    return [A[i][i] for i in range(n)], V


@dataclass(frozen=True)
class PCA:
    """Projection of (scaled) inputs on their first principal components."""
    mean: tuple
    components: tuple        # k unit vectors, largest variance first
    explained: float         # the fraction of the variance they keep

    @classmethod
    def fit(cls, rows, k):
        n = len(rows)
        mean = _columns_mean(rows)
        cols = [[v - m for v in c] for c, m in zip(zip(*rows), mean)]
        values, V = symmetric_eigen(_gram(cols, n))
        order = sorted(range(len(values)), key=lambda i: -values[i])[:k]
        total = sum(max(v, 0.0) for v in values)
        kept = sum(max(values[i], 0.0) for i in order)
        return cls(tuple(mean), tuple(tuple(row[i] for row in V) for i in order),
                   kept / total if total > 0 else 1.0)

    def transform(self, rows):
        out = []
        for row in rows:
            centred = [v - m for v, m in zip(row, self.mean)]
            out.append([sum(map(mul, centred, c)) for c in self.components])
        return out


def solve_spd(A, b):
    """x with A x = b for a symmetric positive definite A (Cholesky); None
    when A is not numerically positive definite."""
    n = len(A)
    L = [[0.0] * n for _ in range(n)]
    for i in range(n):
        Li = L[i]
        for j in range(i + 1):
            Lj = L[j]
            s = A[i][j] - sum(map(mul, Li[:j], Lj[:j]))
            if i == j:
                if s <= 0.0:
                    return None
                Li[i] = math.sqrt(s)
            else:
                Li[j] = s / Lj[j]
    z = [0.0] * n
    for i in range(n):
        z[i] = (b[i] - sum(map(mul, L[i][:i], z[:i]))) / L[i][i]
    x = [0.0] * n
    for i in range(n - 1, -1, -1):
        x[i] = (z[i] - sum(L[k][i] * x[k] for k in range(i + 1, n))) / L[i][i]
    return x


def ridge_models(X, y, alphas=RIDGE_ALPHAS):
    """[(alpha, predict)] of ridge regressions fitted to rows X, targets y:
    mean squared error + alpha * |w|^2 on standardised inputs, closed form."""
    n = len(X)
    means = _columns_mean(X)
    cols = [[v - m for v in c] for c, m in zip(zip(*X), means)]
    stds = [math.sqrt(sum(v * v for v in c) / n) or 1.0 for c in cols]
    cols = [[v / s for v in c] for c, s in zip(cols, stds)]
    y_mean = sum(y) / n
    yc = [v - y_mean for v in y]
    G = _gram(cols, n)
    b = [sum(map(mul, c, yc)) / n for c in cols]
    models = []
    for alpha in alphas:
        w = solve_spd([[g + (alpha if i == j else 0.0) for j, g in enumerate(row)]
                       for i, row in enumerate(G)], b)
        if w is None:
            continue
        # Fold the standardisation into the coefficients: one dot product a row.
        coef = [wi / s for wi, s in zip(w, stds)]
        icpt = y_mean - sum(map(mul, coef, means))

        def model(rows, coef=coef, icpt=icpt):
            return [icpt + sum(map(mul, coef, r)) for r in rows]
        models.append((alpha, model))
    return models


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
    resumed_from: int = 0       # the checkpoint's epoch this attempt began after


class Checkpoint:
    """The training state of one fit in $SPOOL_CHECKPOINT_DIR, so that the
    next attempt of the job (after a preemption, a timeout) resumes instead
    of starting over. Written whole then renamed: a kill leaves the old
    file or the new one. A state saved for other hyper-parameters (the job
    was changed and resubmitted under the same id) is not used."""

    def __init__(self, cfg, label):
        key = re.sub(r"[^0-9]+", "-", label).strip("-") or "0"
        self.path = os.path.join(cfg.checkpoint_dir, "nn-fit-%s.json" % key)
        same = dataclasses.replace(cfg, checkpoint_dir=None, progress_every=0)
        self.digest = hashlib.sha256(repr(same).encode()).hexdigest()
        self.every = cfg.checkpoint_every

    def load(self):
        try:
            with open(self.path) as f:
                state = json.load(f)
        except (OSError, ValueError):
            return None
        return state if state.get("digest") == self.digest else None

    def save(self, epoch, layers, opt, rng, order, best, waited, done=False):
        state = {
            "digest": self.digest, "epoch": epoch, "done": done,
            "layers": [[l.weights, l.biases] for l in layers],
            "opt": {"t": opt.t, "state": [[k, j, v] for (k, j), v in opt.state.items()]},
            "rng": [rng.getstate()[0], list(rng.getstate()[1]), rng.getstate()[2]],
            "order": order, "best": best if math.isfinite(best) else None,
            "waited": waited,
        }
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, self.path)

    @staticmethod
    def restore(state, layers, opt, rng):
        for layer, (w, b) in zip(layers, state["layers"]):
            layer.weights, layer.biases = w, b
        opt.t = state["opt"]["t"]
        opt.state = {(k, j): v for k, j, v in state["opt"]["state"]}
        v, internal, gauss = state["rng"]
        rng.setstate((v, tuple(internal), gauss))
        best = state["best"]
        return state["order"], math.inf if best is None else best, state["waited"]


def train(cfg, X, y, X_val, y_val, rng, progress):
    """Fit a new network to scaled rows X and scaled targets y; with early
    stopping, monitor the MSE on X_val, y_val. progress(epoch, train_mse,
    val_mse or None) is called every epoch; it says on which epochs it wants
    val_mse (besides, early stopping computes it every epoch)."""
    early = cfg.patience_rate is not None
    layers = build_network(len(X[0]), cfg, rng)
    opt = Optimizer(cfg.optimizer, cfg.learning_rate)
    n = len(X)
    batch = min(cfg.batch_size, n)
    best, waited = math.inf, 0
    order = list(range(n))
    ckpt = Checkpoint(cfg, progress.label) if cfg.checkpoint_dir and cfg.checkpoint_every else None
    state = ckpt.load() if ckpt else None
    first = 1
    if state:
        order, best, waited = Checkpoint.restore(state, layers, opt, rng)
        first = state["epoch"] + 1
        progress.say("%sresumed from the checkpoint at epoch %d" % (progress.label, state["epoch"]))
        if state["done"]:
            return Fit(layers, state["epoch"], state["epoch"] < cfg.epochs, state["epoch"])
    for epoch in range(first, cfg.epochs + 1):
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
        wanted = progress.wants(epoch)
        val_mse = mse(predict(layers, X_val), y_val) if early or wanted else None
        if wanted:
            progress(epoch, train_mse, val_mse)
        if early:
            if val_mse < best * (1.0 - cfg.patience_rate):
                best, waited = val_mse, 0
            else:
                waited += 1
                if waited >= cfg.patience:
                    if not wanted:
                        progress(epoch, train_mse, val_mse)
                    if ckpt:
                        ckpt.save(epoch, layers, opt, rng, order, best, waited, done=True)
                    return Fit(layers, epoch, True, first - 1)
        if ckpt and (epoch % ckpt.every == 0 or epoch == cfg.epochs):
            ckpt.save(epoch, layers, opt, rng, order, best, waited, done=epoch == cfg.epochs)
    return Fit(layers, cfg.epochs, False, first - 1)


class Progress:
    """The progress lines of one fit, in original units."""

    def __init__(self, cfg, say, label, units):
        self.every = cfg.progress_every or max(1, cfg.epochs // 10)
        self.last = cfg.epochs
        self.say, self.label, self.units = say, label, units

    def wants(self, epoch):
        return epoch % self.every == 0 or epoch == self.last

    def __call__(self, epoch, train_mse, val_mse):
        self.say("%sepoch %d/%d train_mse %.6g val_mse %.6g"
                 % (self.label, epoch, self.last, train_mse * self.units,
                    val_mse * self.units))
        # a point of the run's series (spoolctl metrics): a JSON line with "epoch"
        point = {"epoch": epoch, "loss": _round(val_mse * self.units),
                 "trainLoss": _round(train_mse * self.units)}
        if self.label:
            point["fit"] = self.label.strip().rstrip(":")
        self.say(json.dumps(point))


class InputMap:
    """The inputs the network sees: the job's scaler, then PCA if asked,
    both fitted on the training rows."""

    def __init__(self, cfg, rows):
        self.scaler = Scaler.fit(cfg.scaler, rows)
        self.pca = None
        if cfg.pca_components:
            self.pca = PCA.fit(self.scaler.transform(rows), cfg.pca_components)

    def __call__(self, rows):
        out = self.scaler.transform(rows)
        return self.pca.transform(out) if self.pca else out


def clipper(cfg):
    lo = -math.inf if cfg.y_min is None else cfg.y_min
    hi = math.inf if cfg.y_max is None else cfg.y_max
    return lambda preds: [min(hi, max(lo, p)) for p in preds]


def fit_and_score(cfg, X, y, part, rng, say, label):
    """Train on part's training rows; score the network and the baselines on
    its validation and the test rows. Every figure in original units."""
    train_idx, val_idx, test_idx = part
    inputs = InputMap(cfg, [X[i] for i in train_idx])
    X_tr, X_va, X_te = ([X[i] for i in idx] for idx in part)
    X_tr, X_va, X_te = inputs(X_tr), inputs(X_va), inputs(X_te)
    y_tr, y_va, y_te = ([y[i] for i in idx] for idx in part)
    y_scaler = Scaler.fit(cfg.scaler, [[v] for v in y_tr])
    y_scale, y_center = y_scaler.scales[0], y_scaler.centers[0]

    def scaled(ys):
        return [(v - y_center) / y_scale for v in ys]

    # The scaling is affine, so a scaled MSE times scale^2 is the MSE in units.
    progress = Progress(cfg, say, label, y_scale * y_scale)
    fit = train(cfg, X_tr, scaled(y_tr), X_va, scaled(y_va), rng, progress)
    clip = clipper(cfg)

    def net(Xs):
        return clip([p * y_scale + y_center for p in predict(fit.layers, Xs)])

    pred_va, pred_te = net(X_va), net(X_te)
    score = {
        "loss": mse(pred_va, y_va),
        "metric": mae(pred_va, y_va),
        "testLoss": mse(pred_te, y_te),
        "testMetric": mae(pred_te, y_te),
        "trainLoss": mse(net(X_tr), y_tr),
        "epochs": fit.epochs,
        "stoppedEarly": fit.stopped_early,
        "resumedFromEpoch": fit.resumed_from,
        "epochsRun": fit.epochs - fit.resumed_from,
    }
    if not all(math.isfinite(score[k]) for k in ("loss", "metric", "trainLoss")):
        raise JobError("training diverged (predictions are not finite): "
                       "try a lower learningRate")
    mean_va, mean_te = clip([sum(y_tr) / len(y_tr)] * 2)
    score["baselineMeanLoss"] = mse([mean_va] * len(y_va), y_va)
    score["baselineMeanTestLoss"] = mse([mean_te] * len(y_te), y_te)
    if len(X_tr[0]) <= MAX_RIDGE_INPUTS:
        score["ridge"] = {alpha: (mse(clip(model(X_va)), y_va), mse(clip(model(X_te)), y_te))
                          for alpha, model in ridge_models(X_tr, y_tr)}
    if inputs.pca:
        score["pcaExplainedVariance"] = inputs.pca.explained
    say("%svalidation mse %.6g mae %.6g, test mse %.6g mae %.6g, train mse %.6g, "
        "%d epochs%s" % (label, score["loss"], score["metric"], score["testLoss"],
                         score["testMetric"], score["trainLoss"], fit.epochs,
                         " (stopped early)" if fit.stopped_early else ""))
    return score


def fit_rng(cfg, fold):
    # One stream per fit, so a fold's result does not depend on the others.
    return random.Random(cfg.seed * 1000003 + fold)


def make_split(cfg, n):
    """(test rows, [(train rows, validation rows)] one pair per fit): the
    shuffle depends on splitSeed only, never on the weights' seed."""
    # A string seed: its own stream, whatever integers seed and splitSeed are.
    perm = random.Random("nn.py split %d" % cfg.split_seed).sample(range(n), n)
    n_test = max(1, int(n * cfg.test_split + 0.5))
    test, pool = perm[:n_test], perm[n_test:]
    if cfg.cross_validate:
        k = cfg.folds
        if len(pool) < 2 * k:
            raise JobError("too few rows (%d besides the %d test rows) for %d folds"
                           % (len(pool), n_test, k))
        folds = [pool[f::k] for f in range(k)]      # sizes differ by one at most
        return test, [([i for g, fold in enumerate(folds) if g != f for i in fold], folds[f])
                      for f in range(k)]
    n_val = max(1, int(n * cfg.validation_split + 0.5))
    if len(pool) - n_val < 2:
        raise JobError("too few rows (%d) to hold out %d for testing and %d for "
                       "validation" % (n, n_test, n_val))
    return test, [(pool[n_val:], pool[:n_val])]


def row_numbers(idx):
    return " ".join(str(i + 1) for i in sorted(idx))


def split_digest(test, fits):
    text = json.dumps([sorted(test), [sorted(val) for _, val in fits]])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def evaluate(cfg, X, y, say):
    """The outcome's figures: one fit for a holdout, k for cross-validation,
    each figure the mean over the fits."""
    test, fits = make_split(cfg, len(X))
    say("split (splitSeed %d): test rows %s" % (cfg.split_seed, row_numbers(test)))
    k = len(fits)
    scores = []
    for f, (train_idx, val_idx) in enumerate(fits):
        label = "fold %d/%d: " % (f + 1, k) if cfg.cross_validate else ""
        say("%svalidation rows %s" % (label, row_numbers(val_idx)))
        scores.append(fit_and_score(cfg, X, y, (train_idx, val_idx, test),
                                    fit_rng(cfg, f + 1 if cfg.cross_validate else 0),
                                    say, label))

    def column(key):
        return [s[key] for s in scores]

    def mean(key):
        return sum(column(key)) / k

    out = {key: mean(key) for key in (
        "loss", "metric", "testLoss", "testMetric", "trainLoss",
        "baselineMeanLoss", "baselineMeanTestLoss")}
    out["baselineRidgeLoss"] = out["baselineRidgeTestLoss"] = None
    out["baselineRidgeAlpha"] = None
    if "ridge" in scores[0]:
        alphas = [a for a in scores[0]["ridge"] if all(a in s["ridge"] for s in scores)]
        if alphas:
            best = min(alphas, key=lambda a: sum(s["ridge"][a][0] for s in scores))
            out["baselineRidgeLoss"] = sum(s["ridge"][best][0] for s in scores) / k
            out["baselineRidgeTestLoss"] = sum(s["ridge"][best][1] for s in scores) / k
            out["baselineRidgeAlpha"] = best
    out.update(epochs=max(column("epochs")), stoppedEarly=any(column("stoppedEarly")),
               resumedFromEpoch=max(column("resumedFromEpoch")),
               epochsRun=sum(column("epochsRun")),
               trainRows=len(fits[0][0]), validationRows=len(fits[0][1]),
               testRows=len(test), splitSeed=cfg.split_seed,
               splitDigest=split_digest(test, fits))
    if cfg.pca_components:
        out["pcaExplainedVariance"] = mean("pcaExplainedVariance")
    if cfg.cross_validate:
        losses = column("loss")
        out.update(
            lossStd=math.sqrt(sum((v - out["loss"]) ** 2 for v in losses) / k),
            folds=k, foldLosses=losses, foldMetrics=column("metric"),
            foldTestLosses=column("testLoss"), foldTrainLosses=column("trainLoss"),
            foldEpochs=column("epochs"))
    say("baselines: mean predictor validation mse %.6g test mse %.6g; ridge %s"
        % (out["baselineMeanLoss"], out["baselineMeanTestLoss"],
           "validation mse %.6g test mse %.6g (alpha %g)"
           % (out["baselineRidgeLoss"], out["baselineRidgeTestLoss"],
              out["baselineRidgeAlpha"]) if out["baselineRidgeAlpha"] is not None
           else "not fitted (more than %d inputs)" % MAX_RIDGE_INPUTS))
    return out


def describe(cfg, names, n_rows, n_inputs):
    """The run's first progress line: what is trained on what, and how."""
    widths = [n_inputs] + hidden_widths(cfg, n_inputs) + [1]
    acts = [s.activation for s in cfg.layers] + [cfg.last_activation]
    how = ("%d-fold cross-validation, %g test" % (cfg.folds, cfg.test_split)
           if cfg.cross_validate
           else "%g validation, %g test" % (cfg.validation_split, cfg.test_split))
    extra = ""
    if cfg.pca_components:
        extra += ", PCA to %d components" % cfg.pca_components
    if cfg.y_min is not None or cfg.y_max is not None:
        extra += ", predictions clipped to [%s, %s]" % (
            "-inf" if cfg.y_min is None else "%g" % cfg.y_min,
            "inf" if cfg.y_max is None else "%g" % cfg.y_max)
    return ("predicting %s from %d columns of %s (%d rows, %s, splitSeed %d); "
            "network %s (%s); %s lr %g, l1 %g, l2 %g, %d epochs, batch %d, "
            "%s scaling%s, seed %d"
            % (cfg.target, len(names), cfg.data_file, n_rows, how, cfg.split_seed,
               "-".join(map(str, widths)), "/".join(acts), cfg.optimizer,
               cfg.learning_rate, cfg.l1, cfg.l2, cfg.epochs, cfg.batch_size,
               cfg.scaler, extra, cfg.seed))


def load_data(cfg, env, refused):
    """(input names, X, y), or a 400 naming every problem: the data's and
    the keys refused, so one run tells all that is wrong with the job."""
    try:
        header, rows = load_csv(data_dir(env), cfg.data_file)
        names, X, y = select_columns(header, rows, cfg)
        if cfg.pca_components > len(names):
            raise JobError("pcaComponents (%d) must be at most the number of "
                           "inputs (%d)" % (cfg.pca_components, len(names)))
        if cfg.pca_components and len(names) > MAX_PCA_INPUTS:
            raise JobError("pcaComponents: PCA of more than %d inputs is not "
                           "supported (this job has %d)" % (MAX_PCA_INPUTS, len(names)))
    except JobError as e:
        if e.status != 400 or not refused:
            raise
        raise JobError("; ".join([str(e)] + refused)) from None
    if refused:
        raise JobError("; ".join(refused))
    return names, X, y


def run(job, env, say):
    """The outcome fields of a successful run (status and jobId aside)."""
    cfg = make_config(job)
    if env.get("SPOOL_CHECKPOINT_DIR"):
        cfg = dataclasses.replace(cfg, checkpoint_dir=env["SPOOL_CHECKPOINT_DIR"])
    for key in unknown_keys(job):
        print("nn.py: ignoring unknown job key %s" % json.dumps(key), file=sys.stderr)
    names, X, y = load_data(cfg, env, refusals(job))
    n_inputs = cfg.pca_components or len(names)
    say(describe(cfg, names, len(X), n_inputs))
    started = time.monotonic()
    score = evaluate(cfg, X, y, say)
    score["dependentVariable"] = cfg.target
    score["networkInputs"] = n_inputs
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
