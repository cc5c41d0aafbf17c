"""The conformance report: text for people, JUnit XML for CI. Neither shows a secret, nor a value
that must differ between two services (only its format)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from xml.etree import ElementTree

from mocksrv.conform.compare import Difference
from mocksrv.conform.plan import Result


def distinct(results: Iterable[Result]) -> dict[Difference, list[str]]:
    """Each distinct difference and the steps it was seen in (a renamed field shows in every
    answer that has it: one difference)."""
    out: dict[Difference, list[str]] = {}
    for result in results:
        for diff in result.differences:
            out.setdefault(diff, []).append(f"{result.plan}: {result.step}")
    return out


def exit_status(results: list[Result]) -> int:
    """2 if a step could not be run, 1 if anything differs, else 0."""
    if any(r.error for r in results):
        return 2
    return 1 if any(r.differences for r in results) else 0


def text(results: list[Result], header: list[str]) -> str:
    lines = list(header)
    plans = list(dict.fromkeys(r.plan for r in results))
    for plan in plans:
        mine = [r for r in results if r.plan == plan]
        lines.append("")
        lines.append(f"{plan}: {len(mine)} steps, {_count(mine)} with differences")
        for r in mine:
            if r.error:
                lines.append(f"  ERROR {r.step}: {r.error}")
            elif r.note:
                lines.append(f"  NOTE  {r.step}: {r.note}")
            for diff in r.differences:
                lines.append(f"  DIFF  {r.step}: {diff.text()}")
    found = distinct(results)
    lines.append("")
    if found:
        lines.append(f"{len(found)} distinct difference(s):")
        for diff, steps in found.items():
            lines.append(f"  {diff.text()}  [{len(steps)} step(s)]")
    errors = sum(1 for r in results if r.error)
    lines.append(
        f"mocksrv conform: {len(found)} difference(s) in {_count(results)} of {len(results)} step(s)"
        + (f", {errors} step(s) not run" if errors else "")
    )
    return "\n".join(lines)


def _count(results: list[Result]) -> int:
    return sum(1 for r in results if r.differences)


def junit(results: list[Result], path: Path) -> None:
    """One test suite per plan, one test case per step: a failure lists its differences, an
    error says why the step could not run, a note (the target made no report) is skipped."""
    suites = ElementTree.Element("testsuites", name="mocksrv conform")
    for plan in dict.fromkeys(r.plan for r in results):
        mine = [r for r in results if r.plan == plan]
        suite = ElementTree.SubElement(
            suites, "testsuite", name=plan, tests=str(len(mine)),
            failures=str(sum(1 for r in mine if r.differences)),
            errors=str(sum(1 for r in mine if r.error)),
            skipped=str(sum(1 for r in mine if r.note and not r.error)),
            time=f"{sum(r.seconds for r in mine):.3f}",
        )  # fmt: skip
        for r in mine:
            case = ElementTree.SubElement(
                suite, "testcase", classname=f"conform.{plan}", name=r.step, time=f"{r.seconds:.3f}"
            )
            if r.error:
                ElementTree.SubElement(case, "error", message=r.error).text = r.error
            elif r.differences:
                body = "\n".join(d.text() for d in r.differences)
                message = f"{len(r.differences)} difference(s)"
                ElementTree.SubElement(
                    case, "failure", message=message, type="difference"
                ).text = body
            elif r.note:
                ElementTree.SubElement(case, "skipped", message=r.note)
    path.parent.mkdir(parents=True, exist_ok=True)
    ElementTree.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
