"""Reads a TensorBoard log directory with TensorBoard's own reader (EventAccumulator) and prints its scalars and
images as JSON: {"scalars": {tag: [[step, value], ...]}, "images": {tag: [[step, width, height, png_bytes], ...]},
"files": n}. Used by Tests/TrainingTests/TensorBoardTests.swift to check stmae's event files.

usage: python3 read_tfevents.py LOG_DIR
"""
import glob
import json
import os
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main(log_dir):
    acc = EventAccumulator(log_dir, size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]}
    images = {
        t: [[e.step, e.width, e.height, len(e.encoded_image_string)] for e in acc.Images(t)]
        for t in tags["images"]
    }
    # PNG signature of every image (the bytes TensorBoard would show)
    png = all(
        e.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n" for t in tags["images"] for e in acc.Images(t)
    )
    files = len(glob.glob(os.path.join(log_dir, "events.out.tfevents.*")))
    print(json.dumps({"scalars": scalars, "images": images, "png": png, "files": files}))


if __name__ == "__main__":
    main(sys.argv[1])
