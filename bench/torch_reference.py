#!/usr/bin/env python3
"""PyTorch peer of rdrop-pipeline's default job, for `deno task bench`.

The reference experiment: Fashion-MNIST (IDX files read directly), pixels / 255, MLP
784-512-512-10 with ReLU + Dropout(p) after each hidden layer, Adam (lr 1e-3, PyTorch's
betas and eps), batch 32 in file order (no shuffling, last partial batch kept), and either
the plain NLL ("baseline") or R-Drop: the batch goes twice through the dropout model (as
one concatenated batch), loss = mean NLL of both passes
+ alpha * 1/2 (KL(p1||p2) + KL(p2||p1)), KL summed over batch and classes
(KLDivLoss(reduction="sum", log_target=True)).

Prints one line per epoch and writes a JSON summary with --json. `train_s` counts the
training loops only (`train_cpu_s`: their CPU time, all threads); evaluation after each epoch
is timed separately (`eval_s`).

Run with Debian's interpreter (python3-torch): /usr/bin/python3 bench/torch_reference.py
--mode rdrop --epochs 1 --threads 1 --json out.json
"""
import argparse
import gzip
import json
import os
import platform
import struct
import sys
import time

DATA_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """An IDX file (optionally gzipped) as (dims, bytes)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def find(data_dir, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return path
    raise SystemExit(f"{stem}(.gz) not found in {data_dir}")


def load_split(torch, data_dir, prefix):
    dims, pixels = read_idx(find(data_dir, f"{prefix}-images-idx3-ubyte"))
    ldims, labels = read_idx(find(data_dir, f"{prefix}-labels-idx1-ubyte"))
    if dims[0] != ldims[0]:
        raise SystemExit(f"{prefix}: {dims[0]} images but {ldims[0]} labels")
    x = torch.frombuffer(bytearray(pixels), dtype=torch.uint8)
    x = x.reshape(dims[0], -1).to(torch.float32) / 255.0
    y = torch.frombuffer(bytearray(labels), dtype=torch.uint8).to(torch.int64)
    return x, y


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=["baseline", "rdrop"], default="baseline")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--data-dir", default=DATA_DIR)
    p.add_argument("--json", default=None, help="write the summary here")
    args = p.parse_args()

    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x_train, y_train = load_split(torch, args.data_dir, "train")
    x_test, y_test = load_split(torch, args.data_dir, "t10k")
    features = x_train.shape[1]

    model = torch.nn.Sequential(
        torch.nn.Linear(features, 512), torch.nn.ReLU(), torch.nn.Dropout(args.dropout),
        torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Dropout(args.dropout),
        torch.nn.Linear(512, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    kl = torch.nn.KLDivLoss(reduction="sum", log_target=True)
    n = x_train.shape[0]
    b = args.batch_size

    epochs = []
    train_s = 0.0
    train_cpu_s = 0.0
    eval_s = 0.0
    for epoch in range(1, args.epochs + 1):
        model.train()
        loss_sum = 0.0
        steps = 0
        started = time.perf_counter()
        cpu_started = time.process_time()
        for start in range(0, n, b):
            xb = x_train[start:start + b]
            yb = y_train[start:start + b]
            if args.mode == "rdrop":
                logits = model(torch.cat([xb, xb], 0))
                l1, l2 = logits.chunk(2, 0)
                lp1 = F.log_softmax(l1, 1)
                lp2 = F.log_softmax(l2, 1)
                nll = 0.5 * (F.nll_loss(lp1, yb) + F.nll_loss(lp2, yb))
                loss = nll + args.alpha * 0.5 * (kl(lp2, lp1) + kl(lp1, lp2))
            else:
                loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            steps += 1
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        train_s += seconds
        train_cpu_s += cpu_seconds
        started = time.perf_counter()
        model.eval()
        with torch.no_grad():
            logits = model(x_test)
            test_loss = F.cross_entropy(logits, y_test).item()
            test_acc = (logits.argmax(1) == y_test).float().mean().item()
        eval_s += time.perf_counter() - started
        epochs.append({
            "epoch": epoch,
            "epoch_train_s": seconds,
            "epoch_train_cpu_s": cpu_seconds,
            "samples_per_s": n / seconds,
            "train_loss": loss_sum / steps,
            "test_acc": test_acc,
            "test_loss": test_loss,
        })
        print(f"epoch {epoch}/{args.epochs} {args.mode} loss {loss_sum / steps:.4f} "
              f"test_acc {test_acc * 100:.2f}% {seconds:.1f}s {n / seconds:.0f} samples/s",
              flush=True)

    summary = {
        "args": vars(args),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "train_s": train_s,
        "train_cpu_s": train_cpu_s,
        "eval_s": eval_s,
        "samples_per_s": n * args.epochs / train_s if train_s > 0 else 0.0,
        "final_test_acc": epochs[-1]["test_acc"],
        "epochs": epochs,
    }
    print(f"FINAL mode={args.mode} threads={args.threads} "
          f"test_acc={summary['final_test_acc'] * 100:.2f}% train_s={train_s:.1f} "
          f"samples_per_s={summary['samples_per_s']:.0f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
