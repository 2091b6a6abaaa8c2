"""PyTorch peer for the bitlens training-epoch benchmark.

Same model and step as bitlens: Li's one-layer transformer (no positional embedding, bidirectional attention,
scores / sqrt(d_model), final RMS-style norm, FP embed/unembed, no biases), d_model 128, 4 heads, d_mlp 512;
last-position forward (keys/values at all positions, the rest at the last one); STE-quantized block weights
(fp32 / ternary-centred / binary-sign as in Li's code); cross-entropy in float64 on the last position;
full-batch AdamW lr 1e-3, weight decay 1.0, betas (0.9, 0.98). One epoch = forward + backward + optimizer step.

A server, so that the benchmark can interleave its measurements with bitlens's: it reads one JSON request per line
on stdin, {"p", "frac", "precision", "epochs", "warmup", "threads", "blas_threads"}, and answers each with one JSON
line {"torch": version, "threads": n, "blas_threads": m, "p", "frac", "precision", "n_train", "ms": [..],
"cpu_ms": [..]} (wall and process CPU time per epoch). Empty line or EOF: exit.

Threads: `torch.set_num_threads` sets PyTorch's own (intra-op) pool only. Debian's python3-torch does its matrix
products in OpenBLAS, whose pthreads build keeps a pool of its own, sized to all cores, that set_num_threads does not
touch: "torch.set_num_threads(1)" alone still runs every product on all cores (measured: a [3830, 512] x [512, 128]
product took 3.4 ms wall and 6.7 ms CPU with it, 5.8 / 5.8 ms with OpenBLAS held to one thread). So the BLAS pool is
set explicitly (`openblas_set_num_threads` of the loaded library; `blas_threads`, default = `threads`) and reported
back as OpenBLAS reads it.
"""
import ctypes
import json
import math
import sys
import time

import torch


def quantize(w, precision):
    if precision == "fp32":
        return w
    if precision == "ternary-centred":
        wc = w - w.mean()
        s = wc.abs().mean().clamp(min=1e-5)
        q = s * torch.clamp(torch.round(wc / s), -1, 1)
    elif precision == "binary-sign":
        q = torch.sign(w - w.mean())
    else:
        raise ValueError(precision)
    return w + (q - w).detach()


class Li(torch.nn.Module):
    def __init__(self, p, d=128, h=4, dmlp=512):
        super().__init__()
        self.p, self.d, self.h, self.dh = p, d, h, d // h
        g = torch.Generator().manual_seed(0)
        n = lambda *s, std: torch.nn.Parameter(torch.randn(*s, generator=g) * std)
        self.W_E = n(p + 1, d, std=d ** -0.5)
        self.W_Q, self.W_K, self.W_V = (n(d, d, std=d ** -0.5) for _ in range(3))
        self.W_O = n(d, d, std=d ** -0.5)
        self.W_in = n(d, dmlp, std=d ** -0.5)
        self.W_out = n(dmlp, d, std=d ** -0.5)
        self.g = torch.nn.Parameter(torch.ones(d))
        self.W_U = n(d, p, std=(p + 1) ** -0.5)

    def forward(self, tokens, precision):
        B, n = tokens.shape
        d, h, dh = self.d, self.h, self.dh
        x = self.W_E[tokens]                                   # [B, n, d]
        Wq, Wk, Wv, Wo, Wi, Wu2 = (quantize(w, precision) for w in (self.W_Q, self.W_K, self.W_V, self.W_O, self.W_in, self.W_out))
        xl = x[:, -1]                                          # [B, d]
        q = (xl @ Wq).view(B, h, 1, dh)
        k = (x @ Wk).view(B, n, h, dh).transpose(1, 2)         # [B, h, n, dh]
        v = (x @ Wv).view(B, n, h, dh).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)  # [B, h, 1, n]
        z = (att @ v).reshape(B, d)
        mid = xl + z @ Wo
        out = mid + torch.relu(mid @ Wi) @ Wu2
        out = out / out.norm(dim=-1, keepdim=True).clamp(min=1e-12) * math.sqrt(d) * self.g
        return out @ self.W_U


def openblas():
    """The OpenBLAS library this process loaded (through torch), or None."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "openblas" in line and line.rstrip().endswith((".so", ".so.0"))}
    for path in sorted(paths):
        lib = ctypes.CDLL(path)
        if hasattr(lib, "openblas_set_num_threads"):
            return lib
    return None


BLAS = openblas()


def set_threads(threads, blas_threads):
    torch.set_num_threads(threads)
    if BLAS is None:
        return None
    BLAS.openblas_set_num_threads(blas_threads)
    return BLAS.openblas_get_num_threads()


def measure(req):
    p, frac, precision = req["p"], req["frac"], req["precision"]
    blas_threads = set_threads(req["threads"], req.get("blas_threads", req["threads"]))
    n_train = int(frac * p * p)
    g = torch.Generator().manual_seed(1)
    perm = torch.randperm(p * p, generator=g)[:n_train]
    a, b = perm // p, perm % p
    tokens = torch.stack([a, b, torch.full_like(a, p)], dim=1)
    labels = (a + b) % p
    model = Li(p)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))
    ms, cpu_ms = [], []
    for e in range(req["warmup"] + req["epochs"]):
        t0 = time.perf_counter()
        c0 = time.process_time()
        logits = model(tokens, precision)
        loss = torch.nn.functional.cross_entropy(logits.double(), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if e >= req["warmup"]:
            ms.append((time.perf_counter() - t0) * 1000)
            cpu_ms.append((time.process_time() - c0) * 1000)
    return {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas_threads": blas_threads, "p": p, "frac": frac, "precision": precision, "n_train": n_train, "ms": ms, "cpu_ms": cpu_ms}


def main():
    for line in sys.stdin:
        if not line.strip():
            break
        print(json.dumps(measure(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
