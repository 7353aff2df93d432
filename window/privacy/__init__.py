"""The privacy step: every frame that leaves the relay has passed ``PrivacyStage.process``.

``filter`` defines what a privacy filter is, ``pixelate`` the irreversible blur, ``stage`` the
watchdog that runs a filter in a worker thread and fails closed, ``factory`` picks the filter
for a privacy mode.
"""
