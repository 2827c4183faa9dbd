"""Write INDI XML the way libindi's drivers do, for parser tests and fake servers."""

from __future__ import annotations

import base64
from xml.sax.saxutils import escape, quoteattr


def b64_lines(data: bytes, width: int = 72, newline: bytes = b"\n") -> bytes:
    """Base64 text broken into lines of ``width`` characters, as libindi writes BLOBs."""
    text = base64.b64encode(data)
    if width <= 0:
        return text
    return newline.join(text[i : i + width] for i in range(0, len(text), width))


def set_blob_vector(
    device: str,
    name: str,
    blobs: list[tuple[str, bytes, str]],
    *,
    state: str = "Ok",
    width: int = 72,
    size: int | None = None,
) -> bytes:
    """``setBLOBVector`` with one ``oneBLOB`` per (element, payload, format)."""
    parts = [
        f"<setBLOBVector device={quoteattr(device)} name={quoteattr(name)} state='{state}' "
        f"timeout='60' timestamp='2024-05-01T22:00:00'>\n".encode()
    ]
    for element, data, fmt in blobs:
        text = b64_lines(data, width)
        announced = len(data) if size is None else size
        parts.append(
            f"  <oneBLOB\n    name={quoteattr(element)}\n    size='{announced}'\n"
            # libindi's enclen counts base64 characters, not the line breaks.
            f"    enclen='{len(base64.b64encode(data))}'\n    format={quoteattr(fmt)}>\n".encode()
        )
        parts.append(text + b"\n  </oneBLOB>\n")
    parts.append(b"</setBLOBVector>\n")
    return b"".join(parts)


def def_number_vector(
    device: str, name: str, values: dict[str, float], *, state: str = "Idle"
) -> bytes:
    members = "".join(
        f"  <defNumber name={quoteattr(k)} label={quoteattr(k.title())} format='%g' "
        f"min='0' max='3600' step='1'>\n      {v!r}\n  </defNumber>\n"
        for k, v in values.items()
    )
    return (
        f"<defNumberVector device={quoteattr(device)} name={quoteattr(name)} label='L' "
        f"group='Main Control' state='{state}' perm='rw' timeout='60' "
        f"timestamp='2024-05-01T22:00:00'>\n{members}</defNumberVector>\n"
    ).encode()


def set_number_vector(
    device: str, name: str, values: dict[str, float], *, state: str = "Ok"
) -> bytes:
    members = "".join(
        f"  <oneNumber name={quoteattr(k)}>\n      {v!r}\n  </oneNumber>\n"
        for k, v in values.items()
    )
    return (
        f"<setNumberVector device={quoteattr(device)} name={quoteattr(name)} state='{state}' "
        f"timeout='60' timestamp='2024-05-01T22:00:01'>\n{members}</setNumberVector>\n"
    ).encode()


def def_switch_vector(
    device: str, name: str, values: dict[str, bool], *, rule: str = "OneOfMany"
) -> bytes:
    members = "".join(
        f"  <defSwitch name={quoteattr(k)} label={quoteattr(k)}>\n"
        f"      {'On' if v else 'Off'}\n  </defSwitch>\n"
        for k, v in values.items()
    )
    return (
        f"<defSwitchVector device={quoteattr(device)} name={quoteattr(name)} label='S' "
        f"group='Main Control' state='Idle' perm='rw' rule='{rule}' timeout='60'>\n"
        f"{members}</defSwitchVector>\n"
    ).encode()


def def_text_vector(device: str, name: str, values: dict[str, str]) -> bytes:
    members = "".join(
        f"  <defText name={quoteattr(k)} label={quoteattr(k)}>{escape(v)}</defText>\n"
        for k, v in values.items()
    )
    return (
        f"<defTextVector device={quoteattr(device)} name={quoteattr(name)} label='T' "
        f"group='G' state='Ok' perm='ro' timeout='0'>\n{members}</defTextVector>\n"
    ).encode()


def def_blob_vector(device: str, name: str, element: str) -> bytes:
    return (
        f"<defBLOBVector device={quoteattr(device)} name={quoteattr(name)} label='Image' "
        f"group='Image Info' state='Idle' perm='ro' timeout='60'>\n"
        f"  <defBLOB name={quoteattr(element)} label='Image'/>\n</defBLOBVector>\n"
    ).encode()


def message(device: str, text: str) -> bytes:
    return (
        f"<message device={quoteattr(device)} timestamp='2024-05-01T22:00:02' "
        f"message={quoteattr(text)}/>\n"
    ).encode()
