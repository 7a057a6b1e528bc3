"""Aviary's seeded stream (xoshiro256** seeded through SplitMix64), bit for bit as Swift's
`RandomStream`, for what must replay identically across languages: int8's stochastic rounding
draws from the client's stream for the round (`QuantisationOptions.roundingStream`)."""

MASK = (1 << 64) - 1
PURPOSE_QUANTISATION = 12


def _splitmix(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


class RandomStream:
    def __init__(self, seed, purpose, index=0):
        state = (seed ^ ((purpose * 0x9E3779B97F4A7C15) & MASK)) & MASK
        state, first = _splitmix(state)
        mixer = first ^ ((index * 0xD1B54A32D192ED03) & MASK)
        s = []
        for _ in range(4):
            mixer, value = _splitmix(mixer)
            s.append(value)
        if not any(s):
            s[0] = 1
        self.s = s

    def next(self):
        s0, s1, s2, s3 = self.s
        result = (_rotl((s1 * 5) & MASK, 7) * 9) & MASK
        t = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def next_double(self):
        """Uniform in [0, 1) with 53 random bits."""
        return (self.next() >> 11) * 2.0 ** -53


def rounding_stream(training_seed, client, round_):
    """The stream int8's stochastic rounding uses for `client` in `round_`."""
    index = ((client << 32) | (round_ & 0xFFFFFFFF)) & MASK
    return RandomStream(training_seed & MASK, PURPOSE_QUANTISATION, index)
