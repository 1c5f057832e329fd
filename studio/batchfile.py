"""Job lists for ``studio-cli batch JOBS.toml``: read, check and expand to CLI arguments.

A job file is TOML (read with the stdlib ``tomllib``)::

    [defaults]              # optional; merged into every job (a job's own keys win)
    device = "auto"

    [[job]]
    workbench = "sem"       # the studio-cli subcommand: sem, unmix, selfcheck, seg, audio, ...
    action = "train"        # its sub-command, when it has one
    name = "CNN_5"          # optional label for the summary
    repeat = 10             # optional: run it 10 times; "{repeat}" in a value becomes 0..9
    sample = true           # every other key is a command-line option: true → --sample,
    iters = 300             # false → left out, a list → --flag a b, key_name → --key-name,
                            # a list of lists → the option repeated: [[a, b], [c, d]] → --flag a b --flag c d
    seed = "{repeat}"
    out = "runs/sem-cnn5-{repeat}"
    argv = ["img1.png"]     # optional: positional arguments, appended as given

Each job becomes the argument list of one ``studio-cli`` command, so a batch runs
exactly the handlers (and job functions) of the interactive commands and every
training is recorded in the run registry like any other.  See docs/batch.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESERVED = ("workbench", "action", "name", "repeat", "argv")


class JobFileError(ValueError):
    """The job file cannot be used; the message names the file and the job."""


@dataclass
class BatchJob:
    index: int  # position in the expanded list, from 1
    label: str
    argv: list[str] = field(default_factory=list)


def _option(key: str, value: Any, where: str) -> list[str]:
    flag = "--" + key.replace("_", "-")
    if isinstance(value, bool):
        return [flag] if value else []
    if isinstance(value, (int, float, str)):
        return [flag, str(value)]
    def scalars(values) -> bool:
        return isinstance(values, list) and all(isinstance(v, (int, float, str)) and not isinstance(v, bool)
                                                for v in values)

    if scalars(value):
        return [flag, *map(str, value)] if value else []
    if isinstance(value, list) and value and all(scalars(v) and v for v in value):  # a repeated option
        return [arg for v in value for arg in (flag, *map(str, v))]
    raise JobFileError(f"{where}: option {key!r} must be a string, number, true/false, a list of those or a "
                       f"list of such lists (a repeated option), not {value!r}")


def _substitute(value: Any, repeat: int, where: str) -> Any:
    if isinstance(value, str):
        try:
            return value.format(repeat=repeat)
        except (KeyError, IndexError, ValueError) as exc:
            raise JobFileError(f"{where}: cannot fill in {value!r} (only {{repeat}} is known): {exc}") from None
    if isinstance(value, list):
        return [_substitute(v, repeat, where) for v in value]
    return value


def expand_jobs(data: dict[str, Any], source: str = "job file") -> list[BatchJob]:
    """The commands of a parsed job file, repeats expanded, in file order."""
    unknown = set(data) - {"job", "defaults"}
    if unknown:
        raise JobFileError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
                           "use [defaults] and [[job]] tables")
    defaults = data.get("defaults", {})
    jobs = data.get("job")
    if not isinstance(defaults, dict):
        raise JobFileError(f"{source}: [defaults] must be a table")
    if not isinstance(jobs, list) or not jobs:
        raise JobFileError(f"{source}: no jobs; add at least one [[job]] table")
    out: list[BatchJob] = []
    for number, table in enumerate(jobs, start=1):
        where = f"{source}: job {number}"
        if not isinstance(table, dict):
            raise JobFileError(f"{where}: must be a table")
        spec = {**defaults, **table}
        workbench = spec.get("workbench")
        if not isinstance(workbench, str) or not workbench:
            raise JobFileError(f"{where}: give workbench = \"sem\" (or another studio-cli command)")
        if workbench == "batch":
            raise JobFileError(f"{where}: a batch cannot run another batch")
        action = spec.get("action")
        if action is not None and not isinstance(action, str):
            raise JobFileError(f"{where}: action must be a string")
        repeat = spec.get("repeat", 1)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
            raise JobFileError(f"{where}: repeat must be a whole number of at least 1, not {repeat!r}")
        positional = spec.get("argv", [])
        if not isinstance(positional, list):
            raise JobFileError(f"{where}: argv must be a list of positional arguments")
        name = str(spec.get("name") or " ".join(p for p in (workbench, action) if p))
        for r in range(repeat):
            argv = [workbench] + ([action] if action else [])
            for key, value in spec.items():
                if key not in RESERVED:
                    argv += _option(key, _substitute(value, r, where), where)
            argv += [str(v) for v in _substitute(positional, r, where)]
            label = name if repeat == 1 else f"{name} #{r}"
            out.append(BatchJob(index=len(out) + 1, label=_substitute(label, r, where), argv=argv))
    return out


def read_job_file(path: str | Path) -> list[BatchJob]:
    """Parse and expand ``path``; :class:`JobFileError` names the file and the problem."""
    import tomllib

    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JobFileError(f"{p}: no such job file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise JobFileError(f"{p}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise JobFileError(f"{p}: not valid TOML ({exc})") from None
    return expand_jobs(data, str(p))
