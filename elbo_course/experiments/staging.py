"""An experiment's outputs are committed as a unit: a killed run leaves the committed files as they were.

An experiment runs into ``DIR/.staging/NAME/`` (its checkpoints, its results JSON, its resume files), so the
committed ``DIR/NAME.json`` and ``DIR/checkpoints/NAME/*.pt`` are not touched while it trains; an interrupted
run resumes from the staging folder's resume files the next time. Only when the whole run has succeeded does
``commit`` move the new files into place, checkpoints first and the JSON last, after writing a journal and
keeping every replaced file in ``.staging/NAME/backup/``. A run killed during that last step (milliseconds)
is repaired by ``recover`` before the next run: if the new JSON is in place the commit is completed, otherwise
the old files are put back. Either way the JSON and its checkpoints agree.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from ..fileio import atomic_write

JOURNAL = "COMMITTING"


def staging_dir(out_dir: str | os.PathLike, name: str) -> Path:
    """DIR/.staging/NAME: where a run of experiment NAME writes until it is committed (git-ignored)."""
    return Path(out_dir) / ".staging" / name


def _new_files(stage: Path, name: str) -> list[Path]:
    """Paths relative to the stage of the files a commit moves: the checkpoints, then the results JSON."""
    checkpoints = sorted((stage / "checkpoints" / name).glob("*.pt")) if (stage / "checkpoints").is_dir() else []
    return [p.relative_to(stage) for p in checkpoints] + [Path(f"{name}.json")]


def commit(out_dir: str | os.PathLike, name: str) -> Path:
    """Move a finished run's files from the staging folder into ``out_dir``; return the results JSON's path."""
    out, stage = Path(out_dir), staging_dir(out_dir, name)
    files = _new_files(stage, name)
    if not (stage / files[-1]).is_file():
        raise FileNotFoundError(f"{stage / files[-1]} is missing: the run did not finish, nothing was committed.")
    atomic_write(stage / JOURNAL, json.dumps([f.as_posix() for f in files]))
    for rel in files:
        target, backup = out / rel, stage / "backup" / rel
        if target.exists():
            backup.parent.mkdir(parents=True, exist_ok=True)
            os.replace(target, backup)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / rel, target)
    shutil.rmtree(stage)
    return out / f"{name}.json"


def recover(out_dir: str | os.PathLike, name: str) -> str | None:
    """Repair a commit that was interrupted; return "completed", "rolled back" or None (nothing to do)."""
    out, stage = Path(out_dir), staging_dir(out_dir, name)
    journal = stage / JOURNAL
    if not journal.is_file():
        return None
    files = [Path(f) for f in json.loads(journal.read_text(encoding="utf-8"))]
    if not (stage / files[-1]).exists():  # the new JSON was moved last: every file is in place
        shutil.rmtree(stage)
        return "completed"
    for rel in files:  # put back what was replaced; drop what was added
        backup, target = stage / "backup" / rel, out / rel
        if backup.exists():
            os.replace(backup, target)
        elif target.exists() and not (stage / rel).exists():
            os.replace(target, stage / rel)
    journal.unlink()
    shutil.rmtree(stage / "backup", ignore_errors=True)
    return "rolled back"
