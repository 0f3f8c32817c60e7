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

Accumulator width is part of what executes. llama.cpp's CUDA backend runs its F16 GEMMs (prompt
processing: batches over 16 tokens, which its own MMF/MMVF kernels do not take) through cuBLAS with
CUBLAS_COMPUTE_16F, i.e. FP16 accumulation, on NVIDIA except Volta. GeForce Ampere/Ada/Blackwell run
that at twice the FP32-accumulate tensor rate their profiles record as `fp16`, so their profiles
carry the FP16-accumulate peak as the extra column `fp16_acc16` (ACCUMULATE_VARIANTS); datacenter and
professional cards (A100, H100, L40S, RTX A6000, ...) run both at one rate and have no such column,
so `executed_column` falls back to `fp16` there, as it does on AMD and Volta. Quantized GGUF types
are not mapped: on Turing and later llama.cpp multiplies them with its own int8 MMQ kernels
(ggml_cuda_should_use_mmq), not cuBLAS. TinyChat (llm-awq) likewise accumulates its 4-bit
weight-only GEMMs in FP16 for half inputs (its prompt processing on an RTX 4090 measures above the
card's FP32-accumulate peak).
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

_GGML_F16_ACC16 = (
    "ggml-org/llama.cpp@00108827d87949b538ad1821f81a6b111827fcda:ggml/src/ggml-cuda/ggml-cuda.cu: "
    "batched_mul_mat_traits<GGML_TYPE_F16>::compute_type = CUBLAS_COMPUTE_16F, used by "
    "ggml_cuda_mul_mat_cublas for F16 weights unless dst->op_params[0] == GGML_PREC_F32 and switched to "
    "CUBLAS_COMPUTE_32F only where prefer_f32_output = cc == GGML_CUDA_CC_VOLTA || RDNA4 || CDNA; "
    "ggml_cuda_should_use_mmf (ggml-org/ggml@d99724f2b141fed9e1a9f402213506c081433465:src/ggml-cuda/mmf.cu) "
    "declines src1_ncols > 16, so prompt batches reach cuBLAS. Ollama vendors the same code "
    "(ollama/ollama@3824c0803be83b474e92905b44d72247f0356e29:ml/backend/ggml/ggml/src/ggml-cuda/ggml-cuda.cu: "
    "cu_compute_type = CUBLAS_COMPUTE_16F under GGML_PREC_DEFAULT)")
_TINYCHAT_F16_ACC16 = (
    "mit-han-lab/llm-awq@d6e797a42b9ef7778de8ee2352116e0f48a78d61: awq/quantize/qmodule.py WQLinear_GEMVFast."
    "forward runs awq_inference_engine.gemm_forward_cuda_new for 8 or more tokens, whose kernel "
    "(awq/kernels/csrc/quantization_new/gemm/gemm_cuda.cu) accumulates half inputs in half: "
    "'DTypeAccum = ... std::is_same<T, half>::value, half, float' and "
    "'mma.sync.aligned.m16n8k16.row.col.f16.f16.f16.f16'")

# Peak columns that exist only as what a runtime executes, never as a stated precision: column ->
# the stated precision's column it is a faster variant of (a profile lists it only where its rate
# differs, and it is at least that column's peak; engine/profiles.py checks both)
FP16_ACC16 = "fp16_acc16"  # FP16 tensor math with FP16 accumulation (GeForce: 2x the FP32-accumulate rate)
ACCUMULATE_VARIANTS: dict[str, str] = {FP16_ACC16: "fp16"}

EXECUTED: dict[tuple[str, str, str], tuple[str, str]] = {
    ("pytorch", "fp32", CONV_GROUP): ("tf32", _TORCH_TF32),
    ("pytorch", "fp32", MATMUL_GROUP): ("fp32", _TORCH_FP32_MM),
    ("tensorflow", "fp32", CONV_GROUP): ("tf32", _TF_TF32),
    ("tensorflow", "fp32", MATMUL_GROUP): ("tf32", _TF_TF32),
    ("tensorrt", "fp32", CONV_GROUP): ("tf32", _TRT_TF32),
    ("tensorrt", "fp32", MATMUL_GROUP): ("tf32", _TRT_TF32),
    ("llamacpp", "fp16", MATMUL_GROUP): (FP16_ACC16, _GGML_F16_ACC16),
    # TinyChat's 4-bit weight-only GEMM (prompt processing) multiplies the unpacked fp16 weights with
    # FP16 accumulation; its decode GEMV is memory-bound either way
    ("tinychat", "int4", MATMUL_GROUP): (FP16_ACC16, _TINYCHAT_F16_ACC16),
}
# runtime spellings of the corpus and users -> the family whose defaults they inherit
# (llama.cpp: every spelling users write; Ollama runs llama.cpp's vendored ggml CUDA backend)
_FAMILY_PREFIXES = (("pytorch", "pytorch"), ("torch", "pytorch"), ("tensorflow", "tensorflow"),
                    ("tf-", "tensorflow"), ("tensorrt", "tensorrt"), ("llamacpp", "llamacpp"),
                    ("llama.cpp", "llamacpp"), ("llama-cpp", "llamacpp"), ("llama_cpp", "llamacpp"),
                    ("ollama", "llamacpp"), ("tinychat", "tinychat"))
_TENSORRT_LLM = ("tensorrt-llm", "tensorrt_llm", "trt-llm")  # a different product with its own precisions


def runtime_family(runtime: str) -> str:
    """The framework whose precision defaults a runtime name inherits ("" = none known).
    pytorch-compile, pytorch-jit, ... are PyTorch; tensorrt-llm is not TensorRT's builder defaults;
    llama.cpp / llama-cpp / ollama are llama.cpp ("llamacpp")."""
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
