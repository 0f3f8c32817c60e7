"""What a runtime actually executes for a stated precision: framework defaults are physics.

A benchmark row labelled "fp32" does not say which math units ran it: on NVIDIA Ampere and later,
PyTorch runs cuDNN convolutions in TF32 by default (but not matmuls, since 1.12), TensorFlow (since
2.4) and TensorRT run both in TF32. The predictor therefore asks `executed_column` for the compute
column of each operator group instead of using the stated precision's; the plausibility filter
(`engine/plausibility.py`) compares a row with the peak of what actually ran.

`EXECUTED` maps (runtime family, stated precision, op group) -> (executed compute column, source).
Op groups: "conv" (convolutions, grouped or not) and "matmul" (GEMMs and the attention core).
An entry applies only where the GPU has the executed column (TF32 exists on NVIDIA Ampere and
later; PyTorch on ROCm does not use the MI-series XF32 unless HIPBLASLT_ALLOW_TF32 is set, so AMD
GPUs run the stated fp32). Absent entries: the stated precision's own column.
"""

from __future__ import annotations

from phantom_report.engine.precision import COMPUTE_COLUMN

CONV_GROUP, MATMUL_GROUP = "conv", "matmul"
CONV_CLASSES = frozenset({"conv", "grouped_conv"})  # IR op classes run by the convolution libraries

_TORCH_TF32 = ("PyTorch docs, CUDA semantics, 'TensorFloat-32 (TF32) on Ampere (and later) devices': "
               "torch.backends.cudnn.allow_tf32 defaults to True")
_TORCH_FP32_MM = ("PyTorch docs, same section: torch.backends.cuda.matmul.allow_tf32 defaults to False "
                  "since PyTorch 1.12")
_TF_TF32 = ("tf.config.experimental.enable_tensor_float_32_execution (TF >= 2.4): 'TensorFloat-32 is "
            "enabled by default' for float32 ops such as matrix multiplications and convolutions")
_TRT_TF32 = ("TensorRT Python API, tensorrt.BuilderFlag.TF32: 'Allow (but not require) computations on "
             "tensors of type DataType.FLOAT to use TF32 ... Enabled by default' (TensorRT >= 7.1)")

EXECUTED: dict[tuple[str, str, str], tuple[str, str]] = {
    ("pytorch", "fp32", CONV_GROUP): ("tf32", _TORCH_TF32),
    ("pytorch", "fp32", MATMUL_GROUP): ("fp32", _TORCH_FP32_MM),
    ("tensorflow", "fp32", CONV_GROUP): ("tf32", _TF_TF32),
    ("tensorflow", "fp32", MATMUL_GROUP): ("tf32", _TF_TF32),
    ("tensorrt", "fp32", CONV_GROUP): ("tf32", _TRT_TF32),
    ("tensorrt", "fp32", MATMUL_GROUP): ("tf32", _TRT_TF32),
}
# runtime spellings of the corpus and users -> the family whose defaults they inherit
_FAMILY_PREFIXES = (("pytorch", "pytorch"), ("torch", "pytorch"), ("tensorflow", "tensorflow"),
                    ("tf-", "tensorflow"), ("tensorrt", "tensorrt"))
_TENSORRT_LLM = ("tensorrt-llm", "tensorrt_llm", "trt-llm")  # a different product with its own precisions


def runtime_family(runtime: str) -> str:
    """The framework whose precision defaults a runtime name inherits ("" = none known).
    pytorch-compile, pytorch-jit, ... are PyTorch; tensorrt-llm is not TensorRT's builder defaults."""
    r = runtime.strip().lower()
    if r.startswith(_TENSORRT_LLM):
        return ""
    for prefix, family in _FAMILY_PREFIXES:
        if r == family or r.startswith(prefix):
            return family
    return ""


def executed_column(runtime: str, precision: str, group: str, has_column) -> str:
    """Compute column an op group runs at. has_column(column) -> whether the GPU has that peak."""
    entry = EXECUTED.get((runtime_family(runtime), precision, group))
    if entry and has_column(entry[0]):
        return entry[0]
    return COMPUTE_COLUMN[precision]
