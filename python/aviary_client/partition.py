"""Reading the sample indices `aviary partition --export FILE` writes (docs/TOPOLOGY.md,
"Exported partitions"): a NumPy .npz holding `train_indices`, `train_offsets`, `test_indices`
and `test_offsets` (int64). Client c's training indices are
`train_indices[train_offsets[c]:train_offsets[c + 1]]`, its held-out ones likewise; both index
the dataset's training split in file order (after `train_limit`), exactly as Swift clients use it."""
import numpy as np

ARRAYS = ("train_indices", "train_offsets", "test_indices", "test_offsets")


def load_partition(path, client_id):
    """(train, test): client `client_id`'s local training and held-out sample indices (int64)."""
    with np.load(path) as archive:
        missing = [name for name in ARRAYS if name not in archive.files]
        if missing:
            raise ValueError(f"{path}: not an Aviary partition export (no {', '.join(missing)})")
        clients = len(archive["train_offsets"]) - 1
        if not 0 <= client_id < clients:
            raise IndexError(f"{path}: client {client_id} is outside 0..{clients - 1}")
        out = []
        for split in ("train", "test"):
            offsets = archive[f"{split}_offsets"]
            out.append(archive[f"{split}_indices"][offsets[client_id]:offsets[client_id + 1]])
        return out[0], out[1]


def partition_clients(path):
    """How many clients an export holds."""
    with np.load(path) as archive:
        return len(archive["train_offsets"]) - 1
