"""The conformance sequence (tests/conformance.py) against one daemon: ipptool's files one
after another over ipp://, ipps:// on 631 and ipps:// on 443, each transport's run on the
history and the queue the previous ones left. The per-file tests in test_ipp*.py start a
fresh daemon each."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests import conformance
from tests.conftest import ROOT, Mfpd, need

# 0.1 s a page, not instant: Print-Job answers while its job is still pending or printing, so
# ipp-1.1's Get-Jobs and Get-Job-Attributes tests that an instant printer skips
# (PRINT_JOB_COMPLETED) run, and they list jobs queued behind ipp-everywhere's, pages not yet
# counted. At 55 ppm the queues would take minutes to drain.
ENGINE = """
[engine]
speed_ppm = 600
speed_ppm_color = 600
"""


# 49 ipptool runs of 0-7 s each; a hang is cut at 60 s and ends its transport's run.
@pytest.mark.timeout(600)
def test_the_conformance_sequence_passes_on_one_daemon(
    mfpd_factory: Callable[..., Mfpd],
) -> None:
    need("ipptool", "gs")
    directory = conformance.prepare_directory(ROOT / ".cache" / "ipptool")
    mfpd = mfpd_factory(ENGINE + conformance.CONFIG)
    runs = conformance.run_sequence(mfpd.ports, directory)
    summary = conformance.report(runs)
    print(summary)
    assert conformance.passed(runs), summary
    assert "Traceback" not in mfpd.log.read_text()
