"""Catalog of GPU instance types and the other priced items of a stack, each with its source.

Every number here was read from a published source whose URL and date sit next to it. A
number we could not find is `None`, and its entry says so; nothing is filled in by guess.
Prices are USD, Linux, list (no discounts), for the region named on each entry. The
catalog prices one region per cloud (AWS us-east-1, GCP us-central1, Azure eastus); a stack
in another region is priced at these rates and its estimate says so.

Spot prices move. On AWS each type's spot price is the median of the per-Availability-Zone
spot prices in the snapshot (the samples are kept on the entry, so the median is computed,
not typed in); Local Zones are left out. GCP spot prices are list prices (Google changes
them at most once a month). No dated Azure spot price was found, so Azure spot is `None`.

GPU memory is the per-GPU size the cloud reports (AWS's EC2 `GpuInfo`, in MiB / 1024);
bandwidth is NVIDIA's datasheet figure for the exact variant (SXM, PCIe, NVL).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace

HOURS_PER_MONTH = 730.0
"""Hours in the billing month every cloud's calculator uses (8,760 / 12)."""

CLOUDS = ("aws", "gcp", "azure")

# The date this catalog was assembled; "read" dates below are this day unless stated.
CATALOG_DATE = "2026-11-22"


@dataclass(frozen=True)
class Source:
    """Where a number comes from: a URL and the date it was published or read."""

    url: str
    date: str
    note: str = ""


# --- sources -------------------------------------------------------------------------------

_SKYPILOT_AWS = Source(
    "https://github.com/skypilot-org/skypilot-catalog/blob/00148f2af3672e2229b4f7bf8157d5a3f36e3c35/catalogs/v8/aws/vms.csv",
    CATALOG_DATE,
    "SkyPilot's machine-generated catalog (AWS Price List API on-demand price, DescribeSpotPriceHistory "
    "per-AZ spot price), snapshot at the commit in the URL, read on the date given. Spot = median of the "
    "region's AZ prices.",
)
_DATARECEIPTS = Source(
    "https://raw.githubusercontent.com/datareceipts/data-receipts/main/109-gpu-pricing/hyperscalers.json",
    "2026-11-09",
    "On-demand list prices retrieved 2026-11-09 (file field `retrieved`).",
)
_CYCLENERD_GCP = Source(
    "https://github.com/Cyclenerd/google-cloud-pricing-cost-calculator/blob/0166a59ebba7c36f2cc8c931d9f258dcebc44776/pricing.yml",
    "2025-03-06",
    "Mirror of the Google Cloud Billing Catalog API (file field `generated: Thu Mar 6 2025`): on-demand "
    "`hour` and `hour_spot` per machine type and region, GPUs included. The oldest prices in this catalog.",
)
_CYCLENERD_GCP_LINEAR = Source(
    _CYCLENERD_GCP.url, "2026-12-01",
    "Same Billing Catalog mirror (generated 2025-03-06), read 2026-12-01. A2 High, A2 Ultra and A3 High machine "
    "prices there are linear in the GPU count (a2-highgpu 1g/2g/8g, a2-ultragpu 1g/2g/4g, a3-highgpu 4g/8g read); "
    "sizes not read are that multiple of the 1g (or 8g) price, as each row's note says.",
)
_GCP_SKU_RATES = Source(
    "https://cloud.google.com/compute/vm-instance-pricing#accelerator-optimized",
    "2026-10-07",
    "G2 SKU rates for us-central1 (vCPU, GiB of memory, one L4) as recorded 2026-10-07 from the Cloud "
    "Billing Catalog (mirror: Cyclenerd pricing.yml generated 2026-09-24). Check: 4 vCPU + 16 GiB + 1 L4 "
    "= 0.70683/h, the published g2-standard-4 price.",
)
_TANOD_GCP = Source(
    "https://huggingface.co/datasets/tanod/cloud-gpu-list-prices",
    "2026-10-13",
    "Per-GPU share of the a3-ultragpu-8g price (basis `instance_share`) from the Google Cloud Billing "
    "Catalog API, snapshot 2026-10-13; instance price = 8 x per-GPU share.",
)
_SKYPILOT_AZURE = Source(
    "https://github.com/skypilot-org/skypilot-catalog/blob/098741e70562f65d7af1cceb81e33b284f742604/catalogs/v6/azure/vms.csv",
    "2026-12-01",
    "SkyPilot's machine-generated Azure catalog (Azure Retail Prices API: pay-as-you-go Linux `Price`, `SpotPrice`), "
    "US regions only, snapshot at the commit in the URL, read 2026-12-01. Its eastus prices for NC24ads A100 v4, "
    "NC40ads H100 v5, ND96isr H100 v5 and ND96asr v4 equal the 2026-11-09 list prices used elsewhere here.",
)
_NVIDIA = "NVIDIA datasheet figure for this variant"


# --- GPUs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuSpec:
    """One GPU variant. `model` is the name stack config uses (`nvidia-l4`, ...)."""

    model: str
    variant: str
    memory_gib: float
    bandwidth_gb_s: float
    memory_source: Source
    bandwidth_source: Source


def _aws_gpuinfo(mib: int) -> Source:
    return Source(_SKYPILOT_AWS.url, CATALOG_DATE, f"EC2 GpuInfo MemoryInfo.SizeInMiB = {mib}")


GPUS: dict[str, GpuSpec] = {
    spec.variant: spec
    for spec in (
        GpuSpec("nvidia-t4", "t4", 16384 / 1024, 320.0, _aws_gpuinfo(16384),
                Source("https://www.nvidia.com/en-us/data-center/tesla-t4/", CATALOG_DATE,
                       f"{_NVIDIA}: 320 GB/s GDDR6; same figure in Google's GPU table")),
        GpuSpec("nvidia-a10g", "a10g", 22888 / 1024, 600.0, _aws_gpuinfo(22888),
                Source("https://www.nvidia.com/en-us/data-center/products/a10-gpu/", CATALOG_DATE,
                       f"{_NVIDIA} (A10, whose memory system the A10G shares): 600 GB/s GDDR6")),
        GpuSpec("nvidia-l4", "l4", 22888 / 1024, 300.0, _aws_gpuinfo(22888),
                Source("https://www.nvidia.com/en-us/data-center/l4/", CATALOG_DATE,
                       f"{_NVIDIA}: 300 GB/s GDDR6; same figure in Google's GPU table")),
        GpuSpec("nvidia-l40s", "l40s", 45776 / 1024, 864.0, _aws_gpuinfo(45776),
                Source("https://www.nvidia.com/en-us/data-center/l40s/", CATALOG_DATE, f"{_NVIDIA}: 864 GB/s GDDR6")),
        GpuSpec("nvidia-a100-40gb", "a100-40gb-sxm", 40960 / 1024, 1555.0, _aws_gpuinfo(40960),
                Source("https://www.nvidia.com/en-us/data-center/a100/", CATALOG_DATE, f"{_NVIDIA}: 1,555 GB/s HBM2")),
        GpuSpec("nvidia-a100-80gb", "a100-80gb-sxm", 81920 / 1024, 2039.0, _aws_gpuinfo(81920),
                Source("https://www.nvidia.com/en-us/data-center/a100/", CATALOG_DATE, f"{_NVIDIA}: 2,039 GB/s HBM2e (SXM)")),
        GpuSpec("nvidia-a100-80gb", "a100-80gb-pcie", 81920 / 1024, 1935.0, _aws_gpuinfo(81920),
                Source("https://www.nvidia.com/en-us/data-center/a100/", CATALOG_DATE, f"{_NVIDIA}: 1,935 GB/s HBM2e (PCIe)")),
        GpuSpec("nvidia-h100-80gb", "h100-sxm", 81920 / 1024, 3350.0, _aws_gpuinfo(81920),
                Source("https://www.nvidia.com/en-us/data-center/h100/", CATALOG_DATE, f"{_NVIDIA}: 3.35 TB/s HBM3 (SXM)")),
        GpuSpec("nvidia-h100-80gb", "h100-nvl", 95830 / 1024, 3900.0,
                Source("https://github.com/skypilot-org/skypilot-catalog/blob/master/catalogs/v7/vast/vms.csv",
                       CATALOG_DATE, "H100 NVL MemoryInfo.SizeInMiB = 95830 (94 GB)"),
                Source("https://www.nvidia.com/en-us/data-center/h100/", CATALOG_DATE,
                       f"{_NVIDIA}: 3.9 TB/s HBM3 (H100 NVL). Config calls it nvidia-h100-80gb; it has 94 GB")),
        GpuSpec("nvidia-h200-141gb", "h200", 144384 / 1024, 4800.0, _aws_gpuinfo(144384),
                Source("https://www.nvidia.com/en-us/data-center/h200/", CATALOG_DATE, f"{_NVIDIA}: 4.8 TB/s HBM3e")),
    )
}


# --- instance types ------------------------------------------------------------------------


def median_spot(*az_prices: float) -> float:
    """The spot price we plan with: the median over the region's Availability Zones."""
    return statistics.median(az_prices)


@dataclass(frozen=True)
class InstanceType:
    """A GPU instance or machine type with its hardware and its hourly prices in `region`."""

    cloud: str
    name: str
    gpu: GpuSpec
    gpu_count: int
    vcpus: int
    memory_gib: float
    region: str
    on_demand_usd_per_hour: float
    on_demand_source: Source
    spot_usd_per_hour: float | None
    spot_source: Source | None
    spot_az_samples: tuple[float, ...] = ()
    dedicated_usd_per_hour: float | None = None
    """AWS Dedicated Instance price. None: not found in a published source (see docs)."""
    notes: str = ""

    @property
    def gpu_model(self) -> str:
        return self.gpu.model

    @property
    def gpu_memory_gib(self) -> float:
        """Memory of one GPU."""
        return self.gpu.memory_gib

    @property
    def memory_bandwidth_gb_s(self) -> float:
        """Memory bandwidth of one GPU."""
        return self.gpu.bandwidth_gb_s

    @property
    def total_gpu_memory_gib(self) -> float:
        return self.gpu.memory_gib * self.gpu_count

    def hourly_usd(self, spot: bool = False) -> float:
        """The planned hourly price: spot where a spot price is known, else on-demand.

        Falling back to on-demand keeps an estimate an upper bound when spot is unknown;
        `has_spot_price` tells the caller which one it got.
        """
        if spot and self.spot_usd_per_hour is not None:
            return self.spot_usd_per_hour
        return self.on_demand_usd_per_hour

    @property
    def has_spot_price(self) -> bool:
        return self.spot_usd_per_hour is not None


def _aws(name: str, gpu: str, count: int, vcpus: int, mem: float, on_demand: float,
         spot_azs: tuple[float, ...], notes: str = "", source: Source = _SKYPILOT_AWS) -> InstanceType:
    return InstanceType(
        cloud="aws", name=name, gpu=GPUS[gpu], gpu_count=count, vcpus=vcpus, memory_gib=mem,
        region="us-east-1", on_demand_usd_per_hour=on_demand, on_demand_source=source,
        spot_usd_per_hour=median_spot(*spot_azs) if spot_azs else None,
        spot_source=source if spot_azs else None, spot_az_samples=spot_azs, notes=notes,
    )


# The same snapshot, read again for the types priced on this date (vCPUs and memory from its rows too).
_SKYPILOT_AWS_2026_12_01 = Source(_SKYPILOT_AWS.url, "2026-12-01", _SKYPILOT_AWS.note)


# GCP G2 machines are billed as vCPUs + memory + L4 GPUs at these us-central1 SKU rates.
GCP_G2_RATES = {
    "on_demand": {"vcpu": 0.024988, "gib": 0.0029275, "l4": 0.56004},
    "spot": {"vcpu": 0.014993, "gib": 0.0017551, "l4": 0.336},
}

_CYCLENERD_GCP_G2_EUROPE_WEST4 = Source(
    _CYCLENERD_GCP.url, "2026-12-01",
    "europe-west4 `hour` / `hour_spot` of g2-standard-4 (4 vCPU, 16 GiB, 1 L4: 0.742916046 / 0.253236) and "
    "g2-standard-32 (32 vCPU, 128 GiB, 1 L4: 1.822916366 / 0.685388) in the Billing Catalog mirror generated "
    "2025-03-06, read 2026-12-01. Every G2 standard type has 4 GiB per vCPU, so the two give the rate of one vCPU "
    "with its 4 GiB ((1.822916366 - 0.742916046) / 28) and of one L4; every G2 type is composed from them.",
)

# Per region: the rate of one vCPU with its 4 GiB of memory (every G2 standard type has 4 GiB per vCPU)
# and of one L4. us-central1 from the SKU rates above; europe-west4 solved from two published prices.
GCP_G2_REGION_RATES: dict[str, dict[str, dict[str, float]]] = {
    "us-central1": {kind: {"vcpu_and_4gib": r["vcpu"] + 4 * r["gib"], "l4": r["l4"]} for kind, r in GCP_G2_RATES.items()},
    "europe-west4": {
        "on_demand": {"vcpu_and_4gib": (1.822916366 - 0.742916046) / 28,
                      "l4": 0.742916046 - 4 * (1.822916366 - 0.742916046) / 28},
        "spot": {"vcpu_and_4gib": (0.685388 - 0.253236) / 28, "l4": 0.253236 - 4 * (0.685388 - 0.253236) / 28},
    },
}


def gcp_g2_price(vcpus: int, memory_gib: float, l4s: int, spot: bool = False, region: str = "us-central1") -> float:
    """Hourly price of a G2 machine from its SKU rates (how Google bills it)."""
    if region == "us-central1":
        r = GCP_G2_RATES["spot" if spot else "on_demand"]
        return vcpus * r["vcpu"] + memory_gib * r["gib"] + l4s * r["l4"]
    if memory_gib != 4 * vcpus:
        raise ValueError(f"G2 rates for {region} are per vCPU with 4 GiB; got {vcpus} vCPU and {memory_gib} GiB")
    rr = GCP_G2_REGION_RATES[region]["spot" if spot else "on_demand"]
    return vcpus * rr["vcpu_and_4gib"] + l4s * rr["l4"]


def _g2(name: str, vcpus: int, mem: float, l4s: int) -> InstanceType:
    return InstanceType(
        cloud="gcp", name=name, gpu=GPUS["l4"], gpu_count=l4s, vcpus=vcpus, memory_gib=mem,
        region="us-central1", on_demand_usd_per_hour=gcp_g2_price(vcpus, mem, l4s),
        on_demand_source=_GCP_SKU_RATES, spot_usd_per_hour=gcp_g2_price(vcpus, mem, l4s, spot=True),
        spot_source=_GCP_SKU_RATES, notes="Price composed from the G2 SKU rates (vCPU + memory + L4).",
    )


def _gcp(name: str, gpu: str, count: int, vcpus: int, mem: float, on_demand: float, spot: float,
         source: Source = _CYCLENERD_GCP, notes: str = "") -> InstanceType:
    return InstanceType(
        cloud="gcp", name=name, gpu=GPUS[gpu], gpu_count=count, vcpus=vcpus, memory_gib=mem,
        region="us-central1", on_demand_usd_per_hour=on_demand, on_demand_source=source,
        spot_usd_per_hour=spot, spot_source=source, notes=notes,
    )


_AZURE_NO_SPOT = "No dated Azure spot price was found in the sources used; spot is priced as on-demand."


def _azure(name: str, gpu: str, count: int, vcpus: int, mem: float, on_demand: float, notes: str = "") -> InstanceType:
    return InstanceType(
        cloud="azure", name=name, gpu=GPUS[gpu], gpu_count=count, vcpus=vcpus, memory_gib=mem,
        region="eastus", on_demand_usd_per_hour=on_demand, on_demand_source=_DATARECEIPTS,
        spot_usd_per_hour=None, spot_source=None, notes=" ".join(x for x in (notes, _AZURE_NO_SPOT) if x),
    )


def _azure_sky(name: str, gpu: str, count: int, vcpus: int, mem: float, on_demand: float, spot: float) -> InstanceType:
    return InstanceType(
        cloud="azure", name=name, gpu=GPUS[gpu], gpu_count=count, vcpus=vcpus, memory_gib=mem, region="eastus",
        on_demand_usd_per_hour=on_demand, on_demand_source=_SKYPILOT_AZURE, spot_usd_per_hour=spot,
        spot_source=_SKYPILOT_AZURE,
    )


CATALOG: tuple[InstanceType, ...] = (
    # AWS, us-east-1. Spot samples: the us-east-1 AZ prices in the snapshot (Local Zones left out).
    _aws("g4dn.xlarge", "t4", 1, 4, 16, 0.526, (0.2158, 0.2000, 0.2039, 0.2020, 0.2043)),
    _aws("g4dn.2xlarge", "t4", 1, 8, 32, 0.752, (0.3157, 0.3142, 0.3145, 0.3112, 0.3269), source=_SKYPILOT_AWS_2026_12_01),
    _aws("g4dn.12xlarge", "t4", 4, 48, 192, 3.912, (1.4134, 1.3211, 1.3260, 1.2875, 1.3061),
         source=_SKYPILOT_AWS_2026_12_01),
    _aws("g4dn.metal", "t4", 8, 96, 384, 7.824, (3.7292, 3.0125, 2.9633, 2.9583, 2.9236), source=_SKYPILOT_AWS_2026_12_01),
    _aws("g5.xlarge", "a10g", 1, 4, 16, 1.006, (0.4507, 0.4246, 0.4360, 0.4259, 0.4364),
         notes="On-demand 1.006 also quoted for us-east-1 in June 2026 by factualminds.com."),
    _aws("g5.2xlarge", "a10g", 1, 8, 32, 1.212, (0.5218, 0.5933, 0.5036, 0.4738, 0.4985),
         source=_SKYPILOT_AWS_2026_12_01),
    _aws("g5.12xlarge", "a10g", 4, 48, 192, 5.672, (2.7804, 2.0796, 2.0813, 2.1824, 2.2387)),
    _aws("g5.48xlarge", "a10g", 8, 192, 768, 16.288, (4.5408, 7.0077, 6.8918, 5.8671, 5.6899),
         source=_SKYPILOT_AWS_2026_12_01),
    _aws("g6.xlarge", "l4", 1, 4, 16, 0.8048, (0.4011, 0.3653, 0.3490, 0.3988)),
    _aws("g6.2xlarge", "l4", 1, 8, 32, 0.9776, (0.5772, 0.4462, 0.5067, 0.4416)),
    _aws("g6.12xlarge", "l4", 4, 48, 192, 4.6016, (2.0968, 1.9631, 2.0353, 1.7552)),
    _aws("g6.48xlarge", "l4", 8, 192, 768, 13.3504, (3.7289, 6.2789, 5.9470, 5.0768), source=_SKYPILOT_AWS_2026_12_01),
    _aws("g6e.xlarge", "l40s", 1, 4, 32, 1.861, (1.1975, 0.9154, 0.9599, 1.0492)),
    _aws("g6e.2xlarge", "l40s", 1, 8, 64, 2.24208, (1.0895, 0.8952, 0.9408, 0.8064), source=_SKYPILOT_AWS_2026_12_01),
    _aws("g6e.12xlarge", "l40s", 4, 48, 384, 10.49264, (3.7887, 5.6426, 4.9101, 6.0150)),
    _aws("g6e.48xlarge", "l40s", 8, 192, 1536, 30.13118, (8.0189, 20.64, 10.2818, 10.4635),
         source=_SKYPILOT_AWS_2026_12_01),
    _aws("p4d.24xlarge", "a100-40gb-sxm", 8, 96, 1152, 21.957642, (2.4655, 8.1915, 8.1203, 7.8799),
         notes="On-demand matches datareceipts (2026-11-09) after AWS's June 2025 P4/P5 price cut."),
    _aws("p4de.24xlarge", "a100-80gb-sxm", 8, 96, 1152, 27.44705, (9.9734, 8.6505)),
    _aws("p5en.48xlarge", "h200", 8, 192, 2048, 63.296, (18.2492, 16.5551), source=_SKYPILOT_AWS_2026_12_01,
         notes="Spot: use1-az2 and use1-az6 (the Atlanta Local Zone's price left out)."),
    _aws("p5.4xlarge", "h100-sxm", 1, 16, 256, 6.88, (),
         notes="No spot price in the snapshot: spot is priced as on-demand."),
    _aws("p5.48xlarge", "h100-sxm", 8, 192, 2048, 55.04, (55.04, 19.2531, 21.1543, 55.04, 25.7522, 17.6289),
         notes="On-demand matches datareceipts (2026-11-09)."),
    # GCP, us-central1.
    _g2("g2-standard-4", 4, 16, 1),
    _g2("g2-standard-8", 8, 32, 1),
    _g2("g2-standard-12", 12, 48, 1),
    _g2("g2-standard-16", 16, 64, 1),
    _g2("g2-standard-24", 24, 96, 2),
    _g2("g2-standard-32", 32, 128, 1),
    _g2("g2-standard-48", 48, 192, 4),
    _g2("g2-standard-96", 96, 384, 8),
    _gcp("a2-highgpu-1g", "a100-40gb-sxm", 1, 12, 85, 3.673385, 1.293355),
    _gcp("a2-highgpu-2g", "a100-40gb-sxm", 2, 24, 170, 7.34677, 2.58671),
    _gcp("a2-highgpu-4g", "a100-40gb-sxm", 4, 48, 340, 4 * 3.673385, 4 * 1.293355, source=_CYCLENERD_GCP_LINEAR,
         notes="4 x a2-highgpu-1g (A2 High is priced per GPU: 2g and 8g are 2 and 8 x 1g in the snapshot)."),
    _gcp("a2-highgpu-8g", "a100-40gb-sxm", 8, 96, 680, 29.38708, 10.34684, source=_CYCLENERD_GCP_LINEAR),
    _gcp("a2-ultragpu-1g", "a100-80gb-sxm", 1, 12, 170, 5.06879789041096, 2.02746835616438),
    _gcp("a2-ultragpu-2g", "a100-80gb-sxm", 2, 24, 340, 10.1375957808219, 4.05493671232877, source=_CYCLENERD_GCP_LINEAR),
    _gcp("a2-ultragpu-4g", "a100-80gb-sxm", 4, 48, 680, 4 * 5.06879789041096, 4 * 2.02746835616438,
         source=_CYCLENERD_GCP_LINEAR, notes="4 x a2-ultragpu-1g (europe-west4's 4g is 4 x its 1g in the snapshot)."),
    _gcp("a2-ultragpu-8g", "a100-80gb-sxm", 8, 96, 1360, 8 * 5.06879789041096, 8 * 2.02746835616438,
         source=_CYCLENERD_GCP_LINEAR, notes="8 x a2-ultragpu-1g (A2 Ultra is priced per GPU in the snapshot)."),
    *(_gcp(f"a3-highgpu-{n}g", "h100-sxm", n, 26 * n, 234 * n, n / 8 * 88.4899999025753, n / 8 * 35.3957496986301,
           source=_CYCLENERD_GCP_LINEAR, notes=f"{n}/8 of a3-highgpu-8g (A3 High is priced per GPU: 4g is half of 8g "
                                              f"in the snapshot); sold as Spot or Flex-start only.")
      for n in (1, 2, 4)),
    _gcp("a3-highgpu-8g", "h100-sxm", 8, 208, 1872, 88.4899999025753, 35.3957496986301),
    _gcp("a3-ultragpu-8g", "h200", 8, 224, 2952, 8 * 10.4365, 8 * 6.2607, source=_TANOD_GCP),
    # Azure, eastus (on-demand only; see _AZURE_NO_SPOT).
    _azure("Standard_NC24ads_A100_v4", "a100-80gb-pcie", 1, 24, 220, 3.673),
    _azure("Standard_NC48ads_A100_v4", "a100-80gb-pcie", 2, 48, 440, 9.554),
    _azure("Standard_NC96ads_A100_v4", "a100-80gb-pcie", 4, 96, 880, 19.108),
    _azure("Standard_NC40ads_H100_v5", "h100-nvl", 1, 40, 320, 6.98),
    _azure("Standard_NC80adis_H100_v5", "h100-nvl", 2, 80, 640, 17.64),
    _azure("Standard_ND96isr_H100_v5", "h100-sxm", 8, 96, 1900, 8 * 12.29,
           notes="Published as $12.29 per GPU-hour; instance price = 8 x that."),
    _azure("Standard_ND96asr_v4", "a100-40gb-sxm", 8, 96, 900, 8 * 3.3996,
           notes="Listed by the source as Standard_ND96asr_A100_v4 at $3.3996 per GPU-hour."),
    _azure_sky("Standard_NC4as_T4_v3", "t4", 1, 4, 28, 0.526, 0.062699),
    _azure_sky("Standard_NC8as_T4_v3", "t4", 1, 8, 56, 0.752, 0.089638),
    _azure_sky("Standard_NC16as_T4_v3", "t4", 1, 16, 110, 1.204, 0.143517),
    _azure_sky("Standard_NC64as_T4_v3", "t4", 4, 64, 440, 4.352, 0.518758),
    _azure_sky("Standard_ND96amsr_A100_v4", "a100-80gb-sxm", 8, 96, 1800, 32.77, 3.6047),
)
"""Every GPU instance type the planner knows, priced in its reference region (AWS us-east-1, GCP
us-central1, Azure eastus); `REGIONAL_PRICES` adds other regions. Not listed for want of a dated
price: Azure NV A10 v5 and ND H200 v5 (and the M60 NVv3 sizes, which config refuses as a GPU)."""


# --- prices per region ---------------------------------------------------------------------


@dataclass(frozen=True)
class RegionalPrice:
    """The hourly price of one instance type in one region, with where it was read."""

    cloud: str
    name: str
    region: str
    on_demand_usd_per_hour: float
    source: Source
    spot_usd_per_hour: float | None = None
    spot_az_samples: tuple[float, ...] = ()
    notes: str = ""


def _catalog_row(e: InstanceType) -> RegionalPrice:
    return RegionalPrice(e.cloud, e.name, e.region, e.on_demand_usd_per_hour, e.on_demand_source,
                         e.spot_usd_per_hour, e.spot_az_samples, e.notes)


_SKYPILOT_AWS_EU_WEST_1 = Source(
    _SKYPILOT_AWS.url, "2026-12-01",
    "eu-west-1 rows (Price = on-demand, SpotPrice per Availability Zone) of the SkyPilot snapshot at the commit in "
    "the URL, read 2026-12-01. In that snapshot no G6, G6e, P4de, P5 or P5en size read lists an eu-west-1 zone "
    "(G6: xlarge, 8xlarge; G6e: 16xlarge, 24xlarge, 2xlarge, 48xlarge, 4xlarge; p4de.24xlarge, p5.48xlarge, "
    "p5.4xlarge, p5en.48xlarge).",
)
_CYCLENERD_GCP_EUROPE_WEST4 = Source(
    _CYCLENERD_GCP.url, "2026-12-01",
    "europe-west4 `hour` (on-demand, GPUs included) and `hour_spot` in the Billing Catalog mirror generated "
    "2025-03-06, read 2026-12-01.",
)


def _g2_in(name: str, vcpus: int, l4s: int, region: str, source: Source) -> RegionalPrice:
    return RegionalPrice("gcp", name, region, gcp_g2_price(vcpus, 4 * vcpus, l4s, region=region), source,
                         gcp_g2_price(vcpus, 4 * vcpus, l4s, spot=True, region=region),
                         notes=f"Composed from the {region} G2 rates (vCPU with 4 GiB + L4).")


REGIONAL_PRICES: tuple[RegionalPrice, ...] = tuple(_catalog_row(e) for e in CATALOG) + (
    # AWS, eu-west-1.
    RegionalPrice("aws", "g4dn.xlarge", "eu-west-1", 0.587, _SKYPILOT_AWS_EU_WEST_1,
                  median_spot(0.3147, 0.3171, 0.3317), (0.3147, 0.3171, 0.3317)),
    RegionalPrice("aws", "g4dn.2xlarge", "eu-west-1", 0.838, _SKYPILOT_AWS_EU_WEST_1,
                  median_spot(0.3888, 0.3974, 0.3972), (0.3888, 0.3974, 0.3972)),
    RegionalPrice("aws", "g4dn.12xlarge", "eu-west-1", 4.362, _SKYPILOT_AWS_EU_WEST_1,
                  median_spot(1.9096, 2.0048, 1.8367), (1.9096, 2.0048, 1.8367)),
    RegionalPrice("aws", "g4dn.metal", "eu-west-1", 8.724, _SKYPILOT_AWS_EU_WEST_1,
                  median_spot(4.7539, 3.8090, 4.0204), (4.7539, 3.8090, 4.0204)),
    RegionalPrice("aws", "g5.xlarge", "eu-west-1", 1.123, _SKYPILOT_AWS_EU_WEST_1,
                  median_spot(0.5765, 0.5746, 0.5727), (0.5765, 0.5746, 0.5727)),
    RegionalPrice("aws", "g5.2xlarge", "eu-west-1", 1.35296, _SKYPILOT_AWS_EU_WEST_1,
                  median_spot(0.6191, 0.6179, 0.6185), (0.6191, 0.6179, 0.6185)),
    RegionalPrice("aws", "g5.12xlarge", "eu-west-1", 6.33167, _SKYPILOT_AWS_EU_WEST_1,
                  notes="Spot samples of every eu-west-1 zone were not read: spot is priced as on-demand."),
    RegionalPrice("aws", "g5.48xlarge", "eu-west-1", 18.18233, _SKYPILOT_AWS_EU_WEST_1,
                  median_spot(8.0425, 8.1388, 8.0117), (8.0425, 8.1388, 8.0117)),
    RegionalPrice("aws", "p4d.24xlarge", "eu-west-1", 23.71569, _SKYPILOT_AWS_EU_WEST_1, 9.7598, (9.7598,),
                  notes="One eu-west-1 zone (euw1-az2) offers it in the snapshot."),
    # GCP, europe-west4.
    RegionalPrice("gcp", "a2-highgpu-1g", "europe-west4", 3.747972, _CYCLENERD_GCP_EUROPE_WEST4, 1.44587),
    RegionalPrice("gcp", "a2-highgpu-2g", "europe-west4", 7.495944, _CYCLENERD_GCP_EUROPE_WEST4, 2.89174),
    RegionalPrice("gcp", "a2-highgpu-4g", "europe-west4", 4 * 3.747972, _CYCLENERD_GCP_LINEAR, 4 * 1.44587,
                  notes="4 x a2-highgpu-1g."),
    RegionalPrice("gcp", "a2-highgpu-8g", "europe-west4", 29.983776, _CYCLENERD_GCP_EUROPE_WEST4, 11.56696),
    RegionalPrice("gcp", "a2-ultragpu-1g", "europe-west4", 5.58091847945206, _CYCLENERD_GCP_EUROPE_WEST4,
                  1.81105531506849),
    RegionalPrice("gcp", "a2-ultragpu-2g", "europe-west4", 11.1618369589041, _CYCLENERD_GCP_EUROPE_WEST4,
                  3.62211063013699),
    RegionalPrice("gcp", "a2-ultragpu-4g", "europe-west4", 22.3236739178082, _CYCLENERD_GCP_EUROPE_WEST4,
                  7.24422126027397),
    RegionalPrice("gcp", "a2-ultragpu-8g", "europe-west4", 8 * 5.58091847945206, _CYCLENERD_GCP_LINEAR,
                  8 * 1.81105531506849, notes="8 x a2-ultragpu-1g."),
    *(RegionalPrice("gcp", f"a3-highgpu-{n}g", "europe-west4", n / 8 * 112.540479175233, _CYCLENERD_GCP_LINEAR,
                    n / 8 * 31.7592050410959, notes=f"{n}/8 of a3-highgpu-8g; sold as Spot or Flex-start only.")
      for n in (1, 2, 4)),
    RegionalPrice("gcp", "a3-highgpu-8g", "europe-west4", 112.540479175233, _CYCLENERD_GCP_EUROPE_WEST4,
                  31.7592050410959),
    *(_g2_in(f"g2-standard-{v}", v, l4, "europe-west4", _CYCLENERD_GCP_G2_EUROPE_WEST4)
      for v, l4 in ((4, 1), (8, 1), (12, 1), (16, 1), (24, 2), (32, 1), (48, 4), (96, 8))),
)
"""Every (instance type, region) with a sourced hourly price. Config refuses a GPU pool whose type has
no row in the stack's pricing region unless `cost.allow_unpriced` is set (llm_infra/config/cost.py)."""


def regional_price(cloud: str, name: str, region: str | None) -> RegionalPrice | None:
    """The sourced price row of `name` in `region`, or None."""
    return next((r for r in REGIONAL_PRICES if r.cloud == cloud and r.name == name and r.region == region), None)


def priced_types(cloud: str, region: str | None) -> list[str]:
    """The instance types with a price row in `region`, sorted."""
    return sorted({r.name for r in REGIONAL_PRICES if r.cloud == cloud and r.region == region})


def priced_regions(cloud: str) -> list[str]:
    """The regions with at least one price row on `cloud`, sorted."""
    return sorted({r.region for r in REGIONAL_PRICES if r.cloud == cloud})


def instance_in(name: str, cloud: str, region: str | None) -> InstanceType | None:
    """The catalog entry of `name` priced at its row in `region`; None without hardware or without a row."""
    hardware = next((e for e in CATALOG if e.name == name and e.cloud == cloud), None)
    row = regional_price(cloud, name, region)
    if hardware is None or row is None:
        return None
    return replace(hardware, region=row.region, on_demand_usd_per_hour=row.on_demand_usd_per_hour,
                   on_demand_source=row.source, spot_usd_per_hour=row.spot_usd_per_hour,
                   spot_source=row.source if row.spot_usd_per_hour is not None else None,
                   spot_az_samples=row.spot_az_samples, notes=row.notes)


def instance(name: str, cloud: str | None = None) -> InstanceType:
    """Look up a catalog entry by name. Raises KeyError naming the known types."""
    for entry in CATALOG:
        if entry.name == name and (cloud is None or entry.cloud == cloud):
            return entry
    known = sorted(e.name for e in CATALOG if cloud is None or e.cloud == cloud)
    raise KeyError(f"unknown instance type {name!r}{f' on {cloud}' if cloud else ''}; known: {known}")


def instances(cloud: str) -> tuple[InstanceType, ...]:
    if cloud not in CLOUDS:
        raise ValueError(f"expected a cloud in {CLOUDS}, got {cloud!r}")
    return tuple(e for e in CATALOG if e.cloud == cloud)


# --- system (CPU) nodes ----------------------------------------------------------------------


@dataclass(frozen=True)
class CpuInstanceType:
    """A CPU node type for the system node pool. Priced on-demand only."""

    cloud: str
    name: str
    vcpus: int
    memory_gib: float
    region: str
    on_demand_usd_per_hour: float | None
    source: Source | None
    notes: str = ""


_CYCLENERD_GCP_E2_EUROPE_WEST4 = Source(
    _CYCLENERD_GCP.url, "2026-12-01",
    "e2-standard-8 (8 vCPU, 32 GiB) europe-west4 `hour` 0.29508816 in the Billing Catalog mirror generated "
    "2025-03-06, read 2026-12-01; E2 is billed per vCPU and GiB, so smaller standard sizes are fractions of it.",
)

SYSTEM_INSTANCE_TYPES: tuple[CpuInstanceType, ...] = (
    CpuInstanceType("aws", "m8i.xlarge", 4, 16, "us-east-1", 0.21168, _SKYPILOT_AWS),
    CpuInstanceType(
        "aws", "m7i.large", 2, 8, "us-east-1", 0.8064 / 8,
        Source("https://aws.amazon.com/ec2/pricing/on-demand/", "2026-09-29",
               "m7i.4xlarge = $0.8064/h from the AWS Price List API (effective 2026-09-01), as verified in a "
               "public pricing audit on 2026-09-29; m7i.large = 1/8 of it (EC2 prices sizes of a family linearly)."),
        notes="Derived from m7i.4xlarge; the AWS component's default system node type.",
    ),
    CpuInstanceType(
        "aws", "m7i.large", 2, 8, "eu-west-1", 0.8988 / 8,
        Source(_SKYPILOT_AWS.url, "2026-12-01",
               "m7i.4xlarge eu-west-1 Price 0.8988 in the SkyPilot snapshot at the commit in the URL (its us-east-1 "
               "row, 0.8064, is the Price List figure above); m7i.large = 1/8 of it."),
        notes="Derived from m7i.4xlarge.",
    ),
    CpuInstanceType("gcp", "n2-standard-4", 4, 16, "us-central1", 0.194236,
                    Source("https://cloud.google.com/compute/vm-instance-pricing#n2_machine_types", "2026-10-07",
                           "Recorded 2026-10-07; cross-checked against the Billing Catalog mirror generated 2026-09-24.")),
    CpuInstanceType("gcp", "e2-standard-2", 2, 8, "us-central1", 0.067006,
                    Source("https://cloud.google.com/compute/vm-instance-pricing#e2_machine_types", "2026-10-07",
                           "Recorded 2026-10-07; cross-checked against the Billing Catalog mirror generated 2026-09-24.")),
    CpuInstanceType("gcp", "e2-standard-4", 4, 16, "us-central1", 2 * 0.067006,
                    Source("https://cloud.google.com/compute/vm-instance-pricing#e2_machine_types", "2026-10-07",
                           "e2-standard-2 $0.067006/h recorded 2026-10-07; E2 is billed per vCPU and GiB of memory, so "
                           "e2-standard-4 (4 vCPU, 16 GiB) is twice e2-standard-2 (2 vCPU, 8 GiB)."),
                    notes="Derived from e2-standard-2; GcpConfig's default system machine type."),
    CpuInstanceType("gcp", "e2-standard-2", 2, 8, "europe-west4", 0.29508816 / 4, _CYCLENERD_GCP_E2_EUROPE_WEST4,
                    notes="Derived from e2-standard-8 (a quarter of it)."),
    CpuInstanceType("gcp", "e2-standard-4", 4, 16, "europe-west4", 0.29508816 / 2, _CYCLENERD_GCP_E2_EUROPE_WEST4,
                    notes="Derived from e2-standard-8 (half of it); GcpConfig's default system machine type."),
    CpuInstanceType("azure", "Standard_D4s_v5", 4, 16, "eastus", 3.072 / 16, _SKYPILOT_AZURE,
                    notes="1/16 of Standard_D64s_v5 (3.072): Dsv5 sizes are priced per vCPU in the snapshot."),
    CpuInstanceType("azure", "Standard_D4ds_v5", 4, 16, "eastus", 0.452 / 2, _SKYPILOT_AZURE,
                    notes="Half of Standard_D8ds_v5 (0.452; D64ds_v5 is 8 x it): AzureConfig's default system size."),
)

DEFAULT_SYSTEM_INSTANCE_TYPE = {"aws": "m7i.large", "gcp": "n2-standard-4", "azure": "Standard_D4ds_v5"}


def system_instance(name: str, cloud: str, region: str | None = None) -> CpuInstanceType:
    """The system node type's entry (in `region` when given: no other region's price stands in)."""
    for entry in SYSTEM_INSTANCE_TYPES:
        if entry.name == name and entry.cloud == cloud and (region is None or entry.region == region):
            return entry
    known = sorted(f"{e.name} ({e.region})" for e in SYSTEM_INSTANCE_TYPES if e.cloud == cloud)
    raise KeyError(f"unknown system instance type {name!r} on {cloud}{f' in {region}' if region else ''}; known: {known}")


# --- everything else a stack pays for ------------------------------------------------------


@dataclass(frozen=True)
class PriceItem:
    """A non-instance price: `usd` per `unit` (hour, month, gib-month, vm-hour)."""

    cloud: str
    key: str
    description: str
    usd: float | None
    unit: str
    region: str
    source: Source | None
    notes: str = ""


_NAT_LIST_2026_10_02 = Source(
    "https://aws.amazon.com/vpc/pricing/", "2026-10-02",
    "List prices quoted in a public network-pricing note dated 2 Oct 2026 (AWS NAT gateway $0.045/h + "
    "$0.045/GB us-east-1; Azure NAT $0.045/h + $0.045/GB; Cloud NAT $0.0014 per VM-hour up to 32 VMs).",
)

PRICES: dict[tuple[str, str], PriceItem] = {
    (p.cloud, p.key): p
    for p in (
        # AWS, us-east-1
        PriceItem("aws", "control_plane", "EKS cluster, standard Kubernetes version support", 0.10, "hour", "all",
                  Source("https://aws.amazon.com/eks/pricing/", "2026-09-29",
                         "\"$0.10 per cluster per hour\"; extended support $0.60 (blog: "
                         "https://aws.amazon.com/blogs/containers/amazon-eks-extended-support-for-kubernetes-versions-pricing/)")),
        PriceItem("aws", "dedicated_region_fee", "Dedicated Per Region Fee (any Dedicated Instance running in the region)",
                  2.00, "hour", "all",
                  Source("https://aws.amazon.com/ec2/pricing/dedicated-instances/", CATALOG_DATE,
                         "\"a dedicated per region fee of $2 per hour, plus an hourly per instance usage fee\" "
                         "(AWS provider docs, aws_vpc instance_tenancy)")),
        PriceItem("aws", "nat_gateway", "NAT gateway, per gateway", 0.045, "hour", "us-east-1", _NAT_LIST_2026_10_02,
                  "Plus $0.045 per GB processed (not estimated: traffic-dependent)."),
        PriceItem("aws", "key", "KMS customer managed key", 1.00, "month", "all",
                  Source("https://aws.amazon.com/kms/pricing/", CATALOG_DATE,
                         "\"Each AWS KMS key ... costs $1/month (prorated hourly)\"; the first and second rotation each "
                         "add $1/month (capped at the second rotation)."),
                  "Rotated keys (llm-infra rotates yearly) cost $2/month in year 2 and $3/month from year 3; "
                  "the estimate uses the first-year $1."),
        PriceItem("aws", "block_storage", "EBS gp3 volume", 0.08, "gib-month", "us-east-1",
                  Source("https://aws.amazon.com/ebs/pricing/", "2026-10-07", "gp3 $0.08/GB-month, us-east-1"),
                  "Baseline 3,000 IOPS / 125 MB/s included; AWS bills GB-months (here taken as GiB)."),
        PriceItem("aws", "object_storage", "S3 Standard, first 50 TB", 0.023, "gib-month", "us-east-1",
                  Source("https://aws.amazon.com/s3/pricing/", CATALOG_DATE, "\"First 50 TB / Month $0.023 per GB\"")),
        # GCP, us-central1
        PriceItem("gcp", "control_plane", "GKE cluster management fee", 0.10, "hour", "all",
                  Source("https://cloud.google.com/kubernetes-engine/pricing", "2026-10-06",
                         "0.10 per cluster-hour; the free tier credits $74.40/month for the first zonal or "
                         "Autopilot cluster of a billing account (not applied: llm-infra builds regional clusters)")),
        PriceItem("gcp", "nat_vm", "Cloud NAT, per VM using the gateway (up to 32 VMs)", 0.0014, "vm-hour", "all",
                  Source("https://cloud.google.com/nat/pricing", "2026-10-06",
                         "$0.0014 per VM-hour up to 32 VMs, then $0.044 per gateway-hour; $0.045/GiB processed")),
        PriceItem("gcp", "nat_cap", "Cloud NAT, gateway with 32 or more VMs", 0.044, "hour", "all",
                  Source("https://cloud.google.com/nat/pricing", "2026-10-06")),
        PriceItem("gcp", "nat_ip", "External IP address of the NAT gateway", 0.005, "hour", "all",
                  Source("https://cloud.google.com/vpc/network-pricing", "2026-10-06", "$0.005 per address-hour")),
        PriceItem("gcp", "key", "Cloud KMS key (software), per active key version", 0.06, "month", "all",
                  Source("https://cloud.google.com/kms/pricing", CATALOG_DATE, "$0.06 per active key version per month"),
                  "Each rotation adds an active version until old versions are destroyed; the estimate counts one."),
        PriceItem("gcp", "sole_tenancy_premium", "Sole-tenancy premium, share of the node's vCPU and memory price",
                  0.10, "fraction", "all",
                  Source("https://cloud.google.com/compute/sole-tenant-pricing", "2026-12-01",
                         "\"you are billed for all of the vCPU and memory resources on the sole-tenant nodes, plus a "
                         "sole-tenancy premium, which is 10% of the cost of all of the underlying vCPU and memory "
                         "resources\"; GPUs and disks are billed as on other VMs")),
        PriceItem("gcp", "block_storage", "Balanced persistent disk (pd-balanced)", 0.10, "gib-month", "us-central1",
                  _CYCLENERD_GCP),
        PriceItem("gcp", "object_storage", "Cloud Storage Standard, regional", 0.02, "gib-month", "us-central1",
                  _CYCLENERD_GCP),
        # Azure, eastus unless stated
        PriceItem("azure", "control_plane_free", "AKS Free tier cluster management", 0.0, "hour", "all",
                  Source("https://learn.microsoft.com/en-us/azure/aks/free-standard-pricing-tiers", CATALOG_DATE,
                         "Free tier: no charge for cluster management, no uptime SLA, < 10 nodes recommended")),
        PriceItem("azure", "control_plane_standard", "AKS Standard tier cluster management", 0.10, "hour", "all",
                  Source("https://azure.microsoft.com/en-us/pricing/details/kubernetes-service/", CATALOG_DATE,
                         "$0.10 per cluster per hour (Uptime SLA / Standard tier), as quoted in public AKS notes; "
                         "not read from Microsoft's page itself"),
                  "Secondary source only."),
        PriceItem("azure", "nat_gateway", "NAT Gateway, per gateway", 0.045, "hour", "all", _NAT_LIST_2026_10_02,
                  "Plus $0.045/GB processed and $0.005/h for its public IP (not estimated)."),
        PriceItem("azure", "key", "Key Vault key", None, "month", "all",
                  Source("https://azure.microsoft.com/en-us/pricing/details/key-vault/", CATALOG_DATE,
                         "Standard vaults bill software keys per operation ($0.03 / 10,000), no monthly key fee"),
                  "The monthly fee of an HSM-protected (Premium) key was not found in the sources used: unpriced."),
        PriceItem("azure", "block_storage", "Premium SSD managed disk, P10 (128 GiB) per GiB", 19.0 / 128, "gib-month",
                  "westeurope",
                  Source("https://azure.microsoft.com/en-us/pricing/details/managed-disks/", CATALOG_DATE,
                         "\"Premium SSD P10 (128GB) ... ~$19/month\" West Europe, secondary source"),
                  "Azure bills disks per size tier, not per GiB; this per-GiB rate is P10's, approximate."),
        PriceItem("azure", "object_storage", "Blob Storage Hot LRS, first 50 TB", 0.0184, "gib-month", "westeurope",
                  Source("https://azure.microsoft.com/en-us/pricing/details/storage/blobs/", CATALOG_DATE,
                         "\"Blob Storage Hot LRS (West Europe, first 50TB) ~$0.0184/GB-month\", secondary source"),
                  "Approximate; the Retail Prices API gave $0.020 for Central India on 2026-10-02."),
    )
}


def price(cloud: str, key: str) -> PriceItem:
    try:
        return PRICES[(cloud, key)]
    except KeyError:
        known = sorted(k for (c, k) in PRICES if c == cloud)
        raise KeyError(f"no price {key!r} for {cloud}; known: {known}") from None


def unsourced() -> list[str]:
    """Every catalog number that is missing or only approximately sourced, for docs and plan output."""
    out: list[str] = []
    for e in CATALOG:
        if e.spot_usd_per_hour is None:
            out.append(f"{e.cloud} {e.name}: spot price unknown (priced as on-demand)")
        if e.cloud == "aws" and e.dedicated_usd_per_hour is None:
            out.append(f"aws {e.name}: Dedicated Instance price unknown (priced as on-demand + region fee)")
    for s in SYSTEM_INSTANCE_TYPES:
        if s.on_demand_usd_per_hour is None:
            out.append(f"{s.cloud} {s.name}: no price")
    for p in PRICES.values():
        if p.usd is None:
            out.append(f"{p.cloud} {p.key}: no price")
        elif any(flag in f"{p.notes} {p.source.note if p.source else ''}".lower()
                 for flag in ("secondary source", "approximate")):
            out.append(f"{p.cloud} {p.key}: approximate ({p.notes or (p.source.note if p.source else '')})")
    return out


__all__ = [
    "CATALOG", "CATALOG_DATE", "CLOUDS", "DEFAULT_SYSTEM_INSTANCE_TYPE", "GCP_G2_RATES", "GPUS", "HOURS_PER_MONTH",
    "PRICES", "REGIONAL_PRICES", "SYSTEM_INSTANCE_TYPES", "CpuInstanceType", "GpuSpec", "InstanceType", "PriceItem",
    "RegionalPrice", "Source", "gcp_g2_price", "instance", "instance_in", "instances", "median_spot", "price",
    "priced_regions", "priced_types", "regional_price", "system_instance", "unsourced",
]

