"""eSCL proven with Debian's SANE clients (issue 15, tests): scanimage through sane-airscan
(`airscan:escl:…`) and through the sane-backends escl backend (`escl:…`), from the glass and
from the feeder, simplex and duplex, at 75, 300 and 600 dpi in each colour mode and format
the client offers; over HTTPS; a feeder jam in the middle of a job; two clients at once.

What each client can do decides the matrix: sane-airscan 0.99.27 offers Color and Gray and
always asks for PNG when the scanner offers it; the escl backend (sane-backends 1.2.1) asks
for PDF on the platen (decoded with poppler, so it also offers Lineart there) and PNG from the
feeder, where it decodes RGB PNG only: a Gray feeder scan through it fails in the client
("Out of memory", its escl_png.c refuses a grayscale PNG), so the feeder runs through it in
Color; and that PNG reader turns the page upside down (escl_clients.upright).

The pages are checked against the test chart's own geometry (documents/scan_pipeline.py
MARKS, GRAY_RAMP, COLOR_PATCHES at pixel_box), not only their pixel size.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import FAST_CONFIG, Mfpd, need
from tests.integration.escl_clients import (
    NS,
    Escl,
    airscan,
    chart_checked,
    escl_backend,
    image,
    is_gray,
    load_feeder,
    pages,
    pixels,
    sane_config,
    scanimage,
    settings_xml,
    upright,
    uuid_of,
    wait_until,
)

pytestmark = pytest.mark.integration

# The whole glass, as both clients scan when given no region (1/300 inch).
GLASS = (3508, 5100)


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mfpd]:
    need("scanimage")
    # One job held at a time (the second client's POST is 503 while the first job lives).
    config = FAST_CONFIG + "\n[scan]\nmax_jobs = 1\n"
    daemon = Mfpd(tmp_path_factory.mktemp("escl") / "state", config).start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def env(device: Mfpd, tmp_path: Path) -> dict[str, str]:
    return sane_config(tmp_path / "sane", f"http://127.0.0.1:{device.port('http')}/eSCL")


def http_url(device: Mfpd) -> str:
    return f"http://127.0.0.1:{device.port('http')}/eSCL"


ENDED = ("Completed", "Canceled", "Aborted")


def idle(device: Mfpd) -> None:
    """The scanner idle and every job ended (the last client done), so the next test starts
    clean."""
    client = Escl(device.port("http"))

    def quiet() -> bool:
        status = client.status()
        states = [
            i.findtext("pwg:JobState", namespaces=NS)
            for i in status.iterfind("scan:Jobs/scan:JobInfo", NS)
        ]
        return status.findtext("pwg:State", namespaces=NS) == "Idle" and all(
            s in ENDED for s in states
        )

    wait_until(quiet, "the scanner idle")
    client.close()


def mm_units(mm: float) -> int:
    return round(mm / 25.4 * 300)


@pytest.mark.parametrize(
    ("dpi", "mode", "region_mm"),
    [(75, "Color", None), (300, "Gray", None), (300, "Color", (100, 60)), (600, "Gray", (80, 50))],
)
def test_airscan_from_the_glass(
    device: Mfpd, env: dict[str, str], tmp_path: Path, dpi: int, mode: str,
    region_mm: tuple[int, int] | None,
) -> None:  # fmt: skip
    out = tmp_path / "glass.png"
    geometry = ["-x", str(region_mm[0]), "-y", str(region_mm[1])] if region_mm else []
    done = scanimage(
        env, airscan(http_url(device)), out, "--resolution", str(dpi), "--mode", mode, *geometry
    )
    assert done.returncode == 0, done.stderr
    img = image(out)
    units = (mm_units(region_mm[0]), mm_units(region_mm[1])) if region_mm else GLASS
    expected = (pixels(units[0], dpi), pixels(units[1], dpi))
    # sane-airscan converts millimetres to 1/300 inch itself: a pixel of rounding either way.
    assert abs(img.size[0] - expected[0]) <= 2 and abs(img.size[1] - expected[1]) <= 2, (
        img.size, expected,
    )  # fmt: skip
    # sane-airscan hands on the colour mode the device sent: 8-bit grey or RGB.
    assert img.mode == ("L" if mode == "Gray" else "RGB")
    chart_checked(img, dpi, (0, 0), mode)
    idle(device)


@pytest.mark.parametrize(("source", "count"), [("ADF", 10), ("ADF Duplex", 20)])
def test_airscan_from_the_feeder(
    device: Mfpd, env: dict[str, str], tmp_path: Path, source: str, count: int
) -> None:
    assert load_feeder(device) == 10
    out = tmp_path / "feeder.png"
    done = scanimage(
        env, airscan(http_url(device)), out, "--source", source, "--resolution", "150",
        "--mode", "Gray", batch=True,
    )  # fmt: skip
    # The batch ends when the feeder is empty: scanimage says so and exits 0 or 7 (no docs).
    assert done.returncode in (0, 7), done.stderr
    assert "out of documents" in done.stderr.lower() or done.returncode == 0
    found = pages(out)
    assert len(found) == count, done.stderr
    for path in found:
        img = image(path)
        assert img.size == (pixels(GLASS[0], 150), pixels(GLASS[1], 150))
        assert img.mode == "L"
        chart_checked(img, 150, (0, 0), "Gray")
    assert Escl(device.port("http")).status().findtext("scan:AdfState", namespaces=NS) == (
        "ScannerAdfEmpty"
    )
    idle(device)


@pytest.mark.parametrize(("dpi", "mode"), [(75, "Lineart"), (300, "Gray"), (150, "Color")])
def test_escl_backend_from_the_glass(
    device: Mfpd, env: dict[str, str], tmp_path: Path, dpi: int, mode: str
) -> None:
    out = tmp_path / "glass.png"
    done = scanimage(
        env, escl_backend(f"http://127.0.0.1:{device.port('http')}"), out,
        "--resolution", str(dpi), "--mode", mode, "-x", "100", "-y", "100",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    img = image(out)
    side = pixels(mm_units(100), dpi)
    assert abs(img.size[0] - side) <= 2 and abs(img.size[1] - side) <= 2, (img.size, side)
    # The escl backend hands on RGB whatever it asked for: grey is three equal channels.
    assert img.mode == "RGB"
    if mode != "Color":
        assert is_gray(img)
    chart_checked(img, dpi, (0, 0), mode)
    if mode == "Lineart":
        histogram = img.convert("L").histogram()
        assert sum(histogram[1:255]) == 0 and histogram[0] and histogram[255]
    idle(device)


def test_escl_backend_from_the_feeder_duplex(
    device: Mfpd, env: dict[str, str], tmp_path: Path
) -> None:
    assert load_feeder(device) == 10
    out = tmp_path / "feeder.png"
    done = scanimage(
        env, escl_backend(f"http://127.0.0.1:{device.port('http')}"), out,
        "--source", "ADF Duplex", "--resolution", "75", "--mode", "Color", batch=True,
    )  # fmt: skip
    found = pages(out)
    assert len(found) == 20, done.stderr
    for path in found:
        img = image(path)
        assert img.mode == "RGB"
        assert img.size == (pixels(GLASS[0], 75), pixels(GLASS[1], 75))
        chart_checked(upright(img), 75, (0, 0), "Color")
    idle(device)


def test_airscan_over_https(device: Mfpd, tmp_path: Path) -> None:
    url = f"https://127.0.0.1:{device.port('https')}/eSCL"
    env = sane_config(tmp_path / "sane", url)
    out = tmp_path / "secure.png"
    done = scanimage(env, airscan(url), out, "--resolution", "75", "--mode", "Gray")
    assert done.returncode == 0, done.stderr
    img = image(out)
    assert img.size == (pixels(GLASS[0], 75), pixels(GLASS[1], 75)) and img.mode == "L"
    chart_checked(img, 75, (0, 0), "Gray")
    idle(device)


def test_a_feeder_jam_mid_job(device: Mfpd, env: dict[str, str], tmp_path: Path) -> None:
    """The operator's `mfpd fault feeder-jam` while scanimage pulls pages: the client says
    the feeder jammed, ScannerStatus shows the job Aborted and AdfState ScannerAdfJam."""
    load_feeder(device)
    for _ in range(4):
        load_feeder(device, empty_first=False)
    client = Escl(device.port("http"))
    out = tmp_path / "jam.png"
    result: list[subprocess.CompletedProcess[str]] = []
    scan = threading.Thread(
        target=lambda: result.append(
            scanimage(
                env, airscan(http_url(device)), out, "--source", "ADF Duplex",
                "--resolution", "300", "--mode", "Color", batch=True,
            )
        )
    )  # fmt: skip
    scan.start()
    try:
        # Jam once the job has scanned its first image, long before its 100 images are done.
        def first_image() -> str:
            for info in client.status().iterfind("scan:Jobs/scan:JobInfo", NS):
                state = info.findtext("pwg:JobState", namespaces=NS)
                if state == "Processing" and int(
                    info.findtext("pwg:ImagesCompleted", namespaces=NS) or 0
                ):
                    return info.findtext("pwg:JobUuid", namespaces=NS) or ""
            return ""

        uuid = wait_until(first_image, "the first image")
        device.cli("fault", "feeder-jam")
    finally:
        scan.join(180)
    done = result[0]
    assert "jammed" in done.stderr.lower(), done.stderr
    assert 1 <= len(pages(out)) < 100
    info = client.job_info(uuid)
    assert info is not None
    assert info.findtext("pwg:JobState", namespaces=NS) == "Aborted"
    assert client.status().findtext("scan:AdfState", namespaces=NS) == "ScannerAdfJam"
    device.cli("fault", "feeder-jam", "--clear")
    device.cli("fault", "feeder-empty")
    idle(device)


def test_two_clients_at_once(device: Mfpd, env: dict[str, str], tmp_path: Path) -> None:
    """While sane-airscan pulls a feeder job, a second client's job is refused with 503 (the
    scanner is busy) and no image of one job reaches the other: the first client's pages all
    have its resolution and mode, the second's (once the scanner is free) its own."""
    assert load_feeder(device) == 10
    other = Escl(device.port("http"))
    out = tmp_path / "first.png"
    result: list[subprocess.CompletedProcess[str]] = []
    scan = threading.Thread(
        target=lambda: result.append(
            scanimage(
                env, airscan(http_url(device)), out, "--source", "ADF", "--resolution", "75",
                "--mode", "Gray", batch=True,
            )
        )
    )  # fmt: skip
    scan.start()
    refused = []
    try:
        wait_until(
            lambda: any(
                i.findtext("pwg:JobState", namespaces=NS) == "Processing"
                for i in other.status().iterfind("scan:Jobs/scan:JobInfo", NS)
            ),
            "the first job",
        )
        answer = other.create(settings_xml(mode="RGB24", dpi=150, mime="image/png"))
        refused.append(answer)
    finally:
        scan.join(180)
    assert refused[0].status == 503, refused[0]
    assert "retry-after" in refused[0].headers
    first = [image(p) for p in pages(out)]
    assert len(first) == 10
    assert all(img.size == (pixels(GLASS[0], 75), pixels(GLASS[1], 75)) for img in first)
    assert all(img.mode == "L" for img in first)
    idle(device)
    # Now the second client's job runs, and gets its own image only.
    uuid = uuid_of(other.create(settings_xml(mode="RGB24", dpi=150, mime="image/png")))
    images = other.fetch_all(uuid)
    assert len(images) == 1
    assert images[0].headers["content-type"].startswith("image/png")
    second = image_from(images[0].body, tmp_path / "second.png")
    assert second.size == (pixels(2480, 150), pixels(3508, 150)) and second.mode == "RGB"
    chart_checked(second, 150, (0, 0), "Color")


def image_from(data: bytes, path: Path) -> Image.Image:
    path.write_bytes(data)
    return image(path)
