"""What the PyTorch sides of `stmae bench infer` and `stmae bench pretrain` share: the step flags and the JSON line."""
import json
import resource
import statistics

import torch


def parse_step_args(ap):
    """ap's arguments with --bf16, --warmup and --steps added, after seeding torch with 0."""
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    a = ap.parse_args()
    torch.manual_seed(0)
    return a


def print_result(a, times, **extra):
    """One JSON line: batch, bf16, the median s/step of `times`, peak RSS (MB), then `extra`."""
    print(json.dumps({"impl": "pytorch", "batch": a.batch, "bf16": a.bf16, "s_per_step": statistics.median(times),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}))
