#!/usr/bin/env python3
"""Writes torchvision's ImageNet VGG16 convolution blocks 1-3 as a libderain VGG16 features file,
the weights of derain-train's perceptual loss (--vgg-weights).

    pip install torch torchvision
    python3 make_vgg16_features.py vgg16_features.derain

The file is a libderain container (see libderain/src/model_file.h): magic "DERAINv\\0", u32 format
version 1, u32 kind 1, u64 total size, meta {"content": "vgg16-features"}, then the float32 tensors
"features.<i>.weight" / "features.<i>.bias" for the seven convs i in {0, 2, 5, 7, 10, 12, 14}
(torchvision's names), and a CRC-32 of everything before it. Little-endian throughout.
"""
import struct
import sys
import zlib

KEEP = {0, 2, 5, 7, 10, 12, 14}  # the convs of vgg16.features[0:16], up to relu3_3
FLOAT32 = 1                       # libderain's dtype code for float32


def _string32(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def write_features(path, tensors):
    """tensors: list of (name, shape tuple, little-endian float32 bytes)."""
    body = struct.pack("<I", 1)  # one meta entry
    value = b"vgg16-features"
    body += _string32(b"content") + struct.pack("<Q", len(value)) + value
    body += struct.pack("<I", len(tensors))
    for name, shape, raw in tensors:
        body += _string32(name.encode()) + struct.pack("<BB", FLOAT32, len(shape))
        body += struct.pack("<%dq" % len(shape), *shape) + struct.pack("<Q", len(raw)) + raw
    head = b"DERAINv\0" + struct.pack("<II", 1, 1)  # magic, format version, kind (model)
    data = head + struct.pack("<Q", len(head) + 8 + len(body) + 4) + body
    with open(path, "wb") as f:
        f.write(data + struct.pack("<I", zlib.crc32(data) & 0xFFFFFFFF))


def main():
    import torchvision  # imported here so write_features works without torch

    out = sys.argv[1] if len(sys.argv) > 1 else "vgg16_features.derain"
    vgg = torchvision.models.vgg16(weights=torchvision.models.VGG16_Weights.IMAGENET1K_V1)
    tensors = []
    for key, value in vgg.features.state_dict().items():
        if int(key.split(".")[0]) in KEEP:
            array = value.detach().float().contiguous().numpy().astype("<f4")
            tensors.append(("features." + key, tuple(array.shape), array.tobytes()))
    write_features(out, tensors)
    print("wrote %s (%d tensors)" % (out, len(tensors)))


if __name__ == "__main__":
    main()
