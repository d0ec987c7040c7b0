"""What a HEIF photo's boxes say it will cost to decode, read before any of it is decoded, and whether it is put
together as cameras put theirs.

A HEIC or AVIF photo is an item (the primary one), coded, or a grid of coded tiles, with an optional alpha plane
(itself coded or a grid). Each tile is a coded picture that the decoder decodes whole, however little of it the grid
shows: a 58 KB file shown at 100 x 100 pixels decoded 961 tiles of 8192 x 8192 and held its decoding for a minute, and
files whose boxes said less than their pictures held (a second `pitm` or `ipma`, parameter sets inside a tile's data,
a thousand pictures in one item, alpha planes of tiles) did the same past a first count. So `inspect` reads the boxes
as libheif does and refuses (`Inspection.odd`) what cameras never write: a box of `meta` or `iprp` twice, more `infe`
boxes than `iinf` counts, an item type other than a coded picture, a grid, metadata or a gain map (an overlay, an
identity, a mask: libheif 1.20.2 overflows a mask's plane), a grid of grids, an alpha of an alpha, a coded item whose
data carries its own HEVC parameter sets or more than one picture or frame, data outside the file. What is left
decodes the pixels `Inspection.coded` counts: each coded item's size as its decoder configuration and its data state
it (an item's `ispe` only where they state none), alpha planes included. `Inspection.crops` tells an AVIF whose
primary picture carries a clean aperture (`clap`), which Pillow's AVIF reader would not apply. Box layouts: ISO/IEC
14496-12 (meta, iinf, iloc, iref, iprp) and 23008-12 (HEIF).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from inference.frame_headers import av1_obus, av1_sizes, hvcc_sizes
from inference.movie_index import child_boxes

CODED_TYPES = frozenset({b"hvc1", b"av01"})
GRID = b"grid"
NEVER_DECODED_TYPES = frozenset({b"Exif", b"mime", b"tmap"})  # metadata, XMP, a gain map (not read by the app)
ONCE_IN_META = (b"pitm", b"iinf", b"iloc", b"iref", b"iprp", b"idat")
ALPHA_TYPES = (b"urn:mpeg:hevc:2015:auxid:1", b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha")
HEVC_PARAMETER_SETS = frozenset({32, 33, 34})  # VPS, SPS, PPS
AV1_FRAME_OBUS = frozenset({3, 6})  # a frame header, a frame


@dataclass
class Items:
    """A HEIF file's items: each one's type, its references by kind, its properties' boxes and where its data is;
    `odd` names what in the boxes no camera writes."""

    primary: int = 0
    types: dict[int, bytes] = field(default_factory=dict)
    references: dict[bytes, dict[int, list[int]]] = field(default_factory=dict)
    properties: dict[int, list[tuple[bytes, memoryview]]] = field(default_factory=dict)
    extents: dict[int, tuple[int, list[tuple[int, int]]]] = field(default_factory=dict)  # method, (offset, length)
    idat: memoryview = memoryview(b"")  # the data of items whose construction method is 1
    odd: list[str] = field(default_factory=list)

    def property_of(self, item: int, kind: bytes) -> memoryview | None:
        return next((payload for found, payload in self.properties.get(item, []) if found == kind), None)

    def inputs(self, item: int) -> list[int]:
        return self.references.get(b"dimg", {}).get(item, [])


@dataclass(frozen=True)
class Inspection:
    """What a HEIF file would cost to decode: the pixels decoded for its primary picture and alpha, whether it crops
    its primary picture, and what in it no camera writes (None where nothing)."""

    coded: int
    crops: bool
    odd: str | None


def inspect(data: bytes) -> Inspection:
    """The file's boxes read (`read_items`) and its primary picture's decoding weighed (`_Decoding`); boxes cut
    short, where a field runs past its box, are odd."""
    try:
        items = read_items(data)
        coded = _Decoding(items, memoryview(data)).pixels()
    except (IndexError, ValueError, KeyError):
        return Inspection(0, False, "boxes cut short")
    crops = items.property_of(items.primary, b"clap") is not None
    return Inspection(coded, crops, "; ".join(items.odd) or None)


def read_items(data: bytes) -> Items:
    """The items the file's top-level `meta` box describes (an empty Items, odd, where it has none)."""
    items = Items()
    meta = next((payload for kind, payload in child_boxes(memoryview(data)) if kind == b"meta"), None)
    if meta is None:
        items.odd.append("no meta box")
        return items
    parts = list(child_boxes(meta[4:]))  # a full box: version and flags first
    counts = Counter(kind for kind, _ in parts)
    items.odd.extend(f"{kind.decode(errors='replace')} twice" for kind in ONCE_IN_META if counts[kind] > 1)
    items.idat = next((payload for kind, payload in parts if kind == b"idat"), memoryview(b""))
    for kind, payload in parts:
        if kind in READERS:
            READERS[kind](items, payload)
    return items


def _id(payload: memoryview, offset: int, wide: bool) -> tuple[int, int]:
    """An item id of 2 bytes, or 4 when `wide`, at `offset`; and the offset after it."""
    size = 4 if wide else 2
    return int.from_bytes(payload[offset:offset + size], "big"), offset + size


def _read_primary(items: Items, payload: memoryview) -> None:
    items.primary = _id(payload, 4, payload[0] > 0)[0] if len(payload) >= 6 else 0


def _read_infos(items: Items, payload: memoryview) -> None:
    """`iinf`: its `infe` boxes (versions 2 and 3 name the item's type), as many as it counts."""
    count_size = 2 if payload[0] == 0 else 4
    count = int.from_bytes(payload[4:4 + count_size], "big")
    entries = list(child_boxes(payload[4 + count_size:]))
    if len(entries) != count:
        items.odd.append("infe boxes not as many as counted")
    for kind, entry in entries[:count]:
        if kind == b"infe" and len(entry) >= 4 and entry[0] >= 2:
            item, offset = _id(entry, 4, entry[0] > 2)
            items.types[item] = bytes(entry[offset + 2:offset + 6])


def _read_references(items: Items, payload: memoryview) -> None:
    """`iref`: each reference box's source item and the items it refers to."""
    wide = payload[0] > 0
    for kind, reference in child_boxes(payload[4:]):
        source, offset = _id(reference, 0, wide)
        count, offset = int.from_bytes(reference[offset:offset + 2], "big"), offset + 2
        targets = items.references.setdefault(kind, {}).setdefault(source, [])
        if offset + count * (4 if wide else 2) > len(reference):
            raise ValueError("iref cut short")
        for _ in range(count):
            target, offset = _id(reference, offset, wide)
            targets.append(target)


def _read_properties(items: Items, payload: memoryview) -> None:
    """`iprp`: the properties of its one `ipco`, given to items by its one `ipma` (indices from 1)."""
    boxes = list(child_boxes(payload))
    counts = Counter(kind for kind, _ in boxes)
    if counts[b"ipco"] != 1 or counts[b"ipma"] != 1:
        items.odd.append("not one ipco and one ipma")
        return
    parts = dict(boxes)
    listed = list(child_boxes(parts[b"ipco"]))
    associations = parts[b"ipma"]
    if len(associations) < 8:
        return
    wide_ids, wide_indices = associations[0] > 0, bool(associations[3] & 1)
    offset, count = 8, int.from_bytes(associations[4:8], "big")
    for _ in range(count):
        if offset >= len(associations):  # a count past the entries there are (2^32 of them took hours to count)
            raise ValueError("ipma cut short")
        item, offset = _id(associations, offset, wide_ids)
        given = associations[offset] if offset < len(associations) else 0
        offset += 1
        if item in items.properties:
            items.odd.append("an item associated twice")
        if offset + given * (2 if wide_indices else 1) > len(associations):
            raise ValueError("ipma cut short")
        for _ in range(given):
            index, offset = _property_index(associations, offset, wide_indices)
            if 0 < index <= len(listed):
                items.properties.setdefault(item, []).append(listed[index - 1])


def _property_index(payload: memoryview, offset: int, wide: bool) -> tuple[int, int]:
    """One association's property index (without its "essential" bit) and the offset after it."""
    size = 2 if wide else 1
    value = int.from_bytes(payload[offset:offset + size], "big")
    return value & ((1 << (8 * size - 1)) - 1), offset + size


def _read_locations(items: Items, payload: memoryview) -> None:
    """`iloc`: each item's extents (offset, length), in the file itself (construction method 0) or in `idat` (1);
    another method is odd."""
    version, offset = payload[0], 6
    offset_size, length_size, base_size = payload[4] >> 4, payload[4] & 15, payload[5] >> 4
    index_size = payload[5] & 15 if version in (1, 2) else 0

    def number(size: int) -> int:
        nonlocal offset
        value = int.from_bytes(payload[offset:offset + size], "big")
        offset += size
        return value

    for _ in range(number(4 if version == 2 else 2)):
        if offset >= len(payload):  # a count past the entries there are
            raise ValueError("iloc cut short")
        item = number(4 if version == 2 else 2)
        method = number(2) & 15 if version in (1, 2) else 0
        number(2)  # data reference index
        base = number(base_size)
        extents = []
        for _ in range(number(2)):
            if offset >= len(payload):
                raise ValueError("iloc cut short")
            number(index_size)
            extents.append((base + number(offset_size), number(length_size)))
        if method not in (0, 1):
            items.odd.append("data outside the file")
        items.extents[item] = (method, extents)


READERS = {b"pitm": _read_primary, b"iinf": _read_infos, b"iref": _read_references, b"iprp": _read_properties,
           b"iloc": _read_locations}


class _Decoding:
    """The items decoded to make the primary picture: it (coded, or a grid of coded tiles) and the alpha planes of
    each (coded, or grids of coded tiles); each coded item's pixels as its configuration and its data state them.
    What no camera writes is added to the items' `odd`."""

    def __init__(self, items: Items, data: memoryview) -> None:
        self.items, self.data = items, data

    def pixels(self) -> int:
        """The pixels decoded, counted once for each time a grid refers to a tile."""
        for kind in set(self.items.types.values()) - CODED_TYPES - NEVER_DECODED_TYPES - {GRID}:
            self.items.odd.append(f"an item of type {kind.decode(errors='replace')!r}")
        pictures = self._picture(self.items.primary)
        masters = dict.fromkeys([self.items.primary, *pictures])  # the picture, and each of its tiles
        alphas = [alpha for master in masters for alpha in self._alphas_of(master)]
        if any(self._alphas_of(alpha) for alpha in alphas):
            self.items.odd.append("an alpha plane of an alpha plane")
        coded = pictures + [tile for alpha in alphas for tile in self._picture(alpha)]
        return sum(self._coded_size(item) for item in coded)

    def _picture(self, item: int) -> list[int]:
        """The coded items decoded to make `item`: itself, or a grid's tiles."""
        kind = self.items.types.get(item)
        if kind in CODED_TYPES:
            return [item]
        if kind == GRID and all(self.items.types.get(tile) in CODED_TYPES for tile in self.items.inputs(item)):
            return list(self.items.inputs(item))
        self.items.odd.append("a picture that is neither coded nor a grid of coded tiles")
        return []

    def _alphas_of(self, item: int) -> list[int]:
        """The alpha planes whose master is `item`."""
        return [source for source, masters in self.items.references.get(b"auxl", {}).items()
                if item in masters and self._is_alpha(source)]

    def _is_alpha(self, item: int) -> bool:
        auxiliary = self.items.property_of(item, b"auxC")
        return auxiliary is not None and bytes(auxiliary[4:]).split(b"\0", 1)[0] in ALPHA_TYPES

    def _coded_size(self, item: int) -> int:
        """The pixels of one coded item: the largest its configuration or its data states (else its `ispe`); its data
        checked for parameter sets of its own and for more than one picture."""
        content = self._content(item)
        if self.items.types[item] == b"hvc1":
            configuration = self.items.property_of(item, b"hvcC")
            sizes = list(hvcc_sizes(configuration)) if configuration is not None else []
            self._check_hevc(content, configuration)
        else:
            configuration = self.items.property_of(item, b"av1C")
            sizes = list(av1_sizes(configuration)) if configuration is not None else []
            sizes += list(av1_sizes(content))
            self._check_av1(content)
        if sizes:
            return max(width * height for width, height in sizes)
        spatial = self.items.property_of(item, b"ispe")
        if spatial is None or len(spatial) < 12:
            return 0
        return int.from_bytes(spatial[4:8], "big") * int.from_bytes(spatial[8:12], "big")

    def _content(self, item: int) -> memoryview:
        """The item's data, its extents joined (those running past their source's end are odd)."""
        method, extents = self.items.extents.get(item, (0, []))
        source = self.items.idat if method == 1 else self.data
        parts = []
        for start, length in extents:
            if start + length > len(source):
                self.items.odd.append("data past the file's end")
                return memoryview(b"")
            parts.append(source[start:start + length])
        return memoryview(b"".join(parts))

    def _check_hevc(self, content: memoryview, configuration: memoryview | None) -> None:
        length_size = (configuration[21] & 3) + 1 if configuration is not None and len(configuration) > 21 else 4
        pictures = 0
        for unit in _length_prefixed(content, length_size):
            kind = (unit[0] >> 1) & 0x3F if len(unit) >= 3 else -1
            if kind in HEVC_PARAMETER_SETS:
                self.items.odd.append("HEVC parameter sets in an item's data")
            pictures += 0 <= kind < 32 and unit[2] >> 7  # a slice that starts a picture
        if pictures > 1:
            self.items.odd.append("more than one picture in an item")

    def _check_av1(self, content: memoryview) -> None:
        if sum(kind in AV1_FRAME_OBUS for kind, _ in av1_obus(content)) > 1:
            self.items.odd.append("more than one frame in an item")


def _length_prefixed(content: memoryview, length_size: int) -> Iterator[memoryview]:
    offset = 0
    while offset + length_size <= len(content):
        length = int.from_bytes(content[offset:offset + length_size], "big")
        offset += length_size
        yield content[offset:offset + length]
        offset += length
