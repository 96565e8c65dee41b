#!/usr/bin/env python3
"""Draws data/camera_labels.png, the hand-made class-region label image for data/camera.png.

Run from the repository root with Python 3 and Pillow (any recent version), e.g. in a
scratch virtual environment outside the repository:

    python3 -m venv /tmp/skvenv && /tmp/skvenv/bin/pip install pillow
    /tmp/skvenv/bin/python data/make_labels.py

The output is an 8-bit grayscale PNG of 512 x 512 pixels whose values are the labels
0..5 (see data/README.md). Every region is drawn from the literal pixel coordinates
below, read off data/camera.png by eye (x = column, y = row, origin top left). Later
shapes paint over earlier ones, so the order of the drawing steps matters.
With --check PATH the script also writes an RGB overlay of the label boundaries on the
photo to PATH (for looking at, not committed).
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
PHOTO = HERE / "camera.png"
OUT = HERE / "camera_labels.png"
W = H = 512

SKY, HORIZON, GRASS, BODY, HEAD, CAMERA = range(6)

# y of the first grass row along the whole width (the horizon line)
GRASS_TOP = 234

# Buildings and trees on the horizon, left of the man (partly hidden by his coat,
# which is drawn over it later).
HORIZON_LEFT = [(0, 177), (8, 175), (30, 176), (33, 172), (53, 171), (60, 171),
                (60, GRASS_TOP), (0, GRASS_TOP)]

# Buildings, domes, tower and trees right of the man (the part behind his face and
# the camera is painted over by the head and camera shapes).
HORIZON_RIGHT = [(236, 180), (330, 179), (332, 171), (346, 170), (352, 167),
                 (362, 165), (376, 166), (386, 171), (396, 178), (404, 186),
                 (411, 186), (411, 131), (414, 127), (420, 123), (421, 117),
                 (428, 115), (432, 120), (432, 186), (449, 186), (450, 162),
                 (470, 161), (471, 176), (492, 176), (494, 182), (512, 181),
                 (512, GRASS_TOP), (236, GRASS_TOP)]

# The small white tent standing on the grass line right of the camera.
TENT = [(324, GRASS_TOP), (329, 229), (337, 228), (343, 236), (343, 241), (324, 241)]

# The man's coat, gloves and trousers (one outline, clockwise from the shoulder).
BODY_OUTLINE = [
    (130, 118), (150, 106), (162, 104),           # collar behind the neck
    (200, 150), (212, 190),                       # under the head (head drawn on top)
    (225, 190), (240, 190),                       # glove under the chin
    (242, 205), (258, 210), (262, 207),           # hand holding the pan bar
    (288, 208), (292, 212), (298, 232),           # hand and wrist left of the column
    (304, 245), (305, 262), (304, 280),           # sleeve right of the column
    (290, 285), (280, 292), (260, 307),           # underside of the sleeve
    (245, 312), (230, 305), (206, 294),           # ... up to the armpit
    (192, 319), (180, 337), (167, 352),           # front edge of the coat
    (155, 365), (142, 377), (143, 383),
    (147, 420), (150, 511), (0, 511),             # down to the bottom edge
    (0, 260), (8, 250), (17, 237), (25, 222),     # back of the coat
    (32, 208), (40, 193), (48, 183), (57, 170),
    (70, 150), (100, 135),
]

# The right glove holding the camera, with the wrist strap joining it to the sleeve.
GLOVE_RIGHT = [(307, 178), (315, 170), (322, 167), (329, 170), (332, 180),
               (331, 200), (326, 215), (318, 228), (310, 234), (306, 246),
               (298, 246), (299, 232), (299, 194), (305, 190)]

# The small gap between the glove under the chin and the hand on the pan bar, where the
# background shows through: buildings above the horizon line, grass below it.
GAP_HORIZON = [(245, 210), (258, 210), (255, GRASS_TOP - 1), (247, GRASS_TOP - 1)]
GAP_GRASS = [(247, GRASS_TOP), (255, GRASS_TOP), (250, 244)]

# Hair, face, ear and the white shirt collar.
HEAD_OUTLINE = [(205, 63), (228, 66), (248, 76), (262, 90), (270, 104),
                (272, 118), (264, 128), (258, 140), (256, 152), (254, 163),
                (249, 170), (243, 176), (240, 184), (234, 191), (218, 192),
                (202, 191), (190, 206), (178, 212), (170, 190), (162, 160),
                (158, 150), (160, 130), (160, 112), (166, 98), (178, 84), (190, 70)]

# Camera body with eyepiece and mount.
CAMERA_BODY = [(251, 140), (262, 136), (322, 137), (326, 142), (326, 178),
               (310, 180), (310, 194), (273, 194), (273, 180), (260, 178),
               (258, 156), (251, 155)]

# Tripod: centre column, head, legs, feet, spreaders, handles (polygons and thick lines).
TRIPOD_POLYGONS = [
    [(288, 190), (298, 190), (298, 488), (288, 488)],                      # column
    [(279, 312), (310, 312), (312, 332), (300, 346), (285, 346), (279, 332)],  # head
    [(279, 330), (290, 330), (248, 511), (230, 511)],                      # left leg
    [(305, 330), (313, 330), (411, 511), (400, 511)],                      # right leg
    [(287, 472), (303, 472), (303, 489), (287, 489)],                      # column clamp
    [(230, 485), (247, 485), (247, 502), (230, 502)],                      # left foot
    [(381, 472), (392, 472), (397, 490), (386, 490)],                      # right foot
]
TRIPOD_LINES = [  # (start, end, width)
    ((241, 206), (291, 206), 5),   # pan bar under the camera
    ((307, 318), (336, 303), 6),   # tilt handle
    ((256, 463), (292, 479), 6),   # spreader to the left leg
    ((247, 483), (388, 482), 3),   # spreader to the right leg
]


def draw() -> Image.Image:
    img = Image.new("L", (W, H), GRASS)
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, W - 1, GRASS_TOP - 1], fill=SKY)
    d.polygon(HORIZON_LEFT, fill=HORIZON)
    d.polygon(HORIZON_RIGHT, fill=HORIZON)
    d.polygon(TENT, fill=HORIZON)
    d.polygon(BODY_OUTLINE, fill=BODY)
    d.polygon(GLOVE_RIGHT, fill=BODY)
    d.polygon(GAP_HORIZON, fill=HORIZON)
    d.polygon(GAP_GRASS, fill=GRASS)
    d.polygon(HEAD_OUTLINE, fill=HEAD)
    d.polygon(CAMERA_BODY, fill=CAMERA)
    for poly in TRIPOD_POLYGONS:
        d.polygon(poly, fill=CAMERA)
    for a, b, width in TRIPOD_LINES:
        d.line([a, b], fill=CAMERA, width=width)
    return img


def overlay(labels: Image.Image, path: str) -> None:
    photo = Image.open(PHOTO).convert("RGB")
    lab = labels.load()
    px = photo.load()
    colours = [(255, 0, 0), (255, 160, 0), (0, 200, 0), (0, 120, 255), (255, 0, 255),
               (0, 255, 255)]
    for y in range(H):
        for x in range(W):
            here = lab[x, y]
            edge = (x + 1 < W and lab[x + 1, y] != here) or (y + 1 < H and lab[x, y + 1] != here)
            if edge:
                px[x, y] = colours[here]
    photo = photo.resize((2 * W, 2 * H), Image.NEAREST)
    photo.save(path)


def main() -> None:
    labels = draw()
    used = [v for v, count in enumerate(labels.histogram()) if count]
    assert used == list(range(6)), used
    labels.save(OUT, optimize=True)
    print(f"wrote {OUT} ({W}x{H}, labels {used})")
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        overlay(labels, sys.argv[2])
        print(f"wrote overlay {sys.argv[2]}")


if __name__ == "__main__":
    main()
