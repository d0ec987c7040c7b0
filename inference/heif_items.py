"""What a HEIF photo's boxes say it will cost to decode, read before any of it is decoded.

A HEIC or AVIF photo is an item (the primary one) that may be derived from others: a grid of tiles, an overlay, an
identity; each tile a coded picture that the decoder decodes whole, however little of it the grid shows, and as many
times as the grid, or a grid of grids, refers to it. So a 58 KB file shown at 100 x 100 pixels decoded 961 tiles of
8192 x 8192 and held its decoding for a minute. `coded_pixels` counts the pixels the decoder would decode for the
primary picture and its alpha plane: each coded item's size as its own decoder configuration states it (an HEVC
sequence parameter set, an AV1 sequence header; an item's `ispe` property only where it has none), times the number
of times the references lead to it. `crops_itself` tells an AVIF whose primary picture carries a clean aperture
(`clap`), which Pillow's AVIF reader would not apply. Box layouts: ISO/IEC 14496-12 (meta, iinf, iref, iprp) and
23008-12 (HEIF).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from inference.frame_headers import av1_sizes, hvcc_sizes
from inference.movie_index import child_boxes

CODED_TYPES = frozenset({b"hvc1", b"av01"})  # items a decoder decodes; derived ones (grid, iovl, iden) refer to others
DERIVED_REFERENCE, AUXILIARY_REFERENCE = b"dimg", b"auxl"  # a derived item's inputs; an alpha plane's master
MAX_DEPTH = 16  # derivations within derivations followed (libheif refuses cycles; past this, counted as too many)
TOO_MANY = 1 << 62  # the count of a derivation past MAX_DEPTH


@dataclass
class Items:
    """A HEIF file's items: each one's type, its references by kind, and its properties' boxes."""

    primary: int = 0
    types: dict[int, bytes] = field(default_factory=dict)
    references: dict[bytes, dict[int, list[int]]] = field(default_factory=dict)
    properties: dict[int, list[tuple[bytes, memoryview]]] = field(default_factory=dict)

    def property_of(self, item: int, kind: bytes) -> memoryview | None:
        return next((payload for found, payload in self.properties.get(item, []) if found == kind), None)


def read_items(data: bytes) -> Items:
    """The items the file's top-level `meta` box describes (an empty Items where it has none)."""
    items = Items()
    for kind, meta in child_boxes(memoryview(data)):
        if kind == b"meta":
            for part, payload in child_boxes(meta[4:]):  # a full box: version and flags first
                READERS.get(part, lambda _items, _payload: None)(items, payload)
            break
    return items


def _id(payload: memoryview, offset: int, wide: bool) -> tuple[int, int]:
    """An item id of 2 bytes, or 4 when `wide`, at `offset`; and the offset after it."""
    size = 4 if wide else 2
    return int.from_bytes(payload[offset:offset + size], "big"), offset + size


def _read_primary(items: Items, payload: memoryview) -> None:
    items.primary = _id(payload, 4, payload[0] > 0)[0] if len(payload) >= 6 else 0


def _read_infos(items: Items, payload: memoryview) -> None:
    """`iinf`: its `infe` boxes (versions 2 and 3 name the item's type)."""
    count_size = 2 if payload[0] == 0 else 4
    for kind, entry in child_boxes(payload[4 + count_size:]):
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
        for _ in range(count):
            target, offset = _id(reference, offset, wide)
            targets.append(target)


def _read_properties(items: Items, payload: memoryview) -> None:
    """`iprp`: the properties of `ipco`, given to items by `ipma` (indices from 1)."""
    boxes = dict(child_boxes(payload))
    listed = list(child_boxes(boxes.get(b"ipco", memoryview(b""))))
    associations = boxes.get(b"ipma", memoryview(b""))
    if len(associations) < 8:
        return
    wide_ids, wide_indices = associations[0] > 0, bool(associations[3] & 1)
    offset, count = 8, int.from_bytes(associations[4:8], "big")
    for _ in range(count):
        item, offset = _id(associations, offset, wide_ids)
        given = associations[offset] if offset < len(associations) else 0
        offset += 1
        for _ in range(given):
            index, offset = _property_index(associations, offset, wide_indices)
            if 0 < index <= len(listed):
                items.properties.setdefault(item, []).append(listed[index - 1])


def _property_index(payload: memoryview, offset: int, wide: bool) -> tuple[int, int]:
    """One association's property index (without its "essential" bit) and the offset after it."""
    size = 2 if wide else 1
    value = int.from_bytes(payload[offset:offset + size], "big")
    return value & ((1 << (8 * size - 1)) - 1), offset + size


READERS = {b"pitm": _read_primary, b"iinf": _read_infos, b"iref": _read_references, b"iprp": _read_properties}


def _coded_size(items: Items, item: int) -> int:
    """The pixels of one coded item, as its decoder configuration states them (else its `ispe`)."""
    configuration = items.property_of(item, b"hvcC")
    sizes: Iterator[tuple[int, int]] = iter(())
    if configuration is not None:
        sizes = hvcc_sizes(configuration)
    elif (configuration := items.property_of(item, b"av1C")) is not None:
        sizes = av1_sizes(configuration[4:])  # after the record's 4 bytes, its configuration OBUs
    stated = [width * height for width, height in sizes]
    if stated:
        return max(stated)
    spatial = items.property_of(item, b"ispe")
    if spatial is None or len(spatial) < 12:
        return 0
    return int.from_bytes(spatial[4:8], "big") * int.from_bytes(spatial[8:12], "big")


def coded_pixels(items: Items) -> int:
    """The pixels decoded to make the primary picture and its alpha plane (the auxiliary items whose master it is),
    each item reckoned once (`_Reckoning`), however often the references lead to it."""
    alpha = [source for source, masters in items.references.get(AUXILIARY_REFERENCE, {}).items()
             if items.primary in masters]
    reckoning = _Reckoning(items)
    return min(TOO_MANY, sum(reckoning.decoded(item) for item in [items.primary, *alpha]))


class _Reckoning:
    """The pixels decoded to make each item: a coded item's own, a derived item's those of every item it derives
    from, as often as it refers to each; TOO_MANY for a derivation in a loop or deeper than MAX_DEPTH."""

    def __init__(self, items: Items) -> None:
        self.items = items
        self.known: dict[int, int] = {}
        self.open: set[int] = set()

    def decoded(self, item: int, depth: int = 0) -> int:
        if item in self.known:
            return self.known[item]
        if depth > MAX_DEPTH or item in self.open:
            return TOO_MANY
        if self.items.types.get(item) in CODED_TYPES:
            pixels = _coded_size(self.items, item)
        else:
            self.open.add(item)
            inputs = self.items.references.get(DERIVED_REFERENCE, {}).get(item, [])
            pixels = min(TOO_MANY, sum(self.decoded(source, depth + 1) for source in inputs))
            self.open.discard(item)
        self.known[item] = pixels
        return pixels


def crops_itself(items: Items) -> bool:
    """Whether the primary picture carries a clean aperture (`clap`): a crop of the decoded picture."""
    return items.property_of(items.primary, b"clap") is not None
