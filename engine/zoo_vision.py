"""Convolutional builders for the built-in zoo: ResNet-50, YOLOv8, diffusion UNets.

Networks are traced layer by layer from their published definitions at a fixed input size, with
a tiny shape-tracking helper; identical layers are merged into one `Operator` with a count.
All work is per sample (`flops_per_sample`), since the input resolution is fixed.
Conv: flops = 2 * k*k*Cin/groups * Cout * Hout*Wout; BatchNorm/GroupNorm weights count as
parameters (as torchvision/diffusers report them).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from phantom_report.engine.ir import Operator, Workload


@dataclass
class _Net:
    """Accumulates operators, merging identical ones (same name + shape) into counts."""

    ops: "OrderedDict[tuple, list]" = field(default_factory=OrderedDict)

    def add(self, name: str, op_class: str, flops: float, params: float, act: float,
            tokens: float = 0.0, ctx_flops: float = 0.0) -> None:
        key = (name, op_class, flops, params, act)
        if key in self.ops:
            self.ops[key][1] += 1
        else:
            self.ops[key] = [Operator(name=name, op_class=op_class, flops_per_sample=flops,
                                      params=params, act_elems_per_sample=act), 1]

    def conv(self, name: str, cin: int, cout: int, k: int, hw_in: int, stride: int = 1,
             bias: bool = False, norm: str | None = "bn", act: bool = True, groups: int = 1) -> int:
        hw_out = (hw_in + stride - 1) // stride  # 'same' padding
        self.add(name, "gemm" if k == 1 else "grouped_conv" if groups > 1 else "conv",
                 2.0 * k * k * cin // groups * cout * hw_out * hw_out,
                 k * k * cin // groups * cout + (cout if bias else 0),
                 cin * hw_in * hw_in + cout * hw_out * hw_out)
        if norm:
            self.add(f"{name}.{norm}", "norm", 0.0, 2 * cout, 2.0 * cout * hw_out * hw_out)
        if act:
            self.add(f"{name}.act", "elementwise", 0.0, 0, 2.0 * cout * hw_out * hw_out)
        return hw_out

    def operators(self) -> tuple[Operator, ...]:
        out = []
        for op, count in self.ops.values():
            out.append(Operator(**{**op.__dict__, "count": count}))
        return tuple(out)


def _workload(net: _Net, name: str, display: str, family: str, source: str, aliases, notes="",
              saved_act: float = 0.0, image_size: int = 224) -> Workload:
    ops = net.operators()
    total = float(sum(o.params * o.count for o in ops))
    # activations kept for backward: every layer output (what autograd saves without recompute)
    saved = saved_act or float(sum(o.act_elems_per_sample * o.count for o in ops)) / 2
    return Workload(name=name, display_name=display, family=family, operators=ops,
                    params_total=total, params_active=total, default_seq_len=1, seq_scalable=False,
                    saved_act_elems_per_token=saved, source=source, aliases=tuple(aliases), notes=notes,
                    image_size=image_size)


def _resnet_stem(net: _Net) -> tuple[int, int]:
    """7x7/2 conv + 3x3/2 max-pool on a 224x224 image: returns (side, channels) after the stem."""
    hw = net.conv("stem.conv7x7", 3, 64, 7, 224, stride=2)
    net.add("stem.maxpool", "pool", 0.0, 0, 64 * hw * hw * 1.25)
    return hw // 2, 64


def _classifier_head(net: _Net, cin: int, hw: int, classes: int = 1000) -> None:
    net.add("avgpool", "pool", 0.0, 0, cin * hw * hw + cin)
    net.add("fc", "gemm", 2.0 * cin * classes, cin * classes + classes, cin + classes)


def resnet50() -> Workload:
    """torchvision ResNet-50 v1.5 (stride on the 3x3 conv), 224x224."""
    net = _Net()
    hw, cin = _resnet_stem(net)
    for stage, (width, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)]):
        for b in range(blocks):
            stride = 2 if (b == 0 and stage > 0) else 1
            tag = f"layer{stage + 1}"
            net.conv(f"{tag}.conv1x1a", cin, width, 1, hw)
            hw_out = net.conv(f"{tag}.conv3x3", width, width, 3, hw, stride=stride)
            net.conv(f"{tag}.conv1x1b", width, width * 4, 1, hw_out, act=False)
            if b == 0:
                net.conv(f"{tag}.downsample", cin, width * 4, 1, hw, stride=stride, act=False)
            net.add(f"{tag}.residual_relu", "elementwise", 0.0, 0, 3.0 * width * 4 * hw_out * hw_out)
            cin, hw = width * 4, hw_out
    _classifier_head(net, cin, hw)
    return _workload(net, "resnet-50", "ResNet-50 (224x224)", "cnn",
                     "He et al. 2015 (arXiv:1512.03385) Table 1; torchvision resnet50 (v1.5)",
                     ("resnet50", "rn50", "resnet-50-v1.5", "resnet50v1.5", "resnet50_v1.5"))


def resnext101_32x4d(se: bool = False) -> Workload:
    """ResNeXt-101 32x4d (Xie et al. 2016), optionally with squeeze-excitation (Hu et al. 2017,
    reduction 16), 224x224, as in NVIDIA DeepLearningExamples' ConvNets."""
    net = _Net()
    hw, cin = _resnet_stem(net)
    for stage, (width, blocks) in enumerate([(128, 3), (256, 4), (512, 23), (1024, 3)]):
        cout = width * 2
        for b in range(blocks):
            stride = 2 if (b == 0 and stage > 0) else 1
            tag = f"layer{stage + 1}"
            net.conv(f"{tag}.conv1x1a", cin, width, 1, hw)
            hw_out = net.conv(f"{tag}.conv3x3g32", width, width, 3, hw, stride=stride, groups=32)
            net.conv(f"{tag}.conv1x1b", width, cout, 1, hw_out, act=False)
            if se:
                r = cout // 16
                net.add(f"{tag}.se.pool", "pool", 0.0, 0, cout * hw_out * hw_out + cout)
                net.add(f"{tag}.se.fc1", "gemm", 2.0 * cout * r, cout * r + r, cout + r)
                net.add(f"{tag}.se.fc2", "gemm", 2.0 * r * cout, r * cout + cout, cout + r)
                net.add(f"{tag}.se.scale", "elementwise", 0.0, 0, 2.0 * cout * hw_out * hw_out)
            if b == 0:
                net.conv(f"{tag}.downsample", cin, cout, 1, hw, stride=stride, act=False)
            net.add(f"{tag}.residual_relu", "elementwise", 0.0, 0, 3.0 * cout * hw_out * hw_out)
            cin, hw = cout, hw_out
    _classifier_head(net, cin, hw)
    if se:
        return _workload(net, "se-resnext101-32x4d", "SE-ResNeXt101-32x4d (224x224)", "cnn",
                         "Hu et al. 2017 (arXiv:1709.01507); NVIDIA DeepLearningExamples ConvNets se-resnext101-32x4d",
                         ("se-resnext101", "se_resnext101_32x4d", "seresnext101-32x4d"))
    return _workload(net, "resnext101-32x4d", "ResNeXt101-32x4d (224x224)", "cnn",
                     "Xie et al. 2016 (arXiv:1611.05431); NVIDIA DeepLearningExamples ConvNets resnext101-32x4d",
                     ("resnext101", "resnext101_32x4d", "resnext-101-32x4d"))


def efficientnet(variant: str) -> Workload:
    """EfficientNet-B0/B4 (Tan & Le 2019, arXiv:1905.11946): MBConv blocks with squeeze-excitation,
    compound-scaled width/depth/resolution, as in NVIDIA DeepLearningExamples and timm."""
    import math

    width, depth, image = {"b0": (1.0, 1.0, 224), "b4": (1.4, 1.8, 380)}[variant]

    def ch(c: int) -> int:  # round_filters: multiple of 8, never 10% below the scaled width
        c *= width
        new = max(8, int(c + 4) // 8 * 8)
        return int(new + 8 if new < 0.9 * c else new)

    net = _Net()
    hw = net.conv("stem.conv3x3", 3, ch(32), 3, image, stride=2)
    cin = ch(32)
    stages = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
              (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
    for s, (expand, k, stride, c_out, repeats) in enumerate(stages):
        cout = ch(c_out)
        for r in range(int(math.ceil(repeats * depth))):
            tag = f"stage{s}"
            st = stride if r == 0 else 1
            mid = cin * expand
            if expand != 1:
                net.conv(f"{tag}.expand", cin, mid, 1, hw)
            hw_out = net.conv(f"{tag}.dw{k}x{k}", mid, mid, k, hw, stride=st, groups=mid)
            se = max(1, int(cin * 0.25))
            net.add(f"{tag}.se.pool", "pool", 0.0, 0, mid * hw_out * hw_out + mid)
            net.add(f"{tag}.se.fc1", "gemm", 2.0 * mid * se, mid * se + se, mid + se)
            net.add(f"{tag}.se.fc2", "gemm", 2.0 * se * mid, se * mid + mid, mid + se)
            net.add(f"{tag}.se.scale", "elementwise", 0.0, 0, 2.0 * mid * hw_out * hw_out)
            net.conv(f"{tag}.project", mid, cout, 1, hw_out, act=False)
            if st == 1 and cin == cout:
                net.add(f"{tag}.residual", "elementwise", 0.0, 0, 3.0 * cout * hw_out * hw_out)
            cin, hw = cout, hw_out
    head = ch(1280)
    net.conv("head.conv1x1", cin, head, 1, hw)
    net.add("avgpool", "pool", 0.0, 0, head * hw * hw + head)
    net.add("fc", "gemm", 2.0 * head * 1000, head * 1000 + 1000, head + 1000)
    return _workload(net, f"efficientnet-{variant}", f"EfficientNet-{variant.upper()} ({image}x{image})", "cnn",
                     "Tan & Le 2019 (arXiv:1905.11946) Table 1 and compound scaling; NVIDIA DeepLearningExamples efficientnet",
                     (f"efficientnet_{variant}", f"efficientnet{variant}"), image_size=image)


def _c2f(net: _Net, tag: str, c1: int, c2: int, n: int, hw: int, shortcut: bool) -> None:
    c = c2 // 2
    net.conv(f"{tag}.cv1", c1, 2 * c, 1, hw)
    for _ in range(n):
        net.conv(f"{tag}.m.cv1", c, c, 3, hw)
        net.conv(f"{tag}.m.cv2", c, c, 3, hw)
        if shortcut:
            net.add(f"{tag}.m.add", "elementwise", 0.0, 0, 3.0 * c * hw * hw)
    net.conv(f"{tag}.cv2", (2 + n) * c, c2, 1, hw)


def yolov8m(image: int = 640) -> Workload:
    """Ultralytics YOLOv8-m (yolov8.yaml, scale m: depth 0.67, width 0.75, max_channels 768)."""
    net = _Net()
    w = lambda c: min(int(c * 0.75), 576)  # noqa: E731  width multiple, max_channels 768*0.75
    d = lambda n: max(round(n * 0.67), 1)  # noqa: E731
    hw = net.conv("b0.conv", 3, w(64), 3, image, stride=2)
    hw = net.conv("b1.conv", w(64), w(128), 3, hw, stride=2)
    _c2f(net, "b2.c2f", w(128), w(128), d(3), hw, True)
    hw = net.conv("b3.conv", w(128), w(256), 3, hw, stride=2)
    _c2f(net, "b4.c2f", w(256), w(256), d(6), hw, True)
    p3_hw = hw
    hw = net.conv("b5.conv", w(256), w(512), 3, hw, stride=2)
    _c2f(net, "b6.c2f", w(512), w(512), d(6), hw, True)
    p4_hw = hw
    hw = net.conv("b7.conv", w(512), w(1024), 3, hw, stride=2)
    _c2f(net, "b8.c2f", w(1024), w(1024), d(3), hw, True)
    c = w(1024) // 2  # SPPF
    net.conv("b9.sppf.cv1", w(1024), c, 1, hw)
    net.add("b9.sppf.maxpool", "pool", 0.0, 0, 3 * 2.0 * c * hw * hw)
    net.conv("b9.sppf.cv2", 4 * c, w(1024), 1, hw)
    p5_hw = hw
    # head (neck + detect)
    net.add("h.upsample", "elementwise", 0.0, 0, 5.0 * w(1024) * p4_hw * p4_hw)
    _c2f(net, "h12.c2f", w(1024) + w(512), w(512), d(3), p4_hw, False)
    net.add("h.upsample", "elementwise", 0.0, 0, 5.0 * w(512) * p3_hw * p3_hw)
    _c2f(net, "h15.c2f", w(512) + w(256), w(256), d(3), p3_hw, False)
    net.conv("h16.conv", w(256), w(256), 3, p3_hw, stride=2)
    _c2f(net, "h18.c2f", w(256) + w(512), w(512), d(3), p4_hw, False)
    net.conv("h19.conv", w(512), w(512), 3, p4_hw, stride=2)
    _c2f(net, "h21.c2f", w(512) + w(1024), w(1024), d(3), p5_hw, False)
    nc, reg_max = 80, 16
    chs = (w(256), w(512), w(1024))
    c2, c3 = max(16, chs[0] // 4, reg_max * 4), max(chs[0], min(nc, 100))
    for i, (ch, lvl_hw) in enumerate(zip(chs, (p3_hw, p4_hw, p5_hw))):
        net.conv(f"detect{i}.box.cv1", ch, c2, 3, lvl_hw)
        net.conv(f"detect{i}.box.cv2", c2, c2, 3, lvl_hw)
        net.conv(f"detect{i}.box.out", c2, 4 * reg_max, 1, lvl_hw, bias=True, norm=None, act=False)
        net.conv(f"detect{i}.cls.cv1", ch, c3, 3, lvl_hw)
        net.conv(f"detect{i}.cls.cv2", c3, c3, 3, lvl_hw)
        net.conv(f"detect{i}.cls.out", c3, nc, 1, lvl_hw, bias=True, norm=None, act=False)
    return _workload(net, "yolov8-m", f"YOLOv8-m ({image}x{image})", "detector",
                     "Ultralytics YOLOv8 model definition (ultralytics/cfg/models/v8/yolov8.yaml, scale m)",
                     ("yolov8m", "yolov8-medium"), image_size=image)


def _transformer2d(net: _Net, tag: str, ch: int, hw: int, heads: int, context_dim: int,
                   context_len: int, depth: int) -> None:
    """diffusers Transformer2DModel: norm, proj_in, `depth` x (self-attn, cross-attn, GEGLU FF), proj_out."""
    t = hw * hw
    net.add(f"{tag}.norm", "norm", 0.0, 2 * ch, 2.0 * ch * t)
    net.add(f"{tag}.proj_in", "gemm", 2.0 * ch * ch * t, ch * ch + ch, 2.0 * ch * t)
    for _ in range(depth):
        net.add(f"{tag}.ln", "norm", 0.0, 3 * 2 * ch, 3 * 2.0 * ch * t)
        net.add(f"{tag}.attn1.qkv", "gemm", 2.0 * ch * 3 * ch * t, 3 * ch * ch, 4.0 * ch * t)
        net.add(f"{tag}.attn1.core", "attention", 4.0 * ch * t * t, 0, 4.0 * ch * t)
        net.add(f"{tag}.attn1.out", "gemm", 2.0 * ch * ch * t, ch * ch + ch, 2.0 * ch * t)
        net.add(f"{tag}.attn2.q", "gemm", 2.0 * ch * ch * t, ch * ch, 2.0 * ch * t)
        net.add(f"{tag}.attn2.kv", "gemm", 2.0 * context_dim * 2 * ch * context_len, 2 * context_dim * ch,
                (context_dim + 2 * ch) * context_len)
        net.add(f"{tag}.attn2.core", "attention", 4.0 * ch * t * context_len, 0, 2.0 * ch * t)
        net.add(f"{tag}.attn2.out", "gemm", 2.0 * ch * ch * t, ch * ch + ch, 2.0 * ch * t)
        net.add(f"{tag}.ff.geglu", "gemm", 2.0 * ch * 8 * ch * t, ch * 8 * ch + 8 * ch, 9.0 * ch * t)
        net.add(f"{tag}.ff.out", "gemm", 2.0 * 4 * ch * ch * t, 4 * ch * ch + ch, 5.0 * ch * t)
        net.add(f"{tag}.residual", "elementwise", 0.0, 0, 9.0 * ch * t)
    net.add(f"{tag}.proj_out", "gemm", 2.0 * ch * ch * t, ch * ch + ch, 2.0 * ch * t)


def _resnet_block(net: _Net, tag: str, cin: int, cout: int, hw: int, temb: int) -> None:
    n = hw * hw
    net.add(f"{tag}.norm1", "norm", 0.0, 2 * cin, 2.0 * cin * n)
    net.conv(f"{tag}.conv1", cin, cout, 3, hw, bias=True, norm=None, act=False)
    net.add(f"{tag}.time_emb_proj", "gemm", 2.0 * temb * cout, temb * cout + cout, temb + cout)
    net.add(f"{tag}.norm2", "norm", 0.0, 2 * cout, 2.0 * cout * n)
    net.conv(f"{tag}.conv2", cout, cout, 3, hw, bias=True, norm=None, act=False)
    net.add(f"{tag}.silu_residual", "elementwise", 0.0, 0, 6.0 * cout * n)
    if cin != cout:
        net.conv(f"{tag}.shortcut", cin, cout, 1, hw, bias=True, norm=None, act=False)


def unet(name: str, display: str, *, latent: int, channels: tuple[int, ...], attn: tuple[int, ...],
         head_dim: int | None, heads: int | None, context_dim: int, context_len: int,
         add_embed_in: int = 0, source: str, aliases=()) -> Workload:
    """diffusers UNet2DConditionModel, one denoising step (one UNet evaluation; classifier-free
    guidance runs two per step, which a batch of 2 represents). attn[i] = transformer depth of
    level i (0 = no attention)."""
    net = _Net()
    c0 = channels[0]
    temb = 4 * c0
    net.add("time_embedding", "gemm", 2.0 * (c0 * temb + temb * temb), c0 * temb + temb + temb * temb + temb,
            c0 + 2 * temb)
    if add_embed_in:
        net.add("add_embedding", "gemm", 2.0 * (add_embed_in * temb + temb * temb),
                add_embed_in * temb + temb + temb * temb + temb, add_embed_in + 2 * temb)
    hw = latent
    net.conv("conv_in", 4, c0, 3, hw, bias=True, norm=None, act=False)

    def nheads(ch: int) -> int:
        return heads if heads else ch // head_dim

    skips = [c0]
    cin = c0
    for lvl, ch in enumerate(channels):
        for _ in range(2):
            _resnet_block(net, f"down{lvl}.resnet", cin, ch, hw, temb)
            cin = ch
            if attn[lvl]:
                _transformer2d(net, f"down{lvl}.attn", ch, hw, nheads(ch), context_dim, context_len, attn[lvl])
            skips.append(ch)
        if lvl < len(channels) - 1:
            hw = net.conv(f"down{lvl}.downsample", ch, ch, 3, hw, stride=2, bias=True, norm=None, act=False)
            skips.append(ch)
    ch = channels[-1]
    _resnet_block(net, "mid.resnet", ch, ch, hw, temb)
    _transformer2d(net, "mid.attn", ch, hw, nheads(ch), context_dim, context_len, max(attn[-1], attn[-2], 1))
    _resnet_block(net, "mid.resnet", ch, ch, hw, temb)
    for lvl in reversed(range(len(channels))):
        ch = channels[lvl]
        for _ in range(3):
            skip = skips.pop()
            _resnet_block(net, f"up{lvl}.resnet", cin + skip, ch, hw, temb)
            cin = ch
            if attn[lvl]:
                _transformer2d(net, f"up{lvl}.attn", ch, hw, nheads(ch), context_dim, context_len, attn[lvl])
        if lvl > 0:
            net.add(f"up{lvl}.upsample", "elementwise", 0.0, 0, 5.0 * ch * hw * hw)
            hw *= 2
            net.conv(f"up{lvl}.upsample_conv", ch, ch, 3, hw, bias=True, norm=None, act=False)
    net.add("conv_norm_out", "norm", 0.0, 2 * c0, 2.0 * c0 * hw * hw)
    net.conv("conv_out", c0, 4, 3, hw, bias=True, norm=None, act=False)
    return _workload(net, name, display, "diffusion", source, aliases,
                     notes="one UNet evaluation (one denoising step at batch 1; CFG doubles the batch)",
                     image_size=latent * 8)


def sd15_unet() -> Workload:
    """Stable Diffusion 1.5 UNet, one denoising step at 512x512 (64x64 latent)."""
    # SD 1.5 mid block uses one transformer; levels 0-2 have attention depth 1, level 3 none
    return unet("sd-1.5-unet", "Stable Diffusion 1.5 UNet (512x512, per step)", latent=64,
                channels=(320, 640, 1280, 1280), attn=(1, 1, 1, 0), head_dim=None, heads=8,
                context_dim=768, context_len=77,
                source="runwayml/stable-diffusion-v1-5 unet/config.json (diffusers UNet2DConditionModel)",
                # only UNet names: "sd-1.5" / "stable-diffusion-v1-5" mean the whole pipeline (text
                # encoder + N denoising steps + VAE), a different workload
                aliases=("sd15-unet", "sd-1.5-unet-512", "unet-sd15"))


def sdxl_unet() -> Workload:
    """SDXL base UNet, one denoising step at 1024x1024 (128x128 latent)."""
    return unet("sdxl-unet", "SDXL base UNet (1024x1024, per step)", latent=128,
                channels=(320, 640, 1280), attn=(0, 2, 10), head_dim=64, heads=None,
                context_dim=2048, context_len=77, add_embed_in=2816,
                source="stabilityai/stable-diffusion-xl-base-1.0 unet/config.json (diffusers UNet2DConditionModel)",
                aliases=("sdxl-base-unet", "unet-sdxl"))
