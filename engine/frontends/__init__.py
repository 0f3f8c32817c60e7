"""Model front ends: user models (Hugging Face configs, ONNX, PyTorch, TensorFlow) -> workload IR.

`phantom_report.engine.sources.load_workload` picks the front end; each module here turns one
kind of source into a `Workload` and never imports the others' heavy libraries.
"""
