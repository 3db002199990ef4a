"""A seminas study written into an Optuna storage, so that ``optuna-dashboard`` shows it.

seminas keeps its own study format (:mod:`seminas.study`); Optuna's dashboard is a well-kept
viewer of Optuna storages. :func:`export_to_optuna` copies the finished trials of a study
into an Optuna study through Optuna's public API only, and :func:`follow` keeps doing so while
the search runs (``seminas export STUDY --optuna URL [--follow]``). ``docs/optuna.md`` is the
user's guide; this docstring is the exact contract.

What each Optuna trial holds
    One categorical parameter per token position of the study's space, named and labelled by
    :meth:`~seminas.spaces.base.SearchSpace.position_labels` (NAS-Bench-201: the six edges
    ``1<-0`` ... ``3<-2`` with their operation names; a space without labels: ``token_i`` with
    the token numbers). The choices are every value the space allows at that position, so the
    distributions are the same for every trial of the study (Optuna's importance and slice
    plots need that). The value is the search metric (the Optuna study maximises). User
    attributes: ``query`` (1-based, as ``seminas show`` counts), ``arch_id``, ``arch`` (the
    space's native notation), ``iteration``, and where known ``report_metric``, ``predicted``
    (the strategy's guess when it proposed the architecture), ``cost_seconds`` and ``params``;
    FAIL trials carry ``error``. The system attribute ``seminas:query`` is the query's number
    in the study (0-based): the key that makes a second export add only what is missing.
    Start and end times are the query's own.

Which trials are written
    Finished ones: done queries as COMPLETE trials, queries given up for good after their
    retries (:attr:`~seminas.study.storage.TrialRow.gave_up`) as FAIL trials. Pending, running
    and retryable failed queries are left for a later export (:func:`follow` adds them when they
    finish). Trials are added in query order; a live mirror adds them as they finish.

Which study an Optuna study mirrors
    The Optuna study's user attribute ``seminas`` records the seminas study (location, strategy,
    space, budget, seed and a hash of its config). A seminas study with another config is
    refused in one line (choose another Optuna study name); a copy of the same study, or the
    same search run again into another file, has the same config and counts as the same study.
    An Optuna study that holds trials seminas did not write is refused too. One process should
    write an Optuna study at a time: two exports running at once could add a query twice.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

try:
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.storages import RDBStorage
    from optuna.study import StudyDirection
    from optuna.trial import FrozenTrial, TrialState
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "seminas.integrations.optuna_export needs Optuna: pip install 'seminas[optuna]'"
    ) from exc

from seminas.errors import SeminasError
from seminas.study.storage import APPLICATION_ID, TrialRow
from seminas.study.study import Study

QUERY_ATTR = "seminas:query"  # system attribute: the query's number in the seminas study
STUDY_ATTR = "seminas"  # the Optuna study's user attribute: the seminas study it mirrors
DEFAULT_INTERVAL = 2.0  # seconds between two looks at a running study (follow)
_CHOICE_TYPES = (type(None), bool, int, float, str)  # what Optuna's categorical choices hold


@dataclass(frozen=True)
class ExportResult:
    """What one export did (for :func:`follow`: all its passes together)."""

    storage: str  # the Optuna storage URL, password hidden
    study_name: str  # the Optuna study
    added: int  # trials written now (FAIL trials included)
    existing: int  # finished queries whose trial was there already
    unfinished: int  # queries pending, running, or failed but to be retried: not written yet
    failed: int = 0  # of the added trials, FAIL ones (queries given up for good)

    def summary(self) -> str:
        """``wrote 37 trials (0 already there) to sqlite:///x.db study 'nb201-seminas'``."""
        text = (
            f"wrote {self.added} trial{'' if self.added == 1 else 's'} ({self.existing} already "
            f"there) to {self.storage} study {self.study_name!r}"
        )
        notes = []
        if self.failed:
            notes.append(f"{self.failed} failed for good")
        if self.unfinished:
            notes.append(f"{self.unfinished} not finished yet")
        return text + (f"; {', '.join(notes)}" if notes else "")


# -- the study's identity, name and parameters ----------------------------------------------------
def study_identity(study: Study) -> dict[str, Any]:
    """What the Optuna study records about the seminas study it mirrors; ``config_sha256``
    decides whether two seminas studies are the same (see the module docstring)."""
    config = study.config
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    location = study.location
    if "://" not in location:  # a file: where it is, whichever folder the export ran in
        location = str(Path(location).resolve())
    return {
        "location": location,
        "strategy": config.get("strategy"),
        "space": (config.get("evaluator") or {}).get("space"),
        "budget": study.budget,
        "seed": study.seed,
        "config_sha256": hashlib.sha256(text.encode()).hexdigest()[:16],
    }


def default_study_name(study: Study) -> str:
    """The seminas study's own name: a server study's name, else the file's stem."""
    name = getattr(study.storage, "study_name", None)
    return str(name) if name else Path(study.location).stem


@dataclass(frozen=True)
class _Position:
    name: str
    labels: dict[int, Any]  # token -> the value the Optuna parameter takes
    distribution: CategoricalDistribution


def _choice(value: Any) -> Any:
    """A value Optuna's categorical distribution can hold (others as their text)."""
    return value if isinstance(value, _CHOICE_TYPES) else str(value)


def positions_of(study: Study) -> list[_Position]:
    """One Optuna parameter per token position of the study's space (built from its registry
    entry, without data), checked to be usable: distinct names, distinct labels."""
    from seminas.registry import space_entry

    space_name = (study.config.get("evaluator") or {}).get("space")
    try:
        space = space_entry(str(space_name)).make_space()
    except SeminasError as exc:
        raise SeminasError(
            f"study {study.location} was searched in space {space_name!r}, which cannot be "
            f"built here ({exc}): install the package that provides it"
        ) from None
    out: list[_Position] = []
    for name, labels in space.position_labels():
        labels = {int(t): _choice(v) for t, v in labels.items()}
        choices = tuple(labels[t] for t in sorted(labels))
        if not choices or len(set(map(repr, choices))) != len(choices):
            raise SeminasError(
                f"space {space_name!r} labels the tokens of position {name!r} ambiguously "
                f"({choices!r}): its position_labels() must give each token its own value"
            )
        out.append(_Position(str(name), labels, CategoricalDistribution(choices)))
    names = [p.name for p in out]
    if len(set(names)) != len(names):
        raise SeminasError(f"space {space_name!r} names two token positions alike: {names}")
    return out


# -- the Optuna storage ---------------------------------------------------------------------------
def optuna_url(url: str) -> tuple[str, str]:
    """``(URL for SQLAlchemy, URL to show)``: ``postgresql://`` and ``postgres://`` go through
    psycopg 3 (the driver ``seminas[postgres]`` installs); the shown URL hides a password. A
    text that is no URL, or whose database has no driver here, is refused."""
    import sqlalchemy as sa
    from sqlalchemy import exc as sa_exc

    text = str(url).strip()
    try:
        parsed = sa.make_url(text)
    except sa_exc.ArgumentError:
        hint = f"; for an SQLite file write sqlite:///{text}" if "://" not in text else ""
        raise SeminasError(
            f"--optuna {text!r} is not a storage URL such as sqlite:///optuna.db or "
            f"postgresql://USER@HOST/DATABASE{hint}"
        ) from None
    shown = parsed.render_as_string(hide_password=True) if parsed.password else text
    driver = parsed.drivername
    if driver.split("+", 1)[0] == "postgres":
        driver = "postgresql" + driver[len("postgres") :]
    if driver == "postgresql":
        driver = "postgresql+psycopg"
    parsed = parsed.set(drivername=driver)
    if driver.startswith("postgresql") and "study" in parsed.query:
        raise SeminasError(
            f"--optuna {shown}: study= names a seminas study in a database URL; give the "
            f"database alone and the Optuna study with --optuna-study NAME"
        )
    try:
        parsed.get_dialect()
    except sa_exc.NoSuchModuleError:
        raise SeminasError(
            f"--optuna {shown}: no database driver for {driver}:// here; Optuna storages are "
            f"SQLAlchemy URLs such as sqlite:///optuna.db or postgresql://USER@HOST/DATABASE"
        ) from None
    except ImportError as exc:
        raise SeminasError(f"--optuna {shown}: its driver is not installed ({exc})") from None
    return parsed.render_as_string(hide_password=False), shown


def _sqlite_path(url: str) -> Path | None:
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _application_id(path: Path) -> int | None:
    """The SQLite header's application id (None: no database), read through SQLite, which
    keeps a file's descriptor open while another connection of this process holds locks on it
    (a plain open() and close() would drop those locks)."""
    base = f"file:{quote(str(path.resolve()))}?mode=ro"
    for uri in (base, base + "&immutable=1"):  # the second where its WAL index cannot be made
        try:
            conn = sqlite3.connect(uri, uri=True)
            try:
                return int(conn.execute("PRAGMA application_id").fetchone()[0])
            finally:
                conn.close()
        except sqlite3.Error:
            continue
    return None  # no database: Optuna says why it cannot open it


def _refuse_seminas_file(url: str, shown: str, study: Study) -> None:
    """Optuna would add its tables to a seminas study file (both have a ``trials`` table):
    refuse the study's own file and any other seminas study."""
    path = _sqlite_path(url)
    if path is None or not path.exists():
        return
    own = Path(study.location)
    same = own.exists() and os.path.samefile(path, own)  # stat only: never opens the study
    if not same:
        same = _application_id(path) == APPLICATION_ID
    if same:
        raise SeminasError(
            f"--optuna {shown} is a seminas study file, not an Optuna storage: write the Optuna "
            f"study into a file of its own, e.g. sqlite:///{path.with_suffix('')}-optuna.db"
        )


def _reason(exc: BaseException) -> str:
    """The first line of a database error, without SQLAlchemy's class prefix and links."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (text[0] if text else exc.__class__.__name__)[:300]


def open_optuna_storage(url: str, shown: str) -> RDBStorage:
    """Optuna's RDB storage at ``url`` (tables created on first use), or one line why not."""
    try:
        return RDBStorage(url)
    except Exception as exc:  # unreachable server, refused login, a file that is no database
        raise SeminasError(f"cannot open Optuna storage {shown}: {_reason(exc)}") from None


# -- the mirror -----------------------------------------------------------------------------------
class OptunaMirror:
    """An Optuna study that mirrors one seminas study: :meth:`sync` writes the queries that
    finished since the last call. Open it once, sync as often as wanted, :meth:`close` it."""

    def __init__(self, study: Study, url: str, study_name: str | None = None) -> None:
        self.url, self.shown = optuna_url(url)
        _refuse_seminas_file(self.url, self.shown, study)
        self.identity = study_identity(study)
        self.positions = positions_of(study)
        self.study_name = study_name or default_study_name(study)
        if not self.study_name.strip():
            raise SeminasError("the Optuna study name must not be empty")
        metrics = (study.info.get("metrics") or {}) if isinstance(study.info, dict) else {}
        self._storage = open_optuna_storage(self.url, self.shown)
        try:
            self.optuna_study = self._open(metrics.get("search"))
            self.known = self._stored_queries()
        except BaseException:
            self.close()
            raise

    def _open(self, metric_name: str | None) -> optuna.Study:
        try:
            ostudy = optuna.create_study(
                storage=self._storage,
                study_name=self.study_name,
                direction="maximize",
                load_if_exists=True,
            )
        except Exception as exc:
            raise SeminasError(
                f"cannot create Optuna study {self.study_name!r} in {self.shown}: {_reason(exc)}"
            ) from None
        where = f"Optuna study {self.study_name!r} in {self.shown}"
        fix = "choose another name with --optuna-study NAME"
        mirrored = ostudy.user_attrs.get(STUDY_ATTR)
        if mirrored is None:
            count = len(ostudy.get_trials(deepcopy=False))
            if count:  # an empty one may be ours, interrupted before its attributes were set
                raise SeminasError(
                    f"{where} holds {count} trial{'' if count == 1 else 's'} that no seminas "
                    f"export wrote: {fix}"
                )
        elif not isinstance(mirrored, dict) or mirrored.get("config_sha256") != (
            self.identity["config_sha256"]
        ):
            other = mirrored.get("location") if isinstance(mirrored, dict) else None
            strategy = mirrored.get("strategy") if isinstance(mirrored, dict) else None
            raise SeminasError(
                f"{where} mirrors another seminas study ({other or 'unknown'}, strategy "
                f"{strategy or 'unknown'}), not {self.identity['location']}: {fix}"
            )
        if ostudy.direction != StudyDirection.MAXIMIZE:
            raise SeminasError(f"{where} minimises, and seminas maximises its metric: {fix}")
        if mirrored is None:
            ostudy.set_user_attr(STUDY_ATTR, self.identity)
            if metric_name:
                with warnings.catch_warnings():  # set_metric_names is marked experimental
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    ostudy.set_metric_names([str(metric_name)])
        return ostudy

    def _stored_queries(self) -> set[int]:
        out = set()
        for trial in self.optuna_study.get_trials(deepcopy=False):
            number = trial.system_attrs.get(QUERY_ATTR)
            if isinstance(number, int):
                out.add(number)
        return out

    def trial_of(self, row: TrialRow) -> FrozenTrial:
        """The Optuna trial of one finished query (see the module docstring)."""
        if len(row.encoding) != len(self.positions):
            raise SeminasError(
                f"query {row.number + 1} of study {self.identity['location']} has "
                f"{len(row.encoding)} tokens, its space {len(self.positions)} positions"
            )
        params, distributions = {}, {}
        for pos, token in zip(self.positions, row.encoding, strict=True):
            if int(token) not in pos.labels:
                raise SeminasError(
                    f"query {row.number + 1} of study {self.identity['location']} holds token "
                    f"{token} at position {pos.name!r}, which its space does not allow there"
                )
            params[pos.name] = pos.labels[int(token)]
            distributions[pos.name] = pos.distribution
        user_attrs: dict[str, Any] = {
            "query": row.number + 1,
            "arch_id": row.arch_id,
            "arch": row.arch,
            "iteration": row.iteration,
        }
        for key in ("report_metric", "predicted", "cost_seconds", "params"):
            value = getattr(row, key)
            if value is not None:
                user_attrs[key] = value
        value = None if row.search_metric is None else float(row.search_metric)
        state = TrialState.COMPLETE
        if row.status != "done" or value is None or not math.isfinite(value):
            state, value = TrialState.FAIL, None
            user_attrs["error"] = row.error or "no finite search metric"
        start = row.started if row.started is not None else row.created
        end = row.finished if row.finished is not None else start
        now = time.time()
        return FrozenTrial(
            number=0,  # Optuna numbers the trials it adds
            state=state,
            value=value,
            datetime_start=datetime.fromtimestamp(now if start is None else start),
            datetime_complete=datetime.fromtimestamp(now if end is None else end),
            params=params,
            distributions=distributions,
            user_attrs=user_attrs,
            system_attrs={QUERY_ATTR: row.number},
            intermediate_values={},
            trial_id=0,
        )

    def sync(self, study: Study) -> ExportResult:
        """Write the study's queries that finished and are not in the Optuna study yet."""
        rows = study.storage.trials()
        finished = [r for r in rows if r.status == "done" or r.gave_up]
        new = [r for r in finished if r.number not in self.known]
        added = failed = 0
        for row in new:
            trial = self.trial_of(row)
            try:
                self.optuna_study.add_trial(trial)
            except Exception as exc:  # the storage went away, a parameter of another kind...
                raise SeminasError(
                    f"cannot add query {row.number + 1} to Optuna study {self.study_name!r} in "
                    f"{self.shown} ({added} added before it): {_reason(exc)}"
                ) from None
            self.known.add(row.number)
            added += 1
            failed += trial.state == TrialState.FAIL
        return ExportResult(
            storage=self.shown,
            study_name=self.study_name,
            added=added,
            existing=len(finished) - len(new),
            unfinished=len(rows) - len(finished),
            failed=failed,
        )

    def close(self) -> None:
        """Release the storage's connections."""
        storage = getattr(self, "_storage", None)
        if storage is not None:
            storage.engine.dispose()
            self._storage = None

    def __enter__(self) -> OptunaMirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- one export, and a live mirror ----------------------------------------------------------------
def export_to_optuna(
    study: Study, storage_url: str, study_name: str | None = None
) -> ExportResult:
    """Write the finished queries of ``study`` into the Optuna storage at ``storage_url`` (an
    SQLAlchemy URL: ``sqlite:///optuna.db``, ``postgresql://USER@HOST/DATABASE``) as the Optuna
    study ``study_name`` (default: the seminas study's name), adding only what is missing; then
    ``optuna-dashboard URL`` shows it. Raises :class:`SeminasError` in one line for a URL that
    does not work, or an Optuna study of that name that mirrors another seminas study."""
    with OptunaMirror(study, storage_url, study_name) as mirror:
        return mirror.sync(study)


def _is_over(study: Study) -> bool:
    """Complete, or stopped before its budget because evaluations kept failing."""
    return study.complete() or bool(study.storage.get_state("stopped"))


def follow(
    location: str,
    storage_url: str,
    study_name: str | None = None,
    interval: float = DEFAULT_INTERVAL,
    on_sync: Callable[[ExportResult, Study], None] | None = None,
    open_study: Callable[[str], Study] | None = None,
) -> ExportResult:
    """Mirror the study at ``location`` into Optuna every ``interval`` seconds while its search
    runs, until the study is complete (or stopped); returns the passes' totals. The study is
    opened afresh for each pass (read-only), so a snapshot is never mistaken for the live file.
    ``on_sync`` sees each pass; Ctrl-C (``KeyboardInterrupt``) stops between two trials, and
    what was added stays (a later export continues)."""
    if not interval > 0:
        raise SeminasError(f"the interval must be a number of seconds > 0, got {interval}")
    opener = open_study or (lambda where: Study.open(where, read_only=True))
    study = opener(location)
    try:
        mirror = OptunaMirror(study, storage_url, study_name)
    except BaseException:
        study.close()
        raise
    added = failed = 0
    existing: int | None = None
    try:
        while True:
            over = _is_over(study)  # read before the pass: nothing finishes after "complete"
            result = mirror.sync(study)
            existing = result.existing if existing is None else existing
            added, failed = added + result.added, failed + result.failed
            if on_sync is not None:
                on_sync(result, study)
            if over:
                return ExportResult(
                    mirror.shown, mirror.study_name, added, existing, result.unfinished, failed
                )
            study.close()
            study = None  # type: ignore[assignment]
            time.sleep(interval)
            study = opener(location)
    finally:
        mirror.close()
        if study is not None:
            study.close()


def exported_queries(trials: Iterable[FrozenTrial]) -> dict[int, FrozenTrial]:
    """The Optuna trials an export wrote, by their query's number in the seminas study."""
    return {
        t.system_attrs[QUERY_ATTR]: t
        for t in trials
        if isinstance(t.system_attrs.get(QUERY_ATTR), int)
    }


__all__ = [
    "DEFAULT_INTERVAL",
    "QUERY_ATTR",
    "STUDY_ATTR",
    "ExportResult",
    "OptunaMirror",
    "default_study_name",
    "export_to_optuna",
    "exported_queries",
    "follow",
    "optuna_url",
    "positions_of",
    "study_identity",
]
