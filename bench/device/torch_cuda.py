#!/usr/bin/env python3
"""The reference experiment in PyTorch on CUDA (CPU when no GPU: the --dry check), timed
the way bench/device/ times ours: the data on the device, batches sliced there, the loss
summed on the device and read once per epoch (no per-step sync), CUDA synchronised before
each clock read.

Model, loss and optimiser as shared/bench/torch_reference.py: MLP 784-512-512-10 with
Dropout(0.5), pixels/255, Adam 1e-3, batch 32, no shuffling; R-Drop = mean NLL of both
passes + alpha * 0.5 * (KL(p1||p2) + KL(p2||p1)), KL summed (alpha 0.05).

Reads the Fashion-MNIST IDX files raw or gzipped from --data-dir; writes --json.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn


def read_idx(data_dir, name):
    for path in (os.path.join(data_dir, name), os.path.join(data_dir, name + ".gz")):
        if os.path.exists(path):
            with open(path, "rb") as f:
                raw = f.read()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            ndim = raw[3]
            dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
            return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    sys.exit(f"torch_cuda.py: {name} not found in {data_dir} (raw or .gz)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["baseline", "rdrop"], default="baseline")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps-per-epoch", type=int, default=0, help="0: whole epochs")
    p.add_argument("--test-rows", type=int, default=0, help="0: the whole test split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--json", required=True)
    a = p.parse_args()

    torch.manual_seed(a.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    xtr = torch.from_numpy(read_idx(a.data_dir, "train-images-idx3-ubyte").reshape(-1, 784).copy())
    ytr = torch.from_numpy(read_idx(a.data_dir, "train-labels-idx1-ubyte").astype(np.int64))
    xte = torch.from_numpy(read_idx(a.data_dir, "t10k-images-idx3-ubyte").reshape(-1, 784).copy())
    yte = torch.from_numpy(read_idx(a.data_dir, "t10k-labels-idx1-ubyte").astype(np.int64))
    if a.test_rows:
        xte, yte = xte[:a.test_rows], yte[:a.test_rows]
    xtr = xtr.to(dev).float().div(255)
    ytr = ytr.to(dev)
    xte = xte.to(dev).float().div(255)
    yte = yte.to(dev)

    model = nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(512, 10),
    ).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    log_softmax = nn.LogSoftmax(dim=-1)
    kl = nn.KLDivLoss(reduction="sum", log_target=True)
    nll = nn.NLLLoss()

    def loss_fn(xb, yb):
        if a.mode == "baseline":
            return nll(log_softmax(model(xb)), yb)
        b = xb.size(0)
        lp = log_softmax(model(torch.cat([xb, xb], 0)))
        lp1, lp2 = lp[:b], lp[b:]
        return 0.5 * (nll(lp1, yb) + nll(lp2, yb)) + a.alpha * 0.5 * (kl(lp1, lp2) + kl(lp2, lp1))

    n = xtr.size(0)
    per_epoch = (n + a.batch_size - 1) // a.batch_size
    steps = min(per_epoch, a.steps_per_epoch) if a.steps_per_epoch else per_epoch
    epochs = []
    for ep in range(1, a.epochs + 1):
        model.train()
        loss_sum = torch.zeros((), device=dev)
        samples = 0
        sync()
        t0 = time.perf_counter()
        for i in range(steps):
            xb = xtr[i * a.batch_size:(i + 1) * a.batch_size]
            yb = ytr[i * a.batch_size:(i + 1) * a.batch_size]
            loss = loss_fn(xb, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
            samples += xb.size(0)
        sync()
        seconds = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            lp = log_softmax(model(xte))
            acc = (lp.argmax(1) == yte).float().mean().item()
            test_loss = nn.functional.nll_loss(lp, yte).item()
        epochs.append(dict(epoch=ep, steps=steps, seconds=seconds, samples_per_s=samples / seconds,
                           ms_per_step=1000 * seconds / steps, train_loss=loss_sum.item() / steps,
                           test_accuracy=acc, test_loss=test_loss))
        print(f"torch {a.mode} epoch {ep}: {samples / seconds:.0f} samples/s, "
              f"{1000 * seconds / steps:.3f} ms/step, test acc {100 * acc:.2f}%", flush=True)
    train_s = sum(e["seconds"] for e in epochs)
    out = dict(mode=a.mode, device=str(dev),
               device_name=torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
               torch=torch.__version__, epochs=epochs, train_seconds=train_s,
               samples_per_s=sum(e["samples_per_s"] * e["seconds"] for e in epochs) / train_s,
               ms_per_step=1000 * train_s / sum(e["steps"] for e in epochs),
               final_test_accuracy=epochs[-1]["test_accuracy"])
    with open(a.json, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
