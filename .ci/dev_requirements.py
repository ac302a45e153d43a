"""Print the requirements of the project's `dev` extra, with self-references expanded.

pip cannot resolve `lambda-rie[test]` inside the project's own extras before the project is
built, so the Makefile installs these first and then builds the project without extras.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

SELF_REFERENCE = re.compile(r"^\s*lambda[-_]rie\s*\[([^\]]*)\]\s*$")


def expand(extras: dict[str, list[str]], name: str, seen: set[str]) -> list[str]:
    """The requirements of extra `name`, following `lambda-rie[...]` references once each."""
    if name in seen:
        return []
    seen.add(name)
    out: list[str] = []
    for requirement in extras[name]:
        match = SELF_REFERENCE.match(requirement)
        if match is None:
            out.append(requirement)
            continue
        for inner in match.group(1).split(","):
            out.extend(expand(extras, inner.strip(), seen))
    return out


def main() -> None:
    pyproject = tomllib.loads(Path(sys.argv[1]).read_text())
    project = pyproject["project"]
    extras = project.get("optional-dependencies", {})
    requirements = [*project.get("dependencies", []), *expand(extras, sys.argv[2], set())]
    print("\n".join(requirements))


if __name__ == "__main__":
    main()
