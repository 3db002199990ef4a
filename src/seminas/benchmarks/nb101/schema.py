"""The official NAS-Bench-101 record format: one JSON row ``[module_hash, epochs, adjacency,
ops, base64 ModelMetrics]`` per training run, the ``ModelMetrics`` protobuf (built at runtime,
no generated code), and the checks of a row's cell and of a module hash."""

from __future__ import annotations

import base64
import binascii
import json
import re
from functools import lru_cache
from typing import Any

import numpy as np

from seminas.errors import SeminasError
from seminas.spaces.nb101 import CONV1X1, CONV3X3, INPUT, MAX_VERTICES, MAXPOOL3X3, OUTPUT

RUNS = 3  # training runs per cell and epoch budget in the official table
EPOCH_BUDGETS = (4, 12, 36, 108)  # nasbench_full has all four; nasbench_only108 only 108
REPORT_EPOCHS = 108
OP_LABELS = {INPUT: -1, OUTPUT: -2, CONV3X3: 0, CONV1X1: 1, MAXPOOL3X3: 2}
LABEL_OPS = {v: k for k, v in OP_LABELS.items()}
PAD_LABEL = -3  # op label of the unused vertices of a cell with fewer than 7 vertices
HEX32 = re.compile("[0-9a-f]{32}")
_DIGITS = bytes.maketrans(b"01", b"\x00\x01")


@lru_cache(maxsize=1)
def model_metrics_classes() -> tuple[type, type]:
    """``(ModelMetrics, EvaluationData)`` message classes, built from a descriptor at runtime so
    the project needs neither protoc nor a generated ``_pb2`` module. Field numbers and types
    match the official ``model_metrics.proto`` (proto2), which is all the wire format depends on.
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="seminas/nb101_model_metrics.proto", package="seminas.nb101", syntax="proto2"
    )
    evaluation = proto.message_type.add(name="EvaluationData")
    for number, (name, kind) in enumerate(
        (
            ("current_epoch", field.TYPE_DOUBLE),
            ("training_time", field.TYPE_DOUBLE),
            ("train_accuracy", field.TYPE_DOUBLE),
            ("validation_accuracy", field.TYPE_DOUBLE),
            ("test_accuracy", field.TYPE_DOUBLE),
            ("checkpoint_path", field.TYPE_STRING),
        ),
        start=1,
    ):
        evaluation.field.add(name=name, number=number, type=kind, label=field.LABEL_OPTIONAL)
    metrics = proto.message_type.add(name="ModelMetrics")
    metrics.field.add(
        name="evaluation_data",
        number=1,
        type=field.TYPE_MESSAGE,
        type_name=".seminas.nb101.EvaluationData",
        label=field.LABEL_REPEATED,
    )
    metrics.field.add(
        name="trainable_parameters", number=2, type=field.TYPE_INT32, label=field.LABEL_OPTIONAL
    )
    metrics.field.add(
        name="total_time", number=3, type=field.TYPE_DOUBLE, label=field.LABEL_OPTIONAL
    )
    # A private pool, so an installed copy of the official proto can never clash with ours.
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(proto.SerializeToString())
    classes = []
    for name in ("seminas.nb101.ModelMetrics", "seminas.nb101.EvaluationData"):
        desc = pool.FindMessageTypeByName(name)
        try:
            classes.append(message_factory.GetMessageClass(desc))
        except AttributeError:  # protobuf < 4.24
            classes.append(message_factory.MessageFactory(pool).GetPrototype(desc))
    return classes[0], classes[1]


def encode_row(
    module_hash: str, epochs: int, matrix: Any, ops: list[str] | tuple[str, ...], metrics: Any
) -> bytes:
    """The payload of one official record (used to write fixtures and synthetic tables)."""
    mat = np.asarray(matrix, dtype=np.int64)
    adjacency = "".join(str(int(x)) for x in mat.reshape(-1))
    encoded = base64.b64encode(metrics.SerializeToString()).decode("ascii")
    return json.dumps([module_hash, int(epochs), adjacency, ",".join(ops), encoded]).encode()


def parse_row(payload: bytes) -> tuple[str, int, np.ndarray, list[str], Any]:
    """Decode one record: ``(module_hash, epochs, matrix, ops, ModelMetrics)``.

    Raises ValueError (or a protobuf DecodeError) when the payload is not a NAS-Bench-101 row;
    callers turn that into a one-line :class:`SeminasError` naming the record.
    """
    module_hash, epochs, raw_adjacency, raw_ops, metrics = split_row(payload)
    flat, labels = cell_of(raw_adjacency, raw_ops)
    n = len(labels)
    matrix = np.frombuffer(flat, dtype=np.uint8).reshape(n, n).astype(np.int64)
    return module_hash, epochs, matrix, raw_ops.split(","), metrics


def split_row(payload: bytes) -> tuple[str, int, str, str, Any]:
    """The row's fields with the metrics decoded; the cell itself is parsed only when new."""
    module_hash, epochs, raw_adjacency, raw_ops, raw_metrics = json.loads(payload.decode())
    if not isinstance(module_hash, str) or len(module_hash) != 32:
        raise ValueError(f"module hash {module_hash!r} is not 32 hex digits")
    model_metrics, _ = model_metrics_classes()
    metrics = model_metrics.FromString(binascii.a2b_base64(raw_metrics))
    if not metrics.evaluation_data:
        raise ValueError("the training run has no evaluation data")
    return module_hash, int(epochs), raw_adjacency, raw_ops, metrics


def cell_of(raw_adjacency: str, raw_ops: str) -> tuple[bytes, list[int]]:
    """The flattened 0/1 matrix as bytes and the op labels, checked for shape."""
    flat = raw_adjacency.encode("ascii").translate(_DIGITS)
    n = int(round(len(flat) ** 0.5))
    if n * n != len(flat) or not 2 <= n <= MAX_VERTICES or flat.strip(b"\x00\x01"):
        raise ValueError(f"adjacency {raw_adjacency!r} is not a flattened 0/1 square matrix")
    ops = raw_ops.split(",")
    if len(ops) != n:
        raise ValueError(f"{n} vertices but {len(ops)} ops")
    try:
        labels = [OP_LABELS[op] for op in ops]
    except KeyError as exc:
        raise ValueError(f"unknown operation {exc.args[0]!r}") from None
    return flat, labels


def padded(flat: bytes, n: int) -> bytes:
    """An n x n flattened matrix padded to 7 x 7 (zeros right and below)."""
    pad = bytes(MAX_VERTICES - n)
    rows = b"".join(flat[i * n : (i + 1) * n] + pad for i in range(n))
    return rows + bytes(MAX_VERTICES * (MAX_VERTICES - n))


def check_hash(module_hash: Any) -> str:
    if not isinstance(module_hash, str):
        raise SeminasError(f"a NAS-Bench-101 module hash is a string, got {module_hash!r}")
    key = module_hash.strip().lower()
    if len(key) != 32 or any(c not in "0123456789abcdef" for c in key):
        raise SeminasError(
            f"{module_hash!r} is not a NAS-Bench-101 module hash (32 hexadecimal digits)"
        )
    return key
