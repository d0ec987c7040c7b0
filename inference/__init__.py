"""The analysis pipeline, without Flask: decoding, detectors, alignment, classifiers, calibration, video.

Importing it turns ONNX Runtime's telemetry off, before anything imports ONNX Runtime (the variable is read at its
import): left on, every process that opens a session queues events (model file names, the Python path, the CPU, a
persistent device id) in ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ and a background thread looks up
Microsoft's collector to send them (seen in a running app's DNS lookups). Nothing here may reach the network."""

import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"
