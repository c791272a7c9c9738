"""What the eSCL tests share: a private SANE configuration (so no test depends on the host's
/etc/sane.d), scanimage through sane-airscan or the sane-backends escl backend, the eSCL
requests as a client sends them, and reading the images back."""

from __future__ import annotations

import http.client
import os
import ssl
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from tests.conftest import Mfpd

NS = {
    "scan": "http://schemas.hp.com/imaging/escl/2011/05/03",
    "pwg": "http://www.pwg.org/schemas/2010/12/sm",
}
WAIT = 120.0
# Region in 1/300 inch (escl:ThreeHundredthsOfInches): A4.
A4 = (2480, 3508)


def sane_config(directory: Path, url: str) -> dict[str, str]:
    """SANE_CONFIG_DIR with both eSCL backends, sane-airscan told of the one device at `url`
    (…/eSCL) with its discovery off: the environment for scanimage."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "dll.conf").write_text("airscan\nescl\n")
    (directory / "airscan.conf").write_text(
        f'[devices]\n"mfpd" = {url}, eSCL\n[options]\ndiscovery = disable\n'
    )
    # The escl backend finds devices over avahi unless told; -d names ours directly.
    (directory / "escl.conf").write_text("")
    return {**os.environ, "SANE_CONFIG_DIR": str(directory)}


def airscan(url: str) -> str:
    return f"airscan:escl:mfpd:{url}"


def escl_backend(base: str) -> str:
    """The sane-backends escl backend's device name: it adds /eSCL itself."""
    return f"escl:{base}"


def scanimage(
    env: dict[str, str], device: str, out: Path, *options: str, batch: bool = False
) -> subprocess.CompletedProcess[str]:
    """One scanimage run (PNG out); with `batch`, every page of a feeder job as out-N.png."""
    target = [f"--batch={out.parent / (out.stem + '-%d.png')}"] if batch else ["-o", str(out)]
    return subprocess.run(
        ["scanimage", "-d", device, "--format=png", *target, *options],
        capture_output=True, text=True, timeout=WAIT, env=env,
    )  # fmt: skip


def pages(out: Path) -> list[Path]:
    found = out.parent.glob(out.stem + "-*.png")
    return sorted(found, key=lambda p: int(p.stem.rsplit("-", 1)[1]))


def image(path: Path) -> Image.Image:
    with Image.open(path) as img:
        img.load()
        return img.copy()


def is_gray(img: Image.Image) -> bool:
    """Gray whatever the container: L, or RGB whose three channels agree everywhere."""
    if img.mode in ("L", "1", "LA"):
        return True
    r, g, b = img.convert("RGB").split()
    return r.tobytes() == g.tobytes() == b.tobytes()


def chart_checked(img: Image.Image, dpi: int, region: tuple[int, int], mode: str) -> int:
    """The test chart's marks, grey ramp and colour patches where the imaging pipeline's table
    (documents/scan_pipeline.py MARKS, GRAY_RAMP, COLOR_PATCHES, pixel_box) puts them in a
    scan at `dpi` whose region starts at `region` (1/300 inch): the geometry checked from the
    chart itself, not the file size. `mode` is Color, Gray or Lineart. Answers how many
    patches it checked (0 while the pipeline has no table)."""
    from mfpd.device.scan_settings import Region, ScanSettings
    from mfpd.documents import scan_pipeline

    marks = getattr(scan_pipeline, "MARKS", None)
    if marks is None:
        return 0
    settings = ScanSettings(resolution=dpi, region=Region(region[0], region[1], 1, 1))
    gray = img.convert("L")
    rgb = img.convert("RGB")
    checked = 0

    def center(patch: Any) -> tuple[int, int] | None:
        left, top, right, bottom = scan_pipeline.pixel_box(patch, settings)
        x, y = (left + right) // 2, (top + bottom) // 2
        inside = left >= 0 and top >= 0 and right <= img.width and bottom <= img.height
        return (x, y) if inside else None

    for patch in marks:
        if (at := center(patch)) is not None:
            assert gray.getpixel(at) < 64, (patch.name, at, gray.getpixel(at))
            checked += 1
    if mode != "Lineart":
        for patch in scan_pipeline.GRAY_RAMP:
            if (at := center(patch)) is not None:
                value = gray.getpixel(at)
                assert isinstance(value, int) and abs(value - patch.gray) <= 12, (patch.name, value)
                checked += 1
    if mode == "Color":
        for patch in scan_pipeline.COLOR_PATCHES:
            if (at := center(patch)) is not None:
                got = rgb.getpixel(at)
                assert isinstance(got, tuple)
                assert all(abs(a - b) <= 20 for a, b in zip(got, patch.rgb, strict=True)), (
                    patch.name, got, patch.rgb,
                )  # fmt: skip
                checked += 1
    # Every scan the tests make holds the first mark at least.
    assert checked, "no patch of the chart lies in this scan"
    return checked


def upright(img: Image.Image) -> Image.Image:
    """A page the escl backend decoded from PNG, the right way up: its PNG reader (sane-backends
    1.2.1 escl_png.c) fills its rows from the bottom, so it hands on the image upside down
    (the same bytes through sane-airscan, and its own PDF path, are the right way up)."""
    return img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)


def pixels(units: int, dpi: int) -> int:
    """An extent in 1/300 inch at `dpi`, as ScanSettings.pixel_size rounds it."""
    return max(1, round(units * dpi / 300))


def load_feeder(daemon: Mfpd, *, empty_first: bool = True) -> int:
    """10 test-chart sheets into the feeder, as the operator would (the fault command: the
    feeder emptied first, unless told not to); answers how many the feeder holds."""
    if empty_first:
        daemon.cli("fault", "feeder-empty")
    out = daemon.cli("fault", "feeder-empty", "--clear").stdout
    return int(out.split("holds")[1].split()[0]) if "holds" in out else -1


# -- eSCL as a client sends it ---------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def xml(self) -> ET.Element:
        return ET.fromstring(self.body)


class Escl:
    """eSCL requests over one keep-alive connection (http.client, as curl would send
    them); `secure` for the https listener (its certificate is self-signed)."""

    def __init__(
        self, port: int, *, secure: bool = False, host: str = "127.0.0.1", source: str = ""
    ) -> None:
        self.port = port
        self.host = host
        self.secure = secure
        self.source = (source, 0) if source else None
        self.conn: http.client.HTTPConnection | None = None

    @property
    def base(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.host}:{self.port}"

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            if self.secure:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                self.conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=WAIT, context=context,
                    source_address=self.source,
                )  # fmt: skip
            else:
                self.conn = http.client.HTTPConnection(
                    self.host, self.port, timeout=WAIT, source_address=self.source
                )
        return self.conn

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=headers or {})
                response = conn.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException):
                # The server closed the kept-alive connection (after a 413, say): once more.
                self.close()
                if attempt == 2:
                    raise
                continue
            answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
            if answer.headers.get("connection", "").lower() == "close":
                self.close()
            return answer
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def capabilities(self) -> ET.Element:
        answer = self.request("GET", "/eSCL/ScannerCapabilities")
        assert answer.status == 200, answer
        return answer.xml()

    def status(self) -> ET.Element:
        answer = self.request("GET", "/eSCL/ScannerStatus")
        assert answer.status == 200, answer
        return answer.xml()

    def job_info(self, uuid: str) -> ET.Element | None:
        for info in self.status().iterfind("scan:Jobs/scan:JobInfo", NS):
            if info.findtext("pwg:JobUuid", namespaces=NS) == uuid:
                return info
        return None

    def create(self, settings: bytes, headers: dict[str, str] | None = None) -> Answer:
        return self.request(
            "POST", "/eSCL/ScanJobs", settings, {"Content-Type": "text/xml", **(headers or {})}
        )

    def next_document(self, uuid: str) -> Answer:
        return self.request("GET", f"/eSCL/ScanJobs/{uuid}/NextDocument")

    def fetch_all(self, uuid: str, limit: int = 200) -> list[Answer]:
        """Every image of the job, as a client polls for them (503: ask again)."""
        images: list[Answer] = []
        for _ in range(limit * 60):
            answer = self.next_document(uuid)
            if answer.status == 200:
                images.append(answer)
                if len(images) >= limit:
                    break
            elif answer.status == 503:
                time.sleep(float(answer.headers.get("retry-after", "1")) / 10)
            else:
                assert answer.status == 404, answer
                break
        return images


def settings_xml(
    *,
    source: str = "Platen",
    mode: str = "RGB24",
    dpi: int = 75,
    mime: str = "image/jpeg",
    region: tuple[int, int, int, int] = (0, 0, *A4),
    duplex: bool | None = None,
    extra: str = "",
) -> bytes:
    x, y, width, height = region
    duplex_element = "" if duplex is None else f"<scan:Duplex>{str(duplex).lower()}</scan:Duplex>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<scan:ScanSettings xmlns:scan="{NS["scan"]}" xmlns:pwg="{NS["pwg"]}">'
        "<pwg:Version>2.63</pwg:Version><pwg:ScanRegions><pwg:ScanRegion>"
        "<pwg:ContentRegionUnits>escl:ThreeHundredthsOfInches</pwg:ContentRegionUnits>"
        f"<pwg:XOffset>{x}</pwg:XOffset><pwg:YOffset>{y}</pwg:YOffset>"
        f"<pwg:Width>{width}</pwg:Width><pwg:Height>{height}</pwg:Height>"
        "</pwg:ScanRegion></pwg:ScanRegions>"
        f"<pwg:InputSource>{source}</pwg:InputSource><scan:ColorMode>{mode}</scan:ColorMode>"
        f"<scan:XResolution>{dpi}</scan:XResolution><scan:YResolution>{dpi}</scan:YResolution>"
        f"<pwg:DocumentFormat>{mime}</pwg:DocumentFormat>{duplex_element}{extra}"
        "</scan:ScanSettings>"
    ).encode()


def uuid_of(answer: Answer) -> str:
    assert answer.status == 201, answer
    return answer.headers["location"].rstrip("/").rsplit("/", 1)[1]


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")
