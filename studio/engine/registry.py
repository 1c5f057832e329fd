"""Run registry: every training or evaluation run, its config and its metric series.

SQLite through the stdlib ``sqlite3`` module in WAL mode, so the GUI can read while
a worker thread (or a ``studio-cli`` process) writes.  It lives in
``studio_home()``: ``$STUDIO_HOME`` when set, otherwise the platform's user data
folder (platformdirs).

Recovery rules:
- A run still ``running`` whose owning process is gone (pid + host stored in the
  row) is marked ``interrupted`` when the registry is opened.  A run owned by a live
  process (another Studio window, a CLI job) is left alone.
- A database file SQLite cannot read is renamed to ``runs.corrupt-<time>.sqlite``
  (kept, never deleted), ``recovery_message`` says so, and a new database starts.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

SCHEMA_VERSION = 1
ACTIVE_STATUSES = ("queued", "running")
FINAL_STATUSES = ("completed", "failed", "cancelled", "interrupted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workbench TEXT NOT NULL,
    model TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    device TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    final_metrics TEXT NOT NULL DEFAULT '{}',
    checkpoint TEXT,
    message TEXT NOT NULL DEFAULT '',
    run_dir TEXT NOT NULL DEFAULT '',
    parent_id INTEGER,
    pid INTEGER,
    host TEXT
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    step INTEGER NOT NULL,
    epoch REAL,
    wall REAL NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_run_name ON metrics(run_id, name, step);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


def studio_home() -> Path:
    """The folder for the registry, runs and caches (``$STUDIO_HOME`` wins)."""
    env = os.environ.get("STUDIO_HOME")
    if env:
        path = Path(env).expanduser()
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("inspection-studio", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class RunRecord:
    """One row of the registry.  ``dir`` is where the run's checkpoints and artifacts go."""

    id: int
    workbench: str
    model: str
    name: str
    config: dict[str, Any]
    status: str
    device: str
    created: float
    started: float | None
    finished: float | None
    final_metrics: dict[str, Any]
    checkpoint: str | None
    message: str
    dir: Path
    parent_id: int | None = None
    pid: int | None = None
    host: str | None = None
    registry: "RunRegistry | None" = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        return f"#{self.id} {self.workbench}/{self.model}" + (f" {self.name}" if self.name else "")

    def checkpoint_path(self, name: str = "model") -> Path:
        """Where the job should save its checkpoint (``dir/name``, suffixes added by the writer)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        return self.dir / name

    def set_checkpoint(self, path: str | os.PathLike) -> None:
        self.checkpoint = str(path)
        if self.registry is not None:
            self.registry.update(self.id, checkpoint=str(path))

    def duration(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class RunRegistry:
    """Thread-safe access to the runs database (one connection, one lock)."""

    FILENAME = "runs.sqlite"

    def __init__(self, home: str | os.PathLike | None = None):
        self.home = Path(home) if home is not None else studio_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.path = self.home / self.FILENAME
        self.runs_dir = self.home / "runs"
        self.recovery_message = ""
        self.interrupted_ids: list[int] = []
        self._lock = threading.RLock()
        self._conn = self._open()
        self.interrupted_ids = self._mark_interrupted()

    # ----------------------------------------------------------------- opening
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        ok = conn.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            conn.close()
            raise sqlite3.DatabaseError(ok)
        conn.executescript(_SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            kept = self._move_aside()
            self.recovery_message = (
                f"The run history {self.path} could not be read ({exc}). It was kept as {kept.name} "
                "and a new, empty history was started."
            )
            return self._connect()

    def _move_aside(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"runs.corrupt-{stamp}.sqlite")
        n = 1
        while target.exists():
            target = self.path.with_name(f"runs.corrupt-{stamp}-{n}.sqlite")
            n += 1
        os.replace(self.path, target)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.replace(side, target.with_name(target.name + suffix))
        return target

    def _mark_interrupted(self) -> list[int]:
        host = socket.gethostname()
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, pid, host FROM runs WHERE status IN ('queued', 'running')"
            ).fetchall()
            dead = [r["id"] for r in rows if r["host"] != host or not _pid_alive(r["pid"])]
            for run_id in dead:
                self._conn.execute(
                    "UPDATE runs SET status='interrupted', finished=COALESCE(finished, ?), "
                    "message=CASE WHEN message='' THEN 'the process running it ended before it finished' ELSE message END "
                    "WHERE id=?",
                    (time.time(), run_id),
                )
        return dead

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------- runs
    def create_run(
        self,
        workbench: str,
        model: str,
        config: dict[str, Any] | None = None,
        *,
        name: str = "",
        device: str = "",
        parent_id: int | None = None,
        status: str = "queued",
        run_dir: str | os.PathLike | None = None,
    ) -> RunRecord:
        """A new run; its folder is ``runs/NNNNN`` unless ``run_dir`` names one (``--out``)."""
        now = time.time()
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO runs(workbench, model, name, config, status, device, created, parent_id, pid, host) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                (workbench, model, name, json.dumps(config or {}, default=str), status, device, now,
                 parent_id, os.getpid(), socket.gethostname()),
            )
            run_id = int(cur.lastrowid)
            folder = Path(run_dir).expanduser().resolve() if run_dir else self.runs_dir / f"{run_id:05d}"
            self._conn.execute("UPDATE runs SET run_dir=? WHERE id=?", (str(folder), run_id))
        return self.get(run_id)

    def update(self, run_id: int, **fields: Any) -> None:
        allowed = {"status", "device", "started", "finished", "final_metrics", "checkpoint", "message", "name", "config"}
        bad = set(fields) - allowed
        if bad:
            raise KeyError(f"cannot update {sorted(bad)}")
        cols, vals = [], []
        for key, value in fields.items():
            if key in ("final_metrics", "config"):
                value = json.dumps(value, default=_json_default)
            cols.append(f"{key}=?")
            vals.append(value)
        if not cols:
            return
        with self._lock:
            self._conn.execute(f"UPDATE runs SET {', '.join(cols)} WHERE id=?", (*vals, run_id))

    def mark_started(self, run_id: int, device: str) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE runs SET status='running', started=?, device=?, pid=?, host=? WHERE id=?",
                (time.time(), device, os.getpid(), socket.gethostname(), run_id),
            )

    def mark_finished(self, run_id: int, status: str, *, message: str = "",
                      final_metrics: dict[str, Any] | None = None) -> None:
        if status not in FINAL_STATUSES:
            raise ValueError(f"not a final status: {status}")
        fields: dict[str, Any] = {"status": status, "finished": time.time(), "message": message}
        if final_metrics is not None:
            fields["final_metrics"] = final_metrics
        self.update(run_id, **fields)

    def get(self, run_id: int) -> RunRecord:
        with self._lock:
            row = self._conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run #{run_id} in {self.path}")
        return self._record(row)

    def list_runs(self, workbench: str | None = None, limit: int | None = None) -> list[RunRecord]:
        sql = "SELECT * FROM runs"
        args: list[Any] = []
        if workbench:
            sql += " WHERE workbench=?"
            args.append(workbench)
        sql += " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [self._record(r) for r in rows]

    def delete_run(self, run_id: int, *, delete_files: bool = False) -> None:
        record = self.get(run_id)
        with self._lock:
            self._conn.execute("DELETE FROM metrics WHERE run_id=?", (run_id,))
            self._conn.execute("DELETE FROM runs WHERE id=?", (run_id,))
        if delete_files and record.dir.is_dir() and self.runs_dir in record.dir.parents:
            shutil.rmtree(record.dir, ignore_errors=True)

    def _record(self, row: sqlite3.Row) -> RunRecord:
        return RunRecord(
            id=row["id"], workbench=row["workbench"], model=row["model"], name=row["name"],
            config=json.loads(row["config"] or "{}"), status=row["status"], device=row["device"],
            created=row["created"], started=row["started"], finished=row["finished"],
            final_metrics=json.loads(row["final_metrics"] or "{}"), checkpoint=row["checkpoint"],
            message=row["message"], dir=Path(row["run_dir"]), parent_id=row["parent_id"],
            pid=row["pid"], host=row["host"], registry=self,
        )

    # ---------------------------------------------------------------- metrics
    def add_metrics(self, run_id: int, points: Iterable[tuple[str, int, float | None, float, float]]) -> None:
        """Append ``(name, step, epoch, wall, value)`` points in one transaction."""
        rows = [(run_id, n, int(s), e, float(w), float(v)) for n, s, e, w, v in points]
        if not rows:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(
                    "INSERT INTO metrics(run_id, name, step, epoch, wall, value) VALUES (?,?,?,?,?,?)", rows
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def metric_names(self, run_id: int) -> list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT name FROM metrics WHERE run_id=? ORDER BY name", (run_id,)
            ).fetchall()
        return [r[0] for r in rows]

    def metric_series(self, run_id: int, name: str) -> dict[str, list]:
        """``{"step": [...], "epoch": [...], "wall": [...], "value": [...]}`` ordered by step."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT step, epoch, wall, value FROM metrics WHERE run_id=? AND name=? ORDER BY step, rowid",
                (run_id, name),
            ).fetchall()
        return {
            "step": [r[0] for r in rows], "epoch": [r[1] for r in rows],
            "wall": [r[2] for r in rows], "value": [r[3] for r in rows],
        }

    def export_metrics_csv(self, run_id: int, target: str | os.PathLike | io.TextIOBase) -> int:
        """Write every metric point of a run as CSV (``metric,step,epoch,wall_s,value``); returns rows."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, step, epoch, wall, value FROM metrics WHERE run_id=? ORDER BY name, step, rowid",
                (run_id,),
            ).fetchall()

        def write(fh) -> None:
            w = csv.writer(fh)
            w.writerow(["metric", "step", "epoch", "wall_s", "value"])
            for r in rows:
                w.writerow([r[0], r[1], "" if r[2] is None else r[2], f"{r[3]:.3f}", repr(r[4])])

        if isinstance(target, io.TextIOBase):
            write(target)
        else:
            with open(target, "w", newline="", encoding="utf-8") as fh:
                write(fh)
        return len(rows)


def _json_default(obj: Any) -> Any:
    try:
        return float(obj)
    except (TypeError, ValueError):
        return str(obj)
