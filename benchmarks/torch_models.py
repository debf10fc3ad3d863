"""PyTorch twins of tmdflow's network families (src/tmdflow/learn/{resnet,unet,autoencoder,detector}.cpp).

Same layers, same order, same names: a state dict exported by tmdflow (learn::export_state_dict)
loads into build(family, params) with load_state_dict(strict=True) and gives the same outputs.
Used by the interop test (tests/learn/test_model_file.cpp, check_pytorch_twins.py) and the side-by-side benchmark
(benchmarks/bench_models_torch.py). params: the NetworkSpec's key = value text, defaults as in C++.
"""
import math

import torch
from torch import nn
import torch.nn.functional as F


class Params:
    def __init__(self, family, params):
        self.family, self.params, self.read = family, dict(params), set()

    def integer(self, key, default):
        self.read.add(key)
        return int(self.params.get(key, default))

    def integers(self, key, default):
        self.read.add(key)
        s = str(self.params.get(key, default))
        return [] if s in ("", "none") else [int(v) for v in s.split(",")]

    def text(self, key, default):
        self.read.add(key)
        return str(self.params.get(key, default))

    def norm(self):
        return self.text("norm", "batch"), self.integer("groups", 8)

    def finish(self):
        unknown = set(self.params) - self.read
        if unknown:
            raise ValueError(f"network {self.family}: unknown keys {sorted(unknown)}")


def make_norm(norm, channels):
    kind, groups = norm
    return nn.GroupNorm(math.gcd(channels, groups), channels) if kind == "group" else nn.BatchNorm2d(channels)


def conv3x3(cin, cout, stride=1, dilation=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)


def conv_norm_relu(cin, cout, norm, stride=1, dilation=1):
    return [conv3x3(cin, cout, stride, dilation), make_norm(norm, cout), nn.ReLU(inplace=True)]


class Block(nn.Module):
    def __init__(self, cin, planes, stride, bottleneck, norm):
        super().__init__()
        out = planes * 4 if bottleneck else planes
        if bottleneck:
            self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
            self.bn1 = make_norm(norm, planes)
            self.conv2 = conv3x3(planes, planes, stride)
            self.bn2 = make_norm(norm, planes)
            self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
            self.bn3 = make_norm(norm, out)
        else:
            self.conv1 = conv3x3(cin, planes, stride)
            self.bn1 = make_norm(norm, planes)
            self.conv2 = conv3x3(planes, planes)
            self.bn2 = make_norm(norm, planes)
            self.conv3 = None
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride=stride, bias=False), make_norm(norm, out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(y))
        if self.conv3 is not None:
            y = self.bn3(self.conv3(F.relu(y, inplace=True)))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x), inplace=True)


class ResNet(nn.Module):
    def __init__(self, p):
        super().__init__()
        layout = p.integer("layout", 18)
        width = p.integer("width", 64)
        cin = p.integer("in_channels", 1)
        outputs = p.integer("outputs", 2)
        head = p.integers("head", "512")
        self.small_stem = p.text("stem", "imagenet") == "small"
        norm = p.norm()
        bottleneck = layout == 50
        blocks = [2, 2, 2, 2] if layout == 18 else [3, 4, 6, 3]
        self.conv1 = conv3x3(cin, width) if self.small_stem else nn.Conv2d(cin, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = make_norm(norm, width)
        channels = width
        for stage in range(4):
            planes = width << stage
            layer = []
            for b in range(blocks[stage]):
                layer.append(Block(channels, planes, 2 if (b == 0 and stage > 0) else 1, bottleneck, norm))
                channels = planes * 4 if bottleneck else planes
            setattr(self, f"layer{stage + 1}", nn.Sequential(*layer))
        layers = []
        for hidden in head:
            layers += [nn.Linear(channels, hidden), nn.ReLU(inplace=True)]
            channels = hidden
        layers.append(nn.Linear(channels, outputs))
        self.head = nn.Sequential(*layers)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)), inplace=True)
        if not self.small_stem:
            x = F.max_pool2d(x, 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.head(x.mean((2, 3)))


def double_conv(cin, cout, norm):
    return nn.Sequential(*conv_norm_relu(cin, cout, norm), *conv_norm_relu(cout, cout, norm))


class UNet(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.levels = p.integer("levels", 4)
        base = p.integer("base", 32)
        cin = p.integer("in_channels", 1)
        classes = p.integer("classes", 2)
        norm = p.norm()
        self.down = nn.ModuleList()
        for level in range(self.levels):
            self.down.append(double_conv(cin, base << level, norm))
            cin = base << level
        self.up = nn.ModuleList([nn.ConvTranspose2d(base << (l + 1), base << l, 2, stride=2) for l in range(self.levels - 1)])
        self.dec = nn.ModuleList([double_conv(2 * (base << l), base << l, norm) for l in range(self.levels - 1)])
        self.head = nn.Conv2d(base, classes, 1)

    def forward(self, x):
        skips = []
        for level in range(self.levels):
            if level > 0:
                x = F.max_pool2d(x, 2, 2)
            x = self.down[level](x)
            skips.append(x)
        for level in range(self.levels - 2, -1, -1):
            skip = skips[level]
            x = self.up[level](x)
            dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
            if dy > 0 or dx > 0:
                x = F.pad(x, (0, dx, 0, dy))
            x = self.dec[level](torch.cat([skip, x], 1))
        return self.head(x)


class Autoencoder(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.size = p.integer("size", 64)
        cin = p.integer("in_channels", 1)
        base = p.integer("base", 16)
        levels = p.integer("levels", 3)
        latent = p.integer("latent", 32)
        norm = p.norm()
        enc, channels = [], cin
        for level in range(levels):
            enc += conv_norm_relu(channels, base << level, norm, stride=2)
            channels = base << level
        self.encoder = nn.Sequential(*enc)
        self.deep_channels, self.deep_size = channels, self.size >> levels
        flat = channels * self.deep_size ** 2
        self.to_latent = nn.Linear(flat, latent)
        self.from_latent = nn.Linear(latent, flat)
        dec = []
        for level in range(levels - 1, -1, -1):
            out = base << max(level - 1, 0)
            dec += [nn.ConvTranspose2d(channels, out, 4, stride=2, padding=1, bias=False), make_norm(norm, out),
                    nn.ReLU(inplace=True)]
            channels = out
        dec.append(nn.Conv2d(channels, cin, 3, padding=1))
        self.decoder = nn.Sequential(*dec)

    def encode(self, x):
        return self.to_latent(self.encoder(x).flatten(1))

    def decode(self, z):
        x = F.relu(self.from_latent(z)).view(z.shape[0], self.deep_channels, self.deep_size, self.deep_size)
        return self.decoder(x)

    def forward(self, x):
        return self.decode(self.encode(x))


class Detector(nn.Module):
    def __init__(self, p):
        super().__init__()
        classes = p.integer("classes", 1)
        cin = p.integer("in_channels", 1)
        base = p.integer("base", 16)
        depth = p.integer("depth", 4)
        stride = p.integer("stride", 1)
        norm = p.norm()
        halvings = int(round(math.log2(stride)))
        body, channels, dilation = [], cin, 1
        for block in range(depth):
            halve = block < halvings
            out = base << min(block + 1, halvings)
            body += conv_norm_relu(channels, out, norm, 2 if halve else 1, 1 if halve else dilation)
            if not halve:
                dilation = min(dilation * 2, 8)
            channels = out
        self.body = nn.Sequential(*body)
        self.maps = nn.Conv2d(channels, classes, 1)

    def forward(self, x):
        return self.maps(self.body(x))


def standardise(x):
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) / ((x - m).pow(2).mean(dim=(1, 2, 3), keepdim=True) + 1e-10).sqrt()


class ContentEncoder(nn.Module):
    def __init__(self, base, content):
        super().__init__()
        self.c1 = nn.Conv2d(1, base, 3, stride=2, padding=1)
        self.c2 = nn.Conv2d(base, content, 3, stride=2, padding=1)
        self.n2 = nn.InstanceNorm2d(content)
        self.r1 = nn.Conv2d(content, content, 3, padding=1)
        self.nr1 = nn.InstanceNorm2d(content)
        self.r2 = nn.Conv2d(content, content, 3, padding=1)
        self.nr2 = nn.InstanceNorm2d(content)

    def forward(self, x):
        h = F.relu(self.n2(self.c2(F.relu(self.c1(x)))))
        return h + self.nr2(self.r2(F.relu(self.nr1(self.r1(h)))))


class Generator(nn.Module):
    def __init__(self, base, content, attribute):
        super().__init__()
        self.attribute = attribute
        self.g1 = nn.Conv2d(content + attribute, content, 3, padding=1)
        self.n1 = nn.InstanceNorm2d(content)
        self.g2 = nn.Conv2d(content, 2 * base, 3, padding=1)
        self.n2 = nn.InstanceNorm2d(2 * base)
        self.g3 = nn.Conv2d(2 * base, base, 3, padding=1)
        self.n3 = nn.InstanceNorm2d(base)
        self.out = nn.Conv2d(base + 1, 1, 3, padding=1)
        self.noise_half = nn.Linear(attribute, 2 * base)
        self.noise_full = nn.Linear(attribute, base)

    def forward(self, content, code, skip, noise_half, noise_full):
        n = content.shape[0]
        z = code.view(n, self.attribute, 1, 1).expand(n, self.attribute, content.shape[2], content.shape[3])
        h = F.relu(self.n1(self.g1(torch.cat([content, z], 1))))
        h = self.n2(self.g2(F.interpolate(h, scale_factor=2.0, mode="nearest"))) + noise_half * self.noise_half(code).view(n, -1, 1, 1)
        h = self.n3(self.g3(F.interpolate(F.relu(h), scale_factor=2.0, mode="nearest"))) + noise_full * self.noise_full(code).view(n, -1, 1, 1)
        return skip + self.out(torch.cat([F.relu(h), skip], 1))


class StyleTranslator(nn.Module):
    """learn/style_translator.hpp: the simulation -> experiment path (content encoder, generator, code)."""

    def __init__(self, p):
        super().__init__()
        base, content, attribute = p.integer("base", 8), p.integer("content", 32), p.integer("attribute", 8)
        self.encoder = ContentEncoder(base, content)
        self.generator = Generator(base, content, attribute)
        self.register_buffer("code", torch.zeros(1, attribute))

    def forward(self, x):
        n, _, h, w = x.shape
        xs = standardise(x)
        code = self.code.expand(n, -1)
        return standardise(self.generator(self.encoder(xs), code, xs, torch.randn(n, 1, h // 2, w // 2), torch.randn(n, 1, h, w)))


FAMILIES = {"resnet": ResNet, "unet": UNet, "autoencoder": Autoencoder, "detector": Detector, "style-translator": StyleTranslator}


def build(family, params):
    p = Params(family, params)
    model = FAMILIES[family](p)
    p.finish()
    return model


def parse_spec(text):
    """'resnet layout=18 width=16' -> ('resnet', {'layout': '18', 'width': '16'})"""
    family, *pairs = text.split()
    return family, dict(pair.split("=", 1) for pair in pairs)
