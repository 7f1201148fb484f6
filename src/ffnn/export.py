"""ONNX export: a trained network as an ONNX graph any ONNX runtime can run, outside Python too.

:func:`to_onnx` writes ONNX opset :data:`OPSET` — 13, the first in which every operator used has
its present form (``Softmax`` over one axis, ``ReduceSum`` and ``Squeeze`` taking their axes as
an input), stamped with the lowest IR version it needs, 7, so runtimes since 2020 load it —
built with the ``onnx`` package's own helpers (the ``onnx`` extra: ``pip install 'ffnn[onnx]'``).
Each layer l is

    z^l = a^{l−1} (w^l)ᵀ + b^l   — one ``Gemm`` with transB=1, w^l stored as ffnn holds it, (n_l, n_{l−1})
                                   (a network without biases: a ``Gemm`` without its C input, z^l = a^{l−1} (w^l)ᵀ);
    a^l = σ(z^l)                 — ``Sigmoid``, ``Tanh``, ``Relu``, ``LeakyRelu`` (alpha = the slope),
                                   ``Identity`` or ``Softmax`` (axis=1).

A sigmoid *output* layer is written out as ffnn computes it, a = 1 / (1 + e^{min(−z, 87)})
(``ffnn.activations.Sigmoid``: never below float32's smallest normal number), not as ``Sigmoid``:
runtimes may approximate σ where it is tiny (onnxruntime clamps z to [−18, 18], so every output
below σ(−18) ≈ 1.5e-8 comes out as that), harmless in a hidden layer (an absolute error under
2e-8) but not in outputs that are normalised (their ratios) or compared (the label).

The graph has one input, ``input`` (float32, shape (N, n_in), N dynamic), optionally standardised
first, (x − mean) / std, and two outputs:

- ``probabilities`` (float32, (N, classes)): what :meth:`Network.predict_proba` gives — a softmax
  output as it is, one sigmoid output as the two columns (1 − a, a), several sigmoid outputs
  normalised to sum to 1; for a network whose outputs are not probabilities (identity, tanh,
  relu, leaky_relu output layers: regression), its raw outputs a^L, named ``outputs`` instead;
- ``label`` (int64, (N,)): what :meth:`Network.predict` gives (``ffnn.outputs.labels_of``, built as
  nodes) — the index of the largest output, the first of equal ones, or 1 where a^L ≥ ½ for a
  single output neuron. The class names are in the model's metadata.

A network the float32 graph cannot compute is refused: a parameter beyond float32's range, or
outputs that are not finite for the probe inputs x = 0 and x = 1.

The model is float32 whatever the network's dtype: a float64 network's parameters are rounded to
float32. The model's ``doc_string`` describes it; its ``metadata_props`` hold ``ffnn_version``,
``sizes``, ``activations``, ``cost``, ``dtype`` (the network's), ``outputs`` and
``class_names`` (JSON), and ``standardized``.

Memory: :func:`to_onnx` never copies the parameters whole. The graph is built with each w^l and
b^l as an initializer that holds its type and shape only; ``onnx.checker`` (full check) and the
probe (ONNX's reference evaluator) run on that graph with the parameters as inputs of their types
and shapes, fed the float32 arrays; and the file is written in protobuf's wire format, each
parameter's ``raw_data`` straight from its array: byte for byte the ``SerializeToString()`` of
the model :func:`build_onnx` gives, which holds copies. Beyond the network, exporting so takes
its parameters in float32 where they are not already (a float64 network: half its size) and a
quarter of the largest array (the range check), where it took about 6 times the network's size before
(onnx's tensors, graph and model, the checker's and the evaluator's copies). An ONNX file holds
at most 2 GiB (protobuf's limit); a larger network is refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ffnn._files import atomic_open
from ffnn._version import __version__
from ffnn.activations import Activation, LeakyReLU, _exp_limit
from ffnn.errors import ExtraNotInstalledError, NonFiniteOutputError, ParameterError, ParameterTypeError
from ffnn.network import Network, check_standardization
from ffnn.outputs import require_finite

OPSET = 13  # the ONNX operator set the exported graph uses (default domain)
INPUT = "input"
_ACTIVATION_OPS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "identity": "Identity"}


def to_onnx(
    model: Any,
    path: str | os.PathLike[str],
    class_names: Sequence[str] | None = None,
    standardize: tuple[Any, Any] | None = None,
) -> None:
    """Write ``model`` to ``path`` as an ONNX model (opset :data:`OPSET`), atomically.

    ``model`` is a :class:`Network` or a fitted estimator holding one as ``network_`` (as
    ``ffnn.sklearn``'s do; its ``classes_`` then name the classes). ``class_names`` name the
    classes in the metadata (default: the estimator's ``classes_`` or the network's ``classes``,
    else "0", "1", …). ``standardize`` = (mean, std), each of length n_in, makes the graph feed
    (x − mean) / std to the network, so callers pass raw inputs (default: the network's own
    ``standardization``, which a model trained with ``--standardize`` carries). See the module docstring for the graph.
    """
    network, class_names = _network_and_classes(model, class_names)
    onnx_model, parameters = _checked_model(network, class_names, standardize)
    with atomic_open(path) as f:
        _write(f, onnx_model, parameters)


def build_onnx(
    network: Network, class_names: Sequence[str] | None = None, standardize: tuple[Any, Any] | None = None
) -> Any:
    """The ``onnx.ModelProto`` that :func:`to_onnx` writes, in memory (its parameters copied into
    it), checked as :func:`to_onnx` checks it (see the module docstring)."""
    model, parameters = _checked_model(network, class_names, standardize)
    for tensor in model.graph.initializer:
        if tensor.name in parameters:
            tensor.raw_data = parameters[tensor.name].tobytes()
    return model


def _checked_model(
    network: Network, class_names: Sequence[str] | None, standardize: tuple[Any, Any] | None
) -> tuple[Any, dict[str, np.ndarray]]:
    """(the model, its parameters' initializers holding their type and shape only; the parameters
    in float32, by name), checked by ``onnx.checker`` (full check) and refused when the float32 graph
    cannot compute what the network does: a parameter beyond float32's range, or outputs that are
    not finite (``ffnn.outputs``) for the probe inputs x = 0 and x = 1 (:data:`PROBES`)."""
    onnx, helper, numpy_helper = _import_onnx()
    n_in, n_out = network.sizes[0], network.sizes[-1]
    names = _class_names(network, class_names)
    g = _Graph(onnx, helper, numpy_helper)
    a = INPUT
    if standardize is None:
        standardize = network.standardization  # the model's own, from its file
    else:
        check_standardization(standardize, n_in, "standardize")
    if standardize is not None:
        mean, std = (np.asarray(v, dtype=np.float64) for v in standardize)
        if (std.astype(np.float32) == 0).any():
            raise ParameterError(
                f"the standardisation's std of input {int(np.argmax(std.astype(np.float32) == 0))} is below "
                "float32's smallest number, in which the ONNX graph divides by it: it cannot be exported."
            )
        g.node("Sub", [a, g.constant("input_mean", mean)], "centered")
        a = g.node("Div", ["centered", g.constant("input_std", std)], "x")
    last = len(network.weights)
    host = network.backend.to_numpy
    for l, (w, b, activation) in enumerate(zip(network.weights, network.biases, network.activations), start=1):
        terms = [a, g.parameter(f"w{l}", host(w))] + ([g.parameter(f"b{l}", host(b))] if network.bias else [])
        z = g.node("Gemm", terms, f"z{l}", transB=1)
        a = _activation(g, activation, z, f"a{l}", output=l == last)
    values_name = "probabilities" if network.gives_probabilities else "outputs"
    _outputs(g, network, a, values_name, onnx.TensorProto.INT64)
    width = 2 if values_name == "probabilities" and n_out == 1 else n_out
    graph = helper.make_graph(
        g.nodes,
        "ffnn",
        [helper.make_tensor_value_info(INPUT, onnx.TensorProto.FLOAT, ["N", n_in])],
        [
            helper.make_tensor_value_info(values_name, onnx.TensorProto.FLOAT, ["N", width]),
            helper.make_tensor_value_info("label", onnx.TensorProto.INT64, ["N"]),
        ],
        initializer=g.initializers,
    )
    opsets = [helper.make_opsetid("", OPSET)]
    model = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="ffnn",
        producer_version=__version__,
        ir_version=helper.find_min_ir_version_for(opsets),
        doc_string=_description(network, values_name, standardize is not None),
    )
    helper.set_model_props(model, _metadata(network, values_name, names, standardize is not None))
    checked = onnx.ModelProto()  # the same model, its parameters as inputs of their types and shapes
    checked.CopyFrom(model)
    del checked.graph.initializer[:]
    checked.graph.initializer.extend(t for t in model.graph.initializer if t.name not in g.parameters)
    checked.graph.input.extend(
        helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, array.shape) for name, array in g.parameters.items()
    )
    onnx.checker.check_model(checked, full_check=True)
    _require_finite_outputs(checked, n_in, g.parameters)
    return model, g.parameters


PROBES = (0.0, 1.0)  # the inputs x = (v, …, v) whose outputs an exported graph must give as finite numbers


def _require_finite_outputs(model: Any, n_in: int, parameters: dict[str, np.ndarray]) -> None:
    """Run the graph (ONNX's reference evaluator), fed ``parameters``, on the :data:`PROBES`;
    refuse outputs that are not finite."""
    from onnx.reference import ReferenceEvaluator

    probes = np.repeat(np.asarray(PROBES, dtype=np.float32)[:, None], n_in, axis=1)
    with np.errstate(all="ignore"):  # an overflow shows as non-finite values, refused below
        values: Any = ReferenceEvaluator(model).run(None, {INPUT: probes, **parameters})
    try:
        require_finite(values[0])
    except NonFiniteOutputError as e:
        raise NonFiniteOutputError(f"cannot export it: in float32 (the ONNX graph's type), {e}") from None


class _Graph:
    """The nodes and initializers (float32 unless told) of a graph being built; each node named after its output.

    A constant's initializer holds its values; a parameter's holds its type and shape only, its
    values (float32, little-endian, C order: ONNX's ``raw_data``) kept in ``parameters``."""

    def __init__(self, onnx: Any, helper: Any, numpy_helper: Any) -> None:
        self.onnx, self.helper, self.numpy_helper = onnx, helper, numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.parameters: dict[str, np.ndarray] = {}

    def node(self, op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def constant(self, name: str, value: Any, dtype: Any = np.float32) -> str:
        if not any(t.name == name for t in self.initializers):
            self.initializers.append(self.numpy_helper.from_array(_in_range(name, value, dtype), name))
        return name

    def parameter(self, name: str, value: Any) -> str:
        array = _in_range(name, value, np.dtype("<f4"))  # the network's own array if float32 already
        self.parameters[name] = array
        self.initializers.append(
            self.onnx.TensorProto(name=name, data_type=self.onnx.TensorProto.FLOAT, dims=array.shape)
        )
        return name


def _in_range(name: str, value: Any, dtype: Any) -> np.ndarray:
    """``value`` as a C-ordered array of ``dtype`` (not copied if it is one), refused if a float beyond its range."""
    with np.errstate(over="ignore"):
        array = np.asarray(value, dtype=dtype, order="C")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ParameterError(
            f"'{name}' holds values beyond {array.dtype}'s range (±{np.finfo(array.dtype).max:.3g}), the type "
            "of the ONNX graph: this network cannot be exported."
        )
    return array


def _write(f: Any, model: Any, parameters: dict[str, np.ndarray]) -> None:
    """The bytes ``model.SerializeToString()`` would give once each initializer named in
    ``parameters`` (held without its data) had that array as its ``raw_data``, written with the
    arrays' data taken from their own memory, so that no parameter is ever copied whole.

    Protobuf writes a message's fields in the order of their numbers, a length-delimited one as its
    key, its length (a varint) and its bytes: so the model is its fields before ``graph``, the graph,
    its fields after; the graph likewise around its ``initializer`` entries, and a parameter's
    tensor around its ``raw_data``."""
    tensors = [
        _around(tensor, "raw_data", [[parameters[tensor.name]]])
        if tensor.name in parameters
        else [tensor.SerializeToString()]
        for tensor in model.graph.initializer
    ]
    pieces = _around(model, "graph", [_around(model.graph, "initializer", tensors)])
    if _length(pieces) >= _PROTOBUF_LIMIT:
        raise ParameterError(
            f"this network takes {_length(pieces):,} bytes as an ONNX model, beyond 2 GiB, the most one ONNX file "
            "can hold (protobuf's limit): it cannot be exported."
        )
    for piece in pieces:
        f.write(piece.data.cast("B") if isinstance(piece, np.ndarray) else piece)  # an array's own memory: no copy


_PROTOBUF_LIMIT = 1 << 31  # bytes: protobuf cannot read a message this long


def _around(message: Any, field: str, entries: list[list[Any]]) -> list[Any]:
    """``message`` serialized as pieces (bytes, or arrays standing for their bytes) with ``entries``
    — each the pieces of one value — as its length-delimited ``field``: the fields numbered below
    it, each entry as key, length and value, then the fields numbered above it."""
    number = message.DESCRIPTOR.fields_by_name[field].number
    below, above = type(message)(), type(message)()
    below.CopyFrom(message)
    above.CopyFrom(message)
    for descriptor, _ in message.ListFields():
        if descriptor.number >= number:
            below.ClearField(descriptor.name)
        if descriptor.number <= number:
            above.ClearField(descriptor.name)
    pieces: list[Any] = [below.SerializeToString()]
    for entry in entries:
        pieces += [_varint(number << 3 | 2) + _varint(_length(entry)), *entry]  # key: field number, wire type 2
    return [*pieces, above.SerializeToString()]


def _length(pieces: list[Any]) -> int:
    return sum(piece.nbytes if isinstance(piece, np.ndarray) else len(piece) for piece in pieces)


def _varint(n: int) -> bytes:
    """``n`` ≥ 0 as a protobuf varint: 7 bits a byte, least significant first, the high bit set on all but the last."""
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _activation(g: _Graph, activation: Activation, z: str, a: str, output: bool) -> str:
    """a = σ(z) as nodes; a sigmoid output layer as ffnn computes it, 1 / (1 + e^{min(−z, 87)})."""
    if isinstance(activation, LeakyReLU):
        return g.node("LeakyRelu", [z], a, alpha=activation.slope)
    if activation.name == "softmax":
        return g.node("Softmax", [z], a, axis=1)
    if activation.name == "sigmoid" and output:
        limit = g.constant("exp_limit", [_exp_limit(float(np.finfo(np.float32).tiny))])
        g.node("Neg", [z], "minus_z")
        g.node("Min", ["minus_z", limit], "capped")
        g.node("Exp", ["capped"], "exp")
        g.node("Add", ["exp", g.constant("one", [1.0])], "denominator")
        return g.node("Reciprocal", ["denominator"], a)
    return g.node(_ACTIVATION_OPS[activation.name], [z], a)


def _outputs(g: _Graph, network: Network, a: str, values_name: str, int64: int) -> None:
    """``values_name`` as :meth:`Network.predict_proba` (or a^L itself), ``label`` as :meth:`Network.predict`."""
    n_out, kind = network.sizes[-1], network.activations[-1].name
    if kind == "sigmoid" and n_out == 1:  # (1 − a, a)
        g.node("Sub", [g.constant("one", [1.0]), a], "complement")
        g.node("Concat", ["complement", a], values_name, axis=1)
    elif kind == "sigmoid":  # a / Σ_j a_j
        g.node("ReduceSum", [a, g.constant("axis_1", [1], np.int64)], "row_sum", keepdims=1)
        g.node("Div", [a, "row_sum"], values_name)
    else:
        g.node("Identity", [a], values_name)
    if n_out == 1:  # a ≥ ½
        g.node("GreaterOrEqual", [a, g.constant("half", [0.5])], "at_least_half")
        g.node("Cast", ["at_least_half"], "label_column", to=int64)
        g.node("Squeeze", ["label_column", g.constant("axis_1", [1], np.int64)], "label")
    else:  # the first index of the largest output, as NumPy's argmax
        g.node("ArgMax", [a], "label", axis=1, keepdims=0, select_last_index=0)


def _import_onnx() -> tuple[Any, Any, Any]:
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as e:
        raise ExtraNotInstalledError("Exporting to ONNX needs the onnx package: pip install 'ffnn[onnx]'.") from e
    return onnx, helper, numpy_helper


def _network_and_classes(model: Any, class_names: Sequence[str] | None) -> tuple[Network, Sequence[str] | None]:
    """The network of ``model`` (a Network, or an estimator's ``network_``) and its class names."""
    if isinstance(model, Network):
        return model, class_names if class_names is not None else model.classes
    network = getattr(model, "network_", None)
    if not isinstance(network, Network):
        raise ParameterTypeError(
            "The 'model' parameter must be an ffnn Network or a fitted estimator with a 'network_' "
            f"(fit it first). Got {type(model).__name__} instead."
        )
    if class_names is None and getattr(model, "classes_", None) is not None:
        class_names = [str(c) for c in model.classes_]
    return network, class_names


def _class_names(network: Network, class_names: Sequence[str] | None) -> list[str]:
    """One name per class (per output for a network whose outputs are not probabilities)."""
    count = 2 if network.gives_probabilities and network.sizes[-1] == 1 else network.sizes[-1]
    if class_names is None:
        return [str(i) for i in range(count)]
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise ParameterTypeError(f"The 'class_names' parameter must be a list of names. Got {class_names!r} instead.")
    names = [str(c) for c in class_names]
    if len(names) != count:
        raise ParameterError(
            f"The 'class_names' parameter must name the network's {count} classes. Got {len(names)}: {names!r}."
        )
    return names


def _activations(network: Network) -> list[dict[str, Any]]:
    return [{"name": a.name, **({"slope": a.slope} if hasattr(a, "slope") else {})} for a in network.activations]


def _metadata(network: Network, values_name: str, class_names: list[str], standardized: bool) -> dict[str, str]:
    return {
        "ffnn_version": __version__,
        "sizes": json.dumps(network.sizes),
        "activations": json.dumps(_activations(network)),
        "cost": network.cost_function.name,
        "dtype": network.dtype.name,
        "outputs": json.dumps([values_name, "label"]),
        "class_names": json.dumps(class_names),
        "standardized": json.dumps(standardized),
    }


def _description(network: Network, values_name: str, standardized: bool) -> str:
    layers = ", ".join(a.name for a in network.activations)
    return (
        f"ffnn {__version__} network, sizes {network.sizes}, activations [{layers}], cost "
        f"{network.cost_function.name}, trained in {network.dtype.name}, exported in float32 (ONNX opset {OPSET}). "
        f"Input 'input' (N, {network.sizes[0]}){', standardised in the graph' if standardized else ''}; outputs "
        f"'{values_name}' and 'label' (int64 class index; class names in metadata_props['class_names'])."
    )
