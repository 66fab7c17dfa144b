// Small deterministic PRNG keyed by (seed, epoch, sample, repeat).
@_exported import SeededRandom

/// Every sample's augmentation draws from a SplitMix64 stream keyed by (seed, epoch, slot, repeat), so it is
/// reproducible whatever the thread timing or resume point.
public typealias SampleRNG = SplitMix64
