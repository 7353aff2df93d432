"""The privacy step: every frame that leaves the relay has passed ``PrivacyStage.process``.

``filter`` defines what a privacy filter is, ``pixelate`` the irreversible blur, ``stage`` the
watchdog that runs a filter in a worker thread and fails closed, ``factory`` picks the filter
for a privacy mode.

The layered filter (modes ``people`` and ``faces``) is ``layered``, built from: ``faces`` (the
``FaceDetector`` interface, CenterFace on onnxruntime), ``scan`` (which part of the frame the
detector searches on each frame: coarse pass, tiled sweep, moving regions, checks of held
faces), ``tracker`` (boxes held, enlarged and led along their motion), ``motion`` (MOG2 moving
regions) and ``zones`` (a site's always-blurred polygons).
"""
