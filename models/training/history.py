"""A session's run history: every ended run kept with its settings, curves, scores and model.

Runs are compared by their settings (`RunRecord.settings_row`), so each record keeps the whole
`TrainConfig`, the network's spec and the data's name beside its curves. The history is bounded
(a model's checkpoint can be megabytes and a session lives in the server's memory): past
`limit` runs the oldest unpinned one is dropped, and a pinned run never is. A history is saved
as one zip and reopened with `RunHistory.from_bytes`, which treats the file as untrusted: sizes
come from the zip's directory before anything is inflated, every field is checked by type, and
each model passes `checkpoint.check_archive` (loading it stays `checkpoint.from_bytes`'s job).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import re
import struct
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from models.errors import CNNLabError
from models.network.budget import network_cost
from models.network.spec import NetworkSpec
from models.training import checkpoint
from models.training.engine import RANDOM_FLIPS, TrainConfig, TrainMetrics
from models.training.executor.handle import JobHandle
from models.training.jobs import ENDED

FORMAT = "cnn-lab-runs/1"
INDEX = "history.json"
DEFAULT_LIMIT = 20  # runs a session keeps; each may hold a checkpoint of a few MB
MAX_PINNED = DEFAULT_LIMIT - 1  # one slot always stays free for the newest run
MAX_NAME = 80  # characters in a run's name: it heads a column of the comparison table
MAX_TEXT = 1000  # characters in a label, a group, the data's name or a class name
CURVE_FIELDS = (
    "kind", "epoch", "step", "examples", "elapsed_s",
    "train_loss", "train_acc", "val_loss", "val_acc", "lr",
)  # fmt: skip
_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")  # ids name zip members: no slashes, no dots
_INTS = {f.name for f in dataclasses.fields(TrainMetrics) if f.type == "int"}
_FLOATS = {f.name for f in dataclasses.fields(TrainMetrics) if f.type == "float"}


class HistoryError(CNNLabError):
    """A run or a saved history that cannot be used, with a reason a user can read."""


@dataclass
class RunRecord:
    """One ended run. Mutable on purpose: the user renames and pins runs in place."""

    id: str  # the JobHandle's id; names the run's model in a saved history
    name: str  # what the user calls it; renamable
    label: str  # what sets it apart in an experiment, e.g. "learning rate = 0.001"; "" if none
    group: str  # "" or the id of the experiment it belongs to
    config: TrainConfig
    spec: NetworkSpec | None
    data_name: str
    class_names: tuple[str, ...]
    history: tuple[TrainMetrics, ...]
    status: str  # finished, stopped or failed
    error: str | None
    metrics: dict[str, Any]  # JSON values without NaN; {} when the run made no model
    checkpoint: bytes | None  # checkpoint.to_bytes of the model; None when there is none
    pinned: bool = False
    created: float = field(default_factory=time.time)

    @classmethod
    def from_handle(cls, handle: JobHandle, label: str = "", group: str = "") -> RunRecord:
        """The record of an ended run (a `JobHandle`); HistoryError while it still runs."""
        snap = handle.snapshot()
        if snap.status not in ENDED:
            raise HistoryError(f"the run {handle.name!r} has not ended yet, so it cannot be kept")
        info, result = handle.info, handle.result()
        metrics: dict[str, Any] = {}
        data: bytes | None = None
        if result is not None:
            metrics = _summary(snap.history, info.config, result.evaluation)
            if info.spec is not None:  # a model without a spec has no checkpoint format here
                data = checkpoint.to_bytes(result.bundle, metrics)
        name = handle.name.strip()[:MAX_NAME].strip() or "run"  # as `rename` would accept
        return cls(
            handle.id, name, label, group, info.config, info.spec, info.data_name,
            tuple(info.class_names), tuple(snap.history), snap.status, snap.error, metrics, data,
        )  # fmt: skip

    def curves_csv(self) -> str:
        """Every report of the run as CSV; a figure a report does not carry is an empty cell."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CURVE_FIELDS)
        for m in self.history:
            writer.writerow(_cell(getattr(m, name)) for name in CURVE_FIELDS)
        return out.getvalue()

    def settings_json(self) -> str:
        """Everything needed to run it again, as JSON: names, data, settings and network."""
        return json.dumps(
            {
                "name": self.name,
                "label": self.label,
                "data": self.data_name,
                "class_names": list(self.class_names),
                "config": json.loads(self.config.to_json()),
                "spec": self.spec.to_dict() if self.spec is not None else None,
            },
            indent=2,
            ensure_ascii=False,
        )

    def settings_row(self) -> dict[str, str]:
        """The run's settings as short texts, one per column, so runs line up for comparison."""
        row = {"data": self.data_name, "network": _network_text(self.spec)}
        for f in dataclasses.fields(TrainConfig):
            value = getattr(self.config, f.name)
            row[f.name] = _augmentation_text(value) if f.name == "augmentation" else _short(value)
        return row


def _summary(history: tuple[TrainMetrics, ...], config: TrainConfig, evaluation: Any) -> dict:
    """The figures of the model the run handed over.

    With `restore_best` the model has the weights of the epoch with the lowest validation loss
    (the engine keeps the first such epoch), so its losses are that epoch's, not the last's.
    """
    epochs = [m for m in history if m.kind == "epoch"]
    chosen = epochs[-1]
    finite = [m for m in epochs if math.isfinite(m.val_loss)]
    if config.restore_best and finite:
        chosen = min(finite, key=lambda m: m.val_loss)
    return _plain(
        {
            "validation_accuracy": float(evaluation.accuracy),
            "val_loss": chosen.val_loss,
            "train_loss": chosen.train_loss,
            "train_acc": chosen.train_acc,
            "epoch": chosen.epoch,
            "epochs_run": len(epochs),
            "seconds": history[-1].elapsed_s,
            "per_class_recall": [float(r) for r in evaluation.recall],
        }
    )


def _plain(value: Any) -> Any:
    """`value` with every non-finite float as None, so JSON can carry it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)  # repr: the CSV loses no precision
    return str(value)


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _augmentation_text(pipeline: Any) -> str:
    if pipeline is None or not pipeline.active:
        return "none"
    if pipeline == RANDOM_FLIPS:
        return "flips"
    return ", ".join(step.name for step in pipeline.active)


def _network_text(spec: NetworkSpec | None) -> str:
    if spec is None:
        return "not described"
    n = len(spec.layers)
    return f"{n} layer{'s' * (n != 1)}, {network_cost(spec).params:,} parameters"


class RunHistory:
    """A session's runs, oldest first, at most `limit` of them."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if not isinstance(limit, int) or limit < 2:
            raise HistoryError("a run history must keep at least 2 runs")
        self.limit, self.max_pinned = limit, limit - 1
        self._runs: dict[str, RunRecord] = {}

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._runs

    def runs(self) -> list[RunRecord]:
        return list(self._runs.values())

    def get(self, run_id: str) -> RunRecord:
        """The run with this id; HistoryError when it was deleted or dropped."""
        if run_id not in self._runs:
            raise HistoryError("that run is no longer in the history (deleted, or dropped as old)")
        return self._runs[run_id]

    def add(self, record: RunRecord) -> list[str]:
        """Keep `record` (replacing one with its id); returns the ids dropped to stay in bounds."""
        if not isinstance(record.id, str) or not _ID.fullmatch(record.id):
            raise HistoryError("a run's id must be 1 to 64 letters, digits, '-' or '_'")
        if record.pinned and self._pinned(but=record.id) >= self.max_pinned:
            raise HistoryError(f"at most {self.max_pinned} runs can be pinned: unpin one first")
        self._runs[record.id] = record
        dropped = []
        for old in list(self._runs.values()):
            if len(self._runs) <= self.limit:
                break
            if not old.pinned:
                del self._runs[old.id]
                dropped.append(old.id)
        return dropped

    def pin(self, run_id: str, on: bool = True) -> None:
        """Pin a run so it is never dropped (or unpin it)."""
        record = self.get(run_id)
        if on and self._pinned(but=run_id) >= self.max_pinned:
            raise HistoryError(f"at most {self.max_pinned} runs can be pinned: unpin one first")
        record.pinned = on

    def _pinned(self, but: str) -> int:
        return sum(r.pinned for r in self._runs.values() if r.id != but)

    def rename(self, run_id: str, name: str) -> None:
        record = self.get(run_id)
        record.name = _name(name)

    def delete(self, run_id: str) -> None:
        self.get(run_id)
        del self._runs[run_id]

    def to_bytes(self) -> bytes:
        """The history as one zip: history.json, and runs/<id>.pt for each run's model."""
        index = {"format": FORMAT, "runs": [_record_json(r) for r in self._runs.values()]}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            text = json.dumps(index, ensure_ascii=False, allow_nan=False)
            archive.writestr(INDEX, text, compress_type=zipfile.ZIP_DEFLATED)
            for r in self._runs.values():
                if r.checkpoint is not None:  # stored: weights barely compress
                    archive.writestr(f"runs/{r.id}.pt", r.checkpoint, zipfile.ZIP_STORED)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, limit: int = DEFAULT_LIMIT) -> RunHistory:
        """The history `to_bytes` saved; HistoryError, in plain words, for any other file."""
        history = cls(limit)
        members = _read_zip(data, limit)
        if INDEX not in members:
            raise HistoryError(f"this zip has no {INDEX}, so it is not a saved run history")
        index = _json(members.pop(INDEX))
        if not isinstance(index, dict) or index.get("format") != FORMAT:
            raise HistoryError(f"this is not a saved run history (its format is not {FORMAT})")
        raws = index.get("runs")
        if not isinstance(raws, list):
            raise HistoryError("the saved history's 'runs' must be a list")
        if len(raws) > limit:
            raise HistoryError(f"the file holds {len(raws)} runs; a history keeps at most {limit}")
        for i, raw in enumerate(raws):
            record = _record_from_json(raw, i + 1, members)
            if record.id in history:
                raise HistoryError(f"run {i + 1} in the file repeats the id of an earlier run")
            history.add(record)
        if members:
            raise HistoryError(
                f"the file holds {next(iter(members))[:80]!r}, which belongs to no run"
            )
        return history


def record_to_text(record: RunRecord) -> str:
    """One run's settings, curves and scores as JSON text (its model is kept apart)."""
    return json.dumps(_record_json(record), ensure_ascii=False, allow_nan=False)


def record_from_text(text: str, model: bytes | None) -> RunRecord:
    """The run `record_to_text` wrote, with its model's bytes; checked like a saved history."""
    raw = _json(text.encode("utf-8"))
    run_id = raw.get("id") if isinstance(raw, dict) else None
    members = {f"runs/{run_id}.pt": model} if model else {}
    return _record_from_json(raw, 1, members)


def _name(name: Any) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text or len(text) > MAX_NAME:
        raise HistoryError(f"a run's name must be 1 to {MAX_NAME} characters")
    return text


def _record_json(r: RunRecord) -> dict[str, Any]:
    return {
        "id": r.id, "name": r.name, "label": r.label, "group": r.group,
        "config": json.loads(r.config.to_json()),
        "spec": r.spec.to_dict() if r.spec is not None else None,
        "data_name": r.data_name, "class_names": list(r.class_names),
        "history": [_metrics_json(m) for m in r.history],
        "status": r.status, "error": r.error, "metrics": _plain(r.metrics),
        "pinned": r.pinned, "created": r.created,
    }  # fmt: skip


def _metrics_json(m: TrainMetrics) -> dict[str, Any]:
    """NaN as null; ±inf (a loss can blow up) as the texts "inf" and "-inf"."""
    out = {}
    for key, value in dataclasses.asdict(m).items():
        if key == "preview":  # the live view's masks or predictions: not kept in a saved file
            continue
        if isinstance(value, float) and not math.isfinite(value):
            value = None if math.isnan(value) else ("inf" if value > 0 else "-inf")
        out[key] = value
    return out


def _read_zip(data: bytes, limit: int) -> dict[str, bytes]:
    """The members, by name, once the directory says each fits its cap and the whole fits."""
    per_member = checkpoint.max_checkpoint_bytes()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > limit + 1:
                raise HistoryError(
                    f"the file holds {len(infos):,} entries; too many for {limit} runs"
                )
            for info in infos:
                _check_entry(info, per_member)
            if len({i.filename for i in infos}) != len(infos):
                raise HistoryError("the file holds two entries with the same name")
            total = sum(i.file_size for i in infos)
            if total > per_member * limit:
                raise HistoryError(
                    f"the file unpacks to {total / 2**20:,.0f} MB; a history of {limit} runs may "
                    f"take at most {per_member * limit / 2**20:,.0f} MB"
                )
            return {i.filename: archive.read(i) for i in infos}
    except HistoryError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, struct.error,
            IndexError, NotImplementedError, RuntimeError):  # fmt: skip
        raise HistoryError("this file is damaged or is not a saved run history (a zip)") from None


def _check_entry(info: zipfile.ZipInfo, cap: int) -> None:
    name = info.filename
    if name != INDEX and not (
        name.startswith("runs/") and name.endswith(".pt") and _ID.fullmatch(name[5:-3])
    ):
        raise HistoryError(f"the file holds {name[:80]!r}, which a saved run history never does")
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise HistoryError(f"{name!r} is encrypted or compressed in a way this app does not read")
    if info.file_size > cap:
        raise HistoryError(
            f"{name!r} unpacks to {info.file_size / 2**20:,.0f} MB; "
            f"at most {cap / 2**20:,.0f} MB (set by {checkpoint.MAX_MB_ENV})"
        )


def _no_constant(token: str) -> None:
    raise ValueError(f"{token} is not JSON")  # our writer never writes NaN or Infinity


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise HistoryError(f"the file's {INDEX} is not valid JSON") from None


def _record_from_json(raw: Any, n: int, members: dict[str, bytes]) -> RunRecord:
    """Run n of a saved history, every field checked; its model taken out of `members`."""
    where = f"run {n} in the file"
    if not isinstance(raw, dict):
        raise HistoryError(f"{where} is not a record")
    want = {"id", "name", "label", "group", "config", "spec", "data_name", "class_names",
            "history", "status", "error", "metrics", "pinned", "created"}  # fmt: skip
    if set(raw) != want:
        odd = sorted(set(raw) ^ want)[0][:40]
        raise HistoryError(f"{where} has a missing or unknown field {odd!r}")
    run_id = raw["id"]
    if not isinstance(run_id, str) or not _ID.fullmatch(run_id):
        raise HistoryError(f"{where} has an id that is not 1 to 64 letters, digits, '-' or '_'")
    try:
        name = _name(raw["name"])
    except HistoryError as err:
        raise HistoryError(f"{where}: {err}") from None
    where = f"the run {name!r}"
    for key in ("label", "group", "data_name"):
        _text(where, key, raw[key])
    if raw["status"] not in ENDED:
        raise HistoryError(f"{where} has status {str(raw['status'])[:20]!r}; a kept run has ended")
    if raw["error"] is not None:
        _text(where, "error", raw["error"], limit=10_000)
    names = raw["class_names"]
    if not isinstance(names, list) or not names or len(names) > checkpoint.MAX_CLASSES:
        raise HistoryError(f"{where}: 'class_names' must be a list of class names")
    for class_name in names:
        _text(where, "class_names", class_name)
    if not isinstance(raw["metrics"], dict) or not isinstance(raw["pinned"], bool):
        raise HistoryError(f"{where}: 'metrics' must be an object and 'pinned' true or false")
    created = _number(raw["created"])
    if created is None or not math.isfinite(created):
        raise HistoryError(f"{where}: 'created' must be a time in seconds")
    if not isinstance(raw["history"], list):
        raise HistoryError(f"{where}: 'history' must be a list of reports")
    data = members.pop(f"runs/{run_id}.pt", None)
    if data is not None:
        try:
            checkpoint.check_archive(data)
        except checkpoint.CheckpointError as err:
            raise HistoryError(f"the model of {where} was refused: {err}") from None
    return RunRecord(
        run_id, name, raw["label"], raw["group"], _config(where, raw["config"]),
        _spec(where, raw["spec"]), raw["data_name"], tuple(names),
        tuple(_report(where, i + 1, m) for i, m in enumerate(raw["history"])),
        raw["status"], raw["error"], raw["metrics"], data, raw["pinned"], created,
    )  # fmt: skip


def _text(where: str, key: str, value: Any, limit: int = MAX_TEXT) -> None:
    if not isinstance(value, str) or len(value) > limit:
        raise HistoryError(f"{where}: {key!r} must be text of at most {limit:,} characters")


def _config(where: str, raw: Any) -> TrainConfig:
    if not isinstance(raw, dict):
        raise HistoryError(f"{where}: 'config' must be an object of training settings")
    try:
        return TrainConfig.from_json(json.dumps(raw))
    except CNNLabError as err:
        raise HistoryError(f"{where}: its training settings are invalid: {err}") from None


def _spec(where: str, raw: Any) -> NetworkSpec | None:
    if raw is None:
        return None
    try:
        return NetworkSpec.from_dict(raw)
    except CNNLabError as err:
        raise HistoryError(f"{where}: its network is invalid: {err}") from None


def _report(where: str, n: int, raw: Any) -> TrainMetrics:
    """Report n of a run's curves, back as the TrainMetrics it was (null: math.nan again)."""
    bad = f"{where}: report {n} of its curves"
    if not isinstance(raw, dict) or set(raw) != _INTS | _FLOATS | {"kind", "note", "diverged"}:
        raise HistoryError(f"{bad} does not have the fields of a training report")
    if not isinstance(raw["kind"], str) or not isinstance(raw["note"], str):
        raise HistoryError(f"{bad} has a 'kind' or 'note' that is not text")
    if not isinstance(raw["diverged"], bool):
        raise HistoryError(f"{bad} has a 'diverged' that is not true or false")
    values = dict(raw)
    for key in _INTS:
        if isinstance(raw[key], bool) or not isinstance(raw[key], int):
            raise HistoryError(f"{bad} has a {key!r} that is not a whole number")
    for key in _FLOATS:
        value = raw[key]
        number = float(value) if value in ("inf", "-inf") else _number(value)
        if value is None:
            values[key] = math.nan  # the singleton, as the engine uses: reports compare equal
        elif number is None:
            raise HistoryError(f"{bad} has a {key!r} that is not a number")
        else:
            values[key] = number
    return TrainMetrics(**values)


def _number(value: Any) -> float | None:
    """`value` as a float, or None for anything but a number JSON can hold as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer of hundreds of digits
        return None
