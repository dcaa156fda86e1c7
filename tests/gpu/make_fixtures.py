"""Regenerate the fake sysfs trees under tests/gpu/fixtures/ (run by hand).

    python tests/gpu/make_fixtures.py

Each tree is a directory used as ``KTRACK_SYSFS_ROOT``.  Trees that need run-
time changes (mode 000 files, /proc fd symlinks) are built in the tests.
"""
from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent / "fixtures"
GIB = 1024 ** 3


def put(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, text in files.items():
        p = root / rel.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            p.write_bytes(text)
        else:
            p.write_text(text)


def amd_w7900(card: str = "card0", hw: str = "hwmon3") -> dict[str, str]:
    d = f"sys/class/drm/{card}/device"
    h = f"{d}/hwmon/{hw}"
    return {
        f"{d}/vendor": "0x1002\n", f"{d}/device": "0x7448\n",
        f"{d}/uevent": "DRIVER=amdgpu\nPCI_SLOT_NAME=0000:0b:00.0\n",
        f"{d}/gpu_busy_percent": "100\n",
        f"{d}/mem_info_vram_used": f"{31336081408}\n",
        f"{d}/mem_info_vram_total": f"{48 * GIB}\n",
        f"{d}/power_dpm_force_performance_level": "auto\n",
        f"{d}/pp_dpm_sclk": "0: 500Mhz\n1: 2162Mhz *\n2: 2495Mhz\n",
        f"{d}/pp_dpm_mclk": "0: 96Mhz\n1: 456Mhz\n2: 772Mhz\n3: 1124Mhz *\n",
        f"{d}/pp_dpm_fclk": "0: 800Mhz\n1: 1600Mhz *\n",
        f"{d}/pp_dpm_socclk": "0: 500Mhz\n1: 1058Mhz *\n",
        f"{h}/name": "amdgpu\n",
        f"{h}/temp1_input": "70000\n", f"{h}/temp1_label": "edge\n",
        f"{h}/temp2_input": "85000\n", f"{h}/temp2_label": "junction\n",
        f"{h}/temp3_input": "80000\n", f"{h}/temp3_label": "mem\n",
        f"{h}/power1_average": "240000000\n", f"{h}/power1_cap": "241000000\n",
        f"{h}/fan1_input": "1938\n", f"{h}/fan1_max": "3850\n",
        # pwm1_max deliberately not 255: the code must read the range.
        f"{h}/pwm1": "44\n", f"{h}/pwm1_max": "90\n",
        f"{h}/freq1_input": "2162000000\n", f"{h}/freq1_label": "sclk\n",
        f"sys/class/drm/{card}-DP-1/status": "connected\n",
    }


def amd_mi210(card: str = "card1") -> dict[str, str]:
    d = f"sys/class/drm/{card}/device"
    h = f"{d}/hwmon/hwmon5"
    return {
        f"{d}/vendor": "0x1002\n", f"{d}/device": "0x740f\n",
        f"{d}/product_name": "AMD Instinct MI210\n",
        f"{d}/gpu_busy_percent": "37\n",
        f"{d}/mem_info_vram_used": f"{16 * GIB}\n",
        f"{d}/mem_info_vram_total": f"{64 * GIB}\n",
        f"{d}/power_dpm_force_performance_level": "manual\n",
        f"{d}/pp_dpm_sclk": "0: 500Mhz\n1: 1700Mhz *\n",
        f"{d}/pp_dpm_mclk": "0: 400Mhz\n1: 1600Mhz *\n",
        f"{d}/pp_dpm_fclk": "0: 1200Mhz *\n",
        f"{d}/pp_dpm_socclk": "0: 1090Mhz *\n",
        f"{h}/name": "amdgpu\n",
        f"{h}/temp1_input": "45000\n", f"{h}/temp1_label": "edge\n",
        f"{h}/temp2_input": "52000\n", f"{h}/temp2_label": "junction\n",
        f"{h}/temp3_input": "49000\n", f"{h}/temp3_label": "mem\n",
        f"{h}/power1_average": "95000000\n", f"{h}/power1_cap": "300000000\n",
    }


def intel_i915(card: str = "card0", dev_id: str = "0x56a0",
               slot: str = "0000:03:00.0") -> dict[str, str]:
    c = f"sys/class/drm/{card}"
    h = f"{c}/device/hwmon/hwmon2"
    return {
        f"{c}/device/vendor": "0x8086\n", f"{c}/device/device": f"{dev_id}\n",
        f"{c}/device/uevent": f"DRIVER=i915\nPCI_SLOT_NAME={slot}\n",
        f"{c}/gt_act_freq_mhz": "2400\n", f"{c}/gt_cur_freq_mhz": "2400\n",
        f"{c}/gt_max_freq_mhz": "2400\n", f"{c}/gt_RP0_freq_mhz": "2400\n",
        f"{h}/name": "i915\n", f"{h}/energy1_input": "1000000000\n",
        f"{h}/power1_max": "225000000\n", f"{h}/fan1_input": "1200\n",
        **{f"{c}/gt/gt0/throttle_reason_{r}": "0\n"
           for r in ("status", "pl1", "pl2", "pl4", "thermal", "prochot", "ratl", "vr_thermalert", "vr_tdc")},
    }


def intel_xe(card: str = "card0") -> dict[str, str]:
    d = f"sys/class/drm/{card}/device"
    h = f"{d}/hwmon/hwmon4"
    return {
        f"{d}/vendor": "0x8086\n", f"{d}/device": "0xe20b\n",
        f"{d}/uevent": "DRIVER=xe\nPCI_SLOT_NAME=0000:04:00.0\n",
        f"{d}/tile0/gt0/freq0/act_freq": "2850\n",
        f"{d}/tile0/gt0/freq0/cur_freq": "2850\n",
        f"{d}/tile0/gt0/freq0/max_freq": "2850\n",
        f"{d}/tile0/gt1/freq0/act_freq": "1000\n",
        f"{d}/tile0/gt0/freq0/throttle/status": "1\n",
        f"{d}/tile0/gt0/freq0/throttle/reason_pl1": "1\n",
        f"{d}/tile0/gt0/freq0/throttle/reason_pl2": "0\n",
        f"{d}/tile0/gt0/freq0/throttle/reason_pl4": "0\n",
        f"{d}/tile0/gt0/freq0/throttle/reason_thermal": "1\n",
        f"{d}/tile0/gt0/freq0/throttle/reason_prochot": "0\n",
        f"{h}/name": "xe\n", f"{h}/energy1_input": "500000000\n",
        f"{h}/power1_max": "190000000\n",
        f"{h}/temp2_input": "58000\n", f"{h}/temp2_label": "pkg\n",
        f"{h}/temp3_input": "61000\n", f"{h}/temp3_label": "vram\n",
        "sys/class/drm/renderD128/dev": "226:128\n",
    }


def jetson_orin() -> dict[str, str | bytes]:
    h = "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1"
    return {
        "sys/class/devfreq/13e40000.host1x/cur_freq": "204000000\n",
        "sys/class/devfreq/17000000.ga10b/cur_freq": "1300500000\n",
        "sys/class/devfreq/17000000.ga10b/device/load": "523\n",
        "sys/class/thermal/thermal_zone0/type": "cpu-thermal\n",
        "sys/class/thermal/thermal_zone0/temp": "45500\n",
        "sys/class/thermal/thermal_zone1/type": "gpu-thermal\n",
        "sys/class/thermal/thermal_zone1/temp": "43843\n",
        f"{h}/name": "ina3221\n",
        f"{h}/in1_label": "VDD_GPU_SOC\n", f"{h}/in1_input": "5000\n",
        f"{h}/curr1_input": "634\n",
        f"{h}/in2_label": "VDD_CPU_CV\n", f"{h}/in2_input": "5000\n",
        f"{h}/curr2_input": "160\n",
        "proc/device-tree/model": b"NVIDIA Jetson AGX Orin Developer Kit\x00",
        "proc/meminfo": "MemTotal:       31268696 kB\nMemFree:        25000000 kB\n"
                        "MemAvailable:   28761176 kB\n",
    }


def jetson_tx2() -> dict[str, str | bytes]:
    iio = "sys/bus/i2c/drivers/ina3221x/0-0040/iio:device0"
    return {
        "sys/class/devfreq/17000000.gp10b/cur_freq": "1300500000\n",
        "sys/class/devfreq/17000000.gp10b/device/load": "120\n",
        "sys/class/thermal/thermal_zone2/type": "GPU-therm\n",
        "sys/class/thermal/thermal_zone2/temp": "30500\n",
        f"{iio}/rail_name_0": "VDD_SYS_GPU\n", f"{iio}/in_power0_input": "1532\n",
        f"{iio}/rail_name_1": "VDD_SYS_SOC\n", f"{iio}/in_power1_input": "611\n",
        "proc/device-tree/model": b"quill\x00",
    }


def broken() -> dict[str, str | bytes]:
    d = "sys/class/drm/card0/device"
    h = f"{d}/hwmon/hwmon0"
    return {
        f"{d}/vendor": "0x1002\n", f"{d}/device": "0xzzzz\n",
        f"{d}/product_name": "\n",
        f"{d}/gpu_busy_percent": "garbage\n",
        f"{d}/mem_info_vram_used": "",
        f"{d}/pp_dpm_sclk": "0: 500Mhz\n1: 2162Mhz\n",
        f"{d}/pp_dpm_mclk": "1: lots *\n",
        f"{d}/power_dpm_force_performance_level": "   \n",
        # a directory where a file is expected: unreadable even for root
        f"{d}/mem_info_vram_total/.keep": "",
        f"{h}/temp1_input": "abc\n", f"{h}/temp1_label": "edge\n",
        f"{h}/power1_average/.keep": "",
        f"{h}/power1_cap": "0\n",
        f"{h}/fan1_input": b"\xff\xfe\n",
        f"{h}/pwm1": "128\n", f"{h}/pwm1_max": "0\n",
        "sys/class/drm/card1/device/vendor": "not-a-number\n",
        "sys/class/drm/card2/uevent": "no device dir\n",
        "sys/class/drm/card3/device/vendor": "0x8086\n",
        "sys/class/drm/card3/device/device": "\n",
        "sys/class/drm/card3/gt_act_freq_mhz": "x\n",
        "sys/class/drm/card3/device/hwmon/hwmon9/energy1_input": "nope\n",
        "sys/class/devfreq/17000000.ga10b/cur_freq": "\n",
        "sys/class/thermal/thermal_zone0/type": "gpu-thermal\n",
        "sys/class/thermal/thermal_zone0/temp": "hot\n",
        "proc/meminfo": "MemTotal: lots\n",
    }


TREES = {
    "amd_w7900": lambda: amd_w7900(),
    "amd_mi210": lambda: amd_mi210("card0"),
    "intel_arc_i915": lambda: intel_i915(),
    "intel_xe": lambda: intel_xe(),
    "jetson_orin": jetson_orin,
    "jetson_tx2": jetson_tx2,
    "mixed": lambda: {**intel_i915("card0", "0x4680", "0000:00:02.0"),
                      **amd_w7900("card1"),
                      "sys/class/drm/card0-HDMI-A-1/status": "disconnected\n",
                      "sys/class/drm/renderD128/dev": "226:128\n",
                      "sys/class/drm/renderD129/dev": "226:129\n",
                      "sys/class/drm/version": "drm 1.1.0 20060810\n"},
    "broken": broken,
    "empty": lambda: {"sys/class/drm/version": "drm 1.1.0 20060810\n"},
}


def main() -> None:
    for name, make in TREES.items():
        root = HERE / name
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        put(root, make())
    print(f"wrote {len(TREES)} trees under {HERE}")


if __name__ == "__main__":
    main()
