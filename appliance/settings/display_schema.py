"""The display section of settings.json: the panel, its driver and hzeller's options.

Owns what a valid ``display`` object is: each option's range as the library and its
binding accept it (tests/unit/test_binding_api.py checks the ranges against the
vendored binding's C types), and the geometry LightBox draws after the pixel mappers
(``appliance.settings.display_geometry``). Pure pydantic: knows no files, displays,
hardware or rgbmatrix (the board and device checks are the preflight's).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from appliance.settings import grammar
from appliance.settings.display_geometry import mapped_size, physical_size

#: The mappings of the library's lib/hardware-mapping.c. ``compute-module`` exists only
#: in a build with ENABLE_WIDE_GPIO_COMPUTE_MODULE, which the Python build does not set:
#: the preflight refuses it rather than the schema, so an old file still loads.
HARDWARE_MAPPINGS = (
    "regular",
    "adafruit-hat",
    "adafruit-hat-pwm",
    "regular-pi1",
    "classic",
    "classic-pi1",
    "compute-module",
)


class DisplaySettings(BaseModel):
    """The panel and its driver."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)

    driver: Literal["auto", "rgbmatrix", "virtual", "emulator"] = "auto"
    #: Options::Validate (lib/led-matrix.cc) refuses odd rows and fewer than 16 columns:
    #: CreateFromOptions returns NULL, which the binding does not turn into an error.
    rows: Annotated[int, Field(ge=8, le=64)] = 32
    cols: Annotated[int, Field(ge=16, le=128)] = 64
    chain_length: Annotated[int, Field(ge=1, le=8)] = 1
    parallel: Annotated[int, Field(ge=1, le=3)] = 1
    hardware_mapping: Literal[HARDWARE_MAPPINGS] = "regular"  # type: ignore[valid-type]
    gpio_slowdown: Annotated[int, Field(ge=0, le=5)] = 4
    rp1_rio: bool = False
    pwm_bits: Annotated[int, Field(ge=1, le=11)] = 11
    pwm_lsb_nanoseconds: Annotated[int, Field(ge=50, le=3000)] = 130
    pwm_dither_bits: Annotated[int, Field(ge=0, le=2)] = 0
    scan_mode: Literal[0, 1] = 0
    row_address_type: Annotated[int, Field(ge=0, le=5)] = 0
    #: lib/multiplex-mappers.cc registers 22 multiplexers at the pinned commit.
    multiplexing: Annotated[int, Field(ge=0, le=22)] = 0
    led_rgb_sequence: Literal["RGB", "RBG", "GRB", "GBR", "BRG", "BGR"] = "RGB"
    pixel_mapper_config: str = ""
    panel_type: str = ""
    limit_refresh_rate_hz: Annotated[int, Field(ge=0, le=1000)] = 0
    disable_hardware_pulsing: bool = False
    show_refresh_rate: bool = False
    brightness: Annotated[int, Field(ge=1, le=100)] = 80
    fps: Annotated[int, Field(ge=1, le=120)] = 30
    drop_privileges: bool = True
    drop_priv_user: str = "lightbox"
    drop_priv_group: str = "lightbox"
    retry_initial_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    retry_max_s: Annotated[float, Field(gt=0, le=3600)] = 60.0

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) LightBox draws: the chained panels after the pixel mappers."""
        return mapped_size(self.cols, self.rows, self.chain_length, self.parallel,
                           self.pixel_mapper_config)

    @property
    def width(self) -> int:
        """Width in pixels: cols x chain, then the pixel mappers (U-mapper halves it)."""
        return self.size[0]

    @property
    def height(self) -> int:
        """Height in pixels: rows x parallel, then the pixel mappers (U-mapper doubles it)."""
        return self.size[1]

    @model_validator(mode="after")
    def _geometry(self) -> DisplaySettings:
        w, h = physical_size(self.cols, self.rows, self.chain_length, self.parallel)
        if w > 512 or h > 192:
            raise ValueError(f"panel {w}x{h} is larger than LightBox drives (512x192)")
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must be at least retry_initial_s")
        problem = grammar.pixel_mappers(self.pixel_mapper_config, self.chain_length,
                                        self.parallel)
        if problem:
            # A leading newline marks "dotted.sub: message" lines for errors.problems_of().
            raise ValueError(f"\npixel_mapper_config: {problem}")
        if min(self.size) < 1:
            raise ValueError(f"\npixel_mapper_config: {self.pixel_mapper_config!r} leaves a "
                             f"{self.width}x{self.height} canvas of the {w}x{h} panels")
        return self

    @field_validator("rows")
    @classmethod
    def _even_rows(cls, v: int) -> int:
        if v % 2:
            raise ValueError(f"{v} rows is odd: hzeller's library drives an even number of "
                             "rows (the panel's pixel height: 16, 32 or 64)")
        return v

    @field_validator("panel_type")
    @classmethod
    def _panel_type(cls, v: str) -> str:
        return grammar.panel_type(v)

    @field_validator("drop_priv_user", "drop_priv_group")
    @classmethod
    def _posix_name(cls, v: str) -> str:
        return grammar.posix_name(v)
