// Small deterministic PRNG keyed by a seed or by several integers (e.g. seed, epoch, sample, repeat).

/// SplitMix64: a tiny, fast generator whose streams depend only on the seed (or key), deterministic across platforms.
/// One generator for the package: Media's synthetic videos, Models' MaskFeat cube masks and Datasets' per-sample
/// augmentation (`SampleRNG`: reproducible whatever the thread timing or resume point).
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator keyed by several integers (e.g. seed, epoch, slot, repeat); each key is
    /// folded in through the SplitMix finaliser so nearby keys give unrelated streams.
    public init(keys: [UInt64]) {
        var h: UInt64 = 0x243F_6A88_85A3_08D3
        for k in keys { h = Self.mix(h ^ Self.mix(k &+ 0x9E37_79B9_7F4A_7C15)) }
        state = h
    }

    public init(_ keys: Int...) { self.init(keys: keys.map { UInt64(bitPattern: Int64($0)) }) }

    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in [lo, hi) (`random.uniform`).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * uniform() }

    /// Uniform integer in `range`, unbiased (`random.randint(a, b)`).
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) &+ 1
        if span == 0 { return Int(bitPattern: UInt(next())) }  // full 64-bit range
        let limit = UInt64.max - UInt64.max % span
        var x = next()
        while x >= limit { x = next() }
        return range.lowerBound + Int(x % span)
    }

    /// Fair coin with probability `p` of `true`.
    public mutating func bernoulli(_ p: Double) -> Bool { uniform() < p }

    /// A Fisher–Yates permutation of `0 ..< n`.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0 ..< n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, int(in: 0 ... i)) }
        }
        return p
    }
}
