"""The bundled scenario library: the scenario files installed with the package, by name.

In a source checkout they are the top-level `scenarios/` folder; an installed wheel carries the same
files as the data package `mocksrv.bundled` (pyproject maps one onto the other).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def bundled_dir() -> Path:
    """Where the bundled scenarios are: the installed data package, else the checkout's folder."""
    installed = _PACKAGE / "bundled"
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / "scenarios"


def _purpose(path: Path) -> str:
    """The first sentence of the file's leading comment, without its `name:` prefix."""
    words: list[str] = []
    for line in path.read_text("utf-8").splitlines():
        if not line.startswith("#"):
            break
        words.append(line.lstrip("#").strip())
    text = " ".join(w for w in words if w)
    if text.startswith(f"{path.stem}: "):
        text = text[len(path.stem) + 2 :]
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


@lru_cache(maxsize=1)
def _scan(folder: str) -> dict[str, tuple[Path, str]]:
    found = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        found[path.stem] = (path, _purpose(path))
    return found


def bundled() -> dict[str, tuple[Path, str]]:
    """Bundled scenarios: name -> (file, one-line purpose), in name order."""
    return dict(_scan(str(bundled_dir())))


def is_name(text: str) -> bool:
    """A bare name (no folder, no .yaml) of a bundled scenario."""
    return text in bundled()


def resolve(name_or_path: str) -> str:
    """A bundled scenario's file for its name; anything else is returned as given.

    An existing file or directory wins over a bundled name, so `--scenario default` in a folder
    holding a `default/` directory loads that directory.
    """
    if Path(name_or_path).exists():
        return name_or_path
    hit = bundled().get(name_or_path)
    return str(hit[0]) if hit else name_or_path


def unknown_message(name_or_path: str) -> str:
    """Why `name_or_path` is neither a file nor a bundled scenario, with the names there are
    (and the closest one, for a misspelt name)."""
    import difflib

    names = ", ".join(bundled()) or "none"
    close = difflib.get_close_matches(Path(name_or_path).name, list(bundled()), n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]!r}?" if close and "/" not in name_or_path else ""
    return f"no such file, and no bundled scenario of that name{hint} (bundled: {names})"
