"""Authentication page reassembly. A signature spans pages: page 0 carries the last page's index,
the data length, a timestamp and 17 data bytes; pages 1.. carry 23 bytes each. The byte right after
the `length` data bytes, when not zero, counts additional (e.g. forward error correction) bytes that
follow it (opendroneid.h, "ODID_Auth_data")."""
from __future__ import annotations


PAGE_FIELDS = ("auth_type", "page", "auth_data", "last_page_index", "length", "auth_timestamp")


def _content(page: dict) -> tuple:
    """What a page says, without how it came (a transport's counter differs on each repeat)."""
    return tuple(page.get(k) for k in PAGE_FIELDS)


class AuthPages:
    """One sender's Authentication pages (decoded message dicts), in any order, over any number of
    advertisements; `add` returns the whole authentication when a page completes the set."""

    def __init__(self) -> None:
        self._pages: dict[int, dict] = {}

    def add(self, page: dict) -> dict | None:
        number = page["page"]
        held = next(iter(self._pages.values()), None)
        replaced = self._pages.get(number)
        if (held is not None and held["auth_type"] != page["auth_type"]) or (
                replaced is not None and _content(replaced) != _content(page)):
            self._pages.clear()            # a new signature began: pages of the old one are stale
        self._pages[number] = page
        first = self._pages.get(0)
        if first is None or any(n not in self._pages
                                for n in range(1, first["last_page_index"] + 1)):
            return None
        data = b"".join(bytes.fromhex(self._pages[n]["auth_data"])
                        for n in range(first["last_page_index"] + 1))
        self._pages.clear()
        length = first["length"]
        additional = data[length] if length < len(data) else 0
        return {"auth_type": first["auth_type"], "last_page_index": first["last_page_index"],
                "length": length, "auth_timestamp": first["auth_timestamp"],
                "auth_data": data[:length].hex(),
                "additional_data": data[length + 1:length + 1 + additional].hex()}
