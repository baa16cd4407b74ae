"""Any CSV or Parquet table of ratings, its columns named in the config."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError
from .interactions import Interactions, _parser_message, _require_file, _require_text, from_raw


def load_table(path: str | Path, columns: dict, rating_scale=None, sep: str = ",") -> Interactions:
    """Any CSV or Parquet file; ``columns`` maps user/item/rating[/timestamp] to the file's names."""
    path = Path(path)
    _require_file(path)
    if path.suffix != ".parquet":
        _require_text(path)
    try:
        table = pd.read_parquet(path) if path.suffix == ".parquet" else _read_table_csv(path, sep)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise InputError(f"{path}: cannot be read ({_parser_message(error)})") from None
    wanted = {role: name for role, name in columns.items() if name}
    missing = [name for name in wanted.values() if name not in table.columns]
    if missing:
        hint = ""
        if table.shape[1] == 1:  # one field per line: the separator is probably not the file's
            found = [
                name
                for name, mark in (("tab", "\t"), ("';'", ";"), ("'|'", "|"), ("','", ","))
                if mark in str(table.columns[0]) and mark != sep
            ]
            hint = f"; the header is one field: is sep {sep!r} right?" + (
                f" (it looks {found[0]}-separated)" if found else ""
            )
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, table.columns))}{hint}"
        )
    raw = table[list(wanted.values())].rename(columns={name: role for role, name in wanted.items()})
    return from_raw(raw, str(path), rating_scale=rating_scale, first_line=None if path.suffix == ".parquet" else 2)


def _read_table_csv(path: Path, sep: str) -> pd.DataFrame:
    """A CSV with a header line, every field a string. Read without a header first, so that a
    row with more fields than the header is an error naming its line (pandas would otherwise
    take the extra leading fields as an index and shift every column of the table)."""
    cells = pd.read_csv(path, sep=sep, header=None, dtype=str)
    table = cells.iloc[1:].reset_index(drop=True)
    table.columns = [str(name) for name in cells.iloc[0]]
    return table


def from_spec(spec, cache_dir: str | Path) -> Interactions:
    """Load a ``table`` entry of ``datasets`` (a :class:`recinfluence.settings.Dataset`) from its
    ``path``; nothing is downloaded, so ``cache_dir`` is not used."""
    return load_table(spec.path, spec.columns, spec.rating_scale, spec.sep or ",")
