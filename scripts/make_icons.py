#!/usr/bin/env python3
"""Draw LightBox's built-in notification icons as PNGs from the character grids below.

Run by a developer after editing a grid; the PNGs it writes to appliance/content/icons/
(``<name>-<size>.png``, RGB, black background) are committed and loaded by
appliance/content/icons.py. Each name has a hand-drawn 8x8 and 16x16 grid.

Usage: scripts/make_icons.py [DEST_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

PALETTE: dict[str, tuple[int, int, int]] = {
    ".": (0, 0, 0),
    "W": (235, 235, 235),   # white
    "K": (130, 130, 130),   # grey
    "Y": (255, 200, 0),     # yellow
    "O": (255, 130, 0),     # orange
    "L": (255, 235, 160),   # moonlight
    "R": (235, 35, 35),     # red
    "G": (40, 205, 70),     # green
    "B": (40, 120, 255),    # blue
    "C": (150, 220, 255),   # light blue
    "N": (150, 90, 40),     # brown
    "D": (95, 55, 25),      # dark brown
}

ICONS_8: dict[str, tuple[str, ...]] = {
    "info": ("..BBBB..", ".BBWWBB.", "BBBBBBBB", "BBBWWBBB",
             "BBBWWBBB", "BBBWWBBB", ".BBWWBB.", "..BBBB.."),
    "warning": ("...YY...", "..YYYY..", "..Y..Y..", ".YY..YY.",
                ".YY..YY.", "YYYYYYYY", "YYY..YYY", "YYYYYYYY"),
    "door": (".KKKKKK.", ".KNNNNK.", ".KNNNNK.", ".KNNNNK.",
             ".KNNNYK.", ".KNNNNK.", ".KNNNNK.", "KKKKKKKK"),
    "bell": ("...YY...", "..YYYY..", ".YYYYYY.", ".YYYYYY.",
             ".YYYYYY.", "YYYYYYYY", "........", "...OO..."),
    "thermometer": ("...WW...", "..W..W..", "..WRRW..", "..WRRW..",
                    "..WRRW..", ".WRRRRW.", ".WRRRRW.", "..WWWW.."),
    "drop": ("...BB...", "...BB...", "..BBBB..", ".BBBBBB.",
             ".BBBBBB.", ".BCBBBB.", ".BBCBBB.", "..BBBB.."),
    "sun": ("...YY...", ".Y....Y.", "..YYYY..", "Y.YYYY.Y",
            "Y.YYYY.Y", "..YYYY..", ".Y....Y.", "...YY..."),
    "moon": ("...LLLL.", "..LLL...", ".LLL....", ".LLL....",
             ".LLL....", ".LLL....", "..LLL...", "...LLLL."),
    "check": ("........", ".......G", "......GG", "G....GG.",
              "GG..GG..", ".GGGG...", "..GG....", "........"),
    "cross": ("RR....RR", "RRR..RRR", ".RRRRRR.", "..RRRR..",
              "..RRRR..", ".RRRRRR.", "RRR..RRR", "RR....RR"),
    "mail": ("........", "WWWWWWWW", "WW....WW", "W.W..W.W",
             "W..WW..W", "W......W", "WWWWWWWW", "........"),
    "phone": ("GG......", "GGG.....", "GG......", ".GG.....",
              "..GG....", "...GG.GG", "....GGGG", ".....GG."),
}

ICONS_16: dict[str, tuple[str, ...]] = {
    "info": (
        ".....BBBBBB.....", "...BBBBBBBBBB...", "..BBBBBWWBBBBB..", ".BBBBBBWWBBBBBB.",
        ".BBBBBBBBBBBBBB.", "BBBBBBBBBBBBBBBB", "BBBBBBWWWBBBBBBB", "BBBBBBBWWBBBBBBB",
        "BBBBBBBWWBBBBBBB", "BBBBBBBWWBBBBBBB", "BBBBBBBWWBBBBBBB", ".BBBBBBWWBBBBBB.",
        ".BBBBBWWWWBBBBB.", "..BBBBBBBBBBBB..", "...BBBBBBBBBB...", ".....BBBBBB.....",
    ),
    "warning": (
        ".......YY.......", "......YYYY......", "......YYYY......", ".....YY..YY.....",
        ".....YY..YY.....", "....YYY..YYY....", "....YYY..YYY....", "...YYYY..YYYY...",
        "...YYYY..YYYY...", "..YYYYY..YYYYY..", "..YYYYYYYYYYYY..", ".YYYYYY..YYYYYY.",
        ".YYYYYY..YYYYYY.", "YYYYYYYYYYYYYYYY", "YYYYYYYYYYYYYYYY", "................",
    ),
    "door": (
        "..KKKKKKKKKKKK..", "..KNNNNNNNNNNK..", "..KNDDDDDDDDNK..", "..KNDNNNNNNDNK..",
        "..KNDNNNNNNDNK..", "..KNDDDDDDDDNK..", "..KNNNNNNNNNNK..", "..KNNNNNNNYYNK..",
        "..KNNNNNNNYYNK..", "..KNDDDDDDDDNK..", "..KNDNNNNNNDNK..", "..KNDNNNNNNDNK..",
        "..KNDDDDDDDDNK..", "..KNNNNNNNNNNK..", "..KNNNNNNNNNNK..", "KKKKKKKKKKKKKKKK",
    ),
    "bell": (
        ".......YY.......", "......YYYY......", ".....YYYYYY.....", "....YYYYYYYY....",
        "....YYYYYYYY....", "...YYYYYYYYYY...", "...YYYYYYYYYY...", "...YYYYYYYYYY...",
        "...YYYYYYYYYY...", "..YYYYYYYYYYYY..", "..YYYYYYYYYYYY..", ".YYYYYYYYYYYYYY.",
        "YYYYYYYYYYYYYYYY", "................", "......OOOO......", ".......OO.......",
    ),
    "thermometer": (
        "......WWWW......", ".....W....W.....", ".....W....W.....", ".....W.RR.W.....",
        ".....W.RR.W.....", ".....W.RR.W.....", ".....W.RR.W.....", ".....W.RR.W.....",
        ".....W.RR.W.....", "....WW.RR.WW....", "...W..RRRR..W...", "...W.RRRRRR.W...",
        "...W.RRRRRR.W...", "...W..RRRR..W...", "....W......W....", ".....WWWWWW.....",
    ),
    "drop": (
        ".......BB.......", ".......BB.......", "......BBBB......", "......BBBB......",
        ".....BBBBBB.....", ".....BBBBBB.....", "....BBBBBBBB....", "...BBBBBBBBBB...",
        "...BBBBBBBBBB...", "..BBBBBBBBBBBB..", "..BBCBBBBBBBBB..", "..BBCBBBBBBBBB..",
        "..BBBCBBBBBBBB..", "...BBBCCBBBBB...", "....BBBBBBBB....", "......BBBB......",
    ),
    "sun": (
        "................", ".......YY.......", "..Y....YY....Y..", "...Y........Y...",
        ".....YYYYYY.....", "....YYYYYYYY....", "....YYYYYYYY....", "YY..YYYYYYYY..YY",
        "YY..YYYYYYYY..YY", "....YYYYYYYY....", "....YYYYYYYY....", ".....YYYYYY.....",
        "...Y........Y...", "..Y....YY....Y..", ".......YY.......", "................",
    ),
    "moon": (
        ".........LLLLL..", ".......LLLLL....", "......LLLLL.....", ".....LLLLL......",
        ".....LLLL.......", "....LLLLL.......", "....LLLL........", "....LLLL........",
        "....LLLL........", "....LLLL........", "....LLLLL.......", ".....LLLL.......",
        ".....LLLLL......", "......LLLLL.....", ".......LLLLL....", ".........LLLLL..",
    ),
    "check": (
        "................", "................", "................", "..............GG",
        ".............GGG", "............GGG.", "...........GGG..", "..........GGG...",
        ".GG......GGG....", "GGGG....GGG.....", ".GGGG..GGG......", "..GGGGGGG.......",
        "...GGGGG........", "....GGG.........", ".....G..........", "................",
    ),
    "cross": (
        ".RR..........RR.", "RRRR........RRRR", ".RRRR......RRRR.", "..RRRR....RRRR..",
        "...RRRR..RRRR...", "....RRRRRRRR....", ".....RRRRRR.....", "......RRRR......",
        "......RRRR......", ".....RRRRRR.....", "....RRRRRRRR....", "...RRRR..RRRR...",
        "..RRRR....RRRR..", ".RRRR......RRRR.", "RRRR........RRRR", ".RR..........RR.",
    ),
    "mail": (
        "................", "................", "WWWWWWWWWWWWWWWW", "WW............WW",
        "W.W..........W.W", "W..W........W..W", "W...W......W...W", "W....W....W....W",
        "W.....W..W.....W", "W......WW......W", "W..............W", "W..............W",
        "W..............W", "WWWWWWWWWWWWWWWW", "................", "................",
    ),
    "phone": (
        ".GGG............", "GGGGG...........", "GGGGG...........", "GGGG............",
        "GGG.............", "GGG.............", ".GGG............", ".GGGG...........",
        "..GGGG..........", "...GGGG....GGG..", "....GGGGG.GGGGG.", ".....GGGGGGGGGGG",
        "......GGGGGGGGGG", "........GGGGGGG.", "..........GGG...", "................",
    ),
}


def draw(grid: tuple[str, ...], size: int) -> Image.Image:
    """Return the RGB image of one grid, checking it is size x size."""
    if len(grid) != size or any(len(row) != size for row in grid):
        raise ValueError(f"grid is not {size}x{size}: {grid}")
    image = Image.new("RGB", (size, size))
    image.putdata([PALETTE[ch] for row in grid for ch in row])
    return image


def main(dest: str) -> None:
    out = Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    for size, icons in ((8, ICONS_8), (16, ICONS_16)):
        for name, grid in icons.items():
            draw(grid, size).save(out / f"{name}-{size}.png", optimize=True)
    print(f"{out}: {len(ICONS_8)} icons at 8x8 and 16x16")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "appliance/content/icons")
