"""Training of pdm-stream models: labelled pdm-v1 feature rows -> tree ensemble -> ONNX model package."""
