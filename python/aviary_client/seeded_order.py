"""The engine's seeded orders in Python, bit for bit: the per-(client, round) shuffle and attack
seeds of `LocalTraining.train`, the epoch permutation of `LocalTrainer.trainEpoch` (Fisher–Yates
with Lemire's unbiased bounded integers), the per-batch attack stream, and the permutation
`RobustEvaluation` draws its subset from. So a Python client visits its samples in the order a
Swift client would, and a run's randomness is a function of the run spec's training seed."""
from .random_stream import MASK, RandomStream

PURPOSE_SHUFFLE = 4
PURPOSE_ATTACK = 5
PURPOSE_EVALUATION = 7


def next_int_below(stream, bound):
    """Uniform integer in 0..<bound (Lemire's method, as Swift's `nextInt(below:)`)."""
    product = stream.next() * bound
    if (product & MASK) < bound:
        threshold = ((1 << 64) - bound) % bound
        while (product & MASK) < threshold:
            product = stream.next() * bound
    return product >> 64


def permutation(stream, n):
    """A permutation of 0..<n, as Swift's `RandomStream.permutation`."""
    p = list(range(n))
    for i in range(n - 1, 0, -1):
        j = next_int_below(stream, i + 1)
        if i != j:
            p[i], p[j] = p[j], p[i]
    return p


def client_round_seeds(training_seed, client, round_):
    """(shuffle seed, attack seed) of a client's local training in a round."""
    index = ((client & 0xFFFFFFFF) << 32 | (round_ & 0xFFFFFFFF)) & MASK
    seeds = RandomStream(training_seed & MASK, PURPOSE_SHUFFLE, index)
    return seeds.next(), seeds.next()


def epoch_order(shuffle_seed, epoch, n):
    """The sample order of a local epoch."""
    return permutation(RandomStream(shuffle_seed, PURPOSE_SHUFFLE, epoch & MASK), n)


def attack_stream_index(epoch, batch):
    return ((epoch & 0xFFFFFFFF) << 32) | (batch & 0xFFFFFFFF)


def batch_attack_seed(attack_seed, epoch, batch):
    """A 64-bit seed for a batch's attack noise, from the engine's per-batch attack stream (the
    noise itself is torch's, so random starts are not the engine's values)."""
    return RandomStream(attack_seed, PURPOSE_ATTACK, attack_stream_index(epoch, batch)).next()


def evaluation_order(seed, n):
    """The seeded permutation `RobustEvaluation` takes its subset from."""
    return permutation(RandomStream(seed & MASK, PURPOSE_EVALUATION, 0), n)


def chunk_attack_seed(seed, chunk):
    return RandomStream(seed & MASK, PURPOSE_ATTACK, chunk).next()
