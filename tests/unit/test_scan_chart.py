"""The scanner's test chart and the settings applied to it: pixel sizes, colour modes, the
marks where the chart's table puts them for several regions and resolutions, exact patch
colours, brightness/contrast, the label, and the blank-page test."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from mfpd.device.scan_settings import (
    PLATEN_MAX,
    RESOLUTIONS,
    ColorMode,
    Intent,
    Region,
    ScanSettings,
)
from mfpd.device.scanner import BLANK, CHART
from mfpd.documents.scan_chart import (
    COLOR_PATCHES,
    GRAY_RAMP,
    LABEL_BOX,
    MARKS,
    PageCache,
    Patch,
    pixel,
    pixel_box,
)
from mfpd.documents.scan_pipeline import ChartLabel, is_blank, scan_side

LABEL = ChartLabel("Xerox WorkCentre 7755", "WC7755-000042", 7, 1, "front", 1_796_000_000.0)

REGIONS = [
    Region(),  # A4 from the corner
    Region(150, 90, 1500, 1500),  # half an inch in: the first mark at 0.5 in x, 0.7 in y
    Region(2000, 2900, 450, 450),  # around the second mark only
    Region(333, 333, 2000, 3000),  # offsets that are not whole pixels at most resolutions
]


def _scan(region: Region, dpi: int, mode: ColorMode = ColorMode.GRAYSCALE) -> Image.Image:
    return scan_side(CHART, ScanSettings(resolution=dpi, color_mode=mode, region=region), LABEL)


def _inside(patch: Patch, s: ScanSettings, image: Image.Image) -> list[tuple[int, int]]:
    """Points well inside the patch (one pixel in from each edge) that the image shows."""
    left, top, right, bottom = pixel_box(patch, s)
    points = [
        (left + 1, top + 1),
        (right - 2, top + 1),
        (left + 1, bottom - 2),
        (right - 2, bottom - 2),
        ((left + right) // 2, (top + bottom) // 2),
    ]
    return [(x, y) for x, y in points if 0 <= x < image.width and 0 <= y < image.height]


@pytest.mark.parametrize("dpi", [75, 150, 300, 600])
@pytest.mark.parametrize("region", REGIONS, ids=str)
def test_marks_are_where_the_table_says(region: Region, dpi: int) -> None:
    s = ScanSettings(resolution=dpi, color_mode=ColorMode.GRAYSCALE, region=region)
    image = scan_side(CHART, s, LABEL)
    assert image.size == s.pixel_size()
    seen = 0
    for mark in MARKS:
        left, top, right, bottom = pixel_box(mark, s)
        # The formula of the contract: the square at u units is at round((u - x) * dpi / 300).
        assert left == round((mark.x - region.x) * dpi / 300)
        for point in _inside(mark, s, image):
            assert image.getpixel(point) == 0, (mark.name, point)
            seen += 1
        # Its edges, measured along the row and the column through its middle: white just
        # outside, black just inside, where the region shows them.
        row, column = (top + bottom) // 2, (left + right) // 2
        if 0 <= row < image.height:
            if 1 <= left < image.width:
                assert image.getpixel((left - 1, row)) == 255
                assert image.getpixel((left, row)) == 0
            if 0 < right < image.width:
                assert image.getpixel((right - 1, row)) == 0
                assert image.getpixel((right, row)) == 255
        if 0 <= column < image.width and 1 <= top < image.height:
            assert image.getpixel((column, top - 1)) == 255
            assert image.getpixel((column, top)) == 0
    assert seen, "every region here shows at least one mark"


def test_a_mark_is_half_an_inch_at_every_resolution() -> None:
    for dpi in RESOLUTIONS:
        s = ScanSettings(resolution=dpi, color_mode=ColorMode.GRAYSCALE)
        image = scan_side(CHART, s, LABEL)
        row = pixel(MARKS[0].y + MARKS[0].height // 2, 0, dpi)
        # The run of black through the first mark, from the first black pixel right of the
        # ruler band (the ruler's ticks end above this row).
        x = pixel(MARKS[0].x - 30, 0, dpi)  # a tenth of an inch before it
        while image.getpixel((x, row)) != 0:
            x += 1
        start = x
        while image.getpixel((x, row)) == 0:
            x += 1
        assert abs((x - start) - dpi / 2) <= 1, (dpi, x - start)
        assert abs(start - dpi) <= 1


def test_grey_ramp_and_colour_patches_have_exact_values() -> None:
    rgb = ScanSettings(resolution=150, color_mode=ColorMode.RGB)
    grey = ScanSettings(resolution=150, color_mode=ColorMode.GRAYSCALE)
    colour_image = scan_side(CHART, rgb, LABEL)
    grey_image = scan_side(CHART, grey, LABEL)
    assert [p.gray for p in GRAY_RAMP] == [255, 230, 204, 179, 153, 128, 102, 77, 51, 26, 0]
    for patch in (*GRAY_RAMP, *COLOR_PATCHES):
        for point in _inside(patch, rgb, colour_image):
            assert colour_image.getpixel(point) == patch.rgb, patch.name
        for point in _inside(patch, grey, grey_image):
            assert grey_image.getpixel(point) == patch.gray, patch.name


def test_colour_modes_give_pillow_modes() -> None:
    for mode in ColorMode:
        image = _scan(Region(), 75, mode)
        assert image.mode == mode.pil_mode


def test_black_and_white_thresholds_and_photo_dithers() -> None:
    text = ScanSettings(resolution=150, color_mode=ColorMode.BLACK_AND_WHITE)
    photo = text.with_changes(intent=Intent.PHOTO)
    thresholded = scan_side(CHART, text, LABEL).convert("L")
    dithered = scan_side(CHART, photo, LABEL).convert("L")
    half = GRAY_RAMP[5]  # 50 %: value 128, just on the white side of the threshold
    dark = GRAY_RAMP[6]  # 60 %
    for patch, expected in ((GRAY_RAMP[1], 255), (half, 255), (dark, 0), (GRAY_RAMP[10], 0)):
        for point in _inside(patch, text, thresholded):
            assert thresholded.getpixel(point) == expected, patch.name
    # Dithered, a mid grey is a mix: about as many black dots as its ink.
    box = pixel_box(GRAY_RAMP[3], photo)  # 30 % ink
    inner = dithered.crop((box[0] + 2, box[1] + 2, box[2] - 2, box[3] - 2))
    histogram = inner.histogram()
    black_share = histogram[0] / (inner.width * inner.height)
    assert 0.2 < black_share < 0.4, black_share


def test_brightness_and_contrast_move_the_patches() -> None:
    base = ScanSettings(resolution=75, color_mode=ColorMode.GRAYSCALE)
    patch = GRAY_RAMP[5]
    point = _inside(patch, base, scan_side(CHART, base, LABEL))[-1]

    def level(**changes: int) -> int:
        value = scan_side(CHART, base.with_changes(**changes), LABEL).getpixel(point)
        assert isinstance(value, int)
        return value

    assert level() == 128
    assert level(brightness=50) > 128 > level(brightness=-50)
    assert level(contrast=-100) == 128  # flat: everything mid-grey
    dark = GRAY_RAMP[8].gray  # 51
    dark_point = _inside(GRAY_RAMP[8], base, scan_side(CHART, base, LABEL))[-1]
    more = scan_side(CHART, base.with_changes(contrast=50), LABEL).getpixel(dark_point)
    assert isinstance(more, int) and more < dark


def test_the_label_is_per_image_and_nothing_else_changes() -> None:
    s = ScanSettings(resolution=150, color_mode=ColorMode.GRAYSCALE)
    first = scan_side(CHART, s, LABEL)
    second = scan_side(
        CHART,
        s,
        ChartLabel(LABEL.device, LABEL.serial, 8, 2, "back", LABEL.when + 61),
    )
    changed = ImageChops.difference(first, second).getbbox()
    assert changed is not None
    label = pixel_box(LABEL_BOX, s)
    assert label[0] <= changed[0] and label[1] <= changed[1]
    assert changed[2] <= label[2] and changed[3] <= label[3]
    # The cached page is not written on: the first image is unchanged by the second scan.
    again = scan_side(CHART, s, LABEL)
    assert ImageChops.difference(first, again).getbbox() is None


def test_label_text_is_in_its_box() -> None:
    s = ScanSettings(resolution=300, color_mode=ColorMode.GRAYSCALE)
    image = scan_side(CHART, s, LABEL)
    box = image.crop(pixel_box(LABEL_BOX, s))
    assert box.getextrema() == (0, 255)  # black text on white


def test_chart_is_never_blank_blank_sides_are() -> None:
    # A region on the chart's white middle: no ink, and still a chart.
    white = ScanSettings(
        resolution=75, color_mode=ColorMode.GRAYSCALE, region=Region(2400, 300, 300, 300)
    )
    image = scan_side(CHART, white, LABEL)
    assert image.getextrema() == (255, 255)
    assert not is_blank(image)
    for mode in ColorMode:
        s = ScanSettings(resolution=75, color_mode=mode)
        assert is_blank(scan_side(BLANK, s, LABEL))
        assert not is_blank(scan_side(CHART, s, LABEL))


def test_is_blank_counts_ink_not_faint_paper() -> None:
    page = Image.new("L", (1000, 1000), 240)  # greyish paper
    assert is_blank(page)
    page.paste(0, (0, 0, 40, 100))  # 0.4 % of the page
    assert is_blank(page)
    page.paste(0, (0, 0, 100, 100))  # 1 %
    assert not is_blank(page)
    colour = Image.new("RGB", (1000, 1000), (255, 255, 255))
    colour.paste((255, 255, 0), (0, 0, 200, 200))  # yellow: light luma, but ink
    assert not is_blank(colour)
    assert not is_blank(Image.new("L", (100, 100), 0))  # a black page is not blank


def test_the_whole_glass_and_a_tiny_region() -> None:
    whole = ScanSettings(resolution=75, color_mode=ColorMode.RGB, region=Region(0, 0, *PLATEN_MAX))
    assert scan_side(CHART, whole, LABEL).size == whole.pixel_size()
    tiny = ScanSettings(resolution=75, region=Region(1000, 1000, 1, 1))
    assert scan_side(CHART, tiny, LABEL).size == (1, 1)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    dpi=st.sampled_from(RESOLUTIONS),
    mode=st.sampled_from(list(ColorMode)),
    x=st.integers(0, PLATEN_MAX[0] - 1),
    y=st.integers(0, PLATEN_MAX[1] - 1),
    width=st.integers(1, 600),
    height=st.integers(1, 600),
    blank=st.booleans(),
    brightness=st.integers(-100, 100),
    contrast=st.integers(-100, 100),
    intent=st.sampled_from(list(Intent)),
)
def test_any_settings_give_their_pixel_size(
    dpi: int,
    mode: ColorMode,
    x: int,
    y: int,
    width: int,
    height: int,
    blank: bool,
    brightness: int,
    contrast: int,
    intent: Intent,
) -> None:
    region = Region(x, y, min(width, PLATEN_MAX[0] - x), min(height, PLATEN_MAX[1] - y))
    s = ScanSettings(
        resolution=dpi,
        color_mode=mode,
        region=region,
        brightness=brightness,
        contrast=contrast,
        intent=intent,
    ).checked()
    label = ChartLabel("d", "s", 1, 1, "front", time.time())
    image = scan_side(BLANK if blank else CHART, s, label)
    assert image.size == s.pixel_size()
    assert image.mode == mode.pil_mode


def test_worker_threads_get_the_same_pixels() -> None:
    # The runner scans in worker threads; the cached page and the shared fonts must not let
    # one thread's image leak into another's.
    s = ScanSettings(resolution=100, color_mode=ColorMode.RGB, region=Region(0, 0, 2480, 1800))
    labels = [ChartLabel("d", "s", 1, n, "front", LABEL.when) for n in range(1, 9)]
    alone = [scan_side(CHART, s, label) for label in labels]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda label: scan_side(CHART, s, label), labels * 2))
    for i, image in enumerate(together):
        assert ImageChops.difference(image, alone[i % 8]).getbbox() is None


def test_page_cache_is_bounded_and_hands_out_copies() -> None:
    made: list[int] = []

    def page(level: int) -> Image.Image:
        made.append(level)
        return Image.new("L", (100, 100), level)  # 10,000 bytes

    cache = PageCache(limit_bytes=25_000)
    first = cache.get("a", lambda: page(1))
    first.paste(0, (0, 0, 100, 100))  # a caller's label must not reach the cache
    assert cache.get("a", lambda: page(1)).getextrema() == (1, 1)
    cache.get("b", lambda: page(2))
    cache.get("c", lambda: page(3))  # three pages are over the limit: "a" goes
    cache.get("a", lambda: page(1))
    assert made == [1, 2, 3, 1]
    # Too large for the cache at all: drawn each time, never kept.
    cache.get("big", lambda: Image.new("L", (200, 200), 9))
    cache.get("big", lambda: Image.new("L", (200, 200), 9))
    cache.get("c", lambda: page(3))
    assert made == [1, 2, 3, 1]
