"""scikit-learn estimators: :class:`FFNNClassifier` and :class:`FFNNRegressor` (the ``sklearn`` extra).

Both are thin faces over ffnn's run layer: the constructor's parameters become a settings table
(``ffnn.settings``), checked there, made a ``ffnn.config.RunConfig``, and ``ffnn.build`` turns it
into the network, the optimizer and its schedule; training is one call of :func:`ffnn.fit`, with
the sample weights, the early-stopping rule and the validation score as its arguments and
callbacks. The trained :class:`ffnn.Network` is ``network_``, usable (and savable) without
scikit-learn.

Parameters are checked when ``fit`` starts (``__init__`` only stores them, as scikit-learn asks),
each by its one declaration: the settings table's, or for the parameters only an estimator has
(``warm_start``, ``tol``, …) the declarations beside it (``_OWN``), by the same rule
(``settings.check_value``). A bad one is refused in scikit-learn's form: "The 'learning_rate'
parameter must be a number > 0; got -1.0."

    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> model = make_pipeline(StandardScaler(), FFNNClassifier(hidden_layer_sizes=(64,)))
    >>> model.fit(X_train, y_train).score(X_test, y_test)  # doctest: +SKIP
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from ffnn import settings as settings_table
from ffnn.build import build_network, build_training
from ffnn.callbacks import Callback, EarlyStopping
from ffnn.config import RunConfig
from ffnn.errors import ExtraNotInstalledError, ParameterError
from ffnn.network import Network
from ffnn.outputs import labels_of
from ffnn.state import History, TrainingState
from ffnn.training import fit

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as e:  # pragma: no cover - without the extra
    raise ExtraNotInstalledError(
        "ffnn.sklearn needs scikit-learn: pip install 'ffnn[sklearn]' (or pip install scikit-learn)."
    ) from e

__all__ = ["FFNNClassifier", "FFNNRegressor"]

# The settings table's names for the constructor's parameters, for messages.
_PARAMETER_OF = {
    "sizes": "hidden_layer_sizes",
    "eta": "learning_rate",
    "epochs": "max_iter",
    "seed": "random_state",
    "validation": "early_stopping",
    "threads": "n_threads",
}
_AUTO_BATCH = 200  # batch_size="auto": min(200, n_samples), as MLPClassifier


def _parameter(key: str) -> str:
    """The constructor's parameter that gives the setting ``key``."""
    return _PARAMETER_OF.get(key, key)


def _spell(key: str) -> str:
    """Where a setting's value comes from, as scikit-learn's messages say it: "The 'learning_rate' parameter"."""
    return f"The {_parameter(key)!r} parameter"


@dataclass(frozen=True, kw_only=True)
class _SettingOr(settings_table.Setting):
    """A setting that also takes one value outside its rule (``tol=None``, ``batch_size="auto"``)."""

    alternative: Any

    def rule(self) -> str:
        return f"{self.alternative!r} or {super().rule()}"

    def allows(self, value: Any) -> bool:
        """Whether ``value`` is the alternative (of its type: ``0 == False`` does not count)."""
        return type(value) is type(self.alternative) and value == self.alternative


# The estimator's own parameters, declared as settings (the others are run settings: ffnn.settings).
_OWN = (
    settings_table.Setting("hidden_layer_sizes", (100,), "neurons per hidden layer; () for none"),
    _SettingOr(
        "batch_size", _AUTO_BATCH, "examples per mini-batch ('auto': min(200, n_samples))", low=1, alternative="auto"
    ),
    settings_table.Setting("early_stopping", False, "hold out validation_fraction and stop when its score stalls"),
    settings_table.Setting(
        "validation_fraction", 0.1, "the share held out by early_stopping", low=0.0, above=True, high=1.0
    ),
    settings_table.Setting("n_iter_no_change", 10, "epochs without an improvement of more than tol", low=1),
    _SettingOr("tol", 1e-4, "the improvement that counts (None: run all max_iter epochs)", low=0.0, alternative=None),
    settings_table.Setting("verbose", False, "print each epoch"),
    settings_table.Setting("warm_start", False, "fit continues the previous fit's network"),
)


# The run's schedules but the book's halving rule, which watches a validation accuracy the estimators do not keep.
_SCHEDULE = replace(
    settings_table.BY_NAME["schedule"],
    choices=tuple(c for c in settings_table.BY_NAME["schedule"].choices if c != "halve-on-plateau"),
)


class _Own(NamedTuple):
    """The estimator's own parameters (:data:`_OWN`), checked."""

    hidden_layer_sizes: tuple[int, ...]
    batch_size: int | str
    early_stopping: bool
    validation_fraction: float
    n_iter_no_change: int
    tol: float | None
    verbose: bool
    warm_start: bool


def _checked(setting: settings_table.Setting, value: Any) -> Any:
    """``value`` if ``setting`` (one of :data:`_OWN`) allows it, else SettingError in scikit-learn's form."""
    if isinstance(setting, _SettingOr) and setting.allows(value):
        return value
    if setting.name == "hidden_layer_sizes":
        value = _layer_sizes(value)
    return settings_table.check_value(setting, value, _spell(setting.name))


def _layer_sizes(value: Any) -> Any:
    """``hidden_layer_sizes`` as a tuple when it is an integer (one layer), a list or a 1-d array (as a
    parameter grid may give it); anything else as it is, for the check to refuse."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        return tuple(value.tolist())
    return tuple(value) if isinstance(value, list) else value


class _CarryOptimizerState(Callback):
    """Hands the optimizer's state (Adam's moments, step count) from one ``fit`` call to the next,
    so that ``partial_fit`` and ``warm_start`` continue the same optimisation."""

    def __init__(self, saved: Any) -> None:
        self.saved = saved

    def bind(self, state: TrainingState) -> None:
        self.state = state
        if self.saved is not None:
            state.step.load_state_dict(self.saved)

    def on_train_end(self, network: Network, history: History) -> None:
        self.saved = self.state.step.state_dict()


class _ValidationScore(Callback):
    """Records the estimator's score (accuracy or R²) on the held-out split after each epoch, as
    ``history.extra["validation_score"]``, for early stopping and ``validation_scores_``."""

    def __init__(self, estimator: _FFNNBase, X: np.ndarray, y: np.ndarray) -> None:
        self.estimator, self.X, self.y = estimator, X, y

    def on_epoch_end(self, network: Network, history: History) -> bool:
        score = self.estimator._score_outputs(network.outputs(self.X), self.y)
        history.extra.setdefault("validation_score", []).append(score)
        return False


_FIXED_ON_CONTINUE = ("sizes", "activation", "output_activation", "cost", "init", "dtype", "optimizer", "dropout")


class _FFNNBase(BaseEstimator):
    """What both estimators share: parameters → settings → network and training → ``ffnn.fit``."""

    _output_activation: str | None  # the default output layer (None: the cost's matching one)
    _cost: str  # the default cost
    _regression: bool  # numeric (n,) or (n, k) targets; else class labels

    # -- set up by subclasses ----------------------------------------------------------------------

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        cost: str | None = None,
        output_activation: str | None = None,
        init: str = "glorot",
        optimizer: str = "adam",
        learning_rate: float = 3e-3,
        schedule: str = "constant",
        batch_size: int | str = "auto",
        max_iter: int = 200,
        dropout: float = 0.0,
        weight_decay: float = 1e-3,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float | None = 1e-4,
        random_state: Any = None,
        verbose: bool = False,
        warm_start: bool = False,
        dtype: str | None = None,
        n_threads: int | None = None,
    ) -> None:
        """Both estimators' parameters: one signature, from which scikit-learn reads them.

        Parameters
        ----------
        hidden_layer_sizes
            neurons per hidden layer, e.g. ``(100,)`` or ``(64, 32)``; ``()`` for none.
        activation
            the hidden layers' activation: ``relu``, ``leaky_relu``, ``tanh``, ``sigmoid``, ``identity``.
        cost, output_activation
            the cost and the output layer (None: the default named above).
        init
            the weight initialiser: ``glorot``, ``he``, ``scaled_normal``, ``normal``, ``small_uniform``.
        optimizer
            ``adam``, ``adamw``, ``sgd``, ``momentum``, ``nesterov``, ``rmsprop``.
        learning_rate
            η, the optimizer's learning rate; ``schedule`` says how it changes over the run
            (``constant``, ``step``, ``exponential``, ``cosine``).
        batch_size
            examples per mini-batch, or ``"auto"`` = min(200, n_samples).
        max_iter
            epochs (passes over the training data) at most.
        dropout
            inverted dropout rate of the hidden layers, in [0, 1).
        weight_decay
            the optimizer's L2 strength (AdamW: decoupled).
        early_stopping
            hold out ``validation_fraction`` of the training data (stratified for a
            classifier), score it after each epoch (``validation_scores_``), stop when the score has
            not improved by more than ``tol`` for ``n_iter_no_change`` epochs, and keep the best epoch's
            parameters. Without it, training stops when the training loss has not improved by more
            than ``tol`` for ``n_iter_no_change`` epochs (``tol=None``: run all ``max_iter`` epochs).
        random_state
            None, an int or a ``numpy.random.RandomState``: the initial weights, the
            shuffling, dropout and the validation split. An int gives the same model every time.
        verbose
            print each epoch.
        warm_start
            ``fit`` continues from the previous fit's network and optimizer state.
        dtype
            the network's floating-point type. None: the input's dtype — float32 data is computed
            in float32, anything else in float64 (a continued fit keeps the network's); ``float32``
            (fast) or ``float64`` forces it, the data being cast to it.
        n_threads
            the most BLAS threads the products run on. None: automatic — ``FFNN_THREADS``, else
            the cores, within the limit joblib sets in its workers (``GridSearchCV(n_jobs=…)``) or a
            caller sets with ``threadpoolctl``; a network too small to gain from more runs on one.

        Attributes
        ----------
        network_
            the trained :class:`ffnn.Network` (``ffnn.save(est.network_, path)`` writes it); a
            classifier's names its classes (``network_.classes``: ``classes_`` as strings).
        loss_curve_
            the mean training cost of each epoch (without the weight-decay term).
        validation_scores_
            the validation score of each epoch with ``early_stopping``, else None.
        n_iter_
            epochs trained.
        n_features_in_, feature_names_in_
            as scikit-learn defines them.

        ``fit(X, y, sample_weight=None)``: each example's cost is weighted; each mini-batch's cost is
        the weighted mean Σ w_x C_x / Σ w_x (see :func:`ffnn.fit`). ``partial_fit`` trains one epoch on
        the data it is given, continuing the network and the optimizer's state; it and ``warm_start``
        take ``schedule='constant'`` only (a schedule is planned over one call's epochs).
        """
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.cost = cost
        self.output_activation = output_activation
        self.init = init
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.dtype = dtype
        self.n_threads = n_threads

    def _targets(self, y: np.ndarray, first: bool, partial: bool, classes: Any = None) -> np.ndarray:
        raise NotImplementedError

    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _score_outputs(self, a: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def _class_names(self) -> list[str] | None:
        """The network's class names (``Network.classes``, kept by ``ffnn.save``); None: no classes."""
        return None

    # -- training ----------------------------------------------------------------------------------

    def _own_parameters(self) -> _Own:
        """The estimator's own parameters (:data:`_OWN`), each checked against its declaration."""
        return _Own(**{setting.name: _checked(setting, getattr(self, setting.name)) for setting in _OWN})

    def _dtype(self, X: np.ndarray, first: bool) -> str:
        """``dtype``; when it is None, the input's for a new network (``validate_data`` keeps float32
        and makes anything else float64) and the network's own for one continued."""
        if self.dtype is not None:
            return self.dtype
        return (X.dtype if first else self.network_.dtype).name

    def _config(self, own: _Own, X: np.ndarray, first: bool, epochs: int, n_validation: int) -> RunConfig:
        """The run configuration the parameters describe, checked (messages name the parameters)."""
        batch_size = own.batch_size
        if batch_size == "auto":
            batch_size = min(_AUTO_BATCH, len(X))
        output = self._output_activation if self.output_activation is None else self.output_activation
        values = {
            "sizes": [X.shape[1], *own.hidden_layer_sizes, self._n_outputs()],
            "activation": self.activation,
            "output_activation": output or "",
            "cost": self.cost or self._cost,
            "init": self.init,
            "dtype": self._dtype(X, first),
            "epochs": epochs,
            "batch_size": batch_size,
            "eta": self.learning_rate,
            "optimizer": self.optimizer,
            "weight_decay": self.weight_decay,
            "schedule": settings_table.check_value(_SCHEDULE, self.schedule, _spell("schedule")),
            "dropout": self.dropout,
            "seed": self._seed,
            "validation": n_validation,
            "threads": 0 if self.n_threads is None else self.n_threads,
        }
        return RunConfig.of_table(settings_table.resolve(settings_table.Layer(values, _spell)))

    def _check_continuable(self, config: RunConfig, first: bool) -> None:
        """Continuing (``partial_fit``, ``warm_start``) keeps the network and the optimizer's state:
        refuse parameters that would need new ones (``first``: there is no network yet), and
        schedules planned for one call's epochs — from the first call on, which would otherwise be
        accepted only for the next to be refused."""
        changed = [] if first else [k for k in _FIXED_ON_CONTINUE if getattr(config, k) != self._fixed[k]]
        if changed:
            raise ParameterError(
                f"{', '.join(_parameter(k) for k in changed)} changed since the network was made; continuing "
                "(partial_fit, warm_start) keeps the network and the optimizer: fit with warm_start=False."
            )
        if config.schedule != "constant":
            raise ParameterError(
                f"schedule={config.schedule!r} is planned over one call's epochs; continuing (partial_fit, "
                "warm_start) would run past its end. Use schedule='constant', or fit with warm_start=False."
            )

    def _fit(self, X: Any, y: Any, sample_weight: Any, *, partial: bool, classes: Any = None) -> _FFNNBase:
        own = self._own_parameters()
        first = not (partial or own.warm_start) or not hasattr(self, "network_")
        X, y = validate_data(
            self, X, y, reset=first, dtype=(np.float64, np.float32), multi_output=self._regression,
            y_numeric=self._regression,
        )  # fmt: skip
        Y = self._targets(y, first, partial, classes)
        if first:
            self._rng = check_random_state(self.random_state)
            self.loss_curve_: list[float] = []
            self.validation_scores_: list[float] | None = [] if own.early_stopping and not partial else None
            self.n_iter_ = 0
            self._optimizer_state = None
        self._seed = int(self._rng.randint(np.iinfo(np.int32).max))
        X_val: np.ndarray | None = None
        Y_val: np.ndarray | None = None
        if own.early_stopping and not partial:
            X, Y, sample_weight, X_val, Y_val = self._split(X, Y, sample_weight, own.validation_fraction)
        epochs = 1 if partial else self.max_iter
        config = self._config(own, X, first, epochs, 0 if X_val is None else len(X_val))
        if partial or own.warm_start:
            self._check_continuable(config, first)
        if first:
            self.network_ = build_network(config)
            self.network_.classes = self._class_names()
            self._fixed = {k: getattr(config, k) for k in _FIXED_ON_CONTINUE}
        if self.validation_scores_ is None and X_val is not None:
            self.validation_scores_ = []
        options, callbacks = build_training(config, len(X))
        carry = _CarryOptimizerState(self._optimizer_state)
        callbacks.append(carry)
        if X_val is not None and Y_val is not None:
            callbacks.append(_ValidationScore(self, X_val, Y_val))
            callbacks.append(EarlyStopping(own.n_iter_no_change, "validation_score", "max", own.tol or 0.0))
        elif not partial and own.tol is not None:  # MLPClassifier's rule: the training loss stops improving
            callbacks.append(EarlyStopping(own.n_iter_no_change, "train_cost", "min", own.tol, restore_best=False))
        history = fit(
            self.network_, X, Y, sample_weight=sample_weight, callbacks=callbacks, verbose=own.verbose,
            **options,
        )  # fmt: skip
        self._optimizer_state = carry.saved
        self.loss_curve_ += history.train_cost
        if self.validation_scores_ is not None and X_val is not None:
            self.validation_scores_ += history.extra.get("validation_score", [])
        self.n_iter_ += len(history.epoch)
        return self

    def _split(self, X: np.ndarray, Y: np.ndarray, sample_weight: Any, fraction: float) -> tuple[Any, ...]:
        """(X, Y, w) for training, (X, Y) for validation: ``fraction`` held out, stratified for classes.
        Validation scores are not weighted."""
        stratify = None if self._regression else Y
        w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight)
        if w.shape != (len(X),):
            raise ParameterError(f"'sample_weight' must have shape ({len(X)},). Got shape {w.shape} instead.")
        try:
            X_tr, X_val, Y_tr, Y_val, w_tr, _ = train_test_split(
                X, Y, w, test_size=fraction, random_state=self._seed, stratify=stratify
            )
        except ValueError as e:
            raise ParameterError(
                f"early_stopping cannot hold out validation_fraction={fraction} of {len(X)} examples: {e}"
            ) from e
        return X_tr, Y_tr, (None if sample_weight is None else w_tr), X_val, Y_val

    def _outputs(self, X: Any) -> np.ndarray:
        """The output activations a^L for X, as float64; NonFiniteOutputError where they overflow the
        network's dtype (``network_.outputs``)."""
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return np.asarray(self.network_.outputs(X), dtype=np.float64)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class FFNNClassifier(ClassifierMixin, _FFNNBase):
    """A feedforward network classifier trained by backpropagation: softmax outputs and the
    cross-entropy cost by default, one output per class; labels of any type (``classes_``).
    """

    _output_activation = None
    _cost = "cross_entropy"
    _regression = False

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> FFNNClassifier:
        """Train a new network on (X, y) (or continue the last one, with ``warm_start``)."""
        return self._fit(X, y, sample_weight, partial=False)

    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> FFNNClassifier:
        """One epoch on (X, y); the first call must name every class in ``classes``."""
        return self._fit(X, y, sample_weight, partial=True, classes=classes)

    def _targets(self, y: np.ndarray, first: bool, partial: bool, classes: Any = None) -> np.ndarray:
        check_classification_targets(y)
        if partial:
            _check_partial_fit_first_call(self, classes)  # sets classes_ first; refuses other classes later
        elif first:
            self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ParameterError(
                f"FFNNClassifier needs at least 2 classes to train; y has only one class: {self.classes_[0].item()!r}."
            )
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if len(unseen):
            raise ParameterError(
                f"y has the class {unseen[0].item()!r}, which is not among the classes the classifier was first "
                f"fitted with ({self.classes_.tolist()!r}). Fit it anew, or name every class in partial_fit's "
                "'classes'."
            )
        return np.searchsorted(self.classes_, y)

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _class_names(self) -> list[str]:
        """``classes_`` as names (str of each: 'cat', '3'), so that a saved ``network_`` says them."""
        return [str(c) for c in self.classes_]

    def _score_outputs(self, a: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(labels_of(a) == y))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in the order of ``classes_``."""
        a = self._outputs(X)
        return np.asarray(self.network_.as_probabilities(a), dtype=np.float64)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """ln of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row (``ffnn.outputs.labels_of``), a label from ``classes_``."""
        a = self._outputs(X)  # checks the estimator is fitted before classes_ is read
        return self.classes_[labels_of(a)]


class FFNNRegressor(RegressorMixin, _FFNNBase):
    """A feedforward network regressor trained by backpropagation: identity outputs and the
    quadratic cost by default, one output per target column (multi-output y is (n, k)).
    """

    _output_activation = "identity"
    _cost = "quadratic"
    _regression = True

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> FFNNRegressor:
        """Train a new network on (X, y) (or continue the last one, with ``warm_start``)."""
        return self._fit(X, y, sample_weight, partial=False)

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> FFNNRegressor:
        """One epoch on (X, y), continuing the network (a new one on the first call)."""
        return self._fit(X, y, sample_weight, partial=True)

    def _targets(self, y: np.ndarray, first: bool, partial: bool, classes: Any = None) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if first:
            self.n_outputs_ = Y.shape[1]
            self._one_output = y.ndim == 1
        elif Y.shape[1] != self.n_outputs_:
            raise ParameterError(
                f"y has {Y.shape[1]} target columns, but the regressor was fitted with {self.n_outputs_}."
            )
        return Y

    def _n_outputs(self) -> int:
        return int(self.n_outputs_)

    def _score_outputs(self, a: np.ndarray, y: np.ndarray) -> float:
        return float(r2_score(y, a))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def predict(self, X: Any) -> np.ndarray:
        """The network's outputs: shape (n_samples,) for one target, (n_samples, n_outputs) for several."""
        a = self._outputs(X)
        return a.ravel() if self._one_output else a


FFNNClassifier.__doc__ = (FFNNClassifier.__doc__ or "") + (_FFNNBase.__init__.__doc__ or "")  # for help()
FFNNRegressor.__doc__ = (FFNNRegressor.__doc__ or "") + (_FFNNBase.__init__.__doc__ or "")
