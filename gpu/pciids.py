"""A small PCI device-id table for GPU names when sysfs has no product name."""
from __future__ import annotations

AMD: dict[int, str] = {
    0x7448: "AMD Radeon Pro W7900",
    0x745E: "AMD Radeon Pro W7800",
    0x744C: "AMD Radeon RX 7900 XTX",
    0x73A1: "AMD Radeon Pro W6800",
    0x73BF: "AMD Radeon RX 6800 XT",
    0x73DF: "AMD Radeon RX 6700 XT",
    0x7310: "AMD Radeon Pro W5700",
    0x731F: "AMD Radeon RX 5700 XT",
    0x67DF: "AMD Radeon RX 580",
    0x687F: "AMD Radeon RX Vega",
    0x738C: "AMD Instinct MI100",
    0x740C: "AMD Instinct MI250X",
    0x740F: "AMD Instinct MI210",
    0x74A1: "AMD Instinct MI300X",
    0x74A0: "AMD Instinct MI300A",
}

INTEL: dict[int, str] = {
    0x56A0: "Intel Arc A770",
    0x56A1: "Intel Arc A750",
    0x56A5: "Intel Arc A380",
    0x56A6: "Intel Arc A310",
    0x5690: "Intel Arc A770M",
    0x5691: "Intel Arc A730M",
    0x5693: "Intel Arc A370M",
    0xE20B: "Intel Arc B580",
    0xE20C: "Intel Arc B570",
    0x0BD5: "Intel Data Center GPU Max 1550",
    0x56C0: "Intel Data Center GPU Flex 170",
    0x7D55: "Intel Arc Graphics (Meteor Lake)",
    0x64A0: "Intel Arc Graphics (Lunar Lake)",
    0x9A49: "Intel Iris Xe Graphics",
    0x46A6: "Intel Iris Xe Graphics",
    0xA7A0: "Intel Iris Xe Graphics",
    0x4680: "Intel UHD Graphics 770",
    0x9BC5: "Intel UHD Graphics 630",
}

_TABLES = {0x1002: ("AMD", AMD), 0x8086: ("Intel", INTEL)}


def name_for(vendor_id: int | None, device_id: int | None) -> str:
    """Marketing name for a PCI vendor/device id, or ``"<Vendor> GPU 0x1234"``."""
    label, table = _TABLES.get(vendor_id or 0, ("GPU", {}))
    if device_id is None:
        return f"{label} GPU"
    return table.get(device_id, f"{label} GPU 0x{device_id:04x}")
